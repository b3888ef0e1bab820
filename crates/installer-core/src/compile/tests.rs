//! The pool with a real interpreter: outcomes, copies of a source, the environment kept out.

use super::*;

/// `python3` from PATH, as the rest of the test suite uses, and every CPython the worker runs
/// on, from [`OLDEST_PYTHON`] to 3.13 (pyenv's): the marshalled code it renames and the headers
/// it writes must be right for each.
fn every_cpython() -> Vec<PathBuf> {
    let minors = ["3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"];
    let found: Vec<PathBuf> =
        minors.iter().filter_map(|minor| crate::testing::pyenv_cpython(minor)).collect();
    if found.len() < minors.len() {
        crate::testing::skip(&format!("CPython {minors:?} expected in ~/.pyenv/versions, found {found:?}"));
    }
    std::iter::once(PathBuf::from("python3")).chain(found).collect()
}

#[test]
fn a_real_interpreter_compiles_good_files_and_reports_bad_ones_in_order() {
    for python in every_cpython() {
        compiles_good_files_and_reports_bad_ones_in_order(&python);
    }
}

fn compiles_good_files_and_reports_bad_ones_in_order(python: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let mut jobs = Vec::new();
    // (name, source, hash-based header): a name with a newline goes through the protocol too.
    let files =
        [("good.py", "X = 1\n", false), ("bad.py", "def (:\n", false), ("new\nline.py", "Y = 2\n", true)];
    for (name, text, checked_hash) in files {
        let source = dir.path().join(name);
        std::fs::write(&source, text).unwrap();
        let pyc = dir.path().join("out/__pycache__").join(format!("{name}c"));
        jobs.push(Job {
            source,
            pyc,
            display: name.into(),
            size: text.len() as u64,
            checked_hash,
            content: None,
        });
    }
    let outcomes = compile(python, &jobs, 2, &Cancel::new()).unwrap();
    let written = |n: usize| {
        let bytes = std::fs::read(&jobs[n].pyc).unwrap();
        Outcome::Written { compiled: true, size: bytes.len() as u64, hash: Sha256Digest::of(&bytes) }
    };
    assert_eq!(outcomes[0], written(0));
    let python = python.display();
    assert!(
        matches!(&outcomes[1], Outcome::Failed(m) if m.starts_with("SyntaxError: ")),
        "{python}: {outcomes:?}"
    );
    assert_eq!(outcomes[2], written(2));
    assert!(jobs[0].pyc.is_file() && !jobs[1].pyc.exists() && jobs[2].pyc.is_file(), "{python}");
    // The header's flags (PEP 552): 0 for a timestamp, 3 for a checked source hash.
    let flags = |pyc: &Path| std::fs::read(pyc).unwrap()[4..8].to_vec();
    assert_eq!((flags(&jobs[0].pyc), flags(&jobs[2].pyc)), (vec![0; 4], vec![3, 0, 0, 0]), "{python}");
}

/// Copies of one source compile once and each `.pyc` is what `py_compile` writes for its
/// own name, renamed where the name is found once with the same string type: short, long
/// (over 255 bytes) and non-ASCII names. A name the source also holds, or of another type,
/// is compiled again. A withdrawn first copy leaves the others queued.
#[test]
fn copies_of_a_source_get_the_pyc_py_compile_writes_for_each_name() {
    for python in every_cpython() {
        copies_get_the_pyc_py_compile_writes(&python);
    }
}

fn copies_get_the_pyc_py_compile_writes(python: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let text =
        "def f():\n    raise ValueError('boom')\n\nclass C:\n    def g(self):\n        return 'pkg/a.py'\n";
    let long = format!("{}/a.py", "d".repeat(300));
    // (name, compiled rather than renamed from the name before)
    let names = [
        ("withdrawn.py", true),
        ("pkg/a.py", true),
        ("vendored/pkg/a.py", true), // `pkg/a.py` is in the source too
        ("x/a.py", false),
        (&long[1..], true), // over 255 bytes, the one before is not
        (long.as_str(), false),
        ("pkg/naïve.py", true), // not ASCII, the one before is
        ("vendored/pkg/naïve.py", false),
        ("pkg/b.py", true),
    ];
    let jobs: Vec<Job> = names
        .iter()
        .enumerate()
        .map(|(n, (name, _))| {
            let source = dir.path().join(format!("{n}.py"));
            std::fs::write(&source, text).unwrap();
            let pyc = dir.path().join(format!("ours/{n}.pyc"));
            let content = Some(Sha256Digest([7; 32]));
            Job { source, pyc, display: name.to_string(), size: 1, checked_hash: false, content }
        })
        .collect();
    let pool = Pool::new(python, 1, Cancel::new());
    // Queued before any worker starts, so none can take the first before it is withdrawn.
    let ids: Vec<JobId> = jobs.iter().map(|job| pool.enqueue(job).0).collect();
    pool.withdraw(&HashSet::from([ids[0]]));
    pool.grow(jobs.len());
    let outcomes = pool.finish().unwrap();
    // Each written one as read back: whether it was compiled, and its size and digest.
    let written = |(job, outcome): (&Job, &Option<Outcome>)| match outcome {
        Some(Outcome::Written { compiled, size, hash }) => {
            let bytes = std::fs::read(&job.pyc).unwrap();
            assert_eq!((*size, *hash), (bytes.len() as u64, Sha256Digest::of(&bytes)));
            Some(*compiled)
        }
        _ => None,
    };
    let expected: Vec<_> = names.iter().map(|(_, compiled)| Some(*compiled)).skip(1).collect();
    let got: Vec<_> = jobs.iter().zip(&outcomes).skip(1).map(written).collect();
    assert_eq!((&outcomes[0], got), (&None, expected), "{}", python.display());
    assert!(!jobs[0].pyc.exists());
    let reference = |job: &Job| {
        let pyc = job.pyc.with_extension("ref.pyc");
        let status = Command::new(python)
            .args([
                "-c",
                "import py_compile, sys; py_compile.compile(sys.argv[1], sys.argv[2], sys.argv[3], True)",
            ])
            .args([job.source.as_os_str(), pyc.as_os_str(), job.display.as_ref()])
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read(pyc).unwrap()
    };
    for job in &jobs[1..] {
        assert!(
            std::fs::read(&job.pyc).unwrap() == reference(job),
            "{}: {} differs",
            python.display(),
            job.display
        );
    }
}

/// Thousands of copies of one failing file, then thousands of another: the answers to the
/// first copies and the request of the others both exceed a pipe. Written as one group each,
/// the worker waited for its answers to be read while the feeding thread waited for its request
/// to be read, forever; groups are small enough now for their answers to fit in a pipe. Every
/// copy is answered, with its message, cut where it is long (a missing source's long path).
#[test]
fn many_copies_of_failing_files_are_all_answered() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.py");
    std::fs::write(&bad, "def (:\n").unwrap();
    let missing = dir.path().join("m".repeat(200)).join(format!("{}.py", "n".repeat(200)));
    let mut jobs = Vec::new();
    for (n, source) in [bad, missing].iter().enumerate() {
        for copy in 0..3000 {
            jobs.push(Job {
                source: source.clone(),
                pyc: dir.path().join(format!("out/{n}/{copy}/__pycache__/a.pyc")),
                display: format!("copies/{copy}/a.py"),
                // The first content first: its answers come while the second's request is written.
                size: 2 - n as u64,
                checked_hash: false,
                content: Some(Sha256Digest([n as u8; 32])),
            });
        }
    }
    let (send, receive) = std::sync::mpsc::channel();
    let worker_jobs = jobs.clone();
    std::thread::spawn(move || {
        let pool = Pool::new(Path::new("python3"), 1, Cancel::new());
        // Queued before the worker starts: the groups are as big as they may be.
        for job in &worker_jobs {
            pool.enqueue(job);
        }
        pool.grow(worker_jobs.len());
        let _ = send.send(pool.finish());
    });
    // A deadlock never answers: a failure, not a hung test.
    let outcomes = receive.recv_timeout(std::time::Duration::from_secs(300)).expect("no deadlock").unwrap();
    assert_eq!(outcomes.len(), jobs.len());
    for (n, outcome) in outcomes.iter().enumerate() {
        let Some(Outcome::Failed(message)) = outcome else { panic!("{}: {outcome:?}", jobs[n].display) };
        let ok = match n < 3000 {
            true => message.starts_with("SyntaxError: "),
            false => {
                message.starts_with("FileNotFoundError: ") && message.len() == 240 && message.ends_with("...")
            }
        };
        assert!(ok, "{message}");
    }
}

/// An environment's `.pth` files run code at startup (a line beginning with `import`);
/// the compiler is started with the environment's interpreter and must not run them.
#[test]
fn the_environments_pth_files_do_not_run_in_the_compiler() {
    let dir = tempfile::tempdir().unwrap();
    let venv = crate::venv::Venv::create(&dir.path().join("venv"), Path::new("python3")).unwrap();
    let ran = dir.path().join("pth-ran");
    let pth = format!("import pathlib; pathlib.Path({:?}).touch()\n", ran);
    std::fs::write(venv.site_packages().join("zz.pth"), pth).unwrap();
    let python = venv.python();
    let check = Command::new(python).args(["-c", "pass"]).status().unwrap();
    assert!(check.success() && ran.exists(), "the .pth runs at an ordinary start");
    std::fs::remove_file(&ran).unwrap();

    let source = dir.path().join("a.py");
    std::fs::write(&source, "A = 1\n").unwrap();
    let job = Job {
        source,
        pyc: dir.path().join("a.pyc"),
        display: "a.py".into(),
        size: 6,
        checked_hash: false,
        content: None,
    };
    let outcomes = compile(python, &[job], 1, &Cancel::new()).unwrap();
    assert!(matches!(outcomes[0], Outcome::Written { .. }), "{outcomes:?}");
    assert!(!ran.exists(), "the compiler ran the environment's .pth");
}

#[test]
fn an_interpreter_that_cannot_run_is_an_error() {
    let job = Job {
        source: "a.py".into(),
        pyc: "a.pyc".into(),
        display: "a.py".into(),
        size: 1,
        checked_hash: false,
        content: None,
    };
    let err = compile(Path::new("/nonexistent/python"), &[job], 1, &Cancel::new()).unwrap_err();
    assert!(matches!(err, Error::Command { .. }), "{err:?}");
}
