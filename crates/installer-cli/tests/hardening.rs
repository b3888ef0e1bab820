//! Unfriendly conditions: full disks, read-only and foreign-owned places, things that are not
//! venvs, hostile archive sizes, Ctrl-C and SIGKILL. Each test checks the message, the exit
//! code, and what the cache and the environment hold afterwards.
//!
//! Mounts (tmpfs with a size limit, read-only bind mounts) and running as `nobody` need root;
//! without it those tests print why and pass without checking.

mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::privileged::{is_root, Mount};
use support::*;

// ---------------------------------------------------------------------------------------------
// Helpers

/// A work directory that `nobody` can enter.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Bytes that no compressor can shrink (xorshift64), quickly.
fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A valid wheel `{name}-{version}-py3-none-any.whl` in `dir`: `{name}/__init__.py`,
/// `files` members of `size` random bytes each (stored: writing it is quick, and stored
/// members are what is slowest to fake), and a correct RECORD.
fn big_wheel(dir: &Path, name: &str, version: &str, files: usize, size: usize) -> PathBuf {
    let mut wheel = WheelBuilder::new(name, version).stored();
    for i in 0..files {
        wheel = wheel.file(&format!("{name}/blob{i}.bin"), &random_bytes(size, 0x9e37_79b9 + i as u64 + 1));
    }
    wheel.write(dir, None)
}

fn install_args<'a>(venv: &'a Path, cache: &'a Path, wheels: &[&'a Path], extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["install", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend(wheels.iter().map(|w| w.to_str().unwrap()));
    args
}

#[track_caller]
fn assert_failed(out: &Output, code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr:\n{err}");
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
    }
}

/// The cache holds no entry and nothing being written.
#[track_caller]
fn assert_cache_empty(cache: &Path) {
    assert_eq!(names(&cache_entries_dir(cache)), Vec::<String>::new(), "entries");
    assert_eq!(names(&cache_staging_dir(cache)), Vec::<String>::new(), "staging");
}

// ---------------------------------------------------------------------------------------------
// Full disks

/// Cache and venv on a 20 MB tmpfs, a wheel of 24 MB that cannot be compressed: the unpack
/// runs out of space. The error says so and names the wheel; no entry, no staging directory,
/// the venv untouched. With more room the same command succeeds.
#[test]
fn a_wheel_that_does_not_fit_in_the_cache_fails_cleanly_and_succeeds_once_there_is_room() {
    let work = workdir();
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

/// The cache fits (on disk) but the copy into the venv (a tmpfs with 20 MB) does not: the
/// transaction rolls back, the venv is as before, the cache keeps its complete entry. After
/// a filler file is deleted the same command succeeds.
#[test]
fn a_copy_that_does_not_fit_in_the_venv_rolls_back() {
    let work = workdir();
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

// ---------------------------------------------------------------------------------------------
// Read-only, foreign-owned, not a venv

#[test]
fn a_read_only_venv_is_refused_and_left_alone() {
    let work = workdir();
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
    assert_eq!(snapshot(&venv), before);
    // The wheel was sound: its verified entry is kept for the next try, nothing half-written.
    assert_eq!(names(&cache_staging_dir(&cache)), Vec::<String>::new());
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
    let work = workdir();
    let cache = work.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    let venv = venv_at(&work.path().join("venv"));
    let wheel = fixture("fixture_pkg-1.0");
    {
        // Empty and read-only: the wheel is unpacked into a temporary cache instead.
        let Some(_ro) = Mount::read_only(&cache) else { return };
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
    let work = workdir();
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
    let work = workdir();
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

// ---------------------------------------------------------------------------------------------
// Limits

#[test]
fn limits_come_from_the_environment_and_bad_values_are_refused() {
    let work = workdir();
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
    let work = workdir();
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
    let work = workdir();
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
    let work = workdir();
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
    let work = workdir();
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
    let work = workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let mut builder = WheelBuilder::new("_", "1.0").file("_-1.0.data/headers/evil.h", b"");
    builder.metadata_name = Some("..".into());
    let wheel = builder.write(work.path(), None);
    assert_refused_and_unchanged(work.path(), &venv, &cache, &wheel, "Name `..` is not a valid project name");
    assert_cache_empty(&cache);
}

// ---------------------------------------------------------------------------------------------
// Interrupts

/// Starts `installer -v -j 1 ...`, waits for the first `info: <prefix>` line (one wheel done)
/// and then until `ready()` holds (polled; given up when the process has exited), then sends
/// `signal` (0: none; negative: twice, the second once the first was handled). Returns the
/// output.
fn signal_after_first(
    cwd: &Path,
    args: &[&str],
    prefixes: &[&str],
    ready: &dyn Fn() -> bool,
    signal: i32,
) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_installer"))
        .current_dir(cwd)
        .args(args)
        .args(["-v", "-j", "1"])
        .env("XDG_CONFIG_HOME", cwd.join(".no-user-config"))
        .env_remove("INSTALLER_LINK_MODE")
        .env_remove("INSTALLER_CACHE_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let first = prefixes.iter().any(|p| line.starts_with(&format!("info: {p}")));
        seen.push(line);
        if first {
            break;
        }
    }
    while !ready() && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(1));
    }
    // SAFETY: kill has no memory preconditions; the pid is our child's (not yet reaped).
    unsafe { libc::kill(child.id() as i32, signal.abs()) };
    if signal < 0 {
        // The second one once the first was handled (it says so), or the kernel merges them.
        for line in lines.by_ref() {
            let line = line.unwrap();
            let handled = line.starts_with("interrupted: rolling back");
            seen.push(line);
            if handled {
                break;
            }
        }
        // SAFETY: as above; the child is not reaped before `wait_with_output` below.
        unsafe { libc::kill(child.id() as i32, -signal) };
    }
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let mut out = child.wait_with_output().unwrap();
    seen.extend(rest);
    out.stderr = seen.join("\n").into_bytes();
    out
}

/// Ctrl-C during a cold install of three large wheels, once the first is cached (paused
/// there): the others are not unpacked, exit 130 with the documented message, no staging
/// left, venv as before; the same command then succeeds.
#[test]
fn ctrl_c_stops_a_cold_install_and_removes_its_temporary_files() {
    let work = workdir();
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

/// Ctrl-C during an upgrade, paused once the old version's files are moved aside: the
/// rollback puts them back, so the venv is exactly as before, and the command exits 130.
#[test]
fn ctrl_c_mid_upgrade_rolls_back() {
    let work = workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let old = big_wheel(work.path(), "grow", "1.0", 30, 4 << 10);
    let new_dir = work.path().join("new");
    std::fs::create_dir(&new_dir).unwrap();
    let new = big_wheel(&new_dir, "grow", "2.0", 60, 4 << 10);
    assert_ok(&installer(work.path(), &install_args(&venv, &cache, &[&old], &[])));
    let before = snapshot(&venv);

    let args = install_args(&venv, &cache, &[&new], &[]);
    let out = Paused::start(work.path(), &args, "moved-aside").interrupt();
    assert_failed(&out, 130, &["error: interrupted; nothing was changed"]);
    assert_eq!(snapshot(&venv), before, "venv as before the upgrade");
}

/// SIGKILL while upgrading (cache warm, copy mode), as soon as the transaction has made its
/// backup directory: the next run rolls back whatever the dead one left, installs, and the
/// result equals a clean upgrade; no backup directory stays.
#[test]
fn sigkill_mid_upgrade_is_recovered_by_the_next_run() {
    let work = workdir();
    let cache = work.path().join("cache");
    let (venv, reference) = (venv_at(&work.path().join("venv")), venv_at(&work.path().join("reference")));
    let old = big_wheel(work.path(), "grow", "1.0", 300, 4 << 10);
    let new_dir = work.path().join("new");
    std::fs::create_dir(&new_dir).unwrap();
    let new = big_wheel(&new_dir, "grow", "2.0", 1000, 4 << 10);
    for target in [&venv, &reference] {
        assert_ok(&installer(work.path(), &install_args(target, &cache, &[&old], &["--link-mode", "copy"])));
    }
    let reference_args = install_args(&reference, &cache, &[&new], &["--link-mode", "copy"]);
    assert_ok(&installer(work.path(), &reference_args));

    // Killed once the transaction is under way (its backup directory holds its lock file):
    // not after a delay, which a fast or a loaded machine turns into "before" or "after".
    let args = install_args(&venv, &cache, &[&new], &["--link-mode", "copy"]);
    let backup_exists = || {
        names(&venv)
            .iter()
            .any(|n| n.starts_with(".installer-backup-") && venv.join(n).join(".lock").exists())
    };
    let out = signal_after_first(work.path(), &args, &["cache hit"], &backup_exists, libc::SIGKILL);
    let killed_mid_transaction = names(&venv).iter().any(|n| n.starts_with(".installer-backup-"));
    eprintln!(
        "killed: {:?}; backup left: {killed_mid_transaction}; site-packages: {:?}",
        out.status,
        names(&site_packages(&venv))
    );

    assert!(killed_mid_transaction, "the kill should land inside the transaction");
    assert_ok(&installer(work.path(), &args));
    assert_eq!(snapshot(&site_packages(&venv)), snapshot(&site_packages(&reference)));
    assert!(!names(&venv).iter().any(|n| n.starts_with(".installer-")), "{:?}", names(&venv));
}

/// SIGKILL in the middle of placing a new distribution's files (its package directory made, a
/// file placed, no RECORD written) beside one installed before: the next run puts the
/// environment back from the dead run's journal and installs, and the result equals a clean
/// install, script and all.
#[test]
fn sigkill_while_placing_files_is_recovered_by_the_next_run() {
    let work = workdir();
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
    let work = workdir();
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
    let work = workdir();
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
    let work = workdir();
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

/// A second Ctrl-C exits at once with 130; a kill during unpacking leaves a locked staging
/// directory, which the next run that unpacks removes (its lock is free) before installing.
#[test]
fn a_second_ctrl_c_or_a_kill_while_unpacking_is_cleaned_up_by_the_next_run() {
    let work = workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let wheels: Vec<PathBuf> =
        ["one", "two"].iter().map(|n| big_wheel(work.path(), n, "1.0", 16, 2 << 20)).collect();
    let wheel_refs: Vec<&Path> = wheels.iter().map(PathBuf::as_path).collect();
    let before = snapshot(&venv);
    let args = install_args(&venv, &cache, &wheel_refs, &[]);

    let out = signal_after_first(work.path(), &args, &["unpacked"], &|| true, -libc::SIGINT);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_eq!(snapshot(&venv), before, "venv unchanged");

    // Killed while the second wheel is being unpacked: once a staging directory of this run
    // (not one the interrupted run left) holds its lock file.
    let first = ["unpacked", "cache hit"];
    let tmp = cache_staging_dir(&cache);
    let left_before = names(&tmp);
    let staging =
        || names(&tmp).iter().any(|n| !left_before.contains(n) && tmp.join(n).join(".lock").exists());
    let out = signal_after_first(work.path(), &args, &first, &staging, libc::SIGKILL);
    assert_eq!(out.status.code(), None, "killed: {}", stderr(&out));
    assert_eq!(snapshot(&venv), before, "venv unchanged");
    assert_eq!(names(&cache_staging_dir(&cache)).len(), 1, "the killed unpack left its staging directory");

    assert_ok(&installer(work.path(), &args));
    assert_eq!(names(&cache_staging_dir(&cache)), Vec::<String>::new(), "stale staging removed");
    assert_eq!(names(&cache_entries_dir(&cache)).len(), 2);
}

/// A wheel file replaced while it is being unpacked: what is unpacked and the hash that names
/// its cache entry both come from the file that was opened, never half from the other.
#[test]
fn a_wheel_replaced_while_unpacking_is_hashed_as_unpacked() {
    use sha2::Digest;
    let work = workdir();
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

/// An upgrade whose new version ships a file where the old one had a directory (`pkg/data/`
/// becomes the file `pkg/data`): once the old files are moved aside the directory holds
/// nothing, and the file takes its place, as with pip.
#[test]
fn an_upgrade_turning_a_directory_into_a_file_succeeds() {
    let work = workdir();
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
    let work = workdir();
    let (cache, venv) = (work.path().join("cache"), venv_at(&work.path().join("venv")));
    let wheel = WheelBuilder::new("same", "1.0")
        .file("same.py", b"VALUE = 1\n")
        .file("same-1.0.data/scripts/same.py", b"#!/bin/sh\necho hi\n")
        .write(work.path(), None);
    assert_ok(&installer(work.path(), &install_args(&venv, &cache, &[&wheel], &["--compile"])));
    let pycache = names(&site_packages(&venv).join("__pycache__"));
    assert!(pycache.iter().any(|n| n.starts_with("same.cpython-")), "{pycache:?}");
}
