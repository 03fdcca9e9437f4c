//! `nearcache.AsyncCache`: the asyncio cache over core's async `Cache`.
//!
//! Each method converts its arguments on the calling thread, then spawns one
//! core future on core's own runtime (no second runtime, no thread per
//! call) and returns an asyncio future. Results come back through a
//! [`Bridge`]: the runtime thread queues the finished result and writes one
//! byte to a socket the event loop watches; the loop thread, which holds the
//! GIL anyway, converts and delivers every queued result. No runtime thread
//! ever waits for the GIL, which under load would serialise all completions.
//! An L1 hit never leaves the calling thread: it returns a call that is
//! already done. Every method returns a [`Call`], a coroutine object.
//! Each spawned call holds core's `InFlight` guard until its result is
//! queued, so `close()` (core's `close_when_idle`) waits for it.

use std::future::Future;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use bytes::Bytes;
use nearcache::{Cache, ErrorKind};
use parking_lot::Mutex;
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use crate::call::Call;
use crate::convert::{self, Loader};
use crate::error::{core_error, guard, to_py, CatchUnwind, IntoPy};

/// Turns a finished core result into the value (or exception) of its
/// asyncio future; runs on the loop thread, with the GIL.
type Deliver = Box<dyn for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyAny>> + Send>;

/// Carries results from core's runtime threads to one asyncio event loop.
pub(crate) struct Bridge {
    /// Finished results and the futures they belong to.
    done: Mutex<Vec<(Py<PyAny>, Deliver)>>,
    /// Written (one byte) when `done` turns non-empty; never blocks.
    wake: UnixStream,
    /// Watched by the loop (`add_reader`); drained by [`Drain`].
    watched: UnixStream,
}

impl Bridge {
    fn new() -> std::io::Result<Bridge> {
        let (wake, watched) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        watched.set_nonblocking(true)?;
        Ok(Bridge { done: Mutex::new(Vec::new()), wake, watched })
    }

    /// Queues a result; called on a runtime thread, without the GIL.
    fn complete(&self, future: Py<PyAny>, deliver: Deliver) {
        let was_empty = {
            let mut done = self.done.lock();
            done.push((future, deliver));
            done.len() == 1
        };
        // Only the push that makes the queue non-empty must wake the loop:
        // a later push finds a wake-up pending (the drain reads the socket
        // before it takes the queue). A full socket buffer already means a
        // wake-up is pending, so a failed write loses nothing.
        if was_empty {
            let _ = (&self.wake).write(&[1]);
        }
    }

    /// Delivers every queued result; called by the loop with the GIL.
    fn drain(&self, py: Python<'_>) {
        let mut sink = [0u8; 256];
        while matches!((&self.watched).read(&mut sink), Ok(n) if n > 0) {}
        let batch = std::mem::take(&mut *self.done.lock());
        for (future, deliver) in batch {
            let future = future.bind(py);
            // A cancelled future is done: its result is dropped.
            if future.call_method0(pyo3::intern!(py, "done")).and_then(|d| d.is_truthy()).unwrap_or(true) {
                continue;
            }
            let outcome = match deliver(py) {
                Ok(value) => future.call_method1(pyo3::intern!(py, "set_result"), (value,)),
                Err(err) => future.call_method1(pyo3::intern!(py, "set_exception"), (err.into_value(py),)),
            };
            if let Err(err) = outcome {
                err.write_unraisable(py, Some(future));
            }
        }
    }
}

/// The callback the event loop runs when a [`Bridge`]'s socket is readable.
#[pyclass(frozen, module = "nearcache._native")]
pub(crate) struct Drain {
    bridge: Arc<Bridge>,
}

#[pymethods]
impl Drain {
    fn __call__(&self, py: Python<'_>) {
        self.bridge.drain(py)
    }
}

/// What an asyncio loader's core side awaits (boxed: a closure cannot name
/// an `async` block's type; allocated on a miss only).
type LoaderFuture = std::pin::Pin<Box<dyn Future<Output = PyResult<Bytes>> + Send + 'static>>;

/// Where a loader's result goes (taken by whoever sends it).
type Reply = Arc<Mutex<Option<tokio::sync::oneshot::Sender<PyResult<Bytes>>>>>;

fn send(reply: &Reply, result: PyResult<Bytes>) {
    if let Some(tx) = reply.lock().take() {
        // The receiver is gone only if the get_or_load future was dropped.
        let _ = tx.send(result);
    }
}

/// Runs a `get_or_load` loader on the event loop: a plain result is sent at
/// once; an awaitable is scheduled and [`LoadDone`] sends its result.
#[pyclass(frozen, module = "nearcache._native")]
pub(crate) struct LoadStart {
    loader: Py<PyAny>,
    reply: Reply,
}

#[pymethods]
impl LoadStart {
    fn __call__(&self, py: Python<'_>) {
        let started = self.loader.bind(py).call0().and_then(|out| {
            if !out.hasattr(pyo3::intern!(py, "__await__"))? {
                return Ok(Some(convert::loaded(&out)?));
            }
            let task = py.import("asyncio")?.call_method1("ensure_future", (out,))?;
            task.call_method1("add_done_callback", (LoadDone { reply: Arc::clone(&self.reply) },))?;
            Ok(None)
        });
        match started {
            Ok(Some(value)) => send(&self.reply, Ok(value)),
            Ok(None) => {}
            Err(err) => send(&self.reply, Err(err)),
        }
    }
}

/// Sends the result of a loader's awaitable when it is done.
#[pyclass(frozen, module = "nearcache._native")]
pub(crate) struct LoadDone {
    reply: Reply,
}

#[pymethods]
impl LoadDone {
    fn __call__(&self, task: &Bound<'_, PyAny>) {
        let result = task.call_method0(pyo3::intern!(task.py(), "result")).and_then(|out| convert::loaded(&out));
        send(&self.reply, result);
    }
}

/// Calls `module.name()`, the function looked up once into `cell`.
fn call_cached<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    module: &str,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    cell.get_or_try_init(py, || py.import(module)?.getattr(name).map(Bound::unbind))?.bind(py).call0()
}

/// `contextvars.copy_context()`: the caller's context, for its loader.
fn copy_context(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static COPY_CONTEXT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    call_cached(py, &COPY_CONTEXT, "contextvars", "copy_context")
}

/// `asyncio.get_running_loop()`.
fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    call_cached(py, &GET_RUNNING_LOOP, "asyncio", "get_running_loop")
}

/// The asyncio cache (`nearcache._native.AsyncCache`, subclassed by
/// `nearcache.AsyncCache` for the JSON helpers).
#[pyclass(frozen, subclass, name = "AsyncCache", module = "nearcache._native")]
pub(crate) struct PyAsyncCache {
    inner: Cache,
    /// The bridge to the event loop this cache was last used from.
    bridge: Mutex<Option<(Py<PyAny>, Arc<Bridge>)>>,
}

impl PyAsyncCache {
    fn create(py: Python<'_>, config: nearcache::Config) -> PyResult<Self> {
        Ok(PyAsyncCache { inner: Cache::new(config).py(py)?, bridge: Mutex::new(None) })
    }

    /// The running loop and its bridge (created and registered with the
    /// loop on first use from that loop).
    fn bridge<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, Arc<Bridge>)> {
        let event_loop = running_loop(py)?;
        let mut slot = self.bridge.lock();
        if let Some((known, bridge)) = slot.as_ref() {
            if known.bind(py).is(&event_loop) {
                return Ok((event_loop, Arc::clone(bridge)));
            }
        }
        let bridge = Arc::new(Bridge::new().map_err(|e| {
            core_error(py, ErrorKind::Internal, format!("cannot create the event-loop wake-up socket: {e}"))
        })?);
        let drain = Drain { bridge: Arc::clone(&bridge) };
        event_loop.call_method1("add_reader", (bridge.watched.as_raw_fd(), drain))?;
        if let Some((old_loop, old)) = slot.replace((event_loop.clone().unbind(), Arc::clone(&bridge))) {
            forget_loop(py, old_loop.bind(py), &old);
        }
        Ok((event_loop, bridge))
    }

    /// Spawns `work` on core's runtime as a call in flight (refused once the
    /// cache is closing); returns a [`Call`] that gets its result, converted
    /// by `out` on the loop thread.
    pub(crate) fn submit<'py, T, W, O>(&self, py: Python<'py>, work: W, out: O) -> PyResult<Bound<'py, PyAny>>
    where
        T: Send + 'static,
        W: Future<Output = nearcache::Result<T>> + Send + 'static,
        O: for<'a> FnOnce(Python<'a>, T) -> PyResult<Bound<'a, PyAny>> + Send + 'static,
    {
        // Also refuses in a forked child, where the runtime's threads are
        // gone: the error comes here, where the caller is, rather than from
        // a future no thread will poll.
        let in_flight = self.inner.start_work().py(py)?;
        self.spawn(py, work, out, Some(in_flight))
    }

    /// Spawns `work`; `in_flight` (if any) is dropped once the result is
    /// queued for the loop, so a waiting close resolves after it.
    fn spawn<'py, T, W, O>(
        &self,
        py: Python<'py>,
        work: W,
        out: O,
        in_flight: Option<nearcache::InFlight>,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        T: Send + 'static,
        W: Future<Output = nearcache::Result<T>> + Send + 'static,
        O: for<'a> FnOnce(Python<'a>, T) -> PyResult<Bound<'a, PyAny>> + Send + 'static,
    {
        let runtime = nearcache::runtime().py(py)?;
        let (event_loop, bridge) = self.bridge(py)?;
        let future = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
        let handle = future.clone().unbind();
        runtime.spawn(async move {
            let result = CatchUnwind(work).await;
            let deliver: Deliver = Box::new(move |py| match result {
                Ok(value) => out(py, value),
                Err(e) => Err(to_py(py, e)),
            });
            bridge.complete(handle, deliver);
            drop(in_flight);
        });
        Call::waiting(py, future)
    }

    /// Unregisters this cache's bridge from its loop (after close).
    fn forget_bridge(&self, py: Python<'_>) {
        if let Some((event_loop, bridge)) = self.bridge.lock().take() {
            forget_loop(py, event_loop.bind(py), &bridge);
        }
    }

    fn core(&self) -> &Cache {
        &self.inner
    }

    /// A `get_or_load` loader runs on the event loop's thread, in the
    /// caller's contextvars context; the core future only waits for its
    /// result (a plain value, or an awaitable the loop runs).
    fn loader(py: Python<'_>, loader: Loader<'_>) -> PyResult<impl FnOnce() -> LoaderFuture + Send + 'static> {
        let event_loop = running_loop(py)?.unbind();
        let context = copy_context(py)?.unbind();
        let loader = loader.0.unbind();
        Ok(move || -> LoaderFuture {
            Box::pin(async move {
                let (tx, rx) = tokio::sync::oneshot::channel::<PyResult<Bytes>>();
                Python::attach(|py| {
                    let start = LoadStart { loader, reply: Arc::new(Mutex::new(Some(tx))) };
                    let kwargs = PyDict::new(py);
                    kwargs.set_item("context", context)?;
                    event_loop.bind(py).call_method("call_soon_threadsafe", (start,), Some(&kwargs)).map(drop)
                })?;
                rx.await.unwrap_or_else(|_| {
                    Err(Python::attach(|py| {
                        core_error(py, ErrorKind::Internal, "the event loop dropped the loader before it finished")
                    }))
                })
            })
        })
    }
}

/// Unregisters a bridge from a loop this cache no longer uses (a closed loop
/// has no readers left to remove).
fn forget_loop(py: Python<'_>, event_loop: &Bound<'_, PyAny>, bridge: &Bridge) {
    let closed = event_loop.call_method0("is_closed").and_then(|c| c.is_truthy()).unwrap_or(true);
    if !closed {
        if let Err(err) = event_loop.call_method1("remove_reader", (bridge.watched.as_raw_fd(),)) {
            err.write_unraisable(py, Some(event_loop));
        }
    }
}

crate::methods::cache_methods!(PyAsyncCache, "AsyncCache", asyncio, {
    /// A pipeline (redis-py's `pipeline(transaction=True, shard_hint=None)`).
    #[pyo3(signature = (transaction = true, shard_hint = None))]
    fn pipeline(
        slf: &Bound<'_, Self>,
        #[pyo3(from_py_with = flag)] transaction: bool,
        shard_hint: Option<Bound<'_, PyAny>>,
    ) -> PyResult<crate::pipeline::PyAsyncPipeline> {
        // shard_hint: accepted for redis-py's signature; routing is by key.
        let _ = shard_hint;
        guard(|| Ok(crate::pipeline::PyAsyncPipeline::new(slf.clone().unbind(), slf.get().inner.clone(), transaction)))
    }

    /// A Lua script bound to this cache; calling it returns a coroutine.
    fn register_script(
        slf: &Bound<'_, Self>,
        script: crate::convert::Source,
    ) -> PyResult<crate::pipeline::PyAsyncScript> {
        guard(|| {
            let script = slf.get().inner.register_script(&script.0);
            Ok(crate::pipeline::PyAsyncScript { owner: slf.clone().unbind(), script })
        })
    }

    #[pyo3(signature = (pattern = None))]
    fn scan(slf: &Bound<'_, Self>, pattern: Option<Key<'_>>) -> PyResult<AsyncScan> {
        guard(|| {
            let scan = slf.get().inner.scan(pattern.as_deref());
            Ok(AsyncScan { owner: slf.clone().unbind(), inner: Arc::new(tokio::sync::Mutex::new(scan)) })
        })
    }

    /// Refuses new calls, waits for the calls in flight, then closes
    /// (core's `close_when_idle`). Starts at once, awaited or not; the
    /// returned call finishes when the cache is closed. Outside a running
    /// event loop (nothing to wait on) it closes at once.
    fn close<'py>(slf: &Bound<'py, Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let this = slf.get();
            let closed = |py: Python<'_>, owner: &PyAsyncCache| {
                owner.forget_bridge(py);
            };
            match this.inner.close_when_idle() {
                nearcache::Ready::Now(()) => {
                    closed(py, this);
                    Call::done(py, py.None().into_bound(py))
                }
                nearcache::Ready::Later(pending) => {
                    if running_loop(py).is_err() {
                        this.inner.close();
                        closed(py, this);
                        return Call::done(py, py.None().into_bound(py));
                    }
                    let owner = slf.clone().unbind();
                    this.spawn(
                        py,
                        pending,
                        move |py, ()| {
                            closed(py, owner.get());
                            Ok(py.None().into_bound(py))
                        },
                        None,
                    )
                }
            }
        })
    }

    /// The same as `close()` (the name `contextlib.aclosing` calls).
    fn aclose<'py>(slf: &Bound<'py, Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Self::close(slf, py)
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Call::done(py, slf.into_any())
    }

    #[pyo3(signature = (*_exc))]
    fn __aexit__<'py>(
        slf: &Bound<'py, Self>,
        py: Python<'py>,
        _exc: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::close(slf, py)
    }
});

/// An async SCAN iterator (`AsyncCache.scan`, for `async for`).
#[pyclass(frozen, module = "nearcache._native")]
pub(crate) struct AsyncScan {
    owner: Py<PyAsyncCache>,
    inner: Arc<tokio::sync::Mutex<nearcache::Scan>>,
}

#[pymethods]
impl AsyncScan {
    fn __aiter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let scan = Arc::clone(&self.inner);
            self.owner.get().submit(py, async move { scan.lock().await.next().await }, |py, key| match key {
                Some(key) => Ok(PyBytes::new(py, &key).into_any()),
                None => Err(PyStopAsyncIteration::new_err(())),
            })
        })
    }
}
