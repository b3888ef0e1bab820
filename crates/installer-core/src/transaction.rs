//! All or nothing: every change an install or an uninstall makes to an environment goes
//! through a `Transaction`, which can put the environment back exactly as it was.
//!
//! Files that are replaced or removed are first renamed into a backup directory inside the
//! environment (same filesystem, so a rename); new files and directories are remembered. On
//! commit the backup is deleted; on rollback new things are removed and backups renamed back.
//!
//! A process killed mid-transaction (SIGKILL, power loss) cannot roll back, so the backup
//! directory `.installer-backup-*` also lets the next process do it ([`recover()`]):
//! - it holds a lock file, locked while its transaction is alive: a free lock proves the
//!   owner dead;
//! - a moved file keeps its path relative to the environment under `t/`, so the backup is
//!   its own record of what to put back (no write per file);
//! - `journal` lists, once per phase and before anything of that phase happens, the topmost
//!   directories about to be made (everything below them is the transaction's too) and the
//!   files about to be created in directories that were there before (whatever is at such a
//!   path is moved aside before it is listed: a listed file still in place is never one that
//!   was there, whose ctime another hard link to it could have changed). A listed file, or a
//!   file anywhere under a listed directory, whose inode changed (ctime) after the
//!   transaction began (its lock file was made) was made by the transaction and is removed;
//!   one older was there before and is kept. A directory that someone else made first is listed again as
//!   not ours, and nothing in it is touched;
//! - a committed transaction renames its backup to `.installer-trash-*` before deleting it,
//!   so a commit cut short is never rolled back.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

mod recover;

use crate::platform::Dir;
use crate::{Error, Result};
pub(crate) use recover::recover;

/// What the names of the installer's own entries in an environment start with: backups and
/// trash here, link-probe files (`linker`). A wheel's path with a component like this is
/// refused ([`is_reserved`]): a planted `.installer-backup-*` would be rolled back as a dead
/// transaction by the next command.
const RESERVED_PREFIX: &str = ".installer-";
const BACKUP_PREFIX: &str = ".installer-backup-";
const TRASH_PREFIX: &str = ".installer-trash-";
const LOCK: &str = ".lock";
const JOURNAL: &str = "journal";
/// Moved files, at their path relative to the environment.
const MIRROR: &str = "t";
/// Moved files that cannot be mirrored (outside the root, or moved twice): in-process
/// rollback only.
const NUMBERED: &str = "n";

/// Whether `path` (`/`-separated, relative) has a component reserved for the installer's own
/// entries ([`RESERVED_PREFIX`]).
pub(crate) fn is_reserved(path: &str) -> bool {
    path.split('/').any(|component| component.starts_with(RESERVED_PREFIX))
}

pub(crate) struct Transaction {
    root: PathBuf,
    backup: OnceLock<std::result::Result<Backup, String>>,
    counter: AtomicUsize,
    /// (original path, backup path), in the order they were moved.
    moved: Mutex<Vec<(PathBuf, PathBuf)>>,
    /// Directories this transaction created (or was told of), parents first.
    created_dirs: Mutex<Vec<PathBuf>>,
    /// Files this transaction created.
    created_files: Mutex<Vec<PathBuf>>,
}

/// The backup directory, locked for as long as the transaction lives.
struct Backup {
    dir: PathBuf,
    _lock: File,
}

impl Transaction {
    /// A transaction on the environment at `root`; nothing is written until something changes.
    pub fn new(root: &Path) -> Transaction {
        Transaction {
            root: root.to_path_buf(),
            backup: OnceLock::new(),
            counter: AtomicUsize::new(0),
            moved: Mutex::new(Vec::new()),
            created_dirs: Mutex::new(Vec::new()),
            created_files: Mutex::new(Vec::new()),
        }
    }

    /// Journals the files about to be created (see the module docs), so that a successor can
    /// remove them if this process dies before commit or rollback. One write for them all.
    /// Files in directories this transaction made need not be listed: they go with those.
    pub fn will_create<'a>(&self, files: impl IntoIterator<Item = (&'a Dir, &'a str)>) -> Result<()> {
        self.journal(b'F', files)
    }

    /// Moves `path` out of the way (into the backup); a missing file is not an error.
    pub fn remove(&self, path: &Path) -> Result<()> {
        let backup = self.backup_dir()?;
        let mirrored = path
            .strip_prefix(&self.root)
            .ok()
            .filter(|rel| !rel.as_os_str().is_empty())
            .map(|rel| backup.join(MIRROR).join(rel))
            .filter(|dest| dest.symlink_metadata().is_err());
        let dest = mirrored.unwrap_or_else(|| {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            backup.join(NUMBERED).join(n.to_string())
        });
        let mut result = std::fs::rename(path, &dest);
        if matches!(&result, Err(e) if e.kind() == io::ErrorKind::NotFound) {
            if path.symlink_metadata().is_err() {
                return Ok(());
            }
            // The backup lacks the parent directory: made on first use, not for every file.
            let parent = dest.parent().expect("backup paths have parents");
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create directory", parent, e))?;
            result = std::fs::rename(path, &dest);
        }
        match result {
            Ok(()) => {
                self.moved.lock().expect("moved list").push((path.to_path_buf(), dest));
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("move aside", path, e)),
        }
    }

    /// Journals the topmost directories about to be made (see the module docs), before any
    /// is, so that a successor can remove them with what this process put under them.
    pub fn will_make_dirs<'a>(&self, dirs: impl IntoIterator<Item = (&'a Dir, &'a str)>) -> Result<()> {
        self.journal(b'D', dirs)
    }

    /// Makes the directory `rel` under `dir` (journaled by [`Self::will_make_dirs`]) and
    /// remembers it. One that someone else made since is journaled as not ours, and kept.
    pub fn create_dir(&self, dir: &Dir, rel: &str) -> Result<()> {
        match dir.create_dir(rel) {
            Ok(()) => {
                self.created_dirs.lock().expect("created dirs").push(dir.join(rel));
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.journal(b'K', [(dir, rel)]),
            Err(e) => Err(Error::io("create directory", dir.join(rel), e)),
        }
    }

    /// Makes `dir` and its missing parents (a root of the plan: a headers directory),
    /// journaled as [`Self::will_make_dirs`] and [`Self::create_dir`] do.
    pub fn create_dir_all(&self, dir: &Path) -> Result<()> {
        let missing: Vec<&Path> = dir.ancestors().take_while(|d| d.symlink_metadata().is_err()).collect();
        let Some(top) = missing.last() else { return Ok(()) };
        let parent = top.parent().unwrap_or(top);
        let base = Dir::open(parent).map_err(|e| Error::io("open", parent, e))?;
        let rels: Vec<&str> =
            missing.iter().rev().filter_map(|d| d.strip_prefix(parent).ok()?.to_str()).collect();
        self.will_make_dirs(rels.iter().map(|rel| (&base, *rel)))?;
        rels.iter().try_for_each(|rel| self.create_dir(&base, rel))
    }

    /// Creates the file `rel` under `dir` with `create` (which fails if it exists); an existing
    /// file is moved aside first, as pip overwrites files it does not own; an existing
    /// directory is an error, as with pip.
    ///
    /// When `create` runs out of space, what it left (half a file) is removed: an existing
    /// file would have been `AlreadyExists` first, so it is ours, and it is not listed as
    /// created. Other errors (a link that cannot be made) create nothing.
    pub fn create_file(&self, dir: &Dir, rel: &str, create: impl Fn() -> io::Result<()>) -> io::Result<()> {
        let result = match create() {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let path = dir.join(rel);
                // Never a directory: moving it aside would delete all it holds at commit. The
                // install refuses these before it makes anything; this is for one that
                // appeared since.
                if path.symlink_metadata().is_ok_and(|meta| meta.is_dir()) {
                    return Err(io::Error::new(io::ErrorKind::IsADirectory, "a directory is in the way"));
                }
                self.remove(&path).map_err(|e| io::Error::other(e.to_string()))?;
                create()
            }
            result => result,
        };
        if let Err(e) = &result {
            use io::ErrorKind::{FileTooLarge, QuotaExceeded, StorageFull};
            if matches!(e.kind(), StorageFull | QuotaExceeded | FileTooLarge) {
                let _ = dir.remove_file(rel);
            }
        }
        result
    }

    /// Records files created outside [`Self::create_file`] in bulk (cheaper than a lock per file).
    pub fn created(&self, files: impl IntoIterator<Item = PathBuf>) {
        self.created_files.lock().expect("created list").extend(files);
    }

    /// Keeps the changes: deletes the backup and the directories that the removals emptied.
    pub fn commit(self, emptied_candidates: BTreeSet<PathBuf>) {
        // Deepest first, so a parent is tried after its children.
        for dir in emptied_candidates.iter().rev() {
            if dir.starts_with(&self.root) && dir != &self.root {
                let _ = std::fs::remove_dir(dir);
            }
        }
        if let Some(Ok(backup)) = self.backup.into_inner() {
            // Renamed first: a commit cut short must not be mistaken for a dead transaction.
            let trash = self.root.join(backup.dir.file_name().map_or_else(
                || TRASH_PREFIX.to_string(),
                |n| n.to_string_lossy().replacen(BACKUP_PREFIX, TRASH_PREFIX, 1),
            ));
            let dir = if std::fs::rename(&backup.dir, &trash).is_ok() { trash } else { backup.dir };
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Puts the environment back as it was before the transaction.
    pub fn rollback(self) {
        for file in self.created_files.into_inner().expect("created list") {
            let _ = std::fs::remove_file(file);
        }
        let backup = self.backup.into_inner().and_then(std::result::Result::ok);
        if let Some(backup) = &backup {
            // Everything created is gone: a successor must not remove restored files that
            // the journal lists (a restored file's ctime is new too).
            let _ = std::fs::remove_file(backup.dir.join(JOURNAL));
        }
        for dir in self.created_dirs.into_inner().expect("created dirs").iter().rev() {
            // Not remove_dir_all: a directory we made may hold files something else made since.
            let _ = std::fs::remove_dir(dir);
        }
        for (original, backup) in self.moved.into_inner().expect("moved list").into_iter().rev() {
            let _ = std::fs::rename(backup, original);
        }
        if let Some(backup) = backup {
            let _ = std::fs::remove_dir_all(&backup.dir);
        }
    }

    fn backup_dir(&self) -> Result<&Path> {
        let backup = self.backup.get_or_init(|| {
            let dir = tempfile::Builder::new()
                .prefix(BACKUP_PREFIX)
                .tempdir_in(&self.root)
                .map_err(|e| e.to_string())?
                .keep();
            let lock = File::create(dir.join(LOCK)).and_then(|lock| {
                crate::pause::point("backup-locking");
                lock.lock().map(|()| lock)
            });
            match lock {
                Ok(lock) => Ok(Backup { dir, _lock: lock }),
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    Err(e.to_string())
                }
            }
        });
        match backup {
            Ok(backup) => Ok(&backup.dir),
            Err(reason) => {
                Err(Error::io("create a backup directory in", &self.root, io::Error::other(reason.clone())))
            }
        }
    }

    /// Appends `tag path NUL` for each path (a root and a path under it) to the journal, in
    /// one write; nothing for no paths.
    fn journal<'a>(&self, tag: u8, paths: impl IntoIterator<Item = (&'a Dir, &'a str)>) -> Result<()> {
        let mut paths = paths.into_iter().peekable();
        if paths.peek().is_none() {
            return Ok(());
        }
        let path = self.backup_dir()?.join(JOURNAL);
        let write = || -> io::Result<()> {
            let file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
            // Buffered, not collected: a journal of 100,000 paths need not sit in memory.
            let mut journal = io::BufWriter::with_capacity(256 * 1024, file);
            for (dir, rel) in paths {
                journal.write_all(&[tag])?;
                journal.write_all(dir.path().as_os_str().as_bytes())?;
                journal.write_all(b"/")?;
                journal.write_all(rel.as_bytes())?;
                journal.write_all(&[0])?;
            }
            journal.flush()
        };
        write().map_err(|e| Error::io("write", &path, e))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn snapshot(root: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
        let mut out: Vec<_> = walkdir::WalkDir::new(root)
            .into_iter()
            .map(|e| e.unwrap())
            .map(|e| {
                let content = e.file_type().is_file().then(|| std::fs::read(e.path()).unwrap());
                (e.path().to_path_buf(), content)
            })
            .collect();
        out.sort();
        out
    }

    /// [`recover`] as the next process runs it, once the dropped transaction's lock is free
    /// ([`crate::testing::once_released`]).
    fn recover_once_dead(root: &Path) -> usize {
        crate::testing::once_released(|| recover(root), |&recovered| recovered > 0)
    }

    /// Returns once an inode changed now gets a later ctime than `last`'s (the last file made
    /// "before"): a state the filesystem's clock reaches, not a delay that may be too short.
    fn wait_for_a_later_ctime(dir: &Path, last: &Path) {
        let ctime = |p: &Path| {
            let meta = std::fs::symlink_metadata(p).unwrap();
            (meta.ctime(), meta.ctime_nsec())
        };
        let (seen, tick) = (ctime(last), dir.join(".tick"));
        loop {
            std::fs::write(&tick, "").unwrap();
            let now = ctime(&tick);
            std::fs::remove_file(&tick).unwrap();
            if now > seen {
                return;
            }
        }
    }

    #[test]
    fn rollback_restores_replaced_and_removed_files_and_drops_new_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("pkg")).unwrap();
        std::fs::write(root.join("pkg/old.py"), "old").unwrap();
        std::fs::write(root.join("pkg/same.py"), "v1").unwrap();
        let before = snapshot(root);

        let txn = Transaction::new(root);
        txn.remove(&root.join("pkg/old.py")).unwrap();
        txn.remove(&root.join("pkg/missing.py")).unwrap();
        let top = Dir::open(root).unwrap();
        txn.will_make_dirs([(&top, "new"), (&top, "new/sub")]).unwrap();
        txn.create_dir(&top, "new").unwrap();
        txn.create_dir(&top, "new/sub").unwrap();
        let write = |rel: &'static str, content: &'static str| {
            let top = &top;
            move || top.create_new_file(rel, false)?.write_all(content.as_bytes())
        };
        txn.create_file(&top, "new/sub/a.py", write("new/sub/a.py", "a")).unwrap();
        txn.create_file(&top, "pkg/same.py", write("pkg/same.py", "v2")).unwrap();
        txn.created([root.join("new/sub/a.py"), root.join("pkg/same.py")]);
        assert_eq!(std::fs::read_to_string(root.join("pkg/same.py")).unwrap(), "v2");
        txn.rollback();
        assert_eq!(snapshot(root), before);
    }

    /// A process killed mid-install: old files moved aside, some new ones created, one planned
    /// file (there before, not owned by anything) not reached. Dropping the transaction
    /// without commit or rollback is what SIGKILL leaves: the lock is free, nothing undone.
    #[test]
    fn a_dead_transaction_is_rolled_back_by_the_next_process() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("pkg/deep")).unwrap();
        std::fs::write(root.join("pkg/old.py"), "old").unwrap();
        std::fs::write(root.join("pkg/deep/same.py"), "v1").unwrap();
        std::fs::write(root.join("unowned.py"), "there before").unwrap();
        let before = snapshot(root);
        // Inode times have clock-tick granularity: keep "before" and "during" apart.
        wait_for_a_later_ctime(root, &root.join("unowned.py"));

        let txn = Transaction::new(root);
        txn.remove(&root.join("pkg/old.py")).unwrap();
        txn.remove(&root.join("pkg/deep/same.py")).unwrap();
        let top = Dir::open(root).unwrap();
        // Only the topmost new directories are journaled: new/sub is below new.
        txn.will_make_dirs([(&top, "new"), (&top, "theirs")]).unwrap();
        txn.create_dir(&top, "new").unwrap();
        txn.create_dir(&top, "new/sub").unwrap();
        // Made by someone else between the journal and the mkdir: not ours, kept.
        std::fs::create_dir(root.join("theirs")).unwrap();
        std::fs::write(root.join("theirs/t.py"), "theirs").unwrap();
        txn.create_dir(&top, "theirs").unwrap();
        // new/sub/a.py goes with new/sub.
        txn.will_create([(&top, "pkg/deep/same.py"), (&top, "unowned.py")]).unwrap();
        std::fs::write(root.join("pkg/deep/same.py"), "v2").unwrap();
        std::fs::write(root.join("new/sub/a.py"), "a").unwrap();
        let backup = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(BACKUP_PREFIX))
            .unwrap();

        assert_eq!(recover(root), 0, "a live transaction is left alone");
        assert!(backup.is_dir());
        drop(txn);
        assert_eq!(recover_once_dead(root), 1);
        assert_eq!(std::fs::read_to_string(root.join("theirs/t.py")).unwrap(), "theirs");
        std::fs::remove_dir_all(root.join("theirs")).unwrap();
        assert_eq!(snapshot(root), before);
        assert_eq!(recover(root), 0);
    }

    /// The journal grows after files are made (a later phase's list, a directory someone else
    /// made first): what was made before the last record is the dead transaction's all the
    /// same, and goes.
    #[test]
    fn what_was_made_before_a_later_journal_record_goes_too() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("pkg")).unwrap();
        std::fs::write(root.join("unowned.py"), "there before").unwrap();
        let before = snapshot(root);
        wait_for_a_later_ctime(root, &root.join("unowned.py"));

        let txn = Transaction::new(root);
        let top = Dir::open(root).unwrap();
        txn.will_make_dirs([(&top, "new")]).unwrap();
        txn.will_create([(&top, "pkg/b.py"), (&top, "unowned.py")]).unwrap();
        txn.create_dir(&top, "new").unwrap();
        std::fs::write(root.join("new/a.py"), "a").unwrap();
        std::fs::write(root.join("pkg/b.py"), "b").unwrap();
        // Every later record gets a later time than what was made so far.
        wait_for_a_later_ctime(root, &root.join("pkg/b.py"));
        txn.will_create([(&top, "pkg/c.pyc")]).unwrap();
        std::fs::write(root.join("pkg/c.pyc"), "c").unwrap();
        std::fs::create_dir(root.join("theirs")).unwrap();
        txn.create_dir(&top, "theirs").unwrap();
        drop(txn);

        assert_eq!(recover_once_dead(root), 1);
        std::fs::remove_dir(root.join("theirs")).unwrap();
        assert_eq!(snapshot(root), before);
    }

    #[test]
    fn a_dead_removal_is_undone_and_a_cut_short_commit_is_finished() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("pkg")).unwrap();
        std::fs::write(root.join("pkg/a.py"), "a").unwrap();
        let before = snapshot(root);
        let txn = Transaction::new(root);
        txn.remove(&root.join("pkg/a.py")).unwrap();
        drop(txn);
        assert!(!root.join("pkg/a.py").exists());
        assert_eq!(recover_once_dead(root), 1);
        assert_eq!(snapshot(root), before);

        // Killed while deleting a committed backup: the removal stands.
        let trash = root.join(format!("{TRASH_PREFIX}x/t/pkg"));
        std::fs::create_dir_all(&trash).unwrap();
        std::fs::write(trash.join("b.py"), "old b").unwrap();
        std::fs::write(root.join(format!("{TRASH_PREFIX}x/{LOCK}")), "").unwrap();
        assert_eq!(recover(root), 0);
        assert_eq!(snapshot(root), before);
    }

    /// A journal planted in the environment (by a wheel's `.data/data/.installer-backup-*/`,
    /// before such names were refused) reaches nothing outside it through `..` or `.`,
    /// although such paths start with the root to a lexical `starts_with`.
    #[test]
    fn journal_paths_that_leave_the_environment_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let (root, home) = (dir.path().join("venv"), dir.path().join("home"));
        let backup = root.join(format!("{BACKUP_PREFIX}z"));
        std::fs::create_dir_all(&backup).unwrap();
        std::fs::create_dir(&home).unwrap();
        std::fs::write(backup.join(LOCK), "").unwrap();
        // Made after the planted lock file: "made since" the fake transaction began.
        std::fs::write(home.join("precious"), "mine").unwrap();
        std::fs::write(root.join("kept.py"), "there before").unwrap();
        let r = root.display();
        let journal = format!("F{r}/../home/precious\0F{r}/./kept.py\0D{r}/../home\0D{r}/.\0");
        std::fs::write(backup.join(JOURNAL), journal).unwrap();

        assert_eq!(recover(&root), 1);
        assert_eq!(std::fs::read_to_string(home.join("precious")).unwrap(), "mine");
        assert_eq!(std::fs::read_to_string(root.join("kept.py")).unwrap(), "there before");
    }

    #[test]
    fn rollback_after_partial_creation_leaves_no_journal_that_could_remove_restored_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.py"), "v1").unwrap();
        let before = snapshot(root);
        let txn = Transaction::new(root);
        let top = Dir::open(root).unwrap();
        txn.will_create([(&top, "a.py")]).unwrap();
        txn.create_file(&top, "a.py", || top.create_new_file("a.py", false)?.write_all(b"v2")).unwrap();
        txn.created([root.join("a.py")]);
        txn.rollback();
        assert_eq!(snapshot(root), before);
        assert_eq!(recover(root), 0);
        assert_eq!(snapshot(root), before);
    }

    /// A directory in the way of a file (one that appeared after the install checked) is an
    /// error, never moved aside: the commit would delete all it holds.
    #[test]
    fn a_file_never_replaces_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("bin")).unwrap();
        std::fs::write(root.join("bin/python"), "interpreter").unwrap();
        let before = snapshot(root);
        let txn = Transaction::new(root);
        let top = Dir::open(root).unwrap();
        let err = txn.create_file(&top, "bin", || top.create_new_file("bin", false).map(drop)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::IsADirectory);
        txn.commit(BTreeSet::new());
        assert_eq!(snapshot(root), before);
    }

    #[test]
    fn commit_deletes_the_backup_and_emptied_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("old/deep")).unwrap();
        std::fs::write(root.join("old/deep/x.py"), "x").unwrap();
        let txn = Transaction::new(root);
        txn.remove(&root.join("old/deep/x.py")).unwrap();
        txn.commit([root.join("old"), root.join("old/deep")].into_iter().collect());
        assert_eq!(std::fs::read_dir(root).unwrap().count(), 0, "backup and emptied dirs are gone");
    }
}
