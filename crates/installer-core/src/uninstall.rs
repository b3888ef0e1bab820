//! Removing installed distributions by their RECORD.
//!
//! What goes: every file RECORD lists that lies inside the environment (lexically, and after
//! resolving symlinked directories on the way), the bytecode Python wrote for its modules
//! (`__pycache__/<module>.<tag>.pyc`, never in RECORD unless `--compile` put it there), what is
//! left in its `.dist-info` directory, and then the directories this leaves empty. What never
//! goes: anything outside the environment whatever RECORD says, directories named in RECORD,
//! and the environment's own directories (its root, `bin`, `include`, `lib/.../site-packages`
//! and their parents), even when empty.
//!
//! All or nothing: files are moved aside in a `Transaction` and deleted only once every one
//! of every distribution has been moved; any failure, or a cancel of the [`Cancel`] token
//! (checked before each file), puts them all back and the environment is as it was.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::install::DistVersion;
use crate::installed::{self, InstalledDist, Record};
use crate::reporter::{Event, Reporter};
use crate::transaction::Transaction;
use crate::venv::Venv;
use crate::wheel::normalize_name;
use crate::{Error, Result};

/// What an uninstall removed.
#[derive(Debug, Clone, Default)]
pub struct UninstallSummary {
    /// Each removed distribution, the name as its METADATA spells it.
    pub removed: Vec<DistVersion>,
    /// Names given that are not installed (each also reported as [`Event::NotInstalled`]).
    pub not_installed: Vec<String>,
    /// Files removed, bytecode included.
    pub files: u64,
}

/// Removes the distributions `names` (any spelling: `Foo_Bar` = `foo-bar`) from `venv`. A
/// name that is not installed is reported ([`Event::NotInstalled`]) and the others are
/// removed, as pip and uv do; only when none is installed does it fail (after the same
/// events), with [`crate::Error::NotInstalled`] naming them all. Cancelling `cancel` stops it,
/// restores every file moved so far and returns [`Error::Cancelled`]. Files are moved on `jobs`
/// threads (0: one per CPU) that have all exited when it returns, as an install's and a
/// verify's: never rayon's global pool, whose threads would outlive the call in a program that
/// embeds the library.
pub fn uninstall(
    venv: &Venv,
    names: &[String],
    jobs: usize,
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<UninstallSummary> {
    crate::install::in_pool(jobs, || uninstall_in_pool(venv, names, reporter, cancel))
}

fn uninstall_in_pool(
    venv: &Venv,
    names: &[String],
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<UninstallSummary> {
    cancel.check()?;
    let _lock = venv.lock(reporter)?;
    let (dists, not_installed) = select(venv, names)?;
    for name in &not_installed {
        reporter.event(Event::NotInstalled { name });
    }
    if dists.is_empty() {
        return Err(Error::NotInstalled { venv: venv.root().to_path_buf(), names: not_installed });
    }

    let mut files = BTreeSet::new();
    let mut removed = Vec::with_capacity(dists.len());
    for dist in &dists {
        files.extend(dist_files(dist, venv, reporter)?);
        let (name, version) = dist.metadata_name_version();
        removed.push(DistVersion { name, version });
    }
    let files: Vec<PathBuf> = files.into_iter().collect();
    reporter.add_total(files.len() as u64);

    let txn = Transaction::new(venv.root());
    let moved: Result<Vec<bool>> = files
        .par_iter()
        .map(|path| {
            cancel.check()?;
            let existed = std::fs::symlink_metadata(path).is_ok();
            txn.remove(path)?;
            crate::pause::point("file-moved-aside");
            reporter.advance(1);
            Ok(existed)
        })
        .collect();
    // A cancel after the last file was moved changes nothing: the moves are undone too.
    let moved = match moved.and_then(|moved| cancel.check().map(|()| moved)) {
        Ok(moved) => moved,
        Err(err) => {
            txn.rollback();
            return Err(err);
        }
    };
    txn.commit(emptied_dirs(&files, &dists, venv));
    Ok(UninstallSummary { removed, not_installed, files: moved.into_iter().filter(|&m| m).count() as u64 })
}

/// The installed distributions `names` refer to, once each, in the order named; and the
/// names that match none.
fn select(venv: &Venv, names: &[String]) -> Result<(Vec<InstalledDist>, Vec<String>)> {
    let installed = installed::scan(venv)?;
    let mut selected: Vec<InstalledDist> = Vec::with_capacity(names.len());
    let mut unknown = Vec::new();
    for name in names {
        let wanted = normalize_name(name);
        // Two `.dist-info` of one project (left by a broken tool) are both removed.
        let matches: Vec<&InstalledDist> =
            installed.iter().filter(|d| d.normalized_name() == wanted).collect();
        // Once per distribution, however it is spelled: `nope` and `NOPE` are one name, and
        // a second warning about it would be the same warning.
        if matches.is_empty() && !unknown.iter().any(|known: &String| normalize_name(known) == wanted) {
            unknown.push(name.clone());
        }
        for dist in matches {
            if !selected.contains(dist) {
                selected.push(dist.clone());
            }
        }
    }
    Ok((selected, unknown))
}

/// The files of `dist` to remove: RECORD's (those inside the environment), their bytecode, and
/// whatever else is in its `.dist-info` (so that no half-removed distribution stays visible).
/// Entries RECORD names outside the environment, or that are directories, are left alone with
/// a warning. A `.dist-info` without RECORD and METADATA is debris of an interrupted install
/// or uninstall: it goes, with a warning, so that it never blocks its project. One with
/// METADATA and no RECORD belongs to another tool ([`Record::KeptElsewhere`]): an error.
pub(crate) fn dist_files(dist: &InstalledDist, venv: &Venv, reporter: &dyn Reporter) -> Result<Vec<PathBuf>> {
    let (paths, outside) = match dist.record() {
        Record::Listed => dist.record_paths_and_outsiders(venv)?,
        Record::KeptElsewhere => return Err(dist.kept_elsewhere()),
        Record::Debris => {
            reporter.warning(&format!(
                "removing {}: it has neither METADATA nor RECORD, left by an interrupted install \
                 or uninstall",
                dist.dist_info.display()
            ));
            (Vec::new(), Vec::new())
        }
    };
    let root = std::fs::canonicalize(venv.root()).map_err(|e| Error::io("resolve", venv.root(), e))?;
    for path in &outside {
        reporter.warning(&format!(
            "not removing {path}: RECORD of {} names it, but it is outside {}",
            dist.dist_info.display(),
            venv.root().display()
        ));
    }
    let mut files = Vec::with_capacity(paths.len() * 2);
    let mut dirs = Dirs { venv: venv.root(), root, inside: HashMap::new(), bytecode: HashMap::new() };
    for path in paths {
        if !dirs.inside_after_symlinks(&path) {
            reporter.warning(&format!(
                "not removing {}: RECORD of {} names it, but it leads outside {} through a symlink",
                path.display(),
                dist.dist_info.display(),
                venv.root().display()
            ));
            continue;
        }
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                reporter.warning(&format!(
                    "not removing {}: RECORD of {} names it, but it is a directory",
                    path.display(),
                    dist.dist_info.display()
                ));
                continue;
            }
            _ => {}
        }
        if path.extension().is_some_and(|e| e == "py") {
            files.extend(dirs.bytecode_of(&path));
        }
        files.push(path);
    }
    // A `.dist-info` that is a symlink is removed as the link: walking through it would delete
    // whatever it points to, outside the environment.
    let dist_info_is_link =
        std::fs::symlink_metadata(&dist.dist_info).is_ok_and(|m| m.file_type().is_symlink());
    if dist_info_is_link {
        files.push(dist.dist_info.clone());
        return Ok(files);
    }
    for entry in walkdir::WalkDir::new(&dist.dist_info).follow_root_links(false).into_iter().flatten() {
        if !entry.file_type().is_dir() {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// What [`dist_files`] asks of the directories of a RECORD, found once per directory (a RECORD
/// of 10,000 files has a few hundred): resolving a path is a `readlink` per component, and a
/// `__pycache__` listed once per module would be read quadratically often.
struct Dirs<'v> {
    venv: &'v Path,
    /// `venv`, canonical.
    root: PathBuf,
    inside: HashMap<PathBuf, bool>,
    /// The file names in `<dir>/__pycache__`, by `<dir>`.
    bytecode: HashMap<PathBuf, Vec<OsString>>,
}

impl Dirs<'_> {
    /// Whether `path`'s directory, with symlinks resolved, is still inside the environment
    /// (`path` is lexically inside it). A symlinked directory in site-packages (a developer's
    /// checkout) must not let RECORD delete files in the place it points to. The file itself is
    /// not resolved: a symlink (from `--link-mode symlink`) is removed, never its target.
    fn inside_after_symlinks(&mut self, path: &Path) -> bool {
        path.parent().is_some_and(|dir| self.dir_inside(dir))
    }

    /// A directory that is no symlink is where its parent is; only symlinks are resolved.
    fn dir_inside(&mut self, dir: &Path) -> bool {
        if dir == self.venv {
            return true;
        }
        if let Some(&inside) = self.inside.get(dir) {
            return inside;
        }
        let inside = match (std::fs::symlink_metadata(dir), dir.parent()) {
            (Ok(meta), Some(parent)) if !meta.file_type().is_symlink() => self.dir_inside(parent),
            (Ok(_), _) => match std::fs::canonicalize(dir) {
                Ok(real) => real.starts_with(&self.root),
                // A dangling symlink leads to nothing to remove.
                Err(_) => true,
            },
            // A directory that does not exist holds nothing to remove.
            (Err(_), _) => true,
        };
        self.inside.insert(dir.to_path_buf(), inside);
        inside
    }

    /// `<dir>/__pycache__/<stem>.<tag>[.opt-N].pyc` next to `<dir>/<stem>.py`, for any
    /// interpreter tag: Python writes them on import and RECORD does not list them.
    fn bytecode_of(&mut self, py: &Path) -> Vec<PathBuf> {
        let (Some(dir), Some(stem)) = (py.parent(), py.file_stem().and_then(|s| s.to_str())) else {
            return Vec::new();
        };
        let cache = dir.join("__pycache__");
        // A `__pycache__` that is a symlink out of the environment is not ours to empty.
        if !self.dir_inside(&cache) {
            return Vec::new();
        }
        let names = self.bytecode.entry(dir.to_path_buf()).or_insert_with(|| {
            std::fs::read_dir(&cache)
                .map_or(Vec::new(), |entries| entries.flatten().map(|e| e.file_name()).collect())
        });
        names
            .iter()
            .filter(|name| name.to_str().is_some_and(|name| is_bytecode_of(name, stem)))
            .map(|name| cache.join(name))
            .collect()
    }
}

/// `name` is `<stem>.<tag>.pyc` or `<stem>.<tag>.opt-<n>.pyc` (PEP 3147, PEP 488).
fn is_bytecode_of(name: &str, stem: &str) -> bool {
    let Some(rest) = name.strip_prefix(stem).and_then(|r| r.strip_prefix('.')) else { return false };
    let Some(tag) = rest.strip_suffix(".pyc") else { return false };
    match tag.split_once('.') {
        None => !tag.is_empty(),
        Some((tag, opt)) => !tag.is_empty() && opt.starts_with("opt-") && !opt.contains('.'),
    }
}

/// The directories removing `files` may have emptied: their ancestors up to the environment's
/// own directories, which stay even when empty (a fresh venv has an empty `include`).
pub(crate) fn emptied_dirs(files: &[PathBuf], dists: &[InstalledDist], venv: &Venv) -> BTreeSet<PathBuf> {
    let mut protected: BTreeSet<&Path> = BTreeSet::new();
    for keep in [venv.site_packages(), venv.platlib(), venv.scripts()] {
        protected.extend(keep.ancestors().take_while(|d| d.starts_with(venv.root())));
    }
    let include = venv.root().join("include");
    protected.insert(&include);

    let mut dirs: BTreeSet<PathBuf> = dists.iter().map(|d| d.dist_info.clone()).collect();
    for file in files {
        for dir in file.ancestors().skip(1) {
            if protected.contains(dir) || !dir.starts_with(venv.root()) || !dirs.insert(dir.to_path_buf()) {
                break;
            }
        }
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reporter::NoReporter;

    /// A venv layout on disk (no interpreter) with the given files; returns it and its tempdir.
    fn venv_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Venv) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("pyvenv.cfg"), "version = 3.12.1\n").unwrap();
        for sub in ["bin", "include", "lib/python3.12/site-packages"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        for (path, content) in files {
            let path = root.join("lib/python3.12/site-packages").join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        let venv = Venv::open(root).unwrap();
        (dir, venv)
    }

    fn tree(root: &Path) -> Vec<String> {
        let mut out: Vec<String> = walkdir::WalkDir::new(root)
            .min_depth(1)
            .into_iter()
            .map(|e| e.unwrap().path().strip_prefix(root).unwrap().display().to_string())
            .collect();
        out.sort();
        out
    }

    const RECORD: &str = "foo/__init__.py,,\nfoo/sub/x.py,,\nFoo_Bar-1.0.dist-info/METADATA,,\n\
                          Foo_Bar-1.0.dist-info/RECORD,,\n../../../bin/foo,,\n\
                          ../../../include/site/python3.12/Foo-Bar/foo.h,,\n";

    fn foo_bar() -> Vec<(&'static str, &'static str)> {
        vec![
            ("foo/__init__.py", ""),
            ("foo/sub/x.py", "x = 1"),
            ("foo/sub/__pycache__/x.cpython-312.pyc", "bytecode"),
            ("foo/sub/__pycache__/x.pypy310.opt-1.pyc", "bytecode"),
            ("foo/sub/__pycache__/xy.cpython-312.pyc", "another module's"),
            ("Foo_Bar-1.0.dist-info/METADATA", "Name: Foo-Bar\nVersion: 1.0\n"),
            ("Foo_Bar-1.0.dist-info/RECORD", RECORD),
            ("Foo_Bar-1.0.dist-info/REQUESTED", ""),
        ]
    }

    #[test]
    fn removes_record_files_bytecode_and_emptied_dirs_only() {
        let (dir, venv) = venv_with(&foo_bar());
        std::fs::write(venv.scripts().join("foo"), "#!python").unwrap();
        let headers = venv.headers("Foo-Bar");
        std::fs::create_dir_all(&headers).unwrap();
        std::fs::write(headers.join("foo.h"), "").unwrap();
        let summary = uninstall(&venv, &["foo-bar".into()], 0, &NoReporter, &Cancel::new()).unwrap();
        assert_eq!(summary.removed, [DistVersion { name: "Foo-Bar".into(), version: "1.0".into() }]);
        assert_eq!(summary.files, 9);
        assert_eq!(
            tree(dir.path()),
            [
                "bin",
                "include",
                "lib",
                "lib/python3.12",
                "lib/python3.12/site-packages",
                "lib/python3.12/site-packages/foo",
                "lib/python3.12/site-packages/foo/sub",
                "lib/python3.12/site-packages/foo/sub/__pycache__",
                "lib/python3.12/site-packages/foo/sub/__pycache__/xy.cpython-312.pyc",
                "pyvenv.cfg",
            ]
        );
    }

    /// Records the names reported as not installed, and the warnings.
    #[derive(Default)]
    struct Said {
        not_installed: std::sync::Mutex<Vec<String>>,
        warnings: std::sync::Mutex<Vec<String>>,
    }

    impl Reporter for Said {
        fn event(&self, event: Event<'_>) {
            if let Event::NotInstalled { name } = event {
                self.not_installed.lock().unwrap().push(name.to_string());
            }
        }

        fn warning(&self, message: &str) {
            self.warnings.lock().unwrap().push(message.to_string());
        }
    }

    #[test]
    fn unknown_names_are_reported_and_the_others_removed() {
        let (dir, venv) = venv_with(&foo_bar());
        let said = Said::default();
        let names = ["FOO_BAR".into(), "nope".into(), "Other".into(), "nope".into(), "NOPE".into()];
        let summary = uninstall(&venv, &names, 0, &said, &Cancel::new()).unwrap();
        assert_eq!(summary.not_installed, ["nope", "Other"]);
        assert_eq!(*said.not_installed.lock().unwrap(), ["nope", "Other"]);
        assert_eq!(summary.removed.len(), 1);
        assert!(!dir.path().join("lib/python3.12/site-packages/Foo_Bar-1.0.dist-info").exists());
    }

    #[test]
    fn when_no_name_is_installed_it_fails_naming_them_all_and_removes_nothing() {
        let (dir, venv) = venv_with(&foo_bar());
        let before = tree(dir.path());
        let said = Said::default();
        let err = uninstall(&venv, &["nope".into(), "Other".into()], 0, &said, &Cancel::new()).unwrap_err();
        assert!(matches!(&err, Error::NotInstalled { names, .. } if names == &["nope", "Other"]), "{err}");
        // Reported by the core, so every frontend warns for them alike.
        assert_eq!(*said.not_installed.lock().unwrap(), ["nope", "Other"]);
        assert_eq!(tree(dir.path()), before);
    }

    /// Cancels its token when the first file has been moved aside: a deterministic point
    /// in the middle of an uninstall.
    struct CancelAfterFirst(Cancel);

    impl Reporter for CancelAfterFirst {
        fn event(&self, _: Event<'_>) {}
        fn advance(&self, _: u64) {
            self.0.cancel();
        }
    }

    #[test]
    fn a_cancelled_uninstall_returns_cancelled_and_changes_nothing() {
        let (dir, venv) = venv_with(&foo_bar());
        let before = tree(dir.path());
        let names = ["foo-bar".to_string()];
        // Cancelled before the call: nothing is even looked at.
        let cancel = Cancel::new();
        cancel.cancel();
        let err = uninstall(&venv, &names, 0, &NoReporter, &cancel).unwrap_err();
        assert!(matches!(err, Error::Cancelled), "{err}");
        assert_eq!(tree(dir.path()), before);
        // Cancelled after files were moved aside: they are all put back.
        let reporter = CancelAfterFirst(Cancel::new());
        let err = uninstall(&venv, &names, 0, &reporter, &reporter.0).unwrap_err();
        assert!(matches!(err, Error::Cancelled), "{err}");
        assert_eq!(tree(dir.path()), before);
        // With an uncancelled token the same call removes the distribution.
        uninstall(&venv, &names, 0, &NoReporter, &Cancel::new()).unwrap();
        assert_ne!(tree(dir.path()), before);
    }

    #[test]
    fn record_cannot_remove_directories_or_escape() {
        let record = "../../../bin,,\n../../../../outside.txt,,\n../../..,,\nX-1.dist-info/RECORD,,\n";
        let (dir, venv) = venv_with(&[("X-1.dist-info/RECORD", record)]);
        std::fs::write(venv.scripts().join("python"), "").unwrap();
        uninstall(&venv, &["x".into()], 0, &NoReporter, &Cancel::new()).unwrap();
        assert_eq!(
            tree(dir.path()),
            [
                "bin",
                "bin/python",
                "include",
                "lib",
                "lib/python3.12",
                "lib/python3.12/site-packages",
                "pyvenv.cfg"
            ]
        );
    }

    #[test]
    fn symlinked_directories_are_followed_at_any_depth_only_inside() {
        // `out` leads outside the venv, `alias` to a directory inside it; files are named
        // below them, directly and one and two directories deeper.
        let record = "out/a.py,,\nout/sub/b.py,,\nout/sub/deeper/c.py,,\nalias/d.py,,\n\
                      alias/sub/e.py,,\nX-1.dist-info/RECORD,,\n";
        let (dir, venv) =
            venv_with(&[("X-1.dist-info/RECORD", record), ("real/d.py", ""), ("real/sub/e.py", "")]);
        let outside = tempfile::tempdir().unwrap();
        for file in ["a.py", "sub/b.py", "sub/deeper/c.py"] {
            let path = outside.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "canary").unwrap();
        }
        std::os::unix::fs::symlink(outside.path(), venv.site_packages().join("out")).unwrap();
        std::os::unix::fs::symlink("real", venv.site_packages().join("alias")).unwrap();
        let warned = Said::default();
        uninstall(&venv, &["x".into()], 0, &warned, &Cancel::new()).unwrap();
        assert_eq!(tree(outside.path()), ["a.py", "sub", "sub/b.py", "sub/deeper", "sub/deeper/c.py"]);
        let warned = warned.warnings.into_inner().unwrap();
        assert_eq!(warned.iter().filter(|w| w.contains("through a symlink")).count(), 3, "{warned:?}");
        let site = venv.site_packages().strip_prefix(dir.path()).unwrap().display().to_string();
        let left: Vec<String> = tree(dir.path()).into_iter().filter(|p| p.starts_with(&site)).collect();
        assert_eq!(
            left,
            [site.clone(), format!("{site}/alias"), format!("{site}/out"), format!("{site}/real")]
        );
    }

    #[test]
    fn bytecode_names_match_only_their_module() {
        assert!(is_bytecode_of("x.cpython-312.pyc", "x"));
        assert!(is_bytecode_of("x.cpython-312.opt-2.pyc", "x"));
        assert!(!is_bytecode_of("xy.cpython-312.pyc", "x"));
        assert!(!is_bytecode_of("x.pyc", "x"));
        assert!(!is_bytecode_of("x.a.b.pyc", "x"));
        assert!(!is_bytecode_of("x.cpython-312.pyc.tmp", "x"));
    }
}
