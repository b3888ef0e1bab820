//! Link modes, checked by what they leave on disk (link counts, symlink targets, shared
//! extents), on the main disk, across filesystems (tmpfs), and on loop-mounted ext4 and XFS.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::fixtures;
use super::mounts::{self, Fs, LoopMount};
use super::snapshot::{Entry, Snapshot};
use super::venv::{check_records, compare_with_pip, linkable_files, Install, Reference, Venv};
use super::{Ctx, Outcome};
use crate::util::Log;

/// Fixtures installed twice with `mode` (cold cache, then warm), each venv checked against
/// pip, its RECORDs, imports and scripts, and the kind of link made.
pub fn link_mode(ctx: &Ctx, log: &Log, mode: &str) -> Result<Outcome> {
    let wheels = ctx.fixtures.standard()?;
    let pip = ctx.reference(log, "standard", &wheels)?;
    let dir = ctx.dir(mode);
    let cache = dir.join("cache");
    let mut notes = Vec::new();
    for round in ["cold", "warm"] {
        let venv = Venv::create(log, &dir.join(round))?;
        let install =
            Install { venv: &venv.root, cache: &cache, link_mode: mode, wheels: &wheels, extra: &["-v"] };
        let out = ctx.installer.run(log, install).with_context(|| format!("{round} cache"))?;
        let note = (|| {
            let added = check_venv(log, &venv, &pip, "1.0")?;
            link_kind(log, mode, &venv, &added, &cache, &out.stderr)
        })()
        .with_context(|| format!("{round} cache"))?;
        notes.push(note);
    }
    notes.dedup();
    Ok(Outcome::Ok(notes.join(", ")))
}

/// The standard fixtures in `venv`: as pip makes them, RECORD true, imports and scripts work.
pub fn check_venv(log: &Log, venv: &Venv, pip: &Reference, pkg_version: &str) -> Result<Snapshot> {
    let added = venv.added()?;
    compare_with_pip(venv, &added, pip)?;
    check_records(venv, &added)?;
    fixtures::check_standard(log, venv, pkg_version)?;
    Ok(added)
}

fn link_kind(
    log: &Log,
    mode: &str,
    venv: &Venv,
    added: &Snapshot,
    cache: &Path,
    stderr: &str,
) -> Result<String> {
    let files = linkable_files(venv, added);
    let warnings = warning_blocks(stderr);
    let reflink_fs = matches!(mounts::fs_type(&venv.root)?.as_str(), "xfs" | "btrfs");
    match mode {
        "hardlink" => {
            no_warning(&warnings)?;
            hardlinks(&files)
        }
        "copy" => {
            no_warning(&warnings)?;
            copies(&files)
        }
        "symlink" => {
            no_warning(&warnings)?;
            symlinks_into(&files, cache)
        }
        "clone" if reflink_fs => {
            no_warning(&warnings)?;
            reflinks(log, &files)
        }
        "clone" => {
            one_fallback_warning(&warnings, &[])?;
            Ok(format!(
                "no reflinks on {}: {} and one warning",
                mounts::fs_type(&venv.root)?,
                copies(&files)?
            ))
        }
        "auto" => {
            no_warning(&warnings)?;
            hardlinks(&files)
        }
        other => bail!("unknown link mode {other}"),
    }
}

fn hardlinks(files: &[(std::path::PathBuf, Entry)]) -> Result<String> {
    for (path, e) in files {
        if e.target.is_some() || e.nlink < 2 {
            bail!("{} is not a hardlink (link count {}, symlink {:?})", path.display(), e.nlink, e.target);
        }
    }
    Ok(format!("{} hardlinks", files.len()))
}

fn copies(files: &[(std::path::PathBuf, Entry)]) -> Result<String> {
    for (path, e) in files {
        if e.target.is_some() || e.nlink != 1 {
            bail!("{} is not a copy (link count {}, symlink {:?})", path.display(), e.nlink, e.target);
        }
    }
    Ok(format!("{} copies", files.len()))
}

fn symlinks_into(files: &[(std::path::PathBuf, Entry)], cache: &Path) -> Result<String> {
    let cache = cache.canonicalize().context("cache dir")?;
    for (path, e) in files {
        let Some(target) = &e.target else { bail!("{} is not a symlink", path.display()) };
        let resolved = path.parent().unwrap().join(target).canonicalize()?;
        if !resolved.starts_with(&cache) {
            bail!(
                "{} points to {}, outside the cache {}",
                path.display(),
                resolved.display(),
                cache.display()
            );
        }
    }
    Ok(format!("{} symlinks into the cache", files.len()))
}

/// Every non-empty file shares its extents (with the cache entry it was cloned from) and is
/// a file of its own (link count 1).
fn reflinks(log: &Log, files: &[(std::path::PathBuf, Entry)]) -> Result<String> {
    copies(files)?;
    let mut n = 0;
    for (path, e) in files.iter().filter(|(_, e)| e.size > 0) {
        if !mounts::has_shared_extents(log, path)? {
            bail!("{} ({} bytes) shares no extent: not a reflink", path.display(), e.size);
        }
        n += 1;
    }
    Ok(format!("{n} reflinks"))
}

/// Whether a line of `-v` output names one of `modes` without reporting it failed (`clone
/// ... failed: Operation not supported` comes before `link mode: hardlink`).
fn says_chosen(stderr: &str, modes: &[&str]) -> bool {
    stderr.lines().map(str::to_lowercase).any(|line| {
        modes.iter().any(|m| line.contains(m))
            && !["fail", "error", "not supported", "cannot"].iter().any(|bad| line.contains(bad))
    })
}

/// `warning:` lines with their indented continuation lines, one string each.
pub fn warning_blocks(stderr: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    let mut open = false;
    for line in stderr.lines() {
        if line.starts_with("warning:") {
            blocks.push(line.to_owned());
            open = true;
        } else if open && line.starts_with(char::is_whitespace) && !line.trim().is_empty() {
            let block = blocks.last_mut().unwrap();
            block.push('\n');
            block.push_str(line);
        } else {
            open = false;
        }
    }
    blocks
}

fn no_warning(blocks: &[String]) -> Result<()> {
    if let Some(first) = blocks.first() {
        bail!("unexpected warning: {}", first.lines().next().unwrap_or_default());
    }
    Ok(())
}

/// Exactly one warning, which mentions each of `needles` and the fix docs/link-modes.md describes.
fn one_fallback_warning(blocks: &[String], needles: &[&str]) -> Result<()> {
    if blocks.len() != 1 {
        bail!("{} warnings, expected exactly one: {:?}", blocks.len(), blocks);
    }
    let flat = blocks[0].split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in needles.iter().chain(&["--link-mode copy"]) {
        if !flat.contains(needle) {
            bail!("the warning does not mention `{needle}`: {flat}");
        }
    }
    Ok(())
}

/// Cache on tmpfs, venv on the main disk, no cache shard (`INSTALLER_CACHE_SHARDS` empty: an
/// automatic one would be made at the top of the checkout's filesystem, outside this run's
/// directory): copies and exactly one warning naming both places and "different filesystems";
/// `--link-mode copy` says nothing. Shards have tests of their own (tests/filesystems.rs).
pub fn tmpfs_cache(ctx: &Ctx, log: &Log) -> Result<Outcome> {
    let shm = match mounts::tmpfs_dir()? {
        Ok(dir) => dir,
        Err(why) => return Ok(Outcome::Skip(why)),
    };
    let cache = shm.path().join("cache");
    let wheels = ctx.fixtures.standard()?;
    let pip = ctx.reference(log, "standard", &wheels)?;
    let dir = ctx.dir("tmpfs");
    let venv = Venv::create(log, &dir.join("venv"))?;
    let install =
        Install { venv: &venv.root, cache: &cache, link_mode: "auto", wheels: &wheels, extra: &["-v"] };
    let no_shards = |i: Install| ctx.installer.install(i).env("INSTALLER_CACHE_SHARDS", "");
    let out = log.run(&no_shards(install)).context("installer failed")?;
    let added = check_venv(log, &venv, &pip, "1.0")?;
    let files = linkable_files(&venv, &added);
    let (c, v) = (cache.display().to_string(), venv.root.display().to_string());
    one_fallback_warning(&warning_blocks(&out.stderr), &[&c, &v, "different filesystems"])?;
    let note = format!("{} and one warning", copies(&files)?);

    let venv = Venv::create(log, &dir.join("venv-copy"))?;
    let copy = Install { link_mode: "copy", venv: &venv.root, ..install };
    let out = log.run(&no_shards(copy)).context("installer failed")?;
    if out.stderr.contains("warning:") {
        bail!("--link-mode copy warned: {}", out.stderr.trim());
    }
    copies(&linkable_files(&venv, &venv.added()?)).context("--link-mode copy")?;
    Ok(Outcome::Ok(note))
}

/// Cache and venvs on a loop-mounted ext4: auto picks hardlink and `-v` says so.
pub fn ext4_hardlink(ctx: &Ctx, log: &Log) -> Result<Outcome> {
    let mount = match LoopMount::new(log, Fs::Ext4, &ctx.work)? {
        Ok(m) => m,
        Err(why) => return Ok(Outcome::Skip(why)),
    };
    let wheels = ctx.fixtures.standard()?;
    let pip = ctx.reference(log, "standard", &wheels)?;
    let cache = mount.mnt.join("cache");
    let venv = Venv::create(log, &mount.mnt.join("venv"))?;
    let out = ctx.installer.run(
        log,
        Install { venv: &venv.root, cache: &cache, link_mode: "auto", wheels: &wheels, extra: &["-v"] },
    )?;
    let added = check_venv(log, &venv, &pip, "1.0")?;
    no_warning(&warning_blocks(&out.stderr))?;
    if !says_chosen(&out.stderr, &["hardlink"]) {
        bail!("-v does not say hardlink was chosen: {}", out.stderr.trim());
    }
    Ok(Outcome::Ok(hardlinks(&linkable_files(&venv, &added))?))
}

/// Cache and venvs on a loop-mounted XFS with reflink=1: auto picks hardlink (faster than a
/// clone there) and `-v` says so; `--link-mode clone` gives files that share extents with the
/// cache, a second venv costs almost no blocks, and writing to a venv's file leaves the
/// cache's copy as it was.
pub fn xfs_auto_and_clone(ctx: &Ctx, log: &Log) -> Result<Outcome> {
    let mount = match LoopMount::new(log, Fs::XfsReflink, &ctx.work)? {
        Ok(m) => m,
        Err(why) => return Ok(Outcome::Skip(why)),
    };
    let big = crate::bench::synthetic::big_wheel(log, &ctx.work.join("../wheels"))?;
    let mut wheels = ctx.fixtures.standard()?;
    let pip = ctx.reference(log, "standard", &wheels)?;
    wheels.push(big.clone());
    let cache = mount.mnt.join("cache");
    let mut notes = Vec::new();
    // Cold with auto (hardlinks), then warm with clone.
    for (round, link_mode) in [("cold", "auto"), ("warm", "clone")] {
        let venv = Venv::create(log, &mount.mnt.join(round))?;
        let before = mounts::used_bytes(&mount.mnt)?;
        let install = Install { venv: &venv.root, cache: &cache, link_mode, wheels: &wheels, extra: &["-v"] };
        let out = ctx.installer.run(log, install)?;
        let grew = mounts::used_bytes(&mount.mnt)?.saturating_sub(before);
        no_warning(&warning_blocks(&out.stderr))?;
        let expected: &[&str] = if link_mode == "auto" { &["hardlink"] } else { &["clone", "reflink"] };
        if !says_chosen(&out.stderr, expected) {
            bail!("-v does not say {} was chosen: {}", expected[0], out.stderr.trim());
        }
        fixtures::check_standard(log, &venv, "1.0")?;
        let added = venv.added()?;
        check_records(&venv, &added)?;
        let standard_only = added.without(&["xtbig_*"]);
        compare_with_pip(&venv, &standard_only, &pip)?;
        if link_mode == "auto" {
            notes.push(format!("auto: {}", hardlinks(&linkable_files(&venv, &added))?));
            continue;
        }
        notes.push(reflinks(log, &linkable_files(&venv, &added))?);
        let big_bytes = crate::bench::synthetic::BIG_FILES * crate::bench::synthetic::BIG_SIZE;
        if grew > big_bytes / 4 {
            bail!("a warm clone install used {grew} bytes for {big_bytes} bytes of big files");
        }
        notes.push(format!("warm install used {} KiB", grew / 1024));
        independent(&venv, &cache)?;
    }
    Ok(Outcome::Ok(notes.join(", ")))
}

/// Writing to a cloned file in the venv leaves every cache file as it was.
fn independent(venv: &Venv, cache: &Path) -> Result<()> {
    let opts = super::snapshot::SnapshotOptions::default();
    let before = Snapshot::of(cache, &opts)?;
    let victim = venv.site_packages.join("xtbig_0000/data_0000.bin");
    let mut bytes = std::fs::read(&victim).with_context(|| format!("{}", victim.display()))?;
    bytes[0] ^= 0xff;
    std::fs::write(&victim, &bytes)?;
    let after = Snapshot::of(cache, &opts)?;
    let changed = super::snapshot::diff(&before, &after, &Default::default());
    if !changed.is_empty() {
        bail!("writing to a cloned venv file changed the cache: {:?}", changed.first());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_blocks_take_indented_continuations() {
        let stderr = "Installing\nwarning: copied 3 files from /c into /v: they are on different\n  filesystems (os error 18)\n  fix: `--link-mode copy`\nInstalled 3 wheels\nwarning: second\n";
        let blocks = warning_blocks(stderr);
        assert_eq!(blocks.len(), 2);
        assert!(blocks[0].ends_with("fix: `--link-mode copy`"));
        assert_eq!(one_fallback_warning(&blocks[..1], &["/c", "/v", "different filesystems"]).ok(), Some(()));
        assert_eq!(
            one_fallback_warning(&blocks[..1], &["/elsewhere"]).unwrap_err().to_string().split(':').next(),
            Some("the warning does not mention `/elsewhere`")
        );
        assert!(one_fallback_warning(&blocks, &[]).is_err());
    }

    #[test]
    fn chosen_mode_is_not_a_failed_attempt() {
        let stderr = "info: clone from /c into /v failed: Operation not supported (os error 95)\n";
        assert!(!says_chosen(stderr, &["clone"]));
        assert!(says_chosen(&format!("{stderr}info: link mode: hardlink (cache /c)\n"), &["hardlink"]));
    }
}
