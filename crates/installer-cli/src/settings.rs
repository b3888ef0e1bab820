//! Settings resolution: command line > environment (both via clap) > config files > defaults.

use std::path::{Path, PathBuf};

use installer_core::config::FileConfig;
use installer_core::install::ShardPolicy;
use installer_core::Result;

/// The project and user configuration, read once per run from the current directory.
pub fn file_config() -> Result<FileConfig> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    FileConfig::load(&cwd)
}

/// The environment: `--venv`, else `$VIRTUAL_ENV`, else `./.venv`.
pub fn venv_path(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(".venv"))
}

/// The cache root: flag or `INSTALLER_CACHE_DIR`, else `cache-dir`, else the default.
pub fn cache_dir(flag: Option<&Path>, config: &FileConfig) -> Result<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| config.cache_dir.clone())
        .or_else(installer_core::cache::Cache::default_root)
        .ok_or_else(|| installer_core::Error::InvalidArgument {
            what: "cache directory",
            reason: "no home directory to put it in; pass --cache-dir or set INSTALLER_CACHE_DIR".into(),
        })
}

/// Shards: `INSTALLER_CACHE_SHARDS` (`:`-separated, `auto` for the automatic one, empty for
/// none), else `cache-shards`, else automatic.
pub fn shards(config: &FileConfig) -> ShardPolicy {
    if let Some(value) = std::env::var_os("INSTALLER_CACHE_SHARDS") {
        let mut policy = ShardPolicy { dirs: Vec::new(), auto: false };
        for part in std::env::split_paths(&value) {
            if part.as_os_str() == "auto" {
                policy.auto = true;
            } else if !part.as_os_str().is_empty() {
                policy.dirs.push(part);
            }
        }
        return policy;
    }
    config.cache_shards.clone().unwrap_or_default()
}
