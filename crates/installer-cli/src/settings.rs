//! Settings resolution: command line > environment > config files > defaults. Clap reads the
//! flags and most variables; the ones that need the others to be told apart (`INSTALLER_CACHE_DIR`
//! beside `--no-cache`, `INSTALLER_COMPILE`, shards, layers, sizes) are read here.

use std::path::{Path, PathBuf};

use installer_core::config::FileConfig;
use installer_core::shards::ShardPolicy;
use installer_core::wheel::Limits;
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

/// The environment and the interpreter `--venv` and `-p, --python` name (see
/// [`crate::args::VenvArg`]): `(environment directory, interpreter to create it with)`.
pub fn environment(arg: &crate::args::VenvArg) -> Result<(PathBuf, PathBuf)> {
    let Some(spec) = &arg.python else {
        return Ok((venv_path(arg.venv.as_deref()), PathBuf::from("python3")));
    };
    let python = installer_core::target::find_python(spec)?;
    let own_venv = installer_core::target::venv_of(&python);
    let venv = match (&arg.venv, &own_venv) {
        (Some(dir), _) => dir.clone(),
        (None, Some(dir)) => dir.clone(),
        (None, None) => venv_path(None),
    };
    let is_own = own_venv.is_some_and(|own| same_file(&own, &venv));
    if arg.target.is_none() && arg.prefix.is_none() && !is_own && venv.exists() {
        check_same_python(&venv, spec, &python)?;
    }
    Ok((venv, python))
}

/// `-p` names the interpreter whose environment receives the wheels: an existing environment
/// of another Python version is a mistake to say, not a place to install into unasked (a
/// `./.venv` of 3.11 under `-p 3.12`). A directory that is not a venv is left to the command.
fn check_same_python(venv: &Path, spec: &str, python: &Path) -> Result<()> {
    let Ok(opened) = installer_core::venv::Venv::open(venv) else { return Ok(()) };
    let (major, minor) = opened.python_version();
    let asked: Vec<u32> = match spec.split('.').map(str::parse).collect::<std::result::Result<Vec<u32>, _>>()
    {
        Ok(parts) if !parts.is_empty() => parts,
        _ => {
            let (major, minor, _) = installer_core::target::Interpreter::query(python)?.version;
            vec![major, minor]
        }
    };
    if asked.iter().zip([major, minor]).all(|(asked, has)| *asked == has) {
        return Ok(());
    }
    let asked = asked.iter().take(2).map(u32::to_string).collect::<Vec<_>>().join(".");
    Err(installer_core::Error::InvalidArgument {
        what: "python",
        reason: format!(
            "{} is an environment of Python {major}.{minor}, not of the requested {asked} ({}); pass \
             --venv DIR for a new environment of it, or -p {} for this one",
            venv.display(),
            python.display(),
            opened.python().display(),
        ),
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

/// The environment `--venv`, `-p`, `--target` or `--prefix` names, opened; `None` for a venv
/// that does not exist yet (install creates it: see [`environment`]).
pub fn open_environment(arg: &crate::args::VenvArg) -> Result<Option<installer_core::venv::Venv>> {
    use installer_core::target::Interpreter;
    use installer_core::venv::Venv;
    let (dir, python) = environment(arg)?;
    if let Some(target) = &arg.target {
        return Venv::target_dir(target, &Interpreter::query(&python)?).map(Some);
    }
    if let Some(prefix) = &arg.prefix {
        return Venv::prefix_dir(prefix, &Interpreter::query(&python)?).map(Some);
    }
    if dir.exists() {
        Venv::open(&dir).map(Some)
    } else {
        Ok(None)
    }
}

/// The cache root: `--cache-dir`, else `INSTALLER_CACHE_DIR` (unset or empty: not set), else
/// `cache-dir`, else the default. The variable is read here rather than by clap so that it
/// does not count as `--cache-dir` for `--no-cache`'s conflict.
pub fn cache_dir(flag: Option<&Path>, config: &FileConfig) -> Result<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("INSTALLER_CACHE_DIR").filter(|v| !v.is_empty()).map(PathBuf::from))
        .or_else(|| config.cache_dir.clone())
        .or_else(installer_core::cache::Cache::default_root)
        .ok_or_else(|| installer_core::Error::InvalidArgument {
            what: "cache directory",
            reason: "no home directory to put it in; pass --cache-dir or set INSTALLER_CACHE_DIR".into(),
        })
}

/// `compile`: `--compile`, else `INSTALLER_COMPILE`, else the config key, else off. The flag
/// has no negative form, so given it wins; the variable can still turn a config file's
/// `compile = true` off. Its values are those of clap's `BoolishValueParser` (`1`/`0`,
/// `true`/`false`, `yes`/`no`, `on`/`off`, any case); unset or empty means not set, anything
/// else is an error naming the variable.
pub fn compile(flag: Option<bool>, config: &FileConfig) -> Result<bool> {
    compile_from(flag, std::env::var_os("INSTALLER_COMPILE"), config)
}

/// `flag`: `--compile` (`Some(true)`) or `--no-compile` (`Some(false)`), which win over the
/// variable and the config.
fn compile_from(flag: Option<bool>, var: Option<std::ffi::OsString>, config: &FileConfig) -> Result<bool> {
    if let Some(flag) = flag {
        return Ok(flag);
    }
    let Some(value) = var.filter(|v| !v.is_empty()) else { return Ok(config.compile.unwrap_or(false)) };
    let text = value.to_string_lossy();
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" | "y" | "on" => Ok(true),
        "0" | "false" | "f" | "no" | "n" | "off" => Ok(false),
        _ => Err(installer_core::Error::InvalidArgument {
            what: "INSTALLER_COMPILE",
            reason: format!("{text:?}: expected 1, 0, true, false, yes, no, on or off"),
        }),
    }
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

/// Read-only cache layers: `INSTALLER_CACHE_LAYERS` (`:`-separated; empty for none), else
/// `cache-layers`, else none.
pub fn cache_layers(config: &FileConfig) -> Vec<PathBuf> {
    match std::env::var_os("INSTALLER_CACHE_LAYERS") {
        Some(value) => std::env::split_paths(&value).filter(|p| !p.as_os_str().is_empty()).collect(),
        None => config.cache_layers.clone().unwrap_or_default(),
    }
}

/// `cache-max-size`: `flag` (`cache prune --max-size`), else `INSTALLER_CACHE_MAX_SIZE`, else the
/// config key; `None` (no cap) when none is set. A bad environment value names the variable.
pub fn cache_max_size(flag: Option<u64>, config: &FileConfig) -> Result<Option<u64>> {
    if flag.is_some() {
        return Ok(flag);
    }
    match std::env::var("INSTALLER_CACHE_MAX_SIZE") {
        Ok(value) if !value.trim().is_empty() => {
            installer_core::units::parse_size(&value).map(Some).map_err(|reason| {
                installer_core::Error::InvalidArgument { what: "INSTALLER_CACHE_MAX_SIZE", reason }
            })
        }
        _ => Ok(config.cache_max_size),
    }
}

/// The caps on what one wheel may unpack to (docs/limits.md), from the environment only
/// (docs/cli.md lists the configuration keys; these have none): `INSTALLER_MAX_UNPACKED_SIZE` (bytes, or with a
/// `K`, `M`, `G` or `T` suffix, powers of 1024), `INSTALLER_MAX_COMPRESSION_RATIO` and
/// `INSTALLER_MAX_MEMBERS`. Unset or empty means the default; a bad value is an error that
/// names the variable.
pub fn limits() -> Result<Limits> {
    limits_from(|name| std::env::var_os(name))
}

fn limits_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<Limits> {
    let mut limits = Limits::default();
    let read = |name: &'static str, with_suffix: bool| -> Result<Option<u64>> {
        let Some(value) = var(name).filter(|v| !v.is_empty()) else { return Ok(None) };
        let bad = |reason: &str| installer_core::Error::InvalidArgument {
            what: name,
            reason: format!("{:?}: {reason}", value.to_string_lossy()),
        };
        let text = value.to_str().ok_or_else(|| bad("not utf-8"))?.trim();
        let (digits, shift) = match text.char_indices().last() {
            Some((i, c)) if with_suffix && c.is_ascii_alphabetic() => {
                let shift = match c.to_ascii_uppercase() {
                    'K' => 10,
                    'M' => 20,
                    'G' => 30,
                    'T' => 40,
                    _ => return Err(bad("unknown suffix (use K, M, G or T)")),
                };
                (&text[..i], shift)
            }
            _ => (text, 0),
        };
        let expected = if with_suffix {
            "expected a whole number of bytes, optionally with a K, M, G or T suffix"
        } else {
            "expected a whole number"
        };
        let number: u64 = digits.parse().map_err(|_| bad(expected))?;
        let number = number.checked_mul(1 << shift).ok_or_else(|| bad("too large"))?;
        if number == 0 {
            return Err(bad("must be at least 1"));
        }
        Ok(Some(number))
    };
    if let Some(size) = read("INSTALLER_MAX_UNPACKED_SIZE", true)? {
        limits.max_total_size = size;
    }
    if let Some(ratio) = read("INSTALLER_MAX_COMPRESSION_RATIO", false)? {
        limits.max_compression_ratio = ratio;
    }
    if let Some(members) = read("INSTALLER_MAX_MEMBERS", false)? {
        limits.max_members = members;
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(vars: &[(&str, &str)]) -> String {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        match limits_from(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.into())) {
            Ok(l) => format!(
                "size {} ratio {} members {}",
                l.max_total_size, l.max_compression_ratio, l.max_members
            ),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn compile_flag_over_environment_over_config() {
        let on = FileConfig { compile: Some(true), ..FileConfig::default() };
        let none = FileConfig::default();
        let check = |flag, var: Option<&str>, config: &FileConfig| {
            compile_from(flag, var.map(Into::into), config).map_err(|e| e.to_string())
        };
        assert_eq!(check(None, None, &none), Ok(false));
        assert_eq!(check(None, None, &on), Ok(true));
        assert_eq!(check(None, Some(""), &on), Ok(true));
        assert_eq!(check(None, Some("OFF"), &on), Ok(false));
        assert_eq!(check(None, Some("0"), &on), Ok(false));
        assert_eq!(check(None, Some("Yes"), &none), Ok(true));
        assert_eq!(check(Some(true), Some("no"), &none), Ok(true));
        assert_eq!(check(Some(false), Some("yes"), &on), Ok(false));
        assert_eq!(
            check(None, Some("maybe"), &none),
            Err("invalid INSTALLER_COMPILE: \"maybe\": expected 1, 0, true, false, yes, no, on or off".into())
        );
    }

    #[test]
    fn limits_from_the_environment() {
        assert_eq!(check(&[]), "size 17179869184 ratio 1000 members 500000");
        assert_eq!(
            check(&[("INSTALLER_MAX_UNPACKED_SIZE", "")]),
            "size 17179869184 ratio 1000 members 500000"
        );
        assert_eq!(
            check(&[
                ("INSTALLER_MAX_UNPACKED_SIZE", "2g"),
                ("INSTALLER_MAX_COMPRESSION_RATIO", "50"),
                ("INSTALLER_MAX_MEMBERS", "10")
            ]),
            "size 2147483648 ratio 50 members 10"
        );
        assert_eq!(check(&[("INSTALLER_MAX_UNPACKED_SIZE", "1234")]), "size 1234 ratio 1000 members 500000");
        assert_eq!(
            check(&[("INSTALLER_MAX_UNPACKED_SIZE", "12X")]),
            "invalid INSTALLER_MAX_UNPACKED_SIZE: \"12X\": unknown suffix (use K, M, G or T)"
        );
        assert_eq!(
            check(&[("INSTALLER_MAX_MEMBERS", "1k")]),
            "invalid INSTALLER_MAX_MEMBERS: \"1k\": expected a whole number"
        );
        assert_eq!(
            check(&[("INSTALLER_MAX_COMPRESSION_RATIO", "0")]),
            "invalid INSTALLER_MAX_COMPRESSION_RATIO: \"0\": must be at least 1"
        );
        assert_eq!(
            check(&[("INSTALLER_MAX_UNPACKED_SIZE", "99999999T")]),
            "invalid INSTALLER_MAX_UNPACKED_SIZE: \"99999999T\": too large"
        );
    }
}
