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
    pub size: Option<u64>,
}

/// Parses RECORD. Every non-empty row must have exactly three fields (path, hash, size), as
/// the spec says; the hash is only checked for shape here, [`RecordHasher::new`] judges the
/// algorithm.
pub fn parse_record(text: &str) -> Result<Vec<RecordEntry>, String> {
    let mut entries = Vec::new();
    for (line, row) in CsvRows::new(text) {
        let row = row.map_err(|e| format!("line {line}: {e}"))?;
        if row.is_empty() {
            continue;
        }
        let [path, hash, size] = <[String; 3]>::try_from(row).map_err(|row| {
            format!("line {line}: expected 3 fields (path, hash, size), found {}", row.len())
        })?;
        if path.is_empty() {
            return Err(format!("line {line}: empty path"));
        }
        let hash = match hash.as_str() {
            "" => None,
            h if h.split_once('=').is_some_and(|(a, d)| !a.is_empty() && !d.is_empty()) => Some(hash),
            _ => return Err(format!("line {line}: hash {hash:?} is not of the form algorithm=digest")),
        };
        let size = match size.as_str() {
            "" => None,
            s => Some(s.parse::<u64>().map_err(|_| format!("line {line}: invalid size {s:?}"))?),
        };
        entries.push(RecordEntry { path, hash, size });
    }
    Ok(entries)
}

/// The paths an installed RECORD lists, and nothing else of it: how pip reads one to uninstall
/// (the first field of each row), so that a RECORD another tool wrote with two fields or a
/// stray hash still lets its distribution be removed or replaced. Only a row that is not CSV
/// at all is an error.
pub fn parse_record_paths(text: &str) -> Result<Vec<String>, String> {
    let mut paths = Vec::new();
    for (line, row) in CsvRows::new(text) {
        let row = row.map_err(|e| format!("line {line}: {e}"))?;
        if let Some(path) = row.into_iter().next().filter(|p| !p.is_empty()) {
            paths.push(path);
        }
    }
    Ok(paths)
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

fn push_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// Rows of a CSV text in Python's default ("excel", non-strict) dialect, each with the line
/// number it starts on. An empty line is an empty row.
struct CsvRows<'a> {
    rest: &'a str,
    line: usize,
}

impl<'a> CsvRows<'a> {
    fn new(text: &'a str) -> Self {
        CsvRows { rest: text, line: 1 }
    }

    fn next_row(&mut self) -> Result<Vec<String>, String> {
        let mut row = Vec::new();
        let mut field = String::new();
        let mut chars = self.rest.char_indices().peekable();
        // Byte offset just after the line break that ends the row.
        let mut end = self.rest.len();
        let mut quoted = false;
        let mut field_started = false;
        while let Some((_, c)) = chars.next() {
            if quoted {
                match c {
                    '"' if chars.next_if(|&(_, c)| c == '"').is_some() => field.push('"'),
                    '"' => quoted = false,
                    '\n' => {
                        self.line += 1;
                        field.push(c);
                    }
                    _ => field.push(c),
                }
                continue;
            }
            match c {
                ',' => {
                    row.push(std::mem::take(&mut field));
                    field_started = false;
                }
                '"' if !field_started => {
                    quoted = true;
                    field_started = true;
                }
                '\r' | '\n' => {
                    if c == '\r' {
                        chars.next_if(|&(_, c)| c == '\n');
                    }
                    end = chars.peek().map_or(self.rest.len(), |&(j, _)| j);
                    break;
                }
                _ => {
                    // Like Python's non-strict reader, text after a closing quote or a quote
                    // inside an unquoted field is kept as is.
                    field.push(c);
                    field_started = true;
                }
            }
        }
        if quoted {
            return Err("unterminated quoted field".to_string());
        }
        if field_started || !field.is_empty() || !row.is_empty() {
            row.push(field);
        }
        self.rest = &self.rest[end..];
        self.line += 1;
        Ok(row)
    }
}

impl Iterator for CsvRows<'_> {
    type Item = (usize, Result<Vec<String>, String>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let line = self.line;
        let row = self.next_row();
        if row.is_err() {
            self.rest = "";
        }
        Some((line, row))
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
    Sha256(Sha256),
    Sha384(Sha384),
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
        assert_eq!(err("a,,\nb,sha256=x\n"), "line 2: expected 3 fields (path, hash, size), found 2");
        assert_eq!(err("a,sha256=x,1,extra\n"), "line 1: expected 3 fields (path, hash, size), found 4");
        assert_eq!(err("a,sha256=x,-1\n"), "line 1: invalid size \"-1\"");
        assert_eq!(err("a,abc,1\n"), "line 1: hash \"abc\" is not of the form algorithm=digest");
        assert_eq!(err("\"a\nb,,\n"), "line 1: unterminated quoted field");
        assert_eq!(err("x,,\n\"a\nb\",,\n,,\n"), "line 4: empty path");
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
