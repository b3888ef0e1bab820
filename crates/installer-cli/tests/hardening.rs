//! Unfriendly conditions: full disks, read-only and foreign-owned places, things that are not
//! venvs, hostile archive sizes, wheels aimed at the environment itself (Ctrl-C and SIGKILL are
//! in tests/interrupted.rs). Each test checks the message, the exit code, and what the cache
//! and the environment hold afterwards.
//!
//! Mounts (tmpfs with a size limit, read-only bind mounts) and running as `nobody` need root;
//! without it those tests print why and pass without checking.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::privileged::{is_root, open_workdir, Mount};
use support::*;

// ---------------------------------------------------------------------------------------------
// Full disks

/// Cache and venv on a 20 MB tmpfs, a wheel of 24 MB that cannot be compressed: the unpack
/// runs out of space. The error says so and names the wheel; no entry, no staging directory,
/// the venv untouched. With more room the same command succeeds.
#[test]
fn a_wheel_that_does_not_fit_in_the_cache_fails_cleanly_and_succeeds_once_there_is_room() {
    let work = open_workdir();
    let small = work.path().join("small");
    let Some(mount) = Mount::tmpfs(&small, "20m") else { return };
    let (cache, venv) = (small.join("cache"), venv_at(&small.join("venv")));
    let wheel = big_wheel(work.path(), "huge", "1.0", 6, 4 << 20);
    let before = snapshot(&venv);

    let out = installer(work.path(), &install_args(&venv, &cache, &[&wheel], &[]));
    assert_failed(
        &out,
        1,
        &[&format!("error: cannot unpack {} into the cache", wheel.display()), "No space left on device"],
    );
    assert_cache_empty(&cache);
    assert_eq!(snapshot(&venv), before, "venv unchanged");

    mount.remount("remount,size=64m");
    let out = installer(work.path(), &install_args(&venv, &cache, &[&wheel], &[]));
    assert_ok(&out);
    assert_eq!(std::fs::metadata(site_packages(&venv).join("huge/blob5.bin")).unwrap().len(), 4 << 20);
    assert_eq!(names(&cache_entries_dir(&cache)).len(), 1);
}

/// The cache's filesystem out of inodes: the unpack fails at its staging directory, and the
/// error names the wheel as one out of space mid-unpack does (it said only `cannot create
/// directory in <cache>/v1/tmp`); the cache keeps what it had, the venv is untouched.
#[test]
fn a_cache_out_of_inodes_fails_naming_the_wheel() {
    let work = open_workdir();
    let small = work.path().join("small");
    let Some(mount) = Mount::tmpfs(&small, "20m") else { return };
    let cache = small.join("cache");
    let venv = venv_at(&work.path().join("venv"));
    let warm = fixture("fixture_pkg-1.0");
    assert_ok(&installer(work.path(), &install_args(&venv, &cache, &[&warm], &["--link-mode", "copy"])));
    mount.remount(&format!("remount,nr_inodes={}", used_inodes(&small)));
    let wheel = WheelBuilder::new("cold", "1.0").write(work.path(), None);
    let before = snapshot(&venv);
    let out = installer(work.path(), &install_args(&venv, &cache, &[&wheel], &[]));
    let first = format!("error: cannot unpack {} into the cache\n", wheel.display());
    assert_failed(&out, 1, &[&first, "No space left on device"]);
    assert_eq!(names(&cache_entries_dir(&cache)).len(), 1);
    assert_eq!(names(&cache_staging_dir(&cache)), Vec::<String>::new());
    assert_eq!(snapshot(&venv), before);
}

/// The cache fits (on disk) but the copy into the venv (a tmpfs with 20 MB) does not: the
/// transaction rolls back, the venv is as before, the cache keeps its complete entry. After
/// a filler file is deleted the same command succeeds.
#[test]
fn a_copy_that_does_not_fit_in_the_venv_rolls_back() {
    let work = open_workdir();
    let small = work.path().join("small");
    let Some(_mount) = Mount::tmpfs(&small, "20m") else { return };
    let (cache, venv) = (work.path().join("cache"), venv_at(&small.join("venv")));
    std::fs::write(small.join("filler"), random_bytes(8 << 20, 7)).unwrap();
    let wheel = big_wheel(work.path(), "wide", "1.0", 4, 3 << 20);
    let before = snapshot(&venv);

    let out = installer(work.path(), &install_args(&venv, &cache, &[&wheel], &["--link-mode", "copy"]));
    let first = format!("error: cannot install {} into the environment", wheel.display());
    assert_failed(&out, 1, &[&first, "  cause: cannot copy into ", "No space left on device"]);
    assert_eq!(snapshot(&venv), before, "venv unchanged");
    assert_eq!(names(&cache_entries_dir(&cache)).len(), 1, "the verified entry stays");
    assert_eq!(names(&cache_staging_dir(&cache)), Vec::<String>::new());

    std::fs::remove_file(small.join("filler")).unwrap();
    assert_ok(&installer(work.path(), &install_args(&venv, &cache, &[&wheel], &["--link-mode", "copy"])));
    assert!(site_packages(&venv).join("wide-1.0.dist-info/RECORD").is_file());
}

/// Inodes in use on the filesystem holding `path`.
fn used_inodes(path: &Path) -> u64 {
    let out = Command::new("stat").args(["-f", "-c", "%c"]).arg(path).output().unwrap();
    let total: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    total - free_inodes(path)
}

/// Free inodes of the filesystem holding `path` (`stat -f`).
fn free_inodes(path: &Path) -> u64 {
    let out = Command::new("stat").args(["-f", "-c", "%d"]).arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The venv on a tmpfs that runs out of inodes at every step of an install in turn (the
/// backup directory and journal, each directory, file and launcher, INSTALLER, RECORD): each
/// failure past the transaction's own files names the wheel, and leaves the environment as it
/// was; with enough inodes the install succeeds.
/// A RECORD that could not be written was the one failure that did not name the wheel.
#[test]
fn running_out_of_inodes_at_any_step_names_the_wheel_and_rolls_back() {
    let work = open_workdir();
    let small = work.path().join("small");
    let Some(mount) = Mount::tmpfs(&small, "64m") else { return };
    let cache = work.path().join("cache");
    let venv = venv_at(&small.join("venv"));
    let wheel = WheelBuilder::new("inodes", "1.0")
        .file("inodes/sub/a.py", b"A = 1\n")
        .file("inodes/sub/b.py", b"B = 1\n")
        .file("inodes-1.0.data/scripts/tool", b"#!/bin/sh\necho tool\n")
        .file("inodes-1.0.dist-info/entry_points.txt", b"[console_scripts]\ninodes = inodes:main\n")
        .write(work.path(), None);
    // Unpacked once into the cache (on another filesystem), so each run only places files.
    let args = install_args(&venv, &cache, &[&wheel], &["--link-mode", "copy"]);
    let dry = installer(work.path(), &install_args(&venv, &cache, &[&wheel], &["--dry-run"]));
    assert_ok(&dry);
    let before = snapshot(&venv);
    let used = used_inodes(&small);
    let mut failures = Vec::new();
    for spare in 0..40 {
        mount.remount(&format!("remount,nr_inodes={}", used + spare));
        let out = installer(work.path(), &args);
        if out.status.success() {
            break;
        }
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.starts_with("error: "), "{err}");
        // The transaction's own files (its backup directory, its journal) are the environment's
        // business, not one wheel's: named by their path.
        if !err.lines().next().unwrap().contains("/.installer-backup-")
            && !err.contains("error: cannot create a backup directory in ")
        {
            assert!(
                err.starts_with(&format!("error: cannot install {} into the environment\n", wheel.display())),
                "with {spare} spare inodes: {err}"
            );
        }
        assert!(err.contains("No space left on device"), "{err}");
        assert_eq!(snapshot(&venv), before, "with {spare} spare inodes: {err}");
        failures.push(err);
    }
    assert!(
        site_packages(&venv).join("inodes-1.0.dist-info/RECORD").is_file(),
        "never succeeded: {failures:?}"
    );
    assert!(failures.iter().any(|e| e.contains("/inodes-1.0.dist-info/RECORD\n")), "{failures:#?}");
}

// ---------------------------------------------------------------------------------------------
// Read-only, foreign-owned, not a venv

#[test]
fn a_read_only_venv_is_refused_and_left_alone() {
    let work = open_workdir();
    let venv = venv_at(&work.path().join("venv"));
    let cache = work.path().join("cache");
    let before = snapshot(&venv);
    let Some(_ro) = Mount::read_only(&venv) else { return };
    let wheel = fixture("fixture_pkg-1.0");

    let out = installer(work.path(), &install_args(&venv, &cache, &[&wheel], &[]));
    assert_failed(
        &out,
        1,
        &[&format!("error: cannot create a backup directory in {}", venv.display()), "Read-only file system"],
    );
    assert_no_warning(&out);
    assert_eq!(snapshot(&venv), before);
    // The wheel was sound: its verified entry is kept for the next try, nothing half-written.
    assert_eq!(names(&cache_staging_dir(&cache)), Vec::<String>::new());
}

/// Nothing but the error: a place that takes no file at all refuses a copy as it refuses a
/// link, so there is no fallback to copying to warn about (the warning used to come first,
/// promising "the installed packages are complete and work the same").
#[track_caller]
fn assert_no_warning(out: &Output) {
    let err = stderr(out);
    assert!(!err.lines().any(|l| l.starts_with("warning:")), "{err}");
}

/// Only site-packages is read-only: the install fails at its first directory there, naming
/// it, without a link-fallback warning; the environment as before.
#[test]
fn a_read_only_site_packages_fails_with_one_error_and_no_fallback_warning() {
    let work = open_workdir();
    let venv = venv_at(&work.path().join("venv"));
    let cache = work.path().join("cache");
    let site = site_packages(&venv);
    let before = snapshot(&venv);
    let Some(_ro) = Mount::read_only(&site) else { return };
    let wheel = fixture("fixture_pkg-1.0");
    let out = installer(work.path(), &install_args(&venv, &cache, &[&wheel], &[]));
    assert_failed(
        &out,
        1,
        &[
            &format!("error: cannot install {} into the environment", wheel.display()),
            &format!("  cause: cannot create directory {}/", site.display()),
            "Read-only file system",
        ],
    );
    assert_no_warning(&out);
    assert_eq!(snapshot(&venv), before);
}

/// Fills the filesystem holding `dir` to its last byte with a file there, returned for removal.
fn fill_to_the_last_byte(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("filler");
    let mut filler = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 4096];
    while std::io::Write::write_all(&mut filler, &block).is_ok() {}
    path
}

/// `-v` says the link probe could not write its sample file in the full `cache`, and linked a
/// file of a cache entry instead.
#[track_caller]
fn assert_probed_with_a_cached_file(err: &str, cache: &Path) {
    let start = format!(
        "info: cannot write a probe file in {}: No space left on device",
        cache.join("v1/tmp").display()
    );
    let said = err
        .lines()
        .any(|l| l.starts_with(&start) && l.ends_with(": probing with a file of a cache entry instead"));
    assert!(said, "{err}");
}

/// The cache's filesystem (a tmpfs) full after a first install, to the last byte, then to the
/// last inode: a warm install into a venv on another filesystem writes nothing in the cache and
/// works. Its link probe, which cannot write its sample file there, links a file of the cached
/// entry instead, finds no hardlink across the two and takes the cache shard on the venv's
/// filesystem, as the first install's probe did. It failed at that write:
/// `cannot probe link modes into <site-packages>`. A cold install, which must unpack into the
/// cache, still fails cleanly, naming the wheel.
#[test]
fn a_warm_install_from_a_full_cache_probes_with_a_cached_file() {
    let work = open_workdir();
    let small = work.path().join("small");
    let Some(mount) = Mount::tmpfs(&small, "2m") else { return };
    let cache = small.join("cache");
    let wheel = fixture("fixture_pkg-1.0");
    let shard = work.path().join("shard");
    let env = [("INSTALLER_CACHE_SHARDS", shard.to_str().unwrap())];
    let install = |venv: &Path, wheel: &Path| {
        installer_with_env(work.path(), &install_args(venv, &cache, &[wheel], &["-v"]), &env)
    };
    let first = venv_at(&work.path().join("first"));
    let out = install(&first, &wheel);
    assert_ok(&out);
    let shard_line = format!("link mode: hardlink from the cache shard {} ", shard.display());
    assert!(stderr(&out).contains(&shard_line), "{}", stderr(&out));
    let cold = WheelBuilder::new("cold", "1.0").write(work.path(), None);

    let filler = fill_to_the_last_byte(&small);
    for (round, full) in ["bytes", "inodes"].into_iter().enumerate() {
        if full == "inodes" {
            std::fs::remove_file(&filler).unwrap();
            mount.remount(&format!("remount,nr_inodes={}", used_inodes(&small)));
        }
        let venv = venv_at(&work.path().join(format!("venv{round}")));
        let out = install(&venv, &wheel);
        assert_ok(&out);
        let err = stderr(&out);
        assert_probed_with_a_cached_file(&err, &cache);
        assert!(err.contains(&shard_line), "{full}: {err}");
        assert_eq!(python(&venv, "import fixture_pkg.sub.helpers; print('ok')").trim(), "ok");

        let before = snapshot(&venv);
        let out = install(&venv, &cold);
        let first = format!("error: cannot unpack {} into the cache", cold.display());
        assert_failed(&out, 1, &[&first, "No space left on device"]);
        assert_eq!(snapshot(&venv), before, "{full}");
        assert_eq!(names(&cache_entries_dir(&cache)).len(), 1, "{full}");
        assert_eq!(names(&cache_staging_dir(&cache)), Vec::<String>::new(), "{full}");
    }
}

/// The cache and the venvs on one tmpfs, filled to its last byte after a first install: the
/// second install's link probe, which cannot write its sample file, links a file of the cached
/// entry instead and picks hardlinks. Stopped at its first write into the environment (the
/// transaction's backup directory, `backup-locking`), past the probe, the install gets the room
/// its own files need (RECORD, launchers: a venv on a full filesystem takes nothing) and places
/// hardlinks into the cache. A tmpfs out of inodes cannot take a hardlink either (each counts
/// as an inode there): that case is the test above, with the venv elsewhere.
#[test]
fn a_full_cache_on_the_venvs_filesystem_still_hardlinks() {
    let work = open_workdir();
    let small = work.path().join("small");
    let Some(_mount) = Mount::tmpfs(&small, "8m") else { return };
    let cache = small.join("cache");
    let wheel = fixture("fixture_pkg-1.0");
    let (first, second) = (venv_at(&small.join("first")), venv_at(&small.join("second")));
    assert_ok(&installer(work.path(), &install_args(&first, &cache, &[&wheel], &[])));
    let filler = fill_to_the_last_byte(&small);

    let args = install_args(&second, &cache, &[&wheel], &["-v"]);
    let paused = Paused::start(work.path(), &args, "backup-locking");
    std::fs::remove_file(&filler).unwrap();
    let out = paused.resume();
    assert_ok(&out);
    let err = stderr(&out);
    assert_probed_with_a_cached_file(&err, &cache);
    assert!(err.contains("link mode: hardlink (cache "), "{err}");
    let module = |venv: &Path| site_packages(venv).join("fixture_pkg/sub/helpers.py");
    assert_eq!(nlink(&module(&second)), 3, "the cache's file and two environments");
    assert_eq!(python(&second, "import fixture_pkg.sub.helpers; print('ok')").trim(), "ok");
}

/// The one `note:` a cache that cannot be written gets, naming it and the OS error.
fn assert_one_read_only_note(out: &Output, cache: &Path, os_error: &str) {
    let err = stderr(out);
    let notes: Vec<&str> = err.lines().filter(|l| l.starts_with("note:")).collect();
    assert_eq!(notes.len(), 1, "{err}");
    let expected = format!("note: the cache {} is not writable by this user ({os_error}", cache.display());
    assert!(notes[0].starts_with(&expected), "{err}");
    assert!(notes[0].ends_with("using it read-only, and unpacking wheels it lacks into a temporary cache"));
}

#[test]
fn a_read_only_cache_is_used_read_only_with_one_note() {
    let work = open_workdir();
    let cache = work.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    let venv = venv_at(&work.path().join("venv"));
    let wheel = fixture("fixture_pkg-1.0");
    {
        // Empty and read-only: the wheel is unpacked into a temporary cache instead.
        let Some(_ro) = Mount::read_only(&cache) else { return };
        // A dry run says what the install will do, with the same note (it once failed probing
        // link modes in the cache it could not write).
        let out = installer(work.path(), &install_args(&venv, &cache, &[&wheel], &["--dry-run"]));
        assert_ok(&out);
        assert_one_read_only_note(&out, &cache, "Read-only file system");
        assert!(stderr(&out).contains("Would install 1 wheel"), "{}", stderr(&out));
        let out = installer(work.path(), &install_args(&venv, &cache, &[&wheel], &[]));
        assert_ok(&out);
        assert_one_read_only_note(&out, &cache, "Read-only file system");
        assert!(site_packages(&venv).join("fixture_pkg/__init__.py").is_file());
        assert_eq!(names(&cache), Vec::<String>::new());
    }
    // Filled, then read-only: its entry serves the install, and nothing is written to it.
    let other = venv_at(&work.path().join("other"));
    assert_ok(&installer(work.path(), &install_args(&other, &cache, &[&wheel], &[])));
    let cache_before = snapshot(&cache);
    let Some(_ro) = Mount::read_only(&cache) else { return };
    let third = venv_at(&work.path().join("third"));
    let out = installer(work.path(), &install_args(&third, &cache, &[&wheel], &["-v"]));
    assert_ok(&out);
    assert_one_read_only_note(&out, &cache, "Read-only file system");
    assert!(stderr(&out).contains(&format!(
        "cache hit {}: cache entry {}/",
        wheel.display(),
        cache_entries_dir(&cache).display()
    )));
    assert!(site_packages(&third).join("fixture_pkg/__init__.py").is_file());
    assert_eq!(snapshot(&cache), cache_before);

    // Symlinks would point into the temporary cache (a layer's entry is never symlinked into),
    // gone at exit: refused before anything is made.
    let fourth = work.path().join("fourth");
    let out = installer(work.path(), &install_args(&fourth, &cache, &[&wheel], &["--link-mode", "symlink"]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("symlink needs a cache that outlives the install"), "{}", stderr(&out));
    assert!(!fourth.exists());
}

/// The cache belongs to root, who filled it; `installer` runs as `nobody` (who owns the venv),
/// finds the wheel's entry there and changes nothing in it.
#[test]
fn a_cache_owned_by_someone_else_is_used_read_only_with_one_note() {
    if !is_root() {
        skip("running as nobody needs root");
        return;
    }
    let Some(setpriv) = ["/usr/bin/setpriv", "/bin/setpriv"].into_iter().find(|p| Path::new(p).exists())
    else {
        skip("setpriv not found");
        return;
    };
    let work = open_workdir();
    let cache = work.path().join("cache");
    // An interpreter `nobody` may run (pyenv's live under root's home): the system's.
    let system_python = Path::new("/usr/bin/python3");
    assert!(system_python.is_file(), "this test needs /usr/bin/python3");
    let venv = work.path().join("venv");
    let made = Command::new(system_python).args(["-m", "venv", "--without-pip"]).arg(&venv).status().unwrap();
    assert!(made.success(), "/usr/bin/python3 -m venv failed");
    let status = Command::new("chown").args(["-R", "nobody:"]).arg(&venv).status().unwrap();
    assert!(status.success());
    let wheel = work.path().join("fixture_pkg-1.0-py3-none-any.whl");
    std::fs::copy(fixture("fixture_pkg-1.0"), &wheel).unwrap();
    // Root's cache, filled by root's own install.
    let roots = venv_at(&work.path().join("roots"));
    assert_ok(&installer(work.path(), &install_args(&roots, &cache, &[&wheel], &[])));
    let cache_before = snapshot(&cache);

    let out = Command::new(setpriv)
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_installer"))
        .args(install_args(&venv, &cache, &[&wheel], &["-v"]))
        .current_dir(work.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", work.path())
        .output()
        .unwrap();
    if String::from_utf8_lossy(&out.stderr).contains("setpriv:") {
        skip(&format!("setpriv cannot switch users here: {}", stderr(&out)));
        return;
    }
    assert_ok(&out);
    assert_one_read_only_note(&out, &cache, "Permission denied");
    let hit = format!("cache hit {}: cache entry {}/", wheel.display(), cache_entries_dir(&cache).display());
    assert!(stderr(&out).contains(&hit), "{}", stderr(&out));
    assert!(site_packages(&venv).join("fixture_pkg/__init__.py").is_file());
    assert_eq!(snapshot(&cache), cache_before);
}

#[test]
fn a_directory_that_is_not_a_venv_is_refused_and_nothing_is_written() {
    let work = open_workdir();
    let cache = work.path().join("cache");
    let wheel = fixture("fixture_pkg-1.0");
    let not_venv = work.path().join("project");
    std::fs::create_dir(&not_venv).unwrap();
    std::fs::write(not_venv.join("main.py"), "print('mine')\n").unwrap();
    let before = snapshot(&not_venv);
    let out = installer(work.path(), &install_args(&not_venv, &cache, &[&wheel], &[]));
    assert_failed(
        &out,
        1,
        &[&format!("error: {} is not a virtual environment: it has no pyvenv.cfg", not_venv.display())],
    );
    assert_eq!(snapshot(&not_venv), before);
    assert_cache_empty(&cache);

    let file = work.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let out = installer(work.path(), &install_args(&file, &cache, &[&wheel], &[]));
    assert_failed(
        &out,
        1,
        &[&format!("error: {} is not a virtual environment: it is not a directory", file.display())],
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
    assert_cache_empty(&cache);
}

/// Runs `installer` with `args`, killing it (and failing) if it has not exited after 30 s.
fn installer_within_30s(cwd: &Path, args: &[&str]) -> Output {
    let mut child = support::installer_command(cwd, args, &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(30) {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!("installer {args:?} still running after 30 s: {}", stderr(&out));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// A FIFO (whose open waits for a writer) and `/dev/zero` (whose hash never ends) given as
/// wheels, under wheel names: refused at once, naming them, with nothing cached or changed.
/// Both used to hang the install for ever.
#[test]
fn a_fifo_or_a_device_given_as_a_wheel_is_refused_at_once() {
    let work = open_workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let fifo = work.path().join("fifo-1.0-py3-none-any.whl");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo failed");
    let zero = work.path().join("zero-1.0-py3-none-any.whl");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let before = snapshot(&venv);
    for wheel in [&fifo, &zero] {
        let out = installer_within_30s(work.path(), &install_args(&venv, &cache, &[wheel], &[]));
        let expected =
            format!("error: {} is a special file (a FIFO, device or socket), not a wheel", wheel.display());
        assert_failed(&out, 1, &[&expected]);
        assert_eq!(snapshot(&venv), before);
        assert_cache_empty(&cache);
    }
}

/// A member name with a line break or a terminal escape, refused for not being in RECORD: the
/// error names it escaped, one line per message, nothing raw reaching the terminal.
#[test]
fn control_characters_of_member_names_are_printed_escaped() {
    let work = open_workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let before = snapshot(&venv);
    for (i, (member, shown)) in
        [("ctl/x\ny.py", "ctl/x\\ny.py"), ("ctl/\u{1b}[2Jred.py", "ctl/\\u{1b}[2Jred.py")]
            .into_iter()
            .enumerate()
    {
        let wheel_dir = work.path().join(format!("w{i}"));
        std::fs::create_dir(&wheel_dir).unwrap();
        let mut builder = WheelBuilder::new("ctl", "1.0").file(member, b"x");
        builder.record = RecordMode::Without(vec![member.to_string()]);
        let wheel = builder.write(&wheel_dir, None);
        let out = installer(work.path(), &install_args(&venv, &cache, &[&wheel], &[]));
        assert_failed(&out, 1, &[&format!("  cause: {shown}: not listed in RECORD\n")]);
        let err = stderr(&out);
        assert!(!err.contains('\u{1b}'), "{err:?}");
        assert_eq!(err.lines().count(), 2, "{err:?}");
        assert_eq!(snapshot(&venv), before);
        assert_cache_empty(&cache);
    }
}

/// A member whose CRC-32 is wrong in both of its headers: each reason is said once (zip's error
/// both prints and chains its cause, which was printed twice).
#[test]
fn a_crc_mismatch_is_named_once() {
    let work = open_workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let wheel = WheelBuilder::new("crc", "1.0").write(work.path(), None);
    let mut bytes = std::fs::read(&wheel).unwrap();
    let local = bytes.windows(4).position(|w| w == b"PK\x03\x04").unwrap();
    let central = bytes.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    bytes[local + 14] ^= 0xff;
    bytes[central + 16] ^= 0xff;
    std::fs::write(&wheel, bytes).unwrap();
    let before = snapshot(&venv);
    let out = installer(work.path(), &install_args(&venv, &cache, &[&wheel], &[]));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let causes: Vec<&str> = err.lines().filter(|l| l.starts_with("  cause: ")).collect();
    assert_eq!(
        causes,
        ["  cause: crc/__init__.py: cannot decompress", "  cause: i/o error: CRC-32 mismatch"],
        "{err}"
    );
    assert_eq!(snapshot(&venv), before);
    assert_cache_empty(&cache);
}

// ---------------------------------------------------------------------------------------------
// Limits

#[test]
fn limits_come_from_the_environment_and_bad_values_are_refused() {
    let work = open_workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let wheel = big_wheel(work.path(), "sized", "1.0", 2, 300_000);
    let before = snapshot(&venv);
    let run = |env: &[(&str, &str)]| {
        installer_with_env(work.path(), &install_args(&venv, &cache, &[&wheel], &[]), env)
    };

    let out = run(&[("INSTALLER_MAX_UNPACKED_SIZE", "500K")]);
    assert_failed(
        &out,
        1,
        &[
            &format!("error: refused wheel {}", wheel.display()),
            "cause: archive: total uncompressed size 600",
            "exceeds the limit of 512000",
        ],
    );
    let out = run(&[("INSTALLER_MAX_MEMBERS", "4")]);
    assert_failed(&out, 1, &["cause: archive: member count 6 exceeds the limit of 4"]);
    let out = run(&[("INSTALLER_MAX_MEMBERS", "lots")]);
    assert_failed(&out, 1, &["error: invalid INSTALLER_MAX_MEMBERS: \"lots\": expected a whole number"]);
    assert_eq!(snapshot(&venv), before);
    assert_cache_empty(&cache);

    assert_ok(&run(&[("INSTALLER_MAX_UNPACKED_SIZE", "1M"), ("INSTALLER_MAX_MEMBERS", "6")]));
}

/// A deflated member that compresses about 100:1: fine under the default ratio cap, refused
/// under a lower one.
#[test]
fn the_compression_ratio_limit_is_configurable() {
    let work = open_workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let noise = random_bytes(1 << 15, 3);
    let sparse: Vec<u8> =
        (0..4 << 20).map(|i| if i % 256 == 0 { noise[i / 256 % noise.len()] } else { 0 }).collect();
    let wheel = WheelBuilder::new("sparse", "1.0").file("sparse/z.bin", &sparse).write(work.path(), None);
    let out = installer_with_env(
        work.path(),
        &install_args(&venv, &cache, &[&wheel], &[]),
        &[("INSTALLER_MAX_COMPRESSION_RATIO", "20")],
    );
    assert_failed(&out, 1, &["cause: sparse/z.bin: compression ratio ", "exceeds the limit of 20"]);
    assert_cache_empty(&cache);
    assert_ok(&installer(work.path(), &install_args(&venv, &cache, &[&wheel], &[])));
}

// ---------------------------------------------------------------------------------------------
// Wheels aimed at the environment itself

/// Installs `wheel` into `venv` expecting a refusal (exit 1) that names the wheel and says
/// `reason`, with the environment exactly as before.
#[track_caller]
fn assert_refused_and_unchanged(work: &Path, venv: &Path, cache: &Path, wheel: &Path, reason: &str) {
    let before = snapshot(venv);
    let out = installer(work, &install_args(venv, cache, &[wheel], &[]));
    let name = wheel.file_name().unwrap().to_str().unwrap();
    assert_failed(&out, 1, &[name, reason]);
    assert_eq!(snapshot(venv), before, "the environment as before");
}

/// A file of a wheel in the place of one of the environment's directories (`.data/data/bin`,
/// `.data/data/lib`) would have moved the whole directory into the backup, and the commit
/// deleted it: refused by the wheel reader, nothing cached, nothing changed.
#[test]
fn a_wheel_file_in_the_place_of_an_environment_directory_is_refused() {
    let work = open_workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    for dir in ["bin", "lib", "lib64", "include"] {
        let wheel_dir = work.path().join(dir);
        std::fs::create_dir(&wheel_dir).unwrap();
        let wheel = WheelBuilder::new("evil", "1.0")
            .file(&format!("evil-1.0.data/data/{dir}"), b"x")
            .write(&wheel_dir, None);
        let own = format!("would replace the environment's own {}", venv.join(dir).display());
        assert_refused_and_unchanged(work.path(), &venv, &cache, &wheel, &own);
        assert_cache_empty(&cache);
    }
}

/// A file of a wheel in the place of a directory found in the environment (another
/// distribution's package; site-packages itself through `.data/data`) is refused before
/// anything is made: pip fails there too, and moving the directory aside would delete it.
#[test]
fn a_wheel_file_in_the_place_of_a_directory_is_refused_and_nothing_changes() {
    let work = open_workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let requests = WheelBuilder::new("requests", "1.0").write(work.path(), None);
    assert_ok(&installer(work.path(), &install_args(&venv, &cache, &[&requests], &[])));
    let site = site_packages(&venv);
    let site_rel = site.strip_prefix(&venv).unwrap().to_str().unwrap().to_string();
    let cases =
        [("requests", site.join("requests")), (&*format!("evil-1.0.data/data/{site_rel}"), site.clone())];
    for (i, (member, replaced)) in cases.iter().enumerate() {
        let wheel_dir = work.path().join(format!("evil{i}"));
        std::fs::create_dir(&wheel_dir).unwrap();
        let wheel = WheelBuilder::new("evil", "1.0").file(member, b"x").write(&wheel_dir, None);
        let reason = format!("would replace the directory {}", replaced.display());
        assert_refused_and_unchanged(work.path(), &venv, &cache, &wheel, &reason);
    }
    assert_eq!(python(&venv, "import requests; print(requests.VALUE)").trim(), "1");
}

/// Members that would plant a fake dead transaction (`.installer-backup-*` with a lock, a
/// mirror `t/` and a journal naming files outside the environment), through `.data/data` or
/// at the top of a `--target` directory, are refused by the wheel reader.
#[test]
fn a_wheel_that_would_plant_a_transaction_is_refused() {
    let work = open_workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let members = [
        "x-1.0.data/data/.installer-backup-z/.lock",
        "x-1.0.data/data/.installer-backup-z/t/bin/python",
        ".installer-backup-z/journal",
        "x-1.0.data/data/.installer-trash-z/x",
    ];
    for (i, member) in members.iter().enumerate() {
        let wheel_dir = work.path().join(format!("x{i}"));
        std::fs::create_dir(&wheel_dir).unwrap();
        let wheel = WheelBuilder::new("x", "1.0").file(member, b"").write(&wheel_dir, None);
        let reason = format!("{member}: unsafe path: '.installer-' component");
        assert_refused_and_unchanged(work.path(), &venv, &cache, &wheel, &reason);
        assert_cache_empty(&cache);
    }
}

/// `Name: ..` in METADATA (normalised, `..` matches a wheel named `_`) would have named the
/// headers directory `include/site/pythonX.Y/..`: refused as not a project name.
#[test]
fn a_wheel_whose_metadata_name_is_not_a_project_name_is_refused() {
    let work = open_workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let mut builder = WheelBuilder::new("_", "1.0").file("_-1.0.data/headers/evil.h", b"");
    builder.metadata_name = Some("..".into());
    let wheel = builder.write(work.path(), None);
    assert_refused_and_unchanged(work.path(), &venv, &cache, &wheel, "Name `..` is not a valid project name");
    assert_cache_empty(&cache);
}

/// An entry point whose name is longer than a file name can be (255 bytes) is refused by the
/// wheel reader, its name shortened in the one-line cause: nothing cached, nothing changed. It
/// used to be cached, then fail at writing its launcher and roll back. A name of 255 bytes
/// installs, as with pip.
#[test]
fn an_entry_point_name_longer_than_a_file_name_is_refused_before_anything_is_cached() {
    let work = open_workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let entry_points = |name: &str| format!("[console_scripts]\n{name} = long:main\n");
    let too_long = "x".repeat(300);
    let wheel = WheelBuilder::new("long", "1.0")
        .file("long-1.0.dist-info/entry_points.txt", entry_points(&too_long).as_bytes())
        .write(work.path(), None);
    let reason = format!(
        "  cause: long-1.0.dist-info/entry_points.txt: line 2: script name \"{}\"… (300 bytes) is longer than a file name can be (255 bytes)\n",
        "x".repeat(32)
    );
    assert_refused_and_unchanged(work.path(), &venv, &cache, &wheel, &reason);
    let err = stderr(&installer(work.path(), &install_args(&venv, &cache, &[&wheel], &[])));
    assert!(err.starts_with(&format!("error: refused wheel {}\n", wheel.display())), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
    assert_cache_empty(&cache);

    let longest = "x".repeat(255);
    let dir = work.path().join("longest");
    std::fs::create_dir(&dir).unwrap();
    let wheel = WheelBuilder::new("long", "1.0")
        .file("long-1.0.dist-info/entry_points.txt", entry_points(&longest).as_bytes())
        .write(&dir, None);
    assert_ok(&installer(work.path(), &install_args(&venv, &cache, &[&wheel], &[])));
    assert!(venv.join("bin").join(&longest).is_file());
}

// ---------------------------------------------------------------------------------------------
// Upgrades and bytecode that once tripped the checks above

/// An upgrade whose new version ships a file where the old one had a directory (`pkg/data/`
/// becomes the file `pkg/data`): once the old files are moved aside the directory holds
/// nothing, and the file takes its place, as with pip.
#[test]
fn an_upgrade_turning_a_directory_into_a_file_succeeds() {
    let work = open_workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let (one, two) = (work.path().join("one"), work.path().join("two"));
    std::fs::create_dir(&one).unwrap();
    std::fs::create_dir(&two).unwrap();
    let v1 = WheelBuilder::new("turn", "1.0").file("turn/data/x.txt", b"x").write(&one, None);
    let v2 = WheelBuilder::new("turn", "2.0").file("turn/data", b"now a file").write(&two, None);
    assert_ok(&installer(work.path(), &install_args(&venv, &cache, &[&v1], &["--compile"])));
    assert_ok(&installer(work.path(), &install_args(&venv, &cache, &[&v2], &[])));
    assert_eq!(std::fs::read(site_packages(&venv).join("turn/data")).unwrap(), b"now a file");
}

/// With `--compile`, a module and a script of the same name (`foo.py` and
/// `.data/scripts/foo.py`) both get their bytecode: the script's says nothing of the module's.
#[test]
fn a_script_named_like_a_module_leaves_the_modules_bytecode_alone() {
    let work = open_workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let wheel = WheelBuilder::new("same", "1.0")
        .file("same.py", b"VALUE = 1\n")
        .file("same-1.0.data/scripts/same.py", b"#!/bin/sh\necho hi\n")
        .write(work.path(), None);
    assert_ok(&installer(work.path(), &install_args(&venv, &cache, &[&wheel], &["--compile"])));
    let pycache = names(&site_packages(&venv).join("__pycache__"));
    assert!(pycache.iter().any(|n| n.starts_with("same.cpython-")), "{pycache:?}");
}
