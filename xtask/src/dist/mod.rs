//! `cargo xtask dist [--check]`: what a release ships, in `target/dist/`:
//!
//! ```text
//! installer_rs-<version>-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
//! installer                     the binary of that wheel (profile `dist`: LTO, stripped)
//! lib/libinstaller_ffi.{so,a}   the C library, same profile
//! include/installer.h
//! completions/                  bash, zsh, fish, PowerShell, elvish
//! man/man1/installer*.1         one page per command
//! ```
//!
//! The wheel is built by maturin (`bindings = "bin"`, crates/installer-cli/pyproject.toml) with
//! zig as the linker against glibc 2.17 symbols, the oldest Rust's standard library supports,
//! so the wheel's `manylinux_2_17` tag is true. maturin and zig (the `ziglang` wheel) come from
//! PyPI, pinned, into `target/dist-tools`. cargo builds in `target/dist-build` (its own directory
//! for a profile named `dist` would be `target/dist`, this task's output). `--check` then tests
//! the result as a user gets it (check.rs).

mod check;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::util::{project_root, tool_venv, Cmd};

const MATURIN: &str = "maturin==1.16.0";
const ZIGLANG: &str = "ziglang==0.15.2";
/// glibc 2.17 (manylinux2014): the oldest the Rust standard library runs on.
pub const GLIBC: (u32, u32) = (2, 17);
/// What `installer completions` is asked for, and the file name each shell looks for.
const COMPLETIONS: &[(&str, &str)] = &[
    ("bash", "installer.bash"),
    ("zsh", "_installer"),
    ("fish", "installer.fish"),
    ("powershell", "_installer.ps1"),
    ("elvish", "installer.elv"),
];

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Build,
    /// Build, then install the wheel into a fresh venv and test it.
    Check,
}

/// The files of one `dist` run.
pub struct Dist {
    pub dir: PathBuf,
    pub wheel: PathBuf,
    pub binary: PathBuf,
    pub completions: PathBuf,
    pub man: PathBuf,
    pub lib: PathBuf,
}

/// How the `dist` profile links: as shipped, or quicker for CI.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Lto {
    /// The profile as written: fat LTO, one codegen unit (what a release ships).
    Shipped,
    /// Thin LTO and parallel codegen: the same files and checks in a fraction of the time.
    Thin,
}

pub fn run(mode: Mode, lto: Lto) -> Result<()> {
    let dist = build(lto)?;
    summary(&dist)?;
    if mode == Mode::Check {
        check::run(&dist)?;
    }
    Ok(())
}

fn build(lto: Lto) -> Result<Dist> {
    let root = project_root();
    let target = root.join("target");
    let triple = host_triple()?;
    let dir = target.join("dist");
    // Only what this task writes: a stale wheel of an older version must not be checked.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let tools = tool_venv(&target.join("dist-tools"), &[MATURIN, ZIGLANG])?;
    // maturin finds zig as `python3 -m ziglang` of the tools' venv, first on PATH.
    let path = std::env::join_paths(
        std::iter::once(tools.clone())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )?;
    let build_dir = target.join("dist-build");
    let profile_env: &[(&str, &str)] = match lto {
        Lto::Shipped => &[],
        Lto::Thin => &[("CARGO_PROFILE_DIST_LTO", "thin"), ("CARGO_PROFILE_DIST_CODEGEN_UNITS", "16")],
    };
    let glibc = format!("manylinux_{}_{}", GLIBC.0, GLIBC.1);
    Cmd::new(tools.join("maturin"))
        .args(["build", "--manifest-path", "crates/installer-cli/Cargo.toml", "--zig"])
        .args(["--compatibility", &glibc, "--target", &triple, "--out"])
        .arg(&dir)
        .env("PATH", &path)
        .env("CARGO_TARGET_DIR", &build_dir)
        .envs(profile_env)
        .envs(&zig_cflags(&triple))
        .run()?;
    let wheel = only_wheel(&dir)?;
    // The C library through the same zig linker and glibc, via maturin's zig wrapper.
    Cmd::new("cargo")
        .args(["build", "--profile", "dist", "--target", &triple, "-p", "installer-ffi"])
        .env(
            format!("CARGO_TARGET_{}_LINKER", triple.to_uppercase().replace('-', "_")),
            zig_cc(&tools, &triple)?,
        )
        .env("PATH", &path)
        .env("CARGO_TARGET_DIR", &build_dir)
        .envs(profile_env)
        .run()?;

    let built = build_dir.join(&triple).join("dist");
    let binary = dir.join("installer");
    copy(&built.join("installer"), &binary)?;
    let lib = dir.join("lib");
    std::fs::create_dir_all(&lib)?;
    for name in ["libinstaller_ffi.so", "libinstaller_ffi.a"] {
        copy(&built.join(name), &lib.join(name))?;
    }
    std::fs::create_dir_all(dir.join("include"))?;
    copy(&root.join("crates/installer-ffi/include/installer.h"), &dir.join("include/installer.h"))?;

    let completions = dir.join("completions");
    std::fs::create_dir_all(&completions)?;
    for (shell, file) in COMPLETIONS {
        let script = Cmd::new(&binary).args(["completions", shell]).read()?;
        std::fs::write(completions.join(file), script + "\n")?;
    }
    let man = dir.join("man/man1");
    Cmd::new(&binary).arg("generate-man").arg(&man).run()?;
    Ok(Dist { dir, wheel, binary, completions, man, lib })
}

/// The C flags of the crates maturin compiles with `zig cc` (libdeflate): on x86-64, zig's
/// clang turns 512-bit vectors off for its baseline CPU (`-evex512`), which libdeflate's AVX-512
/// functions, chosen at run time by CPU, need; `-mevex512` allows them in functions that ask for
/// AVX-512 and changes nothing else (the baseline objects are byte for byte the same).
fn zig_cflags(triple: &str) -> Vec<(String, &'static str)> {
    if triple.starts_with("x86_64-") {
        vec![(format!("CFLAGS_{}", triple.replace('-', "_")), "-mevex512")]
    } else {
        Vec::new()
    }
}

/// `x86_64-unknown-linux-gnu` and the like: the machine we build on is the one we build for.
fn host_triple() -> Result<String> {
    let info = Cmd::new("rustc").arg("-vV").read()?;
    let host = info.lines().find_map(|l| l.strip_prefix("host: ")).context("no host in `rustc -vV`")?;
    if !host.ends_with("-linux-gnu") {
        bail!("`cargo xtask dist` builds manylinux wheels on Linux with glibc; this is {host}");
    }
    Ok(host.to_owned())
}

/// A linker script that runs `zig cc` for `triple` at glibc [`GLIBC`], through maturin's
/// `zig cc` wrapper (which translates rustc's linker arguments for zig).
fn zig_cc(tools: &Path, triple: &str) -> Result<PathBuf> {
    let arch = triple.split('-').next().context("empty target triple")?;
    let script = tools.join(format!("zigcc-{arch}-linux-gnu.{}.{}", GLIBC.0, GLIBC.1));
    let text = format!(
        "#!/bin/sh\nexec \"{}\" zig cc -- -fno-sanitize=all -target {arch}-linux-gnu.{}.{} \"$@\"\n",
        tools.join("maturin").display(),
        GLIBC.0,
        GLIBC.1
    );
    std::fs::write(&script, text)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    Ok(script)
}

fn only_wheel(dir: &Path) -> Result<PathBuf> {
    let wheels = crate::util::wheels_in(dir)?;
    match <[PathBuf; 1]>::try_from(wheels) {
        Ok([wheel]) => Ok(wheel),
        Err(wheels) => bail!("expected one wheel in {}, found {}", dir.display(), wheels.len()),
    }
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// One line per shipped file with its size, for the release notes and the issue's numbers.
fn summary(dist: &Dist) -> Result<()> {
    let root = project_root();
    let mut files = vec![dist.wheel.clone(), dist.binary.clone()];
    for dir in [&dist.lib, &dist.completions, &dist.man] {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<std::io::Result<_>>()?;
        entries.sort();
        files.extend(entries);
    }
    eprintln!("dist: {}", dist.dir.strip_prefix(&root).unwrap_or(&dist.dir).display());
    for file in files {
        let size = file.metadata()?.len();
        let name = file.strip_prefix(&dist.dir).unwrap_or(&file).display().to_string();
        eprintln!("  {name:<70} {:>9.1} KiB", size as f64 / 1024.0);
    }
    Ok(())
}
