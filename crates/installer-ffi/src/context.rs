//! `installer_ctx`: settings, callbacks and the last error shared by the calls of one caller.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use installer_core::cache::Cache;
use installer_core::install::InstallOptions;
use installer_core::{Cancel, Error, LinkFallback, LinkMode};

use crate::ffi::{self, invalid, printable, str_arg, try_mut_from_ptr, Breaks, Castable};
use crate::panic::{ffi_panic_boundary, panic_message};
use crate::reporter::{
    installer_progress_cb, installer_warning_cb, Callback, CallbackReporter, ProgressFn, WarningFn,
};
use crate::status::installer_status;

/// An installer context: the cache location, install options, callbacks and the last error.
/// Opaque; created by `installer_ctx_new`, freed by `installer_ctx_free`. A context may be
/// moved between threads but used by one thread at a time, except for `installer_ctx_cancel`,
/// which any thread may call while another uses the context; use one context per thread to
/// install concurrently (any number of processes and threads may share one cache directory).
/// Another call from a second thread while the context is in use is refused with
/// INSTALLER_ERR_INVALID_ARGUMENT and changes nothing: a safety net, not a way to share it.
#[allow(non_camel_case_types)]
pub struct installer_ctx {
    _private: [u8; 0],
}

impl Castable for installer_ctx {
    type RustType = Handle;
}

/// What an `installer_ctx` points to: the cancellation token, which any thread may reach, the
/// flag that says a call is using the context, and the context proper, which only that call
/// touches. The token and the flag are apart from the context so that `installer_ctx_cancel`,
/// and a call refused because the context is busy, never make a reference into a context in
/// use.
pub(crate) struct Handle {
    cancel: Cancel,
    /// Set while a call holds the context ([`enter`]). A callback that calls back into its own
    /// context (which the docs forbid) finds it set and is refused, instead of making a second
    /// `&mut Context` beside the one the running call holds (aliasing, and a use after free
    /// should it free the context).
    busy: AtomicBool,
    context: UnsafeCell<Context>,
}

/// The context of a handle, held by one call: the only way to reach it, made by [`enter`];
/// dropping it lets the next call in.
pub(crate) struct InUse<'a> {
    handle: &'a Handle,
}

impl std::ops::Deref for InUse<'_> {
    type Target = Context;
    fn deref(&self) -> &Context {
        // SAFETY: `enter` set `busy` for this `InUse` alone, so no other reference into the
        // cell exists while it lives (`installer_ctx_cancel` reads only `handle.cancel`).
        unsafe { &*self.handle.context.get() }
    }
}

impl std::ops::DerefMut for InUse<'_> {
    fn deref_mut(&mut self) -> &mut Context {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference made from it.
        unsafe { &mut *self.handle.context.get() }
    }
}

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        self.handle.busy.store(false, Ordering::Release);
    }
}

/// The context behind `ptr`, for the one call using it; `None` for NULL, and while another
/// call holds it (a callback called back into its own context): every caller refuses both
/// alike.
///
/// # Safety
/// `ptr` is NULL or a live context from `installer_ctx_new`.
pub(crate) unsafe fn enter<'a>(ptr: *mut installer_ctx) -> Option<InUse<'a>> {
    // SAFETY: the caller guarantees NULL or a live handle, `cast_ref`'s contract; every thread
    // only ever makes shared references to the handle itself.
    let handle = unsafe { ffi::cast_ref(ptr.cast_const()) }?;
    handle.busy.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).ok()?;
    Some(InUse { handle })
}

/// What an `installer_ctx` points to.
pub(crate) struct Context {
    /// `None`: `Cache::default_root()`, resolved when the cache is first needed.
    cache_dir: Option<PathBuf>,
    /// Opened on first use (install or probe), so a context costs nothing until then.
    cache: Option<Cache>,
    pub(crate) options: InstallOptions,
    progress: Option<Callback<ProgressFn>>,
    warning: Option<Callback<WarningFn>>,
    /// "" after a successful call; `installer_last_error` hands out a pointer into it.
    last_error: CString,
}

// The docs promise a context may move between threads (used by one at a time).
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Context>();
};

impl Handle {
    fn new(cache_dir: Option<PathBuf>) -> Self {
        let cancel = Cancel::new();
        let options = InstallOptions { cancel: cancel.clone(), ..InstallOptions::default() };
        Handle {
            cancel,
            busy: AtomicBool::new(false),
            context: UnsafeCell::new(Context::new(cache_dir, options)),
        }
    }
}

impl Context {
    fn new(cache_dir: Option<PathBuf>, options: InstallOptions) -> Self {
        Context {
            cache_dir,
            cache: None,
            options,
            progress: None,
            warning: None,
            last_error: CString::default(),
        }
    }

    /// Runs one call's work: records its error (or "") as the last error and turns it into a
    /// status. A panic in `work` (a bug, or an unfinished core) is recorded with its message.
    /// Every call starts uncancelled, whatever a cancel made between calls left behind.
    pub(crate) fn run(&mut self, work: impl FnOnce(&mut Context) -> Result<(), Error>) -> installer_status {
        self.options.cancel.reset();
        let result = catch_unwind(AssertUnwindSafe(|| work(self)));
        match result {
            Ok(Ok(())) => {
                self.last_error = CString::default();
                installer_status::INSTALLER_OK
            }
            Ok(Err(err)) => {
                self.set_last_error(&one_line(&err));
                installer_status::from_error(&err)
            }
            Err(payload) => {
                let message = format!("internal error: panic: {}", panic_message(&*payload));
                self.set_last_error(&printable(&message, Breaks::Space));
                installer_status::INSTALLER_ERR_PANIC
            }
        }
    }

    /// `message` has no control character ([`printable`]), so no NUL either.
    fn set_last_error(&mut self, message: &str) {
        self.last_error = CString::new(message).expect("control characters were escaped");
    }

    /// A reporter forwarding to this context's callbacks, with fresh counters.
    pub(crate) fn reporter(&self) -> CallbackReporter {
        CallbackReporter::new(self.progress, self.warning)
    }

    /// The context's cache, opened (and created) on first use; one this user cannot write is
    /// used read-only, said once through `reporter` (the warning callback). Takes the fields
    /// rather than `&mut self` so callers can borrow `options` at the same time.
    pub(crate) fn cache<'a>(
        slot: &'a mut Option<Cache>,
        dir: Option<&Path>,
        reporter: &dyn installer_core::Reporter,
    ) -> Result<&'a Cache, Error> {
        if slot.is_none() {
            let root = match dir {
                Some(dir) => dir.to_path_buf(),
                None => Cache::default_root().ok_or_else(|| {
                    Error::io(
                        "locate the default cache directory",
                        "$XDG_CACHE_HOME/installer",
                        std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "neither XDG_CACHE_HOME nor HOME is set",
                        ),
                    )
                })?,
            };
            *slot = Some(Cache::open_for_install(&root, Vec::new(), reporter)?);
        }
        Ok(slot.as_ref().expect("opened above"))
    }

    /// Splits the borrow: the cache slot and directory, plus everything else read-only.
    pub(crate) fn cache_and_options(&mut self) -> Result<(&Cache, &InstallOptions), Error> {
        let reporter = self.reporter();
        let cache = Self::cache(&mut self.cache, self.cache_dir.as_deref(), &reporter)?;
        Ok((cache, &self.options))
    }
}

/// `err` and its causes on one line, joined by ": " (`Error::one_line`), each made
/// [`printable`]: a wheel's own text (`WheelError`, whose member names come from the archive)
/// with every control character escaped, as the CLI prints it; the others with their line
/// breaks (a several-line message: an interpreter's stderr) turned into spaces.
fn one_line(err: &Error) -> String {
    let causes = installer_core::error::chain(err).map(|(e, text)| {
        let from_wheel = e.downcast_ref::<installer_core::wheel::WheelError>().is_some();
        printable(&text, if from_wheel { Breaks::Escape } else { Breaks::Space })
    });
    causes.collect::<Vec<_>>().join(": ")
}

/// Creates a context. `cache_dir`: the cache directory (created when first needed), or NULL
/// for the default location ($XDG_CACHE_HOME/installer, else ~/.cache/installer). A relative
/// `cache_dir` is resolved against the current directory now. Nothing is touched on disk
/// until the first install or probe.
///
/// On success `*out` receives a new context, owned by the caller and freed with
/// `installer_ctx_free`; on failure `*out` is left unchanged.
///
/// Returns INSTALLER_ERR_INVALID_ARGUMENT when `out` is NULL or `cache_dir` is empty or not
/// UTF-8, and INSTALLER_ERR_IO when a relative `cache_dir` cannot be resolved (the current
/// directory was removed); there is no context to hold a last error. Thread-safe.
///
/// # Safety
/// `cache_dir` is NULL or a NUL-terminated string; `out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn installer_ctx_new(
    cache_dir: *const c_char,
    out: *mut *mut installer_ctx,
) -> installer_status {
    ffi_panic_boundary! {
        if out.is_null() {
            return installer_status::INSTALLER_ERR_INVALID_ARGUMENT;
        }
        let cache_dir = if cache_dir.is_null() {
            None
        } else {
            // SAFETY: the export documents `cache_dir` as NULL or a NUL-terminated string.
            match unsafe { str_arg(cache_dir, "cache_dir") } {
                Ok("") | Err(_) => return installer_status::INSTALLER_ERR_INVALID_ARGUMENT,
                Ok(dir) => match std::path::absolute(dir) {
                    Ok(dir) => Some(dir),
                    Err(_) => return installer_status::INSTALLER_ERR_IO,
                },
            }
        };
        let ctx = ffi::to_boxed_mut_ptr::<installer_ctx>(Handle::new(cache_dir));
        // SAFETY: not NULL (checked above); the export documents `out` as valid for writing a
        // pointer.
        unsafe { out.write(ctx) };
        installer_status::INSTALLER_OK
    }
}

/// Frees a context made by `installer_ctx_new`, with everything it owns (including the string
/// `installer_last_error` returned). NULL is accepted and ignored, and so is a call from a
/// callback of a call on this context (which would free it under that call). The context must
/// not be in use by another thread (such a free is ignored too, and the context stays
/// allocated; one racing with the start of another thread's call is a use after free), and
/// must not be used afterwards.
///
/// # Safety
/// `ctx` is NULL or a context from `installer_ctx_new` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn installer_ctx_free(ctx: *mut installer_ctx) {
    ffi_panic_boundary! {
        // A callback freeing its own context mid-call is refused, or the call would go on
        // with a freed context.
        // SAFETY: the export documents `ctx` as NULL or a context from `installer_ctx_new` not
        // freed yet, `enter`'s contract.
        if let Some(in_use) = unsafe { enter(ctx) } {
            // Not `drop`: it would write the flag of the freed handle.
            std::mem::forget(in_use);
            // SAFETY: as above, which is `free_box`'s contract; no reference into the handle is
            // left (the `InUse` was forgotten).
            unsafe { ffi::free_box(ctx) }
        }
    }
}

/// The body of every setter of an install option, inside the panic boundary: `set` changes the
/// context's options, or says why the value is invalid (its `Err`, the options left as they
/// were, which `set` must not have touched before failing).
///
/// # Safety
/// `ctx` is NULL or a live context.
unsafe fn set_options(
    ctx: *mut installer_ctx,
    set: impl FnOnce(&mut InstallOptions) -> Result<(), Error>,
) -> installer_status {
    ffi_panic_boundary! {
        let mut ctx = try_mut_from_ptr!(ctx);
        ctx.run(|ctx| set(&mut ctx.options))
    }
}

/// Sets the link mode for the following installs: "auto" (the default), "clone" (alias
/// "reflink"), "hardlink", "copy" or "symlink" (docs/link-modes.md). An unknown mode is
/// INSTALLER_ERR_INVALID_ARGUMENT and leaves the setting unchanged. `mode` is only read during
/// the call. One thread at a time per context.
///
/// # Safety
/// `ctx` is NULL or a live context; `mode` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn installer_ctx_set_link_mode(
    ctx: *mut installer_ctx,
    mode: *const c_char,
) -> installer_status {
    let set = |options: &mut InstallOptions| {
        // SAFETY: the export documents `mode` as NULL or a NUL-terminated string.
        let mode = unsafe { str_arg(mode, "link mode") }?;
        options.link_mode = mode.parse::<LinkMode>().map_err(|e| invalid("link mode", e))?;
        Ok(())
    };
    // SAFETY: the export documents `ctx` as NULL or a live context.
    unsafe { set_options(ctx, set) }
}

/// Sets what happens when the link mode cannot be used between the cache and the venv:
/// "warn" (the default: copy, and send one warning), "quiet" (copy silently) or "error"
/// (fail with INSTALLER_ERR_LINK_FALLBACK before touching the venv). An unknown value is
/// INSTALLER_ERR_INVALID_ARGUMENT and leaves the setting unchanged. `fallback` is only read
/// during the call. One thread at a time per context.
///
/// # Safety
/// `ctx` is NULL or a live context; `fallback` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn installer_ctx_set_link_fallback(
    ctx: *mut installer_ctx,
    fallback: *const c_char,
) -> installer_status {
    let set = |options: &mut InstallOptions| {
        // SAFETY: the export documents `fallback` as NULL or a NUL-terminated string.
        let fallback = unsafe { str_arg(fallback, "link fallback") }?;
        options.link_fallback = fallback.parse::<LinkFallback>().map_err(|e| invalid("link fallback", e))?;
        Ok(())
    };
    // SAFETY: the export documents `ctx` as NULL or a live context.
    unsafe { set_options(ctx, set) }
}

/// The most worker threads a context takes (see the core's `MAX_JOBS`).
const MAX_JOBS: u32 = installer_core::MAX_JOBS as u32;

/// Sets the number of worker threads for the following installs, uninstalls and verifies
/// (default: one per CPU), 1 to 1024. 0 and more than 1024 (such as `(uint32_t)-1`) are
/// INSTALLER_ERR_INVALID_ARGUMENT and leave the setting unchanged. One thread at a time per
/// context.
///
/// # Safety
/// `ctx` is NULL or a live context.
#[no_mangle]
pub unsafe extern "C" fn installer_ctx_set_jobs(ctx: *mut installer_ctx, jobs: u32) -> installer_status {
    // SAFETY: the export documents `ctx` as NULL or a live context.
    unsafe {
        set_options(ctx, |options| {
            if jobs == 0 {
                return Err(invalid("jobs", "must be at least 1".to_owned()));
            }
            if jobs > MAX_JOBS {
                return Err(invalid("jobs", format!("{jobs} threads; at most {MAX_JOBS}")));
            }
            options.jobs = usize::try_from(jobs).unwrap_or(usize::MAX);
            Ok(())
        })
    }
}

/// Sets whether the following installs write `.pyc` files for the venv's interpreter (default
/// false), as the CLI's `--compile`: compiled once per interpreter into the cache, then placed
/// like every other file, so a second install with the same interpreter compiles nothing.
/// An interpreter older than Python 3.7 is then refused (INSTALLER_ERR_INVALID_ARGUMENT)
/// before anything is installed. One thread at a time per context.
///
/// # Safety
/// `ctx` is NULL or a live context.
#[no_mangle]
pub unsafe extern "C" fn installer_ctx_set_compile(
    ctx: *mut installer_ctx,
    compile: bool,
) -> installer_status {
    // SAFETY: the export documents `ctx` as NULL or a live context.
    unsafe {
        set_options(ctx, |options| {
            options.compile = compile;
            Ok(())
        })
    }
}

/// Sets whether the following installs ignore the wheels' `Requires-Python` (default false: a
/// wheel whose `Requires-Python` excludes the venv's Python version is refused with
/// INSTALLER_ERR_WHEEL, as pip and uv refuse it; true installs it anyway, as pip's
/// `--ignore-requires-python`). One thread at a time per context.
///
/// # Safety
/// `ctx` is NULL or a live context.
#[no_mangle]
pub unsafe extern "C" fn installer_ctx_set_ignore_requires_python(
    ctx: *mut installer_ctx,
    ignore: bool,
) -> installer_status {
    // SAFETY: the export documents `ctx` as NULL or a live context.
    unsafe {
        set_options(ctx, |options| {
            options.ignore_requires_python = ignore;
            Ok(())
        })
    }
}

/// Sets (or, with `cb` NULL, removes) the progress callback of the following installs and
/// uninstalls: `cb(user_data, done, total)` counts files; `total` may grow while wheels are
/// being read, and `done` never decreases. It is called from the calling thread or from
/// worker threads, never two calls at once (calls to the warning callback included), and only
/// during `installer_install`/`installer_uninstall`. `user_data` is passed through untouched;
/// the caller keeps ownership of it. The callback must return normally (no longjmp, no C++
/// exception), and must not call any installer_* function on this context except
/// `installer_ctx_cancel`: such a call returns INSTALLER_ERR_INVALID_ARGUMENT and does nothing
/// (`installer_last_error` gives "", `installer_ctx_free` is ignored). Other contexts may be
/// used from it, except for an install or uninstall into the venv of the reporting call: that
/// waits for the call's lock on the venv, held until the callback returns, and never returns.
/// One thread at a time per context.
///
/// # Safety
/// `ctx` is NULL or a live context; `cb`, if not NULL, is safe to call with `user_data` from
/// any thread for as long as it is set.
#[no_mangle]
pub unsafe extern "C" fn installer_ctx_set_progress_callback(
    ctx: *mut installer_ctx,
    cb: installer_progress_cb,
    user_data: *mut c_void,
) -> installer_status {
    ffi_panic_boundary! {
        let mut ctx = try_mut_from_ptr!(ctx);
        ctx.run(|ctx| {
            ctx.progress = cb.map(|func| Callback { func, user_data });
            Ok(())
        })
    }
}

/// Sets (or, with `cb` NULL, removes) the warning callback: `cb(user_data, message)` receives
/// each warning once per call, e.g. that the link mode fell back to copying, and why.
/// `message` is NUL-terminated UTF-8 without a trailing newline; it may span several lines
/// (the first says what happened, indented ones why and how to avoid it), and its other control
/// characters are escaped as `\r` or `\u{1b}` (it may quote a wheel's own text). It is owned by the
/// library and valid only during the call: copy it to keep it. Called from the calling thread or worker threads, never two
/// calls at once (progress included). Without a warning callback warnings are dropped.
/// `user_data` stays the caller's. The callback must return normally, and must not call any
/// installer_* function on this context except `installer_ctx_cancel` (as for the progress
/// callback: refused with INSTALLER_ERR_INVALID_ARGUMENT; other contexts as there). One thread
/// at a time per context.
///
/// # Safety
/// As for `installer_ctx_set_progress_callback`.
#[no_mangle]
pub unsafe extern "C" fn installer_ctx_set_warning_callback(
    ctx: *mut installer_ctx,
    cb: installer_warning_cb,
    user_data: *mut c_void,
) -> installer_status {
    ffi_panic_boundary! {
        let mut ctx = try_mut_from_ptr!(ctx);
        ctx.run(|ctx| {
            ctx.warning = cb.map(|func| Callback { func, user_data });
            Ok(())
        })
    }
}

/// Cancels the operation running on `ctx`, if any, as Ctrl-C does on the command line: an
/// `installer_install` stops at its next check (each wheel, each unpacked chunk, each file
/// placed), rolls back, and returns INSTALLER_ERR_CANCELLED (7), leaving the venv as it was
/// (wheels already verified stay in the cache, complete). `installer_uninstall` stops before
/// its next file, puts back the files it moved and returns INSTALLER_ERR_CANCELLED, the venv
/// as it was; `installer_verify` stops before its next file with INSTALLER_ERR_CANCELLED.
/// `installer_probe_link_mode` is short and runs to its end. Each operation starts
/// uncancelled: a cancel made while no operation runs has no effect, and the context works
/// again for the next call. So a cancel made just before a call begins (from a thread that only
/// just started the one that calls) is lost, and one that comes after an install's last check,
/// while it commits, is too late (it returns INSTALLER_OK, everything installed): to cancel
/// reliably, set a flag of your own and call `installer_ctx_cancel` from the progress callback
/// while it is set (docs/c-abi.md, "Cancelling an install").
///
/// The one function that may be called from another thread while `ctx` is in use: it sets a
/// flag (one atomic store) and returns, without waiting for the operation to stop and without
/// touching the last error. NULL is INSTALLER_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// `ctx` is NULL or a live context (not freed before this call returns).
#[no_mangle]
pub unsafe extern "C" fn installer_ctx_cancel(ctx: *mut installer_ctx) -> installer_status {
    ffi_panic_boundary! {
        // SAFETY: the export documents `ctx` as NULL or a live context, `cast_ref`'s contract;
        // another thread may be using the context, so only the token outside it is read.
        match unsafe { ffi::cast_ref(ctx.cast_const()) } {
            Some(handle) => {
                handle.cancel.cancel();
                installer_status::INSTALLER_OK
            }
            None => installer_status::INSTALLER_ERR_INVALID_ARGUMENT,
        }
    }
}

/// The error of the last call on `ctx`: one line naming the wheel or path and the cause,
/// e.g. "refused wheel /w/x-1.0-py3-none-any.whl: ...". "" when that call succeeded (or no
/// call was made yet), for a NULL `ctx`, and from a callback of a call on `ctx` (that call has
/// no outcome yet). Never NULL; one line, its control characters escaped as `\r` or `\u{1b}`
/// (a wheel's member name may hold any). The string is owned by `ctx`: valid
/// until the next call on `ctx` other than `installer_last_error` and `installer_ctx_cancel`,
/// or `installer_ctx_free`; do not free it. Calls that fail because `ctx` itself is NULL
/// cannot record anything. Ask from the thread using `ctx`: another thread gets "" while a
/// call runs, and a call that starts while it asks is refused as a concurrent one.
///
/// # Safety
/// `ctx` is NULL or a live context.
#[no_mangle]
pub unsafe extern "C" fn installer_last_error(ctx: *const installer_ctx) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the export documents `ctx` as NULL or a live context, `enter`'s contract.
        match unsafe { enter(ctx.cast_mut()) } {
            // Owned by the context, so valid after `ctx` is released.
            Some(ctx) => ctx.last_error.as_ptr(),
            // NULL, or called from a callback of a call on `ctx`: it has no last error yet.
            None => c"".as_ptr(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last_error(ctx: *const installer_ctx) -> String {
        // SAFETY: `ctx` is NULL or a live context in these tests; the result is a NUL-terminated string.
        unsafe { CStr::from_ptr(installer_last_error(ctx)) }.to_str().unwrap().to_owned()
    }

    /// One call's work on `ctx`, as an export runs it; the context is released on return.
    fn run(
        ctx: *mut installer_ctx,
        work: impl FnOnce(&mut Context) -> Result<(), Error>,
    ) -> installer_status {
        // SAFETY: `ctx` is a live context in these tests.
        let Some(mut context) = (unsafe { enter(ctx) }) else { panic!("the context is free") };
        context.run(work)
    }

    #[test]
    fn run_records_errors_and_panics() {
        let mut ctx: *mut installer_ctx = std::ptr::null_mut();
        // SAFETY: `ctx` is a valid place for the new handle.
        assert_eq!(unsafe { installer_ctx_new(std::ptr::null(), &mut ctx) }, installer_status::INSTALLER_OK);

        let status = run(ctx, |_| Err(invalid("jobs", "must be at least 1".to_owned())));
        assert_eq!(status, installer_status::INSTALLER_ERR_INVALID_ARGUMENT);
        assert_eq!(last_error(ctx), "invalid jobs: must be at least 1");

        let status = run(ctx, |_| Ok(()));
        assert_eq!(status, installer_status::INSTALLER_OK);
        assert_eq!(last_error(ctx), "");

        let status = run(ctx, |_| todo!());
        assert_eq!(status, installer_status::INSTALLER_ERR_PANIC);
        assert_eq!(last_error(ctx), "internal error: panic: not yet implemented");

        let status = run(ctx, |_| Err(Error::io("read", "/w/a\nb", std::io::ErrorKind::NotFound.into())));
        assert_eq!(status, installer_status::INSTALLER_ERR_IO);
        assert_eq!(last_error(ctx), "cannot read /w/a b: entity not found");

        let status =
            run(ctx, |_| Err(Error::io("read", "/w/\x1b[2J\r\0", std::io::ErrorKind::NotFound.into())));
        assert_eq!(status, installer_status::INSTALLER_ERR_IO);
        assert_eq!(last_error(ctx), "cannot read /w/\\u{1b}[2J\\r\\u{0}: entity not found");

        // SAFETY: `ctx` is live and freed once, here.
        unsafe { installer_ctx_free(ctx) };
    }

    #[test]
    fn settings_are_validated_and_kept() {
        let mut ctx: *mut installer_ctx = std::ptr::null_mut();
        assert_eq!(
            // SAFETY: a NUL-terminated literal and a valid place for the handle.
            unsafe { installer_ctx_new(c"rel/cache".as_ptr(), &mut ctx) },
            installer_status::INSTALLER_OK
        );
        // SAFETY: `ctx` is live; `mode` is a NUL-terminated literal.
        let set_mode = |mode: &CStr| unsafe { installer_ctx_set_link_mode(ctx, mode.as_ptr()) };
        assert_eq!(set_mode(c"hardlink"), installer_status::INSTALLER_OK);
        assert_eq!(set_mode(c"bogus"), installer_status::INSTALLER_ERR_INVALID_ARGUMENT);
        assert!(last_error(ctx).contains("`bogus`"), "{}", last_error(ctx));
        assert_eq!(
            // SAFETY: `ctx` is live.
            unsafe { installer_ctx_set_jobs(ctx, 0) },
            installer_status::INSTALLER_ERR_INVALID_ARGUMENT
        );
        // SAFETY: `ctx` is live.
        assert_eq!(unsafe { installer_ctx_set_jobs(ctx, 3) }, installer_status::INSTALLER_OK);
        assert_eq!(
            // SAFETY: `ctx` is live; the fallback is a NUL-terminated literal.
            unsafe { installer_ctx_set_link_fallback(ctx, c"error".as_ptr()) },
            installer_status::INSTALLER_OK
        );

        // SAFETY: `ctx` is live.
        let Some(context) = (unsafe { enter(ctx) }) else { panic!("the context is free") };
        assert_eq!(context.options.link_mode, LinkMode::Hardlink);
        assert_eq!(context.options.link_fallback, LinkFallback::Error);
        assert_eq!(context.options.jobs, 3);
        assert!(context.cache_dir.as_ref().unwrap().is_absolute());
        assert!(context.cache_dir.as_ref().unwrap().ends_with("rel/cache"));
        drop(context);
        // SAFETY: `ctx` is live and freed once, here.
        unsafe { installer_ctx_free(ctx) };
    }

    /// What a callback that calls back into its own context meets while the call runs: every
    /// export but `installer_ctx_cancel` refused, and the context left as the call has it.
    #[test]
    fn a_context_in_use_refuses_other_calls() {
        let mut ctx: *mut installer_ctx = std::ptr::null_mut();
        // SAFETY: `ctx` is a valid place for the new handle.
        assert_eq!(unsafe { installer_ctx_new(std::ptr::null(), &mut ctx) }, installer_status::INSTALLER_OK);
        // A last error before the call, so that the empty one inside it is the refusal's.
        // SAFETY: `ctx` is live.
        let refused = unsafe { installer_ctx_set_jobs(ctx, 0) };
        assert_eq!(refused, installer_status::INSTALLER_ERR_INVALID_ARGUMENT);
        assert_ne!(last_error(ctx), "");
        let status = run(ctx, |_| {
            // SAFETY: `ctx` is live; these are the calls a callback might make.
            unsafe {
                assert_eq!(installer_ctx_set_jobs(ctx, 2), installer_status::INSTALLER_ERR_INVALID_ARGUMENT);
                assert_eq!(
                    installer_ctx_set_link_mode(ctx, c"copy".as_ptr()),
                    installer_status::INSTALLER_ERR_INVALID_ARGUMENT
                );
                assert_eq!(CStr::from_ptr(installer_last_error(ctx)).to_bytes(), b"");
                installer_ctx_free(ctx);
                assert_eq!(installer_ctx_cancel(ctx), installer_status::INSTALLER_OK);
            }
            Err(invalid("jobs", "the call's own error".to_owned()))
        });
        assert_eq!(status, installer_status::INSTALLER_ERR_INVALID_ARGUMENT);
        assert_eq!(last_error(ctx), "invalid jobs: the call's own error", "the context outlived the call");
        // SAFETY: `ctx` is live (the free inside the call was refused).
        assert_eq!(unsafe { installer_ctx_set_jobs(ctx, 2) }, installer_status::INSTALLER_OK);
        // SAFETY: `ctx` is live and freed once, here.
        unsafe { installer_ctx_free(ctx) };
    }
}
