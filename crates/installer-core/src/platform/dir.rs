//! [`Dir`]: an open directory that relative paths are resolved against.
//!
//! A warm install is some 12,000 `linkat` and 5,000 `mkdir` calls, and the kernel spends a
//! good part of each walking absolute paths of ten or more components, twice for a link (the
//! cache entry's and the environment's). Resolving against an open directory walks only the
//! part inside it. On Unix that is the `*at` calls on an `O_PATH` descriptor; elsewhere a
//! `Dir` is just its path, joined.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// An open directory, or on platforms without `*at` calls, its path.
#[derive(Debug)]
pub struct Dir {
    path: PathBuf,
    #[cfg(unix)]
    fd: std::os::fd::OwnedFd,
}

/// Permission bits before the umask: what pip's files get.
#[cfg(unix)]
fn mode(executable: bool) -> rustix::fs::Mode {
    rustix::fs::Mode::from_raw_mode(if executable { 0o777 } else { 0o666 })
}

#[cfg(unix)]
impl Dir {
    /// Opens the directory at `path` (which must exist) for resolving paths against.
    pub fn open(path: &Path) -> io::Result<Dir> {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::open(path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(Dir { path: path.to_path_buf(), fd })
    }

    /// Makes the directory `rel`, whose parent must exist.
    pub fn create_dir(&self, rel: &str) -> io::Result<()> {
        Ok(rustix::fs::mkdirat(&self.fd, rel, rustix::fs::Mode::from_raw_mode(0o777))?)
    }

    /// Whether anything (a dangling symlink too) is at `rel`.
    pub fn exists(&self, rel: &str) -> bool {
        rustix::fs::statat(&self.fd, rel, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).is_ok()
    }

    /// What is at `rel`, not following a symlink: `None` for nothing, else whether it is a
    /// directory.
    pub fn is_dir(&self, rel: &str) -> Option<bool> {
        let stat = rustix::fs::statat(&self.fd, rel, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).ok()?;
        Some(rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::Directory)
    }

    /// A hard link at `dst`/`dst_rel` to the file `rel` here.
    pub fn hard_link(&self, rel: &str, dst: &Dir, dst_rel: &str) -> io::Result<()> {
        Ok(rustix::fs::linkat(&self.fd, rel, &dst.fd, dst_rel, rustix::fs::AtFlags::empty())?)
    }

    /// A symbolic link at `dst`/`dst_rel` pointing to the absolute path of `rel` here.
    pub fn symlink(&self, rel: &str, dst: &Dir, dst_rel: &str) -> io::Result<()> {
        Ok(rustix::fs::symlinkat(self.path.join(rel), &dst.fd, dst_rel)?)
    }

    /// Opens the file `rel` for reading.
    pub fn open_file(&self, rel: &str) -> io::Result<File> {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::openat(&self.fd, rel, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(File::from(fd))
    }

    /// Creates the file `rel` for writing, failing if anything is there, with pip's modes
    /// (0o666 less the umask; for executables 0o777 less the umask, plus every execute bit:
    /// [`super::add_permissions`]).
    pub fn create_new_file(&self, rel: &str, executable: bool) -> io::Result<File> {
        use rustix::fs::OFlags;
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
        let file = File::from(rustix::fs::openat(&self.fd, rel, flags, mode(executable))?);
        if executable {
            super::add_permissions(&file, 0o111)?;
        }
        Ok(file)
    }

    /// Removes the file (or symlink) `rel`.
    pub fn remove_file(&self, rel: &str) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(&self.fd, rel, rustix::fs::AtFlags::empty())?)
    }
}

#[cfg(not(unix))]
impl Dir {
    pub fn open(path: &Path) -> io::Result<Dir> {
        if !path.is_dir() {
            return Err(io::Error::new(io::ErrorKind::NotADirectory, path.display().to_string()));
        }
        Ok(Dir { path: path.to_path_buf() })
    }

    pub fn create_dir(&self, rel: &str) -> io::Result<()> {
        std::fs::create_dir(self.path.join(rel))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path.join(rel).symlink_metadata().is_ok()
    }

    pub fn is_dir(&self, rel: &str) -> Option<bool> {
        self.path.join(rel).symlink_metadata().ok().map(|m| m.is_dir())
    }

    pub fn hard_link(&self, rel: &str, dst: &Dir, dst_rel: &str) -> io::Result<()> {
        std::fs::hard_link(self.path.join(rel), dst.path.join(dst_rel))
    }

    pub fn symlink(&self, rel: &str, dst: &Dir, dst_rel: &str) -> io::Result<()> {
        super::symlink_file(&self.path.join(rel), &dst.path.join(dst_rel))
    }

    pub fn open_file(&self, rel: &str) -> io::Result<File> {
        File::open(self.path.join(rel))
    }

    pub fn create_new_file(&self, rel: &str, executable: bool) -> io::Result<File> {
        super::create_new_file(&self.path.join(rel), executable)
    }

    pub fn remove_file(&self, rel: &str) -> io::Result<()> {
        std::fs::remove_file(self.path.join(rel))
    }
}

impl Dir {
    /// The directory's path, for messages and for the few operations that need one.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `rel` here.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }

    /// A copy of the file `rel` at `dst`/`dst_rel` (which must not exist) with the same
    /// permission bits and modification time (a timestamp-based `.pyc` compiled from the
    /// cache's file records it); `copy_file_range` underneath where the kernel has it. A
    /// half-written copy is removed.
    pub fn copy(&self, rel: &str, dst: &Dir, dst_rel: &str) -> io::Result<()> {
        let mut from = self.open_file(rel)?;
        let meta = from.metadata()?;
        let mut to = dst.create_new_file(dst_rel, super::is_executable(&meta))?;
        let result = io::copy(&mut from, &mut to).and_then(|_| keep_mtime(&to, &meta));
        if result.is_err() {
            let _ = dst.remove_file(dst_rel);
        }
        result
    }

    /// A copy-on-write clone of the file `rel` at `dst`/`dst_rel` with the same modification
    /// time (as [`Dir::copy`]); fails (leaving nothing) on filesystems that cannot share
    /// extents instead of copying.
    pub fn reflink(&self, rel: &str, dst: &Dir, dst_rel: &str) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            let from = self.open_file(rel)?;
            let meta = from.metadata()?;
            let to = dst.create_new_file(dst_rel, super::is_executable(&meta))?;
            let result = rustix::fs::ioctl_ficlone(&to, &from)
                .map_err(io::Error::from)
                .and_then(|()| keep_mtime(&to, &meta));
            if result.is_err() {
                let _ = dst.remove_file(dst_rel);
            }
            result
        }
        #[cfg(not(target_os = "linux"))]
        {
            super::reflink(&self.join(rel), &dst.join(dst_rel))
        }
    }
}

/// Gives `to` the modification time of the file `from` describes.
fn keep_mtime(to: &File, from: &std::fs::Metadata) -> io::Result<()> {
    to.set_times(std::fs::FileTimes::new().set_modified(from.modified()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_operations_make_what_their_absolute_forms_would() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("src/pkg")).unwrap();
        std::fs::write(tmp.path().join("src/pkg/a.py"), "a").unwrap();
        let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        File::options().write(true).open(tmp.path().join("src/pkg/a.py")).unwrap().set_modified(old).unwrap();
        std::fs::create_dir(tmp.path().join("dst")).unwrap();
        let (src, dst) =
            (Dir::open(&tmp.path().join("src")).unwrap(), Dir::open(&tmp.path().join("dst")).unwrap());

        dst.create_dir("pkg").unwrap();
        assert_eq!(dst.create_dir("pkg").unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        src.hard_link("pkg/a.py", &dst, "pkg/linked.py").unwrap();
        src.copy("pkg/a.py", &dst, "pkg/copied.py").unwrap();
        src.symlink("pkg/a.py", &dst, "pkg/symlinked.py").unwrap();
        for name in ["linked", "copied", "symlinked"] {
            assert_eq!(std::fs::read_to_string(dst.join(&format!("pkg/{name}.py"))).unwrap(), "a");
        }
        let mtime = |p: PathBuf| std::fs::metadata(p).unwrap().modified().unwrap();
        assert_eq!(mtime(dst.join("pkg/copied.py")), old, "a copy keeps the mtime");
        assert_eq!(
            std::fs::read_link(dst.join("pkg/symlinked.py")).unwrap(),
            tmp.path().join("src/pkg/a.py")
        );
        assert!(dst.exists("pkg/copied.py") && !dst.exists("pkg/nothing.py"));
        let err = src.hard_link("pkg/a.py", &dst, "pkg/linked.py").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        dst.remove_file("pkg/linked.py").unwrap();
        assert!(!dst.exists("pkg/linked.py"));
    }

    #[cfg(unix)]
    #[test]
    fn new_files_get_pips_modes_and_copies_keep_the_execute_bit() {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        dir.create_new_file("tool", true).unwrap().write_all(b"#!/bin/sh\n").unwrap();
        dir.create_new_file("data", false).unwrap();
        assert_eq!(dir.create_new_file("data", false).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        dir.copy("tool", &dir, "tool-copy").unwrap();
        let mode = |rel: &str| std::fs::metadata(dir.join(rel)).unwrap().permissions().mode() & 0o111;
        assert_ne!(mode("tool"), 0);
        assert_ne!(mode("tool-copy"), 0);
        assert_eq!(mode("data"), 0);
    }
}
