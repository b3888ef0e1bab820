//! `cache verify`: re-hash every entry's files against its manifest, and its bytecode against
//! the bytecode's manifest. With hardlinks an
//! environment's file *is* the cache's file, so editing it in place (a debugging `print`, a
//! patch) edits the cache and every other environment linked to it. Verify finds such entries;
//! evicting them makes the next install unpack a clean copy.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::bytecode::{self, BytecodeSet};
use crate::cache::{Cache, CacheEntry, EntryRemoval};
use crate::manifest::{ManifestFile, Sha256Digest};
use crate::Result;

/// An entry whose files no longer match its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedEntry {
    /// The cache root (main cache or shard) holding it.
    pub root: PathBuf,
    /// The entry's directory name under the root's `entries/`; `cache verify --repair` removes
    /// it by this.
    pub id: String,
    /// `name version`, or the id when the manifest is unreadable.
    pub label: String,
    /// Files (manifest paths; bytecode as `pyc-<tag>-.../<path>`) whose content or size differs.
    pub changed: Vec<String>,
    /// Files of the manifest that are gone.
    pub missing: Vec<String>,
    /// The manifest itself is missing, unreadable or of another format: installs cannot use the
    /// entry, and cannot replace it either while it is there.
    pub unreadable_manifest: bool,
}

/// What verifying found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Entries checked, across all caches.
    pub entries: usize,
    /// Files re-hashed, and their bytes.
    pub files: u64,
    /// Their sizes as the manifests give them.
    pub bytes: u64,
    /// Sorted by cache root, then id.
    pub damaged: Vec<DamagedEntry>,
}

impl VerifyReport {
    /// Nothing is damaged: `cache verify` has nothing to report or repair.
    pub fn is_clean(&self) -> bool {
        self.damaged.is_empty()
    }
}

/// Re-hashes every file of every entry of `caches` (all files of all entries in parallel).
pub fn verify(caches: &[Cache]) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut opened: Vec<(&Cache, CacheEntry)> = Vec::new();
    for cache in caches {
        for info in super::entries(cache)? {
            report.entries += 1;
            match cache.open_entry(&info.id) {
                Some(entry) => opened.push((cache, entry)),
                None => report.damaged.push(DamagedEntry {
                    root: cache.root().to_path_buf(),
                    label: info.id.clone(),
                    id: info.id,
                    changed: Vec::new(),
                    missing: Vec::new(),
                    unreadable_manifest: true,
                }),
            }
        }
    }
    // Per entry, its trees: the unpacked files (no prefix in reports), then each bytecode set.
    let sets: Vec<Vec<BytecodeSet>> = opened.iter().map(|(_, entry)| bytecode::sets_of(entry)).collect();
    let trees: Vec<Vec<(PathBuf, String)>> = opened
        .iter()
        .zip(&sets)
        .map(|((_, entry), sets)| {
            std::iter::once((entry.tree(), String::new()))
                .chain(sets.iter().map(|set| (set.tree(), format!("{}/", set.name()))))
                .collect()
        })
        .collect();
    let jobs: Vec<(usize, usize, &ManifestFile)> = opened
        .iter()
        .enumerate()
        .flat_map(|(i, (_, entry))| {
            let files = entry.manifest().files.iter().map(move |f| (i, 0, f));
            let bytecode = (sets[i].iter().enumerate())
                .flat_map(move |(k, set)| set.manifest.files.iter().map(move |f| (i, k + 1, f)));
            files.chain(bytecode)
        })
        .collect();
    let outcomes: Vec<(usize, usize, &ManifestFile, Check)> = jobs
        .par_iter()
        .map(|&(i, tree, file)| (i, tree, file, check(&trees[i][tree].0.join(&file.path), file)))
        .collect();

    let mut per_entry: Vec<(Vec<String>, Vec<String>)> = vec![Default::default(); opened.len()];
    for (i, tree, file, outcome) in outcomes {
        report.files += 1;
        report.bytes += file.size;
        let name = || format!("{}{}", trees[i][tree].1, file.path);
        match outcome {
            Check::Intact => {}
            Check::Changed => per_entry[i].0.push(name()),
            Check::Missing => per_entry[i].1.push(name()),
        }
    }
    for ((cache, entry), (changed, missing)) in opened.iter().zip(per_entry) {
        if !changed.is_empty() || !missing.is_empty() {
            let manifest = entry.manifest();
            report.damaged.push(DamagedEntry {
                root: cache.root().to_path_buf(),
                id: entry.id().to_string(),
                label: format!("{} {}", manifest.name, manifest.version),
                changed,
                missing,
                unreadable_manifest: false,
            });
        }
    }
    report.damaged.sort_by(|a, b| (&a.root, &a.id).cmp(&(&b.root, &b.id)));
    Ok(report)
}

/// What [`evict`] did.
#[derive(Debug, Clone, Default)]
pub struct Repaired {
    /// Entries removed.
    pub removed: usize,
    /// Entries kept because a running install was using them (verify again once it is done).
    pub in_use: usize,
    /// Symlinked environments that pointed into removed entries: broken, because `force`.
    pub symlinked_envs: Vec<PathBuf>,
}

/// Removes the damaged entries from their caches (rename, then delete), so the next install
/// unpacks the wheel again. Hardlinked, cloned and copied environments keep the files they
/// have (a hardlinked one that shared an edited file keeps the edit until reinstalled); a
/// symlinked environment would break, so, as `clean` and `prune` do, it refuses before
/// removing anything with [`crate::Error::SymlinkedEnvironments`] when a live symlinked environment
/// uses a damaged entry, unless `force`; an entry an install symlinked into meanwhile stays,
/// counted as in use, like one a running install holds.
pub fn evict(caches: &[Cache], damaged: &[DamagedEntry], force: bool) -> Result<Repaired> {
    let mut plans = Vec::new();
    let mut blocking = BTreeSet::new();
    for cache in caches {
        let ids: BTreeSet<&str> =
            damaged.iter().filter(|d| d.root == cache.root()).map(|d| d.id.as_str()).collect();
        if ids.is_empty() {
            continue;
        }
        let (broken, seen) = super::symlinked_users(cache, &ids);
        blocking.extend(broken);
        plans.push((cache, ids, seen));
    }
    super::refuse_to_break(&blocking, force)?;
    let mut repaired = Repaired { symlinked_envs: blocking.into_iter().collect(), ..Repaired::default() };
    for (cache, ids, seen) in plans {
        for id in ids {
            match super::remove(cache, id, super::unless_forced(force, &seen))? {
                EntryRemoval::Removed => repaired.removed += 1,
                EntryRemoval::InUse => repaired.in_use += 1,
                EntryRemoval::Absent => {}
            }
        }
    }
    Ok(repaired)
}

pub(crate) enum Check {
    Intact,
    Changed,
    Missing,
}

/// Whether the file at `path` is the manifest's `expected` file (size, then SHA-256).
pub(crate) fn check(path: &Path, expected: &ManifestFile) -> Check {
    match hash_file(path, expected) {
        Ok(true) => Check::Intact,
        Ok(false) => Check::Changed,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Check::Missing,
        // Unreadable (permissions, I/O error): installs would fail on it too.
        Err(_) => Check::Changed,
    }
}

/// Whether the file has the manifest's size and SHA-256.
fn hash_file(path: &Path, expected: &ManifestFile) -> io::Result<bool> {
    if std::fs::metadata(path)?.len() != expected.size {
        return Ok(false);
    }
    Ok(Sha256Digest::of_file(path)? == expected.hash)
}
