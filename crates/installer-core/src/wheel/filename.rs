//! Wheel file names: `{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.

/// A parsed wheel file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelFilename {
    /// As spelled (a `-` is escaped as `_`); compare it through `normalized_name`.
    pub name: String,
    /// Escaped as the name is; compare versions with `versions_match`, not `==`.
    pub version: String,
    /// The optional build tag (starts with a digit): of wheels with equally preferred tags,
    /// the highest build is installed ([`WheelFilename::build_order`]).
    pub build: Option<String>,
    /// Python tags, `.`-separated when several (`py2.py3`).
    pub python: String,
    /// ABI tags, `.`-separated when several (`cp311`, `abi3`, `none`).
    pub abi: String,
    /// Platform tags, `.`-separated when several (`manylinux_2_17_x86_64.manylinux2014_x86_64`).
    pub platform: String,
}

impl WheelFilename {
    /// Parses a file name (not a path). The parts are kept as spelled; compare names through
    /// [`WheelFilename::normalized_name`].
    pub fn parse(file_name: &str) -> Result<Self, String> {
        let Some(stem) = file_name.strip_suffix(".whl") else {
            return Err("does not end with .whl".to_string());
        };
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, python, abi, platform) = match parts.as_slice() {
            [n, v, py, abi, plat] => (*n, *v, None, *py, *abi, *plat),
            [n, v, b, py, abi, plat] => (*n, *v, Some(*b), *py, *abi, *plat),
            _ => {
                return Err(format!(
                    "expected 5 or 6 dash-separated parts \
                     (name-version[-build]-python-abi-platform.whl), found {}",
                    parts.len()
                ))
            }
        };
        check_part("distribution name", name, |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_'))?;
        // Versions are escaped in file names (`-` becomes `_`) but keep `+` (local) and `!`
        // (epoch).
        check_part("version", version, |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '!'))?;
        if let Some(build) = build {
            check_part("build tag", build, |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_'))?;
            if !build.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(format!("build tag {build:?} does not start with a digit"));
            }
        }
        let tag_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_');
        check_part("python tag", python, tag_char)?;
        check_part("abi tag", abi, tag_char)?;
        check_part("platform tag", platform, tag_char)?;
        Ok(WheelFilename {
            name: name.to_string(),
            version: version.to_string(),
            build: build.map(str::to_string),
            python: python.to_string(),
            abi: abi.to_string(),
            platform: platform.to_string(),
        })
    }

    /// The build tag in the order pip and uv give it (`packaging`'s `(int, str)`): its leading
    /// number, then the rest as text; a wheel without one comes before any with one. A rebuild
    /// of a release (a fixed toolchain, a relinked library) gets a higher build number, so of
    /// two wheels that differ only there, the highest is the one meant.
    pub fn build_order(&self) -> Option<(usize, &str, &str)> {
        let build = self.build.as_deref()?;
        let digits = build.find(|c: char| !c.is_ascii_digit()).unwrap_or(build.len());
        // Compared as (length, digits) without leading zeros: a number of any length, in order.
        let number = build[..digits].trim_start_matches('0');
        Some((number.len(), number, &build[digits..]))
    }

    /// The PEP 503 form of the distribution name, for comparing with `.dist-info` and METADATA.
    pub fn normalized_name(&self) -> String {
        normalize_name(&self.name)
    }
}

fn check_part(what: &str, part: &str, allowed: impl Fn(char) -> bool) -> Result<(), String> {
    if part.is_empty() {
        return Err(format!("empty {what}"));
    }
    match part.chars().find(|&c| !allowed(c)) {
        Some(c) => Err(format!("invalid character {c:?} in {what} {part:?}")),
        None => Ok(()),
    }
}

/// PEP 503 normalisation: lower case, runs of `-`, `_`, `.` become one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator {
                out.push('-');
                in_separator = true;
            }
        } else {
            out.push(c.to_ascii_lowercase());
            in_separator = false;
        }
    }
    out
}

/// Whether `name` is a valid project name (PEP 508: ASCII letters and digits, with `.`, `_`
/// and `-` only between them). A name becomes a directory (pip's headers directory,
/// `include/site/pythonX.Y/<Name>`): `..` or `.` would name another one.
pub(crate) fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_those_of_pep_508() {
        for name in ["a", "Foo.Bar_baz-2", "zope.interface", "9"] {
            assert!(is_valid_name(name), "{name}");
        }
        for name in ["", ".", "..", "_", "-a", "a.", "a/b", "a b", "é"] {
            assert!(!is_valid_name(name), "{name}");
        }
    }

    fn check(input: &str, expect: &str) {
        let got = match WheelFilename::parse(input) {
            Ok(w) => format!(
                "{} {} {} {} {} {}",
                w.name,
                w.version,
                w.build.as_deref().unwrap_or("-"),
                w.python,
                w.abi,
                w.platform
            ),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect, "input: {input}");
    }

    #[test]
    fn parses_plain_and_build_tag() {
        check("foo-1.0-py3-none-any.whl", "foo 1.0 - py3 none any");
        check(
            "numpy-2.1.0-1abc-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "numpy 2.1.0 1abc cp311 cp311 manylinux_2_17_x86_64.manylinux2014_x86_64",
        );
        check("Foo.Bar_baz-1.0+local.1-py2.py3-none-any.whl", "Foo.Bar_baz 1.0+local.1 - py2.py3 none any");
    }

    #[test]
    fn refuses_malformed_names() {
        check("foo-1.0-py3-none-any.zip", "error: does not end with .whl");
        check("foo-py3-none-any.whl", "error: expected 5 or 6 dash-separated parts (name-version[-build]-python-abi-platform.whl), found 4");
        check("foo-1.0-x-y-py3-none-any.whl", "error: expected 5 or 6 dash-separated parts (name-version[-build]-python-abi-platform.whl), found 7");
        check("foo-1.0-abc-py3-none-any.whl", "error: build tag \"abc\" does not start with a digit");
        check("fo o-1.0-py3-none-any.whl", "error: invalid character ' ' in distribution name \"fo o\"");
        check("foo--py3-none-any.whl", "error: empty version");
        check("foo-1.0-py3-none-a/b.whl", "error: invalid character '/' in platform tag \"a/b\"");
    }

    #[test]
    fn normalizes_like_pep_503() {
        assert_eq!(normalize_name("Foo.Bar__baz-Qux"), "foo-bar-baz-qux");
        assert_eq!(normalize_name("a-_.b"), "a-b");
        assert_eq!(
            WheelFilename::parse("Zope.Interface-5-py3-none-any.whl").unwrap().normalized_name(),
            "zope-interface"
        );
    }
}
