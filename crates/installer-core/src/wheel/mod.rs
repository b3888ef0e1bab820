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
    BadFilename {
        /// The file name alone, without its directory.
        name: String,
        /// Which part does not parse.
        reason: String,
    },
    /// The archive could not be read as a zip file (truncated, corrupt, not a zip).
    #[error("not a readable zip archive")]
    Zip(#[source] zip::result::ZipError),
    /// One member could not be read or decompressed (bad CRC, corrupt data, encryption).
    #[error("{path}: cannot decompress")]
    Corrupt {
        /// The member's name in the archive.
        path: String,
        /// The zip reader's error, printed as the cause.
        #[source]
        source: zip::result::ZipError,
    },
    /// No top-level `*.dist-info` directory: nothing says what the wheel is.
    #[error("no .dist-info directory at the top of the archive")]
    NoDistInfo,
    /// Several top-level `*.dist-info` directories: which one describes the wheel is unclear.
    #[error("more than one .dist-info directory: {}", names.join(", "))]
    MultipleDistInfo {
        /// All of them, sorted.
        names: Vec<String>,
    },
    /// Besides (or instead of) the distribution's own `.data` directory, several top-level
    /// `*.data` directories, which pip and uv would install differently.
    #[error("more than one .data directory: {}", names.join(", "))]
    MultipleDataDirs {
        /// All the top-level `*.data` directories, sorted.
        names: Vec<String>,
    },
    /// A `.dist-info` or `.data` directory, or METADATA, names another distribution or version
    /// than the file name.
    #[error("{found} does not match the file name's {expected}")]
    NameMismatch {
        /// The directory's name, or METADATA's path with its `Name` and `Version`.
        found: String,
        /// `name-version` as the file name spells them.
        expected: String,
    },
    /// `WHEEL`, `METADATA` or `entry_points.txt` is missing or invalid.
    #[error("{file}: {reason}")]
    Metadata {
        /// The file's path in the archive (`pkg-1.0.dist-info/WHEEL`).
        file: String,
        /// What is wrong, or "missing from the archive".
        reason: String,
    },
    /// The `.dist-info` has no RECORD: without it no member can be verified.
    #[error("{path} is missing")]
    MissingRecord {
        /// Where RECORD should be in the archive (`pkg-1.0.dist-info/RECORD`).
        path: String,
    },
    /// RECORD is not UTF-8, or a row is not a path, a hash of the form `algorithm=digest`
    /// (or none) and a size (or none).
    #[error("{path}: invalid RECORD: {reason}")]
    BadRecord {
        /// RECORD's path in the archive.
        path: String,
        /// `row N: ...` (rows counted from 1), or "not utf-8".
        reason: String,
    },
    /// A member RECORD does not list, so it cannot be verified. (Rows for files the archive
    /// lacks are ignored, as pip ignores them.)
    #[error("{path}: not listed in RECORD")]
    NotInRecord {
        /// The member's name in the archive.
        path: String,
    },
    /// A member RECORD lists with an empty hash (only RECORD itself and its signatures may
    /// have none).
    #[error("{path}: listed in RECORD without a hash")]
    NoHash {
        /// The member's name in the archive.
        path: String,
    },
    /// Two rows of RECORD for one path disagree: which one to check against is unclear.
    #[error("{path}: listed twice in RECORD with different hashes or sizes")]
    RecordConflict {
        /// The path as the rows spell it.
        path: String,
    },
    /// RECORD's hash for a member uses an algorithm we refuse (unknown, or md5 and sha1,
    /// too weak to trust).
    #[error("{path}: {reason}")]
    BadHash {
        /// The member's name in the archive.
        path: String,
        /// Names the algorithm and the ones accepted.
        reason: String,
    },
    /// A member's content does not hash to what RECORD says: corrupt or tampered with.
    #[error("{path}: hash mismatch: RECORD says {expected}, content is {actual}")]
    HashMismatch {
        /// The member's name in the archive.
        path: String,
        /// RECORD's value as written, `algorithm=urlsafe-base64`.
        expected: String,
        /// The content's, in RECORD's algorithm and spelling.
        actual: String,
    },
    /// A member's sizes disagree: RECORD's against the zip header's, or the header's against
    /// the bytes decompressed.
    #[error("{path}: size mismatch: RECORD says {expected} bytes, content is {actual}")]
    SizeMismatch {
        /// The member's name in the archive.
        path: String,
        /// Bytes RECORD declares (the zip header's size when RECORD gives none).
        expected: u64,
        /// Bytes the zip header declares or, once it agrees with RECORD, as many as
        /// decompression produced.
        actual: u64,
    },
    /// Decompression produced more than RECORD (or the zip header) declares; stopped there.
    #[error("{path}: content is larger than the {expected} bytes declared")]
    Oversized {
        /// The member's name in the archive.
        path: String,
        /// Bytes the zip header declares.
        expected: u64,
    },
    /// A member name that could write outside the target or alias another member.
    #[error("{}: unsafe path: {reason}", path.escape_debug())]
    UnsafePath {
        /// The member's name as the archive spells it (lossily decoded when not UTF-8); the
        /// message escapes its control characters.
        path: String,
        /// Which rule it breaks ("absolute path", "'..' component", "name is not utf-8"...).
        reason: &'static str,
    },
    /// A member stored as a symlink: once installed, it could point anywhere.
    #[error("{path}: symlinks are not allowed in wheels")]
    Symlink {
        /// The member's name in the archive.
        path: String,
    },
    /// A member whose Unix mode is not a regular file's: a FIFO, a device, a socket, or a
    /// directory's on a name without the trailing `/`.
    #[error("{path}: not a regular file (mode {mode:o})")]
    NotRegular {
        /// The member's name in the archive.
        path: String,
        /// The file-type bits (`S_IFMT`) of its mode, printed in octal.
        mode: u32,
    },
    /// Two members with one name: which one is installed would depend on the zip reader.
    #[error("{path}: duplicate member name")]
    Duplicate {
        /// The first name found twice, or `(unknown)` when the archive cannot be walked
        /// again to find it.
        path: String,
    },
    /// A member is a file and also a directory: another member lies below it, or a directory
    /// entry has its name.
    #[error("{path}: both a file and a directory")]
    FileDirConflict {
        /// The member's name in the archive.
        path: String,
    },
    /// A directory under `.data/` that is not one of the spec's schemes: it has no place to
    /// go.
    #[error("{path}: unknown .data scheme {scheme:?} (expected purelib, platlib, scripts, headers or data)")]
    BadScheme {
        /// The first member found in it, or the directory itself when it holds none.
        path: String,
        /// The directory's name, as spelled.
        scheme: String,
    },
    /// A [`Limits`] cap was hit; `subject` is the member, or "archive" for whole-archive caps.
    #[error("{subject}: {what} {actual} exceeds the limit of {limit}")]
    Limit {
        /// The member (the first 100 characters of a name too long), or "archive".
        subject: String,
        /// The measure, whose unit `actual` and `limit` share ("total uncompressed size",
        /// "member count", "compression ratio"...).
        what: &'static str,
        /// What the wheel has, or how far it got when the check stopped it.
        actual: u64,
        /// The cap from [`Limits`].
        limit: u64,
    },
    /// None of the wheel's tags is supported by the target (its interpreter, ABI, platform).
    #[error("built for {built_for}; {target}")]
    Incompatible {
        /// The wheel's tags in words, then the tags (`CPython 3.12 on Windows x86-64
        /// (cp312-cp312-win_amd64)`).
        built_for: String,
        /// A clause naming the target ("this environment is ..." or "the requested target
        /// is ...").
        target: String,
    },
    /// The wheel's `Requires-Python` excludes the target's Python version.
    #[error("requires Python {requires}; {target}")]
    RequiresPython {
        /// The specifier as the wheel's METADATA gives it.
        requires: String,
        /// A clause with the target's version ("this environment is Python 3.9.18").
        target: String,
    },
    /// Several wheels of one distribution and version were given, and the target supports
    /// none of them.
    #[error("no wheel of {dist} given can be installed: {target}; the candidates were built for: {}", candidates.join(", "))]
    NoneCompatible {
        /// `name version`.
        dist: String,
        /// A clause naming the target, as for [`WheelError::Incompatible`].
        target: String,
        /// Each wheel's file name with its tags, `file (python-abi-platform)`, in the order
        /// given.
        candidates: Vec<String>,
    },
    /// A file of the wheel (or an entry point) would replace one of the environment's own
    /// files: its interpreter, `pyvenv.cfg` or an `activate` script. `path` is relative to
    /// the environment's prefix when the wheel reader found it (it knows no environment);
    /// installs make it absolute.
    #[error("{member} would replace the environment's own {}", path.display())]
    EnvironmentFile {
        /// The member's name in the archive, or the entry point in words.
        member: String,
        /// The environment's file it would replace (relative or absolute: see above).
        path: PathBuf,
    },
    /// A file of the wheel would take the place of a directory of the environment (`bin/`,
    /// a package another distribution installed): pip fails there too, and replacing it
    /// would delete all it holds. `path` is absolute.
    #[error("a file of it would replace the directory {}", path.display())]
    ReplacesDirectory {
        /// The directory, which holds at least one file.
        path: PathBuf,
    },
    /// Two files of one wheel (members under different schemes, a member and an entry point's
    /// launcher or the installer's own metadata) would be installed at one path with different
    /// content: whichever came last would win, and RECORD would list the path twice. `path`
    /// is absolute.
    #[error("{first} and {second} would both be installed as {}", path.display())]
    SamePath {
        /// Where both would be installed.
        path: PathBuf,
        /// The one planned first, in words: a member's name in the archive, "the launcher of
        /// entry point `x`" or "the installer's x-1.0.dist-info/INSTALLER".
        first: String,
        /// The other, in the same words.
        second: String,
    },
    /// The unpack's [`crate::Cancel`] token was cancelled; the caller removes what was written.
    #[error("cancelled")]
    Cancelled,
    /// A filesystem operation failed, on the wheel (opening, reading) or under the destination
    /// (`action` says which).
    #[error("cannot {action} {}", path.display())]
    Io {
        /// A verb phrase, printed before the path: `cannot {action} {path}`.
        action: &'static str,
        /// The wheel itself (opening or reading it), or a file or directory being written
        /// under the destination directory.
        path: PathBuf,
        /// The OS error; [`WheelError::is_out_of_space`] looks at it.
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
