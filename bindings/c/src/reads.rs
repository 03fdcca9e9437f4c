//! Cached reads beyond `GET`: the generic `nc_cache_read` (any command of
//! core's allow-list, argv form) and the typed helpers for the common ones.
//! Every answer comes from core's one cached-read mechanism (L1, else Redis
//! with a guarded fill); this file only converts arguments and results.

use std::ffi::c_char;

use bytes::Bytes;
use nearcache::blocking::Cache;
use nearcache::{Reply, ZRange};

use crate::cache::{cache_ref, found, nc_cache};
use crate::ffi::{self, boundary, bytes, c_str, invalid, out_ptr};
use crate::reply::{argv_reply, nc_reply};
use crate::status::nc_status;
use crate::value::nc_value;

/// `nc_cache_zrange` flag: each element is a `[member, score]` pair
/// (`WITHSCORES`).
pub const NC_ZRANGE_WITHSCORES: u32 = 1;
/// `nc_cache_zrange` flag: highest score first (`REV`).
pub const NC_ZRANGE_REV: u32 = 2;
const ZRANGE_FLAGS: u32 = NC_ZRANGE_WITHSCORES | NC_ZRANGE_REV;

/// An `NC_REPLY_ARRAY` of bulk strings.
pub(crate) fn string_array(items: Vec<Bytes>) -> Reply {
    Reply::Array(items.into_iter().map(Reply::Bytes).collect())
}

/// The shared body of the helpers keyed by one key: checks the cache and
/// the key, runs `read`, and maps its outcome with `finish`.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len` bytes.
unsafe fn keyed<T>(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    read: impl FnOnce(&Cache, &[u8]) -> ffi::Result<T>,
    finish: impl FnOnce(T) -> ffi::Result<nc_status>,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and `key_len` readable bytes.
        let (cache, key) = unsafe { (cache_ref(cache)?, bytes(key, key_len, "key")?) };
        finish(read(cache, key)?)
    })
}

/// A helper whose answer is a count or an integer, written to `*out`.
///
/// # Safety
/// As [`keyed`]; a non-NULL `out` is writable.
unsafe fn number<T>(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut T,
    read: impl FnOnce(&Cache, &[u8]) -> ffi::Result<T>,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe {
        keyed(
            cache,
            key,
            key_len,
            |cache, key| {
                let out = out_ptr(out, "out")?;
                Ok((out, read(cache, key)?))
            },
            |(out, value)| {
                *out = value;
                Ok(nc_status::NC_OK)
            },
        )
    }
}

/// A helper whose answer may be absent: `*out` on `NC_OK`, untouched on
/// `NC_NOT_FOUND`.
///
/// # Safety
/// As [`keyed`]; a non-NULL `out` is writable.
unsafe fn maybe_number<T>(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut T,
    read: impl FnOnce(&Cache, &[u8]) -> ffi::Result<Option<T>>,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe {
        keyed(
            cache,
            key,
            key_len,
            |cache, key| {
                let out = out_ptr(out, "out")?;
                Ok((out, read(cache, key)?))
            },
            |(out, value)| {
                Ok(match value {
                    Some(value) => {
                        *out = value;
                        nc_status::NC_OK
                    }
                    None => nc_status::NC_NOT_FOUND,
                })
            },
        )
    }
}

/// A yes/no helper: `NC_OK` for yes, `NC_NOT_FOUND` for no.
///
/// # Safety
/// As [`keyed`].
unsafe fn flag(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    read: impl FnOnce(&Cache, &[u8]) -> ffi::Result<bool>,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { keyed(cache, key, key_len, read, |yes| Ok(if yes { nc_status::NC_OK } else { nc_status::NC_NOT_FOUND })) }
}

/// A helper whose answer is a reply tree handed to the caller.
///
/// # Safety
/// As [`keyed`]; a non-NULL `out` is writable.
unsafe fn tree(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut *mut nc_reply,
    read: impl FnOnce(&Cache, &[u8]) -> ffi::Result<Reply>,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe {
        keyed(
            cache,
            key,
            key_len,
            |cache, key| {
                let out = out_ptr(out, "out")?;
                Ok((out, read(cache, key)?))
            },
            |(out, reply)| {
                *out = ffi::into_raw::<nc_reply>(reply);
                Ok(nc_status::NC_OK)
            },
        )
    }
}

/// A helper whose answer is one value or nothing.
///
/// # Safety
/// As [`keyed`]; a non-NULL `out` is writable.
pub(crate) unsafe fn one_value(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut *mut nc_value,
    read: impl FnOnce(&Cache, &[u8]) -> ffi::Result<Option<Bytes>>,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe {
        keyed(
            cache,
            key,
            key_len,
            |cache, key| {
                let out = out_ptr(out, "out")?;
                Ok((out, read(cache, key)?))
            },
            |(out, value)| Ok(found(value, out)),
        )
    }
}

/// A cached read of any command of core's allow-list (docs/design.md,
/// "Cached reads"): `argv[0]` is the command's name (any case), then its
/// arguments; `argc` of them, each `argv_lens[i]` bytes, binary-safe (the
/// hiredis convention). The reply comes from L1 when the key's entry holds
/// it (no I/O), else from Redis, and fills L1; every own write of the key
/// drops it. Values of `GET`, `HGET`, `HMGET`, `HGETALL` and `HVALS` are
/// decompressed like `nc_cache_get`'s.
///
/// On `NC_OK`, `*out` receives the reply tree (RESP3 types: `ZRANGE ...
/// WITHSCORES` gives an array of `[member, double]` arrays), owned by the
/// caller and freed with `nc_reply_free`. A missing key gives the reply
/// Redis gives (`NC_REPLY_NIL`, 0, an empty array...), not `NC_NOT_FOUND`.
/// A command outside the allow-list (a write, `TTL`, `SRANDMEMBER`, a
/// multi-key `EXISTS`) and `argc == 0` give `NC_ERR_INVALID_ARGUMENT`
/// naming it: send those with `nc_cache_command` (raw, uncached). Other
/// errors as `nc_cache_get` (`NC_ERR_REDIS` for `WRONGTYPE`). Blocking on
/// a miss; thread-safe.
///
/// # Safety
/// `argv` and `argv_lens` have `argc` elements, each readable for its
/// length; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_read(
    cache: *const nc_cache,
    argc: usize,
    argv: *const *const u8,
    argv_lens: *const usize,
    out: *mut *mut nc_reply,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and `argc` readable arguments.
        unsafe { argv_reply(cache_ref(cache), argc, argv, argv_lens, out, |cache, args| cache.read(args)) }
    })
}

/// Whether the hash at `key` has `field` (`HEXISTS`, cached): `NC_OK` if
/// it does, `NC_NOT_FOUND` if it (or the key) does not. Errors as
/// `nc_cache_hget`. Blocking on a miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` and `field` are readable for
/// their lengths.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_hexists(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    field: *const u8,
    field_len: usize,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe {
        flag(cache, key, key_len, |cache, key| {
            let field = bytes(field, field_len, "field")?;
            cache.hexists(key, field)
        })
    }
}

/// The number of fields of the hash at `key` (`HLEN`, cached; 0 for a
/// missing key), written to `*out` on `NC_OK`. Errors as `nc_cache_hget`.
/// Blocking on a miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_hlen(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut u64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { number(cache, key, key_len, out, |cache, key| cache.hlen(key)) }
}

/// The field names of the hash at `key` (`HKEYS`, cached), in the server's
/// order: on `NC_OK`, `*out` receives an `NC_REPLY_ARRAY` of strings
/// (empty for a missing key) freed with `nc_reply_free`. Errors as
/// `nc_cache_hget`. Blocking on a miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_hkeys(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut *mut nc_reply,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { tree(cache, key, key_len, out, |cache, key| cache.hkeys(key).map(string_array)) }
}

/// The values of the hash at `key` (`HVALS`, cached, decompressed), in the
/// server's order: on `NC_OK`, `*out` receives an `NC_REPLY_ARRAY` of
/// strings freed with `nc_reply_free`. Errors as `nc_cache_hget`. Blocking
/// on a miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_hvals(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut *mut nc_reply,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { tree(cache, key, key_len, out, |cache, key| cache.hvals(key).map(string_array)) }
}

/// The members of the set at `key` (`SMEMBERS`, cached), in no particular
/// order: on `NC_OK`, `*out` receives an `NC_REPLY_SET` of strings (empty
/// for a missing key; read with `nc_reply_len` / `nc_reply_element`) freed
/// with `nc_reply_free`. Errors as `nc_cache_get` (`NC_ERR_REDIS` when the
/// key is not a set). Blocking on a miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_smembers(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut *mut nc_reply,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe {
        tree(cache, key, key_len, out, |cache, key| {
            Ok(Reply::Set(cache.smembers(key)?.into_iter().map(Reply::Bytes).collect()))
        })
    }
}

/// Whether `member` is in the set at `key` (`SISMEMBER`, cached): `NC_OK`
/// if it is, `NC_NOT_FOUND` if it (or the key) is not. Errors as
/// `nc_cache_smembers`. Blocking on a miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` and `member` are readable for
/// their lengths.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_sismember(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    member: *const u8,
    member_len: usize,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe {
        flag(cache, key, key_len, |cache, key| {
            let member = bytes(member, member_len, "member")?;
            cache.sismember(key, member)
        })
    }
}

/// The number of members of the set at `key` (`SCARD`, cached; 0 for a
/// missing key), written to `*out` on `NC_OK`. Errors as
/// `nc_cache_smembers`. Blocking on a miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_scard(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut u64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { number(cache, key, key_len, out, |cache, key| cache.scard(key)) }
}

/// The score of `member` in the sorted set at `key` (`ZSCORE`, cached),
/// written to `*out` on `NC_OK`; `NC_NOT_FOUND` (`*out` untouched) when the
/// member or the key does not exist. Errors as `nc_cache_get`
/// (`NC_ERR_REDIS` when the key is not a sorted set). Blocking on a miss;
/// thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` and `member` are readable for
/// their lengths; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_zscore(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    member: *const u8,
    member_len: usize,
    out: *mut f64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe {
        maybe_number(cache, key, key_len, out, |cache, key| {
            let member = bytes(member, member_len, "member")?;
            cache.zscore(key, member)
        })
    }
}

/// Members of the sorted set at `key` by rank, `start` to `stop` inclusive
/// (negative counts from the end; `ZRANGE key start stop`, cached).
///
/// `flags` is 0 or a combination of `NC_ZRANGE_REV` (highest score first)
/// and `NC_ZRANGE_WITHSCORES`. On `NC_OK`, `*out` receives an
/// `NC_REPLY_ARRAY` freed with `nc_reply_free`: of member strings, or with
/// `NC_ZRANGE_WITHSCORES` of two-element arrays `[member (NC_REPLY_STRING),
/// score (NC_REPLY_DOUBLE)]`. A missing key gives an empty array. Ranges by
/// score or lex order (`BYSCORE`, `BYLEX`, `LIMIT`) go through
/// `nc_cache_read`. Unknown flags give `NC_ERR_INVALID_ARGUMENT`; other
/// errors as `nc_cache_zscore`. Blocking on a miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_zrange(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    start: i64,
    stop: i64,
    flags: u32,
    out: *mut *mut nc_reply,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe {
        tree(cache, key, key_len, out, |cache, key| {
            if flags & !ZRANGE_FLAGS != 0 {
                return Err(invalid(format!("unknown zrange flags {:#x}", flags & !ZRANGE_FLAGS)));
            }
            let range = ZRange::index(start, stop);
            let range = if flags & NC_ZRANGE_REV != 0 { range.rev() } else { range };
            if flags & NC_ZRANGE_WITHSCORES == 0 {
                return cache.zrange(key, &range).map(string_array);
            }
            let pairs = cache.zrange_withscores(key, &range)?;
            Ok(Reply::Array(
                pairs
                    .into_iter()
                    .map(|(member, score)| Reply::Array(vec![Reply::Bytes(member), Reply::Double(score)]))
                    .collect(),
            ))
        })
    }
}

/// The rank of `member` in the sorted set at `key`, lowest score first
/// (`ZRANK`, cached), written to `*out` on `NC_OK`; `NC_NOT_FOUND` (`*out`
/// untouched) when the member or the key does not exist. Errors as
/// `nc_cache_zscore`. Blocking on a miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` and `member` are readable for
/// their lengths; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_zrank(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    member: *const u8,
    member_len: usize,
    out: *mut u64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe {
        maybe_number(cache, key, key_len, out, |cache, key| {
            let member = bytes(member, member_len, "member")?;
            cache.zrank(key, member)
        })
    }
}

/// As `nc_cache_zrank`, highest score first (`ZREVRANK`, cached).
///
/// # Safety
/// As `nc_cache_zrank`.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_zrevrank(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    member: *const u8,
    member_len: usize,
    out: *mut u64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe {
        maybe_number(cache, key, key_len, out, |cache, key| {
            let member = bytes(member, member_len, "member")?;
            cache.zrevrank(key, member)
        })
    }
}

/// The number of members of the sorted set at `key` (`ZCARD`, cached; 0
/// for a missing key), written to `*out` on `NC_OK`. Errors as
/// `nc_cache_zscore`. Blocking on a miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_zcard(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut u64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { number(cache, key, key_len, out, |cache, key| cache.zcard(key)) }
}

/// The number of members of the sorted set at `key` with a score from
/// `min` to `max` (`ZCOUNT`, cached), written to `*out` on `NC_OK`. `min`
/// and `max` are NUL-terminated strings as Redis takes them: a number,
/// `"-inf"` / `"+inf"`, or `"(x"` for an exclusive bound. Errors as
/// `nc_cache_zscore` (`NC_ERR_REDIS` for a bound Redis cannot parse).
/// Blocking on a miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `min` and `max` are NUL-terminated; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_zcount(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    min: *const c_char,
    max: *const c_char,
    out: *mut u64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe {
        number(cache, key, key_len, out, |cache, key| {
            let (min, max) = (c_str(min, "min")?, c_str(max, "max")?);
            cache.zcount(key, min, max)
        })
    }
}

/// Elements `start` to `stop` (inclusive; negative counts from the end) of
/// the list at `key` (`LRANGE`, cached): on `NC_OK`, `*out` receives an
/// `NC_REPLY_ARRAY` of strings (empty for a missing key) freed with
/// `nc_reply_free`. Errors as `nc_cache_get` (`NC_ERR_REDIS` when the key is
/// not a list). Blocking on a miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_lrange(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    start: i64,
    stop: i64,
    out: *mut *mut nc_reply,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { tree(cache, key, key_len, out, |cache, key| cache.lrange(key, start, stop).map(string_array)) }
}

/// Element `index` (negative counts from the end) of the list at `key`
/// (`LINDEX`, cached): on `NC_OK`, `*out` receives a value handle freed
/// with `nc_value_free`; `NC_NOT_FOUND` (index out of range, or no such
/// key) sets `*out` to NULL. Errors as `nc_cache_lrange`. Blocking on a
/// miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_lindex(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    index: i64,
    out: *mut *mut nc_value,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { one_value(cache, key, key_len, out, |cache, key| cache.lindex(key, index)) }
}

/// The length of the list at `key` (`LLEN`, cached; 0 for a missing key),
/// written to `*out` on `NC_OK`. Errors as `nc_cache_lrange`. Blocking on a
/// miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_llen(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut u64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { number(cache, key, key_len, out, |cache, key| cache.llen(key)) }
}

/// Whether `key` exists, whatever its type (`EXISTS key`, cached): `NC_OK`
/// if it does, `NC_NOT_FOUND` if not. Errors as `nc_cache_get`. Blocking on
/// a miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_exists(cache: *const nc_cache, key: *const u8, key_len: usize) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { flag(cache, key, key_len, |cache, key| cache.exists(key)) }
}

/// The length of the string at `key` as Redis stores it (`STRLEN`, cached;
/// 0 for a missing key), written to `*out` on `NC_OK`. For a value nearcache
/// compressed this is the stored frame's length, not the value's
/// (docs/design.md, "Cached reads"). Errors as `nc_cache_get`. Blocking on
/// a miss; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_strlen(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut u64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { number(cache, key, key_len, out, |cache, key| cache.strlen(key)) }
}
