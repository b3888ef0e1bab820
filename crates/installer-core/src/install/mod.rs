//! Installing wheels into an environment, following the wheel spec's "Installing a wheel"
//! steps, all or nothing:
//!
//! 1. Verify and cache every wheel (in parallel). A refusal stops here: nothing was touched.
//! 2. Plan: where each file goes, what replaces what, conflicts between wheels.
//! 3. Choose the link mode for the (cache, environment) pair, once.
//! 4. In a [`crate::transaction`]: move replaced files aside, create directories, link files in
//!    parallel, write scripts and metadata, then RECORD. Any failure rolls everything back.

mod link;
mod plan;
mod roots;

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use rustc_hash::FxHashSet;

pub(crate) use link::{shard_location, suggest_cache_dir};
pub use link::{Fallback, ShardPolicy, AUTO_SHARD_NAME};

use crate::cache::{Cache, CacheEntry};
use crate::installed::{self, InstalledDist};
use crate::linker::{materialize_at, LinkFallback, LinkMode};
use crate::platform::Dir;
use crate::reporter::Reporter;
use crate::transaction::Transaction;
use crate::uninstall;
use crate::venv::Venv;
use crate::wheel::normalize_name;
use crate::{Error, Result};
use plan::{PlannedFile, Source, WheelPlan};
use roots::{RootId, Roots};

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
    /// Write `.pyc` files with the environment's interpreter.
    pub compile: bool,
    /// Where cache shards on other filesystems may live.
    pub shards: ShardPolicy,
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

/// Verifies (and caches) every wheel, then installs them all into `venv`, or nothing.
pub fn install(
    venv: &Venv,
    wheels: &[PathBuf],
    cache: &Cache,
    options: &InstallOptions,
    reporter: &dyn Reporter,
) -> Result<InstallSummary> {
    in_pool(options.jobs, || install_in_pool(venv, wheels, cache, options, reporter))
}

/// Like [`install`], for an environment that may not exist yet: when `venv_dir` is missing,
/// every wheel is verified and cached first, then the venv is created with `python`, and
/// removed again if the install fails, so a refused wheel leaves no empty environment behind.
pub fn install_into(
    venv_dir: &Path,
    python: &Path,
    wheels: &[PathBuf],
    cache: &Cache,
    options: &InstallOptions,
    reporter: &dyn Reporter,
) -> Result<InstallSummary> {
    if venv_dir.exists() {
        return install(&Venv::open(venv_dir)?, wheels, cache, options, reporter);
    }
    in_pool(options.jobs, || wheels.par_iter().try_for_each(|wheel| cache.entry(wheel).map(drop)))?;
    let venv = Venv::create(venv_dir, python)?;
    let result = install(&venv, wheels, cache, options, reporter);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(venv_dir);
    }
    result
}

/// Runs `work` on a pool of `jobs` threads (0: one per CPU) whose threads have all exited when
/// it returns, so embedders see no threads outlive a call.
fn in_pool<R: Send>(jobs: usize, work: impl FnOnce() -> Result<R> + Send) -> Result<R> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build_scoped(|thread| thread.run(), |pool| pool.install(work))
        .map_err(|e| Error::InvalidArgument { what: "jobs", reason: e.to_string() })?
}

fn install_in_pool(
    venv: &Venv,
    wheels: &[PathBuf],
    cache: &Cache,
    options: &InstallOptions,
    reporter: &dyn Reporter,
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
            Ok(entry)
        })
        .collect::<Result<_>>()?;
    clock.lap("cache");

    // 2. Plan against what is installed.
    // By normalised name, each computed once: a lookup per wheel, not a scan.
    let installed: HashMap<String, InstalledDist> =
        installed::scan(venv)?.into_iter().map(|d| (d.normalized_name(), d)).collect();
    let mut roots = Roots::new(venv);
    plan::add_header_roots(&mut roots, venv, &entries);
    let mut plans = Vec::with_capacity(wheels.len());
    let mut skipped = Vec::new();
    let mut seen: HashMap<String, &Path> = HashMap::with_capacity(wheels.len());
    for (wheel, entry) in wheels.iter().zip(entries) {
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
        plans.push(plan::plan_wheel(venv, &mut roots, wheel, entry, current)?);
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

    // 4. Apply.
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
    let copied =
        match apply(&plans, &roots, &old_files, venv, link.mode, options.compile, &txn, reporter, &mut clock)
        {
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

/// Makes the changes of all plans inside `txn`. Returns the files and bytes copied.
#[allow(clippy::too_many_arguments)]
fn apply(
    plans: &[WheelPlan],
    roots: &Roots,
    old_files: &[PathBuf],
    venv: &Venv,
    mode: LinkMode,
    compile: bool,
    txn: &Transaction,
    reporter: &dyn Reporter,
    clock: &mut Clock,
) -> Result<(u64, u64)> {
    // Replaced distributions go first, so a file moving between versions is not lost.
    old_files.par_iter().try_for_each(|path| txn.remove(path))?;
    clock.lap("move aside");

    // Every path below is resolved against an open root (and an open cache tree): the kernel
    // walks only the part inside it.
    let mut used = vec![false; roots.len()];
    used[roots::SITE_PACKAGES as usize] = true;
    for file in plans.iter().flat_map(|p| &p.files) {
        used[file.root as usize] = true;
    }
    let root_dirs = (0..roots.len() as RootId)
        .map(|root| {
            // A root no file uses (the headers of a skipped wheel) may not exist: the
            // environment stands in for it, never written through.
            let path = if used[root as usize] { roots.path(root) } else { venv.root() };
            txn.create_dir_all(path)?;
            Dir::open(path).map_err(|e| Error::io("open", path, e))
        })
        .collect::<Result<Vec<Dir>>>()?;

    // Every directory the files need, borrowed from their paths (no allocation per file).
    let mut dirs: FxHashSet<(usize, &str)> = FxHashSet::default();
    let destinations = plans.iter().flat_map(|p| {
        p.files.iter().map(move |f| p.destination(f)).chain([(roots::SITE_PACKAGES, p.record.as_str())])
    });
    for (root, mut rel) in destinations.clone() {
        while let Some(slash) = rel.rfind('/') {
            rel = &rel[..slash];
            if !dirs.insert((root as usize, rel)) {
                break;
            }
        }
    }
    let new_dirs = txn.create_dirs(&root_dirs, dirs)?;
    // Files in directories that were there before are journaled; the rest go with theirs.
    txn.will_create(destinations.filter_map(|(root, rel)| {
        let parent = rel.rfind('/').map(|slash| &rel[..slash]);
        let in_new_dir = parent.is_some_and(|p| new_dirs.contains(&(root as usize, p)));
        (!in_new_dir).then_some((&root_dirs[root as usize], rel))
    }))?;
    drop(new_dirs);
    clock.lap("directories");

    let trees: Vec<Dir> = plans
        .par_iter()
        .map(|p| {
            let tree = p.entry.tree();
            Dir::open(&tree).map_err(|e| Error::io("open", &tree, e))
        })
        .collect::<Result<_>>()?;

    // Link every file of every wheel in parallel, across wheels.
    let jobs: Vec<(usize, &PlannedFile)> =
        plans.iter().enumerate().flat_map(|(i, plan)| plan.files.iter().map(move |file| (i, file))).collect();
    // One flag per file instead of a collected `Result` each: at 100,000 files that is the
    // difference between 100 KB and 10 MB.
    let placed: Vec<AtomicBool> = jobs.iter().map(|_| AtomicBool::new(false)).collect();
    let first_error: std::sync::Mutex<Option<Error>> = std::sync::Mutex::new(None);
    let failed = AtomicBool::new(false);
    let (copied_files, copied_bytes) = (AtomicU64::new(0), AtomicU64::new(0));
    jobs.par_iter().zip(&placed).for_each(|(&(i, file), placed)| {
        if failed.load(Ordering::Relaxed) {
            return;
        }
        let plan = &plans[i];
        let result = check_interrupted().and_then(|()| {
            place(plan, &trees[i], file, &root_dirs[file.root as usize], mode, txn)
                .map_err(|e| Error::Install { wheel: plan.wheel.clone(), source: Box::new(e) })
        });
        match result {
            Ok(()) => {
                placed.store(true, Ordering::Relaxed);
                if let (LinkMode::Copy, Source::Entry { index, .. }) = (mode, &file.source) {
                    copied_files.fetch_add(1, Ordering::Relaxed);
                    copied_bytes
                        .fetch_add(plan.entry.manifest().files[*index as usize].size, Ordering::Relaxed);
                }
                reporter.advance(1);
            }
            Err(e) => {
                failed.store(true, Ordering::Relaxed);
                first_error.lock().expect("error slot").get_or_insert(e);
            }
        }
    });
    clock.lap("files");
    let linked = match first_error.into_inner().expect("error slot") {
        Some(err) => Err(err),
        None => finish(plans, roots, &root_dirs[roots::SITE_PACKAGES as usize], venv, compile, txn, reporter),
    };
    if linked.is_err() {
        // Only a rollback needs the list of placed files: on success nothing copies it.
        let placed = jobs.iter().zip(&placed).filter(|(_, p)| p.load(Ordering::Relaxed));
        txn.created(placed.map(|(&(i, f), _)| {
            let (root, rel) = plans[i].destination(f);
            roots.join(root, rel)
        }));
    }
    linked.map(|()| (copied_files.into_inner(), copied_bytes.into_inner()))
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

/// After every file is placed: bytecode (inside the transaction, so a failure rolls it back
/// too; listed in RECORD), then each RECORD, which lists everything else.
fn finish(
    plans: &[WheelPlan],
    roots: &Roots,
    site_packages: &Dir,
    venv: &Venv,
    compile: bool,
    txn: &Transaction,
    reporter: &dyn Reporter,
) -> Result<()> {
    let mut compiled: Vec<Vec<(PathBuf, String, u64)>> = vec![Vec::new(); plans.len()];
    if compile {
        compiled = compile_plans(plans, roots, venv, txn, reporter)?;
    }
    for (plan, extra) in plans.iter().zip(&compiled) {
        let record = plan::record_for(plan, roots, venv, extra);
        write_new(txn, site_packages, &plan.record, record.as_bytes(), false)?;
        txn.created([site_packages.join(&plan.record)]);
        reporter.advance(1);
    }
    Ok(())
}

/// Compiles the `.py` files of every plan; returns, per plan, the `.pyc` files with their
/// RECORD hash and size.
fn compile_plans(
    plans: &[WheelPlan],
    roots: &Roots,
    venv: &Venv,
    txn: &Transaction,
    reporter: &dyn Reporter,
) -> Result<Vec<Vec<(PathBuf, String, u64)>>> {
    // Per plan, its `.py` files in site-packages by absolute path.
    let sources: Vec<Vec<PathBuf>> = plans
        .iter()
        .map(|plan| {
            plan.files
                .iter()
                .map(|f| plan.destination(f))
                .filter(|&(root, rel)| root == roots::SITE_PACKAGES && rel.ends_with(".py"))
                .map(|(root, rel)| roots.join(root, rel))
                .collect()
        })
        .collect();
    let all: Vec<PathBuf> = sources.iter().flatten().cloned().collect();
    // The interpreter makes the `__pycache__` directories; remember the new ones for rollback.
    let new_caches: BTreeSet<PathBuf> = all
        .iter()
        .filter_map(|py| Some(py.parent()?.join("__pycache__")))
        .filter(|dir| !dir.exists())
        .collect();
    let written = crate::compile::compile(venv, &all, reporter);
    txn.created_dirs(new_caches.into_iter().filter(|dir| dir.is_dir()));
    let written = written?;
    txn.created(written.iter().cloned());
    let owners: HashMap<&Path, usize> = sources
        .iter()
        .enumerate()
        .flat_map(|(i, files)| files.iter().map(move |f| (f.as_path(), i)))
        .collect();
    let mut per_plan = vec![Vec::new(); plans.len()];
    for pyc in written {
        // `<dir>/__pycache__/<stem>.<tag>.pyc` belongs to the plan that installed `<dir>/<stem>.py`.
        let owner = pyc.parent().and_then(Path::parent).and_then(|dir| {
            let stem = pyc.file_name()?.to_str()?.split('.').next()?;
            owners.get(dir.join(format!("{stem}.py")).as_path()).copied()
        });
        let (Some(owner), Ok(bytes)) = (owner, std::fs::read(&pyc)) else { continue };
        let hash = crate::wheel::record::hash_bytes_sha256(&bytes);
        per_plan[owner].push((pyc, hash, bytes.len() as u64));
    }
    Ok(per_plan)
}

/// Puts one planned file in place under `root`; `tree` is the plan's open cache tree.
fn place(
    plan: &WheelPlan,
    tree: &Dir,
    file: &PlannedFile,
    root: &Dir,
    mode: LinkMode,
    txn: &Transaction,
) -> Result<()> {
    let (_, rel) = plan.destination(file);
    match &file.source {
        Source::Entry { index, .. } => {
            let src = &plan.entry.manifest().files[*index as usize].path;
            txn.create_file(root, rel, || materialize_at(mode, tree, src, root, rel))
                .map_err(|e| Error::io(io_action(mode), root.join(rel), e))
        }
        Source::Generated(generated) => write_new(txn, root, rel, &generated.content, generated.executable),
    }
}

fn io_action(mode: LinkMode) -> &'static str {
    match mode {
        LinkMode::Clone => "clone into",
        LinkMode::Hardlink => "hardlink into",
        LinkMode::Symlink => "symlink into",
        LinkMode::Copy | LinkMode::Auto => "copy into",
    }
}

fn write_new(txn: &Transaction, dir: &Dir, rel: &str, content: &[u8], executable: bool) -> Result<()> {
    txn.create_file(dir, rel, || dir.create_new_file(rel, executable)?.write_all(content))
        .map_err(|e| Error::io("write", dir.join(rel), e))
}
