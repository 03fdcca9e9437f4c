//! Fixtures shared by the config modules' unit tests: the example config
//! (docs/design.md's, extended) in TOML and JSON, and helpers that expect a loader to fail.

use std::time::Duration;

use super::*;
use crate::error::ErrorKind;

/// A config file that sets every section (the original design's example).
pub(super) const FULL_EXAMPLE: &str = r#"
[redis]
url = "redis://127.0.0.1:6379/0"   # rediss:// for TLS; user:password@ for ACL
mode = "standalone"                # or "cluster"
client_name = "auto"               # app:host:pid
connect_timeout = "1s"
command_timeout = "250ms"
connections = 2                    # multiplexed, auto-pipelined
dedicated_connections = 4          # per server, for transactions
transaction_retries = 10
keepalive = "60s"
reconnect = { min = "10ms", max = "1s" }

[l1]
max_bytes = "64MiB"
ttl = "30s"
ttl_jitter = 0.1
negative_ttl = "5s"
invalidation = "tracking"          # bcast | ttl | off
prefixes = []                      # for bcast
max_staleness = "2s"
health_interval = "500ms"
stale_if_error = "0s"
rules = [ { prefix = "session:", ttl = "10s" }, { prefix = "rate:", cache = false } ]

[compression]
algorithm = "lz4"                  # zstd | none
min_size = "1KiB"
level = 3                          # zstd only
max_value_size = "512MiB"

[write]
ttl_jitter = 0.1

[[routes]]                         # optional: prefix -> another deployment
prefix = "big:"
url = "redis://127.0.0.1:6380"

[observability]
slow_threshold = "100us"
hot_keys = 32
big_value_warn = "10KiB"
"#;

pub(super) const FULL_EXAMPLE_JSON: &str = r#"{
        "redis": {
            "url": "redis://127.0.0.1:6379/0", "mode": "standalone", "client_name": "auto",
            "connect_timeout": "1s", "command_timeout": "250ms", "connections": 2,
            "dedicated_connections": 4, "transaction_retries": 10,
            "keepalive": "60s", "reconnect": { "min": "10ms", "max": "1s" }
        },
        "l1": {
            "max_bytes": "64MiB", "ttl": "30s", "ttl_jitter": 0.1, "negative_ttl": "5s",
            "invalidation": "tracking", "prefixes": [], "max_staleness": "2s",
            "health_interval": "500ms", "stale_if_error": "0s",
            "rules": [ { "prefix": "session:", "ttl": "10s" }, { "prefix": "rate:", "cache": false } ]
        },
        "compression": { "algorithm": "lz4", "min_size": "1KiB", "level": 3, "max_value_size": "512MiB" },
        "write": { "ttl_jitter": 0.1 },
        "routes": [ { "prefix": "big:", "url": "redis://127.0.0.1:6380" } ],
        "observability": { "slow_threshold": "100us", "hot_keys": 32, "big_value_warn": "10KiB" }
}"#;

pub(super) fn design_config() -> Config {
    let mut expected = Config::default();
    expected.l1.rules = vec![
        Rule { prefix: "session:".into(), ttl: Some(Duration::from_secs(10)), cache: true },
        Rule { prefix: "rate:".into(), ttl: None, cache: false },
    ];
    expected.routes =
        vec![RouteConfig { prefix: "big:".into(), url: url("redis://127.0.0.1:6380"), mode: Mode::Standalone }];
    expected
}

pub(super) fn url(text: &str) -> RedisUrl {
    match RedisUrl::parse(text) {
        Ok(url) => url,
        Err(e) => panic!("{text}: {e}"),
    }
}

pub(super) fn toml_err(text: &str) -> String {
    match Config::from_toml_str(text) {
        Ok(cfg) => panic!("accepted {text}: {cfg:?}"),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Config, "{e}");
            e.message().to_owned()
        }
    }
}

pub(super) fn json_err(text: &str) -> String {
    match Config::from_json_str(text) {
        Ok(cfg) => panic!("accepted {text}: {cfg:?}"),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Config, "{e}");
            e.message().to_owned()
        }
    }
}

pub(super) fn value_err(value: serde_json::Value) -> String {
    match Config::from_value(value) {
        Ok(cfg) => panic!("accepted: {cfg:?}"),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Config, "{e}");
            e.message().to_owned()
        }
    }
}

pub(super) fn assert_starts(message: &str, prefix: &str) {
    assert!(message.starts_with(prefix), "{message:?} does not start with {prefix:?}");
}
