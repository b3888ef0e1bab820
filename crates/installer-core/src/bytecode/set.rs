//! A published bytecode set: its directory beside the entry (`pyc-<tag>-<magic>-v<format>/`
//! holding `manifest.json` and `tree/`), how a staged one is published, and how one is copied
//! to another copy of the entry (a shard's, an imported layer entry's) with headers that stay
//! valid there.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{pyc_path, Interpreter, SourceStamp};
use crate::cache::{Cache, CacheEntry, Staging};
use crate::manifest::{ManifestFile, Sha256Digest};
use crate::{Error, Result};

/// Bumped when a bytecode manifest's meaning changes; others are ignored (compiled again
/// under another name is not possible, so the format is part of the directory name).
/// 2: the sources installed outside site-packages too, by their path in the wheel.
pub(super) const FORMAT: u32 = 2;
/// A set is laid out as an entry is (`manifest.json`, `tree/`): publishing it beside the entry
/// seals it by these same names ([`Cache::publish_beside_entry`]).
pub(super) use crate::cache::{MANIFEST, TREE};

/// The bytecode of one entry for one interpreter, as published in the cache.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct BytecodeManifest {
    pub(super) format: u32,
    pub(super) interpreter: Interpreter,
    /// Each `.pyc`, by its path under site-packages or, for a source installed elsewhere, in
    /// the wheel (and under the set's `tree/`).
    pub files: Vec<ManifestFile>,
    /// Sources that do not compile (path as in `files`) and why: warned about on every
    /// install, as a fresh compilation would.
    pub failed: Vec<(String, String)>,
}

/// A published bytecode directory of an entry.
#[derive(Debug)]
pub(crate) struct BytecodeSet {
    pub(super) dir: PathBuf,
    pub manifest: BytecodeManifest,
}

impl BytecodeSet {
    /// The directory's name in its entry (`pyc-<tag>-<magic>-v<format>`).
    pub fn name(&self) -> String {
        self.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// The root of the `.pyc` files: a file of the manifest is at `tree().join(path)`.
    pub fn tree(&self) -> PathBuf {
        self.dir.join(TREE)
    }

    /// The published set of the entry at `entry_dir` for `interpreter`, if there is one.
    pub(super) fn open(entry_dir: &Path, interpreter: &Interpreter) -> Option<BytecodeSet> {
        let dir = entry_dir.join(interpreter.dir_name());
        let bytes = std::fs::read(dir.join(MANIFEST)).ok()?;
        let manifest: BytecodeManifest = serde_json::from_slice(&bytes).ok()?;
        (manifest.format == FORMAT && &manifest.interpreter == interpreter)
            .then_some(BytecodeSet { dir, manifest })
    }
}

/// Every bytecode set published in `entry` (for `cache verify`), with its directory.
pub(crate) fn sets_of(entry: &CacheEntry) -> Vec<BytecodeSet> {
    let Ok(dir) = std::fs::read_dir(entry.dir()) else { return Vec::new() };
    dir.flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with("pyc-")))
        .filter_map(|e| {
            let bytes = std::fs::read(e.path().join(MANIFEST)).ok()?;
            let manifest = serde_json::from_slice(&bytes).ok()?;
            Some(BytecodeSet { dir: e.path(), manifest })
        })
        .collect()
}
pub(super) fn write_manifest(dir: &Path, manifest: &BytecodeManifest) -> Result<()> {
    let path = dir.join(MANIFEST);
    let json = serde_json::to_vec(manifest).expect("bytecode manifest serialises");
    std::fs::write(&path, json).map_err(|e| Error::io("write", &path, e))
}

/// Publishes the set staged in `staging` (manifest written, its files `files`) beside the entry
/// at `entry_dir` of `cache` (the staging's cache too), or takes the one another process
/// published first.
pub(super) fn publish(
    cache: &Cache,
    interpreter: &Interpreter,
    staging: Staging,
    entry_dir: &Path,
    files: &[ManifestFile],
) -> Result<BytecodeSet> {
    // Another process may publish its own set of the entry from here to the rename.
    crate::pause::point("bytecode-publishing");
    cache.publish_beside_entry(staging, entry_dir, &interpreter.dir_name(), files)?;
    BytecodeSet::open(entry_dir, interpreter).ok_or_else(|| {
        Error::io(
            "read bytecode manifest in",
            entry_dir.join(interpreter.dir_name()),
            std::io::Error::new(std::io::ErrorKind::InvalidData, "missing or unreadable"),
        )
    })
}

/// The manifest row of a `.pyc` at `path` of `size` bytes and digest `hash`.
pub(super) fn pyc_row(path: String, size: u64, hash: Sha256Digest) -> ManifestFile {
    ManifestFile { path, size, hash, executable: false, python_shebang: false }
}

/// The set of `entry` (in `shard`: a cache shard, or the cache a layer's entry was imported
/// into) for the interpreter of `from`, the set of another copy of the entry: its own if it
/// has one, else `from` copied. A copied `.pyc` gets the modification time of `entry`'s source
/// in its header (a copy of a source may have another than the original's), so it is valid
/// there. Every source of the set is looked up: those compiled whatever the environment
/// ([`crate::install::compiled_sources`], which holds a wheel's top level also where the plan
/// puts it in a platlib apart from site-packages) and `sources`, the plan's (manifest index,
/// path in the set: [`crate::install::WheelPlan::compile_sources`], with `.data/data` paths
/// its layout puts in site-packages).
pub(super) fn import(
    shard: &Cache,
    entry: &CacheEntry,
    from: &BytecodeSet,
    sources: &[(u32, &str)],
) -> Result<BytecodeSet> {
    let interpreter = &from.manifest.interpreter;
    if let Some(set) = BytecodeSet::open(entry.dir(), interpreter) {
        return Ok(set);
    }
    let by_pyc: HashMap<String, u32> = crate::install::compiled_sources(entry.manifest())
        .chain(sources.iter().copied())
        .map(|(index, rel)| (pyc_path(rel, &interpreter.cache_tag), index))
        .collect();
    let staging = shard.staging_dir()?;
    let tree = staging.path().join(TREE);
    let mut manifest = BytecodeManifest {
        format: FORMAT,
        interpreter: interpreter.clone(),
        files: Vec::with_capacity(from.manifest.files.len()),
        failed: from.manifest.failed.clone(),
    };
    for file in &from.manifest.files {
        let src = from.tree().join(&file.path);
        let mut bytes = std::fs::read(&src).map_err(|e| Error::io("read", &src, e))?;
        if let Some(&index) = by_pyc.get(&file.path) {
            let source = entry.tree().join(&entry.manifest().files[index as usize].path);
            let meta = std::fs::metadata(&source).map_err(|e| Error::io("read", &source, e))?;
            if let Some(stamp) = SourceStamp::of(&bytes) {
                SourceStamp { mtime: mtime_secs(&meta), ..stamp }.write_into(&mut bytes);
            }
        }
        let dst = tree.join(&file.path);
        if let Some(dir) = dst.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
        }
        std::fs::write(&dst, &bytes).map_err(|e| Error::io("write", &dst, e))?;
        manifest.files.push(pyc_row(file.path.clone(), bytes.len() as u64, Sha256Digest::of(&bytes)));
    }
    write_manifest(staging.path(), &manifest)?;
    publish(shard, interpreter, staging, entry.dir(), &manifest.files)
}

/// A source's modification time as a `.pyc` header records it: Python's `int(st.st_mtime)`
/// (importlib's check, `py_compile` and the worker alike), of the float `sec + nsec * 1e-9`,
/// which rounds up to the next second for nanoseconds close enough to one (999,999,881 and more
/// at today's times); kept to 32 bits as `& 0xFFFFFFFF` keeps it. Whole seconds would miss
/// those: Python would reject the `.pyc` and write its own.
fn mtime_secs(source: &std::fs::Metadata) -> u32 {
    let (secs, nanos) = crate::platform::mtime_parts(source);
    // `as i64` truncates toward zero as `int()` does; `as u32` keeps the low 32 bits.
    (secs as f64 + nanos as f64 * 1e-9) as i64 as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_mtime_is_the_whole_seconds_python_takes_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.py");
        std::fs::write(&file, "x = 1\n").unwrap();
        let python = |path: &Path| {
            let code = "import os, sys; print(int(os.stat(sys.argv[1]).st_mtime) & 0xFFFFFFFF)";
            let out = std::process::Command::new("python3").args(["-c", code]).arg(path).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap().trim().parse::<u32>().unwrap()
        };
        for (secs, nanos, whole) in [
            (1_700_000_000, 999_999_999, 1_700_000_001), // the float rounds up
            (1_700_000_000, 999_999_000, 1_700_000_000),
            (1_700_000_000, 0, 1_700_000_000),
            (5_000_000_000, 999_999_999, (5_000_000_001u64 & 0xFFFF_FFFF) as u32),
        ] {
            let time = std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos);
            std::fs::File::options().write(true).open(&file).unwrap().set_modified(time).unwrap();
            let meta = std::fs::metadata(&file).unwrap();
            assert_eq!((mtime_secs(&meta), python(&file)), (whole, whole), "{secs}.{nanos:09}");
        }
    }
}
