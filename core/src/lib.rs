//! nearcache: a fast Redis client-side cache.
//!
//! A hot key is answered from process memory (the L1 tier) in tens of
//! nanoseconds; a miss goes to Redis over auto-pipelined RESP3 connections;
//! large values are compressed transparently; writes get TTL jitter. One
//! implementation serves Rust, Python, Node and C (the bindings only
//! translate types and errors).
//!
//! Start with [`Cache`] (async) or [`blocking::Cache`], configured by a
//! [`Config`] (the same TOML/JSON file in every language) or a
//! [`CacheBuilder`].

#![warn(missing_docs)]

pub mod args;
mod backend;
pub mod blocking;
mod cache;
mod cached_read;
pub mod clock;
mod cluster;
pub mod cluster_nodes;
pub mod codec;
mod command;
pub mod config;
mod conn;
mod dedicated;
mod endpoint;
mod error;
mod expiry;
mod fills;
mod health;
mod l1;
mod runtime;
mod stats;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
mod tracking;
pub use cache::{
    decode, Cache, CacheBuilder, InFlight, Pending, Pipeline, Ready, ReadyWith, Scan, Script, SetOptions, Transaction,
    TransactionRetries, ZRange, MAX_KEY_LEN,
};
pub use clock::Clock;
pub use command::Reply;
pub use config::{Config, Invalidation};
pub use error::{Error, ErrorKind, Result};
pub use expiry::Ttl;
pub use l1::{ChangeWords, LocalRef, LocalView, Lookup, ENTRY_OVERHEAD, REPLY_OVERHEAD};
pub use runtime::{block_on, runtime, spawn};
pub use stats::{DeploymentStats, Flushes, HotKey, LatencySummary, SlowEntry, Stats};
