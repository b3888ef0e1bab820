//! Looking after the cache as a whole: where it is (the main cache and every shard), what it
//! holds, and removing or checking entries. The frontends' `cache dir|clean|prune|verify`.
//!
//! Architecture invariants:
//! - Entries are only ever removed through [`Cache::remove_entry`] (rename into `tmp/`, then
//!   delete), so an install running at the same time finds a whole entry or none, and never
//!   one that a running install holds (its lease): such entries are kept and counted.
//! - Nothing here removes an entry that a live symlinked environment points into unless the
//!   caller passes `force`: a symlinked environment breaks when its entry goes, a hardlinked,
//!   cloned or copied one does not.
//! - Every operation applies to the main cache and to each shard found by [`locations`].
//! - Sizes are what the files take on disk; bytes "freed" count only files no environment
//!   still hardlinks (link count 1), since removing the others frees nothing.

mod envs;
mod size;
pub(crate) mod verify;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rayon::prelude::*;

use crate::cache::{Cache, EntryRemoval};
use crate::shards::{ShardPolicy, AUTO_SHARD_NAME};
use crate::wheel::normalize_name;
use crate::{platform, Error, Result};

use envs::RecordsSeen;
pub use envs::{symlinked_environments, LiveSymlinkedEnv};
pub use size::{enforce_max_size, info, Evicted, Eviction, LocationInfo};
pub use verify::{evict, verify, DamagedEntry, Repaired, VerifyReport};

/// What a cache directory is to the cache commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationKind {
    /// The cache itself (`--cache-dir`, `INSTALLER_CACHE_DIR`, `cache-dir`, or the default).
    Main,
    /// A shard listed in `cache-shards` / `INSTALLER_CACHE_SHARDS`.
    ConfiguredShard,
    /// A `.installer-cache` directory at the top of a mounted filesystem.
    AutoShard,
}

/// One cache root the cache commands act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheLocation {
    /// Made absolute; a root found twice (by another spelling or a symlink) is listed once.
    pub root: PathBuf,
    /// Decides whether the size cap and age limit apply to it ([`size_scope`]).
    pub kind: LocationKind,
    /// Whether it holds a cache now (a configured shard may not have been created yet).
    pub exists: bool,
}

/// The main cache, then every shard: the configured ones (existing or not) and every existing
/// automatic shard, `<mount point>/.installer-cache` of each mounted filesystem, that this user
/// may write and trusts as an install would ([`platform::is_trusted_cache_dir`]) (another user's, or one on a read-only mount, is not this user's to clean, prune
/// or cap). Automatic shards are found even when automatic shards are turned off now: they
/// still hold copies. Creates nothing.
pub fn locations(main: &Path, policy: &ShardPolicy) -> Vec<CacheLocation> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut add = |root: PathBuf, kind| {
        let root = std::path::absolute(&root).unwrap_or(root);
        let key = root.canonicalize().unwrap_or_else(|_| root.clone());
        if seen.insert(key) {
            let exists = is_cache(&root);
            out.push(CacheLocation { root, kind, exists });
        }
    };
    add(main.to_path_buf(), LocationKind::Main);
    for dir in &policy.dirs {
        add(dir.clone(), LocationKind::ConfiguredShard);
    }
    for mount in platform::mounts().unwrap_or_default() {
        let candidate = mount.mount_point.join(AUTO_SHARD_NAME);
        let entries = crate::cache::Layout::new(&candidate).entries();
        let trusted = std::fs::symlink_metadata(&candidate).is_ok_and(|m| platform::is_trusted_cache_dir(&m));
        if trusted && is_cache(&candidate) && platform::check_writable(&entries).is_ok() {
            add(candidate, LocationKind::AutoShard);
        }
    }
    out
}

/// Whether `root` holds an `installer` cache (so a stray `.installer-cache` of something else is
/// never touched).
fn is_cache(root: &Path) -> bool {
    crate::cache::Layout::new(root).exists()
}

/// The locations a size cap and an age limit apply to: the main cache, the configured shards,
/// and the automatic shards unless `policy` turns them off (then they are not this
/// configuration's shards, though `clean`, plain `prune` and `verify` still look after them).
pub fn size_scope(locations: Vec<CacheLocation>, policy: &ShardPolicy) -> Vec<CacheLocation> {
    locations.into_iter().filter(|l| policy.auto || l.kind != LocationKind::AutoShard).collect()
}

/// Opens each location that holds a cache; the cache commands never create one.
pub fn open_existing(locations: &[CacheLocation]) -> Result<Vec<Cache>> {
    // Checked again: an automatic shard found a moment ago may be gone with its filesystem, and
    // opening would create it anew.
    locations.iter().filter(|l| l.exists && is_cache(&l.root)).map(|l| Cache::open(&l.root)).collect()
}

/// One entry of a cache as the cache commands see it.
#[derive(Debug, Clone)]
pub struct EntryInfo {
    /// The entry's directory name, `<wheel stem>-<archive hash prefix>`.
    pub id: String,
    /// From the manifest; `None` when it is missing, unreadable or of another format.
    pub name: Option<String>,
    /// From the manifest, `None` with `name`.
    pub version: Option<String>,
    /// Every file of the entry's directory: its tree, the manifest, bytecode directories.
    pub files: u64,
    /// Space its files take on disk.
    pub disk_bytes: u64,
    /// Files that an environment (or another cache) hardlinks: link count above 1.
    pub linked_files: u64,
    /// Space of the files with a link count of 1: what removing the entry frees.
    pub unlinked_bytes: u64,
    /// The latest install that used it (see [`crate::cache::Cache::last_uses`]).
    pub last_used: SystemTime,
    /// Identity and size of each file with a link count above 1, so space shared by hardlinks
    /// is counted once.
    pub(crate) linked: Vec<((u64, u64), u64)>,
}

impl EntryInfo {
    /// Whether some hardlinked environment uses the entry (any file has a link count above 1).
    pub fn is_hardlinked(&self) -> bool {
        self.linked_files > 0
    }

    /// `name version`, or the id when the manifest cannot be read.
    pub fn label(&self) -> String {
        match (&self.name, &self.version) {
            (Some(name), Some(version)) => format!("{name} {version}"),
            _ => self.id.clone(),
        }
    }
}

/// Every entry directory of `cache`, measured (in parallel), with its last use, sorted by id.
pub fn entries(cache: &Cache) -> Result<Vec<EntryInfo>> {
    let ids = entry_ids(cache)?;
    let uses = cache.compact_usage(&ids.iter().map(String::as_str).collect::<Vec<_>>());
    Ok(ids.par_iter().map(|id| measure(cache, id, uses.get(id).copied())).collect())
}

/// The ids of `cache`'s entry directories, sorted.
fn entry_ids(cache: &Cache) -> Result<Vec<String>> {
    let dir = cache.entries_dir();
    let read = match std::fs::read_dir(&dir) {
        Ok(read) => read,
        // A shard on a filesystem unmounted since it was found: nothing there to act on.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read", &dir, e)),
    };
    let mut ids: Vec<String> = read
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    Ok(ids)
}

fn measure(cache: &Cache, id: &str, last_use: Option<SystemTime>) -> EntryInfo {
    let manifest = cache.open_entry(id).map(|e| e.manifest().clone());
    let dir = cache.entries_dir().join(id);
    // Never recorded (unpacked before uses were kept): when the entry last changed.
    let last_used = last_use.or_else(|| dir.metadata().and_then(|m| m.modified()).ok()).unwrap_or(UNIX_EPOCH);
    let mut info = EntryInfo {
        id: id.to_string(),
        name: manifest.as_ref().map(|m| m.name.clone()),
        version: manifest.as_ref().map(|m| m.version.clone()),
        files: 0,
        disk_bytes: 0,
        linked_files: 0,
        unlinked_bytes: 0,
        last_used,
        linked: Vec::new(),
    };
    // The whole directory: the tree, the manifest and every bytecode directory beside them.
    for file in walkdir::WalkDir::new(&dir).into_iter().flatten() {
        let Ok(meta) = file.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let usage = platform::disk_usage(&meta);
        info.files += 1;
        info.disk_bytes += usage;
        if platform::link_count(&meta) > 1 {
            info.linked_files += 1;
            info.linked.push((platform::file_key(&meta), usage));
        } else {
            info.unlinked_bytes += usage;
        }
    }
    info
}

/// What a removal did in one cache root.
#[derive(Debug, Clone)]
pub struct Removal {
    /// The cache root (main cache or shard).
    pub root: PathBuf,
    /// As measured before they went, for the bytes freed and `-v`'s list.
    pub removed: Vec<EntryInfo>,
    /// Entries left in place (in use, or not named).
    pub kept: usize,
    /// Of those, entries kept because a running install was using them.
    pub in_use: usize,
    /// Symlinked environments whose entries were kept because of them (prune), or that were
    /// broken because `force` was given.
    pub symlinked_envs: Vec<PathBuf>,
    /// Of `removed`: entries hardlinked environments still used, removed by prune for being
    /// last used before `--older-than`.
    pub by_age: usize,
    /// Of `removed`: such entries removed, least recently used first, to fit `--max-size`.
    pub by_size: usize,
}

impl Removal {
    /// Disk space given back: the removed files nothing else hardlinked.
    pub fn bytes_freed(&self) -> u64 {
        self.removed.iter().map(|e| e.unlinked_bytes).sum()
    }

    /// Space of removed cache files that stays in use, as hardlinks in environments.
    pub fn bytes_still_linked(&self) -> u64 {
        self.removed.iter().map(|e| e.disk_bytes - e.unlinked_bytes).sum()
    }
}

/// What `cache clean` removes.
#[derive(Debug, Clone, Default)]
pub struct CleanOptions {
    /// Distribution names (any spelling); empty means every entry.
    pub names: Vec<String>,
    /// Remove entries even when live symlinked environments point into them.
    pub force: bool,
}

/// Removes every entry of every cache (or those of the named distributions). Refuses, before
/// removing anything, with [`Error::SymlinkedEnvironments`] when a live symlinked environment
/// uses an entry that would go, unless `force`; an entry an install symlinked into meanwhile
/// stays, counted as in use. Cleaning everything also drops the wheel index and the records
/// of environments that no longer link into the cache (never those of running installs).
pub fn clean(caches: &[Cache], options: &CleanOptions) -> Result<Vec<Removal>> {
    let names: BTreeSet<String> = options.names.iter().map(|n| normalize_name(n)).collect();
    let mut plans = Vec::with_capacity(caches.len());
    let mut blocking = BTreeSet::new();
    for cache in caches {
        let (doomed, kept): (Vec<EntryInfo>, Vec<EntryInfo>) = entries(cache)?.into_iter().partition(|e| {
            names.is_empty() || e.name.as_deref().is_some_and(|n| names.contains(&normalize_name(n)))
        });
        let (broken, seen) = symlinked_users(cache, &doomed.iter().map(|e| e.id.as_str()).collect());
        blocking.extend(broken.iter().cloned());
        plans.push((cache, doomed, kept.len(), broken, seen));
    }
    refuse_to_break(&blocking, options.force)?;
    let mut out = Vec::with_capacity(plans.len());
    for (cache, doomed, kept, broken, seen) in plans {
        let (removed, in_use) = remove_all(cache, doomed, unless_forced(options.force, &seen))?;
        let in_use = in_use.len();
        if names.is_empty() {
            clear_dir(&cache.index_dir())?;
        }
        envs::forget_stale(cache);
        out.push(Removal {
            root: cache.root().to_path_buf(),
            removed,
            kept: kept + in_use,
            in_use,
            symlinked_envs: broken,
            by_age: 0,
            by_size: 0,
        });
    }
    Ok(out)
}

/// What `cache prune` may remove.
#[derive(Debug, Clone, Copy, Default)]
pub struct PruneOptions {
    /// Also remove entries that live symlinked environments point into (breaking them).
    pub force: bool,
    /// Then also remove entries last used before this time (`--older-than`).
    pub used_before: Option<SystemTime>,
    /// Then remove the least recently used entries until all caches together take at most
    /// this many bytes on disk (`--max-size`, `cache-max-size`).
    pub max_size: Option<u64>,
}

/// Removes, in every cache, the entries no environment uses: no file has a second hardlink,
/// and no live symlinked environment points into it. Entries kept only for symlinked
/// environments are reported with those environments; `force` removes them too. Environments
/// made with clone or copy do not use the cache after installing, so their entries count as
/// unused. Then, of what is left (entries hardlinked environments share, which removing does
/// not break), those last used before `used_before`, then the least recently used of all caches
/// together until they fit in `max_size`; entries symlinked environments use stay unless `force`.
pub fn prune(caches: &[Cache], options: PruneOptions) -> Result<Vec<Removal>> {
    let mut out = Vec::with_capacity(caches.len());
    let mut left = Vec::with_capacity(caches.len());
    let mut judged = Vec::with_capacity(caches.len());
    for cache in caches {
        envs::forget_stale(cache);
        let envs::Judged { live: envs, seen } = envs::judge(cache);
        let mut doomed = Vec::new();
        let mut kept = Vec::new();
        let mut for_envs = BTreeSet::new();
        let mut protected = BTreeSet::new();
        for entry in entries(cache)? {
            let users: Vec<&LiveSymlinkedEnv> =
                envs.iter().filter(|env| env.entries.contains(&entry.id)).collect();
            if !users.is_empty() && !options.force {
                protected.insert(entry.id.clone());
            }
            if entry.is_hardlinked() {
                kept.push(entry);
                continue;
            }
            for_envs.extend(users.iter().map(|env| env.venv.clone()));
            if users.is_empty() || options.force {
                doomed.push(entry);
            } else {
                kept.push(entry);
            }
        }
        let (removed, in_use) = remove_all(cache, doomed, unless_forced(options.force, &seen))?;
        let mut removal = Removal {
            root: cache.root().to_path_buf(),
            removed,
            kept: 0,
            in_use: in_use.len(),
            symlinked_envs: for_envs.into_iter().collect(),
            by_age: 0,
            by_size: 0,
        };
        // Judged for age and size: what may go. Entries in use stay, and count, as they are.
        let (mut candidates, mut stays): (Vec<EntryInfo>, Vec<EntryInfo>) =
            kept.into_iter().partition(|e| !protected.contains(&e.id));
        stays.extend(in_use);
        if let Some(cutoff) = options.used_before {
            let (old, recent): (Vec<EntryInfo>, Vec<EntryInfo>) =
                candidates.into_iter().partition(|e| e.last_used < cutoff);
            let (removed, in_use) = remove_all(cache, old, unless_forced(options.force, &seen))?;
            removal.by_age = removed.len();
            removal.in_use += in_use.len();
            removal.removed.extend(removed);
            stays.extend(in_use);
            candidates = recent;
        }
        out.push(removal);
        left.push((candidates, stays));
        judged.push(seen);
    }
    if let Some(max) = options.max_size {
        let mut seen = std::collections::HashSet::new();
        let size: u64 =
            left.iter().map(|(may, stay)| size::deduped_bytes(may.iter().chain(stay), &mut seen)).sum();
        let candidates = left
            .iter()
            .enumerate()
            .flat_map(|(i, (may, _))| may.iter().map(move |e| size::Candidate::of(i, e)));
        let lru = size::evict_lru(caches, &judged, options.force, candidates.collect(), size, max)?;
        for (((removal, gone), in_use), (candidates, _)) in
            out.iter_mut().zip(lru.removed).zip(lru.in_use).zip(&mut left)
        {
            let gone: BTreeSet<String> = gone.into_iter().map(|c| c.id).collect();
            let (removed, kept): (Vec<EntryInfo>, Vec<EntryInfo>) =
                std::mem::take(candidates).into_iter().partition(|e| gone.contains(&e.id));
            *candidates = kept;
            removal.by_size = removed.len();
            removal.in_use += in_use;
            removal.removed.extend(removed);
        }
    }
    for ((cache, removal), (candidates, stays)) in caches.iter().zip(&mut out).zip(&left) {
        removal.kept = candidates.len() + stays.len();
        cache.forget_index_records_of_missing_entries();
    }
    Ok(out)
}

/// The live symlinked environments of `cache` that link into one of `ids` (removing those
/// entries would break them), and the records they were judged by.
fn symlinked_users(cache: &Cache, ids: &BTreeSet<&str>) -> (Vec<PathBuf>, RecordsSeen) {
    let envs::Judged { live, seen } = envs::judge(cache);
    let users = live
        .into_iter()
        .filter(|env| env.entries.iter().any(|id| ids.contains(id.as_str())))
        .map(|env| env.venv)
        .collect();
    (users, seen)
}

/// Refuses, before anything is removed, to break the symlinked environments `blocking`,
/// unless `force`.
fn refuse_to_break(blocking: &BTreeSet<PathBuf>, force: bool) -> Result<()> {
    if blocking.is_empty() || force {
        return Ok(());
    }
    Err(Error::SymlinkedEnvironments { envs: blocking.iter().cloned().collect() })
}

/// `seen`, unless `force` says to break symlinked environments anyway.
fn unless_forced(force: bool, seen: &RecordsSeen) -> Option<&RecordsSeen> {
    (!force).then_some(seen)
}

/// Removes `id` from `cache`, keeping it when a symlinked environment was recorded as using it
/// since `seen` was read (`None`: `force`, never kept for that).
fn remove(cache: &Cache, id: &str, seen: Option<&RecordsSeen>) -> Result<EntryRemoval> {
    cache.remove_entry_unless(id, || seen.is_some_and(|seen| seen.written_since(cache, id)))
}

/// Removes the entries (in parallel); returns those removed, and those in use (they stay): by
/// a running install, or by an environment symlinked into them since `seen` was read.
fn remove_all(
    cache: &Cache,
    doomed: Vec<EntryInfo>,
    seen: Option<&RecordsSeen>,
) -> Result<(Vec<EntryInfo>, Vec<EntryInfo>)> {
    let outcomes: Vec<(EntryInfo, EntryRemoval)> = doomed
        .into_par_iter()
        .map(|entry| remove(cache, &entry.id, seen).map(|removal| (entry, removal)))
        .collect::<Result<_>>()?;
    let (mut removed, mut in_use) = (Vec::new(), Vec::new());
    for (entry, outcome) in outcomes {
        match outcome {
            EntryRemoval::Removed => removed.push(entry),
            EntryRemoval::InUse => in_use.push(entry),
            EntryRemoval::Absent => {}
        }
    }
    Ok((removed, in_use))
}

/// Deletes the files in `dir` (index or env records), keeping the directory.
fn clear_dir(dir: &Path) -> Result<()> {
    let Ok(read) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in read.flatten() {
        let path = entry.path();
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("delete", path, e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
