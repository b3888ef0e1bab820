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
    /// [`MANIFEST_FORMAT`] when written; an entry of another format is unpacked again.
    pub format: u32,
    /// The wheel's file name, e.g. `foo-1.0-py3-none-any.whl`.
    pub wheel: String,
    /// The distribution name as spelled in the `.dist-info` directory.
    pub name: String,
    /// As spelled in the `.dist-info` directory (checked against the file name's).
    pub version: String,
    /// Hex SHA-256 of the whole archive: the cache key, and the hash in `direct_url.json`.
    pub archive_sha256: String,
    /// `{name}-{version}.dist-info`
    pub dist_info: String,
    /// `{name}-{version}.data`
    pub data_dir: String,
    /// `Root-Is-Purelib` from `WHEEL`: whether the root goes to purelib or platlib.
    pub root_is_purelib: bool,
    /// `Wheel-Version` when newer than the one this installer implements: every install of
    /// the entry warns, as pip's does (absent in manifests of older releases: no warning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_wheel_version: Option<String>,
    /// `Requires-Python` of `METADATA`: `Some(None)` when the wheel declares none. `None` in
    /// manifests of older releases, which did not record it: the install reads the entry's
    /// `METADATA` then.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recorded")]
    pub requires_python: Option<Option<String>>,
    /// Every directory of the unpacked tree (relative, `/`-separated), parents first.
    pub dirs: Vec<String>,
    /// Every regular file of the tree except `RECORD`, which installs rewrite.
    pub files: Vec<ManifestFile>,
    /// `console_scripts` and `gui_scripts` from `entry_points.txt`.
    pub entry_points: Vec<EntryPoint>,
}

/// A field that is present, even as `null`: `Some` of its value (serde gives an absent field
/// its default, `None`, without calling this).
fn recorded<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// One verified file of an unpacked wheel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Relative path inside the wheel, `/`-separated, as in RECORD.
    pub path: String,
    /// Bytes, checked against RECORD while unpacking; `cache verify` and layers check it again.
    pub size: u64,
    /// SHA-256 of the content, checked while unpacking (against RECORD's own algorithm).
    pub hash: Sha256Digest,
    /// The archive member had an execute bit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executable: bool,
    /// The file starts with `#!python` (or `#!pythonw`); under `.data/scripts` its first line
    /// is rewritten to the environment's interpreter on install.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub python_shebang: bool,
}

/// A SHA-256 digest: 32 bytes in memory (a 100,000-file install holds one per file), and
/// `sha256=<urlsafe base64, no padding>` as RECORD spells it in manifests and messages.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// The digest of `bytes` held in memory.
    pub fn of(bytes: &[u8]) -> Sha256Digest {
        use sha2::Digest;
        Sha256Digest(sha2::Sha256::digest(bytes).into())
    }

    /// The digest of the file at `path`, read sequentially.
    pub fn of_file(path: &std::path::Path) -> std::io::Result<Sha256Digest> {
        Sha256Digest::of_reader(std::fs::File::open(path)?)
    }

    /// The digest of everything `file` reads from where it stands.
    pub fn of_reader(mut file: impl std::io::Read) -> std::io::Result<Sha256Digest> {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 128 * 1024];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(Sha256Digest(hasher.finalize().into()))
    }

    /// Lower-case hex, as `sha256sum` prints it and cache entry ids are named.
    pub fn hex(&self) -> String {
        use std::fmt::Write;
        self.0.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// Parses RECORD's spelling; `None` for another algorithm or a malformed digest.
    pub fn from_record(text: &str) -> Option<Sha256Digest> {
        use base64::Engine;
        let encoded = text.strip_prefix("sha256=")?.trim_end_matches('=');
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded).ok()?;
        Some(Sha256Digest(bytes.try_into().ok()?))
    }
}

impl std::fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use base64::Engine;
        write!(f, "sha256={}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl std::fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Sha256Digest::from_record(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a sha256=<base64> digest: {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_round_trip_through_records_spelling() {
        let text = crate::wheel::record::hash_bytes_sha256(b"hello");
        let digest = Sha256Digest::from_record(&text).unwrap();
        assert_eq!(digest.to_string(), text);
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(serde_json::from_str::<Sha256Digest>(&json).unwrap(), digest);
        assert_eq!(Sha256Digest::from_record(&format!("{text}=")), Some(digest), "padding is allowed");
        assert_eq!(Sha256Digest::from_record("sha512=AAAA"), None);
        assert_eq!(Sha256Digest::from_record("sha256=AAAA"), None, "too short");
        assert!(serde_json::from_str::<Sha256Digest>("\"md5=x\"").is_err());
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), b"hello").unwrap();
        assert_eq!(Sha256Digest::of_file(tmp.path()).unwrap(), digest);
    }

    #[test]
    fn requires_python_tells_none_declared_from_not_recorded() {
        let manifest = |field: &str| {
            let json = format!(
                r#"{{"format":1,"wheel":"a-1-py3-none-any.whl","name":"a","version":"1","archive_sha256":"",
                "dist_info":"a-1.dist-info","data_dir":"a-1.data","root_is_purelib":true,{field}
                "dirs":[],"files":[],"entry_points":[]}}"#
            );
            serde_json::from_str::<Manifest>(&json).unwrap()
        };
        let read = |field| manifest(field).requires_python;
        assert_eq!(read(r#""requires_python":">=3.10","#), Some(Some(">=3.10".into())));
        assert_eq!(read(r#""requires_python":null,"#), Some(None), "declared none");
        assert_eq!(read(""), None, "a manifest of an older release");
        let written = |value| {
            let json = serde_json::to_value(Manifest { requires_python: value, ..manifest("") }).unwrap();
            json.get("requires_python").cloned()
        };
        assert_eq!(written(Some(None)), Some(serde_json::Value::Null));
        assert_eq!(written(None), None);
    }
}
