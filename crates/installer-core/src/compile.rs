//! Bytecode compilation with the environment's own interpreter, so the magic number and the
//! cache tag (`cpython-311`) are the ones that will read the files. Used by [`crate::bytecode`]
//! to fill the cache; nothing here knows about environments.
//!
//! Starting the interpreter costs tens of milliseconds, so it is not done per file: a [`Pool`]
//! starts worker processes (up to one per thread of the install's pool) as jobs arrive, and
//! feeds them over stdin as they answer, biggest queued source first, so that no worker is left
//! with a long file at the end while the others idle. Jobs may be added while the workers run:
//! an install queues each wheel's sources as soon as its cache entry is ready, and the
//! compilation overlaps the unpacking of the other wheels, planning and linking. Each `.pyc` is
//! written by `py_compile` (a temporary file renamed into place).
//!
//! The protocol is length-prefixed, not line-based: a file name may hold a newline.

use std::collections::{BinaryHeap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::cancel::Cancel;
use crate::{Error, Result};

/// The worker: reads jobs (`<length>\n<T|H>\0<source>\0<pyc>\0<name in tracebacks>`), compiles
/// each with a timestamp-based (`T`) or checked hash-based (`H`, PEP 552) header, and answers
/// `K\n` or `E<message>\n` per job, in order.
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
    mode, source, cfile, dfile = (os.fsdecode(p) for p in inp.read(int(line)).split(b"\0"))
    mode = py_compile.PycInvalidationMode.CHECKED_HASH if mode == "H" else py_compile.PycInvalidationMode.TIMESTAMP
    try:
        py_compile.compile(source, cfile=cfile, dfile=dfile, doraise=True, invalidation_mode=mode)
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

/// Jobs queued per worker process below which another process does not pay for its start-up.
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
    /// A hash-based header, checked against the source on import, instead of the source's
    /// modification time: for a source the install writes itself (a rewritten script), whose
    /// time is not known when it is compiled.
    pub checked_hash: bool,
}

/// What became of one job.
#[derive(Debug, PartialEq, Eq, Clone)]
pub(crate) enum Outcome {
    Written,
    /// It does not compile (a syntax error...): a warning, as with pip.
    Failed(String),
}

/// Identifies a job of a [`Pool`]: its position in the order of [`Pool::submit`].
pub(crate) type JobId = usize;

/// Compiles every job with `python` in up to `workers` processes; returns one outcome per job,
/// in order. An interpreter that cannot run or stops answering is an error; so is
/// `cancel` being cancelled between files ([`Error::Cancelled`]).
#[cfg(test)]
pub(crate) fn compile(python: &Path, jobs: &[Job], workers: usize, cancel: &Cancel) -> Result<Vec<Outcome>> {
    let pool = Pool::new(python, workers, cancel.clone());
    for job in jobs {
        pool.submit(job);
    }
    let mut outcomes = pool.finish()?;
    Ok(outcomes.iter_mut().map(|o| o.take().expect("every job answered")).collect())
}

/// Worker processes of one interpreter fed from a queue that may grow while they run. Dropped
/// without [`Pool::finish`] (an install failed elsewhere), it stops its workers after the files
/// they are compiling and waits for them: no process or thread outlives it.
pub(crate) struct Pool {
    python: PathBuf,
    max_workers: usize,
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<Result<()>>>>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a job is queued and when the pool closes or is abandoned.
    wake: Condvar,
    cancel: Cancel,
}

#[derive(Default)]
struct State {
    queue: BinaryHeap<Queued>,
    /// Jobs submitted so far (the next [`JobId`]).
    submitted: usize,
    outcomes: Vec<Option<Outcome>>,
    /// No more jobs come: a worker finding the queue empty exits.
    closed: bool,
    /// Stop after the files in flight.
    abandoned: bool,
}

/// A queued job, ordered by its source's size (the heap gives the biggest first).
struct Queued {
    size: u64,
    id: JobId,
    message: Vec<u8>,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.size, self.id) == (other.size, other.id)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    /// Bigger first; among equals, the first submitted.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.size.cmp(&other.size).then(other.id.cmp(&self.id))
    }
}

impl Pool {
    /// A pool of up to `max_workers` processes of `python`, started as jobs arrive; none is
    /// started until the first [`Pool::submit`]. `cancel` is checked between files.
    pub fn new(python: &Path, max_workers: usize, cancel: Cancel) -> Pool {
        Pool {
            python: python.to_path_buf(),
            max_workers: max_workers.max(1),
            shared: Arc::new(Shared { state: Mutex::default(), wake: Condvar::new(), cancel }),
            threads: Mutex::new(Vec::new()),
        }
    }

    /// Queues `job`, starting another worker when the queue has grown enough to pay for it.
    pub fn submit(&self, job: &Job) -> JobId {
        let (id, queued) = {
            let mut state = self.shared.state.lock().expect("compile queue");
            let id = state.submitted;
            state.submitted += 1;
            state.outcomes.push(None);
            state.queue.push(Queued { size: job.size, id, message: encode(job) });
            (id, state.submitted)
        };
        self.shared.wake.notify_one();
        let mut threads = self.threads.lock().expect("compile workers");
        if threads.len() < self.max_workers && queued > threads.len() * FILES_PER_WORKER {
            let (python, shared) = (self.python.clone(), Arc::clone(&self.shared));
            threads.push(std::thread::spawn(move || run_worker(&python, &shared)));
        }
        id
    }

    /// Takes back the jobs of `ids` that no worker has started; they get no outcome.
    pub fn withdraw(&self, ids: &std::collections::HashSet<JobId>) {
        let mut state = self.shared.state.lock().expect("compile queue");
        state.queue.retain(|q| !ids.contains(&q.id));
    }

    /// Waits for every queued job; returns the outcome of each, by [`JobId`] (`None` for a
    /// withdrawn one). The first worker error (an interpreter that stopped answering, or
    /// [`Error::Cancelled`]) is returned instead.
    pub fn finish(self) -> Result<Vec<Option<Outcome>>> {
        self.shared.state.lock().expect("compile queue").closed = true;
        self.shared.wake.notify_all();
        let threads = std::mem::take(&mut *self.threads.lock().expect("compile workers"));
        let results: Vec<Result<()>> =
            threads.into_iter().map(|t| t.join().expect("compile worker thread panicked")).collect();
        results.into_iter().collect::<Result<()>>()?;
        self.shared.cancel.check()?;
        Ok(std::mem::take(&mut self.shared.state.lock().expect("compile queue").outcomes))
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.state.lock().expect("compile queue").abandoned = true;
        self.shared.wake.notify_all();
        for thread in std::mem::take(&mut *self.threads.lock().expect("compile workers")) {
            let _ = thread.join();
        }
    }
}

/// The next job for a worker with `in_flight` jobs unanswered: it waits for one only when it
/// has nothing to read.
fn next_job(shared: &Shared, in_flight: usize) -> Option<Queued> {
    let mut state = shared.state.lock().expect("compile queue");
    loop {
        if state.abandoned || shared.cancel.is_cancelled() {
            return None;
        }
        if let Some(job) = state.queue.pop() {
            return Some(job);
        }
        if state.closed || in_flight > 0 {
            return None;
        }
        state = shared.wake.wait(state).expect("compile queue");
    }
}

/// One worker process: takes jobs until the pool closes with an empty queue, keeping
/// [`IN_FLIGHT`] of them written ahead, and records each answer.
fn run_worker(python: &Path, shared: &Shared) -> Result<()> {
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
    let mut in_flight = VecDeque::with_capacity(IN_FLIGHT);
    let mut answer = Vec::new();
    let mut broken = None;
    loop {
        while in_flight.len() < IN_FLIGHT {
            let Some(job) = next_job(shared, in_flight.len()) else { break };
            if let Err(e) = stdin.write_all(&job.message).and_then(|()| stdin.flush()) {
                broken = Some(e.to_string());
                break;
            }
            in_flight.push_back(job.id);
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
        shared.state.lock().expect("compile queue").outcomes[job] = Some(outcome);
    }
    drop(stdin);
    let output = child.wait_with_output().map_err(|e| failed(e.to_string()))?;
    shared.cancel.check()?;
    if shared.state.lock().expect("compile queue").abandoned {
        return Ok(());
    }
    if broken.is_some() || !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim();
        let why = broken.unwrap_or_else(|| output.status.to_string());
        return Err(failed(format!("{why} ({last})")));
    }
    Ok(())
}

/// `<length>\n<T|H>\0<source>\0<pyc>\0<display>`.
fn encode(job: &Job) -> Vec<u8> {
    let mut body = Vec::with_capacity(256);
    body.extend_from_slice(if job.checked_hash { b"H\0" } else { b"T\0" });
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
        // (name, source, hash-based header): a name with a newline goes through the protocol too.
        let files =
            [("good.py", "X = 1\n", false), ("bad.py", "def (:\n", false), ("new\nline.py", "Y = 2\n", true)];
        for (name, text, checked_hash) in files {
            let source = dir.path().join(name);
            std::fs::write(&source, text).unwrap();
            let pyc = dir.path().join("out/__pycache__").join(format!("{name}c"));
            jobs.push(Job { source, pyc, display: name.into(), size: text.len() as u64, checked_hash });
        }
        let outcomes = compile(Path::new("python3"), &jobs, 2, &Cancel::new()).unwrap();
        assert_eq!(outcomes[0], Outcome::Written);
        assert!(matches!(&outcomes[1], Outcome::Failed(m) if m.starts_with("SyntaxError: ")), "{outcomes:?}");
        assert_eq!(outcomes[2], Outcome::Written);
        assert!(jobs[0].pyc.is_file() && !jobs[1].pyc.exists() && jobs[2].pyc.is_file());
        // The header's flags (PEP 552): 0 for a timestamp, 3 for a checked source hash.
        let flags = |pyc: &Path| std::fs::read(pyc).unwrap()[4..8].to_vec();
        assert_eq!((flags(&jobs[0].pyc), flags(&jobs[2].pyc)), (vec![0; 4], vec![3, 0, 0, 0]));
    }

    #[test]
    fn an_interpreter_that_cannot_run_is_an_error() {
        let job = Job {
            source: "a.py".into(),
            pyc: "a.pyc".into(),
            display: "a.py".into(),
            size: 1,
            checked_hash: false,
        };
        let err = compile(Path::new("/nonexistent/python"), &[job], 1, &Cancel::new()).unwrap_err();
        assert!(matches!(err, Error::Command { .. }), "{err:?}");
    }
}
