//! The directories of an environment that planned files are relative to: site-packages, the
//! scripts directory, the environment's prefix (`.data/data`), platlib where it is apart from
//! site-packages, and each distribution's headers directory.
//!
//! Paths in the plan are relative to a root, so that a file's destination can be borrowed
//! from its manifest path (no allocation per file) and the kernel resolves it against an open
//! root directory (no walk of the absolute path per file).

use std::path::{Path, PathBuf};

use crate::venv::Venv;

/// An index into [`Roots`].
pub(crate) type RootId = u32;
pub(crate) const SITE_PACKAGES: RootId = 0;
pub(crate) const SCRIPTS: RootId = 1;
/// Where `.data/data` goes: a venv's prefix, sysconfig's `data` for `--system` and `--prefix`.
pub(crate) const DATA: RootId = 2;

/// The destination roots of one install.
#[derive(Debug)]
pub(crate) struct Roots {
    paths: Vec<PathBuf>,
    /// Each root relative to the environment, `/`-separated, with a trailing `/` (empty for
    /// the prefix itself; `None` when the root is outside the environment).
    in_venv: Vec<Option<String>>,
    /// The root of platlib: [`SITE_PACKAGES`] unless the scheme puts platlib elsewhere.
    platlib: RootId,
}

impl Roots {
    pub fn new(venv: &Venv) -> Roots {
        let site = venv.site_packages();
        let mut roots = Roots { paths: Vec::new(), in_venv: Vec::new(), platlib: SITE_PACKAGES };
        for path in [site, venv.scripts(), venv.data()] {
            roots.add(venv, path.to_path_buf());
        }
        // One root per directory: a second spelling of site-packages would hide conflicts.
        if venv.platlib() != site {
            roots.platlib = roots.add(venv, venv.platlib().to_path_buf());
        }
        roots
    }

    /// Where a wheel that is not `Root-Is-Purelib` (its `.dist-info` too) and `.data/platlib`
    /// go.
    pub fn platlib(&self) -> RootId {
        self.platlib
    }

    /// The root for `.data/headers` of the project `name`, added on first use.
    pub fn headers(&mut self, venv: &Venv, name: &str) -> RootId {
        let path = venv.headers(name);
        match self.paths.iter().position(|p| *p == path) {
            Some(id) => id as RootId,
            None => self.add(venv, path),
        }
    }

    fn add(&mut self, venv: &Venv, path: PathBuf) -> RootId {
        let in_venv = path.strip_prefix(venv.root()).ok().and_then(|rel| {
            let rel = rel.to_str()?.replace(std::path::MAIN_SEPARATOR, "/");
            Some(if rel.is_empty() { rel } else { rel + "/" })
        });
        self.paths.push(path);
        self.in_venv.push(in_venv);
        (self.paths.len() - 1) as RootId
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn path(&self, root: RootId) -> &Path {
        &self.paths[root as usize]
    }

    /// The absolute path of `rel` under `root` (for messages, rollback and the interpreter).
    pub fn join(&self, root: RootId, rel: &str) -> PathBuf {
        self.path(root).join(rel)
    }

    /// For a path relative to the data root (`.data/data`: the prefix of a venv, sysconfig's
    /// `data` elsewhere), the most specific root holding it and how many bytes of the path name
    /// that root, so that one destination has one spelling (conflicts between a
    /// `.data/data/lib/...` file and a library file are then seen).
    pub fn locate_in_prefix(&self, rel: &str) -> (RootId, usize) {
        let mut best = (DATA, 0);
        // Roots are compared by their paths relative to the data root, which may lie below the
        // environment's prefix (`--prefix` with Debian's `/usr/local` scheme: `local/`).
        let Some(data) = self.in_venv[DATA as usize].as_deref() else { return best };
        for (id, prefix) in self.in_venv.iter().enumerate() {
            let Some(prefix) = prefix.as_deref().and_then(|p| p.strip_prefix(data)) else { continue };
            if prefix.len() > best.1 && rel.starts_with(prefix) && rel.len() > prefix.len() {
                best = (id as RootId, prefix.len());
            }
        }
        best
    }

    /// How a RECORD in a `.dist-info` directly under `base` (site-packages, or platlib for a
    /// wheel that is not `Root-Is-Purelib`) spells paths under each root: relative to `base`,
    /// up to the directories they share and down again, as pip's `os.path.relpath` does
    /// (`../../../lib/python3.8/site-packages/` from a `lib64` platlib, `../../../share/` from
    /// Debian's `local/lib/python3.11/dist-packages` for a data root of `local`). From the
    /// absolute paths, so a root outside the environment (a `--system` scheme path not under
    /// `sys.prefix`) is spelled as pip spells it too.
    pub fn record_paths(&self, base: RootId) -> RecordPaths {
        let from: Vec<_> = self.paths[base as usize].components().collect();
        let spelled = self.paths.iter().map(|path| {
            let to: Vec<_> = path.components().collect();
            let shared = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            let mut out = "../".repeat(from.len() - shared);
            for part in &to[shared..] {
                out.push_str(&part.as_os_str().to_string_lossy());
                out.push('/');
            }
            out
        });
        RecordPaths(spelled.collect())
    }
}

/// Each root as one RECORD spells it, `/`-separated with a trailing `/`: `""` for the directory
/// holding its `.dist-info`, `../../../bin/` for a venv's scripts seen from site-packages.
pub(crate) struct RecordPaths(Vec<String>);

impl RecordPaths {
    /// `rel` under `root` as the RECORD lists it.
    #[cfg(test)]
    pub fn path(&self, root: RootId, rel: &str) -> String {
        let mut path = String::new();
        self.path_into(&mut path, root, rel);
        path
    }

    /// `Self::path` into `path` (cleared first), so a RECORD of thousands of rows reuses one
    /// buffer.
    pub fn path_into(&self, path: &mut String, root: RootId, rel: &str) {
        path.clear();
        path.push_str(&self.0[root as usize]);
        path.push_str(rel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_paths_are_located_in_the_most_specific_root_and_recorded_as_pip_does() {
        let tmp = tempfile::tempdir().unwrap();
        let venv = crate::venv::tests::fake_venv(tmp.path());
        let mut roots = Roots::new(&venv);
        let headers = roots.headers(&venv, "Proj");
        assert_eq!(roots.headers(&venv, "Proj"), headers);

        let site = "lib/python3.11/site-packages/";
        assert_eq!(roots.locate_in_prefix(&format!("{site}pkg/a.py")), (SITE_PACKAGES, site.len()));
        assert_eq!(roots.locate_in_prefix("bin/tool"), (SCRIPTS, 4));
        assert_eq!(roots.locate_in_prefix("share/doc/x"), (DATA, 0));
        assert_eq!(roots.locate_in_prefix("bin"), (DATA, 0));
        let inc = "include/site/python3.11/Proj/";
        assert_eq!(roots.locate_in_prefix(&format!("{inc}x.h")), (headers, inc.len()));

        let record = roots.record_paths(SITE_PACKAGES);
        assert_eq!(record.path(SITE_PACKAGES, "pkg/a.py"), "pkg/a.py");
        assert_eq!(record.path(SCRIPTS, "tool"), "../../../bin/tool");
        assert_eq!(record.path(DATA, "share/x"), "../../../share/x");
        assert_eq!(record.path(headers, "x.h"), "../../../include/site/python3.11/Proj/x.h");
        assert_eq!(roots.join(SCRIPTS, "tool"), tmp.path().join("bin/tool"));
    }

    /// `--prefix` with Debian's `/usr/bin/python3` (scheme `posix_local`): `.data/data` is
    /// relative to `DIR/local`, so its `lib/python3.11/dist-packages/...` is site-packages.
    #[test]
    fn prefix_data_below_the_prefix_locates_against_the_data_root() {
        let interpreter: crate::target::Interpreter = serde_json::from_value(serde_json::json!({
            "executable": "/usr/bin/python3.11", "implementation": "cpython",
            "version": [3, 11, 2], "version_nodot": "311", "soabi": null,
            "abi_flags": crate::target::AbiFlags::default(), "platform": "linux-x86_64",
            "is_64bit": true, "glibc": [2, 36], "musl": null, "prefix": "/usr", "base_prefix": "/usr",
            "paths": { "data": "/usr/local", "purelib": "/usr/local/lib/python3.11/dist-packages",
                       "scripts": "/usr/local/bin", "include": "/usr/include/python3.11" },
            "cache_tag": "cpython-311", "magic": "a70d0d0a",
        }))
        .unwrap();
        let venv = Venv::prefix_dir(Path::new("/p"), &interpreter).unwrap();
        let mut roots = Roots::new(&venv);
        let headers = roots.headers(&venv, "Proj");
        assert_eq!(roots.path(DATA), Path::new("/p/local"));
        assert_eq!(roots.path(headers), Path::new("/p/include/python3.11/Proj"));
        let site = "lib/python3.11/dist-packages/";
        assert_eq!(roots.locate_in_prefix(&format!("{site}pkg/a.py")), (SITE_PACKAGES, site.len()));
        assert_eq!(roots.locate_in_prefix("bin/tool"), (SCRIPTS, 4));
        assert_eq!(roots.locate_in_prefix("share/x"), (DATA, 0));
        let record = roots.record_paths(SITE_PACKAGES);
        assert_eq!(record.path(DATA, "share/x"), "../../../share/x");
        assert_eq!(record.path(headers, "x.h"), "../../../../include/python3.11/Proj/x.h");
    }

    /// RECORD's paths are relative to the directory holding the `.dist-info`, as pip writes
    /// them: from platlib for a wheel that is not `Root-Is-Purelib` where platlib is apart from
    /// site-packages (Fedora's `lib64`).
    #[test]
    fn record_paths_are_relative_to_the_root_holding_the_dist_info_as_pip_writes_them() {
        let tmp = tempfile::tempdir().unwrap();
        let venv = crate::venv::tests::lib64_prefix(tmp.path());
        let roots = Roots::new(&venv);
        let platlib = roots.platlib();
        assert_ne!(platlib, SITE_PACKAGES);
        let record = roots.record_paths(platlib);
        assert_eq!(record.path(platlib, "ext/__init__.py"), "ext/__init__.py");
        assert_eq!(record.path(SITE_PACKAGES, "pure.py"), "../../../lib/python3.11/site-packages/pure.py");
        assert_eq!(record.path(SCRIPTS, "tool"), "../../../bin/tool");
        assert_eq!(record.path(DATA, "share/x"), "../../../share/x");
        let record = roots.record_paths(SITE_PACKAGES);
        assert_eq!(record.path(platlib, "ext/x.so"), "../../../lib64/python3.11/site-packages/ext/x.so");
    }

    /// A root outside the environment (a `--system` scheme path not under `sys.prefix`) is
    /// spelled from the absolute paths, as `os.path.relpath` spells it: up to `/` and down
    /// again. It was once spelled as the prefix itself (`../../../tool`).
    #[test]
    fn a_root_outside_the_environment_is_spelled_as_relpath_spells_it() {
        let tmp = tempfile::tempdir().unwrap();
        let venv = crate::venv::tests::lib64_prefix(tmp.path());
        let mut roots = Roots::new(&venv);
        let outside = roots.add(&venv, PathBuf::from("/elsewhere/bin"));
        let up = "../".repeat(venv.site_packages().components().count() - 1);
        assert_eq!(
            roots.record_paths(SITE_PACKAGES).path(outside, "tool"),
            format!("{up}elsewhere/bin/tool")
        );
        let back = roots.record_paths(outside).path(SITE_PACKAGES, "pkg/a.py");
        assert_eq!(
            back,
            format!("../../{}/pkg/a.py", venv.site_packages().to_str().unwrap().trim_start_matches('/'))
        );
    }
}
