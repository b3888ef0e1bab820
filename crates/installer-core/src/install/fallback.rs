//! Why files are copied rather than linked, as facts for the frontends to word: a fallback
//! (`Fallback`, the one warning, with the shard's own failure and where a cache that links
//! could go, `CacheAdvice`), or a slower mode `auto` chose on purpose (`QuietReason`, said
//! under `-v`). `link.rs` decides; this is what it hands back, and what `doctor` shares.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::linker::ConcreteLinkMode;
use crate::platform;
use crate::shards::suggest_cache_dir;
use crate::units::{human_bytes, thousands};

/// Why the cache shard on the environment's filesystem could not be used, for the fallback
/// warning.
#[derive(Debug)]
pub struct ShardFailure {
    /// The reason in a few words, with the OS error.
    pub why: String,
    /// The shard was there and linking from it failed as well: the environment's filesystem
    /// cannot link, so no cache directory would help (rather than the shard not being usable).
    pub filesystem_cannot_link: bool,
}

/// Why `auto` chose a slower mode than the probe allowed, on purpose and without a warning:
/// facts for `-v` and `doctor` (the `Display` is the reason in a few words).
#[derive(Debug)]
pub enum QuietReason {
    /// The entries were published read-only by another user of a shared cache, and hardlinks
    /// to them are refused (`protected_hardlinks`).
    OthersReadOnlyEntries {
        /// The first such entry's directory, whose file was tried.
        entry: PathBuf,
        /// What the hardlink of that file got (`EPERM`).
        error: io::Error,
    },
    /// The cache (`cache`, a directory of it) exists in `lower`, a lower layer of an overlay
    /// filesystem (an image layer): a hardlink would copy each file up first, slower than a copy.
    OverlayLowerLayer {
        /// The cache's root.
        cache: PathBuf,
        /// The layer's directory: one of the overlay's `lowerdir`s, from mountinfo.
        lower: PathBuf,
    },
    /// The target is on a container's root filesystem (an overlay at `/`) and the cache
    /// (`cache`, a directory of it) on a separate mount, as a build's cache mount is: nothing
    /// can hold a shard, so copying is expected.
    ContainerCacheMount {
        /// The cache's root (or the directory probed from, for a cache not made yet).
        cache: PathBuf,
    },
    /// The cache is a temporary one (`--no-cache`, or receiving what a cache this user cannot
    /// write would have), on another filesystem than the target: copying is expected.
    TemporaryCache {
        /// The temporary cache's root, removed after the install.
        cache: PathBuf,
    },
    /// Every link mode tried was refused because `target` takes no new file at all (a
    /// read-only filesystem, no permission, no space): a copy will be refused the same way, at
    /// the install's first write, whose error names it. Not a fallback whose warning would
    /// promise a complete install.
    TargetNotWritable {
        /// Where the probes wrote: site-packages (or the nearest directory that exists).
        target: PathBuf,
        /// The first mode's failure (`EROFS`, `EACCES`, `ENOSPC`...).
        error: io::Error,
    },
}

impl fmt::Display for QuietReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuietReason::OthersReadOnlyEntries { entry, error } => write!(
                f,
                "another user published {} read-only in this shared cache, and hardlinks to it are refused ({error})",
                entry.display()
            ),
            QuietReason::OverlayLowerLayer { cache, lower } => write!(
                f,
                "the cache {} is in a lower layer of an overlay filesystem ({}): a hardlink would first copy \
                 each file up into the upper layer, which is slower than copying",
                cache.display(),
                lower.display()
            ),
            QuietReason::ContainerCacheMount { cache } => write!(
                f,
                "the target is on a container's root filesystem (an overlay at `/`) and the cache {} on a \
                 separate mount, such as a build's cache mount: no cache shard can be made there, so files \
                 are copied",
                cache.display()
            ),
            QuietReason::TemporaryCache { cache } => write!(
                f,
                "the cache {} is a temporary one, removed after this install (`--no-cache`, or a cache this \
                 user cannot write), on another filesystem than the target: files are copied, and no cache \
                 shard is kept for it",
                cache.display()
            ),
            QuietReason::TargetNotWritable { target, error } => write!(
                f,
                "{} takes no new file ({error}): copying cannot work either, and the install fails at \
                 its first write",
                target.display()
            ),
        }
    }
}

/// A fallback to copying, with what is needed to explain it once: facts only. Its `Display`
/// says what happens and why; each frontend adds the fixes in its own terms (CLI flags, C
/// functions).
#[derive(Debug)]
pub struct Fallback {
    /// The first mode tried and failed (for `auto`, hardlink), named by the warning.
    pub failed: ConcreteLinkMode,
    /// Why it failed; `EXDEV` makes it a cross-device fallback ([`Fallback::cross_device`]).
    pub error: io::Error,
    /// The root of the cache (or shard) that files would have been linked from.
    pub cache: PathBuf,
    /// The environment's root.
    pub target: PathBuf,
    /// The cache shard on the target's filesystem was tried and could not be used: why.
    pub shard: Option<ShardFailure>,
    /// Where a cache that would let installs link could go, for the frontend's advice; `None`
    /// when none would help (the filesystem cannot link, or the failure is not the two being
    /// on different filesystems).
    pub cache_advice: Option<CacheAdvice>,
    /// Files and bytes that will be copied instead of linked, known when it is decided.
    pub files: u64,
    /// Their sizes in the cache, summed.
    pub bytes: u64,
}

/// Where a cache on the environment's filesystem could go, so that installs link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheAdvice {
    /// A directory this user may make there (`shards::suggest_cache_dir`).
    Dir(PathBuf),
    /// No such directory was found (the filesystem's top and the environment's parents are
    /// open to every user, or not this user's to write): the filesystem's mount point, for a
    /// directory the user makes there.
    OnFilesystem {
        /// The mount point of the environment's filesystem.
        mount: PathBuf,
    },
}

/// The advice for an environment at `env_root` whose cache is on another filesystem: a
/// directory to use, else the filesystem to make one on; `None` if neither can be found. Shared
/// by the install's warning and `doctor`, so both name the same place.
pub(crate) fn cache_advice(env_root: &Path) -> Option<CacheAdvice> {
    if let Some(dir) = suggest_cache_dir(env_root) {
        return Some(CacheAdvice::Dir(dir));
    }
    let mount = platform::mount_point(platform::nearest_existing(env_root)).ok()?;
    Some(CacheAdvice::OnFilesystem { mount })
}

impl Fallback {
    /// The cache and the environment are on different filesystems (rather than, say, a
    /// filesystem that cannot clone).
    pub fn cross_device(&self) -> bool {
        platform::is_cross_device(&self.error)
    }
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fs_name = |p: &Path| platform::filesystem_type(p).map(|t| format!(" ({t})")).unwrap_or_default();
        write!(
            f,
            "copying {} files ({}) instead of {} them from the cache {}{} into {}{}: ",
            thousands(self.files),
            human_bytes(self.bytes),
            self.failed.gerund(),
            self.cache.display(),
            fs_name(&self.cache),
            self.target.display(),
            fs_name(&self.target),
        )?;
        if self.cross_device() {
            write!(f, "they are on different filesystems ({})", self.error)?;
        } else {
            write!(f, "{}", self.error)?;
        }
        match &self.shard {
            Some(shard) => writeln!(f, ", and no cache shard there can be used: {}", shard.why)?,
            None => writeln!(f)?,
        }
        write!(f, "  The installed packages are complete and work the same; only this install's speed and disk use suffer.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fallback(failed: ConcreteLinkMode, error: io::Error) -> Fallback {
        Fallback {
            failed,
            error,
            cache: PathBuf::from("/dev/shm/cache"),
            target: PathBuf::from("/work/p/.venv"),
            shard: None,
            cache_advice: Some(CacheAdvice::Dir(PathBuf::from("/work/p/.installer-cache"))),
            files: 12804,
            bytes: 73 * 1024 * 1024,
        }
    }

    #[test]
    fn cross_device_warning_names_both_places_and_the_harmlessness_but_no_flag() {
        let warning =
            fallback(ConcreteLinkMode::Hardlink, io::Error::from(io::ErrorKind::CrossesDevices)).to_string();
        let first = warning.lines().next().unwrap();
        assert!(
            first.starts_with(
                "copying 12,804 files (73.0 MiB) instead of hardlinking them from the cache /dev/shm/cache"
            ),
            "{first}"
        );
        assert!(first.contains("into /work/p/.venv"), "{first}");
        assert!(first.contains("they are on different filesystems"), "{first}");
        assert!(warning.contains("only this install's speed and disk use suffer"));
        // Fixes are the frontends' words: the core names no flag.
        assert!(!warning.contains("--"), "{warning}");
    }

    #[test]
    fn a_shard_that_failed_is_named_with_its_own_error() {
        let mut failed = fallback(ConcreteLinkMode::Hardlink, io::Error::from(io::ErrorKind::CrossesDevices));
        failed.shard = Some(ShardFailure {
            why: "hardlink from the cache shard /mnt/x/.installer-cache fails too: Operation not permitted"
                .into(),
            filesystem_cannot_link: true,
        });
        let warning = failed.to_string();
        assert!(
            warning.lines().next().unwrap().ends_with(
                "they are on different filesystems (cross-device link or rename), and no cache shard there can be \
                 used: hardlink from the cache shard /mnt/x/.installer-cache fails too: Operation not permitted"
            ),
            "{warning}"
        );
    }

    #[test]
    fn every_mode_has_its_own_verb() {
        let unsupported = || io::Error::from(io::ErrorKind::Unsupported);
        assert!(fallback(ConcreteLinkMode::Clone, unsupported())
            .to_string()
            .contains("instead of cloning them"));
        assert!(fallback(ConcreteLinkMode::Symlink, unsupported())
            .to_string()
            .contains("instead of symlinking them"));
    }
}
