//! Installing wheels into an environment: plan, then an all-or-nothing transaction.

use std::path::PathBuf;
use std::time::Duration;

use crate::cache::Cache;
use crate::linker::{LinkFallback, LinkMode};
use crate::reporter::Reporter;
use crate::venv::Venv;
use crate::Result;

/// Everything an install can be asked to do differently; built by the frontends.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    pub link_mode: LinkMode,
    pub link_fallback: LinkFallback,
    /// Worker threads; 0 means one per CPU.
    pub jobs: usize,
    /// Replace installed distributions even at the same version.
    pub reinstall: bool,
    /// Write `.pyc` files with the environment's interpreter.
    pub compile: bool,
}

/// What an install did, for the summary line.
#[derive(Debug, Clone)]
pub struct InstallSummary {
    pub wheels: usize,
    pub files: u64,
    pub skipped: Vec<String>,
    pub link_modes: Vec<LinkMode>,
    pub elapsed: Duration,
}

/// Verifies (and caches) every wheel, then installs them all into `venv`, or nothing.
pub fn install(
    venv: &Venv,
    wheels: &[PathBuf],
    cache: &Cache,
    options: &InstallOptions,
    reporter: &dyn Reporter,
) -> Result<InstallSummary> {
    let _ = (venv, wheels, cache, options, reporter);
    todo!()
}
