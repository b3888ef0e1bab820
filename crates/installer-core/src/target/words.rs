//! Tags in words, for refusals: `CPython 3.12 on Windows x86-64`, `CPython 3.11 on Linux
//! x86-64, glibc 2.36`.

use super::{Os, Target};
use crate::wheel::WheelFilename;

/// The target: implementation, version, platform.
pub(super) fn target(target: &Target) -> String {
    let (major, minor) = target.version;
    let free_threaded = if target.abi().ends_with('t') { " (free-threaded)" } else { "" };
    let arch = arch(&target.platform.arch);
    let platform = match &target.platform.os {
        Os::Manylinux { major, minor } => format!("Linux {arch}, glibc {major}.{minor}"),
        Os::Musllinux { major, minor } => format!("Linux {arch}, musl {major}.{minor}"),
        Os::Linux => format!("Linux {arch}"),
        Os::Macos { major, minor } => {
            format!("macOS {major}.{minor} {}", if arch == "aarch64" { "arm64" } else { arch })
        }
        Os::Windows => format!("Windows {arch}"),
        Os::Other(tag) => tag.clone(),
    };
    format!("{} {major}.{minor}{free_threaded} on {platform}", implementation(&target.implementation))
}

/// What a wheel's tags were built for, then the tags themselves.
pub(super) fn wheel(wheel: &WheelFilename) -> String {
    let pythons = unique(wheel.python.split('.').map(|python| {
        let described = python_tag(python);
        if wheel.abi == "abi3" && python.starts_with("cp") {
            format!("{described} or later")
        } else {
            described
        }
    }));
    let platforms = unique(wheel.platform.split('.').map(platform_tag));
    format!("{pythons} on {platforms} ({}-{}-{})", wheel.python, wheel.abi, wheel.platform)
}

fn unique(items: impl Iterator<Item = String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen.join(" or ")
}

pub(super) fn implementation(name: &str) -> String {
    match name {
        "cpython" => "CPython".into(),
        "pypy" => "PyPy".into(),
        "graalpy" => "GraalPy".into(),
        other => other.into(),
    }
}

/// `cp312` → `CPython 3.12`, `py3` → `Python 3`, `pp310` → `PyPy 3.10`.
fn python_tag(tag: &str) -> String {
    let (name, digits) = match tag.find(|c: char| c.is_ascii_digit()) {
        Some(i) => tag.split_at(i),
        None => return tag.to_string(),
    };
    let name = match name {
        "py" => "Python",
        "cp" => "CPython",
        "pp" => "PyPy",
        "gp" => "GraalPy",
        _ => return tag.to_string(),
    };
    let version = match digits.split_at(1) {
        (major, "") => major.to_string(),
        (major, minor) => format!("{major}.{minor}"),
    };
    format!("{name} {version}")
}

/// `win_amd64` → `Windows x86-64`, `manylinux_2_28_x86_64` → `Linux x86-64, glibc 2.28+`.
fn platform_tag(tag: &str) -> String {
    match tag {
        "any" => return "any platform".into(),
        "win32" => return "Windows x86".into(),
        "win_amd64" => return "Windows x86-64".into(),
        "win_arm64" => return "Windows ARM64".into(),
        _ => {}
    }
    let legacy = [("manylinux2014_", "2.17"), ("manylinux2010_", "2.12"), ("manylinux1_", "2.5")];
    for (prefix, glibc) in legacy {
        if let Some(a) = tag.strip_prefix(prefix) {
            return format!("Linux {}, glibc {glibc}+", arch(a));
        }
    }
    let versioned = [
        ("manylinux_", "Linux", Some("glibc")),
        ("musllinux_", "Linux", Some("musl")),
        ("macosx_", "macOS", None),
    ];
    for (prefix, os, libc) in versioned {
        if let Some(rest) = tag.strip_prefix(prefix) {
            let mut parts = rest.splitn(3, '_');
            if let (Some(major), Some(minor), Some(a)) = (parts.next(), parts.next(), parts.next()) {
                return match libc {
                    Some(libc) => format!("{os} {}, {libc} {major}.{minor}+", arch(a)),
                    None => format!("{os} {major}.{minor}+ {}", arch(a)),
                };
            }
        }
    }
    if let Some(a) = tag.strip_prefix("linux_") {
        return format!("Linux {}", arch(a));
    }
    tag.to_string()
}

fn arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "amd64" => "x86-64",
        "i686" | "i386" | "x86" => "x86",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(file: &str, expect: &str) {
        assert_eq!(wheel(&WheelFilename::parse(file).unwrap()), expect);
    }

    #[test]
    fn wheels_in_words() {
        check("a-1-cp312-cp312-win_amd64.whl", "CPython 3.12 on Windows x86-64 (cp312-cp312-win_amd64)");
        check(
            "a-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "CPython 3.11 on Linux x86-64, glibc 2.17+ (cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64)",
        );
        check("a-1-py2-none-any.whl", "Python 2 on any platform (py2-none-any)");
        check(
            "a-1-cp38-abi3-macosx_11_0_arm64.whl",
            "CPython 3.8 or later on macOS 11.0+ arm64 (cp38-abi3-macosx_11_0_arm64)",
        );
        check(
            "a-1-cp311-cp311-musllinux_1_2_aarch64.whl",
            "CPython 3.11 on Linux aarch64, musl 1.2+ (cp311-cp311-musllinux_1_2_aarch64)",
        );
    }
}
