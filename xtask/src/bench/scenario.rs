//! What the bench measures: the scenarios (where the cache and the venv are, which link modes,
//! warm or cold, with bytecode or not), the loop mounts they need and the tools timed in each.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::table::OURS;
use super::UV_VERSION;
use crate::e2e::mounts::{Fs, LoopMount};
use crate::util::Log;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Scenario {
    /// Cache warm (ours and uv's), venv on the root disk, `--link-mode hardlink`.
    WarmHardlink,
    /// As warm-hardlink, ours with `auto`.
    WarmAuto,
    /// Empty caches: unpack, verify, install.
    Cold,
    /// Warm, with bytecode (`--compile` / `--compile-bytecode`): ours links the cached
    /// bytecode, uv compiles every time.
    WarmBytecode,
    /// Cold, with bytecode: both compile.
    ColdBytecode,
    /// Warm cache on the root disk, venv on a loop-mounted ext4: ours links from its shard
    /// there (prepared), uv copies.
    CrossFs,
    /// Cache and venv on a loop-mounted XFS with reflink, both tools with hardlinks.
    XfsHardlink,
    /// The same with clones.
    XfsClone,
    /// The same, ours with `auto` and uv with its default mode.
    XfsAuto,
    /// The Dockerfile's RUN step in a reproduced container build, warm cache mounts
    /// (container.rs).
    Container,
    /// The same with empty cache mounts.
    ContainerCold,
}

/// Where a scenario's venvs (and, for XFS, caches) live.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    Root,
    Ext4,
    Xfs,
}

impl Scenario {
    pub(super) const ALL: [Scenario; 11] = [
        Scenario::WarmHardlink,
        Scenario::WarmAuto,
        Scenario::Cold,
        Scenario::WarmBytecode,
        Scenario::ColdBytecode,
        Scenario::CrossFs,
        Scenario::XfsHardlink,
        Scenario::XfsClone,
        Scenario::XfsAuto,
        Scenario::Container,
        Scenario::ContainerCold,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Scenario::WarmHardlink => "warm-hardlink",
            Scenario::WarmAuto => "warm-auto",
            Scenario::Cold => "cold",
            Scenario::WarmBytecode => "warm-bytecode",
            Scenario::ColdBytecode => "cold-bytecode",
            Scenario::CrossFs => "cross-fs",
            Scenario::XfsHardlink => "xfs-hardlink",
            Scenario::XfsClone => "xfs-clone",
            Scenario::XfsAuto => "xfs-auto",
            Scenario::Container => "container",
            Scenario::ContainerCold => "container-cold",
        }
    }

    pub(super) fn tools(self) -> &'static [Tool] {
        match self {
            // The floor links a prepared tree on the runs' filesystem (cross-fs: the venv ours
            // installed there, from its shard).
            Scenario::WarmHardlink | Scenario::WarmAuto | Scenario::CrossFs => {
                &[Tool::Ours, Tool::Uv, Tool::Floor, Tool::CpAl]
            }
            // Our hardlink mode in the same rounds: `auto` must be within 1.15x of it, and only
            // runs back to back compare (scenarios run one after another, the load drifts).
            Scenario::XfsAuto => &[Tool::Ours, Tool::Uv, Tool::OursHardlink],
            // The compile alone: what no installer that compiles with the interpreter can beat
            // on these CPUs, so that what is left between ours and uv shows.
            Scenario::ColdBytecode => &[Tool::Ours, Tool::Uv, Tool::CompileFloor],
            _ => &[Tool::Ours, Tool::Uv],
        }
    }

    pub(super) fn place(self) -> Place {
        match self {
            Scenario::CrossFs => Place::Ext4,
            Scenario::XfsHardlink | Scenario::XfsClone | Scenario::XfsAuto => Place::Xfs,
            _ => Place::Root,
        }
    }

    pub(super) fn cold(self) -> bool {
        matches!(self, Scenario::Cold | Scenario::ColdBytecode | Scenario::ContainerCold)
    }

    pub(super) fn in_container(self) -> bool {
        matches!(self, Scenario::Container | Scenario::ContainerCold)
    }

    /// Our `--link-mode` and uv's (`None`: uv's default).
    pub(super) fn modes(self) -> (&'static str, Option<&'static str>) {
        match self {
            Scenario::WarmAuto | Scenario::CrossFs => ("auto", Some("hardlink")),
            Scenario::XfsClone => ("clone", Some("clone")),
            Scenario::XfsAuto => ("auto", None),
            _ => ("hardlink", Some("hardlink")),
        }
    }

    pub(super) fn bytecode(self) -> bool {
        matches!(self, Scenario::WarmBytecode | Scenario::ColdBytecode)
    }
}

/// The loop mounts a set of scenarios needs, and the caches on the XFS one.
pub(super) struct Mounts {
    pub ext4: Option<LoopMount>,
    pub xfs: Option<LoopMount>,
}

impl Mounts {
    /// Big sparse images: uv copies the whole corpus into every cross-filesystem venv.
    pub(super) fn new(scenarios: &[Scenario], work: &Path, log: &Log) -> Result<Mounts> {
        let mount = |place: Place, fs: Fs| -> Result<Option<LoopMount>> {
            if !scenarios.iter().any(|s| s.place() == place) {
                return Ok(None);
            }
            match LoopMount::with_size(log, fs, work, "6G")? {
                Ok(m) => Ok(Some(m)),
                Err(why) => bail!("{fs:?} for the bench: {why} (leave its scenarios out with --only)"),
            }
        };
        Ok(Mounts { ext4: mount(Place::Ext4, Fs::Ext4)?, xfs: mount(Place::Xfs, Fs::XfsReflink)? })
    }

    /// The directory runs of `place` go under.
    pub(super) fn dir(&self, place: Place, work: &Path) -> PathBuf {
        match place {
            Place::Root => work.to_owned(),
            Place::Ext4 => self.ext4.as_ref().expect("mounted for its scenarios").mnt.clone(),
            Place::Xfs => self.xfs.as_ref().expect("mounted for its scenarios").mnt.clone(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Tool {
    Ours,
    /// Ours with `--link-mode hardlink`, beside ours with the scenario's mode.
    OursHardlink,
    Uv,
    Floor,
    CpAl,
    /// `py_compile` of the installed sources in one process per CPU, dealt out beforehand,
    /// biggest first (compile_floor.py): the bytecode alone, compiled as pip and uv compile it.
    CompileFloor,
}

impl Tool {
    pub(super) fn label(self) -> String {
        match self {
            Tool::Ours => OURS.into(),
            Tool::OursHardlink => "ours, --link-mode hardlink".into(),
            Tool::Uv => format!("uv {UV_VERSION}"),
            Tool::Floor => "floor (manifest, 2 threads)".into(),
            Tool::CpAl => "cp -al".into(),
            Tool::CompileFloor => "py_compile alone".into(),
        }
    }
}
