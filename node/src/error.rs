//! Core errors as JavaScript `Error` objects with `code` = the `NC_*` code.

use napi::{sys, JsError};
use nearcache::ErrorKind;

/// The `err.code` of each kind: core's code, so the three languages cannot
/// drift apart.
pub(crate) fn code(kind: ErrorKind) -> &'static str {
    kind.code()
}

/// A core error as a napi error (thrown by sync methods). A loader error
/// keeps the JavaScript value the loader rejected with as `cause`.
pub(crate) fn to_napi(err: nearcache::Error) -> napi::Error<&'static str> {
    let status = code(err.kind());
    let message = err.message().to_owned();
    let cause = match err.kind() {
        ErrorKind::Loader => err.into_cause().and_then(|c| c.downcast::<crate::cache::LoaderError>().ok()),
        _ => None,
    };
    let mut out = napi::Error::new(status, message);
    out.cause = cause.map(|c| Box::new(c.0));
    out
}

/// A core error as a JavaScript value (rejects Promises).
///
/// # Safety
/// `env` must be the current thread's env.
pub(crate) unsafe fn to_js(env: sys::napi_env, err: nearcache::Error) -> sys::napi_value {
    unsafe { JsError::from(to_napi(err)).into_value(env) }
}

/// A JavaScript `TypeError` with code `NC_INVALID_ARGUMENT`, for arguments of
/// the wrong type (core's own argument checks keep a plain `Error`).
pub(crate) struct ArgError(pub String);

pub(crate) type ArgResult<T> = std::result::Result<T, ArgError>;

impl ArgError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ArgError(message.into())
    }

    /// # Safety
    /// `env` must be the current thread's env.
    pub(crate) unsafe fn to_js(&self, env: sys::napi_env) -> sys::napi_value {
        let err = napi::Error::new(code(ErrorKind::InvalidArgument), self.0.clone());
        unsafe { napi::JsTypeError::from(err).into_value(env) }
    }

    /// Throws it and returns the status napi-rs expects after a throw.
    pub(crate) fn throw(&self, env: sys::napi_env) -> napi::Error {
        // SAFETY: called on the JS thread with its env, from a #[napi] method.
        unsafe {
            let value = self.to_js(env);
            sys::napi_throw(env, value);
        }
        napi::Error::new(napi::Status::PendingException, self.0.clone())
    }
}

/// A panic caught at the boundary, as an `NC_INTERNAL` error value.
///
/// # Safety
/// `env` must be the current thread's env.
pub(crate) unsafe fn panic_to_js(env: sys::napi_env, payload: &(dyn std::any::Any + Send)) -> sys::napi_value {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    let err = nearcache::Error::new(ErrorKind::Internal, format!("a bug in nearcache: {what}"));
    unsafe { to_js(env, err) }
}

/// Used by `ToNapiValue` implementations that must return a value.
pub(crate) fn internal(message: impl Into<String>) -> napi::Error {
    napi::Error::new(napi::Status::GenericFailure, message.into())
}
