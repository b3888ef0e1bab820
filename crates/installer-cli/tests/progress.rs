//! What a person at a terminal sees: `installer install` under a pseudo-terminal draws its bar
//! in phases (unpacking wheels with archive bytes and the wheel's name, then placing files),
//! never a `0/0` bar, and colors by default; with no terminal, it draws no bar at all.
//!
//! Deterministic without timing: the process is stopped at a pause point inside each phase
//! (`support::Paused`), and the test reads the terminal until the bar's text is there (the bar
//! redraws on a steady tick while it waits).

mod support;

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use support::*;

/// The bytes a terminal received so far, and whether the writing side has closed it.
type Received = Mutex<(Vec<u8>, bool)>;

/// Everything written to a pseudo-terminal's slave side, read by a thread so the writer never
/// blocks on a full terminal buffer.
struct Terminal {
    output: Arc<(Received, Condvar)>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Terminal {
    /// A new terminal (120 columns) and the `installer` command wired to it: stdin, stdout
    /// and stderr are the terminal.
    fn open(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> (Terminal, std::process::Command) {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave: OwnedFd =
            std::fs::OpenOptions::new().read(true).write(true).open(name.to_str().unwrap()).unwrap().into();
        let size = rustix::termios::Winsize { ws_row: 40, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0 };
        rustix::termios::tcsetwinsize(&slave, size).unwrap();
        let mut command = installer_command(cwd, args, env);
        command
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave)
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR");
        let output = Arc::new((Mutex::new((Vec::new(), false)), Condvar::new()));
        let shared = output.clone();
        let mut master = std::fs::File::from(master);
        let reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                // EIO once every copy of the slave side is closed: the process is gone.
                let n = master.read(&mut chunk).unwrap_or(0);
                let (lock, changed) = &*shared;
                let mut state = lock.lock().unwrap();
                state.0.extend_from_slice(&chunk[..n]);
                state.1 = n == 0;
                changed.notify_all();
                if n == 0 {
                    break;
                }
            }
        });
        (Terminal { output, reader: Some(reader) }, command)
    }

    /// Waits until the terminal shows `text` (panics with what it shows if the process ends
    /// first); returns everything so far.
    fn wait_for(&self, text: &str) -> String {
        let (lock, changed) = &*self.output;
        let mut state = lock.lock().unwrap();
        loop {
            let shown = String::from_utf8_lossy(&state.0).into_owned();
            if shown.contains(text) {
                return shown;
            }
            assert!(!state.1, "the terminal never showed {text:?}:\n{shown}");
            state = changed.wait(state).unwrap();
        }
    }

    /// Everything the terminal received, once the process has closed it.
    fn finish(mut self) -> String {
        self.reader.take().unwrap().join().unwrap();
        String::from_utf8_lossy(&self.output.0.lock().unwrap().0).into_owned()
    }
}

/// Every `done/total files` the bar showed; each must count toward this install's `files`.
#[track_caller]
fn assert_file_counts(shown: &str, files: u64) {
    let counts = shown.split(" files").filter_map(|before| {
        let (done, total) = before.rsplit(' ').next()?.split_once('/')?;
        Some((done.replace(',', "").parse::<u64>().ok()?, total.replace(',', "").parse::<u64>().ok()?))
    });
    for (done, total) in counts {
        assert!(done <= total && total == files, "{done}/{total} files of {files}: {shown:?}");
    }
}

/// A wheel of about 3 MiB that does not compress, so unpacking it shows MiB.
fn big_wheel(dir: &Path) -> std::path::PathBuf {
    let mut noise = vec![0u8; 3 << 20];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for byte in noise.iter_mut() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state as u8;
    }
    WheelBuilder::new("bigdata", "1.0").stored().file("bigdata/blob.bin", &noise).write(dir, None)
}

#[test]
fn the_bar_shows_unpacking_then_placing_on_a_terminal_and_nothing_without_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (venv, cache) = (make_venv(&tmp.path().join("venv")), tmp.path().join("cache"));
    let big = big_wheel(tmp.path());
    let (venv_arg, cache_arg) = (venv.to_str().unwrap(), cache.to_str().unwrap());
    let args = ["install", "--venv", venv_arg, "--cache-dir", cache_arg, big.to_str().unwrap()];

    // Cold: stopped while the wheel is being unpacked into the cache.
    let (terminal, command) = Terminal::open(tmp.path(), &args, &[]);
    let paused = Paused::start_command(command, "staging-locking");
    // The bar is drawn as soon as unpacking starts, before it names the wheel: wait for the
    // name, then every later frame has it.
    let shown = terminal.wait_for("bigdata-1.0-py3-none-any.whl");
    let bar = shown.rsplit('\r').find(|line| line.contains("Unpacking")).unwrap_or_default();
    assert!(
        bar.contains("Unpacking 0/1 wheels [")
            && bar.contains("/3.00 MiB")
            && bar.contains("bigdata-1.0-py3-none-any.whl"),
        "{shown:?}"
    );
    // No frame, not even the first, lacks the wheel count.
    let mut frames = shown.split('\r').filter(|frame| frame.contains("Unpacking"));
    assert!(frames.all(|frame| frame.contains("Unpacking 0/1 wheels [")), "{shown:?}");
    assert!(paused.resume().status.success());
    let all = terminal.finish();
    assert!(all.contains("Installed 1 wheel (") && all.contains("bigdata\x1b[0m==1.0"), "{all:?}");
    assert!(!all.contains("0/0"), "no empty bar: {all:?}");
    assert_file_counts(&all, 8);

    // Warm: stopped while the files are being placed.
    let mut again = args.to_vec();
    again.insert(1, "--reinstall");
    let (terminal, command) = Terminal::open(tmp.path(), &again, &[]);
    let paused = Paused::start_command(command, "backup-locking");
    let shown = terminal.wait_for(" files");
    assert!(
        shown.contains("Installing [") && shown.contains("0/8 files") && !shown.contains("Unpacking"),
        "{shown:?}"
    );
    assert!(paused.resume().status.success());
    let all = terminal.finish();
    assert!(!all.contains("0/0"), "no empty bar: {all:?}");
    assert_file_counts(&all, 8);
    assert!(all.contains("\x1b[32m+\x1b[0m"), "a terminal gets colors: {all:?}");

    // No terminal: the same cold install draws no bar (a fresh cache, so it unpacks again).
    let cold = tmp.path().join("cache2");
    let piped = installer(
        tmp.path(),
        &[
            "install",
            "--reinstall",
            "--venv",
            venv_arg,
            "--cache-dir",
            cold.to_str().unwrap(),
            big.to_str().unwrap(),
        ],
    );
    assert_ok(&piped);
    let err = stderr(&piped);
    assert!(
        err.starts_with("Installed 1 wheel (") && !err.contains('\r') && !err.contains('\x1b'),
        "{err:?}"
    );
    assert!(!err.contains("Unpacking") && !err.contains("Installing"), "{err:?}");
}

#[test]
fn no_color_turns_off_colors_on_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("wheels")).unwrap();
    let args = ["install", "--venv", "venv", "wheels"];
    for (env, colored) in [(&[][..], true), (&[("NO_COLOR", "1")][..], false)] {
        let (terminal, mut command) = Terminal::open(tmp.path(), &args, &[]);
        command.envs(env.iter().copied());
        let status = command.status().unwrap();
        drop(command);
        let shown = terminal.finish();
        assert_eq!(status.code(), Some(1), "{shown:?}");
        assert!(shown.contains("wheels is a directory, not a wheel"), "{shown:?}");
        assert_eq!(shown.contains("\x1b[31m\x1b[1merror:"), colored, "{env:?}: {shown:?}");
    }
}
