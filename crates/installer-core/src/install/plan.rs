//! The install plan: where every file of every cache entry goes in the environment, what is
//! generated (launchers, rewritten scripts, installer metadata), and what it replaces. Pure
//! bookkeeping over manifests: nothing here touches the environment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::cache::CacheEntry;
use crate::installed::InstalledDist;
use crate::manifest::ManifestFile;
use crate::venv::Venv;
use crate::wheel::record::hash_bytes_sha256;
use crate::{script, Error, Result};

/// Files of a wheel's `.dist-info` that the installer writes itself.
const GENERATED_METADATA: [&str; 4] = ["RECORD", "INSTALLER", "REQUESTED", "direct_url.json"];

/// One wheel's part of the plan.
#[derive(Debug)]
pub(crate) struct WheelPlan {
    /// The wheel file as the user named it, for messages.
    pub wheel: PathBuf,
    pub entry: CacheEntry,
    pub files: Vec<PlannedFile>,
    /// The installed distribution this one replaces (an older version, or `--reinstall`).
    pub replaces: Option<InstalledDist>,
    /// `<site-packages>/<dist-info>/RECORD`, written last.
    pub record: PathBuf,
}

/// A file to create in the environment.
#[derive(Debug)]
pub(crate) struct PlannedFile {
    pub dst: PathBuf,
    pub source: Source,
}

#[derive(Debug)]
pub(crate) enum Source {
    /// Linked (or copied) from the entry's tree; the index into its manifest's files.
    Entry(usize),
    /// Written from memory: launchers, rewritten scripts, installer metadata.
    Generated { content: Vec<u8>, executable: bool },
}

/// Where each part of a wheel goes in this environment (the "install scheme").
struct Scheme<'a> {
    venv: &'a Venv,
    /// `{name}-{version}.data/`
    data_prefix: String,
    /// For `.data/headers`: pip uses the project name from METADATA.
    project_name: String,
}

impl Scheme<'_> {
    /// The destination of a wheel path, or `None` for files the installer writes itself.
    fn destination(&self, path: &str, dist_info: &str) -> Option<PathBuf> {
        if let Some(rest) = path.strip_prefix(&self.data_prefix) {
            let (scheme, sub) = rest.split_once('/')?;
            let base = match scheme {
                "purelib" | "platlib" => self.venv.site_packages().to_path_buf(),
                "scripts" => self.venv.scripts().to_path_buf(),
                "headers" => self.venv.headers(&self.project_name),
                "data" => self.venv.data().to_path_buf(),
                // The wheel reader refuses other schemes before a plan is made.
                _ => return None,
            };
            return Some(base.join(sub));
        }
        if let Some(name) = path.strip_prefix(dist_info).and_then(|p| p.strip_prefix('/')) {
            if GENERATED_METADATA.contains(&name) {
                return None;
            }
        }
        Some(self.venv.site_packages().join(path))
    }
}

/// Plans one wheel: its files, scripts and metadata. `direct_url` is the wheel's `file://` URL.
pub(crate) fn plan_wheel(
    venv: &Venv,
    wheel: &Path,
    entry: CacheEntry,
    replaces: Option<InstalledDist>,
) -> Result<WheelPlan> {
    let manifest = entry.manifest();
    let scheme = Scheme {
        venv,
        data_prefix: format!("{}/", manifest.data_dir),
        project_name: project_name(&entry).unwrap_or_else(|| manifest.name.clone()),
    };
    let scripts_prefix = format!("{}/scripts/", manifest.data_dir);
    let mut files = Vec::with_capacity(manifest.files.len() + manifest.entry_points.len() + 3);
    for (index, file) in manifest.files.iter().enumerate() {
        let Some(dst) = scheme.destination(&file.path, &manifest.dist_info) else { continue };
        let source = if file.python_shebang && file.path.starts_with(&scripts_prefix) {
            rewritten_script(&entry, file, venv)?
        } else {
            Source::Entry(index)
        };
        files.push(PlannedFile { dst, source });
    }
    for entry_point in &script::scripts_to_generate(&manifest.entry_points, venv.python_version()) {
        let content = script::launcher(entry_point, venv.python()).ok_or_else(|| Error::Wheel {
            wheel: wheel.to_path_buf(),
            source: crate::wheel::WheelError::Metadata {
                file: format!("{}/entry_points.txt", manifest.dist_info),
                reason: format!(
                    "entry point `{}` names no object to call (`{}` without `:function`)",
                    entry_point.name, entry_point.module
                ),
            },
        })?;
        files.push(PlannedFile {
            dst: venv.scripts().join(&entry_point.name),
            source: Source::Generated { content, executable: true },
        });
    }
    let dist_info = venv.site_packages().join(&manifest.dist_info);
    let metadata = [
        ("INSTALLER", b"installer\n".to_vec()),
        ("REQUESTED", Vec::new()),
        ("direct_url.json", direct_url(wheel, &manifest.archive_sha256).into_bytes()),
    ];
    for (name, content) in metadata {
        files.push(PlannedFile {
            dst: dist_info.join(name),
            source: Source::Generated { content, executable: false },
        });
    }
    Ok(WheelPlan { wheel: wheel.to_path_buf(), entry, files, replaces, record: dist_info.join("RECORD") })
}

/// Refuses two wheels of one command that write the same path, naming both.
pub(crate) fn check_conflicts(plans: &[WheelPlan]) -> Result<()> {
    let mut owners: HashMap<&Path, usize> = HashMap::with_capacity(plans.iter().map(|p| p.files.len()).sum());
    for (index, plan) in plans.iter().enumerate() {
        for file in &plan.files {
            if let Some(&first) = owners.get(file.dst.as_path()) {
                if first != index {
                    return Err(Error::Conflict {
                        path: file.dst.clone(),
                        first: plans[first].wheel.clone(),
                        second: plan.wheel.clone(),
                    });
                }
            }
            owners.insert(&file.dst, index);
        }
    }
    Ok(())
}

/// The RECORD of an installed wheel: every planned file with its hash and size, paths relative
/// to site-packages as pip writes them, and RECORD itself without a hash.
pub(crate) fn record_for(plan: &WheelPlan, venv: &Venv, extra: &[(PathBuf, String, u64)]) -> String {
    use crate::wheel::record::{write_record, RecordEntry};
    let manifest = plan.entry.manifest();
    let mut entries: Vec<RecordEntry> = plan
        .files
        .iter()
        .map(|file| {
            let (hash, size) = match &file.source {
                Source::Entry(index) => {
                    let f = &manifest.files[*index];
                    (f.hash.clone(), f.size)
                }
                Source::Generated { content, .. } => (hash_bytes_sha256(content), content.len() as u64),
            };
            RecordEntry { path: record_path(venv, &file.dst), hash: Some(hash), size: Some(size) }
        })
        .collect();
    entries.extend(extra.iter().map(|(path, hash, size)| RecordEntry {
        path: record_path(venv, path),
        hash: Some(hash.clone()),
        size: Some(*size),
    }));
    entries.push(RecordEntry { path: record_path(venv, &plan.record), hash: None, size: None });
    write_record(&entries)
}

/// `path` relative to site-packages, with `/` separators (`../../../bin/tool` for scripts).
pub(crate) fn record_path(venv: &Venv, path: &Path) -> String {
    let site = venv.site_packages();
    let relative = match path.strip_prefix(site) {
        Ok(inside) => inside.to_path_buf(),
        Err(_) => {
            let up = site.strip_prefix(venv.root()).map_or(0, |p| p.components().count());
            let mut rel = PathBuf::from("../".repeat(up));
            rel.push(path.strip_prefix(venv.root()).unwrap_or(path));
            rel
        }
    };
    let text = relative.to_string_lossy();
    if std::path::MAIN_SEPARATOR == '/' {
        text.into_owned()
    } else {
        text.replace(std::path::MAIN_SEPARATOR, "/")
    }
}

/// A `.data/scripts` file whose `#!python` line names this environment's interpreter.
fn rewritten_script(entry: &CacheEntry, file: &ManifestFile, venv: &Venv) -> Result<Source> {
    let path = entry.tree().join(&file.path);
    let content = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
    let content = script::rewrite_python_shebang(&content, venv.python()).unwrap_or(content);
    Ok(Source::Generated { content, executable: file.executable })
}

/// The `Name:` of the entry's METADATA (read only for wheels with headers, as pip names the
/// headers directory after it).
fn project_name(entry: &CacheEntry) -> Option<String> {
    let manifest = entry.manifest();
    let headers = format!("{}/headers/", manifest.data_dir);
    if !manifest.files.iter().any(|f| f.path.starts_with(&headers)) {
        return None;
    }
    let text = std::fs::read_to_string(entry.tree().join(&manifest.dist_info).join("METADATA")).ok()?;
    crate::wheel::metadata::parse_metadata_name_version(&text).ok().map(|(name, _)| name)
}

/// PEP 610 `direct_url.json` for a wheel installed from a local file.
fn direct_url(wheel: &Path, sha256: &str) -> String {
    let absolute = std::path::absolute(wheel).unwrap_or_else(|_| wheel.to_path_buf());
    let url =
        format!("file://{}", percent_encoding::utf8_percent_encode(&absolute.to_string_lossy(), PATH_SET));
    serde_json::json!({
        "archive_info": { "hash": format!("sha256={sha256}"), "hashes": { "sha256": sha256 } },
        "url": url,
    })
    .to_string()
}

/// Characters escaped in a `file://` URL path (RFC 3986: everything but unreserved and `/`).
const PATH_SET: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'.').remove(b'_').remove(b'~');
