//! `--system` and `--prefix` with a distributor's scheme: an interpreter whose sysconfig
//! `platlib` is not its `purelib` (Fedora's, RHEL's and UBI's `sys.platlibdir` is `lib64`), or
//! whose scheme is under `<prefix>/local` (Debian's): here a copy of pyenv's CPython 3.8 told
//! so by a `sitecustomize` (`lib64_cpython`, `local_cpython`), never the machine's own.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

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

/// A copy of CPython 3.8 with a distributor's scheme (`lib64_cpython`, `local_cpython`), with
/// pip (`add_pip`), and `installer ARGS... --prefix DIR -p <its python3>` for the prefix `DIR`.
struct Patched {
    tmp: tempfile::TempDir,
    python3: PathBuf,
    cache: String,
}

impl Patched {
    fn new(with_pip: bool) -> Patched {
        Patched::with(lib64_cpython, with_pip)
    }

    fn with(scheme: fn(&Path) -> PathBuf, with_pip: bool) -> Patched {
        let tmp = tempfile::tempdir().unwrap();
        let cpython = scheme(tmp.path());
        if with_pip {
            eprintln!("comparing with {}", add_pip(&cpython));
        }
        let cache = tmp.path().join("cache").to_str().unwrap().to_string();
        Patched { python3: cpython.join("bin/python3"), tmp, cache }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// `installer <command> --prefix <prefix> -p <python3> [--cache-dir] <args>`.
    fn args<'a>(&'a self, command: &'a str, prefix: &'a Path, args: &[&'a str]) -> Vec<&'a str> {
        let mut all =
            vec![command, "--prefix", prefix.to_str().unwrap(), "-p", self.python3.to_str().unwrap()];
        if command == "install" {
            all.extend(["--cache-dir", self.cache.as_str()]);
        }
        all.extend_from_slice(args);
        all
    }

    fn installer(&self, command: &str, prefix: &Path, args: &[&str]) -> std::process::Output {
        let out = installer(self.tmp.path(), &self.args(command, prefix, args));
        assert_ok(&out);
        out
    }

    /// `python -m pip install --prefix <prefix>` of `wheels`, with `extra` options.
    fn pip_install(&self, prefix: &Path, wheels: &[&Path], extra: &[&str]) {
        let out = std::process::Command::new(&self.python3)
            .args(["-m", "pip", "install", "--no-deps", "--no-index", "--disable-pip-version-check", "-q"])
            .arg("--prefix")
            .arg(prefix)
            .args(extra)
            .args(wheels)
            .output()
            .unwrap();
        assert!(out.status.success(), "pip failed: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// purelib and platlib of a prefix made with [`Patched`].
fn libs(prefix: &Path) -> (PathBuf, PathBuf) {
    (prefix.join("lib/python3.8/site-packages"), prefix.join("lib64/python3.8/site-packages"))
}

/// The paths each RECORD in `lib` lists, by `.dist-info` (no commas in these wheels).
fn records(lib: &Path) -> BTreeMap<String, BTreeSet<String>> {
    names(lib)
        .into_iter()
        .filter(|name| name.ends_with(".dist-info"))
        .map(|name| {
            let text = std::fs::read_to_string(lib.join(&name).join("RECORD")).unwrap();
            (name, text.lines().map(|row| row.rsplitn(3, ',').last().unwrap().to_string()).collect())
        })
        .collect()
}

/// A wheel that is not `Root-Is-Purelib` with every scheme of `.data`, a `#!python` script and
/// an entry point, for the interpreter of [`Patched`].
fn platform_tools(dir: &Path) -> PathBuf {
    WheelBuilder::new("plat_tools", "1.0")
        .platform()
        .file("plat_tools/cli.py", b"def main():\n    print('run')\n")
        .file("plat_tools-1.0.data/purelib/plat_tools_pure.py", b"X = 1\n")
        .file("plat_tools-1.0.data/platlib/plat_tools_plat.py", b"Y = 1\n")
        .file("plat_tools-1.0.data/scripts/plat-tool", b"#!python\nprint('tool')\n")
        .file("plat_tools-1.0.data/data/share/plat_tools/notes.txt", b"notes\n")
        .file("plat_tools-1.0.data/headers/plat_tools.h", b"int plat_tools;\n")
        .file(
            "plat_tools-1.0.dist-info/entry_points.txt",
            b"[console_scripts]\nplat-run = plat_tools.cli:main\n",
        )
        .write(dir, Some("plat_tools-1.0-cp38-abi3-linux_x86_64.whl"))
}

/// pip (the one of the copied CPython, told to use sysconfig's scheme) and we install platform
/// wheels with `--prefix` into twin prefixes: the same files with the same bytes and modes,
/// `.dist-info` in platlib, and RECORDs listing the same paths, relative to platlib
/// (`../../../lib/python3.8/site-packages/...` for `.data/purelib`, `../../../bin/...` for
/// scripts). Neither compiles (pip with `--no-compile`): a `.pyc` header holds its source's
/// mtime, which is each installer's own, and `normalized` leaves `__pycache__` out anyway. The
/// files each installer writes itself are compared by path only: INSTALLER says `pip` or
/// `installer`, direct_url.json is written by each in its own way (pip's has no hash of a local
/// file), and RECORD holds their hashes; REQUESTED is empty in both.
#[test]
fn platform_wheels_install_into_platlib_as_pip_installs_them() {
    let lib64 = Patched::new(true);
    let wheels = [fixture("fixture_plat"), platform_tools(lib64.tmp.path())];
    let wheels: Vec<&Path> = wheels.iter().map(PathBuf::as_path).collect();
    // Same base name: `normalized` replaces each prefix's path by one placeholder.
    let (ours, pips) = (lib64.path("ours/p"), lib64.path("pip/p"));
    lib64.pip_install(&pips, &wheels, &["--no-compile"]);
    let wheel_args: Vec<&str> = wheels.iter().map(|w| w.to_str().unwrap()).collect();
    lib64.installer("install", &ours, &wheel_args);

    let (pip_pure, pip_plat) = libs(&pips);
    assert_eq!(names(&pip_plat).iter().filter(|n| n.ends_with(".dist-info")).count(), 2, "pip used lib64");
    assert!(!names(&pip_pure).iter().any(|n| n.ends_with(".dist-info")), "{:?}", names(&pip_pure));
    assert!(assert_same_files(&ours, &pips) >= 14);

    let (our_pure, our_plat) = libs(&ours);
    assert!(!our_pure.join("plat_tools-1.0.dist-info").exists());
    let (our_records, pip_records) = (records(&our_plat), records(&pip_plat));
    assert_eq!(our_records, pip_records);
    let tools = &our_records["plat_tools-1.0.dist-info"];
    for path in [
        "plat_tools/cli.py",
        "plat_tools_plat.py",
        "../../../lib/python3.8/site-packages/plat_tools_pure.py",
        "../../../bin/plat-tool",
        "../../../bin/plat-run",
        "../../../share/plat_tools/notes.txt",
        "../../../include/python3.8/plat-tools/plat_tools.h",
        "plat_tools-1.0.dist-info/RECORD",
    ] {
        assert!(tools.contains(path), "{path} in {tools:?}");
    }
    lib64.installer("verify", &ours, &[]);
}

/// A distribution pip installed into platlib, `.dist-info` and all (compiled, so its RECORD lists
/// `.pyc` files too), is listed by `installer list`, clean to `installer verify`, put back whole
/// when an upgrade over it is killed, replaced by `installer install` of another version (no
/// second `.dist-info`, none of its files left) and removed by `installer uninstall`. Before,
/// none of these looked in platlib: the upgrade left both versions' `.dist-info`.
#[test]
fn a_distribution_pip_put_in_platlib_is_listed_verified_replaced_and_uninstalled() {
    let lib64 = Patched::new(true);
    let prefix = lib64.path("p");
    let (pure, plat) = libs(&prefix);
    let old = fixture("fixture_plat");
    lib64.pip_install(&prefix, &[&old], &[]);
    let pyc = plat.join("fixture_plat/__pycache__/__init__.cpython-38.pyc");
    assert!(plat.join("fixture_plat-1.0.dist-info/RECORD").is_file() && pyc.is_file());

    let listed = lib64.installer("list", &prefix, &["--format", "json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed, serde_json::json!([{ "name": "fixture-plat", "version": "1.0", "installer": "pip" }]));
    lib64.installer("verify", &prefix, &[]);

    let new = WheelBuilder::new("fixture_plat", "2.0")
        .platform()
        .file("fixture_plat/extra.py", b"EXTRA = 2\n")
        .write(lib64.tmp.path(), Some("fixture_plat-2.0-cp38-abi3-linux_x86_64.whl"));
    let upgrade = lib64.args("install", &prefix, &[new.to_str().unwrap()]);
    let before = snapshot(&prefix);
    // A dry run sees pip's version in platlib (purelib does not exist) and makes nothing.
    let dry = lib64.installer("install", &prefix, &["--dry-run", new.to_str().unwrap()]);
    assert!(stderr(&dry).contains(" - fixture_plat==1.0\n + fixture_plat==2.0"), "{}", stderr(&dry));
    assert_eq!(snapshot(&prefix), before);
    Paused::start(lib64.tmp.path(), &upgrade, "file-placed").kill();
    assert_ne!(snapshot(&prefix), before, "killed with pip's files moved aside and ours placed");
    // Taking the environment, `list` rolls the dead upgrade back, with the scheme's
    // directories the install made (`bin`, the purelib pip left out): made by its transaction,
    // they were journaled.
    lib64.installer("list", &prefix, &[]);
    assert_eq!(snapshot(&prefix), before);

    let out = lib64.installer("install", &prefix, &[new.to_str().unwrap()]);
    assert!(stderr(&out).contains(" - fixture_plat==1.0\n + fixture_plat==2.0"), "{}", stderr(&out));
    assert_eq!(
        names(&plat),
        ["fixture_plat", "fixture_plat-2.0.dist-info"],
        "{:?}",
        snapshot(&plat).keys().collect::<Vec<_>>()
    );
    assert_eq!(names(&plat.join("fixture_plat")), ["__init__.py", "extra.py"], "pip's .pyc went too");
    assert_eq!(names(&pure), Vec::<String>::new());
    lib64.installer("verify", &prefix, &[]);

    lib64.installer("uninstall", &prefix, &["fixture-plat"]);
    assert_eq!(names(&plat), Vec::<String>::new());
    assert!(plat.is_dir(), "the scheme's own directory stays");
}

/// An upgrade over a version whose `.dist-info` an older `installer` left in purelib (the
/// package in platlib, RECORD relative to purelib) removes that version whole: it is found by
/// the scan of both directories, and the new one's `.dist-info` goes to platlib.
#[test]
fn an_upgrade_removes_a_dist_info_an_older_installer_left_in_purelib() {
    let lib64 = Patched::new(false);
    let prefix = lib64.path("p");
    let (pure, plat) = libs(&prefix);
    let old = fixture("fixture_plat");
    lib64.installer("install", &prefix, &[old.to_str().unwrap()]);
    // As the older installer laid it out: the `.dist-info` in purelib, RECORD relative to it.
    let dist_info = "fixture_plat-1.0.dist-info";
    if plat.join(dist_info).exists() {
        std::fs::rename(plat.join(dist_info), pure.join(dist_info)).unwrap();
    }
    let record = pure.join(dist_info).join("RECORD");
    let rows: String = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .map(|row| match row.starts_with(dist_info) || row.starts_with("../") {
            true => format!("{row}\n"),
            false => format!("../../../lib64/python3.8/site-packages/{row}\n"),
        })
        .collect();
    std::fs::write(&record, rows).unwrap();
    lib64.installer("verify", &prefix, &[]);

    let new = WheelBuilder::new("fixture_plat", "2.0")
        .platform()
        .write(lib64.tmp.path(), Some("fixture_plat-2.0-cp38-abi3-linux_x86_64.whl"));
    let out = lib64.installer("install", &prefix, &[new.to_str().unwrap()]);
    assert!(stderr(&out).contains(" - fixture_plat==1.0\n"), "{}", stderr(&out));
    assert_eq!(names(&pure), Vec::<String>::new());
    assert_eq!(names(&plat), ["fixture_plat", "fixture_plat-2.0.dist-info"]);
    lib64.installer("verify", &prefix, &[]);
}

/// With a scheme whose data root is an ancestor of purelib's below the prefix (Debian's
/// `posix_local`: data `<prefix>/local`, purelib `<prefix>/local/lib/...`), RECORD spells paths
/// as pip's `os.path.relpath` does: `../../../share/...`, not up to the prefix and down again
/// (`../../../../local/share/...`, the same file, but not pip's RECORD). Files as pip's too.
#[test]
fn records_under_a_local_scheme_are_spelled_as_pip_spells_them() {
    let local = Patched::with(local_cpython, true);
    let wheel = fixture("fixture_data");
    let (ours, pips) = (local.path("ours/p"), local.path("pip/p"));
    local.pip_install(&pips, &[&wheel], &["--no-compile"]);
    local.installer("install", &ours, &[wheel.to_str().unwrap()]);
    assert!(assert_same_files(&ours, &pips) >= 5);
    let lib = |prefix: &Path| prefix.join("local/lib/python3.8/site-packages");
    let (our_records, pip_records) = (records(&lib(&ours)), records(&lib(&pips)));
    assert_eq!(our_records, pip_records);
    let rows = &our_records["fixture_data-1.0.dist-info"];
    assert!(rows.contains("../../../share/fixture_data/config.txt"), "{rows:?}");
    assert!(rows.contains("../../../bin/fixture-data-sh"), "{rows:?}");
    local.installer("verify", &ours, &[]);
    local.installer("uninstall", &ours, &["fixture-data"]);
    assert!(!ours.join("local/share/fixture_data/config.txt").exists());
}
