//! Caches shared between machines, users and container layers: read-only cache layers (on a
//! read-only bind mount), a cache shared by a group (two real users made by the test), and a
//! cache in the lower directory of a real overlay mount.
//!
//! Mounts and users need root. Without it these tests print why and pass without checking;
//! under CI what cannot be set up fails the test instead (`support::skip`).

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::privileged::{open_workdir, run, users_with_wheel, Mount, Users};
use support::*;

/// `installer install -v --venv V --cache-dir C <fixture_pkg> [extra]`, with `layers` as
/// `INSTALLER_CACHE_LAYERS` when given.
fn install(cwd: &Path, venv: &Path, cache: &Path, layers: Option<&Path>, extra: &[&str]) -> Output {
    let wheel = fixture("fixture_pkg-1.0");
    let mut args =
        vec!["install", "-v", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(wheel.to_str().unwrap());
    let env: Vec<(&str, &str)> =
        layers.map(|l| ("INSTALLER_CACHE_LAYERS", l.to_str().unwrap())).into_iter().collect();
    installer_with_env(cwd, &args, &env)
}

const MODULE: &str = "fixture_pkg/sub/helpers.py";

fn inode(path: &Path) -> (u64, u64) {
    let meta = std::fs::metadata(path).unwrap();
    (meta.dev(), meta.ino())
}

// ---------------------------------------------------------------------------------------------
// Read-only cache layers

/// A layer filled by an install with `extra` arguments (as an image build fills one), in
/// `work/layer`.
fn filled_layer(work: &Path, extra: &[&str]) -> PathBuf {
    let layer = work.join("layer");
    assert_ok(&install(work, &venv_at(&work.join("filler")), &layer, None, extra));
    layer
}

#[test]
fn a_read_only_layer_serves_a_cold_cache_is_never_written_and_is_imported_once() {
    let work = tempfile::tempdir().unwrap();
    let layer = filled_layer(work.path(), &[]);
    let Some(_ro) = Mount::read_only(&layer) else { return };
    let before = snapshot(&layer);
    let cache = work.path().join("cache");
    let wheel = fixture("fixture_pkg-1.0");

    let (one, two) = (venv_at(&work.path().join("one")), venv_at(&work.path().join("two")));
    let out = install(work.path(), &one, &cache, Some(&layer), &[]);
    assert_ok(&out);
    let err = stderr(&out);
    let hit = format!("cache hit {}: cache entry {}/", wheel.display(), cache_entries_dir(&layer).display());
    assert!(err.contains(&hit), "{err}");
    // A read-only bind mount is another mount: hardlinks from it fail, so it is imported.
    assert!(err.contains("importing the cache layer entry"), "{err}");
    let local = only_entry(&cache);
    assert_eq!(inode(&site_packages(&one).join(MODULE)), inode(&local.join("tree").join(MODULE)));

    // Once: the second environment links from the same imported entry.
    assert_ok(&install(work.path(), &two, &cache, Some(&layer), &[]));
    assert_eq!(only_entry(&cache), local);
    assert_eq!(inode(&site_packages(&two).join(MODULE)), inode(&local.join("tree").join(MODULE)));
    assert_eq!(snapshot(&layer), before, "the layer was written");
    assert_eq!(
        python(&two, "import fixture_pkg.sub.helpers as h; print(h.__name__)").trim(),
        "fixture_pkg.sub.helpers"
    );
}

#[test]
fn a_layer_on_the_environments_filesystem_is_linked_from_where_it_is() {
    let work = tempfile::tempdir().unwrap();
    let layer = filled_layer(work.path(), &[]);
    let cache = work.path().join("cache");
    let venv = venv_at(&work.path().join("venv"));

    let out = install(work.path(), &venv, &cache, Some(&layer), &[]);
    assert_ok(&out);
    assert!(stderr(&out).contains("hardlink from the cache layer entry"), "{}", stderr(&out));
    let entry = only_entry(&layer);
    assert_eq!(inode(&site_packages(&venv).join(MODULE)), inode(&entry.join("tree").join(MODULE)));
    assert_eq!(names(&cache_entries_dir(&cache)), Vec::<String>::new(), "nothing imported");
}

#[test]
fn a_layer_entry_that_does_not_match_its_manifest_is_not_used() {
    let work = tempfile::tempdir().unwrap();
    let layer = filled_layer(work.path(), &[]);
    let tampered = only_entry(&layer).join("tree").join(MODULE);
    std::fs::write(&tampered, "print('tampered')\n").unwrap();
    let cache = work.path().join("cache");
    let venv = venv_at(&work.path().join("venv"));

    let out = install(work.path(), &venv, &cache, Some(&layer), &[]);
    assert_ok(&out);
    let err = stderr(&out);
    let warning = format!("warning: not using the cache layer entry {}", only_entry(&layer).display());
    assert!(err.contains(&warning), "{err}");
    assert!(
        err.contains(&format!("1 changed file(s), e.g. {MODULE}); unpacking the wheel instead")),
        "{err}"
    );
    let installed = std::fs::read_to_string(site_packages(&venv).join(MODULE)).unwrap();
    assert!(!installed.contains("tampered"), "{installed}");
    assert_eq!(
        inode(&site_packages(&venv).join(MODULE)),
        inode(&only_entry(&cache).join("tree").join(MODULE))
    );
}

#[test]
fn compiling_a_read_only_layers_entry_imports_it_and_compiles_once_into_the_cache() {
    let work = tempfile::tempdir().unwrap();
    let layer = filled_layer(work.path(), &[]);
    backdate_entries(&layer);
    let Some(_ro) = Mount::read_only(&layer) else { return };
    let before = snapshot(&layer);
    let cache = work.path().join("cache");

    let (one, two) = (venv_at(&work.path().join("one")), venv_at(&work.path().join("two")));
    let out = install(work.path(), &one, &cache, Some(&layer), &["--compile"]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains("importing the cache layer entry"), "{err}");
    assert!(err.contains("compiling "), "{err}");
    let local = only_entry(&cache);
    assert_eq!(bytecode_sets(&local).len(), 1, "{:?}", names(&local));
    assert_eq!(bytecode_sets(&only_entry(&layer)), Vec::<String>::new());
    assert_bytecode_loads_as_placed(&one);

    // Once: the second environment gets the imported entry's bytecode, compiling nothing.
    let out = install(work.path(), &two, &cache, Some(&layer), &["--compile"]);
    assert_ok(&out);
    assert_compiled_nothing(&out);
    assert_eq!(only_entry(&cache), local);
    assert_bytecode_loads_as_placed(&two);
    assert_eq!(names(&cache_staging_dir(&cache)), Vec::<String>::new(), "nothing left staged");
    assert_eq!(snapshot(&layer), before, "the layer was written");
}

#[test]
fn a_read_only_layers_bytecode_is_placed_without_compiling() {
    let work = tempfile::tempdir().unwrap();
    let layer = filled_layer(work.path(), &[]);
    backdate_entries(&layer);
    let filler = work.path().join("filler");
    assert_ok(&install(work.path(), &filler, &layer, None, &["--compile", "--reinstall"]));
    assert_eq!(bytecode_sets(&only_entry(&layer)).len(), 1, "the filler compiled");
    let Some(_ro) = Mount::read_only(&layer) else { return };
    let before = snapshot(&layer);
    let cache = work.path().join("cache");

    let venv = venv_at(&work.path().join("venv"));
    let out = install(work.path(), &venv, &cache, Some(&layer), &["--compile"]);
    assert_ok(&out);
    assert_compiled_nothing(&out);
    assert_bytecode_loads_as_placed(&venv);
    assert_eq!(snapshot(&layer), before, "the layer was written");
}

#[test]
fn compiling_a_read_only_layers_entry_for_another_filesystem_compiles_once_into_its_shard() {
    let work = tempfile::tempdir().unwrap();
    let layer = filled_layer(work.path(), &[]);
    backdate_entries(&layer);
    let Some(_ro) = Mount::read_only(&layer) else { return };
    let before = snapshot(&layer);
    // The environments on a filesystem of their own: the layer's entry goes to its automatic shard.
    let elsewhere = work.path().join("elsewhere");
    // Mode 755: only root may make its automatic shard there (a 1777 top gets none).
    let Some(_tmpfs) = Mount::drive(&elsewhere) else { return };
    let (cache, shard) = (work.path().join("cache"), elsewhere.join(".installer-cache"));

    let (one, two) = (venv_at(&elsewhere.join("one")), venv_at(&elsewhere.join("two")));
    let out = install(work.path(), &one, &cache, Some(&layer), &["--compile"]);
    assert_ok(&out);
    assert!(stderr(&out).contains("compiling "), "{}", stderr(&out));
    let imported = only_entry(&shard);
    assert_eq!(bytecode_sets(&imported).len(), 1, "{:?}", names(&imported));
    assert_bytecode_loads_as_placed(&one);

    // Once: the second environment gets the shard's bytecode, compiling nothing.
    let out = install(work.path(), &two, &cache, Some(&layer), &["--compile"]);
    assert_ok(&out);
    assert_compiled_nothing(&out);
    assert_eq!((only_entry(&shard), bytecode_sets(&imported).len()), (imported.clone(), 1));
    let set = imported.join(&bytecode_sets(&imported)[0]).join("tree");
    for pyc in assert_bytecode_loads_as_placed(&two) {
        let placed = pyc.strip_prefix(site_packages(&two)).unwrap();
        assert_eq!(inode(&pyc), inode(&set.join(placed)), "{}", pyc.display());
    }
    assert_eq!(names(&cache_staging_dir(&cache)), Vec::<String>::new(), "nothing left staged");
    assert_eq!(names(&cache_staging_dir(&shard)), Vec::<String>::new(), "nothing left staged");
    assert_eq!(snapshot(&layer), before, "the layer was written");
}

// ---------------------------------------------------------------------------------------------
// A cache shared by a group

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o7777
}

/// Every directory of a published entry (its bytecode sets included) is the group's (`2775`)
/// and every file read-only (`0555` the executable ones, `0444` the others), but the leases
/// (`.lock`), which stay group-writable (`0664`).
#[track_caller]
fn assert_sealed(entry: &Path, executable: &[&str]) {
    for file in walkdir::WalkDir::new(entry).into_iter().map(|e| e.unwrap()) {
        let want = match file.path() {
            _ if file.file_type().is_dir() => 0o2775,
            _ if file.file_name() == ".lock" => 0o664,
            path if executable.iter().any(|x| path.ends_with(x)) => 0o555,
            _ => 0o444,
        };
        assert_eq!(mode(file.path()), want, "{}", file.path().display());
    }
}

/// `installer install -v` of `wheel` into `venv` as `user`, with a cache of that user's own in
/// `cwd` (made on the first call), and `INSTALLER_CACHE_SHARDS=shards` when given.
fn install_as_user(
    users: &Users,
    user: &str,
    cwd: &Path,
    venv: &Path,
    wheel: &Path,
    shards: Option<&Path>,
) -> Output {
    let cache = cwd.join(format!("cache-{user}"));
    if !cache.exists() {
        std::fs::create_dir(&cache).unwrap();
        run("chown", &[user, cache.to_str().unwrap()]);
    }
    let args = ["install", "-v", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    let program = Path::new(env!("CARGO_BIN_EXE_installer"));
    let mut command = users.command(user, cwd, program, &[&args[..], &[wheel.to_str().unwrap()]].concat());
    if let Some(shards) = shards {
        command.env("INSTALLER_CACHE_SHARDS", shards);
    }
    command.output().unwrap()
}

/// Whether Linux refuses hardlinks to files one may not write (`fs.protected_hardlinks`, on by
/// default on every distribution): what these tests check the installer copes with. Says so
/// when it is off (a failure under CI).
fn hardlinks_protected() -> bool {
    let on = std::fs::read_to_string("/proc/sys/fs/protected_hardlinks").is_ok_and(|v| v.trim() == "1");
    if !on {
        skip("fs.protected_hardlinks is not 1: anyone may hardlink another user's read-only files");
    }
    on
}

fn owner(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().uid()
}

#[test]
fn two_users_of_a_group_share_one_cache_without_reaching_into_each_others_environments() {
    use std::os::unix::fs::PermissionsExt;
    let Some(users) = Users::new() else { return };
    if !hardlinks_protected() {
        return;
    }
    let work = open_workdir();
    let cwd = work.path();
    let cache = cwd.join("cache");
    std::fs::create_dir(&cache).unwrap();
    run("chown", &[&format!("root:{}", users.group), cache.to_str().unwrap()]);
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o2775)).unwrap();
    let (one, two) =
        (cwd.join("fixture_pkg-1.0-py3-none-any.whl"), cwd.join("fixture_pkg-2.0-py3-none-any.whl"));
    std::fs::copy(fixture("fixture_pkg-1.0"), &one).unwrap();
    std::fs::copy(fixture("fixture_pkg-2.0"), &two).unwrap();
    let (venv_a, venv_b) = (users.venv(&users.a, &cwd.join("a")), users.venv(&users.b, &cwd.join("b")));
    let args = |venv: &Path, wheel: &Path| -> Vec<String> {
        ["install", "-v", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()]
            .iter()
            .map(|s| s.to_string())
            .chain([wheel.to_str().unwrap().to_string()])
            .collect()
    };

    // A fills the cache; its entry is published read-only, directories usable by the group.
    let out = users.installer(&users.a, cwd, &args(&venv_a, &one));
    assert_ok(&out);
    let entry = only_entry(&cache);
    assert_eq!(mode(&entry.join("tree").join(MODULE)), 0o444);
    assert_eq!(mode(&entry.join("tree/fixture_pkg/bin/run.sh")), 0o555, "exec bits are kept");
    assert_eq!(mode(&entry) & 0o2070, 0o2070, "{:o}", mode(&entry));
    assert_eq!(mode(&entry) & 0o002, 0, "not writable by others");

    // B's dry run predicts what B's install below does, for the reason it gives.
    let mut dry_run = args(&venv_b, &one);
    dry_run.insert(1, "--dry-run".to_string());
    let predicted = users.installer(&users.b, cwd, &dry_run);
    assert_ok(&predicted);
    let err = stderr(&predicted);
    assert!(err.contains("in this shared cache, and hardlinks to it are refused"), "{err}");
    assert_eq!(names(&cache_entries_dir(&cache)), vec![entry.file_name().unwrap().to_str().unwrap()]);

    // B installs from it (a hit). Hardlinks to A's read-only files are refused to B
    // (protected_hardlinks), so B's files are clones or copies, said under -v, not warned.
    let out = users.installer(&users.b, cwd, &args(&venv_b, &one));
    assert_ok(&out);
    // The summary says the mode: "Installed ... in 13ms: copy", "Would install ...: copy; ...".
    let said_mode = |out: &Output| {
        let err = stderr(out);
        let summary = err.lines().find(|l| l.starts_with("Installed ") || l.starts_with("Would install "));
        let mode = summary
            .and_then(|l| l.split_once(": "))
            .map(|(_, rest)| rest.split(';').next().unwrap().to_string());
        mode.unwrap_or_else(|| panic!("no link mode in {err}"))
    };
    let mode_b = said_mode(&out);
    assert_ne!(mode_b, "hardlink");
    assert_eq!(said_mode(&predicted), mode_b, "{predicted:?}");
    let err = stderr(&out);
    assert!(err.contains("cache hit"), "{err}");
    assert!(err.contains("in this shared cache, and hardlinks to it are refused"), "{err}");
    assert!(!err.contains("warning:"), "{err}");
    let (file_a, file_b) = (site_packages(&venv_a).join(MODULE), site_packages(&venv_b).join(MODULE));
    let shared = entry.join("tree").join(MODULE);
    assert_eq!(inode(&file_a), inode(&shared));
    assert_ne!(inode(&file_b), inode(&shared));
    assert_eq!(std::fs::read(&file_b).unwrap(), std::fs::read(&file_a).unwrap());
    // Nor can B change A's environment through the cache's copy of A's file.
    let before = std::fs::read(&file_a).unwrap();
    let sh = Path::new("/bin/sh");
    let script = format!("echo 'import os' >> {}", shared.display());
    let edit = users.command(&users.b, cwd, sh, &["-c", &script]).output().unwrap();
    assert!(!edit.status.success(), "B could write the shared file");
    assert_eq!(std::fs::read(&file_a).unwrap(), before);

    // B compiles bytecode into A's read-only entry: published beside its tree, sealed too.
    let mut compile = args(&venv_b, &one);
    compile.splice(1..1, ["--compile".to_string(), "--reinstall".to_string()]);
    let out = users.installer(&users.b, cwd, &compile);
    assert_ok(&out);
    let pyc: Vec<String> = names(&entry).into_iter().filter(|n| n.starts_with("pyc-")).collect();
    assert_eq!(pyc.len(), 1, "{:?}", names(&entry));
    let helpers = entry.join(&pyc[0]).join("tree/fixture_pkg/sub/__pycache__");
    assert!(helpers.is_dir(), "{}", helpers.display());
    assert_sealed(&entry, &["fixture_pkg/bin/run.sh"]);

    // A staging directory A's killed process left is removed by B's next unpack.
    let program = Path::new(env!("CARGO_BIN_EXE_installer"));
    let mut command = users.command(&users.a, cwd, program, &args(&venv_a, &two));
    command.stderr(std::process::Stdio::null());
    Paused::start_command(command, "staging-locking").kill();
    let staged = |cache: &Path| {
        names(&cache_staging_dir(cache)).into_iter().filter(|n| n.starts_with("entry-")).count()
    };
    assert_eq!(staged(&cache), 1, "A left its staging directory");
    assert_ok(&users.installer(&users.b, cwd, &args(&venv_b, &two)));
    assert_eq!(staged(&cache), 0, "{:?}", names(&cache_staging_dir(&cache)));

    // B evicts and prunes entries A published read-only, with the bytecode A compiled sealed
    // beside them, but never one a running install of A holds; nor does B touch root's
    // automatic shard on another filesystem (not B's to clean).
    let Some(_tmpfs) = Mount::new(&cwd.join("other-fs"), &["-t", "tmpfs", "tmpfs"]) else { return };
    let roots_shard = cwd.join("other-fs/.installer-cache");
    assert_ok(&install(cwd, &venv_at(&cwd.join("other-fs/venv")), &roots_shard, None, &[]));
    let cache_arg = cache.to_str().unwrap();
    let compiled_by_a = |name: &str, executable: &[&str]| {
        let wheel = cwd.join(fixture(name).file_name().unwrap());
        std::fs::copy(fixture(name), &wheel).unwrap();
        let mut compile = args(&venv_a, &wheel);
        compile.insert(1, "--compile".to_string());
        assert_ok(&users.installer(&users.a, cwd, &compile));
        let entry = names(&cache_entries_dir(&cache)).into_iter().find(|n| n.starts_with(name)).unwrap();
        let entry = cache_entries_dir(&cache).join(entry);
        let pycs = bytecode_state(&entry.join(&bytecode_sets(&entry)[0]));
        let pyc = pycs.keys().next().unwrap();
        assert_eq!(owner(pyc), owner(&file_a), "compiled by A: {}", pyc.display());
        assert_sealed(&entry, executable);
        entry
    };
    let data = compiled_by_a("fixture_data", &["scripts/fixture-data-py", "scripts/fixture-data-sh"]);
    let mut reinstall = args(&venv_a, &one);
    reinstall.insert(1, "--reinstall".to_string());
    let holding = Paused::start_command(users.command(&users.a, cwd, program, &reinstall), "entry-leased");
    let out =
        users.installer(&users.b, cwd, &["cache", "prune", "--max-size", "0", "--cache-dir", cache_arg]);
    assert_ok(&out);
    assert!(!data.exists() && entry.exists(), "{:?}", names(&cache_entries_dir(&cache)));
    assert!(String::from_utf8_lossy(&out.stdout).contains("in use by a running install"), "{out:?}");
    let unicode = compiled_by_a("fixture_unicode", &[]);
    let out =
        users.installer(&users.b, cwd, &["cache", "prune", "--older-than", "0s", "--cache-dir", cache_arg]);
    assert_ok(&out);
    assert!(!unicode.exists() && entry.exists(), "{:?}", names(&cache_entries_dir(&cache)));
    assert_ok(&holding.resume());
    assert_eq!(names(&cache_entries_dir(&roots_shard)).len(), 1, "root's shard was left alone");

    // B removes entries A published read-only.
    let out = users.installer(&users.b, cwd, &["cache", "clean", "--cache-dir", cache_arg]);
    assert_ok(&out);
    assert_eq!(names(&cache_entries_dir(&cache)), Vec::<String>::new());
    assert_eq!(std::fs::read(&file_a).unwrap(), before, "environments keep their files");
}

#[test]
fn no_automatic_shard_at_the_top_of_a_filesystem_every_user_may_write_so_none_can_be_planted() {
    use std::os::unix::fs::PermissionsExt;
    let Some((users, work, wheel)) = users_with_wheel("fixture_pkg-1.0") else { return };
    let cwd = work.path();
    // A scratch filesystem as /tmp is: a tmpfs with its default mode, sticky and world-writable.
    let scratch = cwd.join("scratch");
    let Some(_tmpfs) = Mount::new(&scratch, &["-t", "tmpfs", "tmpfs"]) else { return };
    assert_eq!(mode(&scratch), 0o1777);
    let install_as = |user: &str, venv: &Path, shards: Option<&Path>| {
        let out = install_as_user(&users, user, cwd, venv, &wheel, shards);
        assert_ok(&out);
        stderr(&out)
    };

    // A prepares the shard everyone's installs on that filesystem would find (its own,
    // configured), fills it with an install, and replaces the module with their code, open to
    // all: the entry B's install would find there under the wheel's public hash.
    let planted = scratch.join(".installer-cache");
    let mut mkdir =
        users.command(&users.a, cwd, Path::new("/bin/mkdir"), &["-m", "0777", planted.to_str().unwrap()]);
    assert!(mkdir.status().unwrap().success());
    install_as(&users.a, &users.venv(&users.a, &scratch.join("venv-a")), Some(&planted));
    let mut replaced = 0;
    for file in walkdir::WalkDir::new(&planted).into_iter().map(|e| e.unwrap()) {
        if file.path().ends_with(MODULE) {
            std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o666)).unwrap();
            std::fs::write(file.path(), "PLANTED = True\n").unwrap();
            replaced += 1;
        }
    }
    assert_eq!(replaced, 1, "A's shard holds the module to replace");
    run("chmod", &["-R", "a+rwX", planted.to_str().unwrap()]);
    let planted_entries = names(&cache_entries_dir(&planted));

    // B's automatic install on that filesystem neither uses nor fills it: B gets the wheel's
    // files.
    let venv_b = users.venv(&users.b, &scratch.join("venv-b"));
    let err = install_as(&users.b, &venv_b, None);
    assert!(err.contains("every user may create files at the top of this filesystem"), "{err}");
    assert!(!err.contains("from the cache shard"), "{err}");
    let installed = std::fs::read_to_string(site_packages(&venv_b).join(MODULE)).unwrap();
    assert!(!installed.contains("PLANTED"), "{installed}");
    assert_eq!(names(&cache_entries_dir(&planted)), planted_entries, "B added nothing to the planted shard");
}

#[test]
fn a_groups_shared_shard_holding_anothers_read_only_entries_is_cloned_or_copied_from() {
    use std::os::unix::fs::PermissionsExt;
    let Some((users, work, wheel)) = users_with_wheel("fixture_pkg-1.0") else { return };
    if !hardlinks_protected() {
        return;
    }
    let cwd = work.path();
    // The projects' filesystem, with the group's shard on it; each user's cache elsewhere.
    let projects = cwd.join("projects");
    let Some(_tmpfs) = Mount::drive(&projects) else { return };
    let shard = projects.join("shard");
    std::fs::create_dir(&shard).unwrap();
    run("chgrp", &[&users.group, shard.to_str().unwrap()]);
    std::fs::set_permissions(&shard, std::fs::Permissions::from_mode(0o2775)).unwrap();
    let install_as = |user: &str, venv: &Path| install_as_user(&users, user, cwd, venv, &wheel, Some(&shard));

    // A's install imports the entry into the shard, sealed read-only, and links from it.
    let venv_a = users.venv(&users.a, &projects.join("a"));
    let out = install_as(&users.a, &venv_a);
    assert_ok(&out);
    assert!(stderr(&out).contains("link mode: hardlink from the cache shard"), "{}", stderr(&out));
    let entry = only_entry(&shard);
    assert_eq!(inode(&site_packages(&venv_a).join(MODULE)), inode(&entry.join("tree").join(MODULE)));

    // B's probe (a file of B's) allows hardlinks, but not to A's read-only files: B's install
    // clones or copies them, said under -v, with no warning and no failure.
    let venv_b = users.venv(&users.b, &projects.join("b"));
    let out = install_as(&users.b, &venv_b);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains("in this shared cache, and hardlinks to it are refused"), "{err}");
    assert!(!err.contains("warning:"), "{err}");
    assert_ne!(inode(&site_packages(&venv_b).join(MODULE)), inode(&entry.join("tree").join(MODULE)));
    let python_b =
        users.command(&users.b, cwd, &venv_b.join("bin/python"), &["-c", "import fixture_pkg.sub.helpers"]);
    assert!({ python_b }.status().unwrap().success());
}

// ---------------------------------------------------------------------------------------------
// Containers: an overlay whose lower directory holds the cache

#[test]
fn a_cache_in_an_overlays_lower_layer_is_copied_from_without_a_warning() {
    let work = tempfile::tempdir().unwrap();
    let lower = work.path().join("lower");
    // The image layer: a cache filled by an install, as an earlier build step leaves it.
    assert_ok(&install(work.path(), &venv_at(&work.path().join("filler")), &lower.join("cache"), None, &[]));
    let Some(_tmpfs) = Mount::new(&work.path().join("rw"), &["-t", "tmpfs", "tmpfs"]) else { return };
    let (upper, scratch) = (work.path().join("rw/upper"), work.path().join("rw/work"));
    std::fs::create_dir(&upper).unwrap();
    std::fs::create_dir(&scratch).unwrap();
    let options =
        format!("lowerdir={},upperdir={},workdir={}", lower.display(), upper.display(), scratch.display());
    let merged = work.path().join("merged");
    let Some(_overlay) = Mount::new(&merged, &["-t", "overlay", "overlay", "-o", &options]) else { return };
    let cache = merged.join("cache");

    let venv = venv_at(&merged.join("venv"));
    let out = install(work.path(), &venv, &cache, None, &[]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(!err.contains("warning:"), "{err}");
    let why = format!(
        "the cache {} is in a lower layer of an overlay filesystem ({})",
        cache.display(),
        lower.display()
    );
    assert!(
        err.contains(&format!("info: link mode: copy (target {}", site_packages(&venv).display())),
        "{err}"
    );
    assert!(err.contains(&why), "{err}");
    assert!(err.contains("Installed 1 wheel"), "{err}");
    assert_eq!(nlink(&site_packages(&venv).join(MODULE)), 1, "copied, not linked");

    // doctor says the same, and lists no problem.
    let args = ["doctor", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    let out = installer(work.path(), &args);
    assert_ok(&out);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("an install would use: copy\n  because ") && report.contains(&why), "{report}");

    // A cache made in the upper layer is hardlinked from as usual, and a dry run and doctor
    // say so before it is made (its nearest existing directory is in the lower layer).
    let fresh = venv_at(&merged.join("fresh"));
    let new_cache = merged.join("new-cache");
    let out = install(work.path(), &fresh, &new_cache, None, &["--dry-run"]);
    assert_ok(&out);
    assert!(stderr(&out).contains("Would install 1 wheel: hardlink;"), "{}", stderr(&out));
    let args = ["doctor", "--venv", fresh.to_str().unwrap(), "--cache-dir", new_cache.to_str().unwrap()];
    let report = String::from_utf8_lossy(&installer(work.path(), &args).stdout).to_string();
    assert!(report.contains("an install would use: hardlink"), "{report}");
    assert!(!new_cache.exists());
    let out = install(work.path(), &fresh, &new_cache, None, &[]);
    assert_ok(&out);
    assert!(stderr(&out).contains("info: link mode: hardlink"), "{}", stderr(&out));
}

/// A container build, for real: a chroot into an overlay (the host's root as its lower
/// directory, the upper on tmpfs) mounted as `/`, with the cache on a tmpfs mounted inside, as
/// a build's cache mount is.
#[test]
fn a_build_cache_mount_in_a_container_is_copied_from_without_a_warning() {
    let work = tempfile::tempdir_in("/dev/shm").unwrap();
    let (upper, scratch) = (work.path().join("upper"), work.path().join("work"));
    std::fs::create_dir(&upper).unwrap();
    std::fs::create_dir(&scratch).unwrap();
    let options = format!("lowerdir=/,upperdir={},workdir={}", upper.display(), scratch.display());
    let root = work.path().join("root");
    // Declared first, dropped (unmounted) last.
    let Some(_overlay) = Mount::new(&root, &["-t", "overlay", "overlay", "-o", &options]) else { return };
    let Some(_proc) = Mount::new(&root.join("proc"), &["-t", "proc", "proc"]) else { return };
    let Some(_dev) = Mount::new(&root.join("dev"), &["--bind", "/dev"]) else { return };
    let Some(_cache) = Mount::new(&root.join("cache-mount"), &["-t", "tmpfs", "tmpfs"]) else { return };
    let inside = root.join("build");
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_installer"), inside.join("installer")).unwrap();
    let wheel = fixture("fixture_pkg-1.0");
    let wheel_name = wheel.file_name().unwrap().to_str().unwrap();
    std::fs::copy(&wheel, inside.join(wheel_name)).unwrap();

    let out = Command::new("chroot")
        .arg(&root)
        .args(["/build/installer", "install", "-v", "--venv", "/build/venv", "--cache-dir", "/cache-mount/c"])
        .arg(format!("/build/{wheel_name}"))
        .env_remove("INSTALLER_CACHE_SHARDS")
        .env_remove("INSTALLER_LINK_MODE")
        .env("XDG_CONFIG_HOME", "/build/.no-user-config")
        .output()
        .unwrap();
    assert_ok(&out);
    let err = stderr(&out);
    assert!(!err.contains("warning:"), "{err}");
    assert!(err.contains("the target is on a container's root filesystem (an overlay at `/`)"), "{err}");
    assert!(err.contains("Installed 1 wheel (24 files)") && err.contains(": copy"), "{err}");
    assert!(inside.join("venv/lib").is_dir());
}
