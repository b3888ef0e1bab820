//! Environments that crashes or other tools left in an odd state. A `.dist-info` with
//! METADATA and no RECORD belongs to a tool that keeps its own list of files (PEP 627: a system
//! package manager): it counts as installed, and is never removed or replaced, with an error
//! and a hint that say why and what to do. One with neither is debris of an interrupted
//! install or uninstall: it never blocks its project. Two `.dist-info` of one project are both
//! replaced by an install.

mod support;

use std::path::{Path, PathBuf};

use support::*;

/// A temporary directory with a venv that has fixture_pkg 1.0 installed, and a cache.
struct Damaged {
    dir: tempfile::TempDir,
    venv: PathBuf,
    cache: PathBuf,
}

impl Damaged {
    fn new() -> Damaged {
        let dir = tempfile::tempdir().unwrap();
        let (venv, cache) = (make_venv(&dir.path().join("venv")), dir.path().join("cache"));
        let damaged = Damaged { dir, venv, cache };
        assert_ok(&damaged.install("fixture_pkg-1.0"));
        damaged
    }

    fn dist_info(&self, name: &str) -> PathBuf {
        site_packages(&self.venv).join(name)
    }

    fn install(&self, wheel: &str) -> std::process::Output {
        let wheel = fixture(wheel);
        let (venv, cache) = (self.venv.to_str().unwrap(), self.cache.to_str().unwrap());
        installer(
            self.dir.path(),
            &["install", "--venv", venv, "--cache-dir", cache, wheel.to_str().unwrap()],
        )
    }

    fn run(&self, command: &str, extra: &[&str]) -> std::process::Output {
        installer(self.dir.path(), &[&[command, "--venv", self.venv.to_str().unwrap()], extra].concat())
    }

    fn dist_infos(&self) -> Vec<String> {
        names(&site_packages(&self.venv)).into_iter().filter(|n| n.ends_with(".dist-info")).collect()
    }
}

/// Failed with exit code 1, one error naming the `.dist-info` and a hint, and nothing changed.
fn assert_refused(out: &std::process::Output, dist_info: &Path, hint: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let error =
        format!("error: cannot remove or replace fixture-pkg 1.0: {} has no RECORD", dist_info.display());
    assert!(err.starts_with(&error) && err.contains("(PEP 627)"), "{err}");
    assert!(err.contains(&format!("\nhint: {hint}")), "{err}");
}

#[test]
fn a_distribution_without_record_is_installed_and_never_removed_or_replaced() {
    let env = Damaged::new();
    let dist_info = env.dist_info("fixture_pkg-1.0.dist-info");
    std::fs::remove_file(dist_info.join("RECORD")).unwrap();
    std::fs::write(dist_info.join("INSTALLER"), "rpm\n").unwrap();
    let before = snapshot(&env.venv);

    // The same version is there: nothing to do.
    let out = env.install("fixture_pkg-1.0");
    assert_ok(&out);
    assert!(stderr(&out).contains("1 wheel already installed"), "{}", stderr(&out));
    // Another version, or an uninstall, would remove files nobody can name.
    let hint =
        format!("remove it with `rpm`; if an interrupted install left it, delete {}", dist_info.display());
    assert_refused(&env.install("fixture_pkg-2.0"), &dist_info, &hint);
    assert_refused(&env.run("uninstall", &["fixture-pkg"]), &dist_info, &hint);
    assert_eq!(snapshot(&env.venv), before, "nothing changed");

    // Without INSTALLER (or from a tool that always writes RECORD) the hint says only the second part.
    std::fs::remove_file(dist_info.join("INSTALLER")).unwrap();
    let hint = "remove it with the tool that installed it; if an interrupted install left it";
    assert_refused(&env.install("fixture_pkg-2.0"), &dist_info, hint);
    std::fs::write(dist_info.join("INSTALLER"), "pip\n").unwrap();
    let hint = format!("if an interrupted install left it, delete {}", dist_info.display());
    assert_refused(&env.install("fixture_pkg-2.0"), &dist_info, &hint);

    // verify says what is missing, and nothing else: no RECORD, nothing to compare with.
    let out = env.run("verify", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    let record = dist_info.join("RECORD");
    assert!(
        said.contains(&format!("missing    {}", record.strip_prefix(&env.venv).unwrap().display())),
        "{said}"
    );
    assert!(!said.contains("unrecorded"), "{said}");
}

/// The one warning about `dist_info`, debris of an interrupted install or uninstall.
fn assert_debris_removed(out: &std::process::Output, dist_info: &Path) {
    assert_ok(out);
    let err = stderr(out);
    let warning = format!("warning: removing {}: it has neither METADATA nor RECORD", dist_info.display());
    assert_eq!(err.matches(&warning).count(), 1, "{err}");
    assert!(!dist_info.exists() || dist_info.join("RECORD").is_file());
}

#[test]
fn an_empty_dist_info_never_blocks_its_project() {
    // Left by an interrupted uninstall: the directory, emptied (uv #2304, #2467).
    let env = Damaged::new();
    let dist_info = env.dist_info("fixture_pkg-1.0.dist-info");
    assert_ok(&env.run("uninstall", &["fixture-pkg"]));
    std::fs::create_dir(&dist_info).unwrap();

    // The same version: installed, not skipped, and the debris is gone with the install.
    assert_debris_removed(&env.install("fixture_pkg-1.0"), &dist_info);
    assert_eq!(env.dist_infos(), ["fixture_pkg-1.0.dist-info"]);
    assert_ok(&env.run("verify", &[]));
    let out = std::process::Command::new(env.venv.join("bin/fixture-hello")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from fixture_pkg 1.0\n");

    // Beside another version: an uninstall of the project removes both.
    let old = env.dist_info("fixture_pkg-0.9.dist-info");
    std::fs::create_dir(&old).unwrap();
    assert_debris_removed(&env.run("uninstall", &["fixture-pkg"]), &old);
    assert_eq!(env.dist_infos(), Vec::<String>::new());
    assert_ok(&env.run("verify", &[]));
}

#[test]
fn two_dist_infos_of_one_project_are_both_replaced() {
    let env = Damaged::new();
    let kept = env.dir.path().join("kept");
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(env.dist_info("fixture_pkg-1.0.dist-info"))
        .arg(&kept)
        .status()
        .unwrap();
    assert!(copied.success());
    assert_ok(&env.install("fixture_pkg-2.0"));
    std::fs::rename(&kept, env.dist_info("fixture_pkg-1.0.dist-info")).unwrap();
    let listed = || String::from_utf8_lossy(&env.run("list", &[]).stdout).matches("fixture-pkg").count();
    assert_eq!(listed(), 2);

    // The same version as one of them: installed, not skipped, and the other one goes.
    let out = env.install("fixture_pkg-2.0");
    assert_ok(&out);
    let said = stderr(&out);
    assert!(said.contains(" - fixture_pkg==1.0") && said.contains(" + fixture_pkg==2.0"), "{said}");
    assert_eq!(env.dist_infos(), ["fixture_pkg-2.0.dist-info"]);
    assert_eq!(listed(), 1);
    assert_ok(&env.run("verify", &[]));
    assert_eq!(python(&env.venv, "import fixture_pkg; print(fixture_pkg.__version__)"), "2.0\n");
}

/// Symlinks another tool (or a user) put in an environment never lead uninstall outside it: a
/// `.dist-info` that is a symlink is removed as a link, and a `__pycache__` that is one is left
/// alone; what they point to stays whole.
#[test]
fn uninstall_never_follows_a_symlinked_dist_info_or_pycache_out_of_the_environment() {
    let damaged = Damaged::new();
    let outside = damaged.dir.path().join("outside");
    let dist_info = damaged.dist_info("fixture_pkg-1.0.dist-info");
    // The real .dist-info moves outside, with a file of the user's beside its own; a link
    // takes its place.
    std::fs::create_dir_all(&outside).unwrap();
    let moved = outside.join("meta");
    std::fs::rename(&dist_info, &moved).unwrap();
    std::fs::write(moved.join("precious.txt"), "keep me").unwrap();
    std::os::unix::fs::symlink(&moved, &dist_info).unwrap();
    // A module's __pycache__ is a link to a directory outside with its bytecode.
    let sub = site_packages(&damaged.venv).join("fixture_pkg/sub");
    let _ = std::fs::remove_dir_all(sub.join("__pycache__"));
    let pycache = outside.join("pycache");
    std::fs::create_dir_all(&pycache).unwrap();
    std::fs::write(pycache.join("helpers.cpython-311.pyc"), "not ours").unwrap();
    std::os::unix::fs::symlink(&pycache, sub.join("__pycache__")).unwrap();

    assert_ok(&damaged.run("uninstall", &["fixture-pkg"]));
    assert!(std::fs::symlink_metadata(&dist_info).is_err(), "the link is removed");
    // The package's files are gone; only the link stays, in the directories that hold it.
    assert_eq!(names(&sub), ["__pycache__"]);
    assert_eq!(names(&site_packages(&damaged.venv).join("fixture_pkg")), ["sub"]);
    let mut kept = names(&moved);
    kept.sort();
    assert!(kept.contains(&"precious.txt".to_string()) && kept.contains(&"RECORD".to_string()), "{kept:?}");
    assert_eq!(names(&pycache), ["helpers.cpython-311.pyc"]);
}
