//! One function per subcommand; each builds core inputs, calls the core, prints the outcome.

mod cache;
mod doctor;
mod install;

use installer_core::Result;

use crate::args::{Cli, Command};

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Install(args) => install::run(args),
        Command::Uninstall(_) | Command::List(_) => Err(installer_core::Error::InvalidArgument {
            what: "command",
            reason: "not implemented yet".into(),
        }),
        Command::Cache(command) => cache::run(command),
        Command::Doctor(args) => doctor::run(args),
    }
}
