//! The one error type of the core. Every variant names the file it is about; frontends print
//! the chain of `source()`s as `error:` / `  cause:` lines (CLI) or joined on one line (FFI).

use std::io;
use std::path::PathBuf;

use crate::wheel::WheelError;

/// Why an operation failed. Wheel problems carry the wheel's path; I/O problems the path
/// acted on; nothing is reported without saying where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A wheel was refused: invalid, corrupt or hostile. Nothing was installed.
    #[error("refused wheel {}", wheel.display())]
    Wheel {
        wheel: PathBuf,
        #[source]
        source: WheelError,
    },
    /// What was given as a wheel is something else; nothing was read from it.
    #[error("{} is {kind}, not a wheel", path.display())]
    NotAWheel { path: PathBuf, kind: NotAWheel },
    /// A line of a wheel list (`-r FILE`) is not a path to a wheel.
    #[error("{}:{line}: `{text}` is {kind}", file.display())]
    NotAWheelPath { file: PathBuf, line: usize, text: String, kind: crate::requirements::NotAPath },
    /// A sound wheel could not be unpacked into the cache (disk full, permissions).
    #[error("cannot unpack {} into the cache", wheel.display())]
    Unpack {
        wheel: PathBuf,
        #[source]
        source: WheelError,
    },
    /// Placing a wheel's files in the environment failed (disk full, permissions); the
    /// install was rolled back. The source names the file.
    #[error("cannot install {} into the environment", wheel.display())]
    Install {
        wheel: PathBuf,
        #[source]
        source: Box<Error>,
    },
    /// A filesystem operation failed; `action` says what we were doing ("create directory").
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Two wheels of one command would write the same file.
    #[error("{} and {} both install {}", first.display(), second.display(), path.display())]
    Conflict { path: PathBuf, first: PathBuf, second: PathBuf },
    /// Two versions of one distribution in one command: an environment holds one.
    #[error("{} and {} are two versions of {name} ({} and {}); install one of them", wheels[0].0.display(), wheels[1].0.display(), wheels[0].1, wheels[1].1)]
    TwoVersions {
        name: String,
        /// Each wheel with its version, in the order given (boxed: errors stay small).
        wheels: Box<[(PathBuf, String); 2]>,
    },
    /// `--link-fallback error` and the requested (or auto) link mode cannot be used.
    #[error("cannot {mode} from {} into {}; refusing to copy (link-fallback = error)", cache.display(), target.display())]
    LinkFallback {
        mode: &'static str,
        cache: PathBuf,
        target: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Uninstall of names that are not installed.
    #[error("not installed in {}: {}", venv.display(), names.join(", "))]
    NotInstalled { venv: PathBuf, names: Vec<String> },
    /// A distribution whose files another tool keeps track of (no RECORD: PEP 627) was to be
    /// removed or replaced; nothing was changed.
    #[error(
        "cannot remove or replace {name} {version}: {} has no RECORD{}, so which files are its is unknown (PEP 627)",
        dist_info.display(),
        installer.as_ref().map(|i| format!(" (installed by `{i}`)")).unwrap_or_default()
    )]
    NoRecord { name: String, version: String, dist_info: PathBuf, installer: Option<String> },
    /// The target exists but is not a virtual environment we can install into.
    #[error("{} is not a virtual environment: {reason}", path.display())]
    NotAVenv { path: PathBuf, reason: String },
    /// An install into an interpreter's own environment that its distributor marked
    /// `EXTERNALLY-MANAGED` (PEP 668), not overridden by the caller. `message` is the
    /// distributor's; how to override it is the frontend's to say.
    #[error("the environment of {} is externally managed (PEP 668); install into a virtual environment:\n{message}", python.display())]
    ExternallyManaged { python: PathBuf, message: String },
    /// A configuration file has an unknown key or a bad value.
    #[error("{}: key `{key}`: {reason}", file.display())]
    Config { file: PathBuf, key: String, reason: String },
    /// A configuration file is not valid TOML. There is no key to name yet, so the line is
    /// named instead (`jobs = ` says nothing about which of several such lines is wrong).
    #[error("{}: line {line}: invalid TOML: {reason}", file.display())]
    ConfigSyntax { file: PathBuf, line: usize, reason: String },
    /// A value given by the caller is not valid (unknown link mode, zero jobs...).
    #[error("invalid {what}: {reason}")]
    InvalidArgument { what: &'static str, reason: String },
    /// An external command (python for venv creation or bytecode compilation) failed.
    #[error("{command} failed: {reason}")]
    Command { command: String, reason: String },
    /// A cache operation would break environments that symlink into the cache; how to
    /// proceed anyway is the frontend's to say.
    #[error("the cache is used by symlinked environments: {}; removing it would break them", envs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    SymlinkedEnvironments { envs: Vec<PathBuf> },
    /// `verify` found installed files that differ from their RECORD; `first` names a few.
    #[error("{differences} installed files differ from their RECORD in {}: {first}", venv.display())]
    Verify { venv: PathBuf, differences: usize, first: String },
    /// The operation's [`crate::Cancel`] token was cancelled (Ctrl-C in the CLI,
    /// `installer_ctx_cancel` in C); everything was rolled back.
    #[error("cancelled; nothing was changed")]
    Cancelled,
}

/// What a path given as a wheel turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAWheel {
    /// A directory (e.g. a wheelhouse given without `/*.whl`).
    Directory,
    /// An sdist (`.tar.gz`, `.zip`...): it must be built into a wheel first.
    SourceDistribution,
    /// A FIFO, a device or a socket: reading one may never end (`/dev/zero`) or never start
    /// (a FIFO without a writer).
    Special,
}

impl std::fmt::Display for NotAWheel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotAWheel::Directory => "a directory",
            NotAWheel::SourceDistribution => "a source distribution",
            NotAWheel::Special => "a special file (a FIFO, device or socket)",
        })
    }
}

impl Error {
    /// An [`Error::Io`] for `path`: the shorthand used at every filesystem call.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io { action, path: path.into(), source }
    }

    /// The error and its causes on one line, joined by ": ", for the C ABI and logs.
    pub fn one_line(&self) -> String {
        causes(self).collect::<Vec<_>>().join(": ")
    }
}

/// The message of `err` followed by the message of each `source()`, outermost first (see
/// [`chain`]).
pub fn causes<'a>(err: &'a (dyn std::error::Error + 'static)) -> impl Iterator<Item = String> + 'a {
    chain(err).map(|(_, text)| text)
}

/// `err` and each of its `source()`s with its message, outermost first, leaving out a source
/// whose message the one above already ends with: an error that both prints and chains its
/// cause (zip's `i/o error: CRC-32 mismatch` over the `CRC-32 mismatch` itself) would say it
/// twice.
pub fn chain<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = (&'a (dyn std::error::Error + 'static), String)> + 'a {
    let mut above: Option<String> = None;
    std::iter::successors(Some(err), |e| e.source()).filter_map(move |e| {
        let text = e.to_string();
        let repeated = above.as_deref().is_some_and(|above| above.ends_with(&text));
        above = Some(text.clone());
        (!repeated).then_some((e, text))
    })
}

/// Convenience for core functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;
