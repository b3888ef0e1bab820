//! Generated wheels (by Python's zipfile, from `synth_wheels.py`): a corpus ten times the dev
//! corpus for `bench --synthetic`, and the few special wheels e2e needs (big incompressible
//! files for the reflink check, many small files for concurrency and SIGKILL).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::util::{python, Cmd, Log};

const SCRIPT: &str = include_str!("synth_wheels.py");

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub prefix: &'static str,
    pub wheels: usize,
    /// Files per wheel, `__init__.py` included (the dist-info adds four).
    pub files: usize,
    pub min_size: usize,
    pub max_size: usize,
    /// Incompressible bytes (stored) rather than code-like text (deflated).
    pub random: bool,
}

pub const BIG_FILES: u64 = 3;
pub const BIG_SIZE: u64 = 4 << 20;

/// One wheel, `xtbig_0000`, with three 4 MiB random files `xtbig_0000/data_000N.bin`.
pub fn big_wheel(log: &Log, dir: &Path) -> Result<PathBuf> {
    let spec = Spec {
        prefix: "xtbig",
        wheels: 1,
        files: BIG_FILES as usize + 1,
        min_size: BIG_SIZE as usize,
        max_size: BIG_SIZE as usize,
        random: true,
    };
    Ok(generate(Some(log), &spec, dir)?.remove(0))
}

/// Four wheels of 1,500 small text files each: enough work that an install takes a moment.
pub fn many_files(log: &Log, dir: &Path) -> Result<Vec<PathBuf>> {
    let spec =
        Spec { prefix: "xtmany", wheels: 4, files: 1500, min_size: 200, max_size: 6000, random: false };
    generate(Some(log), &spec, dir)
}

/// A corpus with about `files` installed files, shaped like a real one (about 190 files a wheel).
pub fn corpus_spec(files: usize) -> Spec {
    let per_wheel = 190;
    Spec {
        prefix: "synth",
        wheels: files.div_ceil(per_wheel),
        files: per_wheel,
        min_size: 100,
        max_size: 12000,
        random: false,
    }
}

/// Writes the wheels of `spec` under `dir/<prefix>` (kept across runs: the same spec gives the
/// same bytes, a different one starts afresh).
pub fn generate(log: Option<&Log>, spec: &Spec, dir: &Path) -> Result<Vec<PathBuf>> {
    let out = dir.join(spec.prefix);
    let json = serde_json::json!({
        "out": out.display().to_string(),
        "prefix": spec.prefix,
        "wheels": spec.wheels,
        "files": spec.files,
        "min_size": spec.min_size,
        "max_size": spec.max_size,
        "random": spec.random,
    })
    .to_string();
    let stamp = out.join("spec.json");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(json.as_str()) {
        let _ = std::fs::remove_dir_all(&out);
    }
    std::fs::create_dir_all(&out)?;
    let script = out.join("synth_wheels.py");
    std::fs::write(&script, SCRIPT)?;
    let cmd = Cmd::new(python()?).arg(&script).arg(&json).timeout(std::time::Duration::from_secs(1800));
    let stdout = match log {
        Some(log) => log.run(&cmd)?.stdout,
        None => {
            eprintln!("{}", cmd.display());
            cmd.read()?
        }
    };
    std::fs::write(&stamp, &json)?;
    let paths: Vec<String> = serde_json::from_str(stdout.trim().lines().last().unwrap_or("[]"))
        .context("synth_wheels.py output")?;
    Ok(paths.into_iter().map(PathBuf::from).collect())
}

/// Files (not directories) in the archives: what an install of them writes, give or take the
/// launchers and metadata installers add.
pub fn count_files(wheels: &[PathBuf]) -> Result<usize> {
    let code = "import sys, zipfile\n\
                print(sum(sum(not n.endswith('/') for n in zipfile.ZipFile(p).namelist()) for p in sys.argv[1:]))";
    let out = Cmd::new(python()?).args(["-c", code]).args(wheels).read()?;
    out.parse().with_context(|| format!("file count {out:?}"))
}
