//! Drawing the core's progress and warnings on the terminal: an indicatif bar on stderr, and
//! `warning:` lines printed above it (through `suspend`, so they do not tear it), each once.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use installer_core::Reporter;

use crate::args::OutputArgs;

/// The CLI's reporter. Hidden bar with `-q`, `--no-progress`, or when stderr is not a terminal.
pub struct TerminalReporter {
    bar: ProgressBar,
    verbose: bool,
    quiet: bool,
    warned: Mutex<HashSet<String>>,
}

impl TerminalReporter {
    pub fn new(output: OutputArgs, message: &'static str) -> TerminalReporter {
        let show = !output.quiet && !output.no_progress && std::io::stderr().is_terminal();
        let bar = if show {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(20));
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner:.green} {msg} [{bar:30.cyan/blue}] {human_pos}/{human_len} files",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_message(message);
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        } else {
            ProgressBar::hidden()
        };
        TerminalReporter {
            bar,
            verbose: output.verbose,
            quiet: output.quiet,
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// Prints a line to stderr above the bar.
    pub fn println(&self, line: &str) {
        self.bar.suspend(|| {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        });
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Reporter for TerminalReporter {
    fn add_total(&self, files: u64) {
        self.bar.inc_length(files);
    }

    fn advance(&self, files: u64) {
        self.bar.inc(files);
    }

    fn warning(&self, message: &str) {
        if self.quiet {
            return;
        }
        if self.warned.lock().expect("warned set").insert(message.to_string()) {
            self.println(&format!("warning: {message}"));
        }
    }

    fn venv_created(&self, root: &std::path::Path, python: &installer_core::target::Interpreter) {
        if !self.quiet {
            let (name, version) = (python.implementation_name(), python.version_string());
            self.println(&format!("Created virtual environment at {} ({name} {version})", root.display()));
        }
    }

    fn info(&self, message: &str) {
        if self.verbose {
            self.println(&format!("info: {message}"));
        }
    }
}
