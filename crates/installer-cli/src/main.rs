//! `installer`: the command line. Glue only: parse flags (args), resolve settings (settings),
//! call installer-core (commands), print results and errors in the format of docs/cli.md.

#![forbid(unsafe_code)]

mod args;
mod commands;
mod reporter;
mod settings;
mod style;
mod summary;
mod variables;

use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use clap::FromArgMatches;

use commands::completions;

/// When the command started: summaries are timed from here, venv creation and unpacking
/// included.
static START: OnceLock<Instant> = OnceLock::new();

/// Time since the command started.
pub(crate) fn elapsed() -> Duration {
    START.get_or_init(Instant::now).elapsed()
}

fn main() -> ExitCode {
    START.get_or_init(Instant::now);
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    variables::unset_empty(&completions::cli_with_packaging());
    let cli = completions::cli_with_packaging().color(style::clap_choice(&argv));
    let matches = match cli.clone().try_get_matches_from(&argv) {
        Ok(matches) => matches,
        Err(err) => variables::exit_with(err, &cli, &argv),
    };
    let result = match completions::man_dir(&matches) {
        Some(dir) => {
            completions::write_man_pages(dir).map(|()| ExitCode::SUCCESS).map_err(commands::Failure::from)
        }
        None => {
            let cli = args::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
            style::init(cli.color);
            commands::run(cli)
        }
    };
    match result {
        Ok(code) => code,
        Err(commands::Failure::Core(installer_core::Error::Cancelled)) => {
            // Only Ctrl-C cancels on the command line; exit as a shell reports a process
            // killed by SIGINT (128 + 2).
            eprintln!("{} interrupted; nothing was changed", style::error_prefix());
            ExitCode::from(130)
        }
        Err(err) => {
            print_error(&err);
            ExitCode::from(1)
        }
    }
}

/// Ctrl-C cancels the running operation through `cancel`, its token: it stops and rolls back,
/// and the command fails with `error: interrupted; nothing was changed` and exit code 130. A
/// second Ctrl-C exits at once with 130: what a killed run leaves (a locked staging directory
/// in the cache, a backup directory in the environment) is cleaned up by the next run.
pub(crate) fn cancel_on_ctrl_c(cancel: &installer_core::Cancel) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static PRESSED: AtomicBool = AtomicBool::new(false);
    let cancel = cancel.clone();
    // ctrlc runs this on a thread of its own, not in the signal handler: printing is fine.
    let result = ctrlc::set_handler(move || {
        if PRESSED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        cancel.cancel();
        eprintln!("interrupted: rolling back (press Ctrl-C again to exit now)");
    });
    // Without a handler Ctrl-C kills the process, which the next run recovers from.
    drop(result);
}

/// `error: <what>` then one `  cause: <why>` line per source, as docs/cli.md specifies, and a
/// `hint:` where a mistake of the core's kind has a usual fix.
///
/// Control characters are printed escaped as Rust escapes them (`\u{1b}`), so nothing in a
/// message can drive the terminal; a wheel's own words (a member name, from the archive) have
/// their line breaks escaped too (`\n`), so each stays one line. Other messages keep theirs
/// and their tabs: a distributor's PEP 668 text, an interpreter's stderr.
pub(crate) fn print_error(err: &(dyn std::error::Error + 'static)) {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    let mut causes = installer_core::error::chain(err).map(|(e, text)| {
        let from_wheel = e.downcast_ref::<installer_core::wheel::WheelError>().is_some();
        printable(&text, !from_wheel)
    });
    if let Some(first) = causes.next() {
        let _ = writeln!(stderr, "{} {}", style::error_prefix(), continued(&first, "error: ".len()));
    }
    for cause in causes {
        let _ = writeln!(stderr, "  cause: {}", continued(&cause, "  cause: ".len()));
    }
    if let Some(hint) = err.downcast_ref::<commands::Failure>().and_then(|f| match f {
        commands::Failure::Core(e) => hint(e),
        commands::Failure::Found(_) => None,
    }) {
        let _ = writeln!(stderr, "{} {hint}", style::hint_prefix());
    }
}

/// `text` with every line after the first indented by `width`, under the first's text: a
/// message of several lines (a distributor's PEP 668 text, an interpreter's stderr) stays inside
/// its `error:` or `cause:` line instead of passing for lines of its own.
fn continued(text: &str, width: usize) -> String {
    let mut lines = text.lines().map(str::trim_end);
    let mut out = lines.next().unwrap_or_default().to_owned();
    for line in lines {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&format!("{:width$}{line}", ""));
        }
    }
    out
}

/// `text` with its control characters escaped as Rust escapes them (`\n`, `\u{1b}`), but for
/// line breaks and tabs when `keep_lines`: errors, warnings and `-v` lines quote wheels' own
/// words (member names, metadata), which must not drive the terminal.
pub(crate) fn printable(text: &str, keep_lines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && !(keep_lines && matches!(c, '\n' | '\t')) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// What to do about an error that is usually a mistake rather than a fault.
fn hint(err: &installer_core::Error) -> Option<String> {
    use installer_core::error::NotAWheel;
    use installer_core::Error;
    match err {
        Error::NotAWheel { kind: NotAWheel::SourceDistribution, path } => Some(format!(
            "installer installs built wheels (.whl); build one with `pip wheel --no-deps {0}` or \
             `uv build --wheel {0}`, then install the .whl",
            path.display()
        )),
        Error::NotAWheel { kind: NotAWheel::Directory, path } => {
            Some(format!("to install the wheels in it, pass `{}/*.whl`", path.display()))
        }
        Error::NotAWheelPath { text, .. } => Some(format!(
            "installer installs built wheels and never resolves or downloads; get the wheels with \
             `pip download --only-binary=:all: --no-deps -d wheels '{text}'` (or build them with \
             `pip wheel`), then list their paths"
        )),
        Error::SymlinkedEnvironments { .. } => Some(
            "pass --force to remove it anyway; reinstall those environments afterwards (or install \
             them with another link mode, which survives a cache clean)"
                .into(),
        ),
        Error::NoRecord { dist_info, installer, .. } => {
            // These always write a RECORD: without one, the install was cut short.
            let cut_short = matches!(installer.as_deref(), Some("pip" | "uv" | "installer"));
            let tool = match installer.as_deref() {
                Some(tool) if !cut_short => format!("remove it with `{tool}`; "),
                None => "remove it with the tool that installed it; ".into(),
                Some(_) => String::new(),
            };
            Some(format!(
                "{tool}if an interrupted install left it, delete {} (and the files it installed) and run again",
                dist_info.display()
            ))
        }
        Error::Wheel { source: installer_core::wheel::WheelError::RequiresPython { .. }, .. } => Some(
            "install it for a Python it supports, or pass --ignore-requires-python to install it anyway"
                .into(),
        ),
        Error::ExternallyManaged { .. } => {
            Some("pass --break-system-packages to install into it anyway".into())
        }
        _ => None,
    }
}
