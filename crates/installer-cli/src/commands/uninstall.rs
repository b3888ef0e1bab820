//! `installer uninstall`.

use installer_core::uninstall::uninstall;
use installer_core::units::thousands;
use installer_core::venv::Venv;
use installer_core::Result;

use crate::args::UninstallArgs;
use crate::reporter::TerminalReporter;
use crate::settings;

pub fn run(args: UninstallArgs) -> Result<()> {
    // Never created: there is nothing to uninstall from an environment that does not exist.
    let venv = match settings::open_environment(&args.venv)? {
        Some(venv) => venv,
        None => Venv::open(&settings::environment(&args.venv)?.0)?,
    };
    let reporter = TerminalReporter::new(args.output, "Uninstalling");
    let result = uninstall(&venv, &args.names, &reporter);
    reporter.finish();
    let summary = result?;
    if !args.output.quiet {
        eprintln!(
            "Uninstalled {} distribution{} ({} files): {}",
            summary.removed.len(),
            if summary.removed.len() == 1 { "" } else { "s" },
            thousands(summary.files),
            summary.removed.join(", ")
        );
    }
    Ok(())
}
