//! Conformance with pip on the real-world corpus of `../shared/corpus` (fetched into
//! `target/corpus` by its `fetch.sh`, or named by `INSTALLER_CORPUS`). Skipped, saying so, when
//! the corpus is absent (CI has no network).
//!
//! The environment we install must equal pip's (`pip install --no-deps --no-compile`) file for
//! file: same paths, bytes and executable bits, apart from the installer's own metadata
//! (RECORD, INSTALLER, REQUESTED, direct_url.json) and the venv's path inside scripts.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

fn corpus() -> Option<Vec<PathBuf>> {
    let dir =
        std::env::var_os("INSTALLER_CORPUS").map(PathBuf::from).unwrap_or(workspace().join("target/corpus"));
    let mut wheels: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .collect();
    wheels.sort();
    (!wheels.is_empty()).then_some(wheels)
}

/// A snapshot with the venv's path replaced by `<VENV>` in file contents and the installer
/// metadata left out.
fn normalized(venv: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
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

#[test]
fn corpus_matches_pip_file_for_file_and_every_package_imports_and_script_runs() {
    let Some(wheels) = corpus() else {
        eprintln!("skipped: no corpus in target/corpus (run ../shared/corpus/fetch.sh target/corpus)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // Same base name: `activate` scripts embed it.
    let ours = tmp.path().join("ours/venv");
    let pips = make_venv(&tmp.path().join("pip/venv"));
    let cache = tmp.path().join("cache");

    let mut args =
        vec!["install".to_string(), "--venv".into(), ours.to_str().unwrap().into(), "--cache-dir".into()];
    args.push(cache.to_str().unwrap().into());
    args.extend(wheels.iter().map(|w| w.to_str().unwrap().to_string()));
    let out = installer(tmp.path(), &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_ok(&out);

    let pip = Command::new("python3")
        .args(["-m", "pip", "--python"])
        .arg(pips.join("bin/python"))
        .args(["install", "--no-deps", "--no-compile", "--no-index", "--disable-pip-version-check", "-q"])
        .args(&wheels)
        .output()
        .unwrap();
    assert!(pip.status.success(), "pip failed: {}", String::from_utf8_lossy(&pip.stderr));

    // A second venv from the warm cache: every file of every wheel is a hardlink of the
    // cache's (link count 3: the cache, the first venv, this one).
    let second = tmp.path().join("second/venv");
    let mut args2 = args.clone();
    args2[2] = second.to_str().unwrap().into();
    args2.insert(1, "--link-mode=hardlink".into());
    assert_ok(&installer(tmp.path(), &args2.iter().map(String::as_str).collect::<Vec<_>>()));
    let mut linked = 0;
    for entry in std::fs::read_dir(cache.join("v1/entries")).unwrap() {
        let dir = entry.unwrap().path();
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        for file in manifest["files"].as_array().unwrap() {
            let path = file["path"].as_str().unwrap();
            // `#!python` scripts are rewritten for the venv, so written, not linked.
            if file["python_shebang"].as_bool() == Some(true) && path.contains(".data/scripts/") {
                continue;
            }
            assert_eq!(nlink(&dir.join("tree").join(path)), 3, "{}: {path}", dir.display());
            linked += 1;
        }
    }
    assert!(linked > 12_000, "{linked}");
    eprintln!("{linked} cache files hardlinked into both venvs");

    let (a, b) = (normalized(&ours), normalized(&pips));
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
    eprintln!("{} files identical to pip's", a.len());

    // Every top-level package and module imports.
    let site = ours.join("lib/python3.11/site-packages");
    let mut modules: Vec<String> = std::fs::read_dir(&site)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().ok()?;
            let is_pkg = e.path().join("__init__.py").is_file();
            let module = if is_pkg { Some(name) } else { name.strip_suffix(".py").map(str::to_string) };
            module.filter(|m| !m.starts_with('_') && !m.contains('-') && m != "distutils-precedence")
        })
        .collect();
    modules.sort();
    // Each imports in our venv if it imports in pip's (a few need optional dependencies the
    // corpus lacks, e.g. blackd needs aiohttp: they fail the same way in both).
    let code = format!(
        "import importlib\nfailed = []\nfor m in {modules:?}:\n    try:\n        importlib.import_module(m)\n    except Exception as e:\n        failed.append(m)\nprint(' '.join(failed))"
    );
    let (ours_failed, pip_failed) = (python(&ours, &code), python(&pips, &code));
    assert_eq!(ours_failed, pip_failed, "modules failing to import: ours vs pip's");
    eprintln!(
        "{} top-level modules import as under pip (failing in both: {})",
        modules.len(),
        pip_failed.trim()
    );

    // Every console script starts (`--help`) as it does under pip: a few need optional
    // dependencies the corpus lacks and fail the same way in both.
    let launchers: Vec<String> = std::fs::read_dir(ours.join("bin"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            std::fs::read(p)
                .is_ok_and(|b| b.starts_with(format!("#!{}", ours.join("bin/python").display()).as_bytes()))
        })
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    let failing = |venv: &Path| -> Vec<String> {
        launchers
            .iter()
            .filter(|name| {
                let out = Command::new(venv.join("bin").join(name))
                    .arg("--help")
                    .env("HOME", tmp.path())
                    .output()
                    .unwrap();
                let err = String::from_utf8_lossy(&out.stderr);
                !out.status.success() && (err.contains("Error") || err.contains("Traceback"))
            })
            .cloned()
            .collect()
    };
    let (ours_failing, pip_failing) = (failing(&ours), failing(&pips));
    assert_eq!(ours_failing, pip_failing, "console scripts failing to start: ours vs pip's");
    assert!(launchers.len() > 30, "{launchers:?}");
    eprintln!("{} console scripts start as under pip (failing in both: {pip_failing:?})", launchers.len());
}
