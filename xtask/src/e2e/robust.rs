//! The product under stress: upgrades, refusals that must leave the venv untouched, two
//! processes on one empty cache, and a process killed mid-install.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::fixtures;
use super::links::check_venv;
use super::snapshot::{diff, DiffOptions, Summary};
use super::venv::{check_records, linkable_files, Install, Venv};
use super::{Ctx, Outcome};
use crate::bench::synthetic;
use crate::util::{Exit, Log};

/// fixture_pkg 1.0 (imported, so bytecode exists), then 2.0: the venv equals a fresh 2.0
/// install and nothing of 1.0 is left.
pub fn upgrade(ctx: &Ctx, log: &Log) -> Result<Outcome> {
    let (v1, v2) = (ctx.fixtures.get("fixture_pkg", "1.0")?, ctx.fixtures.get("fixture_pkg", "2.0")?);
    let dir = ctx.dir("upgrade");
    let cache = dir.join("cache");
    let venv = Venv::create(log, &dir.join("venv"))?;
    let install = |venv: &Venv, wheel: &PathBuf| {
        let wheels = [wheel.clone()];
        let i =
            Install { venv: &venv.root, cache: &cache, link_mode: "hardlink", wheels: &wheels, extra: &[] };
        ctx.installer.run(log, i).map(drop)
    };
    install(&venv, &v1)?;
    fixtures::check_pkg(log, &venv, "1.0")?;
    let old = venv.added()?;
    install(&venv, &v2).context("upgrade to 2.0")?;
    let upgraded = venv.added()?;

    let fresh = Venv::create(log, &dir.join("fresh"))?;
    install(&fresh, &v2)?;
    let fresh_added = fresh.added()?;
    let ignore = [
        "*.dist-info/RECORD",
        "*.dist-info/INSTALLER",
        "*.dist-info/REQUESTED",
        "*.dist-info/direct_url.json",
    ];
    let diffs = diff(
        &upgraded.without(&["__pycache__"]),
        &fresh_added,
        &DiffOptions { ignore: &ignore, ..Default::default() },
    );
    if !diffs.is_empty() {
        bail!("{}", Summary { diffs: &diffs, left: "upgraded", right: "fresh 2.0" });
    }
    // Bytecode of removed modules must go with them (as pip does); bytecode of kept ones may stay.
    let stale: Vec<&String> = upgraded
        .entries
        .keys()
        .filter(|p| {
            p.contains("__pycache__/") && !source_of(p).is_some_and(|s| upgraded.entries.contains_key(&s))
        })
        .collect();
    if let Some(first) = stale.first() {
        bail!("{} bytecode file(s) of removed 1.0 modules left, e.g. {first}", stale.len());
    }
    check_records(&venv, &upgraded)?;
    fixtures::check_pkg(log, &venv, "2.0")?;
    let removed = old.entries.keys().filter(|p| !upgraded.entries.contains_key(*p)).count();
    Ok(Outcome::Ok(format!("{removed} paths of 1.0 removed")))
}

/// `a/__pycache__/m.cpython-311.pyc` -> `a/m.py`.
fn source_of(pyc: &str) -> Option<String> {
    let (dir, file) = pyc.rsplit_once("__pycache__/")?;
    let module = file.split('.').next()?;
    Some(format!("{dir}{module}.py"))
}

/// A conflict and a corrupt wheel are refused with exit code 1 and an error naming the wheel,
/// and the venv (holding fixture_pkg 1.0) is exactly as before.
pub fn all_or_nothing(ctx: &Ctx, log: &Log) -> Result<Outcome> {
    let dir = ctx.dir("all-or-nothing");
    let cache = dir.join("cache");
    let venv = Venv::create(log, &dir.join("venv"))?;
    let v1 = [ctx.fixtures.get("fixture_pkg", "1.0")?];
    let base = Install { venv: &venv.root, cache: &cache, link_mode: "hardlink", wheels: &v1, extra: &[] };
    ctx.installer.run(log, base)?;
    let before = venv.snapshot()?;

    let clash = [
        ctx.fixtures.get("fixture_pkg", "2.0")?,
        ctx.fixtures.get("fixture_clash_a", "1.0")?,
        ctx.fixtures.get("fixture_clash_b", "1.0")?,
    ];
    refused(
        ctx,
        log,
        &venv,
        &before,
        Install { wheels: &clash, ..base },
        &["fixture_clash_a", "fixture_clash_b"],
    )
    .context("conflicting wheels")?;

    let good = ctx.fixtures.get("fixture_data", "1.0")?;
    let corrupt = dir.join("fixture_data-1.0-py3-none-any.whl");
    let mut bytes = std::fs::read(&good)?;
    let at = bytes.len() / 3;
    bytes[at] ^= 0x55;
    std::fs::write(&corrupt, &bytes)?;
    let wheels = [ctx.fixtures.get("fixture_pkg", "2.0")?, corrupt];
    refused(
        ctx,
        log,
        &venv,
        &before,
        Install { wheels: &wheels, ..base },
        &["fixture_data-1.0-py3-none-any.whl"],
    )
    .context("corrupt wheel")?;
    fixtures::check_pkg(log, &venv, "1.0")?;
    Ok(Outcome::Ok(String::new()))
}

fn refused(
    ctx: &Ctx,
    log: &Log,
    venv: &Venv,
    before: &super::snapshot::Snapshot,
    install: Install,
    named: &[&str],
) -> Result<()> {
    let out = log.output(&ctx.installer.install(install))?;
    if out.exit != Exit::Code(1) {
        bail!("{}, expected exit code 1: {}", out.exit, out.tail());
    }
    if !out.stderr.contains("error:") {
        bail!("no `error:` line: {}", out.tail());
    }
    for name in named {
        if !out.stderr.contains(name) {
            bail!("the error does not name {name}: {}", out.tail());
        }
    }
    let diffs = diff(before, &venv.snapshot()?, &DiffOptions::default());
    if !diffs.is_empty() {
        bail!("the venv changed: {}", Summary { diffs: &diffs, left: "before", right: "after" });
    }
    Ok(())
}

/// The fixtures plus four wheels of 1,500 files: enough that an install takes a while.
pub(super) fn stress_wheels(ctx: &Ctx, log: &Log) -> Result<Vec<PathBuf>> {
    let mut wheels = ctx.fixtures.standard()?;
    wheels.extend(synthetic::many_files(log, &ctx.work.join("../wheels"))?);
    Ok(wheels)
}

/// Two processes install the same wheels into two venvs from one empty cache at once.
pub fn concurrent(ctx: &Ctx, log: &Log) -> Result<Outcome> {
    let wheels = stress_wheels(ctx, log)?;
    let pip = ctx.reference(log, "stress", &wheels)?;
    let dir = ctx.dir("concurrent");
    let cache = dir.join("cache");
    let (a, b) = (Venv::create(log, &dir.join("a"))?, Venv::create(log, &dir.join("b"))?);
    let cmd = |v: &Venv| {
        ctx.installer.install(Install {
            venv: &v.root,
            cache: &cache,
            link_mode: "hardlink",
            wheels: &wheels,
            extra: &[],
        })
    };
    let (cmd_a, cmd_b) = (cmd(&a), cmd(&b));
    let (run_a, run_b) = (cmd_a.spawn()?, cmd_b.spawn()?);
    let (out_a, out_b) = (run_a.wait(), run_b.wait());
    log.record(&cmd_a, &out_a);
    log.record(&cmd_b, &out_b);
    for (name, out) in [("first", out_a?), ("second", out_b?)] {
        if !out.success() {
            bail!("the {name} install: {}: {}", out.exit, out.tail());
        }
    }
    let mut linked = Vec::new();
    for venv in [&a, &b] {
        let added = check_venv(log, venv, &pip, "1.0").with_context(|| format!("{}", venv.root.display()))?;
        let files = linkable_files(venv, &added);
        if let Some((path, e)) = files.iter().find(|(_, e)| e.nlink < 2) {
            bail!("{} is not a hardlink (link count {})", path.display(), e.nlink);
        }
        linked.push(files);
    }
    // One cache entry per wheel, whoever unpacked it: the same inode in both venvs.
    let mut shared = 0;
    for (path, _) in &linked[0] {
        let twin = b.root.join(path.strip_prefix(&a.root)?);
        shared += usize::from(std::fs::metadata(path)?.ino() == std::fs::metadata(&twin)?.ino());
    }
    if shared != linked[0].len() {
        bail!(
            "only {shared} of {} files share one inode across the two venvs: two entries of one wheel",
            linked[0].len()
        );
    }
    Ok(Outcome::Ok(format!("{shared}/{} files share one inode across the two venvs", linked[0].len())))
}

/// A cold install killed with SIGKILL at each of its windows, then run again into the same
/// venv and cache: it succeeds, the venv is right and the cache verifies. The kill lands at a
/// pause point (`INSTALLER_TEST_PAUSE`): a staging directory made but not locked yet, the
/// first entry published, the transaction begun; a known state, not a fraction of a timed
/// run, which a fast or a loaded machine moves.
pub fn sigkill(ctx: &Ctx, log: &Log) -> Result<Outcome> {
    let wheels = stress_wheels(ctx, log)?;
    let pip = ctx.reference(log, "stress", &wheels)?;
    let dir = ctx.dir("sigkill");
    let install = |venv: &Venv, cache: &std::path::Path| {
        ctx.installer.install(Install {
            venv: &venv.root,
            cache,
            link_mode: "hardlink",
            wheels: &wheels,
            extra: &[],
        })
    };
    let points = ["staging-locking", "entry-leased", "moved-aside"];
    for point in points {
        let venv = Venv::create(log, &dir.join(format!("venv-{point}")))?;
        let cache = dir.join(format!("cache-{point}"));
        let pause = dir.join(format!("pause-{point}"));
        std::fs::create_dir_all(&pause)?;
        let cmd =
            install(&venv, &cache).env("INSTALLER_TEST_PAUSE", point).env("INSTALLER_TEST_PAUSE_DIR", &pause);
        let mut running = cmd.spawn()?;
        let reached = pause.join(format!("{point}.reached"));
        // Polling a state, not timing: the process waits there until killed.
        while !reached.exists() {
            if running.has_exited() {
                let out = running.wait();
                log.record(&cmd, &out);
                bail!("the install exited before reaching the pause point {point}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        running.kill();
        let killed = running.wait();
        log.record(&cmd, &killed);
        if killed?.exit != Exit::Signal(libc::SIGKILL) {
            bail!("the install paused at {point} was not killed by SIGKILL");
        }
        log.run(&install(&venv, &cache)).with_context(|| format!("the rerun after SIGKILL at {point}"))?;
        check_venv(log, &venv, &pip, "1.0")
            .with_context(|| format!("after the rerun (killed at {point})"))?;
        let verify = ctx.installer.cmd().args(["cache", "verify", "--cache-dir"]).arg(&cache);
        log.run(&verify).with_context(|| format!("`cache verify` after the rerun (killed at {point})"))?;
    }
    Ok(Outcome::Ok(format!("killed at {}; each rerun right", points.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytecode_maps_to_its_source() {
        assert_eq!(source_of("p/sub/__pycache__/leaf.cpython-311.pyc").as_deref(), Some("p/sub/leaf.py"));
        assert_eq!(source_of("p/sub/leaf.py"), None);
    }
}
