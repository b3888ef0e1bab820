//! Where everything of a cache root is. The layout's version (`v1`) and its directory names are
//! spelled here and nowhere else, so the cache, its administration, `doctor` and the frontends
//! cannot disagree; a new layout is a new version directory beside the old one.

use std::path::{Path, PathBuf};

/// The layout's version: the one directory under a cache root that holds everything else.
const VERSION: &str = "v1";
/// Its directories, made when a cache is opened.
pub(crate) const DIRS: [&str; 5] = ["entries", "index", "tmp", "envs", "interpreters"];

/// The paths of one cache root (the main cache, a shard or a read-only layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout of the cache rooted at `root` (which need not exist).
    pub fn new(root: &Path) -> Layout {
        Layout { root: root.to_path_buf() }
    }

    /// The cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/v1`: everything of this layout version.
    pub fn version_dir(&self) -> PathBuf {
        self.root.join(VERSION)
    }

    /// Where published entries live, one directory each.
    pub fn entries(&self) -> PathBuf {
        self.version_dir().join("entries")
    }

    /// The published entry `id`.
    pub fn entry(&self, id: &str) -> PathBuf {
        self.entries().join(id)
    }

    /// Where the index maps wheel paths to entries.
    pub fn index(&self) -> PathBuf {
        self.version_dir().join("index")
    }

    /// Staging directories, entries being removed, and link probes: on the cache's filesystem.
    pub fn scratch(&self) -> PathBuf {
        self.version_dir().join("tmp")
    }

    /// Records of environments that symlink into the cache.
    pub fn envs(&self) -> PathBuf {
        self.version_dir().join("envs")
    }

    /// Interpreters' answers about themselves.
    pub fn interpreters(&self) -> PathBuf {
        self.version_dir().join("interpreters")
    }

    /// The log of entry uses, for eviction by last use ([`crate::cache`]'s `usage`).
    pub(crate) fn usage_log(&self) -> PathBuf {
        self.version_dir().join("used.log")
    }

    /// The remembered sizes of entries, so a size check costs a stat per entry.
    pub(crate) fn sizes(&self) -> PathBuf {
        self.version_dir().join("sizes.json")
    }

    /// The staging gate (see "Cache protocol" in ARCHITECTURE.md).
    pub(crate) fn staging_gate(&self, name: &str) -> PathBuf {
        self.version_dir().join(name)
    }

    /// Whether an `installer` cache of this layout is there (so a stray directory of the same
    /// name that belongs to something else is never touched).
    pub fn exists(&self) -> bool {
        self.entries().is_dir()
    }

    /// The cache root whose [`Layout::scratch`] `dir` is, if it is one.
    pub fn root_of_scratch(dir: &Path) -> Option<PathBuf> {
        let root = dir.parent()?.parent()?;
        (Layout::new(root).scratch() == dir).then(|| root.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_under_the_version_directory() {
        let layout = Layout::new(Path::new("/c"));
        assert_eq!(layout.entry("x-1.0"), Path::new("/c/v1/entries/x-1.0"));
        assert_eq!(layout.scratch(), Path::new("/c/v1/tmp"));
        assert_eq!(Layout::root_of_scratch(&layout.scratch()), Some(PathBuf::from("/c")));
        assert_eq!(Layout::root_of_scratch(Path::new("/c/other/tmp")), None);
    }
}
