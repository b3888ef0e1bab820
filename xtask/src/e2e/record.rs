//! Reading what an installed distribution says about itself: RECORD (checked against the disk),
//! entry points (the scripts that must run) and the importable top-level names.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use sha2::{Digest, Sha256};

#[derive(Debug, PartialEq, Eq)]
pub struct Row {
    pub path: String,
    pub hash: String,
    pub size: String,
}

/// RECORD is CSV: fields may be quoted, with `""` for a quote inside.
pub fn parse_record(text: &str) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let fields = csv_fields(line).with_context(|| format!("RECORD line {}", n + 1))?;
        let [path, hash, size]: [String; 3] = fields
            .try_into()
            .map_err(|f: Vec<String>| anyhow::anyhow!("RECORD line {}: {} fields", n + 1, f.len()))?;
        rows.push(Row { path, hash, size });
    }
    Ok(rows)
}

fn csv_fields(line: &str) -> Result<Vec<String>> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        let field = fields.last_mut().unwrap();
        match (quoted, c) {
            (false, '"') if field.is_empty() => quoted = true,
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (false, ',') => fields.push(String::new()),
            (_, c) => field.push(c),
        }
    }
    if quoted {
        bail!("unterminated quote");
    }
    Ok(fields)
}

/// Every `*.dist-info` directory directly in `site_packages`.
pub fn dist_infos(site_packages: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(site_packages)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "dist-info") && path.is_dir() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Checks every installed RECORD against the disk (each hashed file exists with that hash and
/// size) and returns the set of files the RECORDs list, as absolute lexically-normal paths.
pub fn verify_records(site_packages: &Path) -> Result<BTreeSet<PathBuf>> {
    let mut listed = BTreeSet::new();
    for dist_info in dist_infos(site_packages)? {
        let record = dist_info.join("RECORD");
        let text = std::fs::read_to_string(&record).with_context(|| format!("{}", record.display()))?;
        for row in parse_record(&text).with_context(|| format!("{}", record.display()))? {
            let path = normalize(&site_packages.join(&row.path));
            if !path.exists() {
                bail!("{}: lists {} which does not exist", rel(&record, site_packages), row.path);
            }
            if let Some(expected) = row.hash.strip_prefix("sha256=") {
                let bytes = std::fs::read(&path).with_context(|| format!("{}", path.display()))?;
                let actual = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(&bytes));
                if actual != expected {
                    bail!(
                        "{}: hash of {} is {actual}, RECORD says {expected}",
                        rel(&record, site_packages),
                        row.path
                    );
                }
                if row.size != bytes.len().to_string() {
                    bail!(
                        "{}: {} has {} bytes, RECORD says {}",
                        rel(&record, site_packages),
                        row.path,
                        bytes.len(),
                        row.size
                    );
                }
            } else if !row.hash.is_empty() {
                bail!("{}: unexpected hash {} for {}", rel(&record, site_packages), row.hash, row.path);
            }
            listed.insert(path);
        }
    }
    Ok(listed)
}

/// The files the RECORDs of `site_packages` list (unchecked), relative to `root` (the venv's):
/// `bin/x` for `../../../bin/x`.
pub fn listed_paths(site_packages: &Path, root: &Path) -> Result<BTreeSet<String>> {
    let mut listed = BTreeSet::new();
    for dist_info in dist_infos(site_packages)? {
        let record = dist_info.join("RECORD");
        let text = std::fs::read_to_string(&record).with_context(|| format!("{}", record.display()))?;
        for row in parse_record(&text).with_context(|| format!("{}", record.display()))? {
            listed.insert(rel(&normalize(&site_packages.join(&row.path)), root));
        }
    }
    Ok(listed)
}

fn rel(path: &Path, base: &Path) -> String {
    path.strip_prefix(base).unwrap_or(path).display().to_string()
}

/// Resolve `.` and `..` without touching the disk (RECORD paths like `../../../bin/x`).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// Names in the `[console_scripts]` and `[gui_scripts]` sections of `entry_points.txt`.
pub fn script_names(entry_points: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_scripts = false;
    for line in entry_points.lines().map(str::trim) {
        if line.starts_with('[') {
            in_scripts = line == "[console_scripts]" || line == "[gui_scripts]";
        } else if in_scripts && !line.is_empty() && !line.starts_with('#') {
            if let Some((name, _)) = line.split_once('=') {
                names.push(name.trim().to_owned());
            }
        }
    }
    names
}

/// All entry-point scripts of the distributions installed in `site_packages`.
pub fn installed_scripts(site_packages: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for dist_info in dist_infos(site_packages)? {
        if let Ok(text) = std::fs::read_to_string(dist_info.join("entry_points.txt")) {
            names.extend(script_names(&text));
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// Modules to import to prove a distribution works, from its RECORD paths: a package with an
/// `__init__.py` is imported by name; a directory without one (a PEP 420 namespace, which
/// imports even when empty) through each of its subpackages and modules; top-level `.py` and
/// extension modules by name. Directories of data (`numpy.libs`) are not modules.
pub fn import_names<'a>(record_paths: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let paths: Vec<Vec<&str>> = record_paths
        .into_iter()
        .map(|p| p.split('/').collect::<Vec<_>>())
        .filter(|c| {
            let top = c[0];
            !(top == ".."
                || top.ends_with(".dist-info")
                || top.ends_with(".data")
                || c.contains(&"__pycache__"))
        })
        .collect();
    let has = |prefix: &[&str], file: &str| {
        paths.iter().any(|c| c.len() == prefix.len() + 1 && c.starts_with(prefix) && c[prefix.len()] == file)
    };
    let mut names = BTreeSet::new();
    for c in &paths {
        match c.as_slice() {
            [file] => {
                if let Some(module) = module_name(file) {
                    names.insert(module.to_owned());
                }
            }
            [top, ..] if !is_identifier(top) => {}
            [top, ..] if has(&[top], "__init__.py") => {
                names.insert(top.to_string());
            }
            [top, sub, rest @ ..]
                if is_identifier(sub) && has(&[top, sub], "__init__.py") && !rest.is_empty() =>
            {
                names.insert(format!("{top}.{sub}"));
            }
            [top, file] => {
                if let Some(module) = module_name(file).filter(|m| *m != "__init__") {
                    names.insert(format!("{top}.{module}"));
                }
            }
            _ => {}
        }
    }
    names
}

fn module_name(file: &str) -> Option<&str> {
    let stem = if let Some(stem) = file.strip_suffix(".py") {
        stem
    } else if file.ends_with(".so") {
        file.split('.').next()?
    } else {
        return None;
    };
    is_identifier(stem).then_some(stem)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_csv_with_quotes() {
        let rows =
            parse_record("a/b.py,sha256=x,3\n\"a/comma,name.txt\",sha256=y,4\n\"q\"\"uote\",,\n").unwrap();
        let paths: Vec<_> = rows.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["a/b.py", "a/comma,name.txt", "q\"uote"]);
        assert!(parse_record("a,b\n").is_err());
    }

    #[test]
    fn scripts_from_entry_points() {
        let text = "[console_scripts]\nhello = pkg.cli:main\n\n[gui_scripts]\ngui=pkg:gui\n[other]\nx = y\n";
        assert_eq!(script_names(text), ["hello", "gui"]);
    }

    #[test]
    fn import_names_from_record_paths() {
        let names = import_names([
            "pkg/__init__.py",
            "pkg/sub/mod.py",
            "ns/a/__init__.py",
            "ns/a/x.py",
            "ns/tool.py",
            "top.py",
            "_ext.cpython-311-x86_64-linux-gnu.so",
            "numpy.libs/libfoo.so",
            "pkg-1.0.dist-info/RECORD",
            "pkg-1.0.data/scripts/x",
            "../../../bin/x",
            "distutils-precedence.pth",
        ]);
        let names: Vec<_> = names.iter().map(String::as_str).collect();
        assert_eq!(names, ["_ext", "ns.a", "ns.tool", "pkg", "top"]);
    }

    #[test]
    fn normalize_resolves_dots() {
        assert_eq!(normalize(Path::new("/v/lib/p/site-packages/../../../bin/x")), Path::new("/v/bin/x"));
    }
}
