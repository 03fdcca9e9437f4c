//! `nearcache._native`: the Python binding of nearcache.
//!
//! Thin wrappers only: arguments are converted ([`convert`]), core is called,
//! results and errors are converted back ([`error`]). The public Python
//! package (`python/py_src/nearcache`) re-exports these classes and adds the
//! exception classes and the `@cached` decorator; the documentation of every
//! method lives in `_native.pyi`.

mod aio;
mod convert;
mod error;
mod sync;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// Builds a core config from `Cache(url=None, **options)`: the options are
/// the config file's tree (`l1={"max_bytes": "64MiB"}`), `url` is the
/// shortcut for `redis.url`. Core parses and validates.
pub(crate) fn config_from(
    py: Python<'_>,
    url: Option<&Bound<'_, PyAny>>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<nearcache::Config> {
    let mut tree = match options {
        Some(options) => convert::tree(options.as_any(), "")?,
        None => serde_json::Value::Object(serde_json::Map::new()),
    };
    if let (Some(url), Some(root)) = (url.filter(|u| !u.is_none()), tree.as_object_mut()) {
        let url = url.cast::<PyString>().map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err("url must be a str such as \"redis://127.0.0.1:6379/0\"")
        })?;
        if root.contains_key("url") {
            return Err(error::ConfigError::new_err("url: given twice; keep one"));
        }
        root.insert("url".to_owned(), serde_json::Value::String(url.to_cow()?.into_owned()));
    }
    error::IntoPy::py(nearcache::Config::from_value(tree), py)
}

/// An awaitable that is already complete: an L1 hit in `AsyncCache` costs no
/// event-loop round trip. Awaiting it returns the value at once.
#[pyclass(frozen, module = "nearcache._native")]
pub(crate) struct Ready {
    value: Py<PyAny>,
}

impl Ready {
    pub(crate) fn awaitable<'py>(py: Python<'py>, value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        Ok(Bound::new(py, Ready { value: value.unbind() })?.into_any())
    }
}

#[pymethods]
impl Ready {
    fn __await__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<()> {
        // A generator returning a value raises StopIteration(value); `await`
        // unpacks it (the tuple keeps a tuple value from being unpacked).
        Err(pyo3::exceptions::PyStopIteration::new_err((self.value.clone_ref(py),)))
    }
}

/// Panics inside the binding's panic guard; lets the test suite check that a
/// Rust panic surfaces as `nearcache.InternalError`, not a crash.
#[pyfunction]
fn _panic_for_tests(message: &str) -> PyResult<()> {
    error::guard(|| panic!("{message}"))
}

/// The extension module.
#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<sync::PyCache>()?;
    m.add_class::<sync::Scan>()?;
    m.add_class::<aio::PyAsyncCache>()?;
    m.add_class::<aio::AsyncScan>()?;
    m.add_class::<Ready>()?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add("MAX_KEY_LEN", nearcache::MAX_KEY_LEN)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
