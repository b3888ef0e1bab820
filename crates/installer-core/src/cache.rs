//! The unpacked-wheel cache.

use std::path::{Path, PathBuf};

use crate::Result;

/// An opened cache directory.
#[derive(Debug)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// Opens (creating if needed) the cache at `root`.
    pub fn open(root: &Path) -> Result<Cache> {
        Ok(Cache { root: root.to_path_buf() })
    }

    /// A cache in a temporary directory, removed when dropped (`--no-cache`).
    pub fn temporary() -> Result<Cache> {
        todo!()
    }

    /// `$XDG_CACHE_HOME/installer`, else `~/.cache/installer`.
    pub fn default_root() -> Option<PathBuf> {
        todo!()
    }

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}
