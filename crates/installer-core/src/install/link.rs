//! Choosing how files get into the environment: the requested link mode, probed once for the
//! (cache, environment) pair; a cache shard on the environment's filesystem when the cache is
//! elsewhere; and, failing both, copies with one warning that says why and what to do.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::cache::Cache;
use crate::linker::{self, LinkFallback, LinkMode};
use crate::platform;
use crate::reporter::Reporter;
use crate::units::{human_bytes, thousands};
use crate::venv::Venv;
use crate::{Error, Result};

/// Where cache shards may live. A shard is a cache root on another filesystem, filled from the
/// main cache, so that environments there can hardlink (or clone) instead of copying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardPolicy {
    /// Shards the user configured (`cache-shards`); the one on the target's filesystem is used.
    pub dirs: Vec<PathBuf>,
    /// Also use `<mount point>/.installer-cache` on a filesystem with no configured shard,
    /// when it exists or can be created (never at `/`).
    pub auto: bool,
}

impl Default for ShardPolicy {
    fn default() -> Self {
        ShardPolicy { dirs: Vec::new(), auto: true }
    }
}

/// The directory name of automatic shards, at the top of a mount.
pub const AUTO_SHARD_NAME: &str = ".installer-cache";

/// How this install will materialise files.
pub(crate) struct LinkPlan {
    /// Clone, Hardlink, Symlink or Copy.
    pub mode: LinkMode,
    /// Link from this shard's copies of the entries instead of the main cache.
    pub shard: Option<Cache>,
    /// The mode could not be used and files are copied: the facts to report when decided.
    pub fallback: Option<Fallback>,
}

/// Decides the link plan for installing from `cache` into `venv`. With `LinkFallback::Error`
/// a fallback is an error, returned before the environment is touched.
pub(crate) fn resolve(
    requested: LinkMode,
    fallback: LinkFallback,
    shards: &ShardPolicy,
    cache: &Cache,
    venv: &Venv,
    reporter: &dyn Reporter,
) -> Result<LinkPlan> {
    let target = venv.site_packages();
    let probe = linker::probe(requested, &cache.scratch_dir(), target)
        .map_err(|e| Error::io("probe link modes into", target, e))?;
    for (mode, err) in &probe.failures {
        reporter.info(&format!(
            "{mode} from {} into {} failed: {err}",
            cache.root().display(),
            target.display()
        ));
    }
    if !probe.fell_back() {
        reporter.info(&format!(
            "link mode: {} (cache {}, target {}): {}",
            probe.mode,
            cache.root().display(),
            target.display(),
            probe.why(requested)
        ));
        return Ok(LinkPlan { mode: probe.mode, shard: None, fallback: None });
    }
    let (failed, error) = probe.failures.into_iter().next().expect("a fallback has a failure");

    if requested != LinkMode::Symlink && platform::is_cross_device(&error) {
        if let Some(shard) = open_shard(shards, venv, reporter) {
            let shard_probe = linker::probe(requested, &shard.scratch_dir(), target)
                .map_err(|e| Error::io("probe link modes into", target, e))?;
            if !shard_probe.fell_back() {
                reporter.info(&format!(
                    "link mode: {} from the cache shard {} (the cache {} is on another filesystem): {}",
                    shard_probe.mode,
                    shard.root().display(),
                    cache.root().display(),
                    shard_probe.why(requested)
                ));
                return Ok(LinkPlan { mode: shard_probe.mode, shard: Some(shard), fallback: None });
            }
        }
    }

    let details = Fallback {
        failed,
        error,
        cache: cache.root().to_path_buf(),
        target: venv.root().to_path_buf(),
        suggestion: suggest_cache_dir(venv.root()),
        files: 0,
        bytes: 0,
    };
    match fallback {
        LinkFallback::Error => Err(Error::LinkFallback {
            mode: details.failed.as_str(),
            cache: details.cache,
            target: details.target,
            source: details.error,
        }),
        LinkFallback::Warn => Ok(LinkPlan { mode: LinkMode::Copy, shard: None, fallback: Some(details) }),
        LinkFallback::Quiet => Ok(LinkPlan { mode: LinkMode::Copy, shard: None, fallback: None }),
    }
}

/// Whether an entry found in a read-only cache layer can be used where it is with `mode`:
/// copies always can; hardlinks and clones when a real file of it links into the environment;
/// symlinks never (an environment would depend on a layer we cannot protect) and neither can an
/// install that compiles (the bytecode is published into the entry). Otherwise the caller
/// imports it, once, into the cache or shard the install links from.
pub(crate) fn layer_entry_usable(
    entry: &crate::cache::CacheEntry,
    mode: LinkMode,
    compile: bool,
    venv: &Venv,
    reporter: &dyn Reporter,
) -> bool {
    let tried = match mode {
        _ if compile => Err("bytecode is compiled into the entry".to_string()),
        LinkMode::Copy => Ok(()),
        LinkMode::Symlink => Err("symlinks must point into a cache this user manages".into()),
        mode => match entry.manifest().files.first() {
            None => Ok(()),
            Some(file) => linker::try_file(mode, &entry.tree(), &file.path, venv.site_packages())
                .map_err(|e| format!("{mode} from there fails: {e}")),
        },
    };
    match &tried {
        Ok(()) => reporter.info(&format!("{mode} from the cache layer entry {}", entry.dir().display())),
        Err(why) => reporter.info(&format!(
            "importing the cache layer entry {} into a writable cache: {why}",
            entry.dir().display()
        )),
    }
    tried.is_ok()
}

/// The shard for the environment's filesystem (see [`shard_location`]), opened (created if
/// needed). `None` when there is none and none can be made.
fn open_shard(policy: &ShardPolicy, venv: &Venv, reporter: &dyn Reporter) -> Option<Cache> {
    let dir = match shard_location(policy, venv.root()) {
        Ok(dir) => dir,
        Err(why) => {
            reporter.info(&why);
            return None;
        }
    };
    match Cache::open(&dir) {
        Ok(shard) => Some(shard),
        Err(e) => {
            reporter.info(&format!("cannot use the cache shard {}: {}", dir.display(), e.one_line()));
            None
        }
    }
}

/// Where the shard for the filesystem holding `target` (an existing path) is, or would be
/// created: a configured one on that filesystem, else (with `auto`) `<mount point>/.installer-cache`.
/// `Err` says why there is none. Creates nothing, so `doctor` can ask too.
pub(crate) fn shard_location(policy: &ShardPolicy, target: &Path) -> std::result::Result<PathBuf, String> {
    let dev = platform::device_id(target).map_err(|e| format!("cannot stat {}: {e}", target.display()))?;
    let configured = policy
        .dirs
        .iter()
        .find(|dir| nearest_existing(dir).and_then(|d| platform::device_id(&d).ok()) == Some(dev));
    match configured {
        Some(dir) => Ok(dir.clone()),
        None if policy.auto => {
            let mount = platform::mount_point(target)
                .map_err(|e| format!("cannot find the mount point of {}: {e}", target.display()))?;
            if mount.parent().is_none() {
                return Err(
                    "no automatic cache shard at the root of the filesystem `/`; configure `cache-shards`"
                        .into(),
                );
            }
            Ok(mount.join(AUTO_SHARD_NAME))
        }
        None => Err(
            "no cache shard is configured on this filesystem (`cache-shards`) and automatic shards are off"
                .into(),
        ),
    }
}

fn nearest_existing(path: &Path) -> Option<PathBuf> {
    path.ancestors().find(|p| p.exists()).map(Path::to_path_buf)
}

/// A cache directory on the target's filesystem to suggest: the mount's `.installer-cache`,
/// or beside the environment when the target is on the root filesystem.
pub(crate) fn suggest_cache_dir(target: &Path) -> PathBuf {
    match platform::mount_point(target) {
        Ok(mount) if mount.parent().is_some() => mount.join(AUTO_SHARD_NAME),
        _ => target.parent().unwrap_or(target).join(AUTO_SHARD_NAME),
    }
}

/// A fallback to copying, with what is needed to explain it once: facts only. Its `Display`
/// says what happens and why; each frontend adds the fixes in its own terms (CLI flags, C
/// functions).
#[derive(Debug)]
pub struct Fallback {
    pub failed: LinkMode,
    pub error: io::Error,
    pub cache: PathBuf,
    pub target: PathBuf,
    /// A cache directory on the target's filesystem, for the frontend's advice.
    pub suggestion: PathBuf,
    /// Files and bytes that will be copied instead of linked, known when it is decided.
    pub files: u64,
    pub bytes: u64,
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
            gerund(self.failed),
            self.cache.display(),
            fs_name(&self.cache),
            self.target.display(),
            fs_name(&self.target),
        )?;
        if self.cross_device() {
            writeln!(f, "they are on different filesystems ({})", self.error)?;
        } else {
            writeln!(f, "{}", self.error)?;
        }
        write!(f, "  The installed packages are complete and work the same; only this install's speed and disk use suffer.")
    }
}

/// `hardlinking`, `cloning`, `symlinking`: what the fallback did not do.
fn gerund(mode: LinkMode) -> &'static str {
    match mode {
        LinkMode::Clone => "cloning",
        LinkMode::Hardlink => "hardlinking",
        LinkMode::Symlink => "symlinking",
        LinkMode::Copy | LinkMode::Auto => "linking",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fallback(failed: LinkMode, error: io::Error) -> Fallback {
        Fallback {
            failed,
            error,
            cache: PathBuf::from("/dev/shm/cache"),
            target: PathBuf::from("/work/p/.venv"),
            suggestion: PathBuf::from("/work/p/.installer-cache"),
            files: 12804,
            bytes: 73 * 1024 * 1024,
        }
    }

    #[test]
    fn cross_device_warning_names_both_places_and_the_harmlessness_but_no_flag() {
        let warning =
            fallback(LinkMode::Hardlink, io::Error::from(io::ErrorKind::CrossesDevices)).to_string();
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
    fn every_mode_has_its_own_verb() {
        let unsupported = || io::Error::from(io::ErrorKind::Unsupported);
        assert!(fallback(LinkMode::Clone, unsupported()).to_string().contains("instead of cloning them"));
        assert!(fallback(LinkMode::Symlink, unsupported())
            .to_string()
            .contains("instead of symlinking them"));
    }
}
