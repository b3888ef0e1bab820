//! One function per subcommand; each builds core inputs, calls the core, prints the outcome.

mod cache;
pub mod completions;
mod doctor;
mod install;
mod list;
mod uninstall;
mod verify;

use installer_core::Result;

use crate::args::{Cli, Command};

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Install(args) => install::run(args),
        Command::Uninstall(args) => uninstall::run(args),
        Command::List(args) => list::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Cache(command) => cache::run(command),
        Command::Doctor(args) => doctor::run(args),
        Command::Completions(args) => completions::run(args),
    }
}
