//! `installer cache dir|clean|prune|verify`: each acts on the main cache and on every shard
//! (`installer_core::cache_admin::locations`). Reports go to stdout, errors to stderr.

use std::io::Write;

use installer_core::cache::Cache;
use installer_core::cache_admin::{self, CacheLocation, CleanOptions, PruneOptions, Removal};
use installer_core::units::{human_bytes, thousands};
use installer_core::Result;

use super::Failure;
use crate::args::{CacheArgs, CacheCleanArgs, CacheCommand, CacheDirArgs, CachePruneArgs, CacheVerifyArgs};
use crate::settings;

pub fn run(command: CacheCommand) -> Result<(), Failure> {
    match command {
        CacheCommand::Dir(args) => Ok(dir(args)?),
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
    let caches = open(&args.cache)?;
    let removals = cache_admin::prune(&caches, PruneOptions { force: args.force })?;
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
    let mut line = format!(
        "{}: removed {}, freed {}",
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
        let dir = damaged.root.join("v1").join("entries").join(&damaged.id);
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
    let evicted = cache_admin::evict(&caches, &report.damaged)?;
    if !args.output.quiet {
        let _ = writeln!(
            out,
            "Evicted {}; the next install unpacks a clean copy. Environments installed from {} keep \
             their files until reinstalled (`installer install --reinstall`).",
            count(evicted as u64, "entry", "entries"),
            if evicted == 1 { "it" } else { "them" }
        );
    }
    Ok(())
}

fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

fn paths(paths: &[std::path::PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}
