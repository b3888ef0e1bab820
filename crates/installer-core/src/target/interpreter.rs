//! Facts about an interpreter (version, ABI flags, platform, C library, scheme paths), asked
//! of the interpreter itself once and then kept in the cache, keyed by the interpreter's path,
//! size and modification time, so a warm install starts no interpreter; and a venv's answer
//! also by the binary its interpreter resolves to, so that a new venv of it starts none either.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::tags::AbiFlags;
use crate::{Error, Result};

/// Changes whenever [`QUERY`] answers differently, so that answers kept in the cache by an
/// earlier release are asked again.
const QUERY_VERSION: u32 = 2;

/// The helpers of [`QUERY`], apart so tests can run them on their own.
pub(super) const QUERY_HELPERS: &str = r#"
import importlib.util, json, os, re, sys, sysconfig
def var(name):
    value = sysconfig.get_config_var(name)
    return None if value is None else bool(value)
def version(text):
    # The leading "major.minor", as packaging reads it: vendors append to glibc's ("2.20-2014.11").
    match = re.match(r"(\d+)\.(\d+)", text)
    return [int(match.group(1)), int(match.group(2))] if match else None
def elf32_abi(executable):
    # packaging's _is_linux_i686 / _is_linux_armhf: a 32-bit interpreter on an x86-64 or arm
    # kernel may be x32 or soft-float, which manylinux wheels cannot serve.
    try:
        with open(executable, "rb") as f:
            head = f.read(40)
    except OSError:
        return None
    if len(head) < 40 or head[:4] != b"\x7fELF" or head[4:6] != b"\x01\x01":
        return None
    machine = int.from_bytes(head[18:20], "little")
    flags = int.from_bytes(head[36:40], "little")
    if machine == 3:
        return "i686"
    if machine == 40 and flags & 0xFF000000 == 0x05000000 and flags & 0x400:
        return "armhf"
    return None
def mac_version():
    # packaging's mac_platforms: the running macOS, not the one the interpreter was built for;
    # an interpreter built with an old SDK is told 10.16 unless it asks as below.
    import platform, subprocess
    release, _, machine = platform.mac_ver()
    if release.startswith("10.16"):
        release = subprocess.run(
            [sys.executable, "-sS", "-c", "import platform; print(platform.mac_ver()[0])"],
            env={"SYSTEM_VERSION_COMPAT": "0"}, stdout=subprocess.PIPE, universal_newlines=True,
        ).stdout.strip()
    found = version(release)
    return None if found is None or not machine else [found[0], found[1], machine]
"#;

/// Printed as one JSON object by the interpreter (after [`QUERY_HELPERS`]); runs on Python 3.6
/// and later, reads what `packaging.tags` reads (sysconfig, `sys.implementation`, the C
/// library's version, the running macOS, a 32-bit interpreter's ELF header).
const QUERY: &str = r#"
glibc = None
try:
    name, _, text = os.confstr("CS_GNU_LIBC_VERSION").partition(" ")
    if name == "glibc":
        glibc = version(text)
except (AttributeError, OSError, ValueError, IndexError):
    pass
musl = None
if glibc is None and sys.platform.startswith("linux"):
    import glob, subprocess
    for loader in sorted(glob.glob("/lib/ld-musl-*.so.1")):
        try:
            out = subprocess.run([loader], stdout=subprocess.PIPE, stderr=subprocess.PIPE).stderr.decode()
        except OSError:
            continue
        for line in out.splitlines():
            if line.startswith("Version "):
                musl = version(line.split()[1])
        break
try:
    from importlib.machinery import EXTENSION_SUFFIXES
except ImportError:
    EXTENSION_SUFFIXES = []
json.dump({
    "executable": sys.executable,
    "implementation": sys.implementation.name,
    "version": list(sys.version_info[:3]),
    "version_nodot": sysconfig.get_config_var("py_version_nodot"),
    "soabi": sysconfig.get_config_var("SOABI"),
    "abi_flags": {
        "py_debug": var("Py_DEBUG"),
        "has_refcount": hasattr(sys, "gettotalrefcount"),
        "debug_extension": "_d.pyd" in EXTENSION_SUFFIXES,
        "gil_disabled": bool(var("Py_GIL_DISABLED")),
        "pymalloc": var("WITH_PYMALLOC"),
    },
    "platform": sysconfig.get_platform(),
    "is_64bit": sys.maxsize > 2**32,
    "glibc": glibc,
    "musl": musl,
    "elf32_abi": elf32_abi(sys.executable) if sys.maxsize <= 2**32 and sys.platform.startswith("linux") else None,
    "macos": mac_version() if sys.platform == "darwin" else None,
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "paths": sysconfig.get_paths(),
    "cache_tag": sys.implementation.cache_tag,
    "magic": importlib.util.MAGIC_NUMBER.hex(),
}, sys.stdout)
"#;

/// What an interpreter said about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interpreter {
    /// `sys.executable`.
    pub executable: PathBuf,
    /// `sys.implementation.name`: `cpython`, `pypy`, ...
    pub implementation: String,
    /// `sys.version_info[:3]`.
    pub version: (u32, u32, u32),
    /// sysconfig's `py_version_nodot` (`311`), which names the interpreter in tags.
    pub version_nodot: Option<String>,
    /// sysconfig's `SOABI`, the ABI tag of implementations other than CPython.
    pub soabi: Option<String>,
    /// The build flags that make CPython's ABI tag (`cp313t`, `cp37m`, `cp311d`).
    pub abi_flags: AbiFlags,
    /// `sysconfig.get_platform()`: `linux-x86_64`, `macosx-11.0-arm64`, `win-amd64`.
    pub platform: String,
    /// `sys.maxsize > 2**32`: a 32-bit interpreter on a 64-bit Linux takes `i686` (or
    /// `armv8l`) tags, not the kernel's `x86_64` (or `aarch64`).
    pub is_64bit: bool,
    /// The glibc it runs on, `(2, 36)`; none on musl or other systems.
    pub glibc: Option<(u32, u32)>,
    /// The musl libc it runs on, `(1, 2)`.
    pub musl: Option<(u32, u32)>,
    /// For a 32-bit interpreter on Linux, the ABI its ELF header says (`i686`, `armhf`), which
    /// manylinux wheels for i686 and armv7l require; none when it is neither.
    #[serde(default)]
    pub elf32_abi: Option<String>,
    /// On macOS, the running version and CPU (`platform.mac_ver()`), which tags use rather than
    /// the version the interpreter was built for (`sysconfig.get_platform()`).
    #[serde(default)]
    pub macos: Option<(u32, u32, String)>,
    /// `sys.prefix` and `sys.base_prefix`: they differ inside a virtual environment.
    pub prefix: PathBuf,
    /// The installation a virtual environment was made from; `prefix` outside one.
    pub base_prefix: PathBuf,
    /// `sysconfig.get_paths()`: the install scheme (`purelib`, `scripts`, `stdlib`, ...).
    pub paths: BTreeMap<String, PathBuf>,
    /// `sys.implementation.cache_tag` (`cpython-311`), none when it writes no bytecode.
    pub cache_tag: Option<String>,
    /// `importlib.util.MAGIC_NUMBER` in hex: the header of the `.pyc` files it reads.
    pub magic: String,
}

impl Interpreter {
    /// Runs `python` once and reads its answer; the whole stderr of a failing interpreter is
    /// in the error, since that is where it says why.
    pub fn query(python: &Path) -> Result<Interpreter> {
        let found = python.to_str().and_then(find_on_path).unwrap_or_else(|| python.to_path_buf());
        let python = found.as_path();
        let command = format!("{} -I -B -c <query>", python.display());
        let output = Command::new(python)
            .args(["-I", "-B", "-c", &format!("{QUERY_HELPERS}{QUERY}")])
            .output()
            .map_err(|e| Error::Command { command: command.clone(), reason: e.to_string() })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stderr = stderr.trim_end();
            return Err(Error::Command {
                command,
                reason: if stderr.is_empty() {
                    output.status.to_string()
                } else {
                    format!("{}:\n{stderr}", output.status)
                },
            });
        }
        serde_json::from_slice(&output.stdout).map_err(|e| Error::Command {
            command,
            reason: format!("unexpected answer ({e}): {}", String::from_utf8_lossy(&output.stdout).trim()),
        })
    }

    /// [`Interpreter::query`], answered from `dir` when the interpreter at `python` (its
    /// path, the file it resolves to, that file's size and modification time) was asked
    /// before; a new answer is stored there (best effort: a read-only cache only costs time).
    pub fn cached(python: &Path, dir: &Path) -> Result<Interpreter> {
        let found = python.to_str().and_then(find_on_path).unwrap_or_else(|| python.to_path_buf());
        let python = std::path::absolute(&found).map_err(|e| Error::io("resolve", python, e))?;
        let key = Key::of(&python).map_err(|e| match dangling_target(&python) {
            Some(target) => gone(&python, &target),
            None => Error::io("read", &python, e),
        })?;
        let file = dir.join(format!("{}.json", hex(&Sha256::digest(python.as_os_str().as_encoded_bytes()))));
        if let Ok(bytes) = std::fs::read(&file) {
            if let Ok(stored) = serde_json::from_slice::<Stored>(&bytes) {
                if stored.key == key {
                    return Ok(stored.interpreter);
                }
            }
        }
        // A new venv of an interpreter that some venv asked before: its answer, moved to this
        // venv, so a fresh environment from a warm cache starts no interpreter either.
        let shared = dir.join(format!(
            "venv-of-{}.json",
            hex(&Sha256::digest(key.resolved.as_os_str().as_encoded_bytes()))
        ));
        let moved = std::fs::read(&shared)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Stored>(&bytes).ok())
            .filter(|stored| {
                (&stored.key.resolved, stored.key.size, stored.key.mtime_ns, stored.key.query)
                    == (&key.resolved, key.size, key.mtime_ns, key.query)
            })
            .and_then(|stored| stored.interpreter.moved_to_venv_of(&python));
        let asked = moved.is_none();
        let interpreter = match moved {
            Some(interpreter) => interpreter,
            None => Interpreter::query(&python)?,
        };
        let stored = Stored { key, interpreter };
        if std::fs::create_dir_all(dir).is_ok() {
            if let Ok(bytes) = serde_json::to_vec(&stored) {
                let _ = crate::cache::write_atomically(&file, &bytes);
                // A moved answer came from `shared`, which needs no second copy of it.
                if asked && stored.interpreter.is_venv() {
                    let _ = crate::cache::write_atomically(&shared, &bytes);
                }
            }
        }
        Ok(stored.interpreter)
    }

    /// This answer of a venv's interpreter, for the same interpreter (binary) in the venv that
    /// `python` (`<venv>/bin/python`) belongs to: only the places differ (`sys.executable`,
    /// `sys.prefix` and the scheme paths under it, as the `venv` scheme derives them).
    /// `None` when either is not a venv.
    fn moved_to_venv_of(mut self, python: &Path) -> Option<Interpreter> {
        let root = python.parent()?.parent()?;
        if !self.is_venv() || !root.join("pyvenv.cfg").is_file() {
            return None;
        }
        let old = std::mem::replace(&mut self.prefix, root.to_path_buf());
        let rebase = |path: &mut PathBuf| {
            if let Ok(rest) = path.strip_prefix(&old) {
                // `join("")` would add a trailing `/` that sysconfig does not write.
                *path = if rest.as_os_str().is_empty() { root.to_path_buf() } else { root.join(rest) };
            }
        };
        self.paths.values_mut().for_each(rebase);
        self.executable = python.to_path_buf();
        Some(self)
    }

    /// `3.11.7`.
    pub fn version_string(&self) -> String {
        let (major, minor, micro) = self.version;
        format!("{major}.{minor}.{micro}")
    }

    /// `CPython`, `PyPy`: the implementation as people name it.
    pub fn implementation_name(&self) -> String {
        super::words::implementation(&self.implementation)
    }

    /// Whether this is a virtual environment's interpreter (`sys.prefix != sys.base_prefix`).
    pub fn is_venv(&self) -> bool {
        self.prefix != self.base_prefix
    }
}

/// `python` cannot run because its chain of symlinks ends at `target`, which does not exist.
fn gone(python: &Path, target: &Path) -> Error {
    let why = format!(
        "it is a symlink to {}, which does not exist: was that Python removed or moved? Recreate the environment",
        target.display()
    );
    Error::io("run", python, std::io::Error::new(std::io::ErrorKind::NotFound, why))
}

/// Where the chain of symlinks at `path` ends, when it ends at nothing: a venv's `bin/python`
/// after the Python it was made with was uninstalled or upgraded away.
fn dangling_target(path: &Path) -> Option<PathBuf> {
    let mut at = path.to_path_buf();
    for _ in 0..40 {
        let target = std::fs::read_link(&at).ok()?;
        at = at.parent().map_or(target.clone(), |dir| dir.join(&target));
        if std::fs::symlink_metadata(&at).is_err() {
            return Some(at);
        }
    }
    None
}

/// What identifies one interpreter binary: a stored answer is used only while it matches.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Key {
    path: PathBuf,
    resolved: PathBuf,
    size: u64,
    mtime_ns: u128,
    /// [`QUERY_VERSION`]; 0 in answers kept before it existed.
    #[serde(default)]
    query: u32,
}

impl Key {
    fn of(python: &Path) -> std::io::Result<Key> {
        let resolved = std::fs::canonicalize(python)?;
        let meta = std::fs::metadata(&resolved)?;
        let mtime_ns = meta.modified()?.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Ok(Key { path: python.to_path_buf(), resolved, size: meta.len(), mtime_ns, query: QUERY_VERSION })
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    key: Key,
    interpreter: Interpreter,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The interpreter `-p, --python` names, as uv reads it: a version (`3.12`) is `python3.12` on
/// `PATH`; anything else is a path, or a command name on `PATH`.
pub fn find_python(spec: &str) -> Result<PathBuf> {
    let is_version =
        !spec.is_empty() && spec.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let name = if is_version { format!("python{spec}") } else { spec.to_string() };
    match find_on_path(&name) {
        Some(path) if path.exists() => Ok(path),
        _ => Err(Error::InvalidArgument {
            what: "python",
            reason: if name.contains('/') {
                format!("{name} does not exist")
            } else {
                format!("no {name} on PATH")
            },
        }),
    }
}

/// The system interpreter (the CLI's `--system`): the first `python3` on `PATH` that is not a
/// virtual environment's.
pub fn find_system_python() -> Result<Interpreter> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for candidate in std::env::split_paths(&path).map(|dir| dir.join("python3")).filter(|p| is_executable(p))
    {
        let interpreter = Interpreter::query(&candidate)?;
        if !interpreter.is_venv() {
            return Ok(interpreter);
        }
    }
    Err(Error::InvalidArgument {
        what: "system interpreter",
        reason: "no python3 on PATH outside a virtual environment".into(),
    })
}

/// PEP 668: the `Error` of `EXTERNALLY-MANAGED` in the interpreter's stdlib directory, when
/// the distributor marked it so (a default sentence when the file gives none).
pub fn externally_managed(interpreter: &Interpreter) -> Option<String> {
    let file = interpreter.paths.get("stdlib")?.join("EXTERNALLY-MANAGED");
    let text = std::fs::read_to_string(file).ok()?;
    let mut in_section = false;
    let mut message: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_section = trimmed == "[externally-managed]";
            continue;
        }
        match &mut message {
            // Continuation lines of the value are indented.
            Some(value) if line.starts_with([' ', '\t']) && !trimmed.is_empty() => {
                value.push('\n');
                value.push_str(trimmed);
            }
            Some(_) => break,
            None if in_section => {
                if let Some((key, value)) = trimmed.split_once('=') {
                    if key.trim() == "Error" {
                        message = Some(value.trim().to_string());
                    }
                }
            }
            None => {}
        }
    }
    Some(message.filter(|m| !m.is_empty()).unwrap_or_else(|| {
        format!(
            "The Python environment under {} is managed externally, and may not be manipulated by the user. \
             Please use specific tooling from the distributor of the Python installation to interact with this \
             Python environment instead.",
            interpreter.prefix.display()
        )
    }))
}

/// The virtual environment `python` belongs to, when it is one's `bin/python*` (the
/// directory above holds `pyvenv.cfg`): `-p .venv/bin/python` selects `.venv`.
pub fn venv_of(python: &Path) -> Option<PathBuf> {
    let root = python.parent()?.parent()?;
    root.join("pyvenv.cfg").is_file().then(|| root.to_path_buf())
}

/// `name` as a command finds it: a path when it has a `/`, else the first executable file of
/// that name on `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A venv whose Python was uninstalled: `bin/python` -> `python3` -> a path that is gone.
    /// The error names where the chain ends and what to do, not just "cannot read".
    #[test]
    fn a_venv_whose_python_is_gone_is_named_as_such() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("venv/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let gone = tmp.path().join("pythons/3.12/bin/python3.12");
        std::os::unix::fs::symlink(&gone, bin.join("python3")).unwrap();
        std::os::unix::fs::symlink("python3", bin.join("python")).unwrap();
        let err = Interpreter::cached(&bin.join("python"), &tmp.path().join("facts")).unwrap_err();
        let chain = err.one_line();
        let expected = format!("it is a symlink to {}, which does not exist", gone.display());
        assert!(chain.contains(&expected) && chain.contains("Recreate the environment"), "{chain}");
        assert_eq!(dangling_target(&bin.join("python3")), Some(gone));
        assert_eq!(dangling_target(tmp.path()), None, "not a symlink");
    }

    #[test]
    fn the_answer_is_kept_until_the_interpreter_changes() {
        let python = find_on_path("python3").expect("python3 on PATH");
        let python = std::fs::canonicalize(python).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        // A wrapper that counts its runs, so a cached answer is seen not to start it.
        let runs = tmp.path().join("runs");
        let wrapper = tmp.path().join("python3");
        let script = format!("#!/bin/sh\necho run >> {}\nexec {} \"$@\"\n", runs.display(), python.display());
        std::fs::write(&wrapper, script).unwrap();
        std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let dir = tmp.path().join("facts");
        let count = || std::fs::read_to_string(&runs).map_or(0, |s| s.lines().count());

        let first = Interpreter::cached(&wrapper, &dir).unwrap();
        assert_eq!(first.implementation, "cpython");
        assert_eq!(count(), 1);
        assert_eq!(Interpreter::cached(&wrapper, &dir).unwrap(), first);
        assert_eq!(count(), 1, "the second answer comes from the cache");

        // Another binary at the same path (another size): asked again, and a failing one
        // is reported with its whole stderr.
        std::fs::write(&wrapper, "#!/bin/sh\necho 'first line' >&2\necho 'no such thing' >&2\nexit 3\n")
            .unwrap();
        let err = Interpreter::cached(&wrapper, &dir).unwrap_err().to_string();
        assert!(err.contains("first line\nno such thing"), "{err}");
    }

    #[test]
    fn a_new_venv_of_a_known_binary_gets_the_answer_moved_without_starting_it() {
        let tmp = tempfile::tempdir().unwrap();
        // The binary fails if started: an answer can only come from the cache.
        let binary = tmp.path().join("python3.12");
        std::fs::write(&binary, "#!/bin/sh\nexit 3\n").unwrap();
        std::fs::set_permissions(&binary, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let venv = |name: &str| {
            let root = tmp.path().join(name);
            std::fs::create_dir_all(root.join("bin")).unwrap();
            std::fs::write(root.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
            std::os::unix::fs::symlink(&binary, root.join("bin/python")).unwrap();
            root
        };
        let (old, new) = (venv("old"), venv("new"));
        let answer = |root: &Path| -> Interpreter {
            serde_json::from_value(serde_json::json!({
                "executable": root.join("bin/python"), "implementation": "cpython",
                "version": [3, 12, 1], "version_nodot": "312", "soabi": null,
                "abi_flags": AbiFlags::default(), "platform": "linux-x86_64", "is_64bit": true,
                "glibc": [2, 36], "musl": null, "prefix": root, "base_prefix": "/usr",
                "paths": { "data": root, "purelib": root.join("lib/python3.12/site-packages"),
                           "stdlib": "/usr/lib/python3.12" },
                "cache_tag": "cpython-312", "magic": "cb0d0d0a",
            }))
            .unwrap()
        };
        let dir = tmp.path().join("facts");
        std::fs::create_dir_all(&dir).unwrap();
        let key = Key::of(&old.join("bin/python")).unwrap();
        let shared = dir.join(format!(
            "venv-of-{}.json",
            hex(&Sha256::digest(key.resolved.as_os_str().as_encoded_bytes()))
        ));
        std::fs::write(&shared, serde_json::to_vec(&Stored { key, interpreter: answer(&old) }).unwrap())
            .unwrap();

        let moved = Interpreter::cached(&new.join("bin/python"), &dir).unwrap();
        assert_eq!(
            moved,
            answer(&new),
            "prefix, executable and the paths under the prefix move; the rest stays"
        );
        let kept: Stored = serde_json::from_slice(&std::fs::read(&shared).unwrap()).unwrap();
        assert_eq!(kept.interpreter, answer(&old), "a moved answer is not written back to the shared one");

        // Another binary (another size): the stored answer no longer fits, so it is asked.
        std::fs::write(&binary, "#!/bin/sh\necho changed >&2\nexit 3\n").unwrap();
        let err = Interpreter::cached(&venv("third").join("bin/python"), &dir).unwrap_err().to_string();
        assert!(err.contains("changed"), "{err}");
    }
}
