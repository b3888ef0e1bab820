//! Timing one run (wall time, CPU time and peak RSS from wait4) and describing the machine.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::e2e::mounts::fs_type;
use crate::util::Cmd;

pub struct Sample {
    pub wall: Duration,
    /// User and system time of the child and every descendant it reaped (compile workers
    /// too): on 2 CPUs a CPU-bound run takes half of it, and the tools' ratio is their work's.
    pub cpu: Duration,
    pub max_rss_kib: u64,
}

/// Wall time from spawn to reap, and the child's CPU time and peak RSS (its own or its
/// largest reaped descendant's) from wait4's rusage. Output goes to /dev/null, stderr to a
/// file for errors.
pub fn measure(cmd: &Cmd) -> Result<Sample> {
    use std::process::Stdio;
    let err = tempfile::tempfile()?;
    let mut command = cmd.std_command();
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err.try_clone()?);
    let start = Instant::now();
    let child = command.spawn().with_context(|| format!("cannot start `{}`", crate::util::short(cmd)))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data, written by wait4 before it is read.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our unreaped child; the pointers are valid for the call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e).context("wait4");
        }
    }
    let wall = start.elapsed();
    drop(child);
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let mut err = err;
        let mut text = String::new();
        use std::io::{Read, Seek};
        err.rewind()?;
        err.read_to_string(&mut text)?;
        bail!("`{}` failed (wait status {status}): {}", crate::util::short(cmd), text.trim());
    }
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let cpu = time(usage.ru_utime) + time(usage.ru_stime);
    Ok(Sample { wall, cpu, max_rss_kib: usage.ru_maxrss as u64 })
}

/// CPUs, CPU model, kernel, filesystem of `dir` (under target/): what a reader needs to weigh
/// the numbers.
pub fn machine(dir: &Path) -> Result<String> {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let fs = fs_type(dir)?;
    Ok(format!("{cpus} CPUs ({model}), Linux {}, {fs}", kernel.trim()))
}
