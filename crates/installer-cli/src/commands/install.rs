//! `installer install`: wheels from the command line and `-r` files, settings resolved, the
//! core's install, then the summary (text on stderr, or `--format json` on stdout).

use installer_core::cache::Cache;
use installer_core::install::{install, install_into, InstallOptions};
use installer_core::target::{externally_managed, find_system_python, TargetRequest};
use installer_core::venv::Venv;
use installer_core::Error;
use installer_core::Result;

use crate::args::{Format, InstallArgs};
use crate::reporter::TerminalReporter;
use crate::{settings, summary};

pub fn run(args: InstallArgs) -> Result<()> {
    let cancel = installer_core::Cancel::new();
    crate::cancel_on_ctrl_c(&cancel);
    let config = settings::file_config()?;
    let limits = settings::limits()?;
    // `--no-deps`, `--offline` and `--no-index` need nothing: installer never resolves or
    // downloads; nor `--upgrade`: every install replaces another installed version.
    let _ = (args.no_deps, args.offline, args.no_index, args.upgrade);
    let mut wheels = args.wheels.clone();
    for file in &args.requirements {
        wheels.extend(installer_core::requirements::read(file)?);
    }
    let options = InstallOptions {
        link_mode: args.link_mode.or(config.link_mode).unwrap_or_default(),
        link_fallback: args.link_fallback.or(config.link_fallback).unwrap_or_default(),
        jobs: args.jobs.map(|j| j as usize).or(config.jobs).unwrap_or(0),
        reinstall: args.reinstall,
        compile: settings::compile((args.compile || args.no_compile).then_some(args.compile), &config)?,
        shards: settings::shards(&config),
        target: TargetRequest {
            python_version: args.python_version.or(config.python_version),
            python_platform: args.python_platform.or_else(|| config.python_platform.clone()),
        },
        ignore_requires_python: args.ignore_requires_python,
        dry_run: args.dry_run,
        cancel,
        cache_max_size: settings::cache_max_size(None, &config)?,
    };
    let reporter = TerminalReporter::new(args.output, "Installing");
    let layers = settings::cache_layers(&config);
    let cache = if args.no_cache {
        Cache::temporary()?.with_layers(layers)
    } else {
        let dir = settings::cache_dir(args.cache.cache_dir.as_deref(), &config)?;
        if args.dry_run {
            Cache::for_dry_run(&dir, layers, &reporter)?
        } else {
            Cache::open_for_install(&dir, layers, &reporter)?
        }
    }
    .with_limits(limits);
    let (result, environment) = if args.system {
        let python = find_system_python()?;
        if let (Some(message), false) = (externally_managed(&python), args.break_system_packages) {
            return Err(Error::ExternallyManaged { python: python.executable, message });
        }
        let venv = Venv::of_interpreter(&python)?;
        (install(&venv, &wheels, &cache, &options, &reporter), venv.root().to_path_buf())
    } else if args.venv.target.is_some() || args.venv.prefix.is_some() {
        // Its directories are made by the install, once the wheels are verified (not on a dry run).
        let venv = settings::open_environment(&args.venv)?.expect("--target and --prefix always open");
        (install(&venv, &wheels, &cache, &options, &reporter), venv.root().to_path_buf())
    } else {
        let (venv, python) = settings::environment(&args.venv)?;
        (install_into(&venv, &python, &wheels, &cache, &options, &reporter), venv)
    };
    reporter.finish();
    let summary = result?;
    let elapsed = crate::elapsed();
    match args.format.format {
        Format::Json => {
            let environment = std::path::absolute(&environment).unwrap_or(environment);
            crate::commands::print_json(&summary::install_json(&summary, &environment, elapsed))
        }
        Format::Text if args.output.quiet => Ok(()),
        Format::Text => {
            for line in summary::install_text(&summary, elapsed, args.output.verbose) {
                eprintln!("{line}");
            }
            Ok(())
        }
    }
}
