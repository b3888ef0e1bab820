//! The content of the `.dist-info` files the installer writes itself, beyond the constant
//! `INSTALLER` and `REQUESTED`: `direct_url.json` (PEP 610), planned with the wheel's files,
//! and RECORD, made from the finished plan (bytecode included) and written last. Apart from
//! `plan`, which decides where files go: these are two file formats, as their specs spell them.

use std::path::Path;

use crate::wheel::record::hash_bytes_sha256;

use super::plan::{Source, WheelPlan};
use super::roots::RecordPaths;

/// The RECORD of an installed wheel: every planned file (bytecode too) with its hash and size,
/// paths relative to the directory holding its `.dist-info` as pip writes them, and RECORD
/// itself without a hash. `spelled`: the roots as spelled from the plan's `meta_root`
/// ([`Roots::record_paths`](super::roots::Roots::record_paths)).
pub(crate) fn record_for(plan: &WheelPlan, spelled: &RecordPaths) -> String {
    use crate::wheel::record::push_row;
    let manifest = plan.entry.manifest();
    let mut out = String::with_capacity((plan.files.len() + 1) * 100);
    let mut path = String::new();
    for file in &plan.files {
        let (root, rel) = plan.destination(file);
        spelled.path_into(&mut path, root, rel);
        match &file.source {
            Source::Entry { index, .. } => {
                let f = &manifest.files[*index as usize];
                push_row(&mut out, &path, Some(&f.hash), Some(f.size));
            }
            Source::Generated(index) => {
                let g = &plan.generated[*index as usize];
                let hash = hash_bytes_sha256(&g.content);
                push_row(&mut out, &path, Some(&hash), Some(g.content.len() as u64));
            }
            Source::Bytecode(index) => {
                let f = plan.bytecode_file(*index);
                push_row(&mut out, &path, Some(&f.hash), Some(f.size));
            }
        }
    }
    spelled.path_into(&mut path, plan.meta_root, &plan.record);
    push_row(&mut out, &path, None, None);
    out
}

/// PEP 610 `direct_url.json` for a wheel installed from a local file.
pub(super) fn direct_url(wheel: &Path, sha256: &str) -> String {
    let absolute = std::path::absolute(wheel).unwrap_or_else(|_| wheel.to_path_buf());
    let url =
        format!("file://{}", percent_encoding::utf8_percent_encode(&absolute.to_string_lossy(), PATH_SET));
    serde_json::json!({
        "archive_info": { "hash": format!("sha256={sha256}"), "hashes": { "sha256": sha256 } },
        "url": url,
    })
    .to_string()
}

/// Characters escaped in a `file://` URL path (RFC 3986: everything but unreserved and `/`).
const PATH_SET: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'.').remove(b'_').remove(b'~');
