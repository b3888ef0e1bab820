//! Recovery of transactions a killed process left behind: the next process finds their
//! backup directories (lock free), undoes what the journal says they made, and puts moved
//! files back (the module docs of [`super`] describe the backup layout).

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{BACKUP_PREFIX, JOURNAL, LOCK, MIRROR, TRASH_PREFIX};

/// Rolls back the transactions that died in the environment at `root`: backup directories
/// whose lock is free. Best effort and silent: what cannot be undone now (a read-only
/// environment) stays for a later run. Returns how many were rolled back.
pub(crate) fn recover(root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else { return 0 };
    let mut recovered = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.as_bytes();
        let path = entry.path();
        if name.starts_with(TRASH_PREFIX.as_bytes()) {
            // A committed transaction's backup, or one whose recovery finished: just delete.
            if lock_if_dead(&path).is_some() {
                let _ = std::fs::remove_dir_all(&path);
            }
            continue;
        }
        if !name.starts_with(BACKUP_PREFIX.as_bytes()) {
            continue;
        }
        let Some(_lock) = lock_if_dead(&path) else { continue };
        if roll_back_dead(root, &path).is_ok() {
            recovered += 1;
            let trash = root.join(format!("{TRASH_PREFIX}recovered-{}", std::process::id()));
            let dir = if std::fs::rename(&path, &trash).is_ok() { trash } else { path };
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    recovered
}

/// The lock of a backup directory, taken, if its owner is gone; a directory without a lock
/// file is its owner's for ten minutes (the lock comes right after the directory).
fn lock_if_dead(dir: &Path) -> Option<File> {
    match File::open(dir.join(LOCK)) {
        Ok(lock) => lock.try_lock().is_ok().then_some(lock),
        Err(_) => {
            let age = dir.symlink_metadata().and_then(|m| m.modified()).ok()?.elapsed().ok()?;
            (age.as_secs() > 600).then(|| File::open(dir)).and_then(std::result::Result::ok)
        }
    }
}

/// Undoes what the dead transaction of `backup` did: removes what it created (per the
/// journal) and the directories it made once empty, deletes the journal, puts moved files
/// back. Killed at any point, it can be run again.
fn roll_back_dead(root: &Path, backup: &Path) -> io::Result<()> {
    let journal_path = backup.join(JOURNAL);
    let (mut files, mut dirs, mut not_ours) = (Vec::new(), Vec::new(), HashSet::new());
    let mut since = None;
    if let Ok(bytes) = std::fs::read(&journal_path) {
        // When the transaction began: its lock file is made before the first record and never
        // written. The journal's own time is that of its last record, and a file made before
        // a later record (the next phase's, a directory someone else made first) is ours too.
        let began = std::fs::metadata(backup.join(LOCK)).or_else(|_| std::fs::metadata(&journal_path))?;
        since = Some((began.mtime(), began.mtime_nsec()));
        for record in bytes.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            let Some(path) = in_environment(root, &record[1..]) else { continue };
            match record[0] {
                b'F' => files.push(path),
                b'D' => dirs.push(path),
                b'K' => drop(not_ours.insert(path)),
                _ => {}
            }
        }
    }
    dirs.retain(|dir| !not_ours.contains(dir));
    if let Some(since) = since {
        let made_since =
            |meta: &std::fs::Metadata| !meta.is_dir() && (meta.ctime(), meta.ctime_nsec()) >= since;
        for file in &files {
            let Ok(meta) = file.symlink_metadata() else { continue };
            if made_since(&meta) {
                std::fs::remove_file(file)?;
            }
        }
        // Nothing under the directories it made is listed (only the topmost ones are): the
        // same test there, in every directory below but those someone else made.
        let mut below = Vec::new();
        for dir in &dirs {
            let walk = walkdir::WalkDir::new(dir).min_depth(1).into_iter();
            for entry in walk.filter_entry(|e| !not_ours.contains(e.path())).flatten() {
                if entry.file_type().is_dir() {
                    below.push(entry.into_path());
                } else if entry.metadata().is_ok_and(|meta| made_since(&meta)) {
                    std::fs::remove_file(entry.path())?;
                }
            }
        }
        dirs.extend(below);
        // Before the journal goes, or a recovery killed in between would lose the list: an
        // empty package directory left behind imports as a namespace package. Deepest first,
        // only once empty (not remove_dir_all: something else may have put files there).
        // Moved files need none of them: they were in directories that were there before.
        dirs.sort();
        for dir in dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
        // Restored files below get a new ctime: the journal has served.
        std::fs::remove_file(&journal_path)?;
        crate::pause::point("dead-journal-removed");
    }
    let mirror = backup.join(MIRROR);
    if mirror.is_dir() {
        for entry in walkdir::WalkDir::new(&mirror).min_depth(1) {
            let entry = entry.map_err(io::Error::other)?;
            if entry.file_type().is_dir() {
                continue;
            }
            let rel = entry.path().strip_prefix(&mirror).map_err(io::Error::other)?;
            let original = root.join(rel);
            if let Some(parent) = original.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::rename(entry.path(), &original)?;
        }
    }
    Ok(())
}

/// The journaled path `bytes` if it names something strictly inside `root`, else `None`.
/// The journal lies in the environment, where anything could have written it (a wheel's
/// `.data/data/.installer-backup-*/journal` before the plan refused such names): a `..` or
/// `.` component would pass a lexical `starts_with(root)` and reach outside.
///
/// Only the part below `root` is judged: the root itself may be spelled with `..` (paths are
/// made absolute, not resolved), and the journal spells every path from it.
fn in_environment(root: &Path, bytes: &[u8]) -> Option<PathBuf> {
    let root_bytes = root.as_os_str().as_bytes();
    let below = bytes.strip_prefix(root_bytes)?;
    if !(below.starts_with(b"/") || root_bytes.ends_with(b"/")) {
        return None;
    }
    let mut components = below.split(|&b| b == b'/').filter(|c| !c.is_empty()).peekable();
    components.peek()?;
    if components.any(|c| c == b"." || c == b"..") {
        return None;
    }
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_strictly_below_the_root_count() {
        let check = |root: &str, path: &str| in_environment(Path::new(root), path.as_bytes()).is_some();
        assert!(check("/venv", "/venv/lib/x.py"));
        assert!(check("/a/../venv", "/a/../venv/x.py"), "the root's own spelling is not judged");
        assert!(!check("/venv", "/venv/../home/x"));
        assert!(!check("/venv", "/venv/lib/./x"));
        assert!(!check("/venv", "/venv2/x"));
        assert!(!check("/venv", "/venv"));
        assert!(!check("/venv", "/venv/"));
        assert!(!check("/venv", "/etc/passwd"));
    }
}
