//! The Node.js binding of nearcache (napi-rs). It translates JavaScript
//! values and errors to core's and back, nothing else: every behaviour lives
//! in the `nearcache` crate. `index.js` adds the JavaScript-only parts (the
//! kept copies behind `getLocal`, `scan` as an async iterator, JSON helpers).

mod cache;
mod convert;
mod error;
mod settle;

use napi::bindgen_prelude::{JsObjectValue, Object};
use napi::JsValue;
use napi_derive::napi;
use nearcache::ErrorKind;

pub use cache::{JsCache, ScanCursor};

/// Adds `codes` to the module: a frozen object from each kind's name to its
/// code (`codes.InvalidArgument` is `ErrorKind::InvalidArgument.code()`),
/// built from core's `ErrorKind::ALL`, so JavaScript never spells a code out;
/// and `version`, the crate's (the workspace's) version, so the loaded addon
/// says which release it is, whatever package.json claims.
#[napi(module_exports)]
pub fn init(exports: Object<'_>) -> napi::Result<()> {
    // module_exports takes no `catch_unwind`: the same boundary by hand.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| add_codes(exports))).unwrap_or_else(|payload| {
        Err(napi::Error::from_reason(nearcache::Error::from_panic(payload.as_ref()).message().to_owned()))
    })
}

fn add_codes(mut exports: Object<'_>) -> napi::Result<()> {
    let env = napi::Env::from(exports.value().env);
    let mut codes = Object::new(&env)?;
    for kind in ErrorKind::ALL {
        codes.set_named_property(&format!("{kind:?}"), kind.code())?;
    }
    codes.freeze()?;
    exports.set_named_property("codes", codes)?;
    exports.set_named_property("version", env!("CARGO_PKG_VERSION"))
}

/// Panics with `message` inside an export, so tests can check that a panic
/// becomes core's `Internal` error (`nearcache::Error::from_panic`). Only in
/// builds with the `test-hooks` feature (`make node-test`), never in a
/// release package.
#[cfg(feature = "test-hooks")]
#[napi(js_name = "_panicForTests", skip_typescript, catch_unwind)]
pub fn panic_for_tests(env: napi::Env, message: String) -> error::Result<()> {
    error::guard(env.raw(), || -> std::result::Result<(), error::Failure> { panic!("{message}") })
}
