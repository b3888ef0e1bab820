//! Installing wheels into an environment, following the wheel spec's "Installing a wheel"
//! steps, all or nothing:
//!
//! 0. Choose, from file names alone, what the target can run (see [`crate::target`]): a
//!    wheel built for another interpreter or platform is refused before anything is read.
//! 1. Verify and cache every wheel (in parallel). A refusal stops here: nothing was touched.
//! 2. Plan: where each file goes, what replaces what, conflicts between wheels.
//! 3. Choose the link mode for the (cache, environment) pair, once.
//! 4. With `--compile`: the entries' bytecode for the environment's interpreter, found in the
//!    cache or compiled into it now ([`crate::bytecode`]), planned like every other file.
//! 5. In a [`crate::transaction`]: move replaced files aside, create directories, link files in
//!    parallel, write scripts and metadata, then RECORD. Any failure rolls everything back.

mod apply;
mod link;
mod plan;
mod roots;
mod tree;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

pub(crate) use link::{shard_location, suggest_cache_dir};
pub use link::{Fallback, ShardPolicy, AUTO_SHARD_NAME};

use crate::bytecode::{self, Interpreter};
use crate::cache::{Cache, CacheEntry};
use crate::installed::{self, InstalledDist};
use crate::linker::{LinkFallback, LinkMode};
use crate::platform;
use crate::reporter::Reporter;
use crate::target::{self, select_wheels, Target, TargetRequest};
use crate::transaction::Transaction;
use crate::uninstall;
use crate::venv::Venv;
use crate::wheel::normalize_name;
use crate::{Error, Result};
use roots::Roots;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Asks running installs to stop and roll back (from a Ctrl-C handler: async-signal-safe).
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Whether [`interrupt`] was called; long loops outside this module (unpacking) check it too.
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

fn check_interrupted() -> Result<()> {
    if INTERRUPTED.load(Ordering::Relaxed) {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}

/// Everything an install can be asked to do differently; built by the frontends.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    pub link_mode: LinkMode,
    pub link_fallback: LinkFallback,
    /// Worker threads; 0 means one per CPU.
    pub jobs: usize,
    /// Replace installed distributions even at the same version.
    pub reinstall: bool,
    /// Place `.pyc` files for the environment's interpreter, compiled once into the cache.
    pub compile: bool,
    /// Where cache shards on other filesystems may live.
    pub shards: ShardPolicy,
    /// Another Python version or platform than the interpreter's, to install for.
    pub target: TargetRequest,
}

/// What an install did, for the summary line.
#[derive(Debug, Clone)]
pub struct InstallSummary {
    /// Wheels installed (not counting skipped ones).
    pub wheels: usize,
    /// Files placed in the environment.
    pub files: u64,
    /// `name version` of wheels skipped because that version is installed already.
    pub skipped: Vec<String>,
    /// `name old-version` of distributions replaced.
    pub replaced: Vec<String>,
    /// The mode files were placed with (Copy after a fallback).
    pub link_mode: LinkMode,
    /// The shard linked from, when the cache was on another filesystem.
    pub shard: Option<PathBuf>,
    pub elapsed: Duration,
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
    let interpreter = target::Interpreter::cached(venv.python(), &cache.interpreters_dir())?;
    let wheels = select(&interpreter, wheels, options, reporter)?;
    in_pool(options.jobs, || install_in_pool(venv, &wheels, cache, options, reporter, None))
}

/// Like [`install`], for an environment that may not exist yet: when `venv_dir` is missing,
/// every wheel is checked against `python` and verified and cached first, then the venv is
/// created with `python`, and removed again if the install fails, so a refused wheel leaves
/// no empty environment behind.
///
/// Creating is "create, then lock", so the directory holding the environment is locked
/// exclusively from before the creation until the install is over, and every install into an
/// existing environment passes through that lock shared first: no process can start
/// installing into an environment that its creator may still remove.
pub fn install_into(
    venv_dir: &Path,
    python: &Path,
    wheels: &[PathBuf],
    cache: &Cache,
    options: &InstallOptions,
    reporter: &dyn Reporter,
) -> Result<InstallSummary> {
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
    // Asked afresh, not from the cache: `python3` may be a shim (pyenv) whose target changes
    // while the file stays the same, and creating the venv starts it anyway.
    let interpreter = target::Interpreter::query(python)?;
    let wheels = select(&interpreter, wheels, options, reporter)?;
    in_pool(options.jobs, || wheels.par_iter().try_for_each(|wheel| cache.entry(wheel).map(drop)))?;
    let creating = platform::lock_dir(&home, waiting).map_err(|e| Error::io("lock", &home, e))?;
    if venv_dir.exists() {
        // Another process created it while we verified the wheels.
        drop(creating);
        return install(&Venv::open(&venv_dir)?, &wheels, cache, options, reporter);
    }
    let venv = Venv::create(&venv_dir, python)?;
    reporter.venv_created(named, &interpreter);
    // Ours until the install is over (and, if it fails, the environment removed); other
    // creators in the same directory need not wait for that.
    let lock = venv.lock(reporter)?;
    drop(creating);
    crate::pause::point("venv-created");
    let result =
        in_pool(options.jobs, || install_in_pool(&venv, &wheels, cache, options, reporter, Some(&lock)));
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&venv_dir);
    }
    drop(lock);
    result
}

/// The wheels of `wheels` to install for the target of `interpreter` (see
/// [`crate::target::select_wheels`]); what was left out and why goes to `-v`.
fn select(
    interpreter: &target::Interpreter,
    wheels: &[PathBuf],
    options: &InstallOptions,
    reporter: &dyn Reporter,
) -> Result<Vec<PathBuf>> {
    let target = Target::new(interpreter, &options.target);
    reporter.info(&format!("target: {} ({} tags)", target.describe(), target.tags().len()));
    let selection = select_wheels(wheels, &target)?;
    for note in &selection.notes {
        reporter.info(note);
    }
    Ok(selection.wheels)
}

/// Runs `work` on a pool of `jobs` threads (0: one per CPU) whose threads have all exited when
/// it returns, so embedders see no threads outlive a call.
pub(crate) fn in_pool<R: Send>(jobs: usize, work: impl FnOnce() -> Result<R> + Send) -> Result<R> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build_scoped(|thread| thread.run(), |pool| pool.install(work))
        .map_err(|e| Error::InvalidArgument { what: "jobs", reason: e.to_string() })?
}

/// `held`: the environment's lock when the caller holds it already (it created the
/// environment); otherwise it is taken once the wheels are cached.
fn install_in_pool(
    venv: &Venv,
    wheels: &[PathBuf],
    cache: &Cache,
    options: &InstallOptions,
    reporter: &dyn Reporter,
    held: Option<&platform::DirLock>,
) -> Result<InstallSummary> {
    let mut clock = Clock::new();

    // 1. Verify and cache every wheel.
    let entries: Vec<CacheEntry> = wheels
        .par_iter()
        .map(|wheel| {
            check_interrupted()?;
            let entry = cache.entry(wheel)?;
            reporter.info(&format!(
                "{} {}: cache entry {}",
                if entry.was_unpacked() { "unpacked" } else { "cache hit" },
                wheel.display(),
                entry.dir().display()
            ));
            if let Some(version) = &entry.manifest().newer_wheel_version {
                reporter.warning(&format!(
                    "{}: installing from a newer Wheel-Version ({version}) than this installer implements ({})",
                    wheel.display(),
                    crate::wheel::metadata::WHEEL_VERSION.map(|n| n.to_string()).join(".")
                ));
            }
            Ok(entry)
        })
        .collect::<Result<_>>()?;
    clock.lap("cache");
    // From here on this process alone changes the environment.
    let own_lock;
    let _lock = match held {
        Some(lock) => lock,
        None => {
            own_lock = venv.lock(reporter)?;
            &own_lock
        }
    };
    if !venv.root().join("pyvenv.cfg").is_file() {
        // Removed while we waited for its lock: its creator's install failed.
        return Err(Error::NotAVenv {
            path: venv.root().to_path_buf(),
            reason: "it was removed while this install waited for it".into(),
        });
    }

    // 2. Plan against what is installed.
    // By normalised name, each computed once: a lookup per wheel, not a scan.
    let installed: HashMap<String, InstalledDist> =
        installed::scan(venv)?.into_iter().map(|d| (d.normalized_name(), d)).collect();
    let mut roots = Roots::new(venv);
    let header_roots = plan::header_roots(&mut roots, venv, &entries);
    let mut plans = Vec::with_capacity(wheels.len());
    let mut skipped = Vec::new();
    let mut seen: HashMap<String, &Path> = HashMap::with_capacity(wheels.len());
    for ((wheel, entry), headers) in wheels.iter().zip(entries).zip(header_roots) {
        let manifest = entry.manifest();
        let name = normalize_name(&manifest.name);
        if let Some(first) = seen.get(&name) {
            return Err(Error::Conflict {
                path: PathBuf::from(&manifest.dist_info),
                first: first.to_path_buf(),
                second: wheel.clone(),
            });
        }
        let current = installed.get(&name).cloned();
        seen.insert(name, wheel);
        if let Some(current) = &current {
            if current.version == manifest.version && !options.reinstall {
                skipped.push(format!("{} {}", manifest.name, manifest.version));
                continue;
            }
        }
        plans.push(plan::plan_wheel(venv, &roots, headers, wheel, entry, current)?);
    }
    plan::check_conflicts(&plans, &roots)?;
    clock.lap("plan");

    // 3. How files get there.
    let mut link =
        link::resolve(options.link_mode, options.link_fallback, &options.shards, cache, venv, reporter)?;
    if let Some(shard) = &link.shard {
        for plan in &mut plans {
            plan.entry = shard.import_entry(&plan.entry)?;
        }
    }

    // 4. Bytecode, from the cache the files are linked from.
    if options.compile {
        plan_bytecode(&mut plans, venv, cache, link.shard.as_ref().unwrap_or(cache), &roots, reporter)?;
        clock.lap("bytecode");
    }

    // 5. Apply.
    let total: u64 = plans.iter().map(|p| p.files.len() as u64 + 1).sum();
    reporter.add_total(total);
    // What replaced distributions leave goes exactly as `uninstall` would remove it.
    let replaced: Vec<InstalledDist> = plans.iter().filter_map(|p| p.replaces.clone()).collect();
    let mut old_files = Vec::new();
    for old in &replaced {
        old_files.extend(uninstall::dist_files(old, venv, reporter)?);
    }
    let txn = Transaction::new(venv.root());
    clock.lap("link mode");
    let copied = match apply::apply(&plans, &roots, &old_files, venv, link.mode, &txn, reporter, &mut clock) {
        Ok(copied) => copied,
        Err(e) => {
            txn.rollback();
            return Err(e);
        }
    };
    txn.commit(uninstall::emptied_dirs(&old_files, &replaced, venv));
    clock.lap("commit");
    reporter.info(&clock.summary());

    if link.mode == LinkMode::Symlink {
        cache.record_symlinked_env(venv.root(), plans.iter().map(|p| p.entry.id()));
    }
    if let Some(mut fallback) = link.fallback.take() {
        (fallback.files, fallback.bytes) = copied;
        reporter.warning(&fallback.to_string());
    }
    Ok(InstallSummary {
        wheels: plans.len(),
        files: total,
        replaced: plans
            .iter()
            .filter_map(|p| p.replaces.as_ref())
            .map(|d| format!("{} {}", d.name, d.version))
            .collect(),
        skipped,
        link_mode: link.mode,
        shard: link.shard.as_ref().map(|s| s.root().to_path_buf()),
        elapsed: clock.start.elapsed(),
    })
}

/// Adds the bytecode of every plan's entry for `venv`'s interpreter to the plans, compiling
/// into `source` (the cache or shard the entries are linked from) what is not there yet.
fn plan_bytecode(
    plans: &mut [plan::WheelPlan],
    venv: &Venv,
    cache: &Cache,
    source: &Cache,
    roots: &Roots,
    reporter: &dyn Reporter,
) -> Result<()> {
    let Some(interpreter) = Interpreter::identify(venv.python(), cache)? else {
        reporter.info(&format!(
            "{} writes no bytecode (no cache tag): nothing to compile",
            venv.python().display()
        ));
        return Ok(());
    };
    let sources: Vec<bytecode::Sources> =
        plans.iter().map(|p| bytecode::Sources { entry: &p.entry, files: p.compile_sources() }).collect();
    let sets = bytecode::ensure(source, venv.python(), &interpreter, &sources, reporter)?;
    drop(sources);
    for (plan, set) in plans.iter_mut().zip(sets) {
        for (rel, message) in &set.manifest.failed {
            let path = roots.join(roots::SITE_PACKAGES, rel);
            reporter.warning(&format!("failed to compile {}: {message}", path.display()));
        }
        plan.add_bytecode(set);
    }
    Ok(())
}

/// Where an install's time went, for `--verbose`: the first place to look when one is slow.
struct Clock {
    start: Instant,
    last: Instant,
    laps: Vec<(&'static str, Duration)>,
}

impl Clock {
    fn new() -> Clock {
        let now = Instant::now();
        Clock { start: now, last: now, laps: Vec::new() }
    }

    /// Ends the phase `name`.
    fn lap(&mut self, name: &'static str) {
        let now = Instant::now();
        self.laps.push((name, now - self.last));
        self.last = now;
    }

    /// `time: cache 4.1 ms, plan 5.0 ms, ...`
    fn summary(&self) -> String {
        let laps: Vec<String> =
            self.laps.iter().map(|(name, d)| format!("{name} {:.1} ms", d.as_secs_f64() * 1e3)).collect();
        format!("time: {}", laps.join(", "))
    }
}
