//! Drawing the core's progress and warnings on the terminal: an indicatif bar on stderr, in
//! phases (unpacking wheels, in archive bytes, with the wheel being unpacked; then placing
//! files, in files, or in bytes with an ETA when copying), never shown before a phase has
//! work; and `warning:` lines printed above it (through `suspend`, so they do not tear it),
//! each once. The core's typed events are worded here.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use installer_core::cache::{Untrusted, UntrustedEntry};
use installer_core::install::{CacheAdvice, Fallback};
use installer_core::reporter::Event;
use installer_core::units::{human_bytes, thousands};
use installer_core::{ConcreteLinkMode, Reporter};

use crate::args::OutputArgs;
use crate::style;

/// What the bar is counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing yet: the bar is not drawn.
    Idle,
    /// Archive bytes of wheels being unpacked into the cache.
    Unpacking,
    /// Files placed (or removed).
    Files,
    /// Bytes copied into the environment, files counted in the prefix.
    Copying,
}

/// The CLI's reporter. No bar with `-q`, `--no-progress`, or when stderr is not a terminal.
pub struct TerminalReporter {
    bar: ProgressBar,
    show: bool,
    verbose: bool,
    quiet: bool,
    /// `Installing` or `Uninstalling`: the file phase's verb.
    verb: &'static str,
    phase: Mutex<Phase>,
    wheels: (AtomicU64, AtomicU64),
    files: (AtomicU64, AtomicU64),
    warned: Mutex<HashSet<String>>,
}

impl TerminalReporter {
    pub fn new(output: OutputArgs, verb: &'static str) -> TerminalReporter {
        let show = !output.quiet && !output.no_progress && std::io::stderr().is_terminal();
        TerminalReporter::with_bar(output, verb, show)
    }

    fn with_bar(output: OutputArgs, verb: &'static str, show: bool) -> TerminalReporter {
        // Hidden until a phase begins, so no empty `0/0` bar is ever drawn.
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
        TerminalReporter {
            bar,
            show,
            verbose: output.verbose,
            quiet: output.quiet,
            verb,
            phase: Mutex::new(Phase::Idle),
            wheels: (AtomicU64::new(0), AtomicU64::new(0)),
            files: (AtomicU64::new(0), AtomicU64::new(0)),
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// Prints a line to stderr above the bar.
    pub fn println(&self, line: &str) {
        self.bar.suspend(|| {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        });
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Switches the bar to `phase` with `template`, counting to `length` from 0.
    /// `counts`, when the template shows them, are set before the bar is drawn again, so its
    /// first frame never has an empty `{prefix}`.
    fn start(&self, phase: Phase, template: &str, length: u64, counts: Option<&(AtomicU64, AtomicU64)>) {
        let previous = std::mem::replace(&mut *self.phase.lock().expect("phase"), phase);
        if !self.show {
            return;
        }
        // Switched while hidden (its line cleared), so that no frame mixes the last phase's
        // style with the new numbers or the other way round (`3,146,852/8 files`).
        if previous != Phase::Idle {
            self.bar.set_draw_target(ProgressDrawTarget::hidden());
            let term = console::Term::stderr();
            if term.is_term() {
                let _ = term.clear_line();
            }
        }
        let style = ProgressStyle::with_template(template).expect("valid template").progress_chars("=> ");
        self.bar.set_style(style);
        self.bar.update(|state| {
            state.set_pos(0);
            state.set_len(length);
        });
        self.bar.reset_eta();
        if let Some(counts) = counts {
            self.count_prefix(counts);
        }
        self.bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(20));
        if previous == Phase::Idle {
            self.bar.enable_steady_tick(Duration::from_millis(100));
        }
    }

    /// The bar of the files phase: `Installing [===   ] 120/480 files`.
    fn files_template(&self) -> String {
        format!("{{spinner:.green}} {} [{{bar:30.cyan/blue}}] {{human_pos}}/{{human_len}} files", self.verb)
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().expect("phase")
    }

    fn count_prefix(&self, (done, total): &(AtomicU64, AtomicU64)) {
        if self.show {
            let (done, total) = (done.load(Ordering::Relaxed), total.load(Ordering::Relaxed));
            self.bar.set_prefix(format!("{}/{}", thousands(done), thousands(total)));
        }
    }

    /// `cache-max-size` made room after the install: a line (names under `-v`), and a warning
    /// when what is left still does not fit.
    fn evicted(&self, eviction: &installer_core::cache_admin::Eviction) {
        if self.quiet {
            return;
        }
        let freed: u64 = eviction.removed.iter().map(|e| e.disk_bytes).sum();
        if !eviction.removed.is_empty() {
            self.println(&format!(
                "Evicted {} least recently used ({}) to keep the cache within cache-max-size ({}; now {})",
                installer_core::units::count(eviction.removed.len() as u64, "cache entry", "cache entries"),
                human_bytes(freed),
                human_bytes(eviction.max_size),
                human_bytes(eviction.size_after)
            ));
        }
        if self.verbose {
            for entry in &eviction.removed {
                self.println(&format!(
                    "info: evicted {} ({}, last used {})",
                    entry.label(),
                    human_bytes(entry.disk_bytes),
                    crate::commands::cache::ago(entry.last_used)
                ));
            }
        }
        if eviction.still_over() {
            self.warn(&format!(
                "the cache takes {}, more than cache-max-size ({}): the rest is used by this install{}, or by symlinked environments",
                human_bytes(eviction.size_after),
                human_bytes(eviction.max_size),
                if eviction.in_use > 0 { ", by running installs" } else { "" }
            ));
        }
    }

    fn warn(&self, message: &str) {
        if self.quiet {
            return;
        }
        if self.warned.lock().expect("warned set").insert(message.to_string()) {
            // A warning keeps its lines (the fallback's advice); a wheel's words in it are
            // escaped, as in errors.
            self.println(&format!("{} {}", style::warning_prefix(), crate::printable(message, true)));
        }
    }
}

/// The fallback warning: the core's facts, then the fixes in this command line's terms.
pub fn fallback_warning(fallback: &Fallback) -> String {
    let mut text = fallback.to_string();
    if let Some(advice) = &fallback.cache_advice {
        let place = match advice {
            CacheAdvice::Dir(_) => "a cache on the environment's filesystem".to_string(),
            CacheAdvice::OnFilesystem { mount } => format!(
                "a cache directory of yours on the environment's filesystem, mounted at {} (none is made \
                 there automatically: every user may write its top, or this user may not)",
                mount.display()
            ),
        };
        let dir = advised_cache_dir(advice);
        let dir = dir.display();
        text.push_str(&format!(
            "\n  To link instead, use {place}: `--cache-dir {dir}` (or INSTALLER_CACHE_DIR), or keep this cache \
             and add a shard there with `cache-shards = [\"{dir}\"]` in installer.toml."
        ));
    } else if fallback.failed == ConcreteLinkMode::Clone {
        text.push_str(
            "\n  To link instead, use `--link-mode auto` or `--link-mode hardlink`: this filesystem cannot clone.",
        );
    }
    text.push_str(
        "\n  To copy on purpose without this warning: `--link-mode copy` (or INSTALLER_LINK_MODE=copy).",
    );
    text
}

/// The directory to pass as `--cache-dir` (or list in `cache-shards`) for `advice`: the one
/// found, or `DIR` on the filesystem for the user to make.
pub fn advised_cache_dir(advice: &CacheAdvice) -> PathBuf {
    match advice {
        CacheAdvice::Dir(dir) => dir.clone(),
        CacheAdvice::OnFilesystem { mount } => mount.join("DIR"),
    }
}

/// A cache layer's entry that was not used, and why.
pub fn untrusted_warning(wheel: &std::path::Path, entry: &UntrustedEntry) -> String {
    let why = match &entry.reason {
        Untrusted::UnreadableManifest => "its manifest is missing or unreadable".to_string(),
        Untrusted::OtherArchive => "its manifest describes another archive".to_string(),
        Untrusted::ChangedFiles { changed, missing } => {
            let mut parts = Vec::new();
            if !changed.is_empty() {
                parts.push(format!("{} changed file(s), e.g. {}", changed.len(), changed[0]));
            }
            if !missing.is_empty() {
                parts.push(format!("{} missing file(s), e.g. {}", missing.len(), missing[0]));
            }
            format!("it does not match its manifest ({})", parts.join("; "))
        }
    };
    format!(
        "not using the cache layer entry {} for {}: {why}; unpacking the wheel instead",
        entry.entry.display(),
        wheel.display()
    )
}

/// A wheel's file name, shortened to `width` characters for the bar.
fn short_name(wheel: &std::path::Path, width: usize) -> String {
    let name = wheel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.chars().count() <= width {
        return name;
    }
    let kept: String = name.chars().take(width.saturating_sub(1)).collect();
    format!("{kept}…")
}

impl Reporter for TerminalReporter {
    fn add_total(&self, files: u64) {
        // Uninstall announces its files this way. An install announced them with `Placing`
        // already (and repeats the total here for the C ABI's callback): not counted twice.
        if self.phase() == Phase::Idle {
            self.start(Phase::Files, &self.files_template(), files, None);
        }
    }

    fn advance(&self, files: u64) {
        match self.phase() {
            Phase::Files => self.bar.inc(files),
            Phase::Copying => {
                self.files.0.fetch_add(files, Ordering::Relaxed);
                self.count_prefix(&self.files);
            }
            Phase::Idle | Phase::Unpacking => {}
        }
    }

    fn event(&self, event: Event<'_>) {
        match event {
            Event::Unpacking { wheels, bytes } => {
                self.wheels.1.store(wheels, Ordering::Relaxed);
                self.start(
                    Phase::Unpacking,
                    "{spinner:.green} Unpacking {prefix} wheels [{bar:30.cyan/blue}] \
                     {binary_bytes}/{binary_total_bytes} {wide_msg}",
                    bytes,
                    Some(&self.wheels),
                );
            }
            Event::UnpackingWheel { wheel, .. } => {
                if self.show {
                    self.bar.set_message(short_name(wheel, 60));
                }
            }
            Event::UnpackedBytes { bytes } => self.bar.inc(bytes),
            Event::UnpackedWheel { .. } => {
                self.wheels.0.fetch_add(1, Ordering::Relaxed);
                self.count_prefix(&self.wheels);
            }
            Event::CacheEntry { wheel, entry, unpacked } => {
                if self.verbose {
                    let what = if unpacked { "unpacked" } else { "cache hit" };
                    self.println(&format!(
                        "info: {what} {}: cache entry {}",
                        wheel.display(),
                        entry.display()
                    ));
                }
            }
            Event::CreatedVenv { path, python } => {
                if !self.quiet {
                    let (name, version) = (python.implementation_name(), python.version_string());
                    self.println(&format!(
                        "Created virtual environment at {} ({name} {version})",
                        path.display()
                    ));
                }
            }
            Event::Placing { files, copy_bytes } => {
                if copy_bytes > 0 {
                    self.files.1.store(files, Ordering::Relaxed);
                    self.start(
                        Phase::Copying,
                        "{spinner:.green} Copying {prefix} files [{bar:30.cyan/blue}] \
                         {binary_bytes}/{binary_total_bytes}, ETA {eta}",
                        copy_bytes,
                        Some(&self.files),
                    );
                } else {
                    self.start(Phase::Files, &self.files_template(), files, None);
                }
            }
            Event::Copied { bytes } => self.bar.inc(bytes),
            Event::LinkFallback(fallback) => self.warn(&fallback_warning(fallback)),
            Event::NotInstalled { name } => self.warn(&format!("skipping {name}: it is not installed")),
            Event::UntrustedLayerEntry { wheel, entry } => self.warn(&untrusted_warning(wheel, entry)),
            Event::ReadOnlyCache { cache, error } => {
                if !self.quiet {
                    self.println(&format!(
                        "note: the cache {} is not writable by this user ({error}); using it read-only, \
                         and unpacking wheels it lacks into a temporary cache",
                        cache.display()
                    ));
                }
            }
            Event::Evicted(eviction) => self.evicted(eviction),
        }
    }

    fn warning(&self, message: &str) {
        self.warn(message);
    }

    fn info(&self, message: &str) {
        if self.verbose {
            self.println(&format!("info: {}", crate::printable(message, true)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn reporter(show: bool) -> TerminalReporter {
        let output = OutputArgs { quiet: false, verbose: false, no_progress: false };
        TerminalReporter::with_bar(output, "Installing", show)
    }

    #[test]
    fn phases_count_wheels_and_bytes_then_files() {
        let r = reporter(true);
        assert_eq!(r.phase(), Phase::Idle);
        r.event(Event::Unpacking { wheels: 2, bytes: 300 });
        r.event(Event::UnpackingWheel { wheel: Path::new("dist/a-1.0-py3-none-any.whl"), bytes: 100 });
        r.event(Event::UnpackedBytes { bytes: 100 });
        r.event(Event::UnpackedWheel { wheel: Path::new("dist/a-1.0-py3-none-any.whl") });
        assert_eq!((r.bar.position(), r.bar.length()), (100, Some(300)));
        assert_eq!(r.bar.prefix(), "1/2");
        assert_eq!(r.bar.message(), "a-1.0-py3-none-any.whl");
        r.event(Event::Placing { files: 7, copy_bytes: 0 });
        r.add_total(7);
        r.advance(3);
        assert_eq!((r.phase(), r.bar.position(), r.bar.length()), (Phase::Files, 3, Some(7)));
        r.finish();
    }

    #[test]
    fn copying_counts_bytes_and_files() {
        let r = reporter(true);
        r.event(Event::Placing { files: 4, copy_bytes: 4096 });
        r.event(Event::Copied { bytes: 1024 });
        r.advance(1);
        assert_eq!((r.phase(), r.bar.position(), r.bar.length()), (Phase::Copying, 1024, Some(4096)));
        assert_eq!(r.bar.prefix(), "1/4");
        r.finish();
    }

    #[test]
    fn long_wheel_names_are_cut() {
        assert_eq!(short_name(Path::new("/x/abcdef.whl"), 6), "abcde…");
        assert_eq!(short_name(Path::new("a.whl"), 6), "a.whl");
    }
}
