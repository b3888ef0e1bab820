//! The C ABI of installer-core (README, "Embedding from C"): `include/installer.h`, generated from this
//! crate by cbindgen with `cbindgen.toml`, built as `libinstaller_ffi.so` and `.a`.
//!
//! This crate converts and forwards; all logic is in installer-core. Conventions, kept by
//! every export:
//! - The body runs inside `panic::ffi_panic_boundary!`: a panic never unwinds into C; it
//!   becomes `INSTALLER_ERR_PANIC` (and, where there is a context, a last error saying so).
//! - Pointer arguments are checked before any work: NULL, or a string that is not UTF-8, is
//!   `INSTALLER_ERR_INVALID_ARGUMENT`, never a crash.
//! - Out-parameters are written only on success.
//! - Every call taking a context sets its last error: "" on success, else one line from
//!   `Error::one_line()` that names the wheel or path and the cause, its control characters
//!   escaped.
//! - Handles are opaque (`_private: [u8; 0]`) and bound to their Rust type by
//!   `ffi::Castable`; each doc comment says who owns what and which `_free` releases it.
//!
//! The exports are `unsafe extern "C"` where they dereference pointers from C: Rust callers
//! (the tests) must uphold the same contract as C callers, stated under "Safety".

#![deny(unsafe_op_in_unsafe_fn)]
// Every public item says why it exists (STYLE.md); CI's clippy -D warnings keeps it so.
#![warn(missing_docs)]
// Every unsafe block says why it is sound; clippy checks that the comment is there.
#![deny(clippy::undocumented_unsafe_blocks)]

mod context;
mod ffi;
mod ops;
mod panic;
mod reporter;
mod status;

use std::ffi::{c_char, CStr};

pub use context::{
    installer_ctx, installer_ctx_cancel, installer_ctx_free, installer_ctx_new, installer_ctx_set_compile,
    installer_ctx_set_ignore_requires_python, installer_ctx_set_jobs, installer_ctx_set_link_fallback,
    installer_ctx_set_link_mode, installer_ctx_set_progress_callback, installer_ctx_set_warning_callback,
    installer_last_error,
};
pub use ops::{installer_install, installer_probe_link_mode, installer_uninstall, installer_verify};
pub use reporter::{installer_progress_cb, installer_warning_cb};
pub use status::{installer_status, installer_status_message};

use crate::panic::ffi_panic_boundary;

const VERSION: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
    Ok(version) => version,
    Err(_) => panic!("the crate version contains a NUL"),
};

/// The library's version, e.g. "0.1.0": a static string, never NULL, never freed.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn installer_version() -> *const c_char {
    ffi_panic_boundary! {
        VERSION.as_ptr()
    }
}
