//! `installer`: the command line. Glue only: parse flags (args), resolve settings (settings),
//! call installer-core (commands), print results and errors in DESIGN.md's format.

mod args;
mod commands;
mod reporter;
mod settings;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            print_error(&err);
            ExitCode::from(1)
        }
    }
}

/// `error: <what>` then one `  cause: <why>` line per source, as DESIGN.md specifies.
pub(crate) fn print_error(err: &installer_core::Error) {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    let mut causes = installer_core::error::causes(err);
    if let Some(first) = causes.next() {
        let _ = writeln!(stderr, "error: {first}");
    }
    for cause in causes {
        let _ = writeln!(stderr, "  cause: {cause}");
    }
}
