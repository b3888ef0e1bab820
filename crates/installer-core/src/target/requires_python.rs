//! `Requires-Python` (core metadata, PEP 440 specifiers): a wheel whose declared Python versions
//! exclude the target's is refused, as pip and uv refuse it, unless the caller chose to ignore
//! it (pip's `--ignore-requires-python`). The tags of a `py3-none-any` wheel say nothing about
//! the Python versions its code needs; this is where a package says so.
//!
//! Checked on each wheel's cache entry (its manifest records the field), before the
//! environment is touched, so a refusal leaves the environment as it was.

use std::path::Path;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};

use super::Target;
use crate::cache::CacheEntry;
use crate::reporter::Reporter;
use crate::wheel::metadata::parse_requires_python;
use crate::wheel::WheelError;
use crate::{Error, Result};

/// The Python version wheels' `Requires-Python` is checked against, and how messages name it.
#[derive(Debug, Clone)]
pub(crate) struct TargetPython {
    version: Version,
    /// "this environment is Python 3.8.18", "the requested target is Python 3.12".
    words: String,
}

impl TargetPython {
    /// The target's full version (`3.11.7`); a requested `X.Y` other than the interpreter's
    /// counts as `X.Y.0`, as pip and uv pad it.
    pub(crate) fn of(target: &Target) -> TargetPython {
        let (major, minor) = target.version;
        let spelled = target.full_version.clone().unwrap_or_else(|| format!("{major}.{minor}"));
        let version =
            Version::from_str(&spelled).unwrap_or_else(|_| Version::new([major as u64, minor as u64]));
        // The version is the caller's only when `--python-version` replaced the interpreter's (a
        // requested platform alone leaves it the environment's).
        let whose =
            if target.full_version.is_none() { "the requested target is" } else { "this environment is" };
        TargetPython { version, words: format!("{whose} Python {spelled}") }
    }
}

/// Refuses `entry`, the cache entry of `wheel`, when its `Requires-Python` excludes `python`.
/// A specifier that cannot be parsed is ignored with a warning, as pip ignores it.
pub(crate) fn check(
    wheel: &Path,
    entry: &CacheEntry,
    python: &TargetPython,
    reporter: &dyn Reporter,
) -> Result<()> {
    let Some(declared) = declared(entry) else { return Ok(()) };
    match admits(&declared, &python.version) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::Wheel {
            wheel: wheel.to_path_buf(),
            source: WheelError::RequiresPython { requires: declared, target: python.words.clone() },
        }),
        Err(reason) => {
            reporter.warning(&format!(
                "{}: ignoring its invalid Requires-Python `{declared}`: {reason}",
                wheel.display()
            ));
            Ok(())
        }
    }
}

/// Whether the specifier set `declared` admits `version`, read as `packaging`'s `SpecifierSet`
/// reads it (pip's reader): empty parts between commas are skipped (`>=3.8,` is `>=3.8`).
/// `Err`: why it is not a valid specifier set, in one line.
fn admits(declared: &str, version: &Version) -> Result<bool, String> {
    let parts: Vec<&str> = declared.split(',').map(str::trim).filter(|part| !part.is_empty()).collect();
    let specifiers =
        VersionSpecifiers::from_str(&parts.join(",")).map_err(|e| first_line(&e.to_string()).to_owned())?;
    Ok(specifiers.contains(version))
}

/// The entry's `Requires-Python`: from its manifest, or, for an entry unpacked by a release that
/// did not record it there, from its `METADATA`.
fn declared(entry: &CacheEntry) -> Option<String> {
    let manifest = entry.manifest();
    match &manifest.requires_python {
        Some(declared) => declared.clone(),
        None => {
            let metadata = entry.tree().join(&manifest.dist_info).join("METADATA");
            parse_requires_python(&String::from_utf8_lossy(&std::fs::read(metadata).ok()?))
        }
    }
}

/// pep440_rs's errors draw a caret under the bad part on further lines, after a colon; a
/// warning is one line.
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message).trim_end_matches(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As `packaging.specifiers.SpecifierSet(declared).contains("3.8.18")` (packaging 24, which
    /// pip vendors since 24.1) answers, where it parses.
    #[test]
    fn specifiers_are_read_as_packaging_reads_them() {
        let python = Version::from_str("3.8.18").unwrap();
        let admits = |declared| admits(declared, &python);
        for yes in [
            "",
            ">=3.8",
            " >= 3.8, < 4 ",
            ">=3.8,",
            ">=3,<4,",
            "==3.8.*",
            ">=3.8.0rc1",
            "~=3.8.0",
            "<=3.8.18",
        ] {
            assert_eq!(admits(yes), Ok(true), "{yes:?}");
        }
        for no in [">=3.9", ">=3.9,", "!=3.8.*", "<3.8.18", ">=2.7, !=3.8.*", "==3.9.*"] {
            assert_eq!(admits(no), Ok(false), "{no:?}");
        }
        for invalid in [">=3.8.*", "~=3", "3.8", ">=3.8 <4", ">=3.x"] {
            let reason = admits(invalid).unwrap_err();
            assert!(!reason.contains('\n') && !reason.ends_with(':'), "{invalid:?}: {reason}");
        }
    }
}
