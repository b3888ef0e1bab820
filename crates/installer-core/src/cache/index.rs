//! The index `v1/index/`: one small JSON record per wheel path (its size and mtime, and the
//! entry it was found or unpacked as), so a warm run finds the entry with one `stat` and one
//! read, without opening the archive. A record that no longer matches the file, or whose entry
//! is gone, is ignored.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{hex, layers, write_atomically, Cache, CacheEntry, Layout};

/// What the index remembers of a wheel file, so a warm run can find its entry with one `stat`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct IndexRecord {
    pub(super) path: PathBuf,
    pub(super) size: u64,
    pub(super) mtime_ns: u128,
    pub(super) entry: String,
    /// The read-only layer holding the entry (checked when it was recorded), if not this cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) layer: Option<PathBuf>,
}

impl IndexRecord {
    /// The record at `index_path`, if there is a readable one that still describes the wheel
    /// at `wheel_abs` (same path, size and mtime).
    fn read_describing(
        index_path: &Path,
        wheel_abs: &Path,
        size: u64,
        mtime_ns: u128,
    ) -> Option<IndexRecord> {
        let record: IndexRecord = serde_json::from_slice(&std::fs::read(index_path).ok()?).ok()?;
        (record.path == wheel_abs && record.size == size && record.mtime_ns == mtime_ns).then_some(record)
    }

    /// Writes this record to `index_path`. The index is an optimisation: failing to write it
    /// costs the next run a re-hash only.
    pub(super) fn write(&self, index_path: &Path) {
        let _ = write_atomically(index_path, &serde_json::to_vec(self).unwrap_or_default());
    }
}

impl Cache {
    /// Where the index record of the wheel at `wheel_abs` lives.
    pub(super) fn index_path(&self, wheel_abs: &Path) -> PathBuf {
        index_path_in(&self.layout(), wheel_abs)
    }

    /// The entry the record at `index_path` names, if it still describes the wheel (same path,
    /// size and mtime) and the entry can be leased (or its layer is still configured and this
    /// cache has no copy of it).
    pub(super) fn lookup_index(
        &self,
        index_path: &Path,
        wheel_abs: &Path,
        size: u64,
        mtime_ns: u128,
    ) -> Option<CacheEntry> {
        let record = IndexRecord::read_describing(index_path, wheel_abs, size, mtime_ns)?;
        match self.lease_entry(&record.entry) {
            // A layer's entry imported since (with the bytecode compiled for it) is remembered
            // as this cache's from now on.
            Some(local) if record.layer.is_some() => {
                IndexRecord { layer: None, ..record }.write(index_path);
                Some(local)
            }
            Some(local) => Some(local),
            None => self.recorded_layer_entry(&record),
        }
    }

    /// Removes the records whose entry is gone: neither this cache's own nor, for a record of a
    /// layer's entry, in that layer. The cache commands call it after removing entries; they
    /// do not know which layers installs configure, so a layer's record is kept while its entry
    /// exists (an install uses it only while the layer is configured, `recorded_layer_entry`),
    /// sparing the next install a whole check of that entry.
    pub(crate) fn forget_index_records_of_missing_entries(&self) {
        let Ok(read) = std::fs::read_dir(self.index_dir()) else { return };
        // Only finished records: `*.json` (a record being written is a temporary file).
        for file in read.flatten().filter(|f| f.path().extension().is_some_and(|e| e == "json")) {
            let record: Option<IndexRecord> =
                std::fs::read(file.path()).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok());
            if !record.is_some_and(|r| self.names_an_existing_entry(&r)) {
                let _ = std::fs::remove_file(file.path());
            }
        }
    }

    /// Whether the entry `record` names is still there, in this cache or in its layer.
    fn names_an_existing_entry(&self, record: &IndexRecord) -> bool {
        self.entries_dir().join(&record.entry).is_dir()
            || record.layer.as_ref().is_some_and(|layer| Layout::new(layer).entry(&record.entry).is_dir())
    }

    /// For a dry run's stand-in: the entry the index of the cache it stands in for names,
    /// found as an install from that cache finds it (one `stat`, the record, the manifest; no
    /// archive or file hashed, where a layer's entry is checked whole), and opened as a layer's
    /// entry is, so nothing of it is written. `None` when that index has no record that still
    /// describes the wheel (the layers are then searched, checking what they hold).
    pub(super) fn lookup_stood_in_index(
        &self,
        wheel_abs: &Path,
        size: u64,
        mtime_ns: u128,
    ) -> Option<CacheEntry> {
        let root = &self.stands_in_for.as_ref()?.root;
        let index_path = index_path_in(&Layout::new(root), wheel_abs);
        let record = IndexRecord::read_describing(&index_path, wheel_abs, size, mtime_ns)?;
        self.stood_in_entry(&record.entry).or_else(|| self.recorded_layer_entry(&record))
    }

    /// The layer's entry `record` names, while that layer is still configured: the cache's own
    /// copy, when there is one, is found first.
    fn recorded_layer_entry(&self, record: &IndexRecord) -> Option<CacheEntry> {
        let layer = record.layer.as_ref()?;
        self.layers.contains(layer).then(|| layers::open(layer, &record.entry))?
    }

    /// For a dry run's stand-in: the entry `id` of the cache it stands in for, opened as a
    /// layer's entry is (leased where it can be, never written) but not checked, as an install
    /// from that cache trusts its own entries.
    pub(super) fn stood_in_entry(&self, id: &str) -> Option<CacheEntry> {
        layers::open(&self.stands_in_for.as_ref()?.root, id)
    }
}

/// Where the index record of the wheel at `wheel_abs` lives in the cache laid out as `layout`.
fn index_path_in(layout: &Layout, wheel_abs: &Path) -> PathBuf {
    let digest = Sha256::digest(wheel_abs.as_os_str().as_encoded_bytes());
    layout.index().join(format!("{}.json", &hex(&digest)[..32]))
}
