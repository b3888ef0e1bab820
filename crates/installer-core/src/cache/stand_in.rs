//! A dry run's stand-in: the temporary cache a dry run unpacks into, answering for the cache it
//! stands in for (its root, whether it is shared, where link modes are probed from, which
//! entries an install would take as its own), so that the dry run says what an install from
//! that cache would do while writing nothing there. Every method that reads
//! `Cache::stands_in_for` is here, except the two lookups through the other cache's index,
//! which live beside the index they read (`cache/index.rs`).

use std::path::{Path, PathBuf};

use super::{Cache, CacheEntry, Layout};
use crate::reporter::{Event, Reporter};
use crate::{Error, Result};

/// The cache a dry run's temporary cache answers for: where it is, and whether it is a group's
/// shared one (the stand-in itself is not, so that what it unpacks stays its own to remove).
#[derive(Debug)]
pub(super) struct StandIn {
    pub(super) root: PathBuf,
    shared: bool,
}

impl Cache {
    /// The cache at `root` as a dry run uses it: never written, not even created (a dry run
    /// writes nothing). A temporary cache stands in for it: `root` is its first layer, read
    /// as every layer is (checked, never written), and wheels not in it are unpacked into the
    /// temporary directory to be verified. Link modes are probed where `root` is (or would be
    /// made), and messages name it, so the dry run says what an install would do. A cache
    /// this user cannot write (or make) is what [`Cache::open_for_install`] makes of it: a
    /// temporary cache with it as the first layer, with the same one note.
    pub fn for_dry_run(root: &Path, layers: Vec<PathBuf>, reporter: &dyn Reporter) -> Result<Cache> {
        let root = std::path::absolute(root).map_err(|e| Error::io("resolve", root, e))?;
        let layers = std::iter::once(root.clone()).chain(layers).collect();
        let mut cache = Cache::temporary()?.with_layers(layers);
        match crate::platform::check_writable(crate::platform::nearest_existing(
            &Layout::new(&root).scratch(),
        )) {
            Err(e) if crate::platform::is_not_writable(&e) => {
                reporter.event(Event::ReadOnlyCache { cache: &root, error: &e });
            }
            _ => {
                let shared = std::fs::metadata(&root).is_ok_and(|m| crate::platform::is_group_shared(&m));
                cache.stands_in_for = Some(StandIn { root, shared });
            }
        }
        Ok(cache)
    }

    /// Whether the root is a group's shared (setgid) directory, whose entries are read-only;
    /// for a dry run's stand-in, whether the cache it stands in for is.
    pub fn is_shared(&self) -> bool {
        self.stands_in_for.as_ref().map_or(self.shared, |s| s.shared)
    }

    /// Whether `entry` is this cache's own, as an install from it would see it: not found in a
    /// layer, or, for a dry run's stand-in, found in the cache it stands in for.
    pub(crate) fn holds_as_own(&self, entry: &CacheEntry) -> bool {
        !entry.is_from_layer()
            || self.stands_in_for.as_ref().is_some_and(|s| entry.dir().starts_with(&s.root))
    }

    /// Whether this cache is removed at exit in place of a lasting one (`--no-cache`, or the
    /// stand-in for a cache this user cannot write): nothing may point into it, no size is kept
    /// in check. Not a dry run's stand-in, which decides as the cache it stands in for.
    pub fn is_temporary(&self) -> bool {
        self._temporary.is_some() && self.stands_in_for.is_none()
    }

    /// The cache messages name: its root, or the one a dry run's stands in for.
    pub fn named_root(&self) -> &Path {
        self.stands_in_for.as_ref().map_or(&self.root, |s| &s.root)
    }

    /// Where link modes from this cache are probed: its scratch directory, or for a dry run's
    /// stand-in the other cache's (or, not made yet, the nearest directory that exists there).
    pub fn probe_dir(&self) -> PathBuf {
        match &self.stands_in_for {
            Some(s) => crate::platform::nearest_existing(&Layout::new(&s.root).scratch()).to_path_buf(),
            None => self.scratch_dir(),
        }
    }
}
