//! Bytecode of the `.py` files an install puts outside site-packages: `.data/scripts` (docutils'
//! `rst2html.py`, jmespath's `jp.py`) and `.data/data`. pip compiles every `.py` file it
//! installs, wherever it goes (`bin/__pycache__/jp.cpython-311.pyc`), and lists it in RECORD;
//! `--compile` does the same, so both environments hold the same files.
//!
//! Their `.pyc` is compiled once into the entry's bytecode set, by the source's path in the
//! wheel ([`super::compiled::compiled_sources`]), and written into each environment from there:
//! unchanged for a file linked from the entry (its header holds the cached source's mtime and
//! size, which the installed file keeps), and with the installed size in its header for a
//! `#!python` script, whose rewritten first line is a comment of another length and which is
//! written with the mtime the header holds. What the set cannot serve (the `/bin/sh`
//! trampoline for long interpreter paths adds lines and names the environment) is compiled for
//! the install, with a checked hash-based header (PEP 552): its source's time is not known
//! before it is written, its bytes are. The `.pyc` files are planned as generated files,
//! written and recorded like launchers.

use std::path::Path;

use super::compiled::compiles;
use super::plan::{Generated, PlannedFile, Source, WheelPlan};
use super::roots::{RootId, Roots, SITE_PACKAGES};
use crate::bytecode::{pyc_path, BytecodeSet, SourceStamp};
use crate::cache::Cache;
use crate::cancel::Cancel;
use crate::compile::{Job, Outcome, Pool};
use crate::reporter::Reporter;
use crate::{Error, Result};

/// One `.py` file outside site-packages and where its `.pyc` goes.
struct Target {
    plan: usize,
    root: RootId,
    pyc: String,
}

/// Adds the `.pyc` of each `.py` file the plans put outside site-packages, from the plan's
/// bytecode set or else compiled with `python` (cache tag `tag`) in a staging directory of
/// `cache`. A source that does not compile is a warning, as in site-packages.
pub(crate) fn add_to_plans(
    plans: &mut [WheelPlan],
    (python, tag): (&Path, &str),
    cache: &Cache,
    roots: &Roots,
    cancel: &Cancel,
    reporter: &dyn Reporter,
) -> Result<()> {
    let mut staging = None;
    let (mut jobs, mut targets) = (Vec::new(), Vec::new());
    for (index, plan) in plans.iter_mut().enumerate() {
        // (root, `.pyc` path, content, the rewritten script and its mtime) from the set.
        let mut served = Vec::new();
        for file in &plan.files {
            let (root, rel) = plan.destination(file);
            if root == SITE_PACKAGES || !compiles(rel) {
                continue;
            }
            let pyc = pyc_path(rel, tag);
            if plan.files.iter().any(|f| plan.destination(f) == (root, pyc.as_str())) {
                continue; // The wheel ships it: installed as shipped.
            }
            let display = roots.join(root, rel).display().to_string();
            match from_the_set(plan, file, tag)? {
                Some(Cached::Pyc { content, script_mtime }) => {
                    served.push((root, pyc, content, script_mtime));
                    continue;
                }
                Some(Cached::Failed(message)) => {
                    reporter.warning(&format!("failed to compile {display}: {message}"));
                    continue;
                }
                None => {}
            }
            let dir = match &staging {
                Some(s) => s,
                None => staging.insert(cache.staging_dir()?),
            }
            .path();
            let n = jobs.len();
            let (source, size) = match &file.source {
                Source::Entry { index, .. } => {
                    let f = &plan.entry.manifest().files[*index as usize];
                    (plan.entry.tree().join(&f.path), f.size)
                }
                Source::Generated(index) => {
                    let content = &plan.generated[*index as usize].content;
                    let path = dir.join(format!("{n}.py"));
                    std::fs::write(&path, content).map_err(|e| Error::io("write", &path, e))?;
                    (path, content.len() as u64)
                }
                Source::Bytecode(_) => continue,
            };
            let staged = dir.join(format!("{n}.pyc"));
            jobs.push(Job { source, pyc: staged, display, size, checked_hash: true, content: None });
            targets.push(Target { plan: index, root, pyc });
        }
        for (root, pyc, content, script_mtime) in served {
            if let Some((script, mtime)) = script_mtime {
                plan.generated[script as usize].mtime = Some(mtime);
            }
            plan.add_generated(root, Generated::new(pyc, content, false));
        }
    }
    if jobs.is_empty() {
        return Ok(());
    }
    let files = crate::units::count(jobs.len() as u64, "file", "files");
    reporter.info(&format!("compiling {files} installed outside site-packages with {}", python.display()));
    let pool = Pool::new(python, 1, cancel.clone());
    for job in &jobs {
        pool.submit(job);
    }
    let outcomes = pool.finish()?;
    for ((job, target), outcome) in jobs.iter().zip(targets).zip(outcomes) {
        match outcome {
            Some(Outcome::Written { .. }) => {
                let content = std::fs::read(&job.pyc).map_err(|e| Error::io("read", &job.pyc, e))?;
                plans[target.plan].add_generated(target.root, Generated::new(target.pyc, content, false));
            }
            Some(Outcome::Failed(message)) => {
                reporter.warning(&format!("failed to compile {}: {message}", job.display));
            }
            None => unreachable!("no job of this pool is withdrawn"),
        }
    }
    Ok(())
}

/// What the plan's bytecode set holds for a source installed elsewhere.
enum Cached {
    /// The `.pyc` as the environment gets it and, for a rewritten script, the script (an
    /// index into the plan's `generated`) and the mtime to write it with.
    Pyc {
        content: Vec<u8>,
        script_mtime: Option<(u32, u32)>,
    },
    Failed(String),
}

/// The `.pyc` of `file` from the plan's set: `None` when the set does not serve it (no set, a
/// script whose rewrite added lines, a set compiled before it kept such sources).
fn from_the_set(plan: &WheelPlan, file: &PlannedFile, tag: &str) -> Result<Option<Cached>> {
    let Some(set) = &plan.bytecode else { return Ok(None) };
    let (index, rewritten) = match file.source {
        Source::Entry { index, .. } => (index, None),
        Source::Generated(g) => match plan.generated[g as usize].compiles_as {
            Some(index) => (index, Some(g)),
            None => return Ok(None),
        },
        Source::Bytecode(_) => return Ok(None),
    };
    let source = &plan.entry.manifest().files[index as usize].path;
    if let Some((_, message)) = set.manifest.failed.iter().find(|(rel, _)| rel == source) {
        return Ok(Some(Cached::Failed(message.clone())));
    }
    let Some(mut pyc) = read_pyc(set, &pyc_path(source, tag))? else { return Ok(None) };
    let Some(script) = rewritten else { return Ok(Some(Cached::Pyc { content: pyc, script_mtime: None })) };
    let Some(stamp) = SourceStamp::of(&pyc) else { return Ok(None) };
    let size = plan.generated[script as usize].content.len() as u32;
    SourceStamp { size, ..stamp }.write_into(&mut pyc);
    Ok(Some(Cached::Pyc { content: pyc, script_mtime: Some((script, stamp.mtime)) }))
}

fn read_pyc(set: &BytecodeSet, path: &str) -> Result<Option<Vec<u8>>> {
    if !set.manifest.files.iter().any(|f| f.path == path) {
        return Ok(None);
    }
    let file = set.tree().join(path);
    std::fs::read(&file).map(Some).map_err(|e| Error::io("read", &file, e))
}
