//! Configuration files: `./installer.toml`, `[tool.installer]` in `./pyproject.toml`, and the
//! user's `$XDG_CONFIG_HOME/installer/installer.toml`. Keys are the long flag names. The
//! command line and environment variables (handled by the frontend) take precedence; this
//! module reads and validates the files and merges them, project over user.

use std::path::{Path, PathBuf};

use crate::linker::{LinkFallback, LinkMode};
use crate::shards::ShardPolicy;
use crate::target::{PythonPlatform, PythonVersion};
use crate::{Error, Result};

/// Settings found in configuration files; `None` where no file sets the key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileConfig {
    /// `link-mode`: how an install places files (`reflink` is read as `clone`).
    pub link_mode: Option<LinkMode>,
    /// `link-fallback`: what an install does when the link mode cannot be used.
    pub link_fallback: Option<LinkFallback>,
    /// Relative paths are resolved against the file's directory.
    pub cache_dir: Option<PathBuf>,
    /// `cache-shards`: directories (relative to the file) and `"auto"`; a list without
    /// `"auto"` turns automatic shards off.
    pub cache_shards: Option<ShardPolicy>,
    /// `cache-layers`: read-only caches searched after the cache (relative to the file).
    pub cache_layers: Option<Vec<PathBuf>>,
    /// `cache-max-size`, in bytes: a size string (`10G`, `500MiB`) or a number of bytes.
    pub cache_max_size: Option<u64>,
    /// `jobs`: worker threads; 1 to [`crate::MAX_JOBS`].
    pub jobs: Option<usize>,
    /// `compile`: whether installs write `.pyc` files, as `--compile` does.
    pub compile: Option<bool>,
    /// `python-version`: install for this Python version instead of the interpreter's.
    pub python_version: Option<PythonVersion>,
    /// `python-platform`: install for this platform (uv's spellings).
    pub python_platform: Option<PythonPlatform>,
    /// The files that were read, most important first (for `doctor` and `-v`).
    pub sources: Vec<PathBuf>,
}

impl FileConfig {
    /// Reads the project config in `cwd` and the user config, project keys winning.
    pub fn load(cwd: &Path) -> Result<FileConfig> {
        let mut config = FileConfig::default();
        let installer_toml = cwd.join("installer.toml");
        let pyproject = cwd.join("pyproject.toml");
        if installer_toml.is_file() {
            config = config.or(read_file(&installer_toml, false)?);
        } else if pyproject.is_file() {
            config = config.or(read_file(&pyproject, true)?);
        }
        if let Some(user) = user_config_path().filter(|p| p.is_file()) {
            config = config.or(read_file(&user, false)?);
        }
        Ok(config)
    }

    /// Keeps `self`'s keys and takes the others from `lower`.
    fn or(self, lower: FileConfig) -> FileConfig {
        FileConfig {
            link_mode: self.link_mode.or(lower.link_mode),
            link_fallback: self.link_fallback.or(lower.link_fallback),
            cache_dir: self.cache_dir.or(lower.cache_dir),
            cache_shards: self.cache_shards.or(lower.cache_shards),
            cache_layers: self.cache_layers.or(lower.cache_layers),
            cache_max_size: self.cache_max_size.or(lower.cache_max_size),
            jobs: self.jobs.or(lower.jobs),
            compile: self.compile.or(lower.compile),
            python_version: self.python_version.or(lower.python_version),
            python_platform: self.python_platform.or(lower.python_platform),
            sources: self.sources.into_iter().chain(lower.sources).collect(),
        }
    }
}

/// `$XDG_CONFIG_HOME/installer/installer.toml`, else `~/.config/installer/installer.toml`.
pub fn user_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::home_dir().map(|h| h.join(".config")))?;
    Some(base.join("installer").join("installer.toml"))
}

/// Parses one file; `pyproject` selects the `[tool.installer]` table.
pub fn read_file(path: &Path, pyproject: bool) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    parse(&text, path, pyproject)
}

fn parse(text: &str, path: &Path, pyproject: bool) -> Result<FileConfig> {
    let bad =
        |key: &str, reason: String| Error::Config { file: path.to_path_buf(), key: key.to_string(), reason };
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| Error::ConfigSyntax {
        file: path.to_path_buf(),
        line: line_of(text, e.span().map_or(0, |span| span.start)),
        reason: e.message().to_string(),
    })?;
    let prefix = if pyproject { "tool.installer." } else { "" };
    if pyproject {
        let tool = table.remove("tool").and_then(|t| t.as_table().cloned()).unwrap_or_default();
        match tool.get("installer") {
            Some(toml::Value::Table(t)) => table = t.clone(),
            Some(_) => return Err(bad("tool.installer", "must be a table".into())),
            None => return Ok(FileConfig::default()),
        }
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut config = FileConfig { sources: vec![path.to_path_buf()], ..FileConfig::default() };
    for (key, value) in &table {
        let full = format!("{prefix}{key}");
        let as_str = || {
            value.as_str().ok_or_else(|| bad(&full, format!("expected a string, found {}", value.type_str())))
        };
        match key.as_str() {
            "link-mode" => config.link_mode = Some(as_str()?.parse().map_err(|e| bad(&full, e))?),
            "link-fallback" => config.link_fallback = Some(as_str()?.parse().map_err(|e| bad(&full, e))?),
            "cache-dir" => config.cache_dir = Some(dir.join(as_str()?)),
            "python-version" => config.python_version = Some(as_str()?.parse().map_err(|e| bad(&full, e))?),
            "python-platform" => config.python_platform = Some(as_str()?.parse().map_err(|e| bad(&full, e))?),
            "cache-shards" => {
                let list = value.as_array().ok_or_else(|| {
                    bad(&full, format!("expected a list of directories, found {}", value.type_str()))
                })?;
                let mut policy = ShardPolicy { dirs: Vec::new(), auto: false };
                for item in list {
                    let s = item.as_str().ok_or_else(|| bad(&full, "expected a list of strings".into()))?;
                    if s == "auto" {
                        policy.auto = true;
                    } else {
                        policy.dirs.push(dir.join(s));
                    }
                }
                config.cache_shards = Some(policy);
            }
            "cache-layers" => {
                let list = value.as_array().ok_or_else(|| {
                    bad(&full, format!("expected a list of directories, found {}", value.type_str()))
                })?;
                let dirs = list
                    .iter()
                    .map(|item| item.as_str().map(|s| dir.join(s)))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad(&full, "expected a list of strings".into()))?;
                config.cache_layers = Some(dirs);
            }
            "cache-max-size" => {
                config.cache_max_size = Some(match value {
                    toml::Value::Integer(n) if *n >= 0 => *n as u64,
                    toml::Value::String(s) => crate::units::parse_size(s).map_err(|e| bad(&full, e))?,
                    _ => return Err(bad(&full, format!("expected a size such as \"10G\", found {value}"))),
                })
            }
            "jobs" => {
                let n = value
                    .as_integer()
                    .ok_or_else(|| bad(&full, format!("expected a number, found {}", value.type_str())))?;
                if n < 1 {
                    return Err(bad(&full, format!("must be at least 1, found {n}")));
                }
                if n > crate::MAX_JOBS as i64 {
                    return Err(bad(&full, format!("at most {}, found {n}", crate::MAX_JOBS)));
                }
                config.jobs = Some(n as usize);
            }
            "compile" => {
                config.compile = Some(value.as_bool().ok_or_else(|| {
                    bad(&full, format!("expected true or false, found {}", value.type_str()))
                })?)
            }
            _ => {
                return Err(bad(
                    &full,
                    "unknown key (expected link-mode, link-fallback, cache-dir, cache-shards, cache-layers, \
                 cache-max-size, jobs, compile, python-version or python-platform)"
                        .into(),
                ))
            }
        }
    }
    Ok(config)
}

/// The 1-based line of the byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, pyproject: bool) -> std::result::Result<FileConfig, String> {
        parse(text, Path::new("/p/installer.toml"), pyproject).map_err(|e| e.to_string())
    }

    #[test]
    fn keys_are_the_long_flag_names() {
        let c = check("link-mode = \"reflink\"\nlink-fallback = \"error\"\ncache-dir = \"c\"\njobs = 3\ncompile = true\ncache-shards = [\"auto\", \"/mnt/x\"]\n", false).unwrap();
        assert_eq!(c.link_mode, Some(LinkMode::Clone));
        assert_eq!(c.link_fallback, Some(LinkFallback::Error));
        assert_eq!(c.cache_dir, Some(PathBuf::from("/p/c")));
        assert_eq!(c.jobs, Some(3));
        assert_eq!(c.compile, Some(true));
        assert_eq!(c.cache_shards, Some(ShardPolicy { dirs: vec![PathBuf::from("/mnt/x")], auto: true }));
        let c = check("cache-layers = [\"/opt/layer\", \"rel\"]\n", false).unwrap();
        assert_eq!(c.cache_layers, Some(vec![PathBuf::from("/opt/layer"), PathBuf::from("/p/rel")]));
        assert!(check("cache-layers = \"/opt/layer\"\n", false)
            .unwrap_err()
            .contains("expected a list of directories"));
    }

    #[test]
    fn cache_max_size_is_a_size_or_bytes() {
        assert_eq!(check("cache-max-size = \"10G\"", false).unwrap().cache_max_size, Some(10_000_000_000));
        assert_eq!(check("cache-max-size = 4096", false).unwrap().cache_max_size, Some(4096));
        let lots = check("cache-max-size = \"lots\"", false).unwrap_err();
        assert!(lots.starts_with("/p/installer.toml: key `cache-max-size`: "), "{lots}");
        assert!(
            lots.ends_with("expected a size such as 10G, 2GB, 500MiB or a number of bytes, found `lots`"),
            "{lots}"
        );
        assert!(check("cache-max-size = -1", false)
            .unwrap_err()
            .contains("expected a size such as \"10G\", found -1"));
    }

    #[test]
    fn pyproject_reads_tool_installer_only() {
        let c = check("[project]\nname = \"x\"\n[tool.installer]\nlink-mode = \"copy\"\n", true).unwrap();
        assert_eq!(c.link_mode, Some(LinkMode::Copy));
        assert_eq!(check("[project]\nname = \"x\"\n", true).unwrap().link_mode, None);
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        assert_eq!(
            check("link-mode = \"fast\"", false).unwrap_err(),
            "/p/installer.toml: key `link-mode`: unknown link mode `fast` (expected auto, clone, reflink, hardlink, copy or symlink)"
        );
        assert!(check("colour = 1", false)
            .unwrap_err()
            .starts_with("/p/installer.toml: key `colour`: unknown key"));
        assert!(check("[tool.installer]\njobs = 0", true)
            .unwrap_err()
            .contains("key `tool.installer.jobs`: must be at least 1"));
        assert!(check("jobs = 4294967295", false)
            .unwrap_err()
            .contains("key `jobs`: at most 1024, found 4294967295"));
        assert!(check("jobs = \"2\"", false).unwrap_err().contains("expected a number, found string"));
        assert!(check("python-platform = \"vax\"", false)
            .unwrap_err()
            .starts_with("/p/installer.toml: key `python-platform`: unknown platform \"vax\""));
    }

    #[test]
    fn syntax_errors_name_the_file_and_the_line() {
        assert_eq!(
            check("link-mode = \"copy\"\njobs = \n", false).unwrap_err(),
            "/p/installer.toml: line 2: invalid TOML: string values must be quoted, expected literal string"
        );
        assert!(check("[tool.installer]\ncompile = yes\n", true)
            .unwrap_err()
            .starts_with("/p/installer.toml: line 2: invalid TOML: "));
    }

    #[test]
    fn the_target_keys() {
        let c = check("python-version = \"3.12\"\npython-platform = \"aarch64-manylinux_2_28\"\n", false)
            .unwrap();
        assert_eq!(c.python_version.map(|v| v.to_string()).as_deref(), Some("3.12"));
        assert_eq!(c.python_platform.map(|p| p.to_string()).as_deref(), Some("aarch64-manylinux_2_28"));
    }

    #[test]
    fn project_keys_win_over_user_keys() {
        let project = FileConfig { link_mode: Some(LinkMode::Copy), ..Default::default() };
        let user = FileConfig { link_mode: Some(LinkMode::Symlink), jobs: Some(2), ..Default::default() };
        let merged = project.or(user);
        assert_eq!((merged.link_mode, merged.jobs), (Some(LinkMode::Copy), Some(2)));
    }
}
