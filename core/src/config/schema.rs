//! The schema: the serde types of the config tree and their defaults.
//!
//! Every default lives in this file's `Default` impls, so no binding repeats
//! one. Parsing lives in `load`, cross-field rules in `validate`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::redact::Secret;
use super::units::{human_duration, human_duration_opt, human_size, KIB, MIB};
use super::url::RedisUrl;

/// Redis refuses values above 512 MiB, so a larger frame can only be an
/// attack or corruption.
pub(super) const MAX_VALUE_SIZE_LIMIT: u64 = 512 * MIB;

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
    /// Connections per server kept for transactions (`WATCH` / `MULTI`)
    /// and transactional pipelines, which need a connection of their own
    /// for as long as they run. Opened on first use, never with
    /// `CLIENT TRACKING`; a caller waits at most `connect_timeout` for one
    /// to be free.
    pub dedicated_connections: usize,
    /// How many times [`Cache::transaction`](crate::Cache::transaction)
    /// runs again after `EXEC` was aborted because a watched key changed,
    /// before it returns `TransactionAborted`.
    pub transaction_retries: u32,
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
    /// alive within this bound (docs/design.md, rule 5).
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

use crate::codec::Algorithm;

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
            dedicated_connections: 4,
            transaction_retries: 10,
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

/// Environment variables that name the instance a process runs as on a
/// hosting platform, in the order they are looked up: Heroku's dyno
/// (`web.1`), Render's instance, Fly.io's machine, Railway's replica, Cloud
/// Run's revision, and a Kubernetes pod name exported through the downward
/// API. The first one set (and not blank) replaces the host name in the
/// `"auto"` client name. `HOSTNAME` is not here: it is the host name already.
pub const INSTANCE_VARS: &[&str] =
    &["DYNO", "RENDER_INSTANCE_ID", "FLY_MACHINE_ID", "RAILWAY_REPLICA_ID", "K_REVISION", "POD_NAME"];

impl RedisConfig {
    /// The name to send with `CLIENT SETNAME`: `"auto"` becomes
    /// `app:host:pid` (`app:web.1:pid` where a platform names the instance,
    /// see [`INSTANCE_VARS`]), so that `CLIENT LIST` shows which process
    /// holds which connection; any other value is used as it is.
    pub fn resolved_client_name(&self) -> String {
        self.resolved_client_name_with(|var| std::env::var(var).ok())
    }

    /// [`RedisConfig::resolved_client_name`] with the environment read
    /// through `env` (tests inject one instead of mutating the process's).
    fn resolved_client_name_with(&self, env: impl Fn(&str) -> Option<String>) -> String {
        if self.client_name != "auto" {
            return self.client_name.clone();
        }
        let app = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.file_stem().map(|stem| stem.to_string_lossy().into_owned()))
            .filter(|stem| !stem.is_empty())
            .unwrap_or_else(|| "nearcache".to_owned());
        let place = instance_name(env).or_else(hostname).unwrap_or_else(|| "unknown".to_owned());
        format!("{}:{}:{}", client_name_safe(&app), client_name_safe(&place), std::process::id())
    }
}

/// The platform's name for this instance: the first of [`INSTANCE_VARS`]
/// that is set and not blank.
fn instance_name(env: impl Fn(&str) -> Option<String>) -> Option<String> {
    INSTANCE_VARS.iter().find_map(|var| env(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
}

/// Redis refuses client names with spaces, newlines or other characters
/// outside printable ASCII, so an executable or host name is made safe first.
fn client_name_safe(part: &str) -> String {
    part.chars().map(|c| if valid_client_name_char(c) { c } else { '_' }).collect()
}

pub(super) fn valid_client_name_char(c: char) -> bool {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::config::fixtures::*;
    use crate::config::url::DEFAULT_URL;
    use crate::config::Algorithm;

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
    fn client_name_names_the_platform_instance() {
        let redis = RedisConfig::default();
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |var: &str| pairs.iter().find(|(k, _)| *k == var).map(|(_, v)| (*v).to_owned())
        };
        let pid = std::process::id();
        let heroku = redis.resolved_client_name_with(env(&[("DYNO", "web.1")]));
        assert!(heroku.ends_with(&format!(":web.1:{pid}")), "{heroku}");
        // The first variable of the list wins; blank ones are skipped.
        let both = redis.resolved_client_name_with(env(&[
            ("K_REVISION", "api-00042"),
            ("DYNO", " "),
            ("FLY_MACHINE_ID", "e28"),
        ]));
        assert!(both.ends_with(&format!(":e28:{pid}")), "{both}");
        // Unsafe characters become `_`, as in a host name.
        let spaced = redis.resolved_client_name_with(env(&[("POD_NAME", "my pod")]));
        assert!(spaced.ends_with(&format!(":my_pod:{pid}")), "{spaced}");
        // Without any: the host name, as before.
        let plain = redis.resolved_client_name_with(|_| None);
        assert_eq!(plain.rsplit(':').nth(1), hostname().as_deref().map(client_name_safe).as_deref());
        // An explicit name is never changed.
        let named = RedisConfig { client_name: "billing".into(), ..RedisConfig::default() };
        assert_eq!(named.resolved_client_name_with(env(&[("DYNO", "web.1")])), "billing");
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
}
