//! Typed construction: [`CacheBuilder`], sugar over [`Config`], and
//! [`SetOptions`], the options of a write.

use std::time::Duration;

use crate::clock::Clock;
use crate::config::{Config, Invalidation};
use crate::error::Result;

use super::Cache;

/// Options for [`Cache::set`].
///
/// ```
/// use std::time::Duration;
/// let opts = nearcache::SetOptions::ttl(Duration::from_secs(60)).nx();
/// assert!(opts.only_if_absent);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use]
pub struct SetOptions {
    /// Expire the key after this long (with `write.ttl_jitter` applied).
    pub ttl: Option<Duration>,
    /// Write only if the key does not exist (`NX`).
    pub only_if_absent: bool,
    /// Write only if the key exists (`XX`).
    pub only_if_present: bool,
    /// Use `ttl` exactly, without jitter.
    pub exact_ttl: bool,
}

impl SetOptions {
    /// Options with a TTL.
    pub fn ttl(ttl: Duration) -> Self {
        SetOptions { ttl: Some(ttl), ..SetOptions::default() }
    }

    /// Only write if the key does not exist.
    pub fn nx(mut self) -> Self {
        self.only_if_absent = true;
        self
    }

    /// Only write if the key exists.
    pub fn xx(mut self) -> Self {
        self.only_if_present = true;
        self
    }

    /// Do not jitter the TTL.
    pub fn exact(mut self) -> Self {
        self.exact_ttl = true;
        self
    }
}

/// Typed construction of a [`Cache`]: sugar over [`Config`].
///
/// ```
/// let cache = nearcache::Cache::builder()
///     .url("redis://127.0.0.1:6399/0")
///     .l1_max_bytes(16 << 20)
///     .build()?; // no I/O yet: connections open on first use
/// # Ok::<(), nearcache::Error>(())
/// ```
#[must_use]
#[derive(Default)]
pub struct CacheBuilder {
    config: Config,
    url: Option<String>,
    clock: Option<Clock>,
}

impl std::fmt::Debug for CacheBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL is kept unparsed until `build`: redact it by hand.
        let url = self.url.as_deref().map(crate::config::redact_secrets);
        f.debug_struct("CacheBuilder").field("config", &self.config).field("url", &url).finish_non_exhaustive()
    }
}

impl CacheBuilder {
    /// The Redis URL (`redis://`, `rediss://`, `user:password@` for ACL).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Starts from a full configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The byte bound of L1.
    pub fn l1_max_bytes(mut self, bytes: u64) -> Self {
        self.config.l1.max_bytes = bytes;
        self
    }

    /// The L1 TTL.
    pub fn l1_ttl(mut self, ttl: Duration) -> Self {
        self.config.l1.ttl = ttl;
        self
    }

    /// The invalidation mode.
    pub fn invalidation(mut self, mode: Invalidation) -> Self {
        self.config.l1.invalidation = mode;
        self
    }

    /// Replaces the L1 clock (tests move a [`Clock::manual`] by hand).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Validates the configuration and creates the cache; does no I/O.
    pub fn build(self) -> Result<Cache> {
        let mut config = self.config;
        if let Some(url) = self.url {
            config.redis.url = url.parse()?;
        }
        Cache::with_clock(config, self.clock.unwrap_or_default())
    }
}

impl Cache {
    /// A builder with the default configuration.
    pub fn builder() -> CacheBuilder {
        CacheBuilder::default()
    }
}
