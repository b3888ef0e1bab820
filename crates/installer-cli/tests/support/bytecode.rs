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
