//! `nc_value` (a zero-copy handle on a value) and strings handed to C.

use std::ffi::{c_char, CString};

use bytes::Bytes;

use crate::ffi::{boundary_value, free_box, Castable};

/// A value read from the cache: a read-only view of the bytes L1 holds,
/// without copying them (it keeps a reference count on them).
///
/// Returned by `nc_cache_get`, `nc_cache_get_many` and `nc_cache_hget`; the
/// caller owns it and frees it with `nc_value_free`. The bytes stay valid and
/// unchanged until then, whatever happens to the key or the cache (even
/// after `nc_cache_free`). A value may be read from any thread, and freed
/// from any thread once nobody reads it.
pub struct nc_value {
    _private: [u8; 0],
}

impl Castable for nc_value {
    type Rust = Bytes;
}

/// The value's bytes (`nc_value_len` of them; not NUL-terminated; may
/// contain NUL). Valid until `nc_value_free(value)`. NULL gives NULL.
///
/// # Safety
/// A non-NULL `value` comes from nearcache and is not freed.
#[no_mangle]
pub unsafe extern "C" fn nc_value_data(value: *const nc_value) -> *const u8 {
    // SAFETY: the caller promises a live value; NULL is handled by `as_ref`.
    boundary_value(std::ptr::null(), || {
        unsafe { value.cast::<Bytes>().as_ref() }.map_or(std::ptr::null(), |b| b.as_ptr())
    })
}

/// The value's length in bytes. NULL gives 0.
///
/// # Safety
/// A non-NULL `value` comes from nearcache and is not freed.
#[no_mangle]
pub unsafe extern "C" fn nc_value_len(value: *const nc_value) -> usize {
    // SAFETY: the caller promises a live value; NULL is handled by `as_ref`.
    boundary_value(0, || unsafe { value.cast::<Bytes>().as_ref() }.map_or(0, Bytes::len))
}

/// Frees a value. NULL is a no-op.
///
/// # Safety
/// A non-NULL `value` comes from nearcache and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn nc_value_free(value: *mut nc_value) {
    // SAFETY: the caller gives up a pointer nearcache handed out.
    boundary_value((), || unsafe { free_box(value) })
}

/// Frees a string returned by nearcache (`nc_cache_stats_json`,
/// `nc_cache_config_json`, `nc_config_json`). NULL is a no-op. Never pass
/// `nc_last_error()` or `nc_status_code()` results here: those are not
/// owned by the caller.
///
/// # Safety
/// A non-NULL `text` comes from one of those functions and is not used
/// afterwards.
#[no_mangle]
pub unsafe extern "C" fn nc_string_free(text: *mut c_char) {
    boundary_value((), || {
        if !text.is_null() {
            // SAFETY: the caller gives up a pointer from `CString::into_raw`.
            drop(unsafe { CString::from_raw(text) });
        }
    })
}
