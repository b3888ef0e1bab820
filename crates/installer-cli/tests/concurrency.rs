//! Processes sharing one cache and one environment, each run exactly inside another's window
//! (a pause point, `INSTALLER_TEST_PAUSE`), so the protocols are proven at the instant that
//! matters, not by luck of timing: staging directories, bytecode sets, entries in use, and
//! transactions.

mod support;

use std::path::{Path, PathBuf};

use support::*;

#[test]
fn another_process_never_removes_a_staging_directory_before_its_writer_locks_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let (venv_a, venv_b) = (make_venv(&dir.path().join("a")), make_venv(&dir.path().join("b")));
    let (pkg, data) = (fixture("fixture_pkg-1.0"), fixture("fixture_data"));

    // A has made its staging directory and its lock file, and has not locked it yet.
    let a = Paused::start(dir.path(), &install_args(&venv_a, &cache, &[&pkg], &[]), "staging-locking");
    // B unpacks another wheel into the same cache: its first staging directory cleans up stale ones.
    assert_ok(&installer(dir.path(), &install_args(&venv_b, &cache, &[&data], &[])));
    let out = a.resume();
    assert_ok(&out);
    assert_eq!(python(&venv_a, "import fixture_pkg; print(fixture_pkg.__name__)"), "fixture_pkg\n");
}

/// A directory with a cache holding fixture_pkg's entry, which no environment hardlinks (it was
/// installed by copying): `cache prune`'s and `cache clean`'s to remove. Returns the
/// directory, the cache and the wheel.
fn warm_unused_entry() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let pkg = fixture("fixture_pkg-1.0");
    let first = make_venv(&dir.path().join("first"));
    assert_ok(&installer(dir.path(), &install_args(&first, &cache, &[&pkg], &["--link-mode", "copy"])));
    (dir, cache, pkg)
}

#[test]
fn prune_and_clean_keep_an_entry_that_an_install_is_about_to_use() {
    for command in [&["cache", "prune"][..], &["cache", "clean"]] {
        let (dir, cache, pkg) = warm_unused_entry();

        let venv = make_venv(&dir.path().join("venv"));
        let a = Paused::start(dir.path(), &install_args(&venv, &cache, &[&pkg], &[]), "entry-leased");
        let mut admin = command.to_vec();
        admin.extend(["--cache-dir", cache.to_str().unwrap()]);
        let out = installer(dir.path(), &admin);
        assert_ok(&out);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains("(1 in use by a running install)"), "{command:?} says what it kept: {said}");
        let out = a.resume();
        assert_ok(&out);
        assert_eq!(python(&venv, "import fixture_pkg; print(fixture_pkg.__name__)"), "fixture_pkg\n");

        // Once the install is over, the entry is no longer in use.
        let out = installer(dir.path(), &admin);
        assert_ok(&out);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(!said.contains("in use"), "{command:?}: {said}");
    }
}

#[test]
fn reading_an_environment_never_rolls_back_a_live_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let venv = make_venv(&dir.path().join("venv"));
    assert_ok(&installer(dir.path(), &install_args(&venv, &cache, &[&fixture("fixture_pkg-1.0")], &[])));

    // A upgrades and has made its backup directory, not yet locked; B lists the environment.
    let upgrade = fixture("fixture_pkg-2.0");
    let a = Paused::start(dir.path(), &install_args(&venv, &cache, &[&upgrade], &[]), "backup-locking");
    let backups = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&venv)
            .unwrap()
            .filter_map(|e| e.unwrap().file_name().into_string().ok())
            .filter(|n| n.starts_with(".installer-"))
            .collect();
        names.sort();
        names
    };
    let during = backups();
    assert_eq!(during.len(), 1, "{during:?}");
    let out = installer(dir.path(), &["list", "--venv", venv.to_str().unwrap()]);
    assert_ok(&out);
    assert_eq!(backups(), during, "list left the live transaction's backup alone");
    let out = a.resume();
    assert_ok(&out);
    assert_eq!(python(&venv, "import fixture_pkg; print(fixture_pkg.__version__)"), "2.0\n");
    assert!(backups().is_empty(), "{:?}", backups());
}

#[test]
fn reading_a_target_directory_never_rolls_back_a_live_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let target = dir.path().join("target");
    let target_arg = target.to_str().unwrap();
    let (old, new) = (fixture("fixture_pkg-1.0"), fixture("fixture_pkg-2.0"));
    let install = |wheel: &Path| {
        let mut args = vec!["install", "--target", target_arg, "--cache-dir", cache.to_str().unwrap()];
        args.push(wheel.to_str().unwrap());
        let mut command = installer_command(dir.path(), &args, &[]);
        command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        command
    };
    assert_ok(&install(&old).output().unwrap());

    // A upgrades and has made its backup directory and its lock file, not yet locked; B lists.
    let a = Paused::start_command(install(&new), "backup-locking");
    let backups =
        || -> Vec<String> { names(&target).into_iter().filter(|n| n.starts_with(".installer-")).collect() };
    let during = backups();
    assert_eq!(during.len(), 1, "{during:?}");
    assert_ok(&installer(dir.path(), &["list", "--target", target_arg]));
    assert_eq!(backups(), during, "list left the live transaction's backup alone");
    let out = a.resume();
    assert_ok(&out);
    assert!(backups().is_empty(), "{:?}", backups());
    let version = std::fs::read_to_string(target.join("fixture_pkg-2.0.dist-info/METADATA")).unwrap();
    assert!(version.contains("Version: 2.0"), "{version}");
}

#[test]
fn no_install_starts_in_an_environment_that_its_creator_may_still_remove() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let venv = dir.path().join("new-venv");
    // A creates the environment, then fails (its two wheels write one file) and removes it.
    let (clash_a, clash_b) = (fixture("fixture_clash_a"), fixture("fixture_clash_b"));
    let a =
        Paused::start(dir.path(), &install_args(&venv, &cache, &[&clash_a, &clash_b], &[]), "venv-created");
    assert!(venv.join("pyvenv.cfg").is_file());

    // B finds the environment there and must wait for A rather than install into it.
    let pkg = fixture("fixture_pkg-1.0");
    let mut b = installer_command(dir.path(), &install_args(&venv, &cache, &[&pkg], &[]), &[])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut b_err = std::io::BufReader::new(b.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("waiting for another installer process") {
        let mut line = String::new();
        assert_ne!(
            std::io::BufRead::read_line(&mut b_err, &mut line).unwrap(),
            0,
            "B ended without waiting: {said}"
        );
        said.push_str(&line);
    }
    let out = a.resume();
    assert!(!out.status.success() && stderr(&out).contains("fixture_clash"), "{}", stderr(&out));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut b_err, &mut rest).unwrap();
    assert!(b.wait().unwrap().success(), "B: {said}{rest}");
    // B created the environment anew and its install is there.
    assert_eq!(python(&venv, "import fixture_pkg; print(fixture_pkg.__version__)"), "1.0\n");
}

/// Whether process `pid` is waiting for an `flock` (a `->` line of `/proc/locks`): the state
/// a reader is in once it has opened an entry's lease that a remover holds.
fn waits_for_a_lock(pid: u32) -> bool {
    let locks = std::fs::read_to_string("/proc/locks").unwrap();
    locks.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(1) == Some(&"->") && fields.get(5) == Some(&pid.to_string().as_str())
    })
}

#[test]
fn a_reader_that_opened_a_lease_being_removed_unpacks_the_wheel_again() {
    let (dir, cache, pkg) = warm_unused_entry();

    // The remover holds the entry's lease exclusively, before its rename.
    let prune = ["cache", "prune", "--cache-dir", cache.to_str().unwrap()];
    let remover = Paused::start(dir.path(), &prune, "entry-removing");
    // The reader finds the entry through the index, opens its lease and waits for it.
    let venv = make_venv(&dir.path().join("venv"));
    let args = install_args(&venv, &cache, &[&pkg], &["-v"]);
    let mut reader = installer_command(dir.path(), &args, &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while !waits_for_a_lock(reader.id()) {
        assert!(reader.try_wait().unwrap().is_none(), "the reader exited before waiting for the lease");
        std::thread::yield_now(); // polling a state, not timing
    }
    assert_ok(&remover.resume());

    // The lease it then holds names a removed entry: it unpacks the wheel again.
    let out = reader.wait_with_output().unwrap();
    assert_ok(&out);
    assert!(stderr(&out).contains("info: unpacked "), "{}", stderr(&out));
    assert_eq!(python(&venv, "import fixture_pkg; print(fixture_pkg.__name__)"), "fixture_pkg\n");
}

/// Two processes' worth of one race: a temporary directory with a cache and the venvs `a` and
/// `b`, and fixture_pkg 1.0 to install into them.
struct Race {
    dir: tempfile::TempDir,
    cache: PathBuf,
    a: PathBuf,
    b: PathBuf,
    pkg: PathBuf,
}

impl Race {
    fn new() -> Race {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (make_venv(&dir.path().join("a")), make_venv(&dir.path().join("b")));
        Race { cache: dir.path().join("cache"), a, b, pkg: fixture("fixture_pkg-1.0"), dir }
    }

    /// `installer install` of fixture_pkg into `venv` with `extra`.
    fn args<'a>(&'a self, venv: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
        install_args(venv, &self.cache, &[&self.pkg], extra)
    }

    fn start_a(&self, extra: &[&str], point: &str) -> Paused {
        Paused::start(self.dir.path(), &self.args(&self.a, extra), point)
    }

    fn run_b(&self, extra: &[&str]) -> std::process::Output {
        let out = installer(self.dir.path(), &self.args(&self.b, extra));
        assert_ok(&out);
        out
    }

    fn nothing_staged(&self) {
        assert_eq!(names(&cache_staging_dir(&self.cache)), Vec::<String>::new(), "nothing left staged");
    }
}

#[test]
fn an_install_that_loses_the_race_to_publish_an_entry_links_the_winners() {
    let race = Race::new();
    // A has unpacked and verified the wheel into its staging directory, not yet renamed; B
    // unpacks the same wheel and publishes it meanwhile.
    let a = race.start_a(&["--link-mode", "hardlink"], "entry-publishing");
    race.run_b(&["--link-mode", "hardlink"]);
    let entry = only_entry(&race.cache);
    let module = "fixture_pkg/sub/helpers.py";
    let winners = inode_of(&entry.join("tree").join(module));
    assert_ok(&a.resume());

    assert_eq!(only_entry(&race.cache), entry);
    for venv in [&race.a, &race.b] {
        assert_eq!(
            inode_of(&site_packages(venv).join(module)),
            winners,
            "{} links B's entry",
            venv.display()
        );
        assert_eq!(python(venv, "import fixture_pkg.sub.helpers; print('ok')"), "ok\n");
    }
    race.nothing_staged();
}

/// A file's inode: which copy of a file an environment links.
fn inode_of(path: &Path) -> u64 {
    std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap())
}

/// The `.pyc` files of the one bytecode set of the cache's one entry, by inode, sorted.
fn published_pycs(cache: &Path) -> Vec<u64> {
    let entry = only_entry(cache);
    let sets = bytecode_sets(&entry);
    assert_eq!(sets.len(), 1, "one set for one interpreter: {:?}", names(&entry));
    let mut pycs: Vec<u64> = bytecode_state(&entry.join(&sets[0])).keys().map(|p| inode_of(p)).collect();
    assert_eq!(pycs.len(), 9, "fixture_pkg's nine modules");
    pycs.sort();
    pycs
}

#[test]
fn an_install_that_loses_the_race_to_publish_bytecode_uses_the_winners() {
    let race = Race::new();
    let compiling = ["--compile", "--link-mode", "hardlink"];
    // A has compiled fixture_pkg into its staging directory and not yet renamed it beside the
    // entry; B compiles and publishes its own set of the same entry meanwhile.
    let a = race.start_a(&compiling, "bytecode-publishing");
    race.run_b(&compiling);
    let winners = published_pycs(&race.cache);
    assert_ok(&a.resume());

    // A placed B's files, not its own (which it deleted), and both load as placed.
    assert_eq!(published_pycs(&race.cache), winners);
    for venv in [&race.a, &race.b] {
        let mut placed: Vec<u64> =
            assert_bytecode_loads_as_placed(venv).iter().map(|p| inode_of(p)).collect();
        placed.sort();
        assert_eq!(placed, winners, "{} links the published set", venv.display());
    }
    race.nothing_staged();
    let out = installer(race.dir.path(), &["cache", "verify", "--cache-dir", race.cache.to_str().unwrap()]);
    assert_ok(&out);
}

#[test]
fn bytecode_of_an_install_killed_before_publishing_it_is_cleaned_and_compiled_again() {
    let race = Race::new();
    race.start_a(&["--compile"], "bytecode-publishing").kill();
    let staged = names(&cache_staging_dir(&race.cache));
    assert_eq!(staged.len(), 1, "the killed install's compiled set, staged: {staged:?}");
    assert_eq!(bytecode_sets(&only_entry(&race.cache)), Vec::<String>::new());

    let out = race.run_b(&["--compile", "-v"]);
    assert!(stderr(&out).contains("compiling "), "{}", stderr(&out));
    published_pycs(&race.cache);
    assert_bytecode_loads_as_placed(&race.b);
    race.nothing_staged();
}

/// A wheel installed already at its version has its sources queued for compiling before the
/// plans show it; they are withdrawn then, while a worker holds the answer for one of its
/// `.pyc` files, not yet read back. Its staging directory stays until the workers are done:
/// removed at once, reading the `.pyc` back failed and with it the whole install.
#[test]
fn a_withdrawn_compilation_keeps_its_staging_directory_until_the_workers_are_done() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, venv) = (dir.path().join("cache"), make_venv(&dir.path().join("venv")));
    let pkg = fixture("fixture_pkg-1.0");
    assert_ok(&installer(dir.path(), &install_args(&venv, &cache, &[&pkg], &[])));
    // No source of its own: the only jobs are fixture_pkg's.
    let notes =
        WheelBuilder::new("notes", "1.0").file("notes/README.txt", b"notes\n").write(dir.path(), None);
    let args = install_args(&venv, &cache, &[&pkg, &notes], &["--compile"]);

    // A worker holds the answer for a `.pyc` of fixture_pkg; planning has not started.
    let mut install =
        Paused::start(dir.path(), &args, "compile-answered,bytecode-withdrawing,bytecode-withdrawn");
    install.reach("bytecode-withdrawing").unwrap();
    // The plans are made: fixture_pkg is skipped, its jobs withdrawn.
    install.release("bytecode-withdrawing");
    install.reach("bytecode-withdrawn").unwrap();
    install.release("compile-answered");
    let out = install.resume();
    assert_ok(&out);
    assert_eq!(python(&venv, "import fixture_pkg.sub.helpers; print('ok')"), "ok\n");
    assert!(site_packages(&venv).join("notes/README.txt").is_file());
    assert_eq!(names(&cache_staging_dir(&cache)), Vec::<String>::new(), "nothing left staged");
}

/// `installer install --link-mode symlink` of fixture_pkg into `venv`.
fn symlink_args<'a>(venv: &'a Path, cache: &'a Path, pkg: &'a Path) -> Vec<&'a str> {
    install_args(venv, cache, &[pkg], &["--link-mode", "symlink"])
}

/// `cache clean` refuses, naming `venv`: its record is there and says it links into the cache.
fn clean_refuses_for(dir: &Path, cache: &Path, venv: &Path) {
    let out = installer(dir, &["cache", "clean", "--cache-dir", cache.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("symlinked environments: {};", venv.display())),
        "{}",
        stderr(&out)
    );
}

#[test]
fn prune_and_clean_keep_an_entry_symlinked_into_after_they_judged_the_environments() {
    for command in [&["cache", "prune"][..], &["cache", "clean"]] {
        let (dir, cache, pkg) = warm_unused_entry();

        // The remover has read the records (none uses the entry) and not removed yet.
        let mut admin = command.to_vec();
        admin.extend(["--cache-dir", cache.to_str().unwrap()]);
        let remover = Paused::start(dir.path(), &admin, "symlinked-envs-judged");
        // Meanwhile an install symlinks into the entry, records its environment, and is done.
        let venv = make_venv(&dir.path().join("venv"));
        assert_ok(&installer(dir.path(), &symlink_args(&venv, &cache, &pkg)));
        let out = remover.resume();
        assert_ok(&out);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains("(1 in use by a running install)"), "{command:?} says what it kept: {said}");

        assert_eq!(python(&venv, "import fixture_pkg; print(fixture_pkg.__name__)"), "fixture_pkg\n");
        // Its record survives a full clean too, so the next one refuses.
        clean_refuses_for(dir.path(), &cache, &venv);
    }
}

#[test]
fn a_symlinked_environment_is_recorded_before_its_links_and_its_record_kept_while_installing() {
    let (dir, cache, pkg) = warm_unused_entry();
    let venv = make_venv(&dir.path().join("venv"));
    // Recorded, holding the environment's lock, no link made yet.
    let install = Paused::start(dir.path(), &symlink_args(&venv, &cache, &pkg), "symlinked-env-recorded");
    // A prune then must neither forget the record (no link to see yet) nor remove the entry.
    assert_ok(&installer(dir.path(), &["cache", "prune", "--cache-dir", cache.to_str().unwrap()]));
    assert_ok(&install.resume());
    clean_refuses_for(dir.path(), &cache, &venv);
    assert_eq!(python(&venv, "import fixture_pkg; print(fixture_pkg.__name__)"), "fixture_pkg\n");
}

#[test]
fn a_symlink_install_killed_right_after_its_commit_left_its_environment_recorded() {
    let (dir, cache, pkg) = warm_unused_entry();
    let venv = make_venv(&dir.path().join("venv"));
    Paused::start(dir.path(), &symlink_args(&venv, &cache, &pkg), "committed").kill();
    clean_refuses_for(dir.path(), &cache, &venv);
    assert_eq!(python(&venv, "import fixture_pkg; print(fixture_pkg.__name__)"), "fixture_pkg\n");
}

#[test]
fn a_layer_entry_removed_and_published_again_while_being_leased_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let (layer, cache) = (dir.path().join("layer"), dir.path().join("cache"));
    let pkg = fixture("fixture_pkg-1.0");
    let fill = |name: &str| {
        let filler = venv_at(&dir.path().join(name));
        assert_ok(&installer(dir.path(), &install_args(&filler, &layer, &[&pkg], &["--link-mode", "copy"])));
    };
    fill("filler");

    // The install has opened the layer entry's lease, not locked it yet.
    let venv = make_venv(&dir.path().join("venv"));
    let args = install_args(&venv, &cache, &[&pkg], &["-v"]);
    let layers = [("INSTALLER_CACHE_LAYERS", layer.to_str().unwrap())];
    let install = Paused::start_command(
        {
            let mut command = installer_command(dir.path(), &args, &layers);
            command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
            command
        },
        "layer-entry-leasing",
    );
    // The layer's owner removes the entry, and publishes it again (a new lease file).
    assert_ok(&installer(dir.path(), &["cache", "clean", "--cache-dir", layer.to_str().unwrap()]));
    fill("filler2");

    // What it locked is not the entry's lease: it must not use the entry unprotected.
    let out = install.resume();
    assert_ok(&out);
    assert!(stderr(&out).contains("info: unpacked "), "{}", stderr(&out));
    assert_eq!(python(&venv, "import fixture_pkg; print(fixture_pkg.__name__)"), "fixture_pkg\n");
}
