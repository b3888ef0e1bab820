//! `cargo xtask ci`: what CI runs on a clean checkout, in order, stopping at the first failure.

use std::time::Instant;

use anyhow::{Context, Result};

use crate::util::Cmd;
use crate::{codegen, dist, e2e};

pub fn run() -> Result<()> {
    let started = Instant::now();
    // As root everything the tests need can be set up, so what a test cannot set up fails it
    // rather than skipping it (the tests' `skip`, e2e's `Outcome::Skip`), whoever started this
    // and whether or not they said CI. Not root, a test that needs root says so and skips.
    if crate::util::is_root() {
        std::env::set_var("CI", "true");
    }
    step("tools", tools)?;
    step("fmt", || {
        Cmd::new("cargo")
            .args(["fmt", "--all", "--", "--check"])
            .run()
            .context("run `cargo fmt --all` to fix")
    })?;
    step("clippy", || {
        Cmd::new("cargo").args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]).run()
    })?;
    // Doc comments are the code's map for readers: a link that no longer resolves fails here.
    step("doc", || {
        Cmd::new("cargo").args(["doc", "--no-deps", "--workspace"]).env("RUSTDOCFLAGS", "-D warnings").run()
    })?;
    step("header", || codegen::run(codegen::Mode::Check))?;
    // Before the tests: the wheel reader's corpus test reads it too.
    step("corpus", fetch_corpus)?;
    step("test", test)?;
    // The dev build the tests just made: a release build of everything would cost a clean
    // 2-core runner minutes and test nothing the dev build does not (it adds overflow checks).
    // corpus-vs-pip with bytecode, pip's default: every file as pip's, the `.pyc` files too.
    let e2e_options =
        e2e::Options { corpus: Some(CORPUS.into()), dev: true, compile: true, ..Default::default() };
    step("e2e", || e2e::run(&e2e_options))?;
    // The wheel, binary and C library as packaged, installed by pip and tested (README,
    // Distribution), linked with thin LTO: the shipped profile's fat LTO in one codegen unit
    // costs a clean runner minutes more per artifact and changes no check of this step.
    step("dist", || dist::run(dist::Mode::Check, dist::Lto::Thin))?;
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

/// What the tests need beyond a Rust toolchain, Python and a C compiler, installed with apt-get
/// as root when missing: mkfs.xfs for the reflink filesystem, valgrind for the C programs. A
/// tool that cannot be installed is left to the tests that need it, which fail under CI.
fn tools() -> Result<()> {
    for (tool, package) in [("mkfs.xfs", "xfsprogs"), ("valgrind", "valgrind")] {
        match crate::util::ensure_tool(tool, package) {
            Ok(path) => eprintln!("ci: {tool}: {}", path.display()),
            Err(why) => eprintln!("ci: {why}"),
        }
    }
    Ok(())
}

/// Where `ci` keeps the real wheels of `xtask/corpus/dev-wheels.txt` (not committed).
const CORPUS: &str = "target/corpus";

/// The real PyPI wheels e2e's `corpus-vs-pip` installs beside pip (downloaded once, kept in
/// `target/`; pip skips files it already has).
fn fetch_corpus() -> Result<()> {
    Cmd::new("bash")
        .args(["xtask/corpus/fetch.sh", CORPUS])
        .run()
        .context("cannot download the corpus of real wheels from PyPI (xtask/corpus/fetch.sh)")
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
