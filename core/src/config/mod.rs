//! The configuration schema: one tree for the TOML file, the JSON file, the
//! bindings' option objects and the environment.
//!
//! Every default lives in this module's `Default` impls, so no binding repeats
//! one. Every loader validates, and every error is a [`ErrorKind::Config`]
//! error whose message starts with the field path (`l1.max_bytes: ...`), so a
//! user can find the line to fix whatever language they call from. Passwords
//! are redacted from `Debug`, [`Config::to_json`] and every error message.
//!
//! [`ErrorKind::Config`]: crate::error::ErrorKind::Config
//!
//! The module is cut by job: `schema` (the types and their defaults), `load`
//! (the loaders), `validate` (cross-field rules), `redact` (secrets and the
//! redacted dump), `url` (Redis URLs) and `units` (sizes and durations).
//! Everything public is re-exported here, so callers only ever name
//! `nearcache::config::*`.
//!
//! ```
//! use std::time::Duration;
//! use nearcache::config::Config;
//!
//! let cfg = Config::from_toml_str(
//!     r#"
//!     [redis]
//!     url = "redis://app:s3cret@127.0.0.1:6379/0"
//!
//!     [l1]
//!     max_bytes = "128MiB"
//!     ttl = "10s"
//!     "#,
//! )?;
//! assert_eq!(cfg.l1.max_bytes, 128 * 1024 * 1024);
//! assert_eq!(cfg.l1.ttl, Duration::from_secs(10));
//! assert_eq!(cfg.redis.connections, 2); // the documented default
//! assert!(!format!("{cfg:?}").contains("s3cret"));
//! assert!(cfg.to_json().contains(r#""url": "redis://app:***@127.0.0.1:6379/0""#));
//! # Ok::<(), nearcache::Error>(())
//! ```

mod load;
mod redact;
mod schema;
mod units;
mod url;
mod validate;

#[cfg(test)]
mod fixtures;

pub use crate::codec::Algorithm;
pub use load::{ENV_CONFIG, ENV_REDIS_URL, ENV_URL};
pub(crate) use redact::redact_secrets;
pub use redact::Secret;
pub use schema::{
    CompressionConfig, Config, Invalidation, L1Config, Mode, ObservabilityConfig, ReadFrom, ReconnectConfig,
    RedisConfig, RouteConfig, Rule, TlsConfig, WriteConfig, INSTANCE_VARS,
};
pub use units::{format_duration, format_size, parse_duration, parse_size};
pub use url::RedisUrl;
