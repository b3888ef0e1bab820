//! Caches shared between machines, users and container layers: read-only cache layers (on a
//! read-only bind mount), a cache shared by a group (two real users made by the test), and a
//! cache in the lower directory of a real overlay mount.
//!
//! Mounts and users need root. Without it these tests print why and pass without checking;
//! under CI (`CI=true`) what cannot be set up fails the test instead.

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use support::*;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs a command that must succeed.
fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A mount made by a test, lazily unmounted when dropped (also when the test panics).
struct Mount(PathBuf);

impl Mount {
    /// `mount ARGS PATH`; `None` (after [`skip`]) without root.
    fn new(path: &Path, args: &[&str]) -> Option<Mount> {
        if !is_root() {
            skip("mounting needs root");
            return None;
        }
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount").args(args).arg(path).output().unwrap();
        if !out.status.success() {
            skip(&format!("mount {args:?} failed: {}", String::from_utf8_lossy(&out.stderr)));
            return None;
        }
        Some(Mount(path.to_path_buf()))
    }

    /// `path` bind-mounted read-only onto itself.
    fn read_only(path: &Path) -> Option<Mount> {
        let mount = Mount::new(path, &["--bind", path.to_str().unwrap()])?;
        run("mount", &["-o", "remount,bind,ro", path.to_str().unwrap()]);
        Some(mount)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A venv copied from one made once per test binary.
fn venv_at(path: &Path) -> PathBuf {
    static TEMPLATE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, template) = TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let venv = make_venv(&dir.path().join("venv"));
        (dir, venv)
    });
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = Command::new("cp").arg("-a").arg(template).arg(path).status().unwrap();
    assert!(status.success());
    path.to_path_buf()
}

/// `installer install -v --venv V --cache-dir C <fixture_pkg> [extra]`, with `layers` as
/// `INSTALLER_CACHE_LAYERS` when given.
fn install(cwd: &Path, venv: &Path, cache: &Path, layers: Option<&Path>, extra: &[&str]) -> Output {
    let wheel = fixture("fixture_pkg-1.0");
    let mut args =
        vec!["install", "-v", "--venv", venv.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(wheel.to_str().unwrap());
    let env: Vec<(&str, &str)> =
        layers.map(|l| ("INSTALLER_CACHE_LAYERS", l.to_str().unwrap())).into_iter().collect();
    installer_with_env(cwd, &args, &env)
}

/// The names in a directory, sorted (empty when it does not exist).
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// The one entry directory of a cache.
fn only_entry(cache: &Path) -> PathBuf {
    let entries = names(&cache.join("v1/entries"));
    assert_eq!(entries.len(), 1, "{entries:?}");
    cache.join("v1/entries").join(&entries[0])
}

const MODULE: &str = "fixture_pkg/sub/helpers.py";

fn inode(path: &Path) -> (u64, u64) {
    let meta = std::fs::metadata(path).unwrap();
    (meta.dev(), meta.ino())
}

// ---------------------------------------------------------------------------------------------
// Read-only cache layers

/// A layer filled by an install (as an image build fills one), in `work/layer`.
fn filled_layer(work: &Path) -> PathBuf {
    let layer = work.join("layer");
    assert_ok(&install(work, &venv_at(&work.join("filler")), &layer, None, &[]));
    layer
}

#[test]
fn a_read_only_layer_serves_a_cold_cache_is_never_written_and_is_imported_once() {
    let work = tempfile::tempdir().unwrap();
    let layer = filled_layer(work.path());
    let Some(_ro) = Mount::read_only(&layer) else { return };
    let before = snapshot(&layer);
    let cache = work.path().join("cache");
    let wheel = fixture("fixture_pkg-1.0");

    let (one, two) = (venv_at(&work.path().join("one")), venv_at(&work.path().join("two")));
    let out = install(work.path(), &one, &cache, Some(&layer), &[]);
    assert_ok(&out);
    let err = stderr(&out);
    let hit = format!("cache hit {}: cache entry {}/v1/entries/", wheel.display(), layer.display());
    assert!(err.contains(&hit), "{err}");
    // A read-only bind mount is another mount: hardlinks from it fail, so it is imported.
    assert!(err.contains("importing the cache layer entry"), "{err}");
    let local = only_entry(&cache);
    assert_eq!(inode(&site_packages(&one).join(MODULE)), inode(&local.join("tree").join(MODULE)));

    // Once: the second environment links from the same imported entry.
    assert_ok(&install(work.path(), &two, &cache, Some(&layer), &[]));
    assert_eq!(only_entry(&cache), local);
    assert_eq!(inode(&site_packages(&two).join(MODULE)), inode(&local.join("tree").join(MODULE)));
    assert_eq!(snapshot(&layer), before, "the layer was written");
    assert_eq!(
        python(&two, "import fixture_pkg.sub.helpers as h; print(h.__name__)").trim(),
        "fixture_pkg.sub.helpers"
    );
}

#[test]
fn a_layer_on_the_environments_filesystem_is_linked_from_where_it_is() {
    let work = tempfile::tempdir().unwrap();
    let layer = filled_layer(work.path());
    let cache = work.path().join("cache");
    let venv = venv_at(&work.path().join("venv"));

    let out = install(work.path(), &venv, &cache, Some(&layer), &[]);
    assert_ok(&out);
    assert!(stderr(&out).contains("hardlink from the cache layer entry"), "{}", stderr(&out));
    let entry = only_entry(&layer);
    assert_eq!(inode(&site_packages(&venv).join(MODULE)), inode(&entry.join("tree").join(MODULE)));
    assert_eq!(names(&cache.join("v1/entries")), Vec::<String>::new(), "nothing imported");
}

#[test]
fn a_layer_entry_that_does_not_match_its_manifest_is_not_used() {
    let work = tempfile::tempdir().unwrap();
    let layer = filled_layer(work.path());
    let tampered = only_entry(&layer).join("tree").join(MODULE);
    std::fs::write(&tampered, "print('tampered')\n").unwrap();
    let cache = work.path().join("cache");
    let venv = venv_at(&work.path().join("venv"));

    let out = install(work.path(), &venv, &cache, Some(&layer), &[]);
    assert_ok(&out);
    let err = stderr(&out);
    let warning = format!("warning: not using the cache layer entry {}", only_entry(&layer).display());
    assert!(err.contains(&warning), "{err}");
    assert!(
        err.contains(&format!("1 changed file(s), e.g. {MODULE}); unpacking the wheel instead")),
        "{err}"
    );
    let installed = std::fs::read_to_string(site_packages(&venv).join(MODULE)).unwrap();
    assert!(!installed.contains("tampered"), "{installed}");
    assert_eq!(
        inode(&site_packages(&venv).join(MODULE)),
        inode(&only_entry(&cache).join("tree").join(MODULE))
    );
}
