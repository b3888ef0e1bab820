//! The PEP 425 tags a target supports, most preferred first, generated exactly as
//! `packaging.tags.sys_tags()` generates them (its `cpython_tags`, `generic_tags`,
//! `compatible_tags` and platform functions), so that a wheel pip would take is taken and one
//! pip would refuse is refused, and the preference between several builds is pip's.

use super::{Os, Platform};

/// glibc versions older than this (per architecture) never had manylinux tags.
const X86_TOO_OLD_GLIBC_MINOR: u32 = 4;
const OTHER_TOO_OLD_GLIBC_MINOR: u32 = 16;
/// The manylinux aliases of PEP 513, 571 and 599.
const LEGACY_MANYLINUX: [((u32, u32), &str); 3] =
    [((2, 17), "manylinux2014"), ((2, 12), "manylinux2010"), ((2, 5), "manylinux1")];
/// Architectures whose manylinux ABI needs no check of the interpreter's ELF header.
const MANYLINUX_ARCHS: [&str; 9] =
    ["x86_64", "aarch64", "ppc64", "ppc64le", "s390x", "loongarch64", "riscv64", "i686", "armv7l"];

/// What tag generation needs to know about the interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TagInputs<'a> {
    /// `sys.implementation.name`: `cpython`, `pypy`, ...
    pub implementation: &'a str,
    pub version: (u32, u32),
    /// `py_version_nodot`: the interpreter part of `cp311`.
    pub version_nodot: &'a str,
    /// For CPython as `_cpython_abis` computes them (`cp311`, `cp313t`, `cp311d`, `cp311`);
    /// for others the interpreter's own ABI tags.
    pub abis: &'a [String],
    pub platform: &'a Platform,
}

/// `packaging.tags.sys_tags()` for `inputs`, as `interpreter-abi-platform` strings.
pub(crate) fn sys_tags(inputs: &TagInputs) -> Vec<String> {
    let platforms = platform_tags(inputs.platform);
    let mut tags = Vec::with_capacity(platforms.len() * 24);
    let short = short_name(inputs.implementation);
    if short == "cp" {
        cpython_tags(inputs, &platforms, &mut tags);
    } else {
        generic_tags(&format!("{short}{}", inputs.version_nodot), inputs.abis, &platforms, &mut tags);
    }
    let interpreter = match short {
        "pp" => Some("pp3".to_string()),
        "cp" => Some(format!("cp{}", inputs.version_nodot)),
        _ => None,
    };
    compatible_tags(inputs.version, interpreter.as_deref(), &platforms, &mut tags);
    tags
}

/// `interpreter_name()`: the short form of `sys.implementation.name`.
pub(crate) fn short_name(implementation: &str) -> &str {
    match implementation {
        "python" => "py",
        "cpython" => "cp",
        "pypy" => "pp",
        "ironpython" => "ip",
        "jython" => "jy",
        other => other,
    }
}

/// `_cpython_abis`: the ABI tags of a CPython build, most specific first.
pub(crate) fn cpython_abis(version: (u32, u32), flags: &AbiFlags) -> Vec<String> {
    let nodot = format!("{}{}", version.0, version.1);
    let debug = flags.py_debug.unwrap_or(flags.has_refcount || flags.debug_extension);
    let threading = if version >= (3, 13) && flags.gil_disabled { "t" } else { "" };
    let mut abis = Vec::new();
    let mut pymalloc = "";
    if version < (3, 8) {
        if flags.pymalloc.unwrap_or(true) {
            pymalloc = "m";
        }
    } else if debug {
        abis.push(format!("cp{nodot}{threading}"));
    }
    let debug = if debug { "d" } else { "" };
    abis.insert(0, format!("cp{nodot}{threading}{debug}{pymalloc}"));
    abis
}

/// The build flags of a CPython that change its ABI tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AbiFlags {
    /// `Py_DEBUG` (None when sysconfig does not say).
    pub py_debug: Option<bool>,
    /// `sys.gettotalrefcount` exists (a debug build).
    pub has_refcount: bool,
    /// `_d.pyd` is an extension suffix (a Windows debug build).
    pub debug_extension: bool,
    /// `Py_GIL_DISABLED`: the free-threaded build (`cp313t`).
    pub gil_disabled: bool,
    /// `WITH_PYMALLOC` (the `m` of `cp37m`; None when sysconfig does not say).
    pub pymalloc: Option<bool>,
}

fn cpython_tags(inputs: &TagInputs, platforms: &[String], tags: &mut Vec<String>) {
    let (major, minor) = inputs.version;
    let interpreter = format!("cp{major}{minor}");
    let abis: Vec<&String> = inputs.abis.iter().filter(|a| !matches!(a.as_str(), "abi3" | "none")).collect();
    for abi in &abis {
        for platform in platforms {
            tags.push(format!("{interpreter}-{abi}-{platform}"));
        }
    }
    // `_is_threaded_cpython`: the first ABI ends in `t` after its version digits.
    let threaded = abis.first().is_some_and(|abi| {
        abi.strip_prefix("cp")
            .map(|rest| rest.trim_start_matches(|c: char| c.is_ascii_digit()))
            .is_some_and(|flags| flags.contains('t'))
    });
    let abi3 = (major, minor) >= (3, 2) && !threaded;
    if abi3 {
        tags.extend(platforms.iter().map(|p| format!("{interpreter}-abi3-{p}")));
    }
    tags.extend(platforms.iter().map(|p| format!("{interpreter}-none-{p}")));
    if abi3 {
        for older in (2..minor).rev() {
            for platform in platforms {
                tags.push(format!("cp{major}{older}-abi3-{platform}"));
            }
        }
    }
}

fn generic_tags(interpreter: &str, abis: &[String], platforms: &[String], tags: &mut Vec<String>) {
    let mut abis: Vec<&str> = abis.iter().map(String::as_str).collect();
    if !abis.contains(&"none") {
        abis.push("none");
    }
    for abi in abis {
        for platform in platforms {
            tags.push(format!("{interpreter}-{abi}-{platform}"));
        }
    }
}

/// `compatible_tags`: pure-Python tags (`py311`, `py3`, `py310`...), then `any`.
fn compatible_tags(
    version: (u32, u32),
    interpreter: Option<&str>,
    platforms: &[String],
    tags: &mut Vec<String>,
) {
    let (major, minor) = version;
    let mut pythons = vec![format!("py{major}{minor}"), format!("py{major}")];
    pythons.extend((0..minor).rev().map(|m| format!("py{major}{m}")));
    for python in &pythons {
        for platform in platforms {
            tags.push(format!("{python}-none-{platform}"));
        }
    }
    if let Some(interpreter) = interpreter {
        tags.push(format!("{interpreter}-none-any"));
    }
    tags.extend(pythons.iter().map(|python| format!("{python}-none-any")));
}

/// `platform_tags()`: the platform tags of `platform`, most preferred first.
pub(crate) fn platform_tags(platform: &Platform) -> Vec<String> {
    let arch = platform.arch.as_str();
    match &platform.os {
        Os::Manylinux { .. } | Os::Musllinux { .. } | Os::Linux => linux_platforms(platform),
        Os::Macos { major, minor } => {
            let arch = match arch {
                "aarch64" => "arm64",
                other => other,
            };
            mac_platforms((*major, *minor), arch)
        }
        Os::Windows => vec![match arch {
            "x86_64" => "win_amd64".to_string(),
            "i686" | "x86" => "win32".to_string(),
            "aarch64" => "win_arm64".to_string(),
            other => format!("win_{other}"),
        }],
        Os::Other(tag) => vec![tag.clone()],
    }
}

/// `_linux_platforms`: manylinux (PEP 600, with the legacy aliases), musllinux (PEP 656),
/// then `linux_<arch>`.
fn linux_platforms(platform: &Platform) -> Vec<String> {
    let archs: Vec<&str> = match platform.arch.as_str() {
        "armv8l" => vec!["armv8l", "armv7l"],
        arch => vec![arch],
    };
    let mut tags = Vec::new();
    if let Os::Manylinux { major, minor } = platform.os {
        if archs.iter().any(|a| MANYLINUX_ARCHS.contains(a)) {
            let too_old = if archs.iter().any(|a| matches!(*a, "x86_64" | "i686")) {
                X86_TOO_OLD_GLIBC_MINOR
            } else {
                OTHER_TOO_OLD_GLIBC_MINOR
            };
            // Compatibility is assumed across glibc major versions (the last 2.x is 2.50).
            let mut maxima = vec![(major, minor)];
            maxima.extend((2..major).rev().map(|m| (m, 50)));
            for arch in &archs {
                for &(max_major, max_minor) in &maxima {
                    let lowest = if max_major == 2 { too_old + 1 } else { 0 };
                    for glibc_minor in (lowest..=max_minor).rev() {
                        tags.push(format!("manylinux_{max_major}_{glibc_minor}_{arch}"));
                        if let Some((_, legacy)) =
                            LEGACY_MANYLINUX.iter().find(|(v, _)| *v == (max_major, glibc_minor))
                        {
                            tags.push(format!("{legacy}_{arch}"));
                        }
                    }
                }
            }
        }
    }
    if let Os::Musllinux { major, minor } = platform.os {
        for arch in &archs {
            tags.extend((0..=minor).rev().map(|m| format!("musllinux_{major}_{m}_{arch}")));
        }
    }
    tags.extend(archs.iter().map(|arch| format!("linux_{arch}")));
    tags
}

/// `mac_platforms` for macOS `version` on `arch` (`arm64`, `x86_64`).
fn mac_platforms(version: (u32, u32), arch: &str) -> Vec<String> {
    let mut tags = Vec::new();
    let mut push = |major: u32, minor: u32, formats: Vec<&str>| {
        tags.extend(formats.iter().map(|f| format!("macosx_{major}_{minor}_{f}")));
    };
    if ((10, 0)..(11, 0)).contains(&version) {
        for minor in (0..=version.1).rev() {
            push(10, minor, mac_binary_formats((10, minor), arch));
        }
    }
    if version >= (11, 0) {
        for major in (11..=version.0).rev() {
            push(major, 0, mac_binary_formats((major, 0), arch));
        }
        for minor in (4..=16).rev() {
            let formats =
                if arch == "x86_64" { mac_binary_formats((10, minor), arch) } else { vec!["universal2"] };
            push(10, minor, formats);
        }
    }
    tags
}

fn mac_binary_formats(version: (u32, u32), arch: &str) -> Vec<&str> {
    let mut formats = vec![arch];
    match arch {
        "x86_64" if version < (10, 4) => return Vec::new(),
        "x86_64" => formats.extend(["intel", "fat64", "fat32"]),
        "i386" if version < (10, 4) => return Vec::new(),
        "i386" => formats.extend(["intel", "fat32", "fat"]),
        "ppc64" if !((10, 4)..=(10, 5)).contains(&version) => return Vec::new(),
        "ppc64" => formats.push("fat64"),
        "ppc" if version > (10, 6) => return Vec::new(),
        "ppc" => formats.extend(["fat32", "fat"]),
        _ => {}
    }
    if matches!(arch, "arm64" | "x86_64") {
        formats.push("universal2");
    }
    if matches!(arch, "x86_64" | "i386" | "ppc64" | "ppc" | "intel") {
        formats.push("universal");
    }
    formats
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(glibc: (u32, u32)) -> Platform {
        Platform { os: Os::Manylinux { major: glibc.0, minor: glibc.1 }, arch: "x86_64".into() }
    }

    #[test]
    fn cpython_abis_follow_the_build_flags() {
        let plain = AbiFlags { py_debug: Some(false), ..AbiFlags::default() };
        assert_eq!(cpython_abis((3, 11), &plain), ["cp311"]);
        assert_eq!(cpython_abis((3, 7), &plain), ["cp37m"]);
        let free = AbiFlags { gil_disabled: true, ..plain.clone() };
        assert_eq!(cpython_abis((3, 13), &free), ["cp313t"]);
        let debug = AbiFlags { py_debug: Some(true), ..AbiFlags::default() };
        assert_eq!(cpython_abis((3, 12), &debug), ["cp312d", "cp312"]);
    }

    #[test]
    fn manylinux_goes_down_from_the_glibc_with_legacy_aliases() {
        let tags = platform_tags(&linux((2, 17)));
        assert_eq!(tags[..2], ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]);
        assert!(tags.contains(&"manylinux2010_x86_64".to_string()));
        assert_eq!(tags[tags.len() - 3..], ["manylinux_2_5_x86_64", "manylinux1_x86_64", "linux_x86_64"]);
        let arm = Platform { os: Os::Manylinux { major: 2, minor: 28 }, arch: "aarch64".into() };
        assert_eq!(platform_tags(&arm).iter().rev().nth(1).unwrap(), "manylinux2014_aarch64");
        let musl = Platform { os: Os::Musllinux { major: 1, minor: 2 }, arch: "x86_64".into() };
        assert_eq!(
            platform_tags(&musl),
            ["musllinux_1_2_x86_64", "musllinux_1_1_x86_64", "musllinux_1_0_x86_64", "linux_x86_64"]
        );
    }

    #[test]
    fn cpython_order_is_packaging_s() {
        let platform = Platform { os: Os::Windows, arch: "x86_64".into() };
        let abis = ["cp311".to_string()];
        let inputs = TagInputs {
            implementation: "cpython",
            version: (3, 11),
            version_nodot: "311",
            abis: &abis,
            platform: &platform,
        };
        let tags = sys_tags(&inputs);
        assert_eq!(
            tags[..4],
            ["cp311-cp311-win_amd64", "cp311-abi3-win_amd64", "cp311-none-win_amd64", "cp310-abi3-win_amd64"]
        );
        assert_eq!(tags[tags.len() - 3..], ["py32-none-any", "py31-none-any", "py30-none-any"]);
        assert!(tags.contains(&"cp311-none-any".to_string()));
        assert!(!tags.iter().any(|t| t.starts_with("cp312")));
    }

    #[test]
    fn macos_arm64_takes_universal2_builds() {
        let tags = mac_platforms((12, 0), "arm64");
        assert_eq!(tags[..3], ["macosx_12_0_arm64", "macosx_12_0_universal2", "macosx_11_0_arm64"]);
        assert_eq!(tags.last().unwrap(), "macosx_10_4_universal2");
    }
}
