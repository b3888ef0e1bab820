//! Bytecode in the cache: compile once per interpreter, link everywhere.
//!
//! The `.pyc` files of a cache entry are compiled once per interpreter (its cache tag and
//! magic number) from the entry's own sources, into `<entry>/pyc-<tag>-<magic>/` (staged under
//! `tmp/`, published by one rename beside the entry's tree, never written again), and then
//! placed into each environment like every other file of the entry: hardlinked, cloned or
//! copied. They stay valid there because the timestamp-based header records the source's
//! mtime and size, and every mode keeps both: a hardlink is the same inode, a clone or copy
//! carries the mtime over ([`crate::platform::Dir::copy`]). The code objects name the file by
//! its path inside site-packages; importlib replaces that with the path a module is imported
//! from, so tracebacks name the environment's file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cache::{Cache, CacheEntry};
use crate::cancel::Cancel;
use crate::compile::{self, Job, Outcome};
use crate::manifest::{ManifestFile, Sha256Digest};
use crate::reporter::Reporter;
use crate::{Error, Result};

/// Bumped when a bytecode manifest's meaning changes; others are ignored (compiled again
/// under another name is not possible, so the format is part of the directory name).
const FORMAT: u32 = 1;
const MANIFEST: &str = "manifest.json";
const TREE: &str = "tree";

/// What makes a `.pyc` readable by an interpreter: its cache tag (`cpython-312`, the file
/// name part) and magic number (the header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Interpreter {
    pub cache_tag: String,
    /// The magic number's four bytes in hex.
    pub magic: String,
}

impl Interpreter {
    /// The cache tag and magic number among the facts an install already holds about its
    /// interpreter. `None` for an interpreter without bytecode caching.
    pub fn of(facts: &crate::target::Interpreter) -> Option<Interpreter> {
        facts.cache_tag.clone().map(|cache_tag| Interpreter { cache_tag, magic: facts.magic.clone() })
    }

    /// The directory name of this interpreter's bytecode in an entry.
    fn dir_name(&self) -> String {
        format!("pyc-{}-{}-v{FORMAT}", self.cache_tag, self.magic)
    }
}

/// The bytecode of one entry for one interpreter, as published in the cache.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct BytecodeManifest {
    format: u32,
    interpreter: Interpreter,
    /// Each `.pyc`, by its path under site-packages (and under the set's `tree/`).
    pub files: Vec<ManifestFile>,
    /// Sources that do not compile (path under site-packages) and why: warned about on every
    /// install, as a fresh compilation would.
    pub failed: Vec<(String, String)>,
}

/// A published bytecode directory of an entry.
#[derive(Debug)]
pub(crate) struct BytecodeSet {
    dir: PathBuf,
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

    /// The published set of `entry` for `interpreter`, if there is one.
    fn open(entry: &CacheEntry, interpreter: &Interpreter) -> Option<BytecodeSet> {
        let dir = entry.dir().join(interpreter.dir_name());
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

/// What to compile of one entry: each source by its index in the manifest, with the path it
/// has under site-packages.
pub(crate) struct Sources<'a> {
    pub entry: &'a CacheEntry,
    pub files: Vec<(u32, &'a str)>,
}

/// The bytecode set of every entry for `interpreter`: found in `cache` (the cache or shard the
/// entries are in), or compiled now for all entries that lack one, in one run of worker
/// processes, and published there. Compiling stops with [`Error::Cancelled`] once `cancel` is.
pub(crate) fn ensure(
    cache: &Cache,
    python: &Path,
    interpreter: &Interpreter,
    sources: &[Sources],
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<Vec<Arc<BytecodeSet>>> {
    let mut sets: Vec<Option<BytecodeSet>> =
        sources.iter().map(|s| BytecodeSet::open(s.entry, interpreter)).collect();
    let missing: Vec<usize> = (0..sources.len()).filter(|&i| sets[i].is_none()).collect();
    let hits = sources.len() - missing.len();
    if hits > 0 {
        reporter.info(&format!(
            "bytecode for {}: cache hit for {hits} of {} wheels",
            interpreter.cache_tag,
            sources.len()
        ));
    }
    if !missing.is_empty() {
        let stagings = missing.iter().map(|_| cache.staging_dir()).collect::<Result<Vec<_>>>()?;
        let mut jobs = Vec::new();
        let mut owner = Vec::new();
        for (slot, &i) in missing.iter().enumerate() {
            let (entry, tree) = (sources[i].entry, stagings[slot].path().join(TREE));
            std::fs::create_dir(&tree).map_err(|e| Error::io("create directory", &tree, e))?;
            let entry_tree = entry.tree();
            for &(index, rel) in &sources[i].files {
                let file = &entry.manifest().files[index as usize];
                jobs.push(Job {
                    source: entry_tree.join(&file.path),
                    pyc: tree.join(pyc_path(rel, &interpreter.cache_tag)),
                    display: rel.to_string(),
                    size: file.size,
                });
                owner.push((slot, rel));
            }
        }
        let workers = rayon::current_num_threads();
        reporter.info(&format!(
            "compiling {} files of {} wheels with {} in up to {workers} worker processes",
            jobs.len(),
            missing.len(),
            python.display()
        ));
        let outcomes = compile::compile(python, &jobs, workers, cancel)?;
        let mut manifests: Vec<BytecodeManifest> = missing
            .iter()
            .map(|_| BytecodeManifest {
                format: FORMAT,
                interpreter: interpreter.clone(),
                files: Vec::new(),
                failed: Vec::new(),
            })
            .collect();
        for ((job, outcome), &(slot, rel)) in jobs.iter().zip(outcomes).zip(&owner) {
            match outcome {
                Outcome::Written => {
                    let bytes = std::fs::read(&job.pyc).map_err(|e| Error::io("read", &job.pyc, e))?;
                    manifests[slot].files.push(ManifestFile {
                        path: pyc_path(rel, &interpreter.cache_tag),
                        size: bytes.len() as u64,
                        hash: Sha256Digest(Sha256::digest(&bytes).into()),
                        executable: false,
                        python_shebang: false,
                    });
                }
                Outcome::Failed(message) => manifests[slot].failed.push((rel.to_string(), message)),
            }
        }
        for ((staging, manifest), &i) in stagings.into_iter().zip(manifests).zip(&missing) {
            let path = staging.path().join(MANIFEST);
            let json = serde_json::to_vec(&manifest).expect("bytecode manifest serialises");
            std::fs::write(&path, json).map_err(|e| Error::io("write", &path, e))?;
            cache.publish_beside_entry(staging, sources[i].entry, &interpreter.dir_name())?;
            sets[i] = BytecodeSet::open(sources[i].entry, interpreter);
        }
    }
    sets.into_iter()
        .zip(sources)
        .map(|(set, s)| {
            set.map(Arc::new).ok_or_else(|| {
                Error::io(
                    "read bytecode manifest in",
                    s.entry.dir().join(interpreter.dir_name()),
                    std::io::Error::new(std::io::ErrorKind::InvalidData, "missing or unreadable"),
                )
            })
        })
        .collect()
}

/// `<dir>/__pycache__/<stem>.<tag>.pyc` for the source `<dir>/<stem>.py` (PEP 3147), as
/// `importlib.util.cache_from_source` names it; `/`-separated.
pub(crate) fn pyc_path(source: &str, cache_tag: &str) -> String {
    let (dir, name) = source.rsplit_once('/').map_or(("", source), |(d, n)| (d, n));
    let stem = name.strip_suffix(".py").unwrap_or(name);
    if dir.is_empty() {
        format!("__pycache__/{stem}.{cache_tag}.pyc")
    } else {
        format!("{dir}/__pycache__/{stem}.{cache_tag}.pyc")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyc_paths_are_where_importlib_looks() {
        assert_eq!(pyc_path("a.py", "cpython-312"), "__pycache__/a.cpython-312.pyc");
        assert_eq!(pyc_path("pkg/sub/a.b.py", "cpython-312"), "pkg/sub/__pycache__/a.b.cpython-312.pyc");
    }

    #[test]
    fn the_tag_and_magic_come_from_the_interpreter_facts() {
        let mut facts = crate::target::Interpreter::query(&which_python3()).unwrap();
        let found = Interpreter::of(&facts).unwrap();
        assert!(found.cache_tag.starts_with("cpython-"), "{found:?}");
        assert_eq!(found.magic.len(), 8, "{found:?}");
        facts.cache_tag = None;
        assert_eq!(Interpreter::of(&facts), None);
    }

    fn which_python3() -> PathBuf {
        std::env::var_os("PATH")
            .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("python3")).find(|p| p.is_file()))
            .expect("python3 on PATH")
    }
}
