use std::path::{Path, PathBuf};

use super::*;
use crate::cache::{CacheEntry, EntryRemoval};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/wheels").join(name)
}

const PKG: &str = "fixture_pkg-1.0-py3-none-any.whl";
const DATA: &str = "fixture_data-1.0-py3-none-any.whl";

/// A cache in a temporary directory holding the entries of `wheels`.
fn cache_with(wheels: &[&str]) -> (tempfile::TempDir, Cache, Vec<CacheEntry>) {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    // Opened to read, not leased: the cache commands under test may remove them.
    let entries =
        wheels.iter().map(|w| cache.open_entry(cache.entry(&fixture(w)).unwrap().id()).unwrap()).collect();
    (dir, cache, entries)
}

fn labels(removals: &[Removal]) -> Vec<String> {
    removals.iter().flat_map(|r| r.removed.iter().map(EntryInfo::label)).collect()
}

/// A "hardlinked environment": one file of the entry linked from outside the cache.
fn hardlink_one_file(entry: &CacheEntry, outside: &Path) {
    let file = &entry.manifest().files[0].path;
    std::fs::hard_link(entry.tree().join(file), outside).unwrap();
}

#[test]
fn entries_are_measured_with_their_link_status() {
    let (dir, cache, made) = cache_with(&[PKG, DATA]);
    let listed = entries(&cache).unwrap();
    assert_eq!(
        listed.iter().map(EntryInfo::label).collect::<Vec<_>>(),
        ["fixture_data 1.0", "fixture_pkg 1.0"]
    );
    assert!(listed
        .iter()
        .all(|e| !e.is_hardlinked() && e.disk_bytes > 0 && e.unlinked_bytes == e.disk_bytes));
    // manifest.json, the tree's RECORD (not in the manifest: installs write their own) and the
    // manifest's files.
    assert_eq!(listed[1].files, made[0].manifest().files.len() as u64 + 2);

    hardlink_one_file(&made[0], &dir.path().join("linked"));
    let pkg = entries(&cache).unwrap().pop().unwrap();
    assert_eq!((pkg.linked_files, pkg.is_hardlinked()), (1, true));
    assert!(pkg.unlinked_bytes < pkg.disk_bytes);
}

#[test]
fn removing_an_entry_leaves_nothing_behind_and_the_next_lookup_unpacks_again() {
    let (_dir, cache, made) = cache_with(&[PKG]);
    assert_eq!(cache.remove_entry(made[0].id()).unwrap(), EntryRemoval::Removed);
    assert_eq!(
        cache.remove_entry(made[0].id()).unwrap(),
        EntryRemoval::Absent,
        "a second removal finds nothing"
    );
    assert_eq!(std::fs::read_dir(cache.scratch_dir()).unwrap().count(), 0);
    assert!(cache.open_entry(made[0].id()).is_none());
    assert!(cache.entry(&fixture(PKG)).unwrap().was_unpacked());
}

#[test]
fn an_entry_an_install_holds_is_kept_until_it_lets_go() {
    let (_dir, cache, made) = cache_with(&[PKG]);
    let leased = cache.entry(&fixture(PKG)).unwrap();
    assert_eq!(cache.remove_entry(made[0].id()).unwrap(), EntryRemoval::InUse);
    let removals = prune(std::slice::from_ref(&cache), PruneOptions::default()).unwrap();
    assert_eq!((removals[0].removed.len(), removals[0].kept, removals[0].in_use), (0, 1, 1));
    assert!(leased.tree().join(&leased.manifest().files[0].path).is_file());
    drop(leased);
    let remove = || cache.remove_entry(made[0].id()).unwrap();
    assert_eq!(crate::testing::once_released(remove, |r| *r != EntryRemoval::InUse), EntryRemoval::Removed);
}

#[test]
fn clean_by_name_takes_any_spelling_and_keeps_the_rest() {
    let (_dir, cache, _) = cache_with(&[PKG, DATA]);
    let options = CleanOptions { names: vec!["Fixture.PKG".into()], force: false };
    let removals = clean(std::slice::from_ref(&cache), &options).unwrap();
    assert_eq!(labels(&removals), ["fixture_pkg 1.0"]);
    assert_eq!(removals[0].kept, 1);
    assert!(removals[0].bytes_freed() > 0);
    assert_eq!(entries(&cache).unwrap().len(), 1);

    let removals = clean(std::slice::from_ref(&cache), &CleanOptions::default()).unwrap();
    assert_eq!(labels(&removals), ["fixture_data 1.0"]);
    assert!(entries(&cache).unwrap().is_empty());
    assert_eq!(std::fs::read_dir(cache.index_dir()).unwrap().count(), 0);
}

#[test]
fn clean_of_hardlinked_entries_frees_only_what_nothing_else_links() {
    let (dir, cache, made) = cache_with(&[PKG]);
    hardlink_one_file(&made[0], &dir.path().join("linked"));
    let before = entries(&cache).unwrap().pop().unwrap();
    let removals = clean(std::slice::from_ref(&cache), &CleanOptions::default()).unwrap();
    assert_eq!(removals[0].bytes_freed(), before.unlinked_bytes);
    assert_eq!(removals[0].bytes_still_linked(), before.disk_bytes - before.unlinked_bytes);
    assert!(dir.path().join("linked").exists(), "the hardlinked copy survives");
}

#[cfg(unix)]
#[test]
fn clean_and_prune_do_not_break_symlinked_environments_without_force() {
    let (dir, cache, made) = cache_with(&[PKG, DATA]);
    let venv = dir.path().join("venv");
    std::fs::create_dir(&venv).unwrap();
    let file = &made[0].manifest().files[0].path;
    std::os::unix::fs::symlink(made[0].tree().join(file), venv.join("linked.py")).unwrap();
    cache.record_symlinked_env(&venv, [made[0].id()].into_iter()).unwrap();
    let caches = std::slice::from_ref(&cache);

    let err = clean(caches, &CleanOptions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::SymlinkedEnvironments { envs } if envs == std::slice::from_ref(&venv)),
        "{err}"
    );
    assert_eq!(entries(&cache).unwrap().len(), 2, "refused before removing anything");
    // Naming only an entry the environment does not use is fine.
    let options = CleanOptions { names: vec!["fixture-data".into()], force: false };
    assert_eq!(labels(&clean(caches, &options).unwrap()), ["fixture_data 1.0"]);

    let pruned = prune(caches, PruneOptions::default()).unwrap();
    assert!(pruned[0].removed.is_empty());
    assert_eq!((pruned[0].kept, &pruned[0].symlinked_envs), (1, &vec![venv.clone()]));

    let removals = clean(caches, &CleanOptions { names: Vec::new(), force: true }).unwrap();
    assert_eq!(labels(&removals), ["fixture_pkg 1.0"]);
    assert_eq!(removals[0].symlinked_envs, std::slice::from_ref(&venv));
    assert!(venv.join("linked.py").symlink_metadata().is_ok() && !venv.join("linked.py").exists());
}

#[test]
fn prune_removes_unused_entries_and_keeps_hardlinked_ones() {
    let (dir, cache, made) = cache_with(&[PKG, DATA]);
    hardlink_one_file(&made[1], &dir.path().join("linked"));
    let removals = prune(std::slice::from_ref(&cache), PruneOptions::default()).unwrap();
    assert_eq!(labels(&removals), ["fixture_pkg 1.0"]);
    assert_eq!(removals[0].kept, 1);
    assert_eq!(entries(&cache).unwrap()[0].label(), "fixture_data 1.0");
    // The index record of the pruned wheel went with it.
    assert_eq!(std::fs::read_dir(cache.index_dir()).unwrap().count(), 1);
}

#[test]
fn verify_finds_changed_and_missing_files_and_evict_makes_the_next_install_unpack() {
    let (_dir, cache, made) = cache_with(&[PKG, DATA]);
    let caches = std::slice::from_ref(&cache);
    let clean_report = verify(caches).unwrap();
    assert!(clean_report.is_clean());
    assert_eq!(clean_report.entries, 2);

    let files = &made[0].manifest().files;
    // Same size, other content: only the hash can tell.
    let edited = made[0].tree().join(&files[0].path);
    let mut content = std::fs::read(&edited).unwrap();
    content[0] ^= 1;
    std::fs::write(&edited, content).unwrap();
    std::fs::remove_file(made[0].tree().join(&files[1].path)).unwrap();

    let report = verify(caches).unwrap();
    assert_eq!(report.damaged.len(), 1);
    let damaged = &report.damaged[0];
    assert_eq!(
        (damaged.label.as_str(), &damaged.changed, &damaged.missing),
        ("fixture_pkg 1.0", &vec![files[0].path.clone()], &vec![files[1].path.clone()])
    );
    assert_eq!(evict(caches, &report.damaged, false).unwrap().removed, 1);
    assert!(verify(caches).unwrap().is_clean());
    assert!(cache.entry(&fixture(PKG)).unwrap().was_unpacked());
}

#[test]
fn an_entry_with_an_unreadable_manifest_is_damaged() {
    let (_dir, cache, made) = cache_with(&[PKG]);
    std::fs::write(made[0].dir().join("manifest.json"), "{").unwrap();
    let report = verify(std::slice::from_ref(&cache)).unwrap();
    assert!(report.damaged[0].unreadable_manifest, "{report:?}");
    assert_eq!(entries(&cache).unwrap()[0].label(), made[0].id());
}

#[test]
fn locations_list_the_main_cache_first_then_shards_once() {
    let dir = tempfile::tempdir().unwrap();
    let (main, shard) = (dir.path().join("main"), dir.path().join("shard"));
    Cache::open(&main).unwrap();
    let policy = ShardPolicy { dirs: vec![shard.clone(), main.clone()], auto: true };
    let found = locations(&main, &policy);
    assert_eq!(
        found[..2],
        [
            CacheLocation { root: main.clone(), kind: LocationKind::Main, exists: true },
            CacheLocation { root: shard.clone(), kind: LocationKind::ConfiguredShard, exists: false },
        ]
    );
    assert!(found[2..].iter().all(|l| l.kind == LocationKind::AutoShard && l.exists));
    assert_eq!(open_existing(&found[..2]).unwrap().len(), 1, "a missing shard is not created");
    assert!(!shard.exists());
}

#[test]
fn prune_keeps_the_index_records_of_a_layers_entries() {
    let (dir, layer, in_layer) = cache_with(&[PKG]);
    let cache = Cache::open(&dir.path().join("own")).unwrap().with_layers(vec![layer.root().to_path_buf()]);
    let from_layer = cache.entry(&fixture(PKG)).unwrap();
    assert!(from_layer.is_from_layer());
    drop(from_layer);
    let _ = cache.entry(&fixture(DATA)).unwrap();
    assert_eq!(std::fs::read_dir(cache.index_dir()).unwrap().count(), 2);

    // The cache commands open the cache without its layers.
    let removals = prune(&[Cache::open(cache.root()).unwrap()], PruneOptions::default()).unwrap();
    assert_eq!(labels(&removals), ["fixture_data 1.0"]);
    // The pruned wheel's record went with its entry; the layer's entry's record stays.
    assert_eq!(std::fs::read_dir(cache.index_dir()).unwrap().count(), 1);
    // Found through that record, the layer's entry is not checked again (a search of the layers
    // would find this changed file and unpack the wheel instead).
    let file = in_layer[0].tree().join(&in_layer[0].manifest().files[0].path);
    std::fs::write(&file, b"changed").unwrap();
    match cache.lookup(&fixture(PKG)).unwrap() {
        crate::cache::Lookup::Hit(entry) => assert!(entry.is_from_layer()),
        crate::cache::Lookup::Miss(_) => panic!("the layer's entry was not found through the index"),
    }
}
