//! Conversions at the boundary: opaque handles to their Rust types, C strings to `&str`.
//! Every pointer from C passes through here, so the NULL and UTF-8 checks live in one place.

use std::ffi::{c_char, CStr};

use installer_core::Error;

/// Binds an opaque C handle type (which holds only `_private: [u8; 0]`) to the Rust type it
/// stands for, so a pointer can only ever be cast to that one type. Handles are always
/// created by [`to_boxed_mut_ptr`] and released by [`free_box`].
pub(crate) trait Castable {
    type RustType;
}

/// Moves `value` to the heap and hands ownership to C as an opaque pointer.
pub(crate) fn to_boxed_mut_ptr<C: Castable>(value: C::RustType) -> *mut C {
    Box::into_raw(Box::new(value)).cast()
}

/// Takes back and drops a handle made by [`to_boxed_mut_ptr`]; NULL is a no-op.
///
/// # Safety
/// `ptr` is NULL or came from `to_boxed_mut_ptr::<C>` and has not been freed.
pub(crate) unsafe fn free_box<C: Castable>(ptr: *mut C) {
    if !ptr.is_null() {
        // SAFETY: the caller guarantees `ptr` came from `Box::into_raw` of a `C::RustType` in
        // `to_boxed_mut_ptr` and is freed once; it is not NULL.
        drop(unsafe { Box::from_raw(ptr.cast::<C::RustType>()) });
    }
}

/// # Safety
/// `ptr` is NULL or a live handle from `to_boxed_mut_ptr::<C>`.
pub(crate) unsafe fn cast_ref<'a, C: Castable>(ptr: *const C) -> Option<&'a C::RustType> {
    // SAFETY: the caller guarantees NULL (gives None) or a live handle whose pointee is the
    // `C::RustType` that `to_boxed_mut_ptr` boxed.
    unsafe { ptr.cast::<C::RustType>().as_ref() }
}

/// Returns `INSTALLER_ERR_INVALID_ARGUMENT` from the enclosing function when the context is
/// NULL (there is no context to record a message on) or already in use by a call on it (a
/// callback calling back into its context, which the docs forbid: nothing is recorded, the
/// running call's context is not touched), else evaluates to the context, held until the
/// value is dropped (bind it `let mut`).
macro_rules! try_mut_from_ptr {
    ($ptr:expr) => {
        // SAFETY: every export documents that its context is NULL or a live context, which is
        // `enter`'s contract.
        match unsafe { $crate::context::enter($ptr) } {
            Some(value) => value,
            None => return $crate::status::installer_status::INSTALLER_ERR_INVALID_ARGUMENT,
        }
    };
}
pub(crate) use try_mut_from_ptr;

/// A NUL-terminated UTF-8 string argument; `what` names the parameter in the error.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, what: &'static str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(invalid(what, "NULL pointer".to_owned()));
    }
    // SAFETY: not NULL (checked above); the caller guarantees a NUL-terminated string that
    // outlives `'a`.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map_err(|e| invalid(what, format!("not valid UTF-8 ({e})")))
}

/// An array of `len` string arguments; `what` names the parameter in the error. A NULL
/// array is accepted only when `len` is 0. An empty string is refused: no wheel file and no
/// distribution is called "" (a wheel "" was refused as a file name without `.whl`, a name ""
/// as "not installed in <venv>: " followed by nothing).
///
/// # Safety
/// `ptr` is NULL or points to `len` pointers, each valid for [`str_arg`].
pub(crate) unsafe fn str_array_arg<'a>(
    ptr: *const *const c_char,
    len: usize,
    what: &'static str,
) -> Result<Vec<&'a str>, Error> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(invalid(what, format!("NULL array of {len} strings")));
    }
    // No array is that long (a negative count cast to size_t, such as -1), nor misaligned; a
    // slice made of either is undefined behaviour, which debug builds turn into an abort that
    // no panic boundary catches.
    if len > isize::MAX as usize / std::mem::size_of::<*const c_char>() {
        return Err(invalid(what, format!("{len} strings: more than any array holds (a negative count?)")));
    }
    if !ptr.is_aligned() {
        return Err(invalid(what, "misaligned array of strings".to_owned()));
    }
    // SAFETY: not NULL, aligned, `len > 0` and within `isize::MAX` bytes (checked above); the
    // caller guarantees `len` readable pointers that outlive `'a`.
    let items = unsafe { std::slice::from_raw_parts(ptr, len) };
    items
        .iter()
        .enumerate()
        .map(|(i, &item)| {
            // SAFETY: the caller guarantees each element is valid for `str_arg`.
            match unsafe { str_arg(item, what) } {
                Ok("") => Err(invalid(what, format!("element {i}: empty string"))),
                Ok(item) => Ok(item),
                Err(Error::InvalidArgument { what, reason }) => {
                    Err(invalid(what, format!("element {i}: {reason}")))
                }
                Err(other) => Err(other),
            }
        })
        .collect()
}

pub(crate) fn invalid(what: &'static str, reason: String) -> Error {
    Error::InvalidArgument { what, reason }
}

/// What [`printable`] makes of a line break (and a tab).
#[derive(Clone, Copy)]
pub(crate) enum Breaks {
    /// Escaped as every other control character: text whose names come from an archive.
    Escape,
    /// A space: the one line of the last error.
    Space,
    /// Kept, with tabs: a warning, whose lines say what happened, then why and what to do.
    Keep,
}

/// `text` as C receives it: every control character escaped as Rust escapes them (`\r`,
/// `\u{1b}`, `\u{0}`), but line breaks (and tabs) as `breaks` says, so that a name from a
/// hostile archive can neither break a line nor send a terminal an escape sequence, and no NUL
/// cuts the string short. The CLI prints its errors so.
pub(crate) fn printable(text: &str, breaks: Breaks) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match (c, breaks) {
            ('\n', Breaks::Space) => out.push(' '),
            ('\n' | '\t', Breaks::Keep) => out.push(c),
            (c, _) if c.is_control() => out.extend(c.escape_default()),
            (c, _) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_arguments_are_checked() {
        let bad = [0xffu8, 0];
        // SAFETY: a NUL-terminated buffer that outlives the call.
        let err = unsafe { str_arg(bad.as_ptr().cast(), "venv") }.unwrap_err();
        assert!(err.one_line().starts_with("invalid venv: not valid UTF-8"), "{}", err.one_line());
        // SAFETY: NULL is accepted.
        let err = unsafe { str_arg(std::ptr::null(), "venv") }.unwrap_err();
        assert_eq!(err.one_line(), "invalid venv: NULL pointer");
        // SAFETY: a NUL-terminated literal.
        assert_eq!(unsafe { str_arg(c"ok".as_ptr(), "venv") }.unwrap(), "ok");
    }

    #[test]
    fn string_arrays_name_the_bad_element() {
        let items = [c"a.whl".as_ptr(), std::ptr::null()];
        // SAFETY: two readable pointers, each NULL or a NUL-terminated literal.
        let err = unsafe { str_array_arg(items.as_ptr(), 2, "wheels") }.unwrap_err();
        assert_eq!(err.one_line(), "invalid wheels: element 1: NULL pointer");
        // SAFETY: one readable pointer to a NUL-terminated literal.
        assert_eq!(unsafe { str_array_arg(items.as_ptr(), 1, "wheels") }.unwrap(), ["a.whl"]);
        let empty = [c"".as_ptr()];
        // SAFETY: one readable pointer to a NUL-terminated literal.
        let err = unsafe { str_array_arg(empty.as_ptr(), 1, "names") }.unwrap_err();
        assert_eq!(err.one_line(), "invalid names: element 0: empty string");
        // SAFETY: a NULL array is accepted with length 0.
        assert!(unsafe { str_array_arg(std::ptr::null(), 0, "wheels") }.unwrap().is_empty());
        // SAFETY: a NULL array with length 1 is refused before any read.
        assert!(unsafe { str_array_arg(std::ptr::null(), 1, "wheels") }.is_err());
        // SAFETY: a count no array can have is refused before any read.
        let err = unsafe { str_array_arg(items.as_ptr(), usize::MAX, "wheels") }.unwrap_err();
        assert!(
            err.one_line().starts_with("invalid wheels: 18446744073709551615 strings"),
            "{}",
            err.one_line()
        );
        let misaligned = items.as_ptr().cast::<u8>().wrapping_add(1).cast::<*const c_char>();
        // SAFETY: a misaligned array is refused before any read.
        assert!(unsafe { str_array_arg(misaligned, 1, "wheels") }.is_err());
    }
}
