//! `Pipeline` and `AsyncPipeline` (redis-py's `Pipeline`, over core's
//! `Pipeline` and `Transaction`) and `Script` / `AsyncScript` (redis-py's
//! `register_script`, over core's `Script`). The methods are written once
//! ([`pipeline_methods!`]); the class decides only how a command that runs
//! now (watching, before `multi()`) and `execute()` wait: with the GIL
//! released (sync), or as a coroutine (`Call`, async).

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::PyClass;

use crate::aio::PyAsyncCache;
use crate::batch::{results, script_args, Issued, Line, PyRetries, Shape, State};
use crate::call::Call;
use crate::convert::{Args, Keys};
use crate::error::{guard, IntoPy};

/// The typed methods of a pipeline class (the cache's names, signatures and
/// result types), `command` / `execute_command`, and the redis-py protocol
/// around them. Each verb builds its command line and names its reply's
/// [`Shape`]; `issue` queues it (returning the pipeline, for chaining) or,
/// while watching before `multi()`, runs it now.
macro_rules! pipeline_methods {
    ($class:ident, { $($own:tt)* }) => {
        $crate::pipeline::pipeline_methods!(@table $class, { $($own)* },
            fn get(key: Key<'py>) => |_py| Line::of("GET").arg(&key), Shape::OptBytes;
            #[pyo3(signature = (key, value, ttl = None, nx = false, xx = false))]
            fn set(
                key: Key<'py>,
                value: Value<'py>,
                ttl: Option<Ttl>,
                #[pyo3(from_py_with = flag)] nx: bool,
                #[pyo3(from_py_with = flag)] xx: bool
            ) => |_py| set_line(&key, &value, ttl.map(|t| t.view()), nx, xx), Shape::Written;
            fn delete(key: Key<'py>) => |_py| Line::of("DEL").arg(&key), Shape::Flag;
            fn expire(key: Key<'py>, ttl: Ttl) => |_py| Line::of("PEXPIRE").arg(&key).int(millis(ttl.view())), Shape::Flag;
            #[pyo3(signature = (key, *fields))]
            fn hdel(key: Key<'py>, fields: Keys<'py>) => |_py| Line::of("HDEL").arg(&key).keys(fields.view()), Shape::Count;
            #[pyo3(signature = (*args))]
            fn command(args: Args) => |_py| Line(args.owned()), Shape::Raw;
            #[pyo3(signature = (*args))]
            fn execute_command(args: Args) => |_py| Line(args.owned()), Shape::Raw;
            // Typed writes.
            #[pyo3(signature = (name, amount = 1))]
            fn incr(name: Key<'py>, #[pyo3(from_py_with = int)] amount: i64) => |_py| Line::of("INCRBY").arg(&name).int(amount), Shape::Raw;
            #[pyo3(signature = (name, amount = 1))]
            fn incrby(name: Key<'py>, #[pyo3(from_py_with = int)] amount: i64) => |_py| Line::of("INCRBY").arg(&name).int(amount), Shape::Raw;
            #[pyo3(signature = (name, amount = 1))]
            fn decr(name: Key<'py>, #[pyo3(from_py_with = int)] amount: i64) => |_py| Line::of("DECRBY").arg(&name).int(amount), Shape::Raw;
            #[pyo3(signature = (name, amount = 1))]
            fn decrby(name: Key<'py>, #[pyo3(from_py_with = int)] amount: i64) => |_py| Line::of("DECRBY").arg(&name).int(amount), Shape::Raw;
            #[pyo3(signature = (name, key, amount = 1))]
            fn hincrby(name: Key<'py>, key: Key<'py>, #[pyo3(from_py_with = int)] amount: i64) => |_py| Line::of("HINCRBY").arg(&name).arg(&key).int(amount), Shape::Raw;
            #[pyo3(signature = (name, *values))]
            fn sadd(name: Key<'py>, values: Args) => |_py| Line::of("SADD").arg(&name).args(values.view()), Shape::Count;
            #[pyo3(signature = (name, *values))]
            fn srem(name: Key<'py>, values: Args) => |_py| Line::of("SREM").arg(&name).args(values.view()), Shape::Count;
            #[pyo3(signature = (name, *values))]
            fn zrem(name: Key<'py>, values: Args) => |_py| Line::of("ZREM").arg(&name).args(values.view()), Shape::Count;
            fn zincrby(name: Key<'py>, amount: Score, value: Arg) => |py| Line::of("ZINCRBY").arg(&name).score(py, amount.0)?.arg(value.view()), Shape::Score;
            #[pyo3(signature = (name, *values))]
            fn lpush(name: Key<'py>, values: Args) => |_py| Line::of("LPUSH").arg(&name).args(values.view()), Shape::Count;
            #[pyo3(signature = (name, *values))]
            fn rpush(name: Key<'py>, values: Args) => |_py| Line::of("RPUSH").arg(&name).args(values.view()), Shape::Count;
            fn lpop(name: Key<'py>) => |_py| Line::of("LPOP").arg(&name), Shape::OptBytes;
            fn rpop(name: Key<'py>) => |_py| Line::of("RPOP").arg(&name), Shape::OptBytes;
            fn ltrim(name: Key<'py>, start: Int, end: Int) => |_py| Line::of("LTRIM").arg(&name).int(start.0).int(end.0), Shape::Nothing;
            fn persist(name: Key<'py>) => |_py| Line::of("PERSIST").arg(&name), Shape::Flag;
            // Cached reads (answered from L1 by a plain pipeline when it can).
            fn hget(name: Key<'py>, key: Key<'py>) => |_py| Line::of("HGET").arg(&name).arg(&key), Shape::OptBytes;
            #[pyo3(signature = (name, keys, *args))]
            fn hmget(name: Key<'py>, keys: ArgList, args: Args) => |_py| Line::of("HMGET").arg(&name).args(keys.view()).args(args.view()), Shape::OptBytesList;
            fn hgetall(name: Key<'py>) => |_py| Line::of("HGETALL").arg(&name), Shape::BytesDict;
            fn hexists(name: Key<'py>, key: Key<'py>) => |_py| Line::of("HEXISTS").arg(&name).arg(&key), Shape::Flag;
            fn hlen(name: Key<'py>) => |_py| Line::of("HLEN").arg(&name), Shape::Count;
            fn hkeys(name: Key<'py>) => |_py| Line::of("HKEYS").arg(&name), Shape::BytesList;
            fn hvals(name: Key<'py>) => |_py| Line::of("HVALS").arg(&name), Shape::BytesList;
            fn smembers(name: Key<'py>) => |_py| Line::of("SMEMBERS").arg(&name), Shape::BytesSet;
            fn sismember(name: Key<'py>, value: Arg) => |_py| Line::of("SISMEMBER").arg(&name).arg(value.view()), Shape::ZeroOne;
            #[pyo3(signature = (name, values, *args))]
            fn smismember(name: Key<'py>, values: ArgList, args: Args) => |_py| Line::of("SMISMEMBER").arg(&name).args(values.view()).args(args.view()), Shape::ZeroOnes;
            fn scard(name: Key<'py>) => |_py| Line::of("SCARD").arg(&name), Shape::Count;
            fn zscore(name: Key<'py>, value: Arg) => |_py| Line::of("ZSCORE").arg(&name).arg(value.view()), Shape::OptScore;
            fn zmscore(name: Key<'py>, members: ArgList) => |_py| Line::of("ZMSCORE").arg(&name).args(members.view()), Shape::OptScores;
            fn zrank(name: Key<'py>, value: Arg) => |_py| Line::of("ZRANK").arg(&name).arg(value.view()), Shape::OptCount;
            fn zrevrank(name: Key<'py>, value: Arg) => |_py| Line::of("ZREVRANK").arg(&name).arg(value.view()), Shape::OptCount;
            fn zcard(name: Key<'py>) => |_py| Line::of("ZCARD").arg(&name), Shape::Count;
            fn zcount(name: Key<'py>, min: Arg, max: Arg) => |_py| Line::of("ZCOUNT").arg(&name).arg(min.view()).arg(max.view()), Shape::Count;
            fn lrange(name: Key<'py>, start: Int, end: Int) => |_py| Line::of("LRANGE").arg(&name).int(start.0).int(end.0), Shape::BytesList;
            fn lindex(name: Key<'py>, index: Int) => |_py| Line::of("LINDEX").arg(&name).int(index.0), Shape::OptBytes;
            fn llen(name: Key<'py>) => |_py| Line::of("LLEN").arg(&name), Shape::Count;
            fn strlen(name: Key<'py>) => |_py| Line::of("STRLEN").arg(&name), Shape::Count;
            #[pyo3(name = "type")]
            fn key_type(name: Key<'py>) => |_py| Line::of("TYPE").arg(&name), Shape::Text;
            fn getbit(name: Key<'py>, offset: Offset) => |_py| Line::of("GETBIT").arg(&name).uint(offset.0), Shape::ZeroOne;
            #[pyo3(signature = (*args))]
            fn read(args: Args) => |_py| Line(args.owned()), Shape::Raw;
        );
    };
    (@table $class:ident, { $($own:tt)* }, $(
        $(#[$($attr:tt)*])*
        fn $verb:ident($($(#[$($arg_attr:tt)*])* $arg:ident: $ty:ty),*) => |$py:ident| $line:expr, $shape:expr;
    )*) => {
        const _: () = {
            use $crate::batch::{Line, Shape};
            use $crate::convert::{both, flag, hset_items, int, Arg, ArgList, Args, Int, Key, Keys, Offset, Project, Score, Scored, Ttl, Value};
            use $crate::error::guard;
            use $crate::pipeline::{millis, set_line};

            #[pymethods]
            impl $class {
                $($own)*

                $(
                    $(#[$($attr)*])*
                    fn $verb<'py>(
                        slf: &Bound<'py, Self>,
                        $($(#[$($arg_attr)*])* $arg: $ty),*
                    ) -> PyResult<Bound<'py, PyAny>> {
                        guard(|| {
                            let $py = slf.py();
                            let line = $line;
                            Self::issue(slf, line, $shape)
                        })
                    }
                )*

                #[pyo3(signature = (name, key = None, value = None, mapping = None))]
                fn hset<'py>(
                    slf: &Bound<'py, Self>,
                    name: Key<'py>,
                    key: Option<Bound<'py, PyAny>>,
                    value: Option<Bound<'py, PyAny>>,
                    mapping: Option<Bound<'py, PyAny>>,
                ) -> PyResult<Bound<'py, PyAny>> {
                    guard(|| {
                        let mut line = Line::of("HSET").arg(&name);
                        for (field, value) in hset_items(key, value, mapping)?.view() {
                            line = line.arg(field).arg(value);
                        }
                        Self::issue(slf, line, Shape::Count)
                    })
                }

                #[pyo3(signature = (name, mapping, nx = false, xx = false, ch = false, incr = false, gt = false, lt = false))]
                #[allow(clippy::too_many_arguments)]
                fn zadd<'py>(
                    slf: &Bound<'py, Self>,
                    name: Key<'py>,
                    mapping: Scored,
                    #[pyo3(from_py_with = flag)] nx: bool,
                    #[pyo3(from_py_with = flag)] xx: bool,
                    #[pyo3(from_py_with = flag)] ch: bool,
                    #[pyo3(from_py_with = flag)] incr: bool,
                    #[pyo3(from_py_with = flag)] gt: bool,
                    #[pyo3(from_py_with = flag)] lt: bool,
                ) -> PyResult<Bound<'py, PyAny>> {
                    guard(|| {
                        let py = slf.py();
                        $crate::convert::zadd_options([("nx", nx), ("xx", xx), ("ch", ch), ("incr", incr), ("gt", gt), ("lt", lt)]).py(py)?;
                        let mut line = Line::of("ZADD").arg(&name);
                        for (score, member) in mapping.view() {
                            line = line.score(py, *score)?.arg(member);
                        }
                        Self::issue(slf, line, Shape::Count)
                    })
                }

                /// One name: the cached `EXISTS`; several: a count, as redis-py's.
                #[pyo3(signature = (*names))]
                fn exists<'py>(slf: &Bound<'py, Self>, names: Keys<'py>) -> PyResult<Bound<'py, PyAny>> {
                    guard(|| Self::issue(slf, Line::of("EXISTS").keys(names.view()), Shape::Raw))
                }

                #[pyo3(signature = (key, start = None, end = None))]
                fn bitcount<'py>(
                    slf: &Bound<'py, Self>,
                    key: Key<'py>,
                    start: Option<Int>,
                    end: Option<Int>,
                ) -> PyResult<Bound<'py, PyAny>> {
                    guard(|| {
                        let mut line = Line::of("BITCOUNT").arg(&key);
                        if let Some((start, end)) = both(slf.py(), start, end, "bitcount: start and end")? {
                            line = line.int(start).int(end);
                        }
                        Self::issue(slf, line, Shape::Count)
                    })
                }

                #[pyo3(signature = (
                    name, start, end, desc = false, withscores = false, score_cast_func = None,
                    byscore = false, bylex = false, offset = None, num = None
                ))]
                #[allow(clippy::too_many_arguments)]
                fn zrange<'py>(
                    slf: &Bound<'py, Self>,
                    name: Key<'py>,
                    start: Bound<'py, PyAny>,
                    end: Bound<'py, PyAny>,
                    #[pyo3(from_py_with = flag)] desc: bool,
                    #[pyo3(from_py_with = flag)] withscores: bool,
                    score_cast_func: Option<Bound<'py, PyAny>>,
                    #[pyo3(from_py_with = flag)] byscore: bool,
                    #[pyo3(from_py_with = flag)] bylex: bool,
                    offset: Option<Int>,
                    num: Option<Int>,
                ) -> PyResult<Bound<'py, PyAny>> {
                    guard(|| {
                        let py = slf.py();
                        let limit = both(py, offset, num, "zrange: offset and num")?;
                        let range = $crate::convert::zrange_of(&start, &end, desc, byscore, bylex, limit)?;
                        let mut line = Line::of("ZRANGE").arg(&name);
                        for arg in range.args(withscores) {
                            line = line.arg(arg.as_bytes());
                        }
                        let shape = if withscores {
                            Shape::Scored($crate::convert::score_cast(score_cast_func)?)
                        } else {
                            Shape::BytesList
                        };
                        Self::issue(slf, line, shape)
                    })
                }

                /// `MULTI`: while watching, ends the immediate part; otherwise
                /// makes this pipeline one `MULTI` ... `EXEC`.
                fn multi(&self, py: Python<'_>) -> PyResult<()> {
                    guard(|| self.state.lock().multi(py))
                }

                fn __len__(&self) -> usize {
                    self.state.lock().len()
                }

                /// Always true, even when empty (redis-py's pipelines are).
                fn __bool__(&self) -> bool {
                    true
                }

                #[getter]
                fn watching(&self) -> bool {
                    self.state.lock().is_watching()
                }
            }
        };
    };
}

pub(crate) use pipeline_methods;

/// `SET key value [PX ms] [NX | XX]` for a pipeline's `set`: the value and
/// TTL as given (a pipeline sends values as given: no compression, no TTL
/// jitter); `nx` with `xx` is Redis's syntax error, that command's result.
pub(crate) fn set_line(key: &[u8], value: &[u8], ttl: Option<std::time::Duration>, nx: bool, xx: bool) -> Line {
    let mut line = Line::of("SET").arg(key).arg(value);
    if let Some(ttl) = ttl {
        line = line.arg(b"PX").int(millis(ttl));
    }
    if nx {
        line = line.arg(b"NX");
    }
    if xx {
        line = line.arg(b"XX");
    }
    line
}

/// A TTL in whole milliseconds, at least 1 (core's `Ttl` refused zero).
pub(crate) fn millis(ttl: std::time::Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// The synchronous pipeline (`Cache.pipeline()`): commands queue until
/// `execute()`; while watching (`watch()`), they run at once until `multi()`.
#[pyclass(frozen, module = "nearcache._native", name = "Pipeline")]
pub(crate) struct PyPipeline {
    pub(crate) state: parking_lot::Mutex<State>,
}

impl PyPipeline {
    pub(crate) fn new(cache: nearcache::Cache, transaction: bool) -> PyPipeline {
        PyPipeline { state: parking_lot::Mutex::new(State::new(cache, transaction)) }
    }

    /// Queues `line` (returning the pipeline) or runs it now, waiting with
    /// the GIL released (the state's lock is not held meanwhile).
    fn issue<'py>(slf: &Bound<'py, Self>, line: Line, shape: Shape) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let issued = slf.get().state.lock().issue(py, line, shape)?;
        match issued {
            Issued::Queued => Ok(slf.clone().into_any()),
            Issued::Now(tx, line, shape) => {
                let name = line.name();
                let reply = py.detach(|| nearcache::block_on(tx.command(&line.0)).and_then(|r| r)).py(py)?;
                shape.convert(py, &name, reply)
            }
        }
    }

    /// Sends the queued commands; `retries` as in `batch::Batch::run`.
    fn run<'py>(
        &self,
        py: Python<'py>,
        retries: Option<&PyRetries>,
        raise_on_error: bool,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let batch = self.state.lock().take();
        let (work, shapes) = batch.run(retries.map(|r| r.inner.clone()));
        match py.detach(|| nearcache::block_on(work).and_then(|r| r)).py(py)? {
            Some(replies) => results(py, shapes, replies, raise_on_error).map(Some),
            None => Ok(None),
        }
    }

    /// `reset()`: drops what is queued; `UNWATCH`s a watching pipeline.
    fn reset_now(&self, py: Python<'_>) {
        let tx = self.state.lock().reset();
        if let Some(tx) = tx {
            // Core's reset never fails (a connection it cannot reset is closed).
            let _ = py.detach(|| nearcache::block_on(tx.reset()));
        }
    }
}

pipeline_methods!(PyPipeline, {
    /// Sends the queued commands; the results in call order (see the stubs).
    #[pyo3(signature = (raise_on_error = true))]
    fn execute<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = flag)] raise_on_error: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| Ok(self.run(py, None, raise_on_error)?.unwrap_or_else(|| py.None().into_bound(py))))
    }

    /// `transaction()`'s step: the results, or `None` when the `EXEC` was
    /// aborted and core's policy says to run the function again (after
    /// waiting its delay); its final error is raised.
    fn _execute_or_retry<'py>(&self, py: Python<'py>, retries: &PyRetries) -> PyResult<Option<Bound<'py, PyAny>>> {
        guard(|| self.run(py, Some(retries), true))
    }

    /// `WATCH keys` on a dedicated connection; commands then run at once
    /// until `multi()`.
    #[pyo3(signature = (*keys))]
    fn watch(&self, py: Python<'_>, keys: Keys<'_>) -> PyResult<()> {
        guard(|| {
            let (cache, existing) = {
                let state = self.state.lock();
                (state.cache().clone(), state.watching(py)?)
            };
            let keys = keys.view();
            match existing {
                Some(tx) => py.detach(|| nearcache::block_on(tx.watch(&keys)).and_then(|r| r)).py(py),
                None => {
                    let tx = py.detach(|| nearcache::block_on(cache.watch(&keys)).and_then(|r| r)).py(py)?;
                    self.state.lock().watch_with(tx);
                    Ok(())
                }
            }
        })
    }

    /// Ends watching (`UNWATCH`) and drops what is queued.
    fn unwatch(&self, py: Python<'_>) -> PyResult<()> {
        guard(|| {
            self.reset_now(py);
            Ok(())
        })
    }

    /// Drops what is queued and ends watching (redis-py's `reset`).
    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        guard(|| {
            self.reset_now(py);
            Ok(())
        })
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<()> {
        guard(|| {
            self.reset_now(py);
            Ok(())
        })
    }
});

/// The asyncio pipeline (`AsyncCache.pipeline()`): queueing methods return
/// the pipeline; `execute()`, `watch()`, `reset()` and commands run while
/// watching return coroutines (`Call`).
#[pyclass(frozen, module = "nearcache._native", name = "AsyncPipeline")]
pub(crate) struct PyAsyncPipeline {
    owner: Py<PyAsyncCache>,
    pub(crate) state: parking_lot::Mutex<State>,
}

impl PyAsyncPipeline {
    pub(crate) fn new(owner: Py<PyAsyncCache>, cache: nearcache::Cache, transaction: bool) -> PyAsyncPipeline {
        PyAsyncPipeline { owner, state: parking_lot::Mutex::new(State::new(cache, transaction)) }
    }

    fn issue<'py>(slf: &Bound<'py, Self>, line: Line, shape: Shape) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let issued = this.state.lock().issue(py, line, shape)?;
        match issued {
            Issued::Queued => Ok(slf.clone().into_any()),
            Issued::Now(tx, line, shape) => {
                let name = line.name();
                this.owner.get().submit(py, async move { tx.command(&line.0).await }, move |py, reply| {
                    shape.convert(py, &name, reply)
                })
            }
        }
    }

    fn run<'py>(
        &self,
        py: Python<'py>,
        retries: Option<&PyRetries>,
        raise_on_error: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let batch = self.state.lock().take();
        let (work, shapes) = batch.run(retries.map(|r| r.inner.clone()));
        self.owner.get().submit(py, work, move |py, outcome| match outcome {
            Some(replies) => results(py, shapes, replies, raise_on_error),
            None => Ok(py.None().into_bound(py)),
        })
    }

    fn reset_call<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.state.lock().reset() {
            Some(tx) => self.owner.get().submit(
                py,
                async move {
                    tx.reset().await;
                    Ok(())
                },
                |py, ()| Ok(py.None().into_bound(py)),
            ),
            None => Call::done(py, py.None().into_bound(py)),
        }
    }
}

pipeline_methods!(PyAsyncPipeline, {
    #[pyo3(signature = (raise_on_error = true))]
    fn execute<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = flag)] raise_on_error: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| self.run(py, None, raise_on_error))
    }

    fn _execute_or_retry<'py>(&self, py: Python<'py>, retries: &PyRetries) -> PyResult<Bound<'py, PyAny>> {
        guard(|| self.run(py, Some(retries), true))
    }

    #[pyo3(signature = (*keys))]
    fn watch<'py>(slf: &Bound<'py, Self>, keys: Keys<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let py = slf.py();
            let this = slf.get();
            let (cache, existing) = {
                let state = this.state.lock();
                (state.cache().clone(), state.watching(py)?)
            };
            let keys = keys.owned();
            match existing {
                Some(tx) => this
                    .owner
                    .get()
                    .submit(py, async move { tx.watch(&keys).await }, |py, ()| Ok(py.None().into_bound(py))),
                None => {
                    let pipe = slf.clone().unbind();
                    this.owner.get().submit(py, async move { cache.watch(&keys).await }, move |py, tx| {
                        pipe.get().state.lock().watch_with(tx);
                        Ok(py.None().into_bound(py))
                    })
                }
            }
        })
    }

    fn unwatch<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| self.reset_call(py))
    }

    fn reset<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| self.reset_call(py))
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Call::done(py, slf.into_any())
    }

    #[pyo3(signature = (*_exc))]
    fn __aexit__<'py>(&self, py: Python<'py>, _exc: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| self.reset_call(py))
    }

    /// `await pipe.hget(...)` in queueing mode gives the pipeline back, as
    /// redis.asyncio's pipelines do.
    fn __await__<'py>(slf: Bound<'py, Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Call::done(py, slf.into_any())
    }
});

/// `Cache.register_script(lua)`: a callable, `script(keys=[...],
/// args=[...])` (EVALSHA, EVAL on NOSCRIPT: core's); `client=pipe` queues it
/// in that pipeline instead.
#[pyclass(frozen, module = "nearcache._native", name = "Script")]
pub(crate) struct PyScript {
    pub(crate) script: nearcache::Script,
}

#[pymethods]
impl PyScript {
    #[pyo3(signature = (keys = None, args = None, client = None))]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        keys: Option<Keys<'py>>,
        args: Option<Args>,
        client: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let (keys, args) = script_args(keys, args);
            if let Some(client) = client {
                return queue_in::<PyPipeline>(client, &self.script, &keys, &args);
            }
            let reply = py.detach(|| nearcache::block_on(self.script.call(&keys, &args)).and_then(|r| r)).py(py)?;
            crate::convert::out::reply(py, reply)
        })
    }

    /// The script's SHA1 (what EVALSHA names), as redis-py's `Script.sha`.
    #[getter]
    fn sha(&self) -> &str {
        self.script.sha1()
    }

    /// The Lua source, as redis-py's `Script.script`.
    #[getter]
    fn script<'py>(&self, py: Python<'py>) -> Bound<'py, pyo3::types::PyBytes> {
        pyo3::types::PyBytes::new(py, self.script.source())
    }
}

/// `AsyncCache.register_script(lua)`: calling it returns a coroutine.
#[pyclass(frozen, module = "nearcache._native", name = "AsyncScript")]
pub(crate) struct PyAsyncScript {
    pub(crate) owner: Py<PyAsyncCache>,
    pub(crate) script: nearcache::Script,
}

#[pymethods]
impl PyAsyncScript {
    #[pyo3(signature = (keys = None, args = None, client = None))]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        keys: Option<Keys<'py>>,
        args: Option<Args>,
        client: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let (keys, args) = script_args(keys, args);
            if let Some(client) = client {
                return queue_in::<PyAsyncPipeline>(client, &self.script, &keys, &args);
            }
            let script = self.script.clone();
            self.owner.get().submit(py, async move { script.call(&keys, &args).await }, crate::convert::out::reply)
        })
    }

    #[getter]
    fn sha(&self) -> &str {
        self.script.sha1()
    }

    #[getter]
    fn script<'py>(&self, py: Python<'py>) -> Bound<'py, pyo3::types::PyBytes> {
        pyo3::types::PyBytes::new(py, self.script.source())
    }
}

/// A pipeline class's state (for scripts queued with `client=pipe`).
pub(crate) trait Queues: PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync {
    fn state(&self) -> &parking_lot::Mutex<State>;
}

impl Queues for PyPipeline {
    fn state(&self) -> &parking_lot::Mutex<State> {
        &self.state
    }
}

impl Queues for PyAsyncPipeline {
    fn state(&self) -> &parking_lot::Mutex<State> {
        &self.state
    }
}

/// `script(keys, args, client=pipe)`: queues the call in `pipe` (a `P`,
/// the script's own kind of pipeline) and returns the pipeline.
fn queue_in<'py, P: Queues>(
    client: Bound<'py, PyAny>,
    script: &nearcache::Script,
    keys: &[bytes::Bytes],
    args: &[bytes::Bytes],
) -> PyResult<Bound<'py, PyAny>> {
    let py = client.py();
    let Ok(pipe) = client.cast::<P>() else {
        let name = client.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        let message = format!("client must be a {} of this cache's kind, not {name}", <P as PyClass>::NAME);
        return Err(crate::error::type_error(py, message));
    };
    pipe.get().state().lock().queue_script(py, script, keys, args)?;
    Ok(pipe.clone().into_any())
}
