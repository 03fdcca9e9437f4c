//! The Node.js binding of nearcache (napi-rs). It translates JavaScript
//! values and errors to core's and back, nothing else: every behaviour lives
//! in the `nearcache` crate. `index.js` adds the JavaScript-only parts (the
//! `getLocal` Buffer reuse, `scan` as an async iterator, JSON helpers).

mod cache;
mod convert;
mod error;
mod settle;

pub use cache::{JsCache, ScanCursor};
