//! Bytecode compilation (`--compile`) with the environment's own interpreter, so the magic
//! number and the cache tag (`cpython-311`) are the ones that will read the files.
//!
//! Starting the interpreter costs tens of milliseconds, so it is not done per file: a few
//! worker processes each run [`WORKER`] and are fed paths over stdin. Each `.pyc` is written
//! by `py_compile`, which writes a temporary file and renames it over the target (importlib's
//! `_write_atomic`): a hardlinked source is only read, and no file of the cache is ever
//! written through, even if the wheel shipped a `.pyc` that was linked in. The `__pycache__`
//! directories it makes are real directories inside the environment, as their parents are.
//!
//! Paths and results are separated by NUL bytes, not lines: a file name may hold a newline.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::reporter::Reporter;
use crate::venv::Venv;
use crate::{Error, Result};

/// The worker: reads NUL-terminated paths from stdin, compiles each, and answers per file
/// `K\0<source>\0<pyc>\0` or `E\0<source>\0<message>\0` on stdout. Warnings (invalid escape
/// sequences...) are silenced as pip does; they are the package author's business.
const WORKER: &str = r#"
import importlib.util, os, py_compile, sys, warnings
warnings.filterwarnings("ignore")
out = sys.stdout.buffer
for raw in sys.stdin.buffer.read().split(b"\0"):
    if not raw:
        continue
    path = os.fsdecode(raw)
    try:
        cfile = importlib.util.cache_from_source(path)
        py_compile.compile(path, cfile=cfile, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
        out.write(b"K\0" + raw + b"\0" + os.fsencode(cfile) + b"\0")
    except py_compile.PyCompileError as e:
        v = e.exc_value
        if isinstance(v, SyntaxError):
            msg = "%s: %s (line %s)" % (e.exc_type_name, v.msg, v.lineno)
        else:
            msg = "%s: %s" % (e.exc_type_name, v)
        out.write(b"E\0" + raw + b"\0" + msg.encode("utf-8", "replace").replace(b"\0", b"?") + b"\0")
    except Exception as e:
        msg = "%s: %s" % (type(e).__name__, e)
        out.write(b"E\0" + raw + b"\0" + msg.encode("utf-8", "replace").replace(b"\0", b"?") + b"\0")
out.flush()
"#;

/// Files per worker process below which another process does not pay for its start-up.
const FILES_PER_WORKER: usize = 100;

/// Compiles `sources` (installed `.py` files) to `.pyc` with `venv`'s interpreter, returning
/// the `.pyc` files written. A file that does not compile is a warning, as with pip; an
/// interpreter that cannot run, or that stops answering, is an error (and the `.pyc` files
/// already written are removed, so the caller's rollback finds the environment as it left it).
pub(crate) fn compile(venv: &Venv, sources: &[PathBuf], reporter: &dyn Reporter) -> Result<Vec<PathBuf>> {
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    let workers = rayon::current_num_threads().min(sources.len() / FILES_PER_WORKER + 1).max(1);
    reporter.info(&format!(
        "compiling {} files with {} in {workers} worker process{}",
        sources.len(),
        venv.python().display(),
        if workers == 1 { "" } else { "es" }
    ));
    let chunks: Vec<&[PathBuf]> = sources.chunks(sources.len().div_ceil(workers)).collect();
    let results: Vec<Result<Vec<Answer>>> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            chunks.iter().map(|chunk| scope.spawn(|| run_worker(venv.python(), chunk))).collect();
        handles.into_iter().map(|h| h.join().expect("compile worker thread panicked")).collect()
    });

    let mut written = Vec::with_capacity(sources.len());
    let mut failure = None;
    for result in results {
        match result {
            Ok(answers) => {
                for answer in answers {
                    match answer {
                        Answer::Written { source, pyc } if is_beside(&source, &pyc) => written.push(pyc),
                        Answer::Written { source, pyc } => reporter.warning(&format!(
                            "ignoring {} compiled from {}: not in the __pycache__ beside it",
                            pyc.display(),
                            source.display()
                        )),
                        Answer::Failed { source, message } => {
                            reporter.warning(&format!("failed to compile {}: {message}", source.display()))
                        }
                    }
                }
            }
            Err(err) => failure = failure.or(Some(err)),
        }
    }
    if let Some(err) = failure {
        for pyc in &written {
            let _ = std::fs::remove_file(pyc);
        }
        return Err(err);
    }
    Ok(written)
}

/// What a worker said about one file.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Written { source: PathBuf, pyc: PathBuf },
    Failed { source: PathBuf, message: String },
}

/// One worker process over `sources`: all paths are written, stdin closed, then the answers
/// read (the worker reads all its input before it answers, so the pipes cannot deadlock).
fn run_worker(python: &Path, sources: &[PathBuf]) -> Result<Vec<Answer>> {
    let command = format!("{} -I -B -c <compile worker>", python.display());
    let failed = |reason: String| Error::Command { command: command.clone(), reason };
    let mut child = Command::new(python)
        .args(["-I", "-B", "-c", WORKER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    let mut input = Vec::with_capacity(sources.iter().map(|s| s.as_os_str().len() + 1).sum());
    for source in sources {
        input.extend_from_slice(path_bytes(source));
        input.push(0);
    }
    let mut stdin = child.stdin.take().expect("piped stdin");
    // A write error means the worker died; its exit status and stderr say why, below.
    let _ = stdin.write_all(&input);
    drop(stdin);
    let output = child.wait_with_output().map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim();
        return Err(failed(format!("{} ({last})", output.status)));
    }
    let answers = parse_answers(&output.stdout).map_err(|reason| failed(reason.into()))?;
    if answers.len() != sources.len() {
        return Err(failed(format!("answered for {} of {} files", answers.len(), sources.len())));
    }
    Ok(answers)
}

/// Splits the worker's output into answers.
fn parse_answers(stdout: &[u8]) -> std::result::Result<Vec<Answer>, &'static str> {
    if stdout.is_empty() {
        return Ok(Vec::new());
    }
    let body = stdout.strip_suffix(b"\0").ok_or("cut-off answer")?;
    let fields: Vec<&[u8]> = body.split(|&b| b == 0).collect();
    if !fields.len().is_multiple_of(3) {
        return Err("cut-off answer");
    }
    fields
        .chunks_exact(3)
        .map(|answer| {
            let source = path_from_bytes(answer[1]);
            match answer[0] {
                b"K" => Ok(Answer::Written { source, pyc: path_from_bytes(answer[2]) }),
                b"E" => {
                    Ok(Answer::Failed { source, message: String::from_utf8_lossy(answer[2]).into_owned() })
                }
                _ => Err("malformed answer"),
            }
        })
        .collect()
}

/// `pyc` is `<dir of source>/__pycache__/<file>`: where importlib looks, inside the
/// environment. A `PYTHONPYCACHEPREFIX` would point elsewhere; `-I` ignores it, and this makes
/// sure nothing outside the environment ends up in RECORD.
fn is_beside(source: &Path, pyc: &Path) -> bool {
    let cache = pyc.parent();
    cache.and_then(Path::file_name).is_some_and(|n| n == "__pycache__")
        && cache.and_then(Path::parent) == source.parent()
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes()
}

#[cfg(unix)]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

// Python's fsencode on Windows is UTF-8 (PEP 529), as are Rust's `to_str` paths.
#[cfg(not(unix))]
fn path_bytes(path: &Path) -> &[u8] {
    path.to_str().map(str::as_bytes).unwrap_or_default()
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_and_reject_truncation() {
        let out = b"K\0/v/a.py\0/v/__pycache__/a.cpython-311.pyc\0E\0/v/b.py\0SyntaxError: x (line 1)\0";
        assert_eq!(
            parse_answers(out).unwrap(),
            [
                Answer::Written { source: "/v/a.py".into(), pyc: "/v/__pycache__/a.cpython-311.pyc".into() },
                Answer::Failed { source: "/v/b.py".into(), message: "SyntaxError: x (line 1)".into() },
            ]
        );
        assert_eq!(parse_answers(b"").unwrap(), []);
        assert!(parse_answers(b"K\0/v/a.py\0").is_err());
        assert!(parse_answers(b"K\0/v/a.py\0/v/__pycache__/a.pyc").is_err());
        assert!(parse_answers(b"X\0a\0b\0").is_err());
    }

    #[test]
    fn bytecode_must_sit_in_the_pycache_beside_its_source() {
        let src = Path::new("/v/pkg/a.py");
        assert!(is_beside(src, Path::new("/v/pkg/__pycache__/a.cpython-311.pyc")));
        assert!(!is_beside(src, Path::new("/tmp/prefix/v/pkg/a.cpython-311.pyc")));
        assert!(!is_beside(src, Path::new("/v/__pycache__/a.cpython-311.pyc")));
    }

    /// Needs `python3` on PATH, as the rest of the test suite does.
    #[test]
    fn a_real_interpreter_compiles_good_files_and_reports_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.py");
        let bad = dir.path().join("bad.py");
        std::fs::write(&good, "X = 1\n").unwrap();
        std::fs::write(&bad, "def (:\n").unwrap();
        let answers = run_worker(Path::new("python3"), &[good.clone(), bad.clone()]).unwrap();
        assert!(matches!(&answers[0], Answer::Written { source, pyc }
            if source == &good && is_beside(&good, pyc) && pyc.is_file()));
        assert!(
            matches!(&answers[1], Answer::Failed { source, message }
            if source == &bad && message.starts_with("SyntaxError: ")),
            "{answers:?}"
        );
    }
}
