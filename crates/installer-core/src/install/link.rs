//! Choosing how files get into the environment: the requested link mode, probed once for the
//! (cache, environment) pair; a cache shard on the environment's filesystem when the cache is
//! elsewhere; and, failing both, copies with one warning that says why and what to do.

use std::io;
use std::path::{Path, PathBuf};

use super::fallback::{cache_advice, Fallback, QuietReason, ShardFailure};
use crate::cache::Cache;
use crate::linker::{self, ConcreteLinkMode, ExistingFile, LinkFallback, LinkMode};
use crate::platform;
use crate::reporter::Reporter;
use crate::shards::{shard_location, ShardPolicy};
use crate::venv::Venv;
use crate::{Error, Result};

/// How this install will materialise files.
pub(crate) struct LinkPlan {
    pub mode: ConcreteLinkMode,
    /// Link from this shard's copies of the entries instead of the main cache (`None` in a
    /// dry run that would create the shard: it is not opened).
    pub shard: Option<Cache>,
    /// The directory of the shard files are (or, in a dry run, would be) linked from.
    pub shard_dir: Option<PathBuf>,
    /// The mode could not be used and files are copied: the facts to report when decided.
    pub fallback: Option<Fallback>,
    /// Why `auto` chose a slower mode on purpose, without a warning (said under `-v`).
    pub quiet: Option<QuietReason>,
}

impl LinkPlan {
    /// Files in `mode` from the main cache, with nothing to report.
    fn new(mode: ConcreteLinkMode) -> LinkPlan {
        LinkPlan { mode, shard: None, shard_dir: None, fallback: None, quiet: None }
    }
}

/// Where files are linked from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkSource {
    /// The cache itself.
    Cache,
    /// The cache shard in this directory, on the environment's filesystem, filled from the
    /// cache (the cache is on another filesystem).
    Shard(PathBuf),
}

/// Probing from a cache shard: where it is, and what was found (`Err`: it could not be
/// opened or probed from, and why).
#[derive(Debug)]
pub struct ShardProbe {
    /// The shard's root, whether it exists yet or not.
    pub dir: PathBuf,
    /// `Err` holds the reason as text, for `-v` and the fallback warning.
    pub probe: std::result::Result<linker::Probe, String>,
}

/// How files get from the cache into an environment, and why: decided by `decide`, the one
/// place that decides, for installs and for `doctor` alike.
#[derive(Debug)]
pub struct LinkDecision {
    /// What every file is placed with.
    pub mode: ConcreteLinkMode,
    /// The cache, or the shard that linked where the cache could not.
    pub source: LinkSource,
    /// Probing from the cache into the target.
    pub direct: linker::Probe,
    /// Only when the direct probe fell back across filesystems (never for symlinks, which
    /// must point into the cache itself): the shard tried, or why there is none.
    pub shard: Option<std::result::Result<ShardProbe, String>>,
    /// `auto` copies on purpose, without a warning: why.
    pub quiet: Option<QuietReason>,
}

impl LinkDecision {
    /// Files are copied though a better mode was asked for (and not on purpose).
    pub fn fell_back(&self) -> bool {
        self.mode == ConcreteLinkMode::Copy && self.direct.fell_back() && self.quiet.is_none()
    }
}

/// Decides how files get from a cache into `target` (an existing directory) for the
/// `requested` mode: probed once from `cache_source` (a directory on the cache's filesystem,
/// or, where no sample file can be written there, with the file `cache_file` gives: see
/// [`linker::probe`]); when that falls back to copying because the two are on different
/// filesystems, from the cache shard `policy` names for the target's filesystem, whose directory to probe from
/// `shard_source` gives (an install opens, and creates, the shard; `doctor` names the nearest
/// existing directory and creates nothing). `env_root` is the environment's root, or where it
/// will be: no automatic shard goes inside it. An error of the direct probe is returned.
pub(crate) fn decide(
    requested: LinkMode,
    policy: &ShardPolicy,
    cache_source: &Path,
    cache_file: &dyn Fn() -> Option<ExistingFile>,
    target: &Path,
    env_root: &Path,
    shard_source: &mut dyn FnMut(&Path) -> std::result::Result<PathBuf, String>,
) -> io::Result<LinkDecision> {
    let direct = linker::probe(requested, cache_source, cache_file, target)?;
    let mut decision =
        LinkDecision { mode: direct.mode, source: LinkSource::Cache, direct, shard: None, quiet: None };
    let auto = requested == LinkMode::Auto;
    if auto && decision.mode == ConcreteLinkMode::Hardlink {
        // Only a cache that exists (probed from its scratch directory) can be in a lower layer:
        // a probe from the nearest existing directory of one not made yet (doctor, a dry run)
        // stands for a cache the install makes, in the upper layer.
        let in_lower = crate::cache::Layout::root_of_scratch(cache_source)
            .and_then(|cache| Some((cache, platform::overlay_lower_holding(cache_source)?)));
        if let Some((cache, lower)) = in_lower {
            (decision.mode, decision.quiet) =
                (ConcreteLinkMode::Copy, Some(QuietReason::OverlayLowerLayer { cache, lower }));
        }
    }
    let cross_device = decision.direct.reason().is_some_and(|(_, e)| platform::is_cross_device(e));
    if !decision.direct.fell_back() || !cross_device || requested == LinkMode::Symlink {
        return Ok(decision);
    }
    let shard = shard_location(policy, target, env_root).map(|dir| {
        let probe = shard_source(&dir).and_then(|source| {
            linker::probe(requested, &source, &|| None, target).map_err(|e| e.to_string())
        });
        ShardProbe { dir, probe }
    });
    if let Ok(ShardProbe { dir, probe: Ok(probe) }) = &shard {
        if !probe.fell_back() {
            (decision.mode, decision.source) = (probe.mode, LinkSource::Shard(dir.clone()));
        }
    }
    decision.shard = Some(shard);
    if auto && decision.mode == ConcreteLinkMode::Copy && platform::is_container_root(target) {
        let cache = cache_root_of(cache_source);
        decision.quiet = Some(QuietReason::ContainerCacheMount { cache });
    }
    Ok(decision)
}

/// Where [`decide`] probes a shard from when nothing may be created (`doctor`, a dry run):
/// the shard's scratch directory when it exists, else the nearest existing directory, where
/// it would be created.
pub(crate) fn shard_source_creating_nothing(dir: &Path) -> std::result::Result<PathBuf, String> {
    let scratch = crate::cache::Layout::new(dir).scratch();
    Ok(if scratch.is_dir() { scratch } else { platform::nearest_existing(dir).to_path_buf() })
}

/// What an install from `cache` into the environment at `env_dir` would decide for
/// `requested` with the shards of `shards`, without installing and creating nothing (a shard
/// not made yet is probed where it would be): `decide`, as `resolve` calls it, into the
/// venv's site-packages, or into the nearest existing directory of an environment not created
/// yet. For frontends that report the mode an install would use (the C ABI's
/// `installer_probe_link_mode`): a probe of the cache alone would miss the shard an install
/// links from when the cache is on another filesystem.
pub fn decide_without_installing(
    requested: LinkMode,
    shards: &ShardPolicy,
    cache: &Cache,
    env_dir: &Path,
) -> Result<LinkDecision> {
    let env_dir = std::path::absolute(env_dir).map_err(|e| Error::io("resolve", env_dir, e))?;
    let target = match Venv::open(&env_dir) {
        Ok(venv) => venv.site_packages().to_path_buf(),
        Err(_) => platform::nearest_existing(&env_dir).to_path_buf(),
    };
    let shards = shards_for(cache, shards);
    let no_file = || None;
    let mut decision = decide(
        requested,
        shards,
        &cache.probe_dir(),
        &no_file,
        &target,
        &env_dir,
        &mut shard_source_creating_nothing,
    )
    .map_err(|e| Error::io("probe link modes into", &target, e))?;
    copy_from_temporary_cache_quietly(&mut decision, requested, cache);
    Ok(decision)
}

/// The shards an install from `cache` uses: none from a temporary cache (`--no-cache`, or the
/// one that receives what a cache this user cannot write would have): a shard outlives the
/// install, and a permanent copy on the environment's filesystem is not what `--no-cache` asks.
pub(crate) fn shards_for<'a>(cache: &Cache, shards: &'a ShardPolicy) -> &'a ShardPolicy {
    static NONE: ShardPolicy = ShardPolicy { dirs: Vec::new(), auto: false };
    if cache.is_temporary() {
        &NONE
    } else {
        shards
    }
}

/// From a temporary cache on another filesystem than the environment (it lives in the
/// temporary directory), copying is what `--no-cache` means, as with pip, not a fallback to
/// warn about or, with `--link-fallback error`, fail on: `-v` says why. Only for `auto`: a
/// mode the user named (`--link-mode hardlink`) that cannot be used is warned about, or an
/// error with `--link-fallback error`, as everywhere else.
pub(crate) fn copy_from_temporary_cache_quietly(
    decision: &mut LinkDecision,
    requested: LinkMode,
    cache: &Cache,
) {
    let cross_device = decision.direct.reason().is_some_and(|(_, e)| platform::is_cross_device(e));
    if requested == LinkMode::Auto && cache.is_temporary() && decision.fell_back() && cross_device {
        decision.quiet = Some(QuietReason::TemporaryCache { cache: cache.root().to_path_buf() });
    }
}

/// A target that takes no new file (read-only, not writable by this user, full) refuses every
/// link mode, and a copy the same way: no fallback to warn about (its warning promises a
/// complete install). The install then fails at its first write, naming the place and the OS
/// error, as with `--link-mode copy`.
pub(crate) fn quiet_when_target_refuses_writes(decision: &mut LinkDecision, target: &Path) {
    let failures = &decision.direct.failures;
    if decision.fell_back() && failures.iter().all(|(_, e)| platform::refuses_writes(e)) {
        let (_, first) = &failures[0];
        let error = std::io::Error::new(first.kind(), first.to_string());
        decision.quiet = Some(QuietReason::TargetNotWritable { target: target.to_path_buf(), error });
    }
}

/// The first file of each of `entries` that `cache` holds as its own (a layer's entries are
/// on other filesystems): what the link probe links where it cannot write its sample file in
/// the cache ([`linker::probe`]). Taken before planning, so the entries of wheels already
/// installed count too.
pub(crate) fn probe_files(cache: &Cache, entries: &[crate::cache::CacheEntry]) -> Vec<ExistingFile> {
    let own = entries.iter().filter(|entry| cache.holds_as_own(entry));
    own.filter_map(|entry| {
        let file = entry.manifest().files.first()?;
        Some(ExistingFile { dir: entry.tree(), rel: file.path.clone() })
    })
    .collect()
}

/// The one of `files` the probe links: in a group's shared cache, one of this user's own where
/// there is one, because Linux's `protected_hardlinks` refuses to hardlink another member's
/// read-only files (`respect_others_entries` judges those apart; the probe asks what the
/// filesystems allow). Asked only when the cache is full, so its `stat`s cost the warm path
/// nothing.
pub(super) fn probe_file(cache: &Cache, files: &[ExistingFile]) -> Option<ExistingFile> {
    let own = |file: &&ExistingFile| {
        std::fs::metadata(file.dir.join(&file.rel)).is_ok_and(|meta| platform::is_owned_by_us(&meta))
    };
    let chosen = if cache.is_shared() { files.iter().find(own) } else { None };
    chosen.or(files.first()).cloned()
}

/// The cache root of a probe's source directory (a cache's scratch directory), for messages.
fn cache_root_of(source: &Path) -> PathBuf {
    crate::cache::Layout::root_of_scratch(source).unwrap_or_else(|| source.to_path_buf())
}

/// Where link modes into `venv` are probed: its site-packages, or, for a dry run (which makes
/// no directory) into a prefix where it is not made yet (pip made only a `lib64` platlib
/// there), the nearest directory that exists, on the filesystem it would be made on.
fn probe_target(venv: &Venv) -> &Path {
    platform::nearest_existing(venv.site_packages())
}

/// Decides the link plan for installing from `cache` into `venv` ([`decide`]) with the link
/// mode, fallback and shards of `options`, saying what it found to `-v`. With
/// `LinkFallback::Error` a fallback is an error, returned before the environment is touched. A
/// dry run creates no shard: one that exists is opened (which writes nothing), one that does
/// not is probed where it would be, as `doctor` does. `cache_files` are the install's entries'
/// ([`probe_files`]): one is probed with where the cache is too full for a sample file.
pub(crate) fn resolve(
    options: &super::InstallOptions,
    cache: &Cache,
    cache_files: &[ExistingFile],
    venv: &Venv,
    reporter: &dyn Reporter,
) -> Result<LinkPlan> {
    let (requested, fallback, dry_run) = (options.link_mode, options.link_fallback, options.dry_run);
    let target = probe_target(venv);
    let mut opened = None;
    let mut open_shard = |dir: &Path| {
        if dry_run && !crate::cache::Layout::new(dir).exists() {
            return shard_source_creating_nothing(dir);
        }
        let shard = Cache::open(dir)
            .map_err(|e| format!("cannot use the cache shard {}: {}", dir.display(), e.one_line()))?;
        let scratch = shard.scratch_dir();
        opened = Some(shard);
        Ok(scratch)
    };
    let shards = shards_for(cache, &options.shards);
    let cache_file = || probe_file(cache, cache_files);
    let mut decision =
        decide(requested, shards, &cache.probe_dir(), &cache_file, target, venv.root(), &mut open_shard)
            .map_err(|e| Error::io("probe link modes into", target, e))?;
    copy_from_temporary_cache_quietly(&mut decision, requested, cache);
    quiet_when_target_refuses_writes(&mut decision, target);
    if let Some(error) = &decision.direct.sample_error {
        reporter.info(&format!("{error}: probing with a file of a cache entry instead"));
    }
    for (mode, err) in &decision.direct.failures {
        reporter.info(&format!(
            "{mode} from {} into {} failed: {err}",
            cache.named_root().display(),
            target.display()
        ));
    }
    match &decision.shard {
        Some(Err(why)) | Some(Ok(ShardProbe { probe: Err(why), .. })) => reporter.info(why),
        _ => {}
    }
    match &decision.source {
        LinkSource::Shard(dir) => {
            let why = match &decision.shard {
                Some(Ok(ShardProbe { probe: Ok(probe), .. })) => probe.why(requested),
                _ => String::new(),
            };
            reporter.info(&format!(
                "link mode: {} from the cache shard {} (the cache {} is on another filesystem): {why}",
                decision.mode,
                dir.display(),
                cache.named_root().display(),
            ));
            return Ok(LinkPlan {
                shard: opened,
                shard_dir: Some(dir.clone()),
                ..LinkPlan::new(decision.mode)
            });
        }
        LinkSource::Cache if decision.quiet.is_some() => {
            let reason = decision.quiet.expect("matched");
            reporter.info(&format!("link mode: {} (target {}): {reason}", decision.mode, target.display()));
            return Ok(LinkPlan { quiet: Some(reason), ..LinkPlan::new(decision.mode) });
        }
        LinkSource::Cache if !decision.fell_back() => {
            reporter.info(&format!(
                "link mode: {} (cache {}, target {}): {}",
                decision.mode,
                cache.named_root().display(),
                target.display(),
                decision.direct.why(requested)
            ));
            return Ok(LinkPlan::new(decision.mode));
        }
        LinkSource::Cache => {}
    }
    let shard = match &decision.shard {
        Some(Ok(ShardProbe { dir, probe: Ok(probe) })) => {
            let (mode, error) = probe.reason().expect("a shard probe that fell back has a failure");
            let why = format!("{mode} from the cache shard {} fails too: {error}", dir.display());
            reporter.info(&why);
            Some(ShardFailure { why, filesystem_cannot_link: true })
        }
        Some(Ok(ShardProbe { probe: Err(why), .. })) => {
            Some(ShardFailure { why: why.clone(), filesystem_cannot_link: false })
        }
        // No shard was tried (none configured there, automatic ones off or refused): `-v`
        // said why; the warning's advice names a place that works.
        Some(Err(_)) | None => None,
    };
    let (failed, error) = decision.direct.failures.into_iter().next().expect("a fallback has a failure");
    copy_instead(failed, error, shard, fallback, cache.named_root(), venv)
}

/// Copies because `failed` cannot be used (`error`): the plan `link-fallback` asks for, with
/// the facts of the one warning, or the error that stops the install before it touches
/// anything.
fn copy_instead(
    failed: ConcreteLinkMode,
    error: io::Error,
    shard: Option<ShardFailure>,
    fallback: LinkFallback,
    cache_root: &Path,
    venv: &Venv,
) -> Result<LinkPlan> {
    // A cache on the environment's filesystem helps only when the two are on different
    // filesystems and that filesystem can link.
    let helps =
        platform::is_cross_device(&error) && !shard.as_ref().is_some_and(|s| s.filesystem_cannot_link);
    let cache_advice = helps.then(|| cache_advice(venv.root())).flatten();
    let details = Fallback {
        failed,
        error,
        cache: cache_root.to_path_buf(),
        target: venv.root().to_path_buf(),
        shard,
        cache_advice,
        files: 0,
        bytes: 0,
    };
    let copy = ConcreteLinkMode::Copy;
    match fallback {
        LinkFallback::Error => Err(Error::LinkFallback {
            mode: details.failed.as_str(),
            cache: details.cache,
            target: details.target,
            source: details.error,
        }),
        LinkFallback::Warn => Ok(LinkPlan { fallback: Some(details), ..LinkPlan::new(copy) }),
        LinkFallback::Quiet => Ok(LinkPlan::new(copy)),
    }
}

/// Whether an entry found in a read-only cache layer can be used where it is with `mode`:
/// copies always can; hardlinks and clones when a real file of it links into the environment;
/// symlinks never (an environment would depend on a layer we cannot protect) and neither can an
/// install that compiles (the bytecode is published into the entry). Otherwise the caller
/// imports it, once, into the cache or shard the install links from.
pub(crate) fn layer_entry_usable(
    entry: &crate::cache::CacheEntry,
    mode: ConcreteLinkMode,
    compile: bool,
    venv: &Venv,
    reporter: &dyn Reporter,
) -> bool {
    let tried = match mode {
        _ if compile => Err("bytecode is compiled into the entry".to_string()),
        ConcreteLinkMode::Copy => Ok(()),
        ConcreteLinkMode::Symlink => Err("symlinks must point into a cache this user manages".into()),
        mode => match entry.manifest().files.first() {
            None => Ok(()),
            Some(file) => linker::try_file(mode, &entry.tree(), &file.path, probe_target(venv))
                .map_err(|e| format!("{mode} from there fails: {e}")),
        },
    };
    match &tried {
        Ok(()) => reporter.info(&format!("{mode} from the cache layer entry {}", entry.dir().display())),
        Err(why) => reporter.info(&format!(
            "importing the cache layer entry {} into a writable cache: {why}",
            entry.dir().display()
        )),
    }
    tried.is_ok()
}

/// Hardlinks into a shared cache's entries that another user published: Linux's
/// `protected_hardlinks` lets nobody hardlink a file they may not write, and those entries are
/// read-only (so nobody changes another's environment through them). The probe cannot see it
/// (it links a file of this user's). Tried on a file of the first such entry of the cache the
/// files are linked from: the shard when there is one (a group's shared shard holds entries
/// other members imported; those this install will import are its own), else the cache. Where
/// refused, `auto` clones (or copies) without a warning, saying why under `-v`, and an
/// explicit `hardlink` falls back as `link-fallback` says.
pub(crate) fn respect_others_entries<'a>(
    plan: &mut LinkPlan,
    requested: LinkMode,
    fallback: LinkFallback,
    cache: &Cache,
    entries: impl Iterator<Item = &'a crate::cache::CacheEntry>,
    venv: &Venv,
    reporter: &dyn Reporter,
) -> Result<()> {
    // A dry run's shard that does not exist yet: what it will hold is this install's own.
    if plan.shard.is_none() && plan.shard_dir.is_some() {
        return Ok(());
    }
    let source = plan.shard.as_ref().unwrap_or(cache);
    if plan.mode != ConcreteLinkMode::Hardlink || !source.is_shared() {
        return Ok(());
    }
    let source_root = source.root().to_path_buf();
    // Opened to read only, not leased: the import leases what it links. In a shard, an entry
    // directory of ours is passed over before its manifest is read (a warm install asks this
    // of every wheel), and the first entry of another member's ends the search.
    let mut others = entries.filter_map(|e| match &plan.shard {
        Some(shard) => {
            let dir = std::fs::metadata(shard.entries_dir().join(e.id())).ok()?;
            if platform::is_owned_by_us(&dir) {
                return None;
            }
            shard.open_entry(e.id())
        }
        None => Some(e.clone()),
    });
    let found = others.find_map(|entry| {
        let file = entry.manifest().files.first()?.path.clone();
        let meta = std::fs::metadata(entry.tree().join(&file)).ok()?;
        (source.holds_as_own(&entry) && !platform::is_owned_by_us(&meta)).then_some((entry, file))
    });
    let Some((entry, file)) = &found else { return Ok(()) };
    let target = probe_target(venv);
    let Err(error) = linker::try_file(ConcreteLinkMode::Hardlink, &entry.tree(), file, target) else {
        return Ok(());
    };
    if requested == LinkMode::Auto {
        let clones = linker::try_file(ConcreteLinkMode::Clone, &entry.tree(), file, target).is_ok();
        plan.mode = if clones { ConcreteLinkMode::Clone } else { ConcreteLinkMode::Copy };
        let reason = QuietReason::OthersReadOnlyEntries { entry: entry.dir().to_path_buf(), error };
        reporter.info(&format!("link mode: {} (cache {}): {reason}", plan.mode, source_root.display()));
        plan.quiet = Some(reason);
        return Ok(());
    }
    let copied = copy_instead(ConcreteLinkMode::Hardlink, error, None, fallback, &source_root, venv)?;
    (plan.mode, plan.fallback) = (copied.mode, copied.fallback);
    Ok(())
}
