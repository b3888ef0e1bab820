//! Second filesystems for the cross-filesystem checks: a directory on tmpfs, and loop-mounted
//! ext4 and XFS images that are unmounted and detached when the guard drops (also on panic).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tempfile::TempDir;

use crate::util::{is_root, Cmd, Log};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fs {
    Ext4,
    /// XFS with `reflink=1`, so FICLONE works.
    XfsReflink,
}

/// Why a filesystem could not be had here: the step is skipped with this reason.
pub type Unavailable = String;

/// A temporary directory on /dev/shm, if that is tmpfs.
pub fn tmpfs_dir() -> Result<std::result::Result<TempDir, Unavailable>> {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        return Ok(Err("no /dev/shm".into()));
    }
    if fs_type(shm)? != "tmpfs" {
        return Ok(Err(format!("/dev/shm is {}, not tmpfs", fs_type(shm)?)));
    }
    Ok(Ok(tempfile::Builder::new().prefix("installer-e2e-").tempdir_in(shm)?))
}

pub struct LoopMount {
    pub mnt: PathBuf,
    device: String,
    // Dropped after the unmount in `drop`: holds the image and the mount point.
    _dir: TempDir,
}

impl LoopMount {
    /// A 300 MiB image under `parent`, formatted and mounted; `Ok(Err(why))` when this machine
    /// cannot (not root, no loop devices, no mkfs, the kernel refuses).
    pub fn new(log: &Log, fs: Fs, parent: &Path) -> Result<std::result::Result<LoopMount, Unavailable>> {
        Self::with_size(log, fs, parent, "300M")
    }

    /// As [`LoopMount::new`], with an image of `size` (`truncate -s` spelling; sparse, so a
    /// large one costs only what is written): the bench needs room for copies.
    pub fn with_size(
        log: &Log,
        fs: Fs,
        parent: &Path,
        size: &str,
    ) -> Result<std::result::Result<LoopMount, Unavailable>> {
        if !is_root() {
            return Ok(Err("loop mounts need root".into()));
        }
        if !Path::new("/dev/loop-control").exists() {
            return Ok(Err("no /dev/loop-control (no loop devices)".into()));
        }
        let mkfs = match fs {
            Fs::Ext4 => crate::util::find_tool("mkfs.ext4"),
            Fs::XfsReflink => match ensure_xfsprogs(log) {
                Ok(path) => Some(path),
                Err(why) => return Ok(Err(why)),
            },
        };
        let Some(mkfs) = mkfs else { return Ok(Err(format!("{fs:?}: no mkfs tool"))) };
        let dir = tempfile::Builder::new().prefix("loop-").tempdir_in(parent)?;
        let image = dir.path().join("fs.img");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt)?;
        log.run(&Cmd::new("truncate").args(["-s", size]).arg(&image))?;
        let mkfs_args: &[&str] = match fs {
            Fs::Ext4 => &["-q", "-F"],
            Fs::XfsReflink => &["-q", "-f", "-m", "reflink=1"],
        };
        log.run(&Cmd::new(mkfs).args(mkfs_args).arg(&image))?;
        let attach = log.output(&Cmd::new("losetup").args(["--find", "--show"]).arg(&image))?;
        if !attach.success() {
            return Ok(Err(format!("losetup: {}", attach.tail())));
        }
        let device = attach.stdout.trim().to_owned();
        let mount = log.output(&Cmd::new("mount").arg(&device).arg(&mnt));
        match mount {
            Ok(out) if out.success() => {}
            other => {
                let _ = log.output(&Cmd::new("losetup").args(["-d", &device]));
                let why = match other {
                    Ok(out) => out.tail(),
                    Err(e) => format!("{e:#}"),
                };
                return Ok(Err(format!("mount {fs:?}: {why}")));
            }
        }
        Ok(Ok(LoopMount { mnt, device, _dir: dir }))
    }
}

impl Drop for LoopMount {
    fn drop(&mut self) {
        let quiet = |cmd: Cmd| cmd.output().is_ok_and(|o| o.success());
        if !quiet(Cmd::new("umount").arg(&self.mnt)) {
            // Something still holds it (a killed child's open file); detach lazily.
            std::thread::sleep(std::time::Duration::from_millis(200));
            if !quiet(Cmd::new("umount").arg(&self.mnt)) {
                quiet(Cmd::new("umount").arg("-l").arg(&self.mnt));
            }
        }
        if !quiet(Cmd::new("losetup").args(["-d", &self.device])) {
            eprintln!("warning: could not detach {}", self.device);
        }
    }
}

/// mkfs.xfs, installing xfsprogs with apt-get when root and missing.
fn ensure_xfsprogs(log: &Log) -> std::result::Result<PathBuf, Unavailable> {
    let found = crate::util::ensure_tool("mkfs.xfs", "xfsprogs");
    log.note(&format!("mkfs.xfs: {found:?}"));
    found
}

fn statfs(path: &Path) -> Result<libc::statfs> {
    let c = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `c` is a valid C string; `buf` is written by statfs before being read.
    unsafe {
        let mut buf: libc::statfs = std::mem::zeroed();
        if libc::statfs(c.as_ptr(), &mut buf) != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("statfs {}", path.display()));
        }
        Ok(buf)
    }
}

/// The filesystem's type by its magic number (the few we meet).
pub fn fs_type(path: &Path) -> Result<String> {
    let magic = statfs(path)?.f_type as u64;
    Ok(match magic {
        0x0102_1994 => "tmpfs".into(),
        0xEF53 => "ext4".into(),
        0x5846_5342 => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        0x794C_7630 => "overlayfs".into(),
        other => format!("fs 0x{other:x}"),
    })
}

/// Bytes in use on the filesystem holding `path`.
pub fn used_bytes(path: &Path) -> Result<u64> {
    let s = statfs(path)?;
    Ok((s.f_blocks - s.f_bfree) as u64 * s.f_bsize as u64)
}

/// Whether `filefrag -v` flags any extent of the file as shared (a reflink).
pub fn has_shared_extents(log: &Log, file: &Path) -> Result<bool> {
    let Some(filefrag) = crate::util::find_tool("filefrag") else { bail!("filefrag missing (e2fsprogs)") };
    let out = log.run(&Cmd::new(filefrag).arg("-v").arg(file))?;
    Ok(out.stdout.lines().any(|l| l.contains("shared")))
}
