//! `installer_status`: the result of every fallible export, and the text for each code.

use std::ffi::c_char;

use installer_core::Error;

use crate::panic::ffi_panic_boundary;

/// The result of an `installer_*` call. The numbers are part of the ABI (README, "Embedding from C"):
/// never renumber or reuse one; a retired code stays reserved in a comment here.
///
/// The variants carry their C names so that Rust and C code read (and grep) the same.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum installer_status {
    /// Success.
    INSTALLER_OK = 0,
    /// A NULL pointer, invalid UTF-8, an empty string, an array count no array can have, an
    /// unknown link mode or fallback, jobs 0 or above 1024, a setting the install cannot honour,
    /// or a call on a context in use (from its own callback, or from a second thread).
    INSTALLER_ERR_INVALID_ARGUMENT = 1,
    /// A wheel was refused (invalid, corrupt, hostile); nothing was installed.
    INSTALLER_ERR_WHEEL = 2,
    /// A filesystem error, including a venv directory that is not a venv, or a failed
    /// external command (python).
    INSTALLER_ERR_IO = 3,
    /// Two wheels of one install write the same file, or are two versions of one
    /// distribution; nothing was installed.
    INSTALLER_ERR_CONFLICT = 4,
    /// Link fallback "error" and the link mode could not be used; nothing was installed.
    INSTALLER_ERR_LINK_FALLBACK = 5,
    /// Uninstall where none of the names is installed; nothing was removed.
    INSTALLER_ERR_NOT_INSTALLED = 6,
    /// `installer_ctx_cancel` cancelled the operation; nothing was changed.
    INSTALLER_ERR_CANCELLED = 7,
    /// `installer_verify` found installed files that differ from their RECORD.
    INSTALLER_ERR_VERIFY = 8,
    // 9..=98: free. Codes once published are never reused.
    /// A bug: the library panicked. The context should be freed and not used again.
    INSTALLER_ERR_PANIC = 99,
}

impl installer_status {
    /// The status C sees for a core error.
    pub(crate) fn from_error(err: &Error) -> Self {
        match err {
            Error::Wheel { .. } | Error::NotAWheel { .. } => Self::INSTALLER_ERR_WHEEL,
            Error::Conflict { .. } | Error::TwoVersions { .. } => Self::INSTALLER_ERR_CONFLICT,
            Error::LinkFallback { .. } => Self::INSTALLER_ERR_LINK_FALLBACK,
            Error::NotInstalled { .. } => Self::INSTALLER_ERR_NOT_INSTALLED,
            Error::InvalidArgument { .. } => Self::INSTALLER_ERR_INVALID_ARGUMENT,
            Error::Verify { .. } => Self::INSTALLER_ERR_VERIFY,
            Error::Cancelled => Self::INSTALLER_ERR_CANCELLED,
            // Io, NotAVenv, Command, Config, ... and any variant added later:
            // the environment, not the input, is at fault.
            _ => Self::INSTALLER_ERR_IO,
        }
    }

    /// The status for a raw number from C, `None` for numbers that are not a status.
    pub(crate) fn from_u32(n: u32) -> Option<Self> {
        use installer_status::*;
        [
            INSTALLER_OK,
            INSTALLER_ERR_INVALID_ARGUMENT,
            INSTALLER_ERR_WHEEL,
            INSTALLER_ERR_IO,
            INSTALLER_ERR_CONFLICT,
            INSTALLER_ERR_LINK_FALLBACK,
            INSTALLER_ERR_NOT_INSTALLED,
            INSTALLER_ERR_CANCELLED,
            INSTALLER_ERR_VERIFY,
            INSTALLER_ERR_PANIC,
        ]
        .into_iter()
        .find(|s| *s as u32 == n)
    }

    fn message(self) -> &'static std::ffi::CStr {
        match self {
            Self::INSTALLER_OK => c"success",
            Self::INSTALLER_ERR_INVALID_ARGUMENT => c"invalid argument",
            Self::INSTALLER_ERR_WHEEL => c"a wheel was refused; nothing was installed",
            Self::INSTALLER_ERR_IO => c"filesystem or environment error",
            Self::INSTALLER_ERR_CONFLICT => {
                c"two wheels install the same file (or one distribution twice); nothing was installed"
            }
            Self::INSTALLER_ERR_LINK_FALLBACK => {
                c"the link mode cannot be used and link fallback is error; nothing was installed"
            }
            Self::INSTALLER_ERR_NOT_INSTALLED => c"not installed; nothing was removed",
            Self::INSTALLER_ERR_CANCELLED => c"cancelled; nothing was changed",
            Self::INSTALLER_ERR_VERIFY => c"installed files differ from their RECORD",
            Self::INSTALLER_ERR_PANIC => c"internal error (panic) in the installer library",
        }
    }
}

/// A short static description of a status code, e.g. "invalid argument"; "unknown status"
/// for a number that is not an `installer_status`. Never NULL, never freed. Thread-safe.
///
/// Takes the code as a plain `uint32_t` (which is what `installer_status` is in C) so that any
/// number C passes is defined behaviour. For the details of one failure use
/// `installer_last_error`.
#[no_mangle]
pub extern "C" fn installer_status_message(status: u32) -> *const c_char {
    ffi_panic_boundary! {
        match installer_status::from_u32(status) {
            Some(s) => s.message().as_ptr(),
            None => c"unknown status".as_ptr(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;
    use std::path::PathBuf;

    #[test]
    fn numbers_are_the_abi() {
        let numbers: Vec<u32> = (0..200).filter_map(installer_status::from_u32).map(|s| s as u32).collect();
        assert_eq!(numbers, [0, 1, 2, 3, 4, 5, 6, 7, 8, 99]);
    }

    #[test]
    fn errors_map_to_statuses() {
        let conflict = Error::Conflict { path: "a".into(), first: "x".into(), second: "y".into() };
        assert_eq!(installer_status::from_error(&conflict), installer_status::INSTALLER_ERR_CONFLICT);
        let not_a_venv = Error::NotAVenv { path: PathBuf::from("/v"), reason: "no pyvenv.cfg".into() };
        assert_eq!(installer_status::from_error(&not_a_venv), installer_status::INSTALLER_ERR_IO);
        let missing = Error::NotInstalled { venv: "/v".into(), names: vec!["x".into()] };
        assert_eq!(installer_status::from_error(&missing), installer_status::INSTALLER_ERR_NOT_INSTALLED);
    }

    #[test]
    fn messages_are_static_text() {
        // SAFETY: installer_status_message returns a static NUL-terminated string.
        let text = |n| unsafe { CStr::from_ptr(installer_status_message(n)) }.to_str().unwrap();
        assert_eq!(text(1), "invalid argument");
        assert_eq!(text(42), "unknown status");
    }
}
