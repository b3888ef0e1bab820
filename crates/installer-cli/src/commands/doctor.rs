//! `installer doctor`: the diagnosis of `installer_core::doctor`, printed to stdout. It exits
//! with 1 when it lists a problem, so scripts and CI can act on it; 0 when there is none.

use std::process::ExitCode;

use installer_core::doctor::{diagnose, DoctorOptions};
use installer_core::install::CacheAdvice;
use installer_core::LinkMode;

use crate::args::DoctorArgs;
use crate::settings;

pub fn run(args: DoctorArgs) -> installer_core::Result<ExitCode> {
    let config = settings::file_config()?;
    // The link mode an install would be asked for: environment, then config (doctor has no
    // --link-mode flag: it answers for the settings in force).
    let link_mode = from_env::<LinkMode>("INSTALLER_LINK_MODE")?.or(config.link_mode).unwrap_or_default();
    let (mut venv, mut python) = settings::environment(&args.venv)?;
    // `--target` and `--prefix` lay out a directory that is not a venv: examine that layout,
    // as install would use it, rather than the venv `environment` names.
    let layout = if args.venv.target.is_some() || args.venv.prefix.is_some() {
        let layout = settings::open_environment(&args.venv)?.expect("--target and --prefix always open");
        (venv, python) = (layout.root().to_path_buf(), layout.python().to_path_buf());
        Some(layout)
    } else {
        None
    };
    let options = DoctorOptions {
        cache_dir: settings::cache_dir(args.cache.cache_dir.as_deref(), &config)?,
        venv: venv.clone(),
        shards: settings::shards(&config),
        link_mode,
        python,
        target: installer_core::target::TargetRequest {
            python_version: from_env("INSTALLER_PYTHON_VERSION")?.or(config.python_version),
            python_platform: from_env("INSTALLER_PYTHON_PLATFORM")?
                .or_else(|| config.python_platform.clone()),
        },
        layout,
    };
    let diagnosis = diagnose(&options);
    println!("{}", diagnosis.report(&fix_words));
    Ok(if diagnosis.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The fix of a copy across filesystems in this command line's terms.
fn fix_words(advice: &CacheAdvice) -> String {
    let place = match advice {
        CacheAdvice::Dir(_) => String::new(),
        CacheAdvice::OnFilesystem { mount } => {
            format!(" a cache directory of yours on the target's filesystem, mounted at {}:", mount.display())
        }
    };
    let dir = crate::reporter::advised_cache_dir(advice);
    let dir = dir.display();
    format!("; use{place} `--cache-dir {dir}` or `cache-shards = [\"{dir}\"]`")
}

/// A setting from the environment variable `name`, if set (doctor has no flags for them).
fn from_env<T: std::str::FromStr<Err = String>>(name: &'static str) -> installer_core::Result<Option<T>> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value
            .parse()
            .map(Some)
            .map_err(|reason| installer_core::Error::InvalidArgument { what: name, reason }),
        _ => Ok(None),
    }
}
