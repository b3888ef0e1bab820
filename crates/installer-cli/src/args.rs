//! The command line, defined once with clap (flag names, environment variables and help text
//! are the contract of docs/cli.md). Help is grouped as uv groups it: `Installer options`,
//! `Cache options`, `Python options`, `Global options`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use installer_core::target::{PythonPlatform, PythonVersion};
use installer_core::{LinkFallback, LinkMode};

const INSTALLER: &str = "Installer options";
const CACHE: &str = "Cache options";
const PYTHON: &str = "Python options";
const GLOBAL: &str = "Global options";

/// Install Python wheels into virtual environments, fast: each wheel is verified and unpacked
/// once into a cache, then linked into every environment that needs it.
#[derive(Debug, Parser)]
#[command(name = "installer", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Color in the output: auto (when the output is a terminal and NO_COLOR is unset),
    /// always, never
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto, global = true, help_heading = GLOBAL)]
    pub color: ColorChoice,
}

/// When to color the output, as `--color` and `NO_COLOR` ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Install wheel files into an environment (all of them, or nothing)
    ///
    /// Each wheel is verified (every RECORD hash and size) and unpacked once into the cache;
    /// the environment then gets hardlinks, clones or copies of the cached files. The
    /// environment is created when it does not exist. Installer installs built wheels only: it
    /// never resolves dependencies or downloads.
    Install(InstallArgs),
    /// Remove installed distributions (files listed in their RECORD)
    ///
    /// A name that is not installed is a warning; the others are still removed.
    Uninstall(UninstallArgs),
    /// List the distributions installed in an environment
    List(ListArgs),
    /// Check every installed file against its RECORD (hash, size); exit 1 on any modified,
    /// missing or unrecorded file
    #[command(mut_arg("venv", |a| a.help("The environment to check [env: VIRTUAL_ENV, else ./.venv]")))]
    Verify(ListArgs),
    /// Inspect and manage the unpacked-wheel cache
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Show which link mode an install would use for a cache and an environment, and why
    ///
    /// Exits with 1 when it finds a problem (files would be copied where they could be linked,
    /// the cache cannot be written).
    Doctor(DoctorArgs),
    /// Print a shell completion script (e.g. `source <(installer completions bash)`)
    Completions(CompletionsArgs),
}

/// Where the output goes and how much of it.
#[derive(Debug, Args, Clone, Copy)]
pub struct OutputArgs {
    /// Print errors only (no progress bar, no summary)
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,
    /// Say what is done and why (link mode chosen, cache entries unpacked or found)
    #[arg(short, long, global = true, conflicts_with = "quiet", help_heading = GLOBAL)]
    pub verbose: bool,
    /// Hide the progress bar (also hidden when stderr is not a terminal)
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub no_progress: bool,
}

/// `--format`: text for people, one JSON object (docs/json-output.md) for programs.
#[derive(Debug, Args, Clone, Copy)]
pub struct FormatArg {
    /// Output format: text, or json (one object on stdout; see docs/json-output.md)
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Text, help_heading = GLOBAL)]
    pub format: Format,
}

#[derive(Debug, Args)]
#[command(mut_arg("venv", |a| a.help(
    "The environment to install into [env: VIRTUAL_ENV, else ./.venv]; created when missing"
)))]
pub struct InstallArgs {
    /// Wheel files to install (`.whl`)
    #[arg(value_name = "WHEEL", required_unless_present = "requirements")]
    pub wheels: Vec<PathBuf>,
    /// Install the wheels listed in FILE: one path a line, `#` comments, paths relative to FILE
    #[arg(short, long = "requirements", value_name = "FILE", help_heading = INSTALLER)]
    pub requirements: Vec<PathBuf>,
    #[command(flatten)]
    pub venv: VenvArg,
    /// Install into the environment of the first python3 on PATH that is not a venv
    // Every other way of naming the environment conflicts: `--system --target DIR` must not
    // quietly install into the system.
    #[arg(long, conflicts_with_all = ["venv", "python", "target", "prefix"], help_heading = PYTHON)]
    pub system: bool,
    /// With --system: install even when the interpreter is marked EXTERNALLY-MANAGED (PEP 668)
    #[arg(long, requires = "system", help_heading = PYTHON)]
    pub break_system_packages: bool,
    /// Install for this Python version instead of the interpreter's (wheels are checked
    /// against its tags) [config python-version]
    #[arg(long, value_name = "X.Y", env = "INSTALLER_PYTHON_VERSION", help_heading = PYTHON)]
    pub python_version: Option<PythonVersion>,
    /// Install for this platform instead of this machine's, in uv's spellings:
    /// x86_64-manylinux_2_28, aarch64-unknown-linux-gnu, x86_64-unknown-linux-musl, macos,
    /// windows, ... [config python-platform]
    #[arg(long, value_name = "PLATFORM", env = "INSTALLER_PYTHON_PLATFORM", help_heading = PYTHON)]
    pub python_platform: Option<PythonPlatform>,
    /// Install wheels whose Requires-Python excludes the target's Python version (as pip's
    /// flag of that name)
    #[arg(long, help_heading = PYTHON)]
    pub ignore_requires_python: bool,
    /// How files get from the cache into the environment: auto, clone (reflink), hardlink,
    /// copy, symlink [config: link-mode]
    #[arg(long, value_enum, value_name = "MODE", env = "INSTALLER_LINK_MODE", help_heading = INSTALLER)]
    pub link_mode: Option<LinkMode>,
    /// When the link mode cannot be used: warn (copy and warn once), quiet (copy silently),
    /// error (fail, nothing installed) [config: link-fallback]
    #[arg(long, value_enum, value_name = "F", env = "INSTALLER_LINK_FALLBACK", help_heading = INSTALLER)]
    pub link_fallback: Option<LinkFallback>,
    /// Replace installed distributions even at the same version
    #[arg(long, visible_alias = "force-reinstall", help_heading = INSTALLER)]
    pub reinstall: bool,
    /// Accepted for pip and uv users: an install always replaces another installed version of
    /// a distribution it installs
    #[arg(short = 'U', long, help_heading = INSTALLER)]
    pub upgrade: bool,
    /// Write .pyc files with the environment's interpreter [env: INSTALLER_COMPILE=1|0|true|
    /// false|yes|no|on|off] [config: compile]
    #[arg(long, visible_alias = "compile-bytecode", help_heading = INSTALLER)]
    pub compile: bool,
    /// Write no .pyc files, whatever INSTALLER_COMPILE and the compile setting say
    #[arg(long, visible_alias = "no-compile-bytecode", conflicts_with = "compile", help_heading = INSTALLER)]
    pub no_compile: bool,
    /// Say what would be installed, replaced and skipped, and with which link mode; change
    /// nothing in the environment
    #[arg(long, help_heading = INSTALLER)]
    pub dry_run: bool,
    /// Accepted for uv and pip users; installer never resolves dependencies
    #[arg(long, help_heading = INSTALLER)]
    pub no_deps: bool,
    /// Accepted for uv and pip users; installer never downloads
    #[arg(long, help_heading = INSTALLER)]
    pub offline: bool,
    /// Accepted for pip users; installer never downloads
    #[arg(long, help_heading = INSTALLER)]
    pub no_index: bool,
    /// Worker threads [config: jobs] [default: CPUs]
    #[arg(short, long, value_name = "N", env = "INSTALLER_JOBS", value_parser = clap::value_parser!(u32).range(1..=installer_core::MAX_JOBS as i64), help_heading = INSTALLER)]
    pub jobs: Option<u32>,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Unpack into a temporary cache removed at exit (wins over INSTALLER_CACHE_DIR and the
    /// cache-dir setting; with --cache-dir on the command line it is a usage error)
    // The conflict sees the command line only: `--cache-dir` has no clap `env`, which clap
    // would count as present (settings::cache_dir reads INSTALLER_CACHE_DIR instead).
    #[arg(long, conflicts_with = "cache_dir", help_heading = CACHE)]
    pub no_cache: bool,
    #[command(flatten)]
    pub format: FormatArg,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct VenvArg {
    /// The environment [env: VIRTUAL_ENV, else ./.venv]
    #[arg(long, value_name = "DIR", help_heading = PYTHON)]
    pub venv: Option<PathBuf>,
    /// The interpreter whose environment it is, as in uv: a venv's bin/python selects that
    /// venv; a version (3.12) finds python3.12 on PATH; for an install into a --venv that
    /// does not exist, the interpreter it is created with (an existing one of another Python
    /// version is refused) [default: python3]
    #[arg(short, long, value_name = "PATH|VERSION", help_heading = PYTHON)]
    pub python: Option<String>,
    /// The directory laid out as pip --target lays it out: every scheme in DIR, scripts in
    /// DIR/bin
    #[arg(long, value_name = "DIR", conflicts_with_all = ["venv", "prefix"], help_heading = PYTHON)]
    pub target: Option<PathBuf>,
    /// The interpreter's scheme under DIR, as pip --prefix lays it out
    /// (DIR/lib/pythonX.Y/site-packages, DIR/bin)
    #[arg(long, value_name = "DIR", conflicts_with = "venv", help_heading = PYTHON)]
    pub prefix: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    /// The cache directory [env: INSTALLER_CACHE_DIR] [config: cache-dir] [default:
    /// $XDG_CACHE_HOME/installer, else ~/.cache/installer]
    // No clap `env`: clap would count INSTALLER_CACHE_DIR as `--cache-dir` given, and then
    // `INSTALLER_CACHE_DIR=... install --no-cache` would be a usage error. settings::cache_dir
    // reads the variable.
    #[arg(long, value_name = "DIR", help_heading = CACHE)]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(mut_arg("venv", |a| a.help(
    "The environment to remove them from [env: VIRTUAL_ENV, else ./.venv]"
)))]
pub struct UninstallArgs {
    /// Distribution names (any spelling: Foo_Bar = foo-bar)
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// Accepted for pip users; uninstall never asks
    #[arg(short, long)]
    pub yes: bool,
    #[command(flatten)]
    pub venv: VenvArg,
    #[command(flatten)]
    pub format: FormatArg,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("venv", |a| a.help("The environment to list [env: VIRTUAL_ENV, else ./.venv]")))]
pub struct ListArgs {
    #[command(flatten)]
    pub venv: VenvArg,
    #[command(flatten)]
    pub format: FormatArg,
}

/// Text for people or one JSON object for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Print the cache location and every shard
    Dir(CacheDirArgs),
    /// Show entries, space on disk (hardlinked files once) and least recent use, per cache
    /// and shard
    Info(CacheInfoArgs),
    /// Remove the cache, or the entries of the named distributions
    Clean(CacheCleanArgs),
    /// Remove entries that no environment uses; then, with --older-than and --max-size, old
    /// and least recently used ones
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
pub struct CacheInfoArgs {
    #[command(flatten)]
    pub cache: CacheArgs,
    #[command(flatten)]
    pub format: FormatArg,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CacheCleanArgs {
    /// Only the entries of these distributions
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Remove entries even when symlinked environments use them (breaking those environments)
    #[arg(long, help_heading = CACHE)]
    pub force: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CachePruneArgs {
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Remove entries even when symlinked environments use them (breaking those environments)
    #[arg(long, help_heading = CACHE)]
    pub force: bool,
    /// Then remove the least recently used entries until the cache and its shards together
    /// take at most SIZE on disk: 10G, 2GB (powers of 1000), 500MiB (powers of 1024)
    /// [env: INSTALLER_CACHE_MAX_SIZE] [config: cache-max-size]
    #[arg(long, value_name = "SIZE", value_parser = installer_core::units::parse_size, help_heading = CACHE)]
    pub max_size: Option<u64>,
    /// Then remove entries not used for DURATION: 30d, 2w, 12h, 1y 6months
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, help_heading = CACHE)]
    pub older_than: Option<std::time::Duration>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CacheVerifyArgs {
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Evict entries whose files changed since they were unpacked
    #[arg(long, help_heading = CACHE)]
    pub repair: bool,
    /// With --repair, evict entries even when symlinked environments use them (breaking those
    /// environments)
    #[arg(long, requires = "repair", help_heading = CACHE)]
    pub force: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("venv", |a| a.help(
    "The environment to examine [env: VIRTUAL_ENV, else ./.venv]; it need not exist yet"
)))]
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
