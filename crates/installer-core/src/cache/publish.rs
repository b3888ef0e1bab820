//! Filling the cache: unpacking a wheel into a staging directory and publishing it as an
//! entry by one rename, importing an entry from another cache root, publishing bytecode beside
//! an entry, and sealing entries of a shared cache (the module docs of [`super`] and
//! ARCHITECTURE.md, "Cache protocol").

use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::{layers, Cache, CacheEntry, Staging, MANIFEST, TREE};
use crate::cancel::Cancel;
use crate::manifest::{Manifest, ManifestFile};
use crate::wheel;
use crate::{Error, Result};

impl Cache {
    /// Publishes a copy of `entry` (from another cache root) in this one, unless present:
    /// how a shard on another filesystem gets its copy, without unzipping or hashing again.
    pub fn import_entry(&self, entry: &CacheEntry) -> Result<CacheEntry> {
        if let Some(existing) = self.lease_entry(&entry.id) {
            return Ok(existing);
        }
        let staging = self.staging_dir()?;
        let tree = staging.path().join(TREE);
        copy_tree(&entry.tree(), &tree, entry.manifest())?;
        let manifest = serde_json::to_vec(entry.manifest()).expect("manifest serialises");
        let manifest_path = staging.path().join(MANIFEST);
        std::fs::write(&manifest_path, manifest).map_err(|e| Error::io("write", manifest_path, e))?;
        self.publish(staging, &entry.id, entry.manifest())
    }

    /// The cold path: hash the archive while unpacking and verifying it, then publish.
    pub(super) fn fill(
        &self,
        wheel: &Path,
        wheel_abs: &Path,
        progress: &(dyn Fn(u64) + Sync),
        cancel: &Cancel,
    ) -> Result<CacheEntry> {
        let wheel_err = |source| match source {
            wheel::WheelError::Cancelled => Error::Cancelled,
            wheel::WheelError::Io { .. } => Error::Unpack { wheel: wheel.to_path_buf(), source },
            source => Error::Wheel { wheel: wheel.to_path_buf(), source },
        };
        // The staging directory and the manifest are the unpack's too: a cache out of inodes
        // fails at the first, and the error names the wheel as one out of space mid-unpack does.
        let unpacking = |error| match error {
            Error::Io { action, path, source } => wheel_err(wheel::WheelError::Io { action, path, source }),
            error => error,
        };
        let file_name = wheel_abs.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let staging = self.staging_dir().map_err(unpacking)?;
        let tree = staging.path().join(TREE);
        std::fs::create_dir(&tree)
            .map_err(|e| wheel_err(wheel::WheelError::io("create directory", &tree, e)))?;
        let options = wheel::UnpackOptions { limits: &self.limits, progress, cancel };
        let manifest = wheel::unpack_verified_with(wheel_abs, &tree, &options).map_err(wheel_err)?;
        let id = layers::entry_id(file_name, &manifest.archive_sha256);
        if let Some(existing) = self.lease_entry(&id) {
            // Same archive under another path: it was published already.
            return Ok(existing);
        }
        let manifest_path = staging.path().join(MANIFEST);
        let json = serde_json::to_vec(&manifest).expect("manifest serialises");
        std::fs::write(&manifest_path, json)
            .map_err(|e| wheel_err(wheel::WheelError::io("write", manifest_path, e)))?;
        self.publish(staging, &id, &manifest)
    }

    /// Renames a complete staging directory into place; its lock becomes the entry's lease,
    /// held without a gap. Losing the race to another process that published the same entry
    /// is fine: its entry is identical, and we lease it instead (or, if it was removed in the
    /// meantime, publish ours after all; if its manifest cannot be read, remove it and publish
    /// ours). `manifest` is the one written into the staging directory.
    fn publish(&self, staging: Staging, id: &str, manifest: &Manifest) -> Result<CacheEntry> {
        let dest = self.entries_dir().join(id);
        // Another process may publish the same entry from here to the rename.
        crate::pause::point("entry-publishing");
        if self.shared {
            seal(staging.path(), manifest.dirs.iter().map(String::as_str), &manifest.files);
        }
        for _ in 0..3 {
            match std::fs::rename(staging.path(), &dest) {
                Ok(()) => {
                    let lease = staging.published();
                    let mut entry = self.open_entry(id).ok_or_else(|| unreadable_manifest(&dest))?;
                    entry._lease = Some(Arc::new(lease));
                    entry.unpacked = true;
                    return Ok(entry);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::AlreadyExists | io::ErrorKind::DirectoryNotEmpty
                    ) =>
                {
                    if let Some(entry) = self.lease_entry(id) {
                        return Ok(entry);
                    }
                    // Still there but not usable: its manifest is unreadable (torn by a power
                    // loss) or of another format. Every later install of the wheel would unpack
                    // it in vain, so ours replaces it (unless an install holds it: then we fail).
                    if dest.is_dir() && self.open_entry(id).is_none() {
                        self.remove_entry(id)?;
                    }
                }
                Err(e) => return Err(Error::io("publish cache entry", dest, e)),
            }
        }
        Err(unreadable_manifest(&dest))
    }

    /// Publishes the complete directory `staging` as `name` inside the published `entry` of
    /// this cache (its bytecode for one interpreter), by one rename: readers find all of it or
    /// nothing. `false` when another process published it first (its copy is as good).
    /// `files` are those of its manifest (the files under its `tree/`).
    pub(crate) fn publish_beside_entry(
        &self,
        staging: Staging,
        entry_dir: &Path,
        name: &str,
        files: &[ManifestFile],
    ) -> Result<bool> {
        let dest = entry_dir.join(name);
        if self.shared {
            let dirs: BTreeSet<&str> = files.iter().flat_map(|f| parents(&f.path)).collect();
            seal(staging.path(), dirs.into_iter(), files);
        }
        match std::fs::rename(staging.path(), &dest) {
            Ok(()) => {
                staging.published();
                Ok(true)
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::AlreadyExists | io::ErrorKind::DirectoryNotEmpty) => {
                Ok(false)
            }
            Err(e) => Err(Error::io("publish into cache entry", dest, e)),
        }
    }
}

fn unreadable_manifest(dir: &Path) -> Error {
    Error::io("read manifest of", dir, io::Error::new(io::ErrorKind::InvalidData, "missing or unreadable"))
}

/// Makes a complete staging directory of a shared cache read-only before it is published:
/// files `0444` (`0555` when executable), so no environment hardlinked to them can change
/// another's; directories `2775`, so any member of the group can publish bytecode into the
/// entry and remove it. What is there comes from its manifest, which holds every directory
/// (`dirs`) and file (`files`, with its execute bit) under `tree/`: one `chmod` each, no `stat`
/// and no directory read. The directory itself is group-usable since its creation, and its
/// lock stays group-writable.
fn seal<'a>(dir: &Path, dirs: impl Iterator<Item = &'a str>, files: &[ManifestFile]) {
    use crate::platform::{make_read_only, share_dir_with_group};
    let tree = dir.join(TREE);
    share_dir_with_group(&tree);
    for sub in dirs {
        share_dir_with_group(&tree.join(sub));
    }
    for file in files {
        let _ = make_read_only(&tree.join(&file.path), file.executable);
    }
    let _ = make_read_only(&dir.join(MANIFEST), false);
}

/// The directories `path` (`/`-separated, relative) is in: `a`, `a/b` for `a/b/c.pyc`.
fn parents(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// Copies an entry's tree (reflink where the filesystem can) following its manifest.
fn copy_tree(from: &Path, to: &Path, manifest: &Manifest) -> Result<()> {
    use rayon::prelude::*;
    std::fs::create_dir(to).map_err(|e| Error::io("create directory", to, e))?;
    for dir in &manifest.dirs {
        let path = to.join(dir);
        std::fs::create_dir_all(&path).map_err(|e| Error::io("create directory", &path, e))?;
    }
    manifest.files.par_iter().try_for_each(|file| {
        let (src, dst) = (from.join(&file.path), to.join(&file.path));
        std::fs::copy(&src, &dst).map(|_| ()).map_err(|e| Error::io("copy into cache shard", dst, e))
    })
}

/// Writes `bytes` to `path` through a temporary sibling and a rename, so readers never see a
/// partial file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    // Readable by every user of a shared cache (a temporary file is made `0600`).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
