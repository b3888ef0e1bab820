//! Environments installed with `--link-mode symlink`: they point into cache entries and break
//! when those go, so `clean` and `prune` must know them. Installs record them in
//! `v1/envs/*.json` ([`Cache::record_symlinked_env`]); a record is only a hint, since the
//! environment may have been deleted or reinstalled with another mode since. What counts is
//! what the environment links to now, so the entries an environment uses are read from its
//! symlinks, not from the record.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use crate::cache::{Cache, SymlinkedEnv};

/// A recorded environment that still exists and still has symlinks into the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSymlinkedEnv {
    pub venv: PathBuf,
    /// Ids of the entries its symlinks point into.
    pub entries: BTreeSet<String>,
}

/// The live symlinked environments of `cache`, sorted by path. Records of environments that are
/// gone, or that no longer link into the cache, are ignored.
pub fn symlinked_environments(cache: &Cache) -> Vec<LiveSymlinkedEnv> {
    let prefixes = entry_prefixes(cache);
    let mut live: Vec<LiveSymlinkedEnv> = records(cache)
        .into_iter()
        .filter_map(|(_, record)| {
            let entries = links_into(&record.venv, &prefixes);
            (!entries.is_empty()).then_some(LiveSymlinkedEnv { venv: record.venv, entries })
        })
        .collect();
    live.sort_by(|a, b| a.venv.cmp(&b.venv));
    live
}

/// Deletes the records of environments that no longer link into the cache, so they are not
/// walked again. Best effort: a record left behind costs one more walk.
pub(crate) fn forget_stale(cache: &Cache) {
    let prefixes = entry_prefixes(cache);
    for (file, record) in records(cache) {
        if links_into(&record.venv, &prefixes).is_empty() {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// The records of `v1/envs/`, with their files; unreadable ones are skipped.
fn records(cache: &Cache) -> Vec<(PathBuf, SymlinkedEnv)> {
    let Ok(read) = std::fs::read_dir(cache.envs_dir()) else { return Vec::new() };
    read.flatten()
        .map(|f| f.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter_map(|path| {
            let record = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
            Some((path, record))
        })
        .collect()
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
            cache.record_symlinked_env(venv, ["pkg-1.0-py3-none-any-0123456789abcdef"].into_iter());
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
