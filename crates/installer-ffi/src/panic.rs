//! The panic boundary: no Rust panic may unwind into C (that is undefined behaviour), so the
//! body of every exported function runs inside [`ffi_panic_boundary!`].

use std::any::Any;
use std::ffi::c_char;

use crate::status::installer_status;

/// What an exported function returns when its body panicked.
pub(crate) trait PanicOrDefault {
    fn value() -> Self;
}

impl PanicOrDefault for installer_status {
    fn value() -> Self {
        installer_status::INSTALLER_ERR_PANIC
    }
}

/// For the functions returning static or context-owned strings: a static "" (never NULL, so
/// C callers can print the result unconditionally).
impl PanicOrDefault for *const c_char {
    fn value() -> Self {
        c"".as_ptr()
    }
}

impl PanicOrDefault for () {
    fn value() -> Self {}
}

/// Runs the body under `catch_unwind`; a panic becomes [`PanicOrDefault::value`] of the
/// function's return type (`INSTALLER_ERR_PANIC` for statuses). `return` inside the body
/// returns from the closure, i.e. from the exported function.
macro_rules! ffi_panic_boundary {
    ( $($body:tt)* ) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| { $($body)* })) {
            Ok(value) => value,
            Err(_) => $crate::panic::PanicOrDefault::value(),
        }
    };
}
pub(crate) use ffi_panic_boundary;

/// The message a panic was raised with (`panic!("...")`, `todo!()`), for `installer_last_error`.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "unknown panic payload"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn panicking_status() -> installer_status {
        ffi_panic_boundary! {
            if true {
                panic!("boom");
            }
            installer_status::INSTALLER_OK
        }
    }

    fn panicking_string() -> *const c_char {
        ffi_panic_boundary! {
            panic!("boom")
        }
    }

    #[test]
    fn panics_become_values() {
        assert_eq!(panicking_status(), installer_status::INSTALLER_ERR_PANIC);
        // SAFETY: panicking_string returns a static NUL-terminated string.
        assert_eq!(unsafe { CStr::from_ptr(panicking_string()) }, c"");
    }

    #[test]
    fn panic_messages_are_recovered() {
        let payload = std::panic::catch_unwind(|| panic!("not yet implemented: {}", 1)).unwrap_err();
        assert_eq!(panic_message(&*payload), "not yet implemented: 1");
        let payload = std::panic::catch_unwind(|| panic!("static")).unwrap_err();
        assert_eq!(panic_message(&*payload), "static");
    }
}
