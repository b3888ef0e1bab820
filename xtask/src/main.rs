//! `cargo xtask <task>`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! ```text
//! cargo xtask ci                       fmt, clippy, header freshness, tests, e2e, dist --check
//! cargo xtask e2e [--corpus DIR [--compile]] [--only NAME] [--dev]
//!                                      release (or dev) CLI and C library on real venvs and
//!                                      filesystems
//! cargo xtask codegen [--check]        crates/installer-ffi/include/installer.h from cbindgen
//! cargo xtask dist [--check]           target/dist/: the wheel, binary, C library, completions,
//!                                      man pages; --check installs and tests them
//! cargo xtask bench --corpus DIR [--corpus-list NAME] [--runs N] [--json FILE] [--synthetic] [--only SCENARIO,...]
//!                                      ours vs uv vs the filesystem's floor
//! cargo xtask fuzz [--seconds N] [--target T]
//!                                      cargo-fuzz targets of fuzz/, seeded from the fixtures
//! ```
//!
//! Every command that is the point of a task is echoed as `$ cmd args`; checks that run many
//! small commands log them to a file under `target/` and print one line each.

mod bench;
mod ci;
mod codegen;
mod dist;
mod e2e;
mod fuzz;
mod util;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let root = util::project_root();
    std::env::set_current_dir(&root).with_context(|| format!("cannot enter {}", root.display()))?;
    let mut args = Args::new(std::env::args().skip(1));
    // `cargo xtask bench --help` is the usual way to ask; every task has the one help text.
    if args.flag("--help") || args.flag("-h") {
        print!("{HELP}");
        return Ok(());
    }
    let task = args.positional().unwrap_or_default();
    match task.as_str() {
        "ci" => {
            args.finish()?;
            ci::run()
        }
        "e2e" => {
            let opts = e2e::Options {
                corpus: args.value("--corpus")?.map(PathBuf::from),
                only: args.value("--only")?,
                dev: args.flag("--dev"),
                compile: args.flag("--compile"),
            };
            args.finish()?;
            e2e::run(&opts)
        }
        "codegen" => {
            let mode = if args.flag("--check") { codegen::Mode::Check } else { codegen::Mode::Write };
            args.finish()?;
            codegen::run(mode)
        }
        "dist" => {
            let mode = if args.flag("--check") { dist::Mode::Check } else { dist::Mode::Build };
            args.finish()?;
            dist::run(mode, dist::Lto::Shipped)
        }
        "bench" => {
            let opts = bench::Options {
                corpus: args.value("--corpus")?.map(PathBuf::from),
                corpus_list: args.value("--corpus-list")?,
                runs: args.value("--runs")?.map(|n| n.parse()).transpose().context("--runs")?.unwrap_or(5),
                json: args.value("--json")?.map(PathBuf::from),
                synthetic: args.flag("--synthetic"),
                only: args.value("--only")?.map(|s| s.split(',').map(str::to_owned).collect()),
            };
            args.finish()?;
            bench::run(&opts)
        }
        "fuzz" => {
            let opts = fuzz::Options {
                seconds: args
                    .value("--seconds")?
                    .map(|n| n.parse())
                    .transpose()
                    .context("--seconds")?
                    .unwrap_or(60),
                target: args.value("--target")?,
            };
            args.finish()?;
            fuzz::run(&opts)
        }
        // Internal: the floor of `bench`, run as its own process so it is timed like the others.
        "floor" => {
            let manifest = args.positional().context("floor MANIFEST DEST")?;
            let dest = args.positional().context("floor MANIFEST DEST")?;
            args.finish()?;
            bench::floor::run(manifest.as_ref(), dest.as_ref())
        }
        "" | "help" | "-h" | "--help" => {
            print!("{HELP}");
            Ok(())
        }
        other => bail!("unknown task `{other}`\n{HELP}"),
    }
}

const HELP: &str = "\
usage: cargo xtask <task>
  ci                                   fmt, clippy, header check, tests, e2e, dist --check (CI)
  e2e [--corpus DIR [--compile]] [--only NAME] [--dev]
                                       end-to-end checks on real venvs and filesystems (--dev:
                                       of the dev build, as ci runs them)
  codegen [--check]                    regenerate (or check) crates/installer-ffi/include/installer.h
  dist [--check]                       target/dist/: wheel (pip, pipx, uv), binary, C library,
                                       completions, man pages; --check installs and tests them
  bench --corpus DIR [--corpus-list NAME] [--runs N] [--json FILE] [--synthetic] [--only SCENARIO,...]
                                       time installs: ours, uv 0.13.9, and the filesystem floor
  fuzz [--seconds N] [--target T]      seed from the fixtures, run each cargo-fuzz target N s (60)
";

/// Just enough argument parsing for a handful of flags.
struct Args {
    rest: Vec<String>,
}

impl Args {
    fn new(args: impl Iterator<Item = String>) -> Args {
        Args { rest: args.collect() }
    }

    fn flag(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != name);
        self.rest.len() != before
    }

    fn value(&mut self, name: &str) -> Result<Option<String>> {
        let prefix = format!("{name}=");
        if let Some(i) = self.rest.iter().position(|a| a.starts_with(&prefix)) {
            return Ok(Some(self.rest.remove(i)[prefix.len()..].to_owned()));
        }
        let Some(i) = self.rest.iter().position(|a| a == name) else { return Ok(None) };
        if i + 1 >= self.rest.len() {
            bail!("{name} needs a value");
        }
        self.rest.remove(i);
        Ok(Some(self.rest.remove(i)))
    }

    fn positional(&mut self) -> Option<String> {
        let i = self.rest.iter().position(|a| !a.starts_with("--"))?;
        Some(self.rest.remove(i))
    }

    fn finish(self) -> Result<()> {
        if !self.rest.is_empty() {
            bail!("unexpected arguments: {}", self.rest.join(" "));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Args {
        Args::new(s.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn flags_values_and_leftovers() {
        let mut a = args("bench --runs 3 --synthetic --json=out.json");
        assert_eq!(a.positional().as_deref(), Some("bench"));
        assert!(a.flag("--synthetic"));
        assert_eq!(a.value("--json").unwrap().as_deref(), Some("out.json"));
        assert_eq!(a.value("--runs").unwrap().as_deref(), Some("3"));
        assert_eq!(a.value("--corpus").unwrap(), None);
        assert!(a.finish().is_ok());

        let mut a = args("e2e --corpus");
        a.positional();
        assert_eq!(a.value("--corpus").unwrap_err().to_string(), "--corpus needs a value");
        assert_eq!(args("ci --nope").finish().unwrap_err().to_string(), "unexpected arguments: ci --nope");
    }
}
