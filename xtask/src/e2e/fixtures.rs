//! The wheels of `fixtures/wheels/` and what an environment holding them must do (the table in
//! `fixtures/README.md`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::venv::{import_failures, run_script, Venv};
use crate::util::Log;

pub struct Fixtures {
    wheels: Vec<Wheel>,
}

#[derive(Clone, Debug)]
pub struct Wheel {
    pub path: PathBuf,
    pub name: String,
    pub version: String,
}

/// Every fixture that installs alongside the others in one command: all but the second
/// version of fixture_pkg and the clashing twin.
const STANDARD: &[&str] = &[
    "fixture_pkg",
    "fixture_data",
    "fixture_ns_a",
    "fixture_ns_b",
    "fixture_unicode",
    "fixture_plat",
    "fixture_clash_a",
];

impl Fixtures {
    pub fn load(dir: &Path) -> Result<Fixtures> {
        let mut wheels = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries {
                let path = entry?.path();
                let Some(file) = path.file_name().and_then(|f| f.to_str()) else { continue };
                let Some(stem) = file.strip_suffix(".whl") else { continue };
                let mut parts = stem.split('-');
                let (Some(name), Some(version)) = (parts.next(), parts.next()) else { continue };
                wheels.push(Wheel { name: name.to_owned(), version: version.to_owned(), path: path.clone() });
            }
        }
        wheels.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        Ok(Fixtures { wheels })
    }

    pub fn is_empty(&self) -> bool {
        self.wheels.is_empty()
    }

    pub fn get(&self, name: &str, version: &str) -> Result<PathBuf> {
        self.wheels
            .iter()
            .find(|w| w.name == name && w.version == version)
            .map(|w| w.path.clone())
            .with_context(|| format!("fixture wheel {name}-{version} not found in fixtures/wheels"))
    }

    /// fixture_pkg 1.0 with every other fixture that can share an environment with it.
    pub fn standard(&self) -> Result<Vec<PathBuf>> {
        STANDARD.iter().map(|name| self.get(name, "1.0")).collect()
    }
}

/// Imports (with the values the sources set) and script outputs of the standard set, with
/// fixture_pkg at `version` ("1.0" or "2.0").
pub fn check_standard(log: &Log, venv: &Venv, pkg_version: &str) -> Result<()> {
    check_pkg(log, venv, pkg_version)?;
    check_imports(
        log,
        venv,
        &["fixture_data", "fixture_ns.a", "fixture_ns.b", "fixture_unicode.café", "fixture_plat"],
    )?;
    check_values(
        log,
        venv,
        &[
            ("fixture_ns.a", "NAME", "fixture_ns.a"),
            ("fixture_ns.b", "NAME", "fixture_ns.b"),
            ("fixture_unicode.café", "NAME", "café"),
            ("fixture_plat", "WHERE", "platlib"),
            ("fixture_clash.common", "OWNER", "fixture_clash_a"),
        ],
    )?;
    expect_script(log, venv, "fixture-data-py", &[], "hello from fixture_data 1.0 script")?;
    expect_script(log, venv, "fixture-data-sh", &[], "hello from fixture_data shell script")?;
    expect_script(log, venv, "fixture-unicode", &[], "hello from café: naïve 1.0")?;
    Ok(())
}

/// fixture_pkg at `version`: its modules, scripts (and not those of the other version), its
/// executable package file.
pub fn check_pkg(log: &Log, venv: &Venv, version: &str) -> Result<()> {
    let v1 = version == "1.0";
    let mut modules = vec!["fixture_pkg", "fixture_pkg.cli", "fixture_pkg_top"];
    modules.extend(if v1 {
        &["fixture_pkg.sub.helpers", "fixture_pkg.sub.deep.leaf", "fixture_pkg_legacy"][..]
    } else {
        &["fixture_pkg.sub.tools"][..]
    });
    check_imports(log, venv, &modules)?;
    check_values(log, venv, &[("fixture_pkg_top", "TOP", &format!("top {version}"))])?;
    expect_script(log, venv, "fixture-hello", &[], &format!("hello from fixture_pkg {version}"))?;
    expect_script(log, venv, "fixture-gui", &[], &format!("gui from fixture_pkg {version}"))?;
    expect_script(log, venv, "fixture-echo", &["a", "b c"], r#"["a", "b c"]"#)?;
    let out = run_script(log, venv, "fixture-echo", &[], &[("FIXTURE_EXIT", "3")])?;
    if out.exit != crate::util::Exit::Code(3) {
        bail!("fixture-echo with FIXTURE_EXIT=3: {} (the launcher must pass the exit status on)", out.exit);
    }
    let (present, absent) =
        if v1 { ("fixture-goodbye", "fixture-hi") } else { ("fixture-hi", "fixture-goodbye") };
    let word = if v1 { "goodbye" } else { "hi" };
    expect_script(log, venv, present, &[], &format!("{word} from fixture_pkg {version}"))?;
    if venv.bin(absent).exists() {
        bail!("bin/{absent} exists with fixture_pkg {version}");
    }
    let run_sh = venv.site_packages.join("fixture_pkg/bin/run.sh");
    let out = log.output(&crate::util::Cmd::new(&run_sh))?;
    if !out.success() || out.stdout.trim() != format!("run.sh from fixture_pkg {version}") {
        bail!("{}: {}: {}", run_sh.display(), out.exit, out.tail());
    }
    Ok(())
}

pub fn check_imports(log: &Log, venv: &Venv, modules: &[&str]) -> Result<()> {
    let names: Vec<String> = modules.iter().map(|m| m.to_string()).collect();
    let failed = import_failures(log, venv, &names)?;
    if let Some((name, err)) = failed.iter().next() {
        bail!("import {name}: {err}");
    }
    Ok(())
}

fn check_values(log: &Log, venv: &Venv, expect: &[(&str, &str, &str)]) -> Result<()> {
    let mut code = String::from("import importlib\n");
    for (module, attr, value) in expect {
        code += &format!(
            "v = getattr(importlib.import_module({module:?}), {attr:?})\n\
             assert v == {value:?}, f'{module}.{attr} is {{v!r}}, expected {value:?}'\n"
        );
    }
    let cwd = tempfile::tempdir()?;
    let out = log.output(&crate::util::Cmd::new(venv.python()).args(["-I", "-c", &code]).cwd(cwd.path()))?;
    if !out.success() {
        bail!("{}", out.stderr.trim().lines().last().unwrap_or("python failed"));
    }
    Ok(())
}

fn expect_script(log: &Log, venv: &Venv, name: &str, args: &[&str], stdout: &str) -> Result<()> {
    let path = venv.bin(name);
    if !crate::util::is_executable(&path) {
        bail!("bin/{name} is missing or not executable");
    }
    let out = run_script(log, venv, name, args, &[])?;
    if !out.success() {
        bail!("bin/{name}: {}: {}", out.exit, out.tail());
    }
    if out.stdout.trim_end() != stdout {
        bail!("bin/{name} printed {:?}, expected {stdout:?}", out.stdout.trim_end());
    }
    Ok(())
}
