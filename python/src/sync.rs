//! `nearcache.Cache`: the synchronous cache (methods in [`crate::methods`]).
//!
//! An L1 hit is answered with the GIL held (releasing it costs more than the
//! hit). Anything that may go to Redis releases the GIL for the wait, so
//! other Python threads run meanwhile; the wait is bounded by
//! `redis.command_timeout`.

use bytes::Bytes;
use nearcache::blocking;
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use crate::convert::Loader;
use crate::error::{guard, IntoPy};

/// The synchronous cache (`nearcache._native.Cache`, subclassed by
/// `nearcache.Cache` for the JSON helpers).
#[pyclass(frozen, subclass, name = "Cache", module = "nearcache._native")]
pub(crate) struct PyCache {
    inner: blocking::Cache,
}

impl PyCache {
    fn create(py: Python<'_>, config: nearcache::Config) -> PyResult<Self> {
        Ok(PyCache { inner: blocking::Cache::new(config).py(py)? })
    }

    fn core(&self) -> &nearcache::Cache {
        self.inner.as_async()
    }

    /// A `get_or_load` loader runs on the calling thread (the pending work
    /// is driven there), taking the GIL back only while Python code runs.
    fn loader(
        _py: Python<'_>,
        loader: Loader<'_>,
    ) -> PyResult<impl FnOnce() -> std::future::Ready<PyResult<Bytes>> + Send + 'static> {
        let loader = loader.0.unbind();
        Ok(move || std::future::ready(Python::attach(|py| crate::convert::loaded(&loader.bind(py).call0()?))))
    }
}

crate::methods::cache_methods!(PyCache, "Cache", blocking, {
    /// A pipeline (redis-py's `pipeline(transaction=True, shard_hint=None)`).
    #[pyo3(signature = (transaction = true, shard_hint = None))]
    fn pipeline(
        &self,
        #[pyo3(from_py_with = flag)] transaction: bool,
        shard_hint: Option<Bound<'_, PyAny>>,
    ) -> PyResult<crate::pipeline::PyPipeline> {
        // shard_hint: accepted for redis-py's signature; routing is by key.
        let _ = shard_hint;
        guard(|| Ok(crate::pipeline::PyPipeline::new(self.core().clone(), transaction)))
    }

    /// A Lua script bound to this cache (redis-py's `register_script`).
    fn register_script(&self, script: crate::convert::Source) -> PyResult<crate::pipeline::PyScript> {
        guard(|| Ok(crate::pipeline::PyScript { script: self.core().register_script(&script.0) }))
    }

    #[pyo3(signature = (pattern = None))]
    fn scan(&self, pattern: Option<Key<'_>>) -> PyResult<Scan> {
        guard(|| Ok(Scan { inner: Mutex::new(self.inner.scan(pattern.as_deref())) }))
    }

    fn close(&self) -> PyResult<()> {
        guard(|| {
            self.inner.close();
            Ok(())
        })
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.close()
    }
});

/// A SCAN iterator (`Cache.scan`); each step that needs a round trip
/// releases the GIL.
#[pyclass(frozen, module = "nearcache._native")]
pub(crate) struct Scan {
    inner: Mutex<blocking::Scan>,
}

#[pymethods]
impl Scan {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        guard(|| match py.detach(|| self.inner.lock().next()) {
            None => Ok(None),
            Some(Ok(key)) => Ok(Some(PyBytes::new(py, &key))),
            Some(Err(e)) => Err(crate::error::to_py(py, e)),
        })
    }
}
