//! `nc_script`: a Lua script bound to a cache (core's `register_script`:
//! `EVALSHA`, falling back to `EVAL` on `NOSCRIPT`; declared keys dropped
//! from L1 around the call).

use std::ffi::{c_char, CString};

use nearcache::blocking::Script;

use crate::cache::{cache_ref, nc_cache};
use crate::ffi::{self, boundary, boundary_value, byte_array, bytes, free_box, out_ptr, try_ref, Castable};
use crate::reply::nc_reply;
use crate::status::nc_status;

/// A Lua script bound to a cache, made by `nc_script_new` and freed by
/// `nc_script_free`. Immutable: it may be called from several threads at
/// once. It keeps the cache's state alive; once the cache is closed (or
/// freed), calls return `NC_ERR_CLOSED`.
pub struct nc_script {
    _private: [u8; 0],
}

/// The script and its SHA1 as a C string, made once.
pub(crate) struct ScriptHandle {
    pub(crate) script: Script,
    sha1: CString,
}

impl Castable for nc_script {
    type Rust = ScriptHandle;
}

/// Borrows the script behind a C pointer.
///
/// # Safety
/// A non-NULL `script` comes from `nc_script_new` and is not freed.
pub(crate) unsafe fn script_ref<'a>(script: *const nc_script) -> ffi::Result<&'a Script> {
    // SAFETY: forwarded to the caller.
    unsafe { try_ref(script, "script") }.map(|handle| &handle.script)
}

/// A script call's parts: the script, its keys and its arguments.
pub(crate) type ScriptCall<'a> = (&'a Script, Vec<&'a [u8]>, Vec<&'a [u8]>);

/// A script call's parts from C: the script, its keys and its arguments
/// (`nc_script_call`, `nc_pipeline_add_script`, `nc_transaction_queue_script`).
///
/// # Safety
/// A non-NULL `script` comes from `nc_script_new` and is not freed; the key
/// and argument arrays have `nkeys` and `nargs` elements, each readable for
/// its length.
pub(crate) unsafe fn script_call_parts<'a>(
    script: *const nc_script,
    nkeys: usize,
    keys: *const *const u8,
    key_lens: *const usize,
    nargs: usize,
    args: *const *const u8,
    arg_lens: *const usize,
) -> ffi::Result<ScriptCall<'a>> {
    // SAFETY: forwarded to the caller.
    unsafe {
        Ok((
            script_ref(script)?,
            byte_array(nkeys, keys, key_lens, "keys")?,
            byte_array(nargs, args, arg_lens, "args")?,
        ))
    }
}

/// Binds the Lua source `lua` (`lua_len` bytes) to `cache`. Nothing is sent
/// until the first call (the server learns the script then).
///
/// On `NC_OK`, `*out` receives a script the caller frees with
/// `nc_script_free` (independently of the cache). Returns
/// `NC_ERR_INVALID_ARGUMENT` for NULL arguments. No I/O; thread-safe.
///
/// # Safety
/// `cache` comes from `nc_cache_open*`; `lua` is readable for `lua_len`
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_script_new(
    cache: *const nc_cache,
    lua: *const u8,
    lua_len: usize,
    out: *mut *mut nc_script,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live cache and `lua_len` readable bytes.
        let (cache, lua) = unsafe { (cache_ref(cache)?, bytes(lua, lua_len, "lua")?) };
        let out = out_ptr(out, "out")?;
        let script = cache.register_script(lua);
        let sha1 = CString::new(script.sha1()).unwrap_or_default();
        *out = ffi::into_raw::<nc_script>(ScriptHandle { script, sha1 });
        Ok(nc_status::NC_OK)
    })
}

/// The script's SHA1 in lower-case hex (40 characters, NUL-terminated;
/// what `EVALSHA` names). Owned by the script: valid until
/// `nc_script_free`. NULL gives NULL.
///
/// # Safety
/// A non-NULL `script` comes from `nc_script_new` and is not freed.
#[no_mangle]
pub unsafe extern "C" fn nc_script_sha1(script: *const nc_script) -> *const c_char {
    boundary_value(std::ptr::null(), || {
        // SAFETY: the caller promises a live script; NULL is handled by `as_ref`.
        unsafe { script.cast::<ScriptHandle>().as_ref() }.map_or(std::ptr::null(), |handle| handle.sha1.as_ptr())
    })
}

/// Runs the script with `nkeys` keys (its `KEYS`) and `nargs` arguments (its
/// `ARGV`), each a (pointer, length) pair: `EVALSHA`, or `EVAL` with the
/// source when the server answers `NOSCRIPT` (after a restart or `SCRIPT
/// FLUSH`). Every declared key is dropped from this process's L1 before the
/// call and after it, so reads then see what the script wrote: declare
/// every key the script touches. Routed by the first key in a cluster,
/// where all keys must share one hash slot.
///
/// On `NC_OK`, `*out` receives the raw reply (as `nc_cache_command`'s),
/// freed with `nc_reply_free`. An error the script raises is
/// `NC_ERR_REDIS` with Redis's message; keys in different slots of a
/// cluster and bad keys are `NC_ERR_INVALID_ARGUMENT`, nothing sent; other
/// errors as `nc_cache_command`. Blocking; thread-safe.
///
/// # Safety
/// `script` comes from `nc_script_new`; `keys` / `key_lens` have `nkeys`
/// elements and `args` / `arg_lens` `nargs`, each readable for its length;
/// `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn nc_script_call(
    script: *const nc_script,
    nkeys: usize,
    keys: *const *const u8,
    key_lens: *const usize,
    nargs: usize,
    args: *const *const u8,
    arg_lens: *const usize,
    out: *mut *mut nc_reply,
) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live script and readable keys and arguments.
        let (script, keys, args) = unsafe { script_call_parts(script, nkeys, keys, key_lens, nargs, args, arg_lens) }?;
        let out = out_ptr(out, "out")?;
        *out = ffi::into_raw::<nc_reply>(script.call(&keys, &args)?);
        Ok(nc_status::NC_OK)
    })
}

/// Frees a script. NULL is a no-op. Calls already running on other threads
/// must have returned.
///
/// # Safety
/// A non-NULL `script` comes from `nc_script_new` and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn nc_script_free(script: *mut nc_script) {
    // SAFETY: the caller gives up a script nearcache handed out.
    boundary_value((), || unsafe { free_box(script) })
}
