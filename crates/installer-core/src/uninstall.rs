//! Removing installed distributions by their RECORD.

use crate::reporter::Reporter;
use crate::venv::Venv;
use crate::Result;

/// What an uninstall removed.
#[derive(Debug, Clone, Default)]
pub struct UninstallSummary {
    /// `name version` of each removed distribution.
    pub removed: Vec<String>,
    pub files: u64,
}

/// Removes the distributions `names` (any spelling: `Foo_Bar` = `foo-bar`) from `venv`.
/// Fails with [`crate::Error::NotInstalled`] naming every unknown name, removing nothing.
pub fn uninstall(venv: &Venv, names: &[String], reporter: &dyn Reporter) -> Result<UninstallSummary> {
    let _ = (venv, names, reporter);
    todo!()
}
