//! Running commands: echoed (`$ cmd args`) when they are the point of the task, captured into
//! files (no pipe can fill up and block the child) with a timeout when they are checks.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The workspace root: the parent of this crate's manifest directory.
/// The environment variables `installer` reads (docs/cli.md and docs/limits.md).
const INSTALLER_ENV: [&str; 9] = [
    "VIRTUAL_ENV",
    "INSTALLER_LINK_MODE",
    "INSTALLER_LINK_FALLBACK",
    "INSTALLER_CACHE_DIR",
    "INSTALLER_CACHE_SHARDS",
    "INSTALLER_JOBS",
    "INSTALLER_MAX_UNPACKED_SIZE",
    "INSTALLER_MAX_COMPRESSION_RATIO",
    "INSTALLER_MAX_MEMBERS",
];

/// The `.whl` files of a corpus directory, absolute (tools run in their own working
/// directory) and sorted.
pub fn wheels_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let dir = &dir.canonicalize().with_context(|| format!("corpus {}", dir.display()))?;
    let mut wheels: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("corpus {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .collect();
    wheels.sort();
    if wheels.is_empty() {
        bail!("no wheels in {}", dir.display());
    }
    Ok(wheels)
}

pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Whether this runs under CI (`CI` set, and not empty, `false` or `0`): what a test cannot set
/// up there is a failure, not a skip (the tests' own `skip` reads it the same way).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// `name` on PATH, or in the system directories a non-root PATH leaves out (`mkfs.xfs`).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    which(name).or_else(|| {
        ["/usr/sbin", "/sbin", "/usr/bin"].iter().map(|d| Path::new(d).join(name)).find(|p| p.exists())
    })
}

/// `tool`, installing `package` with apt-get (after an `apt-get update` if the first try fails)
/// when it is missing and this is root; `Err` says why it is not there.
pub fn ensure_tool(tool: &str, package: &str) -> std::result::Result<PathBuf, String> {
    if let Some(path) = find_tool(tool) {
        return Ok(path);
    }
    if !is_root() {
        return Err(format!("{tool} missing (install {package})"));
    }
    if which("apt-get").is_none() {
        return Err(format!("{tool} missing and no apt-get to install {package}"));
    }
    let apt = |args: &[&str]| {
        let cmd = Cmd::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .timeout(Duration::from_secs(300));
        cmd.output()
            .map_err(|e| format!("{e:#}"))
            .and_then(|o| if o.success() { Ok(()) } else { Err(o.tail()) })
    };
    let install = ["install", "-y", "-q", package];
    if apt(&install).is_err() {
        let _ = apt(&["update", "-q"]);
        apt(&install)
            .map_err(|why| format!("{tool} missing and `apt-get install {package}` failed: {why}"))?;
    }
    find_tool(tool).ok_or_else(|| format!("{package} installed but no {tool}"))
}

/// The first executable called `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| is_executable(p))
}

pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// The real interpreter behind `python3` (resolving pyenv-style shims once, so that every venv
/// and check uses the same one and does not pay for the shim each time).
pub fn python() -> Result<&'static Path> {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    if let Some(p) = PYTHON.get() {
        return Ok(p);
    }
    let out = Cmd::new("python3").args(["-c", "import sys; print(sys.executable)"]).read()?;
    Ok(PYTHON.get_or_init(|| PathBuf::from(out)))
}

/// A venv under `target/` holding pinned tools from PyPI (`uv==0.13.9`, `maturin==1.16.0`):
/// made and filled with pip on first use, refilled when the pins change (a stamp file keeps
/// them). Returns its `bin` directory.
pub fn tool_venv(venv: &Path, pins: &[&str]) -> Result<PathBuf> {
    let stamp = venv.join("installer-pins.txt");
    let wanted = pins.join("\n");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(venv.join("bin"));
    }
    if !venv.join("bin/pip").exists() {
        Cmd::new(python()?).args(["-m", "venv"]).arg(venv).run()?;
    }
    Cmd::new(venv.join("bin/pip")).args(["install", "-q", "--disable-pip-version-check"]).args(pins).run()?;
    std::fs::write(&stamp, wanted).with_context(|| format!("cannot write {}", stamp.display()))?;
    Ok(venv.join("bin"))
}

#[derive(Clone, Debug)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    envs: Vec<(OsString, Option<OsString>)>,
    timeout: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    TimedOut,
}

#[derive(Debug)]
pub struct Output {
    pub exit: Exit,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    pub fn success(&self) -> bool {
        self.exit == Exit::Code(0)
    }

    /// stdout and stderr, trimmed and clipped, for a one-line failure message.
    pub fn tail(&self) -> String {
        let all = format!("{}\n{}", self.stdout.trim(), self.stderr.trim());
        let all = all.trim();
        let lines: Vec<&str> = all.lines().collect();
        let start = lines.len().saturating_sub(6);
        lines[start..].join(" | ")
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit code {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
            Exit::TimedOut => write!(f, "timed out"),
        }
    }
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            cwd: None,
            envs: Vec::new(),
            timeout: Duration::from_secs(600),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Cmd {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Cmd {
        self.cwd = Some(dir.into());
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.envs.push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn envs<K: AsRef<OsStr>, V: AsRef<OsStr>>(self, vars: &[(K, V)]) -> Cmd {
        vars.iter().fold(self, |cmd, (k, v)| cmd.env(k, v))
    }

    /// Without the variables that configure `installer`, so runs see only their flags.
    pub fn without_installer_env(mut self) -> Cmd {
        for var in INSTALLER_ENV {
            self = self.env_remove(var);
        }
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Cmd {
        self.envs.push((key.as_ref().to_owned(), None));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Cmd {
        self.timeout = timeout;
        self
    }

    /// `$ program args`, quoted where a shell would need it.
    pub fn display(&self) -> String {
        let mut s = String::from("$");
        for word in std::iter::once(&self.program).chain(&self.args) {
            let word = word.to_string_lossy();
            let plain = !word.is_empty()
                && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                let _ = write!(s, " {word}");
            } else {
                let _ = write!(s, " '{}'", word.replace('\'', r"'\''"));
            }
        }
        s
    }

    /// [`Cmd::display`], with a long run of `.whl` arguments shown as their count.
    pub fn display_short(&self) -> String {
        let wheels = self.args.iter().filter(|a| a.to_string_lossy().ends_with(".whl")).count();
        if wheels <= 4 {
            return self.display();
        }
        let kept: Vec<&OsString> =
            self.args.iter().filter(|a| !a.to_string_lossy().ends_with(".whl")).collect();
        let shown = Cmd { args: kept.into_iter().cloned().collect(), ..self.clone() };
        format!("{} <{wheels} wheels>", shown.display())
    }

    pub fn std_command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        for (k, v) in &self.envs {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd
    }

    /// Echo, run with inherited stdio, fail unless it exits 0.
    pub fn run(&self) -> Result<()> {
        eprintln!("{}", self.display());
        let status =
            self.std_command().status().with_context(|| format!("cannot start `{}`", self.name()))?;
        if !status.success() {
            bail!("`{}` failed: {status}", self.display().trim_start_matches("$ "));
        }
        Ok(())
    }

    /// Run quietly; stdout and stderr captured; killed after the timeout.
    pub fn output(&self) -> Result<Output> {
        self.spawn()?.wait()
    }

    /// Run quietly and return trimmed stdout; fail unless it exits 0.
    pub fn read(&self) -> Result<String> {
        let out = self.output()?;
        if !out.success() {
            bail!("`{}`: {}: {}", self.display().trim_start_matches("$ "), out.exit, out.tail());
        }
        Ok(out.stdout.trim().to_owned())
    }

    /// Start without waiting; stdout and stderr go to anonymous temporary files.
    pub fn spawn(&self) -> Result<Running> {
        let out = tempfile::tempfile()?;
        let err = tempfile::tempfile()?;
        let child = self
            .std_command()
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(err.try_clone()?)
            .spawn()
            .with_context(|| format!("cannot start `{}`", self.name()))?;
        Ok(Running { child, out, err, start: Instant::now(), timeout: self.timeout })
    }

    fn name(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }
}

pub struct Running {
    child: Child,
    out: File,
    err: File,
    start: Instant,
    timeout: Duration,
}

impl Running {
    /// Whether the process has exited (without reaping it for good: `wait` still works).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
    }

    pub fn wait(mut self) -> Result<Output> {
        use std::os::unix::process::ExitStatusExt;
        let mut nap = Duration::from_millis(1);
        let exit = loop {
            if let Some(status) = self.child.try_wait()? {
                break match (status.code(), status.signal()) {
                    (Some(c), _) => Exit::Code(c),
                    (None, Some(s)) => Exit::Signal(s),
                    (None, None) => Exit::Code(-1),
                };
            }
            if self.start.elapsed() > self.timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break Exit::TimedOut;
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(20));
        };
        let elapsed = self.start.elapsed();
        Ok(Output { exit, stdout: read_all(&mut self.out)?, stderr: read_all(&mut self.err)?, elapsed })
    }
}

fn read_all(file: &mut File) -> Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(0))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A log file that records every command a check ran and what it printed, so a one-line
/// failure can point to the whole story.
pub struct Log {
    path: PathBuf,
    file: Mutex<File>,
}

impl Log {
    pub fn create(path: &Path) -> Result<Log> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Log { path: path.to_owned(), file: Mutex::new(file) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn note(&self, text: &str) {
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(f, "{text}");
    }

    /// Run `cmd` quietly and record it with its output.
    pub fn output(&self, cmd: &Cmd) -> Result<Output> {
        let out = cmd.output();
        self.record(cmd, &out);
        out
    }

    pub fn record(&self, cmd: &Cmd, out: &Result<Output>) {
        let mut text = cmd.display();
        match out {
            Ok(o) => {
                let _ = write!(text, "\n  -> {} in {:.3}s", o.exit, o.elapsed.as_secs_f64());
                for (name, s) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
                    if !s.trim().is_empty() {
                        let _ = write!(text, "\n  {name}:\n{}", indent(s.trim_end(), "    "));
                    }
                }
            }
            Err(e) => {
                let _ = write!(text, "\n  -> {e:#}");
            }
        }
        self.note(&text);
    }

    /// Run `cmd` quietly; fail (with its output) unless it exits 0.
    pub fn run(&self, cmd: &Cmd) -> Result<Output> {
        let out = self.output(cmd)?;
        if !out.success() {
            bail!("`{}`: {}: {}", short(cmd), out.exit, out.tail());
        }
        Ok(out)
    }
}

/// A command for a one-line message: the program's file name and the first arguments.
pub fn short(cmd: &Cmd) -> String {
    let full = cmd.display();
    let full = full.trim_start_matches("$ ");
    if full.len() <= 120 {
        full.to_owned()
    } else {
        let cut = (0..=117).rev().find(|&i| full.is_char_boundary(i)).unwrap_or(0);
        format!("{}...", &full[..cut])
    }
}

pub fn indent(text: &str, prefix: &str) -> String {
    text.lines().map(|l| format!("{prefix}{l}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_what_a_shell_needs() {
        let cmd = Cmd::new("cargo").args(["build", "-p", "x", "a b", "it's", ""]);
        assert_eq!(cmd.display(), r"$ cargo build -p x 'a b' 'it'\''s' ''");
        let many =
            Cmd::new("uv").args(["pip", "install", "a.whl", "b.whl", "c.whl", "d.whl", "e.whl", "--x"]);
        assert_eq!(many.display_short(), "$ uv pip install --x <5 wheels>");
    }

    #[test]
    fn output_captures_streams_and_exit() {
        let out = Cmd::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]).output().unwrap();
        assert_eq!((out.exit, out.stdout.as_str(), out.stderr.as_str()), (Exit::Code(3), "out\n", "err\n"));
        assert_eq!(out.tail(), "out | err");
    }

    #[test]
    fn timeout_kills() {
        let out = Cmd::new("sleep").arg("5").timeout(Duration::from_millis(50)).output().unwrap();
        assert_eq!(out.exit, Exit::TimedOut);
    }
}
