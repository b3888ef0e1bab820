//! Named pause points, so tests can run another process inside a protocol's window (between
//! making a staging directory and locking it, between finding a cache entry and using it...)
//! deterministically, without sleeps.
//!
//! `INSTALLER_TEST_PAUSE=<point>` and `INSTALLER_TEST_PAUSE_DIR=<dir>` make the first thread
//! that reaches `<point>` create `<dir>/<point>.reached` and wait until `<dir>/<point>.go`
//! exists. Several points, comma-separated, each stop their first thread: a window between
//! two threads of one process (a worker thread holding an answer while the main thread goes
//! on) needs both held. Unset (every real run), a pause point costs one load of a cached flag. The points
//! are listed in ARCHITECTURE.md next to the protocols they probe.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The points to stop at and the directory of their handshake files, read once.
fn configured() -> Option<&'static (Vec<String>, PathBuf)> {
    static CONFIG: OnceLock<Option<(Vec<String>, PathBuf)>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let points = std::env::var("INSTALLER_TEST_PAUSE").ok().filter(|p| !p.is_empty())?;
            let dir = std::env::var_os("INSTALLER_TEST_PAUSE_DIR")?;
            Some((points.split(',').map(str::to_owned).collect(), PathBuf::from(dir)))
        })
        .as_ref()
}

/// Stops here if a test asked for `point` (the first time it is reached in this process only).
/// Gives up waiting after ten minutes, so a test that dies cannot leave a process hanging.
pub(crate) fn point(point: &str) {
    static PAUSED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let Some((wanted, dir)) = configured() else { return };
    if !wanted.iter().any(|w| w == point) {
        return;
    }
    {
        let mut paused = PAUSED.lock().unwrap_or_else(|e| e.into_inner());
        if paused.iter().any(|p| p == point) {
            return;
        }
        paused.push(point.to_owned());
    }
    let _ = std::fs::write(dir.join(format!("{point}.reached")), std::process::id().to_string());
    let go = dir.join(format!("{point}.go"));
    let started = Instant::now();
    while !go.exists() && started.elapsed() < Duration::from_secs(600) {
        std::thread::sleep(Duration::from_millis(5));
    }
}
