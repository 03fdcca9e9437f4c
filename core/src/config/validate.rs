//! `Config::validate`: the cross-field rules serde cannot express. Every
//! loader calls it, and every error names the field path, array indexes
//! included (`l1.rules[1].prefix`).

use std::fmt;
use std::time::Duration;

use super::redact::REDACTED;
use super::schema::{
    valid_client_name_char, CompressionConfig, L1Config, Mode, ReadFrom, ReconnectConfig, RedisConfig, TlsConfig,
    MAX_VALUE_SIZE_LIMIT,
};
use super::units::{format_duration, format_size};
use super::url::RedisUrl;
use super::{Algorithm, Config, Invalidation};
use crate::error::{Error, Result};

pub(super) fn invalid(path: impl fmt::Display, msg: impl fmt::Display) -> Error {
    Error::config(format!("{path}: {msg}"))
}

fn ensure(ok: bool, path: impl fmt::Display, msg: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(invalid(path, msg()))
    }
}

fn ensure_positive(value: Duration, path: &str) -> Result<()> {
    ensure(!value.is_zero(), path, || "must be greater than 0s".to_owned())
}

fn ensure_fraction(value: f64, path: &str) -> Result<()> {
    ensure((0.0..=1.0).contains(&value), path, || format!("must be between 0 and 1, got {value}"))
}

/// Checks what only makes sense per deployment: cluster mode addresses every
/// node by TCP and has no databases other than 0.
fn ensure_url_fits_mode(url: &RedisUrl, mode: Mode, path: &str) -> Result<()> {
    if mode == Mode::Cluster {
        ensure(!url.is_unix(), path, || {
            "cluster mode needs a redis:// or rediss:// URL, not a unix socket".to_owned()
        })?;
        ensure(url.db() == 0, path, || format!("cluster mode supports database 0 only, got database {}", url.db()))?;
    }
    Ok(())
}

/// Checks that prefixes are non-empty and unique; returns the first error.
fn ensure_prefixes<'a>(prefixes: impl Iterator<Item = &'a str>, path: impl Fn(usize) -> String) -> Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    for (i, prefix) in prefixes.enumerate() {
        ensure(!prefix.is_empty(), path(i), || "must not be empty".to_owned())?;
        if let Some(j) = seen.iter().position(|p| *p == prefix) {
            return Err(invalid(path(i), format!("duplicate prefix {prefix:?} (also {})", path(j))));
        }
        seen.push(prefix);
    }
    Ok(())
}

impl Config {
    /// Checks every cross-field rule; every loader calls it. The error names
    /// the field path, with array indexes (`l1.rules[1].prefix`).
    pub fn validate(&self) -> Result<()> {
        self.redis.validate()?;
        self.l1.validate()?;
        self.compression.validate()?;
        ensure_fraction(self.write.ttl_jitter, "write.ttl_jitter")?;
        ensure_prefixes(self.routes.iter().map(|r| r.prefix.as_str()), |i| format!("routes[{i}].prefix"))?;
        for (i, route) in self.routes.iter().enumerate() {
            ensure_url_fits_mode(&route.url, route.mode, &format!("routes[{i}].url"))?;
        }
        let any_cluster = self.redis.mode == Mode::Cluster || self.routes.iter().any(|r| r.mode == Mode::Cluster);
        ensure(self.redis.read_from == ReadFrom::Master || any_cluster, "redis.read_from", || {
            "\"replica\" applies to cluster deployments only (set mode = \"cluster\")".to_owned()
        })?;
        if self.redis.tls.is_set() && !self.redis.url.is_tls() && !self.routes.iter().any(|r| r.url.is_tls()) {
            return Err(invalid(
                "redis.tls",
                "only used by rediss:// URLs, but redis.url (and every route) is not one; use rediss:// \
                 or remove [redis.tls]",
            ));
        }
        let hot_keys = self.observability.hot_keys;
        ensure(hot_keys <= 1024, "observability.hot_keys", || format!("must be at most 1024, got {hot_keys}"))?;
        Ok(())
    }
}

impl RedisConfig {
    fn validate(&self) -> Result<()> {
        ensure_url_fits_mode(&self.url, self.mode, "redis.url")?;
        let name = &self.client_name;
        ensure(!name.is_empty(), "redis.client_name", || {
            "must not be empty (\"auto\" names the connection app:host:pid)".to_owned()
        })?;
        ensure(name.chars().all(valid_client_name_char), "redis.client_name", || {
            format!("{name:?} contains a space or a character Redis refuses in client names")
        })?;
        if let Some(user) = &self.username {
            ensure(!user.is_empty() && !user.chars().any(char::is_whitespace), "redis.username", || {
                "must be a non-empty ACL user name without spaces".to_owned()
            })?;
        }
        if let Some(password) = &self.password {
            ensure(!password.expose().is_empty(), "redis.password", || "must not be empty (omit it)".to_owned())?;
            // A config dump shows the password as "***": fed back, it would
            // fail AUTH with a misleading WRONGPASS.
            ensure(password.expose() != REDACTED, "redis.password", || {
                "\"***\" is the redacted placeholder of a config dump; give the real password".to_owned()
            })?;
        }
        self.tls.validate()?;
        ensure_positive(self.connect_timeout, "redis.connect_timeout")?;
        ensure_positive(self.command_timeout, "redis.command_timeout")?;
        let n = self.connections;
        ensure((1..=64).contains(&n), "redis.connections", || format!("must be between 1 and 64, got {n}"))?;
        let n = self.dedicated_connections;
        ensure((1..=1024).contains(&n), "redis.dedicated_connections", || {
            format!("must be between 1 and 1024, got {n}")
        })?;
        let n = self.transaction_retries;
        ensure(n <= 10_000, "redis.transaction_retries", || format!("must be at most 10000, got {n}"))?;
        let ReconnectConfig { min, max } = self.reconnect;
        ensure_positive(min, "redis.reconnect.min")?;
        ensure(min <= max, "redis.reconnect.min", || {
            format!("must not exceed redis.reconnect.max ({} > {})", format_duration(min), format_duration(max))
        })?;
        Ok(())
    }
}

impl TlsConfig {
    fn validate(&self) -> Result<()> {
        for (path, file) in [
            ("redis.tls.ca_file", &self.ca_file),
            ("redis.tls.cert_file", &self.cert_file),
            ("redis.tls.key_file", &self.key_file),
        ] {
            ensure(file.as_ref().is_none_or(|f| !f.is_empty()), path, || "must not be empty (omit it)".to_owned())?;
        }
        match (&self.cert_file, &self.key_file) {
            (Some(_), None) => {
                Err(invalid("redis.tls.key_file", "required with redis.tls.cert_file (the client certificate's key)"))
            }
            (None, Some(_)) => {
                Err(invalid("redis.tls.cert_file", "required with redis.tls.key_file (the key's client certificate)"))
            }
            _ => Ok(()),
        }
    }
}

impl L1Config {
    fn validate(&self) -> Result<()> {
        if self.enabled() {
            ensure(self.max_bytes > 0, "l1.max_bytes", || {
                "must be greater than 0 (set l1.invalidation = \"off\" to disable the L1)".to_owned()
            })?;
            ensure_positive(self.ttl, "l1.ttl")?;
        }
        ensure_fraction(self.ttl_jitter, "l1.ttl_jitter")?;
        if !self.prefixes.is_empty() && self.invalidation != Invalidation::Bcast {
            return Err(invalid(
                "l1.prefixes",
                format!("only used with l1.invalidation = \"bcast\", but it is {:?}", self.invalidation.as_str()),
            ));
        }
        ensure_prefixes(self.prefixes.iter().map(String::as_str), |i| format!("l1.prefixes[{i}]"))?;
        // Redis refuses BCAST prefixes that overlap (one starts with another).
        for (i, prefix) in self.prefixes.iter().enumerate() {
            if let Some(j) = self.prefixes.iter().position(|p| p != prefix && prefix.starts_with(p)) {
                return Err(invalid(
                    format!("l1.prefixes[{i}]"),
                    format!(
                        "{prefix:?} overlaps {:?} (l1.prefixes[{j}]); Redis refuses overlapping \
                         BCAST prefixes",
                        self.prefixes[j]
                    ),
                ));
            }
        }
        if self.invalidation.uses_server_push() {
            ensure_positive(self.health_interval, "l1.health_interval")?;
            ensure(self.health_interval < self.max_staleness, "l1.health_interval", || {
                format!(
                    "must be less than l1.max_staleness ({} >= {}), or no ping can prove the \
                     connection alive in time",
                    format_duration(self.health_interval),
                    format_duration(self.max_staleness)
                )
            })?;
        }
        ensure_prefixes(self.rules.iter().map(|r| r.prefix.as_str()), |i| format!("l1.rules[{i}].prefix"))?;
        for (i, rule) in self.rules.iter().enumerate() {
            match rule.ttl {
                Some(ttl) if !rule.cache => {
                    return Err(invalid(
                        format!("l1.rules[{i}].ttl"),
                        format!("{} has no effect with cache = false", format_duration(ttl)),
                    ));
                }
                Some(ttl) if ttl.is_zero() => {
                    return Err(invalid(
                        format!("l1.rules[{i}].ttl"),
                        "must be greater than 0s (cache = false keeps keys out of the L1)",
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl CompressionConfig {
    fn validate(&self) -> Result<()> {
        let level = self.level;
        if self.algorithm == Algorithm::Zstd {
            ensure((1..=22).contains(&level), "compression.level", || {
                format!("must be between 1 and 22 for zstd, got {level}")
            })?;
        }
        let max = self.max_value_size;
        ensure(max > 0, "compression.max_value_size", || "must be greater than 0B".to_owned())?;
        ensure(max <= MAX_VALUE_SIZE_LIMIT, "compression.max_value_size", || {
            format!("must be at most 512MiB (Redis's own limit), got {}", format_size(max))
        })?;
        ensure(self.min_size <= max, "compression.min_size", || {
            format!(
                "must not exceed compression.max_value_size ({} > {})",
                format_size(self.min_size),
                format_size(max)
            )
        })?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::fixtures::*;
    use crate::config::*;
    use crate::error::ErrorKind;

    #[test]
    fn replica_reads_need_a_cluster() {
        assert_starts(&toml_err("[redis]\nread_from = \"replica\""), "redis.read_from: \"replica\" applies to cluster");
        assert_starts(&toml_err("[redis]\nread_from = \"any\""), "redis.read_from: unknown variant");
        let cluster = "[redis]\nurl = \"redis://127.0.0.1:7000\"\nmode = \"cluster\"\nread_from = \"replica\"";
        assert_eq!(Config::from_toml_str(cluster).map(|c| c.redis.read_from).ok(), Some(ReadFrom::Replica));
        let routed = "[redis]\nread_from = \"replica\"\n[[routes]]\nprefix = \"c:\"\nurl = \"redis://h:7000\"\nmode = \"cluster\"";
        assert!(Config::from_toml_str(routed).is_ok());
    }

    fn validation_err(edit: impl FnOnce(&mut Config)) -> String {
        let mut cfg = Config::default();
        edit(&mut cfg);
        match cfg.validate() {
            Ok(()) => panic!("accepted {cfg:?}"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Config);
                e.message().to_owned()
            }
        }
    }

    #[test]
    fn validation_names_the_field_path() {
        assert_eq!(validation_err(|c| c.redis.connections = 0), "redis.connections: must be between 1 and 64, got 0");
        assert_eq!(validation_err(|c| c.redis.connections = 65), "redis.connections: must be between 1 and 64, got 65");
        assert_eq!(
            validation_err(|c| c.redis.dedicated_connections = 0),
            "redis.dedicated_connections: must be between 1 and 1024, got 0"
        );
        assert_eq!(
            validation_err(|c| c.redis.transaction_retries = 10_001),
            "redis.transaction_retries: must be at most 10000, got 10001"
        );
        assert_eq!(validation_err(|c| c.l1.ttl_jitter = 1.5), "l1.ttl_jitter: must be between 0 and 1, got 1.5");
        assert_starts(&validation_err(|c| c.l1.ttl_jitter = f64::NAN), "l1.ttl_jitter: must be between 0 and 1");
        assert_eq!(
            validation_err(|c| c.write.ttl_jitter = -0.1),
            "write.ttl_jitter: must be between 0 and 1, got -0.1"
        );
        assert_eq!(
            validation_err(|c| {
                c.compression.algorithm = Algorithm::Zstd;
                c.compression.level = 0;
            }),
            "compression.level: must be between 1 and 22 for zstd, got 0"
        );
        assert_eq!(
            validation_err(|c| c.compression.min_size = 600 << 20),
            "compression.min_size: must not exceed compression.max_value_size (600MiB > 512MiB)"
        );
        assert_eq!(
            validation_err(|c| c.compression.max_value_size = 1 << 30),
            "compression.max_value_size: must be at most 512MiB (Redis's own limit), got 1GiB"
        );
        assert_starts(
            &validation_err(|c| c.compression.max_value_size = 0),
            "compression.max_value_size: must be greater than 0B",
        );
        assert_eq!(
            validation_err(|c| c.redis.reconnect.min = Duration::from_secs(2)),
            "redis.reconnect.min: must not exceed redis.reconnect.max (2s > 1s)"
        );
        assert_starts(
            &validation_err(|c| c.redis.reconnect.min = Duration::ZERO),
            "redis.reconnect.min: must be greater than 0s",
        );
        assert_starts(
            &validation_err(|c| c.redis.connect_timeout = Duration::ZERO),
            "redis.connect_timeout: must be greater than 0s",
        );
        assert_starts(
            &validation_err(|c| c.redis.command_timeout = Duration::ZERO),
            "redis.command_timeout: must be greater than 0s",
        );
        assert_starts(
            &validation_err(|c| c.l1.health_interval = Duration::from_secs(2)),
            "l1.health_interval: must be less than l1.max_staleness (2s >= 2s)",
        );
        assert_starts(
            &validation_err(|c| c.l1.health_interval = Duration::ZERO),
            "l1.health_interval: must be greater than 0s",
        );
        assert_starts(&validation_err(|c| c.l1.max_bytes = 0), "l1.max_bytes: must be greater than 0");
        assert_starts(&validation_err(|c| c.l1.ttl = Duration::ZERO), "l1.ttl: must be greater than 0s");
        assert_eq!(
            validation_err(|c| c.l1.prefixes = vec!["user:".into()]),
            "l1.prefixes: only used with l1.invalidation = \"bcast\", but it is \"tracking\""
        );
        assert_eq!(
            validation_err(|c| {
                c.l1.invalidation = Invalidation::Bcast;
                c.l1.prefixes = vec!["user:".into(), "user:1".into()];
            }),
            "l1.prefixes[1]: \"user:1\" overlaps \"user:\" (l1.prefixes[0]); Redis refuses \
             overlapping BCAST prefixes"
        );
        assert_eq!(
            validation_err(|c| {
                c.l1.invalidation = Invalidation::Bcast;
                c.l1.prefixes = vec!["a:".into(), "a:".into()];
            }),
            "l1.prefixes[1]: duplicate prefix \"a:\" (also l1.prefixes[0])"
        );
        assert_eq!(
            validation_err(|c| c.l1.rules = vec![Rule { prefix: String::new(), ..Rule::default() }]),
            "l1.rules[0].prefix: must not be empty"
        );
        assert_eq!(
            validation_err(|c| {
                let rule = Rule { prefix: "s:".into(), ..Rule::default() };
                c.l1.rules = vec![rule.clone(), Rule { prefix: "t:".into(), ..rule.clone() }, rule];
            }),
            "l1.rules[2].prefix: duplicate prefix \"s:\" (also l1.rules[0].prefix)"
        );
        assert_eq!(
            validation_err(|c| {
                c.l1.rules = vec![Rule { prefix: "r:".into(), ttl: Some(Duration::from_secs(1)), cache: false }];
            }),
            "l1.rules[0].ttl: 1s has no effect with cache = false"
        );
        assert_starts(
            &validation_err(|c| {
                c.l1.rules = vec![Rule { prefix: "r:".into(), ttl: Some(Duration::ZERO), cache: true }]
            }),
            "l1.rules[0].ttl: must be greater than 0s",
        );
        let route = RouteConfig { prefix: "big:".into(), ..RouteConfig::default() };
        assert_eq!(
            validation_err(|c| c.routes = vec![route.clone(), route.clone()]),
            "routes[1].prefix: duplicate prefix \"big:\" (also routes[0].prefix)"
        );
        assert_eq!(validation_err(|c| c.routes = vec![RouteConfig::default()]), "routes[0].prefix: must not be empty");
        assert_eq!(
            validation_err(|c| c.observability.hot_keys = 5000),
            "observability.hot_keys: must be at most 1024, got 5000"
        );
        assert_eq!(
            validation_err(|c| {
                c.redis.mode = Mode::Cluster;
                c.redis.url = url("redis://10.0.0.1:7000/3");
            }),
            "redis.url: cluster mode supports database 0 only, got database 3"
        );
        assert_starts(
            &validation_err(|c| {
                c.routes =
                    vec![RouteConfig { prefix: "x:".into(), url: url("unix:///tmp/r.sock"), mode: Mode::Cluster }];
            }),
            "routes[0].url: cluster mode needs a redis:// or rediss:// URL",
        );
        assert_starts(
            &validation_err(|c| c.redis.client_name = "my app".into()),
            "redis.client_name: \"my app\" contains a space",
        );
        assert_starts(&validation_err(|c| c.redis.client_name = String::new()), "redis.client_name: must not be empty");
    }

    #[test]
    fn validation_relaxes_what_a_mode_does_not_use() {
        let mut cfg = Config::default();
        cfg.l1.invalidation = Invalidation::Off;
        cfg.l1.max_bytes = 0;
        cfg.l1.ttl = Duration::ZERO;
        cfg.l1.health_interval = Duration::from_secs(10);
        assert!(cfg.validate().is_ok());
        let mut cfg = Config::default();
        cfg.l1.invalidation = Invalidation::Ttl;
        cfg.l1.health_interval = Duration::from_secs(10);
        assert!(cfg.validate().is_ok());
        let mut cfg = Config::default();
        cfg.compression.algorithm = Algorithm::Lz4;
        cfg.compression.level = 0;
        assert!(cfg.validate().is_ok());
        let mut cfg = Config::default();
        cfg.l1.invalidation = Invalidation::Bcast;
        cfg.l1.prefixes = vec!["user:".into(), "order:".into()];
        assert!(cfg.validate().is_ok());
        cfg.redis.mode = Mode::Cluster;
        cfg.redis.client_name = "svc-a:web-1".into();
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn validation_errors_come_from_every_loader() {
        assert_eq!(toml_err("[redis]\nconnections = 0"), "redis.connections: must be between 1 and 64, got 0");
        assert_eq!(json_err(r#"{"redis": {"connections": 0}}"#), "redis.connections: must be between 1 and 64, got 0");
        assert_eq!(
            value_err(serde_json::json!({"redis": {"connections": 0}})),
            "redis.connections: must be between 1 and 64, got 0"
        );
        assert_eq!(
            toml_err("[l1]\nrules = [{ prefix = \"a:\" }, { prefix = \"\" }]"),
            "l1.rules[1].prefix: must not be empty"
        );
    }

    #[test]
    fn tls_table_is_checked() {
        let tls = "[redis]\nurl = \"rediss://h:6380\"\n[redis.tls]\n";
        assert_starts(
            &toml_err(&format!("{tls}cert_file = \"c.pem\"")),
            "redis.tls.key_file: required with redis.tls.cert_file",
        );
        assert_starts(
            &toml_err(&format!("{tls}key_file = \"k.pem\"")),
            "redis.tls.cert_file: required with redis.tls.key_file",
        );
        assert_starts(&toml_err(&format!("{tls}ca_file = \"\"")), "redis.tls.ca_file: must not be empty");
        assert_starts(&toml_err(&format!("{tls}ca = \"x\"")), "redis.tls.ca: unknown field");
        assert_starts(&value_err(serde_json::json!({"redis": {"tls": ["a"]}})), "redis.tls: expected a table");
        assert_starts(
            &toml_err("[redis.tls]\nca_file = \"ca.pem\""),
            "redis.tls: only used by rediss:// URLs, but redis.url (and every route) is not one",
        );
        // A TLS route is enough.
        let cfg = Config::from_toml_str(
            "[redis.tls]\nca_file = \"ca.pem\"\n[[routes]]\nprefix = \"s:\"\nurl = \"rediss://h:6380\"",
        );
        assert!(cfg.is_ok(), "{cfg:?}");
        let cfg = Config::from_toml_str(&format!("{tls}cert_file = \"c.pem\"\nkey_file = \"k.pem\"")).unwrap();
        assert!(cfg.redis.tls.is_set());
        assert!(!TlsConfig::default().is_set());
    }
}
