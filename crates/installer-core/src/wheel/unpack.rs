//! Unpacking a wheel into a directory while verifying every member against RECORD.
//!
//! Order of work, so that a bad wheel costs as little as possible and writes nothing it
//! should not:
//! 1. file name; central directory (names, types, sizes, limits, `.dist-info`, `.data`);
//! 2. `WHEEL` (a Wheel-Version 2 may change everything below), RECORD, then every member
//!    against RECORD (rows for files the archive lacks are ignored, as pip does), METADATA and `entry_points.txt`;
//! 3. directories, then every file in parallel: decompress, hash and count in one pass,
//!    refusing a member as soon as it produces more than declared.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use zip::ZipArchive;

use crate::cancel::Cancel;
use crate::manifest::{Manifest, ManifestFile, Sha256Digest, MANIFEST_FORMAT};
use crate::wheel::archive::{ArchiveReader, MemberReader, WHOLE};
use crate::wheel::layout::{read_layout, Layout, Member, RATIO_THRESHOLD};
use crate::wheel::metadata::{
    parse_entry_points, parse_metadata_name_version, parse_requires_python, parse_wheel_file, EntryPoint,
};
use crate::wheel::record::{hashes_equal, parse_record, RecordHasher};
use crate::wheel::version::versions_match;
use crate::wheel::{WheelError, WheelFilename};

/// Members up to [`WHOLE`] are decompressed into memory, checked, then written with one
/// `write`; larger ones stream through a buffer of this size.
const CHUNK: usize = 256 * 1024;

/// Caps against hostile archives: each bounds what one wheel can make us read, write or hold
/// in memory, whatever its headers claim.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Sum of the uncompressed sizes of all members, in bytes (default 16 GiB).
    pub max_total_size: u64,
    /// Entries in the zip's central directory (default 500 000); also the most lines RECORD
    /// and `entry_points.txt` may have (rows and launchers are files too).
    pub max_members: u64,
    /// Length of a member name in bytes (default 1024; Linux allows 4096 per path, and the
    /// target's prefix needs room too).
    pub max_path_len: u64,
    /// Uncompressed size over compressed size, checked for members larger than 1 MiB, on the
    /// bytes actually produced (default 1000; deflate cannot exceed about 1032, so only
    /// degenerate files reach it, and real wheels stay far below).
    pub max_compression_ratio: u64,
    /// Size of a `.dist-info` file read into memory (RECORD, WHEEL, METADATA,
    /// entry_points.txt), in bytes (default 64 MiB).
    pub max_metadata_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total_size: 16 << 30,
            max_members: 500_000,
            max_path_len: 1024,
            max_compression_ratio: 1000,
            max_metadata_size: 64 << 20,
        }
    }
}

/// What an unpack can be given besides the archive: its limits, where to report progress,
/// and the token that cancels it.
#[derive(Clone, Copy)]
pub struct UnpackOptions<'a> {
    /// Checked against the central directory before anything is written, and while
    /// decompressing.
    pub limits: &'a Limits,
    /// Called with each member's compressed size once it is written (from worker threads),
    /// so a frontend can show how far a large wheel is.
    pub progress: &'a (dyn Fn(u64) + Sync),
    /// Checked per member and per chunk, so a cancel stops even a large wheel promptly.
    pub cancel: &'a Cancel,
}

/// Verifies `archive` and unpacks it into the existing empty directory `dest`, member `a/b`
/// at `dest/a/b`, except RECORD (installs write their own) and RECORD signatures (they sign
/// the RECORD that is not kept), with no progress and no way to cancel; see
/// [`unpack_verified_with`].
pub fn unpack_verified(archive: &Path, dest: &Path, limits: &Limits) -> Result<Manifest, WheelError> {
    let cancel = Cancel::new();
    unpack_verified_with(archive, dest, &UnpackOptions { limits, progress: &|_| {}, cancel: &cancel })
}

/// [`unpack_verified`] with progress and a cancellation token. Returns the whole manifest,
/// the archive's SHA-256 included (hashed while the members are unpacked). On error `dest`
/// may hold part of the wheel; the caller removes it. Nothing is ever written outside `dest`.
pub fn unpack_verified_with(
    archive: &Path,
    dest: &Path,
    options: &UnpackOptions<'_>,
) -> Result<Manifest, WheelError> {
    let file = crate::platform::open_regular_file(archive).map_err(|e| WheelError::io("open", archive, e))?;
    // Hashed through the same open file as it is unpacked from (its own cursor; the members
    // are read with `pread`), so the hash that names the entry is that of what was unpacked,
    // even if the path is replaced meanwhile.
    let for_hash = file.try_clone().map_err(|e| WheelError::io("open", archive, e))?;
    crate::pause::point("wheel-opened");
    let (hash, manifest) =
        rayon::join(|| Sha256Digest::of_reader(for_hash), || unpack_members(archive, file, dest, options));
    let hash = hash.map_err(|e| WheelError::io("read", archive, e))?;
    Ok(Manifest { archive_sha256: hash.hex(), ..manifest? })
}

/// Everything but the archive's hash, which is left empty; `file` is `archive` opened.
fn unpack_members(
    archive: &Path,
    file: File,
    dest: &Path,
    options: &UnpackOptions<'_>,
) -> Result<Manifest, WheelError> {
    let UnpackOptions { limits, progress, cancel } = *options;
    let file_name = archive.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let filename = WheelFilename::parse(&file_name)
        .map_err(|reason| WheelError::BadFilename { name: file_name.clone(), reason })?;
    let reader = ArchiveReader::new(file).map_err(|e| WheelError::io("read", archive, e))?;
    let zip = ZipArchive::new(reader).map_err(WheelError::Zip)?;
    let layout = read_layout(&zip, &filename, limits)?;
    let unpacker = Unpacker { zip: &zip, layout: &layout, limits, dest, cancel };
    let checked = unpacker.check_metadata(&filename)?;
    refuse_environment_files(&layout, &checked.entry_points)?;

    for dir in &layout.dirs {
        let path = dest.join(dir);
        std::fs::create_dir(&path).map_err(|e| WheelError::io("create directory", path, e))?;
    }
    let mut files = checked
        .jobs
        .into_par_iter()
        .map_init(
            || (MemberReader::new(zip.clone()), Vec::new()),
            |(reader, chunk), job| {
                let compressed = job.member.compressed_size;
                let file = unpacker.extract(reader, chunk, job)?;
                progress(compressed);
                Ok(file)
            },
        )
        .collect::<Result<Vec<_>, _>>()?;
    files.sort_unstable_by(|a, b| a.path.cmp(&b.path));

    Ok(Manifest {
        format: MANIFEST_FORMAT,
        wheel: file_name,
        name: layout.name.clone(),
        version: layout.version.clone(),
        archive_sha256: String::new(),
        dist_info: layout.dist_info.clone(),
        data_dir: layout.data_dir.clone(),
        root_is_purelib: checked.root_is_purelib,
        newer_wheel_version: checked.newer_wheel_version,
        requires_python: Some(checked.requires_python),
        dirs: layout.dirs.clone(),
        files,
        entry_points: checked.entry_points,
    })
}

/// Refuses, before anything is written, a wheel that would replace one of an environment's
/// own files ([`crate::venv::is_own_file`]) through `.data/scripts`, `.data/data` or an entry
/// point: such a wheel never gets a cache entry. The error's path is relative to the
/// environment's prefix (`bin/python3`); the install joins the environment it names.
fn refuse_environment_files(layout: &Layout, entry_points: &[EntryPoint]) -> Result<(), WheelError> {
    let (scripts, data) = (format!("{}/scripts/", layout.data_dir), format!("{}/data/", layout.data_dir));
    let refuse = |member: String, rel: String| {
        Err(WheelError::EnvironmentFile { member, path: std::path::PathBuf::from(rel) })
    };
    for member in &layout.files {
        if let Some(name) = member.path.strip_prefix(&scripts) {
            if crate::venv::is_own_script(name) {
                return refuse(member.path.clone(), format!("bin/{name}"));
            }
        } else if let Some(rel) = member.path.strip_prefix(&data) {
            if crate::venv::is_own_file(rel) {
                return refuse(member.path.clone(), rel.to_string());
            }
        }
    }
    match entry_points.iter().find(|e| crate::venv::is_own_script(&e.name)) {
        Some(entry_point) => refuse(entry_point.describe(), format!("bin/{}", entry_point.name)),
        None => Ok(()),
    }
}

struct Unpacker<'a> {
    zip: &'a ZipArchive<ArchiveReader>,
    layout: &'a Layout,
    limits: &'a Limits,
    dest: &'a Path,
    cancel: &'a Cancel,
}

/// A file to write, with what RECORD says it must be.
struct Job<'a> {
    member: &'a Member,
    /// RECORD's hash, e.g. `sha256=...`.
    hash: String,
    hasher: RecordHasher,
    /// Content already decompressed while checking metadata (WHEEL, METADATA...).
    content: Option<Vec<u8>>,
}

struct Checked<'a> {
    jobs: Vec<Job<'a>>,
    root_is_purelib: bool,
    newer_wheel_version: Option<String>,
    requires_python: Option<String>,
    entry_points: Vec<crate::wheel::metadata::EntryPoint>,
}

impl<'a> Unpacker<'a> {
    fn check_metadata(&self, filename: &WheelFilename) -> Result<Checked<'a>, WheelError> {
        let layout = self.layout;
        let members: HashMap<&str, &Member> = layout.files.iter().map(|m| (m.path.as_str(), m)).collect();
        let in_dist_info = |file: &str| format!("{}/{file}", layout.dist_info);
        let mut reader = MemberReader::new(self.zip.clone());
        let mut preread: HashMap<usize, Vec<u8>> = HashMap::new();

        // The spec: check Wheel-Version before anything else, a new major may mean new rules.
        let wheel_path = in_dist_info("WHEEL");
        let wheel = members.get(wheel_path.as_str()).ok_or_else(|| missing(&wheel_path))?;
        let text = self.read_metadata(&mut reader, wheel)?;
        let info = parse_wheel_file(&String::from_utf8_lossy(&text))
            .map_err(|reason| WheelError::Metadata { file: wheel_path.clone(), reason })?;
        preread.insert(wheel.index, text);

        let record_path = in_dist_info("RECORD");
        let record = members
            .get(record_path.as_str())
            .ok_or_else(|| WheelError::MissingRecord { path: record_path.clone() })?;
        let text = self.read_metadata(&mut reader, record)?;
        let bad_record = |reason| WheelError::BadRecord { path: record_path.clone(), reason };
        let text = String::from_utf8(text).map_err(|_| bad_record("not utf-8".to_string()))?;
        self.check_lines(&record_path, &text)?;
        let entries = parse_record(&text).map_err(bad_record)?;
        // RECORD and its signatures cannot carry their own hashes; they are not unpacked.
        let not_covered = [record_path.clone(), in_dist_info("RECORD.jws"), in_dist_info("RECORD.p7s")];
        let covered = |path: &str| !not_covered.iter().any(|p| p == path);

        // A row for a file the archive lacks (old `bdist_wheel` listed a DESCRIPTION.rst it did
        // not pack) is ignored, as pip and uv do: nothing is installed for it, and the RECORD an
        // install writes lists only what it installed. Every member must still be listed.
        let mut record: HashMap<&str, (Option<&str>, Option<u64>)> = HashMap::with_capacity(entries.len());
        for entry in &entries {
            let value = (entry.hash.as_deref(), entry.size);
            if let Some(previous) = record.insert(entry.path.as_str(), value) {
                if previous != value {
                    return Err(WheelError::RecordConflict { path: entry.path.clone() });
                }
            }
        }

        let metadata_path = in_dist_info("METADATA");
        let metadata = members.get(metadata_path.as_str()).ok_or_else(|| missing(&metadata_path))?;
        let text = self.read_metadata(&mut reader, metadata)?;
        let bad = |reason| WheelError::Metadata { file: metadata_path.clone(), reason };
        let header = String::from_utf8_lossy(&text);
        let (name, version) = parse_metadata_name_version(&header).map_err(bad)?;
        let requires_python = parse_requires_python(&header);
        if !crate::wheel::filename::is_valid_name(&name) {
            return Err(bad(format!("Name `{name}` is not a valid project name (PEP 508)")));
        }
        if crate::wheel::normalize_name(&name) != filename.normalized_name()
            || !versions_match(&version, &filename.version)
        {
            return Err(WheelError::NameMismatch {
                found: format!("{metadata_path} (Name: {name}, Version: {version})"),
                expected: format!("{}-{}", filename.name, filename.version),
            });
        }
        drop(header);
        preread.insert(metadata.index, text);

        let entry_points_path = in_dist_info("entry_points.txt");
        let mut entry_points = Vec::new();
        if let Some(member) = members.get(entry_points_path.as_str()) {
            let text = self.read_metadata(&mut reader, member)?;
            let bad = |reason| WheelError::Metadata { file: entry_points_path.clone(), reason };
            let utf8 = std::str::from_utf8(&text).map_err(|_| bad("not utf-8".to_string()))?;
            self.check_lines(&entry_points_path, utf8)?;
            entry_points = parse_entry_points(utf8).map_err(bad)?;
            preread.insert(member.index, text);
        }

        let mut jobs = Vec::with_capacity(layout.files.len());
        for member in &layout.files {
            if !covered(&member.path) {
                continue;
            }
            let path = || member.path.clone();
            let (hash, size) =
                record.get(member.path.as_str()).ok_or_else(|| WheelError::NotInRecord { path: path() })?;
            let hash = hash.ok_or_else(|| WheelError::NoHash { path: path() })?;
            let algorithm = hash.split_once('=').map_or(hash, |(a, _)| a);
            let hasher = RecordHasher::new(algorithm)
                .map_err(|reason| WheelError::BadHash { path: path(), reason })?;
            if let Some(size) = *size {
                if size != member.size {
                    return Err(WheelError::SizeMismatch {
                        path: path(),
                        expected: size,
                        actual: member.size,
                    });
                }
            }
            jobs.push(Job { member, hash: hash.to_string(), hasher, content: preread.remove(&member.index) });
        }
        Ok(Checked {
            jobs,
            root_is_purelib: info.root_is_purelib,
            newer_wheel_version: info.newer_wheel_version(),
            requires_python,
            entry_points,
        })
    }

    /// Refuses a RECORD or `entry_points.txt` of more lines than the archive may have members:
    /// each row or entry point costs memory, and each entry point a launcher written to the
    /// environment, so a small file of tiny lines (a 64 MiB RECORD of `a,,` is 16 million
    /// rows) must not get past the member cap that way. Lines, not parsed items, so the check
    /// comes before anything is allocated per item; a real file has about one item a line.
    fn check_lines(&self, path: &str, text: &str) -> Result<(), WheelError> {
        let lines = text.lines().count() as u64;
        if lines > self.limits.max_members {
            return Err(WheelError::Limit {
                subject: path.to_string(),
                what: "line count",
                actual: lines,
                limit: self.limits.max_members,
            });
        }
        Ok(())
    }

    /// Decompresses a small `.dist-info` file into memory.
    fn read_metadata(&self, reader: &mut MemberReader, member: &Member) -> Result<Vec<u8>, WheelError> {
        if member.size > self.limits.max_metadata_size {
            return Err(WheelError::Limit {
                subject: member.path.clone(),
                what: "size",
                actual: member.size,
                limit: self.limits.max_metadata_size,
            });
        }
        reader.read(member)
    }

    fn check_cancelled(&self) -> Result<(), WheelError> {
        if self.cancel.is_cancelled() {
            Err(WheelError::Cancelled)
        } else {
            Ok(())
        }
    }

    fn extract(
        &self,
        reader: &mut MemberReader,
        chunk: &mut Vec<u8>,
        job: Job<'_>,
    ) -> Result<ManifestFile, WheelError> {
        // Checked per member and per chunk, so Ctrl-C stops even a large wheel promptly.
        self.check_cancelled()?;
        let member = job.member;
        let out = self.dest.join(&member.path);
        let mut state = Verify::new(job.hasher);
        let content = match job.content {
            Some(content) => Some(content),
            None if member.size <= WHOLE => Some(reader.read(member)?),
            None => None,
        };
        if let Some(content) = content {
            state.update(&content);
            let hash = state.finish(member, &job.hash)?;
            let mut file = crate::platform::create_new_file(&out, member.executable)
                .map_err(|e| WheelError::io("create", &out, e))?;
            file.write_all(&content).map_err(|e| WheelError::io("write", &out, e))?;
            return Ok(manifest_file(member, hash, content.starts_with(b"#!python")));
        }

        let corrupt = |source| WheelError::Corrupt { path: member.path.clone(), source };
        let mut input = reader.stream(member)?;
        let mut file = crate::platform::create_new_file(&out, member.executable)
            .map_err(|e| WheelError::io("create", &out, e))?;
        chunk.resize(CHUNK, 0);
        let mut python_shebang = None;
        loop {
            let n = fill(&mut input, chunk).map_err(|e| corrupt(e.into()))?;
            if n == 0 {
                break;
            }
            self.check_cancelled()?;
            state.update(&chunk[..n]);
            if state.size > member.size {
                return Err(WheelError::Oversized { path: member.path.clone(), expected: member.size });
            }
            let ratio = state.size / member.compressed_size.max(1);
            if state.size > RATIO_THRESHOLD && ratio > self.limits.max_compression_ratio {
                return Err(WheelError::Limit {
                    subject: member.path.clone(),
                    what: "compression ratio",
                    actual: ratio,
                    limit: self.limits.max_compression_ratio,
                });
            }
            // `fill` returns whole chunks, so the first holds the whole shebang if any.
            python_shebang.get_or_insert_with(|| chunk[..n].starts_with(b"#!python"));
            file.write_all(&chunk[..n]).map_err(|e| WheelError::io("write", &out, e))?;
        }
        let hash = state.finish(member, &job.hash)?;
        Ok(manifest_file(member, hash, python_shebang.unwrap_or(false)))
    }
}

/// Reads until `buf` is full or the input ends, so large members are written in whole
/// chunks (the inflater returns a few KiB per call). Returns how much was read.
fn fill(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn missing(path: &str) -> WheelError {
    WheelError::Metadata { file: path.to_string(), reason: "missing from the archive".to_string() }
}

fn manifest_file(member: &Member, hash: Sha256Digest, python_shebang: bool) -> ManifestFile {
    ManifestFile {
        path: member.path.clone(),
        size: member.size,
        hash,
        executable: member.executable,
        python_shebang,
    }
}

/// Size and hash of a member as it streams past: RECORD's algorithm, plus sha256 for the
/// manifest when RECORD uses another one.
struct Verify {
    sha256: Sha256,
    /// RECORD's own algorithm when it is not SHA-256.
    other: Option<RecordHasher>,
    size: u64,
}

impl Verify {
    fn new(record: RecordHasher) -> Self {
        let other = (record.algorithm() != "sha256").then_some(record);
        Verify { sha256: Sha256::new(), other, size: 0 }
    }

    fn update(&mut self, data: &[u8]) {
        self.size += data.len() as u64;
        self.sha256.update(data);
        if let Some(h) = &mut self.other {
            h.update(data);
        }
    }

    /// Checks size and hash against RECORD; returns the sha256 hash for the manifest.
    fn finish(self, member: &Member, expected: &str) -> Result<Sha256Digest, WheelError> {
        if self.size != member.size {
            return Err(WheelError::SizeMismatch {
                path: member.path.clone(),
                expected: member.size,
                actual: self.size,
            });
        }
        let digest = Sha256Digest(self.sha256.finalize().into());
        let actual = match self.other {
            Some(h) => h.finish(),
            None => digest.to_string(),
        };
        if !hashes_equal(expected, &actual) {
            return Err(WheelError::HashMismatch {
                path: member.path.clone(),
                expected: expected.to_string(),
                actual,
            });
        }
        Ok(digest)
    }
}

#[cfg(test)]
mod robustness;
#[cfg(test)]
mod tests;
