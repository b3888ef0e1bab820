//! One function per subcommand; each builds core inputs, calls the core, prints the outcome.

mod cache;
pub mod completions;
mod doctor;
mod install;
mod list;
mod uninstall;
mod verify;

use crate::args::{Cli, Command};

/// Why a command failed, for `main` to print as `error:`/`  cause:` lines and map to an exit
/// code: an error of the core, or a finding of the CLI's own (a check that found problems).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The core refused or failed; its message and causes are printed as they are.
    #[error(transparent)]
    Core(#[from] installer_core::Error),
    /// A command ran but found something wrong (`cache verify` without `--repair`).
    #[error("{0}")]
    Found(String),
}

/// Runs the subcommand `cli` names.
pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Install(args) => Ok(install::run(args)?),
        Command::Uninstall(args) => Ok(uninstall::run(args)?),
        Command::List(args) => Ok(list::run(args)?),
        Command::Verify(args) => Ok(verify::run(args)?),
        Command::Cache(command) => cache::run(command),
        Command::Doctor(args) => Ok(doctor::run(args)?),
        Command::Completions(args) => Ok(completions::run(args)?),
    }
}
