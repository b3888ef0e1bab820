//! `installer doctor`: the diagnosis of `installer_core::doctor`, printed to stdout. Problems
//! are findings, not failures: the exit code is 0 unless the settings cannot be read.

use installer_core::doctor::{diagnose, DoctorOptions};
use installer_core::LinkMode;

use crate::args::DoctorArgs;
use crate::settings;

pub fn run(args: DoctorArgs) -> installer_core::Result<()> {
    let config = settings::file_config()?;
    // The link mode an install would be asked for: environment, then config (doctor has no
    // --link-mode flag: it answers for the settings in force).
    let link_mode = match std::env::var("INSTALLER_LINK_MODE") {
        Ok(value) if !value.is_empty() => value.parse::<LinkMode>().map_err(|reason| {
            installer_core::Error::InvalidArgument { what: "INSTALLER_LINK_MODE", reason }
        })?,
        _ => config.link_mode.unwrap_or_default(),
    };
    let options = DoctorOptions {
        cache_dir: settings::cache_dir(args.cache.cache_dir.as_deref(), &config)?,
        venv: settings::venv_path(args.venv.venv.as_deref()),
        shards: settings::shards(&config),
        link_mode,
    };
    println!("{}", diagnose(&options));
    Ok(())
}
