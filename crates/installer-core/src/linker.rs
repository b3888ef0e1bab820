//! Link modes: how a file of a cache entry is materialised in an environment, and the probe
//! that decides, once per (cache filesystem, target filesystem) pair, which mode works.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::platform::Dir;

/// How files get from the cache into an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum LinkMode {
    /// The fastest safe mode that works for the pair of filesystems: hardlink, else clone
    /// (where hardlinks cannot be made), else copy. A clone costs several hardlinks on XFS.
    #[default]
    Auto,
    /// Copy-on-write clones (FICLONE, clonefile): independent files that share blocks.
    #[cfg_attr(feature = "clap", value(alias = "reflink"))]
    #[serde(alias = "reflink")]
    Clone,
    /// Hard links into the cache: one copy on disk; survives a cache clean.
    Hardlink,
    /// Full copies.
    Copy,
    /// Symbolic links into the cache: breaks if the cache entry is removed.
    Symlink,
}

impl LinkMode {
    /// The name used on the command line, in config and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkMode::Auto => "auto",
            LinkMode::Clone => "clone",
            LinkMode::Hardlink => "hardlink",
            LinkMode::Copy => "copy",
            LinkMode::Symlink => "symlink",
        }
    }
}

impl fmt::Display for LinkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LinkMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auto" => LinkMode::Auto,
            "clone" | "reflink" => LinkMode::Clone,
            "hardlink" => LinkMode::Hardlink,
            "copy" => LinkMode::Copy,
            "symlink" => LinkMode::Symlink,
            _ => {
                return Err(format!(
                    "unknown link mode `{s}` (expected auto, clone, reflink, hardlink, copy or symlink)"
                ))
            }
        })
    }
}

/// A link mode as used: what a probe found to work, and what every file of an install is
/// placed with. [`LinkMode`] is what was asked for (`auto` among them); this has no `auto`,
/// so code that places files never has to decide what `auto` would mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConcreteLinkMode {
    /// A copy-on-write clone (FICLONE, clonefile): needs both ends on one filesystem that
    /// supports it.
    Clone,
    /// A hard link: needs both ends on one filesystem.
    Hardlink,
    /// A full copy: works everywhere, the fallback of every other mode.
    Copy,
    /// A symbolic link to the cache's file: only when asked for, never chosen by `auto`.
    Symlink,
}

impl ConcreteLinkMode {
    /// The name used in messages, in `--format json` and by `installer_probe_link_mode`.
    pub fn as_str(self) -> &'static str {
        LinkMode::from(self).as_str()
    }

    /// `hardlinking`, `cloning`, ...: what a fallback to copying did not do.
    pub fn gerund(self) -> &'static str {
        match self {
            ConcreteLinkMode::Clone => "cloning",
            ConcreteLinkMode::Hardlink => "hardlinking",
            ConcreteLinkMode::Symlink => "symlinking",
            ConcreteLinkMode::Copy => "copying",
        }
    }

    /// What placing a file was doing when it failed: `cannot hardlink into <path>`.
    pub fn io_action(self) -> &'static str {
        match self {
            ConcreteLinkMode::Clone => "clone into",
            ConcreteLinkMode::Hardlink => "hardlink into",
            ConcreteLinkMode::Symlink => "symlink into",
            ConcreteLinkMode::Copy => "copy into",
        }
    }
}

impl From<ConcreteLinkMode> for LinkMode {
    fn from(mode: ConcreteLinkMode) -> LinkMode {
        match mode {
            ConcreteLinkMode::Clone => LinkMode::Clone,
            ConcreteLinkMode::Hardlink => LinkMode::Hardlink,
            ConcreteLinkMode::Copy => LinkMode::Copy,
            ConcreteLinkMode::Symlink => LinkMode::Symlink,
        }
    }
}

impl fmt::Display for ConcreteLinkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do when the chosen link mode cannot be used between the cache and the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum LinkFallback {
    /// Copy, and say once why and how to fix it.
    #[default]
    Warn,
    /// Copy without a word (a cache on another drive on purpose).
    Quiet,
    /// Fail before touching the environment (CI that must not fill its disk with copies).
    Error,
}

impl LinkFallback {
    /// The name used on the command line and in config.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkFallback::Warn => "warn",
            LinkFallback::Quiet => "quiet",
            LinkFallback::Error => "error",
        }
    }
}

impl fmt::Display for LinkFallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LinkFallback {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "warn" => LinkFallback::Warn,
            "quiet" => LinkFallback::Quiet,
            "error" => LinkFallback::Error,
            _ => return Err(format!("unknown link fallback `{s}` (expected warn, quiet or error)")),
        })
    }
}

/// Puts the file `src_rel` of `src` (a cache entry's tree) at `dst_rel` under `dst` with a
/// concrete mode, resolving both against the open directories. `dst_rel` must not exist (an
/// existing one is an `AlreadyExists` error in every mode, never overwritten, so the
/// transaction moves it aside first and a rollback can put it back).
pub fn materialize_at(
    mode: ConcreteLinkMode,
    src: &Dir,
    src_rel: &str,
    dst: &Dir,
    dst_rel: &str,
) -> io::Result<()> {
    match mode {
        ConcreteLinkMode::Clone => src.reflink(src_rel, dst, dst_rel),
        ConcreteLinkMode::Hardlink => src.hard_link(src_rel, dst, dst_rel),
        ConcreteLinkMode::Symlink => src.symlink(src_rel, dst, dst_rel),
        ConcreteLinkMode::Copy => src.copy(src_rel, dst, dst_rel),
    }
}

/// What probing a (cache, target) pair found for a requested mode.
#[derive(Debug)]
pub struct Probe {
    /// The mode that works.
    pub mode: ConcreteLinkMode,
    /// Each better mode that failed, with the OS error, best first.
    pub failures: Vec<(ConcreteLinkMode, io::Error)>,
    /// Why no sample file could be written on the cache's side (its filesystem is full), when
    /// a file of a cache entry was linked instead.
    pub sample_error: Option<io::Error>,
}

impl Probe {
    /// Whether the result is a fallback to copy from something better that was asked for.
    pub fn fell_back(&self) -> bool {
        self.mode == ConcreteLinkMode::Copy && !self.failures.is_empty()
    }

    /// The failure to explain to the user: the first mode tried (for `auto`, hardlink's error
    /// is the telling one; clone failing on ext4 is expected).
    pub fn reason(&self) -> Option<&(ConcreteLinkMode, io::Error)> {
        self.failures.first()
    }

    /// Why this mode, in a few words, for `-v` and `doctor`: what `auto` preferred and why it
    /// did not get it, or that the mode was asked for.
    pub fn why(&self, requested: LinkMode) -> String {
        let first_error = || self.reason().map(|(_, e)| e.to_string()).unwrap_or_default();
        match (requested, self.mode) {
            (LinkMode::Auto, ConcreteLinkMode::Hardlink) => {
                "auto prefers hardlinks: one directory entry per file, no data written".into()
            }
            (LinkMode::Auto, ConcreteLinkMode::Clone) => {
                format!("hardlinks cannot be made here ({}); clones are the next fastest", first_error())
            }
            (LinkMode::Auto, _) => "neither hardlinks nor clones work here".into(),
            (requested, mode) if requested == mode.into() => format!("{mode} was asked for"),
            (requested, _) => format!("{requested} was asked for and does not work here ({})", first_error()),
        }
    }
}

/// A file already on the cache's filesystem: `rel` under the directory `dir` (a cache entry's
/// tree and one of its files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingFile {
    /// Opened once, so that the kernel resolves `rel` inside it only.
    pub dir: PathBuf,
    /// `/`-separated, as the entry's manifest lists it.
    pub rel: String,
}

/// Tries the modes `requested` allows, best first, by materialising a small probe file from
/// `source_dir` (on the cache's filesystem) into `target_dir`. Run once per pair of
/// filesystems, not per file. Leaves nothing behind in either directory.
///
/// Where no sample can be written in `source_dir` (the cache's filesystem is out of space or
/// inodes), the file `existing` gives, if any, is linked instead: a warm install writes nothing
/// else in the cache, so a full cache must not stop it. Only without one is that an error.
pub fn probe(
    requested: LinkMode,
    source_dir: &Path,
    existing: &dyn Fn() -> Option<ExistingFile>,
    target_dir: &Path,
) -> io::Result<Probe> {
    let candidates: &[ConcreteLinkMode] = match requested {
        // Hardlink first: no data is written at all, where a clone writes an inode and its
        // extent map (3-4 times the cost of a hardlink on XFS).
        LinkMode::Auto => &[ConcreteLinkMode::Hardlink, ConcreteLinkMode::Clone],
        LinkMode::Clone => &[ConcreteLinkMode::Clone],
        LinkMode::Hardlink => &[ConcreteLinkMode::Hardlink],
        LinkMode::Symlink => &[ConcreteLinkMode::Symlink],
        LinkMode::Copy => &[],
    };
    if candidates.is_empty() {
        return Ok(Probe { mode: ConcreteLinkMode::Copy, failures: Vec::new(), sample_error: None });
    }
    // The sample is kept (removed when dropped) until the probe is over.
    let (source, file, sample_error, _sample) = match write_sample(source_dir) {
        Ok(sample) => {
            let name = sample.path().file_name().and_then(|n| n.to_str()).expect("tempfile names are ASCII");
            (Dir::open(source_dir)?, name.to_owned(), None, Some(sample))
        }
        Err(e) => match existing() {
            Some(ExistingFile { dir, rel }) => (Dir::open(&dir)?, rel, Some(e), None),
            None => return Err(e),
        },
    };
    let target = Dir::open(target_dir)?;
    let mut failures = Vec::new();
    for &mode in candidates {
        let dst = unique_sibling(target_dir, ".installer-probe-");
        let dst = dst.file_name().and_then(|n| n.to_str()).expect("an ASCII name");
        match materialize_at(mode, &source, &file, &target, dst) {
            Ok(()) => {
                let _ = target.remove_file(dst);
                return Ok(Probe { mode, failures, sample_error });
            }
            Err(e) => failures.push((mode, e)),
        }
    }
    Ok(Probe { mode: ConcreteLinkMode::Copy, failures, sample_error })
}

/// The probe's sample file in `dir`. An error names `dir`: the sample is written on the
/// cache's side, and a full cache must not be blamed on the target the caller's message names.
fn write_sample(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    let in_dir = |e: io::Error| {
        io::Error::new(e.kind(), format!("cannot write a probe file in {}: {e}", dir.display()))
    };
    let sample = tempfile::Builder::new().prefix(".installer-probe-").tempfile_in(dir).map_err(in_dir)?;
    std::fs::write(sample.path(), b"installer link probe\n").map_err(in_dir)?;
    Ok(sample)
}

/// Tries `mode` (a concrete one) with a real file: `file_rel` of `source_dir` materialised into
/// `target_dir` under a fresh name, then removed. For a read-only cache layer, where no probe
/// sample can be written.
pub fn try_file(
    mode: ConcreteLinkMode,
    source_dir: &Path,
    file_rel: &str,
    target_dir: &Path,
) -> io::Result<()> {
    let (source, target) = (Dir::open(source_dir)?, Dir::open(target_dir)?);
    let dst = unique_sibling(target_dir, ".installer-probe-");
    let dst = dst.file_name().and_then(|n| n.to_str()).expect("an ASCII name");
    materialize_at(mode, &source, file_rel, &target, dst)?;
    let _ = target.remove_file(dst);
    Ok(())
}

fn unique_sibling(dir: &Path, prefix: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{prefix}{}-{n}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_with_the_reflink_alias() {
        assert_eq!("reflink".parse::<LinkMode>().unwrap(), LinkMode::Clone);
        assert_eq!("hardlink".parse::<LinkMode>().unwrap(), LinkMode::Hardlink);
        let err = "bogus".parse::<LinkMode>().unwrap_err();
        assert!(err.contains("unknown link mode `bogus`"), "{err}");
        assert_eq!("quiet".parse::<LinkFallback>().unwrap(), LinkFallback::Quiet);
    }

    #[test]
    fn hardlink_probe_on_one_filesystem_succeeds_and_leaves_nothing() {
        let (src, dst) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let probe = probe(LinkMode::Hardlink, src.path(), &|| None, dst.path()).unwrap();
        assert_eq!(probe.mode, ConcreteLinkMode::Hardlink);
        assert!(!probe.fell_back());
        assert_eq!(std::fs::read_dir(src.path()).unwrap().count(), 0);
        assert_eq!(std::fs::read_dir(dst.path()).unwrap().count(), 0);
    }

    /// Where no sample can be written (a full cache; here, its directory is missing), the
    /// existing file given is linked instead, and left as it was; without one, the error names
    /// where the sample was to be written.
    #[test]
    fn without_room_for_a_sample_an_existing_file_is_probed_with() {
        let (src, dst) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::create_dir(src.path().join("pkg")).unwrap();
        std::fs::write(src.path().join("pkg/mod.py"), "x = 1\n").unwrap();
        let full = src.path().join("tmp");
        let existing = || Some(ExistingFile { dir: src.path().to_path_buf(), rel: "pkg/mod.py".into() });
        let probe = probe(LinkMode::Auto, &full, &existing, dst.path()).unwrap();
        assert_eq!(probe.mode, ConcreteLinkMode::Hardlink);
        let error = probe.sample_error.unwrap().to_string();
        assert!(error.starts_with(&format!("cannot write a probe file in {}: ", full.display())), "{error}");
        assert_eq!(std::fs::read_dir(dst.path()).unwrap().count(), 0);
        let meta = std::fs::metadata(src.path().join("pkg/mod.py")).unwrap();
        assert_eq!(crate::platform::link_count(&meta), 1);

        let error = super::probe(LinkMode::Auto, &full, &|| None, dst.path()).unwrap_err().to_string();
        assert!(error.starts_with(&format!("cannot write a probe file in {}: ", full.display())), "{error}");
    }

    #[test]
    fn auto_prefers_hardlinks_where_they_work_and_says_why() {
        let (src, dst) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let probe = probe(LinkMode::Auto, src.path(), &|| None, dst.path()).unwrap();
        assert_eq!(probe.mode, ConcreteLinkMode::Hardlink);
        assert!(probe.failures.is_empty());
        assert!(
            probe.why(LinkMode::Auto).starts_with("auto prefers hardlinks"),
            "{}",
            probe.why(LinkMode::Auto)
        );
    }

    #[test]
    fn hardlink_into_another_filesystem_falls_back_to_copy_with_the_os_error() {
        let shm = Path::new("/dev/shm");
        if !shm.is_dir()
            || crate::platform::device_id(shm).ok() == crate::platform::device_id(&std::env::temp_dir()).ok()
        {
            crate::testing::skip("/dev/shm is not a separate filesystem here");
            return;
        }
        let (src, dst) = (tempfile::tempdir_in(shm).unwrap(), tempfile::tempdir().unwrap());
        let probe = probe(LinkMode::Hardlink, src.path(), &|| None, dst.path()).unwrap();
        assert!(probe.fell_back());
        let (mode, err) = probe.reason().unwrap();
        assert_eq!(*mode, ConcreteLinkMode::Hardlink);
        assert!(crate::platform::is_cross_device(err), "{err}");
    }
}
