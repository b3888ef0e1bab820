//! The C ABI from C: compiles `tests/c/*.c` with the system C compiler against
//! `include/installer.h`, links them to `libinstaller_ffi.so` and to `libinstaller_ffi.a`, and
//! runs them.
//!
//! The libraries come from this very `cargo test`: building the integration tests compiles the
//! crate's lib target once with all its crate types (cdylib, staticlib, rlib) into
//! `target/<profile>/deps/`, next to this test's executable. (If they are ever missing there,
//! the test runs `cargo build -p installer-ffi` with the same target dir and profile.)
//!
//! Under valgrind: `INSTALLER_FFI_VALGRIND=1 cargo test -p installer-ffi --test c_abi` runs
//! every C program under `valgrind --leak-check=full --error-exitcode=1` (children such as
//! `python3 -m venv` are not traced).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// How a C program is linked to the library.
#[derive(Clone, Copy, Debug)]
enum Link {
    Shared,
    Static,
}

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn workspace_root() -> PathBuf {
    crate_dir().join("../..").canonicalize().unwrap()
}

/// The directory holding `libinstaller_ffi.so` and `.a` built for this test run.
fn lib_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
        let has_libs = |dir: &Path| {
            dir.join("libinstaller_ffi.so").is_file() && dir.join("libinstaller_ffi.a").is_file()
        };
        if has_libs(&deps) {
            return deps;
        }
        let profile_dir = deps.parent().unwrap();
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "-p", "installer-ffi", "--target-dir"]).arg(profile_dir.parent().unwrap());
        if profile_dir.file_name().unwrap() == "release" {
            cargo.arg("--release");
        }
        assert!(cargo.status().unwrap().success(), "{cargo:?} failed");
        assert!(has_libs(profile_dir), "no libinstaller_ffi.so/.a in {}", profile_dir.display());
        profile_dir.to_path_buf()
    })
}

/// Compiles `tests/c/<name>.c` into `out_dir`, strictly (warnings are errors).
fn compile(name: &str, link: Link, out_dir: &Path) -> PathBuf {
    let source = crate_dir().join("tests/c").join(format!("{name}.c"));
    let exe = out_dir.join(format!("{name}-{link:?}").to_lowercase());
    let lib = lib_dir();
    let mut cc = Command::new(std::env::var_os("CC").unwrap_or_else(|| "cc".into()));
    cc.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-I"])
        .arg(crate_dir().join("include"))
        .arg(&source)
        .arg("-o")
        .arg(&exe);
    match link {
        Link::Shared => {
            cc.arg("-L").arg(lib).arg("-linstaller_ffi").arg(format!("-Wl,-rpath,{}", lib.display()));
        }
        Link::Static => {
            cc.arg(lib.join("libinstaller_ffi.a")).args(["-lpthread", "-ldl", "-lm"]);
        }
    }
    let output = cc.output().expect("cannot run the C compiler `cc`");
    assert!(output.status.success(), "{cc:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    exe
}

/// Runs a compiled C program (under valgrind when `INSTALLER_FFI_VALGRIND` is set), echoing
/// its output for the test log.
fn run(exe: &Path, args: &[&Path]) -> Output {
    let mut command = if std::env::var_os("INSTALLER_FFI_VALGRIND").is_some() {
        let mut valgrind = Command::new("valgrind");
        valgrind.args(["--leak-check=full", "--error-exitcode=1"]).arg(exe);
        valgrind
    } else {
        Command::new(exe)
    };
    command.args(args);
    let output = command.output().unwrap();
    println!("$ {command:?}\n{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    output
}

fn make_venv(path: &Path) {
    let status = Command::new("python3").args(["-m", "venv", "--without-pip"]).arg(path).status().unwrap();
    assert!(status.success(), "python3 -m venv {} failed", path.display());
}

fn check_error_paths(link: Link) {
    let tmp = tempfile::tempdir().unwrap();
    let exe = compile("error_paths", link, tmp.path());
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let venv = tmp.path().join("venv");
    make_venv(&venv);
    let output = run(&exe, &[&work, &venv]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "failed checks:\n{}", failed_lines(&stdout));
}

fn failed_lines(stdout: &str) -> String {
    stdout.lines().filter(|l| l.starts_with("FAIL")).collect::<Vec<_>>().join("\n")
}

#[test]
fn error_paths_shared() {
    check_error_paths(Link::Shared);
}

#[test]
fn error_paths_static() {
    check_error_paths(Link::Static);
}

/// `fixtures/wheels/<name>`, or `None` (and a printed reason) when the fixtures are not built.
fn fixture_wheel(name: &str) -> Option<PathBuf> {
    let wheel = workspace_root().join("fixtures/wheels").join(name);
    if wheel.is_file() {
        Some(wheel)
    } else {
        println!("skipped: {} does not exist (see fixtures/build.sh)", wheel.display());
        None
    }
}

fn check_install(link: Link, link_mode: &str) {
    let Some(wheel) = fixture_wheel("fixture_pkg-1.0-py3-none-any.whl") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let exe = compile("install_fixtures", link, tmp.path());
    let venv = tmp.path().join("venv");
    let cache = tmp.path().join("cache");
    let output = run(&exe, &[&venv, &cache, Path::new(link_mode), &wheel]);
    assert!(
        output.status.success(),
        "install_fixtures exited with {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("progress: "), "no progress reported:\n{stdout}");
    let import = Command::new(venv.join("bin/python")).args(["-c", "import fixture_pkg"]).output().unwrap();
    assert!(import.status.success(), "import failed: {}", String::from_utf8_lossy(&import.stderr));
}

#[test]
fn install_fixture_shared_copy() {
    check_install(Link::Shared, "copy");
}

#[test]
fn install_fixture_static_auto() {
    check_install(Link::Static, "auto");
}

/// A refused wheel: the C program exits with INSTALLER_ERR_WHEEL (2) and prints the error,
/// which names the wheel.
#[test]
fn install_refused_wheel_exit_status() {
    let tmp = tempfile::tempdir().unwrap();
    let exe = compile("install_fixtures", Link::Shared, tmp.path());
    let wheel = tmp.path().join("broken-1.0-py3-none-any.whl");
    std::fs::write(&wheel, "not a zip").unwrap();
    let venv = tmp.path().join("venv");
    let output = run(&exe, &[&venv, &tmp.path().join("cache"), Path::new("auto"), &wheel]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("broken-1.0-py3-none-any.whl"), "{stderr}");
}

/// The header must declare every export of the crate: a cheap staleness check that needs no
/// cbindgen (`cargo xtask ci` does the byte-for-byte one).
#[test]
fn header_declares_every_export() {
    let header = std::fs::read_to_string(crate_dir().join("include/installer.h")).unwrap();
    let mut exports = Vec::new();
    for entry in std::fs::read_dir(crate_dir().join("src")).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in source.lines() {
            if let Some(rest) = line.split("extern \"C\" fn ").nth(1).filter(|_| line.starts_with("pub ")) {
                exports.push(rest.split('(').next().unwrap().to_owned());
            }
        }
    }
    exports.sort();
    // DESIGN.md, C ABI: these names are the contract.
    for name in [
        "installer_version",
        "installer_ctx_new",
        "installer_ctx_free",
        "installer_ctx_set_link_mode",
        "installer_ctx_set_link_fallback",
        "installer_ctx_set_jobs",
        "installer_ctx_set_progress_callback",
        "installer_ctx_set_warning_callback",
        "installer_install",
        "installer_uninstall",
        "installer_probe_link_mode",
        "installer_last_error",
    ] {
        assert!(exports.iter().any(|e| e == name), "{name} is not exported");
    }
    for name in &exports {
        let declared = header.contains(&format!(" {name}(")) || header.contains(&format!("*{name}("));
        assert!(declared, "include/installer.h lacks {name}; run `cargo xtask codegen`");
    }
    for decl in [
        "INSTALLER_OK = 0,",
        "INSTALLER_ERR_INVALID_ARGUMENT = 1,",
        "INSTALLER_ERR_WHEEL = 2,",
        "INSTALLER_ERR_IO = 3,",
        "INSTALLER_ERR_CONFLICT = 4,",
        "INSTALLER_ERR_LINK_FALLBACK = 5,",
        "INSTALLER_ERR_NOT_INSTALLED = 6,",
        "INSTALLER_ERR_PANIC = 99,",
        "typedef struct installer_ctx installer_ctx;",
        "typedef void (*installer_progress_cb)(void *user_data, uint64_t done, uint64_t total);",
        "typedef void (*installer_warning_cb)(void *user_data, const char *message);",
    ] {
        assert!(header.contains(decl), "include/installer.h lacks `{decl}`; run `cargo xtask codegen`");
    }
}
