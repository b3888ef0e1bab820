//! `concurrent-stress`: what CI fleets and parallel test runners do to one cache. Rounds of six
//! processes installing the same wheels into six venvs from one empty cache at once; the rounds
//! take turns: alone, with a seventh process running `cache prune` in a loop, with one running
//! `cache clean --force` in a loop. Every install must succeed and every venv must equal pip's
//! install.
//!
//! `INSTALLER_E2E_STRESS_ROUNDS` sets the number of rounds (default 6, two of each: about two
//! minutes of a 2-core CI runner; set 50 or more for a soak). Every window between two processes
//! is proven deterministically by a pause-point test (crates/installer-cli/tests/concurrency.rs);
//! this step is the fleet as CI starts it, not the proof.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::{bail, Context, Result};

use super::robust::stress_wheels;
use super::venv::{check_records, compare_with_pip, Install, Installer, Venv};
use super::{fixtures, Ctx, Outcome};
use crate::util::Log;

const PROCESSES: usize = 6;

pub fn stress(ctx: &Ctx, log: &Log) -> Result<Outcome> {
    let rounds: usize = match std::env::var("INSTALLER_E2E_STRESS_ROUNDS") {
        Ok(n) => n.parse().context("INSTALLER_E2E_STRESS_ROUNDS")?,
        Err(_) => 6,
    };
    let wheels = stress_wheels(ctx, log)?;
    let pip = ctx.reference(log, "stress", &wheels)?;
    let dir = ctx.dir("stress");
    let variants: [(&str, Option<&[&str]>); 3] = [
        ("alone", None),
        ("with prune", Some(&["cache", "prune"])),
        ("with clean", Some(&["cache", "clean", "--force"])),
    ];
    let mut tally = [(0usize, 0usize); 3];
    for round in 0..rounds {
        let (variant, admin) = variants[round % variants.len()];
        let round_dir = dir.join(format!("{round}-{}", variant.replace(' ', "-")));
        let cache = round_dir.join("cache");
        let venvs: Vec<Venv> = std::thread::scope(|scope| {
            let made: Vec<_> = (0..PROCESSES)
                .map(|i| {
                    let root = round_dir.join(format!("venv-{i}"));
                    scope.spawn(move || Venv::create(log, &root))
                })
                .collect();
            made.into_iter().map(|h| h.join().expect("venv thread")).collect::<Result<_>>()
        })?;
        let (admin_runs, admin_failures) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let stop = AtomicBool::new(false);
        let outputs = std::thread::scope(|scope| -> Result<_> {
            if let Some(args) = admin {
                let installer = &ctx.installer;
                let counts = (&admin_runs, &admin_failures);
                let (cache, stop) = (&cache, &stop);
                scope.spawn(move || admin_loop(installer, log, cache, args, stop, counts));
            }
            let cmds: Vec<_> = venvs
                .iter()
                .map(|v| {
                    ctx.installer.install(Install {
                        venv: &v.root,
                        cache: &cache,
                        link_mode: "auto",
                        wheels: &wheels,
                        extra: &[],
                    })
                })
                .collect();
            let running: Vec<_> = cmds.iter().map(|c| c.spawn()).collect::<Result<_>>()?;
            let outputs: Vec<_> = running.into_iter().map(|r| r.wait()).collect();
            stop.store(true, Ordering::SeqCst);
            for (cmd, out) in cmds.iter().zip(&outputs) {
                log.record(cmd, out);
            }
            Ok(outputs)
        })?;
        for (i, out) in outputs.into_iter().enumerate() {
            let out = out?;
            if !out.success() {
                bail!("round {round} ({variant}): install {i} failed: {}: {}", out.exit, out.tail());
            }
        }
        let failures = admin_failures.load(Ordering::SeqCst);
        if failures > 0 {
            bail!("round {round} ({variant}): {failures} cache commands beside the installs failed (see the log)");
        }
        for (i, venv) in venvs.iter().enumerate() {
            let added = venv.added()?;
            compare_with_pip(venv, &added, &pip)
                .and_then(|()| check_records(venv, &added).map(drop))
                .with_context(|| format!("round {round} ({variant}): venv {i}"))?;
        }
        // One venv per round runs the fixtures' imports and scripts; the others equal it.
        fixtures::check_standard(log, &venvs[round % PROCESSES], "1.0")?;
        let _ = std::fs::remove_dir_all(&round_dir);
        let t = &mut tally[round % variants.len()];
        *t = (t.0 + 1, t.1 + admin_runs.load(Ordering::SeqCst));
    }
    let said: Vec<String> = variants
        .iter()
        .zip(tally)
        .map(|((variant, admin), (n, runs))| match admin {
            None => format!("{n} rounds {variant}"),
            Some(args) => format!("{n} rounds {variant} ({runs} `{}` runs)", args.join(" ")),
        })
        .collect();
    Ok(Outcome::Ok(format!("{PROCESSES} processes a round: {}", said.join(", "))))
}

/// Runs `installer <args> --cache-dir cache` until told to stop, counting runs and failures.
fn admin_loop(
    installer: &Installer,
    log: &Log,
    cache: &Path,
    args: &[&str],
    stop: &AtomicBool,
    (runs, failures): (&AtomicUsize, &AtomicUsize),
) {
    while !stop.load(Ordering::SeqCst) {
        let cmd = installer.cmd().args(args.iter().copied()).arg("--cache-dir").arg(cache);
        let out = cmd.output();
        if !out.as_ref().is_ok_and(|o| o.success()) {
            log.record(&cmd, &out);
            failures.fetch_add(1, Ordering::SeqCst);
        }
        runs.fetch_add(1, Ordering::SeqCst);
        // Paced, not synchronised: back to back, the loop takes a core from the six installs
        // on a 2-core runner and the step takes minutes longer without testing anything more.
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
