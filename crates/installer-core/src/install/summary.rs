//! What an install did (or, with `dry_run`, would do): typed, so each frontend words it (the
//! CLI's summary lines and `--format json`, the C ABI's status), and the `Clock` that times its
//! phases for it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::linker::ConcreteLinkMode;

/// A distribution and one version of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistVersion {
    /// The name as its metadata spells it.
    pub name: String,
    /// Spelled where the name was read, not normalized.
    pub version: String,
}

/// What an install did, for the summary and `--format json`.
#[derive(Debug, Clone)]
pub struct InstallSummary {
    /// Distributions installed (or, in a dry run, that would be), in the order given.
    pub installed: Vec<DistVersion>,
    /// Installed versions removed because another version (or `reinstall`) replaced them.
    pub replaced: Vec<DistVersion>,
    /// Wheels skipped because that version is installed already.
    pub skipped: Vec<DistVersion>,
    /// Files placed in the environment (in a dry run: that would be).
    pub files: u64,
    /// The mode files were placed with (Copy after a fallback; still Hardlink when only the
    /// files at the filesystem's hardlink limit were copied).
    pub link_mode: ConcreteLinkMode,
    /// The mode that could not be used, when files were copied instead (all, or those at the
    /// hardlink limit).
    pub fell_back_from: Option<ConcreteLinkMode>,
    /// Files and bytes copied (whatever the reason: `copy` asked for, or a fallback).
    pub copied_files: u64,
    /// Their sizes in the cache.
    pub copied_bytes: u64,
    /// The shard linked from, when the cache was on another filesystem.
    pub shard: Option<PathBuf>,
    /// The environment, when this install created it (or, in a dry run, would).
    pub created_venv: Option<PathBuf>,
    /// Nothing was changed in the environment: what was planned is reported.
    pub dry_run: bool,
    /// Where the core's time went, phase by phase (`cache`, `plan`, ...), in order.
    pub timings: Vec<(&'static str, Duration)>,
}

/// Where an install's time went, for `--verbose`: the first place to look when one is slow.
pub(super) struct Clock {
    last: Instant,
    pub(super) laps: Vec<(&'static str, Duration)>,
}

impl Clock {
    /// Starts the first phase now.
    pub(super) fn new() -> Clock {
        let now = Instant::now();
        Clock { last: now, laps: Vec::new() }
    }

    /// Ends the phase `name`.
    pub(super) fn lap(&mut self, name: &'static str) {
        let now = Instant::now();
        self.laps.push((name, now - self.last));
        self.last = now;
    }

    /// `time: cache 4.1 ms, plan 5.0 ms, ...`
    pub(super) fn summary(&self) -> String {
        let laps: Vec<String> =
            self.laps.iter().map(|(name, d)| format!("{name} {:.1} ms", d.as_secs_f64() * 1e3)).collect();
        format!("time: {}", laps.join(", "))
    }
}
