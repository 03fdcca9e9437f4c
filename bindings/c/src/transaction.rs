//! `nc_transaction`: optimistic transactions (`WATCH` ... `MULTI` ...
//! `EXEC`) on a dedicated connection, with redis-py's semantics (core's
//! `Transaction`), and `nc_cache_transaction`, core's retry loop around a C
//! callback. The retry policy (`redis.transaction_retries`) is core's.

use std::ffi::c_void;

use nearcache::blocking::Transaction;

use crate::cache::{cache_ref, nc_cache};
use crate::ffi::{self, boundary, boundary_value, byte_array, free_box, out_ptr, try_ref, Castable};
use crate::replies::{into_replies, nc_replies};
use crate::reply::{argv_reply, nc_reply};
use crate::script::{nc_script, script_call_parts};
use crate::status::nc_status;

/// An optimistic transaction in progress: made by `nc_transaction_watch`
/// (freed with `nc_transaction_free`), or lent to the body of
/// `nc_cache_transaction` for one attempt.
///
/// Commands before `nc_transaction_multi` run at once
/// (`nc_transaction_command`, typically reads of the watched keys); after
/// it they are queued (`nc_transaction_queue`) and sent by
/// `nc_transaction_exec` as one `MULTI` ... `EXEC`. Reads inside a
/// transaction never come from L1 and never fill it. Use a transaction from
/// one thread at a time: a call while another runs on it gives
/// `NC_ERR_INVALID_ARGUMENT` (never undefined behaviour).
pub struct nc_transaction {
    _private: [u8; 0],
}

/// The transaction, and whether C was only lent it (the body of
/// `nc_cache_transaction`), in which case `nc_transaction_free` leaves it.
pub(crate) struct TxHandle {
    tx: Transaction,
    lent: bool,
}

impl Castable for nc_transaction {
    type Rust = TxHandle;
}

/// # Safety
/// A non-NULL `tx` comes from `nc_transaction_watch` (or is the one lent to
/// a body) and is not freed.
unsafe fn tx_ref<'a>(tx: *const nc_transaction) -> ffi::Result<&'a Transaction> {
    // SAFETY: forwarded to the caller.
    unsafe { try_ref(tx, "tx") }.map(|handle| &handle.tx)
}

/// Starts a transaction: takes a dedicated connection
/// (`redis.dedicated_connections` bound them) and sends `WATCH` with the
/// `nkeys` keys (nothing when `nkeys == 0`: a plain `MULTI` ... `EXEC`). In a
/// cluster all keys, and every key the transaction later names, must share
/// one hash slot.
///
/// On `NC_OK`, `*out` receives the transaction, freed by the caller with
/// `nc_transaction_free`. Errors: `NC_ERR_INVALID_ARGUMENT` (NULL
/// arguments, bad keys, keys in several slots), `NC_ERR_CONNECTION`,
/// `NC_ERR_TIMEOUT`, `NC_ERR_AUTH`, `NC_ERR_CLOSED`. Blocking; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `keys` and `key_lens` have `nkeys`
/// elements, each readable for its length; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_transaction_watch(
    cache: *const nc_cache,
    nkeys: usize,
    keys: *const *const u8,
    key_lens: *const usize,
    out: *mut *mut nc_transaction,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and `nkeys` readable keys.
        let (cache, keys) = unsafe { (cache_ref(cache)?, byte_array(nkeys, keys, key_lens, "keys")?) };
        let out = out_ptr(out, "out")?;
        let tx = cache.watch(&keys)?;
        *out = ffi::into_raw::<nc_transaction>(TxHandle { tx, lent: false });
        Ok(nc_status::NC_OK)
    })
}

/// Runs one command now on the transaction's connection (before
/// `nc_transaction_multi`; redis-py's immediate mode while watching). Never
/// answered from L1, never filling it; a write drops the keys it names from
/// L1.
///
/// On `NC_OK`, `*out` receives the raw reply, freed with `nc_reply_free`.
/// A server error (`WRONGTYPE`) is `NC_ERR_REDIS` and leaves the
/// transaction usable. `NC_ERR_INVALID_ARGUMENT` after
/// `nc_transaction_multi`, after exec or reset, for refused commands (as
/// `nc_cache_command`'s) and keys outside the transaction's slot; a lost
/// connection (`NC_ERR_CONNECTION`) ends the transaction. Blocking.
///
/// # Safety
/// `tx` is live; `argv` and `argv_lens` have `argc` elements, each readable
/// for its length; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_transaction_command(
    tx: *const nc_transaction,
    argc: usize,
    argv: *const *const u8,
    argv_lens: *const usize,
    out: *mut *mut nc_reply,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live transaction and `argc` readable arguments.
        unsafe { argv_reply(tx_ref(tx), argc, argv, argv_lens, out, |tx, args| tx.command(args)) }
    })
}

/// Starts the queued part: later commands go through `nc_transaction_queue`
/// and run at `nc_transaction_exec`. `NC_ERR_INVALID_ARGUMENT` when called
/// twice (`MULTI` cannot nest) or after exec or reset. No I/O.
///
/// # Safety
/// `tx` is live.
#[no_mangle]
pub unsafe extern "C" fn nc_transaction_multi(tx: *const nc_transaction) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live transaction.
        unsafe { tx_ref(tx) }?.multi()?;
        Ok(nc_status::NC_OK)
    })
}

/// Queues one command (argv form) for `nc_transaction_exec`, starting the
/// queued part if `nc_transaction_multi` was not called. Refused commands
/// and keys outside the transaction's slot are `NC_ERR_INVALID_ARGUMENT`
/// now, nothing queued; the server's own errors (`WRONGTYPE`) come back as
/// that command's result at exec. No I/O.
///
/// # Safety
/// `tx` is live; `argv` and `argv_lens` have `argc` elements, each readable
/// for its length.
#[no_mangle]
pub unsafe extern "C" fn nc_transaction_queue(
    tx: *const nc_transaction,
    argc: usize,
    argv: *const *const u8,
    argv_lens: *const usize,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live transaction and `argc` readable arguments.
        let (tx, args) = unsafe { (tx_ref(tx)?, byte_array(argc, argv, argv_lens, "argv")?) };
        tx.queue(&args)?;
        Ok(nc_status::NC_OK)
    })
}

/// Queues a call of `script` (sent as `EVAL` with its source: a `NOSCRIPT`
/// inside `EXEC` could not be undone); its keys must share the
/// transaction's slot. As `nc_transaction_queue` otherwise.
///
/// # Safety
/// `tx` and `script` are live; the key and argument arrays have `nkeys` and
/// `nargs` readable elements.
#[no_mangle]
pub unsafe extern "C" fn nc_transaction_queue_script(
    tx: *const nc_transaction,
    script: *const nc_script,
    nkeys: usize,
    keys: *const *const u8,
    key_lens: *const usize,
    nargs: usize,
    args: *const *const u8,
    arg_lens: *const usize,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises live handles and readable keys and arguments.
        let tx = unsafe { tx_ref(tx) }?;
        // SAFETY: as above.
        let (script, keys, args) = unsafe { script_call_parts(script, nkeys, keys, key_lens, nargs, args, arg_lens) }?;
        tx.queue_script(script, &keys, &args)?;
        Ok(nc_status::NC_OK)
    })
}

/// Sends `MULTI`, the queued commands and `EXEC` in one write; the
/// transaction is finished afterwards (free it).
///
/// On `NC_OK`, `*out` receives one result per queued command (read with
/// `nc_replies_get`: a command's server error is its own result, the others
/// ran), freed with `nc_replies_free`. `NC_ERR_TRANSACTION_ABORTED` when a
/// watched key changed since `WATCH`: nothing ran; start again (or let
/// `nc_cache_transaction` do it). Other errors: `NC_ERR_REDIS` (`EXECABORT`,
/// Redis refused a command while queueing, nothing ran),
/// `NC_ERR_INVALID_ARGUMENT` (NULL arguments, exec after exec or reset),
/// `NC_ERR_CONNECTION`, `NC_ERR_TIMEOUT`, `NC_ERR_CLOSED`. Blocking.
///
/// # Safety
/// `tx` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_transaction_exec(tx: *const nc_transaction, out: *mut *mut nc_replies) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live transaction.
        let tx = unsafe { tx_ref(tx) }?;
        let out = out_ptr(out, "out")?;
        *out = into_replies(tx.exec()?);
        Ok(nc_status::NC_OK)
    })
}

/// Ends the transaction without `EXEC` (redis-py's `reset`): `UNWATCH`, the
/// queued commands dropped unsent, the connection back to the pool (closed
/// instead if it cannot be reset). Returns `NC_OK`, or
/// `NC_ERR_INVALID_ARGUMENT` for NULL. Blocking when something is watched.
///
/// # Safety
/// `tx` is live.
#[no_mangle]
pub unsafe extern "C" fn nc_transaction_reset(tx: *const nc_transaction) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live transaction.
        unsafe { tx_ref(tx) }?.reset();
        Ok(nc_status::NC_OK)
    })
}

/// Frees a transaction from `nc_transaction_watch`, resetting it first when
/// it was neither executed nor reset (as `nc_transaction_reset`). NULL is a
/// no-op, and so is the transaction lent to an `nc_cache_transaction` body
/// (nearcache frees that one).
///
/// # Safety
/// A non-NULL `tx` is live and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn nc_transaction_free(tx: *mut nc_transaction) {
    boundary_value((), || {
        // SAFETY: the caller promises a live transaction; NULL is handled by `as_ref`.
        let Some(handle) = (unsafe { tx.cast::<TxHandle>().as_ref() }) else { return };
        if handle.lent {
            return;
        }
        handle.tx.reset();
        // SAFETY: the caller gives up a transaction from `into_raw`.
        unsafe { free_box(tx) }
    })
}

/// The body of `nc_cache_transaction`, run once per attempt with a
/// transaction watching the keys and the caller's `user_data`.
///
/// It reads what it needs with `nc_transaction_command`, then calls
/// `nc_transaction_multi` and queues its writes with
/// `nc_transaction_queue`; it must not exec, reset or free `tx` (lent for
/// this attempt only, never to be kept). It returns `NC_OK` to have the
/// queued commands executed, or any other status to end the transaction
/// without executing (that status is what `nc_cache_transaction` returns).
pub type nc_transaction_body =
    Option<unsafe extern "C" fn(tx: *mut nc_transaction, user_data: *mut c_void) -> nc_status>;

/// redis-py's `Redis.transaction(func, *watches)` for C: runs `body` with a
/// transaction watching the `nkeys` keys, then executes what it queued;
/// when `EXEC` is aborted because a watched key changed, runs `body` again
/// on a fresh transaction, up to `redis.transaction_retries` more times
/// (core's policy), then gives up with `NC_ERR_TRANSACTION_ABORTED`. The
/// body runs on the calling thread.
///
/// On `NC_OK`, `*out` receives the results of the last attempt's queued
/// commands (as `nc_transaction_exec`'s), freed with `nc_replies_free`. When
/// `body` returns a status other than `NC_OK`, the transaction is reset and
/// that status is returned as is (nothing executed, no retry,
/// `nc_last_error()` as the body left it, or naming the status). Other
/// errors as `nc_transaction_watch` and `nc_transaction_exec`;
/// `NC_ERR_INVALID_ARGUMENT` for a NULL `body`. Blocking; thread-safe (the
/// body may run on any thread calling this).
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `keys` and `key_lens` have `nkeys`
/// elements, each readable for its length; `body` is safe to call with
/// `user_data`; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_cache_transaction(
    cache: *const nc_cache,
    nkeys: usize,
    keys: *const *const u8,
    key_lens: *const usize,
    body: nc_transaction_body,
    user_data: *mut c_void,
    out: *mut *mut nc_replies,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and `nkeys` readable keys.
        let (cache, keys) = unsafe { (cache_ref(cache)?, byte_array(nkeys, keys, key_lens, "keys")?) };
        let out = out_ptr(out, "out")?;
        let Some(body) = body else {
            return Err(ffi::invalid("body is NULL"));
        };
        // The body's own failure: its status and the message it left.
        let mut stopped: Option<(nc_status, String)> = None;
        let result = cache.transaction(&keys, |tx| {
            let lent = ffi::into_raw::<nc_transaction>(TxHandle { tx: tx.clone(), lent: true });
            // SAFETY: the caller promises `body` may be called with
            // `user_data`; `lent` is live until freed below.
            let status = unsafe { body(lent, user_data) };
            // SAFETY: `lent` came from `into_raw` above; `nc_transaction_free`
            // leaves lent handles alone, so it is still ours.
            unsafe { free_box(lent) };
            if status == nc_status::NC_OK {
                return Ok(());
            }
            stopped = Some((status, ffi::last_error_message()));
            // Ends core's loop at once (a body's error is never retried);
            // replaced by the body's status below.
            Err(ffi::invalid("the transaction body stopped"))
        });
        match (result, stopped) {
            (Ok(((), replies)), _) => {
                *out = into_replies(replies);
                Ok(nc_status::NC_OK)
            }
            (Err(_), Some((status, message))) => {
                let message =
                    if message.is_empty() { format!("the transaction body returned {status:?}") } else { message };
                ffi::set_last_error(&message);
                Ok(status)
            }
            (Err(e), None) => Err(e),
        }
    })
}
