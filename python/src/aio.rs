//! `nearcache.AsyncCache`: the asyncio cache over core's async `Cache`.
//!
//! Each method converts its arguments on the calling thread, then spawns one
//! core future on core's own runtime (no second runtime, no thread per
//! call) and returns an asyncio future. Results come back through a
//! [`Bridge`]: the runtime thread queues the finished result and writes one
//! byte to a socket the event loop watches; the loop thread, which holds the
//! GIL anyway, converts and delivers every queued result. No runtime thread
//! ever waits for the GIL, which under load would serialise all completions.
//! An L1 hit never leaves the calling thread: it returns an already-complete
//! awaitable.

use std::future::Future;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use bytes::Bytes;
use nearcache::{Cache, Lookup};
use parking_lot::Mutex;
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyTuple, PyType};

use crate::convert;
use crate::error::{guard, to_py, CatchUnwind, IntoPy};
use crate::Ready;

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

/// `contextvars.copy_context()`: the caller's context, for its loader.
fn copy_context(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static COPY_CONTEXT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    COPY_CONTEXT
        .get_or_try_init(py, || py.import("contextvars")?.getattr("copy_context").map(Bound::unbind))?
        .bind(py)
        .call0()
}

/// `asyncio.get_running_loop`, looked up once.
fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    GET_RUNNING_LOOP
        .get_or_try_init(py, || py.import("asyncio")?.getattr("get_running_loop").map(Bound::unbind))?
        .bind(py)
        .call0()
}

fn owned(objs: &[Bound<'_, PyBytes>]) -> Vec<Bytes> {
    objs.iter().map(|b| Bytes::copy_from_slice(b.as_bytes())).collect()
}

fn owned_one(obj: &Bound<'_, PyBytes>) -> Bytes {
    Bytes::copy_from_slice(obj.as_bytes())
}

fn none(py: Python<'_>, _: ()) -> PyResult<Bound<'_, PyAny>> {
    Ok(py.None().into_bound(py))
}

fn pyobj<'py, T>(py: Python<'py>, value: T) -> PyResult<Bound<'py, PyAny>>
where
    T: for<'a> IntoPyObject<'a>,
{
    pyo3::IntoPyObjectExt::into_bound_py_any(value, py)
}

/// The asyncio cache (`nearcache.AsyncCache`).
#[pyclass(frozen, name = "AsyncCache", module = "nearcache._native")]
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
            crate::error::InternalError::new_err(format!("cannot create the event-loop wake-up socket: {e}"))
        })?);
        let drain = Drain { bridge: Arc::clone(&bridge) };
        event_loop.call_method1("add_reader", (bridge.watched.as_raw_fd(), drain))?;
        if let Some((old_loop, old)) = slot.replace((event_loop.clone().unbind(), Arc::clone(&bridge))) {
            forget_loop(py, old_loop.bind(py), &old);
        }
        Ok((event_loop, bridge))
    }

    /// Spawns `work` on core's runtime; returns an asyncio future that gets
    /// its result, converted by `out` on the loop thread.
    fn submit<'py, T, W, O>(&self, py: Python<'py>, work: W, out: O) -> PyResult<Bound<'py, PyAny>>
    where
        T: Send + 'static,
        W: Future<Output = nearcache::Result<T>> + Send + 'static,
        O: for<'a> FnOnce(Python<'a>, T) -> PyResult<Bound<'a, PyAny>> + Send + 'static,
    {
        // In a forked child the runtime's threads are gone: refuse here, where
        // the caller is, rather than spawn a future no thread will poll.
        self.inner.check_usable().py(py)?;
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
        });
        Ok(future)
    }

    /// The L1 answer for `key`, if L1 has one (checks the key and that the
    /// cache is usable).
    fn local(&self, py: Python<'_>, key: &[u8]) -> PyResult<Option<Option<Bytes>>> {
        match self.inner.get_local(key).py(py)? {
            Lookup::Hit(value) => Ok(Some(Some(value))),
            Lookup::Absent => Ok(Some(None)),
            Lookup::Miss => Ok(None),
        }
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

#[pymethods]
impl PyAsyncCache {
    #[new]
    #[pyo3(signature = (url = None, **options))]
    fn new(py: Python<'_>, url: Option<&Bound<'_, PyAny>>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        guard(|| PyAsyncCache::create(py, crate::config_from(py, url, options)?))
    }

    #[classmethod]
    fn from_config(_cls: &Bound<'_, PyType>, py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        guard(|| PyAsyncCache::create(py, nearcache::Config::from_path(path).py(py)?))
    }

    #[classmethod]
    fn from_env(_cls: &Bound<'_, PyType>, py: Python<'_>) -> PyResult<Self> {
        guard(|| PyAsyncCache::create(py, nearcache::Config::from_env().py(py)?))
    }

    fn config_json(&self) -> String {
        self.inner.config().to_json()
    }

    /// L1 only, no I/O, synchronous: the value on a hit, `None` for a
    /// cached absence, `default` when L1 cannot answer.
    #[pyo3(signature = (key, default = None))]
    fn get_local<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let key = convert::key(key)?;
            Ok(match self.local(py, key.as_bytes())? {
                Some(found) => convert::opt_bytes(py, found),
                None => default.unwrap_or_else(|| py.None().into_bound(py)),
            })
        })
    }

    fn connect<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let cache = self.inner.clone();
            self.submit(py, async move { cache.connect().await }, none)
        })
    }

    fn get<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let key = convert::key(key)?;
            if let Some(found) = self.local(py, key.as_bytes())? {
                return Ready::awaitable(py, convert::opt_bytes(py, found));
            }
            let (cache, key) = (self.inner.clone(), owned_one(&key));
            self.submit(py, async move { cache.get_after_miss(&key).await }, |py, v| Ok(convert::opt_bytes(py, v)))
        })
    }

    fn get_json<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let key = convert::key(key)?;
            if let Some(found) = self.local(py, key.as_bytes())? {
                return Ready::awaitable(py, convert::json_loads(py, found)?);
            }
            let (cache, key) = (self.inner.clone(), owned_one(&key));
            self.submit(py, async move { cache.get_after_miss(&key).await }, convert::json_loads)
        })
    }

    fn get_many<'py>(&self, py: Python<'py>, keys: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let keys = owned(&convert::keys(keys, "keys")?);
            let cache = self.inner.clone();
            self.submit(py, async move { cache.get_many(&keys).await }, |py, v| {
                convert::opt_bytes_list(py, v).map(Bound::into_any)
            })
        })
    }

    #[pyo3(signature = (key, value, ttl = None, nx = false, xx = false))]
    fn set<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
        ttl: Option<&Bound<'py, PyAny>>,
        nx: bool,
        xx: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let (key, value) = (owned_one(&convert::key(key)?), owned_one(&convert::value(value)?));
            let options = convert::set_options(convert::ttl(ttl)?, nx, xx);
            let cache = self.inner.clone();
            self.submit(py, async move { cache.set(&key, &value, options).await }, pyobj)
        })
    }

    #[pyo3(signature = (key, obj, ttl = None, nx = false, xx = false))]
    fn set_json<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        obj: &Bound<'py, PyAny>,
        ttl: Option<&Bound<'py, PyAny>>,
        nx: bool,
        xx: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let (key, value) = (owned_one(&convert::key(key)?), owned_one(&convert::json_dumps(obj)?));
            let options = convert::set_options(convert::ttl(ttl)?, nx, xx);
            let cache = self.inner.clone();
            self.submit(py, async move { cache.set(&key, &value, options).await }, pyobj)
        })
    }

    #[pyo3(signature = (items, ttl = None))]
    fn set_many<'py>(
        &self,
        py: Python<'py>,
        items: &Bound<'py, PyAny>,
        ttl: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let items: Vec<(Bytes, Bytes)> =
                convert::items(items, "items")?.iter().map(|(k, v)| (owned_one(k), owned_one(v))).collect();
            let ttl = convert::ttl(ttl)?;
            let cache = self.inner.clone();
            self.submit(py, async move { cache.set_many(&items, ttl).await }, none)
        })
    }

    fn delete<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let (cache, key) = (self.inner.clone(), owned_one(&convert::key(key)?));
            self.submit(py, async move { cache.delete(&key).await }, pyobj)
        })
    }

    fn delete_many<'py>(&self, py: Python<'py>, keys: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let (cache, keys) = (self.inner.clone(), owned(&convert::keys(keys, "keys")?));
            self.submit(py, async move { cache.delete_many(&keys).await }, pyobj)
        })
    }

    fn expire<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        ttl: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let key = owned_one(&convert::key(key)?);
            let ttl = convert::ttl(Some(ttl))?
                .ok_or_else(|| pyo3::exceptions::PyTypeError::new_err("expire needs a ttl, not None"))?;
            let cache = self.inner.clone();
            self.submit(py, async move { cache.expire(&key, ttl).await }, pyobj)
        })
    }

    fn ttl<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let (cache, key) = (self.inner.clone(), owned_one(&convert::key(key)?));
            self.submit(py, async move { cache.ttl(&key).await }, |py, t| pyobj(py, convert::ttl_out(t)))
        })
    }

    fn hget<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        field: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let (key, field) = (owned_one(&convert::key(key)?), owned_one(&convert::key(field)?));
            let cache = self.inner.clone();
            self.submit(py, async move { cache.hget(&key, &field).await }, |py, v| Ok(convert::opt_bytes(py, v)))
        })
    }

    fn hmget<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        fields: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let (key, fields) = (owned_one(&convert::key(key)?), owned(&convert::keys(fields, "fields")?));
            let cache = self.inner.clone();
            self.submit(py, async move { cache.hmget(&key, &fields).await }, |py, v| {
                convert::opt_bytes_list(py, v).map(Bound::into_any)
            })
        })
    }

    fn hgetall<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let (cache, key) = (self.inner.clone(), owned_one(&convert::key(key)?));
            self.submit(py, async move { cache.hgetall(&key).await }, |py, pairs| {
                convert::pairs_to_dict(py, pairs).map(Bound::into_any)
            })
        })
    }

    fn hset<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        mapping: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let key = owned_one(&convert::key(key)?);
            let fields: Vec<(Bytes, Bytes)> =
                convert::items(mapping, "mapping")?.iter().map(|(f, v)| (owned_one(f), owned_one(v))).collect();
            let cache = self.inner.clone();
            self.submit(py, async move { cache.hset(&key, &fields).await }, pyobj)
        })
    }

    #[pyo3(signature = (key, *fields))]
    fn hdel<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        fields: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let (key, fields) = (owned_one(&convert::key(key)?), owned(&convert::keys(fields.as_any(), "fields")?));
            let cache = self.inner.clone();
            self.submit(py, async move { cache.hdel(&key, &fields).await }, pyobj)
        })
    }

    #[pyo3(signature = (key, loader, ttl = None))]
    fn get_or_load<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        loader: &Bound<'py, PyAny>,
        ttl: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let key = convert::key(key)?;
            if let Lookup::Hit(value) = self.inner.get_local(key.as_bytes()).py(py)? {
                return Ready::awaitable(py, PyBytes::new(py, &value).into_any());
            }
            if !loader.is_callable() {
                return Err(pyo3::exceptions::PyTypeError::new_err("loader must be callable"));
            }
            let ttl = convert::ttl(ttl)?;
            // The loader runs on the event loop's thread, in the caller's
            // contextvars context; the core future only waits for its result.
            let event_loop = running_loop(py)?.unbind();
            let context = copy_context(py)?.unbind();
            let (cache, key, loader) = (self.inner.clone(), owned_one(&key), loader.clone().unbind());
            let load = move || async move {
                let (tx, rx) = tokio::sync::oneshot::channel::<PyResult<Bytes>>();
                Python::attach(|py| {
                    let start = LoadStart { loader, reply: Arc::new(Mutex::new(Some(tx))) };
                    let kwargs = PyDict::new(py);
                    kwargs.set_item("context", context)?;
                    event_loop.bind(py).call_method("call_soon_threadsafe", (start,), Some(&kwargs)).map(drop)
                })?;
                rx.await.unwrap_or_else(|_| {
                    Err(crate::error::InternalError::new_err("the event loop dropped the loader before it finished"))
                })
            };
            self.submit(py, async move { cache.get_or_load_after_miss(&key, ttl, load).await }, |py, v| {
                Ok(PyBytes::new(py, &v).into_any())
            })
        })
    }

    #[pyo3(signature = (*keys))]
    fn invalidate_local(&self, py: Python<'_>, keys: &Bound<'_, PyTuple>) -> PyResult<()> {
        guard(|| {
            let keys = convert::keys(keys.as_any(), "keys")?;
            let ks: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
            self.inner.invalidate_local(&ks).py(py)
        })
    }

    fn invalidate_local_all(&self, py: Python<'_>) -> PyResult<()> {
        guard(|| self.inner.invalidate_local_all().py(py))
    }

    #[pyo3(signature = (pattern = None))]
    fn scan(slf: &Bound<'_, Self>, pattern: Option<&Bound<'_, PyAny>>) -> PyResult<AsyncScan> {
        guard(|| {
            let pattern = pattern.filter(|p| !p.is_none()).map(convert::key).transpose()?;
            let scan = slf.get().inner.scan(pattern.as_ref().map(|p| p.as_bytes()));
            Ok(AsyncScan { owner: slf.clone().unbind(), inner: Arc::new(tokio::sync::Mutex::new(scan)) })
        })
    }

    fn delete_prefix<'py>(&self, py: Python<'py>, prefix: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let (cache, prefix) = (self.inner.clone(), owned_one(&convert::key(prefix)?));
            self.submit(py, async move { cache.delete_prefix(&prefix).await }, pyobj)
        })
    }

    #[pyo3(signature = (*args))]
    fn command<'py>(&self, py: Python<'py>, args: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let args = args.iter().map(|a| convert::arg(&a)).collect::<PyResult<Vec<_>>>()?;
            let cache = self.inner.clone();
            self.submit(py, async move { cache.command(&args).await }, convert::reply_to_py)
        })
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| convert::stats_to_py(py, &self.inner.stats()))
    }

    fn stats_prometheus(&self) -> String {
        self.inner.stats_prometheus()
    }

    fn close(&self, py: Python<'_>) {
        self.inner.close();
        if let Some((event_loop, bridge)) = self.bridge.lock().take() {
            forget_loop(py, event_loop.bind(py), &bridge);
        }
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ready::awaitable(py, slf.into_any())
    }

    #[pyo3(signature = (*_exc))]
    fn __aexit__<'py>(&self, py: Python<'py>, _exc: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
        self.close(py);
        Ready::awaitable(py, py.None().into_bound(py))
    }

    fn __repr__(&self) -> String {
        format!(
            "<nearcache.AsyncCache {} closed={}>",
            self.inner.config().redis.url.redacted(),
            if self.inner.is_closed() { "True" } else { "False" }
        )
    }
}

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
