//! `installer`: the command line. Glue only: parse flags (args), resolve settings (settings),
//! call installer-core (commands), print results and errors in the format of docs/cli.md.

#![forbid(unsafe_code)]

mod args;
mod commands;
mod reporter;
mod settings;

use std::process::ExitCode;

use clap::FromArgMatches;

use commands::completions;

fn main() -> ExitCode {
    let matches = completions::cli_with_packaging().get_matches();
    let result = match completions::man_dir(&matches) {
        Some(dir) => completions::write_man_pages(dir).map_err(commands::Failure::from),
        None => commands::run(args::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            print_error(&err);
            // As a shell reports a process killed by SIGINT (128 + 2).
            let interrupted = matches!(err, commands::Failure::Core(installer_core::Error::Interrupted));
            ExitCode::from(if interrupted { 130 } else { 1 })
        }
    }
}

/// Ctrl-C asks the running install to stop and roll back ([`installer_core::interrupt`]); the
/// command then fails with `error: interrupted; nothing was changed` and exit code 130. A
/// second Ctrl-C exits at once with 130: what a killed run leaves (a locked staging directory
/// in the cache, a backup directory in the environment) is cleaned up by the next run.
pub(crate) fn stop_on_ctrl_c() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static PRESSED: AtomicBool = AtomicBool::new(false);
    // ctrlc runs this on a thread of its own, not in the signal handler: printing is fine.
    let result = ctrlc::set_handler(|| {
        if PRESSED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        installer_core::interrupt();
        eprintln!("interrupted: rolling back (press Ctrl-C again to exit now)");
    });
    // Without a handler Ctrl-C kills the process, which the next run recovers from.
    drop(result);
}

/// `error: <what>` then one `  cause: <why>` line per source, as docs/cli.md specifies.
pub(crate) fn print_error(err: &(dyn std::error::Error + 'static)) {
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
