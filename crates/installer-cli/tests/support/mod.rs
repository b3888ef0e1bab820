//! Shared helpers for the CLI's integration tests: the built binary, real venvs, fixture
//! wheels, hand-made (hostile) wheels, and snapshots of directory trees.
#![allow(dead_code)]

mod bytecode;
mod cpython;
pub mod privileged;

#[allow(unused_imports)] // not every test binary checks bytecode
pub use bytecode::*;
#[allow(unused_imports)] // nor copies a CPython
pub use cpython::*;

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use sha2::{Digest, Sha256};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().to_path_buf()
}

/// A checked-in fixture wheel by file name prefix, e.g. `fixture_pkg-1.0`.
pub fn fixture(prefix: &str) -> PathBuf {
    let dir = workspace().join("fixtures/wheels");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(&format!("{prefix}-")))
        .collect();
    assert_eq!(found.len(), 1, "exactly one fixture wheel named {prefix}-*: {found:?}");
    found.pop().unwrap()
}

/// A real virtual environment made by `python3 -m venv --without-pip`.
pub fn make_venv(path: &Path) -> PathBuf {
    let status = Command::new("python3").args(["-m", "venv", "--without-pip"]).arg(path).status().unwrap();
    assert!(status.success(), "python3 -m venv failed");
    path.to_path_buf()
}

/// A venv at `path` (its parent made if needed), copied from one made once per test binary
/// (`python -m venv` costs a second or two).
pub fn venv_at(path: &Path) -> PathBuf {
    static TEMPLATE: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    let (_, template) = TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let venv = make_venv(&dir.path().join("venv"));
        (dir, venv)
    });
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = Command::new("cp").arg("-a").arg(template).arg(path).status().unwrap();
    assert!(status.success());
    path.to_path_buf()
}

/// What a directory holds, by name, sorted (empty when it does not exist).
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// `python -c code` in the venv; returns stdout, asserting success.
pub fn python(venv: &Path, code: &str) -> String {
    let out = Command::new(venv.join("bin/python")).args(["-c", code]).output().unwrap();
    assert!(out.status.success(), "python -c {code:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs the `installer` binary with `args` in `cwd` with a clean configuration environment.
pub fn installer(cwd: &Path, args: &[&str]) -> Output {
    installer_with_env(cwd, args, &[])
}

pub fn installer_with_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    installer_command(cwd, args, env).output().unwrap()
}

/// The `installer` command of [`installer_with_env`], to spawn.
pub fn installer_command(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_installer"));
    cmd.current_dir(cwd).args(args);
    for var in [
        "INSTALLER_LINK_MODE",
        "INSTALLER_LINK_FALLBACK",
        "INSTALLER_CACHE_DIR",
        "INSTALLER_JOBS",
        "INSTALLER_COMPILE",
        "INSTALLER_CACHE_SHARDS",
        "INSTALLER_CACHE_LAYERS",
        "INSTALLER_CACHE_MAX_SIZE",
        "INSTALLER_PYTHON_VERSION",
        "INSTALLER_PYTHON_PLATFORM",
        "VIRTUAL_ENV",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("XDG_CONFIG_HOME", cwd.join(".no-user-config"));
    cmd.env("XDG_CACHE_HOME", cwd.join(".xdg-cache"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the command succeeded, showing its stderr otherwise.
#[track_caller]
pub fn assert_ok(out: &Output) {
    assert!(out.status.success(), "exit {:?}\nstderr:\n{}", out.status.code(), stderr(out));
}

/// One file system object of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir,
    File { sha256: String, mode: u32 },
    Symlink(PathBuf),
}

/// Every path below `root` (relative) with its type, content hash and permission bits.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).min_depth(1) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(root).unwrap().to_path_buf();
        let meta = entry.path().symlink_metadata().unwrap();
        let node = if meta.file_type().is_symlink() {
            Node::Symlink(std::fs::read_link(entry.path()).unwrap())
        } else if meta.is_dir() {
            Node::Dir
        } else {
            let bytes = std::fs::read(entry.path()).unwrap();
            Node::File {
                sha256: format!("{:x}", Sha256::digest(&bytes)),
                mode: meta.permissions().mode() & 0o777,
            }
        };
        out.insert(rel, node);
    }
    out
}

/// A snapshot for comparing an environment with pip's: every file's bytes (the venv's path
/// replaced by `<VENV>`) and mode, without `__pycache__` and the installer's own metadata.
pub fn normalized(venv: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    let needle = venv.to_str().unwrap().as_bytes();
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(venv).min_depth(1) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(venv).unwrap().to_path_buf();
        let s = rel.to_str().unwrap();
        let metadata = [
            ".dist-info/RECORD",
            ".dist-info/INSTALLER",
            ".dist-info/REQUESTED",
            ".dist-info/direct_url.json",
        ];
        if s.contains("__pycache__")
            || metadata.iter().any(|m| s.ends_with(m))
            || !entry.file_type().is_file()
        {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap();
        let replaced = replace(&bytes, needle, b"<VENV>");
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        out.insert(rel, (replaced, mode));
    }
    out
}

/// Installs `wheels` into `venv` with pip (`--no-deps --no-compile`, no index), asserting
/// success; returns pip's stderr (its warnings).
pub fn pip_install(venv: &Path, wheels: &[PathBuf]) -> String {
    let pip = Command::new("python3")
        .args(["-m", "pip", "--python"])
        .arg(venv.join("bin/python"))
        .args(["install", "--no-deps", "--no-compile", "--no-index", "--disable-pip-version-check", "-q"])
        .args(wheels)
        .output()
        .unwrap();
    assert!(pip.status.success(), "pip failed: {}", String::from_utf8_lossy(&pip.stderr));
    String::from_utf8_lossy(&pip.stderr).into_owned()
}

/// Asserts that two environments (with the same base name: `activate` embeds it) hold the same
/// files as [`normalized`] sees them; returns how many.
#[track_caller]
pub fn assert_same_files(ours: &Path, pips: &Path) -> usize {
    let (a, b) = (normalized(ours), normalized(pips));
    let only_ours: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let only_pip: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    assert!(only_ours.is_empty() && only_pip.is_empty(), "only ours: {only_ours:?}\nonly pip: {only_pip:?}");
    let differing: Vec<_> = a
        .iter()
        .filter(|(k, v)| b[*k] != **v)
        .map(|(k, v)| {
            format!("{} (mode {:o} vs pip {:o}, same bytes: {})", k.display(), v.1, b[k].1, v.0 == b[k].0)
        })
        .collect();
    assert!(differing.is_empty(), "{} files differ from pip's:\n{}", differing.len(), differing.join("\n"));
    a.len()
}

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// A wheel file written with the `zip` crate: members in order, RECORD computed unless the
/// test supplies its own (`record: Some(...)`) or leaves it out.
pub struct WheelBuilder {
    pub name: String,
    pub version: String,
    pub members: Vec<(String, Vec<u8>, u32)>,
    pub record: RecordMode,
    pub wheel_version: String,
    pub compression: zip::CompressionMethod,
    /// `Name:` in METADATA when it is not `name` (a hostile one).
    pub metadata_name: Option<String>,
    /// `Root-Is-Purelib` in WHEEL: `false` for a platform wheel, which goes to platlib.
    pub root_is_purelib: bool,
    /// More `Key: value` lines of METADATA's header.
    pub metadata_headers: Vec<String>,
    /// WHEEL as written, instead of the one made from the fields above (an odd one).
    pub wheel_file: Option<String>,
}

pub enum RecordMode {
    Computed,
    Omitted,
    Custom(String),
    /// Computed, then these member paths are left out of it.
    Without(Vec<String>),
    /// Computed, with a wrong (well-formed) hash for this member.
    WrongHash(String),
    /// Computed, plus these rows (e.g. for files the archive lacks).
    Extra(Vec<String>),
    /// Computed, behind a UTF-8 byte-order mark (as some Windows tools save text).
    ByteOrderMark,
}

impl WheelBuilder {
    pub fn new(name: &str, version: &str) -> Self {
        WheelBuilder {
            name: name.into(),
            version: version.into(),
            members: vec![(format!("{name}/__init__.py"), b"VALUE = 1\n".to_vec(), 0o644)],
            record: RecordMode::Computed,
            wheel_version: "1.0".into(),
            compression: zip::CompressionMethod::Deflated,
            metadata_name: None,
            root_is_purelib: true,
            metadata_headers: Vec::new(),
            wheel_file: None,
        }
    }

    /// Adds `line` (`Key: value`) to METADATA's header.
    pub fn metadata(mut self, line: &str) -> Self {
        self.metadata_headers.push(line.into());
        self
    }

    /// `Root-Is-Purelib: false`, as a wheel with extension modules says.
    pub fn platform(mut self) -> Self {
        self.root_is_purelib = false;
        self
    }

    /// Members stored, not deflated: quick to write for large incompressible content.
    pub fn stored(mut self) -> Self {
        self.compression = zip::CompressionMethod::Stored;
        self
    }

    pub fn file(mut self, path: &str, content: &[u8]) -> Self {
        self.members.push((path.into(), content.to_vec(), 0o644));
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.members.push((path.into(), target.as_bytes().to_vec(), 0o120777));
        self
    }

    pub fn dist_info(&self) -> String {
        format!("{}-{}.dist-info", self.name, self.version)
    }

    /// Writes `<dir>/<file_name>` (default `{name}-{version}-py3-none-any.whl`).
    pub fn write(self, dir: &Path, file_name: Option<&str>) -> PathBuf {
        let dist_info = self.dist_info();
        let mut members = self.members.clone();
        members.push((
            format!("{dist_info}/METADATA"),
            format!(
                "Metadata-Version: 2.1\nName: {}\nVersion: {}\n{}",
                self.metadata_name.as_deref().unwrap_or(&self.name),
                self.version,
                self.metadata_headers.iter().map(|line| format!("{line}\n")).collect::<String>()
            )
            .into_bytes(),
            0o644,
        ));
        let wheel_file = self.wheel_file.clone().unwrap_or_else(|| {
            format!(
                "Wheel-Version: {}\nGenerator: test\nRoot-Is-Purelib: {}\nTag: py3-none-any\n",
                self.wheel_version, self.root_is_purelib
            )
        });
        members.push((format!("{dist_info}/WHEEL"), wheel_file.into_bytes(), 0o644));
        let record = match &self.record {
            RecordMode::Omitted => None,
            RecordMode::Custom(text) => Some(text.clone()),
            RecordMode::Computed
            | RecordMode::Without(_)
            | RecordMode::WrongHash(_)
            | RecordMode::Extra(_)
            | RecordMode::ByteOrderMark => {
                let skip: &[String] = if let RecordMode::Without(s) = &self.record { s } else { &[] };
                let mut text = String::new();
                if matches!(self.record, RecordMode::ByteOrderMark) {
                    text.push('\u{feff}');
                }
                for (path, content, _) in &members {
                    if !skip.contains(path) {
                        let mut hash =
                            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(content));
                        if matches!(&self.record, RecordMode::WrongHash(p) if p == path) {
                            hash = base64::engine::general_purpose::URL_SAFE_NO_PAD
                                .encode(Sha256::digest(b"other"));
                        }
                        text.push_str(&format!("{path},sha256={hash},{}\n", content.len()));
                    }
                }
                if let RecordMode::Extra(rows) = &self.record {
                    rows.iter().for_each(|row| text.push_str(&format!("{row}\n")));
                }
                text.push_str(&format!("{dist_info}/RECORD,,\n"));
                Some(text)
            }
        };
        if let Some(record) = record {
            members.push((format!("{dist_info}/RECORD"), record.into_bytes(), 0o644));
        }
        let name = file_name
            .map(str::to_string)
            .unwrap_or(format!("{}-{}-py3-none-any.whl", self.name, self.version));
        let path = dir.join(name);
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(std::fs::File::create(&path).unwrap()));
        for (member, content, mode) in members {
            if mode & 0o170000 == 0o120000 {
                zip.add_symlink(
                    member,
                    String::from_utf8(content).unwrap(),
                    zip::write::SimpleFileOptions::default(),
                )
                .unwrap();
            } else {
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(self.compression)
                    .unix_permissions(mode);
                zip.start_file(member, options).unwrap();
                zip.write_all(&content).unwrap();
            }
        }
        zip.finish().unwrap().flush().unwrap();
        path
    }
}

/// `<venv>/lib/pythonX.Y/site-packages` (the one there is).
pub fn site_packages(venv: &Path) -> PathBuf {
    let lib = venv.join("lib");
    let found: Vec<PathBuf> = std::fs::read_dir(&lib)
        .unwrap()
        .map(|e| e.unwrap().path().join("site-packages"))
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(found.len(), 1, "one site-packages in {}", lib.display());
    found[0].clone()
}

/// Where a cache keeps its published entries: the cache's internal layout, spelled here once
/// for the tests that count or inspect what a run left in it.
pub fn cache_entries_dir(cache: &Path) -> PathBuf {
    cache.join("v1/entries")
}

/// The one entry directory of a cache.
pub fn only_entry(cache: &Path) -> PathBuf {
    let entries = names(&cache_entries_dir(cache));
    assert_eq!(entries.len(), 1, "{entries:?}");
    cache_entries_dir(cache).join(&entries[0])
}

/// The log of entry uses that eviction by last use reads.
pub fn cache_usage_log(cache: &Path) -> PathBuf {
    cache.join("v1/used.log")
}

/// Where a cache stages entries being written (empty once every writer is done).
pub fn cache_staging_dir(cache: &Path) -> PathBuf {
    cache.join("v1/tmp")
}

/// A test that cannot set up what it needs here (root, a loop mount, a second filesystem):
/// under CI (`CI` set and not `false`/`0`) that is a failure, since a skipped test would pass
/// unrun; elsewhere it says so and the test returns.
pub fn skip(why: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(!ci, "cannot set up under CI: {why}");
    eprintln!("skipped: {why}");
}

/// A new temporary directory on `/dev/shm` when that is a filesystem of its own (not the one
/// `near` is on): a cache on another filesystem than the environments. Says why not.
pub fn tmpfs_dir(near: &Path) -> Option<tempfile::TempDir> {
    use std::os::unix::fs::MetadataExt;
    let shm = Path::new("/dev/shm");
    let separate =
        shm.is_dir() && std::fs::metadata(shm).unwrap().dev() != std::fs::metadata(near).unwrap().dev();
    if !separate {
        skip(&format!("/dev/shm is missing or on the same filesystem as {}", near.display()));
    }
    separate.then(|| tempfile::tempdir_in(shm).unwrap())
}

/// The link count of a file.
pub fn nlink(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().nlink()
}

/// An `installer` process stopped at a named pause point (`INSTALLER_TEST_PAUSE`), so a test
/// can run another process exactly inside a protocol's window, without sleeps.
pub struct Paused {
    child: std::process::Child,
    dir: tempfile::TempDir,
    point: String,
}

impl Paused {
    /// Spawns `installer args` and returns once it has reached `point` (the first, if several);
    /// panics (with its stderr) if it exits first.
    pub fn start(cwd: &Path, args: &[&str], point: &str) -> Paused {
        let mut command = installer_command(cwd, args, &[]);
        command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        Paused::start_command(command, point)
    }

    /// [`Paused::start`] for a command whose output the caller has set up (a terminal).
    pub fn start_command(mut command: Command, point: &str) -> Paused {
        let dir = tempfile::tempdir().unwrap();
        // Writable by a process run as another user (tests/sharing.rs).
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        command.env("INSTALLER_TEST_PAUSE", point).env("INSTALLER_TEST_PAUSE_DIR", dir.path());
        let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let child = command.spawn().unwrap();
        let mut paused = Paused { child, dir, point: point.to_string() };
        let first = point.split(',').next().unwrap();
        paused.reach(first).unwrap_or_else(|err| panic!("installer {args:?}: {err}"));
        paused
    }

    /// Waits until the process has reached `point`, one of those it was started with (several,
    /// comma-separated, stop their threads each); `Err` with its stderr if it exits first.
    pub fn reach(&mut self, point: &str) -> Result<(), String> {
        let reached = self.dir.path().join(format!("{point}.reached"));
        while !reached.exists() {
            if self.child.try_wait().unwrap().is_some() {
                let out = self.child.wait_with_output_ref();
                return Err(format!("exited before reaching {point}: {}", stderr(&out)));
            }
            std::thread::sleep(std::time::Duration::from_millis(2)); // polling a state, not timing
        }
        Ok(())
    }

    /// Lets the thread stopped at `point` go on, the others staying where they are.
    pub fn release(&self, point: &str) {
        std::fs::write(self.dir.path().join(format!("{point}.go")), "").unwrap();
    }

    /// Lets every point the process was started with go.
    fn release_all(&self) {
        for point in self.point.split(',') {
            self.release(point);
        }
    }

    /// Presses Ctrl-C: sends SIGINT, waits until the process says it is rolling back (its
    /// handler has cancelled the operation: a state, not a delay), then lets it go on and
    /// waits for it.
    pub fn interrupt(mut self) -> Output {
        let mut err = std::io::BufReader::new(self.child.stderr.take().unwrap());
        let mut seen = String::new();
        self.signal(libc::SIGINT);
        read_until_rolling_back(&mut err, &mut seen);
        self.release_all();
        self.finish(err, seen)
    }

    /// Presses Ctrl-C twice while the process stays held at its point, so that nothing but
    /// the second press can end it: the second once the first was handled (the process says
    /// it is rolling back; two presses before that the kernel may merge into one). Waits for
    /// the process to exit. If it says it is rolling back again instead (it took the second
    /// press for a first), it is let go, so it ends as after one press (exit 130, rolled back)
    /// and the caller's assertions tell, instead of the pause's ten-minute timeout.
    pub fn interrupt_twice(mut self) -> Output {
        let mut err = std::io::BufReader::new(self.child.stderr.take().unwrap());
        let mut seen = String::new();
        self.signal(libc::SIGINT);
        if read_until_rolling_back(&mut err, &mut seen) {
            self.signal(libc::SIGINT);
            if read_until_rolling_back(&mut err, &mut seen) {
                self.release_all();
            }
        }
        self.finish(err, seen)
    }

    /// Sends `signal` to the process (still paused, or running: not yet waited for).
    fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory preconditions; the pid is our child's, not yet reaped
        // (every method that waits for it takes `self`).
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// Reads the rest of stderr after `seen` and waits for the process.
    fn finish(mut self, mut err: impl std::io::Read, mut seen: String) -> Output {
        err.read_to_string(&mut seen).unwrap();
        let mut out = self.child.wait_with_output_ref();
        out.stderr = seen.into_bytes();
        out
    }

    /// Kills the process where it stopped (as a crash would) and waits for it.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Lets the process go on and waits for it.
    pub fn resume(mut self) -> Output {
        self.release_all();
        self.child.wait_with_output_ref()
    }
}

impl Drop for Paused {
    /// A test that fails while a process is paused leaves it neither waiting nor running (nor,
    /// in tests/sharing.rs, keeps its user from being deleted).
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads stderr lines into `seen` up to one saying the process is rolling back after Ctrl-C
/// (true), or to the end (false: it exited).
fn read_until_rolling_back(err: &mut impl std::io::BufRead, seen: &mut String) -> bool {
    loop {
        let start = seen.len();
        if err.read_line(seen).unwrap() == 0 {
            return false;
        }
        if seen[start..].starts_with("interrupted: rolling back") {
            return true;
        }
    }
}

trait WaitRef {
    fn wait_with_output_ref(&mut self) -> Output;
}

impl WaitRef for std::process::Child {
    /// `wait_with_output` for a child held in a struct.
    fn wait_with_output_ref(&mut self) -> Output {
        use std::io::Read;
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        if let Some(mut out) = self.stdout.take() {
            out.read_to_end(&mut stdout).unwrap();
        }
        if let Some(mut err) = self.stderr.take() {
            err.read_to_end(&mut stderr).unwrap();
        }
        Output { status: self.wait().unwrap(), stdout, stderr }
    }
}

// Hostile conditions (tests/hardening.rs, tests/interrupted.rs)

/// Bytes that no compressor can shrink (xorshift64), quickly.
pub fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A valid wheel `{name}-{version}-py3-none-any.whl` in `dir`: `{name}/__init__.py`,
/// `files` members of `size` random bytes each (stored: writing it is quick, and stored
/// members are what is slowest to fake), and a correct RECORD.
pub fn big_wheel(dir: &Path, name: &str, version: &str, files: usize, size: usize) -> PathBuf {
    let mut wheel = WheelBuilder::new(name, version).stored();
    for i in 0..files {
        wheel = wheel.file(&format!("{name}/blob{i}.bin"), &random_bytes(size, 0x9e37_79b9 + i as u64 + 1));
    }
    wheel.write(dir, None)
}

/// `install --venv VENV --cache-dir CACHE EXTRA... WHEELS...`.
pub fn install_args<'a>(
    venv: &'a Path,
    cache: &'a Path,
    wheels: &[&'a Path],
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["install", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend(wheels.iter().map(|w| w.to_str().unwrap()));
    args
}

/// Failed with exit code `code`, and stderr says each of `needles`.
#[track_caller]
pub fn assert_failed(out: &Output, code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr:\n{err}");
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
    }
}

/// The cache holds no entry and nothing being written.
#[track_caller]
pub fn assert_cache_empty(cache: &Path) {
    assert_eq!(names(&cache_entries_dir(cache)), Vec::<String>::new(), "entries");
    assert_eq!(names(&cache_staging_dir(cache)), Vec::<String>::new(), "staging");
}
