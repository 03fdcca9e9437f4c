//! Typed writes on counters, hashes, sets, sorted sets and lists. Each one
//! is core's: it drops the key from this process's L1 (its value and every
//! cached reply) before it is sent, so the next read sees it. Results that
//! a caller may not need (counts, new values) go to optional outputs: NULL
//! means "not wanted".

use nearcache::blocking::Cache;

use crate::cache::{cache_ref, nc_cache, ok_with};
use crate::ffi::{self, boundary, byte_array, bytes, f64_array};
use crate::reads::one_value;
use crate::status::nc_status;
use crate::value::nc_value;

/// The shared body of the writes: checks the cache and the key, runs
/// `write`, and writes its result to the optional `out`.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; a non-NULL `out` is writable.
unsafe fn write<T>(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut T,
    write: impl FnOnce(&Cache, &[u8]) -> ffi::Result<T>,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and `key_len` readable bytes.
        let (cache, key) = unsafe { (cache_ref(cache)?, bytes(key, key_len, "key")?) };
        let value = write(cache, key)?;
        // SAFETY: forwarded to the caller.
        unsafe { ok_with(out, value) }
    })
}

/// The writes taking `n` members (or list values) and answering a count.
///
/// # Safety
/// As [`write`]; `members` and `member_lens` have `n` elements, each
/// readable for its length.
#[allow(clippy::too_many_arguments)] // the C signature's parameters, passed through
unsafe fn members_write(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    n: usize,
    members: *const *const u8,
    member_lens: *const usize,
    out: *mut u64,
    run: impl FnOnce(&Cache, &[u8], &[&[u8]]) -> ffi::Result<u64>,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache, a readable key and `n`
        // readable members.
        let (cache, key, members) = unsafe {
            (cache_ref(cache)?, bytes(key, key_len, "key")?, byte_array(n, members, member_lens, "members")?)
        };
        let count = run(cache, key, &members)?;
        // SAFETY: a non-NULL `out` is the caller's writable u64.
        unsafe { ok_with(out, count) }
    })
}

/// Adds `by` to the integer at `key` (`INCRBY`; a missing key counts as
/// 0). On `NC_OK`, `*out` (optional: may be NULL) receives the new value.
/// `NC_ERR_REDIS` when the value is not an integer or would overflow; other
/// errors as `nc_cache_set`. Blocking; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; a non-NULL `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_incrby(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    by: i64,
    out: *mut i64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { write(cache, key, key_len, out, |cache, key| cache.incrby(key, by)) }
}

/// `nc_cache_incrby` by 1 (`INCR`).
///
/// # Safety
/// As `nc_cache_incrby`.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_incr(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut i64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { write(cache, key, key_len, out, |cache, key| cache.incr(key)) }
}

/// Subtracts `by` from the integer at `key` (`DECRBY`); as
/// `nc_cache_incrby` otherwise.
///
/// # Safety
/// As `nc_cache_incrby`.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_decrby(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    by: i64,
    out: *mut i64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { write(cache, key, key_len, out, |cache, key| cache.decrby(key, by)) }
}

/// `nc_cache_decrby` by 1 (`DECR`).
///
/// # Safety
/// As `nc_cache_incrby`.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_decr(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut i64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { write(cache, key, key_len, out, |cache, key| cache.decr(key)) }
}

/// Adds `by` to the integer in `field` of the hash at `key` (`HINCRBY`).
/// On `NC_OK`, `*out` (optional) receives the field's new value. Errors as
/// `nc_cache_incrby` (`NC_ERR_REDIS` when the key is not a hash).
/// Blocking; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` and `field` are readable for
/// their lengths; a non-NULL `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_hincrby(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    field: *const u8,
    field_len: usize,
    by: i64,
    out: *mut i64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe {
        write(cache, key, key_len, out, |cache, key| {
            let field = bytes(field, field_len, "field")?;
            cache.hincrby(key, field, by)
        })
    }
}

/// Adds `n` members to the set at `key` (`SADD`; sent as given, never
/// compressed). On `NC_OK`, `*added` (optional) receives how many were new.
/// `n == 0` is `NC_ERR_INVALID_ARGUMENT` ("SADD: nothing to add"); other
/// errors as `nc_cache_set` (`NC_ERR_REDIS` when the key is not a set).
/// Blocking; thread-safe.
///
/// # Safety
/// `members` and `member_lens` have `n` elements, each readable for its
/// length; a non-NULL `added` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_sadd(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    n: usize,
    members: *const *const u8,
    member_lens: *const usize,
    added: *mut u64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { members_write(cache, key, key_len, n, members, member_lens, added, |c, k, m| c.sadd(k, m)) }
}

/// Removes `n` members from the set at `key` (`SREM`). On `NC_OK`,
/// `*removed` (optional) receives how many were there. `n == 0` is `NC_OK`
/// with 0 and no I/O (the arrays may then be NULL). Errors as
/// `nc_cache_sadd`. Blocking; thread-safe.
///
/// # Safety
/// As `nc_cache_sadd`.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_srem(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    n: usize,
    members: *const *const u8,
    member_lens: *const usize,
    removed: *mut u64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { members_write(cache, key, key_len, n, members, member_lens, removed, |c, k, m| c.srem(k, m)) }
}

/// Adds or updates `n` members of the sorted set at `key` (`ZADD`): member
/// `i` is `members[i]` / `member_lens[i]` with score `scores[i]`
/// (`INFINITY` and `-INFINITY` are Redis's `+inf` / `-inf`). On `NC_OK`,
/// `*added` (optional) receives how many members were new (an updated score
/// is not new). `n == 0` and a NaN score are `NC_ERR_INVALID_ARGUMENT`,
/// nothing sent; other errors as `nc_cache_set` (`NC_ERR_REDIS` when the
/// key is not a sorted set). Blocking; thread-safe.
///
/// # Safety
/// `members`, `member_lens` and `scores` have `n` elements, each member
/// readable for its length; a non-NULL `added` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_zadd(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    n: usize,
    members: *const *const u8,
    member_lens: *const usize,
    scores: *const f64,
    added: *mut u64,
) -> nc_status {
    // SAFETY: forwarded to the caller (`scores` has `n` readable elements).
    unsafe {
        members_write(cache, key, key_len, n, members, member_lens, added, |cache, key, members| {
            let scores = f64_array(n, scores, "scores")?;
            let pairs: Vec<(f64, &[u8])> = scores.into_iter().zip(members.iter().copied()).collect();
            cache.zadd(key, &pairs)
        })
    }
}

/// Removes `n` members from the sorted set at `key` (`ZREM`). On `NC_OK`,
/// `*removed` (optional) receives how many were there. `n == 0` is `NC_OK`
/// with 0 and no I/O. Errors as `nc_cache_zadd`. Blocking; thread-safe.
///
/// # Safety
/// As `nc_cache_sadd`.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_zrem(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    n: usize,
    members: *const *const u8,
    member_lens: *const usize,
    removed: *mut u64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { members_write(cache, key, key_len, n, members, member_lens, removed, |c, k, m| c.zrem(k, m)) }
}

/// Adds `by` to the score of `member` in the sorted set at `key`
/// (`ZINCRBY`; a new member starts at 0). On `NC_OK`, `*out` (optional)
/// receives the new score. A NaN `by` is `NC_ERR_INVALID_ARGUMENT`; other
/// errors as `nc_cache_zadd`. Blocking; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` and `member` are readable for
/// their lengths; a non-NULL `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_zincrby(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    by: f64,
    member: *const u8,
    member_len: usize,
    out: *mut f64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe {
        write(cache, key, key_len, out, |cache, key| {
            let member = bytes(member, member_len, "member")?;
            cache.zincrby(key, by, member)
        })
    }
}

/// Prepends `n` values to the list at `key` (`LPUSH`: the last one given
/// ends up first; sent as given, never compressed). On `NC_OK`, `*length`
/// (optional) receives the list's new length. `n == 0` is
/// `NC_ERR_INVALID_ARGUMENT` ("LPUSH: nothing to add"); other errors as
/// `nc_cache_set` (`NC_ERR_REDIS` when the key is not a list). Blocking;
/// thread-safe.
///
/// # Safety
/// `values` and `value_lens` have `n` elements, each readable for its
/// length; a non-NULL `length` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_lpush(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    n: usize,
    values: *const *const u8,
    value_lens: *const usize,
    length: *mut u64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { members_write(cache, key, key_len, n, values, value_lens, length, |c, k, v| c.lpush(k, v)) }
}

/// Appends `n` values to the list at `key` (`RPUSH`); as `nc_cache_lpush`
/// otherwise.
///
/// # Safety
/// As `nc_cache_lpush`.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_rpush(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    n: usize,
    values: *const *const u8,
    value_lens: *const usize,
    length: *mut u64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { members_write(cache, key, key_len, n, values, value_lens, length, |c, k, v| c.rpush(k, v)) }
}

/// Removes and returns the first element of the list at `key` (`LPOP`). On
/// `NC_OK`, `*out` receives a value handle freed with `nc_value_free`;
/// `NC_NOT_FOUND` (an empty or missing list) sets `*out` to NULL. Errors as
/// `nc_cache_lpush`. Blocking; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len`
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_lpop(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut *mut nc_value,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { one_value(cache, key, key_len, out, |cache, key| cache.lpop(key)) }
}

/// Removes and returns the last element of the list at `key` (`RPOP`); as
/// `nc_cache_lpop` otherwise.
///
/// # Safety
/// As `nc_cache_lpop`.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_rpop(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    out: *mut *mut nc_value,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { one_value(cache, key, key_len, out, |cache, key| cache.rpop(key)) }
}

/// Keeps only elements `start` to `stop` (inclusive; negative counts from
/// the end) of the list at `key` (`LTRIM`). Returns `NC_OK`; errors as
/// `nc_cache_lpush`. Blocking; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_ltrim(
    cache: *const nc_cache,
    key: *const u8,
    key_len: usize,
    start: i64,
    stop: i64,
) -> nc_status {
    // SAFETY: forwarded to the caller.
    unsafe { write(cache, key, key_len, std::ptr::null_mut::<()>(), |cache, key| cache.ltrim(key, start, stop)) }
}

/// Removes the expiry of `key` (`PERSIST`). Returns `NC_OK` when an expiry
/// was removed, `NC_NOT_FOUND` when the key does not exist or had none;
/// errors as `nc_cache_set`. Blocking; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `key` is readable for `key_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_persist(cache: *const nc_cache, key: *const u8, key_len: usize) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and a readable key.
        let (cache, key) = unsafe { (cache_ref(cache)?, bytes(key, key_len, "key")?) };
        Ok(if cache.persist(key)? { nc_status::NC_OK } else { nc_status::NC_NOT_FOUND })
    })
}
