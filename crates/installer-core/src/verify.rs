//! `installer verify`: every installed file against its distribution's RECORD (pip #1463 asks
//! for it "outside pip"). Reads only: it reports, the frontends decide what a difference means.
//!
//! Per distribution: *modified* (hash or size differs from RECORD), *missing* (listed, not
//! there; RECORD itself when it is gone) and *unrecorded* (a file under one of the distribution's top-level directories in
//! purelib or platlib that no RECORD of the environment lists). RECORD paths are relative to
//! the directory holding the `.dist-info`. `__pycache__` directories are not
//! searched for unrecorded files: Python writes bytecode there on import; bytecode that a
//! RECORD lists is checked like any other file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::cancel::Cancel;
use crate::installed::{resolve_inside, scan, InstalledDist, Record};
use crate::venv::Venv;
use crate::wheel::record::{self, hashes_equal, RecordHasher};
use crate::{Error, Result};

/// What verification found in one distribution. Paths are relative to the environment's root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DistVerification {
    /// The project name and version, as `installer list` shows them.
    pub name: String,
    /// From METADATA, as `name` (the directory's when METADATA cannot be read).
    pub version: String,
    /// Listed with a hash or size the file no longer has, or a hash that cannot be checked
    /// (an algorithm refused, an unreadable file).
    pub modified: Vec<PathBuf>,
    /// Listed in RECORD but not there; RECORD itself for a distribution that has none.
    pub missing: Vec<PathBuf>,
    /// In a top-level directory the distribution installed into (a package, its
    /// `.dist-info`), but in no RECORD of the environment; `__pycache__` is not searched.
    pub unrecorded: Vec<PathBuf>,
}

impl DistVerification {
    /// Files that differ from RECORD in any way.
    pub fn differences(&self) -> usize {
        self.modified.len() + self.missing.len() + self.unrecorded.len()
    }
}

/// What verification found in an environment: every distribution, sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// One per `.dist-info`, those without differences included.
    pub dists: Vec<DistVerification>,
    /// Files checked against a RECORD hash.
    pub files_checked: usize,
}

impl Verification {
    /// Differences in all distributions.
    pub fn differences(&self) -> usize {
        self.dists.iter().map(DistVerification::differences).sum()
    }

    /// `Ok` when nothing differs; else [`Error::Verify`] naming the first few differences.
    pub fn into_result(self, venv: &Venv) -> Result<Verification> {
        if self.differences() == 0 {
            return Ok(self);
        }
        let mut first = Vec::new();
        for dist in &self.dists {
            let kinds =
                [("modified", &dist.modified), ("missing", &dist.missing), ("unrecorded", &dist.unrecorded)];
            for (kind, paths) in kinds {
                first.extend(
                    paths.iter().map(|p| format!("{} {}: {kind} {}", dist.name, dist.version, p.display())),
                );
            }
        }
        let differences = first.len();
        first.truncate(3);
        Err(Error::Verify { venv: venv.root().to_path_buf(), differences, first: first.join("; ") })
    }
}

/// Checks every distribution of `venv` against its RECORD, hashing files on `jobs` threads
/// (0: one per CPU) that have all exited when it returns. Cancelling `cancel` stops it between
/// files with [`Error::Cancelled`] (it changes nothing, so there is nothing to undo).
pub fn verify(venv: &Venv, jobs: usize, cancel: &Cancel) -> Result<Verification> {
    crate::install::in_pool(jobs, || verify_in_pool(venv, cancel))
}

fn verify_in_pool(venv: &Venv, cancel: &Cancel) -> Result<Verification> {
    cancel.check()?;
    venv.recover_if_idle();
    let dists = scan(venv)?;
    let mut recorded: Vec<Vec<Row>> = Vec::with_capacity(dists.len());
    for dist in &dists {
        recorded.push(rows(dist, venv)?);
    }
    let all: HashSet<&Path> = recorded.iter().flatten().map(|row| row.path.as_path()).collect();
    let root = venv.root();
    let relative = |p: &Path| p.strip_prefix(root).unwrap_or(p).to_path_buf();
    let mut out = Verification::default();
    for (dist, rows) in dists.iter().zip(&recorded) {
        let (name, version) = dist.metadata_name_version();
        let mut found = DistVerification { name, version, ..Default::default() };
        let states: Vec<State> =
            rows.par_iter().map(|row| cancel.check().map(|()| check(row))).collect::<Result<_>>()?;
        for (row, state) in rows.iter().zip(states) {
            match state {
                State::Ok => {}
                State::Missing => found.missing.push(relative(&row.path)),
                State::Modified => found.modified.push(relative(&row.path)),
            }
        }
        out.files_checked += rows.iter().filter(|r| r.hash.is_some()).count();
        let listed = dist.record() == Record::Listed;
        let tops = if listed { top_level_dirs(venv, rows) } else { Vec::new() };
        for top in tops {
            for entry in
                walkdir::WalkDir::new(&top).into_iter().filter_entry(|e| e.file_name() != "__pycache__")
            {
                let entry = entry.map_err(|e| {
                    let path = e.path().unwrap_or(&top).to_path_buf();
                    Error::io("list", path, e.into())
                })?;
                if !entry.file_type().is_dir() && !all.contains(entry.path()) {
                    found.unrecorded.push(relative(entry.path()));
                }
            }
        }
        found.unrecorded.sort();
        out.dists.push(found);
    }
    out.dists.sort_by_cached_key(|d| (crate::wheel::normalize_name(&d.name), d.version.clone()));
    Ok(out)
}

/// One RECORD row, resolved inside the environment.
struct Row {
    path: PathBuf,
    hash: Option<String>,
    size: Option<u64>,
}

enum State {
    Ok,
    Missing,
    Modified,
}

/// The rows of `dist`'s RECORD, resolved against the directory holding its `.dist-info`.
fn rows(dist: &InstalledDist, venv: &Venv) -> Result<Vec<Row>> {
    let record_path = dist.dist_info.join("RECORD");
    if dist.record() != Record::Listed {
        // Reported as its one missing file; what else it installed is unknown.
        return Ok(vec![Row { path: record_path, hash: None, size: None }]);
    }
    let text = std::fs::read_to_string(&record_path).map_err(|e| Error::io("read", &record_path, e))?;
    let entries = record::parse_record(&text).map_err(|reason| {
        Error::io("parse", &record_path, std::io::Error::new(std::io::ErrorKind::InvalidData, reason))
    })?;
    Ok(entries
        .into_iter()
        .filter_map(|e| {
            let path = resolve_inside(dist.library_dir(), &e.path, venv.root())?;
            Some(Row { path, hash: e.hash, size: e.size })
        })
        .collect())
}

/// A row without a hash (RECORD itself) only has to exist. A hash in an algorithm that cannot
/// be checked (md5) counts as modified: nothing vouches for the file.
fn check(row: &Row) -> State {
    let Ok(metadata) = std::fs::metadata(&row.path) else { return State::Missing };
    let Some(hash) = &row.hash else { return State::Ok };
    if row.size.is_some_and(|size| size != metadata.len()) {
        return State::Modified;
    }
    let algorithm = hash.split_once('=').map_or(hash.as_str(), |(a, _)| a);
    let Ok(mut hasher) = RecordHasher::new(algorithm) else { return State::Modified };
    match hash_file(&row.path, &mut hasher) {
        Ok(()) if hashes_equal(hash, &hasher.finish()) => State::Ok,
        _ => State::Modified,
    }
}

fn hash_file(path: &Path, hasher: &mut RecordHasher) -> std::io::Result<()> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf)? {
            0 => return Ok(()),
            n => hasher.update(&buf[..n]),
        }
    }
}

/// The directories directly under purelib or platlib that hold a recorded file (a package,
/// the `.dist-info`); files directly in them and in other roots (`bin/`) are not searched.
fn top_level_dirs(venv: &Venv, rows: &[Row]) -> Vec<PathBuf> {
    let libs: Vec<&Path> = venv.library_dirs().collect();
    let mut dirs: Vec<PathBuf> = rows
        .iter()
        .filter_map(|row| {
            // The deepest library directory holding it, should one lie inside the other.
            let (lib, rel) = (libs.iter())
                .filter_map(|lib| Some((lib, row.path.strip_prefix(lib).ok()?)))
                .min_by_key(|(_, rel)| rel.components().count())?;
            let mut components = rel.components();
            let first = components.next()?;
            components.next().map(|_| lib.join(first))
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs.retain(|d| d.is_dir());
    dirs
}
