//! `doctor`: which link mode an install would use for a cache and an environment, and why,
//! found the way an install finds it (the same probe, the same shard rule), without installing.
//! It creates nothing: where the cache, the environment or a shard does not exist yet, it
//! probes the nearest existing directory, which is where they would be created.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::cache::Layout;
use crate::install::{
    cache_advice, decide, shard_source_creating_nothing, CacheAdvice, LinkDecision, LinkSource, ShardProbe,
};
use crate::linker::{self, ConcreteLinkMode, LinkMode};
use crate::platform;
use crate::shards::ShardPolicy;
use crate::target::{Interpreter, Target, TargetRequest};
use crate::venv::Venv;

/// What to examine: the places and settings an install would use.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// The cache an install would use; it need not exist (then the nearest existing directory
    /// is probed from).
    pub cache_dir: PathBuf,
    /// The environment's root; it need not exist. No automatic shard is placed inside it.
    pub venv: PathBuf,
    /// `cache-shards` as configured: tried only when the cache is on another filesystem.
    pub shards: ShardPolicy,
    /// The configured link mode (auto unless set).
    pub link_mode: LinkMode,
    /// The interpreter a missing venv would be created with (an existing venv's own
    /// interpreter is examined otherwise).
    pub python: PathBuf,
    /// `--python-version` / `--python-platform` in force.
    pub target: TargetRequest,
    /// An environment the frontend has already laid out (`--target`, `--prefix`: directories
    /// that are not venvs and may not exist yet), examined instead of opening `venv` as a
    /// venv, so that doctor probes where such an install would put files.
    pub layout: Option<Venv>,
}

/// The interpreter an install would check wheels against, and what it supports.
#[derive(Debug, Clone)]
pub struct TargetDiagnosis {
    /// The existing environment's interpreter, else [`DoctorOptions::python`].
    pub python: PathBuf,
    /// What the interpreter said and the target it makes; `Err` when it could not be asked.
    pub found: Result<(Interpreter, Target), String>,
}

/// How many of the target's tags `doctor` prints.
const FIRST_TAGS: usize = 5;

/// A directory and the filesystem it is on.
#[derive(Debug, Clone)]
pub struct Place {
    /// Made absolute; it may not exist yet.
    pub path: PathBuf,
    /// The existing directory examined: `path`, or its nearest existing ancestor.
    pub examined: PathBuf,
    /// The filesystem's name (`ext4`, `overlay`...) of `examined`; `None` when the platform
    /// does not say.
    pub fs_type: Option<String>,
    /// `major:minor` of the filesystem's device.
    pub device: Option<String>,
    /// Where the filesystem of `examined` is mounted; `None` when it cannot be found.
    pub mount_point: Option<PathBuf>,
}

impl Place {
    fn new(path: &Path) -> Place {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let examined = crate::platform::nearest_existing(&path).to_path_buf();
        Place {
            fs_type: platform::filesystem_type(&examined),
            device: platform::device_name(&examined).ok(),
            mount_point: platform::mount_point(&examined).ok(),
            path,
            examined,
        }
    }

    /// Whether `path` itself exists (else `examined` is an ancestor of it); the report says
    /// "does not exist yet" when not.
    pub fn exists(&self) -> bool {
        self.examined == self.path
    }
}

/// The outcome of probing one (source, target) pair, as the report shows it: a
/// [`linker::Probe`] of the install's [`LinkDecision`] in words.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The mode that works.
    pub mode: ConcreteLinkMode,
    /// Each better mode that failed, with the OS error.
    pub failures: Vec<(ConcreteLinkMode, String)>,
    /// The first failure was "different filesystems" (EXDEV).
    pub cross_device: bool,
    /// Why this mode, in a few words (see [`linker::Probe::why`]).
    pub why: String,
}

impl Verdict {
    fn of(probe: &linker::Probe, requested: LinkMode) -> Verdict {
        Verdict {
            mode: probe.mode,
            why: probe.why(requested),
            cross_device: probe.reason().is_some_and(|(_, e)| platform::is_cross_device(e)),
            failures: probe.failures.iter().map(|(m, e)| (*m, e.to_string())).collect(),
        }
    }
}

/// The shard an install would use because the cache is on another filesystem.
#[derive(Debug, Clone)]
pub struct ShardDiagnosis {
    /// The shard's root, whether made yet or not.
    pub dir: PathBuf,
    /// Whether it exists already; if not, it was probed from the nearest existing directory,
    /// where an install would make it.
    pub exists: bool,
    /// Probing from the shard into the target; `Err` when the shard cannot be written.
    pub verdict: Result<Verdict, String>,
}

/// A thing to fix: one sentence of facts. The fix in a frontend's terms (a flag, a C
/// argument) is the frontend's to word, from the facts here: the core holds no flag names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Lower-case and naming no flag; the report lists it under `problems:`.
    pub text: String,
    /// For a copy across filesystems: where on the target's filesystem a cache, or a cache
    /// shard, would let installs link (the install's warning names the same).
    pub cache_advice: Option<CacheAdvice>,
}

impl Problem {
    fn new(text: String) -> Problem {
        Problem { text, cache_advice: None }
    }
}

/// Everything `doctor` found. `Display` is the report in facts; [`Diagnosis::report`] adds a
/// frontend's words for the fixes.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    /// Where the cache is, or would be made.
    pub cache: Place,
    /// The environment's site-packages when it exists (where installs probe), else the
    /// environment's path.
    pub target: Place,
    /// As requested ([`DoctorOptions::link_mode`]), which the report names beside each probe.
    pub link_mode: LinkMode,
    /// Probing from the cache into the target; `Err` when the cache cannot be written.
    pub direct: Result<Verdict, String>,
    /// Only when the direct probe fell back across filesystems: the shard, or why there is none.
    pub shard: Option<Result<ShardDiagnosis, String>>,
    /// What an install would do: the mode, and the shard it would link from.
    pub outcome: (ConcreteLinkMode, Option<PathBuf>),
    /// Why `auto` would copy on purpose, without a warning (an overlay's lower layer, a
    /// container's cache mount): [`crate::install::QuietReason`] in words.
    pub quiet: Option<String>,
    /// The interpreter wheels would be checked against, and its tags.
    pub python: TargetDiagnosis,
    /// Things to fix.
    pub problems: Vec<Problem>,
}

/// Examines the pair of places; never fails (what goes wrong is a finding).
pub fn diagnose(options: &DoctorOptions) -> Diagnosis {
    let cache = Place::new(&options.cache_dir);
    let opened = match &options.layout {
        Some(layout) => Ok(layout.clone()),
        None => Venv::open(&options.venv),
    };
    let (target, python) = match opened {
        Ok(venv) => (Place::new(venv.site_packages()), venv.python().to_path_buf()),
        Err(_) => (Place::new(&options.venv), options.python.clone()),
    };
    // Asked directly, not through the cache: doctor writes nothing.
    let found = Interpreter::query(&python)
        .map(|interpreter| {
            let target = Target::new(&interpreter, &options.target);
            (interpreter, target)
        })
        .map_err(|e| e.to_string());
    let mut problems = Vec::new();
    if let Err(e) = &found {
        problems.push(Problem::new(format!("the interpreter cannot be asked what it supports: {e}")));
    }
    let python = TargetDiagnosis { python, found };
    let scratch = Layout::new(&options.cache_dir).scratch();
    let source = if scratch.is_dir() { scratch } else { cache.examined.clone() };
    let venv = std::path::absolute(&options.venv).unwrap_or_else(|_| options.venv.clone());
    // No entry of an install to link in place of a sample where the cache is full: doctor says
    // the cache cannot be written.
    let decided = decide(
        options.link_mode,
        &options.shards,
        &source,
        &|| None,
        &target.examined,
        &venv,
        &mut shard_source_creating_nothing,
    );
    let quiet = decided.as_ref().ok().and_then(|d| d.quiet.as_ref()).map(ToString::to_string);
    let (direct, shard, outcome) = match decided {
        Err(e) => {
            problems.push(Problem::new(format!("the cache cannot be written in {}: {e}", source.display())));
            (Err(e.to_string()), None, (ConcreteLinkMode::Copy, None))
        }
        Ok(decision) => report(&decision, options.link_mode, &venv, &mut problems),
    };
    Diagnosis { cache, target, link_mode: options.link_mode, direct, shard, outcome, quiet, python, problems }
}

/// The parts of the report that come from the install's link decision; a fallback to
/// copying is a problem.
#[allow(clippy::type_complexity)]
fn report(
    decision: &LinkDecision,
    requested: LinkMode,
    venv: &Path,
    problems: &mut Vec<Problem>,
) -> (Result<Verdict, String>, Option<Result<ShardDiagnosis, String>>, (ConcreteLinkMode, Option<PathBuf>)) {
    let direct = Verdict::of(&decision.direct, requested);
    let shard = decision.shard.as_ref().map(|found| match found {
        Err(why) => Err(why.clone()),
        Ok(ShardProbe { dir, probe }) => Ok(ShardDiagnosis {
            dir: dir.clone(),
            exists: Layout::new(dir).scratch().is_dir(),
            verdict: probe.as_ref().map(|p| Verdict::of(p, requested)).map_err(String::clone),
        }),
    });
    let outcome = match &decision.source {
        LinkSource::Shard(dir) => (decision.mode, Some(dir.clone())),
        LinkSource::Cache => (decision.mode, None),
    };
    if decision.fell_back() {
        problems.push(fallback_problem(&direct, &shard, venv, requested));
    }
    (Ok(direct), shard, outcome)
}

fn fallback_problem(
    verdict: &Verdict,
    shard: &Option<Result<ShardDiagnosis, String>>,
    venv: &Path,
    mode: LinkMode,
) -> Problem {
    let (failed, error) = match verdict.failures.first() {
        Some((failed, error)) => (LinkMode::from(*failed), error.as_str()),
        None => (mode, ""),
    };
    if !verdict.cross_device {
        return Problem::new(format!(
            "{failed} does not work from the cache into the target ({error}): installs copy every file"
        ));
    }
    let why = match shard {
        Some(Err(why)) => why.clone(),
        Some(Ok(ShardDiagnosis { dir, verdict: Err(e), .. })) => {
            format!("the shard {} cannot be written: {e}", dir.display())
        }
        Some(Ok(ShardDiagnosis { dir, verdict: Ok(v), .. })) => format!(
            "linking from the shard {} does not work either: {}",
            dir.display(),
            v.failures.first().map_or("", |(_, e)| e.as_str())
        ),
        None => "symlink mode does not use shards".into(),
    };
    // Linking from a shard there failed too: the target's filesystem cannot link, and no
    // cache directory would help.
    let filesystem_cannot_link = matches!(shard, Some(Ok(ShardDiagnosis { verdict: Ok(_), .. })));
    Problem {
        text: format!(
            "the cache and the target are on different filesystems and no cache shard can be used ({why}): \
             installs copy every file"
        ),
        cache_advice: if filesystem_cannot_link { None } else { cache_advice(venv) },
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if !self.exists() {
            write!(f, " (does not exist yet; examined {})", self.examined.display())?;
        }
        write!(f, "\n         filesystem {}", self.fs_type.as_deref().unwrap_or("unknown"))?;
        if let Some(device) = &self.device {
            write!(f, ", device {device}")?;
        }
        if let Some(mount) = &self.mount_point {
            write!(f, ", mounted at {}", mount.display())?;
        }
        Ok(())
    }
}

fn write_verdict(f: &mut fmt::Formatter<'_>, verdict: &Verdict) -> fmt::Result {
    for (mode, error) in &verdict.failures {
        writeln!(f, "  {mode} failed: {error}")?;
    }
    Ok(())
}

impl fmt::Display for TargetDiagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "python:  {}", self.python.display())?;
        let (interpreter, target) = match &self.found {
            Ok(found) => found,
            Err(e) => return write!(f, " (cannot be asked: {e})"),
        };
        let name = target.implementation_name();
        writeln!(f, " ({name} {}, {})", interpreter.version_string(), interpreter.executable.display())?;
        let requested = if target.requested { " (requested)" } else { "" };
        writeln!(f, "         wheels must suit {}{requested}; ABI {}", target.describe(), target.abi())?;
        let first: Vec<&str> = target.tags().iter().take(FIRST_TAGS).map(String::as_str).collect();
        write!(f, "tags:    {}, ... ({} in all)", first.join(", "), target.tags().len())
    }
}

/// The words a frontend adds after a problem's facts for its fix: given where a cache would let
/// installs link, e.g. "; use `--cache-dir DIR`".
pub type FixWords<'a> = &'a dyn Fn(&CacheAdvice) -> String;

impl Diagnosis {
    /// The report, each problem followed by `fix`'s words where it has a fix.
    pub fn report<'a>(&'a self, fix: FixWords<'a>) -> impl fmt::Display + 'a {
        Report { diagnosis: self, fix: Some(fix) }
    }
}

/// [`Diagnosis`] as text, with or without a frontend's words for the fixes.
struct Report<'a> {
    diagnosis: &'a Diagnosis,
    fix: Option<FixWords<'a>>,
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Report { diagnosis: self, fix: None }.fmt(f)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let this = self.diagnosis;
        writeln!(f, "cache:   {}", this.cache)?;
        writeln!(f, "target:  {}", this.target)?;
        match &this.direct {
            Ok(verdict) => {
                writeln!(
                    f,
                    "link mode {} from the cache: {} ({})",
                    this.link_mode, verdict.mode, verdict.why
                )?;
                write_verdict(f, verdict)?;
            }
            Err(e) => writeln!(f, "link mode {} from the cache: not probed ({e})", this.link_mode)?,
        }
        match &this.shard {
            None => {}
            Some(Err(why)) => writeln!(f, "cache shard: none ({why})")?,
            Some(Ok(shard)) => {
                let state = if shard.exists { "exists" } else { "not created yet" };
                writeln!(f, "cache shard: {} ({state})", shard.dir.display())?;
                match &shard.verdict {
                    Ok(verdict) => {
                        writeln!(
                            f,
                            "link mode {} from the shard: {} ({})",
                            this.link_mode, verdict.mode, verdict.why
                        )?;
                        write_verdict(f, verdict)?;
                    }
                    Err(e) => writeln!(f, "link mode {} from the shard: not probed ({e})", this.link_mode)?,
                }
            }
        }
        match &this.outcome {
            (mode, Some(shard)) => {
                writeln!(f, "an install would use: {mode}, from the shard {}", shard.display())?
            }
            (mode, None) => writeln!(f, "an install would use: {mode}")?,
        }
        if let Some(why) = &this.quiet {
            writeln!(f, "  because {why}")?;
        }
        writeln!(f, "{}", this.python)?;
        if this.problems.is_empty() {
            write!(f, "problems: none")
        } else {
            write!(f, "problems:")?;
            for problem in &this.problems {
                write!(f, "\n  - {}", problem.text)?;
                if let (Some(fix), Some(advice)) = (self.fix, &problem.cache_advice) {
                    write!(f, "{}", fix(advice))?;
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(cache: &Path, venv: &Path) -> DoctorOptions {
        DoctorOptions {
            cache_dir: cache.to_path_buf(),
            venv: venv.to_path_buf(),
            shards: ShardPolicy::default(),
            link_mode: LinkMode::Auto,
            python: PathBuf::from("python3"),
            target: TargetRequest::default(),
            layout: None,
        }
    }

    #[test]
    fn one_filesystem_links_without_problems_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (cache, venv) = (dir.path().join("cache"), dir.path().join("venv"));
        let diagnosis = diagnose(&options(&cache, &venv));
        assert!(diagnosis.problems.is_empty(), "{diagnosis}");
        assert!(matches!(diagnosis.outcome, (ConcreteLinkMode::Hardlink, None)), "{diagnosis}");
        assert!(!diagnosis.cache.exists() && !cache.exists() && !venv.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the probe leaves nothing");
        let text = diagnosis.to_string();
        assert!(
            text.contains(&format!("cache:   {} (does not exist yet; examined ", cache.display())),
            "{text}"
        );
        assert!(text.ends_with("problems: none"), "{text}");
        // The interpreter a new venv would get, and what it supports.
        assert!(text.contains("\npython:  python3 (CPython 3."), "{text}");
        assert!(text.contains("\n         wheels must suit CPython 3."), "{text}");
        assert!(text.contains("\ntags:    cp3"), "{text}");
        assert!(text.contains("-manylinux_2_"), "{text}");
    }

    #[test]
    fn an_interpreter_that_cannot_run_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = options(&dir.path().join("cache"), &dir.path().join("venv"));
        options.python = dir.path().join("no-such-python");
        let diagnosis = diagnose(&options);
        assert_eq!(diagnosis.problems.len(), 1, "{diagnosis}");
        assert!(
            diagnosis.problems[0].text.starts_with("the interpreter cannot be asked what it supports: "),
            "{diagnosis}"
        );
    }

    #[test]
    fn another_filesystem_without_a_shard_is_a_problem_with_the_fix() {
        let shm = Path::new("/dev/shm");
        let dir = tempfile::tempdir().unwrap();
        if !shm.is_dir() || platform::device_id(shm).ok() == platform::device_id(dir.path()).ok() {
            crate::testing::skip("/dev/shm is not a separate filesystem here");
            return;
        }
        let cache = tempfile::tempdir_in(shm).unwrap();
        let mut options = options(cache.path(), dir.path());
        options.shards = ShardPolicy { dirs: Vec::new(), auto: false };
        let diagnosis = diagnose(&options);
        assert_eq!(diagnosis.outcome, (ConcreteLinkMode::Copy, None));
        assert_eq!(diagnosis.problems.len(), 1, "{diagnosis}");
        assert!(diagnosis.problems[0].text.contains("different filesystems"), "{diagnosis}");
        assert!(diagnosis.problems[0].text.contains("automatic shards are off"), "{diagnosis}");
        // The fix is a fact (where a cache would link), worded by the frontend.
        assert!(diagnosis.problems[0].cache_advice.is_some(), "{diagnosis:?}");
        assert!(!diagnosis.problems[0].text.contains("--"), "{diagnosis}");

        // A configured shard on the target's filesystem fixes it.
        options.shards.dirs.push(dir.path().join("shard"));
        let diagnosis = diagnose(&options);
        assert!(diagnosis.problems.is_empty(), "{diagnosis}");
        assert_eq!(diagnosis.outcome.1, Some(dir.path().join("shard")));
        assert!(!dir.path().join("shard").exists());
    }
}
