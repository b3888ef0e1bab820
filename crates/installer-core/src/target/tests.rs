//! The target's tags against `packaging`'s own, for every CPython on the machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;
use crate::testing::pyenv_cpython;

/// The CPython interpreters of pyenv (3.8 to 3.13 on the development machines and CI).
fn pyenv_pythons() -> Vec<PathBuf> {
    ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"].iter().filter_map(|minor| pyenv_cpython(minor)).collect()
}

/// `packaging.tags.sys_tags()` run by `python`, with `packaging` imported from `vendor` (a
/// pip's `_vendor` directory).
fn packaging_sys_tags(python: &Path, vendor: &Path) -> Vec<String> {
    let code = "import sys\nsys.path.insert(0, sys.argv[1])\nfrom packaging import tags\nfor t in tags.sys_tags(): print(t)";
    let out = Command::new(python).args(["-I", "-c", code]).arg(vendor).output().unwrap();
    assert!(out.status.success(), "{}: {}", python.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect()
}

/// The `_vendor` directory of `python`'s pip and the version of the packaging in it.
fn pip_vendor(python: &Path) -> (PathBuf, String) {
    let code = "import os, pip._vendor.packaging as p\nprint(os.path.dirname(os.path.dirname(p.__file__)))\nprint(p.__version__)";
    let out = Command::new(python).args(["-I", "-c", code]).output().unwrap();
    assert!(out.status.success(), "{}: {}", python.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    (PathBuf::from(lines.next().unwrap()), lines.next().unwrap().to_string())
}

#[track_caller]
fn assert_same(ours: &[String], expected: &[String], what: &str) {
    let first_difference = ours.iter().zip(expected).position(|(a, b)| a != b);
    assert_eq!(
        (first_difference, ours.len()),
        (None, expected.len()),
        "{what}: first difference at {first_difference:?}: ours {:?}, packaging's {:?}",
        first_difference.map(|i| &ours[i]),
        first_difference.map(|i| &expected[i]),
    );
}

/// Every CPython's tags equal today's `packaging` (the newest on the machine: the pip of the
/// newest CPython vendors it) run by that interpreter, and its own pip's older `packaging`
/// but for the `cp3X-none-any` tag packaging 22 added.
#[test]
fn tags_equal_packaging_sys_tags_for_every_cpython() {
    let pythons = pyenv_pythons();
    assert_eq!(pythons.len(), 6, "CPython 3.8 to 3.13 are expected in ~/.pyenv/versions: {pythons:?}");
    let (newest_vendor, newest_version) = pip_vendor(pythons.last().unwrap());
    assert!(newest_version.as_str() >= "24", "packaging {newest_version} in {}", newest_vendor.display());
    for python in &pythons {
        let interpreter = Interpreter::query(python).unwrap();
        let target = Target::new(&interpreter, &TargetRequest::default());
        let what = format!("{} with packaging {newest_version}", python.display());
        assert_same(target.tags(), &packaging_sys_tags(python, &newest_vendor), &what);

        let (vendor, version) = pip_vendor(python);
        let (major, minor, _) = interpreter.version;
        let cp_none_any = format!("cp{major}{minor}-none-any");
        let ours: Vec<String> = if version.as_str() < "22" {
            target.tags().iter().filter(|t| **t != cp_none_any).cloned().collect()
        } else {
            target.tags().to_vec()
        };
        assert_same(
            &ours,
            &packaging_sys_tags(python, &vendor),
            &format!("{} with its pip's packaging {version}", python.display()),
        );
    }
}

#[test]
fn the_target_in_words_and_a_foreign_wheel_refused() {
    let python = find_on_path("python3").expect("python3 on PATH");
    let interpreter = Interpreter::query(&python).unwrap();
    let target = Target::new(&interpreter, &TargetRequest::default());
    let (major, minor, _) = interpreter.version;
    assert!(
        target.describe().starts_with(&format!("CPython {major}.{minor} on Linux ")),
        "{}",
        target.describe()
    );
    let windows = WheelFilename::parse("a-1-cp312-cp312-win_amd64.whl").unwrap();
    assert_eq!(target.rank(&windows), None);
    let pure = WheelFilename::parse("a-1-py3-none-any.whl").unwrap();
    assert!(target.rank(&pure).is_some());
    let shouting = WheelFilename::parse("a-1-PY3-none-ANY.whl").unwrap();
    assert_eq!(
        target.rank(&shouting),
        target.rank(&pure),
        "tags compare lower-cased, as packaging parses them"
    );

    let request = TargetRequest {
        python_version: Some("3.12".parse().unwrap()),
        python_platform: Some("x86_64-pc-windows-msvc".parse().unwrap()),
    };
    let foreign = Target::new(&interpreter, &request);
    assert_eq!(foreign.describe(), "CPython 3.12 on Windows x86-64");
    assert_eq!(foreign.rank(&windows), Some(Rank(0)));
    let err =
        select_wheels(&[PathBuf::from("b-1-cp311-cp311-manylinux_2_17_x86_64.whl")], &foreign).unwrap_err();
    assert_eq!(
        crate::error::causes(&err).collect::<Vec<_>>(),
        [
            "refused wheel b-1-cp311-cp311-manylinux_2_17_x86_64.whl",
            "built for CPython 3.11 on Linux x86-64, glibc 2.17+ (cp311-cp311-manylinux_2_17_x86_64); \
             the requested target is CPython 3.12 on Windows x86-64"
        ]
    );
}

/// The facts of `python3` with `edit` applied: an interpreter of another platform without
/// needing one.
fn facts_like_python3(edit: impl FnOnce(&mut Interpreter)) -> Interpreter {
    let mut interpreter = Interpreter::query(&find_on_path("python3").expect("python3 on PATH")).unwrap();
    edit(&mut interpreter);
    interpreter
}

/// The query's helpers run by a real interpreter: glibc versions with a vendor's suffix read as
/// packaging reads them, and the ELF header of a 32-bit interpreter.
#[test]
fn the_query_reads_vendor_glibc_versions_and_32_bit_elf_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let elf = |machine: u16, flags: u32| {
        let mut head = b"\x7fELF\x01\x01\x01".to_vec();
        head.resize(18, 0);
        head.extend(machine.to_le_bytes());
        head.resize(36, 0);
        head.extend(flags.to_le_bytes());
        head.resize(52, 0);
        head
    };
    for (name, bytes) in [
        ("i686", elf(3, 0)),
        ("armhf", elf(40, 0x0500_0400)),
        ("armel", elf(40, 0x0500_0000)),
        ("x32", elf(62, 0)),
    ] {
        std::fs::write(tmp.path().join(name), bytes).unwrap();
    }
    let code = format!(
        "{}\nimport sys\nfor text in sys.argv[1:5]: print(version(text))\n\
         for name in sys.argv[5:]: print(elf32_abi(name))\n",
        super::interpreter::QUERY_HELPERS
    );
    let out = Command::new("python3")
        .args(["-I", "-c", &code, "2.20-2014.11", "2.36", "1.2.4", "unknown"])
        .args(["i686", "armhf", "armel", "x32", "missing"].map(|n| tmp.path().join(n)))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().collect::<Vec<_>>(),
        ["[2, 20]", "[2, 36]", "[1, 2]", "None", "i686", "armhf", "None", "None", "None"]
    );
}

/// A 32-bit interpreter gets manylinux wheels only if its ELF header says i686 or hard-float
/// arm, as packaging's `_have_compatible_abi` decides.
#[test]
fn manylinux_for_32_bit_interpreters_only_with_a_matching_abi() {
    let tags = |platform: &str, abi: Option<&str>| {
        let interpreter = facts_like_python3(|i| {
            i.platform = platform.into();
            i.is_64bit = false;
            i.glibc = Some((2, 17));
            i.musl = None;
            i.elf32_abi = abi.map(str::to_string);
        });
        Target::new(&interpreter, &TargetRequest::default()).tags().to_vec()
    };
    let has = |tags: &[String], platform: &str| tags.iter().any(|t| t.ends_with(platform));
    assert!(has(&tags("linux-x86_64", Some("i686")), "-manylinux_2_17_i686"));
    assert!(!has(&tags("linux-x86_64", None), "-manylinux_2_17_i686"), "x32 is not i686");
    assert!(has(&tags("linux-x86_64", None), "-linux_i686"));
    assert!(has(&tags("linux-armv7l", Some("armhf")), "-manylinux_2_17_armv7l"));
    assert!(!has(&tags("linux-armv7l", None), "-manylinux_2_17_armv7l"), "soft-float arm");
    assert!(has(&tags("linux-aarch64", Some("armhf")), "-manylinux_2_17_armv7l"));
}

/// On macOS the running version and CPU make the tags, as `packaging.tags.mac_platforms()`:
/// a python.org build for 10.9 universal2 on macOS 14 on arm64 installs macOS 14 arm64 wheels.
#[test]
fn macos_tags_follow_the_running_macos_as_packaging_does() {
    let interpreter = facts_like_python3(|i| {
        i.platform = "macosx-10.9-universal2".into();
        i.glibc = None;
        i.musl = None;
        i.macos = Some((14, 0, "arm64".into()));
    });
    let platforms = tags::platform_tags(&Platform::of(&interpreter));
    let python = find_on_path("python3").unwrap();
    let (vendor, _) = pip_vendor(&python);
    let code = "import sys\nsys.path.insert(0, sys.argv[1])\nfrom packaging import tags\n\
                for t in tags.mac_platforms((14, 0), 'arm64'): print(t)";
    let out = Command::new(&python).args(["-I", "-c", code]).arg(&vendor).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect();
    assert_same(&platforms, &expected, "macOS 14 arm64");
}

/// Of wheels with equally preferred tags, the highest build tag is installed, compared as
/// `packaging` compares it (number first, then the rest); a better tag still wins over a
/// higher build.
#[test]
fn the_highest_build_of_equally_preferred_wheels_is_chosen() {
    let python = find_on_path("python3").expect("python3 on PATH");
    let target = Target::new(&Interpreter::query(&python).unwrap(), &TargetRequest::default());
    let chosen = |names: &[&str]| {
        let wheels: Vec<PathBuf> = names.iter().map(PathBuf::from).collect();
        let selection = select_wheels(&wheels, &target).unwrap();
        assert_eq!(selection.wheels.len(), 1, "{:?}", selection.notes);
        selection.wheels[0].to_string_lossy().into_owned()
    };
    assert_eq!(
        chosen(&[
            "a-1.0-py3-none-any.whl",
            "a-1.0-9-py3-none-any.whl",
            "a-1.0-10-py3-none-any.whl",
            "a-1.0-2b-py3-none-any.whl"
        ]),
        "a-1.0-10-py3-none-any.whl"
    );
    assert_eq!(
        chosen(&["a-1.0-2-py3-none-any.whl", "a-1.0-2b-py3-none-any.whl", "a-1.0-02-py3-none-any.whl"]),
        "a-1.0-2b-py3-none-any.whl"
    );
    assert_eq!(
        chosen(&["a-1.0-0010-py3-none-any.whl", "a-1.0-9x-py3-none-any.whl"]),
        "a-1.0-0010-py3-none-any.whl"
    );
    assert_eq!(chosen(&["a-1.0-py3-none-any.whl", "a-1.0-1-py2-none-any.whl"]), "a-1.0-py3-none-any.whl");
    let machine = interpreter_platform_tag(&target);
    let native = format!("a-1.0-py3-none-{machine}.whl");
    assert_eq!(
        chosen(&["a-1.0-99-py3-none-any.whl", &native]),
        native,
        "a better tag wins over a higher build"
    );
}

/// The most preferred platform tag of `target` (`manylinux_2_39_x86_64`...).
fn interpreter_platform_tag(target: &Target) -> String {
    target.tags()[0].rsplit('-').next().unwrap().to_string()
}
