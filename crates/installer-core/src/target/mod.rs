//! The target of an install: which interpreter, which Python version and platform, and so
//! which wheel tags (PEP 425, PEP 600 manylinux, PEP 656 musllinux) can run there, most
//! preferred first. A wheel none of whose tags is supported is refused before anything is
//! touched, in words that say what it was built for and what the target is.

mod interpreter;
mod request;
pub(crate) mod requires_python;
mod select;
mod tags;
mod words;

use rustc_hash::FxHashMap;

pub use interpreter::{
    externally_managed, find_on_path, find_python, find_system_python, venv_of, Interpreter,
};
pub use request::{PythonPlatform, PythonVersion, TargetRequest};
pub(crate) use requires_python::TargetPython;
pub use select::{select_wheels, Selection};
pub use tags::AbiFlags;

use crate::wheel::WheelFilename;

/// An operating system as far as wheel tags care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Os {
    /// Linux with glibc `major.minor`: manylinux tags down from it.
    Manylinux {
        /// `2` of glibc 2.17.
        major: u32,
        /// `17` of glibc 2.17.
        minor: u32,
    },
    /// Linux with musl `major.minor`: musllinux tags down from it.
    Musllinux {
        /// `1` of musl 1.2.
        major: u32,
        /// `2` of musl 1.2.
        minor: u32,
    },
    /// Linux whose C library is unknown: only `linux_<arch>`.
    Linux,
    /// macOS `major.minor`: `macosx_*` tags down from it.
    Macos {
        /// `14` of macOS 14.2.
        major: u32,
        /// `2` of macOS 14.2.
        minor: u32,
    },
    /// Windows: one tag, `win_amd64`, `win32` or `win_arm64` by the architecture.
    Windows,
    /// Anything else, by its one platform tag.
    Other(String),
}

/// An operating system and a CPU architecture (`x86_64`, `aarch64`, `i686`, as Linux names
/// them; macOS and Windows tags spell them their way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// With the C library or OS version that bounds the platform tags.
    pub os: Os,
    /// Empty for [`Os::Other`], whose one tag holds it.
    pub arch: String,
}

impl Platform {
    /// The platform `interpreter` runs on, as `packaging.tags.platform_tags()` sees it.
    fn of(interpreter: &Interpreter) -> Platform {
        let tag: String =
            interpreter.platform.chars().map(|c| if matches!(c, '-' | '.') { '_' } else { c }).collect();
        if let Some(arch) = tag.strip_prefix("linux_") {
            let arch = match (arch, interpreter.is_64bit) {
                ("x86_64", false) => "i686",
                ("aarch64", false) => "armv8l",
                (arch, _) => arch,
            };
            // packaging's `_have_compatible_abi`: a 32-bit interpreter must be i686 (not x32) or
            // hard-float arm for manylinux wheels to load.
            let abi = match arch {
                "i686" => Some("i686"),
                "armv7l" | "armv8l" => Some("armhf"),
                _ => None,
            };
            let manylinux_abi = abi.is_none_or(|abi| interpreter.elf32_abi.as_deref() == Some(abi));
            let os = match (interpreter.glibc, interpreter.musl) {
                (Some((major, minor)), _) if manylinux_abi => Os::Manylinux { major, minor },
                (Some(_), _) => Os::Linux,
                (None, Some((major, minor))) => Os::Musllinux { major, minor },
                (None, None) => Os::Linux,
            };
            return Platform { os, arch: arch.to_string() };
        }
        if let (true, Some((major, minor, cpu))) = (tag.starts_with("macosx_"), &interpreter.macos) {
            let arch = if cpu == "arm64" { "aarch64" } else { cpu };
            return Platform { os: Os::Macos { major: *major, minor: *minor }, arch: arch.to_string() };
        }
        if let Some(rest) = tag.strip_prefix("macosx_") {
            let mut parts = rest.splitn(3, '_');
            let major = parts.next().and_then(|p| p.parse().ok());
            let minor = parts.next().and_then(|p| p.parse().ok());
            if let (Some(major), Some(minor), Some(arch)) = (major, minor, parts.next()) {
                let arch = if arch == "arm64" { "aarch64" } else { arch };
                return Platform { os: Os::Macos { major, minor }, arch: arch.to_string() };
            }
        }
        let windows = match tag.as_str() {
            "win_amd64" => Some("x86_64"),
            "win32" => Some("i686"),
            "win_arm64" => Some("aarch64"),
            _ => None,
        };
        match windows {
            Some(arch) => Platform { os: Os::Windows, arch: arch.to_string() },
            None => Platform { os: Os::Other(tag), arch: String::new() },
        }
    }
}

/// What wheels must be built for, with the tags that says, most preferred first.
#[derive(Debug, Clone)]
pub struct Target {
    /// `sys.implementation.name`.
    pub implementation: String,
    /// `(major, minor)`: the interpreter's, or `--python-version`'s.
    pub version: (u32, u32),
    /// The interpreter's full version (`3.11.7`); none when `--python-version` replaced it.
    pub full_version: Option<String>,
    /// The ABI tags of the interpreter (`cp311`), most specific first.
    pub abis: Vec<String>,
    /// The interpreter's, or `--python-platform`'s.
    pub platform: Platform,
    /// Whether the version or the platform is the caller's rather than the interpreter's.
    pub requested: bool,
    tags: Vec<String>,
    priority: FxHashMap<String, u32>,
}

/// Why a wheel was chosen: its best tag and that tag's rank among the target's tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rank(pub u32);

impl Target {
    /// The target of `interpreter`, with `request`'s version and platform, if any.
    pub fn new(interpreter: &Interpreter, request: &TargetRequest) -> Target {
        let (major, minor, _) = interpreter.version;
        let mut version = (major, minor);
        let mut full_version = Some(interpreter.version_string());
        let mut version_nodot =
            interpreter.version_nodot.clone().unwrap_or_else(|| format!("{major}{minor}"));
        if let Some(requested) = request.python_version {
            if (requested.major, requested.minor) != version {
                version = (requested.major, requested.minor);
                full_version = None;
                version_nodot = format!("{}{}", requested.major, requested.minor);
            }
        }
        let abis = if tags::short_name(&interpreter.implementation) == "cp" {
            tags::cpython_abis(version, &interpreter.abi_flags)
        } else {
            interpreter.soabi.iter().map(|s| s.replace(['-', '.'], "_")).collect()
        };
        let platform = match &request.python_platform {
            Some(requested) => requested.platform.clone(),
            None => Platform::of(interpreter),
        };
        let inputs = tags::TagInputs {
            implementation: &interpreter.implementation,
            version,
            version_nodot: &version_nodot,
            abis: &abis,
            platform: &platform,
        };
        let tags = tags::sys_tags(&inputs);
        let mut priority = FxHashMap::with_capacity_and_hasher(tags.len(), Default::default());
        for (rank, tag) in tags.iter().enumerate() {
            // The first (best) rank of a tag listed twice wins, as in packaging's sets; keys
            // lower-cased like the wheels' tags in `rank` (a generic platform keeps its case:
            // `freebsd_14_0_RELEASE_amd64`).
            priority.entry(tag.to_ascii_lowercase()).or_insert(rank as u32);
        }
        Target {
            implementation: interpreter.implementation.clone(),
            version,
            full_version,
            abis,
            platform,
            requested: request.python_version.is_some() || request.python_platform.is_some(),
            tags,
            priority,
        }
    }

    /// Every supported tag, most preferred first (`packaging.tags.sys_tags()`'s order).
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// The best rank among the tags of `wheel`'s file name, or `None` when the target
    /// supports none of them. Tags are compared lower-cased, as `packaging` parses them
    /// (`py3-none-ANY` is `py3-none-any` to pip).
    pub fn rank(&self, wheel: &WheelFilename) -> Option<Rank> {
        let mut best: Option<u32> = None;
        let mut key = String::new();
        for python in wheel.python.split('.') {
            for abi in wheel.abi.split('.') {
                for platform in wheel.platform.split('.') {
                    key.clear();
                    key.push_str(python);
                    key.push('-');
                    key.push_str(abi);
                    key.push('-');
                    key.push_str(platform);
                    key.make_ascii_lowercase();
                    if let Some(&rank) = self.priority.get(&key) {
                        best = Some(best.map_or(rank, |b| b.min(rank)));
                    }
                }
            }
        }
        best.map(Rank)
    }

    /// `CPython 3.11 on Linux x86-64, glibc 2.36`.
    pub fn describe(&self) -> String {
        words::target(self)
    }

    /// `CPython`, `PyPy`: the implementation as people name it.
    pub fn implementation_name(&self) -> String {
        words::implementation(&self.implementation)
    }

    /// `cp311`, the interpreter's ABI as tags name it (the first of several).
    pub fn abi(&self) -> &str {
        self.abis.first().map_or("none", String::as_str)
    }
}

/// `CPython 3.12 on Windows x86-64`: what `wheel`'s tags were built for, in words.
pub fn built_for(wheel: &WheelFilename) -> String {
    words::wheel(wheel)
}

#[cfg(test)]
mod tests;
