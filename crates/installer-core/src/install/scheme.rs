//! The install scheme: the root of the environment each path of a wheel goes to and the prefix
//! of that path (`<name>.data/<scheme>/`) it drops there, with each wheel's headers directory
//! named as pip names it. Apart from `plan` so that the wheel spec's and pip's mapping reads on
//! its own: `plan` asks it about every file and keeps the bookkeeping around it.

use crate::cache::CacheEntry;
use crate::venv::Venv;
use crate::wheel::normalize_name;

use super::roots::{RootId, Roots, DATA, SCRIPTS, SITE_PACKAGES};

/// Files of a wheel's `.dist-info` that the installer writes itself.
const GENERATED_METADATA: [&str; 4] = ["RECORD", "INSTALLER", "REQUESTED", "direct_url.json"];

/// Where each part of a wheel goes in this environment (the "install scheme").
pub(super) struct Scheme<'a> {
    pub roots: &'a Roots,
    /// `{name}-{version}.data/`
    pub data_prefix: String,
    /// The root of `.data/headers`: pip names it after the wheel file's project name.
    pub headers: RootId,
    /// Where the archive's root goes, its `.dist-info` included: purelib, or platlib for a
    /// wheel that is not `Root-Is-Purelib`, as pip does.
    pub root: RootId,
}

impl Scheme<'_> {
    /// The root and the prefix length of a wheel path, or `None` for files the installer
    /// writes itself.
    pub fn destination(&self, path: &str, dist_info: &str) -> Option<(RootId, usize)> {
        if let Some(rest) = path.strip_prefix(&self.data_prefix) {
            let (scheme, sub) = rest.split_once('/')?;
            let skip = self.data_prefix.len() + scheme.len() + 1;
            return match scheme {
                "purelib" => Some((SITE_PACKAGES, skip)),
                "platlib" => Some((self.roots.platlib(), skip)),
                "scripts" => Some((SCRIPTS, skip)),
                "headers" => Some((self.headers, skip)),
                "data" => {
                    let (root, more) = self.roots.locate_in_prefix(sub);
                    Some((root, skip + more))
                }
                // The wheel reader refuses other schemes before a plan is made.
                _ => None,
            };
        }
        let name = path.strip_prefix(dist_info).and_then(|p| p.strip_prefix('/'));
        if name.is_some_and(|name| GENERATED_METADATA.contains(&name)) {
            return None;
        }
        // The `.dist-info` too, where pip puts it: list, uninstall and verify look in both.
        Some((self.root, 0))
    }
}

/// The root of `.data/headers` of each entry (the prefix for entries without headers), all
/// registered before any plan is made, so that `.data/data` paths into one of them are
/// located there whatever the wheel order.
pub(crate) fn header_roots(roots: &mut Roots, venv: &Venv, entries: &[CacheEntry]) -> Vec<RootId> {
    entries
        .iter()
        .map(|entry| headers_project_name(entry).map_or(DATA, |name| roots.headers(venv, &name)))
        .collect()
}

/// The name pip gives the headers directory of a wheel with headers (`None` without): the
/// wheel file name's distribution part with `-` for `_` (`Hdr_Pkg-1.0-...whl` gives `Hdr-Pkg`;
/// pip takes the requirement's name from the file name), if it is a valid project name of
/// this distribution; else METADATA's `Name:`, else the manifest's normalised name. The wheel
/// reader refuses invalid names, but an entry cached before it did could hold `Name: ..`,
/// which would put headers in another directory.
fn headers_project_name(entry: &CacheEntry) -> Option<String> {
    let manifest = entry.manifest();
    let headers = format!("{}/headers/", manifest.data_dir);
    if !manifest.files.iter().any(|f| f.path.starts_with(&headers)) {
        return None;
    }
    let from_file_name = || manifest.wheel.split('-').next().map(|name| name.replace('_', "-"));
    let from_metadata = || {
        let text = std::fs::read_to_string(entry.tree().join(&manifest.dist_info).join("METADATA")).ok()?;
        crate::wheel::metadata::parse_metadata_name_version(&text).ok().map(|(name, _)| name)
    };
    let normalized = normalize_name(&manifest.name);
    let valid =
        |name: &String| crate::wheel::filename::is_valid_name(name) && normalize_name(name) == normalized;
    // The normalised name is one path component, never `.` or `..`: dots become `-`.
    Some(
        from_file_name()
            .filter(valid)
            .or_else(|| from_metadata().filter(valid))
            .or_else(|| Some(manifest.name.clone()).filter(valid))
            .unwrap_or(normalized),
    )
}
