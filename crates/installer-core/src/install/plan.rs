//! The install plan: where every file of every cache entry goes in the environment, what is
//! generated (launchers, rewritten scripts, installer metadata), and what it replaces. Pure
//! bookkeeping over manifests: nothing here touches the environment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::bytecode::BytecodeSet;
use crate::cache::CacheEntry;
use crate::installed::{InstalledDist, Record};
use crate::manifest::ManifestFile;
use crate::script::compiles_the_same;
use crate::venv::Venv;
use crate::wheel::normalize_name;
use crate::{script, Error, Result};

use super::compiled::{compiles, kept_elsewhere, sources_elsewhere};
use super::dist_info::direct_url;
pub(crate) use super::dist_info::record_for;
use super::roots::{RootId, Roots, DATA, SCRIPTS, SITE_PACKAGES};
pub(crate) use super::scheme::header_roots;
use super::scheme::Scheme;
use super::DistVersion;

/// One wheel's part of the plan.
#[derive(Debug)]
pub(crate) struct WheelPlan {
    /// The wheel file as the user named it, for messages.
    pub wheel: PathBuf,
    pub entry: CacheEntry,
    pub files: Vec<PlannedFile>,
    /// What [`Source::Generated`] files hold.
    pub generated: Vec<Generated>,
    /// The installed distributions of the project this one replaces: an older version, the
    /// same one (`--reinstall`), and any other `.dist-info` of the project (debris, or a
    /// second version a broken tool left beside it).
    pub replaces: Vec<InstalledDist>,
    /// The root of its `.dist-info`, which its RECORD's paths are relative to: site-packages,
    /// or platlib for a wheel that is not `Root-Is-Purelib`, which pip installs there whole.
    pub meta_root: RootId,
    /// `<dist-info>/RECORD` under `meta_root`, written last.
    pub record: String,
    /// With `--compile`: the entry's bytecode for the environment's interpreter, in the cache.
    pub bytecode: Option<Arc<BytecodeSet>>,
}

/// A file to create in the environment: 16 bytes, however long its path (the plan of a
/// 100,000-file install is held in memory at once).
#[derive(Debug)]
pub(crate) struct PlannedFile {
    pub root: RootId,
    pub source: Source,
}

#[derive(Debug)]
pub(crate) enum Source {
    /// Linked (or copied) from the entry's tree: `index` into its manifest's files, whose path
    /// less its first `skip` bytes (`<name>.data/<scheme>/`) is the path under the root.
    Entry { index: u32, skip: u32 },
    /// Written from memory (launchers, rewritten scripts, installer metadata): an index into
    /// the plan's `generated`.
    Generated(u32),
    /// Linked (or copied) from the entry's bytecode: an index into its manifest's files, whose
    /// path is the path under site-packages.
    Bytecode(u32),
}

#[derive(Debug)]
pub(crate) struct Generated {
    /// The path under the root.
    pub rel: String,
    pub content: Vec<u8>,
    pub executable: bool,
    /// An entry point's launcher, readable and executable by all whatever the umask, as
    /// distlib makes them for pip.
    pub launcher: bool,
    /// For a rewritten `#!python` script whose new first line is one line too: the manifest
    /// index of the file it was made from, which compiles to the same code objects.
    pub compiles_as: Option<u32>,
    /// The modification time to give the file (seconds since the epoch): the one a `.pyc`
    /// header records for it.
    pub mtime: Option<u32>,
}

impl Generated {
    pub fn new(rel: String, content: Vec<u8>, executable: bool) -> Generated {
        Generated { rel, content, executable, launcher: false, compiles_as: None, mtime: None }
    }

    /// The launcher of an entry point.
    pub fn launcher(rel: String, content: Vec<u8>) -> Generated {
        Generated { launcher: true, ..Generated::new(rel, content, true) }
    }
}

impl WheelPlan {
    /// Where `file` goes: a root and a `/`-separated path under it.
    pub fn destination<'a>(&'a self, file: &'a PlannedFile) -> (RootId, &'a str) {
        match &file.source {
            Source::Entry { index, skip } => {
                (file.root, &self.entry.manifest().files[*index as usize].path[*skip as usize..])
            }
            Source::Generated(index) => (file.root, &self.generated[*index as usize].rel),
            Source::Bytecode(index) => (file.root, &self.bytecode_file(*index).path),
        }
    }

    /// The bytecode file `index` of this plan's set.
    pub fn bytecode_file(&self, index: u32) -> &ManifestFile {
        &self.bytecode.as_ref().expect("bytecode planned from a set").manifest.files[index as usize]
    }

    /// The cache's size of a file linked (or copied) from the cache; `None` for generated ones.
    pub fn cached_size(&self, file: &PlannedFile) -> Option<u64> {
        match file.source {
            Source::Entry { index, .. } => Some(self.entry.manifest().files[index as usize].size),
            Source::Bytecode(index) => Some(self.bytecode_file(index).size),
            Source::Generated(_) => None,
        }
    }

    /// What `--compile` compiles for this plan (manifest index, the path its `.pyc` is kept
    /// under in the set): the `.py` files it puts in site-packages, by their path there, and
    /// those of `.data/scripts` and `.data/data`, by their path in the wheel.
    pub fn compile_sources(&self) -> Vec<(u32, &str)> {
        self.files
            .iter()
            .filter_map(|file| match file.source {
                Source::Entry { index, .. } => Some((index, self.destination(file))),
                _ => None,
            })
            .filter(|&(_, (root, rel))| root == SITE_PACKAGES && compiles(rel))
            .map(|(index, (_, rel))| (index, rel))
            .chain(sources_elsewhere(self.entry.manifest()))
            .collect()
    }

    /// Plans `file`, written by the install itself, into `root`.
    pub fn add_generated(&mut self, root: RootId, file: Generated) {
        self.generated.push(file);
        let index = self.generated.len() as u32 - 1;
        self.files.push(PlannedFile { root, source: Source::Generated(index) });
    }

    /// Plans the `.pyc` files of `set` into site-packages, except where the wheel ships a file
    /// of that name itself (it is installed as shipped); those of sources installed elsewhere
    /// are placed by `bytecode_elsewhere`.
    pub fn add_bytecode(&mut self, set: Arc<BytecodeSet>, platlib: RootId) {
        let shipped: std::collections::HashSet<&str> = self
            .files
            .iter()
            .map(|f| self.destination(f))
            .filter(|&(root, rel)| root == SITE_PACKAGES && rel.ends_with(".pyc"))
            .map(|(_, rel)| rel)
            .collect();
        // Sources this plan puts in platlib (where the scheme has it apart from site-packages)
        // by their site-packages path: `bytecode_elsewhere` places theirs beside them. Not
        // scripts or data: a script `foo.py` says nothing of a module `foo.py`.
        let outside: std::collections::HashSet<&str> = self
            .files
            .iter()
            .map(|f| self.destination(f))
            .filter(|&(root, rel)| platlib != SITE_PACKAGES && root == platlib && rel.ends_with(".py"))
            .map(|(_, rel)| rel)
            .collect();
        let new: Vec<PlannedFile> = (set.manifest.files.iter().enumerate())
            .filter(|(_, f)| {
                !shipped.contains(f.path.as_str()) && !kept_elsewhere(self.entry.manifest(), &f.path)
            })
            .filter(|(_, f)| {
                outside.is_empty() || !source_of_pyc(&f.path).is_some_and(|s| outside.contains(s.as_str()))
            })
            .map(|(index, _)| PlannedFile { root: SITE_PACKAGES, source: Source::Bytecode(index as u32) })
            .collect();
        self.files.extend(new);
        self.bytecode = Some(set);
    }
}

/// The source a `.pyc` of a bytecode set was compiled from: `pkg/__pycache__/x.cpython-312.pyc`
/// is `pkg/x.py`. The stem is all before the tag and `pyc`, the last two parts: a module's
/// name may hold dots itself (`a.b.py`, not importable, still compiled).
fn source_of_pyc(pyc: &str) -> Option<String> {
    let (dir, name) = pyc.rsplit_once("__pycache__/")?;
    let (stem, _tag) = name.strip_suffix(".pyc")?.rsplit_once('.')?;
    Some(format!("{dir}{stem}.py"))
}

/// The plans of `wheels` (whose entries are `entries`, in order) against what `venv` has
/// installed, and the wheels skipped because the same version is installed (unless
/// `reinstall`, or another version's `.dist-info` is there too). A distribution whose files
/// another tool keeps (no RECORD, [`crate::installed::Record`]) is never replaced: an error;
/// debris of its project is, with the rest. Two wheels of one distribution, or two plans
/// writing one path, are a conflict.
pub(crate) fn plan_wheels(
    venv: &Venv,
    roots: &mut Roots,
    wheels: &[PathBuf],
    entries: Vec<CacheEntry>,
    reinstall: bool,
) -> Result<(Vec<WheelPlan>, Vec<DistVersion>)> {
    // By normalised name, each computed once: a lookup per wheel, not a scan.
    let mut installed: HashMap<String, Vec<InstalledDist>> = HashMap::new();
    let dists = match crate::installed::scan(venv) {
        // A `--target` or `--prefix` directory new or without a library directory yet: nothing
        // is installed, and the transaction makes them.
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        dists => dists?,
    };
    for dist in dists {
        installed.entry(dist.normalized_name()).or_default().push(dist);
    }
    let header_roots = header_roots(roots, venv, &entries);
    let mut plans = Vec::with_capacity(wheels.len());
    let mut skipped = Vec::new();
    let mut seen: HashMap<String, &Path> = HashMap::with_capacity(wheels.len());
    for ((wheel, entry), headers) in wheels.iter().zip(entries).zip(header_roots) {
        let manifest = entry.manifest();
        let name = normalize_name(&manifest.name);
        if let Some(first) = seen.get(&name) {
            return Err(Error::Conflict {
                path: PathBuf::from(&manifest.dist_info),
                first: first.to_path_buf(),
                second: wheel.clone(),
            });
        }
        let current = installed.remove(&name).unwrap_or_default();
        seen.insert(name, wheel);
        let live: Vec<&InstalledDist> = current.iter().filter(|d| d.record() != Record::Debris).collect();
        if let [only] = &live[..] {
            if only.version == manifest.version && !reinstall {
                skipped.push(super::dist_version(manifest));
                continue;
            }
        }
        if let Some(kept) = live.iter().find(|d| d.record() == Record::KeptElsewhere) {
            return Err(kept.kept_elsewhere());
        }
        plans.push(plan_wheel(venv, roots, headers, wheel, entry, current)?);
    }
    check_conflicts(&plans, roots)?;
    Ok((plans, skipped))
}

/// Plans one wheel: its files, scripts and metadata; `headers` is its root from
/// [`header_roots`].
pub(crate) fn plan_wheel(
    venv: &Venv,
    roots: &Roots,
    headers: RootId,
    wheel: &Path,
    entry: CacheEntry,
    replaces: Vec<InstalledDist>,
) -> Result<WheelPlan> {
    let manifest = entry.manifest();
    let root = if manifest.root_is_purelib { SITE_PACKAGES } else { roots.platlib() };
    let scheme = Scheme { roots, data_prefix: format!("{}/", manifest.data_dir), headers, root };
    let scripts_prefix = format!("{}/scripts/", manifest.data_dir);
    let mut files = Vec::with_capacity(manifest.files.len() + manifest.entry_points.len() + 3);
    let mut generated = Vec::new();
    let mut generate = |root: RootId, file: Generated| {
        generated.push(file);
        PlannedFile { root, source: Source::Generated(generated.len() as u32 - 1) }
    };
    for (index, file) in manifest.files.iter().enumerate() {
        let Some((root, skip)) = scheme.destination(&file.path, &manifest.dist_info) else { continue };
        if file.path.starts_with(&scripts_prefix) {
            let name = file.path.rsplit('/').next().unwrap_or(&file.path);
            if script::is_entry_point_wrapper(name, &manifest.entry_points) {
                continue;
            }
        }
        refuse_environment_file(roots, root, &file.path[skip..], wheel, || file.path.clone())?;
        if crate::transaction::is_reserved(&file.path) {
            // The wheel reader refuses these; an entry cached before it did could hold one.
            return Err(Error::Wheel {
                wheel: wheel.to_path_buf(),
                source: crate::wheel::WheelError::UnsafePath {
                    path: file.path.clone(),
                    reason: "'.installer-' component (reserved for the installer's transactions)",
                },
            });
        }
        files.push(if file.python_shebang && file.path.starts_with(&scripts_prefix) {
            generate(root, rewritten_script(&entry, index as u32, &file.path[skip..], venv)?)
        } else {
            PlannedFile { root, source: Source::Entry { index: index as u32, skip: skip as u32 } }
        });
    }
    for entry_point in &script::scripts_to_generate(&manifest.entry_points, venv.python_version()) {
        let content = script::launcher(entry_point, venv.python()).ok_or_else(|| Error::Wheel {
            wheel: wheel.to_path_buf(),
            source: crate::wheel::WheelError::Metadata {
                file: format!("{}/entry_points.txt", manifest.dist_info),
                reason: format!(
                    "entry point `{}` names no object to call (`{}` without `:function`)",
                    entry_point.name, entry_point.module
                ),
            },
        })?;
        refuse_environment_file(roots, SCRIPTS, &entry_point.name, wheel, || entry_point.describe())?;
        files.push(generate(SCRIPTS, Generated::launcher(entry_point.name.clone(), content)));
    }
    let metadata = [
        ("INSTALLER", b"installer\n".to_vec()),
        ("REQUESTED", Vec::new()),
        ("direct_url.json", direct_url(wheel, &manifest.archive_sha256).into_bytes()),
    ];
    for (name, content) in metadata {
        let rel = format!("{}/{name}", manifest.dist_info);
        files.push(generate(root, Generated::new(rel, content, false)));
    }
    let record = format!("{}/RECORD", manifest.dist_info);
    let wheel = wheel.to_path_buf();
    Ok(WheelPlan { wheel, entry, files, generated, replaces, meta_root: root, record, bytecode: None })
}

/// Refuses a wheel that would write one of the environment's own files
/// ([`crate::venv::is_own_file`]: its interpreter, `pyvenv.cfg`, its activation scripts),
/// whether by an entry point, `.data/scripts` or `.data/data` (whose `bin/` and prefix are
/// these roots). `what` names the file of the wheel. The wheel reader refuses these before a
/// wheel is cached; this covers entries cached before it did.
fn refuse_environment_file(
    roots: &Roots,
    root: RootId,
    rel: &str,
    wheel: &Path,
    what: impl FnOnce() -> String,
) -> Result<()> {
    let own = match root {
        SCRIPTS => crate::venv::is_own_script(rel),
        DATA => crate::venv::is_own_file(rel),
        _ => false,
    };
    if !own {
        return Ok(());
    }
    Err(Error::Wheel {
        wheel: wheel.to_path_buf(),
        source: crate::wheel::WheelError::EnvironmentFile { member: what(), path: roots.join(root, rel) },
    })
}

/// `(root, its first component)` of a destination.
fn top_level((root, rel): (RootId, &str)) -> (RootId, &str) {
    (root, rel.split_once('/').map_or(rel, |(first, _)| first))
}

/// Refuses two wheels of one command that write the same path, naming both, and a wheel
/// that writes one path twice with different content (a member and the same path under
/// `.data/purelib`, a `.data/data/bin` file and a launcher, its own copy of RECORD or
/// INSTALLER under `.data/purelib`), naming both of its files.
///
/// Two wheels, or two parts of one wheel (its archive root, each `.data` scheme, what the
/// installer generates), can only collide under a top-level name (a package, a module, a
/// script) that both use, so paths are compared only under the few shared ones: a map of
/// every path of a 100,000-file install would be the largest allocation of the whole install.
pub(crate) fn check_conflicts(plans: &[WheelPlan], roots: &Roots) -> Result<()> {
    const SHARED: (usize, Part<'static>) = (usize::MAX, Part::Generated);
    let mut owners: FxHashMap<(RootId, &str), (usize, Part<'_>)> = FxHashMap::default();
    for (index, plan) in plans.iter().enumerate() {
        for (destination, part, _) in plan.destinations() {
            let owner = owners.entry(top_level(destination)).or_insert((index, part));
            if *owner != (index, part) {
                *owner = SHARED;
            }
        }
    }
    let mut paths: FxHashMap<(RootId, &str), (usize, Part<'_>, Option<&PlannedFile>)> = FxHashMap::default();
    for (index, plan) in plans.iter().enumerate() {
        for (destination, part, file) in plan.destinations() {
            if owners[&top_level(destination)] != SHARED {
                continue;
            }
            let (first, first_part, first_file) = *paths.entry(destination).or_insert((index, part, file));
            if first != index {
                return Err(Error::Conflict {
                    path: roots.join(destination.0, destination.1),
                    first: plans[first].wheel.clone(),
                    second: plan.wheel.clone(),
                });
            }
            if first_part != part && !plan.same_content(first_file, file) {
                return Err(Error::Wheel {
                    wheel: plan.wheel.clone(),
                    source: crate::wheel::WheelError::SamePath {
                        path: roots.join(destination.0, destination.1),
                        first: plan.describe(first_file),
                        second: plan.describe(file),
                    },
                });
            }
        }
    }
    Ok(())
}

/// The part of a wheel a planned file comes from: within one part, paths are the archive's
/// (unique), so only files of two parts can land on one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part<'a> {
    /// The archive's root (its `.dist-info` included).
    Root,
    /// `.data/<scheme>/`, by the scheme's name.
    Data(&'a str),
    /// Launchers, rewritten scripts, INSTALLER and the rest the installer writes, RECORD too.
    Generated,
}

impl WheelPlan {
    /// Every destination of this plan with the part of the wheel it comes from and the planned
    /// file (`None` for RECORD, written apart from the others).
    fn destinations(&self) -> impl Iterator<Item = ((RootId, &str), Part<'_>, Option<&PlannedFile>)> {
        let data_prefix = format!("{}/", self.entry.manifest().data_dir);
        let files = self.files.iter().map(move |file| {
            let part = match &file.source {
                Source::Entry { index, .. } => {
                    let path = &self.entry.manifest().files[*index as usize].path;
                    match path.strip_prefix(&data_prefix).and_then(|rest| rest.split_once('/')) {
                        Some((scheme, _)) => Part::Data(scheme),
                        None => Part::Root,
                    }
                }
                Source::Generated(_) => Part::Generated,
                // A compiled `.pyc` never lands on a member's path (a shipped one is installed
                // instead of compiling it, `add_bytecode`), so it counts with the archive's
                // root: counted apart, every package would be shared and compared path by path.
                Source::Bytecode(_) => Part::Root,
            };
            (self.destination(file), part, Some(file))
        });
        files.chain(std::iter::once(((self.meta_root, self.record.as_str()), Part::Generated, None)))
    }

    /// Whether two planned files of this plan are members with the same content and mode (a
    /// wheel that ships a file twice, as pip installs it either way).
    fn same_content(&self, a: Option<&PlannedFile>, b: Option<&PlannedFile>) -> bool {
        let member = |file: Option<&PlannedFile>| match file.map(|f| &f.source) {
            Some(Source::Entry { index, .. }) => Some(&self.entry.manifest().files[*index as usize]),
            _ => None,
        };
        match (member(a), member(b)) {
            (Some(a), Some(b)) => a.hash == b.hash && a.executable == b.executable,
            _ => false,
        }
    }

    /// A planned file as messages name it: its path in the wheel, or what the installer makes.
    fn describe(&self, file: Option<&PlannedFile>) -> String {
        match file.map(|f| &f.source) {
            Some(Source::Entry { index, .. }) => self.entry.manifest().files[*index as usize].path.clone(),
            Some(Source::Generated(index)) => {
                let generated = &self.generated[*index as usize];
                if generated.launcher {
                    format!("the launcher of entry point `{}`", generated.rel)
                } else {
                    format!("the installer's {}", generated.rel)
                }
            }
            Some(Source::Bytecode(index)) => self.bytecode_file(*index).path.clone(),
            None => format!("the installer's {}", self.record),
        }
    }
}

/// A `.data/scripts` file (manifest `index`) whose `#!python` line names this environment's
/// interpreter.
fn rewritten_script(entry: &CacheEntry, index: u32, rel: &str, venv: &Venv) -> Result<Generated> {
    let file = &entry.manifest().files[index as usize];
    let path = entry.tree().join(&file.path);
    let original = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
    let Some(content) = script::rewrite_python_shebang(&original, venv.python()) else {
        return Ok(Generated::new(rel.to_owned(), original, file.executable));
    };
    Ok(Generated {
        compiles_as: compiles_the_same(&original, &content).then_some(index),
        ..Generated::new(rel.to_owned(), content, file.executable)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_of_a_pyc_is_its_name_less_the_tag() {
        assert_eq!(source_of_pyc("pkg/__pycache__/a.cpython-312.pyc").as_deref(), Some("pkg/a.py"));
        assert_eq!(source_of_pyc("pkg/__pycache__/a.b.cpython-312.pyc").as_deref(), Some("pkg/a.b.py"));
        assert_eq!(source_of_pyc("__pycache__/a.b.c.cpython-38.pyc").as_deref(), Some("a.b.c.py"));
        assert_eq!(source_of_pyc("pkg/a.cpython-312.pyc"), None);
        // Each is where `bytecode::pyc_path` puts the `.pyc` of that source.
        for rel in ["pkg/a.py", "pkg/a.b.py", "a.b.c.py"] {
            let pyc = crate::bytecode::pyc_path(rel, "cpython-312");
            assert_eq!(source_of_pyc(&pyc).as_deref(), Some(rel));
        }
    }

    #[test]
    fn a_planned_file_stays_small() {
        assert_eq!(std::mem::size_of::<PlannedFile>(), 16);
    }
}
