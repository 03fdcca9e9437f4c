//! `nc_replies`: the results of a pipeline or a transaction's `EXEC`, one
//! per command, each a status and a reply tree.

use nearcache::Reply;

use crate::ffi::{self, boundary, boundary_value, free_box, invalid, out_ptr, try_ref, Castable};
use crate::reply::nc_reply;
use crate::status::{nc_status, status_of};

/// The results of `nc_pipeline_execute`, `nc_transaction_exec` or
/// `nc_cache_transaction`: one per command, in the order they were added.
///
/// Owned by the caller, freed with `nc_replies_free`; the reply nodes it
/// hands out are borrowed from it. Immutable: it may be read from several
/// threads at once.
pub struct nc_replies {
    _private: [u8; 0],
}

/// Each command's status (`NC_OK` or its error's) and reply (the error's
/// message as an `NC_REPLY_ERROR` node for a failed command).
pub(crate) struct Replies(Vec<(nc_status, Reply)>);

impl Castable for nc_replies {
    type Rust = Replies;
}

/// Hands core's per-command results to C: an error keeps its kind (as the
/// status) and its message (as an error node).
pub(crate) fn into_replies(results: Vec<nearcache::Result<Reply>>) -> *mut nc_replies {
    let items = results
        .into_iter()
        .map(|result| match result {
            Ok(reply) => (nc_status::NC_OK, reply),
            Err(err) => (status_of(err.kind()), Reply::Error(err.message().to_owned())),
        })
        .collect();
    ffi::into_raw::<nc_replies>(Replies(items))
}

/// The number of results (one per command). NULL gives 0.
///
/// # Safety
/// A non-NULL `replies` is live.
#[no_mangle]
pub unsafe extern "C" fn nc_replies_len(replies: *const nc_replies) -> usize {
    boundary_value(0, || {
        // SAFETY: the caller promises a live handle; NULL is handled by `as_ref`.
        unsafe { replies.cast::<Replies>().as_ref() }.map_or(0, |r| r.0.len())
    })
}

/// Result `index` (the `index`-th command added). Returns that command's
/// status: `NC_OK` with `*out` pointing to its reply, or the status of its
/// own error (`NC_ERR_REDIS` for a `WRONGTYPE` or an unknown command,
/// `NC_ERR_CONNECTION` when its batch was lost...) with `*out` pointing to
/// an `NC_REPLY_ERROR` node whose `nc_reply_string` is the message, which
/// `nc_last_error()` also gives. The node is borrowed from `replies` (do not
/// free it). An index out of range or NULL arguments give
/// `NC_ERR_INVALID_ARGUMENT` with `*out` untouched.
///
/// # Safety
/// A non-NULL `replies` is live; a non-NULL `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_replies_get(
    replies: *const nc_replies,
    index: usize,
    out: *mut *const nc_reply,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live handle.
        let replies = unsafe { try_ref(replies, "replies") }?;
        let out = out_ptr(out, "out")?;
        let (status, reply) = replies
            .0
            .get(index)
            .ok_or_else(|| invalid(format!("index {index} is out of range ({} results)", replies.0.len())))?;
        if let Reply::Error(message) = reply {
            if *status != nc_status::NC_OK {
                ffi::set_last_error(message);
            }
        }
        *out = (reply as *const Reply).cast();
        Ok(*status)
    })
}

/// Frees the results and every reply they hold. NULL is a no-op.
///
/// # Safety
/// A non-NULL `replies` came from nearcache and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn nc_replies_free(replies: *mut nc_replies) {
    // SAFETY: the caller gives up a handle nearcache handed out.
    boundary_value((), || unsafe { free_box(replies) })
}
