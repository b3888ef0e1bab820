//! Shard topology: where a cache shard for a filesystem is, or would be. A shard is a cache
//! root on another filesystem than the main cache, filled from it, so that environments there
//! can hardlink (or clone) instead of copying. Installs use it ([`crate::install`]'s link
//! decision), and so do `config` (`cache-shards`), the cache commands ([`crate::cache_admin`]
//! find every shard) and `doctor`.

use std::path::{Path, PathBuf};

use crate::platform;

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
