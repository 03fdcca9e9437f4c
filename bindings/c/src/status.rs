//! `nc_status`, the one mapping from core's `ErrorKind`, and the
//! per-thread error message.

use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::OnceLock;

use nearcache::ErrorKind;

use crate::ffi::{boundary_value, last_error_ptr};

/// What every `nc_` function that can fail returns.
///
/// Values are explicit and never renumbered or reused. Statuses below 100
/// are outcomes a caller expects (`NC_OK`, `NC_NOT_FOUND`, ...); statuses
/// from 100 up are errors (`NC_ERR_*`), one per error kind shared with the
/// other languages (see `nc_status_code`). After an error, `nc_last_error()`
/// describes it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum nc_status {
    /// Success.
    NC_OK = 0,
    /// The key (or hash field) does not exist; any output handle is set to
    /// NULL. Not an error.
    NC_NOT_FOUND = 1,
    /// `nc_cache_set` with `NC_SET_NX` or `NC_SET_XX`: the condition did not
    /// hold, nothing was written. Not an error.
    NC_NOT_WRITTEN = 2,
    /// `nc_cache_get_into`: the value is longer than the buffer; `*needed`
    /// holds its length and the buffer is untouched. Call again with a
    /// buffer at least that long.
    NC_BUFFER_TOO_SMALL = 3,
    /// `nc_cache_get_local`: L1 holds nothing for the key (neither a value
    /// nor a cached absence); only Redis can answer. Not an error.
    NC_NOT_CACHED = 4,
    /// The configuration is invalid; the message starts with the field path
    /// (`l1.max_bytes: ...`).
    NC_ERR_CONFIG = 100,
    /// Redis cannot be reached, or the connection was lost.
    NC_ERR_CONNECTION = 101,
    /// Redis did not answer within `redis.command_timeout` /
    /// `redis.connect_timeout`.
    NC_ERR_TIMEOUT = 102,
    /// Redis refused the credentials (`WRONGPASS`, `NOAUTH`, `NOPERM`).
    NC_ERR_AUTH = 103,
    /// Redis answered with an error reply (`WRONGTYPE`, unknown command).
    NC_ERR_REDIS = 104,
    /// A stored value has the compression frame's magic but a corrupt frame.
    NC_ERR_CODEC = 105,
    /// An argument was refused: a NULL pointer, a NULL buffer with a length,
    /// an empty or oversized key, an unknown flag, a refused raw command.
    NC_ERR_INVALID_ARGUMENT = 106,
    /// The cache was closed (`nc_cache_close`), or is used in a child
    /// process forked after it was opened.
    NC_ERR_CLOSED = 107,
    /// A loader supplied by the caller failed (reserved for `get_or_load`).
    NC_ERR_LOADER = 108,
    /// A bug in nearcache (a panic was caught); the message says where.
    NC_ERR_INTERNAL = 109,
    /// An optimistic transaction's `EXEC` was aborted because a watched key
    /// changed, on every attempt `redis.transaction_retries` allowed.
    NC_ERR_TRANSACTION_ABORTED = 110,
}

/// The status of an error kind. One exhaustive match without a `_` arm: a
/// new kind in core fails this build until it is given a status here.
pub(crate) const fn status_of(kind: ErrorKind) -> nc_status {
    match kind {
        ErrorKind::Config => nc_status::NC_ERR_CONFIG,
        ErrorKind::Connection => nc_status::NC_ERR_CONNECTION,
        ErrorKind::Timeout => nc_status::NC_ERR_TIMEOUT,
        ErrorKind::Auth => nc_status::NC_ERR_AUTH,
        ErrorKind::Redis => nc_status::NC_ERR_REDIS,
        ErrorKind::Codec => nc_status::NC_ERR_CODEC,
        ErrorKind::InvalidArgument => nc_status::NC_ERR_INVALID_ARGUMENT,
        ErrorKind::Closed => nc_status::NC_ERR_CLOSED,
        ErrorKind::Loader => nc_status::NC_ERR_LOADER,
        ErrorKind::Internal => nc_status::NC_ERR_INTERNAL,
        ErrorKind::TransactionAborted => nc_status::NC_ERR_TRANSACTION_ABORTED,
    }
}

/// The cross-language codes of `ErrorKind::ALL`, as C strings, built from
/// core's `ErrorKind::code()` so the text is defined once.
fn error_codes() -> &'static [(c_int, CString)] {
    static CODES: OnceLock<Vec<(c_int, CString)>> = OnceLock::new();
    CODES.get_or_init(|| {
        ErrorKind::ALL
            .iter()
            .map(|&kind| (status_of(kind) as c_int, CString::new(kind.code()).unwrap_or_default()))
            .collect()
    })
}

/// The message of this thread's last failed `nc_` call, or "" if the last
/// call that returns an `nc_status` succeeded. Functions that return no
/// status (accessors such as `nc_value_len`, `*_free`, `nc_status_code`)
/// leave the message as it is.
///
/// Never NULL. The string belongs to nearcache: do not free it; it stays
/// valid until this thread's next `nc_` call (copy it to keep it). Each
/// thread has its own message, so this is safe from any thread. Messages
/// name the key, host or config field involved, never a password.
#[no_mangle]
pub extern "C" fn nc_last_error() -> *const c_char {
    // Not through `boundary_value`: that would clear the message it returns.
    std::panic::catch_unwind(last_error_ptr).unwrap_or(c"".as_ptr())
}

/// The stable code of a status, shared with the other languages: `"NC_OK"`,
/// `"NC_NOT_FOUND"`, `"NC_NOT_WRITTEN"`, `"NC_BUFFER_TOO_SMALL"`,
/// `"NC_NOT_CACHED"`, and for
/// errors the code Python's `.code` and Node's `err.code` carry
/// (`NC_ERR_TIMEOUT` gives `"NC_TIMEOUT"`).
///
/// Takes an `int` so any value is safe to pass; an unknown value gives
/// `"NC_UNKNOWN_STATUS"`. Never NULL; the string is static (do not free).
/// Thread-safe.
#[no_mangle]
pub extern "C" fn nc_status_code(status: c_int) -> *const c_char {
    const UNKNOWN: &CStr = c"NC_UNKNOWN_STATUS";
    boundary_value(UNKNOWN.as_ptr(), || {
        let fixed: &CStr = match status {
            s if s == nc_status::NC_OK as c_int => c"NC_OK",
            s if s == nc_status::NC_NOT_FOUND as c_int => c"NC_NOT_FOUND",
            s if s == nc_status::NC_NOT_WRITTEN as c_int => c"NC_NOT_WRITTEN",
            s if s == nc_status::NC_BUFFER_TOO_SMALL as c_int => c"NC_BUFFER_TOO_SMALL",
            s if s == nc_status::NC_NOT_CACHED as c_int => c"NC_NOT_CACHED",
            s => {
                return error_codes()
                    .iter()
                    .find(|(code, _)| *code == s)
                    .map_or(UNKNOWN.as_ptr(), |(_, text)| text.as_ptr())
            }
        };
        fixed.as_ptr()
    })
}

/// The major version of the header (`NC_VERSION_MAJOR.MINOR.PATCH` is the
/// release the header belongs to; `nc_version()` is the library's, so a
/// program can compare the two at run time).
pub const NC_VERSION_MAJOR: u32 = 0;
/// The minor version of the header.
pub const NC_VERSION_MINOR: u32 = 1;
/// The patch version of the header.
pub const NC_VERSION_PATCH: u32 = 0;

// cbindgen can only write literals into the header, so the three numbers are
// spelled above; the build fails when they differ from the workspace version
// (`[workspace.package] version` in Cargo.toml, the one place it is set).
const _: () = {
    assert!(NC_VERSION_MAJOR == parse_u32(env!("CARGO_PKG_VERSION_MAJOR")), "NC_VERSION_MAJOR != Cargo version");
    assert!(NC_VERSION_MINOR == parse_u32(env!("CARGO_PKG_VERSION_MINOR")), "NC_VERSION_MINOR != Cargo version");
    assert!(NC_VERSION_PATCH == parse_u32(env!("CARGO_PKG_VERSION_PATCH")), "NC_VERSION_PATCH != Cargo version");
};

/// Decimal digits to a number, at compile time (for the assertions above).
const fn parse_u32(digits: &str) -> u32 {
    let bytes = digits.as_bytes();
    let mut value = 0u32;
    let mut i = 0;
    while i < bytes.len() {
        assert!(bytes[i].is_ascii_digit(), "version component is not a number");
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}

/// The library's version, `"MAJOR.MINOR.PATCH"`. Static; thread-safe.
#[no_mangle]
pub extern "C" fn nc_version() -> *const c_char {
    static VERSION: OnceLock<CString> = OnceLock::new();
    VERSION.get_or_init(|| CString::new(env!("CARGO_PKG_VERSION")).unwrap_or_default()).as_ptr()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn code(status: c_int) -> String {
        // SAFETY: nc_status_code returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(nc_status_code(status)) }.to_str().unwrap().to_owned()
    }

    #[test]
    fn every_kind_has_a_distinct_error_status_and_the_core_code() {
        let mut seen = Vec::new();
        for kind in ErrorKind::ALL {
            let status = status_of(kind) as c_int;
            assert!(status >= 100, "{kind:?} maps to a non-error status");
            assert!(!seen.contains(&status));
            seen.push(status);
            assert_eq!(code(status), kind.code());
        }
        assert_eq!(code(0), "NC_OK");
        assert_eq!(code(1), "NC_NOT_FOUND");
        assert_eq!(code(4), "NC_NOT_CACHED");
        assert_eq!(code(-5), "NC_UNKNOWN_STATUS");
    }
}
