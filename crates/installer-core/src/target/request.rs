//! Installing for another target: `--python-version 3.12` and `--python-platform` with uv's
//! spellings (`x86_64-manylinux_2_28`, `aarch64-unknown-linux-gnu`, `macos`, ...).

use std::fmt;
use std::str::FromStr;

use super::{Os, Platform};

/// What the caller asked for instead of the interpreter's own version or platform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetRequest {
    /// `--python-version`; `None` keeps the interpreter's.
    pub python_version: Option<PythonVersion>,
    /// `--python-platform`; `None` keeps the interpreter's.
    pub python_platform: Option<PythonPlatform>,
}

/// `X.Y`: the Python version wheels must support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PythonVersion {
    /// Always 3: nothing else parses.
    pub major: u32,
    /// `12` of 3.12; a micro version given is dropped.
    pub minor: u32,
}

impl FromStr for PythonVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a Python version (expected X.Y, e.g. 3.12)");
        let mut parts = text.trim().split('.');
        let major: u32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let minor: u32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        // A micro version is accepted (3.12.1) and has no effect on tags.
        if parts.next().is_some_and(|p| p.parse::<u32>().is_err()) || parts.next().is_some() || major != 3 {
            return Err(bad());
        }
        Ok(PythonVersion { major, minor })
    }
}

impl fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A platform as uv spells it, kept with its spelling for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonPlatform {
    /// As the user wrote it (`linux`, `aarch64-apple-darwin`), which `Display` shows.
    pub spelling: String,
    /// What it means for tags (`linux` is x86-64 with glibc 2.17, as uv takes it).
    pub platform: Platform,
}

/// The spellings shown when one is not understood.
const EXAMPLES: &str = "linux, windows, macos, x86_64-unknown-linux-gnu, aarch64-unknown-linux-gnu, \
     x86_64-unknown-linux-musl, aarch64-unknown-linux-musl, x86_64-manylinux_2_28, aarch64-manylinux_2_17, \
     x86_64-manylinux2014, x86_64-pc-windows-msvc, i686-pc-windows-msvc, aarch64-pc-windows-msvc, \
     aarch64-apple-darwin, x86_64-apple-darwin";

/// The macOS version uv assumes for `*-apple-darwin` (the oldest one still supported).
const DEFAULT_MACOS: (u32, u32) = (12, 0);

impl FromStr for PythonPlatform {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("unknown platform {text:?} (expected one of: {EXAMPLES})");
        let spelling = match text {
            "linux" => "x86_64-unknown-linux-gnu",
            "windows" => "x86_64-pc-windows-msvc",
            "macos" => "aarch64-apple-darwin",
            other => other,
        };
        let (arch, rest) = spelling.split_once('-').ok_or_else(bad)?;
        let arch = match arch {
            "x86_64" | "aarch64" | "i686" | "armv7l" | "ppc64le" | "ppc64" | "s390x" | "riscv64" => arch,
            "arm64" => "aarch64",
            _ => return Err(bad()),
        };
        let os = match rest {
            "unknown-linux-gnu" => Os::Manylinux { major: 2, minor: 17 },
            "unknown-linux-musl" => Os::Musllinux { major: 1, minor: 2 },
            "pc-windows-msvc" => Os::Windows,
            "apple-darwin" => Os::Macos { major: DEFAULT_MACOS.0, minor: DEFAULT_MACOS.1 },
            "manylinux2014" => Os::Manylinux { major: 2, minor: 17 },
            "manylinux2010" => Os::Manylinux { major: 2, minor: 12 },
            "manylinux1" => Os::Manylinux { major: 2, minor: 5 },
            other => {
                let glibc =
                    other.strip_prefix("manylinux_").and_then(|v| v.split_once('_')).ok_or_else(bad)?;
                let major = glibc.0.parse().map_err(|_| bad())?;
                let minor = glibc.1.parse().map_err(|_| bad())?;
                Os::Manylinux { major, minor }
            }
        };
        let known = match os {
            Os::Windows => matches!(arch, "x86_64" | "i686" | "aarch64"),
            Os::Macos { .. } => matches!(arch, "x86_64" | "aarch64"),
            _ => true,
        };
        if !known {
            return Err(bad());
        }
        Ok(PythonPlatform { spelling: text.to_string(), platform: Platform { os, arch: arch.to_string() } })
    }
}

impl fmt::Display for PythonPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spelling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> String {
        match text.parse::<PythonPlatform>() {
            Ok(p) => format!("{:?} {}", p.platform.os, p.platform.arch),
            Err(e) => e.split(" (").next().unwrap().to_string(),
        }
    }

    #[test]
    fn uv_spellings() {
        assert_eq!(check("linux"), "Manylinux { major: 2, minor: 17 } x86_64");
        assert_eq!(check("x86_64-manylinux_2_28"), "Manylinux { major: 2, minor: 28 } x86_64");
        assert_eq!(check("aarch64-manylinux_2_17"), "Manylinux { major: 2, minor: 17 } aarch64");
        assert_eq!(check("x86_64-unknown-linux-musl"), "Musllinux { major: 1, minor: 2 } x86_64");
        assert_eq!(check("macos"), "Macos { major: 12, minor: 0 } aarch64");
        assert_eq!(check("i686-pc-windows-msvc"), "Windows i686");
        assert_eq!(check("x86_64-manylinux2014"), "Manylinux { major: 2, minor: 17 } x86_64");
        assert_eq!(check("sparc-sun-solaris"), "unknown platform \"sparc-sun-solaris\"");
        assert_eq!(check("x86_64-manylinux_2_x"), "unknown platform \"x86_64-manylinux_2_x\"");
    }

    #[test]
    fn python_versions() {
        assert_eq!("3.12".parse::<PythonVersion>(), Ok(PythonVersion { major: 3, minor: 12 }));
        assert_eq!("3.12.1".parse::<PythonVersion>(), Ok(PythonVersion { major: 3, minor: 12 }));
        assert!("3".parse::<PythonVersion>().is_err());
        assert!("2.7".parse::<PythonVersion>().is_err());
        assert!("3.x".parse::<PythonVersion>().is_err());
    }
}
