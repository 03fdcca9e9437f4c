//! `nc_pipeline`: commands queued and sent together (core's `Pipeline`),
//! plain or as one `MULTI` ... `EXEC`.

use nearcache::blocking::Pipeline;

use crate::cache::{cache_ref, nc_cache};
use crate::ffi::{self, boundary, boundary_value, byte_array, free_box, out_ptr, try_mut, try_ref, Castable};
use crate::replies::{into_replies, nc_replies};
use crate::script::{nc_script, script_call_parts};
use crate::status::nc_status;

/// Commands queued to be sent together, made by `nc_pipeline_new` and freed
/// by `nc_pipeline_free`. Reusable: `nc_pipeline_execute` empties it.
///
/// Not synchronised: use one pipeline from one thread at a time (several
/// pipelines on one cache may run on several threads). It keeps the cache's
/// state alive; once the cache is closed, `nc_pipeline_execute` returns
/// `NC_ERR_CLOSED`.
pub struct nc_pipeline {
    _private: [u8; 0],
}

impl Castable for nc_pipeline {
    type Rust = Pipeline;
}

/// A new, empty pipeline on `cache`.
///
/// A plain pipeline (`transaction` false) answers the allow-listed reads
/// that L1 holds from L1 and sends the rest in one write (one per node, in
/// a cluster); the sent reads fill L1. A transactional one (`transaction`
/// true) sends its commands as one `MULTI` ... `EXEC` on a dedicated
/// connection, atomically, and never answers from L1; in a cluster all its
/// keys must share one hash slot.
///
/// On `NC_OK`, `*out` receives the pipeline, freed by the caller with
/// `nc_pipeline_free`. Returns `NC_ERR_INVALID_ARGUMENT` for NULL
/// arguments. No I/O; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_pipeline_new(
    cache: *const nc_cache,
    transaction: bool,
    out: *mut *mut nc_pipeline,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache.
        let cache = unsafe { cache_ref(cache) }?;
        let out = out_ptr(out, "out")?;
        let pipeline = if transaction { cache.transaction_pipeline() } else { cache.pipeline() };
        *out = ffi::into_raw::<nc_pipeline>(pipeline);
        Ok(nc_status::NC_OK)
    })
}

/// Queues one command: `argv[0]` is its name, `argc` arguments in all, each
/// `argv_lens[i]` bytes (binary-safe; copied, so the arrays may be reused at
/// once). Nothing is sent until `nc_pipeline_execute`.
///
/// Returns `NC_OK`, or `NC_ERR_INVALID_ARGUMENT` with nothing queued for
/// NULL arguments, `argc == 0`, and the commands `nc_cache_command` refuses
/// (`MULTI`, `WATCH`, `SUBSCRIBE`, blocking pops, ...; the message names
/// it). No I/O.
///
/// # Safety
/// `pipeline` comes from `nc_pipeline_new` and no other thread uses it;
/// `argv` and `argv_lens` have `argc` elements, each readable for its length.
#[no_mangle]
pub unsafe extern "C" fn nc_pipeline_add(
    pipeline: *mut nc_pipeline,
    argc: usize,
    argv: *const *const u8,
    argv_lens: *const usize,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises an unshared pipeline and `argc` readable arguments.
        let (pipeline, args) = unsafe { (try_mut(pipeline, "pipeline")?, byte_array(argc, argv, argv_lens, "argv")?) };
        pipeline.cmd(&args)?;
        Ok(nc_status::NC_OK)
    })
}

/// Queues a call of `script` with `nkeys` keys and `nargs` arguments (as
/// `nc_script_call` takes them), sent as `EVAL` with the script's source (an
/// `EVALSHA` that met `NOSCRIPT` mid-pipeline could not be retried in
/// place). Its keys must share one hash slot in a cluster.
///
/// Returns `NC_OK`, or `NC_ERR_INVALID_ARGUMENT` with nothing queued (NULL
/// arguments, bad keys). No I/O.
///
/// # Safety
/// As `nc_pipeline_add`; `script` comes from `nc_script_new`; the key and
/// argument arrays have `nkeys` and `nargs` readable elements.
#[no_mangle]
pub unsafe extern "C" fn nc_pipeline_add_script(
    pipeline: *mut nc_pipeline,
    script: *const nc_script,
    nkeys: usize,
    keys: *const *const u8,
    key_lens: *const usize,
    nargs: usize,
    args: *const *const u8,
    arg_lens: *const usize,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises an unshared pipeline, a live script and
        // readable keys and arguments.
        let pipeline = unsafe { try_mut(pipeline, "pipeline") }?;
        // SAFETY: as above.
        let (script, keys, args) = unsafe { script_call_parts(script, nkeys, keys, key_lens, nargs, args, arg_lens) }?;
        pipeline.script(script, &keys, &args)?;
        Ok(nc_status::NC_OK)
    })
}

/// How many commands are queued. NULL gives 0.
///
/// # Safety
/// A non-NULL `pipeline` comes from `nc_pipeline_new` and no other thread
/// is changing it.
#[no_mangle]
pub unsafe extern "C" fn nc_pipeline_len(pipeline: *const nc_pipeline) -> usize {
    boundary_value(0, || {
        // SAFETY: the caller promises a live pipeline; NULL is handled by `try_ref`.
        unsafe { try_ref(pipeline, "pipeline") }.map_or(0, Pipeline::len)
    })
}

/// Sends every queued command and empties the pipeline.
///
/// On `NC_OK`, `*out` receives one result per queued command, in the order
/// they were added (read with `nc_replies_len` / `nc_replies_get`), owned by
/// the caller and freed with `nc_replies_free`. One command's error (a
/// `WRONGTYPE`, an unknown command, a connection lost under its node's
/// batch) is that command's result, not the call's. Replies are raw, as
/// `nc_cache_command`'s, except that allow-listed reads come back as
/// `nc_cache_read` gives them (values decompressed), whether L1 or Redis
/// answered. Values written through a pipeline are sent as given (not
/// compressed). An empty pipeline gives an empty result list, no I/O.
///
/// A transactional pipeline fails as a whole instead when Redis refused a
/// command while queueing (`NC_ERR_REDIS`, `EXECABORT`: nothing ran) or its
/// connection failed. Other errors: `NC_ERR_CLOSED`,
/// `NC_ERR_INVALID_ARGUMENT` (NULL arguments; in a cluster, a transaction's
/// keys in several slots), `NC_ERR_CONNECTION`, `NC_ERR_TIMEOUT`. Once
/// sent, the commands are gone from the pipeline, whether they succeeded
/// or not. Blocking unless L1 answers every command.
///
/// # Safety
/// `pipeline` comes from `nc_pipeline_new` and no other thread uses it;
/// `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_pipeline_execute(pipeline: *mut nc_pipeline, out: *mut *mut nc_replies) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises an unshared pipeline.
        let pipeline = unsafe { try_mut(pipeline, "pipeline") }?;
        let out = out_ptr(out, "out")?;
        *out = into_replies(pipeline.execute()?);
        Ok(nc_status::NC_OK)
    })
}

/// Frees a pipeline and drops whatever it still queues (nothing is sent).
/// NULL is a no-op.
///
/// # Safety
/// A non-NULL `pipeline` comes from `nc_pipeline_new` and is not used
/// afterwards.
#[no_mangle]
pub unsafe extern "C" fn nc_pipeline_free(pipeline: *mut nc_pipeline) {
    // SAFETY: the caller gives up a pipeline nearcache handed out.
    boundary_value((), || unsafe { free_box(pipeline) })
}
