//! The floor: what installing a known tree costs at the least. A manifest (made untimed) lists
//! the directories, parents first, and the files of an installed site-packages; the timed part,
//! `cargo xtask floor MANIFEST DEST` in its own process, makes the directories and hardlinks
//! the files with two threads. Nothing is stat-ed, walked, hashed or checked.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Writes the manifest of `src` to `out`: `src <path>`, then `d <rel>` and `f <rel>` lines.
/// Returns (directories, files).
pub fn write_manifest(src: &Path, out: &Path) -> Result<(usize, usize)> {
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    walk(src, "", &mut dirs, &mut files)?;
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    writeln!(w, "src {}", src.to_str().context("non-UTF-8 source path")?)?;
    for d in &dirs {
        writeln!(w, "d {d}")?;
    }
    for f in &files {
        writeln!(w, "f {f}")?;
    }
    w.flush()?;
    Ok((dirs.len(), files.len()))
}

fn walk(dir: &Path, rel: &str, dirs: &mut Vec<String>, files: &mut Vec<String>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_str().with_context(|| format!("non-UTF-8 name in {}", dir.display()))?;
        if name.contains('\n') {
            bail!("newline in a file name in {}", dir.display());
        }
        let rel = if rel.is_empty() { name.to_owned() } else { format!("{rel}/{name}") };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            dirs.push(rel.clone());
            walk(&entry.path(), &rel, dirs, files)?;
        } else {
            files.push(rel);
        }
    }
    Ok(())
}

/// The timed part: mkdir every directory, then hardlink every file with two threads.
pub fn run(manifest: &Path, dest: &Path) -> Result<()> {
    let text = std::fs::read_to_string(manifest).with_context(|| format!("{}", manifest.display()))?;
    let mut lines = text.lines();
    let src =
        PathBuf::from(lines.next().and_then(|l| l.strip_prefix("src ")).context("manifest: no src line")?);
    std::fs::create_dir_all(dest)?;
    let mut files = Vec::new();
    for line in lines {
        if let Some(d) = line.strip_prefix("d ") {
            std::fs::create_dir(dest.join(d)).with_context(|| format!("mkdir {d}"))?;
        } else if let Some(f) = line.strip_prefix("f ") {
            files.push(f);
        }
    }
    let half = files.len().div_ceil(2);
    std::thread::scope(|s| {
        let workers: Vec<_> = files
            .chunks(half.max(1))
            .map(|chunk| {
                let (src, dest) = (&src, dest);
                s.spawn(move || -> Result<()> {
                    for f in chunk {
                        std::fs::hard_link(src.join(f), dest.join(f)).with_context(|| format!("link {f}"))?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().expect("floor worker panicked"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_then_floor_reproduces_the_tree_as_hardlinks() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        for f in ["top.py", "a/x.py", "a/b/y.py", "a/b/z.txt"] {
            std::fs::write(src.join(f), f).unwrap();
        }
        let manifest = tmp.path().join("manifest");
        assert_eq!(write_manifest(&src, &manifest).unwrap(), (2, 4));
        let dest = tmp.path().join("dest");
        run(&manifest, &dest).unwrap();
        assert_eq!(std::fs::read_to_string(dest.join("a/b/y.py")).unwrap(), "a/b/y.py");
        assert_eq!(std::fs::metadata(dest.join("top.py")).unwrap().nlink(), 2);
    }
}
