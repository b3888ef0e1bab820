//! Environments installed with `--link-mode symlink`: they point into cache entries and break
//! when those go, so `clean` and `prune` must know them. Installs record them in
//! `v1/envs/*.json` ([`Cache::record_symlinked_env`]); a record is only a hint, since the
//! environment may have been deleted or reinstalled with another mode since. What counts is
//! what the environment links to now, so the entries an environment uses are read from its
//! symlinks, not from the record.

use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::cache::{Cache, SymlinkedEnv};
use crate::platform;

/// A recorded environment that still exists and still has symlinks into the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSymlinkedEnv {
    /// The environment's root, as its record names it.
    pub venv: PathBuf,
    /// Ids of the entries its symlinks point into (and, while a process holds the
    /// environment's lock, those its record names: an install records before it links).
    pub entries: BTreeSet<String>,
}

/// The live symlinked environments of `cache`, sorted by path. Records of environments that are
/// gone, or that no longer link into the cache, are ignored.
pub fn symlinked_environments(cache: &Cache) -> Vec<LiveSymlinkedEnv> {
    judge(cache).live
}

/// What the records said when the cache commands judged which entries are in use.
pub(crate) struct Judged {
    pub live: Vec<LiveSymlinkedEnv>,
    pub seen: RecordsSeen,
}

/// The record files read when judging, each with its identity: a rewrite (temporary file and
/// rename) makes a new inode, so a record written since cannot pass for one judged.
#[derive(Debug, Default)]
pub(crate) struct RecordsSeen(HashSet<(PathBuf, RecordId)>);

/// (device, inode, mtime in ns, length) of a record file.
type RecordId = (u64, u64, i128, u64);

/// [`symlinked_environments`], with the records it judged by.
///
/// Why this is enough to never remove an entry a symlinked environment needs (with
/// [`RecordsSeen::written_since`] checked under the entry's exclusive lease): an install
/// writes its record holding the environment's lock and its entries' leases, before its first
/// link, and lets go of them only after its commit. A record read here is then either the
/// record of an install still holding the environment's lock (taken at its word), or of one
/// whose links are all in place (found by the walk, which follows the record's read and the
/// lock's check); a record written after it was read is new to `written_since`.
pub(crate) fn judge(cache: &Cache) -> Judged {
    let prefixes = entry_prefixes(cache);
    let mut seen = RecordsSeen::default();
    let mut live: Vec<LiveSymlinkedEnv> = records(cache)
        .into_iter()
        .filter_map(|(path, id, record)| {
            seen.0.insert((path, id));
            let mut entries = BTreeSet::new();
            if platform::dir_lock_held(&record.venv) {
                entries.extend(record.entries);
            }
            entries.extend(links_into(&record.venv, &prefixes));
            (!entries.is_empty()).then_some(LiveSymlinkedEnv { venv: record.venv, entries })
        })
        .collect();
    live.sort_by(|a, b| a.venv.cmp(&b.venv));
    crate::pause::point("symlinked-envs-judged");
    Judged { live, seen }
}

impl RecordsSeen {
    /// Whether a record written since these were read (new, or rewritten) names entry `id`:
    /// an install that leased it, recorded its environment and let go meanwhile. Checked by
    /// the remover holding the entry's lease exclusively, so no later install can lease it.
    /// One `stat` per record; only new ones are read.
    pub(crate) fn written_since(&self, cache: &Cache, id: &str) -> bool {
        let Ok(read) = std::fs::read_dir(cache.envs_dir()) else { return false };
        read.flatten().map(|f| f.path()).filter(|p| is_record(p)).any(|path| {
            let unchanged = std::fs::metadata(&path)
                .is_ok_and(|m| self.0.contains(&(path.clone(), platform::file_identity(&m))));
            !unchanged && read_record(&path).is_some_and(|(_, record)| record.entries.iter().any(|e| e == id))
        })
    }
}

/// Deletes the records of environments that no longer link into the cache, so they are not
/// walked again. Best effort: a record left behind costs one more walk. A record is judged
/// holding its environment's lock (one held by someone else is skipped: its install may have
/// recorded it and not linked yet), and an install records only holding that lock, so none is
/// rewritten while it is judged; that of a deleted environment goes only if it is unchanged.
pub(crate) fn forget_stale(cache: &Cache) {
    let prefixes = entry_prefixes(cache);
    for (file, id, record) in records(cache) {
        let _lock = match platform::try_lock_dir(&record.venv) {
            Ok(Some(lock)) => Some(lock),
            Ok(None) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(_) => continue,
        };
        let unchanged = std::fs::metadata(&file).is_ok_and(|m| platform::file_identity(&m) == id);
        if unchanged && links_into(&record.venv, &prefixes).is_empty() {
            let _ = std::fs::remove_file(file);
        }
    }
}

fn is_record(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
}

/// The records of `v1/envs/`, with their files and identities; unreadable ones are skipped.
fn records(cache: &Cache) -> Vec<(PathBuf, RecordId, SymlinkedEnv)> {
    let Ok(read) = std::fs::read_dir(cache.envs_dir()) else { return Vec::new() };
    read.flatten()
        .map(|f| f.path())
        .filter(|p| is_record(p))
        .filter_map(|path| {
            let (id, record) = read_record(&path)?;
            Some((path, id, record))
        })
        .collect()
}

/// A record and the identity of the file it was read from (one open, so they agree).
fn read_record(path: &Path) -> Option<(RecordId, SymlinkedEnv)> {
    let mut file = File::open(path).ok()?;
    let id = platform::file_identity(&file.metadata().ok()?);
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some((id, serde_json::from_slice(&bytes).ok()?))
}

/// The entries directory as installs wrote it into link targets, and canonicalized (in case
/// the cache was reached through a symlink).
fn entry_prefixes(cache: &Cache) -> Vec<PathBuf> {
    let dir = cache.entries_dir();
    let mut prefixes = vec![dir.clone()];
    if let Ok(real) = dir.canonicalize() {
        if real != dir {
            prefixes.push(real);
        }
    }
    prefixes
}

/// Ids of the entries that symlinks below `venv` point into; empty when `venv` is gone.
fn links_into(venv: &Path, prefixes: &[PathBuf]) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    if !venv.is_dir() {
        return ids;
    }
    for item in walkdir::WalkDir::new(venv).follow_links(false).into_iter().flatten() {
        if !item.path_is_symlink() {
            continue;
        }
        let Ok(target) = std::fs::read_link(item.path()) else { continue };
        let target = item.path().parent().unwrap_or(venv).join(target);
        let id =
            prefixes.iter().find_map(|prefix| match target.strip_prefix(prefix).ok()?.components().next() {
                Some(Component::Normal(id)) => id.to_str().map(str::to_string),
                _ => None,
            });
        ids.extend(id);
    }
    ids
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn only_environments_that_still_link_into_the_cache_are_live() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("cache")).unwrap();
        let entry = cache.entries_dir().join("pkg-1.0-py3-none-any-0123456789abcdef").join("tree");
        std::fs::create_dir_all(&entry).unwrap();
        std::fs::write(entry.join("m.py"), "").unwrap();

        let (linked, copied, gone) =
            (dir.path().join("linked"), dir.path().join("copied"), dir.path().join("gone"));
        for venv in [&linked, &copied] {
            std::fs::create_dir_all(venv.join("bin")).unwrap();
            std::os::unix::fs::symlink("/usr/bin/python3", venv.join("bin/python")).unwrap();
        }
        std::os::unix::fs::symlink(entry.join("m.py"), linked.join("m.py")).unwrap();
        std::fs::write(copied.join("m.py"), "").unwrap();
        for venv in [&linked, &copied, &gone] {
            cache.record_symlinked_env(venv, ["pkg-1.0-py3-none-any-0123456789abcdef"].into_iter()).unwrap();
        }

        let live = symlinked_environments(&cache);
        assert_eq!(
            live,
            vec![LiveSymlinkedEnv {
                venv: linked.clone(),
                entries: ["pkg-1.0-py3-none-any-0123456789abcdef".to_string()].into(),
            }]
        );
        forget_stale(&cache);
        assert_eq!(records(&cache).len(), 1);
    }
}
