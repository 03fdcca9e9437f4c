//! Core errors become the exceptions of `nearcache/errors.py`, wrong
//! argument types become `ArgumentTypeError`, and panics become
//! `InternalError`. Every exception raised here has its `.code`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use nearcache::{Error, ErrorKind};
use pyo3::prelude::*;

pyo3::import_exception!(nearcache.errors, ConfigError);
pyo3::import_exception!(nearcache.errors, ConnectionError);
pyo3::import_exception!(nearcache.errors, TimeoutError);
pyo3::import_exception!(nearcache.errors, AuthError);
pyo3::import_exception!(nearcache.errors, RedisError);
pyo3::import_exception!(nearcache.errors, CodecError);
pyo3::import_exception!(nearcache.errors, InvalidArgumentError);
pyo3::import_exception!(nearcache.errors, ClosedError);
pyo3::import_exception!(nearcache.errors, LoaderError);
pyo3::import_exception!(nearcache.errors, InternalError);
pyo3::import_exception!(nearcache.errors, TransactionAbortedError);
pyo3::import_exception!(nearcache.errors, ArgumentTypeError);

/// Converts a core error into its Python exception, with `.code` set from
/// core's `ErrorKind::code()`. A loader failure whose cause is a Python
/// exception gets that exception as `__cause__`.
pub(crate) fn to_py(py: Python<'_>, err: Error) -> PyErr {
    let kind = err.kind();
    let message = err.message().to_owned();
    // One exhaustive match, no `_` arm: a new kind in core breaks this build
    // until it is mapped.
    let exc = match kind {
        ErrorKind::Config => ConfigError::new_err(message),
        ErrorKind::Connection => ConnectionError::new_err(message),
        ErrorKind::Timeout => TimeoutError::new_err(message),
        ErrorKind::Auth => AuthError::new_err(message),
        ErrorKind::Redis => RedisError::new_err(message),
        ErrorKind::Codec => CodecError::new_err(message),
        ErrorKind::InvalidArgument => InvalidArgumentError::new_err(message),
        ErrorKind::Closed => ClosedError::new_err(message),
        ErrorKind::Loader => LoaderError::new_err(message),
        ErrorKind::Internal => InternalError::new_err(message),
        ErrorKind::TransactionAborted => TransactionAbortedError::new_err(message),
    };
    // Setting an attribute on our own exception class cannot fail short of
    // memory exhaustion; the exception is still raised if it does.
    let _ = exc.value(py).setattr("code", kind.code());
    if kind == ErrorKind::Loader {
        if let Some(cause) = err.into_cause() {
            match cause.downcast::<PyErr>() {
                Ok(original) => exc.set_cause(py, Some(*original)),
                Err(other) => exc.set_cause(py, Some(core_error(py, ErrorKind::Internal, other.to_string()))),
            }
        }
    }
    exc
}

/// Extension for `nearcache::Result`: `.py(py)?` raises the mapped exception.
pub(crate) trait IntoPy<T> {
    fn py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for nearcache::Result<T> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}

/// A core error of `kind` raised from the binding itself (a config value
/// only Python can check, a failure of the event-loop plumbing).
pub(crate) fn core_error(py: Python<'_>, kind: ErrorKind, message: impl Into<String>) -> PyErr {
    to_py(py, Error::new(kind, message.into()))
}

/// A wrong argument type: `ArgumentTypeError`, which is both a `TypeError`
/// and an `InvalidArgumentError`, with the code of core's `InvalidArgument`.
pub(crate) fn type_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    let exc = ArgumentTypeError::new_err(message.into());
    let _ = exc.value(py).setattr("code", ErrorKind::InvalidArgument.code());
    exc
}

/// Runs a binding function, turning a Rust panic into `InternalError`
/// (pyo3's own `PanicException` derives from `BaseException`, which
/// `except Exception` does not catch).
pub(crate) fn guard<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        // Only called from Python, so the thread is attached already.
        Err(payload) => Err(Python::attach(|py| to_py(py, Error::from_panic(&*payload)))),
    }
}

/// A future that turns a panic while polling into an `Internal` error, for
/// the futures handed to asyncio.
pub(crate) struct CatchUnwind<F>(pub(crate) F);

impl<F, T> std::future::Future for CatchUnwind<F>
where
    F: std::future::Future<Output = nearcache::Result<T>>,
{
    type Output = nearcache::Result<T>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        // SAFETY: structural pinning of the only field; `self` is never moved
        // out of, and `F` is not `Unpin`-dependent here.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => std::task::Poll::Ready(Err(Error::from_panic(&*payload))),
        }
    }
}
