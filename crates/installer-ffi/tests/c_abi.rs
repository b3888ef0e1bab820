//! The C ABI from C: compiles `tests/c/*.c` with the system C compiler against
//! `include/installer.h`, links them to `libinstaller_ffi.so` and to `libinstaller_ffi.a`, and
//! runs them.
//!
//! The libraries come from `cargo build -p installer-ffi`, which the test runs once per process
//! with the same target dir and profile (a no-op when they are fresh): a library that an earlier
//! build left next to the test executable may lack functions added since.
//!
//! Under valgrind: `INSTALLER_FFI_VALGRIND=1 cargo test -p installer-ffi --test c_abi` runs
//! every C program under `valgrind --leak-check=full --error-exitcode=1
//! --suppressions=tests/c/valgrind.supp` (children such as `python3 -m venv` are not traced;
//! the suppressions cover only "possibly lost" blocks of Rust std and glibc threads).

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
        // Built by cargo every time (a no-op when fresh): a library left in `deps/` by an earlier
        // build may lack functions added since.
        let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
        let has_libs = |dir: &Path| {
            dir.join("libinstaller_ffi.so").is_file() && dir.join("libinstaller_ffi.a").is_file()
        };
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
    cc.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-pthread", "-I"])
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
fn run(exe: &Path, args: &[&Path], env: Option<(&str, &str)>) -> Output {
    let mut command = if std::env::var_os("INSTALLER_FFI_VALGRIND").is_some() {
        let mut valgrind = Command::new("valgrind");
        valgrind
            .args(["--leak-check=full", "--error-exitcode=1"])
            .arg(format!("--suppressions={}", crate_dir().join("tests/c/valgrind.supp").display()))
            .arg(exe);
        valgrind
    } else {
        Command::new(exe)
    };
    command.args(args).envs(env);
    let output = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
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
    let hostile = tmp.path().join("hostile-1.0-py3-none-any.whl");
    write_wheel(
        &hostile,
        &[
            ("hostile/__init__.py", ""),
            ("hostile-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: hostile\nVersion: 1.0\n"),
            ("hostile-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        ],
        &["hostile/x\x1b[2J\ry\nz.py"],
    );
    let output = run(&exe, &[&work, &venv, &hostile], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    // A crash (a signal) prints no FAIL line: its status says it, after the last check passed.
    assert!(output.status.success(), "{}; failed checks:\n{}", output.status, failed_lines(&stdout));
}

/// Writes a wheel with Python's zipfile (a real archive, made by another implementation than
/// ours): `files` and a RECORD listing them with their hashes, then `unlisted` members (empty)
/// that RECORD leaves out.
fn write_wheel(path: &Path, files: &[(&str, &str)], unlisted: &[&str]) {
    let script = r#"
import base64, hashlib, sys, zipfile
args = sys.argv[2:]
split = args.index("--unlisted")
files = dict(zip(args[:split:2], args[1:split:2]))
digest = lambda b: base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode()
record = "".join("%s,sha256=%s,%d\n" % (k, digest(v.encode()), len(v.encode())) for k, v in files.items())
dist_info = next(k.split("/")[0] for k in files if k.endswith(".dist-info/WHEEL"))
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for k, v in files.items():
        z.writestr(k, v)
    for k in args[split + 1:]:
        z.writestr(k, b"")
    z.writestr(dist_info + "/RECORD", record + dist_info + "/RECORD,,\n")
"#;
    let mut python = Command::new("python3");
    python.args(["-c", script]).arg(path);
    python.args(files.iter().flat_map(|(name, content)| [name, content]));
    python.arg("--unlisted").args(unlisted);
    assert!(python.status().unwrap().success(), "{python:?} failed");
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

/// A test that cannot set up what it needs here: under CI (`CI` set and not `false`/`0`) a
/// failure, since a skipped test would pass unrun; elsewhere it says so and the test returns.
fn skip(why: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(!ci, "cannot set up under CI: {why}");
    println!("skipped: {why}");
}

/// `fixtures/wheels/<name>`, or `None` (and a printed reason) when the fixtures are not built.
fn fixture_wheel(name: &str) -> Option<PathBuf> {
    let wheel = workspace_root().join("fixtures/wheels").join(name);
    if wheel.is_file() {
        Some(wheel)
    } else {
        skip(&format!("{} does not exist (see fixtures/build.sh)", wheel.display()));
        None
    }
}

/// One run of `install_fixtures` into a new venv in its own temporary directory.
struct Install {
    _tmp: tempfile::TempDir,
    venv: PathBuf,
    output: Output,
}

impl Install {
    fn run(
        link: Link,
        cache: Option<&Path>,
        link_mode: &str,
        fallback: Option<&str>,
        wheels: &[&Path],
    ) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let exe = compile("install_fixtures", link, tmp.path());
        let venv = tmp.path().join("venv");
        let cache = cache.map_or_else(|| tmp.path().join("cache"), Path::to_path_buf);
        let mut args = vec![venv.as_path(), cache.as_path(), Path::new(link_mode)];
        args.extend_from_slice(wheels);
        let env = fallback.map(|f| ("INSTALLER_LINK_FALLBACK", f));
        let output = run(&exe, &args, env);
        Install { _tmp: tmp, venv, output }
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    fn assert_status(&self, status: i32) {
        let stderr = String::from_utf8_lossy(&self.output.stderr);
        assert_eq!(self.output.status.code(), Some(status), "install_fixtures: {stderr}");
    }

    fn imports(&self, module: &str) -> bool {
        let python = self.venv.join("bin/python");
        python.exists()
            && Command::new(python).args(["-c", &format!("import {module}")]).status().unwrap().success()
    }
}

fn check_install(link: Link, link_mode: &str) {
    let Some(wheel) = fixture_wheel("fixture_pkg-1.0-py3-none-any.whl") else { return };
    let install = Install::run(link, None, link_mode, None, &[&wheel]);
    install.assert_status(0);
    let stdout = install.stdout();
    assert!(stdout.contains("progress: "), "no progress reported:\n{stdout}");
    assert!(!stdout.contains("warning: "), "unexpected warning:\n{stdout}");
    // installer_verify: nothing after the install, then the launcher the C program removed.
    assert!(stdout.contains("verify: ") && stdout.contains("missing bin/fixture-hello"), "{stdout}");
    assert!(install.imports("fixture_pkg"));
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
    let wheel = tmp.path().join("broken-1.0-py3-none-any.whl");
    std::fs::write(&wheel, "not a zip").unwrap();
    let install = Install::run(Link::Shared, None, "auto", None, &[&wheel]);
    install.assert_status(2);
    let stderr = String::from_utf8_lossy(&install.output.stderr);
    assert!(stderr.contains("broken-1.0-py3-none-any.whl"), "{stderr}");
}

/// A wheel for another platform: INSTALLER_ERR_WHEEL (2), the cause in words in
/// `installer_last_error`, and no venv created.
#[test]
fn install_incompatible_wheel_is_refused() {
    let Some(fixture) = fixture_wheel("fixture_pkg-1.0-py3-none-any.whl") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let wheel = tmp.path().join("fixture_pkg-1.0-cp312-cp312-win_amd64.whl");
    std::fs::copy(fixture, &wheel).unwrap();
    let install = Install::run(Link::Shared, None, "auto", None, &[&wheel]);
    install.assert_status(2);
    let stderr = String::from_utf8_lossy(&install.output.stderr);
    assert!(
        stderr.contains(
            "fixture_pkg-1.0-cp312-cp312-win_amd64.whl: built for CPython 3.12 on Windows x86-64 \
             (cp312-cp312-win_amd64); this environment is CPython 3."
        ),
        "{stderr}"
    );
    assert!(!install.venv.exists(), "no venv is created for a refused wheel");
}

/// Two wheels writing one file: INSTALLER_ERR_CONFLICT (4), nothing installed.
#[test]
fn install_conflict_exit_status() {
    let Some(a) = fixture_wheel("fixture_clash_a-1.0-py3-none-any.whl") else { return };
    let Some(b) = fixture_wheel("fixture_clash_b-1.0-py3-none-any.whl") else { return };
    let install = Install::run(Link::Shared, None, "auto", None, &[&a, &b]);
    install.assert_status(4);
}

/// A wheel's own text reaches the warning callback with its control characters escaped, as it
/// reaches the last error: an invalid `Requires-Python` holding ESC and CR is ignored with a
/// warning that quotes it, and a C program printing that warning sends a terminal neither.
#[test]
fn warnings_show_a_wheels_control_characters_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let wheel = tmp.path().join("rpy-1.0-py3-none-any.whl");
    write_wheel(
        &wheel,
        &[
            ("rpy/__init__.py", ""),
            (
                "rpy-1.0.dist-info/METADATA",
                "Metadata-Version: 2.1\nName: rpy\nVersion: 1.0\nRequires-Python: >=3\x1b[2J\r!\n",
            ),
            ("rpy-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        ],
        &[],
    );
    let install = Install::run(Link::Shared, None, "copy", None, &[&wheel]);
    install.assert_status(0);
    let stdout = install.stdout();
    assert!(stdout.contains("invalid Requires-Python `>=3\\u{1b}[2J\\r!`"), "{stdout}");
    assert!(!stdout.contains(['\x1b', '\r']), "{stdout:?}");
}

/// A cache directory on another filesystem than the venv (tmpfs `/dev/shm`), if there is one.
fn cache_on_other_filesystem(venv_parent: &Path) -> Option<tempfile::TempDir> {
    use std::os::unix::fs::MetadataExt;
    let shm = Path::new("/dev/shm");
    let other = shm.is_dir() && shm.metadata().ok()?.dev() != venv_parent.metadata().ok()?.dev();
    if !other {
        skip(&format!("/dev/shm is missing or on the filesystem of {}", venv_parent.display()));
        return None;
    }
    tempfile::tempdir_in(shm).ok()
}

/// Hardlinks across filesystems: copies, with exactly one warning through the callback.
#[test]
fn hardlink_across_filesystems_warns_once() {
    let Some(wheel) = fixture_wheel("fixture_pkg-1.0-py3-none-any.whl") else { return };
    let Some(cache) = cache_on_other_filesystem(&std::env::temp_dir()) else { return };
    let install = Install::run(Link::Shared, Some(cache.path()), "hardlink", None, &[&wheel]);
    install.assert_status(0);
    let stdout = install.stdout();
    // One warning; it may span several lines (what happened, then indented why and fixes).
    assert_eq!(stdout.lines().filter(|l| l.starts_with("warning: ")).count(), 1, "{stdout}");
    assert!(install.imports("fixture_pkg"));
}

/// ... and with link fallback "error": INSTALLER_ERR_LINK_FALLBACK (5), nothing installed.
#[test]
fn hardlink_across_filesystems_fallback_error() {
    let Some(wheel) = fixture_wheel("fixture_pkg-1.0-py3-none-any.whl") else { return };
    let Some(cache) = cache_on_other_filesystem(&std::env::temp_dir()) else { return };
    let install = Install::run(Link::Static, Some(cache.path()), "hardlink", Some("error"), &[&wheel]);
    install.assert_status(5);
    assert!(!install.imports("fixture_pkg"));
}

/// The thread rules of docs/c-abi.md from C (`tests/c/threads.c`): no worker thread outlives
/// an install, verify, probe or uninstall; two contexts install into two venvs at once; a
/// second thread's calls on a context in use are refused while the first thread's install
/// goes on.
#[test]
fn threads_follow_the_documented_rules() {
    let Some(a) = fixture_wheel("fixture_pkg-1.0-py3-none-any.whl") else { return };
    let Some(b) = fixture_wheel("fixture_data-1.0-py3-none-any.whl") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let exe = compile("threads", Link::Shared, tmp.path());
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let output = run(&exe, &[&work, &a, &b], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}; failed checks:\n{}", output.status, failed_lines(&stdout));
}

/// What a progress callback may call, from C (`tests/c/callbacks.c`): on its own context
/// everything but `installer_ctx_cancel` is refused and the install goes on; on another
/// context an install, verify, probe and uninstall all work (the program ends by SIGALRM if
/// one never returns); a cancel from the callback stops the install.
#[test]
fn callbacks_call_into_the_library_as_documented() {
    let Some(wheel) = fixture_wheel("fixture_pkg-1.0-py3-none-any.whl") else { return };
    let Some(other) = fixture_wheel("fixture_data-1.0-py3-none-any.whl") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let exe = compile("callbacks", Link::Static, tmp.path());
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let output = run(&exe, &[&work, &wheel, &other], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}; failed checks:\n{}", output.status, failed_lines(&stdout));
}

/// Every file, directory and symlink under `dir`: relative path, mode, and content or target.
fn snapshot(dir: &Path) -> Vec<(PathBuf, u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let content = if meta.is_symlink() {
            std::fs::read_link(&path).unwrap().into_os_string().into_encoded_bytes()
        } else if meta.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            Vec::new()
        } else {
            std::fs::read(&path).unwrap()
        };
        out.push((path.strip_prefix(dir).unwrap().to_path_buf(), meta.permissions().mode(), content));
    }
    out.sort();
    out
}

/// `installer_ctx_cancel` from the main thread of a C program while another thread's upgrade
/// is stopped at the pause point `moved-aside` (the old version's files moved aside): the
/// install returns INSTALLER_ERR_CANCELLED, the venv is byte for byte as before, and the same
/// context verifies and installs again.
#[test]
fn cancel_from_another_thread_leaves_the_venv_as_it_was() {
    let Some(old) = fixture_wheel("fixture_pkg-1.0-py3-none-any.whl") else { return };
    let Some(new) = fixture_wheel("fixture_pkg-2.0-py3-none-any.whl") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let [venv, fresh, cache, pause] = ["venv", "fresh", "cache", "pause"].map(|name| tmp.path().join(name));
    std::fs::create_dir(&pause).unwrap();
    let options = installer_core::InstallOptions::default();
    installer_core::install_into(
        &venv,
        Path::new("python3"),
        &[old],
        &installer_core::cache::Cache::open(&cache).unwrap(),
        &options,
        &installer_core::NoReporter,
    )
    .unwrap();
    let before = snapshot(&venv);

    let exe = compile("cancel_install", Link::Shared, tmp.path());
    let mut command = Command::new(&exe);
    command
        .args([&venv, &cache, &pause, &new, &fresh])
        .env("INSTALLER_TEST_PAUSE", "moved-aside")
        .env("INSTALLER_TEST_PAUSE_DIR", &pause);
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "failed checks:\n{}", failed_lines(&stdout));
    assert!(pause.join("moved-aside.reached").exists(), "the install never reached its pause point");
    assert_eq!(snapshot(&venv), before, "the cancelled upgrade left the venv as it was");
    let site = std::fs::read_dir(fresh.join("lib")).unwrap().next().unwrap().unwrap().path();
    assert!(site.join("site-packages/fixture_pkg-2.0.dist-info/RECORD").is_file());
}

/// The same exports called from Rust (through the rlib): install, then uninstall, with a
/// progress callback on four worker threads (that they never enter it twice at once is
/// proven deterministically by the unit test `callbacks_are_never_entered_twice_at_once` in
/// src/reporter.rs, not by hoping the scheduler interleaves them here).
#[test]
fn install_then_uninstall_from_rust() {
    use installer_ffi::*;
    use std::ffi::{c_void, CStr, CString};
    use std::sync::atomic::{AtomicU64, Ordering};

    #[derive(Default)]
    struct Seen {
        calls: AtomicU64,
    }
    unsafe extern "C" fn on_progress(user_data: *mut c_void, _done: u64, _total: u64) {
        let seen = unsafe { &*user_data.cast::<Seen>() };
        seen.calls.fetch_add(1, Ordering::SeqCst);
    }

    let Some(wheel) = fixture_wheel("fixture_pkg-1.0-py3-none-any.whl") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cstr = |p: &Path| CString::new(p.to_str().unwrap()).unwrap();
    let (venv, cache, wheel) =
        (cstr(&tmp.path().join("venv")), cstr(&tmp.path().join("cache")), cstr(&wheel));
    let seen = Seen::default();
    unsafe {
        let mut ctx = std::ptr::null_mut();
        assert_eq!(installer_ctx_new(cache.as_ptr(), &mut ctx), installer_status::INSTALLER_OK);
        let last_error = || CStr::from_ptr(installer_last_error(ctx)).to_string_lossy().into_owned();
        let seen_ptr = (&raw const seen).cast_mut().cast();
        assert_eq!(
            installer_ctx_set_progress_callback(ctx, Some(on_progress), seen_ptr),
            installer_status::INSTALLER_OK
        );
        assert_eq!(installer_ctx_set_jobs(ctx, 4), installer_status::INSTALLER_OK);
        let wheels = [wheel.as_ptr()];
        let status = installer_install(ctx, venv.as_ptr(), wheels.as_ptr(), 1);
        assert_eq!(status, installer_status::INSTALLER_OK, "{}", last_error());
        assert!(seen.calls.load(Ordering::SeqCst) > 0);
        let names = [c"Fixture_Pkg".as_ptr()];
        let status = installer_uninstall(ctx, venv.as_ptr(), names.as_ptr(), 1);
        assert_eq!(status, installer_status::INSTALLER_OK, "{}", last_error());
        let status = installer_uninstall(ctx, venv.as_ptr(), names.as_ptr(), 1);
        assert_eq!(status, installer_status::INSTALLER_ERR_NOT_INSTALLED);
        assert!(last_error().to_lowercase().contains("fixture"), "{}", last_error());
        installer_ctx_free(ctx);
    }
}

/// A wheel whose `Requires-Python` excludes every Python: INSTALLER_ERR_WHEEL with the reason
/// in `installer_last_error` and nothing installed, until the context ignores it.
#[test]
fn requires_python_refuses_until_ignored() {
    use installer_ffi::*;
    use std::ffi::{CStr, CString};

    let tmp = tempfile::tempdir().unwrap();
    let wheel = tmp.path().join("future-1.0-py3-none-any.whl");
    write_wheel(
        &wheel,
        &[
            ("future/__init__.py", ""),
            (
                "future-1.0.dist-info/METADATA",
                "Metadata-Version: 2.1\nName: future\nVersion: 1.0\nRequires-Python: >=99\n",
            ),
            ("future-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        ],
        &[],
    );
    let cstr = |p: &Path| CString::new(p.to_str().unwrap()).unwrap();
    let venv = tmp.path().join("venv");
    make_venv(&venv);
    let (venv_c, cache, wheel_c) = (cstr(&venv), cstr(&tmp.path().join("cache")), cstr(&wheel));
    unsafe {
        let mut ctx = std::ptr::null_mut();
        assert_eq!(installer_ctx_new(cache.as_ptr(), &mut ctx), installer_status::INSTALLER_OK);
        let last_error = || CStr::from_ptr(installer_last_error(ctx)).to_string_lossy().into_owned();
        let wheels = [wheel_c.as_ptr()];
        let status = installer_install(ctx, venv_c.as_ptr(), wheels.as_ptr(), 1);
        assert_eq!(status, installer_status::INSTALLER_ERR_WHEEL, "{}", last_error());
        assert!(last_error().contains("future-1.0-py3-none-any.whl"), "{}", last_error());
        assert!(
            last_error().contains("requires Python >=99; this environment is Python 3."),
            "{}",
            last_error()
        );
        assert!(!venv
            .join("lib")
            .read_dir()
            .unwrap()
            .flatten()
            .any(|d| d.path().join("site-packages/future").exists()));

        assert_eq!(installer_ctx_set_ignore_requires_python(ctx, true), installer_status::INSTALLER_OK);
        let status = installer_install(ctx, venv_c.as_ptr(), wheels.as_ptr(), 1);
        assert_eq!(status, installer_status::INSTALLER_OK, "{}", last_error());
        assert!(venv
            .join("lib")
            .read_dir()
            .unwrap()
            .flatten()
            .any(|d| d.path().join("site-packages/future").is_dir()));
        installer_ctx_free(ctx);
    }
}

/// `installer_ctx_set_compile`: the install places bytecode for the venv's interpreter, which
/// Python accepts for the installed sources (importing writes no new `.pyc`), and a second
/// venv of the same interpreter gets the cache's files (the same inode, hardlinked).
#[test]
fn compile_places_the_bytecode_python_uses() {
    use installer_ffi::*;
    use std::ffi::{CStr, CString};
    use std::os::unix::fs::MetadataExt;

    let Some(wheel) = fixture_wheel("fixture_pkg-1.0-py3-none-any.whl") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cstr = |p: &Path| CString::new(p.to_str().unwrap()).unwrap();
    let (cache, wheel) = (cstr(&tmp.path().join("cache")), cstr(&wheel));
    let pycs = |venv: &Path| -> Vec<PathBuf> {
        let lib = venv.join("lib").read_dir().unwrap().next().unwrap().unwrap().path();
        let pycache = lib.join("site-packages/fixture_pkg/__pycache__");
        let mut found: Vec<PathBuf> =
            pycache.read_dir().map_or(Vec::new(), |d| d.map(|e| e.unwrap().path()).collect());
        found.sort();
        found
    };
    let venvs = [tmp.path().join("a"), tmp.path().join("b")];
    unsafe {
        let mut ctx = std::ptr::null_mut();
        assert_eq!(installer_ctx_new(cache.as_ptr(), &mut ctx), installer_status::INSTALLER_OK);
        let last_error = || CStr::from_ptr(installer_last_error(ctx)).to_string_lossy().into_owned();
        assert_eq!(installer_ctx_set_compile(ctx, true), installer_status::INSTALLER_OK);
        assert_eq!(installer_ctx_set_link_mode(ctx, c"hardlink".as_ptr()), installer_status::INSTALLER_OK);
        for venv in &venvs {
            make_venv(venv);
            let status = installer_install(ctx, cstr(venv).as_ptr(), [wheel.as_ptr()].as_ptr(), 1);
            assert_eq!(status, installer_status::INSTALLER_OK, "{}", last_error());
        }
        installer_ctx_free(ctx);
    }
    let (a, b) = (pycs(&venvs[0]), pycs(&venvs[1]));
    assert!(
        a.iter().any(|p| p.file_name().unwrap().to_str().unwrap().starts_with("__init__.cpython-")),
        "{a:?}"
    );
    let inodes =
        |pycs: &[PathBuf]| pycs.iter().map(|p| std::fs::metadata(p).unwrap().ino()).collect::<Vec<_>>();
    assert_eq!(inodes(&a), inodes(&b), "the second venv links the cache's bytecode");
    let before: Vec<_> = a.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let python = venvs[0].join("bin/python");
    // Python may write bytecode here (this machine's environment may say otherwise): it would
    // replace a `.pyc` it found stale, and write one it found missing.
    let imported = Command::new(python)
        .args(["-c", "import fixture_pkg, fixture_pkg.sub"])
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .status()
        .unwrap();
    assert!(imported.success());
    assert_eq!(pycs(&venvs[0]), a, "importing wrote no other .pyc");
    assert_eq!(inodes(&a), inodes(&b), "nor replaced one");
    assert_eq!(a.iter().map(|p| std::fs::read(p).unwrap()).collect::<Vec<_>>(), before, "nor rewrote one");
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
    // README, "Embedding from C": these names are the contract.
    for name in [
        "installer_version",
        "installer_ctx_new",
        "installer_ctx_free",
        "installer_ctx_set_link_mode",
        "installer_ctx_set_link_fallback",
        "installer_ctx_set_jobs",
        "installer_ctx_set_ignore_requires_python",
        "installer_ctx_set_compile",
        "installer_ctx_set_progress_callback",
        "installer_ctx_set_warning_callback",
        "installer_install",
        "installer_uninstall",
        "installer_verify",
        "installer_probe_link_mode",
        "installer_last_error",
        "installer_ctx_cancel",
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
        "INSTALLER_ERR_CANCELLED = 7,",
        "INSTALLER_ERR_VERIFY = 8,",
        "INSTALLER_ERR_PANIC = 99,",
        "typedef struct installer_ctx installer_ctx;",
        "typedef void (*installer_progress_cb)(void *user_data, uint64_t done, uint64_t total);",
        "typedef void (*installer_warning_cb)(void *user_data, const char *message);",
    ] {
        assert!(header.contains(decl), "include/installer.h lacks `{decl}`; run `cargo xtask codegen`");
    }
}

/// A progress callback that calls back into its own context: refused with
/// INSTALLER_ERR_INVALID_ARGUMENT (the docs forbid it; it would alias the context the running
/// install holds), while the install itself goes on and succeeds.
#[test]
fn a_callback_calling_into_its_own_context_is_refused() {
    use installer_ffi::*;
    use std::ffi::{c_void, CString};
    use std::sync::Mutex;

    struct Reentry {
        ctx: *mut installer_ctx,
        statuses: Mutex<Vec<installer_status>>,
    }
    unsafe extern "C" fn on_progress(user_data: *mut c_void, _done: u64, _total: u64) {
        let reentry = unsafe { &*user_data.cast::<Reentry>() };
        let status = unsafe { installer_ctx_set_jobs(reentry.ctx, 1) };
        reentry.statuses.lock().unwrap().push(status);
    }

    let Some(wheel) = fixture_wheel("fixture_pkg-1.0-py3-none-any.whl") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cstr = |p: &Path| CString::new(p.to_str().unwrap()).unwrap();
    let (venv, cache, wheel) =
        (cstr(&tmp.path().join("venv")), cstr(&tmp.path().join("cache")), cstr(&wheel));
    unsafe {
        let mut ctx = std::ptr::null_mut();
        assert_eq!(installer_ctx_new(cache.as_ptr(), &mut ctx), installer_status::INSTALLER_OK);
        let reentry = Reentry { ctx, statuses: Mutex::new(Vec::new()) };
        let user_data = (&raw const reentry).cast_mut().cast();
        assert_eq!(
            installer_ctx_set_progress_callback(ctx, Some(on_progress), user_data),
            installer_status::INSTALLER_OK
        );
        let wheels = [wheel.as_ptr()];
        assert_eq!(installer_install(ctx, venv.as_ptr(), wheels.as_ptr(), 1), installer_status::INSTALLER_OK);
        let statuses = reentry.statuses.lock().unwrap().clone();
        assert!(!statuses.is_empty(), "the progress callback ran");
        assert!(
            statuses.iter().all(|s| *s == installer_status::INSTALLER_ERR_INVALID_ARGUMENT),
            "{statuses:?}"
        );
        // Between calls the context is free again.
        assert_eq!(installer_ctx_set_jobs(ctx, 1), installer_status::INSTALLER_OK);
        installer_ctx_free(ctx);
    }
}

/// `installer_probe_link_mode` answers what an install would do: with the cache on another
/// filesystem than the venv, whose mount has room for the automatic cache shard, an install
/// hardlinks from that shard, so the probe says "hardlink" (a probe of the cache alone said
/// "copy"). It creates no shard.
#[test]
fn probe_link_mode_counts_the_shard_an_install_would_use() {
    use installer_ffi::*;
    use std::ffi::{CStr, CString};

    // The venv on a tmpfs of its own that only root may write at its top (a 1777 one, as
    // `/dev/shm`, gets no automatic shard: another user could have prepared it), so its
    // automatic shard is `<drive>/.installer-cache`; the cache on the temporary directory's
    // filesystem.
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let drive = tmp.path().join("drive");
    std::fs::create_dir(&drive).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "mode=755", "tmpfs"])
        .arg(&drive)
        .output()
        .is_ok_and(|out| out.status.success());
    if !mounted {
        skip("mounting a tmpfs needs root");
        return;
    }
    let _unmount = Unmount(drive.clone());
    let shard = drive.join(".installer-cache");
    assert!(!shard.exists(), "a fresh filesystem");
    let cstr = |p: &Path| CString::new(p.to_str().unwrap()).unwrap();
    let (venv, cache) = (cstr(&drive.join("venv")), cstr(&tmp.path().join("cache")));
    unsafe {
        let mut ctx = std::ptr::null_mut();
        assert_eq!(installer_ctx_new(cache.as_ptr(), &mut ctx), installer_status::INSTALLER_OK);
        let mut mode = std::ptr::null();
        let status = installer_probe_link_mode(ctx, venv.as_ptr(), &mut mode);
        let last_error = CStr::from_ptr(installer_last_error(ctx)).to_string_lossy().into_owned();
        assert_eq!(status, installer_status::INSTALLER_OK, "{last_error}");
        assert_eq!(CStr::from_ptr(mode).to_str().unwrap(), "hardlink");
        installer_ctx_free(ctx);
    }
    assert!(!shard.exists(), "the probe created no shard");
}
