//! Virtual environments: their scheme directories, read from disk (`pyvenv.cfg` and
//! `lib/pythonX.Y/site-packages`) rather than by asking an interpreter, which would cost more
//! than a warm install; and their creation with `python -m venv`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::platform;
use crate::reporter::Reporter;
use crate::{Error, Result};

/// A virtual environment whose layout has been read. Holding one is the proof that the
/// directory is a venv, so installers take `&Venv`, never a bare path.
#[derive(Debug, Clone)]
pub struct Venv {
    root: PathBuf,
    site_packages: PathBuf,
    /// Where a wheel that is not `Root-Is-Purelib` (its `.dist-info` too), and `.data/platlib`,
    /// go: site-packages in a venv and with `--target`; sysconfig's `platlib` for `--system`
    /// and `--prefix`, as pip takes it (`lib64/...` where `sys.platlibdir` is `lib64`), spelled
    /// as site-packages when it is the same directory ([`one_spelling`]).
    platlib: PathBuf,
    scripts: PathBuf,
    python: PathBuf,
    python_version: (u32, u32),
    /// Where `.data/data` goes: the prefix of a venv; sysconfig's `data` for `--system` and
    /// `--prefix`, as pip takes it (`/usr/local` for Debian's `/usr/bin/python3`).
    data: PathBuf,
    /// The directory `.data/headers` of a project go under (in a subdirectory named after it):
    /// pip's `include/site/pythonX.Y` when the interpreter is a venv's, sysconfig's `include`
    /// otherwise (pip's `get_scheme`, `pip/_internal/locations/_sysconfig.py`).
    headers: PathBuf,
}

impl Venv {
    /// Creates a venv at `root` (which must not exist) with `python -m venv --without-pip`, as
    /// pip's users would; [`crate::install::install_into`] does so only after the wheels pass.
    pub fn create(root: &Path, python: &Path) -> Result<Venv> {
        create(root, python)?;
        Venv::open(root)
    }

    /// Opens an existing venv; a directory without `pyvenv.cfg` or `site-packages` is refused.
    pub fn open(root: &Path) -> Result<Venv> {
        let root = std::path::absolute(root).map_err(|e| Error::io("resolve", root, e))?;
        let cfg_path = root.join("pyvenv.cfg");
        let cfg = match std::fs::read_to_string(&cfg_path) {
            Ok(cfg) => cfg,
            Err(e)
                if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) =>
            {
                let reason = if root.is_dir() {
                    "it has no pyvenv.cfg"
                } else if root.exists() {
                    "it is not a directory"
                } else {
                    "it does not exist"
                };
                return Err(Error::NotAVenv { path: root, reason: reason.into() });
            }
            Err(e) => return Err(Error::io("read", cfg_path, e)),
        };
        // Reading only: transactions that died here are rolled back under the environment's
        // lock (`lock`, `recover_if_idle`), never here, where a live one could not be told
        // apart. The same holds for the constructors below.
        let (site_packages, python_version) = find_site_packages(&root, &cfg)?;
        Ok(Venv {
            scripts: root.join(platform::VENV_SCRIPTS_DIR),
            python: root.join(platform::VENV_SCRIPTS_DIR).join(platform::VENV_PYTHON),
            data: root.clone(),
            headers: site_headers(&root, python_version),
            platlib: site_packages.clone(),
            root,
            site_packages,
            python_version,
        })
    }

    /// The environment of an interpreter that is not a venv (`--system`): its install scheme
    /// as `sysconfig.get_paths()` gave it, `data` and `include` too, as pip takes them.
    pub fn of_interpreter(python: &crate::target::Interpreter) -> Result<Venv> {
        let path = |key: &str| {
            python.paths.get(key).cloned().ok_or_else(|| Error::NotAVenv {
                path: python.prefix.clone(),
                reason: format!("its interpreter names no `{key}` directory"),
            })
        };
        let root = python.prefix.clone();
        let version = (python.version.0, python.version.1);
        let site_packages = path("purelib")?;
        Ok(Venv {
            platlib: one_spelling(&site_packages, path("platlib").unwrap_or_else(|_| site_packages.clone())),
            site_packages,
            scripts: path("scripts")?,
            python: python.executable.clone(),
            python_version: version,
            data: path("data")?,
            headers: if python.is_venv() { site_headers(&root, version) } else { path("include")? },
            root,
        })
    }

    /// `--target DIR`: every scheme flattened into `dir`, scripts in `dir/bin`, as pip's
    /// `--target` does; `python` writes the shebangs and gives the version.
    pub fn target_dir(dir: &Path, python: &crate::target::Interpreter) -> Result<Venv> {
        let root = std::path::absolute(dir).map_err(|e| Error::io("resolve", dir, e))?;
        let version = (python.version.0, python.version.1);
        Ok(Venv {
            site_packages: root.clone(),
            platlib: root.clone(),
            scripts: root.join(platform::VENV_SCRIPTS_DIR),
            python: python.executable.clone(),
            python_version: version,
            data: root.clone(),
            // pip installs `--target` through its `--home` scheme: `include/python`, but
            // `include/site/pythonX.Y` when it runs in a venv.
            headers: if python.is_venv() {
                site_headers(&root, version)
            } else {
                root.join("include/python")
            },
            root,
        })
    }

    /// `--prefix DIR`: the interpreter's own scheme (`sysconfig.get_paths()`) moved under `dir`,
    /// `data` and (for an interpreter that is not a venv's) `include` too, as pip's
    /// `get_scheme(prefix=DIR)` gives them.
    pub fn prefix_dir(dir: &Path, python: &crate::target::Interpreter) -> Result<Venv> {
        let root = std::path::absolute(dir).map_err(|e| Error::io("resolve", dir, e))?;
        let version = (python.version.0, python.version.1);
        let moved = |key: &str, default: PathBuf| {
            python
                .paths
                .get(key)
                .and_then(|p| p.strip_prefix(&python.prefix).ok())
                .map_or(default, |rel| root.join(rel))
        };
        let headers = if python.is_venv() {
            site_headers(&root, version)
        } else {
            moved("include", site_headers(&root, version))
        };
        let site_packages = moved("purelib", platform::venv_site_packages(&root, version));
        Ok(Venv {
            platlib: one_spelling(&site_packages, moved("platlib", site_packages.clone())),
            site_packages,
            scripts: moved("scripts", root.join(platform::VENV_SCRIPTS_DIR)),
            python: python.executable.clone(),
            python_version: version,
            data: moved("data", root.clone()),
            headers,
            root,
        })
    }

    /// Makes the environment's directory where it is missing (a `--target` or `--prefix`
    /// directory that does not exist yet), with its missing parents, and returns every
    /// directory it made, deepest first, for [`remove_made_dirs`] should the install fail. The
    /// install calls it only once the wheels are verified, and never on a dry run, so that a
    /// refused wheel or a dry run leaves no directory behind. The scheme's directories inside
    /// it (site-packages, platlib, scripts) are made by the install's transaction, journaled,
    /// so the next install rolls them back with the rest of a killed one. This one cannot be:
    /// the install locks it and the journal lives in it, so it is made before either exists,
    /// and a killed install leaves it (docs/limits.md).
    pub(crate) fn create_missing_root(&self) -> Result<Vec<PathBuf>> {
        let made: Vec<PathBuf> =
            self.root.ancestors().take_while(|a| !a.exists()).map(Path::to_path_buf).collect();
        // One `stat` for a directory that is there (every install into a venv).
        if !made.is_empty() {
            std::fs::create_dir_all(&self.root).map_err(|e| {
                remove_made_dirs(&made);
                Error::io("create directory", &self.root, e)
            })?;
        }
        Ok(made)
    }

    /// Keeps other `installer` processes (and programs embedding it) out of this environment
    /// while an install or uninstall changes it: they wait, saying so, rather than run two
    /// transactions at once, which could leave two versions of one distribution. Transactions
    /// that died are rolled back once the lock is held, and only then: under the lock every
    /// backup directory belongs to a dead process (the live owner would hold the lock).
    pub fn lock(&self, reporter: &dyn Reporter) -> Result<platform::DirLock> {
        let lock = platform::lock_dir(&self.root, || {
            reporter.warning(&format!(
                "waiting for another installer process to finish with {}",
                self.root.display()
            ))
        })
        .map_err(|e| Error::io("lock", &self.root, e))?;
        crate::transaction::recover(&self.root);
        Ok(lock)
    }

    /// Rolls back the transactions that died here, if no process holds the environment: what
    /// `list` and `verify` do first, so that they never report the half-made changes of a
    /// killed process. A reader neither waits for a live holder nor judges while one works
    /// (its backup directory is unlocked for an instant after it is made); the holder's own
    /// [`Venv::lock`] recovers, and the next reader then.
    pub fn recover_if_idle(&self) {
        if let Ok(Some(_lock)) = platform::try_lock_dir(&self.root) {
            crate::transaction::recover(&self.root);
        }
    }

    /// The environment's directory (absolute, symlinks not resolved, as `sys.prefix` is).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// purelib: where a `Root-Is-Purelib` wheel goes. In a venv (and with `--target`) platlib
    /// too; for `--system` and `--prefix` it may not be ([`Venv::platlib`]).
    pub fn site_packages(&self) -> &Path {
        &self.site_packages
    }

    /// Where a wheel that is not `Root-Is-Purelib` and `.data/platlib` go (pip's scheme): the
    /// directory of [`Venv::site_packages`] but for an interpreter whose platlib differs
    /// (Fedora's `lib64`).
    pub fn platlib(&self) -> &Path {
        &self.platlib
    }

    /// The directories installed distributions' `.dist-info` are in: purelib, and platlib when
    /// it is another directory (pip puts a wheel that is not `Root-Is-Purelib` there whole).
    pub(crate) fn library_dirs(&self) -> impl Iterator<Item = &Path> {
        let platlib = (self.platlib != self.site_packages).then_some(self.platlib.as_path());
        std::iter::once(self.site_packages.as_path()).chain(platlib)
    }

    /// Where console scripts and `.data/scripts` go.
    pub fn scripts(&self) -> &Path {
        &self.scripts
    }

    /// The environment's interpreter, written into script shebangs (as pip does with
    /// `sys.executable`) and used for bytecode compilation.
    pub fn python(&self) -> &Path {
        &self.python
    }

    /// `(major, minor)` of the environment's Python.
    pub fn python_version(&self) -> (u32, u32) {
        self.python_version
    }

    /// Where `.data/headers` of distribution `name` go: pip's `include/site/pythonX.Y/<name>`
    /// in a venv, `<sysconfig include>/<name>` for an interpreter that is not a venv's.
    pub fn headers(&self, name: &str) -> PathBuf {
        self.headers.join(name)
    }

    /// Where `.data/data` goes: the environment's prefix in a venv, sysconfig's `data` for
    /// `--system` and `--prefix`.
    pub fn data(&self) -> &Path {
        &self.data
    }
}

/// Removes the directories [`Venv::create_missing_root`] made (deepest first), each only if
/// it is empty again: after a rolled-back install they are, and anything another process put
/// there meanwhile stays.
pub(crate) fn remove_made_dirs(made: &[PathBuf]) {
    for dir in made {
        let _ = std::fs::remove_dir(dir);
    }
}

/// `platlib`, or `purelib` when both name one directory (a `lib64` that is a symlink to `lib`,
/// as `python -m venv` makes one): one directory has one spelling, so that it is scanned once
/// for installed distributions and its files are planned under one root (two would hide
/// conflicts between them). A directory that is not there yet keeps its own spelling.
fn one_spelling(purelib: &Path, platlib: PathBuf) -> PathBuf {
    match (std::fs::metadata(purelib), std::fs::metadata(&platlib)) {
        (Ok(a), Ok(b)) if platlib != purelib && platform::same_file(&a, &b) => purelib.to_path_buf(),
        _ => platlib,
    }
}

/// pip's headers directory in a venv: `<prefix>/include/site/pythonX.Y`.
fn site_headers(root: &Path, (major, minor): (u32, u32)) -> PathBuf {
    root.join("include").join("site").join(format!("python{major}.{minor}"))
}

/// Whether `name`, a file directly in the scripts directory, is one of the environment's own:
/// its interpreter (`python`, `python3`, `python3.11`, `python3.13t`, `pythonw`, `𝜋thon`) or
/// an activation script (`activate`, `activate.fish`, `Activate.ps1`, `activate_this.py`). No
/// wheel may replace these. Exact names, not prefixes: real wheels ship scripts such as
/// argcomplete's `activate-global-python-argcomplete`, which pip installs.
pub(crate) fn is_own_script(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    is_interpreter_name(name)
        || lower == "activate"
        || lower == "activate_this.py"
        || lower.strip_prefix("activate.").is_some_and(|ext| !ext.is_empty() && !ext.contains('/'))
}

/// `python`, `pythonw`, `python3`, `python3.11`, `python3.13t`: the names `venv` and
/// virtualenv give the interpreter (and 3.13's `𝜋thon`).
fn is_interpreter_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("python") else { return name == "𝜋thon" };
    let version = rest.strip_suffix(['t', 'w']).unwrap_or(rest);
    version.is_empty()
        || (version.split('.').count() <= 2
            && version.split('.').all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
}

/// The directories `venv` makes at the top of an environment (`Scripts`, `Lib`, `Include` on
/// Windows): a wheel's file of one of these names would take the directory's place.
const OWN_DIRS: [&str; 7] = ["bin", "lib", "lib64", "include", "Scripts", "Lib", "Include"];

/// Whether `rel`, a path under the environment's prefix (`bin/python3`, `pyvenv.cfg`, `lib`),
/// is one of the environment's own files or top-level directories. The one rule for the
/// wheel reader (which refuses such a wheel before it is cached) and the install plan (which
/// places files). A file in the place of any other directory is refused when the install
/// finds the directory there, before it makes anything.
pub(crate) fn is_own_file(rel: &str) -> bool {
    rel == "pyvenv.cfg" || OWN_DIRS.contains(&rel) || rel.strip_prefix("bin/").is_some_and(is_own_script)
}

/// Finds `lib/pythonX.Y/site-packages`, preferring the version `pyvenv.cfg` names.
fn find_site_packages(root: &Path, cfg: &str) -> Result<(PathBuf, (u32, u32))> {
    let from_cfg = cfg.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        matches!(key.trim(), "version" | "version_info").then(|| parse_version(value.trim()))?
    });
    if let Some(version) = from_cfg {
        let site = platform::venv_site_packages(root, version);
        if site.is_dir() {
            return Ok((site, version));
        }
    }
    // pyvenv.cfg without a usable version: take the one site-packages there is.
    let lib = root.join("lib");
    let mut found = Vec::new();
    if let Ok(dir) = fs_err::read_dir(&lib) {
        for entry in dir.flatten() {
            let name = entry.file_name();
            if let Some(version) =
                name.to_str().and_then(|n| n.strip_prefix("python")).and_then(parse_version)
            {
                if entry.path().join("site-packages").is_dir() {
                    found.push(version);
                }
            }
        }
    }
    match found.as_slice() {
        [version] => Ok((platform::venv_site_packages(root, *version), *version)),
        _ => Err(Error::NotAVenv {
            path: root.to_path_buf(),
            reason: format!("cannot tell its site-packages directory (looked in {})", lib.display()),
        }),
    }
}

/// `3.11.7` or `3.11` → `(3, 11)`.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split('.');
    let major = parts.next()?.trim().parse().ok()?;
    let minor = parts.next()?.trim().parse().ok()?;
    Some((major, minor))
}

/// `python -m venv --without-pip root`, with the interpreter's whole stderr in the error.
fn create(root: &Path, python: &Path) -> Result<()> {
    let command = format!("{} -m venv --without-pip {}", python.display(), root.display());
    let output = Command::new(python)
        .args(["-m", "venv", "--without-pip"])
        .arg(root)
        .output()
        .map_err(|e| Error::Command { command: command.clone(), reason: e.to_string() })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr = stderr.trim_end();
        let reason = if stderr.is_empty() {
            output.status.to_string()
        } else {
            format!("{}:\n{stderr}", output.status)
        };
        return Err(Error::Command { command, reason });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A venv layout for Python 3.11 (no interpreter) at `root`.
    pub(crate) fn fake_venv(root: &Path) -> Venv {
        fs_err::write(root.join("pyvenv.cfg"), "version = 3.11.7\n").unwrap();
        fs_err::create_dir_all(root.join("lib/python3.11/site-packages")).unwrap();
        fs_err::create_dir_all(root.join("bin")).unwrap();
        Venv::open(root).unwrap()
    }

    /// The facts of a CPython 3.11 that is not a venv's, at `prefix`, whose sysconfig paths are
    /// `paths` (`purelib`, `platlib`, `scripts`, `data`, `include`).
    pub(crate) fn interpreter(prefix: &str, paths: serde_json::Value) -> crate::target::Interpreter {
        serde_json::from_value(serde_json::json!({
            "executable": format!("{prefix}/bin/python3.11"), "implementation": "cpython",
            "version": [3, 11, 2], "version_nodot": "311", "soabi": null,
            "abi_flags": crate::target::AbiFlags::default(), "platform": "linux-x86_64",
            "is_64bit": true, "glibc": [2, 36], "musl": null, "prefix": prefix, "base_prefix": prefix,
            "paths": paths, "cache_tag": "cpython-311", "magic": "a70d0d0a",
        }))
        .unwrap()
    }

    /// `--prefix root` for an interpreter whose platlib is `lib64/python3.11/site-packages`
    /// (Fedora's `sys.platlibdir`), with both library directories made.
    pub(crate) fn lib64_prefix(root: &Path) -> Venv {
        let python = interpreter(
            "/usr",
            serde_json::json!({
                "purelib": "/usr/lib/python3.11/site-packages", "platlib": "/usr/lib64/python3.11/site-packages",
                "scripts": "/usr/bin", "data": "/usr", "include": "/usr/include/python3.11",
            }),
        );
        for lib in ["lib", "lib64"] {
            fs_err::create_dir_all(root.join(lib).join("python3.11/site-packages")).unwrap();
        }
        Venv::prefix_dir(root, &python).unwrap()
    }

    #[test]
    fn platlib_is_spelled_as_purelib_when_they_are_one_directory() {
        let dir = tempfile::tempdir().unwrap();
        let venv = lib64_prefix(dir.path());
        assert_eq!(venv.platlib(), dir.path().join("lib64/python3.11/site-packages"));
        let libs: Vec<&Path> = venv.library_dirs().collect();
        assert_eq!(libs, [venv.site_packages(), venv.platlib()]);

        // `lib64` a symlink to `lib`, as `python -m venv` makes it.
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("lib/python3.11/site-packages")).unwrap();
        std::os::unix::fs::symlink("lib", dir.path().join("lib64")).unwrap();
        let venv = lib64_prefix(dir.path());
        assert_eq!(venv.platlib(), venv.site_packages());
        assert_eq!(venv.library_dirs().count(), 1);
    }

    #[test]
    fn versions_parse_from_pyvenv_cfg_values() {
        assert_eq!(parse_version("3.11.7"), Some((3, 11)));
        assert_eq!(parse_version("3.13"), Some((3, 13)));
        assert_eq!(parse_version("three"), None);
    }

    #[test]
    fn own_files_are_the_interpreter_the_configuration_and_activate() {
        let own = ["bin/python3", "bin/python3.13t", "bin/pythonw", "bin/𝜋thon", "bin/activate.fish"];
        for own in own.into_iter().chain(["pyvenv.cfg", "bin/python", "bin/python3.11", "bin/Activate.ps1"]) {
            assert!(is_own_file(own), "{own}");
        }
        for own in
            ["bin/activate", "bin/activate.csh", "bin/activate.nu", "bin/activate_this.py", "bin", "lib64"]
        {
            assert!(is_own_file(own), "{own}");
        }
        // Real scripts that only start like the environment's own (argcomplete's, pip installs it).
        let scripts = ["bin/activate-global-python-argcomplete", "bin/python-argcomplete-tcsh"];
        let scripts = scripts.into_iter().chain(["bin/python3-config", "bin/pythonista", "bin/activate."]);
        for other in scripts.chain([
            "share/pyvenv.cfg",
            "bin/pip",
            "bin/tools/python",
            "lib/python3.11/x.py",
            "libfoo",
        ]) {
            assert!(!is_own_file(other), "{other}");
        }
    }

    #[test]
    fn a_directory_without_pyvenv_cfg_is_not_a_venv() {
        let dir = tempfile::tempdir().unwrap();
        let err = Venv::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("is not a virtual environment: it has no pyvenv.cfg"), "{err}");
    }

    #[test]
    fn layout_is_read_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("pyvenv.cfg"), "home = /usr/bin\nversion = 3.12.1\n").unwrap();
        fs_err::create_dir_all(dir.path().join("lib/python3.12/site-packages")).unwrap();
        let venv = Venv::open(dir.path()).unwrap();
        assert_eq!(venv.python_version(), (3, 12));
        assert!(venv.site_packages().ends_with("lib/python3.12/site-packages"));
        assert!(venv.headers("Foo").ends_with("include/site/python3.12/Foo"));
    }
}
