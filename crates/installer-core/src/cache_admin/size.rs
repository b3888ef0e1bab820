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

use super::envs::{judge, Judged, RecordsSeen};
use super::{entries, entry_ids, locations, open_existing, remove, EntryInfo};
use crate::cache::{Cache, EntryRemoval, EntrySize};
use crate::shards::ShardPolicy;
use crate::Result;

/// One cache root as `cache info` shows it.
#[derive(Debug, Clone)]
pub struct LocationInfo {
    /// The cache root (main cache or shard), absolute.
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
    /// `cache-max-size`, in bytes.
    pub max_size: u64,
    /// All caches together, before and after.
    pub size_before: u64,
    /// Above `max_size` only when what is left is in use ([`Eviction::still_over`]).
    pub size_after: u64,
    /// Removed, least recently used first.
    pub removed: Vec<Evicted>,
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

/// An entry removed to keep the caches under `cache-max-size`.
#[derive(Debug, Clone)]
pub struct Evicted {
    /// `<wheel stem>-<archive hash prefix>`.
    pub id: String,
    /// Space it took on disk, from `v1/sizes.json` (measured once, when not remembered).
    pub disk_bytes: u64,
    /// Its latest use in the usage log, else when its directory last changed.
    pub last_used: SystemTime,
}

impl Evicted {
    /// `name version`, from the wheel file name the id starts with (no manifest is read).
    pub fn label(&self) -> String {
        let mut parts = self.id.split('-');
        match (parts.next(), parts.next()) {
            (Some(name), Some(version)) => format!("{name} {version}"),
            _ => self.id.clone(),
        }
    }
}

/// After an install from `main`: when the main cache and the shards of `policy` (see
/// [`super::size_scope`]) together take
/// more than `max` bytes, removes least recently used entries until they fit, never one of
/// `used` (this command's) nor one a live symlinked environment points into, and never one a
/// running install holds. `None` when they fit already (or `main` is a `--no-cache` directory).
/// Sizes come from the caches' remembered sizes, so when nothing must go this costs a `stat`
/// per entry, not per file.
pub fn enforce_max_size(
    main: &Cache,
    policy: &ShardPolicy,
    max: u64,
    used: &BTreeSet<&str>,
) -> Result<Option<Eviction>> {
    if main.is_temporary() {
        return Ok(None);
    }
    let caches = open_existing(&super::size_scope(locations(main.root(), policy), policy))?;
    let ids: Vec<Vec<String>> = caches.iter().map(entry_ids).collect::<Result<_>>()?;
    let sizes: Vec<Vec<EntrySize>> = caches
        .iter()
        .zip(&ids)
        .map(|(cache, ids)| {
            cache.bound_usage_log(ids);
            cache.entry_sizes(ids)
        })
        .collect();
    let size_before: u64 = sizes.iter().flatten().map(|e| e.disk_bytes).sum();
    if size_before <= max {
        return Ok(None);
    }
    // Only now, when something must go, read the last uses and walk the symlinked environments.
    let mut candidates = Vec::new();
    let mut judged = Vec::with_capacity(caches.len());
    for (i, (cache, entries)) in caches.iter().zip(sizes).enumerate() {
        let uses = cache.last_uses();
        let Judged { live, seen } = judge(cache);
        judged.push(seen);
        let protected: BTreeSet<String> = live.into_iter().flat_map(|env| env.entries).collect();
        candidates.extend(
            entries.into_iter().filter(|e| !used.contains(e.id.as_str()) && !protected.contains(&e.id)).map(
                |e| Candidate {
                    cache: i,
                    last_used: uses.get(&e.id).copied().unwrap_or(e.changed),
                    id: e.id,
                    disk_bytes: e.disk_bytes,
                },
            ),
        );
    }
    let lru = evict_lru(&caches, &judged, false, candidates, size_before, max)?;
    let mut removed = Vec::new();
    for (cache, gone) in caches.iter().zip(&lru.removed) {
        if !gone.is_empty() {
            cache.forget_index_records_of_missing_entries();
        }
        removed.extend(gone.iter().map(|c| Evicted {
            id: c.id.clone(),
            disk_bytes: c.disk_bytes,
            last_used: c.last_used,
        }));
    }
    removed.sort_by(|a, b| (a.last_used, &a.id).cmp(&(b.last_used, &b.id)));
    let in_use = lru.in_use.iter().sum();
    Ok(Some(Eviction { max_size: max, size_before, size_after: lru.size_after, removed, in_use }))
}

/// An entry that eviction may remove.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    /// Index of its cache.
    pub cache: usize,
    pub id: String,
    pub disk_bytes: u64,
    pub last_used: SystemTime,
}

impl Candidate {
    pub(super) fn of(cache: usize, entry: &EntryInfo) -> Candidate {
        Candidate { cache, id: entry.id.clone(), disk_bytes: entry.disk_bytes, last_used: entry.last_used }
    }
}

/// What [`evict_lru`] did, per cache: the candidates removed and how many were in use.
pub(super) struct Lru {
    pub removed: Vec<Vec<Candidate>>,
    pub in_use: Vec<usize>,
    pub size_after: u64,
}

/// Removes `candidates` of `caches`, least recently used first across all caches (ties by id),
/// from a total of `size` bytes until it is at most `max`; `judged`, per cache, the records of
/// symlinked environments the candidates were chosen by (disregarded with `force`).
pub(super) fn evict_lru(
    caches: &[Cache],
    judged: &[RecordsSeen],
    force: bool,
    mut candidates: Vec<Candidate>,
    mut size: u64,
    max: u64,
) -> Result<Lru> {
    candidates.sort_by(|a, b| (a.last_used, &a.id).cmp(&(b.last_used, &b.id)));
    let mut lru =
        Lru { removed: vec![Vec::new(); caches.len()], in_use: vec![0; caches.len()], size_after: 0 };
    for candidate in candidates {
        if size <= max {
            break;
        }
        let seen = super::unless_forced(force, &judged[candidate.cache]);
        match remove(&caches[candidate.cache], &candidate.id, seen)? {
            EntryRemoval::Removed => {
                size = size.saturating_sub(candidate.disk_bytes);
                lru.removed[candidate.cache].push(candidate);
            }
            EntryRemoval::InUse => lru.in_use[candidate.cache] += 1,
            // Removed by someone else meanwhile: its space is free all the same.
            EntryRemoval::Absent => size = size.saturating_sub(candidate.disk_bytes),
        }
    }
    lru.size_after = size;
    Ok(lru)
}

/// Space of `entries`, counting each hardlinked file once across calls sharing `seen`.
pub(super) fn deduped_bytes<'a>(
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
