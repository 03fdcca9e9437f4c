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

/// The `#[pymethods]` of a cache class: `$own` are the class's own methods
/// (close, scan, the context-manager protocol), then the shared ones.
macro_rules! cache_methods {
    ($class:ident, $name:literal, $mode:ident, { $($own:tt)* }) => {
        $crate::methods::cache_methods!(@table $class, $name, $mode, { $($own)* },
            // The verbs that are one core call: name(arguments) => core call, result.
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
            fn hget(key: Key<'py>, field: Key<'py>) => |c| c.hget(&key, &field), out::opt_bytes;
            fn hmget(key: Key<'py>, fields: Keys<'py>) => |c| c.hmget(&key, &fields), out::opt_bytes_list;
            fn hgetall(key: Key<'py>) => |c| c.hgetall(&key), out::bytes_dict;
            fn hset(key: Key<'py>, mapping: Items<'py>) => |c| c.hset(&key, &mapping), out::plain;
            #[pyo3(signature = (key, *fields))]
            fn hdel(key: Key<'py>, fields: Keys<'py>) => |c| c.hdel(&key, &fields), out::plain;
            fn delete_prefix(prefix: Key<'py>) => |c| c.delete_prefix(&prefix), out::plain;
            #[pyo3(signature = (*args))]
            fn command(args: Args) => |c| c.command(&args), out::reply;
        );
    };
    (@table $class:ident, $name:literal, $mode:ident, { $($own:tt)* },
        $(
            $(#[$($attr:tt)*])*
            fn $verb:ident($($(#[$($arg_attr:tt)*])* $arg:ident: $ty:ty),*) => |$c:ident| $call:expr, $out:expr;
        )*
    ) => {
        const _: () = {
            use pyo3::prelude::*;
            use pyo3::types::{PyDict, PyType};
            use $crate::convert::{flag, out, set_options, Args, ConfigPath, Items, Key, Keys, Loader, Project};
            use $crate::convert::{Ttl, Url, Value};
            use $crate::error::{guard, IntoPy};

            #[pymethods]
            impl $class {
                $($own)*

                $(
                    $(#[$($attr)*])*
                    fn $verb<'py>(
                        &self,
                        py: Python<'py>,
                        $($(#[$($arg_attr)*])* $arg: $ty),*
                    ) -> PyResult<Bound<'py, PyAny>> {
                        guard(|| $crate::methods::call!($mode, self, py, [$($arg),*], |$c| $call, $out))
                    }
                )*

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

                fn config_json(&self) -> PyResult<String> {
                    guard(|| Ok(self.core().config().to_json()))
                }

                fn get<'py>(&self, py: Python<'py>, key: Key<'py>) -> PyResult<Bound<'py, PyAny>> {
                    guard(|| $crate::methods::answer!($mode, self, py, self.core().get_ready(&key), out::opt_bytes))
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
                    guard(|| match self.core().get_local(&key).py(py)? {
                        nearcache::Lookup::Hit(value) => out::bytes(py, value),
                        nearcache::Lookup::Absent => out::none(py, ()),
                        nearcache::Lookup::Miss => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
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

pub(crate) use {answer, cache_methods, call};
