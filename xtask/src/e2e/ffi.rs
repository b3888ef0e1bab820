//! The C programs of installer-ffi (`crates/installer-ffi/tests/c/*.c`, documented in their
//! headers), built here against the `libinstaller_ffi.so` and `.a`, run on fresh venvs,
//! and under valgrind when it is installed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::links::check_venv;
use super::venv::Venv;
use super::{Ctx, Outcome};
use crate::util::{which, Cmd, Log};

#[derive(Clone, Copy, Debug)]
enum Link {
    Shared,
    Static,
}

pub fn c_programs(ctx: &Ctx, log: &Log) -> Result<Outcome> {
    let crate_dir = ctx.root.join("crates/installer-ffi");
    let install_c = crate_dir.join("tests/c/install_fixtures.c");
    let errors_c = crate_dir.join("tests/c/error_paths.c");
    for program in [&install_c, &errors_c] {
        if !program.exists() {
            bail!("no {}", program.display());
        }
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    if which(&cc).is_none() {
        return Ok(Outcome::Skip(format!("no C compiler `{cc}`")));
    }
    let wheels = ctx.fixtures.standard()?;
    let pip = ctx.reference(log, "standard", &wheels)?;
    let dir = ctx.dir("ffi");
    std::fs::create_dir_all(&dir)?;
    let valgrind = which("valgrind");
    let mut notes = Vec::new();
    for link in [Link::Shared, Link::Static] {
        let install = compile(ctx, log, &cc, &install_c, link, &dir)?;
        let venv = Venv::create(log, &dir.join(format!("venv-{link:?}")))?;
        let cache = dir.join(format!("cache-{link:?}"));
        let mut args: Vec<PathBuf> = vec![venv.root.clone(), cache, "auto".into()];
        args.extend(wheels.iter().cloned());
        let out = log.run(&c_program(&install).args(&args))?;
        if !out.stdout.contains("progress: ") {
            bail!("{link:?}: install_fixtures reported no progress");
        }
        check_venv(log, &venv, &pip, "1.0")?;
        if let Link::Shared = link {
            cancel_mid_upgrade(ctx, log, &cc, &venv, &dir.join(format!("cache-{link:?}")), &dir)?;
            notes.push("cancelled mid-upgrade, venv unchanged".to_owned());
        }
        let errors = compile(ctx, log, &cc, &errors_c, link, &dir)?;
        let work = dir.join(format!("errors-{link:?}"));
        std::fs::create_dir_all(&work)?;
        let venv = Venv::create(log, &dir.join(format!("errors-venv-{link:?}")))?;
        checks_pass(log, &c_program(&errors).arg(&work).arg(&venv.root))?;
        if let (Some(valgrind), Link::Shared) = (&valgrind, link) {
            let venv = Venv::create(log, &dir.join("venv-valgrind"))?;
            let mut args: Vec<PathBuf> = vec![venv.root.clone(), dir.join("cache-valgrind"), "copy".into()];
            args.extend(wheels.iter().cloned());
            // The crate's own suppressions (Rust std and glibc thread-exit "possibly lost").
            let supp = crate_dir.join("tests/c/valgrind.supp");
            let memcheck = |exe: &Path, args: &[PathBuf]| {
                let mut cmd = c_program(valgrind).args(["-q", "--leak-check=full", "--error-exitcode=97"]);
                if supp.exists() {
                    cmd = cmd.arg(format!("--suppressions={}", supp.display()));
                }
                cmd.arg(exe).args(args).timeout(std::time::Duration::from_secs(600))
            };
            log.run(&memcheck(&install, &args)).context("under valgrind")?;
            let errors = dir.join("error_paths-shared");
            let work = dir.join("errors-valgrind");
            std::fs::create_dir_all(&work)?;
            let venv = Venv::create(log, &dir.join("errors-venv-valgrind"))?;
            checks_pass(log, &memcheck(&errors, &[work, venv.root.clone()])).context("under valgrind")?;
            notes.push("valgrind clean".to_owned());
        }
    }
    if valgrind.is_none() {
        // Everything else ran; under CI the missing memcheck fails the step (`cargo xtask ci`
        // installs valgrind as root).
        return Ok(Outcome::Skip(format!("valgrind not installed (the rest passed: {})", notes.join(", "))));
    }
    Ok(Outcome::Ok(format!("shared and static; {}", notes.join(", "))))
}

/// `cancel_install.c`: the upgrade of `venv` (holding fixture_pkg 1.0) to 2.0, cancelled from
/// another thread at the pause point `moved-aside`, must return INSTALLER_ERR_CANCELLED and
/// leave `venv` exactly as it was; the context then installs again.
fn cancel_mid_upgrade(ctx: &Ctx, log: &Log, cc: &str, venv: &Venv, cache: &Path, dir: &Path) -> Result<()> {
    let source = ctx.root.join("crates/installer-ffi/tests/c/cancel_install.c");
    let exe = compile(ctx, log, cc, &source, Link::Shared, dir)?;
    let pause = dir.join("cancel-pause");
    let fresh = dir.join("cancel-fresh-venv");
    std::fs::create_dir_all(&pause)?;
    let before = venv.snapshot()?;
    let program = c_program(&exe)
        .arg(&venv.root)
        .arg(cache)
        .arg(&pause)
        .arg(ctx.fixtures.get("fixture_pkg", "2.0")?)
        .arg(&fresh)
        .env("INSTALLER_TEST_PAUSE", "moved-aside")
        .env("INSTALLER_TEST_PAUSE_DIR", &pause);
    checks_pass(log, &program).context("cancel_install")?;
    let after = venv.snapshot()?;
    if after.entries != before.entries {
        let changed: Vec<&String> = after
            .entries
            .keys()
            .chain(before.entries.keys())
            .filter(|k| after.entries.get(*k) != before.entries.get(*k))
            .collect();
        bail!("the cancelled upgrade changed {}: {changed:?}", venv.root.display());
    }
    Ok(())
}

/// `cc` as tests/c_abi.rs does it: strict warnings, the checked-in header, one library kind.
fn compile(ctx: &Ctx, log: &Log, cc: &str, source: &Path, link: Link, out_dir: &Path) -> Result<PathBuf> {
    let name = source.file_stem().unwrap().to_string_lossy();
    let exe = out_dir.join(format!("{name}-{link:?}").to_lowercase());
    let include = ctx.root.join("crates/installer-ffi/include");
    let mut cmd = Cmd::new(cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-pthread", "-I"])
        .arg(include)
        .arg(source)
        .arg("-o")
        .arg(&exe);
    cmd = match link {
        Link::Shared => {
            let so = ctx.build_dir.join("libinstaller_ffi.so");
            if !so.exists() {
                bail!("{} was not built", so.display());
            }
            cmd.arg("-L")
                .arg(&ctx.build_dir)
                .arg("-linstaller_ffi")
                .arg(format!("-Wl,-rpath,{}", ctx.build_dir.display()))
        }
        Link::Static => {
            let a = ctx.build_dir.join("libinstaller_ffi.a");
            if !a.exists() {
                bail!("{} was not built", a.display());
            }
            cmd.arg(a).args(["-lpthread", "-ldl", "-lm"])
        }
    };
    log.run(&cmd)?;
    Ok(exe)
}

/// A C program, found its library by its own rpath: `cargo run` puts target/debug/deps (with
/// a debug libinstaller_ffi.so that may be stale) on LD_LIBRARY_PATH, which would win.
fn c_program(exe: &Path) -> Cmd {
    Cmd::new(exe).env_remove("LD_LIBRARY_PATH")
}

/// Runs a program that prints `ok - ...` / `FAIL - ...` lines; on failure, says which checks.
fn checks_pass(log: &Log, cmd: &Cmd) -> Result<()> {
    let out = log.output(cmd)?;
    if !out.success() {
        let failed: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
        if failed.is_empty() {
            bail!("`{}`: {}: {}", crate::util::short(cmd), out.exit, out.tail());
        }
        bail!("{} check(s) failed: {}", failed.len(), failed.join("; "));
    }
    Ok(())
}
