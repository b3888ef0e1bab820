//! Link modes: how a file of a cache entry is materialised in an environment, and the probe
//! that decides, once per (cache filesystem, target filesystem) pair, which mode works.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How files get from the cache into an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum LinkMode {
    /// The best that works for the pair of filesystems: clone, else hardlink, else copy.
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

/// The mode `auto` picks for a cache and a target directory, and why.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Clone, Hardlink or Copy.
    pub mode: LinkMode,
    /// Why the better modes were not used (the OS errors), empty when clone works.
    pub reasons: Vec<String>,
}

/// Probes which mode `auto` would use between `cache` and `target_dir` (a directory that
/// exists). Creates and removes small probe files in both.
pub fn probe_auto(cache: &crate::cache::Cache, target_dir: &std::path::Path) -> crate::Result<Probe> {
    let _ = (cache, target_dir);
    todo!()
}
