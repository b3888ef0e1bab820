//! Making the planned changes inside a transaction: replaced files moved aside, then one
//! parallel walk of the destination tree (directories made, files linked or written, bytecode
//! from the cache like any other file), then each RECORD.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

use rayon::prelude::*;

use super::plan::{self, Generated, PlannedFile, Source, WheelPlan};
use super::roots::{self, RecordPaths, RootId, Roots};
use super::tree::Tree;
use super::Clock;
use crate::cancel::Cancel;
use crate::linker::{materialize_at, ConcreteLinkMode};
use crate::platform::{self, Dir};
use crate::reporter::{Event, Reporter};
use crate::transaction::Transaction;
use crate::units::count;
use crate::venv::Venv;
use crate::{Error, Result};

/// Where and how plans are applied: one value for what every part of [`apply`] reads.
pub(super) struct Apply<'a> {
    pub roots: &'a Roots,
    pub venv: &'a Venv,
    /// How entry files get into the environment (decided once, before).
    pub mode: ConcreteLinkMode,
    pub txn: &'a Transaction,
    pub reporter: &'a dyn Reporter,
    /// Checked per directory and per file: a cancel fails the walk, and the caller rolls back.
    pub cancel: &'a Cancel,
}

/// Makes the changes of all plans inside `how.txn`, after moving `old_files` (of replaced
/// distributions) aside. Returns the files and bytes copied.
pub(super) fn apply<'a>(
    plans: &'a [WheelPlan],
    old_files: &[PathBuf],
    how: &Apply<'_>,
    clock: &mut Clock,
) -> Result<(u64, u64)> {
    let Apply { roots, venv, mode, txn, reporter, cancel } = *how;
    // Replaced distributions go first, so a file moving between versions is not lost.
    old_files.par_iter().try_for_each(|path| txn.remove(path))?;
    clock.lap("move aside");
    crate::pause::point("moved-aside");

    // Every path below is resolved against an open root (and an open cache tree): the kernel
    // walks only the part inside it.
    let root_dirs = open_roots(plans, roots, venv, txn)?;
    let open = |tree: PathBuf| Dir::open(&tree).map_err(|e| Error::io("open", &tree, e));
    let trees: Vec<(Dir, Option<Dir>)> = plans
        .par_iter()
        .map(|p| Ok((open(p.entry.tree())?, p.bytecode.as_ref().map(|b| open(b.tree())).transpose()?)))
        .collect::<Result<_>>()?;

    let jobs: Vec<(usize, &PlannedFile)> =
        plans.iter().enumerate().flat_map(|(i, plan)| plan.files.iter().map(move |file| (i, file))).collect();
    let destination = |&(i, file): &(usize, &'a PlannedFile)| -> (usize, &'a str) {
        let (root, rel) = plans[i].destination(file);
        (root as usize, rel)
    };
    let mut tree = Tree::new(roots.len(), jobs.iter().map(destination));
    tree.find_new(|root, rel| root_dirs[root].exists(rel));
    // Only a file in a directory that was there before can be in the way of one: what is in
    // the way is moved aside now, before anything is made, and before the journal below
    // lists the path. A file listed there while still in place could be taken for the
    // transaction's by a successor (a hardlinked file's ctime changes whenever another
    // environment links the same cache file) and deleted. Indices, not paths: 4 bytes a file.
    let in_old_dirs: Vec<u32> = tree.files_in_old_dirs().collect();
    // Each RECORD in its `.dist-info`, in site-packages or platlib.
    let record = |i: usize| (plans[i].meta_root as usize, plans[i].record.as_str());
    let records: Vec<usize> = (0..plans.len())
        .filter(|&i| {
            let (root, rel) = record(i);
            !tree.in_new_dir(root, rel)
        })
        .collect();
    let in_the_way = |i: usize, root: usize, rel: &str| match root_dirs[root].is_dir(rel) {
        None => Ok(()),
        // A file never replaces a directory that holds a file (`bin/`, another distribution's
        // package): that would delete all it holds. Nothing but missing roots is made yet, and
        // the caller rolls back. One that holds none (what an upgrade leaves of the old
        // version's `pkg/data/` once its files are moved aside) is moved aside, as pip would
        // replace it.
        Some(true) if holds_a_file(&root_dirs[root].join(rel)) => Err(Error::Wheel {
            wheel: plans[i].wheel.clone(),
            source: crate::wheel::WheelError::ReplacesDirectory { path: root_dirs[root].join(rel) },
        }),
        Some(_) => txn.remove(&root_dirs[root].join(rel)),
    };
    in_old_dirs.par_iter().try_for_each(|&job| {
        let (root, rel) = destination(&jobs[job as usize]);
        in_the_way(jobs[job as usize].0, root, rel)
    })?;
    for &i in &records {
        let (root, rel) = record(i);
        in_the_way(i, root, rel)?;
    }
    clock.lap("move aside what is in the way");
    // Journaled before anything is made: the topmost new directories, and the files (RECORDs
    // too) in directories that were there before; all else is below a new directory.
    txn.will_make_dirs(tree.new_tops().map(|(root, rel)| (&root_dirs[root], rel)))?;
    let records = records.iter().map(|&i| record(i));
    txn.will_create(
        in_old_dirs
            .iter()
            .map(|&job| destination(&jobs[job as usize]))
            .chain(records)
            .map(|(root, rel)| (&root_dirs[root], rel)),
    )?;
    clock.lap("journal");
    crate::pause::point("journaled");

    // One flag per file instead of a collected `Result` each: at 100,000 files that is the
    // difference between 100 KB and 10 MB.
    let placed: Vec<AtomicBool> = jobs.iter().map(|_| AtomicBool::new(false)).collect();
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let failed = AtomicBool::new(false);
    let fail = |e: Error| {
        failed.store(true, Ordering::Relaxed);
        first_error.lock().expect("error slot").get_or_insert(e);
    };
    let (copied_files, copied_bytes) = (AtomicU64::new(0), AtomicU64::new(0));
    // A directory is made for the files below it: a failure names the wheel of the first one.
    let in_wheel_of_dir = |root: usize, rel: &str, e: Error| -> Error {
        let below = |(r, path): (usize, &str)| {
            r == root && path.strip_prefix(rel).is_some_and(|rest| rest.starts_with('/'))
        };
        match jobs.iter().find(|job| below(destination(job))) {
            Some(&(i, _)) => Error::Install { wheel: plans[i].wheel.clone(), source: Box::new(e) },
            None => e,
        }
    };
    let make_dir = |root: usize, rel: &str| {
        let made = cancel
            .check()
            .and_then(|()| txn.create_dir(&root_dirs[root], rel).map_err(|e| in_wheel_of_dir(root, rel, e)));
        match made {
            Ok(()) => !failed.load(Ordering::Relaxed),
            Err(e) => {
                fail(e);
                false
            }
        }
    };
    let place_file = |job: u32| {
        if failed.load(Ordering::Relaxed) {
            return;
        }
        let (i, file) = jobs[job as usize];
        let plan = &plans[i];
        let result = cancel.check().and_then(|()| {
            place(plan, &trees[i], file, &root_dirs[file.root as usize], mode, txn)
                .map_err(|e| Error::Install { wheel: plan.wheel.clone(), source: Box::new(e) })
        });
        match result {
            Ok(copied_instead) => {
                placed[job as usize].store(true, Ordering::Relaxed);
                if let (ConcreteLinkMode::Copy, Some(bytes)) = (mode, plan.cached_size(file)) {
                    copied_files.fetch_add(1, Ordering::Relaxed);
                    copied_bytes.fetch_add(bytes, Ordering::Relaxed);
                    reporter.event(Event::Copied { bytes });
                } else if copied_instead {
                    // Progress counts files in this mode: no `Copied` bytes for the bar.
                    copied_files.fetch_add(1, Ordering::Relaxed);
                    copied_bytes.fetch_add(plan.cached_size(file).unwrap_or(0), Ordering::Relaxed);
                }
                reporter.advance(1);
                crate::pause::point("file-placed");
            }
            Err(e) => fail(e),
        }
    };
    tree.walk(&make_dir, &place_file);
    clock.lap("directories and files");
    let over_the_limit = copied_files.load(Ordering::Relaxed);
    if mode == ConcreteLinkMode::Hardlink && over_the_limit > 0 {
        reporter.info(&format!(
            "copied {} instead of hardlinking: {} the filesystem's limit of links (EMLINK)",
            count(over_the_limit, "file", "files"),
            if over_the_limit == 1 { "it has" } else { "they have" }
        ));
    }
    reporter.info(&format!(
        "made {}, placed {} ({mode})",
        count(tree.new_count() as u64, "directory", "directories"),
        count(jobs.len() as u64, "file", "files")
    ));
    let linked = match first_error.into_inner().expect("error slot") {
        Some(err) => Err(err),
        None => write_records(plans, roots, &root_dirs, txn, reporter),
    };
    clock.lap("records");
    if linked.is_err() {
        // Only a rollback needs the list of placed files: on success nothing copies it.
        let placed = jobs.iter().zip(&placed).filter(|(_, p)| p.load(Ordering::Relaxed));
        txn.created(placed.map(|(job, _)| {
            let (root, rel) = destination(job);
            roots.join(root as RootId, rel)
        }));
    }
    linked.map(|()| (copied_files.into_inner(), copied_bytes.into_inner()))
}

/// Opens every root, making the missing ones a file needs (a headers directory).
fn open_roots(plans: &[WheelPlan], roots: &Roots, venv: &Venv, txn: &Transaction) -> Result<Vec<Dir>> {
    let mut used = vec![false; roots.len()];
    used[roots::SITE_PACKAGES as usize] = true;
    for file in plans.iter().flat_map(|p| &p.files) {
        used[file.root as usize] = true;
    }
    (0..roots.len() as RootId)
        .map(|root| {
            // A root no file uses (the headers of a skipped wheel, a scripts directory no
            // wheel needs) is not made: the environment stands in for it, never written
            // through.
            let path = if used[root as usize] { roots.path(root) } else { venv.root() };
            txn.create_dir_all(path)?;
            Dir::open(path).map_err(|e| Error::io("open", path, e))
        })
        .collect()
}

/// After every file is placed: each RECORD, which lists them all, in its `.dist-info` under
/// the plan's `meta_root` (`root_dirs` are the open roots).
fn write_records(
    plans: &[WheelPlan],
    roots: &Roots,
    root_dirs: &[Dir],
    txn: &Transaction,
    reporter: &dyn Reporter,
) -> Result<()> {
    // How each root spells the others, from a `.dist-info` under it: once per root (a handful),
    // not per wheel.
    let spelled: Vec<RecordPaths> = (0..roots.len() as RootId).map(|root| roots.record_paths(root)).collect();
    plans.par_iter().try_for_each(|plan| {
        let (dir, spelled) = (&root_dirs[plan.meta_root as usize], &spelled[plan.meta_root as usize]);
        write_record(txn, dir, &plan.record, plan::record_for(plan, spelled).as_bytes())
            .map_err(|e| Error::Install { wheel: plan.wheel.clone(), source: Box::new(e) })?;
        txn.created([dir.join(&plan.record)]);
        reporter.advance(1);
        Ok(())
    })
}

/// Puts one planned file in place under `root`; `trees` are the plan's open cache tree and
/// bytecode tree. A file that cannot take one more hardlink (its link count is at the
/// filesystem's limit, `EMLINK`: 65,000 on ext4, reached by a popular file of a wheel installed
/// into that many environments from one cache) is copied instead, that file only: `Ok(true)`,
/// so it is counted with the copies and said once, not per file, nor aborting the install.
fn place(
    plan: &WheelPlan,
    trees: &(Dir, Option<Dir>),
    file: &PlannedFile,
    root: &Dir,
    mode: ConcreteLinkMode,
    txn: &Transaction,
) -> Result<bool> {
    let (_, rel) = plan.destination(file);
    let copied = std::cell::Cell::new(false);
    let linked = |src: &Dir, src_rel: &str| {
        txn.create_file(root, rel, || match materialize_at(mode, src, src_rel, root, rel) {
            Err(e) if mode == ConcreteLinkMode::Hardlink && platform::is_too_many_links(&e) => {
                copied.set(true);
                src.copy(src_rel, root, rel)
            }
            other => other,
        })
        .map_err(|e| Error::io(mode.io_action(), root.join(rel), e))
    };
    match &file.source {
        Source::Entry { index, .. } => linked(&trees.0, &plan.entry.manifest().files[*index as usize].path)?,
        Source::Bytecode(_) => {
            linked(trees.1.as_ref().expect("a plan with bytecode has its tree open"), rel)?
        }
        Source::Generated(index) => {
            let generated = &plan.generated[*index as usize];
            write_new(txn, root, generated)?
        }
    }
    Ok(copied.get())
}

/// Whether anything but directories is below `dir` (a walk that fails counts as holding one).
fn holds_a_file(dir: &std::path::Path) -> bool {
    walkdir::WalkDir::new(dir).into_iter().any(|e| e.map_or(true, |e| !e.file_type().is_dir()))
}

/// Writes the new RECORD `rel` (0o666 less the umask, as pip writes it).
fn write_record(txn: &Transaction, dir: &Dir, rel: &str, content: &[u8]) -> Result<()> {
    txn.create_file(dir, rel, || dir.create_new_file(rel, false)?.write_all(content))
        .map_err(|e| Error::io("write", dir.join(rel), e))
}

/// Writes a new file; its `mtime` (seconds since the epoch) is the one a `.pyc` header records.
fn write_new(txn: &Transaction, dir: &Dir, generated: &Generated) -> Result<()> {
    let rel = generated.rel.as_str();
    txn.create_file(dir, rel, || {
        // A launcher is made as distlib makes it, `(0o666 & ~umask) | 0o555`: one permission
        // call, not an executable's `| 0o111` and then the launcher's.
        let mut file = dir.create_new_file(rel, generated.executable && !generated.launcher)?;
        if generated.launcher {
            platform::add_permissions(&file, 0o555)?;
        }
        file.write_all(&generated.content)?;
        match generated.mtime {
            Some(secs) => file.set_modified(UNIX_EPOCH + Duration::from_secs(secs.into())),
            None => Ok(()),
        }
    })
    .map_err(|e| Error::io("write", dir.join(rel), e))
}

#[cfg(test)]
mod tests;
