//! `cargo xtask ci`: what CI runs on a clean checkout, in order, stopping at the first failure.

use std::time::Instant;

use anyhow::{Context, Result};

use crate::util::Cmd;
use crate::{codegen, dist, e2e};

pub fn run() -> Result<()> {
    let started = Instant::now();
    step("fmt", || {
        Cmd::new("cargo")
            .args(["fmt", "--all", "--", "--check"])
            .run()
            .context("run `cargo fmt --all` to fix")
    })?;
    step("clippy", || {
        Cmd::new("cargo").args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]).run()
    })?;
    step("header", || codegen::run(codegen::Mode::Check))?;
    step("test", test)?;
    step("e2e", || e2e::run(&e2e::Options::default()))?;
    // The wheel, binary and C library as shipped, installed by pip and tested (README,
    // Distribution: it costs a few minutes of a clean CI run, inside the budget).
    step("dist", || dist::run(dist::Mode::Check))?;
    eprintln!("ci: all steps passed in {:.0}s", started.elapsed().as_secs_f64());
    Ok(())
}

fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    let started = Instant::now();
    eprintln!("ci: {name}");
    f().with_context(|| format!("ci step `{name}` failed"))?;
    eprintln!("ci: {name} ok ({:.0}s)", started.elapsed().as_secs_f64());
    Ok(())
}

/// Doc tests with cargo (nextest does not run them), then every other test with nextest when it
/// is installed, so its `Summary` line ends the output; plain `cargo test` otherwise.
fn test() -> Result<()> {
    let nextest = Cmd::new("cargo").args(["nextest", "--version"]).output().is_ok_and(|o| o.success());
    if nextest {
        Cmd::new("cargo").args(["test", "--workspace", "--doc"]).run()?;
        Cmd::new("cargo").args(["nextest", "run", "--workspace", "--no-fail-fast", "--no-tests=warn"]).run()
    } else {
        eprintln!("ci: cargo-nextest not installed; using cargo test");
        Cmd::new("cargo").args(["test", "--workspace", "--no-fail-fast"]).run()
    }
}
