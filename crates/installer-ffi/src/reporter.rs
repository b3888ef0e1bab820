//! The core's [`Reporter`] forwarded to the C callbacks of a context.

use std::collections::HashSet;
use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use installer_core::reporter::Event;
use installer_core::{ConcreteLinkMode, Reporter};

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
                let fix = if let Some(dir) = &fallback.suggestion {
                    format!(
                        "  To link instead, use a cache on the environment's filesystem: pass \"{}\" as the \
                         cache_dir of installer_ctx_new.",
                        dir.display()
                    )
                } else if fallback.failed == ConcreteLinkMode::Clone {
                    "  To link instead, use installer_ctx_set_link_mode(ctx, \"auto\"): this filesystem cannot clone."
                        .to_string()
                } else {
                    String::new()
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
        // Core messages contain no NUL; should one ever, show it rather than cut the line.
        let message = message.replace('\0', "\\0");
        let mut sent = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        if !sent.insert(message.clone()) {
            return;
        }
        let message = CString::new(message).expect("NULs were replaced");
        // SAFETY: as in `report_progress`; `message` outlives the call.
        unsafe { (cb.func)(cb.user_data, message.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

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
        reporter.warning("copying: a\0b");
        reporter.warning("copying: a\0b");
        reporter.event(Event::NotInstalled { name: "x" });
        reporter.event(Event::NotInstalled { name: "x" });
        reporter.info("not forwarded");
        assert_eq!(progress, [(0, 3), (1, 3), (1, 4), (4, 4)]);
        assert_eq!(warnings, ["copying: a\\0b", "not installed: x"], "each warning once per call");
    }
}
