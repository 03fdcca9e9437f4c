//! Promises settled in batches from the core runtime.
//!
//! napi-rs's own `async fn` support creates a threadsafe function (a libuv
//! async handle) per call and needs a tokio runtime of its own. Here each
//! JavaScript thread has one threadsafe function and one queue: a call makes
//! a Promise, spawns its future on the core runtime (`nearcache::spawn`), and
//! the finished future pushes `(deferred, outcome)` onto the queue. Only the
//! push that finds the queue empty wakes the JavaScript thread, which then
//! settles everything queued in one callback, so 100 concurrent calls cost a
//! handful of wake-ups rather than 100.
//!
//! The threadsafe function is referenced (keeps the event loop alive) only
//! while calls are pending, so an idle cache never holds a process open.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

use napi::bindgen_prelude::ToNapiValue;
use napi::sys;
use parking_lot::Mutex;

use crate::error::{to_js, ArgError};

/// A Promise of a `T` made by [`spawn`], [`resolved`] or [`rejected`]. `T`
/// is what the Promise resolves with: napi-derive writes it into
/// index.d.ts (`Promise<Buffer | null>` for `Promise<Option<Buffer>>`).
pub struct Promise<T> {
    value: sys::napi_value,
    resolves: PhantomData<fn() -> T>,
}

impl<T> Promise<T> {
    fn new(value: sys::napi_value) -> Self {
        Promise { value, resolves: PhantomData }
    }
}

impl<T> ToNapiValue for Promise<T> {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        Ok(val.value)
    }
}

/// What a finished call hands to the JavaScript thread.
enum Outcome {
    /// Builds the resolved value (on the JavaScript thread).
    Value(Box<dyn FnOnce(sys::napi_env) -> napi::Result<sys::napi_value> + Send>),
    Error(nearcache::Error),
    Panic(Box<dyn std::any::Any + Send>),
}

impl Outcome {
    fn of<T: ToNapiValue + Send + 'static>(result: nearcache::Result<T>) -> Outcome {
        match result {
            // SAFETY: the closure runs on the JavaScript thread (`settle`).
            Ok(value) => Outcome::Value(Box::new(move |env| unsafe { T::to_napi_value(env, value) })),
            Err(e) => Outcome::Error(e),
        }
    }
}

/// A panic as core's `Internal` error value.
///
/// # Safety
/// `env` must be the current thread's env.
unsafe fn panic_to_js(env: sys::napi_env, payload: &(dyn std::any::Any + Send)) -> sys::napi_value {
    unsafe { to_js(env, nearcache::Error::from_panic(payload)) }
}

struct Deferred(sys::napi_deferred);
// SAFETY: the handle is only used on the JavaScript thread that created it
// (in `settle_all`); other threads just carry it through the queue.
unsafe impl Send for Deferred {}

struct Shared {
    queue: Mutex<Vec<(Deferred, Outcome)>>,
    tsfn: Tsfn,
}

struct Tsfn(sys::napi_threadsafe_function);
// SAFETY: napi_call_threadsafe_function may be called from any thread.
unsafe impl Send for Tsfn {}
unsafe impl Sync for Tsfn {}

/// Per JavaScript thread (main thread or a worker): its queue and how many
/// calls are in flight.
struct Local {
    shared: Arc<Shared>,
    pending: Cell<usize>,
}

thread_local! {
    static LOCAL: RefCell<Option<Rc<Local>>> = const { RefCell::new(None) };
}

fn local(env: sys::napi_env) -> napi::Result<Rc<Local>> {
    if let Some(found) = LOCAL.with(|l| l.borrow().clone()) {
        return Ok(found);
    }
    let mut tsfn = ptr::null_mut();
    let mut name = ptr::null_mut();
    // SAFETY: plain napi calls on the JS thread. The callback finds its queue
    // through `LOCAL` (it runs on this same thread), so it needs no context.
    // The function lives as long as the env: one per JavaScript thread.
    unsafe {
        check(sys::napi_create_string_utf8(env, c"nearcache".as_ptr(), 9, &mut name))?;
        check(sys::napi_create_threadsafe_function(
            env,
            ptr::null_mut(),
            ptr::null_mut(),
            name,
            0,
            1,
            ptr::null_mut(),
            None,
            ptr::null_mut(),
            Some(settle_all),
            &mut tsfn,
        ))?;
        check(sys::napi_unref_threadsafe_function(env, tsfn))?;
    }
    let shared = Arc::new(Shared { queue: Mutex::new(Vec::new()), tsfn: Tsfn(tsfn) });
    let found = Rc::new(Local { shared, pending: Cell::new(0) });
    LOCAL.with(|l| *l.borrow_mut() = Some(Rc::clone(&found)));
    Ok(found)
}

fn check(status: sys::napi_status) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::new(napi::Status::from(status), "napi call failed".to_owned()))
    }
}

/// A new Promise; returns (deferred, promise).
fn new_promise(env: sys::napi_env) -> napi::Result<(sys::napi_deferred, sys::napi_value)> {
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    // SAFETY: JS thread.
    check(unsafe { sys::napi_create_promise(env, &mut deferred, &mut promise) })?;
    Ok((deferred, promise))
}

/// A Promise already rejected with an argument error (bad arguments reject
/// rather than throw, as an `async` function's would).
pub(crate) fn rejected<T>(env: sys::napi_env, err: ArgError) -> napi::Result<Promise<T>> {
    let (deferred, promise) = new_promise(env)?;
    // SAFETY: JS thread.
    unsafe {
        let value = err.into_js(env);
        check(sys::napi_reject_deferred(env, deferred, value))?;
    }
    Ok(Promise::new(promise))
}

/// A Promise already resolved with `value` (an L1 hit: no runtime, no
/// wake-up).
pub(crate) fn resolved<T: ToNapiValue>(env: sys::napi_env, value: T) -> napi::Result<Promise<T>> {
    let (deferred, promise) = new_promise(env)?;
    // SAFETY: JS thread.
    unsafe {
        let value = T::to_napi_value(env, value)?;
        check(sys::napi_resolve_deferred(env, deferred, value))?;
    }
    Ok(Promise::new(promise))
}

/// Runs `work` on the core runtime and returns a Promise settled with its
/// result, converted on the JavaScript thread.
pub(crate) fn spawn<T, F>(env: sys::napi_env, work: F) -> napi::Result<Promise<T>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = nearcache::Result<T>> + Send + 'static,
{
    spawn_in_flight(env, None, work)
}

/// [`spawn`] for a call counted in flight by its cache: `in_flight` is
/// dropped once the outcome is queued for this thread, so a `close()` that
/// waits for the call settles after it (the queue keeps the order).
pub(crate) fn spawn_in_flight<T, F>(
    env: sys::napi_env,
    in_flight: Option<nearcache::InFlight>,
    work: F,
) -> napi::Result<Promise<T>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = nearcache::Result<T>> + Send + 'static,
{
    let local = local(env)?;
    let (deferred, promise) = new_promise(env)?;
    let shared = Arc::clone(&local.shared);
    let deferred = Deferred(deferred);
    let task = async move {
        let outcome = match (CatchUnwind { inner: work }).await {
            Ok(result) => Outcome::of(result),
            Err(payload) => Outcome::Panic(payload),
        };
        deliver(&shared, deferred, outcome);
        drop(in_flight);
    };
    if let Err(e) = nearcache::spawn(task) {
        // No runtime: reject now, on this thread.
        // SAFETY: JS thread; `deferred` was moved into the dropped task, so
        // make a fresh rejected promise instead.
        let (deferred, promise) = new_promise(env)?;
        unsafe {
            let value = to_js(env, e);
            check(sys::napi_reject_deferred(env, deferred, value))?;
        }
        return Ok(Promise::new(promise));
    }
    let pending = local.pending.get();
    if pending == 0 {
        // SAFETY: JS thread.
        check(unsafe { sys::napi_ref_threadsafe_function(env, local.shared.tsfn.0) })?;
    }
    local.pending.set(pending + 1);
    Ok(Promise::new(promise))
}

fn deliver(shared: &Shared, deferred: Deferred, outcome: Outcome) {
    let wake = {
        let mut queue = shared.queue.lock();
        queue.push((deferred, outcome));
        queue.len() == 1
    };
    if wake {
        // SAFETY: callable from any thread. If the env is shutting down the
        // call fails and the Promise is dropped with it.
        unsafe {
            sys::napi_call_threadsafe_function(
                shared.tsfn.0,
                ptr::null_mut(),
                sys::ThreadsafeFunctionCallMode::nonblocking,
            );
        }
    }
}

/// The threadsafe function's callback: settles every queued call.
unsafe extern "C" fn settle_all(
    env: sys::napi_env,
    _js_cb: sys::napi_value,
    _context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() {
        return; // the env is being torn down
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let Some(local) = LOCAL.with(|l| l.borrow().clone()) else { return };
        let batch = std::mem::take(&mut *local.shared.queue.lock());
        let done = batch.len();
        for (deferred, outcome) in batch {
            // SAFETY: JS thread of the env that created the deferred.
            unsafe { settle(env, deferred.0, outcome) };
        }
        let left = local.pending.get().saturating_sub(done);
        local.pending.set(left);
        if left == 0 {
            // SAFETY: JS thread.
            unsafe { sys::napi_unref_threadsafe_function(env, local.shared.tsfn.0) };
        }
    }));
}

unsafe fn settle(env: sys::napi_env, deferred: sys::napi_deferred, outcome: Outcome) {
    unsafe {
        let mut scope = ptr::null_mut();
        sys::napi_open_handle_scope(env, &mut scope);
        let converted = catch_unwind(AssertUnwindSafe(|| match outcome {
            Outcome::Value(build) => match build(env) {
                Ok(value) => Ok(value),
                Err(e) => Err(to_js(
                    env,
                    nearcache::Error::new(nearcache::ErrorKind::Internal, format!("converting the result: {e}")),
                )),
            },
            Outcome::Error(e) => Err(to_js(env, e)),
            Outcome::Panic(payload) => Err(panic_to_js(env, payload.as_ref())),
        }));
        match converted {
            Ok(Ok(value)) => {
                sys::napi_resolve_deferred(env, deferred, value);
            }
            Ok(Err(error)) => {
                sys::napi_reject_deferred(env, deferred, error);
            }
            Err(payload) => {
                let error = panic_to_js(env, payload.as_ref());
                sys::napi_reject_deferred(env, deferred, error);
            }
        }
        sys::napi_close_handle_scope(env, scope);
    }
}

/// Turns a panic inside a call's future into a rejection with core's `Internal` error
/// instead of a lost Promise.
struct CatchUnwind<F> {
    inner: F,
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn std::any::Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of the only field; it is never moved.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.inner) };
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}
