//! Overlay filesystems, as containers use them: which layer a directory lives in, and whether
//! a path is on a container's root filesystem. Linux only (elsewhere: never an overlay).
//!
//! A hardlink to a file of an overlay's lower layer makes the kernel copy the file up into the
//! upper layer first: slower than a plain copy. And a container's root is an overlay at `/`,
//! where no cache shard can be made.

use std::path::{Path, PathBuf};

/// `OVERLAYFS_SUPER_MAGIC` of `statfs(2)`.
#[cfg(target_os = "linux")]
const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;

/// Whether `path` is on an overlay filesystem (by `statfs`).
#[cfg(target_os = "linux")]
pub fn is_overlay(path: &Path) -> bool {
    #[allow(clippy::unnecessary_cast)] // the field's type differs between libcs
    rustix::fs::statfs(path).is_ok_and(|fs| fs.f_type as i64 == OVERLAYFS_SUPER_MAGIC)
}

#[cfg(not(target_os = "linux"))]
pub fn is_overlay(_path: &Path) -> bool {
    false
}

/// The lower directory of the overlay holding `dir` in which `dir` exists too: `dir` (a
/// cache's directory) was there before the overlay was mounted (an image layer), so its files
/// are the lower layer's. `None` when `dir` is not on an overlay, lives only in the upper
/// layer, or the layers are not visible from here (inside the container itself, mountinfo
/// names the host's directories).
#[cfg(target_os = "linux")]
pub fn overlay_lower_holding(dir: &Path) -> Option<PathBuf> {
    if !is_overlay(dir) {
        return None;
    }
    let dir = dir.canonicalize().ok()?;
    let mount = super::mount_of(&dir)?;
    let options = super_options(&std::fs::read_to_string("/proc/self/mountinfo").ok()?, &mount.mount_point)?;
    let rel = dir.strip_prefix(&mount.mount_point).ok()?;
    lower_dirs(&options).into_iter().find(|lower| lower.join(rel).is_dir())
}

#[cfg(not(target_os = "linux"))]
pub fn overlay_lower_holding(_dir: &Path) -> Option<PathBuf> {
    None
}

/// Whether `path` is on a container's root filesystem: an overlay mounted at `/` (docker,
/// podman and buildkit build steps), where nothing else of the filesystem can hold a shard.
pub fn is_container_root(path: &Path) -> bool {
    is_overlay(path) && super::mount_point(path).is_ok_and(|m| m.parent().is_none())
}

/// The super options of the last overlay mounted at `point` (the one that shadows the others).
#[cfg(target_os = "linux")]
fn super_options(mountinfo: &str, point: &Path) -> Option<String> {
    mountinfo.lines().rev().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let mut after = after.split(' ');
        let is_point = super::unescape_mountinfo(before.split(' ').nth(4)?) == point;
        (after.next()? == "overlay" && is_point).then(|| after.nth(1).map(str::to_owned))?
    })
}

/// The lower directories named by overlay super options: `lowerdir=a:b` (with `\:` for a colon
/// in a name) and the newer `lowerdir+=a` form.
#[cfg(target_os = "linux")]
fn lower_dirs(options: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for option in options.split(',') {
        if let Some(list) = option.strip_prefix("lowerdir=") {
            let mut current = String::new();
            let mut chars = list.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => current.extend(chars.next()),
                    ':' => dirs.push(super::unescape_mountinfo(&std::mem::take(&mut current))),
                    c => current.push(c),
                }
            }
            dirs.push(super::unescape_mountinfo(&current));
        } else if let Some(dir) = option.strip_prefix("lowerdir+=") {
            dirs.push(super::unescape_mountinfo(dir));
        }
    }
    dirs
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn lower_directories_come_from_the_super_options_of_the_mount() {
        let mountinfo = "\
1 0 0:20 / / rw - ext4 /dev/vda1 rw
90 1 0:61 / /merged rw,relatime - overlay overlay rw,lowerdir=/l/one:/l/t\\:wo,upperdir=/u,workdir=/w
91 1 0:62 / /other rw - overlay overlay rw,lowerdir+=/x,lowerdir+=/y,upperdir=/u2,workdir=/w2
";
        let options = super_options(mountinfo, Path::new("/merged")).unwrap();
        assert_eq!(lower_dirs(&options), [PathBuf::from("/l/one"), PathBuf::from("/l/t:wo")]);
        let options = super_options(mountinfo, Path::new("/other")).unwrap();
        assert_eq!(lower_dirs(&options), [PathBuf::from("/x"), PathBuf::from("/y")]);
        assert_eq!(super_options(mountinfo, Path::new("/")), None, "not an overlay");
    }
}
