//! `nearcache.Cache`: the synchronous cache over `nearcache::blocking::Cache`.
//!
//! An L1 hit is answered with the GIL held (releasing it costs more than the
//! hit). Anything that may go to Redis releases the GIL for the wait, so
//! other Python threads run meanwhile; the wait is bounded by
//! `redis.command_timeout`.

use std::path::PathBuf;

use bytes::Bytes;
use nearcache::{blocking, Lookup};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple, PyType};

use crate::convert;
use crate::error::{guard, IntoPy};

/// Runs a core future on the core runtime with the GIL released.
fn wait<T: Send>(py: Python<'_>, f: impl FnOnce() -> nearcache::Result<T> + Send) -> PyResult<T> {
    py.detach(f).py(py)
}

/// `block_on` plus the future's own result, flattened.
fn run<T>(fut: impl std::future::Future<Output = nearcache::Result<T>>) -> nearcache::Result<T> {
    nearcache::block_on(fut).and_then(|r| r)
}

fn slices<'a>(objs: &'a [Bound<'_, PyBytes>]) -> Vec<&'a [u8]> {
    objs.iter().map(|b| b.as_bytes()).collect()
}

/// The synchronous cache (`nearcache.Cache`).
#[pyclass(frozen, name = "Cache", module = "nearcache._native")]
pub(crate) struct PyCache {
    inner: blocking::Cache,
}

#[pymethods]
impl PyCache {
    #[new]
    #[pyo3(signature = (url = None, **options))]
    fn new(py: Python<'_>, url: Option<&Bound<'_, PyAny>>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        guard(|| {
            let config = crate::config_from(py, url, options)?;
            Ok(PyCache { inner: blocking::Cache::new(config).py(py)? })
        })
    }

    #[classmethod]
    fn from_config(_cls: &Bound<'_, PyType>, py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        guard(|| {
            let config = nearcache::Config::from_path(path).py(py)?;
            Ok(PyCache { inner: blocking::Cache::new(config).py(py)? })
        })
    }

    #[classmethod]
    fn from_env(_cls: &Bound<'_, PyType>, py: Python<'_>) -> PyResult<Self> {
        guard(|| {
            let config = nearcache::Config::from_env().py(py)?;
            Ok(PyCache { inner: blocking::Cache::new(config).py(py)? })
        })
    }

    fn config_json(&self) -> String {
        self.inner.config().to_json()
    }

    fn connect(&self, py: Python<'_>) -> PyResult<()> {
        guard(|| wait(py, || self.inner.connect()))
    }

    fn get<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let key = convert::key(key)?;
            let k = key.as_bytes();
            match self.inner.get_local(k).py(py)? {
                Lookup::Hit(value) => Ok(PyBytes::new(py, &value).into_any()),
                Lookup::Absent => Ok(py.None().into_bound(py)),
                Lookup::Miss => {
                    let value = wait(py, || run(self.inner.as_async().get_after_miss(k)))?;
                    Ok(convert::opt_bytes(py, value))
                }
            }
        })
    }

    /// L1 only, no I/O: the value on a hit, `None` for a cached absence,
    /// `default` when L1 cannot answer.
    #[pyo3(signature = (key, default = None))]
    fn get_local<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let key = convert::key(key)?;
            match self.inner.get_local(key.as_bytes()).py(py)? {
                Lookup::Hit(value) => Ok(PyBytes::new(py, &value).into_any()),
                Lookup::Absent => Ok(py.None().into_bound(py)),
                Lookup::Miss => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
            }
        })
    }

    fn get_json<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let key = convert::key(key)?;
            let k = key.as_bytes();
            let value = match self.inner.get_local(k).py(py)? {
                Lookup::Hit(value) => Some(value),
                Lookup::Absent => None,
                Lookup::Miss => wait(py, || run(self.inner.as_async().get_after_miss(k)))?,
            };
            convert::json_loads(py, value)
        })
    }

    fn get_many<'py>(&self, py: Python<'py>, keys: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        guard(|| {
            let keys = convert::keys(keys, "keys")?;
            let ks = slices(&keys);
            let values = wait(py, || self.inner.get_many(&ks))?;
            convert::opt_bytes_list(py, values)
        })
    }

    #[pyo3(signature = (key, value, ttl = None, nx = false, xx = false))]
    fn set(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
        nx: bool,
        xx: bool,
    ) -> PyResult<bool> {
        guard(|| {
            let (key, value) = (convert::key(key)?, convert::value(value)?);
            let options = convert::set_options(convert::ttl(ttl)?, nx, xx);
            let (k, v) = (key.as_bytes(), value.as_bytes());
            wait(py, || self.inner.set(k, v, options))
        })
    }

    #[pyo3(signature = (key, obj, ttl = None, nx = false, xx = false))]
    fn set_json(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        obj: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
        nx: bool,
        xx: bool,
    ) -> PyResult<bool> {
        guard(|| {
            let (key, value) = (convert::key(key)?, convert::json_dumps(obj)?);
            let options = convert::set_options(convert::ttl(ttl)?, nx, xx);
            let (k, v) = (key.as_bytes(), value.as_bytes());
            wait(py, || self.inner.set(k, v, options))
        })
    }

    #[pyo3(signature = (items, ttl = None))]
    fn set_many(&self, py: Python<'_>, items: &Bound<'_, PyAny>, ttl: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        guard(|| {
            let items = convert::items(items, "items")?;
            let ttl = convert::ttl(ttl)?;
            let pairs: Vec<(&[u8], &[u8])> = items.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())).collect();
            wait(py, || self.inner.set_many(&pairs, ttl))
        })
    }

    fn delete(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        guard(|| {
            let key = convert::key(key)?;
            let k = key.as_bytes();
            wait(py, || self.inner.delete(k))
        })
    }

    fn delete_many(&self, py: Python<'_>, keys: &Bound<'_, PyAny>) -> PyResult<u64> {
        guard(|| {
            let keys = convert::keys(keys, "keys")?;
            let ks = slices(&keys);
            wait(py, || self.inner.delete_many(&ks))
        })
    }

    fn expire(&self, py: Python<'_>, key: &Bound<'_, PyAny>, ttl: &Bound<'_, PyAny>) -> PyResult<bool> {
        guard(|| {
            let key = convert::key(key)?;
            let ttl = convert::ttl(Some(ttl))?
                .ok_or_else(|| pyo3::exceptions::PyTypeError::new_err("expire needs a ttl, not None"))?;
            let k = key.as_bytes();
            wait(py, || self.inner.expire(k, ttl))
        })
    }

    fn ttl(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Option<f64>> {
        guard(|| {
            let key = convert::key(key)?;
            let k = key.as_bytes();
            wait(py, || self.inner.ttl(k)).map(convert::ttl_out)
        })
    }

    fn hget<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        field: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let (key, field) = (convert::key(key)?, convert::key(field)?);
            let (k, f) = (key.as_bytes(), field.as_bytes());
            wait(py, || self.inner.hget(k, f)).map(|v| convert::opt_bytes(py, v))
        })
    }

    fn hmget<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        fields: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        guard(|| {
            let (key, fields) = (convert::key(key)?, convert::keys(fields, "fields")?);
            let (k, fs) = (key.as_bytes(), slices(&fields));
            let values = wait(py, || self.inner.hmget(k, &fs))?;
            convert::opt_bytes_list(py, values)
        })
    }

    fn hgetall<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        guard(|| {
            let key = convert::key(key)?;
            let k = key.as_bytes();
            let pairs = wait(py, || self.inner.hgetall(k))?;
            convert::pairs_to_dict(py, pairs)
        })
    }

    fn hset(&self, py: Python<'_>, key: &Bound<'_, PyAny>, mapping: &Bound<'_, PyAny>) -> PyResult<u64> {
        guard(|| {
            let (key, items) = (convert::key(key)?, convert::items(mapping, "mapping")?);
            let k = key.as_bytes();
            let pairs: Vec<(&[u8], &[u8])> = items.iter().map(|(f, v)| (f.as_bytes(), v.as_bytes())).collect();
            wait(py, || self.inner.hset(k, &pairs))
        })
    }

    #[pyo3(signature = (key, *fields))]
    fn hdel(&self, py: Python<'_>, key: &Bound<'_, PyAny>, fields: &Bound<'_, PyTuple>) -> PyResult<u64> {
        guard(|| {
            let (key, fields) = (convert::key(key)?, convert::keys(fields.as_any(), "fields")?);
            let (k, fs) = (key.as_bytes(), slices(&fields));
            wait(py, || self.inner.hdel(k, &fs))
        })
    }

    #[pyo3(signature = (key, loader, ttl = None))]
    fn get_or_load<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        loader: &Bound<'py, PyAny>,
        ttl: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        guard(|| {
            let key = convert::key(key)?;
            let k = key.as_bytes();
            if let Lookup::Hit(value) = self.inner.get_local(k).py(py)? {
                return Ok(PyBytes::new(py, &value));
            }
            if !loader.is_callable() {
                return Err(pyo3::exceptions::PyTypeError::new_err("loader must be callable"));
            }
            let ttl = convert::ttl(ttl)?;
            let loader = loader.clone().unbind();
            // The loader runs on this thread (core's blocking get_or_load),
            // with the GIL taken back only while Python code runs.
            let value = wait(py, || {
                self.inner.get_or_load_after_miss(k, ttl, || {
                    Python::attach(|py| -> PyResult<Bytes> { convert::loaded(loader.bind(py).call0()?.as_any()) })
                })
            })?;
            Ok(PyBytes::new(py, &value))
        })
    }

    #[pyo3(signature = (*keys))]
    fn invalidate_local(&self, py: Python<'_>, keys: &Bound<'_, PyTuple>) -> PyResult<()> {
        guard(|| {
            let keys = convert::keys(keys.as_any(), "keys")?;
            self.inner.invalidate_local(&slices(&keys)).py(py)
        })
    }

    fn invalidate_local_all(&self, py: Python<'_>) -> PyResult<()> {
        guard(|| self.inner.invalidate_local_all().py(py))
    }

    #[pyo3(signature = (pattern = None))]
    fn scan(&self, pattern: Option<&Bound<'_, PyAny>>) -> PyResult<Scan> {
        guard(|| {
            let pattern = pattern.filter(|p| !p.is_none()).map(convert::key).transpose()?;
            let scan = self.inner.scan(pattern.as_ref().map(|p| p.as_bytes()));
            Ok(Scan { inner: Mutex::new(scan) })
        })
    }

    fn delete_prefix(&self, py: Python<'_>, prefix: &Bound<'_, PyAny>) -> PyResult<u64> {
        guard(|| {
            let prefix = convert::key(prefix)?;
            let p = prefix.as_bytes();
            wait(py, || self.inner.delete_prefix(p))
        })
    }

    #[pyo3(signature = (*args))]
    fn command<'py>(&self, py: Python<'py>, args: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let args = args.iter().map(|a| convert::arg(&a)).collect::<PyResult<Vec<_>>>()?;
            let reply = wait(py, || self.inner.command(&args))?;
            convert::reply_to_py(py, reply)
        })
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| convert::stats_to_py(py, &self.inner.stats()))
    }

    fn stats_prometheus(&self) -> String {
        self.inner.stats_prometheus()
    }

    fn close(&self) {
        self.inner.close()
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.as_async().is_closed()
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, PyTuple>) {
        self.inner.close();
    }

    fn __repr__(&self) -> String {
        format!(
            "<nearcache.Cache {} closed={}>",
            self.inner.config().redis.url.redacted(),
            if self.inner.as_async().is_closed() { "True" } else { "False" }
        )
    }
}

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
