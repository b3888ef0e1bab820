//! The wheel reader over arbitrary archives: `unpack_verified` must return `Ok` or `Err`,
//! never panic, hang or write outside its destination.
//!
//! Input: an optional first line naming the wheel file (the name decides which `.dist-info`
//! is expected; seeds made by `cargo xtask fuzz` carry their fixture's name), then the archive.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use installer_core::wheel::{unpack_verified, Limits};
use libfuzzer_sys::fuzz_target;

const DEFAULT_NAME: &str = "demo-1.0-py3-none-any.whl";

/// Small caps keep each run fast; the checks are the same as with the defaults.
fn limits() -> Limits {
    Limits {
        max_total_size: 4 << 20,
        max_members: 256,
        max_path_len: 256,
        max_compression_ratio: 1000,
        max_metadata_size: 256 << 10,
    }
}

/// One directory for the whole run, on tmpfs when there is one.
fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let builder = &mut tempfile::Builder::new();
        builder.prefix("installer-fuzz-");
        if shm.is_dir() { builder.tempdir_in(shm) } else { builder.tempdir() }.expect("scratch directory")
    })
    .path()
}

fn split(data: &[u8]) -> (&str, &[u8]) {
    if let Some(newline) = data.iter().take(128).position(|&b| b == b'\n') {
        if let Ok(name) = std::str::from_utf8(&data[..newline]) {
            if !name.is_empty() && !name.contains(['/', '\0']) && name != "." && name != ".." {
                return (name, &data[newline + 1..]);
            }
        }
    }
    (DEFAULT_NAME, data)
}

fuzz_target!(|data: &[u8]| {
    let (name, archive) = split(data);
    let run = scratch().join("run");
    let _ = std::fs::remove_dir_all(&run);
    let (dest, archive_dir) = (run.join("dest"), run.join("archive"));
    std::fs::create_dir_all(&dest).expect("create dest");
    std::fs::create_dir_all(&archive_dir).expect("create archive dir");
    let wheel = archive_dir.join(name);
    std::fs::write(&wheel, archive).expect("write archive");
    if let Ok(manifest) = unpack_verified(&wheel, &dest, &limits()) {
        // Everything the manifest lists is a regular file inside dest.
        for file in &manifest.files {
            let path = dest.join(&file.path);
            let meta = std::fs::symlink_metadata(&path).expect("listed file exists");
            assert!(meta.is_file(), "{}", path.display());
            assert_eq!(meta.len(), file.size, "{}", path.display());
        }
    }
    // Nothing written outside dest.
    let count = |dir: &Path| std::fs::read_dir(dir).unwrap().count();
    assert_eq!((count(&run), count(&archive_dir)), (2, 1), "unpack wrote outside its destination");
});
