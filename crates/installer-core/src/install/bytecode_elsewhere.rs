//! Bytecode of the `.py` files an install puts outside site-packages: `.data/scripts` (docutils'
//! `rst2html.py`, jmespath's `jp.py`) and `.data/data`. pip compiles every `.py` file it
//! installs, wherever it goes (`bin/__pycache__/jp.cpython-311.pyc`), and lists it in RECORD;
//! `--compile` does the same, so both environments hold the same files.
//!
//! These are few, and a script's source is rewritten for each environment (its `#!python`
//! line), so they are compiled for each install rather than kept in the cache, with a checked
//! hash-based header (PEP 552): the source's modification time is not known before it is
//! written, its bytes are. The `.pyc` files are planned as generated files, written and
//! recorded like launchers.

use std::path::Path;

use super::plan::{compiles, Generated, PlannedFile, Source, WheelPlan};
use super::roots::{RootId, Roots, SITE_PACKAGES};
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

/// Compiles the `.py` files the plans put outside site-packages with `python` (cache tag
/// `tag`), in a staging directory of `cache`, and adds each `.pyc` to its plan. A source that
/// does not compile is a warning, as in site-packages.
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
    for (index, plan) in plans.iter().enumerate() {
        for file in &plan.files {
            let (root, rel) = plan.destination(file);
            if root == SITE_PACKAGES || !compiles(rel) {
                continue;
            }
            let pyc = crate::bytecode::pyc_path(rel, tag);
            if plan.files.iter().any(|f| plan.destination(f) == (root, pyc.as_str())) {
                continue; // The wheel ships it: installed as shipped.
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
            let display = roots.join(root, rel).display().to_string();
            jobs.push(Job { source, pyc: dir.join(format!("{n}.pyc")), display, size, checked_hash: true });
            targets.push(Target { plan: index, root, pyc });
        }
    }
    if jobs.is_empty() {
        return Ok(());
    }
    let pool = Pool::new(python, 1, cancel.clone());
    for job in &jobs {
        pool.submit(job);
    }
    let outcomes = pool.finish()?;
    for ((job, target), outcome) in jobs.iter().zip(targets).zip(outcomes) {
        match outcome {
            Some(Outcome::Written) => {
                let content = std::fs::read(&job.pyc).map_err(|e| Error::io("read", &job.pyc, e))?;
                let plan = &mut plans[target.plan];
                plan.generated.push(Generated { rel: target.pyc, content, executable: false });
                let index = plan.generated.len() as u32 - 1;
                plan.files.push(PlannedFile { root: target.root, source: Source::Generated(index) });
            }
            Some(Outcome::Failed(message)) => {
                reporter.warning(&format!("failed to compile {}: {message}", job.display));
            }
            None => unreachable!("no job of this pool is withdrawn"),
        }
    }
    Ok(())
}
