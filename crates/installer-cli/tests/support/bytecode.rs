//! Bytecode as Python sees it: the `.pyc` files of a tree, and whether an import loads the
//! ones an install placed without writing any.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{python, site_packages};

/// The `.pyc` files under `dir` with their inode and bytes: what Python rewriting one would
/// change.
pub fn bytecode_state(dir: &Path) -> BTreeMap<PathBuf, (u64, Vec<u8>)> {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "pyc"))
        .map(|p| {
            let state = (std::fs::metadata(&p).unwrap().ino(), std::fs::read(&p).unwrap());
            (p, state)
        })
        .collect()
}

/// The `pyc-*` bytecode sets published in a cache entry.
pub fn bytecode_sets(entry: &Path) -> Vec<String> {
    super::names(entry).into_iter().filter(|n| n.starts_with("pyc-")).collect()
}

/// Checks that every `.py` of the fixture `fixture_pkg` in `venv` has its `.pyc` for the venv's
/// interpreter, that importing all of them (as a user would, bytecode writing allowed) loads
/// each `.pyc` and writes none, and that no `.pyc` changed (bytes and inodes). Returns the
/// `.pyc` files.
pub fn assert_bytecode_loads_as_placed(venv: &Path) -> Vec<PathBuf> {
    let site = site_packages(venv);
    let tag = python(venv, "import sys; print(sys.implementation.cache_tag)").trim().to_string();
    let mut modules = Vec::new();
    let mut pycs = Vec::new();
    for entry in walkdir::WalkDir::new(&site) {
        let path = entry.unwrap().into_path();
        let Ok(rel) = path.strip_prefix(&site) else { continue };
        let Some(rel) = rel.to_str().and_then(|r| r.strip_suffix(".py")) else { continue };
        if !rel.starts_with("fixture_pkg") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_str().unwrap();
        pycs.push(path.parent().unwrap().join(format!("__pycache__/{stem}.{tag}.pyc")));
        modules.push(rel.trim_end_matches("/__init__").replace('/', "."));
    }
    assert_eq!(modules.len(), 9, "{modules:?}");
    let before = bytecode_state(&site);
    assert_eq!(before.keys().cloned().collect::<Vec<_>>(), {
        pycs.sort();
        pycs.clone()
    });

    let code = format!("import importlib\nfor m in {modules:?}: importlib.import_module(m)");
    let out = Command::new(venv.join("bin/python"))
        .args(["-v", "-c", &code])
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .env_remove("PYTHONPYCACHEPREFIX")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    for pyc in &pycs {
        assert!(
            log.contains(&format!("# code object from '{}'", pyc.display())),
            "{} not loaded:\n{log}",
            pyc.display()
        );
    }
    assert!(!log.contains("# created '"), "Python wrote bytecode:\n{log}");
    assert!(bytecode_state(&site) == before, "Python rewrote bytecode");
    pycs
}

/// Checks that the `.pyc` of each of `sources` (installed files of `venv`) is one Python
/// accepts for the file as installed, by its header (PEP 552: the file's mtime and size, or
/// its checked hash), and holds the code objects that file compiles to.
pub fn assert_pycs_fresh(venv: &Path, sources: &[PathBuf]) {
    let check = format!(
        "import importlib.util as u, marshal, os\n\
         for src in {:?}:\n    \
             data, source, st = open(u.cache_from_source(src), 'rb').read(), open(src, 'rb').read(), os.stat(src)\n    \
             word = lambda i: int.from_bytes(data[i:i + 4], 'little')\n    \
             fresh = (word(8), word(12)) == (int(st.st_mtime) & 0xFFFFFFFF, st.st_size) if word(4) == 0 \
                 else word(4) == 3 and data[8:16] == u.source_hash(source)\n    \
             same = marshal.loads(data[16:]) == compile(source, src, 'exec', dont_inherit=True)\n    \
             print(data[:4] == u.MAGIC_NUMBER and fresh and same)",
        sources.iter().map(|s| s.to_str().unwrap()).collect::<Vec<_>>()
    );
    assert_eq!(
        python(venv, &check),
        "True\n".repeat(sources.len()),
        "each .pyc is valid for its installed source"
    );
}

/// Dates every file of the entries of the cache (or layer) at `cache` back to 2001, as in a
/// cache filled long ago: a copy made today gets another mtime, which the bytecode placed
/// beside it must name.
pub fn backdate_entries(cache: &Path) {
    let then = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    for file in walkdir::WalkDir::new(super::cache_entries_dir(cache)).into_iter().map(|e| e.unwrap()) {
        if file.file_type().is_file() {
            std::fs::File::open(file.path()).unwrap().set_modified(then).unwrap();
        }
    }
}

/// An install's `-v` output says its one wheel's bytecode was found and nothing compiled.
pub fn assert_compiled_nothing(out: &std::process::Output) {
    let err = super::stderr(out);
    assert!(!err.contains("compiling ") && err.contains("cache hit for 1 of 1 wheels"), "{err}");
}
