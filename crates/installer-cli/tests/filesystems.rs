//! Link modes across real filesystems: a cache on tmpfs (/dev/shm) with the environment on
//! disk, and environments on loop-mounted ext4 and XFS (reflink) with the cache on disk. Loop
//! mounts need root; without it those tests print why and pass without checking.

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

/// `installer install --venv V --cache-dir C WHEEL [extra]` in `cwd`.
fn install(
    cwd: &Path,
    venv: &Path,
    cache: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let wheel = fixture("fixture_pkg-1.0");
    let mut args = vec!["install", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(wheel.to_str().unwrap());
    installer_with_env(cwd, &args, env)
}

/// The file every check looks at: a module of the fixture.
fn module(venv: &Path) -> PathBuf {
    site_packages(venv).join("fixture_pkg/sub/helpers.py")
}

fn inode(path: &Path) -> (u64, u64) {
    let meta = std::fs::metadata(path).unwrap();
    (meta.dev(), meta.ino())
}

/// The lines of the one `warning:` block in `stderr`, with the places replaced by names.
fn warning_block(stderr: &str, replacements: &[(&Path, &str)]) -> String {
    let mut lines = Vec::new();
    let mut inside = false;
    for line in stderr.lines() {
        inside = line.starts_with("warning:") || (inside && line.starts_with("  "));
        if inside {
            lines.push(line);
        }
    }
    let mut text = lines.join("\n");
    for (path, name) in replacements {
        text = text.replace(path.to_str().unwrap(), name);
    }
    // The disk's filesystem varies between machines.
    if let Some(start) = text.find("[VENV] (") {
        let end = start + text[start..].find(')').unwrap();
        text.replace_range(start..=end, "[VENV] ([FS])");
    }
    text
}

#[test]
fn cache_on_tmpfs_without_shards_copies_with_one_warning_that_names_both_places_and_the_fixes() {
    let work = tempfile::tempdir().unwrap();
    let Some(cache) = tmpfs_dir(work.path()) else { return };
    let venv = make_venv(&work.path().join("venv"));

    let out = install(work.path(), &venv, cache.path(), &[], &[("INSTALLER_CACHE_SHARDS", "")]);
    assert_ok(&out);
    let err = stderr(&out);
    assert_eq!(err.lines().filter(|l| l.starts_with("warning:")).count(), 1, "{err}");
    let warning =
        warning_block(&err, &[(cache.path(), "[CACHE]"), (&venv, "[VENV]"), (work.path(), "[WORK]")]);
    assert_eq!(
        warning,
        "warning: copying 16 files (1.5 KiB) instead of hardlinking them from the cache [CACHE] (tmpfs) into \
         [VENV] ([FS]): they are on different filesystems (Invalid cross-device link (os error 18))\n\
         \x20 The installed packages are complete and work the same; only this install's speed and disk use suffer.\n\
         \x20 To link instead, use a cache on the environment's filesystem: `--cache-dir [WORK]/.installer-cache` \
         (or INSTALLER_CACHE_DIR), or keep this cache and add a shard there with \
         `cache-shards = [\"[WORK]/.installer-cache\"]` in installer.toml.\n\
         \x20 To copy on purpose without this warning: `--link-mode copy` (or INSTALLER_LINK_MODE=copy)."
    );
    assert_eq!(nlink(&module(&venv)), 1, "copied");
    assert_eq!(python(&venv, "import fixture_pkg.sub.helpers; print('ok')").trim(), "ok");
}

#[test]
fn cache_on_tmpfs_with_a_shard_on_the_disk_hardlinks_from_the_shard_without_warning() {
    let work = tempfile::tempdir().unwrap();
    let Some(cache) = tmpfs_dir(work.path()) else { return };
    let shard = work.path().join("shard");
    let shards = shard.to_str().unwrap();
    let (a, b) = (make_venv(&work.path().join("a")), make_venv(&work.path().join("b")));

    for venv in [&a, &b] {
        let out = install(work.path(), venv, cache.path(), &["-v"], &[("INSTALLER_CACHE_SHARDS", shards)]);
        assert_ok(&out);
        let err = stderr(&out);
        assert!(!err.contains("warning:"), "{err}");
        assert!(err.contains(&format!("link mode: hardlink from the cache shard {shards}")), "{err}");
    }
    assert_eq!(inode(&module(&a)), inode(&module(&b)));
    assert_eq!(nlink(&module(&a)), 3, "the shard's copy and two environments");

    // `cache dir` lists the main cache, then the shard.
    let out = installer_with_env(
        work.path(),
        &["cache", "dir", "--cache-dir", cache.path().to_str().unwrap()],
        &[("INSTALLER_CACHE_SHARDS", shards)],
    );
    assert_ok(&out);
    let dirs = String::from_utf8(out.stdout).unwrap();
    assert_eq!(dirs.lines().take(2).collect::<Vec<_>>(), [cache.path().to_str().unwrap(), shards]);

    // Each root keeps its own last uses and size; `--max-size` counts them together.
    let cache_command = |args: &[&str]| {
        let args = [&["cache"], args, &["--cache-dir", cache.path().to_str().unwrap()]].concat();
        let out = installer_with_env(work.path(), &args, &[("INSTALLER_CACHE_SHARDS", shards)]);
        assert_ok(&out);
        out
    };
    let info: serde_json::Value =
        serde_json::from_slice(&cache_command(&["info", "--format", "json"]).stdout).unwrap();
    let roots: Vec<&str> =
        info["caches"].as_array().unwrap().iter().map(|c| c["root"].as_str().unwrap()).collect();
    assert_eq!(roots[..2], [cache.path().to_str().unwrap(), shards]);
    for root in &info["caches"].as_array().unwrap()[..2] {
        assert_eq!(root["entries"].as_array().unwrap().len(), 1, "{root}");
        assert!(root["oldest_use"].is_string(), "{root}");
    }
    assert!(std::fs::read_to_string(cache_usage_log(&shard)).unwrap().contains("fixture_pkg-1.0-"));
    let out = cache_command(&["prune", "--max-size", "0"]);
    let report = String::from_utf8(out.stdout).unwrap();
    // The main cache's copy is unused (the environments link the shard's); the shard's goes for size.
    assert!(
        report.contains(&format!(
            "{shards}: removed 1 entry (of which 1 least recently used, to fit --max-size), freed "
        )),
        "{report}"
    );
    assert_eq!(python(&b, "import fixture_pkg.sub.helpers; print('ok')").trim(), "ok");
}

/// A filesystem image on the main disk, loop-mounted; unmounted and detached on drop (also
/// when a test panics).
struct LoopMount {
    mount: PathBuf,
    device: String,
    _dir: tempfile::TempDir,
}

impl LoopMount {
    /// `Err` is the reason the test cannot run here.
    fn new(fs: &str) -> Result<LoopMount, String> {
        let uid = run("id", &["-u"]).map_err(|e| format!("cannot run id: {e}"))?;
        if uid.trim() != "0" {
            return Err("loop mounts need root".into());
        }
        if !Path::new("/dev/loop-control").exists() {
            return Err("no /dev/loop-control (loop devices unavailable)".into());
        }
        let mkfs = format!("mkfs.{fs}");
        if run("which", &[&mkfs]).is_err() {
            return Err(format!("no {mkfs} (`cargo xtask ci` installs it as root)"));
        }
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let image = dir.path().join(format!("{fs}.img"));
        // XFS refuses filesystems under 300 MiB; the file is sparse.
        std::fs::File::create(&image).unwrap().set_len(320 << 20).unwrap();
        let image_str = image.to_str().unwrap();
        match fs {
            "xfs" => run(&mkfs, &["-q", "-f", "-m", "reflink=1", image_str]),
            _ => run(&mkfs, &["-q", "-F", image_str]),
        }
        .map_err(|e| format!("{mkfs} failed: {e}"))?;
        let device = run("losetup", &["--find", "--show", image_str]).map_err(|e| format!("losetup: {e}"))?;
        let device = device.trim().to_string();
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount).unwrap();
        let guard = LoopMount { mount, device, _dir: dir };
        run("mount", &[&guard.device, guard.mount.to_str().unwrap()]).map_err(|e| format!("mount: {e}"))?;
        Ok(guard)
    }
}

impl Drop for LoopMount {
    fn drop(&mut self) {
        let mount = self.mount.to_str().unwrap();
        if run("umount", &[mount]).is_err() {
            let _ = run("umount", &["-l", mount]);
        }
        let _ = run("losetup", &["-d", &self.device]);
    }
}

/// Runs a command; its stdout, or its stderr as the error.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program).args(args).output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn loop_mount_or_skip(fs: &str) -> Option<LoopMount> {
    match LoopMount::new(fs) {
        Ok(mount) => Some(mount),
        Err(why) => {
            skip(&format!("cannot loop-mount {fs}: {why}"));
            None
        }
    }
}

#[test]
fn two_environments_on_a_loop_mounted_ext4_hardlink_one_shard_copy() {
    let Some(fs) = loop_mount_or_skip("ext4") else { return };
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let (a, b) = (make_venv(&fs.mount.join("p1/.venv")), make_venv(&fs.mount.join("p2/.venv")));
    let shard = fs.mount.join(".installer-cache");

    for venv in [&a, &b] {
        let out = install(work.path(), venv, &cache, &["-v"], &[]);
        assert_ok(&out);
        let err = stderr(&out);
        assert!(!err.contains("warning:"), "{err}");
        assert!(
            err.contains(&format!("link mode: hardlink from the cache shard {}", shard.display())),
            "{err}"
        );
    }
    assert_eq!(inode(&module(&a)), inode(&module(&b)), "the second environment links the first's files");
    assert_eq!(nlink(&module(&a)), 3, "the shard's copy and two environments");
    assert_eq!(python(&b, "import fixture_pkg.sub.helpers; print('ok')").trim(), "ok");

    // The automatic shard is found by `cache dir` and cleaned with the cache.
    let cache_arg = cache.to_str().unwrap();
    let out = installer(work.path(), &["cache", "dir", "--cache-dir", cache_arg]);
    let dirs = String::from_utf8(out.stdout).unwrap();
    assert!(dirs.lines().any(|l| Path::new(l) == shard), "{dirs}");
    assert_ok(&installer(work.path(), &["cache", "clean", "--cache-dir", cache_arg]));
    assert_eq!(std::fs::read_dir(cache_entries_dir(&shard)).unwrap().count(), 0);
    assert_eq!(nlink(&module(&a)), 2, "the environments keep their files");
}

#[test]
fn an_environment_that_is_a_mount_of_its_own_gets_no_shard_inside_it() {
    use support::privileged::Mount;
    let work = tempfile::tempdir().unwrap();
    // As a container volume mounted on /app/.venv: the top of its filesystem is the environment.
    let venv = work.path().join("app/.venv");
    let Some(_volume) = Mount::drive(&venv) else { return };
    make_venv(&venv);
    let cache = work.path().join("cache");

    let out = install(work.path(), &venv, &cache, &["-v"], &[]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(!venv.join(".installer-cache").exists(), "a shard inside the environment: {err}");
    assert!(err.contains("is the environment"), "{err}");
    assert_eq!(python(&venv, "import fixture_pkg.sub.helpers; print('ok')").trim(), "ok");
}

#[test]
fn a_shard_that_cannot_be_made_is_named_in_the_warning_with_a_directory_that_would_work() {
    use support::privileged::{run, users_with_wheel, Mount};
    let Some((users, work, wheel)) = users_with_wheel("fixture_pkg-1.0") else { return };
    let cwd = work.path();
    // A drive whose top only root may write; the user's project on it, the user's cache elsewhere.
    let drive = cwd.join("drive");
    let Some(_tmpfs) = Mount::drive(&drive) else { return };
    let project = drive.join("p");
    std::fs::create_dir(&project).unwrap();
    run("chown", &[&users.a, project.to_str().unwrap()]);
    let venv = users.venv(&users.a, &project.join(".venv"));
    let cache = cwd.join("cache");
    std::fs::create_dir(&cache).unwrap();
    run("chown", &[&users.a, cache.to_str().unwrap()]);

    let args = ["install", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    let out = users.installer(&users.a, cwd, &[&args[..], &[wheel.to_str().unwrap()]].concat());
    assert_ok(&out);
    let err = stderr(&out);
    assert_eq!(err.lines().filter(|l| l.starts_with("warning:")).count(), 1, "{err}");
    let shard = drive.join(".installer-cache");
    assert!(
        err.contains(&format!(
            "no cache shard there can be used: cannot use the cache shard {}",
            shard.display()
        )),
        "{err}"
    );
    assert!(err.contains("Permission denied"), "{err}");
    let suggested = project.join(".installer-cache");
    assert!(err.contains(&format!("`--cache-dir {}`", suggested.display())), "{err}");
    assert!(!err.contains(&format!("--cache-dir {}`", shard.display())), "{err}");
}

/// A venv on a scratch filesystem as /tmp or /dev/shm is (a tmpfs whose top every user may
/// write, sticky), the cache on the disk: no automatic shard and no directory to suggest, so
/// the warning names the filesystem's mount point; a cache there, as it says, links.
#[test]
fn across_filesystems_with_nowhere_to_suggest_the_warning_and_doctor_name_the_filesystem() {
    use support::privileged::Mount;
    let work = tempfile::tempdir().unwrap();
    let scratch = work.path().join("scratch");
    let Some(_tmpfs) = Mount::new(&scratch, &["-t", "tmpfs", "tmpfs"]) else { return };
    let venv = make_venv(&scratch.join("venv"));
    let out = install(work.path(), &venv, &work.path().join("cache"), &[], &[]);
    assert_ok(&out);
    let err = stderr(&out);
    assert_eq!(err.lines().filter(|l| l.starts_with("warning:")).count(), 1, "{err}");
    let named = format!(
        "use a cache directory of yours on the environment's filesystem, mounted at {} (none is made there \
         automatically: every user may write its top, or this user may not): `--cache-dir {}`",
        scratch.display(),
        scratch.join("DIR").display()
    );
    assert!(err.contains(&named), "{err}");
    assert!(!scratch.join(".installer-cache").exists());
    // doctor names the same place.
    let cache = work.path().join("cache");
    let args = ["doctor", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    let out = installer_with_env(work.path(), &args, &[("INSTALLER_CACHE_SHARDS", "")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = String::from_utf8(out.stdout).unwrap();
    let fix = format!(
        "installs copy every file; use a cache directory of yours on the target's filesystem, mounted at {}: \
         `--cache-dir {}`",
        scratch.display(),
        scratch.join("DIR").display()
    );
    assert!(report.contains(&fix), "{report}");

    let mine = scratch.join("mine");
    std::fs::create_dir(&mine).unwrap();
    let again = make_venv(&scratch.join("again"));
    let out = install(work.path(), &again, &mine, &["-v"], &[]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(!err.contains("warning:") && err.contains("Installed 1 wheel"), "{err}");
    assert!(err.contains(": hardlink"), "{err}");
}

#[test]
fn no_cache_copies_across_filesystems_quietly_and_leaves_no_shard() {
    use support::privileged::Mount;
    let work = tempfile::tempdir().unwrap();
    // The temporary cache goes to TMPDIR (on the disk); the environment is on a drive that
    // would take an automatic shard.
    let drive = work.path().join("drive");
    let Some(_tmpfs) = Mount::drive(&drive) else { return };
    let tmp = work.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let wheel = fixture("fixture_pkg-1.0");
    let env = [("TMPDIR", tmp.to_str().unwrap())];
    for (venv, extra) in [("a", &["-v"][..]), ("b", &["--link-fallback", "error"][..])] {
        let venv = make_venv(&drive.join(venv));
        let args =
            [&["install", "--no-cache", "--venv", venv.to_str().unwrap()], extra, &[wheel.to_str().unwrap()]];
        let out = installer_with_env(work.path(), &args.concat(), &env);
        assert_ok(&out);
        let err = stderr(&out);
        assert!(!err.contains("warning:"), "{err}");
        if extra == ["-v"] {
            assert!(err.contains("is a temporary one, removed after this install"), "{err}");
        }
        assert_eq!(nlink(&module(&venv)), 1, "copied");
    }
    assert!(!drive.join(".installer-cache").exists(), "a shard outlived --no-cache");
    // A mode the user named is not `auto`'s choice: it cannot be used, and that is an error.
    let named = make_venv(&drive.join("named"));
    let args = ["install", "--no-cache", "--venv", named.to_str().unwrap(), "--link-mode", "hardlink"];
    let out = installer_with_env(
        work.path(),
        &[&args[..], &["--link-fallback", "error", wheel.to_str().unwrap()]].concat(),
        &env,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!module(&named).exists(), "nothing installed");
}

#[test]
fn a_file_at_ext4s_limit_of_hardlinks_is_copied_and_the_install_goes_on() {
    let Some(fs) = loop_mount_or_skip("ext4") else { return };
    let cache = fs.mount.join("cache");
    let a = make_venv(&fs.mount.join("a"));
    assert_ok(&install(&fs.mount, &a, &cache, &["--link-mode", "hardlink"], &[]));
    // As 65,000 environments installed from this cache would leave it: ext4's limit.
    let links = fs.mount.join("links");
    std::fs::create_dir(&links).unwrap();
    let cached = module(&a);
    for n in nlink(&cached)..65_000 {
        std::fs::hard_link(&cached, links.join(n.to_string())).unwrap();
    }

    let b = make_venv(&fs.mount.join("b"));
    let out = install(&fs.mount, &b, &cache, &["--link-mode", "hardlink", "-v"], &[]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(!err.contains("warning:"), "{err}");
    assert_eq!(err.matches("the filesystem's limit of links").count(), 1, "{err}");
    assert!(err.contains("copied 1 file instead of hardlinking"), "{err}");
    assert!(err.contains(": hardlink (1 file copied,"), "{err}");
    assert_eq!(nlink(&module(&b)), 1, "copied");
    assert_eq!(std::fs::read(module(&b)).unwrap(), std::fs::read(&cached).unwrap());
    let other = site_packages(&b).join("fixture_pkg/__init__.py");
    assert!(nlink(&other) > 2, "the other files are hardlinked");
    assert_eq!(python(&b, "import fixture_pkg.sub.helpers; print('ok')").trim(), "ok");
}

#[test]
fn a_dry_run_into_an_existing_environment_creates_no_shard() {
    use support::privileged::Mount;
    let work = tempfile::tempdir().unwrap();
    let drive = work.path().join("drive");
    let Some(_tmpfs) = Mount::drive(&drive) else { return };
    let venv = make_venv(&drive.join("p/.venv"));
    let shard = drive.join(".installer-cache");

    let out = install(work.path(), &venv, &work.path().join("cache"), &["--dry-run"], &[]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains(&format!("from the cache shard {}", shard.display())), "{err}");
    assert!(err.contains("nothing was changed (--dry-run)"), "{err}");
    assert!(!shard.exists(), "the dry run made the shard");
}

/// A dry run writes nothing in the cache, not even a cache that does not exist yet, and still
/// says what an install would do: the wheels are verified in a temporary directory (here on
/// tmpfs, another filesystem than the environment's), and link modes are probed where the
/// cache is. Before, a dry run unpacked the wheels into the cache.
#[test]
fn a_dry_run_writes_nothing_in_the_cache() {
    let work = tempfile::tempdir().unwrap();
    let Some(temp) = tmpfs_dir(work.path()) else { return };
    let tmpdir = [("TMPDIR", temp.path().to_str().unwrap())];
    let venv = make_venv(&work.path().join("venv"));
    let cache = work.path().join("cache");

    // No cache yet: none is made, and the install it predicts hardlinks (the cache would be on
    // the environment's filesystem), where the temporary directory could only copy.
    let out = install(work.path(), &venv, &cache, &["--dry-run", "-v"], &tmpdir);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains("Would install 1 wheel: hardlink; nothing was changed (--dry-run)"), "{err}");
    assert!(!err.contains("warning:"), "{err}");
    assert!(!cache.exists(), "the dry run made the cache");
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0, "its temporary directory is removed");

    // A cache that has the wheel: used as it is, written to by no one (no usage log line, no
    // index, no staging); -v names it, not the temporary directory.
    assert_ok(&install(work.path(), &work.path().join("other"), &cache, &[], &[]));
    let before = snapshot(&cache);
    let out = install(work.path(), &venv, &cache, &["--dry-run", "-v"], &tmpdir);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains(&format!("(cache {}, target ", cache.display())), "{err}");
    assert!(err.contains("Would install 1 wheel: hardlink"), "{err}");
    assert_eq!(snapshot(&cache), before, "the dry run wrote in the cache");
    assert!(!site_packages(&venv).join("fixture_pkg").exists());

    // Found as the install finds it: by the cache's index, hashing neither the wheel nor the
    // entry's files (a layer's entry is checked whole, a cost the size of the cache's files).
    // So a file of the entry changed in place, same size, goes unnoticed by both (`cache
    // verify` is what finds it), and the dry run still predicts the hit.
    use std::os::unix::fs::PermissionsExt;
    let entry = only_entry(&cache);
    let file = entry.join("tree/fixture_pkg/sub/helpers.py");
    let mut bytes = std::fs::read(&file).unwrap();
    *bytes.last_mut().unwrap() ^= 0x20;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&file, &bytes).unwrap();
    let hit = format!("cache entry {}", entry.display());
    for extra in [&["--dry-run", "-v"][..], &["-v"]] {
        let out = install(work.path(), &venv, &cache, extra, &tmpdir);
        assert_ok(&out);
        let err = stderr(&out);
        assert!(err.contains("cache hit") && err.contains(&hit), "{extra:?}: {err}");
        assert!(!err.contains("unpacked"), "{extra:?}: {err}");
    }
    // A copy of the wheel at a path the index does not know: hashed, as by the install, and
    // the entry that hash names taken unchecked, as the install takes it.
    let elsewhere = work.path().join(fixture("fixture_pkg-1.0").file_name().unwrap());
    std::fs::copy(fixture("fixture_pkg-1.0"), &elsewhere).unwrap();
    let (venv, cache) = (venv.to_str().unwrap(), cache.to_str().unwrap());
    let args = ["install", "--dry-run", "--reinstall", "-v", "--venv", venv, "--cache-dir", cache];
    let out = installer_with_env(work.path(), &[&args[..], &[elsewhere.to_str().unwrap()]].concat(), &tmpdir);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains("cache hit") && err.contains(&hit) && !err.contains("unpacked"), "{err}");
}

#[test]
fn auto_hardlinks_on_a_loop_mounted_xfs_and_clone_stays_available() {
    let Some(fs) = loop_mount_or_skip("xfs") else { return };
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");

    // auto: hardlinks, the fastest mode, even where clones work; -v says why.
    let linked = make_venv(&fs.mount.join("p/.venv"));
    let out = install(work.path(), &linked, &cache, &["-v"], &[]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(!err.contains("warning:"), "{err}");
    assert!(err.contains("link mode: hardlink from the cache shard"), "{err}");
    assert!(err.contains("auto prefers hardlinks"), "{err}");
    let entries = cache_entries_dir(&fs.mount.join(".installer-cache"));
    let entry = std::fs::read_dir(&entries).unwrap().next().unwrap().unwrap().path();
    let cached = entry.join("tree/fixture_pkg/sub/helpers.py");
    assert_eq!(inode(&module(&linked)), inode(&cached));

    // clone, asked for: isolated files that share extents with the cache.
    let venv = make_venv(&fs.mount.join("q/.venv"));
    let out = install(work.path(), &venv, &cache, &["-v", "--link-mode", "clone"], &[]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(!err.contains("warning:"), "{err}");
    assert!(err.contains("link mode: clone"), "{err}");
    let installed = module(&venv);
    assert_eq!(nlink(&installed), 1, "a clone is its own file");
    assert_eq!(std::fs::read(&installed).unwrap(), std::fs::read(&cached).unwrap());
    // Shared extents: the clone uses no blocks of its own.
    match run("filefrag", &["-v", installed.to_str().unwrap()]) {
        Ok(extents) => assert!(extents.contains("shared"), "{extents}"),
        Err(why) => skip(&format!("shared extents not checked: filefrag: {why}")),
    }
    // Independent: editing the environment's file leaves the cache alone.
    std::fs::write(&installed, "edited = True\n").unwrap();
    assert_ne!(std::fs::read(&installed).unwrap(), std::fs::read(&cached).unwrap());
    let verify = installer(work.path(), &["cache", "verify", "--cache-dir", cache.to_str().unwrap()]);
    assert_ok(&verify);
}

/// Doctor's report with the machine-specific parts replaced: places by names, device numbers,
/// the disk's filesystem and mount point, the Python version. The interpreter's lines (tested
/// in target.rs) are left out.
fn normalize_doctor(text: &str, replacements: &[(&Path, &str)]) -> String {
    let mut lines: Vec<String> = Vec::new();
    let interpreter_lines = ["python:  ", "         wheels must suit ", "tags:    "];
    for line in text.lines().filter(|l| !interpreter_lines.iter().any(|p| l.starts_with(p))) {
        let mut line = line.to_string();
        if line.starts_with("         filesystem ") && lines.last().is_some_and(|l| l.starts_with("target:"))
        {
            line = "         filesystem [FS], device [DEV], mounted at [MOUNT]".into();
        } else if let Some(at) = line.find(", device ") {
            let end = at + line[at..].find(", mounted").unwrap();
            line.replace_range(at..end, ", device [DEV]");
        }
        for (path, name) in replacements {
            line = line.replace(path.to_str().unwrap(), name);
        }
        if let Some(at) = line.find("/lib/python3.") {
            let end = at + line[at..].find("/site-packages").unwrap();
            line.replace_range(at..end, "/lib/pythonX.Y");
        }
        lines.push(line);
    }
    lines.join("\n")
}

#[test]
fn doctor_explains_a_cache_on_another_filesystem_and_the_shard_that_fixes_it() {
    let work = tempfile::tempdir().unwrap();
    let Some(cache) = tmpfs_dir(work.path()) else { return };
    let venv = make_venv(&work.path().join("venv"));
    let args = ["doctor", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.path().to_str().unwrap()];

    let out = installer_with_env(work.path(), &args, &[("INSTALLER_CACHE_SHARDS", "")]);
    assert_eq!(out.status.code(), Some(1), "a listed problem is exit 1: {}", stderr(&out));
    let names = [(cache.path(), "[CACHE]"), (venv.as_path(), "[VENV]"), (work.path(), "[WORK]")];
    assert_eq!(
        normalize_doctor(&String::from_utf8(out.stdout).unwrap(), &names),
        "cache:   [CACHE]\n\
         \x20        filesystem tmpfs, device [DEV], mounted at /dev/shm\n\
         target:  [VENV]/lib/pythonX.Y/site-packages\n\
         \x20        filesystem [FS], device [DEV], mounted at [MOUNT]\n\
         link mode auto from the cache: copy (neither hardlinks nor clones work here)\n\
         \x20 hardlink failed: Invalid cross-device link (os error 18)\n\
         \x20 clone failed: Invalid cross-device link (os error 18)\n\
         cache shard: none (no cache shard is configured on this filesystem (`cache-shards`) and automatic \
         shards are off)\n\
         an install would use: copy\n\
         problems:\n\
         \x20 - the cache and the target are on different filesystems and no cache shard can be used (no cache \
         shard is configured on this filesystem (`cache-shards`) and automatic shards are off): installs copy \
         every file; use `--cache-dir [WORK]/.installer-cache` or `cache-shards = [\"[WORK]/.installer-cache\"]`"
    );

    let shard = work.path().join("shard");
    let out = installer_with_env(work.path(), &args, &[("INSTALLER_CACHE_SHARDS", shard.to_str().unwrap())]);
    assert_ok(&out);
    let report = normalize_doctor(&String::from_utf8(out.stdout).unwrap(), &names);
    assert!(report.contains("cache shard: [WORK]/shard (not created yet)\n"), "{report}");
    assert!(report.contains("an install would use: hardlink, from the shard [WORK]/shard\n"), "{report}");
    assert!(report.ends_with("problems: none"), "{report}");
    assert!(!shard.exists(), "doctor creates nothing");

    // A dry run into an environment that does not exist yet decides as doctor does: the shard.
    let missing = work.path().join("not-yet");
    let wheel = fixture("fixture_pkg-1.0");
    let dry = [
        "install",
        "--dry-run",
        "--format",
        "json",
        "--venv",
        missing.to_str().unwrap(),
        "--cache-dir",
        cache.path().to_str().unwrap(),
        wheel.to_str().unwrap(),
    ];
    let out = installer_with_env(work.path(), &dry, &[("INSTALLER_CACHE_SHARDS", shard.to_str().unwrap())]);
    assert_ok(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["link_mode"], "hardlink", "{report}");
    assert_eq!(report["shard"], shard.to_str().unwrap(), "{report}");
    assert!(!missing.exists() && !shard.exists(), "a dry run creates nothing");
}

/// The bytecode directory (`pyc-<tag>-<magic>-v<format>/tree`) of the one entry under `cache`.
fn cached_bytecode_tree(cache: &Path) -> PathBuf {
    let entries: Vec<PathBuf> =
        std::fs::read_dir(cache_entries_dir(cache)).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let sets: Vec<PathBuf> = std::fs::read_dir(&entries[0])
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("pyc-"))
        .collect();
    assert_eq!(sets.len(), 1, "{sets:?}");
    sets[0].join("tree")
}

#[test]
fn clone_with_compile_on_a_loop_mounted_xfs_places_bytecode_python_uses_as_is() {
    let Some(fs) = loop_mount_or_skip("xfs") else { return };
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let venv = make_venv(&fs.mount.join("p/.venv"));

    let out = install(work.path(), &venv, &cache, &["-v", "--link-mode", "clone", "--compile"], &[]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(!err.contains("warning:"), "{err}");
    assert!(err.contains("link mode: clone"), "{err}");
    assert!(err.contains("compiling 9 files of 1 wheels"), "{err}");

    let pycs = assert_bytecode_loads_as_placed(&venv);
    // Clones of the shard's bytecode: their own files, the same bytes.
    let shard = cached_bytecode_tree(&fs.mount.join(".installer-cache"));
    let site = site_packages(&venv);
    for pyc in &pycs {
        assert_eq!(nlink(pyc), 1, "a clone is its own file: {}", pyc.display());
        let cached = shard.join(pyc.strip_prefix(&site).unwrap());
        assert_eq!(std::fs::read(pyc).unwrap(), std::fs::read(&cached).unwrap(), "{}", pyc.display());
        // A copy has the same bytes and one link too: only shared extents tell a clone.
        match run("filefrag", &["-v", pyc.to_str().unwrap()]) {
            Ok(extents) => assert!(extents.contains("shared"), "not a clone: {extents}"),
            Err(why) => skip(&format!("shared extents not checked: filefrag: {why}")),
        }
    }
}

#[test]
fn a_venv_on_another_filesystem_than_the_cache_hardlinks_bytecode_from_the_shard() {
    let work = tempfile::tempdir().unwrap();
    let Some(cache) = tmpfs_dir(work.path()) else { return };
    let shard = work.path().join("shard");
    let shards = [("INSTALLER_CACHE_SHARDS", shard.to_str().unwrap())];
    // The shard's copies of the sources get another modification time than the main cache's:
    // the bytecode compiled from those must be restamped for the shard's.
    let first = make_venv(&work.path().join("plain"));
    assert_ok(&install(work.path(), &first, cache.path(), &[], &shards));
    backdate_entries(cache.path());

    let (a, b) = (make_venv(&work.path().join("a")), make_venv(&work.path().join("b")));
    for (venv, cold) in [(&a, true), (&b, false)] {
        let out = install(work.path(), venv, cache.path(), &["-v", "--compile"], &shards);
        assert_ok(&out);
        let err = stderr(&out);
        assert!(!err.contains("warning:"), "{err}");
        assert!(err.contains(&format!("hardlink from the cache shard {}", shard.display())), "{err}");
        assert_eq!(err.contains("compiling 9 files"), cold, "{err}");
        assert_eq!(err.contains("bytecode for cpython-"), !cold, "{err}");
    }
    let in_shard = cached_bytecode_tree(&shard);
    let in_cache = cached_bytecode_tree(cache.path());
    for venv in [&a, &b] {
        let site = site_packages(venv);
        for pyc in assert_bytecode_loads_as_placed(venv) {
            let rel = pyc.strip_prefix(&site).unwrap();
            assert_eq!(inode(&pyc), inode(&in_shard.join(rel)), "linked from the shard: {}", pyc.display());
            assert!(in_cache.join(rel).is_file(), "compiled in the main cache first");
        }
    }
    assert_eq!(
        nlink(&in_shard.join("fixture_pkg/__pycache__").read_dir().unwrap().next().unwrap().unwrap().path()),
        3
    );
}

/// The `.pyc` of files installed outside site-packages (a `#!python` script, a plain one, a
/// `.data/data` module) comes from the shard's set too, restamped for the shard's copies of
/// their sources like the others.
#[test]
fn bytecode_of_scripts_and_data_files_comes_from_the_shard_restamped() {
    let work = tempfile::tempdir().unwrap();
    let Some(cache) = tmpfs_dir(work.path()) else { return };
    let shard = work.path().join("shard");
    let shards = [("INSTALLER_CACHE_SHARDS", shard.to_str().unwrap())];
    let wheel = WheelBuilder::new("tools", "1.0")
        .file("tools-1.0.data/scripts/tool.py", b"#!python\nprint('tool')\n")
        .file("tools-1.0.data/scripts/plain.py", b"#!/usr/bin/env python\nprint('plain')\n")
        .file("tools-1.0.data/data/share/tools/helper.py", b"X = 1\n")
        .write(work.path(), None);
    let install = |venv: &Path, extra: &[&str]| {
        let (v, c) = (venv.to_str().unwrap(), cache.path().to_str().unwrap());
        let mut args = vec!["install", "-v", "--venv", v, "--cache-dir", c];
        args.extend_from_slice(extra);
        args.push(wheel.to_str().unwrap());
        let out = installer_with_env(work.path(), &args, &shards);
        assert_ok(&out);
        stderr(&out)
    };
    // The shard's copy is made first; then the main cache's sources get another mtime.
    install(&make_venv(&work.path().join("plain")), &[]);
    backdate_entries(cache.path());
    let (a, b) = (make_venv(&work.path().join("a")), make_venv(&work.path().join("b")));
    for (venv, cold) in [(&a, true), (&b, false)] {
        let err = install(venv, &["--compile"]);
        assert!(!err.contains("warning:"), "{err}");
        assert!(err.contains(&format!("hardlink from the cache shard {}", shard.display())), "{err}");
        assert_eq!(err.contains("compiling"), cold, "{err}");
        let sources = ["bin/tool.py", "bin/plain.py", "share/tools/helper.py"].map(|s| venv.join(s));
        assert_pycs_fresh(venv, &sources);
    }
}
