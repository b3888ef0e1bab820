//! `cargo xtask bench --corpus DIR [--corpus-list NAME] [--runs N] [--json FILE] [--synthetic]
//! [--only S,...]`:
//! installs a corpus into fresh venvs with our release CLI, with uv 0.13.9 (set up in
//! `target/bench-tools`), and with the floor (a manifest-driven mkdir + hardlink of an installed
//! tree, and `cp -al`; for cold-bytecode, the bytecode alone), the tools taking turns in every
//! round after one untimed round, and reports medians, ranges, CPU time, peak RSS and per-round
//! ratios. Venvs, destinations and cold caches are made before the clock starts (the container
//! scenarios time a Dockerfile's whole RUN step). The scenarios are listed in [`Scenario`]; the
//! cross-filesystem and XFS ones run on loop-mounted images, the container ones in a reproduced
//! container build (container.rs; both root only). `--corpus` takes any directory of wheels: a
//! large real environment is a `pip download` of its requirements into one directory.
//! `--corpus-list NAME` benches the pinned list `xtask/corpus/NAME-wheels.txt` (`large`: 339
//! wheels), fetched into `target/corpus-NAME` by `xtask/corpus/fetch.sh` (only what is missing).

mod container;
pub mod floor;
mod measure;
mod scenario;
pub mod synthetic;
mod table;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::util::{project_root, python, Cmd, Log};
use scenario::{Mounts, Place, Scenario, Tool};
use table::{Report, Series};

pub struct Options {
    pub corpus: Option<PathBuf>,
    /// A pinned list of `xtask/corpus/` (`large` for `large-wheels.txt`), fetched and benched.
    pub corpus_list: Option<String>,
    pub runs: usize,
    pub json: Option<PathBuf>,
    pub synthetic: bool,
    /// Only these scenarios (by name); all when `None`.
    pub only: Option<Vec<String>>,
}

const UV_VERSION: &str = "0.13.9";
/// The bytecode alone, in one process per CPU: the floor of cold-bytecode.
const COMPILE_FLOOR: &str = include_str!("compile_floor.py");
/// File count of the dev corpus (shared/corpus/README.md), when no corpus is given.
const DEV_CORPUS_FILES: usize = 12_800;

pub fn run(opts: &Options) -> Result<()> {
    if opts.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let root = project_root();
    let target = root.join("target");
    Cmd::new("cargo").args(["build", "--release", "-p", "installer-cli"]).run()?;
    let tools = Tools {
        ours: target.join("release/installer"),
        uv: ensure_uv(&target)?,
        xtask: std::env::current_exe()?,
        home: target.join("bench/home"),
    };
    std::fs::create_dir_all(&tools.home)?;

    let mut corpora = Vec::new();
    if let Some(dir) = &opts.corpus {
        corpora.push((format!("{}", dir.display()), crate::util::wheels_in(dir)?));
    }
    if let Some(name) = &opts.corpus_list {
        let list = root.join(format!("xtask/corpus/{name}-wheels.txt"));
        if !list.is_file() {
            bail!("--corpus-list {name}: no {}", list.display());
        }
        let dir = target.join(format!("corpus-{name}"));
        Cmd::new("bash").arg(root.join("xtask/corpus/fetch.sh")).arg(&dir).arg(&list).run()?;
        corpora.push((format!("{} ({name} list)", dir.display()), crate::util::wheels_in(&dir)?));
    }
    if opts.synthetic {
        let dev_files = match corpora.first() {
            Some((_, wheels)) => synthetic::count_files(wheels)?,
            None => DEV_CORPUS_FILES,
        };
        let wheels = synthetic::generate(
            None,
            &synthetic::corpus_spec(dev_files * 10),
            &target.join("bench-synthetic"),
        )?;
        corpora.push(("synthetic, 10x the dev corpus's files".into(), wheels));
    }
    if corpora.is_empty() {
        bail!("nothing to install: give --corpus DIR (e.g. target/corpus from xtask/corpus/fetch.sh), --corpus-list large or --synthetic");
    }

    let scenarios: Vec<Scenario> = match &opts.only {
        None => Scenario::ALL.to_vec(),
        Some(names) => names
            .iter()
            .map(|n| {
                Scenario::ALL.iter().copied().find(|s| s.name() == n).with_context(|| {
                    let known: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
                    format!("unknown scenario `{n}` (known: {})", known.join(", "))
                })
            })
            .collect::<Result<_>>()?,
    };
    let mut reports = Vec::new();
    let bench_dir = target.join("bench");
    for (name, wheels) in corpora {
        let work = bench_dir.join("work");
        set_aside(&work)?;
        let report = bench_corpus(&tools, &work, name, &wheels, opts.runs, &scenarios)?;
        println!("\n{}", report.table());
        reports.push(report);
    }
    if let [dev, synth] = &reports[..] {
        if let (Some(a), Some(b)) = (dev.per_file_us("warm-hardlink"), synth.per_file_us("warm-hardlink")) {
            println!(
                "warm-hardlink per installed file: {a:.2} µs (dev), {b:.2} µs (synthetic): {:.2}x",
                b / a
            );
        }
    }
    if let Some(path) = &opts.json {
        let json = serde_json::Value::Array(reports.iter().map(Report::json).collect());
        std::fs::write(path, serde_json::to_string_pretty(&json)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("bench: wrote {}", path.display());
    }
    delete_set_aside(&bench_dir)
}

/// Prefix of the run directories of earlier benches (and corpora) waiting to be deleted.
const SET_ASIDE: &str = "set-aside-";

/// Moves `work` (the run directories of an earlier bench or corpus) aside, to be deleted once
/// this bench has measured everything: on ext4 without a journal (the root disk here) every
/// inode made in the minutes after a mass deletion is checked against the recently deleted
/// ones (the kernel's `recently_deleted`: a third of a cold install's CPU in `perf` then),
/// which slowed whichever scenario came first by up to 2x.
fn set_aside(work: &Path) -> Result<()> {
    if !work.exists() {
        return Ok(());
    }
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
    let aside = work.with_file_name(format!("{SET_ASIDE}{stamp}"));
    std::fs::rename(work, &aside).with_context(|| format!("cannot move {} aside", work.display()))
}

/// Deletes what [`set_aside`] moved aside, this bench's or an interrupted one's.
fn delete_set_aside(bench_dir: &Path) -> Result<()> {
    let mut deleted = false;
    for entry in std::fs::read_dir(bench_dir)? {
        let path = entry?.path();
        if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(SET_ASIDE)) {
            eprintln!("bench: deleting {} (earlier run directories; after measuring)", path.display());
            std::fs::remove_dir_all(&path).with_context(|| format!("cannot delete {}", path.display()))?;
            deleted = true;
        }
    }
    if deleted {
        // The kernel keeps a deleted inode from reuse for 1 minute, 6 while its inode table
        // block is dirty, and new inodes made meanwhile nearby re-dirty it.
        eprintln!(
            "bench: on ext4 without a journal, files made in the next ~6 minutes are slow to create \
             (recently deleted inodes are skipped one by one): wait before benching cold installs again"
        );
    }
    Ok(())
}

struct Tools {
    ours: PathBuf,
    uv: PathBuf,
    xtask: PathBuf,
    home: PathBuf,
}

/// uv, pinned, in its own venv under target/ (installed with pip on first use).
fn ensure_uv(target: &Path) -> Result<PathBuf> {
    let venv = target.join("bench-tools");
    let uv = venv.join("bin/uv");
    crate::util::tool_venv(&venv, &[&format!("uv=={UV_VERSION}")])?;
    let version = Cmd::new(&uv).arg("--version").read().unwrap_or_default();
    if !version.contains(UV_VERSION) {
        bail!("{} is not uv {UV_VERSION}", uv.display());
    }
    Ok(uv)
}

/// An installed tree the floor tools link from, on the filesystem of the runs, and its manifest.
struct Floor {
    tree: PathBuf,
    manifest: PathBuf,
}

impl Floor {
    /// The site-packages of `venv` (installed while preparing), with its manifest written to
    /// `manifest`; and how many files it holds.
    fn of(venv: &Path, manifest: PathBuf) -> Result<(Floor, usize)> {
        let tree = site_packages(venv)?;
        let (_, files) = floor::write_manifest(&tree, &manifest)?;
        Ok((Floor { tree, manifest }, files))
    }
}

/// The warm caches of one place: ours and uv's.
struct Caches {
    ours: PathBuf,
    uv: PathBuf,
}

fn bench_corpus(
    tools: &Tools,
    work: &Path,
    name: String,
    wheels: &[PathBuf],
    runs: usize,
    scenarios: &[Scenario],
) -> Result<Report> {
    std::fs::create_dir_all(work)?;
    let work = work.canonicalize()?;
    let log = Log::create(&work.join("../bench-mounts.log"))?;
    let mounts = Mounts::new(scenarios, &work, &log)?;
    eprintln!("bench: {name}: preparing warm caches and the floor's tree");
    let root = Caches { ours: work.join("ours-cache"), uv: work.join("uv-cache") };
    let prep = venv(&work.join("prep-ours"))?;
    let mut prep_ours = ours_cmd(tools, &prep, &root.ours, "hardlink", wheels);
    if scenarios.contains(&Scenario::WarmBytecode) {
        // Our bytecode for this interpreter goes into the cache once, as a user's first
        // `--compile` install would put it there.
        prep_ours = prep_ours.arg("--compile");
    }
    run_checked(&prep_ours, true)?;
    let prep = venv(&work.join("prep-uv"))?;
    run_checked(&uv_cmd(tools, &prep, &root.uv, Some("hardlink"), wheels), true)?;
    let (root_floor, files) = Floor::of(&prep, work.join("floor.manifest"))?;
    // Fills ours' automatic shard on the ext4, as the first install there would; the floor
    // links from that venv's tree, on the same filesystem.
    let ext4_floor = match &mounts.ext4 {
        Some(ext4) => {
            let prep = venv(&ext4.mnt.join("prep-ours"))?;
            run_checked(&ours_cmd(tools, &prep, &root.ours, "auto", wheels), true)?;
            Some(Floor::of(&prep, work.join("floor-ext4.manifest"))?.0)
        }
        None => None,
    };
    let xfs_caches = mounts
        .xfs
        .as_ref()
        .map(|xfs| Caches { ours: xfs.mnt.join("ours-cache"), uv: xfs.mnt.join("uv-cache") });
    if let (Some(xfs), Some(caches)) = (&mounts.xfs, &xfs_caches) {
        run_checked(
            &ours_cmd(tools, &venv(&xfs.mnt.join("prep-ours"))?, &caches.ours, "hardlink", wheels),
            true,
        )?;
        run_checked(
            &uv_cmd(tools, &venv(&xfs.mnt.join("prep-uv"))?, &caches.uv, Some("hardlink"), wheels),
            true,
        )?;
    }

    let build = if scenarios.iter().any(|s| s.in_container()) {
        container::Build::new(tools, wheels)?
            .map_err(|why| eprintln!("bench: container scenarios skipped: {why}"))
            .ok()
    } else {
        None
    };
    if let Some(build) = &build {
        build.check()?;
    }

    let mut series = Vec::new();
    for &scenario in scenarios {
        if scenario.in_container() && build.is_none() {
            continue;
        }
        let tools_here = scenario.tools();
        let mut results: Vec<Series> = tools_here
            .iter()
            .map(|t| Series {
                scenario: scenario.name().into(),
                tool: t.label(),
                secs: vec![],
                cpu_secs: vec![],
                peak_kib: vec![],
            })
            .collect();
        eprintln!("bench: {name}: {} ({runs} rounds after one untimed)", scenario.name());
        // Round 0 warms up: each tool runs once untimed, so that none pays for the scenario's
        // first run (the wheels and the binaries read from disk, a fresh mount's metadata);
        // it was always ours, first in round 0.
        for round in 0..=runs {
            // Take turns, starting with a different tool each round, so no tool always runs
            // right after another's writeback.
            for k in 0..tools_here.len() {
                let i = (round + k) % tools_here.len();
                // A directory per run, all deleted at the end: deleting 12,000 files right
                // before a timed run (ext4 with `discard` here) slows that run by up to 10x.
                let run = |attempt: &str| -> Result<(Cmd, measure::Sample)> {
                    let base = mounts.dir(scenario.place(), &work);
                    let dir = base.join(format!("r-{}-{round}-{i}{attempt}", scenario.name()));
                    let caches = match scenario.place() {
                        Place::Xfs => xfs_caches.as_ref().expect("mounted for its scenarios"),
                        _ => &root,
                    };
                    let cmd = match &build {
                        Some(build) if scenario.in_container() => {
                            build.prepare(tools_here[i], scenario.cold())?
                        }
                        _ => {
                            let floor = match scenario.place() {
                                Place::Ext4 => ext4_floor.as_ref().expect("prepared with its mount"),
                                _ => &root_floor,
                            };
                            prepare(tools, scenario, tools_here[i], &dir, caches, floor, wheels)?
                        }
                    };
                    // Flush this venv's creation (and the previous run's writes), so that no
                    // tool pays for another's writeback.
                    // SAFETY: sync has no preconditions.
                    unsafe { libc::sync() };
                    let sample = measure::measure(&cmd)
                        .with_context(|| format!("{} {}", scenario.name(), tools_here[i].label()))?;
                    Ok((cmd, sample))
                };
                let (cmd, sample) = match run("") {
                    // Another tool crashing once (uv 0.13.9 has died of SIGSEGV here after
                    // installing) is reported and that run repeated; ours failing is a bug.
                    Err(e) if !matches!(tools_here[i], Tool::Ours | Tool::OursHardlink) => {
                        eprintln!("bench: {e:#}; repeating that run");
                        run("-again")?
                    }
                    result => result?,
                };
                if round == 0 {
                    eprintln!("  timed: {}", cmd.display_short());
                    continue;
                }
                results[i].secs.push(sample.wall.as_secs_f64());
                results[i].cpu_secs.push(sample.cpu.as_secs_f64());
                results[i].peak_kib.push(sample.max_rss_kib);
            }
        }
        series.extend(results);
    }
    // The run directories stay for the next bench to set aside and delete after measuring
    // ([`set_aside`]): deleting a few GB of copies and cold caches takes minutes on a disk with
    // `discard`, and the report comes first.
    drop(mounts);
    let mut notes = match build {
        Some(_) => vec![container::NOTE.to_owned()],
        None => vec![],
    };
    let (floor, uv) = (Tool::CompileFloor.label(), Tool::Uv.label());
    let cold_bytecode =
        |tool: &str| series.iter().find(|s| s.scenario == Scenario::ColdBytecode.name() && s.tool == tool);
    if let (Some(floor), Some(uv)) = (cold_bytecode(&floor), cold_bytecode(&uv)) {
        notes.push(format!(
            "cold-bytecode: the bytecode alone (py_compile of each installed source, as pip and \
             uv compile) takes {:.2} of uv's time (median of per-round ratios)",
            table::ratio_per_round(&floor.secs, &uv.secs)
        ));
    }
    let machine = measure::machine(&tools.home)?;
    Ok(Report { corpus: name, wheels: wheels.len(), files, runs, machine, notes, series })
}

/// Everything outside the clock: a fresh venv (or destination) and, for cold runs, an empty
/// cache. Returns the command to time.
#[allow(clippy::too_many_arguments)]
fn prepare(
    tools: &Tools,
    scenario: Scenario,
    tool: Tool,
    dir: &Path,
    caches: &Caches,
    floor: &Floor,
    wheels: &[PathBuf],
) -> Result<Cmd> {
    let Floor { tree, manifest } = floor;
    std::fs::create_dir_all(dir)?;
    let cold_cache = dir.join("cache");
    let (ours_cache, uv_cache) =
        if scenario.cold() { (&cold_cache, &cold_cache) } else { (&caches.ours, &caches.uv) };
    let (ours_mode, uv_mode) = scenario.modes();
    let compiling = |cmd: Cmd, flag: &str| if scenario.bytecode() { cmd.arg(flag) } else { cmd };
    Ok(match tool {
        Tool::Ours => {
            compiling(ours_cmd(tools, &venv(&dir.join("venv"))?, ours_cache, ours_mode, wheels), "--compile")
        }
        Tool::OursHardlink => ours_cmd(tools, &venv(&dir.join("venv"))?, ours_cache, "hardlink", wheels),
        Tool::Uv => compiling(
            uv_cmd(tools, &venv(&dir.join("venv"))?, uv_cache, uv_mode, wheels),
            "--compile-bytecode",
        ),
        Tool::Floor => Cmd::new(&tools.xtask).arg("floor").arg(manifest).arg(dir.join("site-packages")),
        Tool::CpAl => Cmd::new("cp").arg("-al").arg(tree).arg(dir.join("site-packages")),
        Tool::CompileFloor => {
            // The installed sources (hardlinks to the prepared tree's), without bytecode.
            let sources = dir.join("site-packages");
            Cmd::new("cp").arg("-al").arg(tree).arg(&sources).read()?;
            Cmd::new(python()?).args(["-c", COMPILE_FLOOR]).arg(sources)
        }
    })
}

fn venv(path: &Path) -> Result<PathBuf> {
    Cmd::new(python()?).args(["-m", "venv", "--without-pip"]).arg(path).read()?;
    Ok(path.to_owned())
}

fn site_packages(venv: &Path) -> Result<PathBuf> {
    for entry in std::fs::read_dir(venv.join("lib"))? {
        let candidate = entry?.path().join("site-packages");
        if candidate.is_dir() {
            return Ok(candidate);
        }
    }
    bail!("no site-packages in {}", venv.display())
}

fn ours_cmd(tools: &Tools, venv: &Path, cache: &Path, mode: &str, wheels: &[PathBuf]) -> Cmd {
    Cmd::new(&tools.ours)
        .args(["install", "-q", "--venv"])
        .arg(venv)
        .arg("--cache-dir")
        .arg(cache)
        .args(["--link-mode", mode])
        .args(wheels)
        .cwd(&tools.home)
        .env("XDG_CONFIG_HOME", tools.home.join("config"))
        .without_installer_env()
}

/// `mode` `None`: uv's default link mode.
fn uv_cmd(tools: &Tools, venv: &Path, cache: &Path, mode: Option<&str>, wheels: &[PathBuf]) -> Cmd {
    let cmd = Cmd::new(&tools.uv)
        .args(["pip", "install", "--offline", "--no-deps", "--python"])
        .arg(venv.join("bin/python"))
        .arg("--cache-dir")
        .arg(cache);
    let cmd = match mode {
        Some(mode) => cmd.args(["--link-mode", mode]),
        None => cmd,
    };
    cmd.args(wheels).cwd(&tools.home).env("UV_NO_CONFIG", "1").env_remove("VIRTUAL_ENV")
}

/// An untimed run that must succeed (echoed when it sets something up); its output.
fn run_checked(cmd: &Cmd, echo: bool) -> Result<crate::util::Output> {
    if echo {
        eprintln!("{}", cmd.display_short());
    }
    let out = cmd.output()?;
    if !out.success() {
        bail!("`{}`: {}: {}", crate::util::short(cmd), out.exit, out.tail());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earlier_run_directories_are_set_aside_then_deleted_and_nothing_else() {
        let bench = tempfile::tempdir().unwrap();
        let work = bench.path().join("work");
        std::fs::create_dir_all(work.join("r-cold-0-0/cache")).unwrap();
        std::fs::create_dir(bench.path().join("home")).unwrap();
        set_aside(&work).unwrap();
        set_aside(&work).unwrap(); // nothing left to move: not an error
        let names = |dir: &Path| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        };
        let aside = names(bench.path());
        assert!(!work.exists() && aside.len() == 2 && aside[1].starts_with(SET_ASIDE), "{aside:?}");
        assert!(bench.path().join(&aside[1]).join("r-cold-0-0/cache").is_dir());
        delete_set_aside(bench.path()).unwrap();
        assert_eq!(names(bench.path()), ["home"]);
    }

    #[test]
    fn the_compile_floor_compiles_every_source_of_a_tree() {
        let tree = tempfile::tempdir().unwrap();
        std::fs::create_dir(tree.path().join("pkg")).unwrap();
        std::fs::write(tree.path().join("a.py"), "A = 1\n").unwrap();
        std::fs::write(tree.path().join("pkg/b.py"), "def b():\n    return 2\n").unwrap();
        Cmd::new(python().unwrap()).args(["-c", COMPILE_FLOOR]).arg(tree.path()).read().unwrap();
        for dir in [tree.path().to_path_buf(), tree.path().join("pkg")] {
            let pycs: Vec<_> = std::fs::read_dir(dir.join("__pycache__")).unwrap().collect();
            assert_eq!(pycs.len(), 1, "{}", dir.display());
        }
    }
}
