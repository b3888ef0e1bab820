//! Helpers for the unit tests of this crate.

/// A test that cannot set up what it needs here (a second filesystem, the real corpus):
/// under CI (`CI` set and not `false`/`0`) that is a failure, since a skipped test would pass
/// unrun; elsewhere it says so and the test returns.
pub(crate) fn skip(why: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(!ci, "cannot set up under CI: {why}");
    eprintln!("skipped: {why}");
}

/// pyenv's CPython `minor` (`"3.12"`): its `bin/python3`, where `~/.pyenv/versions` has one
/// (the development machines and CI have 3.6 to 3.13).
pub(crate) fn pyenv_cpython(minor: &str) -> Option<std::path::PathBuf> {
    let root = std::path::PathBuf::from(std::env::var_os("HOME")?).join(".pyenv/versions");
    let prefix = format!("{minor}.");
    let dir = std::fs::read_dir(root)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix)))?;
    Some(dir.join("bin/python3"))
}

/// `attempt` again until `released` says its result is what a free lock gives (at most for
/// 30 s, then the last result): a process another test of this binary spawns holds a copy of
/// every open descriptor, a lock's too, from its fork to its exec, so a lock just dropped may
/// still be held for a moment. Each attempt must change nothing when it finds the lock held.
pub(crate) fn once_released<T>(mut attempt: impl FnMut() -> T, released: impl Fn(&T) -> bool) -> T {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let result = attempt();
        if released(&result) || std::time::Instant::now() > give_up {
            return result;
        }
        std::thread::yield_now();
    }
}
