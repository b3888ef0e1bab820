//! The operations: install, uninstall, probe. Each converts its arguments, forwards to
//! installer-core and leaves the outcome in the context.

use std::ffi::{c_char, CStr};
use std::path::{Path, PathBuf};

use installer_core::install::decide_without_installing;
use installer_core::venv::Venv;
use installer_core::{install, uninstall, verify, ConcreteLinkMode, Error, LinkMode};

use crate::context::installer_ctx;
use crate::ffi::{invalid, str_arg, str_array_arg, try_mut_from_ptr};
use crate::panic::ffi_panic_boundary;
use crate::status::installer_status;

/// The interpreter that creates missing venvs, found on PATH (README, "Embedding from C").
const PYTHON: &str = "python3";

/// A path argument: UTF-8 and not empty.
///
/// # Safety
/// As [`str_arg`]: `ptr` is NULL or a NUL-terminated string that outlives `'a`.
unsafe fn path_arg<'a>(ptr: *const c_char, what: &'static str) -> Result<&'a Path, Error> {
    // SAFETY: our caller upholds `str_arg`'s contract (this function's own).
    match unsafe { str_arg(ptr, what) }? {
        "" => Err(invalid(what, "empty path".to_owned())),
        path => Ok(Path::new(path)),
    }
}

/// Installs the wheel files `wheels[0..n_wheels]` into the venv at `venv`, all or nothing,
/// as `installer install` does: every wheel is verified (and unpacked into the cache) before
/// the venv is touched. The venv is created when missing, with `python3` from PATH, after
/// the wheels are verified (a refused wheel leaves no new venv behind). Uses the
/// context's link mode, link fallback, jobs and callbacks; the cache is opened on the first
/// install or probe of the context.
///
/// `n_wheels` 0 (`wheels` may then be NULL) installs nothing, and still creates a missing venv.
///
/// Returns INSTALLER_OK, or: INSTALLER_ERR_INVALID_ARGUMENT (NULL, empty or non-UTF-8 `venv`,
/// a NULL `wheels` array with `n_wheels` > 0, an `n_wheels` no array can have such as
/// `(size_t)-1`, or a NULL, empty or non-UTF-8 element; or a setting this install cannot
/// honour: compile with a Python older than 3.7, or "symlink" from a cache this user cannot
/// write, for which a temporary one stands in), INSTALLER_ERR_WHEEL,
/// INSTALLER_ERR_CONFLICT, INSTALLER_ERR_LINK_FALLBACK, INSTALLER_ERR_IO,
/// INSTALLER_ERR_CANCELLED (`installer_ctx_cancel` from another thread or the progress
/// callback: rolled back, the venv as it was, a venv this call created removed); details in `installer_last_error`. The
/// strings are only read during the call and stay the caller's. One thread at a time per
/// context (another may call `installer_ctx_cancel`); blocks until done.
///
/// # Safety
/// `ctx` is NULL or a live context; `venv` is NULL or a NUL-terminated string; `wheels` is
/// NULL or points to `n_wheels` pointers, each NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn installer_install(
    ctx: *mut installer_ctx,
    venv: *const c_char,
    wheels: *const *const c_char,
    n_wheels: usize,
) -> installer_status {
    ffi_panic_boundary! {
        let mut ctx = try_mut_from_ptr!(ctx);
        ctx.run(|ctx| {
            // SAFETY: the export documents `venv` as NULL or a NUL-terminated string.
            let venv = unsafe { path_arg(venv, "venv") }?;
            // SAFETY: the export documents the array as NULL with count 0, or that many strings.
            let wheels: Vec<PathBuf> =
                unsafe { str_array_arg(wheels, n_wheels, "wheels") }?.into_iter().map(PathBuf::from).collect();
            let reporter = ctx.reporter();
            let (cache, options) = ctx.cache_and_options()?;
            install::install_into(venv, Path::new(PYTHON), &wheels, cache, options, &reporter)?;
            Ok(())
        })
    }
}

/// Removes the distributions `names[0..n_names]` (any spelling: "Foo_Bar" = "foo-bar") from
/// the existing venv at `venv`, by their RECORD files; `n_names` 0 (`names` may then be NULL)
/// removes nothing and returns INSTALLER_OK. A name that is not installed is passed to the
/// warning callback (`not installed: <name>`) and the others are removed, as pip and uv do;
/// when none of the names is installed, nothing is removed and the result is
/// INSTALLER_ERR_NOT_INSTALLED, naming every unknown name in `installer_last_error`. A `venv`
/// that is missing or not a venv is INSTALLER_ERR_IO; NULL, empty or non-UTF-8 arguments, and
/// an `n_names` no array can have such as `(size_t)-1`, are INSTALLER_ERR_INVALID_ARGUMENT.
/// Reports progress like an install, and uses the context's jobs. INSTALLER_ERR_CANCELLED when `installer_ctx_cancel`
/// stopped it: every file is back, the venv as it was. The strings stay the caller's. One
/// thread at a time per context (another may call `installer_ctx_cancel`).
///
/// # Safety
/// `ctx` is NULL or a live context; `venv` is NULL or a NUL-terminated string; `names` is
/// NULL or points to `n_names` pointers, each NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn installer_uninstall(
    ctx: *mut installer_ctx,
    venv: *const c_char,
    names: *const *const c_char,
    n_names: usize,
) -> installer_status {
    ffi_panic_boundary! {
        let mut ctx = try_mut_from_ptr!(ctx);
        ctx.run(|ctx| {
            // SAFETY: the export documents `venv` as NULL or a NUL-terminated string.
            let venv = unsafe { path_arg(venv, "venv") }?;
            // SAFETY: the export documents the array as NULL with count 0, or that many strings.
            let names: Vec<String> =
                unsafe { str_array_arg(names, n_names, "names") }?.into_iter().map(str::to_owned).collect();
            let venv = Venv::open(venv)?;
            // Nothing asked, nothing removed (the core would say "not installed" about no name).
            if names.is_empty() {
                return Ok(());
            }
            uninstall::uninstall(&venv, &names, ctx.options.jobs, &ctx.reporter(), &ctx.options.cancel)?;
            Ok(())
        })
    }
}

/// Checks every file installed in the existing venv at `venv` against its distribution's
/// RECORD (hash and size), as `installer verify` does. INSTALLER_OK when everything matches;
/// INSTALLER_ERR_VERIFY when a file is modified, missing or unrecorded, with the count and the
/// first differences in `installer_last_error`. Changes nothing. A `venv` that is missing or
/// not a venv is INSTALLER_ERR_IO; NULL or non-UTF-8 is INSTALLER_ERR_INVALID_ARGUMENT;
/// INSTALLER_ERR_CANCELLED when `installer_ctx_cancel` stopped it. Uses the context's jobs.
/// One thread at a time per context (another may call `installer_ctx_cancel`).
///
/// # Safety
/// `ctx` is NULL or a live context; `venv` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn installer_verify(ctx: *mut installer_ctx, venv: *const c_char) -> installer_status {
    ffi_panic_boundary! {
        let mut ctx = try_mut_from_ptr!(ctx);
        ctx.run(|ctx| {
            // SAFETY: the export documents `venv` as NULL or a NUL-terminated string.
            let venv = Venv::open(unsafe { path_arg(venv, "venv") }?)?;
            verify::verify(&venv, ctx.options.jobs, &ctx.options.cancel)?.into_result(&venv)?;
            Ok(())
        })
    }
}

/// Finds the link mode "auto" would use to install from the context's cache into the venv at
/// `venv`: "clone", "hardlink" or "copy", decided as `installer_install` decides it, a cache
/// shard on the venv's filesystem included (the context's shards are automatic), so a cache on
/// another filesystem answers "hardlink" where an install would hardlink from its shard. The
/// venv need not exist: then its nearest existing ancestor directory is probed (the venv will
/// be created on that filesystem). It is not checked to be, or to be able to become, a venv:
/// a regular file's path gets the answer for its directory, and the install then fails.
/// Creates the cache directory if needed, and small probe files, removed again; never a shard.
/// The warning callback may be called (a cache this user cannot write).
///
/// On success `*mode_out` receives a static string (never freed, valid forever); on failure it
/// is left unchanged. NULL `mode_out` or a NULL/non-UTF-8 `venv` is
/// INSTALLER_ERR_INVALID_ARGUMENT. One thread at a time per context.
///
/// # Safety
/// `ctx` is NULL or a live context; `venv` is NULL or a NUL-terminated string; `mode_out` is
/// NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn installer_probe_link_mode(
    ctx: *mut installer_ctx,
    venv: *const c_char,
    mode_out: *mut *const c_char,
) -> installer_status {
    ffi_panic_boundary! {
        let mut ctx = try_mut_from_ptr!(ctx);
        ctx.run(|ctx| {
            // SAFETY: the export documents `venv` as NULL or a NUL-terminated string.
            let venv = unsafe { path_arg(venv, "venv") }?;
            if mode_out.is_null() {
                return Err(invalid("mode_out", "NULL pointer".to_owned()));
            }
            let (cache, options) = ctx.cache_and_options()?;
            // "auto", as the contract says, whatever mode the context is set to.
            let decision = decide_without_installing(LinkMode::Auto, &options.shards, cache, venv)?;
            // SAFETY: not NULL (checked above); the export documents `mode_out` as valid for
            // writing a pointer.
            unsafe { mode_out.write(static_name(decision.mode).as_ptr()) };
            Ok(())
        })
    }
}

fn static_name(mode: ConcreteLinkMode) -> &'static CStr {
    match mode {
        ConcreteLinkMode::Clone => c"clone",
        ConcreteLinkMode::Hardlink => c"hardlink",
        ConcreteLinkMode::Copy => c"copy",
        ConcreteLinkMode::Symlink => c"symlink",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_names_match_the_core() {
        use ConcreteLinkMode::*;
        for mode in [Clone, Hardlink, Copy, Symlink] {
            assert_eq!(static_name(mode).to_str().unwrap(), mode.as_str());
        }
    }
}
