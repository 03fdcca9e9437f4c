//! `nc_cache`: opening a cache and every operation on it.

use std::ffi::{c_char, c_void};
use std::mem::MaybeUninit;
use std::time::Duration;

use bytes::Bytes;
use nearcache::blocking::Cache;
use nearcache::{Config, Lookup, Reply, SetOptions, Ttl};

use crate::config::{nc_config, to_config};
use crate::ffi::{
    self, boundary, boundary_value, byte_array, bytes, c_str, free_box, invalid, out_array, out_ptr, try_ref, Castable,
};
use crate::reply::{argv_reply, nc_reply};
use crate::status::nc_status;
use crate::value::nc_value;

/// A cache: an in-process L1 in front of a Redis deployment.
///
/// Opened by `nc_cache_open*`, freed by `nc_cache_free`. Every function
/// taking a `const nc_cache *` is thread-safe: one cache may be shared by any
/// number of threads without locking (it is internally synchronised). Calls
/// block the calling thread until Redis answers (bounded by
/// `redis.command_timeout`); an L1 hit does no I/O and takes no lock that
/// I/O holds. `nc_cache_free` must not race with other calls on the cache.
pub struct nc_cache {
    _private: [u8; 0],
}

impl Castable for nc_cache {
    type Rust = Cache;
}

/// `nc_cache_set` flag: write only if the key does not exist (`SET NX`).
pub const NC_SET_NX: u32 = 1;
/// `nc_cache_set` flag: write only if the key exists (`SET XX`).
pub const NC_SET_XX: u32 = 2;
/// `nc_cache_set` flag: use `ttl_ms` exactly, without `write.ttl_jitter`.
pub const NC_SET_EXACT_TTL: u32 = 4;
const SET_FLAGS: u32 = NC_SET_NX | NC_SET_XX | NC_SET_EXACT_TTL;

fn open(config: Config, out: *mut *mut nc_cache) -> ffi::Result<nc_status> {
    let out = out_ptr(out, "out")?;
    let cache = Cache::new(config)?;
    *out = ffi::into_raw::<nc_cache>(cache);
    Ok(nc_status::NC_OK)
}

/// # Safety
/// A non-NULL `cache` comes from `nc_cache_open*` and is not freed.
pub(crate) unsafe fn cache_ref<'a>(cache: *const nc_cache) -> ffi::Result<&'a Cache> {
    // SAFETY: forwarded to the caller.
    unsafe { try_ref(cache, "cache") }
}

/// Writes one handle per value into `out` (NULL for a missing one), at most
/// as many as `out` holds whatever core returned.
fn write_values(values: Vec<Option<Bytes>>, out: &mut [MaybeUninit<*mut nc_value>]) {
    for (slot, value) in out.iter_mut().zip(values) {
        slot.write(value.map_or(std::ptr::null_mut(), ffi::into_raw::<nc_value>));
    }
}

/// `NC_OK`, after writing `value` (a count, a new value) to an optional
/// output (`NULL`: the caller does not want it).
///
/// # Safety
/// A non-NULL `out` is writable.
pub(crate) unsafe fn ok_with<T>(out: *mut T, value: T) -> ffi::Result<nc_status> {
    // SAFETY: the caller promises a writable `T` behind a non-NULL `out`.
    if let Some(out) = unsafe { out.as_mut() } {
        *out = value;
    }
    Ok(nc_status::NC_OK)
}

/// C's spelling of "no TTL" (`Option<Duration>` has no C type): 0. Any other
/// value goes to core, which decides what is acceptable.
fn optional_ttl(ttl_ms: u64) -> Option<Duration> {
    (ttl_ms > 0).then(|| Duration::from_millis(ttl_ms))
}

/// Hands a text that core produced (`stats`, `config`) to C as a string the
/// caller frees with `nc_string_free`.
///
/// # Safety
/// As `cache_ref`; a non-NULL `out` is writable.
unsafe fn json_out(cache: *const nc_cache, out: *mut *mut c_char, json: impl FnOnce(&Cache) -> String) -> nc_status {
    boundary(|| {
        // SAFETY: forwarded to the caller.
        let cache = unsafe { cache_ref(cache) }?;
        let out = out_ptr(out, "out")?;
        *out = ffi::into_c_string(json(cache));
        Ok(nc_status::NC_OK)
    })
}

pub(crate) fn found(value: Option<Bytes>, out: &mut *mut nc_value) -> nc_status {
    match value {
        Some(value) => {
            *out = ffi::into_raw::<nc_value>(value);
            nc_status::NC_OK
        }
        None => {
            *out = std::ptr::null_mut();
            nc_status::NC_NOT_FOUND
        }
    }
}

/// Opens a cache from a configuration built with `nc_config_set`.
///
/// `cfg` stays owned by the caller (it may be freed or reused at once). On
/// `NC_OK`, `*out` receives a cache the caller frees with `nc_cache_free`.
/// No I/O happens yet: connections open on first use (`nc_cache_connect`
/// opens them now). Returns `NC_ERR_CONFIG` for an invalid configuration
/// (the message starts with the field path, as in
/// `l1.max_bytes: expected a size like "64MiB", got "lots"`),
/// `NC_ERR_INVALID_ARGUMENT` for NULL arguments. Thread-safe.
///
/// # Safety
/// `cfg` comes from `nc_config_new` and is not being mutated.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_open(cfg: *const nc_config, out: *mut *mut nc_cache) -> nc_status {
    // SAFETY: the caller promises a live config.
    boundary(|| open(unsafe { to_config(cfg) }?, out))
}

/// Opens a cache from a config file: JSON if `path` ends in `.json`, TOML
/// otherwise (the file every language reads; docs/design.md, "Configuration").
///
/// `path` is a NUL-terminated UTF-8 string. Returns `NC_OK` (`*out` owned
/// by the caller, freed with `nc_cache_free`), `NC_ERR_CONFIG` when the file
/// cannot be read or is invalid (the message names the file or the field
/// path), `NC_ERR_INVALID_ARGUMENT` for NULL arguments. Thread-safe.
///
/// # Safety
/// `path` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_open_config(path: *const c_char, out: *mut *mut nc_cache) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a NUL-terminated string.
        let path = unsafe { c_str(path, "path") }?;
        open(Config::from_path(path)?, out)
    })
}

/// Opens a cache from the text of a TOML config (the file's schema).
///
/// Statuses and ownership as `nc_cache_open_config`.
///
/// # Safety
/// `toml` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_open_toml(toml: *const c_char, out: *mut *mut nc_cache) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a NUL-terminated string.
        let text = unsafe { c_str(toml, "toml") }?;
        open(Config::from_toml_str(text)?, out)
    })
}

/// Opens a cache for `url` (`redis://[user:password@]host:port/db`) with
/// every other setting at its default.
///
/// Statuses and ownership as `nc_cache_open_config` (`NC_ERR_CONFIG` for a
/// malformed URL, password redacted from the message).
///
/// # Safety
/// `url` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_open_url(url: *const c_char, out: *mut *mut nc_cache) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a NUL-terminated string.
        let url = unsafe { c_str(url, "url") }?;
        open(Config::from_value(serde_json::json!({ "url": url }))?, out)
    })
}

/// Opens a cache from the environment: the file named by `NEARCACHE_CONFIG`
/// (defaults when unset), with `redis.url` replaced by `NEARCACHE_URL`, or
/// else `REDIS_URL`, when set.
///
/// Statuses and ownership as `nc_cache_open_config`.
#[no_mangle]
pub extern "C" fn nc_cache_open_env(out: *mut *mut nc_cache) -> nc_status {
    boundary(|| open(Config::from_env()?, out))
}

/// Opens every connection now and returns the first error, so that a
/// misconfigured URL fails at start-up rather than on the first read.
///
/// Returns `NC_OK`, `NC_ERR_CONNECTION`, `NC_ERR_TIMEOUT`, `NC_ERR_AUTH`,
/// `NC_ERR_CLOSED`, or `NC_ERR_INVALID_ARGUMENT` (NULL cache). Blocking;
/// thread-safe.
///
/// # Safety
/// A non-NULL `cache` comes from `nc_cache_open*` and is not freed.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_connect(cache: *const nc_cache) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache.
        unsafe { cache_ref(cache) }?.connect()?;
        Ok(nc_status::NC_OK)
    })
}

/// Reads `key` (`key_len` bytes, binary-safe): from L1 when it is there
/// (no I/O, no copy), else from Redis (decompressing, then filling L1).
///
/// On `NC_OK`, `*out` receives a handle on the value, owned by the caller and
/// freed with `nc_value_free`; read it with `nc_value_data` / `nc_value_len`.
/// On `NC_NOT_FOUND` (the key does not exist), `*out` is set to NULL. On
/// errors `*out` is untouched: `NC_ERR_INVALID_ARGUMENT` (NULL arguments, an
/// empty key, a key over 64 KiB), `NC_ERR_CONNECTION`, `NC_ERR_TIMEOUT`,
/// `NC_ERR_AUTH`, `NC_ERR_REDIS` (e.g. the key holds a hash),
/// `NC_ERR_CODEC` (a corrupt compression frame), `NC_ERR_CLOSED`.
/// Blocking on a miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_get(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut *mut nc_value,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and `key_len` readable bytes.
        let (cache, key) = unsafe { (cache_ref(cache)?, bytes(key, key_len, "key")?) };
        let out = out_ptr(out, "out")?;
        Ok(found(cache.get(key)?, out))
    })
}

/// Reads `key` like `nc_cache_get`, copying the value into the caller's
/// buffer `buf` of `buf_len` bytes.
///
/// - `NC_OK`: the value was copied to `buf` and `*needed` is its length.
/// - `NC_BUFFER_TOO_SMALL`: the value is longer than `buf_len`; `buf` is
///   untouched and `*needed` is the length to call again with. Passing
///   `buf = NULL, buf_len = 0` asks for the length only.
/// - `NC_NOT_FOUND`: the key does not exist; `*needed` is set to 0.
/// - errors as `nc_cache_get` (`*needed` untouched), and
///   `NC_ERR_INVALID_ARGUMENT` when `buf` is NULL with `buf_len > 0` or
///   `needed` is NULL.
///
/// Blocking on a miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `buf` is writable for `buf_len` bytes; `needed` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_get_into(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    buf_len: usize,
    needed: *mut usize,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and `key_len` readable bytes.
        let (cache, key) = unsafe { (cache_ref(cache)?, bytes(key, key_len, "key")?) };
        let needed = out_ptr(needed, "needed")?;
        if buf.is_null() && buf_len > 0 {
            return Err(invalid(format!("buf is NULL but buf_len is {buf_len}")));
        }
        // A hit copies straight from L1's memory (no reference count).
        cache.get_with(key, |value| {
            let Some(value) = value else {
                *needed = 0;
                return nc_status::NC_NOT_FOUND;
            };
            *needed = value.len();
            if value.len() > buf_len {
                ffi::set_last_error(&format!("the value is {} bytes; the buffer holds {buf_len}", value.len()));
                return nc_status::NC_BUFFER_TOO_SMALL;
            }
            if !value.is_empty() {
                // SAFETY: `buf` is non-NULL here (buf_len >= value.len() > 0)
                // and the caller promises `buf_len` writable bytes; memory we
                // own cannot overlap the caller's buffer.
                unsafe { std::ptr::copy_nonoverlapping(value.as_ptr(), buf, value.len()) };
            }
            nc_status::NC_OK
        })
    })
}

/// Reads `n` keys at once: L1 answers what it can and one `MGET` fetches the
/// rest. `keys[i]` / `key_lens[i]` describe key `i`.
///
/// On `NC_OK`, `out[i]` receives a value handle (freed by the caller with
/// `nc_value_free`) or NULL when key `i` does not exist; `out` must have room
/// for `n` pointers. On errors `out` is untouched. `n == 0` is `NC_OK` (the
/// arrays may then be NULL). Errors as `nc_cache_get`. Blocking unless every
/// key is in L1; thread-safe.
///
/// # Safety
/// `keys`, `key_lens` and `out` have `n` elements; each key is readable for
/// its length.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_get_many(
    cache: *const nc_cache,
    n: usize,
    keys: *const *const u8,
    key_lens: *const usize,
    out: *mut *mut nc_value,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and `n` readable keys.
        let (cache, keys) = unsafe { (cache_ref(cache)?, byte_array(n, keys, key_lens, "keys")?) };
        // SAFETY: the caller promises room for `n` pointers in `out`.
        let out = unsafe { out_array(out, n, "out") }?;
        write_values(cache.get_many(&keys)?, out);
        Ok(nc_status::NC_OK)
    })
}

/// Writes `value` (`value_len` bytes; may be empty) to `key`, compressing it
/// when it is at least `compression.min_size` long. Drops the key from this
/// process's L1 first, so this thread and every other one then reads the new
/// value.
///
/// `ttl_ms` is the expiry in milliseconds, 0 for none; it is shortened by up
/// to `write.ttl_jitter` unless `NC_SET_EXACT_TTL` is given. `flags` is 0 or
/// a combination of `NC_SET_NX`, `NC_SET_XX`, `NC_SET_EXACT_TTL`.
///
/// Returns `NC_OK`; `NC_NOT_WRITTEN` when `NC_SET_NX` / `NC_SET_XX` prevented
/// the write; `NC_ERR_INVALID_ARGUMENT` (NULL arguments, bad key, unknown
/// flags, NX with XX, a value above `compression.max_value_size`);
/// `NC_ERR_CONNECTION`, `NC_ERR_TIMEOUT`, `NC_ERR_AUTH`, `NC_ERR_REDIS`,
/// `NC_ERR_CLOSED`. Blocking; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` and `value` are readable for
/// their lengths.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_set(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    ttl_ms: u64,
    flags: u32,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and readable key and value.
        let (cache, key, value) =
            unsafe { (cache_ref(cache)?, bytes(key, key_len, "key")?, bytes(value, value_len, "value")?) };
        if flags & !SET_FLAGS != 0 {
            return Err(invalid(format!("unknown set flags {:#x}", flags & !SET_FLAGS)));
        }
        let options = SetOptions {
            ttl: optional_ttl(ttl_ms),
            only_if_absent: flags & NC_SET_NX != 0,
            only_if_present: flags & NC_SET_XX != 0,
            exact_ttl: flags & NC_SET_EXACT_TTL != 0,
        };
        let written = cache.set(key, value, options)?;
        Ok(if written { nc_status::NC_OK } else { nc_status::NC_NOT_WRITTEN })
    })
}

/// Deletes `key` in Redis (and from L1).
///
/// Returns `NC_OK` if the key existed, `NC_NOT_FOUND` if it did not; errors
/// as `nc_cache_set`. Blocking; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_delete(cache: *const nc_cache, key: *const u8, key_len: usize) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and a readable key.
        let (cache, key) = unsafe { (cache_ref(cache)?, bytes(key, key_len, "key")?) };
        Ok(if cache.delete(key)? { nc_status::NC_OK } else { nc_status::NC_NOT_FOUND })
    })
}

/// Sets `key` to expire after `ttl_ms` milliseconds (exactly: no jitter).
///
/// Returns `NC_OK` if the key exists, `NC_NOT_FOUND` if it does not,
/// `NC_ERR_INVALID_ARGUMENT` for `ttl_ms == 0` (use `nc_cache_delete`) and
/// NULL arguments; other errors as `nc_cache_set`. Blocking; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_expire(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    ttl_ms: u64,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and a readable key.
        let (cache, key) = unsafe { (cache_ref(cache)?, bytes(key, key_len, "key")?) };
        let exists = cache.expire(key, Duration::from_millis(ttl_ms))?;
        Ok(if exists { nc_status::NC_OK } else { nc_status::NC_NOT_FOUND })
    })
}

/// The remaining time to live of `key`, from Redis (`PTTL`).
///
/// On `NC_OK`, `*ttl_ms` is the remaining milliseconds, or -1 when the key
/// exists without an expiry. `NC_NOT_FOUND` when the key does not exist
/// (`*ttl_ms` untouched). Errors as `nc_cache_get`. Blocking; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `ttl_ms` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_ttl(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    ttl_ms: *mut i64,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and a readable key.
        let (cache, key) = unsafe { (cache_ref(cache)?, bytes(key, key_len, "key")?) };
        let out = out_ptr(ttl_ms, "ttl_ms")?;
        match cache.ttl(key)? {
            Ttl::Missing => Ok(nc_status::NC_NOT_FOUND),
            Ttl::Persistent => {
                *out = -1;
                Ok(nc_status::NC_OK)
            }
            Ttl::Expires(left) => {
                *out = i64::try_from(left.as_millis()).unwrap_or(i64::MAX);
                Ok(nc_status::NC_OK)
            }
        }
    })
}

/// Reads field `field` of the hash at `key` (decompressed like a value).
///
/// On `NC_OK`, `*out` receives a value handle the caller frees with
/// `nc_value_free`; `NC_NOT_FOUND` (no such key or field) sets `*out` to
/// NULL. Errors as `nc_cache_get` (`NC_ERR_REDIS` when the key is not a
/// hash). Blocking; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` and `field` are readable for
/// their lengths; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_hget(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    field: *const u8,
    field_len: usize,
    out: *mut *mut nc_value,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and readable key and field.
        let (cache, key, field) =
            unsafe { (cache_ref(cache)?, bytes(key, key_len, "key")?, bytes(field, field_len, "field")?) };
        let out = out_ptr(out, "out")?;
        Ok(found(cache.hget(key, field)?, out))
    })
}

/// Sets `n` fields of the hash at `key` (one `HSET`): field `i` is
/// `fields[i]` / `field_lens[i]`, its value `values[i]` / `value_lens[i]`
/// (compressed like `nc_cache_set` values).
///
/// On `NC_OK`, `*added` (optional: may be NULL) receives the number of
/// fields that were new. `n == 0` is `NC_ERR_INVALID_ARGUMENT` ("HSET: no
/// fields given": Redis has no empty HSET). Errors as `nc_cache_set`
/// (`NC_ERR_REDIS` when the key is not a hash). Blocking; thread-safe.
///
/// # Safety
/// The four arrays have `n` elements, each readable for its length.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_hset(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    n: usize,
    fields: *const *const u8,
    field_lens: *const usize,
    values: *const *const u8,
    value_lens: *const usize,
    added: *mut u64,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache, a readable key and `n`
        // readable fields and values.
        let (cache, key, fields, values) = unsafe {
            (
                cache_ref(cache)?,
                bytes(key, key_len, "key")?,
                byte_array(n, fields, field_lens, "fields")?,
                byte_array(n, values, value_lens, "values")?,
            )
        };
        let pairs: Vec<(&[u8], &[u8])> = fields.into_iter().zip(values).collect();
        let count = cache.hset(key, &pairs)?;
        // SAFETY: a non-NULL `added` is the caller's writable u64.
        unsafe { ok_with(added, count) }
    })
}

/// Deletes `n` fields of the hash at `key` (one `HDEL`).
///
/// On `NC_OK`, `*removed` (optional: may be NULL) receives the number of
/// fields that existed. `n == 0` is `NC_OK` with `*removed` set to 0 and no
/// I/O (the arrays may then be NULL). Errors as `nc_cache_set`. Blocking;
/// thread-safe.
///
/// # Safety
/// `fields` and `field_lens` have `n` elements, each readable for its length.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_hdel(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    n: usize,
    fields: *const *const u8,
    field_lens: *const usize,
    removed: *mut u64,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache, a readable key and `n`
        // readable fields.
        let (cache, key, fields) =
            unsafe { (cache_ref(cache)?, bytes(key, key_len, "key")?, byte_array(n, fields, field_lens, "fields")?) };
        let count = cache.hdel(key, &fields)?;
        // SAFETY: a non-NULL `removed` is the caller's writable u64.
        unsafe { ok_with(removed, count) }
    })
}

/// Drops `n` keys from this process's L1 only (Redis is untouched; the next
/// read of each goes to Redis). `n == 0` is `NC_OK`.
///
/// Returns `NC_OK`, `NC_ERR_CLOSED`, or `NC_ERR_INVALID_ARGUMENT` (NULL
/// arguments). No I/O; thread-safe.
///
/// # Safety
/// `keys` and `key_lens` have `n` elements, each readable for its length.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_invalidate_local(
    cache: *const nc_cache,
    n: usize,
    keys: *const *const u8,
    key_lens: *const usize,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and `n` readable keys.
        let (cache, keys) = unsafe { (cache_ref(cache)?, byte_array(n, keys, key_lens, "keys")?) };
        cache.invalidate_local(&keys)?;
        Ok(nc_status::NC_OK)
    })
}

/// Drops every entry of this process's L1 (Redis is untouched).
///
/// Returns `NC_OK`, `NC_ERR_CLOSED`, or `NC_ERR_INVALID_ARGUMENT`. No I/O;
/// thread-safe.
///
/// # Safety
/// A non-NULL `cache` comes from `nc_cache_open*` and is not freed.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_invalidate_local_all(cache: *const nc_cache) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache.
        unsafe { cache_ref(cache) }?.invalidate_local_all()?;
        Ok(nc_status::NC_OK)
    })
}

/// Sends a raw command (`argv[0]` is its name; `argc` arguments, each
/// `argv_lens[i]` bytes, binary-safe) on the shared connections. The reply
/// is neither cached nor decompressed. A write drops the L1 entries of every
/// argument it names, so reads after it see it.
///
/// On `NC_OK`, `*out` receives the reply tree, owned by the caller and freed
/// with `nc_reply_free`. An error reply from Redis is `NC_ERR_REDIS` (the
/// message is Redis's). Commands that would change or hold the shared
/// connection (`MULTI`, `SELECT`, `SUBSCRIBE`, `CLIENT TRACKING`, `BLPOP`,
/// ...) and `argc == 0` give `NC_ERR_INVALID_ARGUMENT`. Other errors as
/// `nc_cache_get`. Blocking; thread-safe.
///
/// # Safety
/// `argv` and `argv_lens` have `argc` elements, each readable for its
/// length; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_command(
    cache: *const nc_cache,
    argc: usize,
    argv: *const *const u8,
    argv_lens: *const usize,
    out: *mut *mut nc_reply,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and `argc` readable arguments.
        unsafe { argv_reply(cache_ref(cache), argc, argv, argv_lens, out, |cache, args| cache.command(args)) }
    })
}

/// The cache's statistics as a JSON object (L1 hits, misses, entries, bytes,
/// evictions, fills, invalidations, errors by code, latency summaries, slow
/// log, hot keys; the same fields as every language's `stats()`).
///
/// On `NC_OK`, `*out` receives a NUL-terminated string the caller frees with
/// `nc_string_free`. Returns `NC_ERR_INVALID_ARGUMENT` for NULL arguments.
/// Works on a closed cache. No I/O; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_stats_json(cache: *const nc_cache, out: *mut *mut c_char) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { json_out(cache, out, |cache| cache.stats().to_json()) }
}

/// The cache's effective configuration as pretty JSON (password redacted):
/// byte for byte what every language prints for the same config.
///
/// On `NC_OK`, `*out` receives a NUL-terminated string the caller frees with
/// `nc_string_free`. Returns `NC_ERR_INVALID_ARGUMENT` for NULL arguments.
/// No I/O; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_config_json(cache: *const nc_cache, out: *mut *mut c_char) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { json_out(cache, out, |cache| cache.config().to_json()) }
}

/// Closes the connections and empties L1. Every later call on the cache
/// returns `NC_ERR_CLOSED` (except `nc_cache_stats_json`,
/// `nc_cache_config_json` and `nc_cache_free`); value handles already
/// returned stay valid. Closing twice is fine.
///
/// Returns `NC_OK`, or `NC_ERR_INVALID_ARGUMENT` for NULL. Thread-safe: calls
/// racing with it either finish or return `NC_ERR_CLOSED`.
///
/// # Safety
/// A non-NULL `cache` comes from `nc_cache_open*` and is not freed.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_close(cache: *const nc_cache) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache.
        unsafe { cache_ref(cache) }?.close();
        Ok(nc_status::NC_OK)
    })
}

/// Closes (as `nc_cache_close`) and frees the cache. NULL is a no-op. Value
/// handles and replies obtained from it stay valid until freed.
///
/// Not thread-safe with respect to the cache: no other call on it may run or
/// follow.
///
/// # Safety
/// A non-NULL `cache` comes from `nc_cache_open*` and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_free(cache: *mut nc_cache) {
    boundary_value((), || {
        // SAFETY: the caller promises a live cache, given up here.
        if let Ok(live) = unsafe { cache_ref(cache) } {
            live.close();
        }
        // SAFETY: as above; the pointer came from `into_raw`.
        unsafe { free_box(cache) }
    })
}

/// Answers from L1 only: no I/O, never blocks.
///
/// - `NC_OK`: L1 holds a value; `*out` receives a handle the caller frees
///   with `nc_value_free`.
/// - `NC_NOT_FOUND`: L1 knows the key is absent (a cached miss,
///   `l1.negative_ttl`); `*out` is set to NULL.
/// - `NC_NOT_CACHED`: L1 cannot answer (only Redis can); `*out` is set to
///   NULL.
/// - errors: `NC_ERR_INVALID_ARGUMENT` (NULL arguments, an empty key, a key
///   over 64 KiB), `NC_ERR_CLOSED`.
///
/// Thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_get_local(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut *mut nc_value,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and `key_len` readable bytes.
        let (cache, key) = unsafe { (cache_ref(cache)?, bytes(key, key_len, "key")?) };
        let out = out_ptr(out, "out")?;
        Ok(match cache.get_local(key)? {
            Lookup::Hit(value) => found(Some(value), out),
            Lookup::Absent => found(None, out),
            Lookup::Miss => {
                *out = std::ptr::null_mut();
                nc_status::NC_NOT_CACHED
            }
        })
    })
}

/// Writes `n` keys at once (all or nothing): key `i` is `keys[i]` /
/// `key_lens[i]`, its value `values[i]` / `value_lens[i]` (compressed like
/// `nc_cache_set` values). `ttl_ms` is the expiry of every key in
/// milliseconds (0: none), shortened by up to `write.ttl_jitter`.
///
/// Returns `NC_OK` (`n == 0` included: the arrays may then be NULL); errors
/// as `nc_cache_set`. Blocking; thread-safe.
///
/// # Safety
/// The four arrays have `n` elements, each readable for its length.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_set_many(
    cache: *const nc_cache,
    n: usize,
    keys: *const *const u8,
    key_lens: *const usize,
    values: *const *const u8,
    value_lens: *const usize,
    ttl_ms: u64,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and `n` readable keys and values.
        let (cache, keys, values) = unsafe {
            (cache_ref(cache)?, byte_array(n, keys, key_lens, "keys")?, byte_array(n, values, value_lens, "values")?)
        };
        let items: Vec<(&[u8], &[u8])> = keys.into_iter().zip(values).collect();
        cache.set_many(&items, optional_ttl(ttl_ms))?;
        Ok(nc_status::NC_OK)
    })
}

/// Reads `n` fields of the hash at `key` (one `HMGET`, values decompressed).
///
/// On `NC_OK`, `out[i]` receives a value handle (freed by the caller with
/// `nc_value_free`) or NULL when field `i` (or the key) does not exist; `out`
/// must have room for `n` pointers. `n == 0` is `NC_OK` with nothing
/// written and no I/O (the arrays may then be NULL). On errors `out` is
/// untouched; errors as `nc_cache_hget`. Blocking; thread-safe.
///
/// # Safety
/// `fields`, `field_lens` and `out` have `n` elements; each field is
/// readable for its length.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_hmget(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    n: usize,
    fields: *const *const u8,
    field_lens: *const usize,
    out: *mut *mut nc_value,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache, a readable key and `n`
        // readable fields.
        let (cache, key, fields) =
            unsafe { (cache_ref(cache)?, bytes(key, key_len, "key")?, byte_array(n, fields, field_lens, "fields")?) };
        // SAFETY: the caller promises room for `n` pointers in `out`.
        let out = unsafe { out_array(out, n, "out") }?;
        write_values(cache.hmget(key, &fields)?, out);
        Ok(nc_status::NC_OK)
    })
}

/// Reads every field of the hash at `key` (values decompressed).
///
/// On `NC_OK`, `*out` receives an `NC_REPLY_MAP` reply (field, value,
/// field, value, ...; read with `nc_reply_len` / `nc_reply_element` /
/// `nc_reply_string`), owned by the caller and freed with `nc_reply_free`.
/// A missing key gives an empty map. Errors as `nc_cache_hget`. Blocking;
/// thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_hgetall(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut *mut nc_reply,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and a readable key.
        let (cache, key) = unsafe { (cache_ref(cache)?, bytes(key, key_len, "key")?) };
        let out = out_ptr(out, "out")?;
        let pairs = cache.hgetall(key)?;
        let map = Reply::Map(pairs.into_iter().map(|(f, v)| (Reply::Bytes(f), Reply::Bytes(v))).collect());
        *out = ffi::into_raw::<nc_reply>(map);
        Ok(nc_status::NC_OK)
    })
}

/// Deletes every key starting with `prefix` (SCAN + UNLINK in batches,
/// never KEYS) and drops them from L1.
///
/// On `NC_OK`, `*deleted` (optional: may be NULL) receives how many keys
/// were deleted. An empty prefix is `NC_ERR_INVALID_ARGUMENT`; other errors
/// as `nc_cache_set`. Blocking; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `prefix` is readable for
/// `prefix_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_delete_prefix(
    cache: *const nc_cache,
    prefix: *const u8,
    prefix_len: usize,
    deleted: *mut u64,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and a readable prefix.
        let (cache, prefix) = unsafe { (cache_ref(cache)?, bytes(prefix, prefix_len, "prefix")?) };
        let count = cache.delete_prefix(prefix)?;
        // SAFETY: a non-NULL `deleted` is the caller's writable u64.
        unsafe { ok_with(deleted, count) }
    })
}

/// The loader of `nc_cache_get_or_load`.
///
/// Called with the caller's `user_data` and the key. It returns `NC_OK`
/// after pointing `*data` / `*len` at the value (the bytes stay owned by
/// the loader's author and must stay valid until `nc_cache_get_or_load`
/// returns; nearcache copies them). Any other return value is a failure:
/// `nc_cache_get_or_load` then returns `NC_ERR_LOADER`.
pub type nc_loader = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        key: *const u8,
        key_len: usize,
        data: *mut *const u8,
        len: *mut usize,
    ) -> nc_status,
>;

/// Reads `key`; when it does not exist, calls `loader(user_data, key, ...)`
/// to produce the value, writes it to Redis (`ttl_ms`, 0 for none; jittered
/// like `nc_cache_set`) and returns it. Concurrent callers for one key in
/// this process run the loader once and share its result; the loader runs
/// on the calling thread of the caller that runs it.
///
/// On `NC_OK`, `*out` receives a value handle the caller frees with
/// `nc_value_free`. `NC_ERR_LOADER` when the loader returned a status other
/// than `NC_OK` (the message names the key and that status); other errors as
/// `nc_cache_get` and `nc_cache_set`; `NC_ERR_INVALID_ARGUMENT` for a NULL
/// `loader`. Blocking; thread-safe (the loader may be called from any thread
/// that calls this function).
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `out` is writable; `loader` is safe to call with `user_data`.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_get_or_load(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    ttl_ms: u64,
    loader: nc_loader,
    user_data: *mut c_void,
    out: *mut *mut nc_value,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and a readable key.
        let (cache, key) = unsafe { (cache_ref(cache)?, bytes(key, key_len, "key")?) };
        let out = out_ptr(out, "out")?;
        let Some(loader) = loader else {
            return Err(invalid("loader is NULL"));
        };
        let load = || -> std::result::Result<Bytes, LoaderFailed> {
            let mut data: *const u8 = std::ptr::null();
            let mut len: usize = 0;
            // SAFETY: the caller promises `loader` may be called with `user_data`;
            // `key` is readable for `key_len` bytes for the whole call.
            let status = unsafe { loader(user_data, key.as_ptr(), key.len(), &mut data, &mut len) };
            if status != nc_status::NC_OK {
                return Err(LoaderFailed(status as i32));
            }
            // SAFETY: on NC_OK the loader promises `len` readable bytes at `data`
            // until we return; they are copied here.
            let value = unsafe { bytes(data, len, "the loader's value") }.map_err(|_| LoaderFailed(-1))?;
            Ok(Bytes::copy_from_slice(value))
        };
        let ttl = optional_ttl(ttl_ms);
        *out = ffi::into_raw::<nc_value>(cache.get_or_load(key, ttl, load)?);
        Ok(nc_status::NC_OK)
    })
}

/// A C loader's failure, the cause of the `Loader` error core returns.
#[derive(Debug)]
struct LoaderFailed(i32);

impl std::fmt::Display for LoaderFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 == -1 {
            write!(f, "the loader returned NC_OK with a NULL value and a non-zero length")
        } else {
            write!(f, "the loader returned status {}", self.0)
        }
    }
}

impl std::error::Error for LoaderFailed {}
