//! `nc_scan`: iterating over keys with SCAN (never KEYS).

use nearcache::blocking::Scan;

use crate::cache::nc_cache;
use crate::ffi::{self, boundary, bytes, free_box, out_ptr, try_mut, try_ref, Castable};
use crate::status::nc_status;
use crate::value::nc_value;

/// An iteration over the keys matching a pattern, opened by
/// `nc_cache_scan` and freed by `nc_scan_free`.
///
/// One thread at a time may call `nc_scan_next` on a scan (it is not
/// synchronised); different scans may run on different threads at once. A
/// scan keeps its cache alive internally, but calls after the cache is
/// closed return `NC_ERR_CLOSED`.
pub struct nc_scan {
    _private: [u8; 0],
}

impl Castable for nc_scan {
    type Rust = Scan;
}

/// Starts a scan over the keys matching the glob `pattern` (`pattern_len`
/// bytes; `pattern = NULL, pattern_len = 0` means every key, while an empty
/// non-NULL pattern matches only the empty key, so nothing). Keys may
/// repeat, as SCAN only guarantees that a key present for the whole scan is
/// returned. No I/O happens until `nc_scan_next`.
///
/// On `NC_OK`, `*out` receives the scan, freed by the caller with
/// `nc_scan_free`. Returns `NC_ERR_INVALID_ARGUMENT` for NULL arguments.
/// Thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `pattern` is readable for
/// `pattern_len` bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_scan(
    cache: *const nc_cache,
    pattern: *const u8,
    pattern_len: usize,
    out: *mut *mut nc_scan,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache.
        let cache = unsafe { try_ref::<nc_cache>(cache, "cache") }?;
        // NULL is C's spelling of "no pattern"; any other pattern, the empty
        // one included, goes to core as it is (as "" does from Python/Node).
        let pattern = if pattern.is_null() && pattern_len == 0 {
            None
        } else {
            // SAFETY: the caller promises `pattern_len` readable bytes.
            Some(unsafe { bytes(pattern, pattern_len, "pattern") }?)
        };
        let out = out_ptr(out, "out")?;
        *out = ffi::into_raw::<nc_scan>(cache.scan(pattern));
        Ok(nc_status::NC_OK)
    })
}

/// The next key of a scan.
///
/// `NC_OK`: `*key` receives the key as a value handle, freed by the caller
/// with `nc_value_free`. `NC_NOT_FOUND`: the scan is over; `*key` is set to
/// NULL (and later calls say so again). Errors: `NC_ERR_INVALID_ARGUMENT`
/// (NULL arguments), `NC_ERR_CONNECTION`, `NC_ERR_TIMEOUT`, `NC_ERR_CLOSED`;
/// `*key` untouched. Blocking when a new batch is fetched; one thread at a
/// time per scan.
///
/// # Safety
/// `scan` comes from `nc_cache_scan` and is not freed; `key` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_scan_next(scan: *mut nc_scan, key: *mut *mut nc_value) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live scan used by one thread.
        let scan = unsafe { try_mut(scan, "scan") }?;
        let out = out_ptr(key, "key")?;
        match scan.next().transpose()? {
            Some(found) => {
                *out = ffi::into_raw::<nc_value>(found);
                Ok(nc_status::NC_OK)
            }
            None => {
                *out = std::ptr::null_mut();
                Ok(nc_status::NC_NOT_FOUND)
            }
        }
    })
}

/// Frees a scan (finished or not). NULL is a no-op.
///
/// # Safety
/// A non-NULL `scan` comes from `nc_cache_scan` and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn nc_scan_free(scan: *mut nc_scan) {
    // SAFETY: the caller gives up a pointer nearcache handed out.
    ffi::boundary_value((), || unsafe { free_box(scan) })
}
