//! Shard topology: where a cache shard for a filesystem is, or would be. A shard is a cache
//! root on another filesystem than the main cache, filled from it, so that environments there
//! can hardlink (or clone) instead of copying. Installs use it ([`crate::install()`]'s link
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
/// created: a configured one on that filesystem, else (with `auto`) `<mount point>/.installer-cache`
/// when [`auto_shard_refused`] finds nothing against it. `env_root` is the environment's root
/// (or where it will be). `Err` says why there is none. Creates nothing, so `doctor` can ask too.
pub(crate) fn shard_location(
    policy: &ShardPolicy,
    target: &Path,
    env_root: &Path,
) -> std::result::Result<PathBuf, String> {
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
            let dir = mount.join(AUTO_SHARD_NAME);
            match auto_shard_refused(&mount, &dir, env_root) {
                Some(why) => Err(why),
                None => Ok(dir),
            }
        }
        None => Err(
            "no cache shard is configured on this filesystem (`cache-shards`) and automatic shards are off"
                .into(),
        ),
    }
}

/// Why no automatic shard may be at `dir`, the `.installer-cache` of the mount `mount`, for the
/// environment at `env_root`; `None` when one may. Nobody chose that place, so it must be one no
/// other user can have prepared: entries found in a shard are linked without hashing them
/// again, and a shard planted by another user (under the predictable id of a public wheel)
/// would put their code into this user's environment. And it must not be inside the
/// environment (an environment that is a mount of its own, such as a container volume).
fn auto_shard_refused(mount: &Path, dir: &Path, env_root: &Path) -> Option<String> {
    let env_root = env_root.canonicalize().unwrap_or_else(|_| env_root.to_path_buf());
    if mount.starts_with(&env_root) {
        return Some(format!(
            "no automatic cache shard in {}: the filesystem's top {} is the environment {} or inside it; \
             configure `cache-shards`",
            dir.display(),
            mount.display(),
            env_root.display()
        ));
    }
    let top = std::fs::metadata(mount).map_err(|e| format!("cannot stat {}: {e}", mount.display()));
    match top {
        Err(why) => return Some(why),
        Ok(meta) if platform::is_open_to_everyone(&meta) => {
            return Some(format!(
                "no automatic cache shard in {}: every user may create files at the top of this filesystem \
                 ({}, a sticky or world-writable directory), so another user could have prepared it; \
                 configure `cache-shards`",
                dir.display(),
                mount.display()
            ))
        }
        Ok(_) => {}
    }
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if !platform::is_trusted_cache_dir(&meta) => Some(format!(
            "not using the automatic cache shard {}: it is not a directory of this user's, root's or a \
             group's shared (setgid) one, or every user may write it; configure `cache-shards`",
            dir.display()
        )),
        _ => None,
    }
}

fn nearest_existing(path: &Path) -> Option<PathBuf> {
    path.ancestors().find(|p| p.exists()).map(Path::to_path_buf)
}

/// A cache directory to suggest for the environment at `env_root`, on its filesystem, where
/// this user may make one: the top of the mount (not `/`), else the nearest ancestor of the
/// environment this user may write; never inside the environment, nor in a directory every
/// user may write (see [`auto_shard_refused`]). `None` when there is no such place.
pub(crate) fn suggest_cache_dir(env_root: &Path) -> Option<PathBuf> {
    let existing = env_root.ancestors().find(|p| p.is_dir())?;
    let existing = existing.canonicalize().ok()?;
    let dev = platform::device_id(&existing).ok()?;
    let env_root = env_root.canonicalize().unwrap_or_else(|_| env_root.to_path_buf());
    let mount = platform::mount_point(&existing).ok().filter(|m| m.parent().is_some());
    let usable = |dir: &Path| {
        !dir.starts_with(&env_root)
            && platform::device_id(dir).ok() == Some(dev)
            && std::fs::metadata(dir).is_ok_and(|m| !platform::is_open_to_everyone(&m))
            && platform::check_writable(dir).is_ok()
    };
    mount
        .into_iter()
        .chain(existing.ancestors().map(Path::to_path_buf))
        .find(|dir| usable(dir))
        .map(|dir| dir.join(AUTO_SHARD_NAME))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn an_automatic_shard_only_where_no_other_user_can_have_prepared_it() {
        let top = tempfile::tempdir().unwrap();
        let (mount, dir) = (top.path(), top.path().join(AUTO_SHARD_NAME));
        let env = mount.join("p/.venv");
        chmod(mount, 0o755);
        assert_eq!(auto_shard_refused(mount, &dir, &env), None, "made by us where only we may");
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(auto_shard_refused(mount, &dir, &env), None, "ours");
        chmod(&dir, 0o777);
        assert!(auto_shard_refused(mount, &dir, &env).unwrap().contains("every user may write it"));
        chmod(&dir, 0o755);
        chmod(mount, 0o1777);
        assert!(auto_shard_refused(mount, &dir, &env).unwrap().contains("every user may create files"));
        chmod(mount, 0o755);
        assert!(auto_shard_refused(mount, &dir, mount).unwrap().contains("is the environment"));
        std::fs::remove_dir(&dir).unwrap();
        std::os::unix::fs::symlink(mount.join("p"), &dir).unwrap();
        assert!(auto_shard_refused(mount, &dir, &env).is_some(), "a symlink is not a directory of ours");
    }
}
