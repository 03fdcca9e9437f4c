//! The machinery every export shares: the panic boundary, the per-thread
//! error message, and the checked conversions from C pointers.
//!
//! Modelled on rustls-ffi: each opaque C type names the Rust type behind it
//! once ([`Castable`]), and every pointer goes through one of the helpers
//! below, which turn NULL and impossible lengths into
//! `NC_ERR_INVALID_ARGUMENT` instead of undefined behaviour.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, CStr, CString};
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub(crate) use nearcache::Error;
use nearcache::ErrorKind;

use crate::status::{nc_status, status_of};

/// `Result` of the work inside an export.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

thread_local! {
    /// The message of this thread's last failed call. Only touched when a
    /// call fails or the previous one did, so the hit path pays one
    /// thread-local flag read.
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
    static HAS_ERROR: Cell<bool> = const { Cell::new(false) };
}

/// Runs the body of an export that returns `nc_status`: clears this thread's
/// previous message, catches panics (`NC_ERR_INTERNAL`) and records the
/// message of an error. A body returns `Ok` with a non-error status
/// (`NC_OK`, `NC_NOT_FOUND`, ...), or the core error.
#[inline]
pub(crate) fn boundary(body: impl FnOnce() -> Result<nc_status>) -> nc_status {
    clear_last_error();
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(status)) => status,
        Ok(Err(err)) => {
            set_last_error(err.message());
            status_of(err.kind())
        }
        Err(panic) => {
            let err = Error::from_panic(panic.as_ref());
            set_last_error(err.message());
            status_of(err.kind())
        }
    }
}

/// The boundary for exports that return a value rather than a status
/// (accessors, `*_free`, `nc_status_code`): a panic yields `fallback`. They
/// leave this thread's message alone, so that
/// `printf("%s: %s", nc_status_code(s), nc_last_error())` works in either
/// evaluation order.
#[inline]
pub(crate) fn boundary_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(panic) => {
            set_last_error(Error::from_panic(panic.as_ref()).message());
            fallback
        }
    }
}

#[inline]
fn clear_last_error() {
    // `try_with`: during thread teardown the slot may be gone; nothing to clear.
    let had = HAS_ERROR.try_with(|flag| flag.replace(false)).unwrap_or(false);
    if had {
        let _ = LAST_ERROR.try_with(|slot| slot.borrow_mut().take());
    }
}

/// Records `message` as this thread's last error. Interior NUL bytes (a
/// binary key quoted in a message) are dropped so the C string stays whole.
pub(crate) fn set_last_error(message: &str) {
    let mut bytes = message.as_bytes().to_vec();
    bytes.retain(|&b| b != 0);
    let text = CString::new(bytes).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = Some(text));
    let _ = HAS_ERROR.try_with(|flag| flag.set(true));
}

/// The current message, or "" when the last call succeeded. The pointer
/// stays valid until this thread's next `nc_` call.
pub(crate) fn last_error_ptr() -> *const c_char {
    const EMPTY: &CStr = c"";
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ref().map_or(EMPTY.as_ptr(), |text| text.as_ptr()))
        .unwrap_or(EMPTY.as_ptr())
}

/// A copy of this thread's current message ("" after a success).
pub(crate) fn last_error_message() -> String {
    // SAFETY: `last_error_ptr` never returns NULL and the string lives until
    // this thread's next call; it is copied at once.
    unsafe { CStr::from_ptr(last_error_ptr()) }.to_string_lossy().into_owned()
}

pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// Ties an opaque C type to the Rust value behind its pointers.
pub(crate) trait Castable {
    /// What a `*const Self` really points to.
    type Rust;
}

/// Moves `value` to the heap and hands the pointer to C, which returns it
/// to the matching `*_free` (and [`free_box`]).
pub(crate) fn into_raw<C: Castable>(value: C::Rust) -> *mut C {
    Box::into_raw(Box::new(value)).cast()
}

/// Borrows the Rust value behind a C pointer; NULL is an invalid argument
/// named `what`.
///
/// # Safety
/// A non-NULL `ptr` must come from [`into_raw`] for the same `C` (or point
/// inside a value so created, like a reply element), not yet freed, and not
/// mutated for `'a`.
pub(crate) unsafe fn try_ref<'a, C: Castable>(ptr: *const C, what: &str) -> Result<&'a C::Rust> {
    // SAFETY: the caller promises a live `C::Rust` behind a non-NULL `ptr`;
    // `as_ref` handles NULL.
    unsafe { ptr.cast::<C::Rust>().as_ref() }.ok_or_else(|| invalid(format!("{what} is NULL")))
}

/// Borrows the Rust value behind a C pointer mutably.
///
/// # Safety
/// As [`try_ref`], and no other reference to the value may exist for `'a`.
pub(crate) unsafe fn try_mut<'a, C: Castable>(ptr: *mut C, what: &str) -> Result<&'a mut C::Rust> {
    // SAFETY: the caller promises a live, unaliased `C::Rust` behind a
    // non-NULL `ptr`; `as_mut` handles NULL.
    unsafe { ptr.cast::<C::Rust>().as_mut() }.ok_or_else(|| invalid(format!("{what} is NULL")))
}

/// Drops a value handed out by [`into_raw`]; NULL is a no-op.
///
/// # Safety
/// A non-NULL `ptr` must come from [`into_raw`] for the same `C` and must
/// not be used again.
pub(crate) unsafe fn free_box<C: Castable>(ptr: *mut C) {
    if !ptr.is_null() {
        // SAFETY: the caller promises `ptr` came from `Box::into_raw` of a
        // `C::Rust` and is given up here.
        drop(unsafe { Box::from_raw(ptr.cast::<C::Rust>()) });
    }
}

/// Checks an output pointer up front, so that the work is not done for
/// nothing; it is written only once the call has succeeded.
pub(crate) fn out_ptr<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T> {
    // SAFETY: a non-NULL output pointer is the caller's promise of a
    // writable, aligned `T`; nothing else references it during the call.
    unsafe { ptr.as_mut() }.ok_or_else(|| invalid(format!("{what} is NULL")))
}

/// Checks an output array of `n` elements up front, like [`out_ptr`]:
/// NULL is refused only when there is something to write (`n == 0` accepts
/// any pointer). The elements may be uninitialised; they are written only
/// once the call has succeeded.
///
/// # Safety
/// A non-NULL `ptr` must be writable for `n` elements, and nothing else may
/// reference them during the call.
pub(crate) unsafe fn out_array<'a, T>(ptr: *mut T, n: usize, what: &str) -> Result<&'a mut [MaybeUninit<T>]> {
    if n == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(invalid(format!("{what} is NULL but the count is {n}")));
    }
    if n > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(invalid(format!("{what}: count {n} is larger than any array")));
    }
    // SAFETY: non-NULL, within isize::MAX bytes, and the caller promises `n`
    // writable, unaliased elements; `MaybeUninit` makes no claim on their
    // contents.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr.cast::<MaybeUninit<T>>(), n) })
}

/// A byte string from `(ptr, len)`. `len == 0` accepts any `ptr`, NULL
/// included; a NULL `ptr` with a length, or a length no object can have, is
/// an invalid argument.
///
/// # Safety
/// A non-NULL `ptr` must be readable for `len` bytes for `'a`.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(invalid(format!("{what} is NULL but its length is {len}")));
    }
    if len > isize::MAX as usize {
        return Err(invalid(format!("{what}: length {len} is larger than any object")));
    }
    // SAFETY: non-NULL, `len` within isize::MAX, and the caller promises
    // `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// `n` byte strings from parallel arrays of pointers and lengths.
///
/// # Safety
/// Non-NULL `ptrs` and `lens` must be readable for `n` elements, and each
/// pair must satisfy [`bytes`].
pub(crate) unsafe fn byte_array<'a>(
    n: usize,
    ptrs: *const *const u8,
    lens: *const usize,
    what: &str,
) -> Result<Vec<&'a [u8]>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if ptrs.is_null() || lens.is_null() {
        return Err(invalid(format!("{what}: the pointer or length array is NULL but the count is {n}")));
    }
    if n > isize::MAX as usize / std::mem::size_of::<*const u8>() {
        return Err(invalid(format!("{what}: count {n} is larger than any array")));
    }
    // SAFETY: both arrays are non-NULL and the caller promises `n` elements.
    let (ptrs, lens) = unsafe { (std::slice::from_raw_parts(ptrs, n), std::slice::from_raw_parts(lens, n)) };
    ptrs.iter()
        .zip(lens)
        .enumerate()
        // SAFETY: the caller promises each pair describes readable bytes.
        .map(|(i, (&ptr, &len))| unsafe { bytes(ptr, len, &format!("{what}[{i}]")) })
        .collect()
}

/// `n` numbers from a C array (`n == 0` accepts any pointer). Values are
/// copied as given: whether one is acceptable (NaN, say) is core's call.
///
/// # Safety
/// A non-NULL `ptr` must be readable for `n` elements.
pub(crate) unsafe fn f64_array(n: usize, ptr: *const f64, what: &str) -> Result<Vec<f64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(invalid(format!("{what} is NULL but the count is {n}")));
    }
    if n > isize::MAX as usize / std::mem::size_of::<f64>() {
        return Err(invalid(format!("{what}: count {n} is larger than any array")));
    }
    // SAFETY: non-NULL, within isize::MAX bytes, and the caller promises `n`
    // readable elements.
    Ok(unsafe { std::slice::from_raw_parts(ptr, n) }.to_vec())
}

/// A NUL-terminated UTF-8 string.
///
/// # Safety
/// A non-NULL `ptr` must point to a NUL-terminated string readable for `'a`.
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map_err(|_| invalid(format!("{what} is not valid UTF-8")))
}

/// Hands a Rust string to C as a `char *` freed by `nc_string_free`.
pub(crate) fn into_c_string(text: String) -> *mut c_char {
    let mut bytes = text.into_bytes();
    // JSON escapes NUL, so this only guards against a future change.
    bytes.retain(|&b| b != 0);
    CString::new(bytes).unwrap_or_default().into_raw()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::status::nc_status::*;

    fn last_error() -> String {
        // SAFETY: the pointer is valid until the next call on this thread.
        unsafe { CStr::from_ptr(last_error_ptr()) }.to_str().unwrap().to_owned()
    }

    #[test]
    fn a_panic_becomes_internal_with_cores_text() {
        let status = boundary(|| panic!("boom"));
        assert_eq!(status, NC_ERR_INTERNAL);
        assert_eq!(last_error(), "internal error (a bug in nearcache, please report it): panic: boom");
        let value = boundary_value(7, || panic!("again {}", 2));
        assert_eq!(value, 7);
        assert_eq!(last_error(), "internal error (a bug in nearcache, please report it): panic: again 2");
    }

    #[test]
    fn the_message_lasts_until_the_next_call() {
        assert_eq!(boundary(|| Err(invalid("bad \0key"))), NC_ERR_INVALID_ARGUMENT);
        assert_eq!(last_error(), "bad key");
        assert_eq!(boundary(|| Ok(NC_OK)), NC_OK);
        assert_eq!(last_error(), "");
    }

    #[test]
    fn null_and_impossible_lengths_are_refused() {
        // SAFETY: NULL and zero lengths are what is being tested.
        unsafe {
            assert!(bytes(std::ptr::null(), 0, "key").unwrap().is_empty());
            assert_eq!(bytes(std::ptr::null(), 3, "key").unwrap_err().kind(), ErrorKind::InvalidArgument);
            let b = [1u8];
            assert_eq!(bytes(b.as_ptr(), usize::MAX, "key").unwrap_err().kind(), ErrorKind::InvalidArgument);
            assert_eq!(
                byte_array(2, std::ptr::null(), std::ptr::null(), "keys").unwrap_err().kind(),
                ErrorKind::InvalidArgument
            );
            assert_eq!(c_str(std::ptr::null(), "path").unwrap_err().message(), "path is NULL");
        }
    }
}
