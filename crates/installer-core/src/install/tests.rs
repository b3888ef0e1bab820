//! The install's progress as the reporter sees it: phases announced before their work, bytes
//! that add up, the fallback reported when decided, a created venv announced once, and a dry
//! run that changes nothing. Real fixture wheels, real venvs, real directories.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::*;
use crate::linker::ConcreteLinkMode;
use crate::reporter::{Event, NoReporter};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/wheels").join(name)
}

const PKG: &str = "fixture_pkg-1.0-py3-none-any.whl";
const DATA: &str = "fixture_data-1.0-py3-none-any.whl";

/// Each event as a line, in the order received; progress counters summed.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<String>>,
    unpacked_bytes: AtomicU64,
    copied_bytes: AtomicU64,
    advanced: AtomicU64,
}

impl Recorder {
    fn push(&self, line: String) {
        self.events.lock().unwrap().push(line);
    }

    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }

    fn position(&self, prefix: &str) -> usize {
        let events = self.events();
        events
            .iter()
            .position(|e| e.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix}: {events:#?}"))
    }
}

impl Reporter for Recorder {
    fn add_total(&self, files: u64) {
        self.push(format!("total {files}"));
    }

    fn advance(&self, files: u64) {
        self.advanced.fetch_add(files, Ordering::Relaxed);
    }

    fn event(&self, event: Event<'_>) {
        let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
        match event {
            Event::UnpackedBytes { bytes } => drop(self.unpacked_bytes.fetch_add(bytes, Ordering::Relaxed)),
            Event::Copied { bytes } => drop(self.copied_bytes.fetch_add(bytes, Ordering::Relaxed)),
            Event::Unpacking { wheels, bytes } => self.push(format!("unpacking {wheels} {bytes}")),
            Event::UnpackingWheel { wheel, bytes } => self.push(format!("wheel {} {bytes}", name(wheel))),
            Event::UnpackedWheel { wheel } => self.push(format!("unpacked {}", name(wheel))),
            Event::CacheEntry { wheel, unpacked, .. } => {
                self.push(format!("entry {} {unpacked}", name(wheel)))
            }
            Event::CreatedVenv { path, .. } => self.push(format!("created {}", name(path))),
            Event::Placing { files, copy_bytes } => self.push(format!("placing {files} {copy_bytes}")),
            Event::LinkFallback(f) => self.push(format!("fallback {} {} {}", f.failed, f.files, f.bytes)),
            Event::NotInstalled { name } => self.push(format!("not installed {name}")),
            Event::UntrustedLayerEntry { wheel, .. } => self.push(format!("untrusted {}", name(wheel))),
            Event::ReadOnlyCache { cache, .. } => self.push(format!("read-only {}", name(cache))),
            Event::Evicted(e) => self.push(format!("evicted {}", e.removed.len())),
        }
    }
}

/// A real venv under `dir` (`python3 -m venv --without-pip`): the install asks its
/// interpreter which wheels it can run.
fn venv_in(dir: &Path) -> Venv {
    Venv::create(&dir.join("venv"), Path::new("python3")).unwrap()
}

fn options() -> InstallOptions {
    // No automatic shard: a test on two filesystems must see the fallback, not a shard.
    InstallOptions { shards: ShardPolicy { dirs: Vec::new(), auto: false }, ..InstallOptions::default() }
}

/// Every path under `root` (itself as ""), sorted: an environment to compare before and after.
pub(super) fn tree(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.unwrap().path().strip_prefix(root).unwrap().display().to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn a_cold_install_announces_unpacking_in_bytes_then_placing_in_files() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let venv = venv_in(dir.path());
    let wheels = [fixture(PKG), fixture(DATA)];
    let bytes: u64 = wheels.iter().map(|w| std::fs::metadata(w).unwrap().len()).sum();
    let recorder = Recorder::default();
    let summary = install(&venv, &wheels, &cache, &options(), &recorder).unwrap();

    let events = recorder.events();
    assert_eq!(events[0], format!("unpacking 2 {bytes}"), "announced first: {events:#?}");
    assert_eq!(recorder.unpacked_bytes.load(Ordering::Relaxed), bytes, "the bar ends full");
    for wheel in [PKG, DATA] {
        assert!(
            recorder.position(&format!("wheel {wheel}")) < recorder.position(&format!("unpacked {wheel}"))
        );
        assert!(events.contains(&format!("entry {wheel} true")), "{events:#?}");
    }
    let placing = recorder.position("placing");
    assert_eq!(events[placing], format!("placing {} 0", summary.files), "links copy nothing");
    assert!(events[..placing].iter().all(|e| !e.starts_with("total")), "no file total before placing");
    assert_eq!(recorder.advanced.load(Ordering::Relaxed), summary.files);
    assert!(!events.iter().any(|e| e.starts_with("fallback")), "{events:#?}");

    // Warm: nothing to unpack, so no unpacking phase at all (no empty bar).
    let warm = Recorder::default();
    let again = InstallOptions { reinstall: true, ..options() };
    install(&venv, &wheels, &cache, &again, &warm).unwrap();
    let events = warm.events();
    assert!(!events.iter().any(|e| e.starts_with("unpacking") || e.starts_with("wheel")), "{events:#?}");
    assert!(events.contains(&format!("entry {PKG} false")), "{events:#?}");
}

#[test]
fn copying_reports_bytes_and_the_summary_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let venv = venv_in(dir.path());
    let recorder = Recorder::default();
    let options = InstallOptions { link_mode: LinkMode::Copy, ..options() };
    let summary = install(&venv, &[fixture(PKG)], &cache, &options, &recorder).unwrap();
    assert!(summary.copied_bytes > 0 && summary.copied_files > 0, "{summary:?}");
    assert_eq!(summary.fell_back_from, None, "copy asked for is no fallback");
    assert_eq!(recorder.copied_bytes.load(Ordering::Relaxed), summary.copied_bytes);
    let placing = &recorder.events()[recorder.position("placing")];
    assert_eq!(placing, &format!("placing {} {}", summary.files, summary.copied_bytes));
}

#[test]
fn the_fallback_is_reported_when_decided_before_any_file_is_placed() {
    let dir = tempfile::tempdir().unwrap();
    let shm = Path::new("/dev/shm");
    let separate =
        shm.is_dir() && std::fs::metadata(shm).unwrap().dev() != std::fs::metadata(dir.path()).unwrap().dev();
    if !separate {
        crate::testing::skip(&format!(
            "/dev/shm is missing or on the filesystem of {}",
            dir.path().display()
        ));
        return;
    }
    let cache_dir = tempfile::tempdir_in(shm).unwrap();
    let cache = Cache::open(cache_dir.path()).unwrap();
    let venv = venv_in(dir.path());
    let recorder = Recorder::default();
    let options = InstallOptions { link_mode: LinkMode::Hardlink, ..options() };
    let summary = install(&venv, &[fixture(PKG)], &cache, &options, &recorder).unwrap();

    let events = recorder.events();
    let fallback = recorder.position("fallback");
    assert!(fallback < recorder.position("placing"), "{events:#?}");
    assert_eq!(
        events[fallback],
        format!("fallback hardlink {} {}", summary.copied_files, summary.copied_bytes),
        "the planned counts are what was copied"
    );
    assert_eq!(
        (summary.link_mode, summary.fell_back_from),
        (ConcreteLinkMode::Copy, Some(ConcreteLinkMode::Hardlink))
    );
}

#[test]
fn a_new_venv_is_announced_after_the_wheels_are_cached_and_entries_are_not_looked_up_twice() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let root = dir.path().join("new-venv");
    let recorder = Recorder::default();
    let summary =
        install_into(&root, Path::new("python3"), &[fixture(PKG)], &cache, &options(), &recorder).unwrap();
    let events = recorder.events();
    assert_eq!(
        events.iter().filter(|e| e.starts_with("entry")).collect::<Vec<_>>(),
        [&format!("entry {PKG} true")]
    );
    assert!(recorder.position("entry") < recorder.position("created new-venv"), "{events:#?}");
    assert!(recorder.position("created") < recorder.position("placing"), "{events:#?}");
    assert_eq!(summary.created_venv.as_deref(), Some(std::path::absolute(&root).unwrap().as_path()));
}

#[test]
fn a_dry_run_plans_and_reports_but_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let venv = venv_in(dir.path());
    install(&venv, &[fixture(PKG)], &cache, &options(), &NoReporter).unwrap();
    let before = tree(venv.root());
    let dry = InstallOptions { dry_run: true, ..options() };
    let wheels = [fixture("fixture_pkg-2.0-py3-none-any.whl"), fixture(DATA)];
    let summary = install(&venv, &wheels, &cache, &dry, &NoReporter).unwrap();
    assert!(summary.dry_run);
    let names: Vec<String> = summary.installed.iter().map(|d| format!("{}=={}", d.name, d.version)).collect();
    assert_eq!(names, ["fixture_pkg==2.0", "fixture_data==1.0"]);
    assert_eq!(summary.replaced, [DistVersion { name: "fixture_pkg".into(), version: "1.0".into() }]);
    assert_eq!(tree(venv.root()), before, "nothing written");

    // Into an environment that does not exist: not created.
    let missing = dir.path().join("missing");
    let summary = install_into(&missing, Path::new("python3"), &wheels, &cache, &dry, &NoReporter).unwrap();
    assert_eq!(summary.installed.len(), 2);
    assert!(summary.created_venv.is_some() && !missing.exists());
}

/// `--compile` with an interpreter older than the compile worker runs on is refused before an
/// install unpacks anything, naming the interpreter and its version; the oldest it runs on is
/// taken. The facts are a real interpreter's with an older version put in.
#[test]
fn compiling_with_an_interpreter_older_than_the_worker_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let venv = venv_in(dir.path());
    let mut facts = crate::target::Interpreter::query(venv.python()).unwrap();
    let compiling = InstallOptions { compile: true, ..options() };
    facts.version = (3, 6, 15);
    let err = compiler(&compiling, &cache, venv.python(), &facts, &NoReporter).err().expect("refused");
    assert!(
        matches!(err, Error::InvalidArgument { what: "--compile", .. })
            && err.to_string().contains("is Python 3.6.15; compiling bytecode needs 3.7 or newer"),
        "{err}"
    );
    facts.version = crate::compile::OLDEST_PYTHON;
    assert!(compiler(&compiling, &cache, venv.python(), &facts, &NoReporter).unwrap().is_some());
}
