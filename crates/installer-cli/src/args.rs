//! The command line, defined once with clap (flag names, environment variables and help text
//! are the contract of docs/cli.md).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use installer_core::target::{PythonPlatform, PythonVersion};
use installer_core::{LinkFallback, LinkMode};

/// Install Python wheels into virtual environments from a verified unpacked-wheel cache.
#[derive(Debug, Parser)]
#[command(name = "installer", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Install wheel files into an environment (all of them, or nothing)
    Install(InstallArgs),
    /// Remove installed distributions by their RECORD
    Uninstall(UninstallArgs),
    /// List installed distributions
    List(ListArgs),
    /// Check every installed file against its RECORD (hash, size); exit 1 on any modified,
    /// missing or unrecorded file
    Verify(ListArgs),
    /// Inspect and manage the unpacked-wheel cache
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Show which link mode would be used for a cache and an environment, and why
    Doctor(DoctorArgs),
    /// Print a shell completion script (e.g. `source <(installer completions bash)`)
    Completions(CompletionsArgs),
}

/// Where the output goes and how much of it.
#[derive(Debug, Args, Clone, Copy)]
pub struct OutputArgs {
    /// Errors only (no progress bar, no summary)
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Say what is done and why (link mode chosen, cache hits)
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    /// No progress bar (also off when stderr is not a terminal)
    #[arg(long, global = true)]
    pub no_progress: bool,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Wheel files to install
    #[arg(required = true, value_name = "WHEEL")]
    pub wheels: Vec<PathBuf>,
    #[command(flatten)]
    pub venv: VenvArg,
    /// Install into the environment of the first python3 on PATH that is not a venv
    #[arg(long, conflicts_with_all = ["venv", "python"])]
    pub system: bool,
    /// With --system: install even when the interpreter is marked EXTERNALLY-MANAGED (PEP 668)
    #[arg(long, requires = "system")]
    pub break_system_packages: bool,
    /// Install for this Python version instead of the interpreter's (wheels are checked
    /// against its tags) [config python-version]
    #[arg(long, value_name = "X.Y", env = "INSTALLER_PYTHON_VERSION")]
    pub python_version: Option<PythonVersion>,
    /// Install for this platform instead of this machine's, in uv's spellings:
    /// x86_64-manylinux_2_28, aarch64-unknown-linux-gnu, x86_64-unknown-linux-musl, macos,
    /// windows, ... [config python-platform]
    #[arg(long, value_name = "PLATFORM", env = "INSTALLER_PYTHON_PLATFORM")]
    pub python_platform: Option<PythonPlatform>,
    /// How files get from the cache into the environment
    #[arg(long, value_enum, value_name = "MODE", env = "INSTALLER_LINK_MODE")]
    pub link_mode: Option<LinkMode>,
    /// What to do when the link mode cannot be used: warn (copy and warn once), quiet (copy
    /// silently), error (fail, nothing installed)
    #[arg(long, value_enum, value_name = "F", env = "INSTALLER_LINK_FALLBACK")]
    pub link_fallback: Option<LinkFallback>,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Unpack into a temporary cache removed at exit
    #[arg(long, conflicts_with = "cache_dir")]
    pub no_cache: bool,
    /// Worker threads [default: CPUs]
    #[arg(short, long, value_name = "N", env = "INSTALLER_JOBS", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Replace installed distributions even at the same version
    #[arg(long)]
    pub reinstall: bool,
    /// Write .pyc files with the environment's interpreter
    #[arg(long)]
    pub compile: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct VenvArg {
    /// Environment to install into [env VIRTUAL_ENV, else ./.venv]
    #[arg(long, value_name = "DIR")]
    pub venv: Option<PathBuf>,
    /// The interpreter whose environment it is, as in uv: a venv's bin/python selects that
    /// venv; a version (3.12) finds python3.12 on PATH; with a --venv that does not exist,
    /// the interpreter it is created with [default: python3]
    #[arg(short, long, value_name = "PATH|VERSION")]
    pub python: Option<String>,
    /// Install into DIR as pip --target does: every scheme in DIR, scripts in DIR/bin
    #[arg(long, value_name = "DIR", conflicts_with_all = ["venv", "prefix"])]
    pub target: Option<PathBuf>,
    /// Install with the interpreter's scheme under DIR (DIR/lib/pythonX.Y/site-packages, DIR/bin)
    #[arg(long, value_name = "DIR", conflicts_with = "venv")]
    pub prefix: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Cache directory [default: $XDG_CACHE_HOME/installer, else ~/.cache/installer]
    #[arg(long, value_name = "DIR", env = "INSTALLER_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Distribution names (any spelling: Foo_Bar = foo-bar)
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    #[command(flatten)]
    pub venv: VenvArg,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub venv: VenvArg,
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Print the cache location and every shard
    Dir(CacheDirArgs),
    /// Remove the cache, or the entries of the named distributions
    Clean(CacheCleanArgs),
    /// Remove entries that no environment uses
    Prune(CachePruneArgs),
    /// Re-hash every entry against its manifest
    Verify(CacheVerifyArgs),
}

#[derive(Debug, Args)]
pub struct CacheDirArgs {
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct CacheCleanArgs {
    /// Only the entries of these distributions
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Remove entries even when symlinked environments use them (breaking those environments)
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CachePruneArgs {
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Remove entries even when symlinked environments use them (breaking those environments)
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CacheVerifyArgs {
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Evict entries whose files changed since they were unpacked
    #[arg(long)]
    pub repair: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub venv: VenvArg,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}
