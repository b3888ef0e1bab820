//! Virtual environments: their layout (scheme directories) read from disk, and creation.

use std::path::{Path, PathBuf};

use crate::Result;

/// A virtual environment whose layout has been read; building one is the check that the
/// directory is a venv.
#[derive(Debug, Clone)]
pub struct Venv {
    pub root: PathBuf,
}

impl Venv {
    /// Opens an existing venv, or creates it with `python -m venv --without-pip` when `root`
    /// does not exist.
    pub fn open_or_create(root: &Path, python: &Path) -> Result<Venv> {
        let _ = (root, python);
        todo!()
    }

    /// Opens an existing venv.
    pub fn open(root: &Path) -> Result<Venv> {
        let _ = root;
        todo!()
    }
}
