//! `nearcache._native`: the Python binding of nearcache.
//!
//! Thin wrappers only: arguments are converted ([`convert`]), core is called,
//! results and errors are converted back ([`error`]). Both classes get their
//! methods from one table ([`methods`]); `Cache` waits with the GIL released
//! ([`sync`]), `AsyncCache` hands core's futures to asyncio ([`aio`]). The
//! public Python package (`python/py_src/nearcache`) subclasses these
//! classes (adding the JSON helpers) and adds the exception classes and the
//! `@cached` decorator; the documentation of every method lives in
//! `_native.pyi`.

mod aio;
mod batch;
mod call;
mod convert;
mod error;
mod methods;
mod pipeline;
mod sync;

use std::cell::RefCell;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

thread_local! {
    /// A config on its way from `from_config` / `from_env` to `__new__`.
    static HANDOFF: RefCell<Option<nearcache::Config>> = const { RefCell::new(None) };
}

/// Builds a core config from `Cache(url=None, **options)`: the options are
/// the config file's tree (`l1={"max_bytes": "64MiB"}`), `url` is the
/// shortcut for `redis.url`. Core parses and validates. Inside
/// [`construct`], the config it hands over instead.
pub(crate) fn config_from(
    py: Python<'_>,
    url: Option<convert::Url>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<nearcache::Config> {
    if url.is_none() && options.is_none_or(|o| o.is_empty()) {
        if let Some(config) = HANDOFF.with(|h| h.borrow_mut().take()) {
            return Ok(config);
        }
    }
    let mut tree = match options {
        Some(options) => convert::tree(options.as_any(), "")?,
        None => serde_json::Value::Object(serde_json::Map::new()),
    };
    // `url` is a named parameter, so `options` cannot hold a second one.
    if let (Some(url), Some(root)) = (url, tree.as_object_mut()) {
        root.insert("url".to_owned(), serde_json::Value::String(url.0));
    }
    error::IntoPy::py(nearcache::Config::from_value(tree), py)
}

/// An instance of `cls` (`nearcache.Cache`, or a user's subclass) for a
/// config core built from a file or the environment. Only calling `cls`
/// makes an instance of a Python subclass, so the config reaches `__new__`
/// through a thread-local, taken by that call and cleared after it.
pub(crate) fn construct<'py>(
    cls: &Bound<'py, PyType>,
    config: nearcache::Result<nearcache::Config>,
) -> PyResult<Bound<'py, PyAny>> {
    let config = error::IntoPy::py(config, cls.py())?;
    HANDOFF.with(|h| *h.borrow_mut() = Some(config));
    let made = cls.call0();
    HANDOFF.with(|h| h.borrow_mut().take());
    made
}

/// Panics inside the binding's panic guard; lets the test suite check that a
/// Rust panic surfaces as `nearcache.InternalError`, not a crash. Only in
/// builds with the `test-hooks` feature (`make python-test`).
#[cfg(feature = "test-hooks")]
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
    m.add_class::<call::Call>()?;
    m.add_class::<pipeline::PyPipeline>()?;
    m.add_class::<pipeline::PyAsyncPipeline>()?;
    m.add_class::<pipeline::PyScript>()?;
    m.add_class::<pipeline::PyAsyncScript>()?;
    m.add_class::<batch::PyRetries>()?;
    call::register(m.py())?;
    #[cfg(feature = "test-hooks")]
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add("MAX_KEY_LEN", nearcache::MAX_KEY_LEN)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
