//! Distributions already installed in an environment: found by their `.dist-info`
//! directories in purelib and platlib, removed by their RECORD (never outside the
//! environment), whose paths are relative to the directory holding the `.dist-info`.

use std::path::{Component, Path, PathBuf};

use crate::venv::Venv;
use crate::wheel::{metadata, normalize_name, record};
use crate::{Error, Result};

/// An installed distribution, as its `.dist-info` directory names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledDist {
    /// The name as spelled in the directory (`Foo_Bar`); compare with [`Self::normalized_name`].
    pub name: String,
    /// As spelled in the directory; METADATA's is [`Self::metadata_name_version`].
    pub version: String,
    /// `<purelib or platlib>/<name>-<version>.dist-info`
    pub dist_info: PathBuf,
}

impl InstalledDist {
    /// PEP 503 form, for matching `Foo_Bar` with `foo-bar`.
    pub fn normalized_name(&self) -> String {
        normalize_name(&self.name)
    }

    /// The installer that wrote it, from its `INSTALLER` file (`pip`, `uv`, `installer`...).
    pub fn installer(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.dist_info.join("INSTALLER")).ok()?;
        Some(text.trim().to_string()).filter(|s| !s.is_empty())
    }

    /// `Name` and `Version` from its METADATA, as its author spells them (`fixture-pkg`, where
    /// the directory says `fixture_pkg`); the directory's when METADATA cannot be read.
    pub fn metadata_name_version(&self) -> (String, String) {
        std::fs::read_to_string(self.dist_info.join("METADATA"))
            .ok()
            .and_then(|text| metadata::parse_metadata_name_version(&text).ok())
            .unwrap_or_else(|| (self.name.clone(), self.version.clone()))
    }

    /// What is known of its files, by which of RECORD and METADATA it has.
    pub fn record(&self) -> Record {
        match (self.dist_info.join("RECORD").is_file(), self.dist_info.join("METADATA").is_file()) {
            (true, _) => Record::Listed,
            (false, true) => Record::KeptElsewhere,
            (false, false) => Record::Debris,
        }
    }

    /// The error for removing or replacing it while its files are kept by another tool.
    pub(crate) fn kept_elsewhere(&self) -> Error {
        let (name, version) = self.metadata_name_version();
        Error::NoRecord { name, version, dist_info: self.dist_info.clone(), installer: self.installer() }
    }

    /// The directory holding its `.dist-info` (purelib, or platlib for a wheel pip installed
    /// there whole), which the paths in its RECORD are relative to ("Recording installed
    /// projects" in the packaging specifications).
    pub(crate) fn library_dir(&self) -> &Path {
        self.dist_info.parent().unwrap_or(&self.dist_info)
    }

    /// The absolute paths its RECORD lists, lexically resolved against the directory holding
    /// its `.dist-info`; entries that would leave the environment (`../../etc/passwd`, absolute
    /// paths elsewhere) are dropped, never touched.
    pub fn record_paths(&self, venv: &Venv) -> Result<Vec<PathBuf>> {
        Ok(self.record_paths_and_outsiders(venv)?.0)
    }

    /// [`Self::record_paths`], plus the RECORD entries that were dropped because they lead out
    /// of the environment, so that uninstall can say what it refused to touch.
    pub(crate) fn record_paths_and_outsiders(&self, venv: &Venv) -> Result<(Vec<PathBuf>, Vec<String>)> {
        let record_path = self.dist_info.join("RECORD");
        let text = std::fs::read_to_string(&record_path).map_err(|e| Error::io("read", &record_path, e))?;
        // Paths only, as pip reads RECORD to uninstall: a row with a missing or odd field must
        // not make a distribution impossible to remove.
        let entries = record::parse_record_paths(&text).map_err(|reason| {
            Error::io("parse", &record_path, std::io::Error::new(std::io::ErrorKind::InvalidData, reason))
        })?;
        let (mut inside, mut outside) = (Vec::with_capacity(entries.len()), Vec::new());
        for entry in entries {
            match resolve_inside(self.library_dir(), &entry, venv.root()) {
                Some(path) => inside.push(path),
                None => outside.push(entry),
            }
        }
        Ok((inside, outside))
    }
}

/// What a `.dist-info` directory says of the files of its distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// Its RECORD lists them: they can be removed, replaced and verified.
    Listed,
    /// No RECORD, but METADATA: a distribution whose files another tool keeps track of (a
    /// system package manager; PEP 627 made RECORD optional for them, and tools that rely on
    /// `.dist-info` must not uninstall or upgrade it). Never removed or replaced by us.
    KeptElsewhere,
    /// Neither: no distribution (METADATA is mandatory), but what an interrupted install or
    /// uninstall left, often an empty directory (uv #2304, #2467). Removed, with a warning,
    /// when its project is installed or uninstalled, so that it never blocks either.
    Debris,
}

/// An installed distribution as `installer list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedDist {
    /// The project name from METADATA (`fixture-pkg`), which is how its author spells it;
    /// the `.dist-info` directory's (escaped) name when METADATA is missing or unreadable.
    pub name: String,
    /// From METADATA as well, falling back to the directory name.
    pub version: String,
    /// The tool that installed it (from `INSTALLER`); `None` when that file is absent.
    pub installer: Option<String>,
}

/// The distributions installed in `venv`, sorted by normalised name, for `installer list`.
/// A distribution with broken metadata is still listed (by its directory name), so the user
/// can see it and uninstall it.
pub fn list(venv: &Venv) -> Result<Vec<ListedDist>> {
    venv.recover_if_idle();
    let mut listed: Vec<ListedDist> = scan(venv)?
        .into_iter()
        .map(|dist| {
            let (name, version) = dist.metadata_name_version();
            ListedDist { name, version, installer: dist.installer() }
        })
        .collect();
    listed.sort_by_cached_key(|d| (normalize_name(&d.name), d.version.clone()));
    Ok(listed)
}

/// Every distribution in the environment's purelib and platlib (`Venv::library_dirs`: pip
/// puts a wheel that is not `Root-Is-Purelib` in platlib, `.dist-info` and all), sorted by
/// path. One of them that does not exist holds none (pip made only `lib64/...` on a UBI image
/// whose wheels all had extension modules); neither there is an error, as is one that cannot
/// be listed.
pub fn scan(venv: &Venv) -> Result<Vec<InstalledDist>> {
    let (mut dists, mut missing, mut listed) = (Vec::new(), None, false);
    for lib in venv.library_dirs() {
        let dir = match std::fs::read_dir(lib) {
            Ok(dir) => dir,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                missing.get_or_insert((lib, e));
                continue;
            }
            Err(e) => return Err(Error::io("list", lib, e)),
        };
        listed = true;
        dists.extend(dir.flatten().filter_map(|entry| {
            let file_name = entry.file_name();
            let stem = file_name.to_str()?.strip_suffix(".dist-info")?;
            let (name, version) = stem.rsplit_once('-')?;
            Some(InstalledDist { name: name.into(), version: version.into(), dist_info: entry.path() })
        }));
    }
    if let (false, Some((lib, e))) = (listed, missing) {
        return Err(Error::io("list", lib, e));
    }
    dists.sort_by(|a, b| a.dist_info.cmp(&b.dist_info));
    Ok(dists)
}

/// `base/relative` with `.` and `..` resolved without touching the filesystem; `None` when the
/// result is not strictly inside `fence`.
pub(crate) fn resolve_inside(base: &Path, relative: &str, fence: &Path) -> Option<PathBuf> {
    let mut out = if Path::new(relative).is_absolute() { PathBuf::new() } else { base.to_path_buf() };
    for component in Path::new(relative).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => out.push(component.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(part) => out.push(part),
        }
    }
    (out.starts_with(fence) && out != fence).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_paths_cannot_leave_the_environment() {
        let (site, root) = (Path::new("/v/lib/python3.11/site-packages"), Path::new("/v"));
        assert_eq!(resolve_inside(site, "pkg/a.py", root), Some(site.join("pkg/a.py")));
        assert_eq!(resolve_inside(site, "../../../bin/tool", root), Some(PathBuf::from("/v/bin/tool")));
        assert_eq!(resolve_inside(site, "../../../../etc/passwd", root), None);
        assert_eq!(resolve_inside(site, "/etc/passwd", root), None);
        assert_eq!(resolve_inside(site, "../../../", root), None);
        assert_eq!(resolve_inside(site, "/v/bin/x", root), Some(PathBuf::from("/v/bin/x")));
    }

    /// pip puts a wheel that is not `Root-Is-Purelib` in platlib whole (Fedora's `lib64`), its
    /// RECORD relative to platlib: found there, its files resolved from there, beside one in
    /// purelib whose RECORD is relative to purelib.
    #[test]
    fn distributions_are_found_in_purelib_and_platlib_and_their_records_read_from_there() {
        let tmp = tempfile::tempdir().unwrap();
        let venv = crate::venv::tests::lib64_prefix(tmp.path());
        let (pure, plat) = (venv.site_packages(), venv.platlib());
        let up = "../../../lib/python3.11/site-packages";
        for (lib, name, record) in [
            (
                pure,
                "pure-1.0",
                "pure/__init__.py,,\npure-1.0.dist-info/RECORD,,\n../../../bin/p,,\n".to_string(),
            ),
            (
                plat,
                "plat-2.0",
                format!("plat/x.so,,\nplat-2.0.dist-info/RECORD,,\n{up}/y.py,,\n../../../bin/t,,\n"),
            ),
        ] {
            fs_err::create_dir_all(lib.join(format!("{name}.dist-info"))).unwrap();
            fs_err::write(lib.join(format!("{name}.dist-info/RECORD")), record).unwrap();
        }
        let dists = scan(&venv).unwrap();
        let found: Vec<(&str, &Path)> = dists.iter().map(|d| (d.name.as_str(), d.library_dir())).collect();
        assert_eq!(found, [("pure", pure), ("plat", plat)]);
        let root = tmp.path();
        assert_eq!(
            dists[1].record_paths(&venv).unwrap(),
            [
                plat.join("plat/x.so"),
                plat.join("plat-2.0.dist-info/RECORD"),
                pure.join("y.py"),
                root.join("bin/t")
            ]
        );
        assert_eq!(
            dists[0].record_paths(&venv).unwrap(),
            [pure.join("pure/__init__.py"), pure.join("pure-1.0.dist-info/RECORD"), root.join("bin/p")]
        );

        // One that does not exist holds nothing; neither there is an error.
        fs_err::remove_dir_all(pure).unwrap();
        assert_eq!(scan(&venv).unwrap().len(), 1);
        fs_err::remove_dir_all(plat).unwrap();
        let err = scan(&venv).unwrap_err().to_string();
        assert!(err.contains(&format!("cannot list {}", pure.display())), "{err}");
    }
}
