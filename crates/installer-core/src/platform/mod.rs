//! Everything that differs between operating systems, behind small functions.
//!
//! Linux is where `installer` is tested. A port to macOS or Windows should only have to touch
//! this module: device ids, link counts, executable bits, mount points, filesystem names,
//! reflinks, symlinks, positional reads and directory-relative file operations ([`Dir`]).

mod dir;
mod overlay;
mod perms;

pub use dir::Dir;
pub use overlay::*;
pub use perms::*;

use std::fs::{File, Metadata};
use std::io;
use std::path::{Path, PathBuf};

/// `dir` or its nearest existing ancestor: the directory whose filesystem it is (or would be) on.
pub fn nearest_existing(dir: &Path) -> &Path {
    dir.ancestors().find(|p| p.is_dir()).unwrap_or(Path::new("/"))
}

/// An identifier of the filesystem holding `path`: two paths with the same id can be hardlinked.
#[cfg(unix)]
pub fn device_id(path: &Path) -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(path)?.dev())
}

#[cfg(not(unix))]
pub fn device_id(path: &Path) -> io::Result<u64> {
    // Without a device id, treat each volume root as its own filesystem.
    let root = path.canonicalize()?.components().next().map(|c| c.as_os_str().to_owned());
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    root.hash(&mut h);
    Ok(h.finish())
}

/// What identifies one file however its path is spelled (device and inode), so the same
/// wheel given twice is seen as one.
#[cfg(unix)]
pub fn file_id(path: &Path) -> io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
pub fn file_id(path: &Path) -> io::Result<(u64, u64)> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.canonicalize()?.hash(&mut h);
    Ok((0, h.finish()))
}

/// How many directory entries name this file; more than one means a hardlink shares it.
#[cfg(unix)]
pub fn link_count(meta: &Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.nlink()
}

#[cfg(not(unix))]
pub fn link_count(_meta: &Metadata) -> u64 {
    1
}

/// Whether any execute bit is set; wheels carry them in the zip's external attributes.
#[cfg(unix)]
pub fn is_executable(meta: &Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
pub fn is_executable(_meta: &Metadata) -> bool {
    false
}

/// Opens `path` for reading if it is a regular file, without waiting on a FIFO's writer
/// (`O_NONBLOCK`, which reads of regular files ignore): anything else is an `InvalidInput`
/// error, since reading a device such as `/dev/zero` may never end.
pub fn open_regular_file(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    Ok(file)
}

/// Creates a file for writing with the mode pip would give it (0o666 less the umask, and for
/// executables 0o777 less the umask plus every execute bit: 0o755 and 0o644 with the usual
/// 022), failing when `path` exists, so nothing already there is overwritten.
pub fn create_new_file(path: &Path, executable: bool) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if executable { 0o777 } else { 0o666 });
    }
    let file = options.open(path)?;
    if executable {
        add_permissions(&file, 0o111)?;
    }
    Ok(file)
}

/// Adds `bits` to `file`'s permissions where the umask took them away: pip makes each
/// executable it extracts `(0o777 & ~umask) | 0o111`, and distlib each launcher
/// `(0o666 & ~umask) | 0o555`, so under a umask like 077 they stay executable (and a
/// launcher readable). One `fstat`, and a `fchmod` only under such a umask.
#[cfg(unix)]
pub fn add_permissions(file: &File, bits: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file.metadata()?.permissions().mode();
    if mode & bits != bits {
        file.set_permissions(std::fs::Permissions::from_mode(mode | bits))?;
    }
    Ok(())
}

/// Permissions are not Unix modes here.
#[cfg(not(unix))]
pub fn add_permissions(_file: &File, _bits: u32) -> io::Result<()> {
    Ok(())
}

/// A copy-on-write clone of `src` at `dst` (FICLONE on Linux, clonefile on macOS); fails on
/// filesystems that cannot share extents instead of copying.
pub fn reflink(src: &Path, dst: &Path) -> io::Result<()> {
    reflink_copy::reflink(src, dst)
}

/// A symbolic link at `dst` pointing to the file `src`.
#[cfg(unix)]
pub fn symlink_file(src: &Path, dst: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(src, dst)
}

#[cfg(windows)]
pub fn symlink_file(src: &Path, dst: &Path) -> io::Result<()> {
    std::os::windows::fs::symlink_file(src, dst)
}

/// An exclusive advisory lock on a directory itself (`flock` on its descriptor: no lock file
/// is left behind), held until dropped. Where directories cannot be locked, it holds nothing.
#[derive(Debug)]
pub struct DirLock {
    _file: Option<File>,
}

/// Locks the directory `path`. When another process holds it, `on_wait` is called once
/// before this blocks until the lock is free (the holder's exit frees it, however it ends).
/// A filesystem that has no such locks (some network and FUSE mounts) gets none: the lock
/// guards against a mistake, and refusing to install there would be a worse one.
#[cfg(unix)]
pub fn lock_dir(path: &Path, on_wait: impl FnOnce()) -> io::Result<DirLock> {
    let file = File::open(path)?;
    lock_with(file, File::try_lock, File::lock, on_wait)
}

/// Like [`lock_dir`], shared: any number of holders at once, none while someone holds it
/// exclusively. Taken and dropped at once, it waits for an exclusive holder to finish.
#[cfg(unix)]
pub fn lock_dir_shared(path: &Path, on_wait: impl FnOnce()) -> io::Result<DirLock> {
    let file = File::open(path)?;
    lock_with(file, File::try_lock_shared, File::lock_shared, on_wait)
}

/// Locks the directory `path` if no one holds it, without waiting. `None` when someone does,
/// and where directories cannot be locked (nothing can then tell whether a holder is alive).
#[cfg(unix)]
pub fn try_lock_dir(path: &Path) -> io::Result<Option<DirLock>> {
    let file = File::open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(DirLock { _file: Some(file) })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) if locks_unsupported(&e) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(unix)]
fn lock_with(
    file: File,
    try_lock: fn(&File) -> Result<(), std::fs::TryLockError>,
    lock: fn(&File) -> io::Result<()>,
    on_wait: impl FnOnce(),
) -> io::Result<DirLock> {
    let result = match try_lock(&file) {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => {
            on_wait();
            lock(&file)
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    };
    match result {
        Ok(()) => Ok(DirLock { _file: Some(file) }),
        Err(e) if locks_unsupported(&e) => Ok(DirLock { _file: None }),
        Err(e) => Err(e),
    }
}

/// Whether a lock call failed only because the filesystem has no `flock` (some network
/// filesystems): callers then go on without the lock rather than fail.
#[cfg(unix)]
pub fn locks_unsupported(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::Unsupported
        || matches!(err.raw_os_error(), Some(libc::ENOLCK | libc::EOPNOTSUPP | libc::ENOSYS | libc::EINVAL))
}

#[cfg(not(unix))]
pub fn locks_unsupported(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::Unsupported
}

/// Whether two metadata describe one file (device and inode): how a lease holder notices that
/// the path it locked now names another file.
#[cfg(unix)]
pub fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// A file's identity on this machine, (device, inode): hardlinks share it, so sizes add up
/// once per identity.
#[cfg(unix)]
pub fn file_key(meta: &Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
pub fn file_key(_meta: &Metadata) -> (u64, u64) {
    // No hardlinks to tell apart: each file counts.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    (0, NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

#[cfg(not(unix))]
pub fn same_file(a: &Metadata, b: &Metadata) -> bool {
    a.len() == b.len() && a.modified().ok() == b.modified().ok() && a.created().ok() == b.created().ok()
}

#[cfg(not(unix))]
pub fn lock_dir(_path: &Path, _on_wait: impl FnOnce()) -> io::Result<DirLock> {
    Ok(DirLock { _file: None })
}

#[cfg(not(unix))]
pub fn lock_dir_shared(_path: &Path, _on_wait: impl FnOnce()) -> io::Result<DirLock> {
    Ok(DirLock { _file: None })
}

#[cfg(not(unix))]
pub fn try_lock_dir(_path: &Path) -> io::Result<Option<DirLock>> {
    Ok(None)
}

/// Whether a process holds the directory `path`'s lock (`lock_dir`, `lock_dir_shared`) in a
/// way a shared lock would wait for: an install or uninstall running there. Asks without
/// taking anything a holder would notice for longer than the asking.
pub fn dir_lock_held(path: &Path) -> bool {
    let Ok(dir) = File::open(path) else { return false };
    matches!(dir.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock))
}

/// What tells one version of a file from another: device, inode, modification time (ns since
/// the epoch) and length. A file replaced by rename is a new inode; where there are no inodes,
/// time and length.
pub fn file_identity(meta: &Metadata) -> (u64, u64, i128, u64) {
    let (secs, nanos) = mtime_parts(meta);
    let mtime = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    #[cfg(unix)]
    let (dev, ino) = {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    };
    #[cfg(not(unix))]
    let (dev, ino) = (0, 0);
    (dev, ino, mtime, meta.len())
}

/// A file's modification time as seconds and nanoseconds since the epoch, as `stat` gives it
/// (negative seconds before 1970).
pub fn mtime_parts(meta: &Metadata) -> (i64, i64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.mtime(), meta.mtime_nsec())
    }
    #[cfg(not(unix))]
    {
        meta.modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or((0, 0), |d| (d.as_secs() as i64, i64::from(d.subsec_nanos())))
    }
}

/// Reads at an absolute offset without moving a shared cursor, so several threads can read
/// one open archive at once.
#[cfg(unix)]
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// The directory at which the filesystem holding `path` is mounted: walk up while the device
/// stays the same. `path` must exist.
pub fn mount_point(path: &Path) -> io::Result<PathBuf> {
    let path = path.canonicalize()?;
    let dev = device_id(&path)?;
    let mut top = path.clone();
    for ancestor in path.ancestors().skip(1) {
        if device_id(ancestor)? != dev {
            break;
        }
        top = ancestor.to_path_buf();
    }
    Ok(top)
}

/// One line of `/proc/self/mountinfo`: where a filesystem is mounted and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The directory the filesystem is mounted on.
    pub mount_point: PathBuf,
    /// The kernel's name for the filesystem type ("ext4", "xfs", "tmpfs").
    pub fs_type: String,
    /// What is mounted ("/dev/vda1", "tmpfs", a loop device...).
    pub source: String,
    /// `major:minor` as the kernel prints it; the same numbers as [`device_name`].
    pub device: String,
}

/// Every mount this process can see, in the kernel's order (later mounts shadow earlier ones
/// at the same point). Used to find automatic cache shards and to name filesystems.
#[cfg(target_os = "linux")]
pub fn mounts() -> io::Result<Vec<Mount>> {
    Ok(parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo")?))
}

#[cfg(not(target_os = "linux"))]
pub fn mounts() -> io::Result<Vec<Mount>> {
    Ok(Vec::new())
}

/// Parses mountinfo (proc(5)): `id parent major:minor root mount-point options [optional
/// fields...] - fstype source super-options`. Lines that do not fit are skipped.
#[cfg(target_os = "linux")]
fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let fields: Vec<&str> = before.split(' ').collect();
            let mut after = after.split(' ');
            Some(Mount {
                device: fields.get(2)?.to_string(),
                mount_point: unescape_mountinfo(fields.get(4)?),
                fs_type: after.next()?.to_string(),
                source: after.next().map(|s| unescape_mountinfo(s).display().to_string()).unwrap_or_default(),
            })
        })
        .collect()
}

/// The mount holding `path`: the longest mount point that is a prefix of its canonical form
/// (the last one listed wins a tie, as it shadows the others).
pub fn mount_of(path: &Path) -> Option<Mount> {
    let path = path.canonicalize().ok()?;
    let mut best: Option<Mount> = None;
    for mount in mounts().ok()? {
        if path.starts_with(&mount.mount_point)
            && best
                .as_ref()
                .is_none_or(|b| mount.mount_point.as_os_str().len() >= b.mount_point.as_os_str().len())
        {
            best = Some(mount);
        }
    }
    best
}

/// The kind of filesystem at `path` ("ext4", "xfs", "tmpfs"...), for messages; `None` when
/// the platform does not say.
pub fn filesystem_type(path: &Path) -> Option<String> {
    mount_of(path).map(|m| m.fs_type)
}

/// The device holding `path` as `major:minor` (what `stat` and mountinfo print), so users can
/// match it with `lsblk` or `findmnt`.
#[cfg(unix)]
pub fn device_name(path: &Path) -> io::Result<String> {
    let dev = device_id(path)? as libc::dev_t;
    Ok(format!("{}:{}", libc::major(dev), libc::minor(dev)))
}

#[cfg(not(unix))]
pub fn device_name(path: &Path) -> io::Result<String> {
    Ok(format!("{:x}", device_id(path)?))
}

/// Space a file takes on disk (allocated blocks, as `du` counts), which for sparse or small
/// files differs from its length.
#[cfg(unix)]
pub fn disk_usage(meta: &Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.blocks() * 512
}

#[cfg(not(unix))]
pub fn disk_usage(meta: &Metadata) -> u64 {
    meta.len()
}

#[cfg(target_os = "linux")]
fn unescape_mountinfo(field: &str) -> PathBuf {
    // Spaces, tabs, newlines and backslashes are written as octal escapes (\040 ...).
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let n = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(n);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// Whether an I/O error says "no space left" (or quota), so messages can say what ran out.
pub fn is_out_of_space(err: &io::Error) -> bool {
    matches!(err.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
}

/// Whether an I/O error says a directory takes no new entry at all, whatever the way it is
/// made (a read-only filesystem, no write permission, no space or quota): a link refused for
/// one of these reasons means a copy would be refused too. `EPERM` is not one: it is also how
/// `protected_hardlinks` refuses a hardlink to another user's file, which a copy gets past.
pub fn refuses_writes(err: &io::Error) -> bool {
    is_out_of_space(err)
        || matches!(err.raw_os_error(), Some(libc::EROFS | libc::EACCES))
        || err.kind() == io::ErrorKind::ReadOnlyFilesystem
}

/// Whether an I/O error says the file has as many hard links as its filesystem allows
/// (`EMLINK`).
pub fn is_too_many_links(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::TooManyLinks
}

/// Whether an I/O error means the two paths are on different filesystems.
pub fn is_cross_device(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::CrossesDevices
}

/// Where a venv keeps its scripts.
#[cfg(unix)]
pub const VENV_SCRIPTS_DIR: &str = "bin";
#[cfg(windows)]
pub const VENV_SCRIPTS_DIR: &str = "Scripts";

/// The interpreter's file name inside [`VENV_SCRIPTS_DIR`].
#[cfg(unix)]
pub const VENV_PYTHON: &str = "python";
#[cfg(windows)]
pub const VENV_PYTHON: &str = "python.exe";

/// A venv's site-packages for Python `version`.
#[cfg(unix)]
pub fn venv_site_packages(root: &Path, version: (u32, u32)) -> PathBuf {
    root.join("lib").join(format!("python{}.{}", version.0, version.1)).join("site-packages")
}

#[cfg(windows)]
pub fn venv_site_packages(root: &Path, _version: (u32, u32)) -> PathBuf {
    root.join("Lib").join("site-packages")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_point_of_root_is_root() {
        assert_eq!(mount_point(Path::new("/")).unwrap(), Path::new("/"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn filesystem_type_of_proc_is_proc() {
        assert_eq!(filesystem_type(Path::new("/proc/self")).as_deref(), Some("proc"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo("/mnt/a\\040b"), Path::new("/mnt/a b"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn mountinfo_lines_give_point_type_source_and_device() {
        let text = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
                    90 27 7:0 / /mnt/my\\040disk rw shared:5 master:1 - xfs /dev/loop0 rw,attr2\n\
                    garbage\n";
        let mounts = parse_mountinfo(text);
        assert_eq!(mounts.len(), 2);
        assert_eq!(
            mounts[1],
            Mount {
                mount_point: PathBuf::from("/mnt/my disk"),
                fs_type: "xfs".into(),
                source: "/dev/loop0".into(),
                device: "7:0".into(),
            }
        );
        assert_eq!((mounts[0].mount_point.as_path(), mounts[0].fs_type.as_str()), (Path::new("/"), "ext4"));
    }

    #[cfg(unix)]
    #[test]
    fn device_name_matches_mountinfo() {
        let mount = mount_of(Path::new("/proc/self")).unwrap();
        assert_eq!(mount.fs_type, "proc");
        assert_eq!(device_name(Path::new("/proc")).unwrap(), mount.device);
    }
}
