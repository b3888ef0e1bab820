//! `--corpus DIR`: real wheels, installed by us and by pip, compared file for file (contents and
//! permission bits); then every top-level module imported and every console script started in
//! both venvs. A module or a script that fails under pip too (a missing optional dependency)
//! is not ours to fix; one that works under pip and not under ours is a failure. With
//! `--compile` both write bytecode (pip's default, our `--compile`): the same `.pyc` files,
//! listed by the RECORDs, all current, each holding the code pip's does.
//!
//! A corpus is pinned for one Python (the large one for 3.11), and pip refuses a whole command
//! for one wheel it cannot install. So the wheels are first sorted as pip sorts them for the
//! interpreter under test (its own pip's tags and `Requires-Python` check); the ones it can
//! install are installed, and each other one must be refused alone by pip and by us, for the
//! same reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};

use super::record::{self, dist_infos, import_names, parse_record};
use super::snapshot::Snapshot;
use super::venv::{
    check_bytecode, check_records, compare_bytecode_with_pip, compare_records_with_pip,
    compare_with_pip_and_modes, import_failures, linkable_files, same_as_pip, Bytecode, Install, Installer,
    Reference, Venv,
};
use super::{Ctx, Outcome};
use crate::util::{Cmd, Exit, Log};

pub fn corpus(ctx: &Ctx, log: &Log) -> Result<Outcome> {
    let Some(dir) = &ctx.corpus else { return Ok(Outcome::Skip("no --corpus DIR given".into())) };
    let all = crate::util::wheels_in(dir)?;
    let (wheels, refused) = partition(log, &all)?;
    if wheels.is_empty() {
        bail!("pip would install none of the {} wheels of {}", all.len(), dir.display());
    }
    let bytecode = if ctx.compile { Bytecode::Compile } else { Bytecode::Skip };
    let pip = Reference::build_with(log, &ctx.dir("pip-corpus"), &wheels, bytecode)?;
    let run = ctx.dir("corpus");
    let cache = run.join("cache");
    let venv = Venv::create(log, &run.join("venv"))?;
    let mut problems = refusals_disagree(&ctx.installer, log, &venv, &cache, &refused)?;
    let extra: &[&str] = if ctx.compile { &["--compile"] } else { &[] };
    let install = Install { venv: &venv.root, cache: &cache, link_mode: "hardlink", wheels: &wheels, extra };
    ctx.installer.run(log, install)?;
    // Every check runs; the problems are reported together.
    let added = venv.added()?;
    if let Err(e) = compare_with_pip_and_modes(&venv, &added, &pip) {
        problems.push(format!("{e:#}"));
    }
    let files = check_records(&venv, &added).unwrap_or_else(|e| {
        problems.push(format!("{e:#}"));
        0
    });
    if let Err(e) = compare_records_with_pip(&venv, &pip.venv) {
        problems.push(format!("{e:#}"));
    }
    let (pycs, pip_pycs) = (pycs(&added), pycs(&pip.added));
    if let Err(e) = same_as_pip("bytecode: .pyc files", &pycs, &pip_pycs) {
        problems.push(format!("{e:#}"));
    }
    if ctx.compile {
        if let Err(e) = check_bytecode(log, &venv) {
            problems.push(format!("{e:#}"));
        }
        let both: Vec<&str> = pycs.intersection(&pip_pycs).copied().collect();
        if let Err(e) = compare_bytecode_with_pip(log, &venv, &pip.venv, &both) {
            problems.push(format!("{e:#}"));
        }
    }

    // A second venv from the warm cache: every file a hardlink.
    let warm = Venv::create(log, &run.join("warm"))?;
    ctx.installer.run(log, Install { venv: &warm.root, cache: &cache, ..install })?;
    let warm_added = warm.added()?;
    let not_linked: Vec<_> = linkable_files(&warm, &warm_added)
        .into_iter()
        .filter(|(_, e)| e.nlink < 2 || e.target.is_some())
        .collect();
    if let Some((path, _)) = not_linked.first() {
        problems.push(format!(
            "warm install: {} files not hardlinked, e.g. {}",
            not_linked.len(),
            path.display()
        ));
    }

    let names: Vec<String> = modules(&venv)?.into_iter().collect();
    let ours = import_failures(log, &venv, &names)?;
    let theirs = import_failures(log, &pip.venv, &names)?;
    for (name, err) in ours.iter().filter(|(name, _)| !theirs.contains_key(*name)) {
        problems.push(format!("import {name} fails with ours and works with pip: {err}"));
    }

    let scripts = record::installed_scripts(&venv.site_packages)?;
    let results = run_scripts(log, &[&venv, &pip.venv], &scripts);
    let mut broken = 0;
    for (name, [ours, theirs]) in scripts.iter().zip(&results) {
        broken += usize::from(!started(theirs));
        if ours != theirs {
            problems.push(format!("`{name} --help`: {ours} with ours, {theirs} with pip"));
        }
    }
    if !problems.is_empty() {
        bail!("{} problem(s): {}", problems.len(), problems.join("; "));
    }
    Ok(Outcome::Ok(format!(
        "{} wheels ({} refused by both, as pip refuses them), {files} files as pip ({} .pyc); {} modules import ({} fail under pip too); \
         {} scripts start ({broken} fail under pip too)",
        wheels.len(),
        refused.len(),
        pycs.len(),
        names.len() - ours.len(),
        theirs.len(),
        scripts.len() - broken,
    )))
}

/// A wheel pip refuses here, and why: `tags` or `requires-python SPEC`.
type Refused = (PathBuf, String);

/// The wheels this interpreter's pip installs, and the others with why it refuses each: `tags`
/// or `requires-python SPEC`. Asked of pip's own code (its supported tags, its vendored
/// `packaging` on `Requires-Python`, an invalid specifier ignored as pip ignores it).
fn partition(log: &Log, wheels: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<Refused>)> {
    const CODE: &str = "\
import email.parser, json, sys, zipfile
from pip._internal.models.wheel import Wheel
from pip._internal.utils.compatibility_tags import get_supported
from pip._vendor.packaging.specifiers import InvalidSpecifier, SpecifierSet
tags, version, out = get_supported(), '.'.join(map(str, sys.version_info[:3])), {}
for path in sys.argv[1:]:
    out[path] = None
    if not Wheel(path.rsplit('/', 1)[-1]).supported(tags):
        out[path] = 'tags'
        continue
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.count('/') == 1 and n.endswith('.dist-info/METADATA'))
        spec = email.parser.Parser().parsestr(z.read(name).decode('utf-8')).get('Requires-Python')
    try:
        if spec and not SpecifierSet(spec).contains(version):
            out[path] = 'requires-python ' + spec
    except InvalidSpecifier:
        pass
print('XTASK-PARTITION ' + json.dumps(out))
";
    let out = log.run(&Cmd::new(crate::util::python()?).args(["-I", "-c", CODE]).args(wheels))?;
    let line = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("XTASK-PARTITION "))
        .context("the partition printed no result")?;
    let verdicts: BTreeMap<PathBuf, Option<String>> = serde_json::from_str(line)?;
    let (mut ok, mut refused) = (Vec::new(), Vec::new());
    for (wheel, why) in verdicts {
        match why {
            None => ok.push(wheel),
            Some(why) => refused.push((wheel, why)),
        }
    }
    log.note(&format!("pip installs {} wheels here and refuses {}", ok.len(), refused.len()));
    Ok((ok, refused))
}

/// Each wheel of `refused`, alone, refused by pip (a dry run) and by us (a dry run), each
/// saying it is for the reason [`partition`] found. Returns the disagreements.
fn refusals_disagree(
    installer: &Installer,
    log: &Log,
    venv: &Venv,
    cache: &Path,
    refused: &[Refused],
) -> Result<Vec<String>> {
    let pip_dry_run = venv.pip_install_cmd(&["--dry-run"])?;
    let problems = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while let Some((wheel, why)) = refused.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let name = wheel.file_name().unwrap_or_default().to_string_lossy();
                    let by_tags = why == "tags";
                    let pip = pip_dry_run.clone().arg(wheel).timeout(std::time::Duration::from_secs(300));
                    let pip_says = if by_tags {
                        "is not a supported wheel on this platform"
                    } else {
                        "requires a different Python"
                    };
                    let ours = installer.install(Install {
                        venv: &venv.root,
                        cache,
                        link_mode: "hardlink",
                        wheels: std::slice::from_ref(wheel),
                        extra: &["--dry-run"],
                    });
                    let ours_says = if by_tags { "built for" } else { "requires Python" };
                    let mut found = Vec::new();
                    for (who, cmd, says) in [("pip", pip, pip_says), ("ours", ours, ours_says)] {
                        match log.output(&cmd) {
                            Ok(out) if out.success() => {
                                found.push(format!("{name} ({why}): {who} accepts it"))
                            }
                            Ok(out) if !out.stderr.contains(says) => found.push(format!(
                                "{name} ({why}): {who} refuses it for another reason: {}",
                                out.tail()
                            )),
                            Ok(_) => {}
                            Err(e) => found.push(format!("{name}: {who}: {e:#}")),
                        }
                    }
                    problems.lock().unwrap().extend(found);
                }
            });
        }
    });
    Ok(problems.into_inner().unwrap())
}

/// Whether `NAME --help` got going: it exited (any usage error is fine) rather than crashing
/// on import, or was still running after the timeout (a server).
fn started(exit: &Exit) -> bool {
    matches!(exit, Exit::Code(0) | Exit::Code(2) | Exit::TimedOut)
}

/// The bytecode files an install added.
fn pycs(added: &Snapshot) -> BTreeSet<&str> {
    added.entries.keys().map(String::as_str).filter(|p| p.contains("/__pycache__/")).collect()
}

/// The modules to import, from the RECORDs of everything installed.
fn modules(venv: &Venv) -> Result<BTreeSet<String>> {
    let mut paths = Vec::new();
    for dist_info in dist_infos(&venv.site_packages)? {
        let text = std::fs::read_to_string(dist_info.join("RECORD"))?;
        paths.extend(
            parse_record(&text)
                .with_context(|| format!("{}", dist_info.display()))?
                .into_iter()
                .map(|r| r.path),
        );
    }
    Ok(import_names(paths.iter().map(String::as_str)))
}

/// `bin/NAME --help` in each venv, two at a time; the exits, per script, per venv.
fn run_scripts<const N: usize>(log: &Log, venvs: &[&Venv; N], scripts: &[String]) -> Vec<[Exit; N]> {
    let results = Mutex::new(vec![[Exit::Code(-1); N]; scripts.len()]);
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= scripts.len() * N {
                    break;
                }
                let (script, v) = (i / N, i % N);
                let cwd = tempfile::tempdir();
                let exit = match cwd {
                    Ok(cwd) => {
                        let cmd = Cmd::new(venvs[v].bin(&scripts[script]))
                            .arg("--help")
                            .cwd(cwd.path())
                            .timeout(std::time::Duration::from_secs(30));
                        log.output(&cmd).map(|o| o.exit).unwrap_or(Exit::Code(-1))
                    }
                    Err(_) => Exit::Code(-1),
                };
                results.lock().unwrap()[script][v] = exit;
            });
        }
    });
    results.into_inner().unwrap()
}
