//! The target of an install: wheels the environment's interpreter cannot run are refused
//! (all or nothing, environment and cache untouched), the best of several builds is chosen,
//! and `--python-version` / `--python-platform` install for another target.

mod support;

use std::path::{Path, PathBuf};

use support::*;

fn args<'a>(venv: &'a Path, cache: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["install", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    v.extend_from_slice(extra);
    v
}

/// `demo 1.0` built as `file_name`.
fn demo(dir: &Path, file_name: &str) -> PathBuf {
    WheelBuilder::new("demo", "1.0").write(dir, Some(file_name))
}

/// The venv's Python as the refusals spell it: `CPython 3.11 on Linux x86-64, glibc 2.36`.
fn environment_words(venv: &Path) -> String {
    let facts = python(
        venv,
        "import os, sys; print('%d.%d' % sys.version_info[:2]); print(os.confstr('CS_GNU_LIBC_VERSION').split()[1])",
    );
    let mut lines = facts.lines();
    let (version, glibc) = (lines.next().unwrap(), lines.next().unwrap());
    format!("CPython {version} on Linux x86-64, glibc {glibc}")
}

fn entries(cache: &Path) -> usize {
    std::fs::read_dir(cache_entries_dir(cache)).map_or(0, |d| d.count())
}

#[test]
fn wheels_for_another_interpreter_or_platform_are_refused_before_anything_is_touched() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&tmp.path().join("venv")), tmp.path().join("cache"));
    // A first install fills the cache's interpreter facts; the refusals below must leave the
    // environment and the cache exactly as they are.
    assert_ok(&installer(tmp.path(), &args(&venv, &cache, &[fixture("fixture_pkg-1.0").to_str().unwrap()])));
    let words = environment_words(&venv);
    let good = fixture("fixture_data");
    let (venv_before, cache_before) = (snapshot(&venv), snapshot(&cache));
    let foreign = [
        ("cp312-cp312-win_amd64", "CPython 3.12 on Windows x86-64"),
        ("cp311-cp311-macosx_11_0_arm64", "CPython 3.11 on macOS 11.0+ arm64"),
        ("cp311-cp311-musllinux_1_2_x86_64", "CPython 3.11 on Linux x86-64, musl 1.2+"),
        ("cp311-cp311-manylinux_2_17_aarch64", "CPython 3.11 on Linux aarch64, glibc 2.17+"),
        ("py2-none-any", "Python 2 on any platform"),
        ("cp312-cp312-manylinux_2_17_x86_64", "CPython 3.12 on Linux x86-64, glibc 2.17+"),
    ];
    for (tags, built_for) in foreign {
        let wheel = demo(tmp.path(), &format!("demo-1.0-{tags}.whl"));
        let out =
            installer(tmp.path(), &args(&venv, &cache, &[good.to_str().unwrap(), wheel.to_str().unwrap()]));
        assert_eq!(out.status.code(), Some(1), "{tags}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!(
                "error: refused wheel {}\n  cause: built for {built_for} ({tags}); this environment is {words}\n",
                wheel.display()
            )
        );
        assert_eq!(snapshot(&venv), venv_before, "{tags}");
        assert_eq!(snapshot(&cache), cache_before, "{tags}");
    }
}

#[test]
fn of_several_builds_the_most_preferred_is_installed_and_verbose_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&tmp.path().join("venv")), tmp.path().join("cache"));
    let house = tmp.path().join("wheels");
    std::fs::create_dir(&house).unwrap();
    let any = demo(&house, "demo-1.0-py3-none-any.whl");
    let windows = demo(&house, "demo-1.0-cp311-cp311-win_amd64.whl");
    let linux = demo(&house, "demo-1.0-py3-none-manylinux_2_17_x86_64.whl");
    let out = installer(
        tmp.path(),
        &args(
            &venv,
            &cache,
            &["-v", any.to_str().unwrap(), windows.to_str().unwrap(), linux.to_str().unwrap()],
        ),
    );
    assert_ok(&out);
    let err = stderr(&out);
    assert!(
        err.contains(
            "demo 1.0: installing demo-1.0-py3-none-manylinux_2_17_x86_64.whl (tag py3-none-manylinux_2_17_x86_64, preference "
        ) && err.contains("; not demo-1.0-py3-none-any.whl (tag py3-none-any, preference ")
            && err.contains("; not demo-1.0-cp311-cp311-win_amd64.whl: built for CPython 3.11 on Windows x86-64"),
        "{err}"
    );
    assert!(err.contains("Installed 1 wheel ("), "{err}");
    let wheel_file = site_packages(&venv).join("demo-1.0.dist-info/direct_url.json");
    let direct_url = std::fs::read_to_string(wheel_file).unwrap();
    assert!(direct_url.contains("manylinux_2_17_x86_64.whl"), "{direct_url}");
    assert_eq!(entries(&cache), 1, "only the chosen wheel is unpacked");
}

#[test]
fn no_compatible_build_lists_every_candidate_and_the_same_file_twice_is_installed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&tmp.path().join("venv")), tmp.path().join("cache"));
    let windows = demo(tmp.path(), "demo-1.0-cp311-cp311-win_amd64.whl");
    let mac = demo(tmp.path(), "demo-1.0-cp311-cp311-macosx_11_0_arm64.whl");
    let before = snapshot(&venv);
    let out =
        installer(tmp.path(), &args(&venv, &cache, &[windows.to_str().unwrap(), mac.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: refused wheel {}\n  cause: no wheel of demo 1.0 given can be installed: this environment is {}; \
             the candidates were built for: demo-1.0-cp311-cp311-win_amd64.whl (cp311-cp311-win_amd64), \
             demo-1.0-cp311-cp311-macosx_11_0_arm64.whl (cp311-cp311-macosx_11_0_arm64)\n",
            windows.display(),
            environment_words(&venv)
        )
    );
    assert_eq!(snapshot(&venv), before);
    assert_eq!(entries(&cache), 0);

    let pkg = fixture("fixture_pkg-1.0");
    std::fs::create_dir(tmp.path().join("x")).unwrap();
    let relative = tmp.path().join("x/../../..").join(pkg.strip_prefix("/").unwrap());
    let out = installer(
        tmp.path(),
        &args(&venv, &cache, &["-v", pkg.to_str().unwrap(), relative.to_str().unwrap()]),
    );
    assert_ok(&out);
    assert!(
        stderr(&out).contains(&format!("{}: given twice, installed once", relative.display())),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("Installed 1 wheel ("), "{}", stderr(&out));
}

#[test]
fn another_target_by_flag_environment_or_config() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&tmp.path().join("venv")), tmp.path().join("cache"));
    let arm = demo(tmp.path(), "demo-1.0-cp312-cp312-manylinux_2_28_aarch64.whl");
    let arm = arm.to_str().unwrap();
    // Refused for this machine, accepted for an aarch64 Python 3.12 image.
    let out = installer(tmp.path(), &args(&venv, &cache, &[arm]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = installer(
        tmp.path(),
        &args(
            &venv,
            &cache,
            &["--python-version", "3.12", "--python-platform", "aarch64-manylinux_2_17", arm],
        ),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "cause: built for CPython 3.12 on Linux aarch64, glibc 2.28+ (cp312-cp312-manylinux_2_28_aarch64); \
             the requested target is CPython 3.12 on Linux aarch64, glibc 2.17"
        ),
        "{}",
        stderr(&out)
    );
    let env = [("INSTALLER_PYTHON_VERSION", "3.12"), ("INSTALLER_PYTHON_PLATFORM", "aarch64-manylinux_2_28")];
    assert_ok(&installer_with_env(tmp.path(), &args(&venv, &cache, &[arm]), &env));
    assert!(site_packages(&venv).join("demo-1.0.dist-info").is_dir());

    // The same from installer.toml, with a bad value named by file and key.
    let windows = demo(tmp.path(), "demo-1.0-cp312-cp312-win_amd64.whl");
    std::fs::write(
        tmp.path().join("installer.toml"),
        "python-version = \"3.12\"\npython-platform = \"windows\"\n",
    )
    .unwrap();
    assert_ok(&installer(tmp.path(), &args(&venv, &cache, &["--reinstall", windows.to_str().unwrap()])));
    std::fs::write(tmp.path().join("installer.toml"), "python-platform = \"vax\"\n").unwrap();
    let out = installer(tmp.path(), &args(&venv, &cache, &[windows.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("installer.toml: key `python-platform`: unknown platform \"vax\""),
        "{}",
        stderr(&out)
    );
    let out =
        installer(tmp.path(), &args(&venv, &cache, &["--python-platform", "vax", windows.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(2), "a bad flag is a usage error");
}

#[test]
fn a_warm_install_starts_no_interpreter() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&tmp.path().join("venv")), tmp.path().join("cache"));
    // The venv's python becomes a wrapper that counts its runs.
    let real = std::fs::canonicalize(venv.join("bin/python")).unwrap();
    let runs = tmp.path().join("runs");
    std::fs::remove_file(venv.join("bin/python")).unwrap();
    std::fs::write(
        venv.join("bin/python"),
        format!("#!/bin/sh\necho run >> {}\nexec {} \"$@\"\n", runs.display(), real.display()),
    )
    .unwrap();
    std::fs::set_permissions(venv.join("bin/python"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    let count = || std::fs::read_to_string(&runs).map_or(0, |s| s.lines().count());
    let pkg = fixture("fixture_pkg-1.0");
    assert_ok(&installer(tmp.path(), &args(&venv, &cache, &[pkg.to_str().unwrap()])));
    assert_eq!(count(), 1, "the interpreter is asked once");
    assert_ok(&installer(tmp.path(), &args(&venv, &cache, &["--reinstall", pkg.to_str().unwrap()])));
    assert_eq!(count(), 1, "then its answer comes from the cache");
}

#[test]
fn a_new_venv_of_a_known_interpreter_starts_no_interpreter() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    // A private interpreter: a copy of pyenv's small `python3.11` launcher beside a link to
    // its library, so it can be made unrunnable without touching the machine's.
    let source = pyenv_cpython("3.11");
    let cpython = tmp.path().join("cpython");
    std::fs::create_dir_all(cpython.join("bin")).unwrap();
    let binary = cpython.join("bin/python3.11");
    std::fs::copy(source.join("bin/python3.11"), &binary).unwrap();
    std::os::unix::fs::symlink(source.join("lib"), cpython.join("lib")).unwrap();
    let venv = |name: &str| {
        let path = tmp.path().join(name);
        let status =
            std::process::Command::new(&binary).args(["-m", "venv", "--without-pip"]).arg(&path).status();
        assert!(status.unwrap().success());
        path
    };
    let (first, second) = (venv("first"), venv("second"));
    let pkg = fixture("fixture_pkg-1.0");
    assert_ok(&installer(tmp.path(), &args(&first, &cache, &[pkg.to_str().unwrap()])));
    // Same size and modification time, but nobody can start it now (not even root).
    std::fs::set_permissions(&binary, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = installer(tmp.path(), &args(&second, &cache, &["-v", pkg.to_str().unwrap()]));
    assert_ok(&out);
    assert!(stderr(&out).contains("info: target: CPython 3.11 on Linux"), "{}", stderr(&out));
    assert!(site_packages(&second).join("fixture_pkg-1.0.dist-info/RECORD").is_file());
    let launcher = std::fs::read_to_string(second.join("bin/fixture-hello")).unwrap();
    assert!(launcher.starts_with(&format!("#!{}\n", second.join("bin/python").display())), "{launcher}");
}

#[test]
fn the_environment_s_own_files_are_never_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&tmp.path().join("venv")), tmp.path().join("cache"));
    let bin = venv.join("bin");
    let cases: [(&str, &str, PathBuf); 5] = [
        (
            "demo-1.0.dist-info/entry_points.txt",
            "[console_scripts]\npython3 = demo:main\n",
            bin.join("python3"),
        ),
        ("demo-1.0.data/scripts/python", "#!/bin/sh\necho evil\n", bin.join("python")),
        ("demo-1.0.data/data/bin/python3.11", "evil", bin.join("python3.11")),
        ("demo-1.0.data/data/pyvenv.cfg", "home = /evil\n", venv.join("pyvenv.cfg")),
        ("demo-1.0.data/scripts/activate", "evil", bin.join("activate")),
    ];
    // The cache made first (its layout, the interpreter's facts): a refused wheel leaves it as it was.
    let good = fixture("fixture_ns_a");
    assert_ok(&installer(tmp.path(), &args(&venv, &cache, &[good.to_str().unwrap()])));
    let before = snapshot(&venv);
    for (member, content, replaced) in cases {
        let cache_before = snapshot(&cache);
        let dir = tempfile::tempdir_in(tmp.path()).unwrap();
        let wheel = WheelBuilder::new("demo", "1.0").file(member, content.as_bytes()).write(dir.path(), None);
        let out = installer(tmp.path(), &args(&venv, &cache, &[wheel.to_str().unwrap()]));
        assert_eq!(out.status.code(), Some(1), "{member}: {}", stderr(&out));
        let what = if member.ends_with("entry_points.txt") {
            "entry point `python3` (console_scripts)".to_string()
        } else {
            member.to_string()
        };
        assert_eq!(
            stderr(&out),
            format!(
                "error: refused wheel {}\n  cause: {what} would replace the environment's own {}\n",
                wheel.display(),
                replaced.display()
            )
        );
        assert_eq!(snapshot(&venv), before, "{member}");
        assert_eq!(snapshot(&cache), cache_before, "{member}: refused before it is cached");
    }
    // Names that only start like them are any wheel's (argcomplete 3 ships the first; pip
    // installs it).
    let dir = tempfile::tempdir_in(tmp.path()).unwrap();
    let entry_points = "[console_scripts]\nactivate-global-python-argcomplete = demo_cli:main\n";
    let wheel = WheelBuilder::new("demo", "1.0")
        .file("demo_cli.py", b"def main():\n    print('demo')\n")
        .file("demo-1.0.dist-info/entry_points.txt", entry_points.as_bytes())
        .file("demo-1.0.data/scripts/python-demo", b"#!python\nprint('demo')\n")
        .write(dir.path(), None);
    assert_ok(&installer(tmp.path(), &args(&venv, &cache, &[wheel.to_str().unwrap()])));
    let out = std::process::Command::new(bin.join("activate-global-python-argcomplete")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "demo\n", "{}", String::from_utf8_lossy(&out.stderr));
    let script = std::fs::read_to_string(bin.join("python-demo")).unwrap();
    assert_eq!(script, format!("#!{}\nprint('demo')\n", bin.join("python").display()));
}

#[test]
fn doctor_shows_the_interpreter_and_its_first_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let venv = make_venv(&tmp.path().join("venv"));
    let out = installer(tmp.path(), &["doctor", "--venv", venv.to_str().unwrap()]);
    assert_ok(&out);
    let report = String::from_utf8(out.stdout).unwrap();
    let version = python(&venv, "import platform; print(platform.python_version())").trim().to_string();
    let words = environment_words(&venv);
    let abi = format!("cp{}", words.split(' ').nth(1).unwrap().replace('.', ""));
    assert!(
        report.contains(&format!("\npython:  {}/bin/python (CPython {}, ", venv.display(), version.trim()))
            && report.contains(&format!("\n         wheels must suit {words}; ABI {abi}\n"))
            && report.contains(&format!("\ntags:    {abi}-{abi}-manylinux_")),
        "{report}"
    );
    let out = installer_with_env(
        tmp.path(),
        &["doctor", "--venv", venv.to_str().unwrap()],
        &[("INSTALLER_PYTHON_PLATFORM", "x86_64-pc-windows-msvc")],
    );
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(
        report.contains(&format!("\ntags:    {abi}-{abi}-win_amd64, {abi}-abi3-win_amd64, ")),
        "{report}"
    );
}

/// A directory for PATH holding `python3.12` from pyenv (CI has pyenv's CPythons).
fn path_with_python312(dir: &Path) -> (String, String) {
    let found = pyenv_cpython("3.12");
    let bin = dir.join("pybin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(found.join("bin/python3.12"), bin.join("python3.12")).unwrap();
    let version = found.file_name().unwrap().to_str().unwrap().to_string();
    (format!("{}:/usr/bin:/bin", bin.display()), version)
}

#[test]
fn python_by_version_creates_the_venv_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, version) = path_with_python312(tmp.path());
    let cache = tmp.path().join("cache");
    let cp311 = demo(tmp.path(), "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl");
    // Checked against the interpreter the venv would be created with: refused, no venv.
    let out = installer_with_env(
        tmp.path(),
        &["install", "-p", "3.12", "--cache-dir", cache.to_str().unwrap(), cp311.to_str().unwrap()],
        &[("PATH", &path)],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("this environment is CPython 3.12 on Linux"), "{}", stderr(&out));
    assert!(!tmp.path().join(".venv").exists());

    let pkg = fixture("fixture_pkg-1.0");
    let out = installer_with_env(
        tmp.path(),
        &["install", "--python", "3.12", "--cache-dir", cache.to_str().unwrap(), pkg.to_str().unwrap()],
        &[("PATH", &path)],
    );
    assert_ok(&out);
    assert!(
        stderr(&out).starts_with(&format!("Created virtual environment at .venv (CPython {version})\n")),
        "{}",
        stderr(&out)
    );
    assert_eq!(python(&tmp.path().join(".venv"), "import sys; print(sys.version_info[:2])"), "(3, 12)\n");

    let out =
        installer_with_env(tmp.path(), &["install", "-p", "3.99", pkg.to_str().unwrap()], &[("PATH", &path)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "error: invalid python: no python3.99 on PATH\n");
}

/// `-p` names the environment's interpreter: an existing `./.venv` of another version is
/// refused, naming both, and left as it was; the same version, or that venv's own python,
/// installs into it.
#[test]
fn python_of_another_version_than_the_existing_venv_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, _) = path_with_python312(tmp.path());
    let python311 = pyenv_cpython("3.11").join("bin/python3.11");
    let venv = tmp.path().join(".venv");
    let made =
        std::process::Command::new(&python311).args(["-m", "venv", "--without-pip"]).arg(&venv).status();
    assert!(made.unwrap().success());
    let cache = tmp.path().join("cache");
    let pkg = fixture("fixture_pkg-1.0");
    let before = snapshot(&venv);
    let python312 = tmp.path().join("pybin/python3.12");
    for spec in ["3.12", python312.to_str().unwrap()] {
        for command in
            [&["install", "--cache-dir", cache.to_str().unwrap(), pkg.to_str().unwrap()][..], &["list"]]
        {
            let args = [&command[..1], &["-p", spec], &command[1..]].concat();
            let out = installer_with_env(tmp.path(), &args, &[("PATH", &path)]);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert_eq!(
                stderr(&out),
                format!(
                    "error: invalid python: .venv is an environment of Python 3.11, not of the requested 3.12 \
                     ({}); pass --venv DIR for a new environment of it, or -p {} for this one\n",
                    python312.display(),
                    venv.join("bin/python").display()
                ),
                "{args:?}"
            );
        }
    }
    assert_eq!(snapshot(&venv), before, "the refused install changed the venv");

    let pybin = tmp.path().join("pybin");
    std::os::unix::fs::symlink(&python311, pybin.join("python3.11")).unwrap();
    for spec in ["3.11", "3", python311.to_str().unwrap(), venv.join("bin/python").to_str().unwrap()] {
        let args = [
            "install",
            "-p",
            spec,
            "--reinstall",
            "--cache-dir",
            cache.to_str().unwrap(),
            pkg.to_str().unwrap(),
        ];
        assert_ok(&installer_with_env(tmp.path(), &args, &[("PATH", &path)]));
    }
    assert!(site_packages(&venv).join("fixture_pkg-1.0.dist-info").is_dir());
}

#[test]
fn a_venv_s_python_selects_that_venv_and_a_failing_interpreter_shows_its_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let venv = make_venv(&tmp.path().join("somewhere/env"));
    let cache = tmp.path().join("cache");
    let pkg = fixture("fixture_pkg-1.0");
    let python_path = venv.join("bin/python");
    let args = ["install", "-p", python_path.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    let out = installer(tmp.path(), &[&args[..], &[pkg.to_str().unwrap()]].concat());
    assert_ok(&out);
    assert!(site_packages(&venv).join("fixture_pkg-1.0.dist-info").is_dir());
    assert!(!tmp.path().join(".venv").exists());
    let listed = installer(tmp.path(), &["list", "-p", python_path.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("fixture-pkg  1.0"), "{listed:?}");
    assert_ok(&installer(tmp.path(), &["uninstall", "-p", python_path.to_str().unwrap(), "fixture-pkg"]));
    assert!(!site_packages(&venv).join("fixture_pkg-1.0.dist-info").exists());

    let broken = tmp.path().join("broken-python");
    std::fs::write(
        &broken,
        "#!/bin/sh\necho 'Fatal Python error: first' >&2\necho 'second line' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&broken, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = installer(
        tmp.path(),
        &[
            "install",
            "-p",
            broken.to_str().unwrap(),
            "--venv",
            "new",
            "--cache-dir",
            cache.to_str().unwrap(),
            pkg.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    // The interpreter's stderr stays inside the error, indented under its text.
    assert!(
        stderr(&out).contains(":\n       Fatal Python error: first\n       second line\n"),
        "{}",
        stderr(&out)
    );
    assert!(!tmp.path().join("new").exists());
}

#[test]
fn system_installs_into_the_first_python3_that_is_not_a_venv_unless_externally_managed() {
    let tmp = tempfile::tempdir().unwrap();
    let cpython = copied_cpython(tmp.path());
    let venv = make_venv(&tmp.path().join("venv"));
    // The venv comes first on PATH and is passed over.
    let path = format!("{}:{}:/usr/bin:/bin", venv.join("bin").display(), cpython.join("bin").display());
    let cache = tmp.path().join("cache");
    let system = |extra: &[&str], wheel: &Path| {
        let mut args = vec!["install", "--system", "--cache-dir", cache.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(wheel.to_str().unwrap());
        installer_with_env(tmp.path(), &args, &[("PATH", &path)])
    };
    let site = cpython.join("lib/python3.8/site-packages");
    assert_ok(&system(&[], &fixture("fixture_pkg-1.0")));
    assert!(site.join("fixture_pkg-1.0.dist-info/RECORD").is_file());
    assert!(cpython.join("bin/fixture-hello").is_file());
    assert!(!site_packages(&venv).join("fixture_pkg-1.0.dist-info").exists());

    std::fs::write(
        cpython.join("lib/python3.8/EXTERNALLY-MANAGED"),
        "[externally-managed]\nError=To install Python packages system-wide, try apt install\n python3-xyz, where xyz is the package.\n",
    )
    .unwrap();
    let before = snapshot(&cpython);
    let out = system(&[], &fixture("fixture_data"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: the environment of {} is externally managed (PEP 668); install into a virtual \
             environment:\n       To install Python packages system-wide, try apt install\n       python3-xyz, \
             where xyz is the package.\nhint: pass --break-system-packages to install into it anyway\n",
            cpython.join("bin/python3").display()
        )
    );
    assert_eq!(snapshot(&cpython), before);
    assert_ok(&system(&["--break-system-packages"], &fixture("fixture_data")));
    assert!(site.join("fixture_data-1.0.dist-info/RECORD").is_file());
}

#[test]
fn target_and_prefix_directories_install_list_and_uninstall() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let (pkg, data) = (fixture("fixture_pkg-1.0"), fixture("fixture_data"));
    let venv = make_venv(&tmp.path().join("venv"));
    let minor = python(&venv, "import sys; print(sys.version_info[1])");
    let python_path = venv.join("bin/python");
    for (flag, dir, site) in [
        ("--target", tmp.path().join("t"), tmp.path().join("t")),
        (
            "--prefix",
            tmp.path().join("p"),
            tmp.path().join(format!("p/lib/python3.{}/site-packages", minor.trim())),
        ),
    ] {
        let d = dir.to_str().unwrap();
        let install =
            ["install", flag, d, "-p", python_path.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
        assert_ok(&installer(
            tmp.path(),
            &[&install[..], &[pkg.to_str().unwrap(), data.to_str().unwrap()]].concat(),
        ));
        assert!(site.join("fixture_pkg/__init__.py").is_file(), "{flag}");
        assert!(site.join("fixture_pkg-1.0.dist-info/RECORD").is_file(), "{flag}");
        assert!(dir.join("bin/fixture-hello").is_file(), "{flag}: scripts in DIR/bin");
        let run = std::process::Command::new(dir.join("bin/fixture-hello"))
            .env("PYTHONPATH", &site)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&run.stdout), "hello from fixture_pkg 1.0\n", "{flag}");
        assert!(
            !site_packages(&venv).join("fixture_pkg-1.0.dist-info").exists(),
            "{flag}: the venv is untouched"
        );

        let listed = installer(tmp.path(), &["list", flag, d]);
        let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
        assert!(listed.contains("fixture-pkg ") && listed.contains("fixture-data "), "{flag}: {listed}");
        assert_ok(&installer(tmp.path(), &["uninstall", flag, d, "fixture-pkg", "fixture-data"]));
        assert!(!site.join("fixture_pkg").exists() && !dir.join("bin/fixture-hello").exists(), "{flag}");
        assert!(String::from_utf8_lossy(&installer(tmp.path(), &["list", flag, d]).stdout).is_empty());
    }
}

/// `--system` names the environment, as `--target`, `--prefix`, `--venv` and `-p` do: given
/// together they are a usage error, never a silent install into the system.
#[test]
fn system_with_target_or_prefix_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let wheel = fixture("fixture_pkg-1.0");
    for flag in ["--target", "--prefix"] {
        let dir = tmp.path().join("dir");
        let args = ["install", "--system", flag, dir.to_str().unwrap(), wheel.to_str().unwrap()];
        // No python3 on PATH: were the flags accepted, nothing could install into the machine's.
        let out = installer_with_env(tmp.path(), &args, &[("PATH", tmp.path().to_str().unwrap())]);
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", stderr(&out));
        assert!(stderr(&out).contains("cannot be used with"), "{flag}: {}", stderr(&out));
        assert!(!dir.exists(), "{flag}");
    }
}

/// doctor takes the environment as every command does (docs/cli.md, `ENV`): with `--target`
/// or `--prefix` it examines where such an install would put files, not `./.venv`.
#[test]
fn doctor_examines_a_target_or_prefix_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let venv = make_venv(&tmp.path().join("venv"));
    let minor = python(&venv, "import sys; print(sys.version_info[1])");
    let python_path = venv.join("bin/python");
    let (t, p) = (tmp.path().join("t"), tmp.path().join("p"));
    let site = p.join(format!("lib/python3.{}/site-packages", minor.trim()));
    for (flag, dir, examined) in [("--target", &t, &t), ("--prefix", &p, &site)] {
        let args = ["doctor", flag, dir.to_str().unwrap(), "-p", python_path.to_str().unwrap()];
        let out = installer_with_env(tmp.path(), &args, &[("INSTALLER_CACHE_DIR", "cache")]);
        assert_ok(&out);
        let report = String::from_utf8(out.stdout).unwrap();
        assert!(
            report.contains(&format!(
                "\ntarget:  {} (does not exist yet; examined {})\n",
                examined.display(),
                tmp.path().display()
            )),
            "{flag}: {report}"
        );
        assert!(report.contains(&format!("\npython:  {} (", python_path.display())), "{flag}: {report}");
        assert!(!dir.exists(), "{flag}: doctor creates nothing");
    }
}

/// `--target` and `--prefix` directories that do not exist are made only once every wheel is
/// verified, and not on a dry run (which works without them); a failed install removes the
/// ones it made. They were once made by the command line before anything was checked.
#[test]
fn missing_target_and_prefix_directories_are_made_only_by_an_install_that_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let venv = make_venv(&tmp.path().join("venv"));
    let python_path = venv.join("bin/python");
    let pkg = fixture("fixture_pkg-1.0");
    let hostile = WheelBuilder::new("hostile", "1.0").file("../escape.py", b"").write(tmp.path(), None);
    let clash = [fixture("fixture_clash_a"), fixture("fixture_clash_b")];
    for flag in ["--target", "--prefix"] {
        let dir = tmp.path().join("new/dir");
        let run = |extra: &[&str], wheels: &[&Path]| {
            let mut args = vec!["install", flag, dir.to_str().unwrap(), "-p", python_path.to_str().unwrap()];
            args.extend_from_slice(&["--cache-dir", cache.to_str().unwrap()]);
            args.extend_from_slice(extra);
            args.extend(wheels.iter().map(|w| w.to_str().unwrap()));
            installer(tmp.path(), &args)
        };
        let out = run(&["--dry-run"], &[&pkg]);
        assert_ok(&out);
        assert!(stderr(&out).contains(" + fixture_pkg==1.0\n"), "{flag}: {}", stderr(&out));
        assert!(!stderr(&out).contains("Would create"), "{flag}: {}", stderr(&out));
        assert!(!tmp.path().join("new").exists(), "{flag}: a dry run makes no directory");

        let out = run(&[], &[&pkg, &hostile]);
        assert_eq!(out.status.code(), Some(1), "{flag}: {}", stderr(&out));
        assert!(!tmp.path().join("new").exists(), "{flag}: a refused wheel makes no directory");

        let out = run(&[], &[&clash[0], &clash[1]]);
        assert_eq!(out.status.code(), Some(1), "{flag}: {}", stderr(&out));
        assert!(stderr(&out).contains("fixture_clash"), "{flag}: {}", stderr(&out));
        assert!(!tmp.path().join("new").exists(), "{flag}: a failed install removes what it made");

        assert_ok(&run(&[], &[&pkg]));
        assert!(dir.join("bin/fixture-hello").is_file(), "{flag}");
        std::fs::remove_dir_all(tmp.path().join("new")).unwrap();
    }
}

/// `--prefix` with an interpreter that is not a venv's lays out `.data/data` and
/// `.data/headers` as pip's `get_scheme(prefix=DIR)` does: sysconfig's `data` and `include`
/// moved under DIR (Debian's `/usr/bin/python3`: `data` is `/usr/local`, so `DIR/local`;
/// headers in `DIR/include/python3.X/<name>`), not the venv layout (`DIR`,
/// `DIR/include/site/python3.X/<name>`) used before. Uninstall finds them by RECORD.
#[test]
fn prefix_takes_data_and_headers_from_the_interpreter_s_scheme() {
    let python3 = Path::new("/usr/bin/python3");
    if !python3.exists() {
        return skip("no /usr/bin/python3");
    }
    let scheme = std::process::Command::new(python3)
        .args(["-I", "-c", "import sys, sysconfig; p = sysconfig.get_paths(); print(sys.prefix); print(p['data']); print(p['include']); print(p['purelib'])"])
        .output()
        .unwrap();
    let scheme = String::from_utf8(scheme.stdout).unwrap();
    let [prefix, data, include, purelib] =
        [0, 1, 2, 3].map(|i| PathBuf::from(scheme.lines().nth(i).unwrap()));
    if data == prefix {
        return skip("/usr/bin/python3's data directory is its prefix: nothing to tell apart");
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    let moved = |path: &Path| dir.join(path.strip_prefix(&prefix).unwrap());
    let cache = tmp.path().join("cache");
    let data_wheel = fixture("fixture_data");
    let install = [
        "install",
        "--prefix",
        dir.to_str().unwrap(),
        "-p",
        python3.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        data_wheel.to_str().unwrap(),
    ];
    assert_ok(&installer(tmp.path(), &install));
    assert!(moved(&purelib).join("fixture_data/__init__.py").is_file());
    let config = moved(&data).join("share/fixture_data/config.txt");
    assert!(config.is_file(), "data under sysconfig's data: {:?}", snapshot(&dir).keys().collect::<Vec<_>>());
    assert!(!dir.join("share").exists(), "not under the prefix itself");
    let header = moved(&include).join("fixture-data/fixture_data.h");
    assert!(
        header.is_file(),
        "headers under sysconfig's include: {:?}",
        snapshot(&dir).keys().collect::<Vec<_>>()
    );
    assert!(!dir.join("include/site").exists());

    let uninstall =
        ["uninstall", "--prefix", dir.to_str().unwrap(), "-p", python3.to_str().unwrap(), "fixture-data"];
    assert_ok(&installer(tmp.path(), &uninstall));
    assert!(!config.exists() && !header.exists());
}

/// Hatchling writes a license text into METADATA's header with its blank lines indented (a
/// line of spaces continues the field, as Python's `email` parser, pip's, reads it): a
/// `Requires-Python` after it still counts (altair, jupyterlab, traitlets... were installed on
/// Pythons they exclude when such a line ended the header).
#[test]
fn requires_python_after_a_license_with_blank_continuation_lines_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&tmp.path().join("venv")), tmp.path().join("cache"));
    let version = python(&venv, "import platform; print(platform.python_version())").trim().to_string();
    let minor: u32 = version.split('.').nth(1).unwrap().parse().unwrap();
    let next = format!("3.{}", minor + 1);
    let license = "License: Copyright (c) the authors\n        \n        All rights reserved.";
    let newer = WheelBuilder::new("licensed", "1.0")
        .metadata(license)
        .metadata(&format!("Requires-Python: >={next}"))
        .write(tmp.path(), None);
    let venv_before = snapshot(&venv);

    let out = installer(tmp.path(), &args(&venv, &cache, &[newer.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains(&format!("cause: requires Python >={next}; this environment is Python {version}\n")),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&venv), venv_before);
}

#[test]
fn a_wheel_whose_requires_python_excludes_the_target_is_refused_unless_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&tmp.path().join("venv")), tmp.path().join("cache"));
    let version = python(&venv, "import platform; print(platform.python_version())").trim().to_string();
    let (major, minor) = {
        let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap());
        (parts.next().unwrap(), parts.next().unwrap())
    };
    let next = format!("{major}.{}", minor + 1);
    let newer = WheelBuilder::new("newer", "1.0")
        .metadata(&format!("Requires-Python: >={next}"))
        .write(tmp.path(), None);
    let fine = WheelBuilder::new("fine", "1.0").metadata("Requires-Python: >=3, <4").write(tmp.path(), None);
    let wheels = [fine.to_str().unwrap(), newer.to_str().unwrap()];
    let venv_before = snapshot(&venv);

    // Refused, naming the wheel, what it requires and the environment's full version; all or
    // nothing: the wheel that fits is not installed either.
    let out = installer(tmp.path(), &args(&venv, &cache, &wheels));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "error: refused wheel {}\n  cause: requires Python >={next}; this environment is Python {version}\n\
             hint: install it for a Python it supports, or pass --ignore-requires-python to install it anyway\n",
            newer.display()
        )
    );
    assert_eq!(snapshot(&venv), venv_before);
    // Into an environment that does not exist yet: refused before it is created.
    let fresh = tmp.path().join("fresh");
    let out = installer(tmp.path(), &args(&fresh, &cache, &wheels));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!fresh.exists());

    // An entry cached by a release whose manifests did not record Requires-Python: read from
    // its METADATA, refused the same.
    let entry = cache_entries_dir(&cache)
        .join(names(&cache_entries_dir(&cache)).into_iter().find(|n| n.starts_with("newer")).unwrap());
    let manifest = entry.join("manifest.json");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    assert_eq!(json["requires_python"], format!(">={next}"));
    json.as_object_mut().unwrap().remove("requires_python");
    std::fs::write(&manifest, serde_json::to_vec(&json).unwrap()).unwrap();
    let out = installer(tmp.path(), &args(&venv, &cache, &wheels));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("cause: requires Python >={next}; this environment")),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&venv), venv_before);

    // For a requested Python version, that version is checked (X.Y as X.Y.0).
    let out = installer(
        tmp.path(),
        &args(&venv, &cache, &[&["--dry-run", "--python-version", &next][..], &wheels].concat()),
    );
    assert_ok(&out);
    let old = WheelBuilder::new("old", "1.0").metadata("Requires-Python: >=3.12.1").write(tmp.path(), None);
    let out = installer(
        tmp.path(),
        &args(&venv, &cache, &["--dry-run", "--python-version", "3.12", old.to_str().unwrap()]),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cause: requires Python >=3.12.1; the requested target is Python 3.12\n"),
        "{}",
        stderr(&out)
    );
    // Another platform alone leaves the version the environment's.
    let platform = ["--dry-run", "--python-platform", "x86_64-manylinux_2_28", newer.to_str().unwrap()];
    let out = installer(tmp.path(), &args(&venv, &cache, &platform));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("; this environment is Python {version}\n")), "{}", stderr(&out));

    // Ignored on request, as pip's flag does.
    let out =
        installer(tmp.path(), &args(&venv, &cache, &[&["--ignore-requires-python"][..], &wheels].concat()));
    assert_ok(&out);
    assert!(site_packages(&venv).join("newer/__init__.py").is_file());

    // A specifier that cannot be parsed is ignored with a warning, as pip ignores it.
    let odd = WheelBuilder::new("odd", "1.0").metadata("Requires-Python: >=3.x").write(tmp.path(), None);
    let out = installer(tmp.path(), &args(&venv, &cache, &[odd.to_str().unwrap()]));
    assert_ok(&out);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("warning: {}: ignoring its invalid Requires-Python `>=3.x`: ", odd.display())),
        "{err}"
    );
    assert_eq!(err.lines().filter(|l| l.starts_with("warning:")).count(), 1, "{err}");
}

/// A wheel's own words in a warning reach the terminal escaped, as in errors: an invalid
/// `Requires-Python` with a terminal escape and a backspace cannot clear the screen or rub out
/// what was printed.
#[test]
fn a_warning_quoting_a_wheel_prints_its_control_characters_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&tmp.path().join("venv")), tmp.path().join("cache"));
    let wheel = WheelBuilder::new("odd", "1.0")
        .metadata("Requires-Python: >=3\u{1b}[2J\u{8},bad")
        .write(tmp.path(), None);
    let out = installer(tmp.path(), &args(&venv, &cache, &[wheel.to_str().unwrap()]));
    assert_ok(&out);
    let err = stderr(&out);
    assert!(!err.contains('\u{1b}') && !err.contains('\u{8}'), "{err:?}");
    assert!(err.contains("ignoring its invalid Requires-Python `>=3\\u{1b}[2J\\u{8},bad`"), "{err}");
}
