//! Which `.py` files `--compile` compiles for an entry, and the path each `.pyc` is kept
//! under in the entry's bytecode set: its path in site-packages, or for a file installed
//! elsewhere (`.data/scripts`, `.data/data`) its path in the wheel.

use crate::manifest::Manifest;

/// Whether a file at `rel` in site-packages is a module `--compile` compiles.
pub(super) fn compiles(rel: &str) -> bool {
    rel.ends_with(".py") && !rel.ends_with("/.py") && rel != ".py"
}

/// The `.py` files of an entry that `--compile` compiles whatever the environment (manifest
/// index, the path its `.pyc` is kept under in the set): those every environment puts in
/// site-packages (the top level, `.data/purelib` and `.data/platlib`), by their path there,
/// and those of `.data/scripts` and `.data/data`, by their path in the wheel
/// ([`sources_elsewhere`]). Known as soon as the entry is, so that compiling can start before
/// anything is planned; a plan may add `.data/data` files that its layout puts in
/// site-packages ([`super::WheelPlan::compile_sources`]).
pub(crate) fn compiled_sources(manifest: &Manifest) -> impl Iterator<Item = (u32, &str)> {
    // The installer's own metadata files (RECORD...) are no `.py` files.
    let data_prefix = format!("{}/", manifest.data_dir);
    let in_site_packages = manifest.files.iter().enumerate().filter_map(move |(index, file)| {
        let rel = match file.path.strip_prefix(&data_prefix) {
            Some(rest) => rest.strip_prefix("purelib/").or_else(|| rest.strip_prefix("platlib/"))?,
            None => &file.path,
        };
        compiles(rel).then_some((index as u32, rel))
    });
    in_site_packages.chain(sources_elsewhere(manifest))
}

/// The `.py` files of `.data/scripts` and `.data/data` (manifest index, path in the wheel):
/// installed outside site-packages, in every environment at another path (and a `#!python`
/// script rewritten), so their `.pyc` is kept under the wheel's path, which no site-packages
/// path starts with, and placed by `bytecode_elsewhere`.
pub(super) fn sources_elsewhere(manifest: &Manifest) -> impl Iterator<Item = (u32, &str)> {
    let schemes = [format!("{}/scripts/", manifest.data_dir), format!("{}/data/", manifest.data_dir)];
    manifest.files.iter().enumerate().filter_map(move |(index, file)| {
        let elsewhere = schemes.iter().any(|s| file.path.starts_with(s.as_str())) && compiles(&file.path);
        elsewhere.then_some((index as u32, file.path.as_str()))
    })
}

/// Whether `path` of a bytecode set (a `.pyc`, or a source that failed) is one of a source
/// installed outside site-packages, kept by its path in the wheel ([`sources_elsewhere`]):
/// under `<name>-<version>.data/`, where no path under site-packages is.
pub(super) fn kept_elsewhere(manifest: &Manifest, path: &str) -> bool {
    path.strip_prefix(manifest.data_dir.as_str()).is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ManifestFile;

    #[test]
    fn the_sources_compiled_whatever_the_layout_are_known_from_the_manifest() {
        let paths = [
            "pkg/a.py",
            "pkg/b.txt",
            "x-1.0.data/purelib/p.py",
            "x-1.0.data/platlib/q/r.py",
            "x-1.0.data/scripts/s.py",
            "x-1.0.data/data/lib/python3.11/site-packages/d.py",
            "x-1.0.dist-info/METADATA",
            "odd/.py",
        ];
        let file = |path: &str| ManifestFile {
            path: path.into(),
            size: 1,
            hash: crate::manifest::Sha256Digest([0; 32]),
            executable: false,
            python_shebang: false,
        };
        let manifest = Manifest {
            format: 1,
            wheel: "x-1.0-py3-none-any.whl".into(),
            name: "x".into(),
            version: "1.0".into(),
            archive_sha256: String::new(),
            dist_info: "x-1.0.dist-info".into(),
            data_dir: "x-1.0.data".into(),
            root_is_purelib: true,
            newer_wheel_version: None,
            requires_python: Some(None),
            dirs: Vec::new(),
            files: paths.iter().map(|p| file(p)).collect(),
            entry_points: Vec::new(),
        };
        let sources: Vec<(u32, &str)> = compiled_sources(&manifest).collect();
        // Site-packages ones by their path there, the others by their path in the wheel.
        let elsewhere =
            [(4, "x-1.0.data/scripts/s.py"), (5, "x-1.0.data/data/lib/python3.11/site-packages/d.py")];
        assert_eq!(sources, [[(0, "pkg/a.py"), (2, "p.py"), (3, "q/r.py")].as_slice(), &elsewhere].concat());
        // Their bytecode is told apart by those paths alone.
        let kept: Vec<bool> = sources.iter().map(|(_, path)| kept_elsewhere(&manifest, path)).collect();
        assert_eq!(kept, [false, false, false, true, true]);
        assert!(!kept_elsewhere(&manifest, "x-1.0.database/m.py"));
    }
}
