//! Reading and verifying wheels (packaging.python.org, "Binary distribution format").
//!
//! A wheel is refused unless its file name, `WHEEL`, its one `.dist-info` and its RECORD all
//! agree and every member's hash and size match RECORD. Checks run while decompressing, so a
//! hostile member is stopped before it fills the disk.

mod archive;
pub mod filename;
mod layout;
pub mod metadata;
pub mod record;
mod unpack;
mod version;

use std::io;
use std::path::PathBuf;

pub use filename::{normalize_name, WheelFilename};
pub use unpack::{unpack_verified, unpack_verified_with, Limits, UnpackOptions};
pub(crate) use version::versions_match;

/// Archive suffixes of source distributions (PEP 625 settles on `.tar.gz`; older ones vary).
const SDIST_SUFFIXES: [&str; 6] = [".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip"];

/// Refuses a path that names a source distribution by its suffix, or a directory, before
/// anything is read: a typed [`crate::Error::NotAWheel`] the frontends can explain, not
/// "invalid file name". Only a name without `.whl` costs a `stat` (it is refused either way).
pub(crate) fn check_is_wheel(path: &std::path::Path) -> crate::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let kind = if SDIST_SUFFIXES.iter().any(|suffix| name.ends_with(suffix)) {
        crate::error::NotAWheel::SourceDistribution
    } else if !name.ends_with(".whl") && path.is_dir() {
        crate::error::NotAWheel::Directory
    } else {
        return Ok(());
    };
    Err(crate::Error::NotAWheel { path: path.to_path_buf(), kind })
}

/// Why a wheel was refused. The caller wraps it in [`crate::Error::Wheel`], which names the
/// wheel file; these messages name the member.
#[derive(Debug, thiserror::Error)]
pub enum WheelError {
    /// The file name is not `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.
    #[error("invalid wheel file name {name:?}: {reason}")]
    BadFilename { name: String, reason: String },
    /// The archive could not be read as a zip file (truncated, corrupt, not a zip).
    #[error("not a readable zip archive")]
    Zip(#[source] zip::result::ZipError),
    /// One member could not be read or decompressed (bad CRC, corrupt data, encryption).
    #[error("{path}: cannot decompress")]
    Corrupt {
        path: String,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("no .dist-info directory at the top of the archive")]
    NoDistInfo,
    #[error("more than one .dist-info directory: {}", names.join(", "))]
    MultipleDistInfo { names: Vec<String> },
    /// Besides (or instead of) the distribution's own `.data` directory, several top-level
    /// `*.data` directories, which pip and uv would install differently.
    #[error("more than one .data directory: {}", names.join(", "))]
    MultipleDataDirs { names: Vec<String> },
    /// A `.dist-info` or `.data` directory, or METADATA, names another distribution or version
    /// than the file name.
    #[error("{found} does not match the file name's {expected}")]
    NameMismatch { found: String, expected: String },
    /// `WHEEL`, `METADATA` or `entry_points.txt` is missing or invalid.
    #[error("{file}: {reason}")]
    Metadata { file: String, reason: String },
    #[error("{path} is missing")]
    MissingRecord { path: String },
    #[error("{path}: invalid RECORD: {reason}")]
    BadRecord { path: String, reason: String },
    #[error("{path}: not listed in RECORD")]
    NotInRecord { path: String },
    #[error("{path}: listed in RECORD without a hash")]
    NoHash { path: String },
    #[error("{path}: listed twice in RECORD with different hashes or sizes")]
    RecordConflict { path: String },
    #[error("{path}: {reason}")]
    BadHash { path: String, reason: String },
    #[error("{path}: hash mismatch: RECORD says {expected}, content is {actual}")]
    HashMismatch { path: String, expected: String, actual: String },
    #[error("{path}: size mismatch: RECORD says {expected} bytes, content is {actual}")]
    SizeMismatch { path: String, expected: u64, actual: u64 },
    /// Decompression produced more than RECORD (or the zip header) declares; stopped there.
    #[error("{path}: content is larger than the {expected} bytes declared")]
    Oversized { path: String, expected: u64 },
    /// A member name that could write outside the target or alias another member.
    #[error("{}: unsafe path: {reason}", path.escape_debug())]
    UnsafePath { path: String, reason: &'static str },
    #[error("{path}: symlinks are not allowed in wheels")]
    Symlink { path: String },
    #[error("{path}: not a regular file (mode {mode:o})")]
    NotRegular { path: String, mode: u32 },
    #[error("{path}: duplicate member name")]
    Duplicate { path: String },
    #[error("{path}: both a file and a directory")]
    FileDirConflict { path: String },
    #[error("{path}: unknown .data scheme {scheme:?} (expected purelib, platlib, scripts, headers or data)")]
    BadScheme { path: String, scheme: String },
    /// A [`Limits`] cap was hit; `subject` is the member, or "archive" for whole-archive caps.
    #[error("{subject}: {what} {actual} exceeds the limit of {limit}")]
    Limit { subject: String, what: &'static str, actual: u64, limit: u64 },
    /// None of the wheel's tags is supported by the target (its interpreter, ABI, platform).
    #[error("built for {built_for}; {target}")]
    Incompatible { built_for: String, target: String },
    /// The wheel's `Requires-Python` excludes the target's Python version.
    #[error("requires Python {requires}; {target}")]
    RequiresPython { requires: String, target: String },
    /// Several wheels of one distribution and version were given, and the target supports
    /// none of them.
    #[error("no wheel of {dist} given can be installed: {target}; the candidates were built for: {}", candidates.join(", "))]
    NoneCompatible {
        /// `name version`.
        dist: String,
        target: String,
        candidates: Vec<String>,
    },
    /// A file of the wheel (or an entry point) would replace one of the environment's own
    /// files: its interpreter, `pyvenv.cfg` or an `activate` script. `path` is relative to
    /// the environment's prefix when the wheel reader found it (it knows no environment);
    /// installs make it absolute.
    #[error("{member} would replace the environment's own {}", path.display())]
    EnvironmentFile { member: String, path: PathBuf },
    /// A file of the wheel would take the place of a directory of the environment (`bin/`,
    /// a package another distribution installed): pip fails there too, and replacing it
    /// would delete all it holds. `path` is absolute.
    #[error("a file of it would replace the directory {}", path.display())]
    ReplacesDirectory { path: PathBuf },
    /// Two files of one wheel (members under different schemes, a member and an entry point's
    /// launcher or the installer's own metadata) would be installed at one path with different
    /// content: whichever came last would win, and RECORD would list the path twice. `path`
    /// is absolute.
    #[error("{first} and {second} would both be installed as {}", path.display())]
    SamePath { path: PathBuf, first: String, second: String },
    /// The unpack's [`crate::Cancel`] token was cancelled; the caller removes what was written.
    #[error("cancelled")]
    Cancelled,
    /// A filesystem operation on the destination failed (`action` says which).
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl WheelError {
    /// Whether the destination ran out of space (or quota): the wheel is fine, the disk is not,
    /// and callers say so instead of blaming the wheel.
    pub fn is_out_of_space(&self) -> bool {
        matches!(self, WheelError::Io { source, .. } if crate::platform::is_out_of_space(source))
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        WheelError::Io { action, path: path.into(), source }
    }
}
