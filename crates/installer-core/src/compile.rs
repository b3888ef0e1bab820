//! Bytecode compilation with the environment's own interpreter, so the magic number and the
//! cache tag (`cpython-311`) are the ones that will read the files. Used by [`crate::bytecode`]
//! to fill the cache; nothing here knows about environments.
//!
//! Starting the interpreter costs tens of milliseconds, so it is not done per file: one worker
//! process per thread of the pool is started once and fed jobs over stdin as it answers,
//! biggest sources first, so that no worker is left with a long file at the end while the
//! others idle. Each `.pyc` is written by `py_compile` (a temporary file renamed into place).
//!
//! The protocol is length-prefixed, not line-based: a file name may hold a newline.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::cancel::Cancel;
use crate::{Error, Result};

/// The worker: reads jobs (`<length>\n<source>\0<pyc>\0<name in tracebacks>`), compiles each
/// with a timestamp-based header, and answers `K\n` or `E<message>\n` per job, in order.
/// Warnings (invalid escape sequences...) are silenced as pip does; they are the package
/// author's business.
const WORKER: &str = r#"
import os, py_compile, sys, warnings
warnings.filterwarnings("ignore")
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    line = inp.readline()
    if not line:
        break
    source, cfile, dfile = (os.fsdecode(p) for p in inp.read(int(line)).split(b"\0"))
    try:
        py_compile.compile(source, cfile=cfile, dfile=dfile, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
        out.write(b"K\n")
    except Exception as e:
        if isinstance(e, py_compile.PyCompileError):
            v = e.exc_value
            if isinstance(v, SyntaxError):
                msg = "%s: %s (line %s)" % (e.exc_type_name, v.msg, v.lineno)
            else:
                msg = "%s: %s" % (e.exc_type_name, v)
        else:
            msg = "%s: %s" % (type(e).__name__, e)
        out.write(b"E" + msg.encode("utf-8", "replace").replace(b"\n", b" ") + b"\n")
    out.flush()
"#;

/// Files per worker process below which another process does not pay for its start-up.
const FILES_PER_WORKER: usize = 50;

/// Jobs written ahead of the answers, so a worker never waits for the next path.
const IN_FLIGHT: usize = 2;

/// One file to compile.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub source: PathBuf,
    /// Where the `.pyc` goes; its directory is made if missing.
    pub pyc: PathBuf,
    /// The file name compiled into the code objects (importlib replaces it with the path the
    /// module is imported from, so tracebacks name the environment's file).
    pub display: String,
    /// The source's size: the biggest are compiled first.
    pub size: u64,
}

/// What became of one job.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Written,
    /// It does not compile (a syntax error...): a warning, as with pip.
    Failed(String),
}

/// Compiles every job with `python` in up to `workers` processes; returns one outcome per job,
/// in order. An interpreter that cannot run or stops answering is an error; so is
/// `cancel` being cancelled between files ([`Error::Cancelled`]).
pub(crate) fn compile(python: &Path, jobs: &[Job], workers: usize, cancel: &Cancel) -> Result<Vec<Outcome>> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let workers = workers.min(jobs.len().div_ceil(FILES_PER_WORKER)).max(1);
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(jobs[i].size));
    let queue = Mutex::new(order.into_iter());
    let outcomes: Vec<Mutex<Option<Outcome>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| scope.spawn(|| run_worker(python, jobs, &queue, &outcomes, cancel)))
            .collect();
        handles.into_iter().map(|h| h.join().expect("compile worker thread panicked")).collect()
    });
    results.into_iter().collect::<Result<()>>()?;
    Ok(outcomes
        .into_iter()
        .map(|o| o.into_inner().expect("outcome slot").expect("every job answered"))
        .collect())
}

/// One worker process: takes jobs from `queue` until it is empty, keeping [`IN_FLIGHT`] of
/// them written ahead, and records each answer.
fn run_worker(
    python: &Path,
    jobs: &[Job],
    queue: &Mutex<std::vec::IntoIter<usize>>,
    outcomes: &[Mutex<Option<Outcome>>],
    cancel: &Cancel,
) -> Result<()> {
    let command = format!("{} -I -B -c <compile worker>", python.display());
    let failed = |reason: String| Error::Command { command: command.clone(), reason };
    let mut child = Command::new(python)
        .args(["-I", "-B", "-c", WORKER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let next = || queue.lock().expect("job queue").next();
    let mut in_flight = VecDeque::with_capacity(IN_FLIGHT);
    let mut answer = Vec::new();
    let mut broken = None;
    loop {
        while in_flight.len() < IN_FLIGHT && !cancel.is_cancelled() {
            let Some(job) = next() else { break };
            if let Err(e) = stdin.write_all(&encode(&jobs[job])).and_then(|()| stdin.flush()) {
                broken = Some(e.to_string());
                break;
            }
            in_flight.push_back(job);
        }
        let Some(job) = in_flight.pop_front() else { break };
        answer.clear();
        match stdout.read_until(b'\n', &mut answer) {
            Ok(n) if n > 0 && answer.ends_with(b"\n") => {}
            Ok(_) => {
                broken = Some("stopped answering".into());
                break;
            }
            Err(e) => {
                broken = Some(e.to_string());
                break;
            }
        }
        let outcome = match answer.split_first() {
            Some((b'K', _)) => Outcome::Written,
            Some((b'E', message)) => Outcome::Failed(
                String::from_utf8_lossy(message.strip_suffix(b"\n").unwrap_or(message)).into(),
            ),
            _ => {
                broken = Some("malformed answer".into());
                break;
            }
        };
        *outcomes[job].lock().expect("outcome slot") = Some(outcome);
    }
    drop(stdin);
    let output = child.wait_with_output().map_err(|e| failed(e.to_string()))?;
    cancel.check()?;
    if broken.is_some() || !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim();
        let why = broken.unwrap_or_else(|| output.status.to_string());
        return Err(failed(format!("{why} ({last})")));
    }
    Ok(())
}

/// `<length>\n<source>\0<pyc>\0<display>`.
fn encode(job: &Job) -> Vec<u8> {
    let mut body = Vec::with_capacity(256);
    body.extend_from_slice(path_bytes(&job.source));
    body.push(0);
    body.extend_from_slice(path_bytes(&job.pyc));
    body.push(0);
    body.extend_from_slice(job.display.replace('\0', "?").as_bytes());
    let mut out = format!("{}\n", body.len()).into_bytes();
    out.extend_from_slice(&body);
    out
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes()
}

// Python's fsencode on Windows is UTF-8 (PEP 529), as are Rust's `to_str` paths.
#[cfg(not(unix))]
fn path_bytes(path: &Path) -> &[u8] {
    path.to_str().map(str::as_bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs `python3` on PATH, as the rest of the test suite does.
    #[test]
    fn a_real_interpreter_compiles_good_files_and_reports_bad_ones_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut jobs = Vec::new();
        for (name, text) in [("good.py", "X = 1\n"), ("bad.py", "def (:\n"), ("new\nline.py", "Y = 2\n")] {
            let source = dir.path().join(name);
            std::fs::write(&source, text).unwrap();
            let pyc = dir.path().join("out/__pycache__").join(format!("{name}c"));
            jobs.push(Job { source, pyc, display: name.into(), size: text.len() as u64 });
        }
        let outcomes = compile(Path::new("python3"), &jobs, 2, &Cancel::new()).unwrap();
        assert_eq!(outcomes[0], Outcome::Written);
        assert!(matches!(&outcomes[1], Outcome::Failed(m) if m.starts_with("SyntaxError: ")), "{outcomes:?}");
        assert_eq!(outcomes[2], Outcome::Written);
        assert!(jobs[0].pyc.is_file() && !jobs[1].pyc.exists() && jobs[2].pyc.is_file());
    }

    #[test]
    fn an_interpreter_that_cannot_run_is_an_error() {
        let job = Job { source: "a.py".into(), pyc: "a.pyc".into(), display: "a.py".into(), size: 1 };
        let err = compile(Path::new("/nonexistent/python"), &[job], 1, &Cancel::new()).unwrap_err();
        assert!(matches!(err, Error::Command { .. }), "{err:?}");
    }
}
