//! Staging directories: where entries are written before they are published, and the
//! protocol that lets any process tell a live one from one a killed process left (the module
//! docs of [`super`] and ARCHITECTURE.md, "Cache protocol").

use std::fs::File;
use std::io;
use std::path::Path;

use super::{Cache, ENTRY_LOCK, REMOVING_PREFIX};
use crate::{Error, Result};

/// Held shared by writers while they make and lock a staging directory, exclusively by the
/// stale-staging cleanup while it judges.
const GATE: &str = "staging.lock";
/// Prefix of link probes' sample files under `tmp/` ([`crate::linker::probe`]).
const PROBE_PREFIX: &str = ".installer-probe-";
/// Prefix of staging directories under `tmp/`.
const PREFIX: &str = "entry-";

/// Treats "this filesystem has no flock" as success: the cache still works there, without
/// protection against concurrent cleanup (documented in docs/limits.md).
fn ignore_unsupported(e: io::Error) -> io::Result<()> {
    if crate::platform::locks_unsupported(&e) {
        Ok(())
    } else {
        Err(e)
    }
}

/// Opens (creating) the staging gate. Read access is all `flock` needs, so a gate made by
/// another user of a shared cache works as well.
fn open_gate(path: &Path) -> Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .or_else(|_| File::open(path))
        .map_err(|e| Error::io("open", path, e))
}

/// A directory being filled, locked by us; removed on drop unless published.
pub(crate) struct Staging {
    dir: Option<tempfile::TempDir>,
    lock: Option<File>,
}

impl Staging {
    /// Makes and locks a new staging directory in `tmp` under the gate (see the module docs).
    /// In a `shared` cache the directory and its lock are made usable by the group first, so
    /// any member can judge it stale and remove it; elsewhere it is made readable by all.
    pub(super) fn create(gate_path: &Path, tmp: &Path, shared: bool) -> Result<Staging> {
        let make = || tempfile::Builder::new().prefix(PREFIX).tempdir_in(tmp);
        let gate = match open_gate(gate_path) {
            Ok(gate) => gate,
            // Most likely a cache we cannot write: say so about `tmp/` as any writer would.
            Err(e) => {
                return Err(make()
                    .err()
                    .map_or(e, |make_err| Error::io("create directory in", tmp, make_err)))
            }
        };
        gate.lock_shared().or_else(ignore_unsupported).map_err(|e| Error::io("lock", gate_path, e))?;
        let dir = make().map_err(|e| Error::io("create directory in", tmp, e))?;
        let lock_path = dir.path().join(ENTRY_LOCK);
        let lock = File::create(&lock_path).map_err(|e| Error::io("create", &lock_path, e))?;
        if shared {
            crate::platform::share_dir_with_group(dir.path());
            crate::platform::share_file_with_group(&lock_path);
        } else {
            // Readable by everyone once published (a temporary directory is `0700`), so other
            // users can use this cache read-only, as a layer.
            crate::platform::make_dir_readable(dir.path());
        }
        crate::pause::point("staging-locking");
        lock.lock_shared().or_else(ignore_unsupported).map_err(|e| Error::io("lock", &lock_path, e))?;
        drop(gate);
        Ok(Staging { dir: Some(dir), lock: Some(lock) })
    }

    /// Where to write.
    pub(crate) fn path(&self) -> &Path {
        self.dir.as_ref().expect("staging dir present until published").path()
    }

    /// Renamed into place: nothing left to delete; the lock, still held, is the entry's lease.
    pub(super) fn published(mut self) -> File {
        if let Some(dir) = self.dir.take() {
            let _ = dir.keep();
        }
        self.lock.take().expect("staging lock present until published")
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Deleted while still locked, so no cleanup can judge it half-deleted.
        drop(self.dir.take());
        drop(self.lock.take());
    }
}

/// Removes staging directories whose writer is gone: judged while holding the staging gate
/// exclusively (no writer is between `mkdir` and `flock` then), a staging directory whose lock
/// can be taken, or that has no lock file, is provably stale. Skipped when the gate is busy:
/// best effort, the next process cleans up. `removing-*` directories are always stale.
fn remove_stale(gate_path: &Path, tmp: &Path) {
    let Ok(gate) = open_gate(gate_path) else { return };
    if gate.try_lock().is_err() {
        return;
    }
    let Ok(dir) = std::fs::read_dir(tmp) else { return };
    let mut doomed = Vec::new();
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        if name.starts_with(REMOVING_PREFIX) {
            doomed.push(path);
        } else if name.starts_with(PROBE_PREFIX) {
            // A link probe's sample left by a killed process; a live probe lasts milliseconds.
            let old = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
            if old.is_some_and(|age| age.as_secs() > 24 * 3600) {
                let _ = std::fs::remove_file(&path);
            }
        } else if name.starts_with(PREFIX) {
            let stale = match File::open(path.join(ENTRY_LOCK)) {
                Ok(lock) => lock.try_lock().is_ok(),
                Err(e) => e.kind() == io::ErrorKind::NotFound,
            };
            if stale {
                let removing = tmp.join(format!("{REMOVING_PREFIX}{name}-{}", std::process::id()));
                if std::fs::rename(&path, &removing).is_ok() {
                    doomed.push(removing);
                }
            }
        }
    }
    drop(gate);
    for path in doomed {
        let _ = crate::platform::remove_dir_all_forced(&path);
    }
}

impl Cache {
    /// A fresh staging directory under `tmp/`, locked by us from before anyone can judge it
    /// (see the module docs); the first call also removes staging directories left by killed
    /// processes.
    pub(crate) fn staging_dir(&self) -> Result<Staging> {
        let tmp = self.scratch_dir();
        let gate = self.layout().staging_gate(GATE);
        self.cleaned_staging.call_once(|| remove_stale(&gate, &tmp));
        Staging::create(&gate, &tmp, self.shared)
    }
}
