//! Virtual environments as the checks meet them: made by `python -m venv`, filled by our CLI or
//! by pip, compared as snapshots of what the install added, imported from and scripts run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::record;
use super::snapshot::{diff, DiffOptions, Kind, Snapshot, SnapshotOptions, Summary};
use crate::util::{python, Cmd, Log, Output};

/// Files that differ between installers by design: who installed and how ([`WHO_INSTALLED`]),
/// the RECORD that lists that, and bytecode.
pub const INSTALLER_METADATA: &[&str] =
    &[WHO_INSTALLED[0], WHO_INSTALLED[1], WHO_INSTALLED[2], "*.dist-info/RECORD", "__pycache__"];

pub struct Venv {
    pub root: PathBuf,
    pub site_packages: PathBuf,
    baseline: Snapshot,
}

impl Venv {
    /// `python -m venv --without-pip`, as the CLI itself would make it.
    pub fn create(log: &Log, root: &Path) -> Result<Venv> {
        let root = absolute(root)?;
        log.run(&Cmd::new(python()?).args(["-m", "venv", "--without-pip"]).arg(&root).timeout(secs(120)))?;
        let site_packages = site_packages(&root)?;
        let mut venv = Venv { root, site_packages, baseline: Snapshot::default() };
        venv.baseline = venv.snapshot()?;
        Ok(venv)
    }

    pub fn python(&self) -> PathBuf {
        self.root.join("bin/python")
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.root.join("bin").join(name)
    }

    /// The tree, symlinks to files described by their targets' contents, the venv's own path in
    /// shebangs replaced by `{venv}`, and the interpreter links left out.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let opts = SnapshotOptions {
            follow_file_symlinks: true,
            normalize_shebang_files: Some((self.root.display().to_string(), "{venv}".into())),
            skip: vec!["/bin/python*".into(), "/pyvenv.cfg".into()],
        };
        Snapshot::of(&self.root, &opts)
    }

    /// What was added or changed since the venv was created.
    pub fn added(&self) -> Result<Snapshot> {
        Ok(self.snapshot()?.minus(&self.baseline))
    }

    /// `pip install --no-deps --no-compile`, run by the interpreter's own pip with `--python`
    /// pointing here: the venv itself holds no pip, so wheels of pip or setuptools (real
    /// corpora have them) are installed like any other.
    pub fn pip_install(&self, log: &Log, wheels: &[PathBuf]) -> Result<()> {
        self.pip(log, wheels, Bytecode::Skip)
    }

    fn pip(&self, log: &Log, wheels: &[PathBuf], bytecode: Bytecode) -> Result<()> {
        let compile = match bytecode {
            Bytecode::Skip => "--no-compile",
            Bytecode::Compile => "--compile",
        };
        log.run(&self.pip_install_cmd(&[compile, "-q"])?.args(wheels).timeout(secs(900)))?;
        Ok(())
    }

    /// `pip install --no-deps` with `extra`, of the interpreter's own pip with `--python`
    /// pointing here: no index, no cache, no version check, no prompt. The wheels are the
    /// caller's to add.
    pub fn pip_install_cmd(&self, extra: &[&str]) -> Result<Cmd> {
        Ok(Cmd::new(python()?)
            .args(["-m", "pip", "--python"])
            .arg(self.python())
            .args(["install", "--no-deps", "--no-index", "--disable-pip-version-check", "--no-input"])
            .args(extra)
            .env("PIP_NO_CACHE_DIR", "1")
            .env_remove("PIP_REQUIRE_VIRTUALENV"))
    }
}

/// Whether an install writes `.pyc` files (pip's default, our `--compile`) or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bytecode {
    Skip,
    Compile,
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// An absolute path with a canonical parent (created if needed), so that the venv path written
/// into shebangs is the one we normalize away.
pub fn absolute(path: &Path) -> Result<PathBuf> {
    let parent = path.parent().context("venv path has no parent")?;
    std::fs::create_dir_all(parent)?;
    let parent = parent.canonicalize()?;
    Ok(parent.join(path.file_name().context("venv path has no name")?))
}

fn site_packages(root: &Path) -> Result<PathBuf> {
    for entry in
        std::fs::read_dir(root.join("lib")).with_context(|| format!("{} is not a venv", root.display()))?
    {
        let candidate = entry?.path().join("site-packages");
        if candidate.is_dir() {
            return Ok(candidate);
        }
    }
    bail!("no lib/python*/site-packages in {}", root.display())
}

/// The CLI under test, run in an empty working directory with no configuration or `INSTALLER_*`
/// variables leaking in from the caller.
pub struct Installer {
    pub exe: PathBuf,
    pub home: PathBuf,
}

#[derive(Clone, Copy)]
pub struct Install<'a> {
    pub venv: &'a Path,
    pub cache: &'a Path,
    pub link_mode: &'a str,
    pub wheels: &'a [PathBuf],
    pub extra: &'a [&'a str],
}

impl Installer {
    pub fn cmd(&self) -> Cmd {
        Cmd::new(&self.exe)
            .cwd(&self.home)
            .env("XDG_CONFIG_HOME", self.home.join("config"))
            .env("XDG_CACHE_HOME", self.home.join("cache"))
            .timeout(secs(600))
            .without_installer_env()
    }

    pub fn install(&self, i: Install) -> Cmd {
        self.cmd()
            .arg("install")
            .arg("--venv")
            .arg(i.venv)
            .arg("--cache-dir")
            .arg(i.cache)
            .args(["--link-mode", i.link_mode])
            .args(i.extra)
            .args(i.wheels)
    }

    /// Install and require exit 0.
    pub fn run(&self, log: &Log, i: Install) -> Result<Output> {
        log.run(&self.install(i)).context("installer failed")
    }
}

/// What pip makes of a set of wheels, computed once per set.
pub struct Reference {
    pub venv: Venv,
    pub added: Snapshot,
}

impl Reference {
    pub fn build(log: &Log, dir: &Path, wheels: &[PathBuf]) -> Result<Reference> {
        Self::build_with(log, dir, wheels, Bytecode::Skip)
    }

    pub fn build_with(log: &Log, dir: &Path, wheels: &[PathBuf], bytecode: Bytecode) -> Result<Reference> {
        let venv = Venv::create(log, dir)?;
        venv.pip(log, wheels, bytecode).context("pip install (the reference) failed")?;
        let added = venv.added()?;
        Ok(Reference { venv, added })
    }
}

/// File-for-file against pip, modulo [`INSTALLER_METADATA`] and the text of generated
/// entry-point launchers (their shebang, mode and presence still count; that they work is
/// checked by running them).
pub fn compare_with_pip(ours: &Venv, ours_added: &Snapshot, pip: &Reference) -> Result<()> {
    diff_with_pip(ours, ours_added, pip, false)
}

/// [`compare_with_pip`], and every file's and directory's permission bits as pip's (for
/// files linked from a cache whose files pip's modes: a cache of this user's).
pub fn compare_with_pip_and_modes(ours: &Venv, ours_added: &Snapshot, pip: &Reference) -> Result<()> {
    diff_with_pip(ours, ours_added, pip, true)
}

fn diff_with_pip(ours: &Venv, ours_added: &Snapshot, pip: &Reference, modes: bool) -> Result<()> {
    let ours_added = mask_launchers(ours, ours_added)?;
    let pip_added = mask_launchers(&pip.venv, &pip.added)?;
    let diffs = diff(
        &ours_added,
        &pip_added,
        &DiffOptions { ignore: INSTALLER_METADATA, modes, ..Default::default() },
    );
    if !diffs.is_empty() {
        bail!("{}", Summary { diffs: &diffs, left: "ours", right: "pip" });
    }
    Ok(())
}

fn mask_launchers(venv: &Venv, added: &Snapshot) -> Result<Snapshot> {
    let mut out = added.clone();
    for name in record::installed_scripts(&venv.site_packages)? {
        if let Some(entry) = out.entries.get_mut(&format!("bin/{name}")) {
            let text = std::fs::read(venv.bin(&name)).unwrap_or_default();
            let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
            let first = String::from_utf8_lossy(first).replace(&venv.root.display().to_string(), "{venv}");
            entry.digest = Some(format!("launcher {first}"));
            entry.size = 0;
        }
    }
    Ok(out)
}

/// The metadata files that say who installed a distribution and how (PEP 610).
const WHO_INSTALLED: [&str; 3] =
    ["*.dist-info/INSTALLER", "*.dist-info/REQUESTED", "*.dist-info/direct_url.json"];

/// The RECORDs of both venvs list the same files (`.pyc` files included), but for
/// [`WHO_INSTALLED`]: what an uninstaller would remove is what pip's would. Returns how
/// many files they list.
pub fn compare_records_with_pip(ours: &Venv, pip: &Venv) -> Result<usize> {
    let listed = |v: &Venv| -> Result<BTreeSet<String>> {
        let all = record::listed_paths(&v.site_packages, &v.root)?;
        Ok(all.into_iter().filter(|p| !super::snapshot::ignored(p, &WHO_INSTALLED)).collect())
    };
    let ours = listed(ours)?;
    same_as_pip("RECORDs list", &ours, &listed(pip)?)?;
    Ok(ours.len())
}

/// `what` holds the same in both venvs; else an error naming a few of each side's extras.
pub fn same_as_pip<T: Ord + std::fmt::Debug>(
    what: &str,
    ours: &BTreeSet<T>,
    pip: &BTreeSet<T>,
) -> Result<()> {
    let only_ours: Vec<_> = ours.difference(pip).collect();
    let only_pip: Vec<_> = pip.difference(ours).collect();
    if !only_ours.is_empty() || !only_pip.is_empty() {
        bail!(
            "{what}: {} only ours (e.g. {:?}), {} only pip's (e.g. {:?})",
            only_ours.len(),
            &only_ours[..only_ours.len().min(5)],
            only_pip.len(),
            &only_pip[..only_pip.len().min(5)]
        );
    }
    Ok(())
}

/// Every `__pycache__/*.pyc` of the venv is readable by its interpreter and current: its
/// magic number, and a timestamp-based header with the mtime and size of the source beside it
/// or a checked hash-based one with its hash (else Python ignores it and compiles again).
/// Returns how many there are.
pub fn check_bytecode(log: &Log, venv: &Venv) -> Result<usize> {
    const CODE: &str = "\
import importlib.util, json, os, sys
count, bad = 0, []
for top, dirs, files in os.walk(sys.argv[1]):
    if os.path.basename(top) != '__pycache__':
        continue
    for name in files:
        pyc = os.path.join(top, name)
        count += 1
        try:
            source = importlib.util.source_from_cache(pyc)
            with open(pyc, 'rb') as f:
                head = f.read(16)
            st = os.stat(source)
        except (OSError, ValueError) as e:
            bad.append('%s: %s' % (pyc, e))
            continue
        word = lambda i: int.from_bytes(head[i:i + 4], 'little')
        if head[:4] != importlib.util.MAGIC_NUMBER or word(4) not in (0, 3):
            bad.append('%s: header %s' % (pyc, head[:8].hex()))
        elif word(4) == 3:
            with open(source, 'rb') as f:
                if head[8:] != importlib.util.source_hash(f.read()):
                    bad.append('%s: stale hash for %s' % (pyc, source))
        elif (word(8), word(12)) != (int(st.st_mtime) & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF):
            bad.append('%s: stale (mtime, size) %s for %s' % (pyc, (word(8), word(12)), source))
print('XTASK-PYC ' + json.dumps([count, bad]))
";
    let out =
        log.run(&Cmd::new(venv.python()).args(["-I", "-c", CODE]).arg(&venv.root).timeout(secs(600)))?;
    let line = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("XTASK-PYC "))
        .context("bytecode check printed no result")?;
    let (count, bad): (usize, Vec<String>) = serde_json::from_str(line)?;
    if !bad.is_empty() {
        bail!("{} of {count} .pyc files unusable, e.g. {}", bad.len(), bad[..bad.len().min(3)].join("; "));
    }
    Ok(count)
}

/// Each `.pyc` of `pycs` (paths relative to both venvs) holds the code pip's does: the same
/// magic and header flags (timestamp- or hash-based), and equal code objects (`==` on code
/// compares everything but the file name, which names each venv's own path). The rest of the
/// header is each venv's own: the source's mtime, and its size, which for a `#!python` script
/// counts the venv's path in its shebang ([`check_bytecode`] holds each to its own source).
/// Returns how many were compared.
pub fn compare_bytecode_with_pip(log: &Log, ours: &Venv, pip: &Venv, pycs: &[&str]) -> Result<usize> {
    const CODE: &str = "\
import json, marshal, os, sys
ours, pip, bad = sys.argv[1], sys.argv[2], []
for rel in open(sys.argv[3]).read().splitlines():
    with open(os.path.join(ours, rel), 'rb') as f:
        a = f.read()
    with open(os.path.join(pip, rel), 'rb') as f:
        b = f.read()
    if a[:8] != b[:8]:
        bad.append('%s: header %s vs %s' % (rel, a[:8].hex(), b[:8].hex()))
    elif marshal.loads(a[16:]) != marshal.loads(b[16:]):
        bad.append('%s: other code' % rel)
print('XTASK-PYC-VS-PIP ' + json.dumps(bad))
";
    let list = tempfile::NamedTempFile::new()?;
    std::fs::write(list.path(), pycs.join("\n"))?;
    let cmd = Cmd::new(ours.python())
        .args(["-I", "-c", CODE])
        .arg(&ours.root)
        .arg(&pip.root)
        .arg(list.path())
        .timeout(secs(600));
    let out = log.run(&cmd)?;
    let line = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("XTASK-PYC-VS-PIP "))
        .context("bytecode comparison printed no result")?;
    let bad: Vec<String> = serde_json::from_str(line)?;
    if !bad.is_empty() {
        bail!(
            "{} of {} .pyc files differ from pip's, e.g. {}",
            bad.len(),
            pycs.len(),
            bad[..bad.len().min(3)].join("; ")
        );
    }
    Ok(pycs.len())
}

/// Every installed RECORD is true, and lists every file the install added.
pub fn check_records(venv: &Venv, added: &Snapshot) -> Result<usize> {
    let listed = record::verify_records(&venv.site_packages)?;
    for (rel, entry) in &added.entries {
        if entry.kind == Kind::Dir || super::snapshot::ignored(rel, &["__pycache__", "*.pyc"]) {
            continue;
        }
        if !listed.contains(&record::normalize(&venv.root.join(rel))) {
            bail!("{rel} was installed but no RECORD lists it");
        }
    }
    Ok(listed.len())
}

/// Import each module in one interpreter; returns the failures (name -> error).
pub fn import_failures(log: &Log, venv: &Venv, names: &[String]) -> Result<BTreeMap<String, String>> {
    const CODE: &str = "\
import importlib, json, sys
failed = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as e:
        failed[name] = (type(e).__name__ + ': ' + str(e))[:300]
sys.stdout.flush()
print('\\nXTASK-IMPORTS ' + json.dumps(failed))
";
    let cwd = tempfile::tempdir()?;
    let out = log.run(
        &Cmd::new(venv.python()).args(["-I", "-c", CODE]).args(names).cwd(cwd.path()).timeout(secs(600)),
    )?;
    let line = out
        .stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("XTASK-IMPORTS "))
        .context("import check printed no result")?;
    Ok(serde_json::from_str(line)?)
}

/// Runs `venv/bin/NAME args` in an empty directory.
pub fn run_script(log: &Log, venv: &Venv, name: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
    let cwd = tempfile::tempdir()?;
    let mut cmd = Cmd::new(venv.bin(name)).args(args).cwd(cwd.path()).timeout(secs(60));
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    log.output(&cmd)
}

/// The regular files an install linked from the cache: everything under site-packages except
/// metadata, which installers write rather than link.
pub fn linkable_files(venv: &Venv, added: &Snapshot) -> Vec<(PathBuf, super::snapshot::Entry)> {
    let prefix = venv.site_packages.strip_prefix(&venv.root).unwrap().display().to_string() + "/";
    added
        .entries
        .iter()
        .filter(|(rel, e)| {
            e.kind == Kind::File
                && rel.starts_with(&prefix)
                && !super::snapshot::ignored(rel, &["*.dist-info", "__pycache__"])
        })
        .map(|(rel, e)| (venv.root.join(rel), e.clone()))
        .collect()
}
