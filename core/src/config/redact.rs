//! Keeping passwords out of output: [`Secret`], the scrubbing of free text
//! (error messages that may quote a URL or a config line) and
//! [`Config::to_json`], the redacted dump every binding prints.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::Config;
use crate::error::Result;

/// A password: readable only through [`Secret::expose`]; `Debug`, `Display`
/// and `Serialize` print `***`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

/// What a redacted secret is shown as.
pub(super) const REDACTED: &str = "***";

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself, for the connector only: never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        struct SecretVisitor;
        impl Visitor<'_> for SecretVisitor {
            type Value = Secret;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a password string")
            }

            fn visit_str<E: de::Error>(self, secret: &str) -> Result<Secret, E> {
                Ok(Secret(secret.to_owned()))
            }

            // serde's own message would quote the value: a numeric password.
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Secret, E> {
                Err(E::custom("expected a string, got a number (quote the password)"))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Secret, E> {
                Err(E::custom("expected a string, got a number (quote the password)"))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Secret, E> {
                Err(E::custom("expected a string, got a number (quote the password)"))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Secret, E> {
                Err(E::custom("expected a string, got a boolean (quote the password)"))
            }
        }
        deserializer.deserialize_any(SecretVisitor)
    }
}

impl Config {
    /// The effective configuration as pretty JSON: two-space indent, fields in
    /// schema order, sizes and durations in their canonical form, passwords
    /// redacted. Every binding prints this same text, so conformance tests
    /// compare it byte for byte. It has no trailing newline.
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: every map key is a string and
        // every custom `Serialize` writes a string.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Redacts passwords from free text (an error message that may quote a URL or
/// a line of the config file): in every `scheme://user:password@` the password
/// becomes `***`, and so do the values of `pass=` / `password=` parameters.
pub(crate) fn redact_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let token_len =
            tail.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>')).unwrap_or(tail.len());
        let (token, after) = tail.split_at(token_len);
        out.push_str(&redact_token(token));
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Redacts `password = ...` in the source lines a TOML syntax error quotes
/// (`2 | password = hunter2`): everything after the `=` becomes `***`.
pub(super) fn redact_password_lines(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let lower = line.to_ascii_lowercase();
            let quoted_source = line.contains('|');
            match lower.find("password").and_then(|at| line[at..].find('=').map(|eq| at + eq)) {
                Some(eq) if quoted_source => format!("{} ***", &line[..=eq]),
                _ => line.to_owned(),
            }
        })
        .collect();
    lines.join("\n")
}

/// Redacts one URL-like token (everything after `://` up to whitespace or a
/// quote). The last `@` is taken as the end of the credentials, so that a
/// password containing `/` or `@` is still hidden.
fn redact_token(token: &str) -> String {
    let (userinfo, host_and_rest) = match token.rfind('@') {
        Some(at) => (Some(&token[..at]), &token[at + 1..]),
        None => (None, token),
    };
    let mut out = String::with_capacity(token.len());
    if let Some(userinfo) = userinfo {
        match userinfo.split_once(':') {
            Some((user, pass)) if !pass.is_empty() => {
                out.push_str(user);
                out.push_str(":***");
            }
            _ => out.push_str(userinfo),
        }
        out.push('@');
    }
    out.push_str(&redact_query(host_and_rest));
    out
}

/// Redacts `pass=` and `password=` query values (redis-rs reads the password
/// of a `unix://` URL from the query).
pub(super) fn redact_query(text: &str) -> String {
    let Some(q) = text.find('?') else {
        return text.to_owned();
    };
    let (before, query) = text.split_at(q + 1);
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, value))
                if !value.is_empty() && (key.eq_ignore_ascii_case("pass") || key.eq_ignore_ascii_case("password")) =>
            {
                format!("{key}=***")
            }
            _ => param.to_owned(),
        })
        .collect();
    format!("{before}{}", params.join("&"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::fixtures::*;
    use crate::config::*;

    #[test]
    fn passwords_are_redacted_everywhere() {
        let u = url("rediss://app:hunter2@cache:6380/1?protocol=resp3");
        assert_eq!(u.redacted(), "rediss://app:***@cache:6380/1?protocol=resp3");
        assert_eq!(u.to_string(), u.redacted());
        assert_eq!(format!("{u:?}"), "RedisUrl(\"rediss://app:***@cache:6380/1?protocol=resp3\")");
        assert_eq!(url("redis://:hunter2@[::1]:1/0").redacted(), "redis://:***@[::1]:1/0");
        assert_eq!(url("redis://user@h").redacted(), "redis://user@h");
        assert_eq!(url("redis://us:er:hunter2@h").redacted(), "redis://us:***@h");
        assert_eq!(url("redis://:p@ss:hunter2@h").redacted(), "redis://:***@h");
        assert_eq!(url("unix:///s.sock?db=1&pass=hunter2&user=u").redacted(), "unix:///s.sock?db=1&pass=***&user=u");

        let toml_text = "[redis]\nurl = \"redis://app:hunter2@cache:6379/0\"\n\
                         [[routes]]\nprefix = \"b:\"\nurl = \"redis://:hunter2@big:6379\"";
        let cfg = match Config::from_toml_str(toml_text) {
            Ok(cfg) => cfg,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(cfg.redis.url.expose(), "redis://app:hunter2@cache:6379/0");
        assert!(!format!("{cfg:?}").contains("hunter2"));
        assert!(!format!("{cfg:#?}").contains("hunter2"));
        let json = cfg.to_json();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(json.contains("\"url\": \"redis://app:***@cache:6379/0\""), "{json}");
        assert!(json.contains("\"url\": \"redis://:***@big:6379\""), "{json}");

        let errors = [
            // Invalid URLs, however mangled, are described without quoting them.
            toml_err("[redis]\nurl = \"redis://app:hunter2@cache:port/0\""),
            toml_err("[redis]\nurl = \"redis://app:hun/ter2@cache\""),
            toml_err("[redis]\nurl = \"redis://app:12/hunter2@cache\""),
            toml_err("[redis]\nurl = \"hunter2\""),
            toml_err("[redis]\nurl = \"redis://app:hunter2@cache\"\nmode = \"cluster\"\n[l1]\nttl = 1"),
            // A URL in the wrong field is quoted by serde, then scrubbed.
            toml_err("[redis]\nconnections = \"redis://app:hunter2@cache\""),
            toml_err("[redis]\nmode = \"redis://app:hunter2@cache\""),
            json_err(r#"{"l1": {"prefixes": ["rediss://:hunter2@x"]}}"#),
            // Syntax errors quote the line, which is scrubbed too.
            toml_err("[redis]\nurl = \"redis://app:hunter2@cache:6379/0\" junk"),
            toml_err("[redis]\nurl = \"redis://app:hunter2@cache:6379/0"),
            json_err(r#"{"redis": {"url": "redis://app:hunter2@cache:6379/0"}"#),
            value_err(serde_json::json!({"url": "redis://a:hunter2@h/x"})),
            value_err(serde_json::json!({"url": "redis://a:hunter2@h", "redis": {"url": "redis://b:hunter2@h"}})),
        ];
        for err in errors {
            assert!(!err.contains("hunter2"), "{err}");
        }
        let env = |name: &str| (name == ENV_URL).then(|| "redis://a:hunter2@h:bad".to_owned());
        let err = Config::from_env_with(env).err().map(|e| e.to_string()).unwrap_or_default();
        assert_starts(&err, "NC_CONFIG: redis.url (from NEARCACHE_URL): the port must be");
        assert!(!err.contains("hunter2"));
        for bad in
            ["[redis]\npassword = hunter2", "[redis]\npassword = \"hunter2\" junk", "redis = { password = hunter2 }"]
        {
            let err = toml_err(bad);
            assert!(!err.contains("hunter2"), "{err}");
            assert!(err.contains("password = ***"), "{err}");
        }
        assert_eq!(
            redact_secrets("failed for redis://u:hunter2@h:1/0 and 'rediss://:p@x' ok"),
            "failed for redis://u:***@h:1/0 and 'rediss://:***@x' ok"
        );
    }

    fn non_default_config() -> Config {
        let mut cfg = design_config();
        cfg.redis.url = url("rediss://svc@cache.internal:6380/3?protocol=resp3");
        cfg.redis.client_name = "svc:web-1".into();
        cfg.redis.connect_timeout = Duration::from_millis(1500);
        cfg.redis.command_timeout = Duration::from_micros(900);
        cfg.redis.connections = 8;
        cfg.redis.keepalive = Duration::ZERO;
        cfg.redis.reconnect = ReconnectConfig { min: Duration::from_millis(5), max: Duration::from_secs(120) };
        cfg.l1.max_bytes = 1536;
        cfg.l1.ttl = Duration::from_secs(3600);
        cfg.l1.ttl_jitter = 0.25;
        cfg.l1.negative_ttl = Duration::ZERO;
        cfg.l1.invalidation = Invalidation::Bcast;
        cfg.l1.prefixes = vec!["user:".into(), "order:".into()];
        cfg.l1.max_staleness = Duration::from_millis(750);
        cfg.l1.health_interval = Duration::from_nanos(250_000_001);
        cfg.l1.stale_if_error = Duration::from_secs(86_400);
        cfg.compression =
            CompressionConfig { algorithm: Algorithm::Zstd, min_size: 10_000, level: 19, max_value_size: 100 << 20 };
        cfg.write.ttl_jitter = 0.0;
        cfg.routes.push(RouteConfig { prefix: "c:".into(), url: url("redis://[::1]:7000"), mode: Mode::Cluster });
        cfg.redis.read_from = ReadFrom::Replica;
        cfg.observability =
            ObservabilityConfig { slow_threshold: Duration::from_millis(2), hot_keys: 0, big_value_warn: 1 << 20 };
        cfg
    }

    #[test]
    fn to_json_round_trips() {
        let cfg = non_default_config();
        assert!(cfg.validate().is_ok(), "{:?}", cfg.validate());
        let json = cfg.to_json();
        assert_eq!(Config::from_json_str(&json).ok(), Some(cfg.clone()), "{json}");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(Config::from_value(value).ok(), Some(cfg.clone()));
        assert!(json.contains("\"health_interval\": \"250000001ns\""), "{json}");
        assert!(json.contains("\"max_bytes\": \"1536B\""), "{json}");
        assert!(json.contains("\"min_size\": \"10KB\""), "{json}");
        assert!(json.contains("\"stale_if_error\": \"24h\""), "{json}");
        assert_eq!(Config::default().to_json(), Config::default().to_json());
        assert!(!json.ends_with('\n'));
    }

    #[test]
    fn to_json_is_pretty_and_in_schema_order() {
        let json = Config::default().to_json();
        let expected_start = "{\n  \"redis\": {\n    \"url\": \"redis://127.0.0.1:6379/0\",\n    \"username\": null,\n    \"password\": null,\n    \"mode\": \"standalone\",\n    \"read_from\": \"master\",\n    \"client_name\": \"auto\",\n    \"connect_timeout\": \"1s\",";
        assert!(json.starts_with(expected_start), "{json}");
        let keys: Vec<&str> = json
            .lines()
            .filter(|line| line.starts_with("  \"") && !line.starts_with("   "))
            .map(|line| line.trim().split('"').nth(1).unwrap_or_default())
            .collect();
        assert_eq!(keys, ["redis", "l1", "compression", "write", "routes", "observability"]);
    }

    #[test]
    fn credential_fields_are_redacted_and_checked() {
        let cfg = Config::from_toml_str(
            "[redis]\nurl = \"rediss://cache:6380\"\nusername = \"app\"\npassword = \"pw-SENTINEL-123\"\n\
             [redis.tls]\nca_file = \"/etc/ca.pem\"\n",
        )
        .unwrap();
        assert_eq!(cfg.redis.username.as_deref(), Some("app"));
        assert_eq!(cfg.redis.password.as_ref().map(Secret::expose), Some("pw-SENTINEL-123"));
        assert_eq!(cfg.redis.tls.ca_file.as_deref(), Some("/etc/ca.pem"));
        for shown in [format!("{cfg:?}"), format!("{cfg:#?}"), cfg.to_json()] {
            assert!(!shown.contains("SENTINEL"), "{shown}");
        }
        let json = cfg.to_json();
        assert!(json.contains("\"password\": \"***\""), "{json}");
        assert!(json.contains("\"ca_file\": \"/etc/ca.pem\""), "{json}");
        assert_eq!(format!("{}", Secret::new("x")), "***");
        // A dump fed back is refused rather than failing AUTH later.
        assert_starts(&json_err(&json), "redis.password: \"***\" is the redacted placeholder");
        assert_starts(&toml_err("[redis]\npassword = \"\""), "redis.password: must not be empty");
        assert_starts(&toml_err("[redis]\nusername = \"a b\""), "redis.username: must be a non-empty ACL user name");
        let err = toml_err("[redis]\npassword = 918273");
        assert_eq!(err, "redis.password: expected a string, got a number (quote the password)");
        let err = value_err(serde_json::json!({"redis": {"password": 918_273.5}}));
        assert!(!err.contains("918273"), "{err}");
        // Type errors in the field never quote the password.
        let err = toml_err("[redis]\npassword = [\"pw-SENTINEL-123\"]");
        assert!(!err.contains("SENTINEL"), "{err}");
    }
}
