//! Unpacking real zip archives built here: a valid wheel, then one variation per refusal.

use std::io::Write;
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::*;
use crate::wheel::record::{hash_bytes_sha256, write_record, RecordEntry};

const DI: &str = "demo-1.0.dist-info";

pub(super) enum Kind {
    File {
        data: Vec<u8>,
        mode: u32,
    },
    /// A file written without compression, so tests can find its bytes in the archive.
    Stored(Vec<u8>),
    Dir,
    Symlink(&'static str),
    /// An empty member with this whole unix mode (file type included).
    Special(u32),
    /// A file with these external attributes, as written on Unix or (`dos`) on Windows.
    Attributes {
        data: Vec<u8>,
        external: u32,
        dos: bool,
    },
}

type RecordEdit = Box<dyn Fn(&mut Vec<RecordEntry>)>;

/// A wheel to build: members in order; RECORD is computed from the files unless told not to.
pub(super) struct Wheel {
    file_name: String,
    members: Vec<(String, Kind)>,
    record_edits: Vec<RecordEdit>,
    with_record: bool,
    limits: Limits,
}

impl Wheel {
    /// `demo-1.0-py3-none-any.whl` without members.
    pub(super) fn empty() -> Self {
        Wheel {
            file_name: "demo-1.0-py3-none-any.whl".into(),
            members: Vec::new(),
            record_edits: Vec::new(),
            with_record: true,
            limits: Limits::default(),
        }
    }

    /// A valid wheel with a bit of everything: scripts, data, a member large enough to be
    /// streamed (the others are inflated whole), an empty file, entry points.
    pub(super) fn demo() -> Self {
        Wheel::empty()
            .dir("demo/")
            .file("demo/__init__.py", b"print('hi')\n")
            .file("demo/big.bin", &noise(BIG))
            .file("demo/sub/empty.txt", b"")
            .exec("demo-1.0.data/scripts/run", b"#!python\nprint(1)\n")
            .exec("demo-1.0.data/scripts/tool.sh", b"#!/bin/sh\necho\n")
            .file("demo-1.0.data/data/share/x.txt", b"x")
            .file(&format!("{DI}/METADATA"), b"Metadata-Version: 2.1\nName: Demo\nVersion: 1.0\n\nbody\n")
            .file(&format!("{DI}/WHEEL"), b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
            .file(&format!("{DI}/entry_points.txt"), b"[console_scripts]\ndemo = demo.cli:main\n")
    }

    pub(super) fn file(self, name: &str, data: &[u8]) -> Self {
        self.member(name, Kind::File { data: data.to_vec(), mode: 0o644 })
    }

    fn exec(self, name: &str, data: &[u8]) -> Self {
        self.member(name, Kind::File { data: data.to_vec(), mode: 0o755 })
    }

    fn dir(self, name: &str) -> Self {
        self.member(name, Kind::Dir)
    }

    fn member(mut self, name: &str, kind: Kind) -> Self {
        self.members.retain(|(n, _)| n != name);
        self.members.push((name.to_string(), kind));
        self
    }

    fn remove(mut self, name: &str) -> Self {
        self.members.retain(|(n, _)| n != name);
        self
    }

    fn edit_record(mut self, edit: impl Fn(&mut Vec<RecordEntry>) + 'static) -> Self {
        self.record_edits.push(Box::new(edit));
        self
    }

    pub(super) fn write(&self, path: &Path) {
        let mut zip = ZipWriter::new(std::fs::File::create(path).unwrap());
        let options = |mode| {
            SimpleFileOptions::default()
                .compression_method(CompressionMethod::Deflated)
                .unix_permissions(mode)
        };
        let mut record = Vec::new();
        let mut dos_members = Vec::new();
        for (name, kind) in &self.members {
            match kind {
                Kind::File { data, mode } => {
                    zip.start_file(name.as_str(), options(*mode)).unwrap();
                    zip.write_all(data).unwrap();
                    record.push(RecordEntry {
                        path: name.clone(),
                        hash: Some(hash_bytes_sha256(data)),
                        size: Some(data.len() as u64),
                    });
                }
                Kind::Stored(data) => {
                    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
                    zip.start_file(name.as_str(), stored).unwrap();
                    zip.write_all(data).unwrap();
                    record.push(RecordEntry {
                        path: name.clone(),
                        hash: Some(hash_bytes_sha256(data)),
                        size: Some(data.len() as u64),
                    });
                }
                Kind::Dir => zip.add_directory(name.as_str(), options(0o755)).unwrap(),
                Kind::Special(mode) => {
                    zip.start_file(
                        name.as_str(),
                        SimpleFileOptions::default().external_attributes(mode << 16),
                    )
                    .unwrap();
                }
                Kind::Symlink(target) => zip.add_symlink(name.as_str(), *target, options(0o777)).unwrap(),
                Kind::Attributes { data, external, dos } => {
                    zip.start_file(
                        name.as_str(),
                        SimpleFileOptions::default().external_attributes(*external),
                    )
                    .unwrap();
                    zip.write_all(data).unwrap();
                    record.push(RecordEntry {
                        path: name.clone(),
                        hash: Some(hash_bytes_sha256(data)),
                        size: Some(data.len() as u64),
                    });
                    if *dos {
                        dos_members.push(name.clone());
                    }
                }
            }
        }
        if self.with_record {
            record.push(RecordEntry { path: format!("{DI}/RECORD"), hash: None, size: None });
            for edit in &self.record_edits {
                edit(&mut record);
            }
            zip.start_file(format!("{DI}/RECORD"), options(0o644)).unwrap();
            zip.write_all(write_record(&record).as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        if !dos_members.is_empty() {
            mark_written_on_windows(path, &dos_members);
        }
    }
}

/// Rewrites the central directory records of `names` as written on MS-DOS/Windows (host
/// system 0 in "version made by"), which `zip`'s writer cannot do.
fn mark_written_on_windows(path: &Path, names: &[String]) {
    let mut bytes = std::fs::read(path).unwrap();
    let mut at = 0;
    while let Some(found) = bytes[at..].windows(4).position(|w| w == b"PK\x01\x02") {
        let record = at + found;
        let name_len = u16::from_le_bytes([bytes[record + 28], bytes[record + 29]]) as usize;
        let name = &bytes[record + 46..record + 46 + name_len];
        if names.iter().any(|n| n.as_bytes() == name) {
            bytes[record + 5] = 0;
        }
        at = record + 4;
    }
    std::fs::write(path, bytes).unwrap();
}

/// The size of the demo's `big.bin`: above [`WHOLE`], so it is streamed.
const BIG: usize = 1_200_000;

/// `len` bytes that deflate cannot shrink.
fn noise(len: usize) -> Vec<u8> {
    (0..len as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect()
}

/// Builds `wheel` in a fresh directory, lets `mangle` change the archive's bytes, unpacks it
/// into `<dir>/dest` and checks that nothing appeared beside `dest`.
fn unpack_with(
    wheel: &Wheel,
    mangle: impl FnOnce(&mut Vec<u8>),
) -> (Result<Manifest, String>, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join(&wheel.file_name);
    wheel.write(&archive);
    let mut bytes = std::fs::read(&archive).unwrap();
    mangle(&mut bytes);
    std::fs::write(&archive, &bytes).unwrap();
    let dest = tmp.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let result = unpack_verified(&archive, &dest, &wheel.limits)
        .map_err(|e| crate::error::causes(&e).collect::<Vec<_>>().join(": "));
    let mut beside: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    beside.sort();
    let mut expected = vec![std::ffi::OsString::from(&wheel.file_name), "dest".into()];
    expected.sort();
    assert_eq!(beside, expected, "something was written outside dest");
    (result, tmp)
}

fn check_refused(wheel: Wheel, expect: &str) {
    check_refused_mangled(wheel, |_| {}, expect);
}

fn check_refused_mangled(wheel: Wheel, mangle: impl FnOnce(&mut Vec<u8>), expect: &str) {
    match unpack_with(&wheel, mangle).0 {
        Ok(_) => panic!("accepted, expected refusal with {expect:?}"),
        Err(message) => assert!(message.contains(expect), "message {message:?} does not contain {expect:?}"),
    }
}

/// The RECORD row of `demo/__init__.py`.
fn init(record: &mut [RecordEntry]) -> &mut RecordEntry {
    record.iter_mut().find(|e| e.path == "demo/__init__.py").unwrap()
}

/// Replaces every occurrence of `from` by `to` (same length) in the archive bytes.
fn replace_bytes(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut found = false;
    for i in 0..=bytes.len() - from.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            found = true;
        }
    }
    assert!(found, "pattern not in archive");
}

#[test]
fn unpacks_a_valid_wheel() {
    let wheel = Wheel::demo();
    let (result, tmp) = unpack_with(&wheel, |_| {});
    let manifest = result.unwrap();
    assert_eq!(
        manifest.dirs,
        [
            "demo",
            "demo-1.0.data",
            "demo-1.0.data/data",
            "demo-1.0.data/data/share",
            "demo-1.0.data/scripts",
            "demo-1.0.dist-info",
            "demo/sub"
        ]
    );
    let files: Vec<_> =
        manifest.files.iter().map(|f| (f.path.as_str(), f.size, f.executable, f.python_shebang)).collect();
    assert_eq!(
        files,
        [
            ("demo-1.0.data/data/share/x.txt", 1, false, false),
            ("demo-1.0.data/scripts/run", 18, true, true),
            ("demo-1.0.data/scripts/tool.sh", 15, true, false),
            ("demo-1.0.dist-info/METADATA", 52, false, false),
            ("demo-1.0.dist-info/WHEEL", 59, false, false),
            ("demo-1.0.dist-info/entry_points.txt", 39, false, false),
            ("demo/__init__.py", 12, false, false),
            ("demo/big.bin", BIG as u64, false, false),
            ("demo/sub/empty.txt", 0, false, false),
        ]
    );
    let dest = tmp.path().join("dest");
    for file in &manifest.files {
        let content = std::fs::read(dest.join(&file.path)).unwrap();
        assert_eq!(hash_bytes_sha256(&content), file.hash.to_string(), "{}", file.path);
        assert_eq!(
            crate::platform::is_executable(&std::fs::metadata(dest.join(&file.path)).unwrap()),
            file.executable
        );
    }
    assert!(!dest.join(DI).join("RECORD").exists());
    assert_eq!(manifest.entry_points.len(), 1);
    assert_eq!(manifest.entry_points[0].object.as_deref(), Some("main"));
    assert_eq!((manifest.name.as_str(), manifest.version.as_str()), ("demo", "1.0"));
    assert_eq!((manifest.dist_info.as_str(), manifest.data_dir.as_str()), (DI, "demo-1.0.data"));
    assert!(manifest.root_is_purelib);
    // The manifest is whole: the archive's own hash, as `sha256sum` prints it.
    let archive = std::fs::read(tmp.path().join(&wheel.file_name)).unwrap();
    let digest = crate::manifest::Sha256Digest::of(&archive);
    assert_eq!(manifest.archive_sha256, digest.hex());
    assert_eq!(manifest.wheel, "demo-1.0-py3-none-any.whl");
}

#[test]
fn accepts_other_sha_algorithms_and_records_sha256() {
    let data = b"print('hi')\n";
    let wheel = Wheel::demo().edit_record(move |r| {
        let entry = r.iter_mut().find(|e| e.path == "demo/__init__.py").unwrap();
        let mut h = RecordHasher::new("sha512").unwrap();
        h.update(data);
        entry.hash = Some(h.finish());
    });
    let manifest = unpack_with(&wheel, |_| {}).0.unwrap();
    let file = manifest.files.iter().find(|f| f.path == "demo/__init__.py").unwrap();
    assert_eq!(file.hash.to_string(), hash_bytes_sha256(data));
}

#[test]
fn executable_bits_are_read_as_pip_reads_them() {
    let attributes = |external, dos| Kind::Attributes { data: b"#!/bin/sh\n".to_vec(), external, dos };
    let wheel = Wheel::demo()
        // A bare permission without a file type: pip leaves it not executable.
        .member("demo/bare", attributes(0o755 << 16, false))
        // Written on Windows with a Unix mode in the high bits: pip honours them.
        .member("demo/from-windows", attributes(0o100755 << 16, true))
        .member("demo/plain-from-windows", attributes(0o100644 << 16 | 0x20, true));
    let manifest = unpack_with(&wheel, |_| {}).0.unwrap();
    let executable = |path: &str| manifest.files.iter().find(|f| f.path == path).unwrap().executable;
    assert!(!executable("demo/bare"));
    assert!(executable("demo/from-windows"));
    assert!(!executable("demo/plain-from-windows"));
}

/// pip takes any top-level `*.data` directory for the data directory: one spelled unlike the
/// dist-info still holds scripts and data, not packages; two are refused.
#[test]
fn a_data_directory_spelled_otherwise_is_the_data_directory() {
    let wheel = Wheel::demo()
        .remove("demo-1.0.data/scripts/run")
        .remove("demo-1.0.data/scripts/tool.sh")
        .remove("demo-1.0.data/data/share/x.txt")
        .exec("Demo-1.0.data/scripts/run", b"#!python\nprint(1)\n");
    let manifest = unpack_with(&wheel, |_| {}).0.unwrap();
    assert_eq!(manifest.data_dir, "Demo-1.0.data");
    check_refused(
        Wheel::demo().file("other.data/data/x", b"x"),
        "more than one .data directory: demo-1.0.data, other.data",
    );
}

#[test]
fn streamed_members_keep_shebang_and_mode() {
    let mut script = b"#!pythonw\n".to_vec();
    script.extend(noise(WHOLE as usize + CHUNK + 17));
    let manifest = unpack_with(&Wheel::demo().exec("demo-1.0.data/scripts/big", &script), |_| {}).0.unwrap();
    let file = manifest.files.iter().find(|f| f.path == "demo-1.0.data/scripts/big").unwrap();
    assert_eq!((file.size, file.executable, file.python_shebang), (script.len() as u64, true, true));
    assert_eq!(file.hash.to_string(), hash_bytes_sha256(&script));
}

#[test]
fn refuses_unsafe_names() {
    check_refused(Wheel::demo().file("../evil", b"x"), "../evil: unsafe path: '..' component");
    check_refused(Wheel::demo().file("demo/../../evil", b"x"), "unsafe path: '..' component");
    check_refused(Wheel::demo().file("/tmp/evil", b"x"), "/tmp/evil: unsafe path: absolute path");
    check_refused(Wheel::demo().file("demo\\evil", b"x"), "unsafe path: backslash in name");
    check_refused(
        Wheel::demo().member("demo/link", Kind::Symlink("/etc/passwd")),
        "demo/link: symlinks are not allowed in wheels",
    );
    check_refused(
        Wheel::demo().member("demo/fifo", Kind::Special(0o010644)),
        "demo/fifo: not a regular file (mode 10000)",
    );
    check_refused(
        Wheel::demo().file("demo/x", b"x").file("demo/x/y", b"y"),
        "demo/x: both a file and a directory",
    );
    check_refused(
        Wheel::demo().file("demo-1.0.data/evil/x", b"x"),
        "demo-1.0.data/evil/x: unknown .data scheme \"evil\"",
    );
}

#[test]
fn record_rows_for_files_the_archive_lacks_are_ignored_as_pip_does() {
    // An old `bdist_wheel` listed a DESCRIPTION.rst it did not pack; a hostile path in such a
    // row is as harmless, since nothing is written for it and installs write their own RECORD.
    let wheel = Wheel::demo().edit_record(|r| {
        for path in [format!("{DI}/DESCRIPTION.rst"), "../../outside.py".into()] {
            r.push(RecordEntry { path, hash: Some("sha256=x".into()), size: Some(1) })
        }
    });
    let (manifest, tmp) = unpack_with(&wheel, |_| {});
    let manifest = manifest.unwrap();
    assert!(manifest.files.iter().all(|f| !f.path.contains("DESCRIPTION") && !f.path.contains("outside")));
    assert!(!tmp.path().join("dest").join(DI).join("DESCRIPTION.rst").exists());
}

#[test]
fn refuses_record_disagreements() {
    check_refused(
        Wheel::demo().edit_record(|r| init(r).hash = Some(hash_bytes_sha256(b"other"))),
        "demo/__init__.py: hash mismatch: RECORD says sha256=",
    );
    check_refused(
        Wheel::demo().edit_record(|r| init(r).size = Some(3)),
        "demo/__init__.py: size mismatch: RECORD says 3 bytes, content is 12",
    );
    check_refused(
        Wheel::demo().edit_record(|r| r.retain(|e| e.path != "demo/big.bin")),
        "demo/big.bin: not listed in RECORD",
    );
    check_refused(
        Wheel::demo().edit_record(|r| init(r).hash = None),
        "demo/__init__.py: listed in RECORD without a hash",
    );
    check_refused(
        Wheel::demo().edit_record(|r| init(r).hash = Some("md5=abc".into())),
        "demo/__init__.py: hash algorithm md5 is too weak",
    );
    check_refused(Wheel { with_record: false, ..Wheel::demo() }, "demo-1.0.dist-info/RECORD is missing");
}

#[test]
fn refuses_bad_metadata() {
    check_refused(
        Wheel::demo().file(&format!("{DI}/WHEEL"), b"Wheel-Version: 2.0\nRoot-Is-Purelib: true\n"),
        "demo-1.0.dist-info/WHEEL: unsupported Wheel-Version 2.0 (this installer reads up to 1.x)",
    );
    check_refused(
        Wheel::demo().remove(&format!("{DI}/WHEEL")),
        "demo-1.0.dist-info/WHEEL: missing from the archive",
    );
    check_refused(
        Wheel::demo().file(&format!("{DI}/METADATA"), b"Name: other\nVersion: 1.0\n"),
        "demo-1.0.dist-info/METADATA (Name: other, Version: 1.0) does not match the file name's demo-1.0",
    );
    check_refused(
        Wheel::demo().file(&format!("{DI}/entry_points.txt"), b"[console_scripts]\n../x = a:b\n"),
        "demo-1.0.dist-info/entry_points.txt: line 2: unsafe script name \"../x\"",
    );
    check_refused(
        Wheel { file_name: "demo-1.0.whl".into(), ..Wheel::demo() },
        "invalid wheel file name \"demo-1.0.whl\"",
    );
    check_refused(
        Wheel { file_name: "other-1.0-py3-none-any.whl".into(), ..Wheel::demo() },
        "demo-1.0.dist-info does not match the file name's other-1.0",
    );
    check_refused(
        Wheel { file_name: "demo-2.0-py3-none-any.whl".into(), ..Wheel::demo() },
        "demo-1.0.dist-info does not match the file name's demo-2.0",
    );
    check_refused(
        Wheel::demo().file("other-1.0.dist-info/METADATA", b"Name: other\nVersion: 1.0\n"),
        "more than one .dist-info directory: demo-1.0.dist-info, other-1.0.dist-info",
    );
    let no_dist_info =
        Wheel { members: Vec::new(), with_record: false, ..Wheel::demo() }.file("demo/__init__.py", b"");
    check_refused(no_dist_info, "no .dist-info directory at the top of the archive");
}

#[test]
fn refuses_corrupt_archives() {
    check_refused_mangled(Wheel::demo(), |b| b.truncate(b.len() / 2), "not a readable zip archive");
    check_refused_mangled(Wheel::demo(), |b| b.clear(), "not a readable zip archive");
    // Two central-directory entries with one name.
    let wheel = Wheel::demo().file("demo/aaa.py", b"a").file("demo/bbb.py", b"b");
    check_refused_mangled(
        wheel,
        |b| replace_bytes(b, b"demo/bbb.py", b"demo/aaa.py"),
        "demo/aaa.py: duplicate member name",
    );
    // A stored member whose bytes changed: the zip CRC catches it before the hash does.
    check_refused_mangled(
        Wheel::demo().member("demo/plain.txt", Kind::Stored(b"stored-content-marker".to_vec())),
        |b| replace_bytes(b, b"stored-content-marker", b"stored-content-MARKER"),
        "demo/plain.txt: cannot decompress",
    );
    // Flipped bytes inside a deflated member.
    check_refused_mangled(
        Wheel::demo(),
        |b| {
            let start = b.windows(12).position(|w| w == b"demo/big.bin").unwrap() + 12;
            for byte in &mut b[start + 1000..start + 1100] {
                *byte ^= 0x5a;
            }
        },
        "demo/big.bin: cannot decompress",
    );
    // A deflate stream that starts with the reserved block type, inflated whole (by
    // libdeflate) and streamed (by zip's reader).
    let mid = || Wheel::demo().file("demo/mid.txt", "text that deflates\n".repeat(5000).as_bytes());
    for (wheel, name) in [(mid(), "demo/mid.txt"), (mid(), "demo/big.bin")] {
        let expect = format!("{name}: cannot decompress");
        let reserved_block = |b: &mut Vec<u8>| {
            let at = data_start(b, name.as_bytes());
            b[at] = 0b111;
        };
        check_refused_mangled(wheel, reserved_block, &expect);
    }
    // Members `zip` reads itself rather than inflating them whole: an encrypted one (bit 0 of
    // the flags), one compressed by another method (12, bzip2, not built in).
    let patched = |field, value: u16| {
        move |b: &mut Vec<u8>| patch_headers(b, b"demo/__init__.py", field, &value.to_le_bytes())
    };
    for (field, value, why) in [(FLAGS, 1, "Password required"), (METHOD, 12, "not supported")] {
        match unpack_with(&Wheel::demo(), patched(field, value)).0 {
            Ok(_) => panic!("accepted a member with field {field:?} = {value}"),
            Err(message) => {
                assert!(message.starts_with("demo/__init__.py: cannot decompress"), "{message}");
                assert!(message.contains(why), "{message}");
            }
        }
    }
}

/// Offsets of a header field: in the local header, in the central directory's.
type Field = (usize, usize);
const FLAGS: Field = (6, 8);
const METHOD: Field = (8, 10);
const SIZE: Field = (22, 24);

/// Where the data of member `name` starts in the archive.
fn data_start(bytes: &[u8], name: &[u8]) -> usize {
    let at = (0..bytes.len() - 30)
        .find(|&i| &bytes[i..i + 4] == b"PK\x03\x04" && bytes[i + 30..].starts_with(name))
        .expect("local header");
    let u16_at = |i: usize| usize::from(u16::from_le_bytes([bytes[i], bytes[i + 1]]));
    at + 30 + u16_at(at + 26) + u16_at(at + 28)
}

#[test]
fn refuses_member_larger_than_declared() {
    // Headers and RECORD agree on 5 bytes; the data inflates to 12 (whole).
    let wheel = Wheel::demo().edit_record(|r| init(r).size = Some(5));
    let size = 5u32.to_le_bytes();
    check_refused_mangled(wheel, |b| patch_headers(b, b"demo/__init__.py", SIZE, &size), "larger than");
    // The same for a streamed member.
    let declared = BIG as u64 - 1000;
    let wheel = Wheel::demo().edit_record(move |r| {
        r.iter_mut().find(|e| e.path == "demo/big.bin").unwrap().size = Some(declared);
    });
    let size = (declared as u32).to_le_bytes();
    check_refused_mangled(wheel, |b| patch_headers(b, b"demo/big.bin", SIZE, &size), "larger than");
}

#[test]
fn refuses_member_smaller_than_declared() {
    // Headers and RECORD agree on 20 bytes; the data inflates to 12.
    let wheel = Wheel::demo().edit_record(|r| init(r).size = Some(20));
    let size = 20u32.to_le_bytes();
    check_refused_mangled(
        wheel,
        |b| patch_headers(b, b"demo/__init__.py", SIZE, &size),
        "demo/__init__.py: size mismatch: RECORD says 20 bytes, content is 12",
    );
}

/// Sets `field` of member `name` to `value`, in its local and central headers.
fn patch_headers(bytes: &mut [u8], name: &[u8], (local, central): Field, value: &[u8]) {
    let mut patched = 0;
    for i in 0..bytes.len().saturating_sub(46 + name.len()) {
        let (field_at, name_at) = match &bytes[i..i + 4] {
            b"PK\x03\x04" => (local, 30),
            b"PK\x01\x02" => (central, 46),
            _ => continue,
        };
        if &bytes[i + name_at..i + name_at + name.len()] == name {
            bytes[i + field_at..i + field_at + value.len()].copy_from_slice(value);
            patched += 1;
        }
    }
    assert_eq!(patched, 2);
}

#[test]
fn enforces_limits() {
    let bomb = Wheel::demo().file("demo/zeros.bin", &vec![0u8; 20 << 20]);
    check_refused(bomb, "demo/zeros.bin: compression ratio 10");
    let limited = |limits: Limits| Wheel { limits, ..Wheel::demo() };
    check_refused(
        limited(Limits { max_members: 5, ..Limits::default() }),
        "archive: member count 11 exceeds the limit of 5",
    );
    check_refused(
        limited(Limits { max_total_size: 1000, ..Limits::default() }),
        "archive: total uncompressed size 1200012 exceeds the limit of 1000",
    );
    check_refused(
        limited(Limits { max_path_len: 20, ..Limits::default() }),
        "demo-1.0.data/scripts/run: path length 25 exceeds the limit of 20",
    );
    check_refused(
        limited(Limits { max_metadata_size: 10, ..Limits::default() }),
        "demo-1.0.dist-info/WHEEL: size 59 exceeds the limit of 10",
    );
}

/// A few members, but a RECORD or `entry_points.txt` of more lines than the member cap: tiny
/// lines compress to nothing, and each would cost memory (and each entry point a launcher).
#[test]
fn record_rows_and_entry_points_count_against_the_member_cap() {
    let limits = Limits { max_members: 20, ..Limits::default() };
    let padded = Wheel { limits: limits.clone(), ..Wheel::demo() }.edit_record(|rows| {
        rows.extend((0..30).map(|i| RecordEntry { path: format!("absent/{i}"), hash: None, size: None }))
    });
    check_refused(padded, "demo-1.0.dist-info/RECORD: line count 40 exceeds the limit of 20");
    let scripts: String = (0..30).map(|i| format!("s{i} = demo.cli:main\n")).collect();
    let launchers = Wheel { limits, ..Wheel::demo() }
        .file(&format!("{DI}/entry_points.txt"), format!("[console_scripts]\n{scripts}").as_bytes());
    check_refused(launchers, "demo-1.0.dist-info/entry_points.txt: line count 31 exceeds the limit of 20");
}
