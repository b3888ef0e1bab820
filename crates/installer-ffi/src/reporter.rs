//! The core's [`Reporter`] forwarded to the C callbacks of a context.

use std::collections::HashSet;
use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use installer_core::install::CacheAdvice;
use installer_core::reporter::Event;
use installer_core::{ConcreteLinkMode, Reporter};

use crate::ffi::{printable, Breaks};

/// Receives progress: `done` of `total` files. See `installer_ctx_set_progress_callback`.
#[allow(non_camel_case_types)]
pub type installer_progress_cb = Option<unsafe extern "C" fn(user_data: *mut c_void, done: u64, total: u64)>;

/// Receives one warning, a NUL-terminated UTF-8 message valid only during the call. See
/// `installer_ctx_set_warning_callback`.
#[allow(non_camel_case_types)]
pub type installer_warning_cb = Option<unsafe extern "C" fn(user_data: *mut c_void, message: *const c_char)>;

/// A C function pointer and the `user_data` it is called with.
#[derive(Clone, Copy)]
pub(crate) struct Callback<F> {
    pub(crate) func: F,
    pub(crate) user_data: *mut c_void,
}

// SAFETY: the contract of `installer_ctx_set_*_callback` is that the callback and its
// `user_data` may be used from worker threads (one call at a time, which `CallbackReporter`
// guarantees); the library never dereferences `user_data` itself.
unsafe impl<F: Send> Send for Callback<F> {}
// SAFETY: as for `Send`: shared references only copy the pointer, calls are serialised.
unsafe impl<F: Sync> Sync for Callback<F> {}

pub(crate) type ProgressFn = unsafe extern "C" fn(*mut c_void, u64, u64);
pub(crate) type WarningFn = unsafe extern "C" fn(*mut c_void, *const c_char);

/// Counts files with atomics (the core reports from rayon workers) and calls the C callbacks
/// under one mutex, so C never sees two calls at once, and every progress call reads both
/// counters under that mutex, so `done` never goes backwards between calls. One is made per
/// call on a context, so its record of the warnings passed on makes each warning reach C once
/// per call, as the header promises (the core may report one fact from several workers).
pub(crate) struct CallbackReporter {
    progress: Option<Callback<ProgressFn>>,
    warning: Option<Callback<WarningFn>>,
    done: AtomicU64,
    total: AtomicU64,
    /// Held during every callback; holds the warnings already passed to C.
    calls: Mutex<HashSet<String>>,
}

impl CallbackReporter {
    pub(crate) fn new(progress: Option<Callback<ProgressFn>>, warning: Option<Callback<WarningFn>>) -> Self {
        CallbackReporter {
            progress,
            warning,
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            calls: Mutex::new(HashSet::new()),
        }
    }

    fn report_progress(&self) {
        let Some(cb) = self.progress else { return };
        // A panic elsewhere while holding the lock leaves at worst a warning recorded as sent.
        let _one_at_a_time = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let done = self.done.load(Ordering::Relaxed);
        let total = self.total.load(Ordering::Relaxed);
        // SAFETY: `func` and `user_data` came together from C through
        // `installer_ctx_set_progress_callback`, whose contract allows this call.
        unsafe { (cb.func)(cb.user_data, done, total) };
    }
}

impl Reporter for CallbackReporter {
    fn add_total(&self, files: u64) {
        self.total.fetch_add(files, Ordering::Relaxed);
        self.report_progress();
    }

    fn advance(&self, files: u64) {
        self.done.fetch_add(files, Ordering::Relaxed);
        self.report_progress();
    }

    fn event(&self, event: Event<'_>) {
        match event {
            Event::LinkFallback(fallback) => {
                // The core's facts, then the fixes in the C ABI's terms.
                let fix = match &fallback.cache_advice {
                    Some(CacheAdvice::Dir(dir)) => format!(
                        "  To link instead, use a cache on the environment's filesystem: pass \"{}\" as the \
                         cache_dir of installer_ctx_new.",
                        dir.display()
                    ),
                    Some(CacheAdvice::OnFilesystem { mount }) => format!(
                        "  To link instead, use a cache directory of yours on the environment's filesystem, \
                         mounted at {} (none is made there automatically: every user may write its top, or \
                         this user may not): pass it as the cache_dir of installer_ctx_new.",
                        mount.display()
                    ),
                    None if fallback.failed == ConcreteLinkMode::Clone => {
                        "  To link instead, use installer_ctx_set_link_mode(ctx, \"auto\"): this filesystem cannot clone."
                            .to_string()
                    }
                    None => String::new(),
                };
                let mut message = fallback.to_string();
                for line in [
                    fix.as_str(),
                    "  To copy on purpose without this warning: installer_ctx_set_link_mode(ctx, \"copy\").",
                ] {
                    if !line.is_empty() {
                        message.push('\n');
                        message.push_str(line);
                    }
                }
                self.warning(&message);
            }
            Event::NotInstalled { name } => self.warning(&format!("not installed: {name}")),
            Event::UntrustedLayerEntry { wheel, entry } => self.warning(&format!(
                "not using the cache layer entry {} for {}: it failed its checks ({:?}); unpacking the wheel instead",
                entry.entry.display(),
                wheel.display(),
                entry.reason
            )),
            Event::ReadOnlyCache { cache, error } => self.warning(&format!(
                "the cache {} is not writable by this user ({error}); using it read-only, and unpacking \
                 wheels it lacks into a temporary cache",
                cache.display()
            )),
            _ => {}
        }
    }

    fn warning(&self, message: &str) {
        let Some(cb) = self.warning else { return };
        // Quoting a wheel's own text (an invalid Requires-Python, a RECORD path) may bring its
        // control characters: escaped, a NUL included, so none reaches a terminal or cuts the
        // string short.
        let message = printable(message, Breaks::Keep);
        let mut sent = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        if !sent.insert(message.clone()) {
            return;
        }
        let message = CString::new(message).expect("control characters were escaped");
        // SAFETY: as in `report_progress`; `message` outlives the call.
        unsafe { (cb.func)(cb.user_data, message.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;
    use std::sync::atomic::{AtomicBool, AtomicPtr};
    use std::sync::mpsc;
    use std::time::Duration;

    unsafe extern "C" fn record_progress(user_data: *mut c_void, done: u64, total: u64) {
        // SAFETY: the test passes a `&mut Vec<(u64, u64)>` that outlives the install.
        let seen = unsafe { &mut *user_data.cast::<Vec<(u64, u64)>>() };
        seen.push((done, total));
    }

    unsafe extern "C" fn record_warning(user_data: *mut c_void, message: *const c_char) {
        // SAFETY: the test passes a `&mut Vec<String>` that outlives the install, and the
        // library passes a NUL-terminated message valid during the call.
        let seen = unsafe { &mut *user_data.cast::<Vec<String>>() };
        // SAFETY: as above.
        seen.push(unsafe { CStr::from_ptr(message) }.to_str().unwrap().to_owned());
    }

    #[test]
    fn forwards_counters_and_warnings() {
        let mut progress: Vec<(u64, u64)> = Vec::new();
        let mut warnings: Vec<String> = Vec::new();
        let reporter = CallbackReporter::new(
            Some(Callback { func: record_progress, user_data: (&raw mut progress).cast() }),
            Some(Callback { func: record_warning, user_data: (&raw mut warnings).cast() }),
        );
        reporter.add_total(3);
        reporter.advance(1);
        reporter.add_total(1);
        reporter.advance(3);
        reporter.warning("copying: a\0b\x1b[2J\n  because");
        reporter.warning("copying: a\0b\x1b[2J\n  because");
        reporter.event(Event::NotInstalled { name: "x" });
        reporter.event(Event::NotInstalled { name: "x" });
        reporter.info("not forwarded");
        assert_eq!(progress, [(0, 3), (1, 3), (1, 4), (4, 4)]);
        assert_eq!(
            warnings,
            ["copying: a\\u{0}b\\u{1b}[2J\n  because", "not installed: x"],
            "each warning once per call, its control characters escaped but its lines kept"
        );
    }

    /// The copy warning's fixes, in the C ABI's terms: a directory to pass where one was
    /// found, else the filesystem to make one on.
    #[test]
    fn a_fallback_warning_names_the_fix_a_c_caller_can_make() {
        use installer_core::install::Fallback;
        use installer_core::ConcreteLinkMode;
        let mut warnings: Vec<String> = Vec::new();
        let reporter = CallbackReporter::new(
            None,
            Some(Callback { func: record_warning, user_data: (&raw mut warnings).cast() }),
        );
        let fallback = |cache_advice: CacheAdvice| Fallback {
            failed: ConcreteLinkMode::Hardlink,
            error: std::io::ErrorKind::CrossesDevices.into(),
            cache: "/home/me/.cache/installer".into(),
            target: "/dev/shm/venv".into(),
            shard: None,
            cache_advice: Some(cache_advice),
            files: 3,
            bytes: 300,
        };
        reporter.event(Event::LinkFallback(&fallback(CacheAdvice::Dir("/data/.installer-cache".into()))));
        reporter
            .event(Event::LinkFallback(&fallback(CacheAdvice::OnFilesystem { mount: "/dev/shm".into() })));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("pass \"/data/.installer-cache\" as the cache_dir of installer_ctx_new"));
        assert!(
            warnings[1].contains("on the environment's filesystem, mounted at /dev/shm"),
            "{}",
            warnings[1]
        );
        assert!(warnings[1].contains("pass it as the cache_dir of installer_ctx_new"), "{}", warnings[1]);
        for warning in &warnings {
            assert!(warning.contains("installer_ctx_set_link_mode(ctx, \"copy\")"), "{warning}");
        }
    }

    /// What the callbacks of `callbacks_are_never_entered_twice_at_once` see.
    struct Probe {
        /// The reporter calling them (set before the first call).
        reporter: AtomicPtr<CallbackReporter>,
        entries: AtomicU64,
        inside: AtomicBool,
        overlapped: AtomicBool,
        /// A callback found the reporter's lock free while it ran.
        unlocked_inside: AtomicBool,
        /// Each progress call's `done`, sent once inside.
        entered: mpsc::Sender<u64>,
        /// The first call stays inside until this says so (or is dropped).
        release_first: Mutex<mpsc::Receiver<()>>,
    }

    impl Probe {
        /// Notes an entry; true for the first.
        fn enter(&self) -> bool {
            if self.inside.swap(true, Ordering::SeqCst) {
                self.overlapped.store(true, Ordering::SeqCst);
            }
            // SAFETY: the reporter was stored before any call and outlives them all.
            let reporter = unsafe { &*self.reporter.load(Ordering::SeqCst) };
            if reporter.calls.try_lock().is_ok() {
                self.unlocked_inside.store(true, Ordering::SeqCst);
            }
            self.entries.fetch_add(1, Ordering::SeqCst) == 0
        }

        fn leave(&self) {
            self.inside.store(false, Ordering::SeqCst);
        }
    }

    unsafe extern "C" fn probe_progress(user_data: *mut c_void, done: u64, _total: u64) {
        // SAFETY: the test passes a `&Probe` that outlives the reporter's calls.
        let probe = unsafe { &*user_data.cast::<Probe>() };
        let first = probe.enter();
        let _ = probe.entered.send(done);
        if first {
            // Err once the test is over (or failed): never a panic across `extern "C"`.
            let _ = probe.release_first.lock().map(|r| r.recv());
        }
        probe.leave();
    }

    unsafe extern "C" fn probe_warning(user_data: *mut c_void, _message: *const c_char) {
        // SAFETY: as in `probe_progress`.
        let probe = unsafe { &*user_data.cast::<Probe>() };
        probe.enter();
        probe.leave();
    }

    /// C never sees two callbacks at once, though the core reports from many threads: a call
    /// is held inside the progress callback, and from there the reporter's lock, which every
    /// call takes before calling C, is found taken (the proof, deterministic: the first call
    /// waits inside for the test). Meanwhile a second thread reports progress and must not
    /// enter; the wait for it to enter is only a bound on how long a reporter without the lock
    /// gets to show it, not what the test rests on.
    #[test]
    fn callbacks_are_never_entered_twice_at_once() {
        let (entered_tx, entered) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let probe = Probe {
            reporter: AtomicPtr::new(std::ptr::null_mut()),
            entries: AtomicU64::new(0),
            inside: AtomicBool::new(false),
            overlapped: AtomicBool::new(false),
            unlocked_inside: AtomicBool::new(false),
            entered: entered_tx,
            release_first: Mutex::new(release_rx),
        };
        let user_data = (&raw const probe).cast_mut().cast();
        let reporter = CallbackReporter::new(
            Some(Callback { func: probe_progress, user_data }),
            Some(Callback { func: probe_warning, user_data }),
        );
        probe.reporter.store((&raw const reporter).cast_mut(), Ordering::SeqCst);

        let second_entered_early = std::thread::scope(|s| {
            // Dropped on a panic here, so the first call then returns and the scope ends.
            let release = release;
            s.spawn(|| reporter.advance(1));
            assert_eq!(entered.recv().unwrap(), 1, "the first call is inside the callback");
            s.spawn(|| reporter.advance(1));
            // The second call has counted its file: it is calling `report_progress`.
            while reporter.done.load(Ordering::SeqCst) < 2 {
                std::thread::yield_now();
            }
            let early = entered.recv_timeout(Duration::from_millis(200)).ok();
            release.send(()).unwrap();
            early
        });
        reporter.warning("after both");

        assert!(!probe.unlocked_inside.load(Ordering::SeqCst), "a callback ran without the reporter's lock");
        assert_eq!(second_entered_early, None, "the second call entered while the first was inside");
        assert!(!probe.overlapped.load(Ordering::SeqCst), "two callbacks at once");
        assert_eq!(entered.try_iter().collect::<Vec<_>>(), [2], "the second call, once the first returned");
        assert_eq!(probe.entries.load(Ordering::SeqCst), 3);
    }
}
