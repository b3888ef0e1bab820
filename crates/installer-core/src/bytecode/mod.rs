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
//! from, so tracebacks name the environment's file. Sources installed outside site-packages
//! (`.data/scripts`, `.data/data`) are kept by their path in the wheel and placed by
//! `install::bytecode_elsewhere`.

mod set;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::cache::{Cache, CacheEntry, Staging};
use crate::cancel::Cancel;
use crate::compile::{Job, JobId, Outcome, Pool};
use crate::install::WheelPlan;
use crate::reporter::Reporter;
use crate::{Error, Result};
use set::{import, publish, pyc_row, write_manifest, FORMAT, TREE};
pub(crate) use set::{sets_of, BytecodeManifest, BytecodeSet};

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

/// The bytecode of an install's entries, compiled while the install goes on: each entry's
/// sources are queued to the worker processes as soon as the entry is ready (unpacked or found),
/// so compiling overlaps the unpacking of the other wheels, planning and the link-mode probe.
/// Placing files waits for it: the workers keep every CPU busy by then, so placing alongside
/// would only share them (and a rewritten script takes the mtime its `.pyc` records). Entries
/// that have a published set for the interpreter compile nothing. Everything is compiled into the
/// cache the entries were found or unpacked in, and published there by [`Compiled::set_for`];
/// except an entry of a read-only cache layer without a set: it waits until the install has
/// imported it where it links from (the cache or a shard, [`Compiler::entries_placed`]), whose
/// copy may have one already, and is compiled there.
pub(crate) struct Compiler<'a> {
    cache: &'a Cache,
    python: PathBuf,
    interpreter: Interpreter,
    pool: Pool,
    workers: usize,
    /// By entry id.
    entries: Mutex<HashMap<String, Pending>>,
    /// The batches of entries no plan installs: jobs of theirs a worker had taken when they were
    /// withdrawn still write into their staging directories and are read back, so those are
    /// removed only once the workers are done ([`Compiler::finish`], or the pool dropped first:
    /// fields drop in order).
    withdrawn: Mutex<Vec<Batch>>,
}

enum Pending {
    /// Published by an earlier install.
    Found(BytecodeSet),
    Compiling(Batch),
    /// A layer's entry without a set, until it is imported.
    Deferred,
}

/// The compilation of one entry's sources into a staging directory.
struct Batch {
    staging: Staging,
    entry_dir: PathBuf,
    /// Each queued job with its source's path under site-packages.
    jobs: Vec<(JobId, String)>,
}

impl<'a> Compiler<'a> {
    /// Compiles with `python` (whose tag and magic are `interpreter`) into `cache`, in up to
    /// `workers` processes, started only when something must be compiled; compiling stops with
    /// [`Error::Cancelled`] once `cancel` is.
    pub fn new(
        cache: &'a Cache,
        python: &Path,
        interpreter: Interpreter,
        workers: usize,
        cancel: Cancel,
    ) -> Compiler<'a> {
        Compiler {
            cache,
            python: python.to_path_buf(),
            interpreter,
            pool: Pool::new(python, workers, cancel),
            workers,
            entries: Mutex::new(HashMap::new()),
            withdrawn: Mutex::new(Vec::new()),
        }
    }

    /// The interpreter that compiles, and its cache tag: for what is compiled outside the cache
    /// (`install::bytecode_elsewhere`).
    pub fn python(&self) -> (PathBuf, String) {
        (self.python.clone(), self.interpreter.cache_tag.clone())
    }

    /// The entry is ready: its published set is looked up, or its sources (those compiled
    /// whatever the environment, [`crate::install::compiled_sources`]) are queued.
    /// Called from the unpacking threads.
    pub fn entry_ready(&self, entry: &CacheEntry) -> Result<()> {
        let pending = match BytecodeSet::open(entry.dir(), &self.interpreter) {
            Some(set) => Pending::Found(set),
            None if entry.is_from_layer() => Pending::Deferred,
            None => self.compile(self.cache, entry, crate::install::compiled_sources(entry.manifest()))?,
        };
        self.entries.lock().expect("bytecode entries").insert(entry.id().to_string(), pending);
        Ok(())
    }

    /// `sources` of `entry` (manifest index, path under site-packages) queued, compiled into a
    /// staging directory of `cache`, the one the entry is in.
    fn compile<'s>(
        &self,
        cache: &Cache,
        entry: &CacheEntry,
        sources: impl IntoIterator<Item = (u32, &'s str)>,
    ) -> Result<Pending> {
        let staging = cache.staging_dir()?;
        let tree = staging.path().join(TREE);
        std::fs::create_dir(&tree).map_err(|e| Error::io("create directory", &tree, e))?;
        let mut batch = Batch { staging, entry_dir: entry.dir().to_path_buf(), jobs: Vec::new() };
        for (index, rel) in sources {
            self.queue(&mut batch, entry, index, rel);
        }
        Ok(Pending::Compiling(batch))
    }

    fn queue(&self, batch: &mut Batch, entry: &CacheEntry, index: u32, rel: &str) {
        let file = &entry.manifest().files[index as usize];
        let id = self.pool.submit(&Job {
            source: entry.tree().join(&file.path),
            pyc: batch.staging.path().join(TREE).join(pyc_path(rel, &self.interpreter.cache_tag)),
            display: rel.to_string(),
            size: file.size,
            checked_hash: false,
            content: Some(file.hash),
        });
        batch.jobs.push((id, rel.to_string()));
    }

    /// The plans are made: entries no plan installs (already installed) compile no further, and
    /// what a plan puts in site-packages beyond what [`Compiler::entry_ready`] queued (a
    /// `.data/data` path into it) is queued now.
    pub fn plans_made(&self, plans: &[WheelPlan]) {
        crate::pause::point("bytecode-withdrawing");
        let mut entries = self.entries.lock().expect("bytecode entries");
        let planned: HashSet<&str> = plans.iter().map(|p| p.entry.id()).collect();
        let unplanned: Vec<String> =
            entries.keys().filter(|id| !planned.contains(id.as_str())).cloned().collect();
        let mut batches = Vec::new();
        for id in unplanned {
            if let Some(Pending::Compiling(batch)) = entries.remove(&id) {
                batches.push(batch);
            }
        }
        let jobs: HashSet<JobId> =
            batches.iter().flat_map(|batch| batch.jobs.iter().map(|(job, _)| *job)).collect();
        self.pool.withdraw(&jobs);
        // Kept, not dropped: a worker may be compiling one of their jobs.
        self.withdrawn.lock().expect("withdrawn batches").extend(batches);
        crate::pause::point("bytecode-withdrawn");
        for plan in plans {
            if let Some(Pending::Compiling(batch)) = entries.get_mut(plan.entry.id()) {
                let queued: HashSet<String> = batch.jobs.iter().map(|(_, rel)| rel.clone()).collect();
                for (index, rel) in plan.compile_sources() {
                    if !queued.contains(rel) {
                        self.queue(batch, &plan.entry, index, rel);
                    }
                }
            }
        }
    }

    /// The plans' entries are where the install links them from, in `home` (the cache or a
    /// shard): a layer's entry waiting since [`Compiler::entry_ready`] takes the set of its
    /// copy there, or its sources are queued, compiled into `home`. Says what was found and what
    /// is compiled.
    pub fn entries_placed(&self, plans: &[WheelPlan], home: &Cache, reporter: &dyn Reporter) -> Result<()> {
        let mut entries = self.entries.lock().expect("bytecode entries");
        let (mut hits, mut files, mut wheels) = (0, 0, 0);
        for plan in plans {
            let Some(pending) = entries.get_mut(plan.entry.id()) else { continue };
            if let Pending::Deferred = pending {
                // With `--compile` a layer's entry is always imported (`layer_entry_usable`).
                *pending = match BytecodeSet::open(plan.entry.dir(), &self.interpreter) {
                    Some(set) => Pending::Found(set),
                    None => self.compile(home, &plan.entry, plan.compile_sources())?,
                };
            }
            match pending {
                Pending::Found(_) => hits += 1,
                Pending::Compiling(batch) => (files, wheels) = (files + batch.jobs.len(), wheels + 1),
                Pending::Deferred => {}
            }
        }
        if hits > 0 {
            let tag = &self.interpreter.cache_tag;
            reporter.info(&format!("bytecode for {tag}: cache hit for {hits} of {} wheels", plans.len()));
        }
        if wheels > 0 {
            reporter.info(&format!(
                "compiling {files} files of {wheels} wheels with {} in up to {} worker processes, while installing",
                self.python.display(),
                self.workers
            ));
        }
        Ok(())
    }

    /// Waits for the compilation; what each planned entry found or got, by entry id, for
    /// [`Compiled::set_for`].
    pub fn finish(self) -> Result<Compiled<'a>> {
        let outcomes = self.pool.finish()?;
        // No worker writes into them any more.
        drop(self.withdrawn);
        let entries = self.entries.into_inner().expect("bytecode entries");
        let mut ready = HashMap::with_capacity(entries.len());
        for (id, pending) in entries {
            let done = match pending {
                Pending::Found(set) => Ready::Found(set),
                Pending::Compiling(batch) => Ready::Staged(stage(&self.interpreter, batch, &outcomes)?),
                Pending::Deferred => continue,
            };
            ready.insert(id, done);
        }
        Ok(Compiled { cache: self.cache, interpreter: self.interpreter, ready })
    }
}

/// The bytecode of an install's entries once compiled: published, or staged in the cache.
pub(crate) struct Compiled<'a> {
    cache: &'a Cache,
    interpreter: Interpreter,
    ready: HashMap<String, Ready>,
}

enum Ready {
    Found(BytecodeSet),
    Staged(Staged),
}

/// A compiled set with its manifest, in a staging directory of the cache (or shard) of the
/// entry it was compiled from.
struct Staged {
    staging: Staging,
    /// Readable where it is staged.
    set: BytecodeSet,
    /// The entry it was compiled from.
    entry_dir: PathBuf,
}

impl Compiled<'_> {
    /// The set of `entry`, the entry a plan links from (in `home`: the cache, or the shard it
    /// was imported into), for the entry of that id found or compiled since step 1: the set
    /// `entry` has, or the one compiled from it published beside it, or else one of another
    /// copy of the entry (the main cache's, a layer's) imported ([`import`]); a set compiled
    /// from the main cache's entry is published there too, for later installs. `sources` (the
    /// plan's, [`crate::install::WheelPlan::compile_sources`]) are listed only for an import,
    /// never on the warm path.
    pub fn set_for<'s>(
        &mut self,
        entry: &CacheEntry,
        home: &Cache,
        sources: impl FnOnce() -> Vec<(u32, &'s str)>,
    ) -> Result<Option<BytecodeSet>> {
        let ready = match self.ready.remove(entry.id()) {
            None => return Ok(None),
            // Found beside this very entry when it was ready (the warm path): already read.
            Some(Ready::Found(set)) if set.dir.parent() == Some(entry.dir()) => return Ok(Some(set)),
            Some(ready) => ready,
        };
        if let Some(set) = BytecodeSet::open(entry.dir(), &self.interpreter) {
            return Ok(Some(set));
        }
        let set = match ready {
            Ready::Found(set) => import(home, entry, &set, &sources())?,
            Ready::Staged(staged) if staged.entry_dir == entry.dir() => {
                publish(home, &self.interpreter, staged.staging, entry.dir(), &staged.set.manifest.files)?
            }
            Ready::Staged(staged) => {
                let files = &staged.set.manifest.files;
                let published =
                    publish(self.cache, &self.interpreter, staged.staging, &staged.entry_dir, files)?;
                import(home, entry, &published, &sources())?
            }
        };
        Ok(Some(set))
    }
}

/// Writes the manifest of `batch` from the outcomes of its jobs into its staging directory.
fn stage(interpreter: &Interpreter, batch: Batch, outcomes: &[Option<Outcome>]) -> Result<Staged> {
    let mut manifest = BytecodeManifest {
        format: FORMAT,
        interpreter: interpreter.clone(),
        files: Vec::new(),
        failed: Vec::new(),
    };
    for (job, rel) in batch.jobs {
        match &outcomes[job] {
            &Some(Outcome::Written { size, hash, .. }) => {
                manifest.files.push(pyc_row(pyc_path(&rel, &interpreter.cache_tag), size, hash));
            }
            Some(Outcome::Failed(message)) => manifest.failed.push((rel, message.clone())),
            None => unreachable!("a planned entry's jobs are never withdrawn"),
        }
    }
    write_manifest(batch.staging.path(), &manifest)?;
    let set = BytecodeSet { dir: batch.staging.path().to_path_buf(), manifest };
    Ok(Staged { staging: batch.staging, set, entry_dir: batch.entry_dir })
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

/// The source fields of a timestamp-based `.pyc` header (PEP 552: magic, flags 0, then the
/// source's mtime and size as little-endian 32-bit numbers): what a `.pyc` placed beside
/// another copy (or another form) of its source must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SourceStamp {
    pub mtime: u32,
    pub size: u32,
}

impl SourceStamp {
    /// The stamp of `pyc`; `None` for a hash-based (or truncated) one, which has none.
    pub fn of(pyc: &[u8]) -> Option<SourceStamp> {
        let word = |at: usize| u32::from_le_bytes(pyc[at..at + 4].try_into().expect("four bytes"));
        (pyc.len() >= 16 && pyc[4..8] == [0; 4]).then(|| SourceStamp { mtime: word(8), size: word(12) })
    }

    /// Writes this stamp into `pyc`, a timestamp-based one ([`SourceStamp::of`]).
    pub fn write_into(self, pyc: &mut [u8]) {
        pyc[8..12].copy_from_slice(&self.mtime.to_le_bytes());
        pyc[12..16].copy_from_slice(&self.size.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_header_has_a_source_stamp_a_hash_based_one_none() {
        let mut pyc = [[0xa7, 0x0d, 0x0d, 0x0a], [0; 4], 7u32.to_le_bytes(), 9u32.to_le_bytes()].concat();
        pyc.extend_from_slice(b"code");
        assert_eq!(SourceStamp::of(&pyc), Some(SourceStamp { mtime: 7, size: 9 }));
        SourceStamp { mtime: 8, size: 10 }.write_into(&mut pyc);
        assert_eq!(
            (SourceStamp::of(&pyc), &pyc[16..]),
            (Some(SourceStamp { mtime: 8, size: 10 }), &b"code"[..])
        );
        pyc[4] = 3; // checked hash-based
        assert_eq!(SourceStamp::of(&pyc), None);
        assert_eq!(SourceStamp::of(&pyc[..12]), None);
    }

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
