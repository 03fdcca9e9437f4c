//! JavaScript values to bytes and back.
//!
//! Keys and values arrive as `string` (UTF-8 encoded) or `Buffer` /
//! `Uint8Array`; values leave as `Buffer`. Raw napi calls here: the typed
//! wrappers would allocate a `String` per key on the hit path.

use std::ptr;
use std::time::Duration;

use bytes::Bytes;
use napi::sys;
use nearcache::Reply;

use crate::error::{ArgError, ArgResult};

/// Keys up to this long are read into a stack buffer (no allocation).
const INLINE_KEY: usize = 256;

fn type_of(env: sys::napi_env, value: sys::napi_value) -> sys::napi_valuetype {
    let mut kind = sys::ValueType::napi_undefined;
    // SAFETY: JS thread, a live value.
    unsafe { sys::napi_typeof(env, value, &mut kind) };
    kind
}

fn type_name(env: sys::napi_env, value: sys::napi_value) -> &'static str {
    match type_of(env, value) {
        sys::ValueType::napi_undefined => "undefined",
        sys::ValueType::napi_null => "null",
        sys::ValueType::napi_boolean => "a boolean",
        sys::ValueType::napi_number => "a number",
        sys::ValueType::napi_string => "a string",
        sys::ValueType::napi_symbol => "a symbol",
        sys::ValueType::napi_function => "a function",
        sys::ValueType::napi_bigint => "a bigint",
        _ => "an object",
    }
}

pub(crate) fn is_nullish(env: sys::napi_env, value: sys::napi_value) -> bool {
    matches!(type_of(env, value), sys::ValueType::napi_undefined | sys::ValueType::napi_null)
}

/// The bytes of a Buffer / Uint8Array (borrowed from the JS heap for the
/// duration of the call), or `None` if it is not one.
fn typed_bytes<'a>(env: sys::napi_env, value: sys::napi_value) -> Option<&'a mut [u8]> {
    let mut is = false;
    // SAFETY: JS thread; the slice borrows the ArrayBuffer, which the caller's
    // argument keeps alive for the duration of this native call.
    unsafe {
        sys::napi_is_typedarray(env, value, &mut is);
        if !is {
            return None;
        }
        let mut kind = 0;
        let mut len = 0usize;
        let mut data = ptr::null_mut();
        let mut buffer = ptr::null_mut();
        let mut offset = 0usize;
        if sys::napi_get_typedarray_info(env, value, &mut kind, &mut len, &mut data, &mut buffer, &mut offset)
            != sys::Status::napi_ok
            || kind != sys::TypedarrayType::uint8_array
        {
            return None;
        }
        if len == 0 || data.is_null() {
            return Some(&mut []);
        }
        Some(std::slice::from_raw_parts_mut(data.cast::<u8>(), len))
    }
}

/// Calls `f` with the bytes of a string or Buffer key, without allocating
/// for keys up to [`INLINE_KEY`] bytes.
pub(crate) fn with_key<R>(
    env: sys::napi_env,
    value: sys::napi_value,
    what: &str,
    f: impl FnOnce(&[u8]) -> R,
) -> ArgResult<R> {
    if type_of(env, value) == sys::ValueType::napi_string {
        let mut stack = [0u8; INLINE_KEY];
        let mut len = 0usize;
        // SAFETY: JS thread; napi writes at most `INLINE_KEY - 1` bytes and a NUL.
        unsafe { sys::napi_get_value_string_utf8(env, value, stack.as_mut_ptr().cast(), INLINE_KEY, &mut len) };
        if len < INLINE_KEY - 1 {
            return Ok(f(&stack[..len]));
        }
        return Ok(f(&string_bytes(env, value)));
    }
    match typed_bytes(env, value) {
        Some(bytes) => Ok(f(bytes)),
        None => Err(expected(env, value, what, "a string or Buffer")),
    }
}

fn string_bytes(env: sys::napi_env, value: sys::napi_value) -> Vec<u8> {
    let mut len = 0usize;
    // SAFETY: JS thread; first call asks for the length, second fills.
    unsafe {
        sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len);
        let mut out = vec![0u8; len + 1];
        sys::napi_get_value_string_utf8(env, value, out.as_mut_ptr().cast(), len + 1, &mut len);
        out.truncate(len);
        out
    }
}

fn expected(env: sys::napi_env, value: sys::napi_value, what: &str, wanted: &str) -> ArgError {
    ArgError::new(format!("{what} must be {wanted}, got {}", type_name(env, value)))
}

/// Owned bytes of a string / Buffer / Uint8Array (keys, fields, values).
pub(crate) fn bytes(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<Bytes> {
    if type_of(env, value) == sys::ValueType::napi_string {
        return Ok(Bytes::from(string_bytes(env, value)));
    }
    match typed_bytes(env, value) {
        Some(b) => Ok(Bytes::copy_from_slice(b)),
        None => Err(expected(env, value, what, "a string or Buffer")),
    }
}

/// The writable bytes of a Uint8Array target (`getLocalInto`).
pub(crate) fn target<'a>(env: sys::napi_env, value: sys::napi_value) -> ArgResult<&'a mut [u8]> {
    typed_bytes(env, value).ok_or_else(|| expected(env, value, "target", "a Buffer or Uint8Array"))
}

/// The first `n` slots of a Float64Array (index.js's out-parameter).
pub(crate) fn f64_slots<'a>(env: sys::napi_env, value: sys::napi_value, n: usize) -> ArgResult<&'a mut [f64]> {
    let mut is = false;
    // SAFETY: JS thread; the slice borrows the array's memory, which the
    // caller's argument keeps alive for the duration of this native call.
    unsafe {
        sys::napi_is_typedarray(env, value, &mut is);
        if is {
            let mut kind = 0;
            let mut len = 0usize;
            let mut data = ptr::null_mut();
            let mut buffer = ptr::null_mut();
            let mut offset = 0usize;
            let status =
                sys::napi_get_typedarray_info(env, value, &mut kind, &mut len, &mut data, &mut buffer, &mut offset);
            if status == sys::Status::napi_ok
                && kind == sys::TypedarrayType::float64_array
                && len >= n
                && !data.is_null()
            {
                return Ok(std::slice::from_raw_parts_mut(data.cast::<f64>(), n));
            }
        }
    }
    Err(expected(env, value, "out", &format!("a Float64Array of at least {n}")))
}

/// Core's change words as an external ArrayBuffer over core's own memory
/// (no copy: JavaScript sees every bump). The buffer keeps the words alive
/// until it is collected. `None` where external buffers are refused.
pub(crate) fn change_words(env: sys::napi_env, words: nearcache::ChangeWords) -> Option<sys::napi_value> {
    unsafe extern "C" fn release(_env: sys::napi_env, _data: *mut std::ffi::c_void, hint: *mut std::ffi::c_void) {
        // SAFETY: `hint` is the box leaked below, released exactly once.
        drop(unsafe { Box::from_raw(hint.cast::<nearcache::ChangeWords>()) });
    }
    let len = std::mem::size_of_val(words.words());
    let data = words.words().as_ptr().cast_mut().cast::<std::ffi::c_void>();
    let owner = Box::into_raw(Box::new(words));
    let mut out = ptr::null_mut();
    // SAFETY: JS thread; `data` stays valid while `owner` lives, and `owner`
    // is dropped by `release` when the ArrayBuffer is collected. JavaScript
    // only reads the words (aligned 32-bit loads).
    let status =
        unsafe { sys::napi_create_external_arraybuffer(env, data, len, Some(release), owner.cast(), &mut out) };
    if status != sys::Status::napi_ok {
        // SAFETY: napi did not take ownership.
        drop(unsafe { Box::from_raw(owner) });
        return None;
    }
    Some(out)
}

/// The elements of a JS array.
pub(crate) fn array(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<Vec<sys::napi_value>> {
    let mut is = false;
    // SAFETY: JS thread.
    unsafe { sys::napi_is_array(env, value, &mut is) };
    if !is {
        return Err(expected(env, value, what, "an array"));
    }
    let mut len = 0u32;
    // SAFETY: JS thread, `value` is an array.
    unsafe { sys::napi_get_array_length(env, value, &mut len) };
    let mut out = Vec::with_capacity(len as usize);
    for i in 0..len {
        let mut item = ptr::null_mut();
        // SAFETY: as above.
        unsafe { sys::napi_get_element(env, value, i, &mut item) };
        out.push(item);
    }
    Ok(out)
}

/// Each element of an array as bytes.
pub(crate) fn bytes_list(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<Vec<Bytes>> {
    array(env, value, what)?.into_iter().enumerate().map(|(i, v)| bytes(env, v, &format!("{what}[{i}]"))).collect()
}

/// `[[k, v], ...]` pairs, or the own enumerable properties of a plain object.
pub(crate) fn pairs(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<Vec<(Bytes, Bytes)>> {
    let mut is_array = false;
    // SAFETY: JS thread.
    unsafe { sys::napi_is_array(env, value, &mut is_array) };
    if is_array {
        let mut out = Vec::new();
        for (i, pair) in array(env, value, what)?.into_iter().enumerate() {
            let parts = array(env, pair, &format!("{what}[{i}]"))?;
            let [k, v] = parts[..] else {
                return Err(ArgError::new(format!("{what}[{i}] must be a [key, value] pair")));
            };
            out.push((bytes(env, k, &format!("{what}[{i}][0]"))?, bytes(env, v, &format!("{what}[{i}][1]"))?));
        }
        return Ok(out);
    }
    if type_of(env, value) != sys::ValueType::napi_object || typed_bytes(env, value).is_some() {
        return Err(expected(env, value, what, "an array of [key, value] pairs or an object"));
    }
    let mut names = ptr::null_mut();
    // SAFETY: JS thread, an object.
    unsafe { sys::napi_get_property_names(env, value, &mut names) };
    let mut out = Vec::new();
    for name in array(env, names, what)? {
        let mut v = ptr::null_mut();
        // SAFETY: as above.
        unsafe { sys::napi_get_property(env, value, name, &mut v) };
        let key = bytes(env, name, what)?;
        let shown = String::from_utf8_lossy(&key).into_owned();
        out.push((key, bytes(env, v, &format!("{what}.{shown}"))?));
    }
    Ok(out)
}

/// A property of an options object (`undefined` when absent).
pub(crate) fn property(env: sys::napi_env, object: sys::napi_value, name: &std::ffi::CStr) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: JS thread; `object` was checked to be an object.
    unsafe { sys::napi_get_named_property(env, object, name.as_ptr(), &mut out) };
    out
}

/// Checks that an options argument is an object, or absent.
pub(crate) fn options(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<Option<sys::napi_value>> {
    match type_of(env, value) {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(None),
        sys::ValueType::napi_object => Ok(Some(value)),
        _ => Err(expected(env, value, what, "an object")),
    }
}

pub(crate) fn boolean(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<bool> {
    match type_of(env, value) {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(false),
        sys::ValueType::napi_boolean => {
            let mut out = false;
            // SAFETY: JS thread, a boolean.
            unsafe { sys::napi_get_value_bool(env, value, &mut out) };
            Ok(out)
        }
        _ => Err(expected(env, value, what, "a boolean")),
    }
}

/// A TTL: a number of milliseconds or a duration string ("30s"); `None`
/// when absent. Zero and negative values are passed on to core, which
/// refuses them with its own message.
pub(crate) fn ttl(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<Option<Duration>> {
    match type_of(env, value) {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(None),
        sys::ValueType::napi_number => {
            let mut ms = 0f64;
            // SAFETY: JS thread, a number.
            unsafe { sys::napi_get_value_double(env, value, &mut ms) };
            if !ms.is_finite() || ms < 0.0 {
                return Err(ArgError::new(format!("{what} must be a positive number of milliseconds, got {ms}")));
            }
            Ok(Some(Duration::from_secs_f64(ms / 1000.0)))
        }
        sys::ValueType::napi_string => {
            let text = String::from_utf8_lossy(&string_bytes(env, value)).into_owned();
            nearcache::config::parse_duration(&text)
                .map(Some)
                .map_err(|e| ArgError::new(format!("{what}: {}", e.message())))
        }
        _ => Err(expected(env, value, what, "a number of milliseconds or a duration string like \"30s\"")),
    }
}

/// A value as a new JavaScript Buffer (a copy).
pub(crate) fn buffer(env: sys::napi_env, data: &[u8]) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    let mut copied = ptr::null_mut();
    // SAFETY: JS thread; napi copies `data`.
    let status = unsafe { sys::napi_create_buffer_copy(env, data.len(), data.as_ptr().cast(), &mut copied, &mut out) };
    if status != sys::Status::napi_ok {
        return Err(crate::error::internal(format!("cannot create a Buffer of {} bytes", data.len())));
    }
    Ok(out)
}

pub(crate) fn undefined(env: sys::napi_env) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: JS thread.
    unsafe { sys::napi_get_undefined(env, &mut out) };
    out
}

pub(crate) fn null(env: sys::napi_env) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: JS thread.
    unsafe { sys::napi_get_null(env, &mut out) };
    out
}

pub(crate) fn number(env: sys::napi_env, n: f64) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: JS thread.
    unsafe { sys::napi_create_double(env, n, &mut out) };
    out
}

pub(crate) fn boolean_value(env: sys::napi_env, b: bool) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: JS thread.
    unsafe { sys::napi_get_boolean(env, b, &mut out) };
    out
}

pub(crate) fn string(env: sys::napi_env, s: &str) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: JS thread.
    unsafe { sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out) };
    out
}

pub(crate) fn new_array(env: sys::napi_env, items: Vec<sys::napi_value>) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: JS thread.
    unsafe {
        sys::napi_create_array_with_length(env, items.len(), &mut out);
        for (i, item) in items.into_iter().enumerate() {
            sys::napi_set_element(env, out, i as u32, item);
        }
    }
    out
}

pub(crate) fn new_object(env: sys::napi_env, entries: Vec<(sys::napi_value, sys::napi_value)>) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: JS thread.
    unsafe {
        sys::napi_create_object(env, &mut out);
        for (k, v) in entries {
            sys::napi_set_property(env, out, k, v);
        }
    }
    out
}

pub(crate) fn optional_buffer(env: sys::napi_env, value: Option<Bytes>) -> napi::Result<sys::napi_value> {
    match value {
        Some(v) => buffer(env, &v),
        None => Ok(null(env)),
    }
}

pub(crate) fn buffer_list(env: sys::napi_env, values: Vec<Option<Bytes>>) -> napi::Result<sys::napi_value> {
    let items = values.into_iter().map(|v| optional_buffer(env, v)).collect::<napi::Result<Vec<_>>>()?;
    Ok(new_array(env, items))
}

/// A raw reply: nil -> null, integers and doubles -> number, bulk strings
/// -> Buffer, status -> string, arrays and sets -> arrays, maps -> plain
/// objects (keys decoded as UTF-8), nested errors -> Error (NC_REDIS).
pub(crate) fn reply(env: sys::napi_env, value: Reply) -> napi::Result<sys::napi_value> {
    Ok(match value {
        Reply::Nil => null(env),
        Reply::Int(n) => number(env, n as f64),
        Reply::Bytes(b) => buffer(env, &b)?,
        Reply::Status(s) => string(env, &s),
        Reply::Double(d) => number(env, d),
        Reply::Bool(b) => boolean_value(env, b),
        Reply::BigNumber(s) => string(env, &s),
        Reply::Array(items) | Reply::Set(items) => {
            let items = items.into_iter().map(|v| reply(env, v)).collect::<napi::Result<Vec<_>>>()?;
            new_array(env, items)
        }
        Reply::Map(pairs) => {
            let mut entries = Vec::with_capacity(pairs.len());
            for (k, v) in pairs {
                let key = match k {
                    Reply::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
                    Reply::Status(s) | Reply::BigNumber(s) => s,
                    Reply::Int(n) => n.to_string(),
                    other => format!("{other:?}"),
                };
                entries.push((string(env, &key), reply(env, v)?));
            }
            new_object(env, entries)
        }
        Reply::Error(message) => {
            let err = nearcache::Error::new(nearcache::ErrorKind::Redis, message);
            // SAFETY: JS thread.
            unsafe { crate::error::to_js(env, err) }
        }
    })
}

/// A serde value (stats) as a plain JavaScript object.
pub(crate) fn json(env: sys::napi_env, value: &serde_json::Value) -> sys::napi_value {
    match value {
        serde_json::Value::Null => null(env),
        serde_json::Value::Bool(b) => boolean_value(env, *b),
        serde_json::Value::Number(n) => number(env, n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => string(env, s),
        serde_json::Value::Array(items) => new_array(env, items.iter().map(|v| json(env, v)).collect()),
        serde_json::Value::Object(map) => {
            new_object(env, map.iter().map(|(k, v)| (string(env, k), json(env, v))).collect())
        }
    }
}
