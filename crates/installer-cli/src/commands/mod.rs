//! One function per subcommand; each builds core inputs, calls the core, prints the outcome,
//! and says how the process exits (a finding such as a doctor's problem is exit 1, not an error).

pub(crate) mod cache;
pub mod completions;
mod doctor;
mod install;
mod list;
mod uninstall;
mod verify;

use std::process::ExitCode;

use installer_core::Result;

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

/// Runs the subcommand `cli` names; a finding that is no failure (a doctor's problem) is
/// the exit code.
pub fn run(cli: Cli) -> std::result::Result<ExitCode, Failure> {
    let done = |result: Result<()>| result.map(|()| ExitCode::SUCCESS).map_err(Failure::from);
    match cli.command {
        Command::Install(args) => done(install::run(args)),
        Command::Uninstall(args) => done(uninstall::run(args)),
        Command::List(args) => done(list::run(args)),
        Command::Verify(args) => done(verify::run(args)),
        Command::Cache(command) => cache::run(command).map(|()| ExitCode::SUCCESS),
        Command::Doctor(args) => Ok(doctor::run(args)?),
        Command::Completions(args) => done(completions::run(args)),
    }
}

/// Writes `value` and a newline to stdout; a closed pipe (`| head`) is not a failure.
pub(crate) fn print_json(value: &serde_json::Value) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{value}").and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => result.map_err(|e| installer_core::Error::io("write to", "standard output", e)),
    }
}
