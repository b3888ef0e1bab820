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
        /// The wheel as the user gave it.
        wheel: PathBuf,
        /// What is wrong with it; the frontends print it as the cause.
        #[source]
        source: WheelError,
    },
    /// What was given as a wheel is something else; nothing was read from it.
    #[error("{} is {kind}, not a wheel", path.display())]
    NotAWheel {
        /// As the user gave it; the CLI's hint repeats it.
        path: PathBuf,
        /// What it is instead, which decides the hint.
        kind: NotAWheel,
    },
    /// A line of a wheel list (`-r FILE`) is not a path to a wheel.
    #[error("{}:{line}: `{text}` is {kind}", file.display())]
    NotAWheelPath {
        /// The list as the user gave it.
        file: PathBuf,
        /// 1-based, counting comments and blank lines.
        line: usize,
        /// The line without its comment, trimmed; the CLI's hint quotes it in a
        /// `pip download` command.
        text: String,
        /// Whether it reads as a requirement or as a pip option.
        kind: crate::requirements::NotAPath,
    },
    /// A sound wheel could not be unpacked into the cache (disk full, permissions).
    #[error("cannot unpack {} into the cache", wheel.display())]
    Unpack {
        /// The wheel as the user gave it.
        wheel: PathBuf,
        /// Always a [`WheelError::Io`]: opening or reading the wheel, or writing into the
        /// cache, failed; no check did.
        #[source]
        source: WheelError,
    },
    /// Placing a wheel's files in the environment failed (disk full, permissions); the
    /// install was rolled back. The source names the file.
    #[error("cannot install {} into the environment", wheel.display())]
    Install {
        /// The wheel as the user gave it.
        wheel: PathBuf,
        /// The failure, usually an [`Error::Io`] naming the path (boxed: errors stay small).
        #[source]
        source: Box<Error>,
    },
    /// A filesystem operation failed; `action` says what we were doing ("create directory").
    #[error("cannot {action} {}", path.display())]
    Io {
        /// A verb phrase, printed before the path: `cannot {action} {path}`.
        action: &'static str,
        /// The path the failed call was given.
        path: PathBuf,
        /// The OS error, printed as the cause.
        #[source]
        source: io::Error,
    },
    /// Two wheels of one command would write the same file.
    #[error("{} and {} both install {}", first.display(), second.display(), path.display())]
    Conflict {
        /// Where both would write, in the environment; for two wheels of one distribution,
        /// their `.dist-info` directory's name.
        path: PathBuf,
        /// The wheel given first, as the user gave it.
        first: PathBuf,
        /// The wheel given later, as the user gave it.
        second: PathBuf,
    },
    /// Two versions of one distribution in one command: an environment holds one.
    #[error("{} and {} are two versions of {name} ({} and {}); install one of them", wheels[0].0.display(), wheels[1].0.display(), wheels[0].1, wheels[1].1)]
    TwoVersions {
        /// As the later wheel's file name spells it.
        name: String,
        /// Each wheel with its version, in the order given (boxed: errors stay small).
        wheels: Box<[(PathBuf, String); 2]>,
    },
    /// `--link-fallback error` and the requested (or auto) link mode cannot be used.
    #[error("cannot {mode} from {} into {}; refusing to copy (link-fallback = error)", cache.display(), target.display())]
    LinkFallback {
        /// The link mode that failed, as `--link-mode` spells it (`hardlink`, `clone`...).
        mode: &'static str,
        /// The root of the cache (or shard) files would be linked from; for a dry run, the
        /// cache its stand-in stands for.
        cache: PathBuf,
        /// The environment's root.
        target: PathBuf,
        /// Why linking failed (`EXDEV` across filesystems, `EPERM`...).
        #[source]
        source: io::Error,
    },
    /// Uninstall of names that are not installed.
    #[error("not installed in {}: {}", venv.display(), names.join(", "))]
    NotInstalled {
        /// The environment's root.
        venv: PathBuf,
        /// As the user gave them, in their order; each was also reported as
        /// [`crate::reporter::Event::NotInstalled`].
        names: Vec<String>,
    },
    /// A distribution whose files another tool keeps track of (no RECORD: PEP 627) was to be
    /// removed or replaced; nothing was changed.
    #[error(
        "cannot remove or replace {name} {version}: {} has no RECORD{}, so which files are its is unknown (PEP 627)",
        dist_info.display(),
        installer.as_ref().map(|i| format!(" (installed by `{i}`)")).unwrap_or_default()
    )]
    NoRecord {
        /// METADATA's `Name`, as its author spells it (the directory's when unreadable).
        name: String,
        /// METADATA's `Version` (the directory's when unreadable).
        version: String,
        /// The CLI's hint says to delete it when an interrupted install left it.
        dist_info: PathBuf,
        /// The tool its `INSTALLER` file names; `None` when there is no such file or it is
        /// empty. The CLI's hint says to remove it with that tool.
        installer: Option<String>,
    },
    /// The target exists but is not a virtual environment we can install into.
    #[error("{} is not a virtual environment: {reason}", path.display())]
    NotAVenv {
        /// The directory that was to be the environment's root.
        path: PathBuf,
        /// What it lacks, as a clause ("it has no pyvenv.cfg").
        reason: String,
    },
    /// An install into an interpreter's own environment that its distributor marked
    /// `EXTERNALLY-MANAGED` (PEP 668), not overridden by the caller. `message` is the
    /// distributor's; how to override it is the frontend's to say.
    #[error("the environment of {} is externally managed (PEP 668); install into a virtual environment:\n{message}", python.display())]
    ExternallyManaged {
        /// The interpreter's executable, found on `PATH`.
        python: PathBuf,
        /// The `Error` of its `EXTERNALLY-MANAGED` file, possibly several lines, or PEP 668's
        /// default sentence when the file gives none.
        message: String,
    },
    /// A configuration file has an unknown key or a bad value.
    #[error("{}: key `{key}`: {reason}", file.display())]
    Config {
        /// The configuration file the key was read from.
        file: PathBuf,
        /// The full dotted key (`tool.installer.link-mode` in a pyproject.toml).
        key: String,
        /// What is wrong with its value, or that the key is unknown.
        reason: String,
    },
    /// A configuration file is not valid TOML. There is no key to name yet, so the line is
    /// named instead (`jobs = ` says nothing about which of several such lines is wrong).
    #[error("{}: line {line}: invalid TOML: {reason}", file.display())]
    ConfigSyntax {
        /// The configuration file that did not parse.
        file: PathBuf,
        /// 1-based line of the parser's error.
        line: usize,
        /// The TOML parser's message, without its own location.
        reason: String,
    },
    /// A value given by the caller is not valid (unknown link mode, zero jobs...).
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// The argument as the caller knows it: a flag, a variable (`INSTALLER_COMPILE`) or
        /// a plain phrase ("link mode", "jobs").
        what: &'static str,
        /// What is wrong with the value given.
        reason: String,
    },
    /// An external command (python for venv creation or bytecode compilation) failed.
    #[error("{command} failed: {reason}")]
    Command {
        /// The command line for the message; a `-c` script shows as a placeholder
        /// (`<query>`), not its text.
        command: String,
        /// Why it failed: the spawn error, or the exit status with the whole stderr (it
        /// says why), or an answer that could not be read.
        reason: String,
    },
    /// A cache operation would break environments that symlink into the cache; how to
    /// proceed anyway is the frontend's to say.
    #[error("the cache is used by symlinked environments: {}; removing it would break them", envs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    SymlinkedEnvironments {
        /// The roots of the live environments that link into the entries to be removed,
        /// sorted.
        envs: Vec<PathBuf>,
    },
    /// `verify` found installed files that differ from their RECORD; `first` names a few.
    #[error("{differences} installed files differ from their RECORD in {}: {first}", venv.display())]
    Verify {
        /// The environment's root.
        venv: PathBuf,
        /// How many files differ in all, modified, missing and unrecorded together.
        differences: usize,
        /// Up to three differences, `name version: kind path`, joined by `; `.
        first: String,
    },
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
