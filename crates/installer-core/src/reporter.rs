//! The one way progress and warnings leave the core. The core never prints: the CLI draws a
//! `Reporter` with indicatif, the FFI forwards it to C callbacks, tests record it.

/// Receives progress and warnings from any thread. Calls may come from rayon workers, so
/// implementations must be cheap and thread-safe; they are never made twice at once for one
/// call site, but may interleave across methods.
pub trait Reporter: Send + Sync {
    /// `files` more files are known to be part of this operation (the total may grow while
    /// wheels are still being read).
    fn add_total(&self, files: u64) {
        let _ = files;
    }
    /// `files` more files were installed (or unpacked into the cache).
    fn advance(&self, files: u64) {
        let _ = files;
    }
    /// A warning for the user, already deduplicated: each is sent at most once per run.
    fn warning(&self, message: &str) {
        let _ = message;
    }
    /// A virtual environment was created at `root` (as the caller named it) with `python`.
    fn venv_created(&self, root: &std::path::Path, python: &crate::target::Interpreter) {
        let _ = (root, python);
    }
    /// What was done and why (link mode chosen, cache hits), shown with `--verbose`.
    fn info(&self, message: &str) {
        let _ = message;
    }
}

/// Discards everything: for callers that want no output.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoReporter;

impl Reporter for NoReporter {}
