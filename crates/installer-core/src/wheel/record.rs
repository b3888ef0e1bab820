//! RECORD files (packaging.python.org, "Recording installed projects"): CSV of path, hash, size.
//!
//! Read and written with the semantics of Python's `csv` module (the tools that write RECORD
//! use it), so paths with commas, quotes or newlines survive a round trip.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// One row of RECORD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEntry {
    /// Relative to the site-packages directory (or the wheel root), `/`-separated.
    pub path: String,
    /// `algorithm=<urlsafe base64, no padding>`; `None` for RECORD itself and `.pyc` files.
    pub hash: Option<String>,
    /// Bytes; `None` when the row leaves it empty, as for RECORD itself.
    pub size: Option<u64>,
}

/// Parses RECORD. Every non-empty row must have exactly three fields (path, hash, size), as
/// the spec says; the hash is only checked for shape here, [`RecordHasher::new`] judges the
/// algorithm.
pub fn parse_record(text: &str) -> Result<Vec<RecordEntry>, String> {
    let mut entries = Vec::new();
    for_each_row(text, |row| {
        if row.len() != 3 {
            return Err(format!("expected 3 fields (path, hash, size), found {}", row.len()));
        }
        let (path, hash, size) = (&row[0], &row[1], &row[2]);
        if path.is_empty() {
            return Err("empty path".to_string());
        }
        let hash = match hash {
            "" => None,
            h if h.split_once('=').is_some_and(|(a, d)| !a.is_empty() && !d.is_empty()) => {
                Some(h.to_string())
            }
            _ => return Err(format!("hash {hash:?} is not of the form algorithm=digest")),
        };
        let size = match size {
            "" => None,
            s => Some(s.parse::<u64>().map_err(|_| format!("invalid size {s:?}"))?),
        };
        entries.push(RecordEntry { path: path.to_string(), hash, size });
        Ok(())
    })?;
    Ok(entries)
}

/// The paths an installed RECORD lists, and nothing else of it: how pip reads one to uninstall
/// (the first field of each row), so that a RECORD another tool wrote with two fields or a
/// stray hash still lets its distribution be removed or replaced. Only a row that is not CSV
/// at all is an error.
pub fn parse_record_paths(text: &str) -> Result<Vec<String>, String> {
    let mut paths = Vec::new();
    for_each_row(text, |row| {
        if let Some(path) = row.get(0).filter(|p| !p.is_empty()) {
            paths.push(path.to_string());
        }
        Ok(())
    })?;
    Ok(paths)
}

/// Calls `f` with each row of `text` read as Python's `csv.reader` reads it in its default
/// ("excel") dialect, non-strict: `,` between fields, `"` quoting with `""` for a quote, no
/// escape character, a row ended by CRLF, CR or LF; text after a closing quote, or a quote
/// inside an unquoted field, kept as is; a quoted field left open takes the rest of the text.
/// Empty lines are skipped (Python reads them as empty rows, which RECORD's readers skip), and
/// so is a UTF-8 byte-order mark at the start, as uv's reader (the same crate) drops it: kept,
/// it would stick to the first path, and the wheel be refused for a member "not listed in
/// RECORD". An error, from `f` or the reader, is prefixed with `row N:`, counting the rows
/// from 1 (empty lines are not rows; a row may span lines inside quotes).
fn for_each_row(
    text: &str,
    mut f: impl FnMut(&csv::StringRecord) -> Result<(), String>,
) -> Result<(), String> {
    // csv-core strips the mark too, but only when its first buffer holds all of it: say it once.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut row = csv::StringRecord::new();
    loop {
        let number = reader.position().record() + 1;
        match reader.read_record(&mut row) {
            Ok(true) => f(&row).map_err(|e| format!("row {number}: {e}"))?,
            Ok(false) => return Ok(()),
            Err(e) => return Err(format!("row {number}: {e}")),
        }
    }
}

/// Renders RECORD as Python's `csv.writer(f, lineterminator="\n")` would: fields quoted only
/// when they contain a comma, a quote or a line break. pip keeps the csv module's default `\r\n`
/// line ends; `\n` is what uv and `bdist_wheel` write, and every reader (pip's, `importlib.metadata`,
/// [`parse_record`]) takes both.
pub fn write_record(entries: &[RecordEntry]) -> String {
    let mut out = String::with_capacity(entries.len() * 80);
    for entry in entries {
        push_row(&mut out, &entry.path, entry.hash.as_ref().map(|h| h as &dyn std::fmt::Display), entry.size);
    }
    out
}

/// Appends one row of RECORD to `out`, as [`write_record`] does, without a [`RecordEntry`]
/// (an install writes one row per file: no allocation per row). `hash` is written as it
/// displays, `algorithm=<base64>`, which never needs quoting.
pub fn push_row(out: &mut String, path: &str, hash: Option<&dyn std::fmt::Display>, size: Option<u64>) {
    use std::fmt::Write;
    push_field(out, path);
    out.push(',');
    if let Some(hash) = hash {
        let _ = write!(out, "{hash}");
    }
    out.push(',');
    if let Some(size) = size {
        let _ = write!(out, "{size}");
    }
    out.push('\n');
}

/// One field, quoted as the csv crate's writer and Python's (`QUOTE_MINIMAL`) quote it: when it
/// holds a comma, a quote, CR or LF, quotes doubled inside (test `quotes_as_the_csv_writer`).
/// Written here rather than through `csv::Writer` because that one writes to an `io::Write`
/// through its own buffer: behind [`push_row`]'s `&mut String` it would cost a writer (and its
/// buffer) per row and a UTF-8 check of what it wrote, where this appends in place. One more
/// case than Python: a field starting with a byte-order mark is quoted, since
/// [`parse_record`] drops a mark that starts the text (the round trip stays exact).
fn push_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) || field.starts_with('\u{feff}') {
        out.push('"');
        for (i, part) in field.split('"').enumerate() {
            if i > 0 {
                out.push_str("\"\"");
            }
            out.push_str(part);
        }
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// `sha256=<urlsafe base64, no padding>` of `data`: the form RECORD and the manifest use.
pub fn hash_bytes_sha256(data: &[u8]) -> String {
    format!("sha256={}", URL_SAFE_NO_PAD.encode(Sha256::digest(data)))
}

/// Hashes a file while it streams past, with the algorithm its RECORD entry names, so the
/// data is read once.
#[derive(Clone)]
pub enum RecordHasher {
    /// `sha256`: what pip, uv and `bdist_wheel` write.
    Sha256(Sha256),
    /// `sha384`: allowed by the spec, rarely written.
    Sha384(Sha384),
    /// `sha512`: allowed by the spec, rarely written.
    Sha512(Sha512),
}

impl RecordHasher {
    /// A hasher for `algorithm` (the part of a RECORD hash before `=`). md5 and sha1 are
    /// refused: the spec forbids them because they no longer protect against forgery.
    pub fn new(algorithm: &str) -> Result<Self, String> {
        match algorithm {
            "sha256" => Ok(RecordHasher::Sha256(Sha256::new())),
            "sha384" => Ok(RecordHasher::Sha384(Sha384::new())),
            "sha512" => Ok(RecordHasher::Sha512(Sha512::new())),
            "md5" | "sha1" => {
                Err(format!("hash algorithm {algorithm} is too weak (RECORD must use sha256 or stronger)"))
            }
            _ => Err(format!("unsupported hash algorithm {algorithm:?} (expected sha256, sha384 or sha512)")),
        }
    }

    /// The algorithm's name as RECORD spells it.
    pub fn algorithm(&self) -> &'static str {
        match self {
            RecordHasher::Sha256(_) => "sha256",
            RecordHasher::Sha384(_) => "sha384",
            RecordHasher::Sha512(_) => "sha512",
        }
    }

    /// Feeds the next bytes of the file, in order.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            RecordHasher::Sha256(h) => h.update(data),
            RecordHasher::Sha384(h) => h.update(data),
            RecordHasher::Sha512(h) => h.update(data),
        }
    }

    /// `algorithm=<urlsafe base64, no padding>`, comparable with a RECORD entry through
    /// [`hashes_equal`].
    pub fn finish(self) -> String {
        let algorithm = self.algorithm();
        let digest = match self {
            RecordHasher::Sha256(h) => URL_SAFE_NO_PAD.encode(h.finalize()),
            RecordHasher::Sha384(h) => URL_SAFE_NO_PAD.encode(h.finalize()),
            RecordHasher::Sha512(h) => URL_SAFE_NO_PAD.encode(h.finalize()),
        };
        format!("{algorithm}={digest}")
    }
}

/// Whether a RECORD hash and a computed one are the same, tolerating `=` padding, which some
/// tools leave on despite the spec.
pub fn hashes_equal(record: &str, computed: &str) -> bool {
    record.trim_end_matches('=') == computed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, hash: Option<&str>, size: Option<u64>) -> RecordEntry {
        RecordEntry { path: path.into(), hash: hash.map(Into::into), size }
    }

    #[test]
    fn installed_record_paths_are_read_as_pip_reads_them() {
        let text = "a.py,sha256=x,1\nb.py,\nc.py\n\nd.py,md5,big,extra\n\"e,f.py\",,\n";
        assert_eq!(parse_record_paths(text).unwrap(), ["a.py", "b.py", "c.py", "d.py", "e,f.py"]);
        assert!(parse_record(text).is_err(), "the strict reader refuses what the paths reader takes");
    }

    #[test]
    fn parses_plain_quoted_and_crlf() {
        let text =
            "a/b.py,sha256=abc,12\r\n\"c,d.py\",sha256=x,3\n\"q\"\"uote\nnl\",,\n\nfoo.dist-info/RECORD,,\n";
        assert_eq!(
            parse_record(text).unwrap(),
            vec![
                entry("a/b.py", Some("sha256=abc"), Some(12)),
                entry("c,d.py", Some("sha256=x"), Some(3)),
                entry("q\"uote\nnl", None, None),
                entry("foo.dist-info/RECORD", None, None),
            ]
        );
        // No final newline; a lone CR ends a row too.
        assert_eq!(parse_record("a,,\rb,,").unwrap(), vec![entry("a", None, None), entry("b", None, None)]);
    }

    #[test]
    fn record_errors() {
        let err = |t| parse_record(t).unwrap_err();
        assert_eq!(err("a,,\nb,sha256=x\n"), "row 2: expected 3 fields (path, hash, size), found 2");
        assert_eq!(err("a,sha256=x,1,extra\n"), "row 1: expected 3 fields (path, hash, size), found 4");
        assert_eq!(err("a,sha256=x,-1\n"), "row 1: invalid size \"-1\"");
        assert_eq!(err("a,abc,1\n"), "row 1: hash \"abc\" is not of the form algorithm=digest");
        // A quoted field left open takes the rest of the text, as in Python's non-strict reader.
        assert_eq!(err("\"a\nb,,\n"), "row 1: expected 3 fields (path, hash, size), found 1");
        assert_eq!(parse_record_paths("a,,\n\"b").unwrap(), ["a", "b"]);
        assert_eq!(err("x,,\n\"a\nb\",,\n,,\n"), "row 3: empty path");
        // Rows counted from 1; empty lines are not rows.
        assert_eq!(err("a,,\n\n\r\nb,,x\n"), "row 2: invalid size \"x\"");
        // A quote that closes at the very end is no error.
        assert_eq!(parse_record("a,,\"\"").unwrap(), vec![entry("a", None, None)]);
        assert_eq!(parse_record("\"a\"\"\",,").unwrap(), vec![entry("a\"", None, None)]);
    }

    #[test]
    fn reads_text_around_quotes_as_python_non_strict() {
        // After a closing quote, and for a quote inside an unquoted field, the text is kept.
        assert_eq!(
            parse_record("\"a\"b,,\nc\"d\",,\n \"e\",,\n").unwrap(),
            vec![entry("ab", None, None), entry("c\"d\"", None, None), entry(" \"e\"", None, None)]
        );
    }

    #[test]
    fn a_byte_order_mark_starting_record_is_not_part_of_the_first_path() {
        let text = "\u{feff}a.py,sha256=x,1\r\n\u{feff}b.py,,\r\n";
        let expected = vec![entry("a.py", Some("sha256=x"), Some(1)), entry("\u{feff}b.py", None, None)];
        assert_eq!(parse_record(text).unwrap(), expected);
        assert_eq!(parse_record_paths(text).unwrap(), ["a.py", "\u{feff}b.py"]);
        assert_eq!(parse_record("\u{feff}a,,\nb,,x\n").unwrap_err(), "row 2: invalid size \"x\"");
        // A path that does start with one is quoted, so that it survives the round trip.
        let entries = vec![entry("\u{feff}a", None, None)];
        assert_eq!(write_record(&entries), "\"\u{feff}a\",,\n");
        assert_eq!(parse_record(&write_record(&entries)).unwrap(), entries);
    }

    #[test]
    fn quotes_as_the_csv_writer() {
        for path in ["a/b.py", "c,d", "q\"uote", "\"", "cr\rlf\r\n", "nl\n", " sp ", "#x", "b\\s", "é,"] {
            let mut ours = String::new();
            push_row(&mut ours, path, Some(&"sha256=x"), Some(3));
            let mut writer =
                csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(vec![]);
            writer.write_record([path, "sha256=x", "3"]).unwrap();
            assert_eq!(ours.as_bytes(), writer.into_inner().unwrap(), "{path:?}");
        }
    }

    #[test]
    fn writes_like_python_csv() {
        let entries = vec![
            entry("a/b.py", Some("sha256=abc"), Some(12)),
            entry("c,d \"e\".py", None, None),
            entry("line\nbreak", Some("sha256=x"), Some(0)),
        ];
        let text = write_record(&entries);
        assert_eq!(text, "a/b.py,sha256=abc,12\n\"c,d \"\"e\"\".py\",,\n\"line\nbreak\",sha256=x,0\n");
        assert_eq!(parse_record(&text).unwrap(), entries);
    }

    #[test]
    fn hashes() {
        // Known value: sha256 of the empty string.
        assert_eq!(hash_bytes_sha256(b""), "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
        let mut h = RecordHasher::new("sha256").unwrap();
        h.update(b"hello ");
        h.update(b"world");
        assert_eq!(h.finish(), hash_bytes_sha256(b"hello world"));
        for (alg, len) in [("sha384", 64), ("sha512", 86)] {
            let h = RecordHasher::new(alg).unwrap();
            assert_eq!(h.algorithm(), alg);
            let out = h.finish();
            assert!(out.starts_with(&format!("{alg}=")), "{out}");
            assert_eq!(out.len(), alg.len() + 1 + len);
        }
        assert_eq!(
            RecordHasher::new("md5").err().unwrap(),
            "hash algorithm md5 is too weak (RECORD must use sha256 or stronger)"
        );
        assert!(RecordHasher::new("crc32").is_err());
        assert!(hashes_equal("sha256=abc=", "sha256=abc"));
        assert!(!hashes_equal("sha256=abd", "sha256=abc"));
    }
}
