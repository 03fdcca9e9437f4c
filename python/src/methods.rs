//! The Python methods of `Cache` and `AsyncCache`, written once.
//!
//! [`cache_methods!`] expands into the whole `#[pymethods]` block of a class
//! (pyo3 reads that block before the macros inside it expand, so the verb
//! table is part of this macro, not a macro called from the block). A verb
//! is one row: its Python name and signature, the argument newtypes of
//! [`crate::convert`], the core call and the result conversion of
//! [`crate::convert::out`]. The class's mode decides only how to wait:
//!
//! - `blocking` (`Cache`, sync.rs): arguments borrowed, the core future run
//!   on core's runtime while this thread waits with the GIL released;
//! - `asyncio` (`AsyncCache`, aio.rs): arguments owned, the core future
//!   spawned on core's runtime, its result delivered to an asyncio future
//!   that the returned coroutine object (`call::Call`) awaits.
//!
//! An L1 answer (`nearcache::Ready::Now`) is converted on the calling thread
//! in both modes: a value for `Cache`, a call that is already done for
//! `AsyncCache`. Each class provides `core()` (its `nearcache::Cache`),
//! `create(py, config)`, `loader(py, loader)` (how a `get_or_load` loader
//! runs) and, for `asyncio`, `submit(py, future, out)`.

/// Runs one core call in the class's mode and converts its result with
/// `$out`; `$arg`s are the method's argument newtypes, named in `$call`.
macro_rules! call {
    (blocking, $slf:ident, $py:ident, [$($arg:ident),*], |$c:ident| $call:expr, $out:expr) => {{
        $(let $arg = $crate::convert::Project::view(&$arg);)*
        let $c = $slf.core();
        let result = $py.detach(|| nearcache::block_on($call).and_then(|r| r));
        $out($py, $crate::error::IntoPy::py(result, $py)?)
    }};
    (asyncio, $slf:ident, $py:ident, [$($arg:ident),*], |$c:ident| $call:expr, $out:expr) => {{
        $(let $arg = $crate::convert::Project::owned($arg);)*
        let $c = $slf.core().clone();
        $slf.submit($py, async move { $call.await }, $out)
    }};
}

/// A `nearcache::Ready` for Python in the class's mode: `Now` converted at
/// once, `Later` waited for (blocking) or spawned (asyncio).
macro_rules! answer {
    (blocking, $slf:ident, $py:ident, $ready:expr, $out:expr) => {{
        match $crate::error::IntoPy::py($ready, $py)? {
            nearcache::Ready::Now(value) => $out($py, value),
            nearcache::Ready::Later(pending) => {
                let result = $py.detach(|| pending.wait());
                $out($py, $crate::error::IntoPy::py(result, $py)?)
            }
        }
    }};
    (asyncio, $slf:ident, $py:ident, $ready:expr, $out:expr) => {{
        match $crate::error::IntoPy::py($ready, $py)? {
            nearcache::Ready::Now(value) => $crate::call::Call::done($py, $out($py, value)?),
            nearcache::Ready::Later(pending) => $slf.submit($py, pending, $out),
        }
    }};
}

/// An answer already converted on the calling thread (an L1 hit converted
/// in place): the object itself for the sync class, a finished call for the
/// asyncio one.
macro_rules! answer_now {
    (blocking, $py:ident, $object:expr) => {
        $object
    };
    (asyncio, $py:ident, $object:expr) => {
        $crate::call::Call::done($py, $object?)
    };
}

/// [`answer!`] with `$extra` (owned, `Send`) handed to `$out` beside the
/// value: `$out(py, (value, extra))`.
macro_rules! answer_with {
    (blocking, $slf:ident, $py:ident, $ready:expr, $extra:expr, $out:expr) => {{
        let extra = $extra;
        match $crate::error::IntoPy::py($ready, $py)? {
            nearcache::Ready::Now(value) => $out($py, (value, extra)),
            nearcache::Ready::Later(pending) => {
                let result = $py.detach(|| pending.wait());
                $out($py, ($crate::error::IntoPy::py(result, $py)?, extra))
            }
        }
    }};
    (asyncio, $slf:ident, $py:ident, $ready:expr, $extra:expr, $out:expr) => {{
        let extra = $extra;
        match $crate::error::IntoPy::py($ready, $py)? {
            nearcache::Ready::Now(value) => $crate::call::Call::done($py, $out($py, (value, extra))?),
            nearcache::Ready::Later(pending) => {
                $slf.submit($py, async move { pending.await.map(|v| (v, extra)) }, $out)
            }
        }
    }};
}

/// The `#[pymethods]` of a cache class: `$own` are the class's own methods
/// (close, scan, the context-manager protocol), then the shared ones.
macro_rules! cache_methods {
    ($class:ident, $name:literal, $mode:ident, { $($own:tt)* }) => {
        $crate::methods::cache_methods!(@table $class, $name, $mode, { $($own)* },
            // The verbs that are one core call: name(arguments) => core call, result.
            calls {
            fn connect() => |c| c.connect(), out::none;
            fn get_many(keys: Keys<'py>) => |c| c.get_many(&keys), out::opt_bytes_list;
            #[pyo3(signature = (key, value, ttl = None, nx = false, xx = false))]
            fn set(
                key: Key<'py>,
                value: Value<'py>,
                ttl: Option<Ttl>,
                #[pyo3(from_py_with = flag)] nx: bool,
                #[pyo3(from_py_with = flag)] xx: bool
            ) => |c| c.set(&key, &value, set_options(ttl, nx, xx)), out::plain;
            #[pyo3(signature = (items, ttl = None))]
            fn set_many(items: Items<'py>, ttl: Option<Ttl>) => |c| c.set_many(&items, ttl), out::none;
            fn delete(key: Key<'py>) => |c| c.delete(&key), out::plain;
            fn delete_many(keys: Keys<'py>) => |c| c.delete_many(&keys), out::plain;
            fn expire(key: Key<'py>, ttl: Ttl) => |c| c.expire(&key, ttl), out::plain;
            fn ttl(key: Key<'py>) => |c| c.ttl(&key), out::ttl;
            #[pyo3(signature = (key, *fields))]
            fn hdel(key: Key<'py>, fields: Keys<'py>) => |c| c.hdel(&key, &fields), out::plain;
            fn delete_prefix(prefix: Key<'py>) => |c| c.delete_prefix(&prefix), out::plain;
            #[pyo3(signature = (*args))]
            fn command(args: Args) => |c| c.command(&args), out::reply;
            // Typed writes (redis-py's signatures).
            #[pyo3(signature = (name, amount = 1))]
            fn incr(name: Key<'py>, #[pyo3(from_py_with = int)] amount: i64) => |c| c.incrby(&name, amount), out::plain;
            #[pyo3(signature = (name, amount = 1))]
            fn incrby(name: Key<'py>, #[pyo3(from_py_with = int)] amount: i64) => |c| c.incrby(&name, amount), out::plain;
            #[pyo3(signature = (name, amount = 1))]
            fn decr(name: Key<'py>, #[pyo3(from_py_with = int)] amount: i64) => |c| c.decrby(&name, amount), out::plain;
            #[pyo3(signature = (name, amount = 1))]
            fn decrby(name: Key<'py>, #[pyo3(from_py_with = int)] amount: i64) => |c| c.decrby(&name, amount), out::plain;
            #[pyo3(signature = (name, key, amount = 1))]
            fn hincrby(name: Key<'py>, key: Key<'py>, #[pyo3(from_py_with = int)] amount: i64) => |c| c.hincrby(&name, &key, amount), out::plain;
            #[pyo3(signature = (name, *values))]
            fn sadd(name: Key<'py>, values: Args) => |c| c.sadd(&name, &values), out::plain;
            #[pyo3(signature = (name, *values))]
            fn srem(name: Key<'py>, values: Args) => |c| c.srem(&name, &values), out::plain;
            #[pyo3(signature = (name, mapping, nx = false, xx = false, ch = false, incr = false, gt = false, lt = false))]
            fn zadd(
                name: Key<'py>,
                mapping: Scored,
                #[pyo3(from_py_with = flag)] nx: bool,
                #[pyo3(from_py_with = flag)] xx: bool,
                #[pyo3(from_py_with = flag)] ch: bool,
                #[pyo3(from_py_with = flag)] incr: bool,
                #[pyo3(from_py_with = flag)] gt: bool,
                #[pyo3(from_py_with = flag)] lt: bool
            ) => |c| async {
                zadd_options([("nx", nx), ("xx", xx), ("ch", ch), ("incr", incr), ("gt", gt), ("lt", lt)])?;
                c.zadd(&name, &mapping).await
            }, out::plain;
            #[pyo3(signature = (name, *values))]
            fn zrem(name: Key<'py>, values: Args) => |c| c.zrem(&name, &values), out::plain;
            fn zincrby(name: Key<'py>, amount: Score, value: Arg) => |c| c.zincrby(&name, amount, value), out::plain;
            #[pyo3(signature = (name, *values))]
            fn lpush(name: Key<'py>, values: Args) => |c| c.lpush(&name, &values), out::plain;
            #[pyo3(signature = (name, *values))]
            fn rpush(name: Key<'py>, values: Args) => |c| c.rpush(&name, &values), out::plain;
            fn lpop(name: Key<'py>) => |c| c.lpop(&name), out::opt_bytes;
            fn rpop(name: Key<'py>) => |c| c.rpop(&name), out::opt_bytes;
            fn ltrim(name: Key<'py>, start: Int, end: Int) => |c| c.ltrim(&name, start, end), out::none;
            fn persist(name: Key<'py>) => |c| c.persist(&name), out::plain;
            }
            // Cached reads: answered from L1 on the calling thread when it can.
            ready {
            fn hget(name: Key<'py>, key: Key<'py>) => |c| c.hget_ready(&name, &key), out::opt_bytes;
            #[pyo3(signature = (name, keys, *args))]
            fn hmget(name: Key<'py>, keys: ArgList, args: Args) => |c| c.hmget_ready(&name, &[keys, args].concat()), out::opt_bytes_list;
            fn hgetall(name: Key<'py>) => |c| c.hgetall_ready(&name), out::bytes_dict;
            fn hexists(name: Key<'py>, key: Key<'py>) => |c| c.hexists_ready(&name, &key), out::plain;
            fn hlen(name: Key<'py>) => |c| c.hlen_ready(&name), out::plain;
            fn hkeys(name: Key<'py>) => |c| c.hkeys_ready(&name), out::bytes_list;
            fn hvals(name: Key<'py>) => |c| c.hvals_ready(&name), out::bytes_list;
            fn smembers(name: Key<'py>) => |c| c.smembers_ready(&name), out::bytes_set;
            fn sismember(name: Key<'py>, value: Arg) => |c| c.sismember_ready(&name, value), out::zero_one;
            #[pyo3(signature = (name, values, *args))]
            fn smismember(name: Key<'py>, values: ArgList, args: Args) => |c| c.smismember_ready(&name, &[values, args].concat()), out::zero_one_list;
            fn scard(name: Key<'py>) => |c| c.scard_ready(&name), out::plain;
            fn zscore(name: Key<'py>, value: Arg) => |c| c.zscore_ready(&name, value), out::plain;
            fn zmscore(name: Key<'py>, members: ArgList) => |c| c.zmscore_ready(&name, members), out::plain_list;
            fn zrank(name: Key<'py>, value: Arg) => |c| c.zrank_ready(&name, value), out::plain;
            fn zrevrank(name: Key<'py>, value: Arg) => |c| c.zrevrank_ready(&name, value), out::plain;
            fn zcard(name: Key<'py>) => |c| c.zcard_ready(&name), out::plain;
            fn zcount(name: Key<'py>, min: Arg, max: Arg) => |c| c.zcount_ready(&name, text(min), text(max)), out::plain;
            fn lrange(name: Key<'py>, start: Int, end: Int) => |c| c.lrange_ready(&name, start, end), out::bytes_list;
            fn lindex(name: Key<'py>, index: Int) => |c| c.lindex_ready(&name, index), out::opt_bytes;
            fn llen(name: Key<'py>) => |c| c.llen_ready(&name), out::plain;
            fn strlen(name: Key<'py>) => |c| c.strlen_ready(&name), out::plain;
            #[pyo3(name = "type")]
            fn key_type(name: Key<'py>) => |c| c.key_type_ready(&name), out::text;
            fn getbit(name: Key<'py>, offset: Offset) => |c| c.getbit_ready(&name, offset), out::zero_one;
            #[pyo3(signature = (*args))]
            fn read(args: Args) => |c| c.read_ready(args), out::reply;
            }
        );
    };
    (@table $class:ident, $name:literal, $mode:ident, { $($own:tt)* },
        calls {$(
            $(#[$($attr:tt)*])*
            fn $verb:ident($($(#[$($arg_attr:tt)*])* $arg:ident: $ty:ty),*) => |$c:ident| $call:expr, $out:expr;
        )*}
        ready {$(
            $(#[$($rattr:tt)*])*
            fn $rverb:ident($($(#[$($rarg_attr:tt)*])* $rarg:ident: $rty:ty),*) => |$rc:ident| $rcall:expr, $rout:expr;
        )*}
    ) => {
        const _: () = {
            use pyo3::prelude::*;
            use pyo3::types::{PyDict, PyType};
            use $crate::convert::{flag, out, set_options, Args, ConfigPath, Items, Key, Keys, Loader, Project};
            use $crate::convert::{both, hset_items, text, zadd_options, Arg, ArgList, Int, Offset, Score, Scored};
            use $crate::convert::{int, Ttl, Url, Value};
            use $crate::error::{guard, IntoPy};

            #[pymethods]
            impl $class {
                $($own)*

                $(
                    $(#[$($attr)*])*
                    #[allow(clippy::too_many_arguments)]
                    fn $verb<'py>(
                        &self,
                        py: Python<'py>,
                        $($(#[$($arg_attr)*])* $arg: $ty),*
                    ) -> PyResult<Bound<'py, PyAny>> {
                        guard(|| $crate::methods::call!($mode, self, py, [$($arg),*], |$c| $call, $out))
                    }
                )*

                $(
                    $(#[$($rattr)*])*
                    fn $rverb<'py>(
                        &self,
                        py: Python<'py>,
                        $($(#[$($rarg_attr)*])* $rarg: $rty),*
                    ) -> PyResult<Bound<'py, PyAny>> {
                        guard(|| {
                            $(let $rarg = Project::view(&$rarg);)*
                            let $rc = self.core();
                            $crate::methods::answer!($mode, self, py, $rcall, $rout)
                        })
                    }
                )*

                #[pyo3(signature = (name, key = None, value = None, mapping = None))]
                fn hset<'py>(
                    &self,
                    py: Python<'py>,
                    name: Key<'py>,
                    key: Option<Bound<'py, PyAny>>,
                    value: Option<Bound<'py, PyAny>>,
                    mapping: Option<Bound<'py, PyAny>>,
                ) -> PyResult<Bound<'py, PyAny>> {
                    guard(|| {
                        let items = hset_items(key, value, mapping)?;
                        $crate::methods::call!($mode, self, py, [name, items], |c| c.hset(&name, &items), out::plain)
                    })
                }

                /// One name: the cached `EXISTS`; several: one raw `EXISTS`
                /// (not cached: a multi-key read), counted as redis-py counts.
                #[pyo3(signature = (*names))]
                fn exists<'py>(&self, py: Python<'py>, names: Keys<'py>) -> PyResult<Bound<'py, PyAny>> {
                    guard(|| {
                        if names.len() == 1 {
                            let name = names.view();
                            return $crate::methods::answer!($mode, self, py, self.core().exists_ready(name[0]), out::zero_one);
                        }
                        let args = Args::command("EXISTS", &names);
                        $crate::methods::call!($mode, self, py, [args], |c| c.command(&args), out::reply)
                    })
                }

                #[pyo3(signature = (key, start = None, end = None))]
                fn bitcount<'py>(
                    &self,
                    py: Python<'py>,
                    key: Key<'py>,
                    start: Option<Int>,
                    end: Option<Int>,
                ) -> PyResult<Bound<'py, PyAny>> {
                    guard(|| {
                        let range = both(py, start, end, "bitcount: start and end")?;
                        $crate::methods::answer!($mode, self, py, self.core().bitcount_ready(&*key, range), out::plain)
                    })
                }

                #[pyo3(signature = (
                    name, start, end, desc = false, withscores = false, score_cast_func = None,
                    byscore = false, bylex = false, offset = None, num = None
                ))]
                #[allow(clippy::too_many_arguments)]
                fn zrange<'py>(
                    &self,
                    py: Python<'py>,
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
                        let range = $crate::convert::zrange_of(&start, &end, desc, byscore, bylex, both(py, offset, num, "zrange: offset and num")?)?;
                        if withscores {
                            let cast = $crate::convert::score_cast(score_cast_func)?;
                            $crate::methods::answer_with!($mode, self, py, self.core().zrange_withscores_ready(&*name, &range), cast, out::scored)
                        } else {
                            $crate::methods::answer!($mode, self, py, self.core().zrange_ready(&*name, &range), out::bytes_list)
                        }
                    })
                }

                #[new]
                #[pyo3(signature = (url = None, **options))]
                fn new(py: Python<'_>, url: Option<Url>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
                    guard(|| Self::create(py, $crate::config_from(py, url, options)?))
                }

                #[classmethod]
                fn from_config<'py>(cls: &Bound<'py, PyType>, path: ConfigPath) -> PyResult<Bound<'py, PyAny>> {
                    guard(|| $crate::construct(cls, nearcache::Config::from_path(path.0)))
                }

                #[classmethod]
                fn from_env<'py>(cls: &Bound<'py, PyType>) -> PyResult<Bound<'py, PyAny>> {
                    guard(|| $crate::construct(cls, nearcache::Config::from_env()))
                }

                /// Core's retry policy for one `transaction()` call.
                #[pyo3(signature = (watch_delay = None))]
                fn _transaction_retries(&self, py: Python<'_>, watch_delay: Option<f64>) -> PyResult<$crate::batch::PyRetries> {
                    guard(|| $crate::batch::PyRetries::new(py, self.core(), watch_delay))
                }

                fn config_json(&self) -> PyResult<String> {
                    guard(|| Ok(self.core().config().to_json()))
                }

                /// The hit path: one key conversion, one L1 lookup, and the
                /// `bytes` built straight from L1's memory.
                fn get<'py>(&self, py: Python<'py>, key: Key<'py>) -> PyResult<Bound<'py, PyAny>> {
                    guard(|| match self.core().get_ready_with(&key, |v| out::opt_slice(py, v)).py(py)? {
                        nearcache::ReadyWith::Now(object) => $crate::methods::answer_now!($mode, py, object),
                        nearcache::ReadyWith::Later(pending) => {
                            $crate::methods::answer!($mode, self, py, Ok::<_, nearcache::Error>(nearcache::Ready::Later(pending)), out::opt_bytes)
                        }
                    })
                }

                /// L1 only, no I/O: the value on a hit, `None` for a cached
                /// absence, `default` when L1 cannot answer.
                #[pyo3(signature = (key, default = None))]
                fn get_local<'py>(
                    &self,
                    py: Python<'py>,
                    key: Key<'py>,
                    default: Option<Bound<'py, PyAny>>,
                ) -> PyResult<Bound<'py, PyAny>> {
                    guard(|| match self.core().with_local(&key, |found| match found {
                        nearcache::LocalRef::Hit(value) => Some(out::slice(py, value)),
                        nearcache::LocalRef::Absent => Some(out::none(py, ())),
                        nearcache::LocalRef::Miss => None,
                    }).py(py)? {
                        Some(object) => object,
                        None => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
                    })
                }

                #[pyo3(signature = (key, loader, ttl = None))]
                fn get_or_load<'py>(
                    &self,
                    py: Python<'py>,
                    key: Key<'py>,
                    loader: Loader<'py>,
                    ttl: Option<Ttl>,
                ) -> PyResult<Bound<'py, PyAny>> {
                    guard(|| {
                        let ready = self.core().get_or_load_ready(&key, ttl.view(), Self::loader(py, loader)?);
                        $crate::methods::answer!($mode, self, py, ready, out::bytes)
                    })
                }

                #[pyo3(signature = (*keys))]
                fn invalidate_local(&self, py: Python<'_>, keys: Keys<'_>) -> PyResult<()> {
                    guard(|| self.core().invalidate_local(&keys.view()).py(py))
                }

                fn invalidate_local_all(&self, py: Python<'_>) -> PyResult<()> {
                    guard(|| self.core().invalidate_local_all().py(py))
                }

                fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                    guard(|| out::stats(py, self.core().stats()))
                }

                fn stats_prometheus(&self) -> PyResult<String> {
                    guard(|| Ok(self.core().stats_prometheus()))
                }

                #[getter]
                fn closed(&self) -> PyResult<bool> {
                    guard(|| Ok(self.core().is_closed()))
                }

                fn __repr__(&self) -> PyResult<String> {
                    guard(|| {
                        let (core, state) = (self.core(), if self.core().is_closed() { "True" } else { "False" });
                        Ok(format!("<nearcache.{} {} closed={state}>", $name, core.config().redis.url.redacted()))
                    })
                }
            }
        };
    };
}

pub(crate) use {answer, answer_now, answer_with, cache_methods, call};
