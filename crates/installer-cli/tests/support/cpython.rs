//! pyenv's CPythons (CI has them), and private copies of one for `--system` and `--prefix`
//! tests, so that no test changes the machine's own interpreters.

use std::path::{Path, PathBuf};

/// pyenv's CPython `minor` (`3.12`): its installation directory (CI has pyenv's CPythons).
pub fn pyenv_cpython(minor: &str) -> PathBuf {
    let versions = Path::new(&std::env::var("HOME").unwrap()).join(".pyenv/versions");
    std::fs::read_dir(&versions)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(&format!("{minor}.")))
        .unwrap_or_else(|| panic!("CPython {minor} in {}", versions.display()))
}

/// A private copy of pyenv's CPython 3.8 (its smallest) in `dir`, without its test suite and
/// site-packages, so `--system` never touches the machine's own interpreters.
pub fn copied_cpython(dir: &Path) -> PathBuf {
    let source = pyenv_cpython("3.8");
    let copy = dir.join("cpython");
    std::fs::create_dir(&copy).unwrap();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(
            "cd \"$1\"/lib/python3.8 && tar -C \"$1\" -cf - --exclude='./lib/python3.8/config-*' \
             $(for d in test site-packages idlelib tkinter lib2to3 ensurepip pydoc_data turtledemo; \
               do echo --exclude=./lib/python3.8/$d; done) --exclude='*/tests' ./bin ./lib/python3.8 \
             | tar -C \"$2\" -xf -",
        )
        .args(["sh", source.to_str().unwrap(), copy.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::create_dir(copy.join("lib/python3.8/site-packages")).unwrap();
    copy
}

/// A pyenv CPython 3.8 copied into `dir`, whose sysconfig `platlib` is `lib64/...` (Fedora's
/// `sys.platlibdir`), told so by a `sitecustomize`, which `-I` still runs. It also tells pip to
/// take its scheme from sysconfig (`_PIP_USE_SYSCONFIG`, as distributors do), which pip does
/// by itself only from Python 3.10 on: before, it asks distutils, which knows no `lib64` here.
pub fn lib64_cpython(dir: &Path) -> PathBuf {
    let cpython = copied_cpython(dir);
    std::fs::write(
        cpython.join("lib/python3.8/sitecustomize.py"),
        "import sysconfig\n_get_paths = sysconfig.get_paths\n\
         def get_paths(*args, **kwargs):\n    paths = _get_paths(*args, **kwargs)\n    \
         paths['platlib'] = paths['platlib'].replace('/lib/', '/lib64/')\n    return paths\n\
         sysconfig.get_paths = get_paths\nsysconfig._PIP_USE_SYSCONFIG = True\n",
    )
    .unwrap();
    cpython
}

/// A pyenv CPython 3.8 copied into `dir` whose sysconfig scheme lives under `<base>/local`
/// (Debian's `posix_local`: purelib `<base>/local/lib/...`, scripts `<base>/local/bin`, data
/// `<base>/local`), headers staying in `<base>/include`; told so by a `sitecustomize`, for pip
/// too, as [`lib64_cpython`] is.
pub fn local_cpython(dir: &Path) -> PathBuf {
    let cpython = copied_cpython(dir);
    std::fs::write(
        cpython.join("lib/python3.8/sitecustomize.py"),
        r#"import sysconfig
_get_paths = sysconfig.get_paths
def get_paths(*args, **kwargs):
    paths = _get_paths(*args, **kwargs)
    base = paths["data"]
    for key in ("purelib", "platlib", "scripts", "data"):
        paths[key] = base + "/local" + paths[key][len(base):]
    return paths
sysconfig.get_paths = get_paths
sysconfig._PIP_USE_SYSCONFIG = True
"#,
    )
    .unwrap();
    cpython
}

/// Gives a copy made by [`copied_cpython`] the pip of the pyenv CPython it was copied from
/// (copied too); returns `python -m pip`'s version line, so a test shows which pip it compared
/// with.
pub fn add_pip(cpython: &Path) -> String {
    let from = pyenv_cpython("3.8").join("lib/python3.8/site-packages");
    let to = cpython.join("lib/python3.8/site-packages");
    let pip: Vec<PathBuf> = std::fs::read_dir(&from)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("pip"))
        .collect();
    assert!(!pip.is_empty(), "pip in {}", from.display());
    let status = std::process::Command::new("cp").arg("-R").args(&pip).arg(&to).status().unwrap();
    assert!(status.success());
    let version = std::process::Command::new(cpython.join("bin/python3"))
        .args(["-m", "pip", "--version"])
        .output()
        .unwrap();
    assert!(version.status.success(), "{}", String::from_utf8_lossy(&version.stderr));
    String::from_utf8(version.stdout).unwrap()
}
