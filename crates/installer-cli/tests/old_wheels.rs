//! Old and odd wheels that pip installs, installed as pip installs them. All of them are
//! installed by pip and by us into twin environments in one run each (pip's start-up is most of
//! the cost), the trees and RECORDs are compared, then each case is checked on its own.
//!
//! Where our RECORD differs from pip's, it is on purpose and the same in every case: pip copies
//! the wheel's row of a file it did not install (a file the archive lacks, a setuptools
//! wrapper it skipped), so its RECORD names files that do not exist; ours lists only what was
//! installed.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::*;

/// Twin environments after installing the same wheels with pip and with us.
struct Installed {
    tmp: tempfile::TempDir,
    ours: PathBuf,
    /// Our run: its stderr holds the warnings.
    out: Output,
    /// pip's stderr.
    pip_stderr: String,
    /// By `.dist-info`: rows of pip's RECORD for paths that do not exist (ours has all the
    /// others, and no more).
    pip_only_rows: BTreeMap<String, BTreeSet<String>>,
}

#[test]
fn old_and_odd_wheels_install_as_pip_installs_them() {
    let both = install_with_both(|dir| {
        let mut early = WheelBuilder::new("old_wv", "1.0");
        early.wheel_version = "0.1".into();
        let mut newer = WheelBuilder::new("new_wv", "1.0");
        newer.wheel_version = "1.9".into();
        // What old `bdist_wheel` releases did: DESCRIPTION.rst in RECORD, not in the archive.
        let mut absent = WheelBuilder::new("old_record", "1.0");
        absent.record = RecordMode::Extra(vec![format!(
            "{}/DESCRIPTION.rst,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0",
            absent.dist_info()
        )]);
        // WHEEL without Root-Is-Purelib, or with a value that is not `true`: platlib for pip
        // and uv (the same directory as purelib in a venv).
        let mut unsaid = WheelBuilder::new("no_purelib", "1.0");
        unsaid.wheel_file = Some("Wheel-Version: 1.0\nGenerator: old\nTag: py3-none-any\n".into());
        let mut odd = WheelBuilder::new("odd_purelib", "1.0");
        odd.wheel_file = Some("Wheel-Version: 1.0\nRoot-Is-Purelib: yes\nTag: py3-none-any\n".into());
        vec![
            unsaid.write(dir, None),
            odd.write(dir, None),
            early.write(dir, None),
            newer.write(dir, None),
            absent.write(dir, None),
            fixture("fixture_wrappers-1.0"),
            fixture("fixture_easy_install-1.0"),
        ]
    });
    wheel_version_0_1_of_early_wheel_releases_installs_without_a_word(&both);
    a_newer_minor_wheel_version_installs_with_a_warning_as_pip_gives(&both);
    a_record_row_for_a_file_the_archive_lacks_is_ignored(&both);
    setuptools_wrapper_scripts_give_way_to_the_generated_launchers(&both);
    versioned_easy_install_entry_points_for_other_pythons_are_dropped(&both);
    a_missing_or_odd_root_is_purelib_means_platlib_as_for_pip(&both);
}

fn a_missing_or_odd_root_is_purelib_means_platlib_as_for_pip(both: &Installed) {
    for name in ["no_purelib", "odd_purelib"] {
        assert_eq!(both.pip_only_rows[&format!("{name}-1.0.dist-info")], rows(&[]));
        assert_eq!(python(&both.ours, &format!("import {name}; print({name}.VALUE)")), "1\n");
    }
}

fn wheel_version_0_1_of_early_wheel_releases_installs_without_a_word(both: &Installed) {
    // Named only in the summary's ` + old_wv==1.0`, never in a warning.
    let err = stderr(&both.out);
    assert!(err.lines().filter(|l| l.contains("old_wv")).all(|l| l == " + old_wv==1.0"), "{err}");
    assert!(!both.pip_stderr.contains("(0.1)"), "{}", both.pip_stderr);
    assert_eq!(both.pip_only_rows["old_wv-1.0.dist-info"], rows(&[]));
    assert_eq!(python(&both.ours, "import old_wv; print(old_wv.VALUE)"), "1\n");
}

fn a_newer_minor_wheel_version_installs_with_a_warning_as_pip_gives(both: &Installed) {
    assert!(both.pip_stderr.contains("Installing from a newer Wheel-Version (1.9)"), "{}", both.pip_stderr);
    let warning = "new_wv-1.0-py3-none-any.whl: installing from a newer Wheel-Version (1.9) than this \
                   installer implements (1.0)";
    let warned =
        |out: &Output| stderr(out).lines().any(|l| l.starts_with("warning: ") && l.ends_with(warning));
    assert!(warned(&both.out), "{}", stderr(&both.out));
    assert_eq!(python(&both.ours, "import new_wv; print(new_wv.VALUE)"), "1\n");
    // Every install warns, from a warm cache too (the manifest keeps the version).
    let tmp = both.tmp.path();
    let (venv, cache, wheel) =
        (both.ours.to_str().unwrap(), tmp.join("cache"), tmp.join("new_wv-1.0-py3-none-any.whl"));
    let out = installer(
        tmp,
        &[
            "install",
            "--reinstall",
            "--venv",
            venv,
            "--cache-dir",
            cache.to_str().unwrap(),
            wheel.to_str().unwrap(),
        ],
    );
    assert_ok(&out);
    assert!(warned(&out), "{}", stderr(&out));
}

fn a_record_row_for_a_file_the_archive_lacks_is_ignored(both: &Installed) {
    let description = "old_record-1.0.dist-info/DESCRIPTION.rst";
    assert_eq!(both.pip_only_rows["old_record-1.0.dist-info"], rows(&[description]));
    assert!(!site_packages(&both.ours).join(description).exists());
    assert_eq!(python(&both.ours, "import old_record; print(old_record.VALUE)"), "1\n");
}

fn setuptools_wrapper_scripts_give_way_to_the_generated_launchers(both: &Installed) {
    let wrappers = ["fixture-wrap.exe", "fixture-wrap-script.py", "fixture-wrap.pya", "fixture-wrap-gui.EXE"];
    let skipped: Vec<String> = ["fixture-wrap"]
        .iter()
        .chain(&wrappers)
        .map(|w| format!("fixture_wrappers-1.0.data/scripts/{w}"))
        .collect();
    assert_eq!(both.pip_only_rows["fixture_wrappers-1.0.dist-info"], skipped.into_iter().collect());
    for wrapper in wrappers {
        assert!(!both.ours.join("bin").join(wrapper).exists(), "{wrapper}");
    }
    // The launchers are ours (distlib's template), not setuptools' pkg_resources wrappers.
    assert_eq!(run(&both.ours, "fixture-wrap"), "wrap from fixture_wrappers 1.0\n");
    assert_eq!(run(&both.ours, "fixture-wrap-gui"), "wrap gui from fixture_wrappers 1.0\n");
    // Not wrappers by pip's rule: installed, `#!python` rewritten.
    assert_eq!(run(&both.ours, "fixture-wrap-tool"), "tool from fixture_wrappers 1.0\n");
    assert!(both.ours.join("bin/fixture-wrap-gui-script.pyw").is_file());
}

fn versioned_easy_install_entry_points_for_other_pythons_are_dropped(both: &Installed) {
    let version = python(&both.ours, "import sys; print('%d.%d' % sys.version_info[:2])");
    let this_python = format!("easy_install-{}", version.trim());
    let bin = |name: &str| both.ours.join("bin").join(name).exists();
    assert!(!bin("easy_install-2.6"));
    for kept in ["easy_install", this_python.as_str(), "easy_install-3", "easy_install-2.7"] {
        assert!(bin(kept), "{kept}");
    }
    assert_eq!(run(&both.ours, &this_python), format!("{this_python} from fixture_easy_install 1.0\n"));
    assert_eq!(both.pip_only_rows["fixture_easy_install-1.0.dist-info"], rows(&[]));
}

/// Installs the wheels `make` returns (made in a temporary directory) with pip and with us,
/// asserts that both environments hold the same files and that each RECORD of ours is pip's
/// without its rows for files that do not exist.
fn install_with_both(make: impl FnOnce(&Path) -> Vec<PathBuf>) -> Installed {
    let tmp = tempfile::tempdir().unwrap();
    let wheels = make(tmp.path());
    // Same base name: `activate` scripts embed it.
    let (ours, pips) = (tmp.path().join("ours/venv"), make_venv(&tmp.path().join("pip/venv")));
    let cache = tmp.path().join("cache");
    let mut args = vec!["install", "--venv", ours.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    args.extend(wheels.iter().map(|w| w.to_str().unwrap()));
    let out = installer(tmp.path(), &args);
    assert_ok(&out);
    let pip_stderr = pip_install(&pips, &wheels);
    assert_same_files(&ours, &pips);

    let (our_records, pip_records) = (records(&site_packages(&ours)), records(&site_packages(&pips)));
    assert_eq!(our_records.keys().collect::<Vec<_>>(), pip_records.keys().collect::<Vec<_>>());
    let mut pip_only_rows = BTreeMap::new();
    for (dist_info, pip_rows) in pip_records {
        let (pip_existing, pip_only): (BTreeSet<String>, BTreeSet<String>) =
            pip_rows.into_iter().partition(|path| site_packages(&pips).join(path).exists());
        assert_eq!(
            our_records[&dist_info], pip_existing,
            "{dist_info}: our RECORD vs pip's rows for files that exist"
        );
        pip_only_rows.insert(dist_info, pip_only);
    }
    Installed { tmp, ours, out, pip_stderr, pip_only_rows }
}

/// The paths in the RECORD of every `.dist-info` in `site` (no commas in these fixtures).
fn records(site: &Path) -> BTreeMap<String, BTreeSet<String>> {
    std::fs::read_dir(site)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".dist-info"))
        .map(|name| {
            let text = std::fs::read_to_string(site.join(&name).join("RECORD")).unwrap();
            (name, text.lines().map(|row| row.rsplitn(3, ',').last().unwrap().to_string()).collect())
        })
        .collect()
}

/// Runs `bin/<name>` of the environment; returns its stdout.
fn run(venv: &Path, name: &str) -> String {
    let out = Command::new(venv.join("bin").join(name)).output().unwrap();
    assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn rows(rows: &[&str]) -> BTreeSet<String> {
    rows.iter().map(|r| r.to_string()).collect()
}

/// A `#!python` script whose first line declared its encoding reads otherwise once that line is
/// rewritten: its `.pyc` is compiled from the rewrite for the install, as pip's would be, not
/// served from the set compiled from the original (which read `café` as latin-1). Invalid UTF-8
/// on that line changes nothing (a comment is never decoded): the set's `.pyc` is valid.
#[test]
fn a_script_whose_dropped_first_line_changed_how_it_compiles_gets_the_rewrites_bytecode() {
    let tmp = tempfile::tempdir().unwrap();
    let (cache, venv) = (tmp.path().join("cache"), make_venv(&tmp.path().join("venv")));
    let wheel = WheelBuilder::new("tools", "1.0")
        .file("tools-1.0.data/scripts/latin.py", b"#!python # -*- coding: latin-1 -*-\nX = 'caf\xc3\xa9'\n")
        .file("tools-1.0.data/scripts/odd.py", b"#!python \xff\nX = 1\n")
        .write(tmp.path(), None);
    install_compiling_without_warnings(tmp.path(), &venv, &cache, &wheel);
    assert_pycs_fresh(&venv, &[venv.join("bin/latin.py"), venv.join("bin/odd.py")]);
}

/// pip compiles every `.py` file it installs, wherever it goes (docutils' `rst2html.py`,
/// jmespath's `jp.py` in `bin/`), and lists the `.pyc` in RECORD; `--compile` does the same,
/// with a `.pyc` Python accepts for the source as installed (its `#!python` line rewritten),
/// compiled once into the cache: a second environment starts no compiler. Where the
/// interpreter's path needs the `/bin/sh` trampoline (a space in it), the script still runs and
/// its `.pyc`, compiled for that install, is valid too.
#[test]
fn compile_also_compiles_scripts_and_data_files_as_pip_does_once_into_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let wheel = WheelBuilder::new("tools", "1.0")
        .file("tools-1.0.data/scripts/tool.py", b"#!python\nprint('tool')\n")
        .file("tools-1.0.data/scripts/plain.py", b"#!/usr/bin/env python\nprint('plain')\n")
        .file("tools-1.0.data/data/share/tools/helper.py", b"X = 1\n")
        .write(tmp.path(), None);
    let install = |venv: &Path| {
        let out = install_compiling_without_warnings(tmp.path(), venv, &cache, &wheel);
        let sources = ["bin/tool.py", "bin/plain.py", "share/tools/helper.py"].map(|s| venv.join(s));
        assert_pycs_fresh(venv, &sources);
        let tag = python(venv, "import sys; print(sys.implementation.cache_tag)").trim().to_string();
        let record = std::fs::read_to_string(site_packages(venv).join("tools-1.0.dist-info/RECORD")).unwrap();
        for pyc in ["bin/__pycache__/tool", "bin/__pycache__/plain", "share/tools/__pycache__/helper"] {
            assert!(record.contains(&format!("/{pyc}.{tag}.pyc,sha256=")), "{pyc} in:\n{record}");
        }
        // Run by the kernel, as a user would (made executable here: the test wheel's is not).
        let script = venv.join("bin/tool.py");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let ran = Command::new(&script).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ran.stdout),
            "tool\n",
            "{}",
            String::from_utf8_lossy(&ran.stderr)
        );
        out
    };
    let first = stderr(&install(&make_venv(&tmp.path().join("first"))));
    // `tools/__init__.py` and the three above, into the cache.
    assert!(first.contains("compiling 4 files of 1 wheels"), "{first}");
    assert_compiled_nothing(&install(&make_venv(&tmp.path().join("second"))));
    let spaced = stderr(&install(&make_venv(&tmp.path().join("my envs/third"))));
    assert!(spaced.contains("compiling 1 file installed outside site-packages"), "{spaced}");
}

/// `install -v --compile` of `wheel` into `venv`, which succeeds without a warning.
fn install_compiling_without_warnings(
    cwd: &Path,
    venv: &Path,
    cache: &Path,
    wheel: &Path,
) -> std::process::Output {
    let (v, c) = (venv.to_str().unwrap(), cache.to_str().unwrap());
    let out = installer(
        cwd,
        &["install", "-v", "--venv", v, "--cache-dir", c, "--compile", wheel.to_str().unwrap()],
    );
    assert_ok(&out);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    out
}
