//! When each entry was last used, kept in the cache root's usage log `v1/used.log` rather than
//! in atimes (often not updated: `noatime`, `relatime`; and touched by backups and by `cache
//! verify`), so that `cache-max-size` can evict the least recently used entries and `cache prune
//! --older-than` the old ones.
//!
//! An install appends one line per entry it used (found through the index, unpacked, or
//! imported into a shard), `<unix time in ns> <entry id>`, in ONE `write` to the log opened with
//! `O_APPEND`: three system calls per cache root per install, none per wheel or per file.
//! Appends of concurrent installs do not interleave (each is one small `write` at the end of
//! the file). Readers take the latest line of each id; an entry with no line counts as used when
//! its directory last changed (its publication, or its latest bytecode).
//!
//! The log is rewritten, keeping the latest line of each entry that still exists, by whoever
//! measures the cache (the `cache-max-size` check after an install, `cache prune`, `cache info`)
//! once it holds many more lines than entries. An append racing that rewrite may be lost: the entry then looks older than it is,
//! which can only get it evicted sooner (a running install's entries are leased, so never while
//! it is in use). The log is a hint for ordering; nothing depends on it for safety.
//!
//! `v1/sizes.json` remembers the space each entry takes on disk, keyed by its directory's mtime
//! and link count (which change only when a bytecode directory is published into it), so the `cache-max-size` check after
//! an install costs one `stat` per entry instead of one per cached file. Also only a hint: a
//! lost or stale record is measured again.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{write_atomically, Cache};

/// An entry's space on disk, as measured when its directory had this mtime and link count
/// (2 + its subdirectories: the link count tells a new bytecode directory even within one
/// tick of a coarse filesystem clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct SizeRecord {
    mtime_ns: u128,
    nlink: u64,
    disk_bytes: u64,
}

/// An entry as the size cap sees it.
#[derive(Debug, Clone)]
pub(crate) struct EntrySize {
    pub id: String,
    pub disk_bytes: u64,
    /// When its directory last changed: its last use when none is recorded.
    pub changed: SystemTime,
}

/// Rewrite the log when it has more than this many lines per entry (plus a floor, so small
/// caches are not rewritten for a few lines).
const LINES_PER_ENTRY: usize = 4;
const MIN_LINES_TO_COMPACT: usize = 1024;

impl Cache {
    fn usage_log(&self) -> std::path::PathBuf {
        self.layout().usage_log()
    }

    /// Records that entries `ids` were used now: one appended `write`. Best effort: a cache
    /// that cannot be written (read-only) just keeps its older records.
    pub(crate) fn record_use<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
        let mut lines = String::new();
        for id in ids {
            lines.push_str(&format!("{now} {id}\n"));
        }
        if lines.is_empty() {
            return;
        }
        let log = std::fs::OpenOptions::new().append(true).create(true).open(self.usage_log());
        if let Ok(mut log) = log {
            let _ = log.write_all(lines.as_bytes());
        }
    }

    /// The latest recorded use of every entry in the log (entries since removed included).
    pub fn last_uses(&self) -> HashMap<String, SystemTime> {
        let text = std::fs::read_to_string(self.usage_log()).unwrap_or_default();
        parse(&text).0
    }

    /// [`Cache::last_uses`], from the same read of the log that then rewrites it with one line
    /// per entry of `live` when it has grown well past that.
    pub(crate) fn compact_usage(&self, live: &[&str]) -> HashMap<String, SystemTime> {
        let Ok(text) = std::fs::read_to_string(self.usage_log()) else { return HashMap::new() };
        let (uses, lines) = parse(&text);
        if lines <= MIN_LINES_TO_COMPACT.max(LINES_PER_ENTRY * live.len()) {
            return uses;
        }
        let mut out = String::new();
        for id in live {
            if let Some(when) = uses.get(*id) {
                let ns = when.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
                out.push_str(&format!("{ns} {id}\n"));
            }
        }
        let _ = write_atomically(&self.usage_log(), out.as_bytes());
        uses
    }

    /// Compacts the log when it may have grown well past `live`, at the cost of one `stat`
    /// otherwise: the `cache-max-size` check calls it after every capped install, so the log
    /// stays bounded even when nothing has to be evicted and nobody runs `cache info`.
    pub(crate) fn bound_usage_log(&self, live: &[String]) {
        // A line is at least 20 bytes (19 digits of nanoseconds and a space before the id),
        // so a log this short cannot hold more lines than compaction waits for.
        let most_lines = MIN_LINES_TO_COMPACT.max(LINES_PER_ENTRY * live.len()) as u64;
        if std::fs::metadata(self.usage_log()).is_ok_and(|m| m.len() > most_lines * 20) {
            self.compact_usage(&live.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}

impl Cache {
    /// The size of each entry of `ids` (those still there): remembered ones for a `stat` of the
    /// entry's directory, the others measured (a walk) and remembered.
    pub(crate) fn entry_sizes(&self, ids: &[String]) -> Vec<EntrySize> {
        use rayon::prelude::*;
        let path = self.layout().sizes();
        let known: HashMap<String, SizeRecord> =
            std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        let found: Vec<(EntrySize, SizeRecord, bool)> = ids
            .par_iter()
            .filter_map(|id| {
                let dir = self.entries_dir().join(id);
                let meta = dir.metadata().ok()?;
                let changed = meta.modified().ok()?;
                let mtime_ns = changed.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
                let nlink = crate::platform::link_count(&meta);
                let (record, fresh) = match known.get(id) {
                    Some(record) if (record.mtime_ns, record.nlink) == (mtime_ns, nlink) => (*record, false),
                    _ => (SizeRecord { mtime_ns, nlink, disk_bytes: disk_bytes(&dir) }, true),
                };
                Some((EntrySize { id: id.clone(), disk_bytes: record.disk_bytes, changed }, record, fresh))
            })
            .collect();
        if found.iter().any(|(_, _, fresh)| *fresh) || found.len() != known.len() {
            let records: HashMap<&str, SizeRecord> =
                found.iter().map(|(e, r, _)| (e.id.as_str(), *r)).collect();
            let _ = write_atomically(&path, &serde_json::to_vec(&records).unwrap_or_default());
        }
        found.into_iter().map(|(entry, _, _)| entry).collect()
    }
}

/// Space the files under `dir` take on disk, each (device, inode) once.
fn disk_bytes(dir: &Path) -> u64 {
    let mut seen = std::collections::HashSet::new();
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file() && seen.insert(crate::platform::file_key(m)))
        .map(|m| crate::platform::disk_usage(&m))
        .sum()
}

/// The latest time of each id, and the number of lines. Malformed lines (a torn write after a
/// crash) are skipped.
fn parse(text: &str) -> (HashMap<String, SystemTime>, usize) {
    let mut uses: HashMap<String, SystemTime> = HashMap::new();
    let mut lines = 0;
    for line in text.lines() {
        lines += 1;
        let Some((ns, id)) = line.split_once(' ') else { continue };
        let Ok(ns) = ns.parse::<u64>() else { continue };
        if id.is_empty() || id.contains(['/', ' ']) {
            continue;
        }
        let when = UNIX_EPOCH + Duration::from_nanos(ns);
        uses.entry(id.to_string()).and_modify(|t| *t = (*t).max(when)).or_insert(when);
    }
    (uses, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_line_of_each_entry_counts_and_torn_lines_are_skipped() {
        let (uses, lines) = parse("30 a-1\n10 b-1\n20 a-1\n40 b-1\nxx c\n5");
        assert_eq!(lines, 6);
        assert_eq!(uses.len(), 2);
        assert_eq!(uses["a-1"], UNIX_EPOCH + Duration::from_nanos(30));
        assert_eq!(uses["b-1"], UNIX_EPOCH + Duration::from_nanos(40));
    }

    #[test]
    fn appends_accumulate_and_compaction_keeps_live_entries_only() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        cache.record_use(["a-1", "b-1"]);
        cache.record_use(["a-1"]);
        let uses = cache.last_uses();
        assert!(uses["a-1"] >= uses["b-1"]);
        for _ in 0..MIN_LINES_TO_COMPACT {
            cache.record_use(["gone-1"]);
        }
        let before = cache.last_uses();
        assert_eq!(cache.compact_usage(&["a-1", "b-1"]), before, "it returns what it read");
        let text = std::fs::read_to_string(cache.usage_log()).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert_eq!(cache.last_uses(), uses);
    }

    #[test]
    fn a_long_log_is_bounded_and_a_short_one_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let live = vec!["a-1".to_string()];
        cache.record_use(["a-1", "gone-1"]);
        cache.bound_usage_log(&live);
        assert_eq!(
            std::fs::read_to_string(cache.usage_log()).unwrap().lines().count(),
            2,
            "short: untouched"
        );
        for _ in 0..MIN_LINES_TO_COMPACT {
            cache.record_use(["gone-1"]);
        }
        cache.bound_usage_log(&live);
        let text = std::fs::read_to_string(cache.usage_log()).unwrap();
        assert_eq!(text.lines().collect::<Vec<_>>().len(), 1, "{text}");
        assert!(text.ends_with(" a-1\n"), "{text}");
    }

    #[test]
    fn sizes_are_remembered_until_a_bytecode_directory_joins_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let entry = cache.entries_dir().join("a-1");
        std::fs::create_dir_all(entry.join("tree")).unwrap();
        std::fs::write(entry.join("tree/m.py"), vec![b'x'; 10_000]).unwrap();
        let ids = ["a-1".to_string(), "gone-1".to_string()];
        let first = cache.entry_sizes(&ids);
        assert_eq!(first.len(), 1, "only entries that exist");
        assert_eq!(first[0].disk_bytes, disk_bytes(&entry));
        assert!(first[0].disk_bytes > 0);

        // Remembered: a file slipped into the tree (never done to a published entry) is not
        // seen, which shows that nothing was walked.
        std::fs::write(entry.join("tree/n.py"), vec![b'y'; 10_000]).unwrap();
        assert_eq!(cache.entry_sizes(&ids)[0].disk_bytes, first[0].disk_bytes);

        std::fs::create_dir(entry.join("pyc-cpython-312-0-v1")).unwrap();
        std::fs::write(entry.join("pyc-cpython-312-0-v1/m.pyc"), vec![b'z'; 10_000]).unwrap();
        assert_eq!(cache.entry_sizes(&ids)[0].disk_bytes, disk_bytes(&entry));
        assert!(disk_bytes(&entry) > first[0].disk_bytes);
    }
}
