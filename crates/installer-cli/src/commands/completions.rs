//! `installer completions <SHELL>` (clap_complete) and the man pages (clap_mangen): both are
//! generated from the one clap definition in `args`, so they cannot drift from the flags.
//!
//! Man pages are written by a hidden `generate-man <DIR>` subcommand, added here rather than in
//! `args` because it is a packaging step (`cargo xtask dist` runs it), not part of the command
//! line's contract.

use std::path::PathBuf;

use clap::{Arg, ArgMatches, CommandFactory};
use installer_core::{Error, Result};

use crate::args::{Cli, CompletionsArgs};

/// `installer --version`: the crate's version and, when built from a git checkout, the commit
/// and its date (set by build.rs).
pub const VERSION: &str = env!("INSTALLER_VERSION");

const GENERATE_MAN: &str = "generate-man";

/// The command line as users see it: `args::Cli` with the build's version string.
pub fn cli() -> clap::Command {
    Cli::command().version(VERSION)
}

/// [`cli`] plus the hidden `generate-man` subcommand; what `main` parses.
pub fn cli_with_packaging() -> clap::Command {
    cli().subcommand(
        clap::Command::new(GENERATE_MAN)
            .hide(true)
            .about("Write a man page per command into DIR (used by `cargo xtask dist`)")
            .arg(Arg::new("dir").value_name("DIR").required(true).value_parser(clap::value_parser!(PathBuf))),
    )
}

/// The directory of `installer generate-man DIR`, when that is the command.
pub fn man_dir(matches: &ArgMatches) -> Option<PathBuf> {
    match matches.subcommand() {
        Some((GENERATE_MAN, sub)) => sub.get_one::<PathBuf>("dir").cloned(),
        _ => None,
    }
}

/// Prints the completion script for one shell on stdout.
pub fn run(args: CompletionsArgs) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cli(), "installer", &mut script);
    super::list::print(&String::from_utf8_lossy(&script))
}

/// `installer.1`, `installer-install.1`, `installer-cache-dir.1`, ...: one page per command.
pub fn write_man_pages(dir: PathBuf) -> Result<()> {
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    clap_mangen::generate_to(cli(), &dir).map_err(|e| Error::io("write man pages into", &dir, e))
}
