//! Read-only cache layers (`cache-layers`): other cache roots, searched after the cache for a
//! wheel's entry and never written: an image's pre-filled cache, a network share, another
//! user's cache this user cannot write.
//!
//! A layer's entry is found by the archive's hash (the same id the cache gives it), so the
//! layer needs no index of this machine's wheel paths. It is trusted only after the checks a
//! freshly unpacked entry passed: its manifest is of this format and names this archive (its
//! SHA-256 and file name), and every file of its tree has the manifest's size and hash. The
//! local index then remembers the layer's entry, so later installs find it as they find a
//! local one (one `stat`, the index, the manifest), until the entry is imported into the cache:
//! from then on the cache's copy is found first (a copy in a shard is the one an install linking
//! from that shard takes, with its bytecode). Someone who can write a layer can forge a
//! manifest and its files together, as someone who can write the cache can: a layer is
//! trusted as much as whoever writes it.
//!
//! Leases: where the entry's `.lock` can be opened, it is locked shared as a local lease is
//! (`flock` needs only read access and works on a read-only mount), before its manifest is
//! read, and dropped as a local lease is when its path names another file once locked (the
//! owner removed the entry meanwhile), so the layer owner's `cache prune` leaves the entry
//! alone while we link from it. We never remove a layer's
//! entries, so a layer whose locks cannot be taken needs none from us.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::{CacheEntry, Layout, ENTRY_LOCK, MANIFEST};
use crate::cache_admin::verify::{check, Check};
use crate::manifest::{Manifest, Sha256Digest, MANIFEST_FORMAT};

/// A layer's entry for a wheel that failed the checks: not used, the wheel is unpacked instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UntrustedEntry {
    /// The layer's root.
    pub layer: PathBuf,
    /// The entry's directory.
    pub entry: PathBuf,
    /// The frontends put it in their warning.
    pub reason: Untrusted,
}

/// Why a layer's entry was not trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Untrusted {
    /// The manifest is missing, unreadable or of another format.
    UnreadableManifest,
    /// The manifest describes another archive (hash or file name) than the wheel given.
    OtherArchive,
    /// Files of the tree differ from the manifest (content or size), or are missing.
    ChangedFiles {
        /// Manifest paths whose size or SHA-256 differs, or that cannot be read.
        changed: Vec<String>,
        /// Manifest paths not in the tree.
        missing: Vec<String>,
    },
}

/// What searching the layers for one wheel found.
pub(super) struct Search {
    /// The first entry that passed the checks, with its layer's root; or, with `None` for the
    /// layer, the cache's own copy of it.
    pub found: Option<(Option<PathBuf>, CacheEntry)>,
    /// Entries that were there but failed them.
    pub untrusted: Vec<UntrustedEntry>,
}

/// The id an archive's entry has in every cache: `<wheel stem>-<sha256 prefix>`.
pub(super) fn entry_id(file_name: &str, sha256_hex: &str) -> String {
    let stem = file_name.strip_suffix(".whl").unwrap_or(file_name);
    format!("{stem}-{}", &sha256_hex[..16])
}

/// Looks for the entry of `wheel_abs` in each layer, in order, checking each it finds; but
/// first asks `local` for the cache's own copy (a layer's entry imported for another path of
/// the wheel): found there, no layer entry is checked. Hashes the archive once (no unzip);
/// `Err` only when the wheel cannot be read.
pub(super) fn search(
    layers: &[PathBuf],
    wheel_abs: &Path,
    local: impl Fn(&str) -> Option<CacheEntry>,
) -> std::io::Result<Search> {
    let mut search = Search { found: None, untrusted: Vec::new() };
    if layers.is_empty() {
        return Ok(search);
    }
    let file_name = wheel_abs.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let sha256 = super::hex(&Sha256Digest::of_file(wheel_abs)?.0);
    let id = entry_id(file_name, &sha256);
    if let Some(entry) = local(&id) {
        search.found = Some((None, entry));
        return Ok(search);
    }
    for layer in layers {
        let dir = entry_dir(layer, &id);
        if !dir.is_dir() {
            continue;
        }
        match open_checked(&dir, &id, file_name, &sha256) {
            // Being removed by the layer's owner: as if it were not there.
            Ok(None) => {}
            Ok(Some(entry)) => {
                search.found = Some((Some(layer.clone()), entry));
                break;
            }
            Err(reason) => search.untrusted.push(UntrustedEntry { layer: layer.clone(), entry: dir, reason }),
        }
    }
    Ok(search)
}

/// The entry `id` of `layer`, leased where its lock can be taken, without checking its files:
/// for an entry the local index remembers as checked.
pub(super) fn open(layer: &Path, id: &str) -> Option<CacheEntry> {
    let dir = entry_dir(layer, id);
    let lease = lease(&dir)?;
    let manifest = read_manifest(&dir)?;
    Some(entry(dir, id, manifest, lease))
}

fn entry_dir(layer: &Path, id: &str) -> PathBuf {
    Layout::new(layer).entry(id)
}

fn read_manifest(dir: &Path) -> Option<Manifest> {
    let manifest: Manifest = serde_json::from_slice(&std::fs::read(dir.join(MANIFEST)).ok()?).ok()?;
    (manifest.format == MANIFEST_FORMAT).then_some(manifest)
}

/// The entry's lease, locked shared where it can be (`Some(None)`: it cannot, and none is
/// needed, module docs); `None` when the file we locked is no longer the entry's `.lock`: the
/// layer's owner renamed the entry away to remove it between our open and our lock (as
/// [`super::Cache::lease_entry`] checks), so it must not be used.
fn lease(dir: &Path) -> Option<Option<File>> {
    let path = dir.join(ENTRY_LOCK);
    let Ok(lock) = File::open(&path) else { return Some(None) };
    // The layer's owner may rename the entry away from here to our lock.
    crate::pause::point("layer-entry-leasing");
    if lock.lock_shared().is_err() {
        return Some(None);
    }
    super::still_the_lease(&lock, &path).then_some(Some(lock))
}

fn entry(dir: PathBuf, id: &str, manifest: Manifest, lease: Option<File>) -> CacheEntry {
    CacheEntry {
        id: id.to_string(),
        dir,
        manifest: Arc::new(manifest),
        unpacked: false,
        from_layer: true,
        _lease: lease.map(Arc::new),
    }
}

/// Opens the entry at `dir` and checks it against the archive (`sha256`, `file_name`) and
/// its files against its manifest; `Ok(None)` when it is being removed.
fn open_checked(
    dir: &Path,
    id: &str,
    file_name: &str,
    sha256: &str,
) -> Result<Option<CacheEntry>, Untrusted> {
    // Leased before anything is read, so what was checked is what is used.
    let Some(lease) = lease(dir) else { return Ok(None) };
    let manifest = read_manifest(dir).ok_or(Untrusted::UnreadableManifest)?;
    if manifest.archive_sha256 != sha256 || manifest.wheel != file_name {
        return Err(Untrusted::OtherArchive);
    }
    let entry = entry(dir.to_path_buf(), id, manifest, lease);
    let tree = entry.tree();
    let outcomes: Vec<(&str, Check)> =
        entry.manifest.files.par_iter().map(|f| (f.path.as_str(), check(&tree.join(&f.path), f))).collect();
    let (mut changed, mut missing) = (Vec::new(), Vec::new());
    for (path, outcome) in outcomes {
        match outcome {
            Check::Intact => {}
            Check::Changed => changed.push(path.to_string()),
            Check::Missing => missing.push(path.to_string()),
        }
    }
    if changed.is_empty() && missing.is_empty() {
        Ok(Some(entry))
    } else {
        Err(Untrusted::ChangedFiles { changed, missing })
    }
}
