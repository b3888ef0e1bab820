//! Permissions, for caches shared by a group and caches this user cannot write: whether a
//! directory can be written, whether it is a group's (setgid) directory, read-only
//! publication, and removal of trees whose directories are read-only.

use std::fs::Metadata;
use std::io;
use std::path::Path;

/// `Ok` when this process (its effective ids and groups) may create files in `dir`; the OS
/// error otherwise (`EACCES` for another's directory, `EROFS` for a read-only mount).
#[cfg(unix)]
pub fn check_writable(dir: &Path) -> io::Result<()> {
    use rustix::fs::{accessat, Access, AtFlags, CWD};
    accessat(CWD, dir, Access::WRITE_OK | Access::EXEC_OK, AtFlags::EACCESS).map_err(io::Error::from)
}

#[cfg(not(unix))]
pub fn check_writable(dir: &Path) -> io::Result<()> {
    let meta = std::fs::metadata(dir)?;
    if meta.permissions().readonly() {
        return Err(io::Error::from(io::ErrorKind::PermissionDenied));
    }
    Ok(())
}

/// Whether `err` says "not yours to write" (permissions or a read-only mount) rather than a
/// failure worth reporting as an error.
pub fn is_not_writable(err: &io::Error) -> bool {
    matches!(err.kind(), io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem)
}

/// Whether the directory is a group's shared directory: the setgid bit, which makes what is
/// created inside belong to the directory's group (the usual setup of a directory shared by a
/// group, `chmod g+s`).
#[cfg(unix)]
pub fn is_group_shared(meta: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.is_dir() && meta.mode() & 0o2000 != 0
}

#[cfg(not(unix))]
pub fn is_group_shared(_meta: &Metadata) -> bool {
    false
}

/// Whether this process's effective user owns the file.
#[cfg(unix)]
pub fn is_owned_by_us(meta: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.uid() == rustix::process::geteuid().as_raw()
}

#[cfg(not(unix))]
pub fn is_owned_by_us(_meta: &Metadata) -> bool {
    true
}

/// Whether every local user may create names in the directory: world-writable, or sticky as
/// `/tmp` and a tmpfs mounted with its default mode (1777) are. A cache found by its name in
/// such a place may have been made by anyone, with anything in it.
#[cfg(unix)]
pub fn is_open_to_everyone(meta: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.mode() & 0o1002 != 0
}

#[cfg(not(unix))]
pub fn is_open_to_everyone(_meta: &Metadata) -> bool {
    false
}

/// Whether a cache directory found by its name (an automatic shard: never configured by
/// anyone) may be used: a real directory (`meta` from `symlink_metadata`), not writable by
/// every user, and this user's, root's, or a group's shared (setgid) one, as a cache shared
/// by a group is. Its entries are linked without hashing them again, so whoever could have
/// made it decides what lands in the environment.
#[cfg(unix)]
pub fn is_trusted_cache_dir(meta: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.is_dir()
        && !is_open_to_everyone(meta)
        && (is_owned_by_us(meta) || meta.uid() == 0 || is_group_shared(meta))
}

#[cfg(not(unix))]
pub fn is_trusted_cache_dir(meta: &Metadata) -> bool {
    meta.is_dir()
}

/// Makes a directory of a shared cache usable by its group: `rwxrwsr-x` (the setgid bit keeps
/// what is made inside in the group). Best effort: only the owner may, and another member's
/// directory already is.
#[cfg(unix)]
pub fn share_dir_with_group(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o2775));
}

#[cfg(not(unix))]
pub fn share_dir_with_group(_dir: &Path) {}

/// Makes a directory readable and searchable by everyone (`rwxr-xr-x`), best effort.
#[cfg(unix)]
pub fn make_dir_readable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
}

#[cfg(not(unix))]
pub fn make_dir_readable(_dir: &Path) {}

/// Makes a lock file of a shared cache group-writable (`rw-rw-r--`), best effort.
#[cfg(unix)]
pub fn share_file_with_group(file: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o664));
}

#[cfg(not(unix))]
pub fn share_file_with_group(_file: &Path) {}

/// Makes a published file read-only for everyone (`r--r--r--`, `r-xr-xr-x` when executable),
/// so no environment hardlinked to it can change it, or another environment through it.
#[cfg(unix)]
pub fn make_read_only(file: &Path, executable: bool) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if executable { 0o555 } else { 0o444 };
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
pub fn make_read_only(file: &Path, _executable: bool) -> io::Result<()> {
    let mut perms = std::fs::metadata(file)?.permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(file, perms)
}

/// `remove_dir_all` that also removes trees with read-only directories (as uv's removal
/// does): on a permission error, gives every directory of the tree that this user owns write
/// and search permission, then tries again.
pub fn remove_dir_all_forced(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            for entry in walkdir::WalkDir::new(path).into_iter().flatten() {
                if entry.file_type().is_dir() {
                    let _ = make_dir_writable(entry.path());
                }
            }
            std::fs::remove_dir_all(path)
        }
        other => other,
    }
}

#[cfg(unix)]
fn make_dir_writable(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::symlink_metadata(dir)?.permissions().mode();
    if mode & 0o700 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_dir_writable(dir: &Path) -> io::Result<()> {
    let mut perms = std::fs::symlink_metadata(dir)?.permissions();
    perms.set_readonly(false);
    std::fs::set_permissions(dir, perms)
}
