//! The checks that need only the zip's central directory: member names and types, limits,
//! the `.dist-info` and `.data` directories. Nothing is decompressed here, so a hostile
//! archive is refused before any byte of it is written.

use std::collections::{BTreeSet, HashSet};
use std::io::{Read, Seek};

use zip::ZipArchive;

use crate::wheel::filename::{normalize_name, WheelFilename};
use crate::wheel::unpack::Limits;
use crate::wheel::version::versions_match;
use crate::wheel::WheelError;

/// Members above this size are held to [`Limits::max_compression_ratio`]; below it a high
/// ratio (a file of zeros, a sparse table) cannot fill a disk.
pub(crate) const RATIO_THRESHOLD: u64 = 1 << 20;

const SCHEMES: [&str; 5] = ["purelib", "platlib", "scripts", "headers", "data"];

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFLNK: u32 = 0o120000;

/// A regular file of the archive whose name passed the checks.
#[derive(Debug)]
pub(crate) struct Member {
    /// Index in the zip's central directory.
    pub index: usize,
    pub path: String,
    /// Uncompressed size declared by the zip header; decompression is cut off beyond it.
    pub size: u64,
    pub compressed_size: u64,
    pub executable: bool,
}

/// What the central directory says, checked.
#[derive(Debug)]
pub(crate) struct Layout {
    pub files: Vec<Member>,
    /// Every directory of the tree, explicit or implied by a file, sorted (so parents first).
    pub dirs: Vec<String>,
    /// `{name}-{version}.dist-info` as spelled in the archive.
    pub dist_info: String,
    pub name: String,
    pub version: String,
    /// `{name}-{version}.data`, spelled like the `.dist-info` (the spec derives one from the
    /// other), or the one top-level `*.data` directory spelled otherwise ([`data_dir_of`]).
    pub data_dir: String,
}

/// Reads and checks the central directory of `archive`, the wheel named `filename`.
pub(crate) fn read_layout<R: Read + Seek + Clone>(
    archive: &ZipArchive<R>,
    filename: &WheelFilename,
    limits: &Limits,
) -> Result<Layout, WheelError> {
    let count = archive.len() as u64;
    if count > limits.max_members {
        return Err(limit("archive", "member count", count, limits.max_members));
    }
    if archive.has_duplicate_names() {
        return Err(WheelError::Duplicate {
            path: find_duplicate(archive).unwrap_or_else(|| "(unknown)".into()),
        });
    }

    let mut files = Vec::new();
    let mut explicit_dirs = Vec::new();
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index_data(index).map_err(WheelError::Zip)?;
        let raw = entry.name_raw();
        let Ok(name) = std::str::from_utf8(raw) else {
            let path = String::from_utf8_lossy(raw).into_owned();
            return Err(WheelError::UnsafePath { path, reason: "name is not utf-8" });
        };
        if raw.len() as u64 > limits.max_path_len {
            let mut subject: String = name.chars().take(100).collect();
            if subject.len() < name.len() {
                subject.push_str("...");
            }
            return Err(limit(&subject, "path length", raw.len() as u64, limits.max_path_len));
        }
        let (path, is_dir) = match name.strip_suffix('/') {
            Some(dir) => (dir, true),
            None => (name, false),
        };
        check_path(path).map_err(|reason| WheelError::UnsafePath { path: name.to_string(), reason })?;
        let mode = entry.unix_mode().unwrap_or(0);
        match (mode & S_IFMT, is_dir) {
            (S_IFLNK, _) => return Err(WheelError::Symlink { path: name.to_string() }),
            (0 | S_IFREG | S_IFDIR, true) => explicit_dirs.push(path.to_string()),
            (0 | S_IFREG, false) => {
                let size = entry.size();
                total = total.saturating_add(size);
                if total > limits.max_total_size {
                    return Err(limit("archive", "total uncompressed size", total, limits.max_total_size));
                }
                let compressed_size = entry.compressed_size();
                if size > RATIO_THRESHOLD && size / compressed_size.max(1) > limits.max_compression_ratio {
                    let ratio = size / compressed_size.max(1);
                    return Err(limit(path, "compression ratio", ratio, limits.max_compression_ratio));
                }
                files.push(Member {
                    index,
                    path: path.to_string(),
                    size,
                    compressed_size,
                    executable: executable_as_pip_sees_it(entry.external_attributes()),
                });
            }
            (kind, _) => return Err(WheelError::NotRegular { path: name.to_string(), mode: kind }),
        }
    }

    let dirs = all_dirs(&files, explicit_dirs)?;
    let (dist_info, name, version) = find_dist_info(&dirs, filename)?;
    let data_dir = data_dir_of(&dirs, &dist_info)?;
    for path in files.iter().map(|f| f.path.as_str()).chain(dirs.iter().map(String::as_str)) {
        check_scheme(path, &data_dir, dirs.binary_search_by(|d| d.as_str().cmp(path)).is_ok())?;
    }
    Ok(Layout { files, dirs, dist_info, name, version, data_dir })
}

/// The wheel's `.data` directory: `<dist-info stem>.data`, or the one top-level `*.data`
/// directory spelled otherwise (a tool that cased or escaped the name differently), which pip
/// installs as the data directory too (any top-level `*.data` directory is one to pip).
/// Several are refused: pip would spread them all, uv only the one named like the dist-info,
/// and no tool makes such a wheel.
fn data_dir_of(dirs: &[String], dist_info: &str) -> Result<String, WheelError> {
    let own = format!("{}.data", dist_info.trim_end_matches(".dist-info"));
    let top: Vec<&String> = dirs.iter().filter(|d| !d.contains('/') && d.ends_with(".data")).collect();
    match top[..] {
        [] => Ok(own),
        [one] => Ok(one.clone()),
        _ => Err(WheelError::MultipleDataDirs { names: top.into_iter().cloned().collect() }),
    }
}

/// Whether pip would make this member executable: the high 16 bits of the external attributes
/// name a regular file with an execute bit, whatever system wrote the archive. (`unix_mode`
/// differs both ways: it takes a bare `0o755` as a file, and makes up a mode for archives
/// written on Windows, ignoring the bits their writer set.) An environment must come out as
/// pip's would.
fn executable_as_pip_sees_it(external_attributes: u32) -> bool {
    let mode = external_attributes >> 16;
    mode & S_IFMT == S_IFREG && mode & 0o111 != 0
}

fn limit(subject: &str, what: &'static str, actual: u64, limit: u64) -> WheelError {
    WheelError::Limit { subject: subject.to_string(), what, actual, limit }
}

/// Why `path` (a member name without its trailing `/`) could escape the target directory or
/// alias another member, if it could.
pub(crate) fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty name");
    }
    if path.starts_with('/') {
        return Err("absolute path");
    }
    if path.contains('\\') {
        return Err("backslash in name");
    }
    if path.contains('\0') {
        return Err("nul byte in name");
    }
    let bytes = path.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err("drive letter");
    }
    for component in path.split('/') {
        match component {
            "" => return Err("empty path component"),
            "." => return Err("'.' component"),
            ".." => return Err("'..' component"),
            _ => {}
        }
    }
    if crate::transaction::is_reserved(path) {
        // Wherever it lands, the environment's prefix (`.data/data`) or a `--target`
        // directory, it could pose as a dead transaction that the next command rolls back.
        return Err("'.installer-' component (reserved for the installer's transactions)");
    }
    Ok(())
}

/// The name of a member listed twice. Only called once duplicates are known to exist, so
/// the second walk over the central directory costs nothing on good wheels.
fn find_duplicate<R: Read + Seek + Clone>(archive: &ZipArchive<R>) -> Option<String> {
    let reader = archive.clone().into_inner();
    let mut iterable =
        zip::unstable::read::ZipIterable::try_new(reader, zip::read::Config::default()).ok()?;
    let mut seen = HashSet::new();
    for entry in iterable.files().ok()? {
        let entry = entry.ok()?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        if !seen.insert(name.clone()) {
            return Some(name);
        }
    }
    None
}

/// Every directory: explicit entries and the parents of every member; refuses a path that
/// is both a file and a directory (the second would fail to unpack, or replace the first).
fn all_dirs(files: &[Member], explicit: Vec<String>) -> Result<Vec<String>, WheelError> {
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    let parents =
        |path: &str| path.match_indices('/').map(|(i, _)| path[..i].to_string()).collect::<Vec<_>>();
    for dir in explicit {
        dirs.extend(parents(&dir));
        dirs.insert(dir);
    }
    for file in files {
        dirs.extend(parents(&file.path));
    }
    if let Some(file) = files.iter().find(|f| dirs.contains(&f.path)) {
        return Err(WheelError::FileDirConflict { path: file.path.clone() });
    }
    Ok(dirs.into_iter().collect())
}

/// The one top-level `.dist-info` directory, checked against the file name; returns it with
/// the name and version it spells.
fn find_dist_info(dirs: &[String], filename: &WheelFilename) -> Result<(String, String, String), WheelError> {
    let found: Vec<&String> = dirs.iter().filter(|d| !d.contains('/') && d.ends_with(".dist-info")).collect();
    let dist_info = match found.as_slice() {
        [] => return Err(WheelError::NoDistInfo),
        [one] => (*one).clone(),
        many => {
            return Err(WheelError::MultipleDistInfo { names: many.iter().map(|s| s.to_string()).collect() })
        }
    };
    let expected = format!("{}-{}", filename.name, filename.version);
    let mismatch = || WheelError::NameMismatch { found: dist_info.clone(), expected: expected.clone() };
    let stem = dist_info.trim_end_matches(".dist-info");
    let (name, version) = stem.rsplit_once('-').ok_or_else(mismatch)?;
    if normalize_name(name) != filename.normalized_name() || !versions_match(version, &filename.version) {
        return Err(mismatch());
    }
    Ok((dist_info.clone(), name.to_string(), version.to_string()))
}

/// Under `{data_dir}/`, the first directory must be one of the schemes of the spec: anything
/// else has no defined target and could be mapped somewhere unexpected.
fn check_scheme(path: &str, data_dir: &str, is_dir: bool) -> Result<(), WheelError> {
    let Some(rest) = path.strip_prefix(data_dir).and_then(|r| r.strip_prefix('/')) else {
        return Ok(());
    };
    let (scheme, below) = match rest.split_once('/') {
        Some((scheme, below)) => (scheme, Some(below)),
        None => (rest, None),
    };
    if !SCHEMES.contains(&scheme) {
        return Err(WheelError::BadScheme { path: path.to_string(), scheme: scheme.to_string() });
    }
    if below.is_none() && !is_dir {
        return Err(WheelError::UnsafePath {
            path: path.to_string(),
            reason: "a file where a .data scheme directory belongs",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let check = |p| check_path(p).err().unwrap_or("ok");
        assert_eq!(check("pkg/mod.py"), "ok");
        assert_eq!(check("pkg/..foo/a..b"), "ok");
        assert_eq!(check("../evil"), "'..' component");
        assert_eq!(check("a/../../evil"), "'..' component");
        assert_eq!(check("/etc/passwd"), "absolute path");
        assert_eq!(check("a\\b"), "backslash in name");
        assert_eq!(check("a\0b"), "nul byte in name");
        assert_eq!(check("C:/x"), "drive letter");
        assert_eq!(check("c:x"), "drive letter");
        assert_eq!(check("a//b"), "empty path component");
        assert_eq!(check("./a"), "'.' component");
        assert_eq!(check(""), "empty name");
        let reserved = "'.installer-' component (reserved for the installer's transactions)";
        assert_eq!(check("x-1.0.data/data/.installer-backup-z/.lock"), reserved);
        assert_eq!(check(".installer-trash-z"), reserved);
        assert_eq!(check("pkg/.installer"), "ok");
    }

    #[test]
    fn schemes() {
        let check = |p, dir| match check_scheme(p, "a-1.data", dir) {
            Ok(()) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        assert_eq!(check("a-1.data/scripts/x", false), "ok");
        assert_eq!(check("a-1.data/scripts", true), "ok");
        assert_eq!(check("a-1.data", true), "ok");
        assert_eq!(check("a-1.datax/evil/x", false), "ok");
        assert_eq!(
            check("a-1.data/evil/x", false),
            "a-1.data/evil/x: unknown .data scheme \"evil\" (expected purelib, platlib, scripts, headers or data)"
        );
        assert_eq!(
            check("a-1.data/purelib", false),
            "a-1.data/purelib: unsafe path: a file where a .data scheme directory belongs"
        );
    }
}
