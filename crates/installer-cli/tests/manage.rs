//! Managing environments end to end on real venvs: upgrades leave nothing of the old version,
//! the same version is skipped unless `--reinstall`, uninstall puts the venv back exactly as
//! it was (and never reaches outside it, whatever RECORD says), `--compile` writes bytecode
//! that Python then uses without touching the cache, `list` reports what is there, and two
//! processes never change one environment at once.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

/// A temporary directory with a cache, and venvs made on demand below it.
struct Env {
    tmp: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env { tmp: tempfile::tempdir().unwrap() }
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn cache(&self) -> PathBuf {
        self.path().join("cache")
    }

    /// A fresh `python3 -m venv --without-pip` environment named `name`.
    fn venv(&self, name: &str) -> PathBuf {
        make_venv(&self.path().join(name))
    }

    /// `installer install --venv venv --cache-dir cache <extra...> <fixture wheels...>`.
    fn install(&self, venv: &Path, extra: &[&str], wheels: &[&str]) -> std::process::Output {
        let cache = self.cache();
        let wheels: Vec<String> = wheels.iter().map(|w| wheel_path(w)).collect();
        let mut args =
            vec!["install", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.extend(wheels.iter().map(String::as_str));
        installer(self.path(), &args)
    }

    fn uninstall(&self, venv: &Path, names: &[&str]) -> std::process::Output {
        let mut args = vec!["uninstall", "--venv", venv.to_str().unwrap()];
        args.extend_from_slice(names);
        installer(self.path(), &args)
    }
}

/// A fixture by prefix (`fixture_pkg-1.0`), or a wheel file given by its path.
fn wheel_path(wheel: &str) -> String {
    if wheel.ends_with(".whl") {
        wheel.to_string()
    } else {
        fixture(wheel).to_str().unwrap().to_string()
    }
}

/// The paths a RECORD lists (first CSV field; the fixtures' paths need no quoting).
fn record_paths(dist_info: &Path) -> BTreeSet<String> {
    let record = std::fs::read_to_string(dist_info.join("RECORD")).unwrap();
    record.lines().filter(|l| !l.is_empty()).map(|l| l.split(',').next().unwrap().to_string()).collect()
}

fn dist_infos(venv: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(site_packages(venv))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".dist-info"))
        .collect();
    names.sort();
    names
}

/// `python -c code` in the venv as a user's would run: writing bytecode on import (this
/// machine's `PYTHONDONTWRITEBYTECODE` and `PYTHONPYCACHEPREFIX` are not the user's).
fn import(venv: &Path, code: &str) -> std::process::Output {
    python_as_user(venv, &["-c", code])
}

fn python_as_user(venv: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(venv.join("bin/python"))
        .args(args)
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .env_remove("PYTHONPYCACHEPREFIX")
        .output()
        .unwrap();
    assert!(out.status.success(), "python {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

#[track_caller]
fn assert_same_tree(before: &BTreeMap<PathBuf, Node>, after: &BTreeMap<PathBuf, Node>) {
    let gone: Vec<_> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    let new: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    let changed: Vec<_> = before.iter().filter(|(k, v)| after.get(*k).is_some_and(|a| a != *v)).collect();
    assert!(
        gone.is_empty() && new.is_empty() && changed.is_empty(),
        "gone: {gone:#?}\nnew: {new:#?}\nchanged: {changed:#?}"
    );
}

fn exit_code(out: &std::process::Output) -> Option<i32> {
    out.status.code()
}

#[test]
fn upgrade_leaves_nothing_of_the_old_version() {
    let env = Env::new();
    let upgraded = env.venv("upgraded");
    assert_ok(&env.install(&upgraded, &["--compile"], &["fixture_pkg-1.0"]));
    // Bytecode written on import, not listed in RECORD, must go with its module too.
    import(&upgraded, "import fixture_pkg.legacy, fixture_pkg.sub.deep.leaf, fixture_pkg_legacy");
    assert!(site_packages(&upgraded).join("__pycache__").is_dir(), "imports wrote bytecode");
    let out = env.install(&upgraded, &[], &["fixture_pkg-2.0"]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(
        err.contains("\n - fixture_pkg==1.0\n + fixture_pkg==2.0\n"),
        "old and new version, as uv lists them: {err}"
    );

    let fresh = env.venv("fresh");
    assert_ok(&env.install(&fresh, &[], &["fixture_pkg-2.0"]));

    let (up, fr) = (snapshot(&upgraded), snapshot(&fresh));
    let up_paths: Vec<_> = up.keys().collect();
    let fr_paths: Vec<_> = fr.keys().collect();
    assert_eq!(up_paths, fr_paths, "the upgraded venv has exactly the files of a v2-only install");
    // Same content too, apart from what names the venv (launchers' shebangs, so RECORD).
    let site = site_packages(&upgraded).strip_prefix(&upgraded).unwrap().to_path_buf();
    for (path, node) in &up {
        if path.starts_with(&site) && !path.to_str().unwrap().contains(".dist-info/") {
            assert_eq!(Some(node), fr.get(path), "{}", path.display());
        }
    }

    assert_eq!(dist_infos(&upgraded), ["fixture_pkg-2.0.dist-info"]);
    let record = record_paths(&site_packages(&upgraded).join("fixture_pkg-2.0.dist-info"));
    assert_eq!(record, record_paths(&site_packages(&fresh).join("fixture_pkg-2.0.dist-info")));
    for old in ["legacy.py", "deep", "old.txt", "helpers", "fixture-goodbye", ".pyc"] {
        assert!(!record.iter().any(|p| p.contains(old)), "RECORD still names {old}: {record:#?}");
    }
}

/// An install or uninstall waits, saying so, while another process holds the environment
/// (as a running install does), changes nothing meanwhile, then goes on: so two concurrent
/// installs of two versions end as an upgrade, never as both versions at once.
#[test]
fn a_second_process_waits_for_the_environment_and_says_so() {
    use std::io::BufRead;
    let env = Env::new();
    let venv = env.venv("venv");
    assert_ok(&env.install(&venv, &[], &["fixture_pkg-1.0"]));
    let cache = env.cache();
    let pkg2 = wheel_path("fixture_pkg-2.0");
    let runs: [Vec<&str>; 2] = [
        vec!["install", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap(), &pkg2],
        vec!["uninstall", "--venv", venv.to_str().unwrap(), "fixture-pkg"],
    ];
    let mut dist_infos_after = Vec::new();
    for args in runs {
        let holder = std::fs::File::open(&venv).unwrap();
        holder.lock().unwrap();
        let before = snapshot(&venv);
        let mut child =
            installer_command(env.path(), &args, &[]).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        stderr.read_line(&mut first).unwrap();
        assert!(
            first.starts_with("warning: waiting for another installer process to finish with "),
            "{first}"
        );
        assert_eq!(snapshot(&venv), before, "{args:?} changed the environment while it was held");
        drop(holder);
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        assert!(child.wait().unwrap().success(), "{args:?}: {rest}");
        dist_infos_after.push(dist_infos(&venv));
    }
    assert_eq!(dist_infos_after, [vec!["fixture_pkg-2.0.dist-info".to_string()], vec![]]);
}

#[test]
fn same_version_is_skipped_unless_reinstall() {
    let env = Env::new();
    let venv = env.venv("venv");
    assert_ok(&env.install(&venv, &[], &["fixture_pkg-1.0"]));
    let installed = snapshot(&venv);

    let out = env.install(&venv, &[], &["fixture_pkg-1.0"]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.starts_with("Installed 0 wheels in "), "{err}");
    assert!(
        err.ends_with("ms; 1 wheel already installed (--reinstall to replace)\n"),
        "a count, no names: {err}"
    );
    assert!(!err.contains("fixture"), "{err}");
    let out = env.install(&venv, &["-v"], &["fixture_pkg-1.0"]);
    assert!(
        stderr(&out).contains("\n = fixture_pkg==1.0 (already installed)\n"),
        "names under -v: {}",
        stderr(&out)
    );
    assert_same_tree(&installed, &snapshot(&venv));

    // A damaged install is left alone by a plain install, repaired by --reinstall.
    let helpers = site_packages(&venv).join("fixture_pkg/sub/helpers.py");
    std::fs::remove_file(&helpers).unwrap();
    assert_ok(&env.install(&venv, &[], &["fixture_pkg-1.0"]));
    assert!(!helpers.exists(), "skipped means untouched");
    let out = env.install(&venv, &["--reinstall"], &["fixture_pkg-1.0"]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(
        err.starts_with("Installed 1 wheel (") && err.contains(" - fixture_pkg==1.0\n + fixture_pkg==1.0"),
        "{err}"
    );
    assert_same_tree(&installed, &snapshot(&venv));
}

#[test]
fn uninstall_puts_the_venv_back_as_it_was() {
    let env = Env::new();
    let venv = env.venv("venv");
    let before = snapshot(&venv);
    assert_ok(&env.install(&venv, &[], &["fixture_pkg-1.0", "fixture_data", "fixture_unicode"]));
    // Running and importing writes bytecode that no RECORD lists; it goes too.
    let run =
        Command::new(venv.join("bin/fixture-hello")).env_remove("PYTHONDONTWRITEBYTECODE").output().unwrap();
    assert!(run.status.success());
    import(&venv, "import fixture_pkg.sub.deep.leaf, fixture_pkg_top, fixture_data, fixture_unicode.café");
    assert!(site_packages(&venv).join("fixture_pkg/__pycache__").is_dir(), "imports wrote bytecode");

    // Any spelling of the names.
    let out = env.uninstall(&venv, &["Fixture_Pkg", "fixture-data", "FIXTURE.unicode"]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.starts_with("Uninstalled 3 distributions ("), "{err}");
    assert!(err.contains("\n - fixture-pkg==1.0") && err.contains("\n - fixture-data==1.0"), "{err}");
    assert_same_tree(&before, &snapshot(&venv));
}

#[test]
fn uninstall_after_compile_removes_the_bytecode_too() {
    let env = Env::new();
    let venv = env.venv("venv");
    let before = snapshot(&venv);
    assert_ok(&env.install(&venv, &["--compile"], &["fixture_pkg-1.0", "fixture_ns_a", "fixture_ns_b"]));
    assert_ok(&env.uninstall(&venv, &["fixture_ns_a"]));
    import(&venv, "import fixture_ns.b");
    assert_ok(&env.uninstall(&venv, &["fixture-pkg", "fixture-ns-b"]));
    assert_same_tree(&before, &snapshot(&venv));
}

/// As pip and uv: a name that is not installed is a warning, the others are removed, exit 0.
#[test]
fn uninstall_of_an_unknown_name_warns_and_removes_the_others() {
    let env = Env::new();
    let venv = env.venv("venv");
    let empty = snapshot(&venv);
    assert_ok(&env.install(&venv, &[], &["fixture_pkg-1.0"]));
    let installed = snapshot(&venv);
    let out = env.uninstall(&venv, &["nope"]);
    assert_eq!(exit_code(&out), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("warning: skipping nope: it is not installed\n"), "{}", stderr(&out));
    assert_same_tree(&installed, &snapshot(&venv));

    let out = env.uninstall(&venv, &["fixture-pkg", "nope", "Also_Missing"]);
    assert_eq!(exit_code(&out), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("warning: skipping nope: it is not installed\n"), "{err}");
    assert!(err.contains("warning: skipping Also_Missing: it is not installed\n"), "{err}");
    assert!(err.contains("\n - fixture-pkg==1.0"), "{err}");
    assert_same_tree(&empty, &snapshot(&venv));

    let missing = env.path().join("no-venv");
    let out = env.uninstall(&missing, &["fixture-pkg"]);
    assert_eq!(exit_code(&out), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("it does not exist"), "{}", stderr(&out));
    assert!(!missing.exists(), "uninstall never creates an environment");
}

#[test]
fn a_hostile_record_cannot_remove_anything_outside_the_venv() {
    let env = Env::new();
    let venv = env.venv("venv");
    assert_ok(&env.install(&venv, &[], &["fixture_pkg-1.0"]));
    let site = site_packages(&venv);
    // Canaries outside the venv: one next to it, one behind a symlinked directory inside it.
    let canary = env.path().join("canary.txt");
    std::fs::write(&canary, "still here").unwrap();
    let outside = env.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("victim.txt"), "still here").unwrap();
    std::os::unix::fs::symlink(&outside, site.join("escape")).unwrap();

    let deep_up = "../".repeat(20);
    let hostile = [
        "../../../../canary.txt".to_string(),
        format!("{deep_up}{}", canary.to_str().unwrap().trim_start_matches('/')),
        canary.to_str().unwrap().to_string(),
        "escape/victim.txt".to_string(),
        "../../../bin".to_string(),
        "../../..".to_string(),
    ];
    let record = site.join("fixture_pkg-1.0.dist-info/RECORD");
    let mut text = std::fs::read_to_string(&record).unwrap();
    for path in &hostile {
        text.push_str(&format!("{path},,\n"));
    }
    std::fs::write(&record, text).unwrap();

    let out = env.uninstall(&venv, &["fixture-pkg"]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains("warning: not removing ../../../../canary.txt"), "{err}");
    assert!(err.contains("victim.txt") && err.contains("through a symlink"), "{err}");
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "still here");
    assert_eq!(std::fs::read_to_string(outside.join("victim.txt")).unwrap(), "still here");
    assert!(venv.join("bin/python").exists() && venv.join("pyvenv.cfg").is_file());
    assert!(!site.join("fixture_pkg").exists() && dist_infos(&venv).is_empty(), "the rest went");
    assert!(site.join("escape").is_symlink(), "not in RECORD, so not removed");
}

/// The `.py` files below `dir`, and the `.pyc` files.
fn python_files(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut py, mut pyc) = (Vec::new(), Vec::new());
    for entry in walkdir::WalkDir::new(dir) {
        let path = entry.unwrap().into_path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("py") => py.push(path),
            Some("pyc") => pyc.push(path),
            _ => {}
        }
    }
    (py, pyc)
}

/// Link count of every file of the cache.
fn cache_links(cache: &Path) -> BTreeMap<PathBuf, u64> {
    walkdir::WalkDir::new(cache)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), nlink(e.path())))
        .collect()
}

#[test]
fn compile_writes_bytecode_for_every_module_that_python_then_uses() {
    let env = Env::new();
    let venv = env.venv("venv");
    let wheels = ["fixture_pkg-1.0", "fixture_data", "fixture_unicode", "fixture_ns_a"];
    assert_ok(&env.install(&venv, &["--link-mode", "hardlink"], &wheels));
    let links = cache_links(&env.cache());
    let site = site_packages(&venv);
    let init = site.join("fixture_pkg/__init__.py");
    assert!(nlink(&init) > 1, "installed by hardlink");

    let out = env.install(&venv, &["--link-mode", "hardlink", "--reinstall", "--compile"], &wheels);
    assert_ok(&out);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));

    let tag = python(&venv, "import sys; print(sys.implementation.cache_tag)").trim().to_string();
    let (py, pyc) = python_files(&site);
    assert_eq!(py.len(), 14, "{py:#?}");
    assert_eq!(pyc.len(), py.len(), "one .pyc per .py: {pyc:#?}");
    let mut in_record = 0;
    for dist_info in dist_infos(&venv) {
        in_record += record_paths(&site.join(dist_info)).iter().filter(|p| p.ends_with(".pyc")).count();
    }
    assert_eq!(in_record, py.len(), "every .pyc is in RECORD");
    for source in &py {
        let stem = source.file_stem().unwrap().to_str().unwrap();
        let compiled = source.parent().unwrap().join(format!("__pycache__/{stem}.{tag}.pyc"));
        assert!(compiled.is_file(), "{}", compiled.display());
        assert!(nlink(&compiled) > 1, "bytecode is linked from the cache: {}", compiled.display());
        assert!(nlink(source) > 1, "sources are still hardlinks: {}", source.display());
    }

    // The entries' own files are as they were: bytecode lives beside their trees, never in them.
    let trees = |links: BTreeMap<PathBuf, u64>| -> BTreeMap<PathBuf, u64> {
        links
            .into_iter()
            .filter(|(p, _)| {
                p.components().any(|c| c.as_os_str() == "tree") && !p.to_string_lossy().contains("/pyc-")
            })
            .collect()
    };
    assert_eq!(trees(cache_links(&env.cache())), trees(links));
    assert!(!walkdir::WalkDir::new(env.cache())
        .into_iter()
        .map(|e| e.unwrap())
        .any(|e| e.file_name() == "__pycache__" && !e.path().to_string_lossy().contains("/pyc-")));

    // Python loads the bytecode as written: it says so, and rewrites nothing.
    let compiled = snapshot(&venv);
    let imports = "import fixture_pkg.sub.deep.leaf, fixture_pkg_top, fixture_data, fixture_unicode.café";
    let verbose = python_as_user(&venv, &["-v", "-c", imports]);
    let log = String::from_utf8_lossy(&verbose.stderr);
    for module in [
        "fixture_pkg/__pycache__/__init__",
        "fixture_pkg/sub/deep/__pycache__/leaf",
        "__pycache__/fixture_pkg_top",
    ] {
        let line = format!("# code object from '{}.{tag}.pyc'", site.join(module).display());
        assert!(log.contains(&line), "{line} not in:\n{log}");
    }
    assert!(!log.contains(&format!("# created '{}", site.display())), "{log}");
    assert_same_tree(&compiled, &snapshot(&venv));
}

#[test]
fn bytecode_is_compiled_once_into_the_cache_and_valid_in_every_mode() {
    let env = Env::new();
    let wheel = WheelBuilder::new("boom", "1.0")
        .file("boom/errors.py", b"def fail():\n    raise ValueError('boom')\n")
        .write(env.path(), None);
    let wheel = wheel.to_str().unwrap();
    // Copy first (cold: compiles into the cache), then hardlink (warm: no compiler at all).
    for (name, mode) in [("copied", "copy"), ("linked", "hardlink")] {
        let venv = env.venv(name);
        let out = env.install(&venv, &["-v", "--compile", "--link-mode", mode], &[wheel]);
        assert_ok(&out);
        let err = stderr(&out);
        assert_eq!(err.contains("compiling "), mode == "copy", "{err}");
        assert_eq!(err.contains("bytecode for cpython-"), mode == "hardlink", "{err}");
        let site = site_packages(&venv);
        let before = bytecode_state(&site);
        assert_eq!(before.len(), 2, "{before:#?}");
        for pyc in before.keys() {
            assert_eq!(nlink(pyc) > 1, mode == "hardlink", "{}", pyc.display());
        }

        // Importing everything loads the bytecode as placed and rewrites none of it.
        let verbose = python_as_user(&venv, &["-v", "-c", "import boom, boom.errors"]);
        let log = String::from_utf8_lossy(&verbose.stderr);
        assert!(
            log.contains(&format!("# code object from '{}", site.join("boom/__pycache__/errors").display())),
            "{log}"
        );
        assert!(!log.contains("# created '"), "{log}");
        assert_eq!(bytecode_state(&site), before, "Python rewrote bytecode ({mode})");

        // Tracebacks name the environment's file, not the cache's.
        let out = Command::new(venv.join("bin/python"))
            .args(["-c", "import boom.errors; boom.errors.fail()"])
            .output()
            .unwrap();
        let trace = String::from_utf8_lossy(&out.stderr);
        let file = site.join("boom/errors.py");
        assert!(trace.contains(&format!("File \"{}\", line 2, in fail", file.display())), "{trace}");
        assert!(!trace.contains(env.cache().to_str().unwrap()), "{trace}");
    }

    // cache verify re-hashes the cached bytecode: an edit through a hardlink is found.
    let cache = env.cache();
    let cache_arg = cache.to_str().unwrap();
    assert_ok(&installer(env.path(), &["cache", "verify", "--cache-dir", cache_arg]));
    let linked = site_packages(&env.path().join("linked"));
    let pyc = python_files(&linked.join("boom")).1.into_iter().next().unwrap();
    let mut file = std::fs::OpenOptions::new().append(true).open(&pyc).unwrap();
    std::io::Write::write_all(&mut file, b"x").unwrap();
    let out = installer(env.path(), &["cache", "verify", "--cache-dir", cache_arg]);
    assert_eq!(exit_code(&out), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("/__pycache__/"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // ...and clean removes it with its entry.
    assert_ok(&installer(env.path(), &["cache", "clean", "--cache-dir", cache_arg]));
    assert!(python_files(&cache).1.is_empty());
}

#[test]
fn a_module_that_does_not_compile_is_a_warning() {
    let env = Env::new();
    let venv = env.venv("venv");
    let wheel = WheelBuilder::new("broken_syntax", "1.0")
        .file("broken_syntax/bad.py", b"def (:\n")
        .write(env.path(), None);
    let out = env.install(&venv, &["--compile"], &[wheel.to_str().unwrap()]);
    assert_ok(&out);
    let err = stderr(&out);
    let bad = site_packages(&venv).join("broken_syntax/bad.py");
    assert!(err.contains(&format!("warning: failed to compile {}: SyntaxError", bad.display())), "{err}");
    let (py, pyc) = python_files(&site_packages(&venv));
    assert_eq!((py.len(), pyc.len()), (2, 1), "{pyc:?}");
    assert_eq!(python(&venv, "import broken_syntax; print(broken_syntax.VALUE)"), "1\n");
}

#[test]
fn list_reports_names_versions_and_installers() {
    let env = Env::new();
    let venv = env.venv("venv");
    let list = |format: &str| {
        let out = installer(env.path(), &["list", "--venv", venv.to_str().unwrap(), "--format", format]);
        assert_ok(&out);
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(serde_json::from_str::<serde_json::Value>(&list("json")).unwrap(), serde_json::json!([]));

    assert_ok(&env.install(&venv, &[], &["fixture_pkg-1.0", "fixture_data"]));
    // As if another tool had installed it.
    let data_installer = site_packages(&venv).join("fixture_data-1.0.dist-info/INSTALLER");
    std::fs::write(&data_installer, "pip\n").unwrap();

    let json: serde_json::Value = serde_json::from_str(&list("json")).unwrap();
    assert_eq!(
        json,
        serde_json::json!([
            { "name": "fixture-data", "version": "1.0", "installer": "pip" },
            { "name": "fixture-pkg", "version": "1.0", "installer": "installer" },
        ])
    );

    std::fs::remove_file(&data_installer).unwrap();
    assert_eq!(
        list("text"),
        "Name          Version  Installer\n\
         ------------  -------  ---------\n\
         fixture-data  1.0      -\n\
         fixture-pkg   1.0      installer\n"
    );
}
