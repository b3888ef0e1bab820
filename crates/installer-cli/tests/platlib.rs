//! `--system` and `--prefix` with an interpreter whose sysconfig `platlib` is not its
//! `purelib` (Fedora's, RHEL's and UBI's `sys.platlibdir` is `lib64`): here a copy of pyenv's
//! CPython 3.8 told so by a `sitecustomize` (`lib64_cpython`), never the machine's own.

mod support;

use std::path::Path;

use support::*;

/// `--prefix` with an interpreter whose `platlib` is not its `purelib`: a wheel that is not
/// `Root-Is-Purelib` goes to platlib whole, as pip puts it, with its `.pyc` beside it and its
/// `.dist-info`, whose RECORD is relative to platlib; list, verify and uninstall find it there.
/// A pure wheel stays in purelib. Before, both went to purelib; then the `.dist-info` alone
/// stayed there, with a RECORD relative to purelib.
#[test]
fn prefix_puts_a_platform_wheel_in_platlib() {
    let tmp = tempfile::tempdir().unwrap();
    let cpython = lib64_cpython(tmp.path());
    let python3 = cpython.join("bin/python3");
    let dir = tmp.path().join("p");
    let (purelib, platlib) =
        (dir.join("lib/python3.8/site-packages"), dir.join("lib64/python3.8/site-packages"));
    let env = ["--prefix", dir.to_str().unwrap(), "-p", python3.to_str().unwrap()];
    let cache = tmp.path().join("cache");
    let (plat, pkg) = (fixture("fixture_plat"), fixture("fixture_pkg-1.0"));
    let mut install = vec!["install", "--compile", "--cache-dir", cache.to_str().unwrap()];
    install.extend_from_slice(&env);
    install.extend([plat.to_str().unwrap(), pkg.to_str().unwrap()]);
    assert_ok(&installer(tmp.path(), &install));

    assert!(
        platlib.join("fixture_plat/__init__.py").is_file(),
        "{:?}",
        snapshot(&dir).keys().collect::<Vec<_>>()
    );
    assert!(!purelib.join("fixture_plat").exists());
    assert!(names(&platlib.join("fixture_plat/__pycache__"))
        .iter()
        .any(|n| n.starts_with("__init__.cpython-38")));
    assert!(!purelib.join("fixture_plat-1.0.dist-info").exists());
    assert!(purelib.join("fixture_pkg/__init__.py").is_file() && !platlib.join("fixture_pkg").exists());
    assert!(purelib.join("fixture_pkg-1.0.dist-info/RECORD").is_file());
    let record = std::fs::read_to_string(platlib.join("fixture_plat-1.0.dist-info/RECORD")).unwrap();
    assert!(record.lines().any(|row| row.starts_with("fixture_plat/__init__.py,sha256=")), "{record}");
    assert!(record.lines().any(|row| row == "fixture_plat-1.0.dist-info/RECORD,,"), "{record}");
    assert!(!record.contains("../"), "{record}");
    let listed = installer(tmp.path(), &[&["list"][..], &env].concat());
    assert_ok(&listed);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("fixture-pkg ") && listed.contains("fixture-plat "), "{listed}");

    let run = std::process::Command::new(&python3)
        .args(["-c", "import fixture_plat, fixture_pkg; print(fixture_plat.__file__)"])
        .env("PYTHONPATH", format!("{}:{}", purelib.display(), platlib.display()))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("lib64"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_ok(&installer(tmp.path(), &[&["verify"][..], &env].concat()));
    assert_ok(&installer(tmp.path(), &[&["uninstall"][..], &env, &["fixture-plat"]].concat()));
    assert_eq!(names(&platlib), Vec::<String>::new());
}

/// The bytecode of a platform wheel in a platlib apart from purelib comes from a shard's copy of
/// the set restamped for the shard's copies of its sources, as in site-packages. Before, only the
/// `.pyc` of sources the plan put in site-packages were restamped: those in platlib kept the
/// main cache's source mtimes, which Python rejected and rewrote (and RECORD no longer matched).
#[test]
fn bytecode_of_a_platform_wheel_in_a_separate_platlib_comes_from_the_shard_restamped() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(cache) = tmpfs_dir(tmp.path()) else { return };
    let cpython = lib64_cpython(tmp.path());
    let (python3, plat) = (cpython.join("bin/python3"), fixture("fixture_plat"));
    let shard = tmp.path().join("shard");
    let shards = [("INSTALLER_CACHE_SHARDS", shard.to_str().unwrap())];
    let install = |prefix: &Path, extra: &[&str]| {
        let (p, c) = (prefix.to_str().unwrap(), cache.path().to_str().unwrap());
        let mut args =
            vec!["install", "-v", "--prefix", p, "-p", python3.to_str().unwrap(), "--cache-dir", c];
        args.extend_from_slice(extra);
        args.push(plat.to_str().unwrap());
        let out = installer_with_env(tmp.path(), &args, &shards);
        assert_ok(&out);
        stderr(&out)
    };
    // The shard's copy is made first; then the main cache's sources get another mtime.
    install(&tmp.path().join("first"), &[]);
    backdate_entries(cache.path());
    for (name, cold) in [("a", true), ("b", false)] {
        let prefix = tmp.path().join(name);
        let err = install(&prefix, &["--compile"]);
        assert!(!err.contains("warning:"), "{err}");
        assert!(err.contains(&format!("hardlink from the cache shard {}", shard.display())), "{err}");
        assert_eq!(err.contains("compiling"), cold, "{err}");
        let module = prefix.join("lib64/python3.8/site-packages/fixture_plat/__init__.py");
        assert!(module.is_file(), "{:?}", snapshot(&prefix).keys().collect::<Vec<_>>());
        assert_pycs_fresh(&cpython, &[module]);
    }
}
