//! Color, decided once per run from `--color` and `NO_COLOR` (no-color.org: set and not empty
//! means no color), and the few colored words: `error:`, `warning:`, ` + `, ` - `.

use std::io::IsTerminal;

use console::style;

use crate::args::ColorChoice;

/// Whether stderr gets colors: `always`, `never`, or for `auto` a terminal and no `NO_COLOR`.
pub fn enabled(choice: ColorChoice, no_color: Option<&std::ffi::OsStr>, terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && no_color.is_none_or(|v| v.is_empty()),
    }
}

/// Applies the choice to everything this process writes to stderr (and stdout, for clap).
pub fn init(choice: ColorChoice) {
    let on = enabled(choice, std::env::var_os("NO_COLOR").as_deref(), std::io::stderr().is_terminal());
    console::set_colors_enabled_stderr(on);
    console::set_colors_enabled(on);
}

/// The clap color setting for `--color` as it appears in `args` (before clap has parsed them,
/// so usage errors follow it too).
pub fn clap_choice(args: &[std::ffi::OsString]) -> clap::ColorChoice {
    let mut choice = clap::ColorChoice::Auto;
    let mut args = args.iter().map(|a| a.to_string_lossy());
    while let Some(arg) = args.next() {
        let value = match arg.strip_prefix("--color") {
            Some("") => args.next().map(|v| v.into_owned()),
            Some(rest) => rest.strip_prefix('=').map(str::to_owned),
            None => None,
        };
        match value.as_deref() {
            Some("always") => choice = clap::ColorChoice::Always,
            Some("never") => choice = clap::ColorChoice::Never,
            Some("auto") => choice = clap::ColorChoice::Auto,
            _ => {}
        }
    }
    if choice == clap::ColorChoice::Auto && std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        choice = clap::ColorChoice::Never;
    }
    choice
}

pub fn error_prefix() -> String {
    style("error:").for_stderr().red().bold().to_string()
}

pub fn warning_prefix() -> String {
    style("warning:").for_stderr().yellow().bold().to_string()
}

pub fn hint_prefix() -> String {
    style("hint:").for_stderr().cyan().bold().to_string()
}

/// ` + name==version` (green plus), as uv prints an installed distribution.
pub fn added(name: &str, version: &str) -> String {
    format!(" {} {}=={version}", style("+").for_stderr().green(), style(name).for_stderr().bold())
}

/// ` - name==version` (red minus), a removed one.
pub fn removed(name: &str, version: &str) -> String {
    format!(" {} {}=={version}", style("-").for_stderr().red(), style(name).for_stderr().bold())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::{OsStr, OsString};

    #[test]
    fn no_color_turns_auto_off_but_not_always() {
        assert!(enabled(ColorChoice::Auto, None, true));
        assert!(!enabled(ColorChoice::Auto, None, false));
        assert!(!enabled(ColorChoice::Auto, Some(OsStr::new("1")), true));
        assert!(enabled(ColorChoice::Auto, Some(OsStr::new("")), true));
        assert!(enabled(ColorChoice::Always, Some(OsStr::new("1")), false));
        assert!(!enabled(ColorChoice::Never, None, true));
    }

    #[test]
    fn the_color_flag_is_found_before_parsing() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(clap_choice(&args(&["installer", "--color", "never", "x"])), clap::ColorChoice::Never);
        assert_eq!(clap_choice(&args(&["installer", "list", "--color=always"])), clap::ColorChoice::Always);
    }
}
