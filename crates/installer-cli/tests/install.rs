//! `installer install` end to end on real venvs: what lands, how it is linked, and that every
//! refused wheel leaves the environment and the cache as they were.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

const GOOD: [&str; 6] =
    ["fixture_pkg-1.0", "fixture_data", "fixture_ns_a", "fixture_ns_b", "fixture_unicode", "fixture_plat"];

fn args<'a>(venv: &'a Path, cache: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["install", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    v.extend_from_slice(extra);
    v
}

#[test]
fn fixtures_install_import_and_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (tmp.path().join("venv"), tmp.path().join("cache"));
    let wheels: Vec<String> = GOOD.iter().map(|w| fixture(w).to_str().unwrap().to_string()).collect();
    let mut a = args(&venv, &cache, &["--link-mode", "hardlink"]);
    a.extend(wheels.iter().map(String::as_str));
    let out = installer(tmp.path(), &a);
    assert_ok(&out);
    assert!(stderr(&out).contains("Installed 6 wheels ("), "{}", stderr(&out));
    assert!(venv.join("pyvenv.cfg").is_file(), "the venv is created when missing");

    assert_eq!(python(&venv, "import fixture_pkg.sub.deep.leaf, fixture_ns.a, fixture_ns.b, fixture_plat, fixture_data; print(fixture_plat.WHERE)"), "platlib\n");
    let run = |script: &str| {
        let out = std::process::Command::new(venv.join("bin").join(script)).output().unwrap();
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(run("fixture-hello"), "hello from fixture_pkg 1.0\n");
    assert_eq!(run("fixture-data-py"), "hello from fixture_data 1.0 script\n");
    assert_eq!(run("fixture-data-sh"), "hello from fixture_data shell script\n");
    assert_eq!(run("fixture-unicode"), "hello from café: naïve 1.0\n");
    let launcher = std::fs::read_to_string(venv.join("bin/fixture-hello")).unwrap();
    assert!(launcher.starts_with(&format!("#!{}\n", venv.join("bin/python").display())), "{launcher}");

    let site = venv.join("lib/python3.11/site-packages");
    let mode = |p: &Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777
    };
    assert_eq!(mode(&site.join("fixture_pkg/bin/run.sh")), 0o755, "executable bits are kept");
    assert_eq!(mode(&site.join("fixture_pkg/__init__.py")), 0o644);
    assert!(
        venv.join("include/site/python3.11/fixture-data/fixture_data.h").is_file(),
        "headers go where pip puts them"
    );
    assert!(venv.join("share/fixture_data/config.txt").is_file(), ".data/data goes to the prefix");

    let dist_info = site.join("fixture_pkg-1.0.dist-info");
    assert_eq!(std::fs::read_to_string(dist_info.join("INSTALLER")).unwrap(), "installer\n");
    assert!(dist_info.join("REQUESTED").is_file());
    let direct_url: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dist_info.join("direct_url.json")).unwrap()).unwrap();
    assert!(direct_url["url"].as_str().unwrap().starts_with("file:///"), "{direct_url}");
    // RECORD is true: every line's hash and size match the installed file, and it lists
    // every file the wheel installed, including scripts.
    let record = std::fs::read_to_string(dist_info.join("RECORD")).unwrap();
    let mut listed = 0;
    for line in record.lines() {
        let (path, rest) = line
            .rsplit_once(',')
            .map(|(a, size)| (a.rsplit_once(',').unwrap(), size))
            .map(|((p, h), s)| (p, (h, s)))
            .unwrap();
        let file = site.join(path);
        if rest.0.is_empty() {
            assert!(path.ends_with("RECORD"), "only RECORD has no hash: {line}");
            continue;
        }
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{line}: {e}"));
        use base64::Engine;
        use sha2::Digest;
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&bytes));
        assert_eq!(rest.0, format!("sha256={hash}"), "{line}");
        assert_eq!(rest.1, bytes.len().to_string(), "{line}");
        listed += 1;
    }
    assert!(record.contains("../../../bin/fixture-hello,"), "{record}");
    assert!(listed >= 15, "{record}");
}

#[test]
fn a_warm_install_into_a_second_venv_hardlinks_every_file() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let wheel = fixture("fixture_pkg-1.0");
    for name in ["one", "two"] {
        let venv = tmp.path().join(name);
        assert_ok(&installer(
            tmp.path(),
            &args(&venv, &cache, &["--link-mode", "hardlink", wheel.to_str().unwrap()]),
        ));
    }
    let site = tmp.path().join("two/lib/python3.11/site-packages");
    let record = std::fs::read_to_string(site.join("fixture_pkg-1.0.dist-info/RECORD")).unwrap();
    let mut linked = 0;
    for path in record.lines().map(|l| l.split(',').next().unwrap()) {
        let generated = path.starts_with("../")
            || ["RECORD", "INSTALLER", "REQUESTED", "direct_url.json"].iter().any(|g| path.ends_with(g));
        if !generated {
            assert_eq!(nlink(&site.join(path)), 3, "{path}: cache + two venvs");
            linked += 1;
        }
    }
    assert!(linked > 10);
}

#[test]
fn two_versions_of_one_distribution_in_one_command_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&tmp.path().join("venv")), tmp.path().join("cache"));
    let before = snapshot(&venv);
    let (one, two) = (fixture("fixture_pkg-1.0"), fixture("fixture_pkg-2.0"));
    let out = installer(tmp.path(), &args(&venv, &cache, &[one.to_str().unwrap(), two.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(
        err,
        format!(
            "error: {} and {} are two versions of fixture_pkg (1.0 and 2.0); install one of them\n",
            one.display(),
            two.display()
        )
    );
    assert_eq!(snapshot(&venv), before);
    assert!(
        !cache_entries_dir(&cache).exists()
            || std::fs::read_dir(cache_entries_dir(&cache)).unwrap().count() == 0
    );
}

#[test]
fn conflicting_wheels_are_refused_naming_both_and_nothing_is_installed() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&tmp.path().join("venv")), tmp.path().join("cache"));
    let before = snapshot(&venv);
    let (a, b) = (fixture("fixture_clash_a"), fixture("fixture_clash_b"));
    let out = installer(tmp.path(), &args(&venv, &cache, &[a.to_str().unwrap(), b.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains("fixture_clash_a-1.0-py3-none-any.whl and ")
            && err.contains("fixture_clash_b-1.0-py3-none-any.whl both install "),
        "{err}"
    );
    assert!(err.contains("fixture_clash/common.py"), "{err}");
    assert_eq!(snapshot(&venv), before);
}

/// A `.data/data` file that lands in site-packages collides with a library file of another
/// wheel at the same place: refused like any other conflict, whichever wheel comes first.
#[test]
fn a_data_file_into_site_packages_conflicts_with_a_library_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&tmp.path().join("venv")), tmp.path().join("cache"));
    let site = site_packages(&venv);
    let site_in_venv = site.strip_prefix(&venv).unwrap().to_str().unwrap().to_owned();
    let lib = WheelBuilder::new("lib", "1.0").file("shared/mod.py", b"lib").write(tmp.path(), None);
    let data = WheelBuilder::new("data", "1.0")
        .file(&format!("data-1.0.data/data/{site_in_venv}/shared/mod.py"), b"data")
        .write(tmp.path(), None);
    let before = snapshot(&venv);
    for order in [[&lib, &data], [&data, &lib]] {
        let out = installer(
            tmp.path(),
            &args(&venv, &cache, &[order[0].to_str().unwrap(), order[1].to_str().unwrap()]),
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("both install ") && err.contains("shared/mod.py"), "{err}");
        assert_eq!(snapshot(&venv), before);
    }
}

/// The members of a wheel, the two files the refusal names, and the path they share.
type TwiceCase<'a> = (&'a [(&'a str, &'a [u8])], &'a str, &'a str, PathBuf);

/// One wheel writing one path twice with different content: a member and the same path under
/// `.data/purelib`, `.data/purelib` and `.data/platlib`, a `.data/data/bin` file and a launcher,
/// its own RECORD or INSTALLER under `.data/purelib`. These installed "successfully" with
/// whichever file came last and RECORD listing the path twice, so `verify` failed on the fresh
/// environment. Refused now, naming both files; nothing changed. A file shipped twice with the
/// same content installs, as pip installs it.
#[test]
fn a_wheel_writing_one_path_twice_is_refused_naming_both_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&tmp.path().join("venv")), tmp.path().join("cache"));
    let site = site_packages(&venv);
    let di = "twice-1.0.dist-info";
    let cases: [TwiceCase; 5] = [
        (
            &[("twice/x.py", b"ROOT\n"), ("twice-1.0.data/purelib/twice/x.py", b"DATA\n")],
            "twice/x.py",
            "twice-1.0.data/purelib/twice/x.py",
            site.join("twice/x.py"),
        ),
        (
            &[
                ("twice-1.0.data/purelib/twice/y.py", b"PURE\n"),
                ("twice-1.0.data/platlib/twice/y.py", b"PLAT\n"),
            ],
            "twice-1.0.data/platlib/twice/y.py",
            "twice-1.0.data/purelib/twice/y.py",
            site.join("twice/y.py"),
        ),
        (
            &[
                ("twice-1.0.data/data/bin/tool", b"#!/bin/sh\n"),
                ("twice-1.0.dist-info/entry_points.txt", b"[console_scripts]\ntool = twice:main\n"),
            ],
            "twice-1.0.data/data/bin/tool",
            "the launcher of entry point `tool`",
            venv.join("bin/tool"),
        ),
        (
            &[("twice-1.0.data/purelib/twice-1.0.dist-info/RECORD", b"planted\n")],
            "twice-1.0.data/purelib/twice-1.0.dist-info/RECORD",
            "the installer's twice-1.0.dist-info/RECORD",
            site.join(format!("{di}/RECORD")),
        ),
        (
            &[("twice-1.0.data/purelib/twice-1.0.dist-info/INSTALLER", b"planted\n")],
            "twice-1.0.data/purelib/twice-1.0.dist-info/INSTALLER",
            "the installer's twice-1.0.dist-info/INSTALLER",
            site.join(format!("{di}/INSTALLER")),
        ),
    ];
    let before = snapshot(&venv);
    for (i, (files, one, other, path)) in cases.iter().enumerate() {
        let dir = tmp.path().join(format!("w{i}"));
        std::fs::create_dir(&dir).unwrap();
        let wheel =
            files.iter().fold(WheelBuilder::new("twice", "1.0"), |b, (p, c)| b.file(p, c)).write(&dir, None);
        let out = installer(tmp.path(), &args(&venv, &cache, &[wheel.to_str().unwrap()]));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.starts_with(&format!("error: refused wheel {}\n", wheel.display())), "{err}");
        // Named in either order: which comes first is the plan's.
        let said = |a: &str, b: &str| {
            err.contains(&format!("  cause: {a} and {b} would both be installed as {}\n", path.display()))
        };
        assert!(said(one, other) || said(other, one), "{err}");
        assert_eq!(snapshot(&venv), before, "{err}");
    }
    // The same file twice (same content and mode): installed once, and the environment verifies.
    let same = WheelBuilder::new("same", "1.0")
        .file("same/x.py", b"X = 1\n")
        .file("same-1.0.data/purelib/same/x.py", b"X = 1\n")
        .write(tmp.path(), None);
    assert_ok(&installer(tmp.path(), &args(&venv, &cache, &[same.to_str().unwrap()])));
    assert_ok(&installer(tmp.path(), &["verify", "--venv", venv.to_str().unwrap()]));
}

#[test]
fn a_record_behind_a_byte_order_mark_installs_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&tmp.path().join("venv")), tmp.path().join("cache"));
    // The mark is read as such, not as the start of the first path (`bom/__init__.py`), which
    // would leave that member unlisted and the wheel refused.
    let mut builder = WheelBuilder::new("bom", "1.0");
    builder.record = RecordMode::ByteOrderMark;
    let wheel = builder.write(tmp.path(), None);
    assert_ok(&installer(tmp.path(), &args(&venv, &cache, &[wheel.to_str().unwrap()])));
    assert_eq!(python(&venv, "import bom; print(bom.VALUE)"), "1\n");
    let record = std::fs::read_to_string(site_packages(&venv).join("bom-1.0.dist-info/RECORD")).unwrap();
    assert!(!record.contains('\u{feff}'), "the RECORD written has no mark: {record:?}");
    assert!(record.lines().any(|row| row.starts_with("bom/__init__.py,sha256=")), "{record:?}");
    assert_ok(&installer(tmp.path(), &["verify", "--venv", venv.to_str().unwrap()]));
}

/// One hostile or broken wheel among good ones: exit 1, an `error:` naming the wheel and a
/// `cause:` with the reason, the venv exactly as before, and no cache entry for it.
fn check_refused(make: impl FnOnce(&Path) -> std::path::PathBuf, expected_cause: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&tmp.path().join("venv")), tmp.path().join("cache"));
    let good = fixture("fixture_ns_a");
    assert_ok(&installer(tmp.path(), &args(&venv, &cache, &[fixture("fixture_ns_b").to_str().unwrap()])));
    let before = snapshot(&venv);
    let entries_before = snapshot(&cache_entries_dir(&cache));
    let bad = make(tmp.path());
    let out = installer(tmp.path(), &args(&venv, &cache, &[good.to_str().unwrap(), bad.to_str().unwrap()]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let file_name = bad.file_name().unwrap().to_str().unwrap();
    let first = err.lines().next().unwrap();
    assert!(first.starts_with("error: ") && first.contains(file_name), "names the wheel: {err}");
    assert!(
        err.lines().any(|l| l.starts_with("  cause: ") && l.contains(expected_cause)),
        "expected cause {expected_cause:?}: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(snapshot(&venv), before, "the environment is untouched");
    let entries_after = snapshot(&cache_entries_dir(&cache));
    assert!(
        entries_after.keys().all(|k| entries_before.contains_key(k)
            || k.starts_with(
                entries_after.keys().find(|e| e.to_str().unwrap().starts_with("fixture_ns_a")).unwrap()
            )),
        "no entry for the refused wheel"
    );
    assert_eq!(
        std::fs::read_dir(cache_staging_dir(&cache))
            .unwrap()
            .filter(|e| !e.as_ref().unwrap().file_name().to_str().unwrap().starts_with(".installer-probe"))
            .count(),
        0,
        "no staging left"
    );
}

#[test]
fn zip_slip_is_refused() {
    check_refused(
        |d| WheelBuilder::new("evil", "1.0").file("../escape.py", b"x").write(d, None),
        "unsafe path",
    );
}

#[test]
fn absolute_paths_are_refused() {
    check_refused(
        |d| WheelBuilder::new("evil", "1.0").file("/tmp/abs.py", b"x").write(d, None),
        "unsafe path",
    );
}

#[test]
fn symlink_members_are_refused() {
    check_refused(
        |d| WheelBuilder::new("evil", "1.0").symlink("evil/link", "/etc/passwd").write(d, None),
        "symlinks are not allowed",
    );
}

#[test]
fn a_bad_hash_is_refused() {
    check_refused(
        |d| {
            let mut w = WheelBuilder::new("evil", "1.0");
            w.record = RecordMode::WrongHash("evil/__init__.py".into());
            w.write(d, None)
        },
        "hash mismatch",
    );
}

#[test]
fn an_unlisted_file_is_refused() {
    check_refused(
        |d| {
            let mut w = WheelBuilder::new("evil", "1.0").file("evil/extra.py", b"x = 1\n");
            w.record = RecordMode::Without(vec!["evil/extra.py".into()]);
            w.write(d, None)
        },
        "evil/extra.py: not listed in RECORD",
    );
}

#[test]
fn a_missing_record_is_refused() {
    check_refused(
        |d| {
            let mut w = WheelBuilder::new("evil", "1.0");
            w.record = RecordMode::Omitted;
            w.write(d, None)
        },
        "RECORD is missing",
    );
}

#[test]
fn wheel_version_2_is_refused() {
    check_refused(
        |d| {
            let mut w = WheelBuilder::new("evil", "1.0");
            w.wheel_version = "2.0".into();
            w.write(d, None)
        },
        "unsupported Wheel-Version 2.0",
    );
}

#[test]
fn a_bad_file_name_is_refused() {
    check_refused(|d| WheelBuilder::new("evil", "1.0").write(d, Some("evil.whl")), "invalid wheel file name");
}

#[test]
fn a_truncated_archive_is_refused() {
    check_refused(
        |d| {
            let path =
                WheelBuilder::new("evil", "1.0").file("evil/big.py", &vec![b'#'; 20_000]).write(d, None);
            let bytes = std::fs::read(&path).unwrap();
            std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
            path
        },
        "not a readable zip archive",
    );
}

#[test]
fn a_missing_wheel_file_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (tmp.path().join("venv"), tmp.path().join("cache"));
    let out = installer(tmp.path(), &args(&venv, &cache, &["nowhere/missing-1.0-py3-none-any.whl"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nowhere/missing-1.0-py3-none-any.whl"), "{}", stderr(&out));
}

#[test]
fn bad_flags_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = installer(tmp.path(), &["install", "--link-mode", "fast", "x.whl"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid value 'fast' for '--link-mode <MODE>'"), "{}", stderr(&out));
    let out = installer(tmp.path(), &["install", "--jobs", "0", "x.whl"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn config_files_set_the_link_mode_and_bad_keys_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (tmp.path().join("venv"), tmp.path().join("cache"));
    std::fs::write(tmp.path().join("pyproject.toml"), "[tool.installer]\nlink-mode = \"copy\"\n").unwrap();
    let wheel = fixture("fixture_ns_a");
    let out = installer(tmp.path(), &args(&venv, &cache, &[wheel.to_str().unwrap()]));
    assert_ok(&out);
    assert!(stderr(&out).contains(": copy"), "{}", stderr(&out));
    // The command line wins over the file.
    let out = installer(
        tmp.path(),
        &args(&tmp.path().join("v2"), &cache, &["--link-mode", "hardlink", wheel.to_str().unwrap()]),
    );
    assert!(stderr(&out).contains(": hardlink"), "{}", stderr(&out));
    // The environment wins over the file too.
    let out = installer_with_env(
        tmp.path(),
        &args(&tmp.path().join("v3"), &cache, &[wheel.to_str().unwrap()]),
        &[("INSTALLER_LINK_MODE", "symlink")],
    );
    assert!(stderr(&out).contains(": symlink"), "{}", stderr(&out));

    std::fs::write(tmp.path().join("installer.toml"), "link-mode = \"fast\"\n").unwrap();
    let out = installer(tmp.path(), &args(&venv, &cache, &[wheel.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("installer.toml: key `link-mode`: unknown link mode `fast`"),
        "{}",
        stderr(&out)
    );
}

/// Below the environment the configuration files take turns, each hiding the next:
/// `./installer.toml`, else `[tool.installer]` in `./pyproject.toml`, then the user's
/// `$XDG_CONFIG_HOME/installer/installer.toml`, then the default; and a bad key in the user's
/// file names that file.
#[test]
fn project_config_hides_user_config_which_hides_the_default() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let user = tmp.path().join("user-config");
    std::fs::create_dir_all(user.join("installer")).unwrap();
    let user_file = user.join("installer/installer.toml");
    std::fs::write(&user_file, "link-mode = \"symlink\"\n").unwrap();
    let wheel = fixture("fixture_ns_a");
    let install = |venv: &str, env: &[(&str, &str)]| {
        installer_with_env(tmp.path(), &args(&tmp.path().join(venv), &cache, &[wheel.to_str().unwrap()]), env)
    };
    let mode = |venv: &str, env: &[(&str, &str)]| {
        let out = install(venv, env);
        assert_ok(&out);
        let text = stderr(&out);
        let summary = text.lines().find(|l| l.starts_with("Installed ")).unwrap_or_default().to_string();
        summary.rsplit(": ").next().unwrap_or_default().to_string()
    };
    let with_user = [("XDG_CONFIG_HOME", user.to_str().unwrap())];

    assert_eq!(mode("v1", &[]), "hardlink", "the default on one filesystem");
    assert_eq!(mode("v2", &with_user), "symlink", "the user's file");
    std::fs::write(tmp.path().join("pyproject.toml"), "[tool.installer]\nlink-mode = \"copy\"\n").unwrap();
    assert_eq!(mode("v3", &with_user), "copy", "pyproject.toml over the user's file");
    std::fs::write(tmp.path().join("installer.toml"), "link-mode = \"hardlink\"\n").unwrap();
    assert_eq!(mode("v4", &with_user), "hardlink", "installer.toml over pyproject.toml");

    std::fs::remove_file(tmp.path().join("installer.toml")).unwrap();
    std::fs::remove_file(tmp.path().join("pyproject.toml")).unwrap();
    std::fs::write(&user_file, "link_mode = \"copy\"\n").unwrap();
    let out = install("v5", &with_user);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let expected = format!("error: {}: key `link_mode`: unknown key", user_file.display());
    assert!(stderr(&out).starts_with(&expected), "{}", stderr(&out));
    assert!(!tmp.path().join("v5").exists(), "nothing was created");
}

#[test]
fn link_fallback_error_refuses_before_touching_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(cache) = tmpfs_dir(tmp.path()) else { return };
    let venv = make_venv(&tmp.path().join("venv"));
    let before = snapshot(&venv);
    let out = installer_with_env(
        tmp.path(),
        &args(&venv, cache.path(), &["--link-fallback", "error", fixture("fixture_ns_a").to_str().unwrap()]),
        &[("INSTALLER_CACHE_SHARDS", "")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("refusing to copy (link-fallback = error)"), "{}", stderr(&out));
    assert_eq!(snapshot(&venv), before);
}

/// The warning's text is pinned in filesystems.rs; here: `quiet` copies all six fixtures
/// without a word, and they work.
#[test]
fn link_fallback_quiet_copies_across_filesystems_without_a_word() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(cache) = tmpfs_dir(tmp.path()) else { return };
    let venv = tmp.path().join("venv");
    let wheels: Vec<String> = GOOD.iter().map(|w| fixture(w).to_str().unwrap().to_string()).collect();
    let mut a = args(&venv, cache.path(), &["--link-fallback", "quiet"]);
    a.extend(wheels.iter().map(String::as_str));
    let out = installer_with_env(tmp.path(), &a, &[("INSTALLER_CACHE_SHARDS", "")]);
    assert_ok(&out);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    assert!(stderr(&out).contains(": copy"), "{}", stderr(&out));
    assert_eq!(python(&venv, "import fixture_pkg; print('ok')"), "ok\n");
}

#[test]
fn a_killed_staging_directory_is_cleaned_and_never_mistaken_for_an_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let wheel = fixture("fixture_ns_a");
    assert_ok(&installer(tmp.path(), &args(&tmp.path().join("v1"), &cache, &[wheel.to_str().unwrap()])));
    // What a process killed mid-unpack leaves: a staging directory with a free lock.
    let stale = cache_staging_dir(&cache).join("entry-killed");
    std::fs::create_dir_all(stale.join("tree/pkg")).unwrap();
    std::fs::write(stale.join(".lock"), "").unwrap();
    std::fs::write(stale.join("tree/pkg/half.py"), "x").unwrap();
    let other = fixture("fixture_ns_b");
    assert_ok(&installer(tmp.path(), &args(&tmp.path().join("v2"), &cache, &[other.to_str().unwrap()])));
    assert!(!stale.exists(), "a cold install removes stale staging directories");
}

#[test]
fn scripts_run_from_a_venv_whose_path_has_spaces_or_exceeds_the_shebang_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let long = tmp.path().join("d".repeat(60)).join("e".repeat(60));
    for venv in [tmp.path().join("my envs/venv one"), long.join("venv")] {
        let wheels = [fixture("fixture_pkg-1.0"), fixture("fixture_data")];
        let out = installer(
            tmp.path(),
            &args(&venv, &cache, &[wheels[0].to_str().unwrap(), wheels[1].to_str().unwrap()]),
        );
        assert_ok(&out);
        let launcher = std::fs::read_to_string(venv.join("bin/fixture-hello")).unwrap();
        assert!(launcher.starts_with("#!/bin/sh\n'''exec' "), "pip's trampoline: {launcher}");
        for (script, expected) in [
            ("fixture-hello", "hello from fixture_pkg 1.0\n"),
            ("fixture-data-py", "hello from fixture_data 1.0 script\n"),
        ] {
            let out = std::process::Command::new(venv.join("bin").join(script)).output().unwrap();
            assert!(
                out.status.success(),
                "{script} in {}: {}",
                venv.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
        }
    }
}

#[test]
fn symlink_mode_refuses_a_cache_removed_when_the_install_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let venv = make_venv(&tmp.path().join("venv"));
    let before = snapshot(&venv);
    let pkg = fixture("fixture_pkg-1.0");
    let args = ["install", "--venv", venv.to_str().unwrap(), "--no-cache", "--link-mode", "symlink"];
    let out = installer(tmp.path(), &[&args[..], &[pkg.to_str().unwrap()]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.starts_with("error: invalid link mode: symlink needs a cache that outlives the install, and ")
            && said.contains("is a temporary cache removed when it ends"),
        "{said}"
    );
    assert_eq!(snapshot(&venv), before, "the environment is left as it was");

    // A new environment is not even created; `auto` never symlinks, so it installs.
    let new = tmp.path().join("new");
    let args = ["install", "--venv", new.to_str().unwrap(), "--no-cache", "--link-mode", "symlink"];
    assert_eq!(installer(tmp.path(), &[&args[..], &[pkg.to_str().unwrap()]].concat()).status.code(), Some(1));
    assert!(!new.exists());
    let args = ["install", "--venv", venv.to_str().unwrap(), "--no-cache", "--link-mode", "auto"];
    assert_ok(&installer(tmp.path(), &[&args[..], &[pkg.to_str().unwrap()]].concat()));
    assert!(!site_packages(&venv).join("fixture_pkg/__init__.py").is_symlink());
    assert_eq!(python(&venv, "import fixture_pkg; print(fixture_pkg.__name__)"), "fixture_pkg\n");
}

/// Under a umask that takes execute and read bits away (077), every file's mode is pip's: an
/// executable member `(0o777 & ~umask) | 0o111`, a launcher `(0o666 & ~umask) | 0o555`, the
/// rest `0o666 & ~umask`. Checked against pip itself, both into `--target`.
#[test]
fn modes_under_a_strict_umask_are_pips() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let work = tempfile::tempdir().unwrap();
    let wheels = [fixture("fixture_pkg-1.0"), fixture("fixture_data")];
    let strict = |command: &mut Command| {
        // SAFETY: umask is async-signal-safe and touches only the child's own state.
        unsafe {
            command.pre_exec(|| {
                libc::umask(0o077);
                Ok(())
            })
        };
    };
    let pip_dir = work.path().join("pip");
    let mut pip = Command::new("python3");
    pip.args(["-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-compile"])
        .arg("--disable-pip-version-check")
        .arg("--target")
        .arg(&pip_dir)
        .args(&wheels);
    strict(&mut pip);
    let out = pip.output().unwrap();
    assert!(out.status.success(), "pip: {}", String::from_utf8_lossy(&out.stderr));

    let ours_dir = work.path().join("ours");
    let cache = work.path().join("cache");
    let mut args =
        vec!["install", "--target", ours_dir.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    args.extend(wheels.iter().map(|w| w.to_str().unwrap()));
    let mut ours = installer_command(work.path(), &args, &[]);
    strict(&mut ours);
    assert_ok(&ours.output().unwrap());

    let modes = |root: &Path| -> Vec<(String, u32)> {
        let mut modes: Vec<(String, u32)> = walkdir::WalkDir::new(root)
            .into_iter()
            .map(Result::unwrap)
            .filter(|e| e.file_type().is_file())
            .map(|e| (e.path().strip_prefix(root).unwrap().display().to_string(), e.metadata().unwrap()))
            .filter(|(rel, _)| {
                !["RECORD", "INSTALLER", "REQUESTED", "direct_url.json"].iter().any(|m| rel.ends_with(m))
            })
            .map(|(rel, meta)| (rel, meta.permissions().mode() & 0o7777))
            .collect();
        modes.sort();
        modes
    };
    let expected = modes(&pip_dir);
    assert!(expected.iter().any(|(_, mode)| *mode == 0o755), "a launcher: {expected:?}");
    assert!(expected.iter().any(|(_, mode)| *mode == 0o711), "an executable member: {expected:?}");
    assert_eq!(modes(&ours_dir), expected);
}
