//! The manifest stored with each unpacked wheel in the cache: everything an install needs to
//! know about the entry (files, directories, hashes, entry points), so that a warm install
//! reads one small file instead of the archive or a directory walk.

use serde::{Deserialize, Serialize};

use crate::wheel::metadata::EntryPoint;

/// Bumped when the manifest's meaning changes; entries of another format are unpacked again.
pub const MANIFEST_FORMAT: u32 = 1;

/// A verified, unpacked wheel. Written once when the entry is published, never changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The wheel's file name, e.g. `foo-1.0-py3-none-any.whl`.
    pub wheel: String,
    /// The distribution name as spelled in the `.dist-info` directory.
    pub name: String,
    pub version: String,
    /// Hex SHA-256 of the whole archive: the cache key, and the hash in `direct_url.json`.
    pub archive_sha256: String,
    /// `{name}-{version}.dist-info`
    pub dist_info: String,
    /// `{name}-{version}.data`
    pub data_dir: String,
    /// `Root-Is-Purelib` from `WHEEL`: whether the root goes to purelib or platlib.
    pub root_is_purelib: bool,
    /// Every directory of the unpacked tree (relative, `/`-separated), parents first.
    pub dirs: Vec<String>,
    /// Every regular file of the tree except `RECORD`, which installs rewrite.
    pub files: Vec<ManifestFile>,
    /// `console_scripts` and `gui_scripts` from `entry_points.txt`.
    pub entry_points: Vec<EntryPoint>,
}

/// One verified file of an unpacked wheel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Relative path inside the wheel, `/`-separated, as in RECORD.
    pub path: String,
    pub size: u64,
    /// As in RECORD: `sha256=<urlsafe base64, no padding>`, checked while unpacking.
    pub hash: String,
    /// The archive member had an execute bit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executable: bool,
    /// The file starts with `#!python` (or `#!pythonw`); under `.data/scripts` its first line
    /// is rewritten to the environment's interpreter on install.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub python_shebang: bool,
}
