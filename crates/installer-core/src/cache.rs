//! The unpacked-wheel cache.
//!
//! Layout of a cache root (and of every shard, which is a cache root on another filesystem):
//!
//! ```text
//! <root>/CACHEDIR.TAG
//! <root>/v1/entries/<wheel stem>-<archive sha256 prefix>/manifest.json   the Manifest
//! <root>/v1/entries/<...>/tree/...                                    the verified files
//! <root>/v1/entries/<...>/pyc-<cache tag>-<magic>-v<format>/           bytecode for one interpreter
//!                                          (its manifest.json and tree/; see crate::bytecode)
//! <root>/v1/entries/<...>/.lock                                       its lease (see below)
//! <root>/v1/index/<sha256 of the wheel's absolute path>.json          path, size, mtime → entry
//! <root>/v1/tmp/entry-<random>/                                       entries being written
//! <root>/v1/tmp/removing-<id>-<pid>-<n>/                              entries being deleted
//! <root>/v1/staging.lock                                              the staging gate
//! <root>/v1/envs/<sha256 of a venv path>.json                         symlinked environments
//! <root>/v1/interpreters/<sha256 of its path>.json                    an interpreter's facts
//! <root>/v1/used.log                                                  last use of each entry
//! ```
//!
//! Invariants (ARCHITECTURE.md, "Cache protocol", says why each holds under concurrency and
//! SIGKILL):
//! - An entry directory appears only complete (written under `tmp/`, then renamed); nothing
//!   writes into a published entry's files; its bytecode directories appear the same way
//!   (staged under `tmp/`, renamed beside its tree) and go with the entry when it is removed.
//!   Entries disappear the same way they appear: renamed into `tmp/removing-*` first, deleted
//!   there, so no reader ever finds half an entry.
//! - Every staging directory holds a `.lock` that its writer keeps locked (shared) from before
//!   anyone may judge it until it is published or deleted. Writers make and lock it while
//!   holding the *staging gate* (`v1/staging.lock`) shared; stale-staging cleanup judges only
//!   while holding the gate exclusively, so it never sees a directory in the instant between
//!   `mkdir` and `flock`: a staging directory whose lock it can take is provably stale.
//! - The `.lock` travels with the directory into `entries/` and becomes the entry's lease: an
//!   install holds it shared from finding the entry until it is done with it (the writer
//!   never lets go in between), and [`Cache::remove_entry`] removes only an entry whose lease
//!   it can take exclusively, renaming it away before letting go. A reader that opened the
//!   lease just before the rename notices (the lease path no longer names its file) and treats
//!   the entry as missing.
//!
//! - Read-only layers (`cache/layers.rs`) are searched after the cache and never written; a
//!   root with the setgid bit is shared by its group: what we create is group-usable and
//!   entries are sealed read-only before they are published (ARCHITECTURE.md, "Cache protocol").
//!
//! This file holds the types, opening, and the lookup/unpack API. Beside it: `cache/entry.rs`
//! an entry, opening it (leased or not) and removing it, `cache/stand_in.rs` a dry run's
//! stand-in for the real cache, `cache/index.rs` the index records, `cache/publish.rs` filling,
//! publishing, importing and sealing entries, `cache/staging.rs` staging directories,
//! `cache/layers.rs` read-only layers, `cache/usage.rs` the usage log and entry sizes,
//! `cache/layout.rs` every path. Listing, cleaning, pruning and verifying the cache live in
//! [`crate::cache_admin`].

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod entry;
mod index;
mod layers;
mod layout;
mod publish;
mod staging;
mod stand_in;
mod usage;

use crate::cancel::Cancel;
use crate::reporter::{Event, Reporter};
use crate::wheel::Limits;
use crate::{Error, Result};
pub(crate) use entry::still_the_lease;
pub use entry::{CacheEntry, EntryRemoval};
use index::IndexRecord;
pub use layers::{Untrusted, UntrustedEntry};
pub use layout::Layout;
pub(crate) use publish::write_atomically;
pub(crate) use staging::Staging;
use stand_in::StandIn;
pub(crate) use usage::EntrySize;

/// The manifest file and the tree directory of an entry, and of a bytecode set beside it.
pub(crate) const MANIFEST: &str = "manifest.json";
pub(crate) const TREE: &str = "tree";
/// In a staging directory its writer's lock; in a published entry, the entry's lease.
pub(crate) const ENTRY_LOCK: &str = ".lock";
/// Prefix of entries being deleted under `tmp/`: always stale, whoever finds them may finish.
pub(crate) const REMOVING_PREFIX: &str = "removing-";

/// An opened cache directory. Cheap to share across threads.
#[derive(Debug)]
pub struct Cache {
    root: PathBuf,
    limits: Limits,
    cleaned_staging: Once,
    /// Read-only caches searched after this one (`cache-layers`; see `cache/layers.rs`).
    layers: Vec<PathBuf>,
    /// The root is a group's (setgid) directory: what we create is made usable by the group,
    /// and entries are published read-only ([`crate::platform::is_group_shared`]).
    shared: bool,
    /// Keeps a `--no-cache` directory alive; removed on drop.
    _temporary: Option<tempfile::TempDir>,
    /// For a dry run's temporary cache, the cache it stands in for ([`Cache::for_dry_run`]).
    stands_in_for: Option<StandIn>,
}

/// What [`Cache::lookup`] found.
#[derive(Debug)]
pub enum Lookup {
    /// The wheel's entry, found through the index: nothing to unpack.
    Hit(CacheEntry),
    /// Not in the cache (or changed since): to be unpacked with [`Cache::unpack`].
    Miss(Miss),
}

/// A wheel that is not in the cache yet, with what its index record needs.
#[derive(Debug)]
pub struct Miss {
    wheel: PathBuf,
    wheel_abs: PathBuf,
    size: u64,
    mtime_ns: u128,
    index_path: PathBuf,
    untrusted: Vec<UntrustedEntry>,
}

impl Miss {
    /// Entries of the cache layers for this wheel that failed the checks, so were not used.
    pub fn untrusted(&self) -> &[UntrustedEntry] {
        &self.untrusted
    }

    /// The wheel as given.
    pub fn wheel(&self) -> &Path {
        &self.wheel
    }

    /// The archive's size in bytes: the unit of unpacking progress.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// An environment installed with `--link-mode symlink` from this cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SymlinkedEnv {
    /// The environment's root, absolute; the record's file name is a hash of it.
    pub venv: PathBuf,
    /// Ids of the entries it links into.
    pub entries: Vec<String>,
}

impl Cache {
    /// Opens (creating if needed) the cache at `root`.
    pub fn open(root: &Path) -> Result<Cache> {
        let root = std::path::absolute(root).map_err(|e| Error::io("resolve", root, e))?;
        let shared = std::fs::metadata(&root).is_ok_and(|m| crate::platform::is_group_shared(&m));
        init_layout(&root, shared)?;
        Ok(Cache {
            root,
            limits: Limits::default(),
            cleaned_staging: Once::new(),
            layers: Vec::new(),
            shared,
            _temporary: None,
            stands_in_for: None,
        })
    }

    /// Opens the cache at `root` for an install, searching `layers` after it. A cache this
    /// user cannot write (another user's, a read-only mount) is not an error: it is used
    /// read-only, as the first layer of a temporary cache that receives what must be unpacked,
    /// and [`crate::reporter::Event::ReadOnlyCache`] says so once.
    pub fn open_for_install(root: &Path, layers: Vec<PathBuf>, reporter: &dyn Reporter) -> Result<Cache> {
        let not_writable = match Cache::open(root) {
            Ok(cache) => match crate::platform::check_writable(&cache.scratch_dir()) {
                Ok(()) => return Ok(cache.with_layers(layers)),
                Err(e) => e,
            },
            Err(Error::Io { source, .. }) if crate::platform::is_not_writable(&source) => source,
            Err(e) => return Err(e),
        };
        let root = std::path::absolute(root).map_err(|e| Error::io("resolve", root, e))?;
        reporter.event(Event::ReadOnlyCache { cache: &root, error: &not_writable });
        let layers = std::iter::once(root).chain(layers).collect();
        Ok(Cache::temporary()?.with_layers(layers))
    }

    /// A cache in a temporary directory, removed when dropped (`--no-cache`).
    pub fn temporary() -> Result<Cache> {
        let dir = tempfile::Builder::new()
            .prefix("installer-cache-")
            .tempdir()
            .map_err(|e| Error::io("create temporary cache in", std::env::temp_dir(), e))?;
        let mut cache = Cache::open(dir.path())?;
        cache._temporary = Some(dir);
        Ok(cache)
    }

    /// `$XDG_CACHE_HOME/installer`, else `~/.cache/installer` (docs/cli.md); `None` without a
    /// home directory.
    pub fn default_root() -> Option<PathBuf> {
        if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(xdg).join("installer"));
        }
        std::env::home_dir().map(|home| home.join(".cache").join("installer"))
    }

    /// Replaces the caps applied to archives unpacked into this cache.
    pub fn with_limits(mut self, limits: Limits) -> Cache {
        self.limits = limits;
        self
    }

    /// Searches these read-only caches, in order, after this one (`cache-layers`).
    pub fn with_layers(mut self, layers: Vec<PathBuf>) -> Cache {
        self.layers = layers.into_iter().map(|l| std::path::absolute(&l).unwrap_or(l)).collect();
        self
    }

    /// The read-only layers searched after this cache.
    pub fn layers(&self) -> &[PathBuf] {
        &self.layers
    }

    /// Where interpreters' answers about themselves are kept ([`crate::target::Interpreter`]).
    pub fn interpreters_dir(&self) -> PathBuf {
        self.layout().interpreters()
    }

    /// Every path of this cache ([`Layout`]).
    pub fn layout(&self) -> Layout {
        Layout::new(&self.root)
    }

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where published entries live.
    pub fn entries_dir(&self) -> PathBuf {
        self.layout().entries()
    }

    /// A directory on the cache's filesystem for short-lived files (link probes).
    pub fn scratch_dir(&self) -> PathBuf {
        self.layout().scratch()
    }

    /// Where symlinked environments are recorded.
    pub fn envs_dir(&self) -> PathBuf {
        self.layout().envs()
    }

    /// Where the index maps wheel paths to entries; a record whose entry is gone is ignored.
    pub fn index_dir(&self) -> PathBuf {
        self.layout().index()
    }

    /// The verified entry for `wheel`: found through the index when the file is unchanged
    /// (no read of the archive), otherwise hashed, verified, unpacked and published.
    pub fn entry(&self, wheel: &Path) -> Result<CacheEntry> {
        match self.lookup(wheel)? {
            Lookup::Hit(entry) => Ok(entry),
            Lookup::Miss(miss) => self.unpack(miss, &|_| {}, &Cancel::new()),
        }
    }

    /// The first half of [`Cache::entry`]: one `stat` and the index. A miss carries what
    /// [`Cache::unpack`] needs, so callers can count the work before doing it. Refuses what is
    /// not a wheel file (a directory, a source distribution) before reading anything.
    pub fn lookup(&self, wheel: &Path) -> Result<Lookup> {
        crate::wheel::check_is_wheel(wheel)?;
        let wheel_abs = std::path::absolute(wheel).map_err(|e| Error::io("resolve", wheel, e))?;
        let meta = std::fs::metadata(&wheel_abs).map_err(|e| Error::io("read", wheel, e))?;
        if meta.is_dir() {
            return Err(Error::NotAWheel {
                path: wheel.to_path_buf(),
                kind: crate::error::NotAWheel::Directory,
            });
        }
        if !meta.is_file() {
            // Opening a FIFO waits for a writer, and hashing `/dev/zero` never ends.
            return Err(Error::NotAWheel {
                path: wheel.to_path_buf(),
                kind: crate::error::NotAWheel::Special,
            });
        }
        let size = meta.len();
        let mtime_ns =
            meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        let index_path = self.index_path(&wheel_abs);
        if let Some(entry) = self.lookup_index(&index_path, &wheel_abs, size, mtime_ns) {
            crate::pause::point("entry-leased");
            return Ok(Lookup::Hit(entry));
        }
        if let Some(entry) = self.lookup_stood_in_index(&wheel_abs, size, mtime_ns) {
            return Ok(Lookup::Hit(entry));
        }
        // The cache's own copy, found by the archive's hash (for a dry run's stand-in, also the
        // copy of the cache it stands in for, taken as that cache's install takes it: unchecked).
        let local = |id: &str| self.lease_entry(id).or_else(|| self.stood_in_entry(id));
        let search =
            layers::search(&self.layers, &wheel_abs, local).map_err(|e| Error::io("read", wheel, e))?;
        if let Some((layer, entry)) = search.found {
            IndexRecord { path: wheel_abs, size, mtime_ns, entry: entry.id.clone(), layer }
                .write(&index_path);
            return Ok(Lookup::Hit(entry));
        }
        let untrusted = search.untrusted;
        Ok(Lookup::Miss(Miss {
            wheel: wheel.to_path_buf(),
            wheel_abs,
            size,
            mtime_ns,
            index_path,
            untrusted,
        }))
    }

    /// The second half of [`Cache::entry`]: hash, verify, unpack and publish a missed wheel.
    /// `progress` receives archive bytes as they are done (from worker threads), adding up
    /// to [`Miss::size`] on success. A cancelled `cancel` stops it with [`Error::Cancelled`],
    /// leaving no staging directory.
    pub fn unpack(&self, miss: Miss, progress: &(dyn Fn(u64) + Sync), cancel: &Cancel) -> Result<CacheEntry> {
        let done = std::sync::atomic::AtomicU64::new(0);
        let counted = |bytes: u64| {
            done.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
            progress(bytes);
        };
        let entry = self.fill(&miss.wheel, &miss.wheel_abs, &counted, cancel)?;
        crate::pause::point("entry-leased");
        // Headers and the central directory are read too: the rest of the archive.
        progress(miss.size.saturating_sub(done.into_inner()));
        let Miss { wheel_abs, size, mtime_ns, index_path, .. } = miss;
        IndexRecord { path: wheel_abs, size, mtime_ns, entry: entry.id.clone(), layer: None }
            .write(&index_path);
        Ok(entry)
    }

    /// Remembers that the environment at `venv` symlinks into these entries, so `cache clean`
    /// and `cache prune` can refuse to break it. Written by the install holding the
    /// environment's lock and the entries' leases, before any link is made: the cache commands
    /// take a record whose environment is locked at its word (`cache_admin/envs.rs`), so no
    /// instant exists, even for a process killed after its commit, where a symlinked
    /// environment is unrecorded.
    pub fn record_symlinked_env<'a>(
        &self,
        venv: &Path,
        entries: impl Iterator<Item = &'a str>,
    ) -> io::Result<()> {
        let path = self
            .envs_dir()
            .join(format!("{}.json", &hex(&Sha256::digest(venv.as_os_str().as_encoded_bytes()))[..32]));
        let mut record: SymlinkedEnv = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| SymlinkedEnv { venv: venv.to_path_buf(), entries: Vec::new() });
        record.entries.extend(entries.map(str::to_string));
        record.entries.sort();
        record.entries.dedup();
        write_atomically(&path, &serde_json::to_vec_pretty(&record).expect("a record serialises"))
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
    }
}

/// Creates the layout directories and CACHEDIR.TAG (so backup tools skip the cache); in a
/// `shared` cache, writable by the group.
fn init_layout(root: &Path, shared: bool) -> Result<()> {
    let layout = Layout::new(root).version_dir();
    // The directories are made in order, so the last one says all are there; a first open
    // killed half-way leaves it missing and the next open finishes the job.
    let last = layout::DIRS[layout::DIRS.len() - 1];
    if layout.join(last).is_dir() {
        return Ok(());
    }
    for sub in layout::DIRS {
        let dir = layout.join(sub);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create cache directory", &dir, e))?;
        if shared {
            crate::platform::share_dir_with_group(&dir);
        }
    }
    if shared {
        crate::platform::share_dir_with_group(&layout);
    }
    let tag = root.join("CACHEDIR.TAG");
    let _ = std::fs::write(
        tag,
        "Signature: 8a477f597d28d172789f06886806bc55\n# This is the unpacked-wheel cache of `installer`.\n",
    );
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests;
