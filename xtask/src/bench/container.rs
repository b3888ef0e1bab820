//! The `container` scenarios: the RUN step of the Dockerfile in docs/containers.md, for ours and
//! for uv, without a Docker engine, from the pieces `docker build` uses: an overlay over the
//! host's `/` as the build's root (upper and work directories on tmpfs), proc and /dev inside,
//! one tmpfs per tool as its build cache mount (`/root/.cache/installer`, `/root/.cache/uv`),
//! kept between rounds as BuildKit keeps a cache mount, and `chroot` running the step. The
//! image layer export is not reproduced. Root only.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tempfile::TempDir;

use super::{run_checked, Tool, Tools};
use crate::e2e::mounts::{tmpfs_dir, Unavailable};
use crate::util::{is_root, python, Cmd};

/// What the report's header says about these scenarios.
pub const NOTE: &str = "container, container-cold: the Dockerfile's whole RUN step (`python -m venv` \
    and the install, both timed) run by chroot on an overlay root (upper on tmpfs), each tool's cache \
    on its own tmpfs cache mount, kept between rounds (emptied before each container-cold run); \
    uv with UV_LINK_MODE=copy; /app/.venv removed before each run, untimed; no image export";

const CACHE_OURS: &str = "root/.cache/installer";
const CACHE_UV: &str = "root/.cache/uv";
const VENV: &str = "app/.venv";

/// The build's root with its mounts, the binaries and the wheels copied in; unmounted (in
/// reverse order) when dropped, also on errors.
pub struct Build {
    root: PathBuf,
    python: PathBuf,
    mounts: Vec<PathBuf>,
    dir: Option<TempDir>,
}

impl Build {
    /// `Ok(Err(why))` when this machine cannot (not root, no tmpfs, no overlay).
    pub fn new(tools: &Tools, wheels: &[PathBuf]) -> Result<std::result::Result<Build, Unavailable>> {
        if !is_root() {
            return Ok(Err("an overlay mount and chroot need root".into()));
        }
        let dir = match tmpfs_dir()? {
            Ok(dir) => dir,
            Err(why) => return Ok(Err(why)),
        };
        let root = dir.path().join("root");
        let mut build = Build { root, python: python()?.to_owned(), mounts: vec![], dir: Some(dir) };
        let tmp = build.dir.as_ref().expect("kept until drop").path().to_owned();
        let (upper, work) = (tmp.join("upper"), tmp.join("work"));
        std::fs::create_dir(&upper)?;
        std::fs::create_dir(&work)?;
        let options = format!("lowerdir=/,upperdir={},workdir={}", upper.display(), work.display());
        if let Err(e) = build.mount(&build.root.clone(), &["-t", "overlay", "overlay", "-o", &options]) {
            return Ok(Err(format!("{e:#}")));
        }
        build.mount(&build.inside("proc"), &["-t", "proc", "proc"])?;
        build.mount(&build.inside("dev"), &["--bind", "/dev"])?;
        for cache in [CACHE_OURS, CACHE_UV] {
            build.mount(&build.inside(cache), &["-t", "tmpfs", "tmpfs"])?;
        }
        // COPY installer /usr/local/bin/installer (and uv); COPY wheels/ /wheels/
        for (from, name) in [(&tools.ours, "installer"), (&tools.uv, "uv")] {
            let to = build.inside("usr/local/bin").join(name);
            std::fs::create_dir_all(to.parent().expect("has one"))?;
            std::fs::copy(from, &to).with_context(|| format!("copy {} into the build", from.display()))?;
        }
        std::fs::create_dir_all(build.inside("wheels"))?;
        for wheel in wheels {
            std::fs::copy(wheel, build.inside("wheels").join(wheel.file_name().context("a wheel's name")?))?;
        }
        Ok(Ok(build))
    }

    fn inside(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }

    fn mount(&mut self, at: &Path, args: &[&str]) -> Result<()> {
        std::fs::create_dir_all(at)?;
        let out = Cmd::new("mount").args(args).arg(at).output()?;
        if !out.success() {
            bail!("mount {} {}: {}", args.join(" "), at.display(), out.tail());
        }
        self.mounts.push(at.to_owned());
        Ok(())
    }

    /// The untimed part of a run: no venv (a fresh layer for it) and, cold, an empty cache
    /// mount. Returns the RUN step to time.
    pub fn prepare(&self, tool: Tool, cold: bool) -> Result<Cmd> {
        let venv = self.inside(VENV);
        if venv.exists() {
            std::fs::remove_dir_all(&venv)?;
        }
        if cold {
            let cache = self.inside(if tool == Tool::Ours { CACHE_OURS } else { CACHE_UV });
            for entry in std::fs::read_dir(&cache)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    std::fs::remove_dir_all(entry.path())?;
                } else {
                    std::fs::remove_file(entry.path())?;
                }
            }
        }
        Ok(self.step(tool, false))
    }

    /// The Dockerfile's RUN step for `tool` in a shell in the chroot. `check`: ours with `-v`
    /// (for the reason of its link mode), uv without `UV_LINK_MODE=copy` (for its warning).
    fn step(&self, tool: Tool, check: bool) -> Cmd {
        let install = match tool {
            Tool::Ours if check => "installer install -v --venv /app/.venv /wheels/*.whl",
            Tool::Ours => "installer install --venv /app/.venv /wheels/*.whl",
            _ => "uv pip install --offline --no-deps --python /app/.venv/bin/python /wheels/*.whl",
        };
        let script = format!("{} -m venv --without-pip /app/.venv && {install}", self.python.display());
        let cmd = self.chroot().args(["/bin/sh", "-c", &script]);
        if tool == Tool::Uv && !check {
            cmd.env("UV_LINK_MODE", "copy")
        } else {
            cmd
        }
    }

    /// `chroot ROOT` with an image's environment: no user config, caches in their defaults.
    fn chroot(&self) -> Cmd {
        Cmd::new("chroot")
            .arg(&self.root)
            .without_installer_env()
            .env("HOME", "/root")
            .env("PATH", "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin")
            .env("XDG_CONFIG_HOME", "/nonexistent-config")
            .env("UV_NO_CONFIG", "1")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("UV_CACHE_DIR")
            .env_remove("UV_LINK_MODE")
            .env_remove("VIRTUAL_ENV")
    }

    /// Untimed, once: fills both cache mounts, checks that ours prints no warning and says why
    /// it copies, that the venv imports a corpus package, and echoes what uv prints without
    /// `UV_LINK_MODE=copy`.
    pub fn check(&self) -> Result<()> {
        self.prepare(Tool::Ours, false)?;
        let out = run_checked(&self.step(Tool::Ours, true), false)?;
        if let Some(line) = out.stderr.lines().find(|l| l.contains("warning:")) {
            bail!("ours warned in the container: {line}");
        }
        let why = out.stderr.lines().find(|l| l.contains("link mode")).unwrap_or("(no link mode line)");
        eprintln!("bench: container: ours, no warning; {}", why.trim());
        let import = self.chroot().arg("/app/.venv/bin/python").args(["-c", IMPORT_ONE]);
        eprintln!("bench: container: {}", run_checked(&import, false)?.stdout.trim());
        self.prepare(Tool::Uv, false)?;
        let out = run_checked(&self.step(Tool::Uv, true), false)?;
        let warning = out.stderr.lines().find(|l| l.contains("warning:")).unwrap_or("no warning");
        eprintln!("bench: container: uv without UV_LINK_MODE=copy: {}", warning.trim());
        Ok(())
    }
}

/// Imports the first public top-level package of the venv's distributions that imports, from
/// the venv; fails if none does.
const IMPORT_ONE: &str = r#"
import importlib, importlib.metadata as md, sys
names = sorted({f.parts[0] for d in md.distributions() for f in (d.files or [])
                if len(f.parts) == 2 and f.parts[1] == "__init__.py" and f.parts[0][0] != "_"})
for name in names:
    try:
        module = importlib.import_module(name)
    except Exception:
        continue
    where = module.__file__
    print(f"imported {name} from {where}")
    sys.exit(0 if where.startswith("/app/.venv/") else f"{name} is not from the venv: {where}")
sys.exit(f"none of {len(names)} packages imports")
"#;

impl Drop for Build {
    fn drop(&mut self) {
        let mut all = true;
        while let Some(at) = self.mounts.pop() {
            let ok =
                |args: &[&str]| Cmd::new("umount").args(args).arg(&at).output().is_ok_and(|o| o.success());
            if !ok(&[]) && !ok(&["-l"]) {
                eprintln!("warning: could not unmount {}", at.display());
                all = false;
            }
        }
        if !all {
            // Removing the directory would reach through what is still mounted (/dev).
            if let Some(dir) = self.dir.take() {
                eprintln!("warning: leaving {} in place", dir.keep().display());
            }
        }
    }
}
