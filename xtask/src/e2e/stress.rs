//! `concurrent-stress`: what CI fleets and parallel test runners do to one cache. Rounds of six
//! processes installing the same wheels into six venvs from one empty cache at once, alone,
//! then with a seventh process running `cache prune` in a loop, then `cache clean --force` in
//! a loop. Every install must succeed and every venv must equal pip's install.
//!
//! `INSTALLER_E2E_STRESS_ROUNDS` sets the rounds per variant (default 20).

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
        Err(_) => 20,
    };
    let wheels = stress_wheels(ctx, log)?;
    let pip = ctx.reference(log, "stress", &wheels)?;
    let dir = ctx.dir("stress");
    let mut said = Vec::new();
    for (variant, admin) in [
        ("alone", None),
        ("with prune", Some(&["cache", "prune"][..])),
        ("with clean", Some(&["cache", "clean", "--force"])),
    ] {
        let (admin_runs, admin_failures) = (AtomicUsize::new(0), AtomicUsize::new(0));
        for round in 0..rounds {
            let round_dir = dir.join(format!("{}-{round}", variant.replace(' ', "-")));
            let cache = round_dir.join("cache");
            let venvs: Vec<Venv> = (0..PROCESSES)
                .map(|i| Venv::create(log, &round_dir.join(format!("venv-{i}"))))
                .collect::<Result<_>>()?;
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
                    bail!("{variant}, round {round}: install {i} failed: {}: {}", out.exit, out.tail());
                }
            }
            for (i, venv) in venvs.iter().enumerate() {
                let added = venv.added()?;
                compare_with_pip(venv, &added, &pip)
                    .and_then(|()| check_records(venv, &added).map(drop))
                    .with_context(|| format!("{variant}, round {round}: venv {i}"))?;
            }
            // One venv per round runs the fixtures' imports and scripts; the others equal it.
            fixtures::check_standard(log, &venvs[round % PROCESSES], "1.0")?;
            let _ = std::fs::remove_dir_all(&round_dir);
        }
        let runs = admin_runs.load(Ordering::SeqCst);
        let failures = admin_failures.load(Ordering::SeqCst);
        if failures > 0 {
            bail!("{variant}: {failures} of {runs} cache commands beside the installs failed (see the log)");
        }
        said.push(match admin {
            None => format!("{rounds} rounds {variant}"),
            Some(args) => format!("{rounds} rounds {variant} ({runs} `{}` runs)", args.join(" ")),
        });
    }
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
    }
}
