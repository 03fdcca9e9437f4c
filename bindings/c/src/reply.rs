//! `nc_reply`: the reply tree of a raw command.

use nearcache::Reply;

use crate::ffi::{self, boundary, boundary_value, free_box, invalid, out_ptr, try_ref, Castable};
use crate::status::nc_status;

/// The reply to `nc_cache_command`: a tree of RESP3 values.
///
/// The root is owned by the caller and freed with `nc_reply_free`; elements
/// reached through `nc_reply_element` are borrowed from the root, valid until
/// the root is freed, and must not be freed themselves. A reply is
/// immutable: it may be read from several threads at once.
pub struct nc_reply {
    _private: [u8; 0],
}

impl Castable for nc_reply {
    type Rust = Reply;
}

/// The shared body of the calls that take one command in argv form and hand
/// back its reply tree (`nc_cache_command`, `nc_cache_read`,
/// `nc_transaction_command`): checks `handle`, the arguments and `out`, in
/// that order, then runs `call`.
///
/// # Safety
/// `argv` and `argv_lens` have `argc` elements, each readable for its
/// length; a non-NULL `out` is writable.
pub(crate) unsafe fn argv_reply<H>(
    handle: ffi::Result<&H>,
    argc: usize,
    argv: *const *const u8,
    argv_lens: *const usize,
    out: *mut *mut nc_reply,
    call: impl FnOnce(&H, &[&[u8]]) -> ffi::Result<Reply>,
) -> ffi::Result<nc_status> {
    let handle = handle?;
    // SAFETY: forwarded to the caller.
    let args = unsafe { ffi::byte_array(argc, argv, argv_lens, "argv") }?;
    let out = out_ptr(out, "out")?;
    *out = ffi::into_raw::<nc_reply>(call(handle, &args)?);
    Ok(nc_status::NC_OK)
}

/// The type of a reply node.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum nc_reply_type {
    /// A nil reply (also what `nc_reply_get_type(NULL)` gives).
    NC_REPLY_NIL = 0,
    /// An integer: `nc_reply_integer`.
    NC_REPLY_INTEGER = 1,
    /// A bulk string (binary-safe): `nc_reply_string`.
    NC_REPLY_STRING = 2,
    /// A simple status such as `OK`: `nc_reply_string`.
    NC_REPLY_STATUS = 3,
    /// A RESP3 double: `nc_reply_double`.
    NC_REPLY_DOUBLE = 4,
    /// A RESP3 boolean: `nc_reply_integer` gives 1 or 0.
    NC_REPLY_BOOL = 5,
    /// A RESP3 big number, as decimal text: `nc_reply_string`.
    NC_REPLY_BIG_NUMBER = 6,
    /// An array: `nc_reply_len`, `nc_reply_element`.
    NC_REPLY_ARRAY = 7,
    /// A RESP3 set: `nc_reply_len`, `nc_reply_element`.
    NC_REPLY_SET = 8,
    /// A RESP3 map, flattened as key, value, key, value...:
    /// `nc_reply_len` (twice the number of pairs), `nc_reply_element`.
    NC_REPLY_MAP = 9,
    /// An error nested inside an aggregate (a top-level error reply is the
    /// status `NC_ERR_REDIS` instead): `nc_reply_string`.
    NC_REPLY_ERROR = 10,
}

fn type_of(reply: &Reply) -> nc_reply_type {
    use nc_reply_type::*;
    match reply {
        Reply::Nil => NC_REPLY_NIL,
        Reply::Int(_) => NC_REPLY_INTEGER,
        Reply::Bytes(_) => NC_REPLY_STRING,
        Reply::Status(_) => NC_REPLY_STATUS,
        Reply::Double(_) => NC_REPLY_DOUBLE,
        Reply::Bool(_) => NC_REPLY_BOOL,
        Reply::BigNumber(_) => NC_REPLY_BIG_NUMBER,
        Reply::Array(_) => NC_REPLY_ARRAY,
        Reply::Set(_) => NC_REPLY_SET,
        Reply::Map(_) => NC_REPLY_MAP,
        Reply::Error(_) => NC_REPLY_ERROR,
    }
}

fn wrong_type(reply: &Reply, wanted: &str) -> ffi::Error {
    invalid(format!("the reply is {:?}, not {wanted}", type_of(reply)))
}

/// The body of the scalar accessors: `*out` receives what `read` takes from
/// the node, or the call is `NC_ERR_INVALID_ARGUMENT` naming the type the
/// caller `wanted` (and NULL arguments).
///
/// # Safety
/// A non-NULL `reply` is a live root or element; a non-NULL `out` is writable.
unsafe fn read_scalar<T>(
    reply: *const nc_reply,
    out: *mut T,
    wanted: &str,
    read: impl FnOnce(&Reply) -> Option<T>,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live reply.
        let reply = unsafe { try_ref(reply, "reply") }?;
        let out = out_ptr(out, "out")?;
        *out = read(reply).ok_or_else(|| wrong_type(reply, wanted))?;
        Ok(nc_status::NC_OK)
    })
}

/// The type of a reply node; NULL gives `NC_REPLY_NIL`.
///
/// # Safety
/// A non-NULL `reply` is a live root or element.
#[no_mangle]
pub unsafe extern "C" fn nc_reply_get_type(reply: *const nc_reply) -> nc_reply_type {
    // SAFETY: the caller promises a live reply; NULL is handled by `as_ref`.
    boundary_value(nc_reply_type::NC_REPLY_NIL, || {
        unsafe { reply.cast::<Reply>().as_ref() }.map_or(nc_reply_type::NC_REPLY_NIL, type_of)
    })
}

/// The integer of an `NC_REPLY_INTEGER` node (or 1/0 for `NC_REPLY_BOOL`),
/// written to `*out` on `NC_OK`. Other types and NULL arguments give
/// `NC_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// A non-NULL `reply` is a live root or element.
#[no_mangle]
pub unsafe extern "C" fn nc_reply_integer(reply: *const nc_reply, out: *mut i64) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe {
        read_scalar(reply, out, "an integer", |reply| match reply {
            Reply::Int(i) => Some(*i),
            Reply::Bool(b) => Some(i64::from(*b)),
            _ => None,
        })
    }
}

/// The number of an `NC_REPLY_DOUBLE` node, written to `*out` on `NC_OK`.
/// Other types and NULL arguments give `NC_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// A non-NULL `reply` is a live root or element.
#[no_mangle]
pub unsafe extern "C" fn nc_reply_double(reply: *const nc_reply, out: *mut f64) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { read_scalar(reply, out, "a double", |reply| if let Reply::Double(d) = reply { Some(*d) } else { None }) }
}

/// The bytes of an `NC_REPLY_STRING`, `NC_REPLY_STATUS`,
/// `NC_REPLY_BIG_NUMBER` or `NC_REPLY_ERROR` node: on `NC_OK`, `*data`
/// points to `*len` bytes (not NUL-terminated) borrowed from the root reply,
/// valid until it is freed. Other types and NULL arguments give
/// `NC_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// A non-NULL `reply` is a live root or element.
#[no_mangle]
pub unsafe extern "C" fn nc_reply_string(reply: *const nc_reply, data: *mut *const u8, len: *mut usize) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live reply.
        let reply = unsafe { try_ref(reply, "reply") }?;
        let data = out_ptr(data, "data")?;
        let len = out_ptr(len, "len")?;
        let bytes: &[u8] = match reply {
            Reply::Bytes(b) => b,
            Reply::Status(s) | Reply::BigNumber(s) | Reply::Error(s) => s.as_bytes(),
            other => return Err(wrong_type(other, "a string")),
        };
        *data = bytes.as_ptr();
        *len = bytes.len();
        Ok(nc_status::NC_OK)
    })
}

/// The number of elements of an `NC_REPLY_ARRAY` or `NC_REPLY_SET`, or
/// twice the number of pairs of an `NC_REPLY_MAP`; 0 for other types and
/// NULL.
///
/// # Safety
/// A non-NULL `reply` is a live root or element.
#[no_mangle]
pub unsafe extern "C" fn nc_reply_len(reply: *const nc_reply) -> usize {
    boundary_value(0, || {
        // SAFETY: the caller promises a live reply; NULL is handled by `as_ref`.
        match unsafe { reply.cast::<Reply>().as_ref() } {
            Some(Reply::Array(items) | Reply::Set(items)) => items.len(),
            Some(Reply::Map(pairs)) => pairs.len() * 2,
            _ => 0,
        }
    })
}

/// Element `index` of an aggregate (maps: even indexes are keys, odd ones
/// values). On `NC_OK`, `*out` points to the element, borrowed from the root
/// reply (do not free it). An index out of range, a non-aggregate node or
/// NULL arguments give `NC_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// A non-NULL `reply` is a live root or element.
#[no_mangle]
pub unsafe extern "C" fn nc_reply_element(
    reply: *const nc_reply,
    index: usize,
    out: *mut *const nc_reply,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live reply.
        let reply = unsafe { try_ref(reply, "reply") }?;
        let out = out_ptr(out, "out")?;
        let element = match reply {
            Reply::Array(items) | Reply::Set(items) => items.get(index),
            Reply::Map(pairs) => pairs.get(index / 2).map(|(k, v)| if index % 2 == 0 { k } else { v }),
            other => return Err(wrong_type(other, "an aggregate")),
        };
        let element = element.ok_or_else(|| invalid(format!("index {index} is out of range")))?;
        *out = (element as *const Reply).cast();
        Ok(nc_status::NC_OK)
    })
}

/// Frees a reply returned by `nc_cache_command`, with all its elements.
/// NULL is a no-op. Never pass an element from `nc_reply_element`.
///
/// # Safety
/// A non-NULL `reply` is a root from `nc_cache_command`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn nc_reply_free(reply: *mut nc_reply) {
    // SAFETY: the caller gives up a root reply nearcache handed out.
    boundary_value((), || unsafe { free_box(reply) })
}
