//! `installer cache dir|info|clean|prune|verify`: each acts on the main cache and on every shard
//! (`installer_core::cache_admin::locations`). Reports go to stdout, errors to stderr.

use std::io::Write;
use std::time::{Duration, SystemTime};

use installer_core::cache::Cache;
use installer_core::cache_admin::{self, CacheLocation, CleanOptions, LocationInfo, PruneOptions, Removal};
use installer_core::units::{human_bytes, thousands};
use installer_core::Result;
use serde_json::json;

use super::Failure;
use crate::args::{
    CacheArgs, CacheCleanArgs, CacheCommand, CacheDirArgs, CacheInfoArgs, CachePruneArgs, CacheVerifyArgs,
    Format,
};
use crate::settings;

pub fn run(command: CacheCommand) -> Result<(), Failure> {
    match command {
        CacheCommand::Dir(args) => Ok(dir(args)?),
        CacheCommand::Info(args) => Ok(info(args)?),
        CacheCommand::Clean(args) => Ok(clean(args)?),
        CacheCommand::Prune(args) => Ok(prune(args)?),
        CacheCommand::Verify(args) => verify(args),
    }
}

/// The main cache, then every shard, as the settings resolve them.
fn locations(args: &CacheArgs) -> Result<Vec<CacheLocation>> {
    let config = settings::file_config()?;
    let main = settings::cache_dir(args.cache_dir.as_deref(), &config)?;
    Ok(cache_admin::locations(&main, &settings::shards(&config)))
}

/// One path per line, the main cache first, so `$(installer cache dir | head -n1)` is the cache.
fn dir(args: CacheDirArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for location in locations(&args.cache)? {
        let _ = writeln!(out, "{}", location.root.display());
    }
    Ok(())
}

fn open(args: &CacheArgs) -> Result<Vec<Cache>> {
    cache_admin::open_existing(&locations(args)?)
}

/// One line per cache root (entries, space, least recent use), a total when there are several
/// or a cap is set; `-v` lists the entries, least recently used first.
fn info(args: CacheInfoArgs) -> Result<()> {
    let config = settings::file_config()?;
    let max_size = settings::cache_max_size(None, &config)?;
    let infos = cache_admin::info(&open(&args.cache)?)?;
    let entries: usize = infos.iter().map(|i| i.entries.len()).sum();
    let bytes: u64 = infos.iter().map(|i| i.disk_bytes).sum();
    if args.format.format == Format::Json {
        return super::print_json(&json!({
            "command": "cache info",
            "caches": infos.iter().map(info_json).collect::<Vec<_>>(),
            "entries": entries,
            "disk_bytes": bytes,
            "max_size": max_size,
        }));
    }
    let mut out = std::io::stdout().lock();
    if infos.is_empty() {
        let _ = writeln!(out, "No cache yet (nothing has been installed with it).");
        return Ok(());
    }
    for info in &infos {
        let mut line = format!(
            "{}: {}, {} on disk",
            info.root.display(),
            count(info.entries.len() as u64, "entry", "entries"),
            human_bytes(info.disk_bytes)
        );
        if let Some(oldest) = info.oldest_use() {
            line.push_str(&format!(", least recently used {}", ago(oldest)));
        }
        let _ = writeln!(out, "{line}");
        if args.output.verbose {
            for entry in &info.entries {
                let _ = writeln!(
                    out,
                    "  {} ({}, used {})",
                    entry.label(),
                    human_bytes(entry.disk_bytes),
                    ago(entry.last_used)
                );
            }
        }
    }
    if infos.len() > 1 || max_size.is_some() {
        let mut line =
            format!("Total: {}, {} on disk", count(entries as u64, "entry", "entries"), human_bytes(bytes));
        if let Some(max) = max_size {
            line.push_str(&format!(" (cache-max-size {})", human_bytes(max)));
        }
        let _ = writeln!(out, "{line}");
    }
    Ok(())
}

fn info_json(info: &LocationInfo) -> serde_json::Value {
    let time = |t: SystemTime| humantime::format_rfc3339_seconds(t).to_string();
    json!({
        "root": info.root,
        "disk_bytes": info.disk_bytes,
        "oldest_use": info.oldest_use().map(time),
        "newest_use": info.newest_use().map(time),
        "entries": info.entries.iter().map(|e| json!({
            "id": e.id,
            "name": e.name,
            "version": e.version,
            "disk_bytes": e.disk_bytes,
            "last_used": time(e.last_used),
        })).collect::<Vec<_>>(),
    })
}

/// `3d ago`, `5m ago`: how long ago, in its largest unit only.
pub(crate) fn ago(when: SystemTime) -> String {
    let secs = SystemTime::now().duration_since(when).unwrap_or_default().as_secs();
    let unit = [86_400, 3_600, 60, 1].into_iter().find(|u| secs >= *u).unwrap_or(1);
    format!("{} ago", humantime::format_duration(Duration::from_secs(secs - secs % unit)))
}

fn clean(args: CacheCleanArgs) -> Result<()> {
    let caches = open(&args.cache)?;
    let options = CleanOptions { names: args.names.clone(), force: args.force };
    let removals = cache_admin::clean(&caches, &options)?;
    if args.output.quiet {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    if removals.iter().all(|r| r.removed.is_empty() && r.in_use == 0) {
        let what = if args.names.is_empty() { "entries".to_string() } else { args.names.join(", ") };
        let _ = writeln!(out, "Nothing to remove: no cache entries of {what}.");
        return Ok(());
    }
    for removal in &removals {
        print_removal(&mut out, removal, args.output.verbose);
        if !removal.symlinked_envs.is_empty() {
            let _ = writeln!(
                out,
                "  These symlinked environments are now broken; reinstall into them: {}",
                paths(&removal.symlinked_envs)
            );
        }
    }
    Ok(())
}

fn prune(args: CachePruneArgs) -> Result<()> {
    let config = settings::file_config()?;
    let options = PruneOptions {
        force: args.force,
        used_before: args
            .older_than
            .map(|age| SystemTime::now().checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH)),
        max_size: settings::cache_max_size(args.max_size, &config)?,
    };
    // A size or an age limit applies to this configuration's shards (see `size_scope`).
    let mut locations = locations(&args.cache)?;
    if options.max_size.is_some() || options.used_before.is_some() {
        locations = cache_admin::size_scope(locations, &settings::shards(&config));
    }
    let caches = cache_admin::open_existing(&locations)?;
    let removals = cache_admin::prune(&caches, options)?;
    if args.output.quiet {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    for removal in &removals {
        print_removal(&mut out, removal, args.output.verbose);
        if removal.symlinked_envs.is_empty() {
            continue;
        }
        let line = if args.force {
            format!(
                "  These symlinked environments are now broken; reinstall into them: {}",
                paths(&removal.symlinked_envs)
            )
        } else {
            format!(
                "  Kept entries that symlinked environments point into: {} (--force removes them and breaks those environments)",
                paths(&removal.symlinked_envs)
            )
        };
        let _ = writeln!(out, "{line}");
    }
    Ok(())
}

/// `<root>: removed N entries (X freed), kept M`, plus each entry with `-v`.
fn print_removal(out: &mut impl Write, removal: &Removal, verbose: bool) {
    let reasons: Vec<String> = [
        (removal.by_age, "not used within --older-than"),
        (removal.by_size, "least recently used, to fit --max-size"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, why)| format!("{} {why}", thousands(n as u64)))
    .collect();
    let reasons =
        if reasons.is_empty() { String::new() } else { format!(" (of which {})", reasons.join("; ")) };
    let mut line = format!(
        "{}: removed {}{reasons}, freed {}",
        removal.root.display(),
        count(removal.removed.len() as u64, "entry", "entries"),
        human_bytes(removal.bytes_freed())
    );
    let linked = removal.bytes_still_linked();
    if linked > 0 {
        line.push_str(&format!(
            " ({} more stays on disk: hardlinked environments share it)",
            human_bytes(linked)
        ));
    }
    if removal.kept > 0 {
        line.push_str(&format!("; kept {}", count(removal.kept as u64, "entry", "entries")));
        if removal.in_use > 0 {
            line.push_str(&format!(" ({} in use by a running install)", thousands(removal.in_use as u64)));
        }
    }
    let _ = writeln!(out, "{line}");
    if verbose {
        for entry in &removal.removed {
            let _ = writeln!(out, "  removed {} ({})", entry.label(), human_bytes(entry.disk_bytes));
        }
    }
}

fn verify(args: CacheVerifyArgs) -> Result<(), Failure> {
    let caches = open(&args.cache)?;
    let report = cache_admin::verify(&caches)?;
    let mut out = std::io::stdout().lock();
    if !args.output.quiet {
        let roots: Vec<String> = caches.iter().map(|c| c.root().display().to_string()).collect();
        let _ = writeln!(
            out,
            "Verified {} ({} files, {}) in {}",
            count(report.entries as u64, "entry", "entries"),
            thousands(report.files),
            human_bytes(report.bytes),
            if roots.is_empty() { "no cache (none exists yet)".to_string() } else { roots.join(", ") }
        );
    }
    for damaged in &report.damaged {
        let dir = installer_core::cache::Layout::new(&damaged.root).entry(&damaged.id);
        if damaged.unreadable_manifest {
            let _ = writeln!(out, "damaged: {}: its manifest is missing or unreadable", dir.display());
            continue;
        }
        let _ = writeln!(out, "changed since it was unpacked: {} ({})", damaged.label, dir.display());
        for path in &damaged.changed {
            let _ = writeln!(out, "  changed: {path}");
        }
        for path in &damaged.missing {
            let _ = writeln!(out, "  missing: {path}");
        }
    }
    if report.is_clean() {
        return Ok(());
    }
    let n = count(report.damaged.len() as u64, "cache entry", "cache entries");
    if !args.repair {
        let _ = out.flush();
        return Err(Failure::Found(format!(
            "{n} changed since unpacked (an edited hardlinked file edits the cache too); \
             run `installer cache verify --repair` to evict {}",
            if report.damaged.len() == 1 { "it" } else { "them" }
        )));
    }
    let repaired = cache_admin::evict(&caches, &report.damaged, args.force)?;
    if !args.output.quiet {
        let evicted = repaired.removed;
        let mut line = format!(
            "Evicted {}; the next install unpacks a clean copy. Hardlinked, cloned and copied environments \
             installed from {} keep their files until reinstalled (`installer install --reinstall`).",
            count(evicted as u64, "entry", "entries"),
            if evicted == 1 { "it" } else { "them" }
        );
        if repaired.in_use > 0 {
            line.push_str(&format!(
                " Kept {} in use by a running install: verify again once it is done.",
                count(repaired.in_use as u64, "entry", "entries")
            ));
        }
        let _ = writeln!(out, "{line}");
        if !repaired.symlinked_envs.is_empty() {
            let _ = writeln!(
                out,
                "Broke symlinked environments (--force): {}; reinstall them.",
                paths(&repaired.symlinked_envs)
            );
        }
    }
    // A changed entry left in the cache is still a finding: exit 1, as without --repair.
    if repaired.in_use > 0 {
        return Err(Failure::Found(format!(
            "{} changed and still in the cache (in use by a running install); verify again once it is done",
            count(repaired.in_use as u64, "entry", "entries")
        )));
    }
    Ok(())
}

fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

fn paths(paths: &[std::path::PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}
