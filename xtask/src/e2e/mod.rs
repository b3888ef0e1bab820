//! `cargo xtask e2e [--corpus DIR [--compile]] [--only NAME] [--dev]`: the release CLI and C
//! library (or, with `--dev`, the dev build the tests just made: what `ci` runs, to spare a
//! clean runner a second optimised build of everything) on real venvs and real filesystems.
//! Each step prints one line (`e2e NAME ... ok|skip (why)|FAIL: what`) and logs every command
//! it ran, with its output, to `target/e2e/logs/NAME.log`.
//!
//! Architecture invariant: nothing here links to the installer crates; the CLI and the
//! libraries are built by cargo and run as the user would run them.

mod corpus;
mod ffi;
pub mod fixtures;
mod links;
pub mod mounts;
mod record;
mod robust;
pub mod snapshot;
mod stress;
pub mod venv;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::util::{project_root, Cmd, Log};
use fixtures::Fixtures;
use venv::{Installer, Reference};

#[derive(Default)]
pub struct Options {
    pub corpus: Option<PathBuf>,
    /// Run only the steps whose name contains this.
    pub only: Option<String>,
    /// Test the dev build rather than the release build.
    pub dev: bool,
    /// corpus-vs-pip with bytecode: pip compiles (its default), ours with `--compile`.
    pub compile: bool,
}

pub enum Outcome {
    Ok(String),
    Skip(String),
}

type StepFn = fn(&Ctx, &Log) -> Result<Outcome>;

struct Step {
    name: &'static str,
    needs_fixtures: bool,
    run: StepFn,
}

const fn step(name: &'static str, run: StepFn) -> Step {
    Step { name, needs_fixtures: true, run }
}

const STEPS: &[Step] = &[
    step("link-mode-auto", |c, l| links::link_mode(c, l, "auto")),
    step("link-mode-clone", |c, l| links::link_mode(c, l, "clone")),
    step("link-mode-hardlink", |c, l| links::link_mode(c, l, "hardlink")),
    step("link-mode-copy", |c, l| links::link_mode(c, l, "copy")),
    step("link-mode-symlink", |c, l| links::link_mode(c, l, "symlink")),
    step("cross-fs-tmpfs-cache", links::tmpfs_cache),
    step("loop-ext4-hardlink", links::ext4_hardlink),
    step("loop-xfs-auto-clone", links::xfs_auto_and_clone),
    step("upgrade", robust::upgrade),
    step("all-or-nothing", robust::all_or_nothing),
    step("concurrent-cold-cache", robust::concurrent),
    step("concurrent-stress", stress::stress),
    step("sigkill-then-rerun", robust::sigkill),
    step("ffi-c-programs", ffi::c_programs),
    Step { name: "corpus-vs-pip", needs_fixtures: false, run: corpus::corpus },
];

pub struct Ctx {
    pub work: PathBuf,
    pub root: PathBuf,
    /// Where cargo put the CLI and the C libraries under test (`target/release` or `target/debug`).
    pub build_dir: PathBuf,
    pub installer: Installer,
    pub fixtures: Fixtures,
    pub corpus: Option<PathBuf>,
    /// See [`Options::compile`].
    pub compile: bool,
    references: RefCell<HashMap<String, Rc<Reference>>>,
    counter: Cell<u32>,
}

impl Ctx {
    /// A fresh directory path (not created) under the run's work directory.
    pub fn dir(&self, name: &str) -> PathBuf {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        self.work.join(format!("{n:02}-{name}"))
    }

    /// pip's install of `wheels`, made once per `key` and run.
    pub fn reference(&self, log: &Log, key: &str, wheels: &[PathBuf]) -> Result<Rc<Reference>> {
        if let Some(r) = self.references.borrow().get(key) {
            log.note(&format!("(reusing the pip reference `{key}` in {})", r.venv.root.display()));
            return Ok(r.clone());
        }
        let r = Rc::new(Reference::build(log, &self.dir(&format!("pip-{key}")), wheels)?);
        self.references.borrow_mut().insert(key.to_owned(), r.clone());
        Ok(r)
    }
}

pub fn run(opts: &Options) -> Result<()> {
    let root = project_root();
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let (profile, build_dir) =
        if opts.dev { ("dev", target.join("debug")) } else { ("release", target.join("release")) };
    Cmd::new("cargo")
        .args(["build", "--profile", profile, "-p", "installer-cli", "-p", "installer-ffi"])
        .run()?;
    let exe = build_dir.join("installer");
    if !exe.is_file() {
        bail!("{} was not built", exe.display());
    }
    let e2e_dir = target.join("e2e");
    let logs = e2e_dir.join("logs");
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs)?;
    let work = tempfile::Builder::new().prefix("run-").tempdir_in(&e2e_dir)?;
    let home = work.path().join("home");
    std::fs::create_dir_all(&home)?;
    let ctx = Ctx {
        work: work.path().canonicalize()?,
        root: root.clone(),
        build_dir,
        installer: Installer { exe, home },
        fixtures: Fixtures::load(&root.join("fixtures/wheels"))?,
        corpus: opts
            .corpus
            .as_ref()
            .map(|c| c.canonicalize().with_context(|| format!("{}", c.display())))
            .transpose()?,
        compile: opts.compile,
        references: RefCell::default(),
        counter: Cell::new(0),
    };
    let in_ci = crate::util::in_ci();

    let started = Instant::now();
    let (mut ok, mut skipped, mut failed) = (0, 0, Vec::new());
    for step in STEPS {
        if opts.only.as_ref().is_some_and(|only| !step.name.contains(only.as_str())) {
            continue;
        }
        print!("e2e {} ... ", step.name);
        let _ = std::io::stdout().flush();
        let t = Instant::now();
        let log = Log::create(&logs.join(format!("{}.log", step.name)))?;
        let result = if step.needs_fixtures && ctx.fixtures.is_empty() {
            let why = "no fixture wheels in fixtures/wheels (see fixtures/build.sh)";
            if in_ci {
                Err(anyhow::anyhow!(why))
            } else {
                Ok(Outcome::Skip(why.into()))
            }
        } else {
            catch_unwind(AssertUnwindSafe(|| (step.run)(&ctx, &log)))
                .unwrap_or_else(|panic| Err(anyhow::anyhow!("panicked: {}", panic_text(&panic))))
        };
        let secs = t.elapsed().as_secs_f64();
        match result {
            Ok(Outcome::Ok(note)) if note.is_empty() => println!("ok ({secs:.1}s)"),
            Ok(Outcome::Ok(note)) => println!("ok ({note}; {secs:.1}s)"),
            // Under CI what cannot be set up is a failure: a skipped step would pass unrun.
            Ok(Outcome::Skip(why)) if in_ci => {
                log.note(&format!("FAIL (CI may not skip): {why}"));
                println!("FAIL: cannot run under CI: {why}");
                failed.push(step.name);
                continue;
            }
            Ok(Outcome::Skip(why)) => {
                skipped += 1;
                log.note(&format!("skip: {why}"));
                println!("skip ({why})");
                continue;
            }
            Err(e) => {
                log.note(&format!("FAIL: {e:?}"));
                println!("FAIL: {} (log: {})", one_line(&format!("{e:#}")), rel(log.path(), &root));
                failed.push(step.name);
                continue;
            }
        }
        ok += 1;
    }
    println!(
        "e2e: {ok} ok, {skipped} skipped, {} failed in {:.0}s",
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    drop(ctx);
    if !failed.is_empty() {
        let kept = work.keep();
        bail!(
            "e2e failed: {} (logs in {}, files kept in {})",
            failed.join(", "),
            rel(&logs, &root),
            rel(&kept, &root)
        );
    }
    Ok(())
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

fn one_line(s: &str) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() > 400 {
        joined.chars().take(400).collect::<String>() + "..."
    } else {
        joined
    }
}

fn rel(path: &Path, root: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}
