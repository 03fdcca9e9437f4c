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

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::{Error, Result};

/// The URL used when nothing is configured: a local server, database 0.
const DEFAULT_URL: &str = "redis://127.0.0.1:6379/0";

/// Redis refuses values above 512 MiB, so a larger frame can only be an
/// attack or corruption.
const MAX_VALUE_SIZE_LIMIT: u64 = 512 * MIB;

/// Durations above a year are certainly typos, and refusing them keeps
/// `Instant + duration` arithmetic elsewhere in the crate from overflowing.
const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// Environment variable naming the config file read by [`Config::from_env`].
pub const ENV_CONFIG: &str = "NEARCACHE_CONFIG";
/// Environment variable overriding `redis.url`; wins over [`ENV_REDIS_URL`].
pub const ENV_URL: &str = "NEARCACHE_URL";
/// The conventional variable (Heroku, docker-compose, redis-py examples)
/// overriding `redis.url` when [`ENV_URL`] is not set.
pub const ENV_REDIS_URL: &str = "REDIS_URL";

// ---------------------------------------------------------------------------
// The schema
// ---------------------------------------------------------------------------

/// The whole configuration, as one tree shared by every language.
///
/// Build it with one of the loaders ([`Config::from_toml_str`],
/// [`Config::from_path`], [`Config::from_value`], [`Config::from_env`]) so it
/// is validated; a struct literal must be checked with [`Config::validate`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The main Redis deployment.
    pub redis: RedisConfig,
    /// The in-process cache tier and how it stays consistent.
    pub l1: L1Config,
    /// Transparent compression of large values.
    pub compression: CompressionConfig,
    /// Behaviour of writes.
    pub write: WriteConfig,
    /// Key prefixes served by other deployments; the longest matching prefix
    /// wins, and keys matching none go to `redis`.
    pub routes: Vec<RouteConfig>,
    /// Slow log, hot keys and big-value warnings.
    pub observability: ObservabilityConfig,
}

/// How to reach the main Redis deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://`, `rediss://` (TLS) or `unix://` URL, with optional ACL
    /// credentials; redacted wherever it is printed.
    pub url: RedisUrl,
    /// ACL user name, for every deployment (`redis.url` and each route)
    /// whose URL names no user of its own: a user in the URL wins.
    pub username: Option<String>,
    /// Password (of the ACL user, or of the `default` user with
    /// `requirepass`), for every deployment whose URL holds no password of
    /// its own: a password in the URL wins. Never printed: `Debug`,
    /// [`Config::to_json`] and error messages show `***`.
    pub password: Option<Secret>,
    /// Standalone server or Redis Cluster.
    pub mode: Mode,
    /// Where cluster reads go: `"master"` (default) or `"replica"`. Replica
    /// reads add the replication lag to the staleness bound (README,
    /// "Scaling out"); writes always go to the master.
    pub read_from: ReadFrom,
    /// Sent with `CLIENT SETNAME` so that `CLIENT LIST` and `nearcache doctor`
    /// can tell processes apart; `"auto"` means `app:host:pid`
    /// (see [`RedisConfig::resolved_client_name`]).
    pub client_name: String,
    /// Bound on establishing one connection (TCP, TLS, `HELLO`, `AUTH`).
    #[serde(with = "human_duration")]
    pub connect_timeout: Duration,
    /// Bound on every command, so that a stuck server surfaces as a `Timeout`
    /// error instead of a hung caller.
    #[serde(with = "human_duration")]
    pub command_timeout: Duration,
    /// Multiplexed connections per deployment; a few are enough because every
    /// connection is auto-pipelined.
    pub connections: usize,
    /// TCP keepalive interval, so that idle connections survive NAT and
    /// load-balancer timeouts; `0s` turns keepalive off.
    #[serde(with = "human_duration")]
    pub keepalive: Duration,
    /// Backoff between reconnection attempts.
    pub reconnect: ReconnectConfig,
    /// Certificates for `rediss://` URLs (`redis.url` and every route).
    pub tls: TlsConfig,
}

/// Certificates for TLS (`rediss://`) connections. Without `ca_file`, the
/// server's certificate is checked against the system's root certificates.
///
/// The files are read, and checked, when a cache is created; a file that
/// cannot be read or parsed is a `Config` error naming the field and the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM file of the certificate authorities that sign the server's
    /// certificate; replaces the system's roots.
    pub ca_file: Option<String>,
    /// PEM file of the client certificate (chain) for servers that require
    /// one (`tls-auth-clients yes`); needs `key_file`.
    pub cert_file: Option<String>,
    /// PEM file of the client certificate's private key; needs `cert_file`.
    pub key_file: Option<String>,
}

impl TlsConfig {
    /// Whether any file is set.
    pub fn is_set(&self) -> bool {
        self.ca_file.is_some() || self.cert_file.is_some() || self.key_file.is_some()
    }
}

/// A password: readable only through [`Secret::expose`]; `Debug`, `Display`
/// and `Serialize` print `***`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

/// What a redacted secret is shown as.
const REDACTED: &str = "***";

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

/// Exponential backoff bounds for reconnecting, so that a restarting server is
/// not hammered by every client at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReconnectConfig {
    /// The first delay.
    #[serde(with = "human_duration")]
    pub min: Duration,
    /// The cap the doubling delay never exceeds.
    #[serde(with = "human_duration")]
    pub max: Duration,
}

/// Whether a deployment is one server or a Redis Cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One server (or a primary behind a proxy or a failover address).
    #[default]
    Standalone,
    /// Redis Cluster: commands are routed by hash slot, `MGET` is split per slot.
    Cluster,
}

/// Which node of a cluster shard serves reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadFrom {
    /// The shard's master: reads see every acknowledged write.
    #[default]
    Master,
    /// One of the shard's replicas (round robin; the master when it has
    /// none): spreads reads, at the cost of the replication lag.
    Replica,
}

/// The in-process tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct L1Config {
    /// Byte budget of the L1, counting decompressed values, keys and overhead.
    #[serde(with = "human_size")]
    pub max_bytes: u64,
    /// Safety-net lifetime of an entry; with server-assisted invalidation the
    /// TTL bounds memory, not staleness.
    #[serde(with = "human_duration")]
    pub ttl: Duration,
    /// Fraction of `ttl` by which entry lifetimes are randomly shortened, so
    /// that entries filled together do not expire together.
    pub ttl_jitter: f64,
    /// Lifetime of a cached "key does not exist"; `0s` does not cache misses.
    #[serde(with = "human_duration")]
    pub negative_ttl: Duration,
    /// How the L1 learns about writes made by other processes.
    pub invalidation: Invalidation,
    /// Key prefixes the server reports on in `bcast` mode (empty: all keys).
    pub prefixes: Vec<String>,
    /// An entry is served only while the invalidation connection was proven
    /// alive within this bound (DESIGN.md, rule 5).
    #[serde(with = "human_duration")]
    pub max_staleness: Duration,
    /// How often the invalidation connection is pinged to prove it alive.
    #[serde(with = "human_duration")]
    pub health_interval: Duration,
    /// While Redis is unreachable, serve a value up to this old instead of
    /// failing; `0s` (the default) never serves stale data.
    #[serde(with = "human_duration")]
    pub stale_if_error: Duration,
    /// Per-prefix exceptions to `ttl` and to caching at all.
    pub rules: Vec<Rule>,
}

/// A per-prefix exception, for keys that must stay fresher (sessions) or must
/// never be served from memory (rate-limit counters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Keys starting with these bytes follow the rule; the longest matching
    /// prefix wins.
    pub prefix: String,
    /// Replaces `l1.ttl` for these keys; `None` keeps `l1.ttl`.
    #[serde(default, with = "human_duration_opt")]
    pub ttl: Option<Duration>,
    /// `false` keeps these keys out of the L1 entirely.
    #[serde(default = "default_true")]
    pub cache: bool,
}

/// How the L1 stays consistent with Redis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Invalidation {
    /// RESP3 `CLIENT TRACKING ON`: the server reports writes to keys we read.
    #[default]
    Tracking,
    /// `CLIENT TRACKING ON BCAST`: the server reports every write under
    /// `l1.prefixes`, whether we read the key or not.
    Bcast,
    /// No server help (for servers without tracking): `l1.ttl` is the only
    /// staleness bound.
    Ttl,
    /// No L1 at all: every read goes to Redis.
    Off,
}

pub use crate::codec::Algorithm;

/// Transparent compression above a size threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompressionConfig {
    /// Algorithm for new writes; reads decode whatever the frame says.
    pub algorithm: Algorithm,
    /// Values smaller than this are stored as they are: compressing them
    /// costs more than it saves.
    #[serde(with = "human_size")]
    pub min_size: u64,
    /// zstd level (1-22); ignored by the other algorithms.
    pub level: i32,
    /// Frames claiming a larger original size are refused before any
    /// allocation (no decompression bomb).
    #[serde(with = "human_size")]
    pub max_value_size: u64,
}

/// Behaviour of writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WriteConfig {
    /// Fraction by which TTLs sent with writes are randomly shortened, so keys
    /// written together do not expire together in Redis.
    pub ttl_jitter: f64,
}

/// A key prefix served by another deployment (sharding by access pattern).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Keys starting with these bytes go to `url`.
    pub prefix: String,
    /// The deployment serving the prefix; required, because silently routing
    /// to a default server would be worse than an error.
    pub url: RedisUrl,
    /// Standalone server or Redis Cluster.
    #[serde(default)]
    pub mode: Mode,
}

/// Client-side diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObservabilityConfig {
    /// Commands slower than this, end to end, enter the client-side slow log.
    #[serde(with = "human_duration")]
    pub slow_threshold: Duration,
    /// How many of the hottest keys the sketch reports (`0` turns it off).
    pub hot_keys: usize,
    /// Values at least this large are counted and logged as big values.
    #[serde(with = "human_size")]
    pub big_value_warn: u64,
}

fn default_true() -> bool {
    true
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: RedisUrl::default(),
            username: None,
            password: None,
            mode: Mode::Standalone,
            read_from: ReadFrom::Master,
            client_name: "auto".to_owned(),
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_millis(250),
            connections: 2,
            keepalive: Duration::from_secs(60),
            reconnect: ReconnectConfig::default(),
            tls: TlsConfig::default(),
        }
    }
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        ReconnectConfig { min: Duration::from_millis(10), max: Duration::from_secs(1) }
    }
}

impl Default for L1Config {
    fn default() -> Self {
        L1Config {
            max_bytes: 64 * MIB,
            ttl: Duration::from_secs(30),
            ttl_jitter: 0.1,
            negative_ttl: Duration::from_secs(5),
            invalidation: Invalidation::Tracking,
            prefixes: Vec::new(),
            max_staleness: Duration::from_secs(2),
            health_interval: Duration::from_millis(500),
            stale_if_error: Duration::ZERO,
            rules: Vec::new(),
        }
    }
}

impl Default for Rule {
    fn default() -> Self {
        Rule { prefix: String::new(), ttl: None, cache: true }
    }
}

impl Default for CompressionConfig {
    fn default() -> Self {
        CompressionConfig { algorithm: Algorithm::Lz4, min_size: KIB, level: 3, max_value_size: MAX_VALUE_SIZE_LIMIT }
    }
}

impl Default for WriteConfig {
    fn default() -> Self {
        WriteConfig { ttl_jitter: 0.1 }
    }
}

impl Default for RouteConfig {
    fn default() -> Self {
        RouteConfig { prefix: String::new(), url: RedisUrl::default(), mode: Mode::Standalone }
    }
}

impl Default for ObservabilityConfig {
    fn default() -> Self {
        ObservabilityConfig { slow_threshold: Duration::from_micros(100), hot_keys: 32, big_value_warn: 10 * KIB }
    }
}

impl Mode {
    /// The name used in the config file.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Standalone => "standalone",
            Mode::Cluster => "cluster",
        }
    }
}

impl Invalidation {
    /// The name used in the config file.
    pub const fn as_str(self) -> &'static str {
        match self {
            Invalidation::Tracking => "tracking",
            Invalidation::Bcast => "bcast",
            Invalidation::Ttl => "ttl",
            Invalidation::Off => "off",
        }
    }

    /// Whether the server pushes invalidations, so that a tracking connection
    /// must be kept healthy (pinged) for L1 entries to be served.
    pub const fn uses_server_push(self) -> bool {
        matches!(self, Invalidation::Tracking | Invalidation::Bcast)
    }
}

impl L1Config {
    /// Whether an L1 exists at all (`invalidation != "off"`).
    pub const fn enabled(&self) -> bool {
        !matches!(self.invalidation, Invalidation::Off)
    }

    /// The rule governing `key`: the one with the longest matching prefix, so
    /// that a specific rule (`session:admin:`) can refine a broad one
    /// (`session:`).
    pub fn rule_for(&self, key: &[u8]) -> Option<&Rule> {
        self.rules.iter().filter(|rule| key.starts_with(rule.prefix.as_bytes())).max_by_key(|rule| rule.prefix.len())
    }
}

impl RedisConfig {
    /// The name to send with `CLIENT SETNAME`: `"auto"` becomes
    /// `app:host:pid`, so that `CLIENT LIST` shows which process holds which
    /// connection; any other value is used as it is.
    pub fn resolved_client_name(&self) -> String {
        if self.client_name != "auto" {
            return self.client_name.clone();
        }
        let app = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.file_stem().map(|stem| stem.to_string_lossy().into_owned()))
            .filter(|stem| !stem.is_empty())
            .unwrap_or_else(|| "nearcache".to_owned());
        let host = hostname().unwrap_or_else(|| "unknown".to_owned());
        format!("{}:{}:{}", client_name_safe(&app), client_name_safe(&host), std::process::id())
    }
}

/// Redis refuses client names with spaces, newlines or other characters
/// outside printable ASCII, so an executable or host name is made safe first.
fn client_name_safe(part: &str) -> String {
    part.chars().map(|c| if valid_client_name_char(c) { c } else { '_' }).collect()
}

fn valid_client_name_char(c: char) -> bool {
    ('!'..='~').contains(&c)
}

fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the whole
    // call; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let name = if rc == 0 {
        // POSIX leaves NUL termination unspecified on truncation: stop at the
        // buffer's end too.
        let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..len]).into_owned()
    } else {
        std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?.trim().to_owned()
    };
    (!name.is_empty()).then_some(name)
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

impl Config {
    /// Parses and validates a TOML document in the schema of DESIGN.md.
    ///
    /// Syntax errors keep toml's message (line, column and the offending line,
    /// with any password redacted); other errors start with the field path.
    pub fn from_toml_str(toml_text: &str) -> Result<Config> {
        // Parsing into an untyped tree first, for every format, makes the
        // same mistake read the same in TOML, JSON and a binding's options.
        let tree: serde_json::Value = toml::from_str(toml_text)
            .map_err(|e| Error::config(redact_password_lines(&redact_secrets(e.to_string().trim_end()))))?;
        Config::from_tree(tree)
    }

    /// Parses and validates a JSON document with the same tree as the TOML
    /// file (no `url` shortcut: a file states the schema in full).
    pub fn from_json_str(json_text: &str) -> Result<Config> {
        let tree: serde_json::Value = serde_json::from_str(json_text)
            .map_err(|e| Error::config(redact_secrets(&format!("invalid JSON: {e}"))))?;
        Config::from_tree(tree)
    }

    /// Reads a config file: JSON when its name ends in `.json`, TOML otherwise.
    ///
    /// I/O errors name the file; parse and validation errors are those of
    /// [`Config::from_toml_str`] and [`Config::from_json_str`], so they read
    /// the same whatever the file is called.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!("{}: cannot read the config file: {e}", path.display())).with_source(e)
        })?;
        let is_json = path.extension().is_some_and(|ext| ext.to_string_lossy().eq_ignore_ascii_case("json"));
        if is_json {
            Config::from_json_str(&text)
        } else {
            Config::from_toml_str(&text)
        }
    }

    /// Builds a config from the untyped tree a binding passes (a Python dict,
    /// a JS options object, a parsed file).
    ///
    /// A top-level `url` is a shortcut for `redis.url`, so that
    /// `Cache(url=...)` and `new Cache({ url })` read naturally; giving both is
    /// an error rather than a silent precedence rule.
    pub fn from_value(mut value: serde_json::Value) -> Result<Config> {
        whole_floats_to_integers(&mut value);
        if let Some(root) = value.as_object_mut() {
            if let Some(url) = root.remove("url") {
                let redis = root.entry("redis").or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
                if let Some(redis) = redis.as_object_mut() {
                    if redis.contains_key("url") {
                        return Err(Error::config("url: given twice, as url and as redis.url; keep one"));
                    }
                    redis.insert("url".to_owned(), url);
                }
            }
        }
        Config::from_tree(value)
    }

    fn from_tree(tree: serde_json::Value) -> Result<Config> {
        ensure_tables(&tree)?;
        let config: Config =
            serde_path_to_error::deserialize(tree).map_err(|e| path_error(e.path(), &e.inner().to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration of a twelve-factor service: the file named by
    /// `NEARCACHE_CONFIG` (the defaults when unset), then `NEARCACHE_URL`, or
    /// else `REDIS_URL`, replacing `redis.url`.
    pub fn from_env() -> Result<Config> {
        Config::from_env_with(process_env)
    }

    /// Applies `NEARCACHE_URL` (or else `REDIS_URL`) to `redis.url`, then
    /// validates the result (a URL with a database number is refused in
    /// cluster mode). Empty variables count as unset.
    pub fn apply_env_overrides(&mut self) -> Result<()> {
        self.apply_env_overrides_with(process_env)
    }

    fn from_env_with(env: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let mut config = match env(ENV_CONFIG).filter(|path| !path.is_empty()) {
            Some(path) => Config::from_path(path)?,
            None => Config::default(),
        };
        config.apply_env_overrides_with(env)?;
        Ok(config)
    }

    fn apply_env_overrides_with(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<()> {
        for var in [ENV_URL, ENV_REDIS_URL] {
            if let Some(url) = env(var).filter(|url| !url.is_empty()) {
                self.redis.url = RedisUrl::parse_raw(&url)
                    .map_err(|msg| Error::config(redact_secrets(&format!("redis.url (from {var}): {msg}"))))?;
                break;
            }
        }
        self.validate()
    }

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

fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
}

/// Turns a deserialization error into a `Config` error that starts with the
/// field path. serde's "unknown field `x`" and "missing field `x`" messages are
/// reworded so that the path ends at the offending field.
fn path_error(path: &serde_path_to_error::Path, msg: &str) -> Error {
    let path = match path.to_string() {
        p if p == "." => String::new(),
        p => p,
    };
    let located = if let Some((field, rest)) = backticked_after(msg, "unknown field `") {
        format!("{}: unknown field{rest}", join_path(&path, field))
    } else if let Some((field, rest)) = backticked_after(msg, "missing field `") {
        format!("{}: missing field{rest}", join_path(&path, field))
    } else if let Some((field, rest)) = backticked_after(msg, "duplicate field `") {
        format!("{}: given more than once{rest}", join_path(&path, field))
    } else if path.is_empty() {
        msg.to_owned()
    } else {
        format!("{path}: {msg}")
    };
    Error::config(redact_secrets(&located))
}

/// JavaScript has only floats, so a binding may hand over `2.0` for
/// `connections = 2`; whole floats become integers before typed parsing
/// (fields typed `f64` accept integers, so nothing is lost).
fn whole_floats_to_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64() {
                // 2^53: beyond it, floats are no longer exact integers.
                if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
                    #[allow(clippy::cast_possible_truncation)]
                    let i = f as i64;
                    *value = Value::from(i);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_floats_to_integers),
        Value::Object(map) => map.values_mut().for_each(whole_floats_to_integers),
        _ => {}
    }
}

/// serde accepts a sequence wherever a struct is expected (fields by
/// position), which would make `reconnect = ["10ms", "1s"]` silently valid;
/// the schema's tables must be tables.
fn ensure_tables(tree: &serde_json::Value) -> Result<()> {
    use serde_json::Value;
    if !tree.is_object() {
        return Err(Error::config("the config must be a table of settings (an object in JSON)"));
    }
    let not_array = |value: Option<&Value>, path: &str| match value {
        Some(Value::Array(_)) => Err(invalid(path, "expected a table of settings, got an array")),
        _ => Ok(()),
    };
    for (pointer, path) in [
        ("/redis", "redis"),
        ("/redis/reconnect", "redis.reconnect"),
        ("/redis/tls", "redis.tls"),
        ("/l1", "l1"),
        ("/compression", "compression"),
        ("/write", "write"),
        ("/observability", "observability"),
    ] {
        not_array(tree.pointer(pointer), path)?;
    }
    for (pointer, path) in [("/l1/rules", "l1.rules"), ("/routes", "routes")] {
        if let Some(Value::Array(items)) = tree.pointer(pointer) {
            for (i, item) in items.iter().enumerate() {
                not_array(Some(item), &format!("{path}[{i}]"))?;
            }
        }
    }
    Ok(())
}

/// Splits `unknown field `x`, expected ...` into `("x", ", expected ...")`.
fn backticked_after<'a>(msg: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    let rest = msg.strip_prefix(prefix)?;
    let end = rest.find('`')?;
    Some((&rest[..end], &rest[end + 1..]))
}

/// Appends `field` to `path`, unless serde_path_to_error already recorded it
/// (it does for unknown fields, whose key it captures).
fn join_path(path: &str, field: &str) -> String {
    if path.is_empty() || path == field {
        field.to_owned()
    } else if path.ends_with(&format!(".{field}")) {
        path.to_owned()
    } else {
        format!("{path}.{field}")
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
fn redact_password_lines(text: &str) -> String {
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
fn redact_query(text: &str) -> String {
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

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

fn invalid(path: impl fmt::Display, msg: impl fmt::Display) -> Error {
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

// ---------------------------------------------------------------------------
// Redis URLs
// ---------------------------------------------------------------------------

/// A validated Redis URL whose password never leaves through `Debug`,
/// `Display`, `Serialize` or an error message.
///
/// Accepted forms: `redis://[user[:password]@]host[:port][/db][?query]`, the
/// same with `rediss://` for TLS (IPv6 hosts in brackets), and
/// `unix:///path/to/redis.sock[?db=N]` or `redis+unix:///...`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RedisUrl {
    raw: String,
    redacted: String,
    tls: bool,
    unix: bool,
    db: u32,
}

impl RedisUrl {
    /// Parses and validates `url`. The error message never quotes the URL,
    /// which may hold a password.
    pub fn parse(url: &str) -> Result<RedisUrl> {
        RedisUrl::parse_raw(url).map_err(Error::config)
    }

    /// The URL with its password, for the connector only: never log it.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The URL with the password replaced by `***`, safe to print.
    pub fn redacted(&self) -> String {
        self.redacted.clone()
    }

    /// Whether the connection uses TLS (`rediss://`).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether the server is reached through a unix socket.
    pub fn is_unix(&self) -> bool {
        self.unix
    }

    /// The database number (`/3`, or `?db=3` for unix sockets; 0 by default).
    pub fn db(&self) -> u32 {
        self.db
    }

    fn parse_raw(url: &str) -> std::result::Result<RedisUrl, String> {
        const EXAMPLE: &str = "expected a URL like \"redis://host:6379/0\"";
        if url.chars().any(char::is_whitespace) {
            return Err(format!("{EXAMPLE}; this one contains whitespace"));
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(EXAMPLE.to_owned());
        };
        match scheme.to_ascii_lowercase().as_str() {
            "redis" => parse_tcp(scheme, rest, false),
            "rediss" => parse_tcp(scheme, rest, true),
            "unix" | "redis+unix" => parse_unix(scheme, rest),
            _ => {
                // The scheme is quoted only when it cannot be a password
                // fragment of a malformed URL.
                let shown =
                    if scheme.len() <= 16 && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
                        format!(" {scheme:?}")
                    } else {
                        String::new()
                    };
                Err(format!(
                    "unsupported scheme{shown}: expected redis://, rediss://, unix:// or \
                     redis+unix://"
                ))
            }
        }
    }
}

/// Parses `[user[:password]@]host[:port][/db][?query]`. Messages describe the
/// problem without quoting any part of the URL, since a malformed URL may
/// split a password anywhere.
fn parse_tcp(scheme: &str, rest: &str, tls: bool) -> std::result::Result<RedisUrl, String> {
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let port_text = if let Some(bracketed) = hostport.strip_prefix('[') {
        let close = bracketed.find(']').ok_or("the IPv6 host has no closing ']'")?;
        if bracketed[..close].parse::<std::net::Ipv6Addr>().is_err() {
            return Err("the host in brackets is not an IPv6 address".to_owned());
        }
        match &bracketed[close + 1..] {
            "" => None,
            after => Some(after.strip_prefix(':').ok_or("unexpected text after the IPv6 host")?),
        }
    } else {
        let (host, port) = match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        };
        if host.is_empty() {
            return Err("the URL has no host (redis://host:6379/0)".to_owned());
        }
        if !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')) {
            return Err("the host is not a valid host name or IP address (IPv6 goes in \
                        brackets: redis://[::1]:6379; special characters in a password must \
                        be percent-encoded)"
                .to_owned());
        }
        port
    };
    if let Some(port) = port_text {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.chars().all(|c| c.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        if !valid {
            return Err("the port must be a number between 1 and 65535 (special characters \
                        in a password must be percent-encoded)"
                .to_owned());
        }
    }
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    if tail.contains('#') {
        return Err("a Redis URL cannot have a #fragment".to_owned());
    }
    let db = match path.strip_prefix('/').unwrap_or(path) {
        "" => 0,
        db => parse_db(db)?,
    };
    let mut redacted = format!("{scheme}://");
    if let Some(userinfo) = userinfo {
        match userinfo.split_once(':') {
            Some((user, pass)) if !pass.is_empty() => {
                redacted.push_str(user);
                redacted.push_str(":***");
            }
            _ => redacted.push_str(userinfo),
        }
        redacted.push('@');
    }
    redacted.push_str(hostport);
    redacted.push_str(path);
    if let Some(query) = query {
        redacted.push_str(&redact_query(&format!("?{query}")));
    }
    let raw = format!("{scheme}://{rest}");
    Ok(RedisUrl { raw, redacted, tls, unix: false, db })
}

/// Parses `/absolute/path[?db=N&user=..&pass=..]`.
fn parse_unix(scheme: &str, rest: &str) -> std::result::Result<RedisUrl, String> {
    const EXAMPLE: &str = "expected a socket path like \"unix:///run/redis/redis.sock\"";
    if !rest.starts_with('/') {
        return Err(EXAMPLE.to_owned());
    }
    if rest.contains('#') {
        return Err("a Redis URL cannot have a #fragment".to_owned());
    }
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    if path.len() < 2 || path.ends_with('/') {
        return Err(EXAMPLE.to_owned());
    }
    let mut db = 0;
    for param in query.into_iter().flat_map(|q| q.split('&')) {
        if let Some(value) = param.strip_prefix("db=") {
            db = parse_db(value)?;
        }
    }
    let raw = format!("{scheme}://{rest}");
    let redacted = format!("{scheme}://{}", redact_query(rest));
    Ok(RedisUrl { raw, redacted, tls: false, unix: true, db })
}

fn parse_db(text: &str) -> std::result::Result<u32, String> {
    if !text.is_empty() && text.len() <= 9 && text.chars().all(|c| c.is_ascii_digit()) {
        text.parse().map_err(|_| "the database must be a number".to_owned())
    } else {
        Err("the database must be a number (redis://host:6379/0)".to_owned())
    }
}

impl Default for RedisUrl {
    fn default() -> Self {
        RedisUrl { raw: DEFAULT_URL.to_owned(), redacted: DEFAULT_URL.to_owned(), tls: false, unix: false, db: 0 }
    }
}

impl FromStr for RedisUrl {
    type Err = Error;

    fn from_str(url: &str) -> Result<RedisUrl> {
        RedisUrl::parse(url)
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedisUrl").field(&self.redacted).finish()
    }
}

impl Serialize for RedisUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted)
    }
}

impl<'de> Deserialize<'de> for RedisUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RedisUrl, D::Error> {
        struct UrlVisitor;
        impl Visitor<'_> for UrlVisitor {
            type Value = RedisUrl;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a URL like \"redis://host:6379/0\"")
            }

            fn visit_str<E: de::Error>(self, url: &str) -> Result<RedisUrl, E> {
                RedisUrl::parse_raw(url).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(UrlVisitor)
    }
}

// ---------------------------------------------------------------------------
// Human sizes and durations
// ---------------------------------------------------------------------------

/// Byte units, largest first, so the canonical form picks the largest unit
/// that divides a size exactly (binary before decimal at each magnitude).
const SIZE_UNITS: [(&str, u64); 9] = [
    ("TiB", 1 << 40),
    ("TB", 1_000_000_000_000),
    ("GiB", 1 << 30),
    ("GB", 1_000_000_000),
    ("MiB", 1 << 20),
    ("MB", 1_000_000),
    ("KiB", 1 << 10),
    ("KB", 1_000),
    ("B", 1),
];

/// Duration units used in the canonical form, largest first.
const DURATION_UNITS: [(&str, u128); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// The canonical, lossless form of a size: the largest unit that divides it
/// exactly (`64MiB`, `10KB`, `1536B`).
pub fn format_size(bytes: u64) -> String {
    if bytes == 0 {
        return "0B".to_owned();
    }
    for (unit, mult) in SIZE_UNITS {
        if bytes % mult == 0 {
            return format!("{}{unit}", bytes / mult);
        }
    }
    format!("{bytes}B")
}

/// The canonical, lossless form of a duration: the largest unit that divides
/// it exactly (`30s`, `250ms`, `100us`, `1500ms`, `2m`).
pub fn format_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    for (unit, mult) in DURATION_UNITS {
        if nanos % mult == 0 {
            return format!("{}{unit}", nanos / mult);
        }
    }
    format!("{nanos}ns")
}

/// Parses a size: a number of bytes (`123`) or a number with a unit, where
/// `KiB`/`MiB`/`GiB`/`TiB` are powers of 1024 and `KB`/`MB`/`GB`/`TB` powers of
/// 1000 (`"64MiB"`, `"512 MiB"`, `"1.5KiB"`). Lower-case `mb` is refused
/// because redis.conf reads it as 1024-based while the SI reading is
/// 1000-based.
pub fn parse_size(text: &str) -> Result<u64> {
    parse_size_raw(text).map_err(Error::config)
}

/// Parses a duration with a unit: `ns`, `us` (or `µs`), `ms`, `s`, `m` (or
/// `min`), `h`, `d`, with an optional fraction (`"1.5s"`). A bare number is
/// refused, because `30` could mean seconds or milliseconds.
pub fn parse_duration(text: &str) -> Result<Duration> {
    parse_duration_raw(text).map_err(Error::config)
}

fn size_error(text: &str) -> String {
    format!("expected a size like \"64MiB\", got {text:?}")
}

fn parse_size_raw(text: &str) -> std::result::Result<u64, String> {
    let (int, frac, unit) = split_number(text.trim()).ok_or_else(|| size_error(text))?;
    let mult: u64 = match unit {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "kb" | "mb" | "gb" | "tb" => {
            return Err(format!(
                "{} ({unit:?} is ambiguous: write {:?} for powers of 1024 or {:?} for powers \
                 of 1000)",
                size_error(text),
                format!("{}iB", unit[..1].to_ascii_uppercase()),
                unit.to_ascii_uppercase(),
            ));
        }
        _ => match unit.to_ascii_lowercase().as_str() {
            "kib" => 1 << 10,
            "mib" => 1 << 20,
            "gib" => 1 << 30,
            "tib" => 1 << 40,
            _ => return Err(size_error(text)),
        },
    };
    let bytes = scale(int, frac, u128::from(mult)).map_err(|why| match why {
        Inexact => format!("{} (not a whole number of bytes)", size_error(text)),
        Overflow => format!("{text:?} is too large"),
    })?;
    u64::try_from(bytes).map_err(|_| format!("{text:?} is too large"))
}

fn duration_error(text: &str) -> String {
    format!("expected a duration like \"30s\" or \"250ms\", got {text:?}")
}

fn parse_duration_raw(text: &str) -> std::result::Result<Duration, String> {
    let (int, frac, unit) = split_number(text.trim()).ok_or_else(|| duration_error(text))?;
    let mult: u128 = match unit {
        "" => {
            return Err(format!("{} (a bare number is ambiguous: add a unit such as s or ms)", duration_error(text)));
        }
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return Err(duration_error(text)),
    };
    let too_long = || format!("must be at most {}, got {text:?}", format_duration(MAX_DURATION));
    let nanos = scale(int, frac, mult).map_err(|why| match why {
        Inexact => format!("{} (finer than a nanosecond)", duration_error(text)),
        Overflow => too_long(),
    })?;
    if nanos > MAX_DURATION.as_nanos() {
        return Err(too_long());
    }
    let nanos = u64::try_from(nanos).map_err(|_| too_long())?;
    Ok(Duration::from_nanos(nanos))
}

/// Splits `"1.5 KiB"` into `("1", "5", "KiB")`: digits, optional fraction
/// digits, then an optional space and the unit.
fn split_number(text: &str) -> Option<(&str, &str, &str)> {
    let num_end = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(num_end);
    let unit = unit.strip_prefix(' ').unwrap_or(unit);
    let (int, frac) = match number.split_once('.') {
        Some((int, frac)) if !frac.is_empty() && !frac.contains('.') => (int, frac),
        Some(_) => return None,
        None => (number, ""),
    };
    if int.is_empty() || int.len() > 20 || frac.len() > 18 {
        return None;
    }
    Some((int, frac, unit))
}

enum ScaleError {
    Inexact,
    Overflow,
}
use ScaleError::{Inexact, Overflow};

/// `int.frac * mult`, exactly, in integer arithmetic (no float rounding).
fn scale(int: &str, frac: &str, mult: u128) -> std::result::Result<u128, ScaleError> {
    let int: u128 = int.parse().map_err(|_| Overflow)?;
    let mut value = int.checked_mul(mult).ok_or(Overflow)?;
    if !frac.is_empty() {
        let digits = u32::try_from(frac.len()).map_err(|_| Overflow)?;
        let denominator = 10u128.pow(digits);
        let numerator = frac.parse::<u128>().map_err(|_| Overflow)?.checked_mul(mult).ok_or(Overflow)?;
        if numerator % denominator != 0 {
            return Err(Inexact);
        }
        value = value.checked_add(numerator / denominator).ok_or(Overflow)?;
    }
    Ok(value)
}

/// `#[serde(with)]` helpers storing plain `u64` byte counts.
mod human_size {
    use super::*;

    pub(super) fn serialize<S: Serializer>(bytes: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_size(*bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_any(SizeVisitor)
    }

    struct SizeVisitor;

    impl Visitor<'_> for SizeVisitor {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a size like \"64MiB\"")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<u64, E> {
            parse_size_raw(text).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, bytes: u64) -> Result<u64, E> {
            Ok(bytes)
        }

        fn visit_i64<E: de::Error>(self, bytes: i64) -> Result<u64, E> {
            u64::try_from(bytes).map_err(|_| E::custom(format!("expected a size like \"64MiB\", got {bytes}")))
        }

        // JavaScript numbers arrive as floats; whole ones are byte counts.
        fn visit_f64<E: de::Error>(self, bytes: f64) -> Result<u64, E> {
            if bytes.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&bytes) {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(bytes as u64)
            } else {
                Err(E::custom(format!("expected a size like \"64MiB\", got {bytes}")))
            }
        }
    }
}

/// `#[serde(with)]` helpers storing plain `Duration`s.
mod human_duration {
    use super::*;

    pub(super) fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(*duration))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }

    pub(super) struct DurationVisitor;

    impl DurationVisitor {
        fn bare<E: de::Error>(number: impl fmt::Display) -> E {
            E::custom(format!(
                "expected a duration like \"30s\" or \"250ms\", got {number} (a bare number is \
                 ambiguous: add a unit such as s or ms)"
            ))
        }
    }

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration like \"30s\" or \"250ms\"")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            parse_duration_raw(text).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, number: u64) -> Result<Duration, E> {
            Err(Self::bare(number))
        }

        fn visit_i64<E: de::Error>(self, number: i64) -> Result<Duration, E> {
            Err(Self::bare(number))
        }

        fn visit_f64<E: de::Error>(self, number: f64) -> Result<Duration, E> {
            Err(Self::bare(number))
        }
    }
}

/// `#[serde(with)]` helpers for `Option<Duration>`, written as `null` when
/// absent so that the effective config shows every field.
mod human_duration_opt {
    use super::*;

    pub(super) fn serialize<S: Serializer>(duration: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
        match duration {
            Some(duration) => serializer.serialize_str(&format_duration(*duration)),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
        deserializer.deserialize_option(OptVisitor)
    }

    struct OptVisitor;

    impl<'de> Visitor<'de> for OptVisitor {
        type Value = Option<Duration>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration like \"30s\" or \"250ms\", or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Option<Duration>, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Option<Duration>, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<Duration>, D::Error> {
            human_duration::deserialize(deserializer).map(Some)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::error::ErrorKind;

    /// The example of DESIGN.md's "Configuration" section, verbatim.
    const DESIGN_EXAMPLE: &str = r#"
[redis]
url = "redis://127.0.0.1:6379/0"   # rediss:// for TLS; user:password@ for ACL
mode = "standalone"                # or "cluster"
client_name = "auto"               # app:host:pid
connect_timeout = "1s"
command_timeout = "250ms"
connections = 2                    # multiplexed, auto-pipelined
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

    const DESIGN_EXAMPLE_JSON: &str = r#"{
        "redis": {
            "url": "redis://127.0.0.1:6379/0", "mode": "standalone", "client_name": "auto",
            "connect_timeout": "1s", "command_timeout": "250ms", "connections": 2,
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

    fn design_config() -> Config {
        let mut expected = Config::default();
        expected.l1.rules = vec![
            Rule { prefix: "session:".into(), ttl: Some(Duration::from_secs(10)), cache: true },
            Rule { prefix: "rate:".into(), ttl: None, cache: false },
        ];
        expected.routes =
            vec![RouteConfig { prefix: "big:".into(), url: url("redis://127.0.0.1:6380"), mode: Mode::Standalone }];
        expected
    }

    fn url(text: &str) -> RedisUrl {
        match RedisUrl::parse(text) {
            Ok(url) => url,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    fn toml_err(text: &str) -> String {
        match Config::from_toml_str(text) {
            Ok(cfg) => panic!("accepted {text}: {cfg:?}"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Config, "{e}");
                e.message().to_owned()
            }
        }
    }

    fn json_err(text: &str) -> String {
        match Config::from_json_str(text) {
            Ok(cfg) => panic!("accepted {text}: {cfg:?}"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Config, "{e}");
                e.message().to_owned()
            }
        }
    }

    fn value_err(value: serde_json::Value) -> String {
        match Config::from_value(value) {
            Ok(cfg) => panic!("accepted: {cfg:?}"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Config, "{e}");
                e.message().to_owned()
            }
        }
    }

    fn assert_starts(message: &str, prefix: &str) {
        assert!(message.starts_with(prefix), "{message:?} does not start with {prefix:?}");
    }

    #[test]
    fn replica_reads_need_a_cluster() {
        assert_starts(&toml_err("[redis]\nread_from = \"replica\""), "redis.read_from: \"replica\" applies to cluster");
        assert_starts(&toml_err("[redis]\nread_from = \"any\""), "redis.read_from: unknown variant");
        let cluster = "[redis]\nurl = \"redis://127.0.0.1:7000\"\nmode = \"cluster\"\nread_from = \"replica\"";
        assert_eq!(Config::from_toml_str(cluster).map(|c| c.redis.read_from).ok(), Some(ReadFrom::Replica));
        let routed = "[redis]\nread_from = \"replica\"\n[[routes]]\nprefix = \"c:\"\nurl = \"redis://h:7000\"\nmode = \"cluster\"";
        assert!(Config::from_toml_str(routed).is_ok());
    }

    #[test]
    fn defaults_match_design() {
        let c = Config::default();
        assert_eq!(c.redis.url.expose(), "redis://127.0.0.1:6379/0");
        assert_eq!(c.redis.mode, Mode::Standalone);
        assert_eq!(c.redis.client_name, "auto");
        assert_eq!(c.redis.connect_timeout, Duration::from_secs(1));
        assert_eq!(c.redis.command_timeout, Duration::from_millis(250));
        assert_eq!(c.redis.connections, 2);
        assert_eq!(c.redis.keepalive, Duration::from_secs(60));
        assert_eq!(c.redis.reconnect.min, Duration::from_millis(10));
        assert_eq!(c.redis.reconnect.max, Duration::from_secs(1));
        assert_eq!(c.l1.max_bytes, 64 * 1024 * 1024);
        assert_eq!(c.l1.ttl, Duration::from_secs(30));
        assert_eq!(c.l1.ttl_jitter, 0.1);
        assert_eq!(c.l1.negative_ttl, Duration::from_secs(5));
        assert_eq!(c.l1.invalidation, Invalidation::Tracking);
        assert!(c.l1.prefixes.is_empty());
        assert_eq!(c.l1.max_staleness, Duration::from_secs(2));
        assert_eq!(c.l1.health_interval, Duration::from_millis(500));
        assert_eq!(c.l1.stale_if_error, Duration::ZERO);
        assert!(c.l1.rules.is_empty());
        assert_eq!(c.compression.algorithm, Algorithm::Lz4);
        assert_eq!(c.compression.min_size, 1024);
        assert_eq!(c.compression.level, 3);
        assert_eq!(c.compression.max_value_size, 512 * 1024 * 1024);
        assert_eq!(c.write.ttl_jitter, 0.1);
        assert!(c.routes.is_empty());
        assert_eq!(c.observability.slow_threshold, Duration::from_micros(100));
        assert_eq!(c.observability.hot_keys, 32);
        assert_eq!(c.observability.big_value_warn, 10 * 1024);
        assert!(c.validate().is_ok());
        assert_eq!(RedisUrl::default(), url(DEFAULT_URL));
        assert!(Rule::default().cache);
    }

    #[test]
    fn empty_documents_give_the_defaults() {
        assert_eq!(Config::from_toml_str("").ok(), Some(Config::default()));
        assert_eq!(Config::from_json_str("{}").ok(), Some(Config::default()));
        assert_eq!(Config::from_value(serde_json::json!({})).ok(), Some(Config::default()));
        assert_eq!(Config::from_toml_str("[l1]\n").ok(), Some(Config::default()));
    }

    #[test]
    fn design_example_parses_in_toml_json_and_value() {
        let from_toml = Config::from_toml_str(DESIGN_EXAMPLE);
        assert_eq!(from_toml.as_ref().ok(), Some(&design_config()), "{from_toml:?}");
        let from_json = Config::from_json_str(DESIGN_EXAMPLE_JSON);
        assert_eq!(from_json.as_ref().ok(), Some(&design_config()), "{from_json:?}");
        let value: serde_json::Value = serde_json::from_str(DESIGN_EXAMPLE_JSON).unwrap();
        assert_eq!(Config::from_value(value).ok(), Some(design_config()));
    }

    #[test]
    fn sizes_parse() {
        let ok = [
            ("64MiB", 64 << 20),
            ("1KiB", 1024),
            ("512 MiB", 512 << 20),
            ("10KB", 10_000),
            ("10kB", 10_000),
            ("123", 123),
            ("0", 0),
            ("123B", 123),
            ("1GiB", 1 << 30),
            ("2TiB", 2 << 40),
            ("3GB", 3_000_000_000),
            ("1.5KiB", 1536),
            ("0.5MiB", 512 << 10),
            ("64mib", 64 << 20),
            (" 1MiB ", 1 << 20),
        ];
        for (text, bytes) in ok {
            assert_eq!(parse_size(text).ok(), Some(bytes), "{text}");
        }
        let bad = ["lots", "", "MiB", "-1", "1.KiB", ".5KiB", "1.2.3B", "1 KiBs", "1  KiB", "1e3"];
        for text in bad {
            let err = parse_size(text).err().map(|e| e.message().to_owned()).unwrap_or_default();
            assert_starts(&err, "expected a size like \"64MiB\"");
        }
        let err = parse_size("64mb").err().map(|e| e.message().to_owned()).unwrap_or_default();
        assert_eq!(
            err,
            "expected a size like \"64MiB\", got \"64mb\" (\"mb\" is ambiguous: write \"MiB\" for \
             powers of 1024 or \"MB\" for powers of 1000)"
        );
        assert!(parse_size("1.0001KiB").is_err());
        assert!(parse_size("99999999TiB").is_err());
        assert!(parse_size("18446744073709551616").is_err());
        assert_eq!(parse_size("18446744073709551615").ok(), Some(u64::MAX));
    }

    #[test]
    fn durations_parse() {
        let ok = [
            ("30s", Duration::from_secs(30)),
            ("250ms", Duration::from_millis(250)),
            ("100us", Duration::from_micros(100)),
            ("100µs", Duration::from_micros(100)),
            ("7ns", Duration::from_nanos(7)),
            ("1m", Duration::from_secs(60)),
            ("2min", Duration::from_secs(120)),
            ("2h", Duration::from_secs(7200)),
            ("1d", Duration::from_secs(86_400)),
            ("0s", Duration::ZERO),
            ("1.5s", Duration::from_millis(1500)),
            ("0.25ms", Duration::from_micros(250)),
            ("10 s", Duration::from_secs(10)),
            ("365d", MAX_DURATION),
        ];
        for (text, duration) in ok {
            assert_eq!(parse_duration(text).ok(), Some(duration), "{text}");
        }
        for text in ["fast", "", "s", "30", "30S", "1.5", "-1s", "1w", "1.0000000001ns"] {
            let err = parse_duration(text).err().map(|e| e.message().to_owned()).unwrap_or_default();
            assert_starts(&err, "expected a duration like \"30s\" or \"250ms\"");
        }
        let err = parse_duration("30").err().map(|e| e.message().to_owned()).unwrap_or_default();
        assert!(err.contains("a bare number is ambiguous"), "{err}");
        let err = parse_duration("366d").err().map(|e| e.message().to_owned()).unwrap_or_default();
        assert_eq!(err, "must be at most 8760h, got \"366d\"");
        assert!(parse_duration("99999999999999999999h").is_err());
    }

    #[test]
    fn canonical_forms_are_exact_and_round_trip() {
        let sizes = [
            (0, "0B"),
            (1, "1B"),
            (1536, "1536B"),
            (1024, "1KiB"),
            (10_000, "10KB"),
            (64 << 20, "64MiB"),
            (512 << 20, "512MiB"),
            (1 << 30, "1GiB"),
            (3_000_000_000, "3GB"),
            (5 << 40, "5TiB"),
            (2_048_000, "2000KiB"),
        ];
        for (bytes, text) in sizes {
            assert_eq!(format_size(bytes), text);
            assert_eq!(parse_size(text).ok(), Some(bytes));
        }
        let durations = [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_secs(30), "30s"),
            (Duration::from_micros(100), "100us"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(120), "2m"),
            (Duration::from_secs(7200), "2h"),
            (Duration::from_secs(86_400), "24h"),
            (Duration::from_nanos(1_000_001), "1000001ns"),
        ];
        for (duration, text) in durations {
            assert_eq!(format_duration(duration), text);
            assert_eq!(parse_duration(text).ok(), Some(duration));
        }
    }

    #[test]
    fn bad_values_name_the_field_path() {
        assert_eq!(
            toml_err("[l1]\nmax_bytes = \"lots\""),
            "l1.max_bytes: expected a size like \"64MiB\", got \"lots\""
        );
        assert_eq!(toml_err("[l1]\nmax_bytes = -5"), "l1.max_bytes: expected a size like \"64MiB\", got -5");
        assert_eq!(
            toml_err("[l1]\nmax_bytes = true"),
            "l1.max_bytes: invalid type: boolean `true`, expected a size like \"64MiB\""
        );
        assert_eq!(
            toml_err("[l1]\nttl = 30"),
            "l1.ttl: expected a duration like \"30s\" or \"250ms\", got 30 (a bare number is \
             ambiguous: add a unit such as s or ms)"
        );
        assert_starts(&toml_err("[l1]\nttl = 1.5"), "l1.ttl: expected a duration like");
        assert_starts(&toml_err("[redis]\nreconnect = { min = \"soon\" }"), "redis.reconnect.min: expected a duration");
        assert_starts(
            &toml_err("[observability]\nbig_value_warn = \"big\""),
            "observability.big_value_warn: expected a size",
        );
        assert_starts(&toml_err("[redis]\nconnections = \"two\""), "redis.connections: invalid type: string \"two\"");
        assert_starts(&toml_err("[redis]\nconnections = -1"), "redis.connections: invalid value: integer `-1`");
        assert_starts(
            &toml_err("[l1]\nrules = [{ prefix = \"a:\" }, { prefix = \"b:\", ttl = \"x\" }]"),
            "l1.rules[1].ttl: expected a duration",
        );
        assert_starts(
            &toml_err("[[routes]]\nprefix = \"a:\"\nurl = \"http://x\""),
            "routes[0].url: unsupported scheme \"http\"",
        );
        assert_starts(&toml_err("l1 = 5"), "l1: invalid type: integer `5`");
        assert_starts(&toml_err("routes = {}"), "routes: invalid type: map");
    }

    #[test]
    fn unknown_fields_are_refused_at_every_depth() {
        assert_starts(
            &toml_err("[l1]\nmax_byte = \"64MiB\""),
            "l1.max_byte: unknown field, expected one of `max_bytes`, `ttl`,",
        );
        assert_starts(&toml_err("url = \"redis://x\""), "url: unknown field, expected one of `redis`, `l1`,");
        assert_starts(
            &toml_err("[redis.reconnect]\nmaxx = \"1s\""),
            "redis.reconnect.maxx: unknown field, expected `min` or `max`",
        );
        assert_starts(
            &toml_err("[l1]\nrules = [{ prefix = \"a:\" }, { prefix = \"b:\", tll = \"1s\" }]"),
            "l1.rules[1].tll: unknown field, expected one of `prefix`, `ttl`, `cache`",
        );
        assert_starts(
            &toml_err("[[routes]]\nprefix = \"a:\"\nurl = \"redis://x\"\nweight = 1"),
            "routes[0].weight: unknown field",
        );
        assert_starts(
            &json_err(r#"{"observability": {"hot_key": 3}}"#),
            "observability.hot_key: unknown field, expected one of",
        );
        assert_starts(
            &value_err(serde_json::json!({"compression": {"algo": "lz4"}})),
            "compression.algo: unknown field",
        );
    }

    #[test]
    fn missing_required_fields_and_duplicates_name_the_field() {
        assert_eq!(toml_err("[[routes]]\nprefix = \"a:\""), "routes[0].url: missing field");
        assert_eq!(toml_err("[l1]\nrules = [{ ttl = \"1s\" }]"), "l1.rules[0].prefix: missing field");
        // JSON duplicate keys: the last wins, as in Python's and JavaScript's parsers.
        let cfg = Config::from_json_str(r#"{"redis": {"connections": 1, "connections": 3}}"#);
        assert_eq!(cfg.map(|c| c.redis.connections).ok(), Some(3));
    }

    #[test]
    fn tables_must_be_tables() {
        assert_eq!(
            toml_err("[redis]\nreconnect = [\"10ms\", \"1s\"]"),
            "redis.reconnect: expected a table of settings, got an array"
        );
        assert_eq!(toml_err("l1 = [1]"), "l1: expected a table of settings, got an array");
        assert_eq!(
            toml_err("[l1]\nrules = [{ prefix = \"a:\" }, [\"b:\"]]"),
            "l1.rules[1]: expected a table of settings, got an array"
        );
        assert_eq!(
            json_err(r#"{"routes": [["a:", "redis://h"]]}"#),
            "routes[0]: expected a table of settings, got an array"
        );
        assert_eq!(json_err("[]"), "the config must be a table of settings (an object in JSON)");
        assert_eq!(
            value_err(serde_json::json!("redis://h")),
            "the config must be a table of settings (an object in JSON)"
        );
        assert_starts(&toml_err("[l1]\nttl = 1979-05-27"), "l1.ttl: invalid type: map");
    }

    #[test]
    fn enum_values_are_checked() {
        assert_eq!(
            toml_err("[redis]\nmode = \"sentinel\""),
            "redis.mode: unknown variant `sentinel`, expected `standalone` or `cluster`"
        );
        assert_eq!(
            toml_err("[l1]\ninvalidation = \"push\""),
            "l1.invalidation: unknown variant `push`, expected one of `tracking`, `bcast`, `ttl`, `off`"
        );
        assert_starts(&toml_err("[compression]\nalgorithm = \"LZ4\""), "compression.algorithm: unknown variant `LZ4`");
        for (name, algorithm) in [("lz4", Algorithm::Lz4), ("zstd", Algorithm::Zstd), ("none", Algorithm::None)] {
            let cfg = Config::from_toml_str(&format!("[compression]\nalgorithm = \"{name}\""));
            assert_eq!(cfg.map(|c| c.compression.algorithm).ok(), Some(algorithm));
            assert_eq!(algorithm.as_str(), name);
        }
    }

    #[test]
    fn json_and_toml_errors_read_the_same() {
        let cases = [
            ("[l1]\nmax_bytes = \"lots\"", r#"{"l1": {"max_bytes": "lots"}}"#),
            ("[l1]\nmax_byte = 1", r#"{"l1": {"max_byte": 1}}"#),
            ("[redis]\nconnections = 0", r#"{"redis": {"connections": 0}}"#),
            ("[redis]\nmode = \"x\"", r#"{"redis": {"mode": "x"}}"#),
            ("[l1]\nttl = 30", r#"{"l1": {"ttl": 30}}"#),
        ];
        for (toml_text, json_text) in cases {
            assert_eq!(toml_err(toml_text), json_err(json_text));
            let value: serde_json::Value = serde_json::from_str(json_text).unwrap();
            assert_eq!(toml_err(toml_text), value_err(value));
        }
    }

    #[test]
    fn syntax_errors_keep_the_position() {
        let err = toml_err("[l1]\nmax_bytes = = 3\n");
        assert_starts(&err, "TOML parse error at line 2, column");
        let err = json_err("{\"l1\": {\"ttl\": \"1s\",}}");
        assert_starts(&err, "invalid JSON: ");
        assert!(err.contains("line 1 column"), "{err}");
        assert_starts(&json_err("{} {}"), "invalid JSON: trailing characters");
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
    fn urls_are_parsed_by_hand() {
        let ok = [
            ("redis://127.0.0.1:6379/0", false, false, 0),
            ("redis://localhost", false, false, 0),
            ("redis://localhost/", false, false, 0),
            ("redis://cache.internal:6380/15", false, false, 15),
            ("rediss://user:pw@cache.example.com:6380/2", true, false, 2),
            ("redis://:pw@host:1", false, false, 0),
            ("redis://[::1]:6379/1", false, false, 1),
            ("redis://[::1]", false, false, 0),
            ("redis://h:6379/0?protocol=resp3", false, false, 0),
            ("REDIS://h", false, false, 0),
            ("unix:///run/redis.sock", false, true, 0),
            ("redis+unix:///tmp/redis.sock?db=4&pass=pw", false, true, 4),
        ];
        for (text, tls, unix, db) in ok {
            let u = url(text);
            assert_eq!((u.is_tls(), u.is_unix(), u.db()), (tls, unix, db), "{text}");
            assert_eq!(u.expose(), text);
            assert_eq!(text.parse::<RedisUrl>().ok(), Some(u));
        }
        let bad = [
            ("http://host", "unsupported scheme \"http\""),
            ("host:6379", "expected a URL like"),
            ("", "expected a URL like"),
            ("redis://", "the URL has no host"),
            ("redis://:6379", "the URL has no host"),
            ("redis://ho st", "expected a URL like"),
            ("redis://host:0", "the port must be"),
            ("redis://host:65536", "the port must be"),
            ("redis://host:", "the port must be"),
            ("redis://host:abc", "the port must be"),
            ("redis://host/abc", "the database must be a number"),
            ("redis://host/1/2", "the database must be a number"),
            ("redis://host/0#frag", "a Redis URL cannot have a #fragment"),
            ("redis://[::1", "the IPv6 host has no closing"),
            ("redis://[nope]:1", "the host in brackets is not an IPv6"),
            ("redis://[::1]x", "unexpected text after the IPv6 host"),
            ("redis://h%41st", "the host is not a valid host name"),
            ("unix://tmp/sock", "expected a socket path"),
            ("unix:///", "expected a socket path"),
            ("unix:///tmp/s?db=x", "the database must be a number"),
        ];
        for (text, msg) in bad {
            match RedisUrl::parse(text) {
                Ok(u) => panic!("accepted {text}: {u:?}"),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Config);
                    assert!(e.message().starts_with(msg), "{text}: {}", e.message());
                }
            }
        }
    }

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

    #[test]
    fn url_shortcut_in_the_value_tree() {
        let cfg = Config::from_value(serde_json::json!({
            "url": "redis://10.1.2.3:6380/2",
            "l1": { "max_bytes": "128MiB" },
        }));
        let cfg = match cfg {
            Ok(cfg) => cfg,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(cfg.redis.url.expose(), "redis://10.1.2.3:6380/2");
        assert_eq!(cfg.l1.max_bytes, 128 << 20);
        let cfg = Config::from_value(serde_json::json!({"url": "redis://h", "redis": {"connections": 4}}));
        assert_eq!(cfg.as_ref().map(|c| (c.redis.url.expose(), c.redis.connections)).ok(), Some(("redis://h", 4)));
        assert_eq!(
            value_err(serde_json::json!({"url": "redis://a", "redis": {"url": "redis://b"}})),
            "url: given twice, as url and as redis.url; keep one"
        );
        assert_starts(&value_err(serde_json::json!({"url": 5})), "redis.url: invalid type: integer `5`");
        assert_starts(&value_err(serde_json::json!({"url": "ftp://x"})), "redis.url: unsupported scheme");
        // Whole floats are integers: JavaScript numbers are floats.
        let cfg = Config::from_value(serde_json::json!({"redis": {"connections": 4.0}}));
        assert_eq!(cfg.map(|c| c.redis.connections).ok(), Some(4));
        assert_starts(
            &value_err(serde_json::json!({"redis": {"connections": 4.5}})),
            "redis.connections: invalid type: floating point `4.5`",
        );
        let cfg = Config::from_value(serde_json::json!({"l1": {"ttl_jitter": 1.0}}));
        assert_eq!(cfg.map(|c| c.l1.ttl_jitter).ok(), Some(1.0));
        let cfg = Config::from_value(serde_json::json!({"l1": {"max_bytes": 1048576.0}}));
        assert_eq!(cfg.map(|c| c.l1.max_bytes).ok(), Some(1 << 20));
        assert_starts(&value_err(serde_json::json!({"l1": {"max_bytes": 1.5}})), "l1.max_bytes: expected a size");
        // A rule's ttl may be null (inherit l1.ttl), as to_json writes it.
        let cfg = Config::from_value(serde_json::json!({"l1": {"rules": [{"prefix": "a:", "ttl": null}]}}));
        assert_eq!(cfg.map(|c| c.l1.rules[0].ttl).ok(), Some(None));
    }

    #[test]
    fn env_overrides_replace_the_url() {
        fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
            let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            move |name| map.get(name).cloned()
        }
        let cfg = Config::from_env_with(env(&[]));
        assert_eq!(cfg.ok(), Some(Config::default()));
        let cfg = Config::from_env_with(env(&[(ENV_REDIS_URL, "redis://r:1")]));
        assert_eq!(cfg.map(|c| c.redis.url.expose().to_owned()).ok().as_deref(), Some("redis://r:1"));
        let cfg = Config::from_env_with(env(&[(ENV_REDIS_URL, "redis://r:1"), (ENV_URL, "redis://n:2")]));
        assert_eq!(cfg.map(|c| c.redis.url.expose().to_owned()).ok().as_deref(), Some("redis://n:2"));
        let cfg = Config::from_env_with(env(&[(ENV_REDIS_URL, "redis://r:1"), (ENV_URL, "")]));
        assert_eq!(cfg.map(|c| c.redis.url.expose().to_owned()).ok().as_deref(), Some("redis://r:1"));

        let dir = scratch_dir("env");
        let path = dir.join("cfg.toml");
        std::fs::write(&path, "[redis]\nmode = \"cluster\"\nurl = \"redis://a:7000\"\n[l1]\nttl = \"5s\"").unwrap();
        let path = path.to_string_lossy().into_owned();
        let cfg = Config::from_env_with(env(&[(ENV_CONFIG, &path), (ENV_URL, "redis://b:7001")]));
        let cfg = cfg.unwrap();
        assert_eq!(cfg.redis.url.expose(), "redis://b:7001");
        assert_eq!(cfg.redis.mode, Mode::Cluster);
        assert_eq!(cfg.l1.ttl, Duration::from_secs(5));
        // The override is validated against the file's mode.
        let err = Config::from_env_with(env(&[(ENV_CONFIG, &path), (ENV_URL, "redis://b:7001/2")]));
        assert_eq!(
            err.err().map(|e| e.message().to_owned()).as_deref(),
            Some("redis.url: cluster mode supports database 0 only, got database 2")
        );
        let missing = dir.join("missing.toml").to_string_lossy().into_owned();
        let err = Config::from_env_with(env(&[(ENV_CONFIG, &missing)]));
        assert_starts(
            &err.err().map(|e| e.message().to_owned()).unwrap_or_default(),
            &format!("{missing}: cannot read the config file: "),
        );

        let mut cfg = Config::default();
        assert!(cfg.apply_env_overrides_with(env(&[(ENV_URL, "rediss://x:6380")])).is_ok());
        assert!(cfg.redis.url.is_tls());
        let _ = std::fs::remove_dir_all(dir);
    }

    fn scratch_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("nearcache-config-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn from_path_picks_the_format_by_extension() {
        let dir = scratch_dir("path");
        let toml_path = dir.join("nearcache.toml");
        let json_path = dir.join("nearcache.JSON");
        let other_path = dir.join("nearcache.conf");
        std::fs::write(&toml_path, DESIGN_EXAMPLE).unwrap();
        std::fs::write(&json_path, DESIGN_EXAMPLE_JSON).unwrap();
        std::fs::write(&other_path, DESIGN_EXAMPLE).unwrap();
        assert_eq!(Config::from_path(&toml_path).ok(), Some(design_config()));
        assert_eq!(Config::from_path(&json_path).ok(), Some(design_config()));
        assert_eq!(Config::from_path(&other_path).ok(), Some(design_config()));
        std::fs::write(&json_path, DESIGN_EXAMPLE).unwrap();
        let err = Config::from_path(&json_path).err().map(|e| e.message().to_owned()).unwrap_or_default();
        assert_starts(&err, "invalid JSON: ");
        let err = Config::from_path(dir.join("nope.toml")).err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.cause().is_some());
        assert_starts(err.message(), &format!("{}: cannot read the config file: ", dir.join("nope.toml").display()));
        let _ = std::fs::remove_dir_all(dir);
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
    fn rule_for_picks_the_longest_prefix() {
        let mut l1 = L1Config::default();
        assert!(l1.rule_for(b"session:1").is_none());
        l1.rules = vec![
            Rule { prefix: "session:".into(), ttl: Some(Duration::from_secs(10)), cache: true },
            Rule { prefix: "session:admin:".into(), ttl: None, cache: false },
            Rule { prefix: "s".into(), ttl: Some(Duration::from_secs(1)), cache: true },
        ];
        assert_eq!(l1.rule_for(b"session:admin:7").map(|r| r.prefix.as_str()), Some("session:admin:"));
        assert_eq!(l1.rule_for(b"session:7").map(|r| r.prefix.as_str()), Some("session:"));
        assert_eq!(l1.rule_for(b"stock").map(|r| r.prefix.as_str()), Some("s"));
        assert!(l1.rule_for(b"user:1").is_none());
        assert!(l1.rule_for(b"").is_none());
        assert!(l1.rule_for(&[0xff, 0xfe]).is_none());
    }

    #[test]
    fn client_names() {
        let mut redis = RedisConfig::default();
        let auto = redis.resolved_client_name();
        let parts: Vec<&str> = auto.rsplitn(3, ':').collect();
        assert_eq!(parts.len(), 3, "{auto}");
        assert_eq!(parts[0], std::process::id().to_string());
        assert!(!parts[1].is_empty() && !parts[2].is_empty(), "{auto}");
        assert!(auto.chars().all(valid_client_name_char), "{auto}");
        redis.client_name = "billing-worker".into();
        assert_eq!(redis.resolved_client_name(), "billing-worker");
        assert_eq!(client_name_safe("my host\n"), "my_host_");
    }

    #[test]
    fn enum_helpers() {
        assert_eq!(Mode::Cluster.as_str(), "cluster");
        assert_eq!(Invalidation::Bcast.as_str(), "bcast");
        assert!(Invalidation::Tracking.uses_server_push());
        assert!(!Invalidation::Ttl.uses_server_push());
        let mut l1 = L1Config::default();
        assert!(l1.enabled());
        l1.invalidation = Invalidation::Off;
        assert!(!l1.enabled());
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

    /// Every TOML example of the README is a valid config.
    #[test]
    fn readme_toml_examples_parse() {
        let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
        let blocks: Vec<&str> =
            readme.split("```toml\n").skip(1).filter_map(|rest| rest.split("\n```").next()).collect();
        assert!(blocks.len() >= 2, "{} TOML blocks", blocks.len());
        for block in blocks {
            if let Err(e) = Config::from_toml_str(block) {
                panic!("README example does not parse: {e}\n{block}");
            }
        }
    }

    /// The cross-language conformance files: every binding must produce the
    /// same bytes. Set `NEARCACHE_BLESS=1` to rewrite the expected files.
    #[test]
    fn conformance_config_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/configs");
        let bless = std::env::var_os("NEARCACHE_BLESS").is_some();
        let check = |name: &str, actual: String| {
            let path = dir.join(name);
            let actual = actual + "\n";
            if bless {
                std::fs::write(&path, &actual).unwrap();
            }
            let expected = std::fs::read_to_string(&path).unwrap();
            assert_eq!(actual, expected, "{}", path.display());
        };
        let full = Config::from_path(dir.join("full.toml")).unwrap();
        // full.toml is DESIGN.md's example without [[routes]], which a cache
        // refuses until routes exist (the parse of routes is tested above).
        let mut expected = design_config();
        expected.routes.clear();
        assert_eq!(full, expected);
        check("full.expected.json", full.to_json());
        // Every config file of the directory has one expected file: the dump
        // (`NAME.expected.json`) or the error (`NAME.expected-error.txt`).
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let Some(stem) = name.strip_suffix(".toml").or_else(|| name.strip_suffix(".json")) else { continue };
            if stem.contains(".expected") {
                continue;
            }
            seen += 1;
            let (ok, bad) = (format!("{stem}.expected.json"), format!("{stem}.expected-error.txt"));
            match Config::from_path(&path) {
                Ok(config) if !dir.join(&bad).exists() => check(&ok, config.to_json()),
                Err(err) if !dir.join(&ok).exists() => {
                    assert_eq!(err.kind(), ErrorKind::Config);
                    check(&bad, err.message().to_owned());
                }
                other => panic!("{name}: {other:?} does not match the expected file"),
            }
        }
        assert!(seen >= 3, "only {seen} config files in {}", dir.display());
    }
}
