//! Puts the commit into `installer --version` (`installer 0.1.0 (2e304f7 2026-11-30)`), so a bug
//! report names the exact build. One `git log` call, as uv's `uv-cli/build.rs` does, rather than
//! a crate that wraps the same call; without git (an sdist, a tarball, no `git` on PATH) the
//! version is the crate's alone.

use std::path::Path;
use std::process::Command;

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let long = match commit(Path::new(&dir)) {
        Some(commit) => format!("{version} ({commit})"),
        None => version.to_owned(),
    };
    println!("cargo:rustc-env=INSTALLER_VERSION={long}");
    println!("cargo:rerun-if-changed=build.rs");
}

/// `<short hash> <commit date>` of HEAD, with rerun hints for when HEAD moves; `None` outside a
/// git checkout or without git.
fn commit(dir: &Path) -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let line = git(&["log", "-1", "--date=short", "--format=%h %cd"])?;
    // HEAD names the branch; the branch's ref (loose or packed) names the commit. In a worktree
    // these live in different directories, which `--git-path` resolves.
    // A path that does not exist would make cargo rerun this (and rebuild the crate) every time.
    let head_ref = git(&["symbolic-ref", "-q", "HEAD"]);
    for path in ["HEAD", "packed-refs"].into_iter().chain(head_ref.as_deref()) {
        let file = git(&["rev-parse", "--path-format=absolute", "--git-path", path]);
        if let Some(file) = file.filter(|f| Path::new(f).exists()) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    (!line.is_empty()).then_some(line)
}
