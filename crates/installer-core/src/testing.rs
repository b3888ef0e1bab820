//! Helpers for the unit tests of this crate.

/// A test that cannot set up what it needs here (a second filesystem, the real corpus):
/// under CI (`CI` set and not `false`/`0`) that is a failure, since a skipped test would pass
/// unrun; elsewhere it says so and the test returns.
pub(crate) fn skip(why: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(!ci, "cannot set up under CI: {why}");
    eprintln!("skipped: {why}");
}
