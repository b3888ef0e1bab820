//! How big and how old the caches are: `cache info`, the `cache-max-size` cap applied after an
//! install, and the least-recently-used part of `cache prune --max-size`.
//!
//! Sizes are what files take on disk (their blocks), counted once per (device, inode) across
//! every cache root, so space that hardlinks share (between entries, or with environments)
//! counts once; bytecode directories are part of their entry. Order is by last use
//! ([`Cache::last_uses`]), oldest first, ties broken by id, so eviction is deterministic.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::time::SystemTime;

use super::{
    entries, forget_missing_index_records, locations, open_existing, symlinked_environments, EntryInfo,
};
use crate::cache::{Cache, EntryRemoval};
use crate::install::ShardPolicy;
use crate::Result;

/// One cache root as `cache info` shows it.
#[derive(Debug, Clone)]
pub struct LocationInfo {
    pub root: PathBuf,
    /// Least recently used first.
    pub entries: Vec<EntryInfo>,
    /// Space on disk, hardlinked files once (and not again in a later location).
    pub disk_bytes: u64,
}

impl LocationInfo {
    /// When its least recently used entry was last used; `None` when it is empty.
    pub fn oldest_use(&self) -> Option<SystemTime> {
        self.entries.first().map(|e| e.last_used)
    }

    /// When any of its entries was last used; `None` when it is empty.
    pub fn newest_use(&self) -> Option<SystemTime> {
        self.entries.last().map(|e| e.last_used)
    }
}

/// Every cache of `caches`, measured: its entries (least recently used first) and its space.
pub fn info(caches: &[Cache]) -> Result<Vec<LocationInfo>> {
    let mut seen = HashSet::new();
    caches
        .iter()
        .map(|cache| {
            let mut entries = entries(cache)?;
            let disk_bytes = deduped_bytes(&entries, &mut seen);
            entries.sort_by(lru_order);
            Ok(LocationInfo { root: cache.root().to_path_buf(), entries, disk_bytes })
        })
        .collect()
}

/// What keeping the caches under `cache-max-size` after an install did.
#[derive(Debug, Clone)]
pub struct Eviction {
    pub max_size: u64,
    /// All caches together, before and after.
    pub size_before: u64,
    pub size_after: u64,
    /// Removed, least recently used first.
    pub removed: Vec<EntryInfo>,
    /// Entries that would have gone but a running install holds them.
    pub in_use: usize,
}

impl Eviction {
    /// Whether the caches are still over the cap: what is left is in use (by this install,
    /// another one, or symlinked environments).
    pub fn still_over(&self) -> bool {
        self.size_after > self.max_size
    }
}

/// After an install from `main`: when the main cache and every shard of `policy` together take
/// more than `max` bytes, removes least recently used entries until they fit, never one of
/// `used` (this command's) nor one a live symlinked environment points into, and never one a
/// running install holds. `None` when they fit already (or `main` is a `--no-cache` directory).
pub fn enforce_max_size(
    main: &Cache,
    policy: &ShardPolicy,
    max: u64,
    used: &BTreeSet<&str>,
) -> Result<Option<Eviction>> {
    if main.is_temporary() {
        return Ok(None);
    }
    let caches = open_existing(&locations(main.root(), policy))?;
    let all: Vec<Vec<EntryInfo>> = caches.iter().map(entries).collect::<Result<_>>()?;
    let mut seen = HashSet::new();
    if all.iter().map(|e| deduped_bytes(e, &mut seen)).sum::<u64>() <= max {
        return Ok(None);
    }
    // Only now, when something must go, walk the symlinked environments.
    let left: Vec<(Vec<EntryInfo>, Vec<EntryInfo>)> = caches
        .iter()
        .zip(all)
        .map(|(cache, entries)| {
            let protected: BTreeSet<String> =
                symlinked_environments(cache).into_iter().flat_map(|env| env.entries).collect();
            entries.into_iter().partition(|e| !used.contains(e.id.as_str()) && !protected.contains(&e.id))
        })
        .collect();
    let lru = evict_lru(&caches, &left, max)?;
    let mut removed = Vec::new();
    let mut in_use = 0;
    for (cache, (gone, busy)) in caches.iter().zip(lru.per_cache) {
        if !gone.is_empty() {
            forget_missing_index_records(cache);
        }
        removed.extend(gone);
        in_use += busy;
    }
    removed.sort_by(lru_order);
    Ok(Some(Eviction {
        max_size: max,
        size_before: lru.size_before,
        size_after: lru.size_after,
        removed,
        in_use,
    }))
}

/// What [`evict_lru`] did: per cache, the entries removed and how many were in use.
pub(super) struct Lru {
    pub per_cache: Vec<(Vec<EntryInfo>, usize)>,
    pub size_before: u64,
    pub size_after: u64,
}

/// For each cache of `caches`, `left` holds (entries that may go, entries that stay). Removes
/// those that may go, least recently used first across all caches, until everything left
/// takes at most `max` bytes.
pub(super) fn evict_lru(
    caches: &[Cache],
    left: &[(Vec<EntryInfo>, Vec<EntryInfo>)],
    max: u64,
) -> Result<Lru> {
    let mut seen = HashSet::new();
    let size_before: u64 =
        left.iter().map(|(may, stay)| deduped_bytes(may.iter().chain(stay), &mut seen)).sum();
    let mut order: Vec<(usize, &EntryInfo)> =
        left.iter().enumerate().flat_map(|(i, (may, _))| may.iter().map(move |e| (i, e))).collect();
    order.sort_by(|a, b| lru_order(a.1, b.1));
    let mut size = size_before;
    let mut per_cache: Vec<(Vec<EntryInfo>, usize)> = vec![(Vec::new(), 0); caches.len()];
    for (i, entry) in order {
        if size <= max {
            break;
        }
        match caches[i].remove_entry(&entry.id)? {
            EntryRemoval::Removed => {
                size = size.saturating_sub(entry.disk_bytes);
                per_cache[i].0.push(entry.clone());
            }
            EntryRemoval::InUse => per_cache[i].1 += 1,
            // Removed by someone else meanwhile: its space is free all the same.
            EntryRemoval::Absent => size = size.saturating_sub(entry.disk_bytes),
        }
    }
    Ok(Lru { per_cache, size_before, size_after: size })
}

/// Space of `entries`, counting each hardlinked file once across calls sharing `seen`.
fn deduped_bytes<'a>(
    entries: impl IntoIterator<Item = &'a EntryInfo>,
    seen: &mut HashSet<(u64, u64)>,
) -> u64 {
    entries
        .into_iter()
        .map(|e| {
            e.unlinked_bytes
                + e.linked.iter().filter(|(key, _)| seen.insert(*key)).map(|(_, b)| b).sum::<u64>()
        })
        .sum()
}

/// Least recently used first; ties by id.
fn lru_order(a: &EntryInfo, b: &EntryInfo) -> Ordering {
    (a.last_used, &a.id).cmp(&(b.last_used, &b.id))
}
