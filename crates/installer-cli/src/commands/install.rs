//! `installer install`.

use installer_core::cache::Cache;
use installer_core::install::{install, install_into, InstallOptions};
use installer_core::target::{externally_managed, find_system_python, TargetRequest};
use installer_core::units::thousands;
use installer_core::venv::Venv;
use installer_core::Error;
use installer_core::Result;

use crate::args::InstallArgs;
use crate::reporter::TerminalReporter;
use crate::settings;

pub fn run(args: InstallArgs) -> Result<()> {
    crate::stop_on_ctrl_c();
    let config = settings::file_config()?;
    let limits = settings::limits()?;
    let options = InstallOptions {
        link_mode: args.link_mode.or(config.link_mode).unwrap_or_default(),
        link_fallback: args.link_fallback.or(config.link_fallback).unwrap_or_default(),
        jobs: args.jobs.map(|j| j as usize).or(config.jobs).unwrap_or(0),
        reinstall: args.reinstall,
        compile: args.compile || config.compile.unwrap_or(false),
        shards: settings::shards(&config),
        target: TargetRequest {
            python_version: args.python_version.or(config.python_version),
            python_platform: args.python_platform.or_else(|| config.python_platform.clone()),
        },
    };
    let cache = if args.no_cache {
        Cache::temporary()?
    } else {
        Cache::open(&settings::cache_dir(args.cache.cache_dir.as_deref(), &config)?)?
    }
    .with_limits(limits);
    let reporter = TerminalReporter::new(args.output, "Installing");
    let result = if args.system {
        let python = find_system_python()?;
        if let (Some(message), false) = (externally_managed(&python), args.break_system_packages) {
            return Err(Error::ExternallyManaged { python: python.executable, message });
        }
        install(&Venv::of_interpreter(&python)?, &args.wheels, &cache, &options, &reporter)
    } else if args.venv.target.is_some() || args.venv.prefix.is_some() {
        let venv = settings::open_environment(&args.venv)?.expect("--target and --prefix always open");
        venv.create_dirs()?;
        install(&venv, &args.wheels, &cache, &options, &reporter)
    } else {
        let (venv, python) = settings::environment(&args.venv)?;
        install_into(&venv, &python, &args.wheels, &cache, &options, &reporter)
    };
    reporter.finish();
    let summary = result?;
    if !args.output.quiet {
        let mut line = format!(
            "Installed {} wheel{} ({} files) in {:.2}s: {}",
            summary.wheels,
            if summary.wheels == 1 { "" } else { "s" },
            thousands(summary.files),
            summary.elapsed.as_secs_f64(),
            summary.link_mode
        );
        if let Some(shard) = &summary.shard {
            line.push_str(&format!(" from the cache shard {}", shard.display()));
        }
        if !summary.replaced.is_empty() {
            line.push_str(&format!("; replaced {}", summary.replaced.join(", ")));
        }
        if !summary.skipped.is_empty() {
            line.push_str(&format!(
                "; skipped {} (already installed; --reinstall to replace)",
                summary.skipped.join(", ")
            ));
        }
        eprintln!("{line}");
    }
    Ok(())
}
