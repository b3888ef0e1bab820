//! Conformance with pip on the real-world corpus of `xtask/corpus` (fetched into
//! `target/corpus` by its `fetch.sh`, or named by `INSTALLER_CORPUS`). Skipped, saying so, when
//! the corpus is absent (CI has no network).
//!
//! The environment we install must equal pip's (`pip install --no-deps --no-compile`) file for
//! file: same paths, bytes and executable bits, apart from the installer's own metadata
//! (RECORD, INSTALLER, REQUESTED, direct_url.json) and the venv's path inside scripts.

mod support;

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

#[test]
fn corpus_matches_pip_file_for_file_and_every_package_imports_and_script_runs() {
    let Some(wheels) = corpus() else {
        eprintln!("skipped: no corpus in target/corpus (run xtask/corpus/fetch.sh target/corpus)");
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

    pip_install(&pips, &wheels);

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

    let files = assert_same_files(&ours, &pips);
    eprintln!("{files} files identical to pip's");

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
