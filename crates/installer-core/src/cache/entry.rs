//! A published entry and its lease: the `CacheEntry` type, opening an entry (to read it, or
//! leased, so that nothing removes it while an install uses it) and removing one, which takes
//! the same lease exclusively (ARCHITECTURE.md, "Cache protocol", `entry-leased` and
//! `entry-removing`).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Cache, ENTRY_LOCK, MANIFEST, REMOVING_PREFIX, TREE};
use crate::manifest::{Manifest, MANIFEST_FORMAT};
use crate::{Error, Result};

/// A published, verified cache entry: a directory of files and the manifest describing them.
#[derive(Debug, Clone)]
pub struct CacheEntry {
    pub(super) id: String,
    pub(super) dir: PathBuf,
    pub(super) manifest: Arc<Manifest>,
    pub(super) unpacked: bool,
    /// It lives in a read-only layer, not in this cache: never written, never removed by us.
    pub(super) from_layer: bool,
    /// The entry's `.lock`, held shared while this entry (or a clone) lives, so `cache prune`,
    /// `cache clean` and eviction leave it alone; `None` for entries opened only to be read
    /// by the cache commands.
    pub(super) _lease: Option<Arc<File>>,
}

/// What [`Cache::remove_entry`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryRemoval {
    /// Renamed out of `entries/` into `tmp/`, then deleted.
    Removed,
    /// A running install holds its lease; it stays.
    InUse,
    /// There was no such entry.
    Absent,
}

impl CacheEntry {
    /// `<wheel stem>-<hash prefix>`: the entry's directory name.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The entry's directory (holds the manifest and `tree/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The root of the unpacked files: a file of the manifest is at `tree().join(path)`.
    pub fn tree(&self) -> PathBuf {
        self.dir.join(TREE)
    }

    /// Read once, when the entry was opened (or made, when unpacked): files are planned from
    /// it without looking at the tree.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Whether this run unpacked it (a cold install) rather than finding it.
    pub fn was_unpacked(&self) -> bool {
        self.unpacked
    }

    /// Whether it was found in a read-only cache layer: an install imports it into a cache it
    /// can write when it cannot link from where it is (or must add bytecode to it).
    pub fn is_from_layer(&self) -> bool {
        self.from_layer
    }
}

impl Cache {
    /// Unpublishes entry `id` and deletes it, unless an install holds its lease: a rename into
    /// `tmp/` under the lease taken exclusively (atomic, so a concurrent install finds the whole
    /// entry or none), then a recursive delete there. A delete interrupted half-way leaves only
    /// `tmp/removing-*`, which the next writer's staging cleanup removes.
    pub fn remove_entry(&self, id: &str) -> Result<EntryRemoval> {
        self.remove_entry_unless(id, || false)
    }

    /// [`Cache::remove_entry`], keeping the entry (as [`EntryRemoval::InUse`]) when `in_use`,
    /// asked while holding its lease exclusively, says so: the cache commands judge which
    /// entries symlinked environments use before removing, and an install may lease the entry,
    /// record its environment and let go in between (`cache_admin/envs.rs`).
    pub(crate) fn remove_entry_unless(
        &self,
        id: &str,
        in_use: impl FnOnce() -> bool,
    ) -> Result<EntryRemoval> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = self.entries_dir().join(id);
        let lease_path = dir.join(ENTRY_LOCK);
        // Without a lease file (or without flock on this filesystem) there is nothing to honour.
        // Any other failure (EACCES, EMFILE...) may hide a holder: the entry stays, and we say why.
        let lease = match File::open(&lease_path) {
            Ok(lease) => match lease.try_lock() {
                Ok(()) => Some(lease),
                Err(std::fs::TryLockError::WouldBlock) => return Ok(EntryRemoval::InUse),
                Err(std::fs::TryLockError::Error(e)) if crate::platform::locks_unsupported(&e) => None,
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", lease_path, e)),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io("open", lease_path, e)),
        };
        if in_use() && dir.is_dir() {
            return Ok(EntryRemoval::InUse);
        }
        crate::pause::point("entry-removing");
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = self.scratch_dir().join(format!("{REMOVING_PREFIX}{id}-{}-{n}", std::process::id()));
        match std::fs::rename(&dir, &path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(EntryRemoval::Absent),
            Err(e) => return Err(Error::io("move out of the cache", dir, e)),
        }
        drop(lease);
        match crate::platform::remove_dir_all_forced(&path) {
            Ok(()) => Ok(EntryRemoval::Removed),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(EntryRemoval::Removed),
            Err(e) => Err(Error::io("delete", path, e)),
        }
    }

    /// Opens the published entry `id` to read it, if there is one with a readable manifest.
    /// It holds no lease: an install uses [`Cache::entry`], which does.
    pub fn open_entry(&self, id: &str) -> Option<CacheEntry> {
        let dir = self.entries_dir().join(id);
        let bytes = std::fs::read(dir.join(MANIFEST)).ok()?;
        let mut manifest: Manifest = serde_json::from_slice(&bytes).ok()?;
        drop(bytes);
        // Parsed by doubling: up to half of it slack, held for the whole install.
        manifest.files.shrink_to_fit();
        (manifest.format == MANIFEST_FORMAT).then(|| CacheEntry {
            id: id.to_string(),
            dir,
            manifest: Arc::new(manifest),
            unpacked: false,
            from_layer: false,
            _lease: None,
        })
    }

    /// Opens the published entry `id` and takes its lease (shared), so nothing removes it while
    /// the returned entry lives; `None` when there is no such entry or it was being removed.
    pub(super) fn lease_entry(&self, id: &str) -> Option<CacheEntry> {
        let lease_path = self.entries_dir().join(id).join(ENTRY_LOCK);
        let lease = match File::open(&lease_path) {
            Ok(lease) => lease,
            // An entry without a lease file cannot be protected; still usable.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return self.open_entry(id),
            Err(_) => return None,
        };
        match lease.lock_shared() {
            // A remover holding it exclusively may have renamed the entry away (or another
            // writer published it anew) between our open and our lock.
            Ok(()) if !still_the_lease(&lease, &lease_path) => return None,
            Ok(()) => {}
            Err(e) if !crate::platform::locks_unsupported(&e) => return None,
            Err(_) => {}
        }
        let mut entry = self.open_entry(id)?;
        entry._lease = Some(Arc::new(lease));
        Some(entry)
    }
}

/// Whether `lock`, opened from `path` and since locked, is still the file at `path`: a remover
/// renames an entry away holding its lease exclusively, so a lease opened just before that
/// rename and locked after it belongs to a removed entry. `false` where either cannot be read.
pub(crate) fn still_the_lease(lock: &File, path: &Path) -> bool {
    match (lock.metadata(), std::fs::metadata(path)) {
        (Ok(ours), Ok(there)) => crate::platform::same_file(&ours, &there),
        _ => false,
    }
}
