//! The flags a uv or pip user types, through the built binary: `-r` wheel lists, `--dry-run`,
//! `--format json` (the fields of docs/json-output.md), `--color` and `NO_COLOR`, what an
//! sdist or a directory is told, and the accepted no-ops `--no-deps`, `--offline` with the
//! `--compile-bytecode` alias, and pip's spellings (`-U`, `--force-reinstall`, `uninstall -y`). The pseudo-terminal side (the bar, `auto` colors) is in
//! `progress.rs`.

mod support;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use support::*;

fn install_args<'a>(venv: &'a Path, cache: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["install", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    v.extend_from_slice(extra);
    v
}

fn stdout_json(out: &std::process::Output) -> Value {
    assert_ok(out);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("stdout is one JSON value ({e}): {}", String::from_utf8_lossy(&out.stdout))
    })
}

/// A copy of a fixture wheel in `dir`, so paths relative to a list file can name it.
fn copy_fixture(prefix: &str, dir: &Path) -> PathBuf {
    let source = fixture(prefix);
    let copy = dir.join(source.file_name().unwrap());
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(&source, &copy).unwrap();
    copy
}

#[test]
fn a_requirements_file_lists_wheels_relative_to_itself_and_refuses_specifiers() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (tmp.path().join("venv"), tmp.path().join("cache"));
    let pkg = copy_fixture("fixture_pkg-1.0", &tmp.path().join("wheels"));
    let data = fixture("fixture_data");
    let list = tmp.path().join("lists/wheels.txt");
    std::fs::create_dir_all(list.parent().unwrap()).unwrap();
    std::fs::write(
        &list,
        format!(
            "# the project's wheels\n\n   ../wheels/{}   # relative to this file\n\t\n{}\n",
            pkg.file_name().unwrap().to_str().unwrap(),
            data.display()
        ),
    )
    .unwrap();
    // Run from elsewhere: the relative path must not be taken from the working directory.
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let out = installer(&elsewhere, &install_args(&venv, &cache, &["-r", list.to_str().unwrap()]));
    assert_ok(&out);
    assert!(
        stderr(&out).contains(" + fixture_pkg==1.0\n") && stderr(&out).contains(" + fixture_data==1.0\n")
    );
    assert_eq!(python(&venv, "import fixture_pkg, fixture_data; print('ok')"), "ok\n");

    std::fs::write(&list, "# pinned\nrequests==2.32.3\n").unwrap();
    let before = (snapshot(&venv), snapshot(&cache));
    let out =
        installer(tmp.path(), &install_args(&venv, &cache, &["--requirements", list.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: {}:2: `requests==2.32.3` is a requirement specifier, not a wheel file\n\
             hint: installer installs built wheels and never resolves or downloads; get the wheels with \
             `pip download --only-binary=:all: --no-deps -d wheels 'requests==2.32.3'` (or build them with \
             `pip wheel`), then list their paths\n",
            list.display()
        )
    );
    assert_eq!((snapshot(&venv), snapshot(&cache)), before, "nothing is touched");
}

#[test]
fn a_dry_run_says_what_would_change_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&tmp.path().join("venv")), tmp.path().join("cache"));
    let (old, new, data) = (fixture("fixture_pkg-1.0"), fixture("fixture_pkg-2.0"), fixture("fixture_data"));
    assert_ok(&installer(tmp.path(), &install_args(&venv, &cache, &[old.to_str().unwrap()])));
    let before = snapshot(&venv);

    let wheels = [new.to_str().unwrap(), data.to_str().unwrap()];
    let mut args = install_args(&venv, &cache, &["--dry-run", "--link-mode", "hardlink"]);
    args.extend(wheels);
    let out = installer(tmp.path(), &args);
    assert_ok(&out);
    assert_eq!(
        stderr(&out).lines().map(str::to_string).collect::<Vec<_>>(),
        [
            "Would install 2 wheels: hardlink; nothing was changed (--dry-run)",
            " + fixture_data==1.0",
            " - fixture_pkg==1.0",
            " + fixture_pkg==2.0",
        ]
    );
    assert!(out.stdout.is_empty());
    args.extend(["--format", "json"]);
    let report = stdout_json(&installer(tmp.path(), &args));
    assert_eq!(report["dry_run"], json!(true));
    assert_eq!(report["created_environment"], json!(false));
    assert_eq!(
        report["installed"],
        json!([{"name": "fixture_pkg", "version": "2.0"}, {"name": "fixture_data", "version": "1.0"}])
    );
    assert_eq!(report["replaced"], json!([{"name": "fixture_pkg", "version": "1.0"}]));
    assert_eq!(report["link_mode"], json!("hardlink"));
    assert_eq!(snapshot(&venv), before, "a dry run leaves the environment as it was");

    // Into an environment that does not exist: it would be created, and is not.
    let missing = tmp.path().join("not-yet");
    let out = installer(tmp.path(), &install_args(&missing, &cache, &["--dry-run", new.to_str().unwrap()]));
    assert_ok(&out);
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("Would create virtual environment at {}\n", missing.display())),
        "{err}"
    );
    assert!(err.contains("\n + fixture_pkg==2.0\n"), "{err}");
    assert!(!missing.exists(), "not even created");
}

/// The documented fields of `install --format json`, with the types docs/json-output.md gives.
fn assert_install_fields(report: &Value) {
    let fields = [
        "command",
        "dry_run",
        "environment",
        "created_environment",
        "installed",
        "replaced",
        "skipped",
        "files",
        "link_mode",
        "fallback_from",
        "shard",
        "copied_files",
        "copied_bytes",
        "elapsed_ms",
        "timings_ms",
    ];
    let object = report.as_object().expect("an object");
    for field in fields {
        assert!(object.contains_key(field), "{field} missing: {report}");
    }
    assert_eq!(report["command"], json!("install"));
    assert!(["clone", "hardlink", "copy", "symlink"].contains(&report["link_mode"].as_str().unwrap()));
    assert!(report["files"].as_u64().is_some() && report["elapsed_ms"].as_f64().is_some(), "{report}");
    assert!(report["timings_ms"].as_object().unwrap().values().all(|v| v.as_f64().is_some()), "{report}");
}

#[test]
fn format_json_reports_install_uninstall_and_list() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (tmp.path().join("venv"), tmp.path().join("cache"));
    let (pkg, data) = (fixture("fixture_pkg-1.0"), fixture("fixture_data"));
    let wheels = [pkg.to_str().unwrap(), data.to_str().unwrap(), "--format", "json"];
    let out = installer(tmp.path(), &install_args(&venv, &cache, &wheels));
    let report = stdout_json(&out);
    assert!(!stderr(&out).contains("Installed"), "the summary is the JSON: {}", stderr(&out));
    assert_install_fields(&report);
    assert_eq!(report["dry_run"], json!(false));
    assert_eq!(report["environment"], json!(venv.to_str().unwrap()));
    assert_eq!(report["created_environment"], json!(true));
    assert_eq!(
        report["installed"],
        json!([{"name": "fixture_pkg", "version": "1.0"}, {"name": "fixture_data", "version": "1.0"}])
    );
    assert_eq!((report["replaced"].clone(), report["skipped"].clone()), (json!([]), json!([])));
    assert_eq!((report["fallback_from"].clone(), report["shard"].clone()), (Value::Null, Value::Null));
    assert_eq!((report["copied_files"].clone(), report["copied_bytes"].clone()), (json!(0), json!(0)));
    let timings = report["timings_ms"].as_object().unwrap();
    let phases: Vec<&str> = timings.keys().map(String::as_str).collect();
    assert!(["target", "cache", "create venv", "plan"].iter().all(|p| phases.contains(p)), "{report}");
    // Every file placed is a row of its RECORD (RECORD's own row included).
    let rows: usize = ["fixture_pkg-1.0", "fixture_data-1.0"]
        .iter()
        .map(|d| std::fs::read_to_string(site_packages(&venv).join(format!("{d}.dist-info/RECORD"))).unwrap())
        .map(|record| record.lines().count())
        .sum();
    assert_eq!(report["files"].as_u64().unwrap() as usize, rows, "{report}");

    let again = stdout_json(&installer(tmp.path(), &install_args(&venv, &cache, &wheels)));
    assert_install_fields(&again);
    assert_eq!(again["installed"], json!([]));
    assert_eq!(again["created_environment"], json!(false));
    assert_eq!(
        again["skipped"],
        json!([{"name": "fixture_pkg", "version": "1.0"}, {"name": "fixture_data", "version": "1.0"}])
    );

    let venv_arg = venv.to_str().unwrap();
    let list = stdout_json(&installer(tmp.path(), &["list", "--venv", venv_arg, "--format", "json"]));
    assert_eq!(
        list,
        json!([
            {"name": "fixture-data", "version": "1.0", "installer": "installer"},
            {"name": "fixture-pkg", "version": "1.0", "installer": "installer"},
        ])
    );
    let args = ["uninstall", "--venv", venv_arg, "--format", "json", "fixture-pkg", "nope"];
    let out = installer(tmp.path(), &args);
    let report = stdout_json(&out);
    assert_eq!(stderr(&out), "warning: skipping nope: it is not installed\n");
    assert_eq!(report["command"], json!("uninstall"));
    assert_eq!(report["environment"], json!(venv_arg));
    assert_eq!(report["removed"], json!([{"name": "fixture-pkg", "version": "1.0"}]));
    assert_eq!(report["not_installed"], json!(["nope"]));
    assert!(report["files"].as_u64().unwrap() > 0 && report["elapsed_ms"].as_f64().is_some(), "{report}");
    let list = stdout_json(&installer(tmp.path(), &["list", "--venv", venv_arg, "--format", "json"]));
    assert_eq!(list, json!([{"name": "fixture-data", "version": "1.0", "installer": "installer"}]));
}

#[test]
fn sdists_and_directories_are_named_for_what_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (tmp.path().join("venv"), tmp.path().join("cache"));
    let dist = tmp.path().join("dist");
    std::fs::create_dir(&dist).unwrap();
    std::fs::write(dist.join("requests-2.32.3.tar.gz"), "not read").unwrap();
    let good = fixture("fixture_pkg-1.0");
    let cases = [
        (
            "dist/requests-2.32.3.tar.gz",
            "error: dist/requests-2.32.3.tar.gz is a source distribution, not a wheel\n\
             hint: installer installs built wheels (.whl); build one with `pip wheel --no-deps \
             dist/requests-2.32.3.tar.gz` or `uv build --wheel dist/requests-2.32.3.tar.gz`, then install the .whl\n",
        ),
        ("dist", "error: dist is a directory, not a wheel\nhint: to install the wheels in it, pass `dist/*.whl`\n"),
    ];
    for (given, expected) in cases {
        let out = installer(tmp.path(), &install_args(&venv, &cache, &[good.to_str().unwrap(), given]));
        assert_eq!((out.status.code(), stderr(&out).as_str()), (Some(1), expected), "{given}");
        let entries = std::fs::read_dir(cache_entries_dir(&cache)).map_or(0, |d| d.count());
        assert!(!venv.exists() && entries == 0, "{given}: refused before anything is read or made");
    }
}

#[test]
fn color_follows_the_flag_and_no_color() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["install", "--venv", "venv", "dir-not-a-wheel"];
        all.extend_from_slice(args);
        std::fs::create_dir_all(tmp.path().join("dir-not-a-wheel")).unwrap();
        let out = installer_with_env(tmp.path(), &all, env);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        stderr(&out)
    };
    let colored = run(&["--color", "always"], &[]);
    assert!(
        colored.starts_with("\x1b[31m\x1b[1merror:\x1b[0m dir-not-a-wheel is a directory"),
        "{colored:?}"
    );
    assert!(colored.contains("\x1b[36m\x1b[1mhint:\x1b[0m"), "{colored:?}");
    assert_eq!(run(&["--color", "always"], &[("NO_COLOR", "1")]), colored, "the flag wins over NO_COLOR");
    for (args, env) in
        [(&["--color", "never"][..], &[][..]), (&[], &[]), (&["--color=auto"], &[("NO_COLOR", "1")])]
    {
        let plain = run(args, env);
        assert!(
            plain.starts_with("error: dir-not-a-wheel is a directory") && !plain.contains('\x1b'),
            "{plain:?}"
        );
    }
    // A usage error follows the flag too (clap's own colors).
    let out = installer(tmp.path(), &["install", "--color", "always", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains('\x1b'), "{}", stderr(&out));
    let out = installer(tmp.path(), &["install", "--color", "never", "--no-such-flag"]);
    assert!(!stderr(&out).contains('\x1b') && stderr(&out).contains("--no-such-flag"), "{}", stderr(&out));
}

#[test]
fn uv_flags_are_accepted_and_compile_bytecode_compiles() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (tmp.path().join("venv"), tmp.path().join("cache"));
    let pkg = fixture("fixture_pkg-1.0");
    let flags = ["--no-deps", "--offline", "--compile-bytecode", pkg.to_str().unwrap()];
    let out = installer(tmp.path(), &install_args(&venv, &cache, &flags));
    assert_ok(&out);
    assert!(stderr(&out).contains(" + fixture_pkg==1.0\n"), "{}", stderr(&out));
    let pycache = site_packages(&venv).join("fixture_pkg/__pycache__");
    let compiled: Vec<_> = std::fs::read_dir(&pycache).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(compiled.iter().any(|n| n.to_str().unwrap().starts_with("__init__.cpython-")), "{compiled:?}");
}

/// What pip users type: `-U`/`--upgrade` and `--no-index` are accepted (every install replaces
/// another installed version; nothing is ever downloaded), `--force-reinstall` is
/// `--reinstall`, `uninstall -y` is accepted (it never asks).
#[test]
fn pip_spellings_are_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (tmp.path().join("venv"), tmp.path().join("cache"));
    let (old, new) = (fixture("fixture_pkg-1.0"), fixture("fixture_pkg-2.0"));
    let install = |flags: &[&str], wheel: &Path| {
        let out = installer(
            tmp.path(),
            &install_args(&venv, &cache, &[flags, &[wheel.to_str().unwrap()]].concat()),
        );
        assert_ok(&out);
        stderr(&out)
    };
    install(&[], &old);
    let err = install(&["-U", "--no-index"], &new);
    assert!(err.contains(" - fixture_pkg==1.0\n + fixture_pkg==2.0\n"), "{err}");
    let err = install(&["--upgrade"], &new);
    assert!(err.contains("already installed"), "{err}");
    let err = install(&["--force-reinstall"], &new);
    assert!(err.contains(" - fixture_pkg==2.0\n + fixture_pkg==2.0\n"), "{err}");
    let out = installer(tmp.path(), &["uninstall", "-y", "--venv", venv.to_str().unwrap(), "fixture_pkg"]);
    assert_ok(&out);
    assert!(!site_packages(&venv).join("fixture_pkg").exists());
}

/// `--no-cache` wins over `INSTALLER_CACHE_DIR` (clap once counted the variable as
/// `--cache-dir` given and made this a usage error); `--cache-dir` typed beside it still is one.
#[test]
fn no_cache_wins_over_the_cache_dir_variable() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (tmp.path().join("venv"), tmp.path().join("cache"));
    let pkg = fixture("fixture_pkg-1.0");
    let args = ["install", "--venv", venv.to_str().unwrap(), "--no-cache", pkg.to_str().unwrap()];
    let out = installer_with_env(tmp.path(), &args, &[("INSTALLER_CACHE_DIR", cache.to_str().unwrap())]);
    assert_ok(&out);
    assert!(site_packages(&venv).join("fixture_pkg/__init__.py").is_file());
    assert!(!cache.exists(), "--no-cache: the variable's cache is not used");

    let explicit =
        installer(tmp.path(), &install_args(&venv, &cache, &["--no-cache", pkg.to_str().unwrap()]));
    assert_eq!(explicit.status.code(), Some(2), "{}", stderr(&explicit));
    assert!(stderr(&explicit).contains("cannot be used with"), "{}", stderr(&explicit));
}

/// `INSTALLER_COMPILE` is `compile`'s variable (DESIGN.md: every key has one): it turns
/// compiling on, turns a config file's `compile = true` off, and a bad value names it.
#[test]
fn the_compile_variable_sits_between_the_flag_and_the_config() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let pkg = fixture("fixture_pkg-1.0");
    let run = |name: &str, extra: &[&str], env: &[(&str, &str)]| {
        let venv = venv_at(&tmp.path().join(name));
        let mut args = install_args(&venv, &cache, extra);
        args.push(pkg.to_str().unwrap());
        let out = installer_with_env(tmp.path(), &args, env);
        (out, site_packages(&venv).join("fixture_pkg/__pycache__").is_dir())
    };
    let (out, compiled) = run("plain", &[], &[]);
    assert_ok(&out);
    assert!(!compiled);
    let (out, compiled) = run("env-on", &[], &[("INSTALLER_COMPILE", "Yes")]);
    assert_ok(&out);
    assert!(compiled, "INSTALLER_COMPILE=Yes compiles");

    std::fs::write(tmp.path().join("installer.toml"), "compile = true\n").unwrap();
    let (out, compiled) = run("env-off", &[], &[("INSTALLER_COMPILE", "0")]);
    assert_ok(&out);
    assert!(!compiled, "INSTALLER_COMPILE=0 beats the config file");
    let (out, compiled) = run("flag", &["--compile"], &[("INSTALLER_COMPILE", "off")]);
    assert_ok(&out);
    assert!(compiled, "--compile beats the variable");
    let (out, compiled) = run("no-flag", &["--no-compile"], &[("INSTALLER_COMPILE", "on")]);
    assert_ok(&out);
    assert!(!compiled, "--no-compile beats the variable and the config file");
    let (out, _) = run("both", &["--compile", "--no-compile"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let (out, _) = run("bad", &[], &[("INSTALLER_COMPILE", "maybe")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("INSTALLER_COMPILE") && stderr(&out).contains("maybe"), "{}", stderr(&out));
}

/// The variables that stand for flags (`INSTALLER_LINK_MODE` for `--link-mode`, ...): a bad
/// value names the variable, not a flag the user never typed, and is a usage error as the
/// flag's would be; the flag given beside it is what is named; empty means unset, as for
/// every other variable.
#[test]
fn a_flag_s_variable_is_named_in_its_error_and_empty_is_unset() {
    let tmp = tempfile::tempdir().unwrap();
    let venv = tmp.path().join("venv");
    let cache = tmp.path().join("cache");
    let pkg = fixture("fixture_pkg-1.0");
    let dry_run = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = install_args(&venv, &cache, &["--dry-run"]);
        args.extend_from_slice(extra);
        args.push(pkg.to_str().unwrap());
        installer_with_env(tmp.path(), &args, env)
    };
    let out = dry_run(&[], &[("INSTALLER_LINK_MODE", "fast")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with(
            "error: invalid value 'fast' for INSTALLER_LINK_MODE (the environment variable of --link-mode)\n  \
             [possible values: auto, clone, hardlink, copy, symlink]\n"
        ),
        "{}",
        stderr(&out)
    );
    let out = dry_run(&[], &[("INSTALLER_JOBS", "0")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with(
            "error: invalid value '0' for INSTALLER_JOBS (the environment variable of --jobs): "
        ),
        "{}",
        stderr(&out)
    );
    for flag in [&["--jobs", "0"][..], &["--jobs=0"], &["-qj0"], &["-j", "0"]] {
        let out = dry_run(flag, &[("INSTALLER_JOBS", "0")]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(&out).starts_with("error: invalid value '0' for '--jobs <N>': "),
            "{flag:?}: {}",
            stderr(&out)
        );
    }
    // A C habit's -1, or a typo: it would start every thread the OS allows.
    let out = dry_run(&["-j", "4294967295"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("4294967295 is not in 1..=1024"), "{}", stderr(&out));
    let empty = [
        ("INSTALLER_LINK_MODE", ""),
        ("INSTALLER_LINK_FALLBACK", ""),
        ("INSTALLER_JOBS", ""),
        ("INSTALLER_PYTHON_VERSION", ""),
        ("INSTALLER_PYTHON_PLATFORM", ""),
    ];
    let out = dry_run(&[], &empty);
    assert_ok(&out);
    assert!(stderr(&out).contains("Would install 1 wheel: hardlink;"), "{}", stderr(&out));
}
