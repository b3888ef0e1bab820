//! `cargo xtask fuzz [--seconds N] [--target T]`: seeds the corpora from the fixture wheels,
//! then runs each cargo-fuzz target of `fuzz/` for N seconds and prints how many inputs each
//! one executed.
//!
//! cargo-fuzz needs a nightly compiler; on a stable toolchain the targets are built with
//! `RUSTC_BOOTSTRAP=1`. Seeds are generated here (never committed): for `unpack`, each fixture
//! wheel prefixed by its file name and a newline (the input format of that target); for the
//! text parsers, the matching `.dist-info` files of the fixtures; for `filename`, their names.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::util::Cmd;

/// Every target of `fuzz/Cargo.toml`, with the `.dist-info` file that seeds it (if any).
const TARGETS: [(&str, Option<&str>); 6] = [
    ("unpack", None),
    ("record", Some("RECORD")),
    ("wheel_file", Some("WHEEL")),
    ("entry_points", Some("entry_points.txt")),
    ("metadata", Some("METADATA")),
    ("filename", None),
];

pub struct Options {
    pub seconds: u64,
    pub target: Option<String>,
}

pub fn run(opts: &Options) -> Result<()> {
    let targets: Vec<&str> = match &opts.target {
        Some(t) if TARGETS.iter().any(|(name, _)| name == t) => vec![t.as_str()],
        Some(t) => bail!(
            "unknown fuzz target `{t}` (targets: {})",
            TARGETS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        ),
        None => TARGETS.iter().map(|(n, _)| *n).collect(),
    };
    if !Cmd::new("cargo").args(["fuzz", "--version"]).output().is_ok_and(|o| o.success()) {
        bail!("cargo-fuzz is not installed: run `cargo install cargo-fuzz --locked`");
    }
    let fuzz_dir = Path::new("fuzz");
    seed(fuzz_dir)?;
    // One target, or all of them when none is named.
    cargo_fuzz(fuzz_dir).args(["build", "-O"]).args(&opts.target).run()?;

    let mut results = Vec::new();
    for target in &targets {
        results.push((target, run_target(fuzz_dir, target, opts.seconds)?));
    }
    eprintln!("fuzz: {:<14} {:>14} {:>10}  result", "target", "executions", "exec/s");
    let mut failed = Vec::new();
    for (target, r) in &results {
        let per_second = r.runs / opts.seconds.max(1);
        let verdict = if r.ok { "no crash".to_string() } else { format!("FAILED, see {}", r.log.display()) };
        eprintln!("fuzz: {target:<14} {:>14} {per_second:>10}  {verdict}", r.runs);
        if !r.ok {
            failed.push(target.to_string());
        }
    }
    if !failed.is_empty() {
        bail!("fuzz targets failed: {} (crashing inputs are in fuzz/artifacts/)", failed.join(", "));
    }
    Ok(())
}

struct TargetResult {
    ok: bool,
    runs: u64,
    log: PathBuf,
}

/// `cargo fuzz` in `fuzz/`, allowed to use nightly features on a stable toolchain.
fn cargo_fuzz(fuzz_dir: &Path) -> Cmd {
    Cmd::new("cargo").arg("fuzz").cwd(fuzz_dir).env("RUSTC_BOOTSTRAP", "1")
}

fn run_target(fuzz_dir: &Path, target: &str, seconds: u64) -> Result<TargetResult> {
    let cmd = cargo_fuzz(fuzz_dir)
        .args(["run", "-O", target, &format!("corpus/{target}")])
        .args([
            "--".to_string(),
            format!("-max_total_time={seconds}"),
            "-timeout=10".to_string(),
            "-rss_limit_mb=2048".to_string(),
            "-print_final_stats=1".to_string(),
        ])
        // The reader unpacks members in parallel; one thread keeps runs reproducible.
        .env("RAYON_NUM_THREADS", "1")
        .timeout(Duration::from_secs(seconds + 900));
    eprintln!("{}", cmd.display());
    let out = cmd.output()?;
    let log = PathBuf::from(format!("target/fuzz-{target}.log"));
    std::fs::write(&log, format!("{}\n{}", out.stdout, out.stderr))
        .with_context(|| format!("cannot write {}", log.display()))?;
    Ok(TargetResult { ok: out.success(), runs: executions(&out.stderr).unwrap_or(0), log })
}

/// The number of inputs libFuzzer ran, from its final statistics.
fn executions(stderr: &str) -> Option<u64> {
    let stat = stderr.lines().rev().find_map(|l| l.strip_prefix("stat::number_of_executed_units:"));
    let done = || {
        stderr
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("Done ")?.split_whitespace().next().map(str::to_owned))
    };
    stat.map(str::to_owned).or_else(done)?.trim().parse().ok()
}

/// Writes the seed corpora under `fuzz/corpus/<target>/` from `fixtures/wheels/*.whl`.
fn seed(fuzz_dir: &Path) -> Result<()> {
    let mut wheels: Vec<PathBuf> = std::fs::read_dir("fixtures/wheels")
        .context("cannot list fixtures/wheels")?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    wheels.retain(|p| p.extension().is_some_and(|e| e == "whl"));
    wheels.sort();
    let corpus = fuzz_dir.join("corpus");
    for (target, _) in TARGETS {
        std::fs::create_dir_all(corpus.join(target))?;
    }
    for wheel in &wheels {
        let name = wheel.file_name().and_then(|n| n.to_str()).context("fixture name")?;
        let mut input = format!("{name}\n").into_bytes();
        input.extend(std::fs::read(wheel)?);
        std::fs::write(corpus.join("unpack").join(format!("{name}.seed")), input)?;
        std::fs::write(corpus.join("filename").join(format!("{name}.seed")), name)?;
    }
    // The `.dist-info` files, extracted with Python's zipfile (no zip dependency here).
    let script = r#"
import sys, zipfile, pathlib
corpus = pathlib.Path(sys.argv[1])
targets = dict(arg.split("=", 1) for arg in sys.argv[2].split(","))
for wheel in sys.argv[3:]:
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            parts = name.split("/")
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in targets:
                out = corpus / targets[parts[1]] / (pathlib.Path(wheel).stem + ".seed")
                out.write_bytes(z.read(name))
"#;
    let mapping: Vec<String> =
        TARGETS.iter().filter_map(|(t, file)| Some(format!("{}={t}", (*file)?))).collect();
    Cmd::new(crate::util::python()?)
        .args(["-c", script])
        .arg(&corpus)
        .arg(mapping.join(","))
        .args(&wheels)
        .read()
        .context("cannot extract seeds from the fixture wheels")?;
    // entry_points seeds beyond what the fixtures have: the syntax the parser accepts.
    std::fs::write(
        corpus.join("entry_points").join("handwritten.seed"),
        "[console_scripts]\na = b.c:d.e [x, y]\n; comment\n[gui_scripts]\ng=m\n[other]\n?? = ??\n",
    )?;
    let count = |t: &str| std::fs::read_dir(corpus.join(t)).map(|d| d.count()).unwrap_or(0);
    eprintln!(
        "fuzz: seeds from {} fixture wheels: {}",
        wheels.len(),
        TARGETS.iter().map(|(t, _)| format!("{t} {}", count(t))).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_executions_from_libfuzzer_output() {
        let stderr =
            "#1024 pulse\nDone 123456 runs in 301 second(s)\nstat::number_of_executed_units: 123457\n";
        assert_eq!(executions(stderr), Some(123_457));
        assert_eq!(executions("Done 99 runs in 1 second(s)\n"), Some(99));
        assert_eq!(executions("==1== ERROR: libFuzzer: deadly signal\n"), None);
    }
}
