//! `installer uninstall`: names that are not installed are warnings (the others are removed),
//! as with pip and uv; only when none of them is installed is there nothing to do, which is
//! still a success with a warning per name.

use installer_core::uninstall::{uninstall, UninstallSummary};
use installer_core::venv::Venv;
use installer_core::{Error, Result};

use crate::args::{Format, UninstallArgs};
use crate::reporter::TerminalReporter;
use crate::{settings, summary};

pub fn run(args: UninstallArgs) -> Result<()> {
    // `-y` needs nothing: uninstall never asks.
    let _ = args.yes;
    // Never created: there is nothing to uninstall from an environment that does not exist.
    let venv = match settings::open_environment(&args.venv)? {
        Some(venv) => venv,
        None => Venv::open(&settings::environment(&args.venv)?.0)?,
    };
    let reporter = TerminalReporter::new(args.output, "Uninstalling");
    let cancel = installer_core::Cancel::new();
    crate::cancel_on_ctrl_c(&cancel);
    let result = uninstall(&venv, &args.names, 0, &reporter, &cancel);
    reporter.finish();
    let summary = match result {
        Ok(summary) => summary,
        // Each name was reported already; nothing to do is a success here, as with pip.
        Err(Error::NotInstalled { names, .. }) => {
            UninstallSummary { not_installed: names, ..UninstallSummary::default() }
        }
        Err(e) => return Err(e),
    };
    let elapsed = crate::elapsed();
    match args.format.format {
        Format::Json => crate::commands::print_json(&summary::uninstall_json(&summary, venv.root(), elapsed)),
        Format::Text if args.output.quiet => Ok(()),
        Format::Text => {
            for line in summary::uninstall_text(&summary, elapsed) {
                eprintln!("{line}");
            }
            Ok(())
        }
    }
}
