//! All or nothing: every change an install or an uninstall makes to an environment goes
//! through a `Transaction`, which can put the environment back exactly as it was.
//!
//! Files that are replaced or removed are first renamed into a backup directory inside the
//! environment (same filesystem, so a rename); new files and directories are remembered. On
//! commit the backup is deleted; on rollback new things are removed and backups renamed back.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::{Error, Result};

pub(crate) struct Transaction {
    root: PathBuf,
    backup: OnceLock<std::result::Result<tempfile::TempDir, String>>,
    counter: AtomicUsize,
    /// (original path, backup path), in the order they were moved.
    moved: Mutex<Vec<(PathBuf, PathBuf)>>,
    /// Directories this transaction created (or was told of), parents first.
    created_dirs: Mutex<Vec<PathBuf>>,
    /// Files this transaction created.
    created_files: Mutex<Vec<PathBuf>>,
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

    /// Moves `path` out of the way (into the backup); a missing file is not an error.
    pub fn remove(&self, path: &Path) -> Result<()> {
        let backup = self.backup_dir()?;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let dest = backup.join(n.to_string());
        match std::fs::rename(path, &dest) {
            Ok(()) => {
                self.moved.lock().expect("moved list").push((path.to_path_buf(), dest));
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("move aside", path, e)),
        }
    }

    /// Creates each directory of `dirs` (which must contain the parents of each, up to a
    /// directory that exists); remembers the ones that were new.
    pub fn create_dirs(&mut self, dirs: &BTreeSet<PathBuf>) -> Result<()> {
        for dir in dirs {
            match std::fs::create_dir(dir) {
                Ok(()) => self.created_dirs.get_mut().expect("created dirs").push(dir.clone()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io("create directory", dir, e)),
            }
        }
        Ok(())
    }

    /// Creates the file `dst` with `create` (which fails if `dst` exists); an existing file is
    /// moved aside first, as pip overwrites files it does not own.
    pub fn create_file(&self, dst: &Path, create: impl Fn(&Path) -> io::Result<()>) -> io::Result<()> {
        match create(dst) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.remove(dst).map_err(|e| io::Error::other(e.to_string()))?;
                create(dst)?;
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Records files created outside [`Self::create_file`] in bulk (cheaper than a lock per file).
    pub fn created(&self, files: impl IntoIterator<Item = PathBuf>) {
        self.created_files.lock().expect("created list").extend(files);
    }

    /// Records directories that something else created inside the environment (the
    /// interpreter's `__pycache__` directories during `--compile`), parents before children,
    /// so that a rollback removes them too once they are empty.
    pub fn created_dirs(&self, dirs: impl IntoIterator<Item = PathBuf>) {
        self.created_dirs.lock().expect("created dirs").extend(dirs);
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
            let _ = backup.close();
        }
    }

    /// Puts the environment back as it was before the transaction.
    pub fn rollback(self) {
        for file in self.created_files.into_inner().expect("created list") {
            let _ = std::fs::remove_file(file);
        }
        for dir in self.created_dirs.into_inner().expect("created dirs").iter().rev() {
            // Not remove_dir_all: a directory we made may hold files something else made since.
            let _ = std::fs::remove_dir(dir);
        }
        for (original, backup) in self.moved.into_inner().expect("moved list").into_iter().rev() {
            let _ = std::fs::rename(backup, original);
        }
        if let Some(Ok(backup)) = self.backup.into_inner() {
            let _ = backup.close();
        }
    }

    fn backup_dir(&self) -> Result<&Path> {
        let backup = self.backup.get_or_init(|| {
            tempfile::Builder::new()
                .prefix(".installer-backup-")
                .tempdir_in(&self.root)
                .map_err(|e| e.to_string())
        });
        match backup {
            Ok(dir) => Ok(dir.path()),
            Err(reason) => {
                Err(Error::io("create a backup directory in", &self.root, io::Error::other(reason.clone())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn rollback_restores_replaced_and_removed_files_and_drops_new_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("pkg")).unwrap();
        std::fs::write(root.join("pkg/old.py"), "old").unwrap();
        std::fs::write(root.join("pkg/same.py"), "v1").unwrap();
        let before = snapshot(root);

        let mut txn = Transaction::new(root);
        txn.remove(&root.join("pkg/old.py")).unwrap();
        txn.remove(&root.join("pkg/missing.py")).unwrap();
        txn.create_dirs(&[root.join("new"), root.join("new/sub")].into_iter().collect()).unwrap();
        let write = |content: &'static str| move |p: &Path| std::fs::write(p, content);
        txn.create_file(&root.join("new/sub/a.py"), |p| {
            crate::platform::create_new_file(p, false)?;
            write("a")(p)
        })
        .unwrap();
        txn.create_file(&root.join("pkg/same.py"), |p| {
            crate::platform::create_new_file(p, false)?;
            write("v2")(p)
        })
        .unwrap();
        txn.created([root.join("new/sub/a.py"), root.join("pkg/same.py")]);
        assert_eq!(std::fs::read_to_string(root.join("pkg/same.py")).unwrap(), "v2");
        txn.rollback();
        assert_eq!(snapshot(root), before);
    }

    #[test]
    fn rollback_removes_directories_made_by_others_once_empty() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("pkg")).unwrap();
        let before = snapshot(root);

        let txn = Transaction::new(root);
        // As the interpreter does during --compile: a `__pycache__` and a file in it.
        std::fs::create_dir(root.join("pkg/__pycache__")).unwrap();
        std::fs::write(root.join("pkg/__pycache__/a.pyc"), "bytecode").unwrap();
        txn.created_dirs([root.join("pkg/__pycache__")]);
        txn.created([root.join("pkg/__pycache__/a.pyc")]);
        txn.rollback();
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
