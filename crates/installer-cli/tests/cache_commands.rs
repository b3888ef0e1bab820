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
        let wheels: Vec<&Path> = wheels.iter().map(PathBuf::as_path).collect();
        let out = installer(self.work.path(), &install_args(&venv, &self.cache, &wheels, extra));
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
            "error: the cache is used by symlinked environments: {}; removing it would break them\n\
             hint: pass --force to remove it anyway; reinstall those environments afterwards (or \
             install them with another link mode, which survives a cache clean)",
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

/// `--repair` cannot evict a changed entry a running install holds: it says so and exits 1,
/// since the cache still holds a changed entry; once the install is done, it evicts it.
#[test]
fn verify_repair_exits_1_while_a_changed_entry_stays_in_use() {
    let s = Setup::new();
    let (a, _) = s.install("a", &["fixture_pkg-1.0"], &["--link-mode", "hardlink"]);
    std::fs::OpenOptions::new().append(true).open(module(&a)).unwrap().write_all(b"DEBUG = 1\n").unwrap();
    let b = make_venv(&s.path("b"));
    let wheel = fixture("fixture_pkg-1.0");
    let holding = Paused::start(s.work.path(), &install_args(&b, &s.cache, &[&wheel], &[]), "entry-leased");
    let out = s.cache(&["verify", "--repair"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("Kept 1 entry in use by a running install"), "{}", stdout(&out));
    assert!(stderr(&out).contains("1 entry changed and still in the cache"), "{}", stderr(&out));
    assert_eq!(s.entries().len(), 1);
    assert_ok(&holding.resume());
    assert_ok(&s.cache(&["verify", "--repair"]));
    assert!(s.entries().is_empty());
}

#[test]
fn verify_repair_refuses_to_break_a_symlinked_environment_until_forced() {
    use std::os::unix::fs::PermissionsExt;
    let s = Setup::new();
    let (linked, _) = s.install("linked", &["fixture_pkg-1.0"], &["--link-mode", "symlink"]);
    let cached = std::fs::canonicalize(module(&linked)).unwrap();
    assert!(cached.starts_with(std::fs::canonicalize(&s.cache).unwrap()), "{}", cached.display());
    std::fs::set_permissions(&cached, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::OpenOptions::new().append(true).open(&cached).unwrap().write_all(b"DEBUG = 1\n").unwrap();

    let out = s.cache(&["verify", "--repair"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).starts_with(&format!(
            "error: the cache is used by symlinked environments: {}; removing it would break them\n\
             hint: pass --force",
            linked.display()
        )),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("keep their files"), "{}", stdout(&out));
    assert_eq!(s.entries().len(), 1, "nothing removed");
    assert_eq!(python(&linked, "import fixture_pkg.sub.helpers; print('ok')").trim(), "ok");

    let out = s.cache(&["verify", "--repair", "--force"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains(&format!(
            "Broke symlinked environments (--force): {}; reinstall them.",
            linked.display()
        )),
        "{}",
        stdout(&out)
    );
    assert!(s.entries().is_empty());
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

impl Setup {
    /// `cache info --format json`.
    fn info(&self) -> serde_json::Value {
        let out = self.cache(&["info", "--format", "json"]);
        assert_ok(&out);
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Names of the main cache's entries, least recently used first, as `cache info` orders them.
    fn by_last_use(&self) -> Vec<String> {
        self.info()["caches"][0]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Space the files under `dir` take on disk, each (device, inode) once: what `du` counts.
fn du(dir: &Path) -> u64 {
    let mut seen = std::collections::HashSet::new();
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap().metadata().unwrap())
        .filter(|m| m.is_file() && seen.insert((m.dev(), m.ino())))
        .map(|m| m.blocks() * 512)
        .sum()
}

#[test]
fn cache_max_size_evicts_least_recently_used_entries_never_this_installs_or_a_symlinked_environments() {
    let s = Setup::new();
    let (a, _) = s.install("a", &["fixture_pkg-1.0"], &["--link-mode", "hardlink"]);
    let (linked, _) = s.install("linked", &["fixture_data"], &["--link-mode", "symlink"]);
    let (c, _) = s.install("c", &["fixture_ns_a"], &["--link-mode", "hardlink"]);
    // A warm install uses fixture_pkg again: it is now more recent than fixture_ns_a.
    s.install("a2", &["fixture_pkg-1.0"], &["--link-mode", "hardlink"]);
    assert_eq!(s.by_last_use(), ["fixture_data", "fixture_ns_a", "fixture_pkg"]);

    // Hardlinked twice, counted once: the same as du.
    let info = s.info();
    // The main cache only: automatic shards elsewhere on the machine are listed too.
    let total = info["caches"][0]["disk_bytes"].as_u64().unwrap();
    assert_eq!(total, du(&cache_entries_dir(&s.cache)));
    assert_eq!(info["caches"][0]["entries"].as_array().unwrap().len(), 3);

    // Capped at what the cache holds now, the next install must make room for its own entry
    // (fixture_ns_b takes as much as fixture_ns_a): the least recently used that may go is
    // fixture_ns_a (fixture_data's environment symlinks into it), not fixture_pkg, the first
    // one unpacked.
    let cap = total.to_string();
    let venv = s.path("d");
    make_venv(&venv);
    let ns_b = fixture("fixture_ns_b");
    let out = installer_with_env(
        s.work.path(),
        &install_args(&venv, &s.cache, &[&ns_b], &["-v"]),
        &[("INSTALLER_CACHE_MAX_SIZE", &cap), ("INSTALLER_CACHE_SHARDS", "")],
    );
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains("Evicted 1 cache entry least recently used ("), "{err}");
    assert!(err.contains("info: evicted fixture_ns_a 1.0 ("), "{err}");
    assert!(!err.contains("warning:"), "{err}");
    assert_eq!(s.by_last_use(), ["fixture_data", "fixture_pkg", "fixture_ns_b"]);
    assert!(s.info()["caches"][0]["disk_bytes"].as_u64().unwrap() <= total);
    // A hardlinked environment keeps its files; the symlinked one was never touched.
    assert_eq!(python(&c, "import fixture_ns.a; print('ok')").trim(), "ok");
    assert_eq!(python(&linked, "import fixture_data; print('ok')").trim(), "ok");

    // With a cap nothing fits under, everything that may go goes, and the rest is named.
    let ns_a = fixture("fixture_ns_a");
    let out = installer_with_env(
        s.work.path(),
        &install_args(&venv, &s.cache, &[&ns_a], &["-v"]),
        &[("INSTALLER_CACHE_MAX_SIZE", "1"), ("INSTALLER_CACHE_SHARDS", "")],
    );
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains("Evicted 2 cache entries least recently used ("), "{err}");
    assert!(err.contains("warning: the cache takes "), "{err}");
    assert_eq!(s.by_last_use(), ["fixture_data", "fixture_ns_a"], "this install's entry stays");
    assert_eq!(python(&a, "import fixture_pkg.sub.helpers; print('ok')").trim(), "ok");
}

#[test]
fn prune_by_age_and_size_after_unused_entries_with_bytecode_counted_and_removed_with_its_entry() {
    let s = Setup::new();
    let (a, _) = s.install("a", &["fixture_pkg-1.0"], &["--link-mode", "hardlink", "--compile"]);
    s.install("linked", &["fixture_data"], &["--link-mode", "symlink"]);
    let (c, _) = s.install("c", &["fixture_ns_a"], &["--link-mode", "hardlink"]);
    s.install("copied", &["fixture_ns_b"], &["--link-mode", "copy"]);
    s.install("a2", &["fixture_pkg-1.0"], &["--link-mode", "hardlink"]);

    // The bytecode beside fixture_pkg's tree is part of its entry.
    let info = s.info();
    let pkg =
        info["caches"][0]["entries"].as_array().unwrap().iter().find(|e| e["name"] == "fixture_pkg").unwrap();
    let pkg_dir = cache_entries_dir(&s.cache).join(pkg["id"].as_str().unwrap());
    let pyc: Vec<_> = std::fs::read_dir(&pkg_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("pyc-"))
        .collect();
    assert_eq!(pyc.len(), 1, "{pyc:?}");
    assert_eq!(pkg["disk_bytes"].as_u64().unwrap(), du(&pkg_dir));
    assert!(du(&pkg_dir.join(&pyc[0])) > 0);
    assert!(du(&pkg_dir) >= du(&pkg_dir.join("tree")) + du(&pkg_dir.join(&pyc[0])));

    // Unused entries go first, as a plain prune removes them; nothing here is 100 years old.
    let out = s.cache(&["prune", "--older-than", "100y", "-v"]);
    assert_ok(&out);
    assert!(stdout(&out).contains("removed 1 entry, freed "), "{}", stdout(&out));
    assert!(stdout(&out).contains("  removed fixture_ns_b 1.0 ("), "{}", stdout(&out));
    assert_eq!(s.by_last_use(), ["fixture_data", "fixture_ns_a", "fixture_pkg"]);

    // One byte less than everything: the least recently used entry that may go.
    let total = s.info()["caches"][0]["disk_bytes"].as_u64().unwrap();
    let out = s.cache(&["prune", "--max-size", &(total - 1).to_string()]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("removed 1 entry (of which 1 least recently used, to fit --max-size), freed "),
        "{}",
        stdout(&out)
    );
    assert_eq!(s.by_last_use(), ["fixture_data", "fixture_pkg"]);

    // Everything is older than 0s, but a symlinked environment's entry stays.
    let out = s.cache(&["prune", "--older-than", "0s"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("removed 1 entry (of which 1 not used within --older-than), freed "),
        "{}",
        stdout(&out)
    );
    assert_eq!(s.by_last_use(), ["fixture_data"]);
    assert!(!pkg_dir.exists(), "the entry and its bytecode are gone");
    assert_eq!(python(&a, "import fixture_pkg.sub.helpers; print('ok')").trim(), "ok");
    assert_eq!(python(&c, "import fixture_ns.a; print('ok')").trim(), "ok");

    let out = s.cache(&["info"]);
    assert_ok(&out);
    assert!(stdout(&out).starts_with(&format!("{}: 1 entry, ", s.cache.display())), "{}", stdout(&out));
    assert!(stdout(&out).contains(" on disk, least recently used "), "{}", stdout(&out));
}
