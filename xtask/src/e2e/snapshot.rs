//! A directory tree as data (relative path -> type, size, content digest, executable bit, link
//! count, symlink target) and the differences between two of them, so that "this venv is what
//! pip makes" is one comparison.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    /// Bytes of a file (after normalization); 0 for directories and symlinks.
    pub size: u64,
    /// sha256 (hex) of a file's (normalized) contents.
    pub digest: Option<String>,
    pub executable: bool,
    /// The permission bits (`0o7777`) of a file or directory (a followed symlink's target's);
    /// 0 for a symlink.
    pub mode: u32,
    /// Link count of a file; 0 for directories (theirs only count subdirectories).
    pub nlink: u64,
    /// Where a symlink points, as written (also kept for a followed symlink).
    pub target: Option<PathBuf>,
}

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Relative paths with `/` separators, sorted.
    pub entries: BTreeMap<String, Entry>,
}

#[derive(Clone, Debug, Default)]
pub struct SnapshotOptions {
    /// Describe a symlink to a file as the file it points to (the target is still recorded).
    /// Symlinks to directories are never followed.
    pub follow_file_symlinks: bool,
    /// In files that start with `#!`, replace this text (e.g. the venv's path) by the second,
    /// so scripts of two venvs compare equal.
    pub normalize_shebang_files: Option<(String, String)>,
    /// Paths not walked at all (patterns as in [`ignored`]).
    pub skip: Vec<String>,
}

impl Snapshot {
    pub fn of(root: &Path, opts: &SnapshotOptions) -> Result<Snapshot> {
        let mut snap = Snapshot::default();
        if root.exists() {
            walk(root, "", opts, &mut snap.entries)
                .with_context(|| format!("snapshot of {}", root.display()))?;
        }
        Ok(snap)
    }

    /// The entries that are new or changed compared to `before`: what an install added.
    pub fn minus(&self, before: &Snapshot) -> Snapshot {
        let entries = self
            .entries
            .iter()
            .filter(|(path, entry)| before.entries.get(*path) != Some(entry))
            .map(|(p, e)| (p.clone(), e.clone()))
            .collect();
        Snapshot { entries }
    }

    pub fn without(&self, ignore: &[&str]) -> Snapshot {
        let entries = self
            .entries
            .iter()
            .filter(|(p, _)| !ignored(p, ignore))
            .map(|(p, e)| (p.clone(), e.clone()))
            .collect();
        Snapshot { entries }
    }
}

fn walk(dir: &Path, rel: &str, opts: &SnapshotOptions, out: &mut BTreeMap<String, Entry>) -> Result<()> {
    let mut children: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    children.sort_by_key(|c| c.file_name());
    for child in children {
        let name = child.file_name().to_string_lossy().into_owned();
        let rel = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        if opts.skip.iter().any(|p| ignored(&rel, &[p])) {
            continue;
        }
        let path = child.path();
        let meta = std::fs::symlink_metadata(&path)?;
        let entry = if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path)?;
            match std::fs::metadata(&path) {
                Ok(m) if opts.follow_file_symlinks && m.is_file() => {
                    Entry { target: Some(target), ..file(&path, &m, opts)? }
                }
                _ => Entry {
                    kind: Kind::Symlink,
                    size: 0,
                    digest: None,
                    executable: false,
                    mode: 0,
                    nlink: 1,
                    target: Some(target),
                },
            }
        } else if meta.is_dir() {
            walk(&path, &rel, opts, out)?;
            Entry {
                kind: Kind::Dir,
                size: 0,
                digest: None,
                executable: meta.mode() & 0o111 != 0,
                mode: meta.mode() & 0o7777,
                nlink: 0,
                target: None,
            }
        } else {
            file(&path, &meta, opts)?
        };
        out.insert(rel, entry);
    }
    Ok(())
}

fn file(path: &Path, meta: &std::fs::Metadata, opts: &SnapshotOptions) -> Result<Entry> {
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    if let Some((from, to)) = &opts.normalize_shebang_files {
        if bytes.starts_with(b"#!") {
            bytes = replace(&bytes, from.as_bytes(), to.as_bytes());
        }
    }
    Ok(Entry {
        kind: Kind::File,
        size: bytes.len() as u64,
        digest: Some(hex(&Sha256::digest(&bytes))),
        executable: meta.permissions().mode() & 0o111 != 0,
        mode: meta.mode() & 0o7777,
        nlink: meta.nlink(),
        target: None,
    })
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    if from.is_empty() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What to compare besides type, size, content and executable bit.
#[derive(Clone, Debug, Default)]
pub struct DiffOptions<'a> {
    /// Patterns of paths left out on both sides (see [`ignored`]).
    pub ignore: &'a [&'a str],
    pub link_counts: bool,
    pub symlink_targets: bool,
    /// Compare the whole permission bits, not only whether a file is executable.
    pub modes: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    OnlyLeft(String),
    OnlyRight(String),
    Changed { path: String, what: String },
}

pub fn diff(left: &Snapshot, right: &Snapshot, opts: &DiffOptions) -> Vec<Difference> {
    let mut out = Vec::new();
    for (path, l) in &left.entries {
        if ignored(path, opts.ignore) {
            continue;
        }
        match right.entries.get(path) {
            None => out.push(Difference::OnlyLeft(path.clone())),
            Some(r) => {
                if let Some(what) = changed(l, r, opts) {
                    out.push(Difference::Changed { path: path.clone(), what });
                }
            }
        }
    }
    for path in right.entries.keys() {
        if !ignored(path, opts.ignore) && !left.entries.contains_key(path) {
            out.push(Difference::OnlyRight(path.clone()));
        }
    }
    out
}

fn changed(l: &Entry, r: &Entry, opts: &DiffOptions) -> Option<String> {
    if l.kind != r.kind {
        return Some(format!("{:?} vs {:?}", l.kind, r.kind));
    }
    if l.size != r.size {
        return Some(format!("size {} vs {}", l.size, r.size));
    }
    if l.digest != r.digest {
        return Some("contents differ".to_owned());
    }
    if l.executable != r.executable {
        return Some(format!("executable {} vs {}", l.executable, r.executable));
    }
    if opts.modes && l.mode != r.mode {
        return Some(format!("mode {:o} vs {:o}", l.mode, r.mode));
    }
    if opts.link_counts && l.nlink != r.nlink {
        return Some(format!("link count {} vs {}", l.nlink, r.nlink));
    }
    if opts.symlink_targets && l.target != r.target {
        return Some(format!("symlink target {:?} vs {:?}", l.target, r.target));
    }
    None
}

/// Whether `path` (relative, `/`-separated) lies at or under a match of `patterns`. A pattern
/// is a `/`-separated run of components (`*` and `?` wildcards inside one component) that may
/// match anywhere: `__pycache__` matches `a/__pycache__/b.pyc`; `*.dist-info/RECORD` matches
/// `lib/python3.11/site-packages/x-1.dist-info/RECORD`. A leading `/` anchors a pattern at the
/// root: `/bin/python*`.
pub fn ignored<S: AsRef<str>>(path: &str, patterns: &[S]) -> bool {
    let comps: Vec<&str> = path.split('/').collect();
    patterns.iter().any(|pattern| {
        let (anchored, pattern) = match pattern.as_ref().strip_prefix('/') {
            Some(p) => (true, p),
            None => (false, pattern.as_ref()),
        };
        let pat: Vec<&str> = pattern.split('/').collect();
        let last_start = if comps.len() < pat.len() { return false } else { comps.len() - pat.len() };
        let starts = if anchored { 0..=0 } else { 0..=last_start };
        starts
            .into_iter()
            .any(|start| pat.iter().zip(&comps[start..]).all(|(p, c)| glob(p.as_bytes(), c.as_bytes())))
    })
}

fn glob(pat: &[u8], s: &[u8]) -> bool {
    match (pat.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&pat[1..], s) || (!s.is_empty() && glob(pat, &s[1..])),
        (Some(b'?'), Some(_)) => glob(&pat[1..], &s[1..]),
        (Some(p), Some(c)) if p == c => glob(&pat[1..], &s[1..]),
        _ => false,
    }
}

/// One line for a failure message: how many differences, the first few of them.
pub struct Summary<'a> {
    pub diffs: &'a [Difference],
    pub left: &'a str,
    pub right: &'a str,
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} difference(s) {} vs {}", self.diffs.len(), self.left, self.right)?;
        for (i, d) in self.diffs.iter().take(5).enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            match d {
                Difference::OnlyLeft(p) => write!(f, "only in {}: {p}", self.left)?,
                Difference::OnlyRight(p) => write!(f, "only in {}: {p}", self.right)?,
                Difference::Changed { path, what } => write!(f, "{path}: {what}")?,
            }
        }
        if self.diffs.len() > 5 {
            write!(f, "; ...")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(digest: &str, size: u64) -> Entry {
        Entry {
            kind: Kind::File,
            size,
            digest: Some(digest.into()),
            executable: false,
            mode: 0o644,
            nlink: 1,
            target: None,
        }
    }

    fn snap(entries: &[(&str, Entry)]) -> Snapshot {
        Snapshot { entries: entries.iter().map(|(p, e)| (p.to_string(), e.clone())).collect() }
    }

    fn check(left: &Snapshot, right: &Snapshot, opts: &DiffOptions, expect: &str) {
        let diffs = diff(left, right, opts);
        assert_eq!(Summary { diffs: &diffs, left: "ours", right: "pip" }.to_string(), expect);
    }

    #[test]
    fn patterns_match_anywhere_and_below() {
        let ignore = ["*.dist-info/RECORD", "__pycache__"];
        assert!(ignored("lib/python3.11/site-packages/a-1.0.dist-info/RECORD", &ignore));
        assert!(ignored("a/__pycache__", &ignore));
        assert!(ignored("a/__pycache__/m.cpython-311.pyc", &ignore));
        assert!(!ignored("a-1.0.dist-info/RECORDS", &ignore));
        assert!(!ignored("a-1.0.dist-info/METADATA", &ignore));
        assert!(ignored("x/RECORD", &["?/RECORD"]));
        assert!(ignored("bin/python3", &["/bin/python*"]));
        assert!(!ignored("lib/bin/python3", &["/bin/python*"]));
    }

    #[test]
    fn diff_reports_each_kind_of_difference() {
        let exec = Entry { executable: true, mode: 0o755, ..file("aa", 1) };
        let left = snap(&[("a", file("aa", 1)), ("b", file("bb", 2)), ("c", exec), ("only-l", file("x", 1))]);
        let right = snap(&[
            ("a", file("aa", 1)),
            ("b", file("bc", 2)),
            ("c", file("aa", 1)),
            ("only-r", file("x", 1)),
        ]);
        check(
            &left,
            &right,
            &DiffOptions::default(),
            "4 difference(s) ours vs pip: b: contents differ; c: executable true vs false; \
             only in ours: only-l; only in pip: only-r",
        );
    }

    #[test]
    fn link_counts_and_ignores_are_opt_in() {
        let linked = Entry { nlink: 2, ..file("aa", 1) };
        let left = snap(&[("a", linked), ("x.dist-info/RECORD", file("r1", 1))]);
        let right = snap(&[("a", file("aa", 1)), ("x.dist-info/RECORD", file("r2", 1))]);
        let ignore = ["*.dist-info/RECORD"];
        check(
            &left,
            &right,
            &DiffOptions { ignore: &ignore, ..Default::default() },
            "0 difference(s) ours vs pip",
        );
        check(
            &left,
            &right,
            &DiffOptions { ignore: &ignore, link_counts: true, ..Default::default() },
            "1 difference(s) ours vs pip: a: link count 2 vs 1",
        );
        let private = Entry { mode: 0o600, ..file("aa", 1) };
        let left = snap(&[("a", private)]);
        let right = snap(&[("a", file("aa", 1))]);
        check(&left, &right, &DiffOptions::default(), "0 difference(s) ours vs pip");
        check(
            &left,
            &right,
            &DiffOptions { modes: true, ..Default::default() },
            "1 difference(s) ours vs pip: a: mode 600 vs 644",
        );
    }

    #[test]
    fn snapshot_normalizes_shebangs_follows_file_symlinks_and_subtracts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("bin")).unwrap();
        std::fs::write(root.join("bin/tool"), format!("#!{}/bin/python\n", root.display())).unwrap();
        std::fs::write(root.join("data"), "hello").unwrap();
        let before = Snapshot::of(root, &SnapshotOptions::default()).unwrap();
        std::os::unix::fs::symlink(root.join("data"), root.join("link")).unwrap();
        std::os::unix::fs::symlink("bin", root.join("dirlink")).unwrap();

        let opts = SnapshotOptions {
            follow_file_symlinks: true,
            normalize_shebang_files: Some((root.display().to_string(), "{venv}".into())),
            skip: vec![],
        };
        let after = Snapshot::of(root, &opts).unwrap();
        assert_eq!(after.entries["bin/tool"].size, "#!{venv}/bin/python\n".len() as u64);
        assert_eq!(after.entries["link"].kind, Kind::File);
        assert_eq!(after.entries["link"].digest, after.entries["data"].digest);
        assert_eq!(after.entries["dirlink"].kind, Kind::Symlink);

        let plain = Snapshot::of(root, &SnapshotOptions::default()).unwrap();
        let added: Vec<_> = plain.minus(&before).entries.into_keys().collect();
        assert_eq!(added, ["dirlink", "link"]);
    }
}
