//! The environment variables clap reads for flags (`INSTALLER_LINK_MODE` for `--link-mode`,
//! ...): read as the variables settings.rs reads (empty means unset), and named in their
//! errors, since the user who set one never typed the flag.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, Command};

/// Unsets the flags' variables that are set but empty, before clap reads them: clap takes an
/// empty value as given (`INSTALLER_JOBS=` failed as "invalid value '' for '--jobs'") while
/// every other variable of ours, as uv's, reads empty as unset. Runs first thing in `main`,
/// while the process has one thread; clap takes each value when an `Arg` is made, so `cmd` is
/// to be made again afterwards.
pub fn unset_empty(cmd: &Command) {
    for arg in args_with_variables(cmd) {
        let var = arg.get_env().expect("filtered");
        if std::env::var_os(var).is_some_and(|value| value.is_empty()) {
            std::env::remove_var(var);
        }
    }
}

/// Exits as clap would for `err`, but a bad value that came from a variable names the
/// variable: `invalid value 'fast' for INSTALLER_LINK_MODE (the environment variable of
/// --link-mode)`, where clap said `for '--link-mode <MODE>'`. Still a usage error (exit 2).
pub fn exit_with(err: clap::Error, cmd: &Command, argv: &[OsString]) -> ! {
    if let Some(text) = worded_for_variable(&err, cmd, argv) {
        eprint!("{text}");
        std::process::exit(2);
    }
    err.exit()
}

fn worded_for_variable(err: &clap::Error, cmd: &Command, argv: &[OsString]) -> Option<String> {
    if !matches!(err.kind(), ErrorKind::InvalidValue | ErrorKind::ValueValidation) {
        return None;
    }
    let Some(ContextValue::String(shown)) = err.get(ContextKind::InvalidArg) else { return None };
    let long = shown.split_whitespace().next()?.strip_prefix("--")?;
    let arg = args_with_variables(cmd).into_iter().find(|a| a.get_long() == Some(long))?;
    let var = arg.get_env()?.to_str()?;
    if std::env::var_os(var).is_none() || on_command_line(arg, argv) {
        return None;
    }
    let rendered = err.render().to_string();
    Some(rendered.replacen(
        &format!("'{shown}'"),
        &format!("{var} (the environment variable of --{long})"),
        1,
    ))
}

/// Whether `argv` gives `arg` itself: `--long`, `--long=V`, or its short letter alone or among
/// others (`-j4`, `-qj 4`).
fn on_command_line(arg: &Arg, argv: &[OsString]) -> bool {
    let long = arg.get_long().map(|l| format!("--{l}"));
    argv.iter().skip(1).filter_map(|a| a.to_str()).any(|a| {
        let as_long =
            long.as_deref().is_some_and(|l| a == l || a.strip_prefix(l).is_some_and(|r| r.starts_with('=')));
        let as_short =
            arg.get_short().is_some_and(|c| a.starts_with('-') && !a.starts_with("--") && a[1..].contains(c));
        as_long || as_short
    })
}

/// Every argument of `cmd` and its subcommands that has a variable.
fn args_with_variables(cmd: &Command) -> Vec<&Arg> {
    let mut found: Vec<&Arg> = cmd.get_arguments().filter(|a| a.get_env().is_some()).collect();
    for sub in cmd.get_subcommands() {
        found.extend(args_with_variables(sub));
    }
    found
}
