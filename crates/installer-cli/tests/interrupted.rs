//! Interrupted runs: Ctrl-C and SIGKILL at the moments that matter (unpacking, moving aside,
//! placing, uninstalling, recovering), and a wheel replaced while it is unpacked. Each test
//! stops a real `installer` process at a named pause point and interrupts or kills it there
//! (a Ctrl-C's effect is awaited by the line the process prints for it, never by a delay),
//! then checks what the environment and the cache hold and that the next run sets things
//! right.

mod support;

use std::path::{Path, PathBuf};

use support::privileged::open_workdir;
use support::*;

/// Ctrl-C during a cold install of three large wheels, once the first is cached (paused
/// there): the others are not unpacked, exit 130 with the documented message, no staging
/// left, venv as before; the same command then succeeds.
#[test]
fn ctrl_c_stops_a_cold_install_and_removes_its_temporary_files() {
    let work = open_workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let wheels: Vec<PathBuf> =
        ["alpha", "beta", "gamma"].iter().map(|n| big_wheel(work.path(), n, "1.0", 24, 2 << 20)).collect();
    let wheel_refs: Vec<&Path> = wheels.iter().map(PathBuf::as_path).collect();
    let before = snapshot(&venv);
    let args = install_args(&venv, &cache, &wheel_refs, &["-j", "1"]);

    let out = Paused::start(work.path(), &args, "entry-leased").interrupt();
    assert_failed(&out, 130, &["error: interrupted; nothing was changed"]);
    assert_eq!(snapshot(&venv), before, "venv unchanged");
    assert_eq!(names(&cache_staging_dir(&cache)), Vec::<String>::new(), "no staging directory left");
    assert_eq!(names(&cache_entries_dir(&cache)).len(), 1, "only the first wheel was unpacked");

    assert_ok(&installer(work.path(), &args));
    assert_eq!(names(&cache_entries_dir(&cache)).len(), 3);
    for name in ["alpha", "beta", "gamma"] {
        assert!(site_packages(&venv).join(format!("{name}-1.0.dist-info/RECORD")).is_file());
    }
}

/// The two versions of an upgrade in `work`: `grow` 1.0 (30 files of 4 KiB) and, in `new/`,
/// 2.0 (60).
fn grow_wheels(work: &Path) -> (PathBuf, PathBuf) {
    let old = big_wheel(work, "grow", "1.0", 30, 4 << 10);
    let new_dir = work.join("new");
    std::fs::create_dir(&new_dir).unwrap();
    let new = big_wheel(&new_dir, "grow", "2.0", 60, 4 << 10);
    (old, new)
}

/// Ctrl-C during an upgrade, paused once the old version's files are moved aside: the
/// rollback puts them back, so the venv is exactly as before, and the command exits 130.
#[test]
fn ctrl_c_mid_upgrade_rolls_back() {
    let work = open_workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let (old, new) = grow_wheels(work.path());
    assert_ok(&installer(work.path(), &install_args(&venv, &cache, &[&old], &[])));
    let before = snapshot(&venv);

    let args = install_args(&venv, &cache, &[&new], &[]);
    let out = Paused::start(work.path(), &args, "moved-aside").interrupt();
    assert_failed(&out, 130, &["error: interrupted; nothing was changed"]);
    assert_eq!(snapshot(&venv), before, "venv as before the upgrade");
}

/// SIGKILL while upgrading (cache warm, copy mode), at each step of the transaction: the old
/// version's files moved aside (`moved-aside`), the new ones journaled (`journaled`), one of
/// them placed (`file-placed`). Each time the next run rolls back whatever the dead one left,
/// installs, and the result equals a clean upgrade; no backup directory stays.
#[test]
fn sigkill_mid_upgrade_is_recovered_by_the_next_run() {
    let work = open_workdir();
    let cache = work.path().join("cache");
    let reference = venv_at(&work.path().join("reference"));
    let (old, new) = grow_wheels(work.path());
    let copy = ["--link-mode", "copy"];
    assert_ok(&installer(work.path(), &install_args(&reference, &cache, &[&old], &copy)));
    assert_ok(&installer(work.path(), &install_args(&reference, &cache, &[&new], &copy)));
    let files_in =
        |dir: &Path| snapshot(dir).values().filter(|node| matches!(node, Node::File { .. })).count();

    for point in ["moved-aside", "journaled", "file-placed"] {
        let venv = venv_at(&work.path().join(point));
        assert_ok(&installer(work.path(), &install_args(&venv, &cache, &[&old], &copy)));
        let args = install_args(&venv, &cache, &[&new], &copy);
        Paused::start(work.path(), &args, point).kill();

        // Killed inside the transaction: its backup directory (locked until the kill) holds
        // the old version, and only at `file-placed` is any new file in place.
        let site = site_packages(&venv);
        let backups: Vec<String> =
            names(&venv).into_iter().filter(|n| n.starts_with(".installer-backup-")).collect();
        assert_eq!(backups.len(), 1, "killed at {point}: {:?}", names(&venv));
        assert!(venv.join(&backups[0]).join(".lock").is_file(), "killed at {point}");
        assert!(
            !site.join("grow-1.0.dist-info/METADATA").exists(),
            "killed at {point}: old version moved aside"
        );
        let placed = files_in(&site.join("grow"));
        if point == "file-placed" {
            assert!(placed >= 1, "killed at {point} with a file placed");
        } else {
            assert_eq!(placed, 0, "killed at {point}, before any file is placed");
        }

        assert_ok(&installer(work.path(), &args));
        assert_eq!(snapshot(&site), snapshot(&site_packages(&reference)), "recovered from a kill at {point}");
        assert!(!names(&venv).iter().any(|n| n.starts_with(".installer-")), "{point}: {:?}", names(&venv));
    }
}

/// SIGKILL in the middle of placing a new distribution's files (its package directory made, a
/// file placed, no RECORD written) beside one installed before: the next run puts the
/// environment back from the dead run's journal and installs, and the result equals a clean
/// install, script and all.
#[test]
fn sigkill_while_placing_files_is_recovered_by_the_next_run() {
    let work = open_workdir();
    let cache = work.path().join("cache");
    let (venv, reference) = (venv_at(&work.path().join("venv")), venv_at(&work.path().join("reference")));
    let (data, pkg) = (fixture("fixture_data"), fixture("fixture_pkg-1.0"));
    for target in [&venv, &reference] {
        assert_ok(&installer(work.path(), &install_args(target, &cache, &[&data], &[])));
    }
    assert_ok(&installer(work.path(), &install_args(&reference, &cache, &[&pkg], &[])));
    let before = snapshot(&venv);

    let args = install_args(&venv, &cache, &[&pkg], &[]);
    Paused::start(work.path(), &args, "file-placed").kill();
    let site = site_packages(&venv);
    assert!(site.join("fixture_pkg").is_dir(), "killed with files placed: {:?}", names(&site));
    assert!(!names(&site)
        .iter()
        .any(|n| n.starts_with("fixture_pkg-") && site.join(n).join("RECORD").exists()));
    assert_ne!(snapshot(&venv), before);
    assert!(names(&venv).iter().any(|n| n.starts_with(".installer-")), "the journal: {:?}", names(&venv));

    assert_ok(&installer(work.path(), &args));
    // The same files; RECORDs list the same paths (scripts' hashes differ: their shebangs
    // name each environment's interpreter).
    let records_apart = |venv: &Path| {
        let mut files = snapshot(&site_packages(venv));
        let records: Vec<(PathBuf, Vec<String>)> = names(&site_packages(venv))
            .iter()
            .filter(|n| n.ends_with(".dist-info"))
            .map(|n| {
                let rel = Path::new(n).join("RECORD");
                files.remove(&rel).expect("a RECORD");
                let text = std::fs::read_to_string(site_packages(venv).join(&rel)).unwrap();
                (rel, text.lines().map(|l| l.split(',').next().unwrap().to_string()).collect())
            })
            .collect();
        (files, records, names(&venv.join("bin")))
    };
    assert_eq!(records_apart(&venv), records_apart(&reference));
    assert!(!names(&venv).iter().any(|n| n.starts_with(".installer-")), "{:?}", names(&venv));
    let out = std::process::Command::new(venv.join("bin/fixture-hello")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from fixture_pkg 1.0\n");
}

/// SIGKILL while an uninstall moves files aside: the next command that opens the environment,
/// `list`, puts every file back; the distribution is there as before, and can be uninstalled.
#[test]
fn sigkill_mid_uninstall_is_rolled_back_by_the_next_command() {
    let work = open_workdir();
    let cache = work.path().join("cache");
    let venv = venv_at(&work.path().join("venv"));
    let (data, pkg) = (fixture("fixture_data"), fixture("fixture_pkg-1.0"));
    assert_ok(&installer(work.path(), &install_args(&venv, &cache, &[&data, &pkg], &[])));
    let before = snapshot(&venv);

    let uninstall = ["uninstall", "--venv", venv.to_str().unwrap(), "fixture-pkg"];
    Paused::start(work.path(), &uninstall, "file-moved-aside").kill();
    assert_ne!(snapshot(&venv), before, "killed with a file moved aside");
    assert!(names(&venv).iter().any(|n| n.starts_with(".installer-")), "{:?}", names(&venv));

    let out = installer(work.path(), &["list", "--venv", venv.to_str().unwrap()]);
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("fixture-pkg"));
    assert_eq!(snapshot(&venv), before, "every file back, no backup left");
    assert_ok(&installer(work.path(), &uninstall));
    assert!(!site_packages(&venv).join("fixture_pkg").exists());
}

/// SIGKILL of the recovery itself, just after it deleted the dead install's journal: the
/// directories that install made must be gone by then, since the list of them is lost with
/// the journal (an empty `fixture_pkg/` left in site-packages would import as a namespace
/// package). The next command finishes the recovery; the environment is as before.
#[test]
fn sigkill_of_a_recovery_leaves_no_directory_of_the_dead_transaction() {
    let work = open_workdir();
    let cache = work.path().join("cache");
    let venv = venv_at(&work.path().join("venv"));
    let pkg = fixture("fixture_pkg-1.0");
    let before = snapshot(&venv);

    let args = install_args(&venv, &cache, &[&pkg], &[]);
    Paused::start(work.path(), &args, "file-placed").kill();
    assert!(site_packages(&venv).join("fixture_pkg").is_dir(), "{:?}", names(&site_packages(&venv)));

    let list = ["list", "--venv", venv.to_str().unwrap()];
    Paused::start(work.path(), &list, "dead-journal-removed").kill();
    assert!(!site_packages(&venv).join("fixture_pkg").exists(), "{:?}", names(&site_packages(&venv)));

    assert_ok(&installer(work.path(), &list));
    assert_eq!(snapshot(&venv), before, "nothing of the dead install, no backup left");
}

/// SIGKILL once the install has journaled the files it will create, with one of them another
/// distribution's (overwritten, as pip does) and hardlinked elsewhere too, as a cache file is
/// into every environment: another environment linking it changes its ctime after the dead
/// transaction began. Recovery must not take it for the transaction's and delete it.
#[test]
fn sigkill_after_the_journal_never_removes_a_file_it_did_not_replace() {
    let work = open_workdir();
    let cache = work.path().join("cache");
    let venv = venv_at(&work.path().join("venv"));
    let alpha = WheelBuilder::new("alpha", "1.0").file("shared.py", b"ALPHA = 1\n").write(work.path(), None);
    let beta = WheelBuilder::new("beta", "1.0").file("shared.py", b"BETA = 1\n").write(work.path(), None);
    assert_ok(&installer(work.path(), &install_args(&venv, &cache, &[&alpha], &[])));
    let shared = site_packages(&venv).join("shared.py");
    let elsewhere = work.path().join("other-env-shared.py");
    std::fs::hard_link(&shared, &elsewhere).unwrap();
    let before = snapshot(&venv);

    Paused::start(work.path(), &install_args(&venv, &cache, &[&beta], &[]), "journaled").kill();
    // Another environment links the same file: a new ctime, after the dead transaction began.
    std::fs::hard_link(&elsewhere, work.path().join("third-env-shared.py")).unwrap();

    assert_ok(&installer(work.path(), &["list", "--venv", venv.to_str().unwrap()]));
    assert_eq!(std::fs::read_to_string(&shared).unwrap(), "ALPHA = 1\n");
    assert_eq!(snapshot(&venv), before, "as before the killed install");
}

/// A second Ctrl-C exits at once with 130, while the first has the install still to roll
/// back: held at the first wheel's publication (its staging directory complete and locked),
/// it can end only through the second press. It says nothing of a rollback it did not do;
/// the staging directory stays, and the next run removes it (its lock is free) and installs.
#[test]
fn a_second_ctrl_c_exits_at_once_and_the_next_run_cleans_up() {
    let work = open_workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let wheels: Vec<PathBuf> =
        ["one", "two"].iter().map(|n| big_wheel(work.path(), n, "1.0", 8, 64 << 10)).collect();
    let wheel_refs: Vec<&Path> = wheels.iter().map(PathBuf::as_path).collect();
    let before = snapshot(&venv);
    // One thread: the second wheel waits behind the first, which is held.
    let args = install_args(&venv, &cache, &wheel_refs, &["-j", "1"]);

    let out = Paused::start(work.path(), &args, "entry-publishing").interrupt_twice();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert_eq!(err.matches("interrupted: rolling back").count(), 1, "the second press ended it:\n{err}");
    assert!(!err.contains("nothing was changed"), "exited before rolling back:\n{err}");
    assert_eq!(snapshot(&venv), before, "venv unchanged");
    let tmp = cache_staging_dir(&cache);
    let staging = names(&tmp);
    assert_eq!(staging.len(), 1, "the first wheel's staging directory stays: {staging:?}");
    assert!(tmp.join(&staging[0]).join(".lock").is_file(), "{staging:?}");
    assert_eq!(names(&cache_entries_dir(&cache)), Vec::<String>::new(), "nothing published");

    assert_ok(&installer(work.path(), &args));
    assert_eq!(names(&tmp), Vec::<String>::new(), "stale staging removed");
    assert_eq!(names(&cache_entries_dir(&cache)).len(), 2);
    for name in ["one", "two"] {
        assert!(site_packages(&venv).join(format!("{name}-1.0.dist-info/RECORD")).is_file());
    }
}

/// SIGKILL while a wheel is unpacked (its staging directory made and locked, the archive
/// opened), the other wheel found in the cache: the staging directory stays, and the next run
/// that unpacks removes it (its lock is free) before installing.
#[test]
fn sigkill_while_unpacking_is_cleaned_up_by_the_next_run() {
    let work = open_workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let wheels: Vec<PathBuf> =
        ["one", "two"].iter().map(|n| big_wheel(work.path(), n, "1.0", 8, 64 << 10)).collect();
    let wheel_refs: Vec<&Path> = wheels.iter().map(PathBuf::as_path).collect();
    // `one` cached (and installed) first, so the first wheel opened for unpacking is `two`.
    assert_ok(&installer(work.path(), &install_args(&venv, &cache, &[&wheels[0]], &[])));
    let before = snapshot(&venv);
    let args = install_args(&venv, &cache, &wheel_refs, &[]);

    Paused::start(work.path(), &args, "wheel-opened").kill();
    assert_eq!(snapshot(&venv), before, "venv unchanged");
    let tmp = cache_staging_dir(&cache);
    let staging = names(&tmp);
    assert_eq!(staging.len(), 1, "the killed unpack left its staging directory: {staging:?}");
    assert!(tmp.join(&staging[0]).join(".lock").is_file(), "{staging:?}");
    assert_eq!(names(&cache_entries_dir(&cache)).len(), 1, "only `one` published");

    assert_ok(&installer(work.path(), &args));
    assert_eq!(names(&tmp), Vec::<String>::new(), "stale staging removed");
    assert_eq!(names(&cache_entries_dir(&cache)).len(), 2);
    assert!(site_packages(&venv).join("two-1.0.dist-info/RECORD").is_file());
}

/// A wheel file replaced while it is being unpacked: what is unpacked and the hash that names
/// its cache entry both come from the file that was opened, never half from the other.
#[test]
fn a_wheel_replaced_while_unpacking_is_hashed_as_unpacked() {
    use sha2::Digest;
    let work = open_workdir();
    let source = fixture("fixture_pkg-1.0");
    let wheel = work.path().join(source.file_name().unwrap());
    std::fs::copy(&source, &wheel).unwrap();
    let hex =
        |bytes: &[u8]| sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect::<String>();
    let original = hex(&std::fs::read(&wheel).unwrap());
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let args = install_args(&venv, &cache, &[&wheel], &[]);
    let paused = Paused::start(work.path(), &args, "wheel-opened");
    let swapped = work.path().join("swapped.whl");
    std::fs::copy(fixture("fixture_pkg-1.0"), &swapped).unwrap();
    let mut junk = std::fs::OpenOptions::new().append(true).open(&swapped).unwrap();
    std::io::Write::write_all(&mut junk, b"trailing junk").unwrap();
    std::fs::rename(&swapped, &wheel).unwrap();
    assert_ok(&paused.resume());
    let entries = names(&cache_entries_dir(&cache));
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(
        entries[0].ends_with(&original[..16]),
        "entry {} named by the unpacked file's hash {original}",
        entries[0]
    );
    assert!(site_packages(&venv).join("fixture_pkg").is_dir());
}

/// SIGKILL of an install into a `--prefix` directory that did not exist, once it has journaled
/// what it will make: the next install's recovery rolls the dead transaction back, and with it
/// site-packages and its parents, which it made inside the prefix (they were made before the
/// transaction, and stayed, empty). Only the prefix directory itself, which the killed install
/// made and locked before any journal could name it, stays: docs/limits.md says why.
#[test]
fn sigkill_of_an_install_into_a_new_prefix_leaves_no_directory_inside_it() {
    let work = open_workdir();
    let cache = work.path().join("cache");
    let python = venv_at(&work.path().join("venv")).join("bin/python");
    let prefix = work.path().join("new/prefix");
    let wheel = fixture("fixture_pkg-1.0");
    let args = [
        "install",
        "--prefix",
        prefix.to_str().unwrap(),
        "-p",
        python.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        wheel.to_str().unwrap(),
    ];

    Paused::start(work.path(), &args, "journaled").kill();
    let made = snapshot(&prefix);
    assert!(made.keys().any(|p| p.ends_with("site-packages")), "killed with it made: {made:?}");

    // The next install, once its recovery is done (the dead transaction's directories go
    // before its journal): nothing of the killed install but the backup being put back.
    let next = Paused::start(work.path(), &args, "dead-journal-removed");
    let left: Vec<String> = names(&prefix).into_iter().filter(|n| !n.starts_with(".installer-")).collect();
    assert_eq!(left, Vec::<String>::new(), "{:?}", snapshot(&prefix));
    assert_ok(&next.resume());
    assert!(prefix.join("bin/fixture-hello").is_file());
}
