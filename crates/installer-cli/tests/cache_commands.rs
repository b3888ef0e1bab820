//! `installer cache clean|prune|verify` on real environments sharing one filesystem with the
//! cache: what is removed, what is kept, what is refused.

mod support;

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use support::*;

struct Setup {
    work: tempfile::TempDir,
    cache: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let work = tempfile::tempdir().unwrap();
        let cache = work.path().join("cache");
        Setup { work, cache }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// Installs fixture wheels (by prefix) into a new venv `name` with extra flags.
    fn install(&self, name: &str, wheels: &[&str], extra: &[&str]) -> (PathBuf, Output) {
        let venv = self.path(name);
        if !venv.exists() {
            make_venv(&venv);
        }
        let wheels: Vec<PathBuf> = wheels.iter().map(|w| fixture(w)).collect();
        let mut args =
            vec!["install", "--venv", venv.to_str().unwrap(), "--cache-dir", self.cache.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.extend(wheels.iter().map(|w| w.to_str().unwrap()));
        let out = installer(self.work.path(), &args);
        assert_ok(&out);
        (venv, out)
    }

    /// `installer cache <args> --cache-dir <cache>`.
    fn cache(&self, args: &[&str]) -> Output {
        let mut all = vec!["cache"];
        all.extend_from_slice(args);
        all.extend(["--cache-dir", self.cache.to_str().unwrap()]);
        installer_with_env(self.work.path(), &all, &[("INSTALLER_CACHE_SHARDS", "")])
    }

    fn entries(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(cache_entries_dir(&self.cache))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        ids.sort();
        ids
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn module(venv: &Path) -> PathBuf {
    let lib = venv.join("lib");
    let version = std::fs::read_dir(&lib).unwrap().next().unwrap().unwrap().file_name();
    lib.join(version).join("site-packages/fixture_pkg/sub/helpers.py")
}

#[test]
fn clean_refuses_to_break_a_symlinked_environment_and_names_it_until_forced() {
    let s = Setup::new();
    let (linked, _) = s.install("linked", &["fixture_pkg-1.0"], &["--link-mode", "symlink"]);
    // An environment that was deleted since does not count.
    let (gone, _) = s.install("gone", &["fixture_data"], &["--link-mode", "symlink"]);
    std::fs::remove_dir_all(&gone).unwrap();

    let out = s.cache(&["clean"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "error: the cache is used by symlinked environments: {}; pass --force to remove it anyway",
            linked.display()
        )
    );
    assert_eq!(s.entries().len(), 2, "nothing removed");
    assert_eq!(python(&linked, "import fixture_pkg.sub.helpers; print('ok')").trim(), "ok");

    // The entry the environment does not use can go by name.
    let out = s.cache(&["clean", "fixture-data"]);
    assert_ok(&out);
    assert!(
        stdout(&out).starts_with(&format!("{}: removed 1 entry, freed ", s.cache.display())),
        "{}",
        stdout(&out)
    );

    let out = s.cache(&["clean", "--force"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains(&format!("now broken; reinstall into them: {}", linked.display())),
        "{}",
        stdout(&out)
    );
    assert!(s.entries().is_empty());
    assert!(module(&linked).symlink_metadata().is_ok() && !module(&linked).exists(), "the link dangles");
}

#[test]
fn verify_finds_an_edited_hardlinked_file_and_repair_makes_the_next_install_unpack_afresh() {
    let s = Setup::new();
    let (a, _) = s.install("a", &["fixture_pkg-1.0"], &["--link-mode", "hardlink"]);
    let original = std::fs::read(module(&a)).unwrap();
    assert_ok(&s.cache(&["verify"]));

    // Edit through the environment: the cache's file is the same file.
    std::fs::OpenOptions::new().append(true).open(module(&a)).unwrap().write_all(b"DEBUG = 1\n").unwrap();
    let out = s.cache(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let entry = cache_entries_dir(&s.cache).join(&s.entries()[0]);
    assert_eq!(
        stdout(&out),
        format!(
            "Verified 1 entry (16 files, 1.5 KiB) in {}\n\
             changed since it was unpacked: fixture_pkg 1.0 ({})\n\
             \x20 changed: fixture_pkg/sub/helpers.py\n",
            s.cache.display(),
            entry.display()
        )
    );
    assert_eq!(
        stderr(&out),
        "error: 1 cache entry changed since unpacked (an edited hardlinked file edits the cache too); \
         run `installer cache verify --repair` to evict it\n"
    );

    let out = s.cache(&["verify", "--repair"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("Evicted 1 entry; the next install unpacks a clean copy."),
        "{}",
        stdout(&out)
    );
    assert!(s.entries().is_empty());
    assert_ok(&s.cache(&["verify"]));

    let (b, out) = s.install("b", &["fixture_pkg-1.0"], &["--link-mode", "hardlink", "-v"]);
    assert!(stderr(&out).contains("info: unpacked "), "{}", stderr(&out));
    assert_eq!(std::fs::read(module(&b)).unwrap(), original);
    assert_ne!(std::fs::metadata(module(&a)).unwrap().ino(), std::fs::metadata(module(&b)).unwrap().ino());
}

#[test]
fn prune_removes_entries_of_deleted_environments_and_keeps_those_in_use() {
    let s = Setup::new();
    let (a, _) = s.install("a", &["fixture_pkg-1.0"], &["--link-mode", "hardlink"]);
    let (b, _) = s.install("b", &["fixture_data"], &["--link-mode", "hardlink"]);
    let (_linked, _) = s.install("linked", &["fixture_ns_a"], &["--link-mode", "symlink"]);
    let (_copied, _) = s.install("copied", &["fixture_ns_b"], &["--link-mode", "copy"]);
    std::fs::remove_dir_all(&a).unwrap();

    let out = s.cache(&["prune", "-v"]);
    assert_ok(&out);
    let report = stdout(&out);
    assert!(report.contains("removed 2 entries, freed "), "{report}");
    assert!(report.contains("; kept 2 entries\n"), "{report}");
    assert!(report.contains("  removed fixture_pkg 1.0 ("), "{report}");
    assert!(report.contains("  removed fixture_ns_b 1.0 ("), "{report}");
    assert!(report.contains("Kept entries that symlinked environments point into: "), "{report}");
    let kept: Vec<String> = s.entries().iter().map(|id| id.split('-').next().unwrap().to_string()).collect();
    assert_eq!(kept, ["fixture_data", "fixture_ns_a"]);
    assert_eq!(python(&b, "import fixture_data; print('ok')").trim(), "ok");
}
