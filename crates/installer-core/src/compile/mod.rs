//! Bytecode compilation with the environment's own interpreter, so the magic number and the
//! cache tag (`cpython-311`) are the ones that will read the files. Used by [`crate::bytecode`]
//! to fill the cache; nothing here knows about environments.
//!
//! Starting the interpreter costs tens of milliseconds, so it is not done per file: a [`Pool`]
//! starts worker processes (up to one per thread of the install's pool) as jobs arrive, and
//! feeds them over stdin as they answer, biggest queued source first, so that no worker is left
//! with a long file at the end while the others idle. Jobs may be added while the workers run:
//! an install queues each wheel's sources as soon as its cache entry is ready, and the
//! compilation overlaps the unpacking of the other wheels and planning. Each `.pyc` is
//! written as `py_compile` writes it, into a staging directory the caller publishes.
//!
//! The protocol is length-prefixed, not line-based: a file name may hold a newline.

use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::cancel::Cancel;
use crate::manifest::Sha256Digest;
use crate::{Error, Result};

/// The worker: reads jobs (`<length>\n<T|H>\0<source>\0<pyc>\0<name in tracebacks>`, then
/// the same three fields for each further file with the same content), compiles each with a
/// timestamp-based (`T`) or checked hash-based (`H`, PEP 552) header, and answers per file, in
/// order: `K\n` (compiled), `R\n` (the code of the file before it, renamed) or `E<message>\n`.
///
/// It writes what `py_compile` writes (its header, the marshalled code, the source's permission
/// bits without execute), without `py_compile`'s per-file checks and atomic rename: every `.pyc`
/// goes into a staging directory of this install, published whole, so those only cost system
/// calls (about a third of the per-file overhead). A file with the same content as the one
/// compiled (a vendored copy) differs from it in the file name only, held once in the marshalled
/// code (later uses refer to it): that name is replaced, unless it is not found exactly once
/// with the same string type, and then the file is compiled as any other. Warnings (invalid
/// escape sequences...) are silenced as pip does; they are the package author's business.
const WORKER: &str = include_str!("worker.py");

/// How the worker's interpreter starts: isolated (`-I`: no user site, no environment
/// variables), without `site` (`-S`: the environment's `.pth` files may run code, which is not
/// the compiler's business), writing no bytecode of its own (`-B`).
const WORKER_FLAGS: [&str; 3] = ["-I", "-S", "-B"];

/// The oldest interpreter the worker runs on: `str.isascii` and hash-based `.pyc` files
/// (PEP 552) came with 3.7. An older one is refused before an install starts.
pub(crate) const OLDEST_PYTHON: (u32, u32, u32) = (3, 7, 0);

/// Jobs queued per worker process below which another process does not pay for its start-up.
const FILES_PER_WORKER: usize = 50;

/// Jobs written ahead of the answers, so a worker never waits for the next path.
const IN_FLIGHT: usize = 2;

/// The most files of one content in one group (one write to the worker); more copies make
/// further groups. The feeding thread writes a group ahead ([`IN_FLIGHT`]) and reads answers only
/// after that write: were a group's request bigger than the stdin pipe while the worker's
/// answers to the group before filled its stdout pipe, each would wait for the other forever
/// (thousands of copies of one failing file). So the answers of one group must always fit in the
/// stdout pipe, whatever the request: at most this many answers of at most
/// [`MAX_ANSWER`] bytes, 16 × 242 = 3,872 bytes, under a page (4 KiB), the least a Linux pipe
/// holds (one of a user over the pipe-buffer quota; 64 KiB otherwise). The worker then always
/// gets through a group's answers to reading the next request, and the feeding thread's write
/// ends. A copy in another group is compiled once more: one in 16 at worst.
const GROUP_FILES: usize = 16;

/// The longest answer line, `E<message>\n`: the worker cuts longer messages (`MAX_MESSAGE` in
/// `worker.py`, 240 bytes).
const MAX_ANSWER: usize = 242;
const _: () = assert!(GROUP_FILES * MAX_ANSWER <= 4096, "a group's answers fit in a page");

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
    /// The source's content, where known: queued jobs with the same one are compiled once and
    /// their `.pyc` derived from the first (vendored copies: 3% of the compile time of a
    /// typical web stack).
    pub content: Option<Sha256Digest>,
}

impl Job {
    /// The content by which jobs are compiled once: hash-based headers are left alone (only
    /// the install's own generated sources have them).
    fn shared_content(&self) -> Option<Sha256Digest> {
        self.content.filter(|_| !self.checked_hash)
    }
}

/// What became of one job.
#[derive(Debug, PartialEq, Eq, Clone)]
pub(crate) enum Outcome {
    /// `compiled` is false for the copy of a file with the same content, renamed. The `.pyc`'s
    /// size and digest are read back as each answer arrives, while the worker compiles the
    /// next file: at the end they would be one thread's work after all compiling is done.
    Written { compiled: bool, size: u64, hash: Sha256Digest },
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
    /// The queued group of each content, by the [`JobId`] of its first job.
    by_content: HashMap<Sha256Digest, JobId>,
    /// Files joining a queued group, by the group's first [`JobId`].
    joined: HashMap<JobId, Vec<(JobId, Job)>>,
    /// Jobs submitted so far (the next [`JobId`]).
    submitted: usize,
    outcomes: Vec<Option<Outcome>>,
    /// No more jobs come: a worker finding the queue empty exits.
    closed: bool,
    /// Stop after the files in flight.
    abandoned: bool,
}

impl State {
    /// Queues a group of jobs with the same content (one job, or what is left of a group): the
    /// first leads, found by its content, and the others join it.
    fn queue_group(&mut self, mut group: Vec<(JobId, Job)>) {
        let (id, job) = group.remove(0);
        if let Some(content) = job.shared_content() {
            self.by_content.insert(content, id);
        }
        if !group.is_empty() {
            self.joined.insert(id, group);
        }
        self.queue.push(Queued { size: job.size, id, job });
    }

    /// The group `queued` leads (it, then those that joined it), taken off the queue's books:
    /// a job with its content submitted later starts a new group.
    fn take_group(&mut self, queued: Queued) -> Vec<(JobId, Job)> {
        if let Some(content) = queued.job.shared_content() {
            // Unless a later group of the content (this one full) is the one found by it now.
            if self.by_content.get(&content) == Some(&queued.id) {
                self.by_content.remove(&content);
            }
        }
        let mut group = vec![(queued.id, queued.job)];
        group.extend(self.joined.remove(&queued.id).unwrap_or_default());
        group
    }
}

/// A queued job, ordered by its source's size (the heap gives the biggest first); jobs with
/// the same content join it in [`State::joined`] until a worker takes it.
struct Queued {
    size: u64,
    id: JobId,
    job: Job,
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
        let (id, queued) = self.enqueue(job);
        self.shared.wake.notify_one();
        self.grow(queued);
        id
    }

    /// Queues `job`; returns its id and how many jobs were submitted so far.
    fn enqueue(&self, job: &Job) -> (JobId, usize) {
        let mut state = self.shared.state.lock().expect("compile queue");
        let id = state.submitted;
        state.submitted += 1;
        state.outcomes.push(None);
        let group = job.shared_content().and_then(|c| state.by_content.get(&c).copied());
        // A full group is left to the workers as it is; this job leads the next.
        match group.filter(|first| state.joined.get(first).map_or(0, Vec::len) + 1 < GROUP_FILES) {
            Some(first) => state.joined.entry(first).or_default().push((id, job.clone())),
            None => state.queue_group(vec![(id, job.clone())]),
        }
        (id, state.submitted)
    }

    /// Starts another worker if `queued` jobs pay for it.
    fn grow(&self, queued: usize) {
        let mut threads = self.threads.lock().expect("compile workers");
        if threads.len() < self.max_workers && queued > threads.len() * FILES_PER_WORKER {
            let (python, shared) = (self.python.clone(), Arc::clone(&self.shared));
            threads.push(std::thread::spawn(move || run_worker(&python, &shared)));
        }
    }

    /// Takes back the jobs of `ids` that no worker has started; they get no outcome.
    pub fn withdraw(&self, ids: &HashSet<JobId>) {
        let mut state = self.shared.state.lock().expect("compile queue");
        for queued in std::mem::take(&mut state.queue).into_vec() {
            let mut group = state.take_group(queued);
            group.retain(|(id, _)| !ids.contains(id));
            if !group.is_empty() {
                state.queue_group(group);
            }
        }
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

/// The next group of jobs (one content) for a worker with `in_flight` groups unanswered: it
/// waits for one only when it has nothing to read.
fn next_job(shared: &Shared, in_flight: usize) -> Option<Vec<(JobId, Job)>> {
    let mut state = shared.state.lock().expect("compile queue");
    loop {
        if state.abandoned || shared.cancel.is_cancelled() {
            return None;
        }
        if let Some(queued) = state.queue.pop() {
            return Some(state.take_group(queued));
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
    let command = format!("{} {} -c <compile worker>", python.display(), WORKER_FLAGS.join(" "));
    let failed = |reason: String| Error::Command { command: command.clone(), reason };
    let mut child = Command::new(python)
        .args(WORKER_FLAGS)
        .args(["-c", WORKER])
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
            let Some(group) = next_job(shared, in_flight.len()) else { break };
            if let Err(e) = stdin.write_all(&encode(&group)).and_then(|()| stdin.flush()) {
                broken = Some(e.to_string());
                break;
            }
            in_flight.push_back(group.into_iter().map(|(id, job)| (id, job.pyc)).collect::<Vec<_>>());
        }
        let Some(group) = in_flight.pop_front() else { break };
        for (job, pyc) in group {
            let outcome = read_answer(&mut stdout, &mut answer).and_then(|answer| {
                // Between the worker's writing a `.pyc` and its reading back: the job may have
                // been withdrawn meanwhile (`bytecode::Compiler::plans_made`).
                crate::pause::point("compile-answered");
                answer.outcome(&pyc)
            });
            match outcome {
                Ok(outcome) => shared.state.lock().expect("compile queue").outcomes[job] = Some(outcome),
                Err(why) => broken = Some(why),
            }
            if broken.is_some() {
                break;
            }
        }
        if broken.is_some() {
            break;
        }
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

/// What the worker said of one file.
enum Answer {
    Written { compiled: bool },
    Failed(String),
}

impl Answer {
    /// The outcome of the job whose `.pyc` is `pyc`; `Err` if a written one cannot be read.
    fn outcome(self, pyc: &Path) -> std::result::Result<Outcome, String> {
        match self {
            Answer::Written { compiled } => {
                let bytes = std::fs::read(pyc).map_err(|e| format!("cannot read {}: {e}", pyc.display()))?;
                Ok(Outcome::Written { compiled, size: bytes.len() as u64, hash: Sha256Digest::of(&bytes) })
            }
            Answer::Failed(message) => Ok(Outcome::Failed(message)),
        }
    }
}

/// One answer of the worker; `Err` says why the worker is broken.
fn read_answer(stdout: &mut impl BufRead, answer: &mut Vec<u8>) -> std::result::Result<Answer, String> {
    answer.clear();
    match stdout.read_until(b'\n', answer) {
        Ok(n) if n > 0 && answer.ends_with(b"\n") => {}
        Ok(_) => return Err("stopped answering".into()),
        Err(e) => return Err(e.to_string()),
    }
    match answer.split_first() {
        Some((b'K', _)) => Ok(Answer::Written { compiled: true }),
        Some((b'R', _)) => Ok(Answer::Written { compiled: false }),
        Some((b'E', message)) => {
            Ok(Answer::Failed(String::from_utf8_lossy(message.strip_suffix(b"\n").unwrap_or(message)).into()))
        }
        _ => Err("malformed answer".into()),
    }
}

/// `<length>\n<T|H>` then `\0<source>\0<pyc>\0<display>` per job of the group.
fn encode(group: &[(JobId, Job)]) -> Vec<u8> {
    let mut body = Vec::with_capacity(256 * group.len());
    body.push(if group[0].1.checked_hash { b'H' } else { b'T' });
    for (_, job) in group {
        body.push(0);
        body.extend_from_slice(path_bytes(&job.source));
        body.push(0);
        body.extend_from_slice(path_bytes(&job.pyc));
        body.push(0);
        body.extend_from_slice(job.display.replace('\0', "?").as_bytes());
    }
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
mod tests;
