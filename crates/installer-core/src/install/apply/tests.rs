//! `apply` on a real plan of a real fixture wheel, from a real cache into a venv layout in a
//! temp dir (no interpreter needed): every concrete link mode places each file with its bytes
//! and executable bit, copies keep mtimes, hardlinks share inodes, and a failure names the file
//! and rolls back to the environment as it was.

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::*;
use crate::cache::Cache;
use crate::install::plan::plan_wheel;
use crate::reporter::NoReporter;
use crate::venv::tests::fake_venv;

const PKG: &str = "fixture_pkg-1.0-py3-none-any.whl";

struct Env {
    _dir: tempfile::TempDir,
    venv: Venv,
    cache: Cache,
    wheel: PathBuf,
}

/// A venv layout and a cache on the same filesystem (so every link mode is possible).
fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("venv");
    std::fs::create_dir(&root).unwrap();
    let venv = fake_venv(&root);
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let wheel = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/wheels").join(PKG);
    Env { _dir: dir, venv, cache, wheel }
}

/// Where each file of the plan lands: (destination, its source in the cache or `None` for a
/// generated file, whether it must be executable).
type Placement = (PathBuf, Option<PathBuf>, bool);

/// Plans the fixture wheel and applies it in `mode`; commits on success, rolls back on error.
fn apply_in(env: &Env, mode: ConcreteLinkMode) -> (Result<(u64, u64)>, Vec<Placement>) {
    let entry = env.cache.entry(&env.wheel).unwrap();
    let mut roots = Roots::new(&env.venv);
    let headers = plan::header_roots(&mut roots, &env.venv, std::slice::from_ref(&entry));
    let plan = plan_wheel(&env.venv, &roots, headers[0], &env.wheel, entry, Vec::new()).unwrap();
    let placements = plan
        .files
        .iter()
        .map(|file| {
            let (root, rel) = plan.destination(file);
            let dest = roots.join(root, rel);
            match &file.source {
                Source::Entry { index, .. } => {
                    let src = plan.entry.tree().join(&plan.entry.manifest().files[*index as usize].path);
                    let executable = std::fs::metadata(&src).unwrap().permissions().mode() & 0o111 != 0;
                    (dest, Some(src), executable)
                }
                Source::Generated(i) => (dest, None, plan.generated[*i as usize].executable),
                Source::Bytecode(_) => unreachable!("no bytecode planned"),
            }
        })
        .collect();
    let txn = Transaction::new(env.venv.root());
    let cancel = Cancel::new();
    let how =
        Apply { roots: &roots, venv: &env.venv, mode, txn: &txn, reporter: &NoReporter, cancel: &cancel };
    let result = apply(std::slice::from_ref(&plan), &[], &how, &mut Clock::new());
    match result {
        Ok(_) => txn.commit(BTreeSet::new()),
        Err(_) => txn.rollback(),
    }
    (result, placements)
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o111 != 0
}

/// Every planned file is there with its source's bytes (read through a symlink too) and the
/// planned executable bit; the RECORD is written.
fn assert_placed(placements: &[Placement]) {
    assert!(placements.iter().any(|(_, src, x)| src.is_some() && *x), "the fixture has an executable file");
    assert!(placements.iter().any(|(_, src, x)| src.is_none() && *x), "and a generated script");
    for (dest, src, executable) in placements {
        if let Some(src) = src {
            assert_eq!(std::fs::read(dest).unwrap(), std::fs::read(src).unwrap(), "{}", dest.display());
        }
        assert_eq!(is_executable(dest), *executable, "{}", dest.display());
    }
}

fn site_packages(env: &Env) -> Vec<String> {
    crate::install::tests::tree(env.venv.site_packages())
}

#[test]
fn copy_places_every_file_with_its_bytes_bits_and_mtime() {
    let env = env();
    let (result, placements) = apply_in(&env, ConcreteLinkMode::Copy);
    let (files, bytes) = result.unwrap();
    let from_cache = placements.iter().filter(|(_, src, _)| src.is_some()).count() as u64;
    assert_eq!(files, from_cache, "every cache file counted as copied");
    assert!(bytes > 0);
    assert_placed(&placements);
    for (dest, src, _) in &placements {
        let Some(src) = src else { continue };
        let (d, s) = (std::fs::symlink_metadata(dest).unwrap(), std::fs::metadata(src).unwrap());
        assert!(d.file_type().is_file(), "{} is a real file", dest.display());
        assert_ne!(d.ino(), s.ino(), "{} is a copy", dest.display());
        // A timestamp-based .pyc compiled from the cache's file stays valid for the copy.
        assert_eq!(d.modified().unwrap(), s.modified().unwrap(), "{}", dest.display());
    }
    assert!(site_packages(&env).contains(&"fixture_pkg-1.0.dist-info/RECORD".to_string()));
}

#[test]
fn hardlink_places_every_file_sharing_the_cache_inode() {
    let env = env();
    let (result, placements) = apply_in(&env, ConcreteLinkMode::Hardlink);
    assert_eq!(result.unwrap(), (0, 0), "links copy nothing");
    assert_placed(&placements);
    for (dest, src, _) in &placements {
        let Some(src) = src else { continue };
        let (d, s) = (std::fs::symlink_metadata(dest).unwrap(), std::fs::metadata(src).unwrap());
        assert_eq!((d.dev(), d.ino()), (s.dev(), s.ino()), "{}", dest.display());
    }
}

#[test]
fn symlink_places_links_into_the_cache() {
    let env = env();
    let (result, placements) = apply_in(&env, ConcreteLinkMode::Symlink);
    assert_eq!(result.unwrap(), (0, 0));
    assert_placed(&placements);
    for (dest, src, _) in &placements {
        let Some(src) = src else { continue };
        assert!(std::fs::symlink_metadata(dest).unwrap().file_type().is_symlink(), "{}", dest.display());
        assert_eq!(std::fs::canonicalize(dest).unwrap(), std::fs::canonicalize(src).unwrap());
    }
}

#[test]
fn clone_places_copies_where_the_filesystem_shares_extents_and_names_the_file_where_not() {
    let env = env();
    let (result, placements) = apply_in(&env, ConcreteLinkMode::Clone);
    match result {
        Ok(_) => {
            assert_placed(&placements);
            for (dest, src, _) in &placements {
                let Some(src) = src else { continue };
                let (d, s) = (std::fs::metadata(dest).unwrap(), std::fs::metadata(src).unwrap());
                assert_ne!(d.ino(), s.ino(), "{}", dest.display());
                assert_eq!(d.modified().unwrap(), s.modified().unwrap(), "{}", dest.display());
            }
        }
        // ext4, tmpfs: no reflink. The error names a file of the plan and nothing stays.
        Err(e) => {
            let chain = e.one_line();
            assert!(chain.contains(PKG), "{chain}");
            assert!(
                placements.iter().any(|(dest, _, _)| chain.contains(&dest.display().to_string())),
                "{chain}"
            );
            assert_eq!(site_packages(&env), [""], "rolled back");
        }
    }
}

#[test]
fn a_failure_midway_names_the_wheel_and_file_and_the_rollback_leaves_the_environment_as_it_was() {
    // A file where the plan needs a directory: the files planned under it cannot be made
    // (an existing *file* would be moved aside, as pip overwrites, so it is no failure).
    let (in_the_way, chain) = refused_with_a_file_at("fixture_pkg/data");
    assert!(chain.contains(&format!("{}/", in_the_way.display())), "names a file under it: {chain}");
}

#[test]
fn a_directory_that_cannot_be_made_names_the_wheel_whose_files_it_holds() {
    // `fixture_pkg/sub` is planned as a directory with directories below it: making those
    // fails in the directory pass, before any file.
    let (in_the_way, chain) = refused_with_a_file_at("fixture_pkg/sub");
    assert!(chain.contains(&in_the_way.display().to_string()), "names the path: {chain}");
}

/// Applies fixture_pkg with a file of ours at `rel`, where the plan needs a directory: the
/// error names the wheel, the rollback leaves the environment (our file too) as it was.
/// Returns our file's path and the error's chain.
fn refused_with_a_file_at(rel: &str) -> (std::path::PathBuf, String) {
    let env = env();
    let in_the_way = env.venv.site_packages().join(rel);
    std::fs::create_dir_all(in_the_way.parent().unwrap()).unwrap();
    std::fs::write(&in_the_way, b"mine").unwrap();
    let before = site_packages(&env);

    let (result, _) = apply_in(&env, ConcreteLinkMode::Copy);
    let e = result.unwrap_err();
    assert!(matches!(&e, Error::Install { wheel, .. } if wheel.ends_with(PKG)), "{e:?}");
    assert_eq!(site_packages(&env), before, "rolled back");
    assert_eq!(std::fs::read(&in_the_way).unwrap(), b"mine");
    (in_the_way, e.one_line())
}

/// A wheel that is not `Root-Is-Purelib`, into a `--prefix` whose platlib is `lib64` (Fedora's):
/// it goes to platlib whole, as pip puts it, `.dist-info`, generated metadata and RECORD
/// (relative to platlib) included. Killed before its commit (a transaction dropped without
/// commit or rollback is what SIGKILL leaves), the next process rolls all of it back, the
/// RECORD too, journaled in the `.dist-info` of a version before, which was there.
#[test]
fn a_platform_wheel_goes_to_platlib_whole_and_a_dead_install_there_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let venv = crate::venv::tests::lib64_prefix(&dir.path().join("prefix"));
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let wheel = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/wheels/fixture_plat-1.0-cp38-abi3-linux_x86_64.whl");
    let (pure, plat) = (venv.site_packages(), venv.platlib());
    // What an upgrade's files moved aside leave of the version before.
    std::fs::create_dir(plat.join("fixture_plat-1.0.dist-info")).unwrap();
    let before = crate::install::tests::tree(venv.root());

    let entry = cache.entry(&wheel).unwrap();
    let mut roots = Roots::new(&venv);
    let headers = plan::header_roots(&mut roots, &venv, std::slice::from_ref(&entry));
    let plan = plan_wheel(&venv, &roots, headers[0], &wheel, entry, Vec::new()).unwrap();
    assert_eq!(plan.meta_root, roots.platlib());
    let txn = Transaction::new(venv.root());
    let cancel = Cancel::new();
    let how = Apply {
        roots: &roots,
        venv: &venv,
        mode: ConcreteLinkMode::Copy,
        txn: &txn,
        reporter: &NoReporter,
        cancel: &cancel,
    };
    apply(std::slice::from_ref(&plan), &[], &how, &mut Clock::new()).unwrap();

    let dist_info =
        ["INSTALLER", "METADATA", "RECORD", "REQUESTED", "WHEEL", "direct_url.json", "top_level.txt"];
    let mut expected: Vec<String> =
        ["", "fixture_plat", "fixture_plat/__init__.py", "fixture_plat-1.0.dist-info"]
            .into_iter()
            .map(String::from)
            .chain(dist_info.iter().map(|name| format!("fixture_plat-1.0.dist-info/{name}")))
            .collect();
    expected.sort();
    assert_eq!(crate::install::tests::tree(plat), expected);
    assert_eq!(crate::install::tests::tree(pure), [""]);
    let record = std::fs::read_to_string(plat.join("fixture_plat-1.0.dist-info/RECORD")).unwrap();
    let mut paths: Vec<&str> = record.lines().map(|row| row.split(',').next().unwrap()).collect();
    paths.sort();
    let files: Vec<&String> = expected.iter().filter(|p| plat.join(p).is_file()).collect();
    assert_eq!(paths, files, "every file, relative to platlib");
    assert!(record.ends_with("\nfixture_plat-1.0.dist-info/RECORD,,\n"), "{record}");

    drop(txn);
    assert_eq!(crate::transaction::recover(venv.root()), 1);
    assert_eq!(crate::install::tests::tree(venv.root()), before);
}
