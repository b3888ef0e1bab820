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
//! measures the cache (eviction, `cache prune`, `cache info`) once it holds many more lines than
//! entries. An append racing that rewrite may be lost: the entry then looks older than it is,
//! which can only get it evicted sooner (a running install's entries are leased, so never while
//! it is in use). The log is a hint for ordering; nothing depends on it for safety.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{write_atomically, Cache, LAYOUT};

/// The usage log's file name, in `v1/`.
const USAGE_LOG: &str = "used.log";

/// Rewrite the log when it has more than this many lines per entry (plus a floor, so small
/// caches are not rewritten for a few lines).
const LINES_PER_ENTRY: usize = 4;
const MIN_LINES_TO_COMPACT: usize = 1024;

impl Cache {
    fn usage_log(&self) -> std::path::PathBuf {
        self.root.join(LAYOUT).join(USAGE_LOG)
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

    /// Rewrites the log with one line per entry of `live` when it has grown well past that.
    pub(crate) fn compact_usage(&self, live: &[&str]) {
        let Ok(text) = std::fs::read_to_string(self.usage_log()) else { return };
        let (uses, lines) = parse(&text);
        if lines <= MIN_LINES_TO_COMPACT.max(LINES_PER_ENTRY * live.len()) {
            return;
        }
        let mut out = String::new();
        for id in live {
            if let Some(when) = uses.get(*id) {
                let ns = when.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
                out.push_str(&format!("{ns} {id}\n"));
            }
        }
        let _ = write_atomically(&self.usage_log(), out.as_bytes());
    }
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
        cache.compact_usage(&["a-1", "b-1"]);
        let text = std::fs::read_to_string(cache.usage_log()).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert_eq!(cache.last_uses(), uses);
    }
}
