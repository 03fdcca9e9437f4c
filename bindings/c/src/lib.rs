//! The C API of nearcache: `libnearcache.so` / `libnearcache.a` and
//! `include/nearcache.h` (generated from this crate by cbindgen).
//!
//! Conventions (after rustls-ffi): opaque handle types; every fallible
//! function returns `nc_status`; outputs come last and are written only on
//! success (a miss writes NULL); `*_free(NULL)` is a no-op; NULL pointers and
//! impossible lengths are `NC_ERR_INVALID_ARGUMENT`, never a crash; every
//! export runs inside one panic boundary (`ffi::boundary`), so a panic is
//! `NC_ERR_INTERNAL`, never an abort. This crate only translates: every
//! behaviour is core's.

#![allow(non_camel_case_types)]

mod cache;
mod config;
mod ffi;
mod pipeline;
mod reads;
mod replies;
mod reply;
mod scan;
mod script;
mod status;
#[cfg(feature = "test-hooks")]
mod test_hooks;
mod transaction;
mod value;
mod writes;

pub use cache::*;
pub use config::*;
pub use pipeline::*;
pub use reads::*;
pub use replies::*;
pub use reply::*;
pub use scan::*;
pub use script::*;
pub use status::*;
#[cfg(feature = "test-hooks")]
pub use test_hooks::*;
pub use transaction::*;
pub use value::*;
pub use writes::*;
