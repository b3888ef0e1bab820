//! Steps 2 to 5 of an install, once every wheel's verified cache entry is in hand and the
//! environment is there (found, or just created): under its lock, plan against what is
//! installed, decide how files get there, add the bytecode, apply in a transaction; then keep
//! the cache under its size. `mod.rs` holds what comes before: the options, choosing and
//! caching the wheels, and finding or creating the environment.

use std::path::PathBuf;

use super::roots::{self, Roots};
use super::summary::Clock;
use super::{
    apply, bytecode_elsewhere, compiled, dist_version, link, plan, DistVersion, InstallSummary, Run,
};
use crate::bytecode::Compiler;
use crate::cache::{Cache, CacheEntry};
use crate::installed::InstalledDist;
use crate::linker::ConcreteLinkMode;
use crate::platform;
use crate::reporter::{Event, Reporter};
use crate::shards::ShardPolicy;
use crate::transaction::Transaction;
use crate::uninstall;
use crate::{Error, Result};

/// Steps 2 to 5, for wheels whose entries are known. `held`: the environment's lock when the
/// caller holds it already (it created the environment); otherwise it is taken here.
/// `compiler`: with `--compile`, compiling what the entries lack since step 1.
pub(super) fn install_entries(
    run: &Run,
    wheels: &[PathBuf],
    entries: Vec<CacheEntry>,
    mut clock: Clock,
    held: Option<&platform::DirLock>,
    compiler: Option<Compiler>,
) -> Result<InstallSummary> {
    let Run { venv, cache, options, reporter, .. } = *run;
    // From here on this process alone changes the environment.
    let own_lock;
    let _lock = match held {
        Some(lock) => lock,
        None => {
            own_lock = venv.lock(reporter)?;
            &own_lock
        }
    };
    if !venv.root().is_dir() {
        // Removed while we waited for its lock: its creator's install failed.
        return Err(Error::NotAVenv {
            path: venv.root().to_path_buf(),
            reason: "it was removed while this install waited for it".into(),
        });
    }

    // Every entry this command used, skipped wheels' too: never evicted by it (collected only
    // when there is a size to keep under).
    let used: Vec<String> = match options.cache_max_size {
        Some(_) => entries.iter().map(|e| e.id().to_string()).collect(),
        None => Vec::new(),
    };

    // Before planning takes the entries: the link probe's files where the cache is full.
    let probe_files = link::probe_files(cache, &entries);

    // 2. Plan against what is installed.
    let mut roots = Roots::new(venv);
    let (mut plans, skipped) = plan::plan_wheels(venv, &mut roots, wheels, entries, options.reinstall)?;
    if let Some(compiler) = &compiler {
        compiler.plans_made(&plans);
    }
    clock.lap("plan");

    // 3. How files get there: decided once, and a fallback reported as soon as it is.
    let mut link = link::resolve(options, cache, &probe_files, venv, reporter)?;
    let entries = plans.iter().map(|p| &p.entry);
    link::respect_others_entries(
        &mut link,
        options.link_mode,
        options.link_fallback,
        cache,
        entries,
        venv,
        reporter,
    )?;
    let total: u64 = plans.iter().map(|p| p.files.len() as u64 + 1).sum();
    if let Some(fallback) = &mut link.fallback {
        (fallback.files, fallback.bytes) = entry_files_and_bytes(&plans);
        reporter.event(Event::LinkFallback(fallback));
    }
    let replaced_dists: Vec<DistVersion> = plans
        .iter()
        .flat_map(|p| &p.replaces)
        .map(|d| DistVersion { name: d.name.clone(), version: d.version.clone() })
        .collect();
    let mut summary = InstallSummary {
        installed: plans.iter().map(|p| dist_version(p.entry.manifest())).collect(),
        replaced: replaced_dists,
        skipped,
        files: total,
        link_mode: link.mode,
        fell_back_from: link.fallback.as_ref().map(|f| f.failed),
        copied_files: 0,
        copied_bytes: 0,
        shard: link.shard_dir.clone(),
        created_venv: None,
        dry_run: options.dry_run,
        timings: Vec::new(),
    };
    if options.dry_run {
        if link.mode == ConcreteLinkMode::Copy {
            (summary.copied_files, summary.copied_bytes) = entry_files_and_bytes(&plans);
        }
        clock.lap("link mode");
        summary.timings = clock.laps;
        return Ok(summary);
    }
    // The main cache's entries stay leased until the end: their bytecode is published there.
    let mut main_entries = Vec::new();
    if let Some(shard) = &link.shard {
        for plan in &mut plans {
            let imported = shard.import_entry(&plan.entry)?;
            main_entries.push(std::mem::replace(&mut plan.entry, imported));
        }
        shard.record_use(plans.iter().map(|p| p.entry.id()));
    }
    let source = link.shard.as_ref().unwrap_or(cache);
    for plan in &mut plans {
        if plan.entry.is_from_layer()
            && !link::layer_entry_usable(&plan.entry, link.mode, options.compile, venv, reporter)
        {
            plan.entry = source.import_entry(&plan.entry)?;
        }
    }

    // 4. Bytecode, from the cache the files are linked from.
    if let Some(compiler) = compiler {
        let (python, tag) = compiler.python();
        plan_bytecode(&mut plans, compiler, source, &roots, reporter)?;
        let python = (python.as_path(), tag.as_str());
        bytecode_elsewhere::add_to_plans(&mut plans, python, source, &roots, &options.cancel, reporter)?;
        clock.lap("bytecode");
    }

    // 5. Apply. A symlinked environment is recorded first, while this install holds the
    // environment's lock and the entries' leases (`Cache::record_symlinked_env`).
    if link.mode == ConcreteLinkMode::Symlink {
        if let Err(e) = source.record_symlinked_env(venv.root(), plans.iter().map(|p| p.entry.id())) {
            reporter.warning(&format!(
                "cannot record {} as a symlinked environment of the cache (cache clean and prune will not know it links there): {e}",
                venv.root().display()
            ));
        }
        crate::pause::point("symlinked-env-recorded");
    }
    let total: u64 = plans.iter().map(|p| p.files.len() as u64 + 1).sum();
    summary.files = total;
    let copy_bytes = if link.mode == ConcreteLinkMode::Copy { entry_files_and_bytes(&plans).1 } else { 0 };
    reporter.event(Event::Placing { files: total, copy_bytes });
    reporter.add_total(total);
    // What replaced distributions leave goes exactly as `uninstall` would remove it.
    let replaced: Vec<InstalledDist> = plans.iter().flat_map(|p| p.replaces.iter().cloned()).collect();
    let mut old_files = Vec::new();
    for old in &replaced {
        old_files.extend(uninstall::dist_files(old, venv, reporter)?);
    }
    let txn = Transaction::new(venv.root());
    clock.lap("link mode");
    let applying =
        apply::Apply { roots: &roots, venv, mode: link.mode, txn: &txn, reporter, cancel: &options.cancel };
    let copied = match apply::apply(&plans, &old_files, &applying, &mut clock) {
        Ok(copied) => copied,
        Err(e) => {
            txn.rollback();
            return Err(e);
        }
    };
    txn.commit(uninstall::emptied_dirs(&old_files, &replaced, venv));
    crate::pause::point("committed");
    clock.lap("commit");
    reporter.info(&clock.summary());

    if let Some(max) = options.cache_max_size {
        // While this install still holds its entries' leases.
        keep_under(max, cache, &options.shards, &used, reporter);
        clock.lap("evict");
    }
    (summary.copied_files, summary.copied_bytes) = copied;
    if summary.link_mode == ConcreteLinkMode::Hardlink && summary.copied_files > 0 {
        // Files at the filesystem's limit of links were copied (`apply::place`).
        summary.fell_back_from = Some(ConcreteLinkMode::Hardlink);
    }
    summary.timings = clock.laps;
    Ok(summary)
}

/// Evicts least recently used entries until the cache and its shards fit in `max` bytes (see
/// [`crate::cache_admin::enforce_max_size`]). The install is done: a failure here is a warning.
fn keep_under(max: u64, cache: &Cache, shards: &ShardPolicy, used: &[String], reporter: &dyn Reporter) {
    let used = used.iter().map(String::as_str).collect();
    match crate::cache_admin::enforce_max_size(cache, shards, max, &used) {
        Ok(Some(eviction)) => reporter.event(Event::Evicted(&eviction)),
        Ok(None) => {}
        Err(e) => reporter.warning(&format!("evicting least recently used cache entries failed: {e}")),
    }
}

/// Files the plans take from the cache (linked or copied), and their bytes.
fn entry_files_and_bytes(plans: &[plan::WheelPlan]) -> (u64, u64) {
    let sizes = plans.iter().flat_map(|plan| plan.files.iter().filter_map(|file| plan.cached_size(file)));
    sizes.fold((0, 0), |(files, bytes), size| (files + 1, bytes + size))
}

/// Adds the bytecode of every plan's entry to the plans, once `compiler` has finished; `source`
/// is the cache or shard the plans' entries are in (a layer's entry imported there).
fn plan_bytecode(
    plans: &mut [plan::WheelPlan],
    compiler: Compiler,
    source: &Cache,
    roots: &Roots,
    reporter: &dyn Reporter,
) -> Result<()> {
    compiler.entries_placed(plans, source, reporter)?;
    let mut compiled = compiler.finish()?;
    for plan in plans.iter_mut() {
        let Some(set) = compiled.set_for(&plan.entry, source, || plan.compile_sources())? else { continue };
        let set = std::sync::Arc::new(set);
        // Those of sources installed elsewhere are warned about by `bytecode_elsewhere`.
        let manifest = plan.entry.manifest();
        for (rel, message) in
            set.manifest.failed.iter().filter(|(rel, _)| !compiled::kept_elsewhere(manifest, rel))
        {
            let path = roots.join(roots::SITE_PACKAGES, rel);
            reporter.warning(&format!("failed to compile {}: {message}", path.display()));
        }
        plan.add_bytecode(set, roots.platlib());
    }
    Ok(())
}
