//! Core errors as JavaScript `Error` objects whose `code` is core's
//! [`ErrorKind::code`]; argument type errors as `TypeError`s with the
//! `InvalidArgument` code. No code is spelled out here: every one comes from
//! core, so the languages cannot drift apart.

use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::{sys, JsError};
use nearcache::ErrorKind;

/// What the `#[napi]` methods return: the error's status is the code.
pub(crate) type Result<T> = napi::Result<T, &'static str>;

/// A core error as a napi error (thrown by sync methods). A loader error
/// keeps the JavaScript value the loader rejected with as `cause`.
pub(crate) fn to_napi(err: nearcache::Error) -> napi::Error<&'static str> {
    let status = err.code();
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

/// Why an argument was refused: the wrong JavaScript type (a `TypeError`,
/// decided here because only the binding sees JavaScript types), or a value
/// core refuses (core's error, e.g. a negative TTL from `nearcache::args`).
pub(crate) enum ArgError {
    WrongType(String),
    Refused(nearcache::Error),
}

pub(crate) type ArgResult<T> = std::result::Result<T, ArgError>;

impl From<nearcache::Error> for ArgError {
    fn from(err: nearcache::Error) -> Self {
        ArgError::Refused(err)
    }
}

impl ArgError {
    pub(crate) fn wrong_type(message: impl Into<String>) -> Self {
        ArgError::WrongType(message.into())
    }

    /// The error as a JavaScript value (rejects Promises).
    ///
    /// # Safety
    /// `env` must be the current thread's env.
    pub(crate) unsafe fn into_js(self, env: sys::napi_env) -> sys::napi_value {
        match self {
            ArgError::WrongType(message) => {
                let err = napi::Error::new(ErrorKind::InvalidArgument.code(), message);
                unsafe { napi::JsTypeError::from(err).into_value(env) }
            }
            ArgError::Refused(err) => unsafe { to_js(env, err) },
        }
    }

    /// The error for a sync method: a `TypeError` is thrown here (napi-rs
    /// only throws plain `Error`s) and reported as pending, so napi-rs does
    /// not throw again; a core error is returned for napi-rs to throw.
    pub(crate) fn throw(self, env: sys::napi_env) -> napi::Error<&'static str> {
        match self {
            ArgError::Refused(err) => to_napi(err),
            wrong @ ArgError::WrongType(_) => {
                // SAFETY: called on the JS thread with its env, from a #[napi] method.
                unsafe {
                    let value = wrong.into_js(env);
                    sys::napi_throw(env, value);
                }
                napi::Error::new(napi::Status::PendingException.as_ref(), String::new())
            }
        }
    }
}

/// What a sync method body can fail with.
pub(crate) enum Failure {
    Arg(ArgError),
    Core(nearcache::Error),
}

impl From<ArgError> for Failure {
    fn from(err: ArgError) -> Self {
        Failure::Arg(err)
    }
}

impl From<nearcache::Error> for Failure {
    fn from(err: nearcache::Error) -> Self {
        Failure::Core(err)
    }
}

/// Runs a sync method body: a bad argument throws a `TypeError`, a core
/// error throws with its code, and a panic becomes core's `Internal` error
/// ([`nearcache::Error::from_panic`]: the same text in every language).
pub(crate) fn guard<T>(env: sys::napi_env, body: impl FnOnce() -> std::result::Result<T, Failure>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(Failure::Arg(err))) => Err(err.throw(env)),
        Ok(Err(Failure::Core(err))) => Err(to_napi(err)),
        Err(payload) => Err(to_napi(nearcache::Error::from_panic(payload.as_ref()))),
    }
}
