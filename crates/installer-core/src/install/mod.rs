//! Installing wheels into an environment, following the wheel spec's "Installing a wheel"
//! steps, all or nothing:
//!
//! 0. Choose, from file names alone, what the target can run (see [`crate::target`]): a
//!    wheel built for another interpreter or platform is refused before anything is read.
//! 1. Verify and cache every wheel (in parallel). A refusal stops here: nothing was touched.
//! 2. Plan: where each file goes, what replaces what, conflicts between wheels.
//! 3. Choose the link mode for the (cache, environment) pair, once.
//! 4. With `--compile`: the entries' bytecode for the environment's interpreter, found in the
//!    cache or compiled into it (`crate::bytecode`: queued from step 1 on, as each entry is
//!    ready, so it overlaps steps 1 to 3; a read-only layer's entry once it is imported where
//!    it is linked from), planned like every other file.
//! 5. In a `crate::transaction`: move replaced files aside, create directories, link files in
//!    parallel, write scripts and metadata, then RECORD. Any failure rolls everything back.

mod apply;
mod bytecode_elsewhere;
mod cached;
mod compiled;
mod dist_info;
mod entries;
mod fallback;
mod link;
mod plan;
mod roots;
mod scheme;
mod summary;
#[cfg(test)]
mod tests;
mod tree;

use std::path::{Path, PathBuf};

pub(crate) use fallback::cache_advice;
pub use fallback::{CacheAdvice, Fallback, QuietReason, ShardFailure};
pub(crate) use link::{decide, shard_source_creating_nothing};
pub use link::{decide_without_installing, LinkDecision, LinkSource, ShardProbe};
use summary::Clock;
pub use summary::{DistVersion, InstallSummary};

pub(crate) use compiled::compiled_sources;
pub(crate) use plan::WheelPlan;

use crate::bytecode::{Compiler, Interpreter};
use crate::cache::{Cache, CacheEntry};
use crate::cancel::Cancel;
use crate::linker::{LinkFallback, LinkMode};
use crate::platform;
use crate::reporter::{Event, Reporter};
use crate::shards::ShardPolicy;
use crate::target::{self, select_wheels, Target, TargetPython, TargetRequest};
use crate::venv::Venv;
use crate::wheel::WheelError;
use crate::{Error, Result};
use entries::install_entries;

/// The most worker threads an install, uninstall or verify takes. Each is an OS thread started
/// by every call, and none gets faster with more: a larger number is a typo or a C caller's -1
/// meant as "the default" (which would start as many threads as the OS allows). The CLI, the
/// config file and the C ABI refuse more.
pub const MAX_JOBS: usize = 1024;

/// Everything an install can be asked to do differently; built by the frontends.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    /// As asked: `auto` is decided by one probe per install (see [`LinkMode`]).
    pub link_mode: LinkMode,
    /// What happens when `link_mode` cannot be used between the cache and the environment.
    pub link_fallback: LinkFallback,
    /// Worker threads; 0 means one per CPU.
    pub jobs: usize,
    /// Replace installed distributions even at the same version.
    pub reinstall: bool,
    /// Write `.pyc` files with the environment's interpreter.
    pub compile: bool,
    /// Where cache shards on other filesystems may live.
    pub shards: ShardPolicy,
    /// Another Python version or platform than the interpreter's, to install for.
    pub target: TargetRequest,
    /// Install wheels whose `Requires-Python` excludes the target's Python version (refused
    /// otherwise, as pip and uv refuse them).
    pub ignore_requires_python: bool,
    /// Verify, cache and plan, then report what would change: the environment is left
    /// alone (not even created).
    pub dry_run: bool,
    /// Cancels the install (checked per wheel, per unpacked chunk, per file placed): it
    /// stops, rolls back, and returns [`Error::Cancelled`]. Never reset by the install.
    pub cancel: Cancel,
    /// `cache-max-size`: after the install, least recently used entries of the cache and its
    /// shards are evicted until they take at most this many bytes ([`Event::Evicted`]).
    pub cache_max_size: Option<u64>,
}

/// What every step of one install reads, passed as one value rather than a parameter each.
struct Run<'a> {
    venv: &'a Venv,
    cache: &'a Cache,
    options: &'a InstallOptions,
    reporter: &'a dyn Reporter,
}

/// Verifies (and caches) every wheel, then installs them all into `venv`, or nothing. Only
/// wheels the environment's interpreter can run (or the target of `options.target`) are
/// accepted.
pub fn install(
    venv: &Venv,
    wheels: &[PathBuf],
    cache: &Cache,
    options: &InstallOptions,
    reporter: &dyn Reporter,
) -> Result<InstallSummary> {
    check_cache_outlives(cache, options)?;
    let mut clock = Clock::new();
    let interpreter = target::Interpreter::cached(venv.python(), &cache.interpreters_dir())?;
    let (wheels, checked_python) = select(&interpreter, wheels, options, reporter)?;
    // The interpreter's facts (from the cache: no interpreter started), its tags, the choice.
    clock.lap("target");
    let run = Run { venv, cache, options, reporter };
    in_pool(options.jobs, || {
        let compiler = compiler(options, cache, venv.python(), &interpreter, reporter)?;
        let entries =
            cached::cache_all(&wheels, cache, checked_python.as_ref(), reporter, &options.cancel, &|e| {
                ready(&compiler, e)
            })
            .map_err(|e| in_environment(e, venv.data()))?;
        clock.lap("cache");
        // `--target` and `--prefix` directories may not exist yet. A dry run creates nothing:
        // with neither purelib nor platlib nothing is installed there, so every wheel would be
        // (pip may have made only a `lib64` platlib).
        if options.dry_run && !venv.library_dirs().any(Path::is_dir) {
            let mut summary = dry_run_new_venv(venv.root(), entries, cache, options, clock)?;
            summary.created_venv = None;
            return Ok(summary);
        }
        // Made only now that every wheel is verified, and removed again if the install fails,
        // so that a refused wheel leaves no directory behind; what goes inside it is made by the
        // transaction.
        let made = if options.dry_run { Vec::new() } else { venv.create_missing_root()? };
        let result = install_entries(&run, &wheels, entries, clock, None, compiler);
        if result.is_err() {
            crate::venv::remove_made_dirs(&made);
        }
        result
    })
}

/// Like [`install`], for an environment that may not exist yet: when `venv_dir` is missing,
/// every wheel is checked against `python` and verified and cached first, then the venv is
/// created with `python` ([`Event::CreatedVenv`]), and removed again if the install fails, so
/// a refused wheel leaves no empty environment behind.
///
/// Creating is "create, then lock", so the directory holding the environment is locked
/// exclusively from before the creation until the creator holds the new environment's own
/// lock (kept until its install is over), and every install into an existing environment
/// passes through the directory's lock shared first: no process can start installing into an
/// environment that its creator may still remove (ARCHITECTURE.md, "Cache protocol").
pub fn install_into(
    venv_dir: &Path,
    python: &Path,
    wheels: &[PathBuf],
    cache: &Cache,
    options: &InstallOptions,
    reporter: &dyn Reporter,
) -> Result<InstallSummary> {
    check_cache_outlives(cache, options)?;
    // As the caller named it, for the announcement of its creation.
    let named = venv_dir;
    let venv_dir = std::path::absolute(venv_dir).map_err(|e| Error::io("resolve", venv_dir, e))?;
    let home = venv_dir.ancestors().skip(1).find(|a| a.is_dir()).unwrap_or(Path::new("/")).to_path_buf();
    let waiting = || {
        reporter.warning(&format!("waiting for another installer process creating {}", venv_dir.display()))
    };
    if venv_dir.exists() {
        // A creator holds this while it makes the environment and takes the environment's lock.
        drop(platform::lock_dir_shared(&home, waiting).map_err(|e| Error::io("lock", &home, e))?);
        if venv_dir.exists() {
            match install(&Venv::open(&venv_dir)?, wheels, cache, options, reporter) {
                // Its creator's install failed and removed it while we waited: create it anew.
                Err(Error::NotAVenv { .. }) if !venv_dir.exists() => {}
                result => return result,
            }
        }
    }
    let mut clock = Clock::new();
    // Asked afresh, not from the cache: `python3` may be a shim (pyenv) whose target changes
    // while the file stays the same, and creating the venv starts it anyway.
    let interpreter = target::Interpreter::query(python)?;
    let (wheels, checked_python) = select(&interpreter, wheels, options, reporter)?;
    clock.lap("target");
    in_pool(options.jobs, || {
        let compiler = compiler(options, cache, python, &interpreter, reporter)?;
        // Held (leased) from here to the end of the install: verified once, never looked up
        // twice, so `-v` says `unpacked` for what this run unpacked.
        let entries =
            cached::cache_all(&wheels, cache, checked_python.as_ref(), reporter, &options.cancel, &|e| {
                ready(&compiler, e)
            })
            .map_err(|e| in_environment(e, &venv_dir))?;
        clock.lap("cache");
        if options.dry_run {
            return dry_run_new_venv(&venv_dir, entries, cache, options, clock);
        }
        let creating = platform::lock_dir(&home, waiting).map_err(|e| Error::io("lock", &home, e))?;
        if venv_dir.exists() {
            // Another process created it while we verified the wheels.
            drop(creating);
            let venv = Venv::open(&venv_dir)?;
            let run = Run { venv: &venv, cache, options, reporter };
            return install_entries(&run, &wheels, entries, clock, None, compiler);
        }
        let venv = Venv::create(&venv_dir, python)?;
        reporter.event(Event::CreatedVenv { path: named, python: &interpreter });
        // Ours until the install is over (and, if it fails, the environment removed); other
        // creators in the same directory need not wait for that.
        let lock = venv.lock(reporter)?;
        drop(creating);
        crate::pause::point("venv-created");
        clock.lap("create venv");
        let run = Run { venv: &venv, cache, options, reporter };
        let result = install_entries(&run, &wheels, entries, clock, Some(&lock), compiler);
        let result = match result {
            Ok(mut summary) => {
                summary.created_venv = Some(venv.root().to_path_buf());
                Ok(summary)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&venv_dir);
                Err(e)
            }
        };
        drop(lock);
        result
    })
}

/// Refuses `symlink` from a cache removed when this install ends (`--no-cache`, or the
/// temporary cache that stands in for one this user cannot write): every link would dangle
/// as soon as the command exits. Checked before any wheel is read, so nothing is touched.
/// `auto` never chooses symlinks ([`crate::linker::probe`]), so only an explicit request can.
fn check_cache_outlives(cache: &Cache, options: &InstallOptions) -> Result<()> {
    if options.link_mode != LinkMode::Symlink || !cache.is_temporary() {
        return Ok(());
    }
    Err(Error::InvalidArgument {
        what: "link mode",
        reason: format!(
            "symlink needs a cache that outlives the install, and {} is a temporary cache removed when it ends (no cache was asked for, or the cache cannot be written)",
            cache.root().display()
        ),
    })
}

/// With `--compile` (and not a dry run), the compiler of this install's bytecode with `python`,
/// whose facts are `interpreter`; its worker processes start only once something needs them.
/// An interpreter too old for the worker is refused here, before anything is unpacked.
fn compiler<'a>(
    options: &InstallOptions,
    cache: &'a Cache,
    python: &Path,
    interpreter: &target::Interpreter,
    reporter: &dyn Reporter,
) -> Result<Option<Compiler<'a>>> {
    if !options.compile || options.dry_run {
        return Ok(None);
    }
    let Some(bytecode) = Interpreter::of(interpreter) else {
        reporter.info(&format!("{} writes no bytecode (no cache tag): nothing to compile", python.display()));
        return Ok(None);
    };
    if interpreter.version < crate::compile::OLDEST_PYTHON {
        let (major, minor, _) = crate::compile::OLDEST_PYTHON;
        return Err(Error::InvalidArgument {
            what: "--compile",
            reason: format!(
                "{} is Python {}; compiling bytecode needs {major}.{minor} or newer (install without --compile)",
                python.display(),
                interpreter.version_string()
            ),
        });
    }
    Ok(Some(Compiler::new(cache, python, bytecode, rayon::current_num_threads(), options.cancel.clone())))
}

/// Starts compiling the bytecode of an entry that is ready, if this install compiles.
fn ready(compiler: &Option<Compiler>, entry: &CacheEntry) -> Result<()> {
    compiler.as_ref().map_or(Ok(()), |c| c.entry_ready(entry))
}

/// The wheels of `wheels` to install for the target of `interpreter` (see
/// [`crate::target::select_wheels`]); what was left out and why goes to `-v`. With them, the
/// Python version their `Requires-Python` is checked against, unless the options ignore it.
fn select(
    interpreter: &target::Interpreter,
    wheels: &[PathBuf],
    options: &InstallOptions,
    reporter: &dyn Reporter,
) -> Result<(Vec<PathBuf>, Option<TargetPython>)> {
    let target = Target::new(interpreter, &options.target);
    reporter.info(&format!("target: {} ({} tags)", target.describe(), target.tags().len()));
    let selection = select_wheels(wheels, &target)?;
    for note in &selection.notes {
        reporter.info(note);
    }
    Ok((selection.wheels, (!options.ignore_requires_python).then(|| TargetPython::of(&target))))
}

/// Names the environment (its prefix) in a refusal of the wheel reader, which finds a wheel
/// that would replace the environment's own files before caching it, knowing no environment.
fn in_environment(error: Error, prefix: &Path) -> Error {
    match error {
        Error::Wheel { wheel, source: WheelError::EnvironmentFile { member, path } }
            if path.is_relative() =>
        {
            Error::Wheel { wheel, source: WheelError::EnvironmentFile { member, path: prefix.join(path) } }
        }
        error => error,
    }
}

/// Runs `work` on a pool of `jobs` threads (0: one per CPU) whose threads have all exited when
/// it returns, so embedders see no threads outlive a call.
///
/// Called on a worker of another pool (a C callback of one call, run on that call's worker,
/// calling into another context), `work` is handed to the new pool from a plain thread that
/// this one waits for. `pool.install` from there would have this thread run the other pool's
/// jobs while it waits: jobs of the call whose callback it is still in, which report progress
/// and so wait for the reporter's lock this thread holds, for ever.
pub(crate) fn in_pool<R: Send>(jobs: usize, work: impl FnOnce() -> Result<R> + Send) -> Result<R> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build_scoped(
            |thread| thread.run(),
            |pool| {
                if rayon::current_thread_index().is_none() {
                    return pool.install(work);
                }
                std::thread::scope(|s| match s.spawn(|| pool.install(work)).join() {
                    Ok(result) => result,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
            },
        )
        .map_err(|e| Error::InvalidArgument { what: "jobs", reason: e.to_string() })?
}

/// A dry run into an environment that does not exist: every wheel would be installed, with
/// the link mode [`decide`] finds between the cache and where the environment would be (its
/// nearest existing directory), a shard included, creating nothing, as `doctor` does.
fn dry_run_new_venv(
    venv_dir: &Path,
    entries: Vec<CacheEntry>,
    cache: &Cache,
    options: &InstallOptions,
    mut clock: Clock,
) -> Result<InstallSummary> {
    let venv_dir = std::path::absolute(venv_dir).map_err(|e| Error::io("resolve", venv_dir, e))?;
    let existing = crate::platform::nearest_existing(&venv_dir);
    let probe_files = link::probe_files(cache, &entries);
    let mut decision = decide(
        options.link_mode,
        link::shards_for(cache, &options.shards),
        &cache.probe_dir(),
        &|| link::probe_file(cache, &probe_files),
        existing,
        &venv_dir,
        &mut shard_source_creating_nothing,
    )
    .map_err(|e| Error::io("probe link modes into", existing, e))?;
    link::copy_from_temporary_cache_quietly(&mut decision, options.link_mode, cache);
    clock.lap("link mode");
    let installed: Vec<DistVersion> = entries.iter().map(|e| dist_version(e.manifest())).collect();
    Ok(InstallSummary {
        files: entries.iter().map(|e| e.manifest().files.len() as u64).sum(),
        installed,
        replaced: Vec::new(),
        skipped: Vec::new(),
        // As an install reports it: the first mode that failed.
        fell_back_from: decision
            .fell_back()
            .then(|| decision.direct.failures.first().map(|(m, _)| *m))
            .flatten(),
        link_mode: decision.mode,
        copied_files: 0,
        copied_bytes: 0,
        shard: match decision.source {
            LinkSource::Shard(dir) => Some(dir),
            LinkSource::Cache => None,
        },
        created_venv: Some(venv_dir),
        dry_run: true,
        timings: clock.laps,
    })
}

fn dist_version(manifest: &crate::manifest::Manifest) -> DistVersion {
    DistVersion { name: manifest.name.clone(), version: manifest.version.clone() }
}
