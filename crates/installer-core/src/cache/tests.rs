//! The cache's lookup/unpack/remove API on real fixture wheels (copied into a temp dir, so
//! they can be touched) and a real cache directory: misses publish, hits come from the index
//! alone, a touched wheel is stale, leases keep entries, and racing unpacks publish once.

use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::{Duration, SystemTime};

use super::*;

const PKG: &str = "fixture_pkg-1.0-py3-none-any.whl";

/// A copy of the fixture wheel `name` in `dir`.
fn wheel_in(dir: &Path, name: &str) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/wheels").join(name);
    let wheel = dir.join(name);
    std::fs::copy(fixture, &wheel).unwrap();
    wheel
}

fn miss(cache: &Cache, wheel: &Path) -> Miss {
    match cache.lookup(wheel).unwrap() {
        Lookup::Miss(miss) => miss,
        Lookup::Hit(entry) => panic!("expected a miss, found {}", entry.id()),
    }
}

fn hit(cache: &Cache, wheel: &Path) -> CacheEntry {
    match cache.lookup(wheel).unwrap() {
        Lookup::Hit(entry) => entry,
        Lookup::Miss(miss) => panic!("expected a hit for {}", miss.wheel().display()),
    }
}

fn unpack(cache: &Cache, miss: Miss) -> CacheEntry {
    cache.unpack(miss, &|_| {}, &Cancel::new()).unwrap()
}

/// Names of the published entries.
fn entries(cache: &Cache) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cache.entries_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn set_mtime(path: &Path, time: SystemTime) {
    std::fs::File::options().write(true).open(path).unwrap().set_modified(time).unwrap();
}

#[test]
fn a_cold_lookup_misses_and_unpack_publishes_a_whole_entry() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let wheel = wheel_in(dir.path(), PKG);
    let miss = miss(&cache, &wheel);
    assert_eq!(miss.size(), std::fs::metadata(&wheel).unwrap().len());
    let entry = unpack(&cache, miss);
    assert!(entry.was_unpacked());
    assert_eq!(entries(&cache), [entry.id()]);
    assert!(entry.id().starts_with("fixture_pkg-1.0-py3-none-any-"), "{}", entry.id());
    assert!(!entry.manifest().files.is_empty());
    for file in &entry.manifest().files {
        assert!(entry.tree().join(&file.path).exists(), "{} missing from the tree", file.path);
    }
    assert!(entry.dir().join(MANIFEST).is_file() && entry.dir().join(ENTRY_LOCK).is_file());
}

#[test]
fn a_second_lookup_of_an_unchanged_wheel_hits_without_reading_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let wheel = wheel_in(dir.path(), PKG);
    let first = unpack(&cache, miss(&cache, &wheel));
    drop(first);

    // Same size and mtime, but garbage inside: only a lookup that never opens the archive
    // can still find the entry.
    let mtime = std::fs::metadata(&wheel).unwrap().modified().unwrap();
    let size = std::fs::metadata(&wheel).unwrap().len() as usize;
    std::fs::write(&wheel, vec![b'x'; size]).unwrap();
    set_mtime(&wheel, mtime);

    let entry = hit(&cache, &wheel);
    assert!(!entry.was_unpacked());
    assert!(!entry.is_from_layer());
    assert_eq!(entries(&cache), [entry.id()]);
}

#[test]
fn a_touched_wheel_makes_its_index_record_stale_but_keeps_its_entry_id() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let wheel = wheel_in(dir.path(), PKG);
    let id = unpack(&cache, miss(&cache, &wheel)).id().to_string();

    let later = std::fs::metadata(&wheel).unwrap().modified().unwrap() + Duration::from_secs(60);
    set_mtime(&wheel, later);
    let again = unpack(&cache, miss(&cache, &wheel));
    assert_eq!(again.id(), id, "the same bytes are the same entry");
    assert_eq!(entries(&cache), [id.as_str()]);
    // The record now describes the touched file.
    assert_eq!(hit(&cache, &wheel).id(), id);
}

#[test]
fn remove_entry_removes_refuses_while_leased_and_reports_absent() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let wheel = wheel_in(dir.path(), PKG);
    let entry = unpack(&cache, miss(&cache, &wheel));
    let id = entry.id().to_string();

    // The unpacking install holds the lease, and so does a clone of its entry.
    let clone = entry.clone();
    drop(entry);
    assert_eq!(cache.remove_entry(&id).unwrap(), EntryRemoval::InUse);
    drop(clone);
    // A later install's hit leases it too.
    let leased = hit(&cache, &wheel);
    assert_eq!(cache.remove_entry(&id).unwrap(), EntryRemoval::InUse);
    assert_eq!(entries(&cache), [id.as_str()]);
    drop(leased);

    let removal =
        crate::testing::once_released(|| cache.remove_entry(&id).unwrap(), |r| *r != EntryRemoval::InUse);
    assert_eq!(removal, EntryRemoval::Removed);
    assert!(entries(&cache).is_empty());
    assert_eq!(cache.remove_entry(&id).unwrap(), EntryRemoval::Absent);
    // The index record now names nothing: a miss.
    let miss = miss(&cache, &wheel);
    assert_eq!(unpack(&cache, miss).id(), id);
}

#[test]
fn two_threads_unpacking_one_wheel_publish_one_entry_and_both_can_use_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let wheel = wheel_in(dir.path(), PKG);
    // Both look up before either unpacks: both miss, both unpack.
    let looked_up = Barrier::new(2);
    let got: Vec<CacheEntry> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let miss = miss(&cache, &wheel);
                    looked_up.wait();
                    unpack(&cache, miss)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(got[0].id(), got[1].id());
    assert_eq!(entries(&cache), [got[0].id()]);
    for entry in &got {
        for file in &entry.manifest().files {
            assert!(entry.tree().join(&file.path).exists(), "{} missing", file.path);
        }
    }
    // Both hold the lease: neither's entry can be taken away.
    assert_eq!(cache.remove_entry(got[0].id()).unwrap(), EntryRemoval::InUse);
}

#[test]
fn remove_entry_keeps_an_entry_whose_lease_cannot_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let wheel = wheel_in(dir.path(), PKG);
    let id = unpack(&cache, miss(&cache, &wheel)).id().to_string();
    // A lease that cannot be opened (here a symlink loop: ELOOP, which even root gets) may
    // hide a holder: only a missing one means there is nothing to honour.
    let lease = cache.entries_dir().join(&id).join(ENTRY_LOCK);
    std::fs::remove_file(&lease).unwrap();
    std::os::unix::fs::symlink(ENTRY_LOCK, &lease).unwrap();
    let err = cache.remove_entry(&id).unwrap_err();
    assert_eq!(err.one_line().split(':').next().unwrap(), format!("cannot open {}", lease.display()));
    assert_eq!(entries(&cache), [id.as_str()]);

    std::fs::remove_file(&lease).unwrap();
    assert_eq!(cache.remove_entry(&id).unwrap(), EntryRemoval::Removed);
}

#[test]
fn an_entry_with_an_unreadable_manifest_is_replaced_by_the_next_unpack() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let wheel = wheel_in(dir.path(), PKG);
    let id = unpack(&cache, miss(&cache, &wheel)).id().to_string();
    // Torn by a power loss, say: the entry is there, its manifest is garbage.
    std::fs::write(cache.entries_dir().join(&id).join(MANIFEST), b"\0\0garbage").unwrap();

    let entry = unpack(&cache, miss(&cache, &wheel));
    assert_eq!(entry.id(), id);
    assert!(entry.was_unpacked(), "published anew");
    assert_eq!(entries(&cache), [id.as_str()]);
    assert!(cache.open_entry(&id).is_some());
}

#[test]
fn opening_a_cache_finishes_a_layout_whose_creation_was_killed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let layout = Layout::new(&root);
    // Killed after `tmp/`, before the directories made after it.
    std::fs::create_dir_all(layout.scratch()).unwrap();
    let cache = Cache::open(&root).unwrap();
    assert!(cache.envs_dir().is_dir() && cache.interpreters_dir().is_dir());
}
