//! Environments that crashes or other tools left damaged, which no command may leave stuck.
//! A distribution without a RECORD (an install killed before writing it, a tool that deleted
//! it) has unknown files: installing a wheel of the same project replaces it, `uninstall`
//! removes its `.dist-info`, each with one warning, and `verify` reports the missing RECORD.
//! Two `.dist-info` of one project (two versions side by side) are both replaced by an install.

mod support;

use std::path::{Path, PathBuf};

use support::*;

/// A venv in `dir` with fixture_pkg 1.0 installed, then its RECORD deleted and one of its
/// modules replaced by a file of another content (not through the cache's hardlink).
fn without_record(dir: &Path) -> (PathBuf, PathBuf) {
    let (venv, cache) = (make_venv(&dir.join("venv")), dir.join("cache"));
    install(dir, &venv, &cache, "fixture_pkg-1.0");
    let site = site_packages(&venv);
    std::fs::remove_file(site.join("fixture_pkg-1.0.dist-info/RECORD")).unwrap();
    std::fs::remove_file(site.join("fixture_pkg/cli.py")).unwrap();
    std::fs::write(site.join("fixture_pkg/cli.py"), "left by a crash\n").unwrap();
    (venv, cache)
}

fn install(dir: &Path, venv: &Path, cache: &Path, wheel: &str) -> String {
    let wheel = fixture(wheel);
    let args = ["install", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    let out = installer(dir, &[&args[..], &[wheel.to_str().unwrap()]].concat());
    assert_ok(&out);
    stderr(&out)
}

fn verify(dir: &Path, venv: &Path) -> std::process::Output {
    installer(dir, &["verify", "--venv", venv.to_str().unwrap()])
}

/// The one warning, naming the `.dist-info` and what is done.
fn assert_warned(err: &str, venv: &Path) {
    let dist_info = site_packages(venv).join("fixture_pkg-1.0.dist-info");
    let warning = format!("warning: {} has no RECORD", dist_info.display());
    assert_eq!(err.matches(&warning).count(), 1, "{err}");
    assert!(err.contains("removing only the .dist-info directory"), "{err}");
}

#[test]
fn the_same_version_is_installed_over_it_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (venv, cache) = without_record(dir.path());
    let out = verify(dir.path(), &venv);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    let record = site_packages(&venv).join("fixture_pkg-1.0.dist-info/RECORD");
    let missing = format!("missing    {}", record.strip_prefix(&venv).unwrap().display());
    assert!(said.contains(&missing), "{said}");
    assert!(!said.contains("unrecorded"), "nothing else can be judged without a RECORD: {said}");

    let err = install(dir.path(), &venv, &cache, "fixture_pkg-1.0");
    assert_warned(&err, &venv);
    assert_ok(&verify(dir.path(), &venv));
    let reference = make_venv(&dir.path().join("reference"));
    install(dir.path(), &reference, &cache, "fixture_pkg-1.0");
    let cli = |venv: &Path| std::fs::read(site_packages(venv).join("fixture_pkg/cli.py")).unwrap();
    assert_eq!(cli(&venv), cli(&reference), "the wheel's file replaced the one left behind");
    let out = std::process::Command::new(venv.join("bin/fixture-hello")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from fixture_pkg 1.0\n");
}

#[test]
fn an_upgrade_removes_its_dist_info() {
    let dir = tempfile::tempdir().unwrap();
    let (venv, cache) = without_record(dir.path());
    let err = install(dir.path(), &venv, &cache, "fixture_pkg-2.0");
    assert_warned(&err, &venv);
    let dist_infos: Vec<String> =
        names(&site_packages(&venv)).into_iter().filter(|n| n.ends_with(".dist-info")).collect();
    assert_eq!(dist_infos, ["fixture_pkg-2.0.dist-info"]);
    assert_eq!(python(&venv, "import fixture_pkg; print(fixture_pkg.__version__)"), "2.0\n");
}

#[test]
fn uninstall_removes_its_dist_info_and_says_what_stays() {
    let dir = tempfile::tempdir().unwrap();
    let (venv, _) = without_record(dir.path());
    let out = installer(dir.path(), &["uninstall", "--venv", venv.to_str().unwrap(), "fixture-pkg"]);
    assert_ok(&out);
    assert_warned(&stderr(&out), &venv);
    let site = site_packages(&venv);
    assert!(!site.join("fixture_pkg-1.0.dist-info").exists());
    assert!(site.join("fixture_pkg/cli.py").exists(), "files RECORD would have named are unknown: they stay");
    let out = installer(dir.path(), &["list", "--venv", venv.to_str().unwrap()]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("fixture"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_ok(&verify(dir.path(), &venv));
}

#[test]
fn two_dist_infos_of_one_project_are_both_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&dir.path().join("venv")), dir.path().join("cache"));
    let other = make_venv(&dir.path().join("other"));
    install(dir.path(), &other, &cache, "fixture_pkg-1.0");
    install(dir.path(), &venv, &cache, "fixture_pkg-2.0");
    let old = "fixture_pkg-1.0.dist-info";
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(site_packages(&other).join(old))
        .arg(site_packages(&venv))
        .status()
        .unwrap();
    assert!(copied.success());
    let list = || installer(dir.path(), &["list", "--venv", venv.to_str().unwrap()]);
    assert_eq!(String::from_utf8_lossy(&list().stdout).matches("fixture-pkg").count(), 2);

    // The same version as one of them: installed, not skipped, and the other one goes.
    let wheel = fixture("fixture_pkg-2.0");
    let args = ["install", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    let out = installer(dir.path(), &[&args[..], &[wheel.to_str().unwrap()]].concat());
    assert_ok(&out);
    let said = stderr(&out);
    assert!(said.contains(" - fixture_pkg==1.0") && said.contains(" + fixture_pkg==2.0"), "{said}");
    let dist_infos: Vec<String> =
        names(&site_packages(&venv)).into_iter().filter(|n| n.ends_with(".dist-info")).collect();
    assert_eq!(dist_infos, ["fixture_pkg-2.0.dist-info"]);
    assert_eq!(String::from_utf8_lossy(&list().stdout).matches("fixture-pkg").count(), 1);
    assert_ok(&verify(dir.path(), &venv));
    assert_eq!(python(&venv, "import fixture_pkg; print(fixture_pkg.__version__)"), "2.0\n");
}
