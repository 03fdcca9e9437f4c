//! Exports for tests only, compiled with the `test-hooks` feature and left
//! out of `include/nearcache.h` (cbindgen.toml `[export] exclude`): a test
//! declares the prototype itself.

use std::ffi::c_char;

use crate::ffi::{boundary, c_str};
use crate::status::nc_status;

/// Panics inside the boundary with `message`, so a test sees what a bug in
/// nearcache gives a C caller: `NC_ERR_INTERNAL`, and `nc_last_error()`
/// "internal error (a bug in nearcache, please report it): panic: <message>"
/// (core's text, the same in every language). A NULL or non-UTF-8 `message`
/// is `NC_ERR_INVALID_ARGUMENT`, without a panic.
///
/// # Safety
/// `message` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn nc_test_panic(message: *const c_char) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a NUL-terminated string.
        let message = unsafe { c_str(message, "message") }?;
        panic!("{message}")
    })
}
