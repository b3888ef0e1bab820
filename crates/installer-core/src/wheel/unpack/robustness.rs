//! Robustness: every real wheel of the corpus unpacks, and damaged archives are refused
//! without a panic.

use std::path::{Path, PathBuf};

use super::tests::Wheel;
use super::*;

/// Every wheel of the real-world corpus (`xtask/corpus/fetch.sh target/corpus`; `cargo xtask ci`
/// fetches it before the tests) must unpack; skipped, saying so, when the corpus has not been
/// fetched, except under CI, where that is a failure.
#[test]
fn unpacks_the_real_corpus() {
    let dir = std::env::var_os("INSTALLER_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/corpus"));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        let why =
            format!("no corpus at {} (set INSTALLER_CORPUS or run xtask/corpus/fetch.sh)", dir.display());
        crate::testing::skip(&why);
        return;
    };
    let mut wheels: Vec<PathBuf> =
        entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "whl")).collect();
    wheels.sort();
    if wheels.is_empty() {
        crate::testing::skip(&format!("no wheels in the corpus at {}", dir.display()));
        return;
    }
    let start = std::time::Instant::now();
    let mut failures = Vec::new();
    for wheel in &wheels {
        let tmp = tempfile::tempdir().unwrap();
        match unpack_verified(wheel, tmp.path(), &Limits::default()) {
            Ok(manifest) => {
                let on_disk = walkdir::WalkDir::new(tmp.path())
                    .into_iter()
                    .filter(|e| e.as_ref().unwrap().file_type().is_file())
                    .count();
                assert_eq!(on_disk, manifest.files.len(), "{}", wheel.display());
            }
            Err(e) => failures.push(format!(
                "{}: {}",
                wheel.display(),
                crate::error::causes(&e).collect::<Vec<_>>().join(": ")
            )),
        }
    }
    eprintln!("unpacked {} corpus wheels in {:?}", wheels.len() - failures.len(), start.elapsed());
    assert!(failures.is_empty(), "refused:\n{}", failures.join("\n"));
}

/// Truncations and flipped bytes anywhere, mostly in the headers: always a clean `Err` (or,
/// where the damage hits nothing checked, `Ok`), never a panic.
#[test]
fn damaged_archives_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.whl");
    Wheel::empty()
        .file("demo/__init__.py", b"print('hi')\n")
        .file("demo-1.0.dist-info/METADATA", b"Name: demo\nVersion: 1.0\n")
        .file("demo-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")
        .write(&good);
    let bytes = std::fs::read(&good).unwrap();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound as u64) as usize
    };
    for round in 0..400 {
        let mut damaged = bytes.clone();
        if round % 8 == 0 {
            damaged.truncate(next(bytes.len()));
        } else {
            for _ in 0..1 + round % 3 {
                let at = next(damaged.len());
                damaged[at] ^= 1 << next(8);
            }
        }
        let dir = tmp.path().join(round.to_string());
        std::fs::create_dir(&dir).unwrap();
        let archive = dir.join("demo-1.0-py3-none-any.whl");
        std::fs::write(&archive, &damaged).unwrap();
        let dest = dir.join("dest");
        std::fs::create_dir(&dest).unwrap();
        let _ = unpack_verified(&archive, &dest, &Limits::default());
    }
}
