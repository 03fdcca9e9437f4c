//! The async [`Cache`]: L1 in front of Redis.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::{Cmd, Value};

use crate::backend::Backend;
use crate::clock::{duration_nanos, Clock};
use crate::codec::Codec;
use crate::command::{self, Effect, Reply};
use crate::config::{Config, Invalidation};
use crate::error::{Error, ErrorKind, Result};
use crate::expiry::{jitter, Ttl};
use crate::fills::{share, FillGuard, Fills, Join};
use crate::l1::{ChangeWords, LocalView, Lookup, NewEntry, Store};
use crate::stats::{L1Snapshot, Op, Recorder, Stats, L1_SAMPLE_MASK};
use crate::tracking::{self, FlushCause, Local};

/// Keys longer than this are refused: Redis accepts up to 512 MiB, but a key
/// this long is a bug in the caller, and L1 would hold it twice.
pub const MAX_KEY_LEN: usize = 64 * 1024;

/// How many keys one SCAN step asks for.
const SCAN_COUNT: usize = 1000;

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

/// A Redis client-side cache: an in-process L1 tier in front of Redis.
///
/// Cheap to clone (an `Arc`); every clone shares the same L1, connections
/// and stats. All methods are `async` and may be awaited on any tokio
/// runtime; network I/O runs on nearcache's own runtime. A key in L1 is
/// answered without touching the runtime; see [`Cache::get_local`].
///
/// ```
/// # nearcache::testing::run_with_redis(|url| async move {
/// use nearcache::{Cache, Config, SetOptions};
/// use std::time::Duration;
///
/// let mut config = Config::default();
/// config.redis.url = url.parse()?; // l1.invalidation defaults to "tracking"
/// let cache = Cache::new(config)?;
/// cache.set("user:1", "ada", SetOptions::ttl(Duration::from_secs(60))).await?;
/// assert_eq!(cache.get("user:1").await?.as_deref(), Some(&b"ada"[..]));
/// # Ok(()) });
/// ```
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    /// L1, its pending fills, and what decides whether an entry is served.
    local: Arc<Local>,
    /// Single flight for `get_or_load` loaders (separate from read fills).
    loads: Fills,
    codec: Codec,
    /// Where each key's commands go (one server, a cluster, routes).
    backend: Backend,
    recorder: Arc<Recorder>,
    closed: AtomicBool,
    fork_generation: u64,
    #[cfg(any(test, feature = "test-util"))]
    fill_gate: parking_lot::Mutex<Option<Arc<crate::testing::FillGate>>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("endpoint", &self.inner.backend.name())
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
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

    /// Creates a cache from a configuration. No I/O happens here: each
    /// connection opens on first use (call [`Cache::connect`] to open them
    /// now and surface errors early).
    pub fn new(config: Config) -> Result<Cache> {
        Cache::with_clock(config, Clock::default())
    }

    /// Creates a cache from `NEARCACHE_CONFIG` / `NEARCACHE_URL` / `REDIS_URL`.
    pub fn from_env() -> Result<Cache> {
        Cache::new(Config::from_env()?)
    }

    fn with_clock(config: Config, clock: Clock) -> Result<Cache> {
        config.validate()?;
        crate::runtime::watch_forks();
        let recorder = Arc::new(Recorder::new(config.observability.slow_threshold, config.observability.hot_keys));
        let local = Arc::new(Local::new(&config.l1, clock, Arc::clone(&recorder)));
        let codec = Codec::new(
            config.compression.algorithm,
            usize::try_from(config.compression.min_size).unwrap_or(usize::MAX),
            config.compression.level,
            usize::try_from(config.compression.max_value_size).unwrap_or(usize::MAX),
        );
        let backend = Backend::new(&config, &recorder, &local)?;
        if config.l1.invalidation.uses_server_push() {
            // Health pings bound staleness on half-open connections (rule 5).
            let health = tracking::health_loop(Arc::downgrade(&local), config.l1.health_interval);
            crate::runtime::get()?.spawn(health);
        }
        Ok(Cache {
            inner: Arc::new(Inner {
                config,
                local,
                loads: Fills::new(),
                codec,
                backend,
                recorder,
                closed: AtomicBool::new(false),
                fork_generation: crate::runtime::fork_generation(),
                #[cfg(any(test, feature = "test-util"))]
                fill_gate: parking_lot::Mutex::new(None),
            }),
        })
    }

    /// The effective configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Opens every connection now; returns the first error.
    pub async fn connect(&self) -> Result<()> {
        self.inner.check_usable()?;
        self.inner.backend.connect_all().await.map_err(|e| self.inner.count(e))
    }

    /// Answers from L1 only, synchronously, never touching the network or
    /// the runtime: [`Lookup::Hit`], [`Lookup::Absent`] (a cached miss), or
    /// [`Lookup::Miss`] (ask Redis). This is the hit path every binding uses
    /// before it pays for a thread hop or a GIL release.
    #[inline]
    pub fn get_local(&self, key: &[u8]) -> Result<Lookup> {
        self.get_local_versioned(key).map(|(found, _)| found)
    }

    /// [`Cache::get_local`], plus the version of the L1 entry that answered:
    /// 0 for [`Lookup::Miss`], otherwise a number no other insertion into
    /// this cache's L1 had. While a key's answers keep one version they are
    /// the same bytes; an invalidation, eviction, expiry or flush removes the
    /// entry, so the next answer is a miss and any later fill has a new
    /// version. Bindings use it to reuse what they built for an entry (a JS
    /// Buffer) instead of converting the value again on every hit.
    ///
    /// ```
    /// # nearcache::testing::run_with_redis(|url| async move {
    /// let cache = nearcache::Cache::builder().url(url).build()?;
    /// cache.set("k", "v", Default::default()).await?;
    /// cache.get("k").await?; // fills L1
    /// let (_, first) = cache.get_local_versioned(b"k")?;
    /// assert_ne!(first, 0);
    /// assert_eq!(cache.get_local_versioned(b"k")?.1, first);
    /// cache.invalidate_local(&["k"])?;
    /// assert_eq!(cache.get_local_versioned(b"k")?, (nearcache::Lookup::Miss, 0));
    /// # Ok(()) });
    /// ```
    #[inline]
    pub fn get_local_versioned(&self, key: &[u8]) -> Result<(Lookup, u64)> {
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        if !sample_this_lookup() {
            return Ok(inner.local.lookup_versioned(key));
        }
        let started = Instant::now();
        let found = inner.local.lookup_versioned(key);
        inner.recorder.latency(Op::L1, started.elapsed(), key);
        Ok(found)
    }

    /// [`Cache::get_local_versioned`], plus what a binding needs to reuse
    /// its converted copy of the answer without calling core on every hit:
    /// the change words to watch and how long the answer holds if they do not
    /// change (see [`LocalView`] and [`Cache::change_words`]).
    ///
    /// ```
    /// # nearcache::testing::run_with_redis(|url| async move {
    /// let cache = nearcache::Cache::builder().url(url).build()?;
    /// cache.set("k", "v", Default::default()).await?;
    /// cache.get("k").await?; // fills L1
    /// let view = cache.get_local_view(b"k")?;
    /// let words = cache.change_words();
    /// let word = |i: usize| words.words()[i].load(std::sync::atomic::Ordering::Acquire);
    /// assert_eq!(word(view.word), view.change);
    /// cache.invalidate_local(&["k"])?;
    /// assert_ne!(word(view.word), view.change); // the copy must be dropped
    /// # Ok(()) });
    /// ```
    #[inline]
    pub fn get_local_view(&self, key: &[u8]) -> Result<LocalView> {
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        Ok(inner.local.lookup_view(key))
    }

    /// The change words [`Cache::get_local_view`] refers to; they stay
    /// readable for as long as the returned handle lives.
    pub fn change_words(&self) -> ChangeWords {
        self.inner.local.store.changes().clone()
    }

    /// The value of `key`: from L1 if it is there, else from Redis (one
    /// round trip shared by every concurrent reader of the key), filling L1.
    pub async fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        match self.get_local(key)? {
            Lookup::Hit(value) => Ok(Some(value)),
            Lookup::Absent => Ok(None),
            Lookup::Miss => self.inner.fetch(key).await,
        }
    }

    /// The Redis half of [`Cache::get`], for callers that already asked
    /// [`Cache::get_local`] and got [`Lookup::Miss`] (the blocking facade,
    /// the bindings): single flight and the guarded L1 fill, without a second
    /// L1 lookup, so that the miss is counted once in [`Stats::l1_misses`].
    pub async fn get_after_miss(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        self.inner.check_usable()?;
        check_key(key)?;
        self.inner.fetch(key).await
    }

    /// The values of `keys`, in order: L1 answers what it can, one `MGET`
    /// fetches the rest.
    pub async fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Bytes>>> {
        let mut out = Vec::with_capacity(keys.len());
        let mut missing = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            match self.get_local(key.as_ref())? {
                Lookup::Hit(value) => out.push(Some(value)),
                Lookup::Absent => out.push(None),
                Lookup::Miss => {
                    out.push(None);
                    missing.push(i);
                }
            }
        }
        if !missing.is_empty() {
            let wanted: Vec<&[u8]> = missing.iter().map(|&i| keys[i].as_ref()).collect();
            let fetched = self.inner.fetch_many(&wanted).await?;
            for (slot, value) in missing.into_iter().zip(fetched) {
                out[slot] = value;
            }
        }
        Ok(out)
    }

    /// Writes `value` to `key`. Returns false when `nx`/`xx` prevented the
    /// write. Values at least `compression.min_size` long are compressed.
    pub async fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>, options: SetOptions) -> Result<bool> {
        let (key, value) = (key.as_ref(), value.as_ref());
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        if options.only_if_absent && options.only_if_present {
            return Err(Error::invalid("SET: nx and xx exclude each other"));
        }
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(inner.encode(key, value)?.as_bytes());
        if let Some(ttl) = options.ttl {
            let ttl = if options.exact_ttl { ttl } else { jitter(ttl, inner.config.write.ttl_jitter) };
            cmd.arg("PX").arg(ttl_millis(ttl, key)?);
        }
        if options.only_if_absent {
            cmd.arg("NX");
        }
        if options.only_if_present {
            cmd.arg("XX");
        }
        inner.own_write(key);
        let reply = inner.timed(Op::Set, key, inner.backend.query(key, &cmd)).await?;
        Ok(!matches!(reply, Value::Nil))
    }

    /// Writes several keys: one `MSET`, or, with a TTL, one `MULTI`/`EXEC`
    /// of `SET PX` (all-or-nothing either way). In a cluster, or with keys
    /// under different routes, there is one such command per hash slot and
    /// deployment, sent concurrently: all-or-nothing per slot only.
    pub async fn set_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        items: &[(K, V)],
        ttl: Option<Duration>,
    ) -> Result<()> {
        let inner = &*self.inner;
        inner.check_usable()?;
        if items.is_empty() {
            return Ok(());
        }
        let mut encoded = Vec::with_capacity(items.len());
        for (key, value) in items {
            check_key(key.as_ref())?;
            encoded.push((key.as_ref(), inner.encode(key.as_ref(), value.as_ref())?));
        }
        for (key, _) in &encoded {
            inner.own_write(key);
        }
        let keys: Vec<&[u8]> = encoded.iter().map(|(key, _)| *key).collect();
        let writes = inner.groups(&keys).into_iter().map(|group| {
            let first = encoded[group[0]].0;
            let encoded = &encoded;
            async move {
                match ttl {
                    None => {
                        let mut cmd = redis::cmd("MSET");
                        for &i in &group {
                            cmd.arg(encoded[i].0).arg(encoded[i].1.as_ref());
                        }
                        inner.timed(Op::SetMany, first, inner.backend.query(first, &cmd)).await.map(drop)
                    }
                    Some(ttl) => {
                        let mut pipe = redis::pipe();
                        pipe.atomic();
                        for &i in &group {
                            let (key, value) = &encoded[i];
                            let ms = ttl_millis(jitter(ttl, inner.config.write.ttl_jitter), key)?;
                            pipe.cmd("SET").arg(*key).arg(value.as_ref()).arg("PX").arg(ms).ignore();
                        }
                        inner.timed(Op::SetMany, first, inner.backend.query_pipeline(first, &pipe)).await.map(drop)
                    }
                }
            }
        });
        futures_util::future::try_join_all(writes).await?;
        Ok(())
    }

    /// Deletes `key`; true if it existed.
    pub async fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.delete_many(&[key]).await? > 0)
    }

    /// Deletes `keys` with one `DEL` (one per hash slot and deployment in a
    /// cluster or with routes); returns how many existed.
    pub async fn delete_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64> {
        let inner = &*self.inner;
        inner.check_usable()?;
        let keys: Vec<&[u8]> = keys.iter().map(AsRef::as_ref).collect();
        for key in &keys {
            check_key(key)?;
        }
        for key in &keys {
            inner.own_write(key);
        }
        inner.delete_keys("DEL", Op::Delete, &keys).await
    }

    /// Sets `key` to expire after `ttl` (no jitter: the caller asked for
    /// this deadline); true if the key exists.
    pub async fn expire(&self, key: impl AsRef<[u8]>, ttl: Duration) -> Result<bool> {
        let key = key.as_ref();
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        let mut cmd = redis::cmd("PEXPIRE");
        cmd.arg(key).arg(ttl_millis(ttl, key)?);
        inner.own_write(key);
        let reply = inner.timed(Op::Expire, key, inner.backend.query(key, &cmd)).await?;
        Ok(int_reply(reply, "PEXPIRE")? == 1)
    }

    /// The remaining time to live of `key`, from Redis.
    pub async fn ttl(&self, key: impl AsRef<[u8]>) -> Result<Ttl> {
        let key = key.as_ref();
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        let reply = inner.timed(Op::Ttl, key, inner.backend.query_read(key, redis::cmd("PTTL").arg(key))).await?;
        Ok(Ttl::from_pttl(int_reply(reply, "PTTL")?))
    }

    /// One field of a hash (decompressed like `get`). Not cached in L1 yet.
    pub async fn hget(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        let reply = inner
            .timed(Op::HGet, key, inner.backend.query_read(key, redis::cmd("HGET").arg(key).arg(field.as_ref())))
            .await?;
        inner.decode_value(key, reply)
    }

    /// Several fields of a hash, in order.
    pub async fn hmget<F: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[F]) -> Result<Vec<Option<Bytes>>> {
        let key = key.as_ref();
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        if fields.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(key);
        for field in fields {
            cmd.arg(field.as_ref());
        }
        match inner.timed(Op::HMGet, key, inner.backend.query_read(key, &cmd)).await? {
            Value::Array(items) => items.into_iter().map(|v| inner.decode_value(key, v)).collect(),
            other => Err(unexpected("HMGET", &other)),
        }
    }

    /// Every field of a hash, in the server's order.
    pub async fn hgetall(&self, key: impl AsRef<[u8]>) -> Result<Vec<(Bytes, Bytes)>> {
        let key = key.as_ref();
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        let reply =
            inner.timed(Op::HGetAll, key, inner.backend.query_read(key, redis::cmd("HGETALL").arg(key))).await?;
        let pairs: Vec<(Value, Value)> = match reply {
            Value::Map(pairs) => pairs,
            Value::Array(flat) => {
                let mut it = flat.into_iter();
                let mut pairs = Vec::new();
                while let (Some(f), Some(v)) = (it.next(), it.next()) {
                    pairs.push((f, v));
                }
                pairs
            }
            other => return Err(unexpected("HGETALL", &other)),
        };
        pairs
            .into_iter()
            .map(|(f, v)| {
                let field = bulk(f, "HGETALL")?;
                let value = inner.decode_value(key, v)?.unwrap_or_default();
                Ok((field, value))
            })
            .collect()
    }

    /// Sets hash fields; returns how many were new.
    pub async fn hset<F: AsRef<[u8]>, V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[(F, V)]) -> Result<u64> {
        let key = key.as_ref();
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        if fields.is_empty() {
            return Err(Error::invalid("HSET: no fields given"));
        }
        let mut cmd = redis::cmd("HSET");
        cmd.arg(key);
        for (field, value) in fields {
            cmd.arg(field.as_ref()).arg(inner.encode(key, value.as_ref())?.as_bytes());
        }
        inner.own_write(key);
        let reply = inner.timed(Op::HSet, key, inner.backend.query(key, &cmd)).await?;
        int_reply(reply, "HSET").map(|n| n.max(0) as u64)
    }

    /// Deletes hash fields; returns how many existed.
    pub async fn hdel<F: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[F]) -> Result<u64> {
        let key = key.as_ref();
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        if fields.is_empty() {
            return Ok(0);
        }
        let mut cmd = redis::cmd("HDEL");
        cmd.arg(key);
        for field in fields {
            cmd.arg(field.as_ref());
        }
        inner.own_write(key);
        let reply = inner.timed(Op::HDel, key, inner.backend.query(key, &cmd)).await?;
        int_reply(reply, "HDEL").map(|n| n.max(0) as u64)
    }

    /// The value of `key`, or, when Redis has none, the value `loader`
    /// produces, which is written to Redis (with `ttl`) and returned.
    /// Concurrent callers for one key in this process run the loader once
    /// and share its result. A loader error is returned as
    /// [`ErrorKind::Loader`] with the loader's error as its cause.
    pub async fn get_or_load<F, Fut, E>(&self, key: impl AsRef<[u8]>, ttl: Option<Duration>, loader: F) -> Result<Bytes>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Bytes, E>>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.load(key.as_ref(), ttl, loader, false).await
    }

    /// [`Cache::get_or_load`] for callers that already asked
    /// [`Cache::get_local`] and got no value (the blocking facade, the
    /// bindings): the first read skips L1, so that the lookup is counted once
    /// in [`Stats`], as [`Cache::get_after_miss`] does for `get`.
    pub async fn get_or_load_after_miss<F, Fut, E>(
        &self,
        key: impl AsRef<[u8]>,
        ttl: Option<Duration>,
        loader: F,
    ) -> Result<Bytes>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Bytes, E>>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.load(key.as_ref(), ttl, loader, true).await
    }

    async fn load<F, Fut, E>(&self, key: &[u8], ttl: Option<Duration>, loader: F, looked_up: bool) -> Result<Bytes>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Bytes, E>>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let mut loader = Some(loader);
        let mut skip_local = looked_up;
        loop {
            let found =
                if std::mem::take(&mut skip_local) { self.get_after_miss(key).await? } else { self.get(key).await? };
            if let Some(value) = found {
                return Ok(value);
            }
            let owned = Bytes::copy_from_slice(key);
            match self.inner.loads.join(&owned) {
                Join::Follower(follower) => {
                    self.inner.recorder.counters.single_flight_joins.fetch_add(1, Ordering::Relaxed);
                    if let Some(result) = follower.wait().await {
                        if let Some(value) = result? {
                            return Ok(value);
                        }
                    }
                }
                Join::Leader(guard) => {
                    let Some(load) = loader.take() else {
                        return Err(Error::internal("get_or_load: loader already used"));
                    };
                    self.inner.recorder.counters.loader_calls.fetch_add(1, Ordering::Relaxed);
                    let result = match load().await {
                        Ok(value) => {
                            let options = ttl.map(SetOptions::ttl).unwrap_or_default();
                            self.set(key, &value, options).await.map(|_| Some(value))
                        }
                        Err(e) => {
                            let cause = e.into();
                            let err =
                                Error::new(ErrorKind::Loader, format!("loader for {} failed: {cause}", show_key(key)));
                            Err(self.inner.count(err.with_source(cause)))
                        }
                    };
                    guard.complete(share(&result), || {});
                    return match result {
                        Ok(Some(value)) => Ok(value),
                        Ok(None) => Err(Error::internal("get_or_load: loader produced no value")),
                        Err(e) => Err(e),
                    };
                }
            }
        }
    }

    /// Drops `keys` from this process's L1 (Redis is untouched).
    pub fn invalidate_local<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<()> {
        self.inner.check_usable()?;
        // All checked first: an error leaves L1 as it was.
        for key in keys {
            check_key(key.as_ref())?;
        }
        for key in keys {
            self.inner.local.invalidate(key.as_ref());
        }
        Ok(())
    }

    /// Drops every entry of this process's L1.
    pub fn invalidate_local_all(&self) -> Result<()> {
        self.inner.check_usable()?;
        self.inner.local.flush(FlushCause::Manual);
        Ok(())
    }

    /// Iterates over keys matching `pattern` (a Redis glob; all keys if
    /// `None`) with `SCAN`, never `KEYS`. Keys may repeat, as SCAN guarantees
    /// only that every key present throughout the scan is returned.
    pub fn scan(&self, pattern: Option<&[u8]>) -> Scan {
        Scan {
            cache: self.clone(),
            pattern: pattern.map(Bytes::copy_from_slice),
            cursor: 0,
            nodes: None,
            node: 0,
            finished: false,
            pending: std::collections::VecDeque::new(),
        }
    }

    /// Deletes every key starting with `prefix` (SCAN + UNLINK in batches)
    /// and drops them from L1; returns how many were deleted. Keys created
    /// during the sweep may survive, as with any SCAN.
    pub async fn delete_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<u64> {
        let prefix = prefix.as_ref();
        self.inner.check_usable()?;
        if prefix.is_empty() {
            return Err(Error::invalid("delete_prefix: the prefix is empty (use FLUSHDB to clear a database)"));
        }
        let mut pattern = command::glob_escape(prefix);
        pattern.push(b'*');
        let mut scan = self.scan(Some(&pattern));
        let mut deleted = 0;
        while let Some(batch) = scan.next_batch().await? {
            if batch.is_empty() {
                continue;
            }
            let keys: Vec<&[u8]> = batch.iter().map(|key| key.as_ref()).collect();
            for key in &keys {
                self.inner.own_write(key);
            }
            deleted += self.inner.delete_keys("UNLINK", Op::Unlink, &keys).await?;
        }
        self.inner.local.drop_prefix(prefix);
        Ok(deleted)
    }

    /// Sends a raw command on the shared connections; the reply is never
    /// cached or decompressed. Commands that would change or hold the shared
    /// connection are refused with [`ErrorKind::InvalidArgument`]. A write
    /// drops the L1 entries of every key it names before it is sent.
    pub async fn command<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Reply> {
        let inner = &*self.inner;
        inner.check_usable()?;
        let parts: Vec<&[u8]> = args.iter().map(AsRef::as_ref).collect();
        let effect = command::classify(&parts).map_err(|e| inner.count(e))?;
        match effect {
            Effect::Read => {}
            Effect::Write => {
                for arg in &parts[1..] {
                    if !arg.is_empty() && arg.len() <= MAX_KEY_LEN {
                        inner.own_write(arg);
                    }
                }
            }
            Effect::Flush => inner.local.flush(FlushCause::Manual),
        }
        let mut cmd = Cmd::new();
        for part in &parts {
            cmd.arg(*part);
        }
        // Routed by the first argument when there is one (the key of nearly
        // every command); keyless commands go to the `[redis]` deployment.
        // FLUSHALL / FLUSHDB empty every master of every deployment, as the
        // caller emptied all of L1.
        let reply = match (effect, parts.get(1).copied()) {
            (Effect::Flush, _) if inner.backend.is_sharded() => {
                inner.timed(Op::Command, b"", inner.backend.query_every_master(&cmd)).await?
            }
            (_, Some(key)) => inner.timed(Op::Command, key, inner.backend.query(key, &cmd)).await?,
            (_, None) => inner.timed(Op::Command, b"", inner.backend.query_keyless(&cmd)).await?,
        };
        Ok(Reply::from_value(reply))
    }

    /// A snapshot of the counters, latencies, slow log and hot keys.
    pub fn stats(&self) -> Stats {
        let inner = &*self.inner;
        let store = &inner.local.store;
        let c = store.counters();
        let mut stats = inner.recorder.snapshot(L1Snapshot {
            hits: c.hits,
            misses: c.misses,
            negative_hits: c.negative_hits,
            entries: store.entry_count(),
            bytes: store.weighted_size(),
            max_bytes: if inner.local.enabled() { inner.config.l1.max_bytes } else { 0 },
            evictions: c.evictions,
            rejected_too_big: c.rejected_too_big,
        });
        stats.deployments = inner.backend.stats();
        stats
    }

    /// The stats in the Prometheus text format.
    pub fn stats_prometheus(&self) -> String {
        self.stats().to_prometheus()
    }

    /// Closes the connections and empties L1. Every later call returns
    /// [`ErrorKind::Closed`]; closing twice is fine. Clones share the state.
    pub fn close(&self) {
        let inner = &*self.inner;
        if inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        inner.backend.close();
        inner.local.flush(FlushCause::Manual);
    }

    /// `Ok` while the cache can be used; [`ErrorKind::Closed`] after
    /// [`Cache::close`] or in a process forked after the cache was created.
    /// Every method checks this itself; bindings call it before they spawn a
    /// method's future on the runtime, so that a forked child gets the error
    /// at once instead of a future that no thread will ever poll.
    pub fn check_usable(&self) -> Result<()> {
        self.inner.check_usable()
    }

    /// Whether [`Cache::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }
}

#[cfg(any(test, feature = "test-util"))]
impl Cache {
    /// Test hook (feature `test-util`): the next fill of `key` stops after
    /// its reply arrived and before its L1 insert, until the gate is opened.
    pub fn hold_next_fill(&self, key: &[u8]) -> Arc<crate::testing::FillGate> {
        let gate = Arc::new(crate::testing::FillGate::new(key));
        *self.inner.fill_gate.lock() = Some(Arc::clone(&gate));
        gate
    }
}

impl Inner {
    #[cfg(any(test, feature = "test-util"))]
    async fn wait_at_gate(&self, key: &[u8]) {
        let gate = {
            let mut slot = self.fill_gate.lock();
            match slot.as_ref() {
                Some(gate) if gate.key.as_ref() == key => slot.take(),
                _ => None,
            }
        };
        if let Some(gate) = gate {
            gate.hold().await;
        }
    }

    #[inline]
    fn check_usable(&self) -> Result<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(Error::closed());
        }
        if self.fork_generation != crate::runtime::fork_generation() {
            return Err(Error::new(
                ErrorKind::Closed,
                "this cache was created before fork(); its connections belong to the parent process: create a new cache in the child",
            ));
        }
        Ok(())
    }

    /// Counts a returned error by kind, and passes it on.
    fn count(&self, err: Error) -> Error {
        self.recorder.error(err.kind());
        err
    }

    /// Times a Redis round trip, records it, and counts its error.
    async fn timed<T>(&self, op: Op, key: &[u8], work: impl Future<Output = Result<T>>) -> Result<T> {
        let started = Instant::now();
        let result = work.await;
        self.recorder.latency(op, started.elapsed(), key);
        result.map_err(|e| self.count(e.context(format!("{} {}", op.name().to_uppercase(), show_key(key)))))
    }

    fn encode<'a>(&self, key: &[u8], value: &'a [u8]) -> Result<crate::codec::Encoded<'a>> {
        let max = self.config.compression.max_value_size;
        if value.len() as u64 > max {
            return Err(self.count(Error::invalid(format!(
                "value for {} is {} bytes; compression.max_value_size is {max}",
                show_key(key),
                value.len()
            ))));
        }
        if value.len() as u64 >= self.config.observability.big_value_warn {
            self.recorder.counters.big_values.fetch_add(1, Ordering::Relaxed);
        }
        let encoded = self.codec.encode(value);
        if encoded.is_compressed() {
            self.recorder.counters.compressed_writes.fetch_add(1, Ordering::Relaxed);
            self.recorder.counters.compression_bytes_saved.fetch_add(encoded.bytes_saved() as u64, Ordering::Relaxed);
        }
        Ok(encoded)
    }

    fn decode_value(&self, key: &[u8], value: Value) -> Result<Option<Bytes>> {
        match value {
            Value::Nil => Ok(None),
            Value::BulkString(raw) => self
                .codec
                .decode(Bytes::from(raw))
                .map(Some)
                .map_err(|e| self.count(e.context(format!("value of {}", show_key(key))))),
            other => Err(self.count(unexpected("GET", &other))),
        }
    }

    /// Rule 3: a process reads its own writes. The entry and any pending
    /// fill are dropped before the write is sent.
    fn own_write(&self, key: &[u8]) {
        self.local.drop_key(key);
    }

    /// Whether a read of `key` may fill L1: L1 is on, no prefix rule says
    /// `cache = false`, and (in `bcast` mode) the key is under a prefix the
    /// server reports on.
    fn cacheable(&self, key: &[u8]) -> bool {
        self.local.enabled()
            && self.config.l1.rule_for(key).is_none_or(|rule| rule.cache)
            && tracking::covered(&self.config.l1, key)
    }

    /// How long a fill may live in L1: the prefix rule's TTL or `l1.ttl`
    /// (`negative_ttl` for a cached absence), jittered down, and never past
    /// the key's own TTL in Redis (rule 7). `None`: do not cache.
    fn l1_ttl(&self, key: &[u8], absent: bool, redis_ttl: Ttl) -> Option<Duration> {
        let l1 = &self.config.l1;
        let rule_ttl = l1.rule_for(key).and_then(|r| r.ttl);
        let ttl = if absent {
            rule_ttl.map_or(l1.negative_ttl, |t| t.min(l1.negative_ttl))
        } else {
            rule_ttl.unwrap_or(l1.ttl)
        };
        let ttl = match (absent, redis_ttl) {
            (false, Ttl::Expires(left)) => ttl.min(left),
            // The value was read, but the key was gone by the PTTL: it just expired.
            (false, Ttl::Missing) => return None,
            _ => ttl,
        };
        (!ttl.is_zero()).then(|| jitter(ttl, l1.ttl_jitter))
    }

    /// Inserts a fill if its guard is still live (no invalidation since it
    /// was registered), and counts the outcome.
    fn complete_fill(&self, guard: FillGuard<'_>, key: &Bytes, epoch: u64, found: &(Option<Bytes>, Ttl)) {
        let (value, redis_ttl) = found;
        let ttl = self.l1_ttl(key, value.is_none(), *redis_ttl);
        let mut inserted = false;
        let live = guard.complete(Ok(value.clone()), || {
            if let Some(ttl) = ttl {
                let now = self.local.clock.now();
                let entry = NewEntry {
                    key: key.clone(),
                    value: value.clone(),
                    expires_at: now.saturating_add(duration_nanos(ttl)),
                    epoch,
                };
                inserted = self.local.store.insert(entry, now);
            }
        });
        let counters = &self.recorder.counters;
        if !live {
            counters.fills_discarded.fetch_add(1, Ordering::Relaxed);
        } else if inserted {
            counters.fills.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Splits `keys` (by index, order kept) into groups that one multi-key
    /// command can serve: same deployment and, in a cluster, same slot.
    fn groups(&self, keys: &[&[u8]]) -> Vec<Vec<usize>> {
        if !self.backend.is_sharded() {
            return vec![(0..keys.len()).collect()];
        }
        let mut groups: Vec<(u32, Vec<usize>)> = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let group = self.backend.group_of(key);
            match groups.iter_mut().find(|(g, _)| *g == group) {
                Some((_, members)) => members.push(i),
                None => groups.push((group, vec![i])),
            }
        }
        groups.into_iter().map(|(_, members)| members).collect()
    }

    /// `DEL` / `UNLINK` of `keys`, one command per group, concurrently;
    /// returns how many existed.
    async fn delete_keys(&self, command: &'static str, op: Op, keys: &[&[u8]]) -> Result<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        let deletes = self.groups(keys).into_iter().map(|group| async move {
            let first = keys[group[0]];
            let mut cmd = redis::cmd(command);
            for &i in &group {
                cmd.arg(keys[i]);
            }
            let reply = self.timed(op, first, self.backend.query(first, &cmd)).await?;
            int_reply(reply, command).map(|n| n.max(0) as u64)
        });
        Ok(futures_util::future::try_join_all(deletes).await?.into_iter().sum())
    }

    /// A miss: one round trip per key however many callers want it, and a
    /// guarded L1 fill.
    async fn fetch(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let result = self.fetch_fresh(key).await;
        match result {
            Err(e) if e.kind().is_retryable() => match self.local.stale(key) {
                Some(value) => Ok(value),
                None => Err(e),
            },
            other => other,
        }
    }

    async fn fetch_fresh(&self, key: &[u8]) -> Result<Option<Bytes>> {
        if !self.cacheable(key) {
            return self.read(key).await;
        }
        let owned = Bytes::copy_from_slice(key);
        loop {
            match self.local.fills.join(&owned) {
                Join::Leader(guard) => {
                    // Read before the request is sent: a connection lost
                    // after this point hides whatever this fill inserts.
                    let epoch = self.local.epoch();
                    return match self.read_with_ttl(key).await {
                        Ok(found) => {
                            #[cfg(any(test, feature = "test-util"))]
                            self.wait_at_gate(key).await;
                            self.complete_fill(guard, &owned, epoch, &found);
                            Ok(found.0)
                        }
                        Err(e) => {
                            guard.complete(Err((e.kind(), e.message().to_owned())), || {});
                            Err(e)
                        }
                    };
                }
                Join::Follower(follower) => {
                    self.recorder.counters.single_flight_joins.fetch_add(1, Ordering::Relaxed);
                    if let Some(result) = follower.wait().await {
                        return result;
                    }
                    // The leader was cancelled: start over.
                }
            }
        }
    }

    /// `GET` from Redis, decompressed (for keys L1 does not hold).
    async fn read(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let reply = self.timed(Op::Get, key, self.backend.query_read(key, redis::cmd("GET").arg(key))).await?;
        self.decode_value(key, reply)
    }

    /// `GET` and `PTTL` in one round trip, so the fill can be capped by the
    /// key's own TTL.
    async fn read_with_ttl(&self, key: &[u8]) -> Result<(Option<Bytes>, Ttl)> {
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(key).cmd("PTTL").arg(key);
        let replies = self.timed(Op::Get, key, self.backend.query_pipeline_read(key, &pipe)).await?;
        let mut replies = replies.into_iter();
        let (Some(value), Some(pttl)) = (replies.next(), replies.next()) else {
            return Err(self.count(Error::new(ErrorKind::Redis, "GET + PTTL: expected two replies")));
        };
        Ok((self.decode_value(key, value)?, Ttl::from_pttl(int_reply(pttl, "PTTL")?)))
    }

    /// `MGET` for keys L1 could not answer: one per group (hash slot and
    /// deployment), sent concurrently.
    async fn fetch_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>> {
        if !self.backend.is_sharded() {
            return self.fetch_group(keys).await;
        }
        let groups = self.groups(keys);
        let fetches = groups.iter().map(|group| async move {
            let members: Vec<&[u8]> = group.iter().map(|&i| keys[i]).collect();
            self.fetch_group(&members).await
        });
        let fetched = futures_util::future::try_join_all(fetches).await?;
        let mut out = vec![None; keys.len()];
        for (group, values) in groups.iter().zip(fetched) {
            for (&i, value) in group.iter().zip(values) {
                out[i] = value;
            }
        }
        Ok(out)
    }

    /// `MGET` (with a `PTTL` per key, same round trip) for keys that share
    /// one group, with fill tokens for each.
    async fn fetch_group(&self, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>> {
        let owned: Vec<Bytes> = keys.iter().map(|k| Bytes::copy_from_slice(k)).collect();
        // Followers are not awaited: joining would serialise this MGET behind
        // other flights, so a key already in flight is read without a fill.
        let guards: Vec<Option<FillGuard<'_>>> = owned
            .iter()
            .map(|k| match self.cacheable(k) {
                true => match self.local.fills.join(k) {
                    Join::Leader(guard) => Some(guard),
                    Join::Follower(_) => None,
                },
                false => None,
            })
            .collect();
        let epoch = self.local.epoch();
        let mut pipe = redis::pipe();
        pipe.cmd("MGET");
        for key in keys {
            pipe.arg(*key);
        }
        for (key, guard) in keys.iter().zip(&guards) {
            if guard.is_some() {
                pipe.cmd("PTTL").arg(*key);
            }
        }
        let replies = match self.timed(Op::GetMany, keys[0], self.backend.query_pipeline_read(keys[0], &pipe)).await {
            Ok(replies) => self.parse_mget(keys, &guards, replies),
            Err(e) => Err(e),
        };
        let (values, ttls) = match replies {
            Ok(parsed) => parsed,
            Err(e) => {
                for guard in guards.into_iter().flatten() {
                    guard.complete(Err((e.kind(), e.message().to_owned())), || {});
                }
                return Err(e);
            }
        };
        let mut ttls = ttls.into_iter();
        for ((guard, key), value) in guards.into_iter().zip(&owned).zip(&values) {
            if let Some(guard) = guard {
                let redis_ttl = ttls.next().unwrap_or(Ttl::Missing);
                self.complete_fill(guard, key, epoch, &(value.clone(), redis_ttl));
            }
        }
        Ok(values)
    }

    /// Splits the MGET + PTTL replies into values and the TTLs of the keys
    /// that have a fill guard.
    fn parse_mget(
        &self,
        keys: &[&[u8]],
        guards: &[Option<FillGuard<'_>>],
        replies: Vec<Value>,
    ) -> Result<(Vec<Option<Bytes>>, Vec<Ttl>)> {
        let mut replies = replies.into_iter();
        let values = match replies.next() {
            Some(Value::Array(items)) if items.len() == keys.len() => {
                items.into_iter().zip(keys).map(|(v, key)| self.decode_value(key, v)).collect::<Result<Vec<_>>>()?
            }
            other => return Err(self.count(unexpected("MGET", &other.unwrap_or_default()))),
        };
        let wanted = guards.iter().filter(|g| g.is_some()).count();
        let ttls =
            replies.take(wanted).map(|v| int_reply(v, "PTTL").map(Ttl::from_pttl)).collect::<Result<Vec<_>>>()?;
        if ttls.len() != wanted {
            return Err(self.count(Error::new(ErrorKind::Redis, "MGET + PTTL: missing replies")));
        }
        Ok((values, ttls))
    }
}

/// An iterator over `SCAN`, created by [`Cache::scan`].
pub struct Scan {
    cache: Cache,
    pattern: Option<Bytes>,
    cursor: u64,
    /// The servers to scan, one after the other (every master of every
    /// deployment), fetched on the first step.
    nodes: Option<Vec<Arc<crate::conn::Pool>>>,
    /// The server being scanned.
    node: usize,
    finished: bool,
    pending: std::collections::VecDeque<Bytes>,
}

impl Scan {
    /// The next key, or `None` when the scan is complete.
    pub async fn next(&mut self) -> Result<Option<Bytes>> {
        loop {
            if let Some(key) = self.pending.pop_front() {
                return Ok(Some(key));
            }
            match self.next_batch().await? {
                Some(batch) => self.pending.extend(batch),
                None => return Ok(None),
            }
        }
    }

    /// The next batch of keys from one SCAN step (possibly empty), or `None`
    /// when the scan is complete.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<Bytes>>> {
        if self.finished {
            return Ok(None);
        }
        let inner = &*self.cache.inner;
        inner.check_usable()?;
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(self.cursor);
        if let Some(pattern) = &self.pattern {
            cmd.arg("MATCH").arg(pattern.as_ref());
        }
        cmd.arg("COUNT").arg(SCAN_COUNT);
        let key = self.pattern.as_deref().unwrap_or_default();
        if self.nodes.is_none() {
            self.nodes = Some(inner.timed(Op::Scan, key, inner.backend.masters()).await?);
        }
        let Some(pool) = self.nodes.as_ref().and_then(|nodes| nodes.get(self.node)).cloned() else {
            self.finished = true;
            return Ok(None);
        };
        let reply = inner.timed(Op::Scan, key, pool.query_read(&cmd)).await?;
        let Value::Array(mut parts) = reply else { return Err(unexpected("SCAN", &reply)) };
        if parts.len() != 2 {
            return Err(Error::new(ErrorKind::Redis, "SCAN: expected [cursor, keys]"));
        }
        let keys = parts.pop().unwrap_or_default();
        let cursor = bulk(parts.pop().unwrap_or_default(), "SCAN")?;
        self.cursor = std::str::from_utf8(&cursor)
            .ok()
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| Error::new(ErrorKind::Redis, "SCAN: the cursor is not a number"))?;
        if self.cursor == 0 {
            // This server is done; the next step starts on the next one.
            self.node += 1;
            self.finished = self.nodes.as_ref().is_none_or(|nodes| self.node >= nodes.len());
        }
        let Value::Array(keys) = keys else { return Err(unexpected("SCAN", &keys)) };
        keys.into_iter().map(|k| bulk(k, "SCAN")).collect::<Result<Vec<_>>>().map(Some)
    }
}

/// Whether to time this L1 lookup: one in `L1_SAMPLE_MASK + 1` per thread.
/// A thread-local counter, because a shared one would put a contended
/// atomic on every hit.
#[inline]
fn sample_this_lookup() -> bool {
    thread_local! {
        static LOOKUPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    LOOKUPS.with(|n| {
        let next = n.get().wrapping_add(1);
        n.set(next);
        next & L1_SAMPLE_MASK == 0
    })
}

#[inline]
fn check_key(key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid("the key is empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::invalid(format!("the key is {} bytes; keys are limited to {MAX_KEY_LEN} bytes", key.len())));
    }
    Ok(())
}

fn ttl_millis(ttl: Duration, key: &[u8]) -> Result<u64> {
    let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return Err(Error::invalid(format!(
            "TTL for {} is {ttl:?}; Redis needs at least 1 ms (use delete to remove a key)",
            show_key(key)
        )));
    }
    Ok(ms)
}

/// A key for messages: UTF-8 shown as is (truncated), binary as a length.
pub(crate) fn show_key(key: &[u8]) -> String {
    const SHOWN: usize = 64;
    match std::str::from_utf8(&key[..key.len().min(SHOWN)]) {
        Ok(s) if key.len() > SHOWN => format!("{s:?}... ({} bytes)", key.len()),
        Ok(s) => format!("{s:?}"),
        Err(_) => format!("<{} binary bytes>", key.len()),
    }
}

fn int_reply(value: Value, command: &str) -> Result<i64> {
    match value {
        Value::Int(n) => Ok(n),
        other => Err(unexpected(command, &other)),
    }
}

fn bulk(value: Value, command: &str) -> Result<Bytes> {
    match value {
        Value::BulkString(b) => Ok(Bytes::from(b)),
        Value::SimpleString(s) => Ok(Bytes::from(s)),
        other => Err(unexpected(command, &other)),
    }
}

fn unexpected(command: &str, value: &Value) -> Error {
    Error::new(ErrorKind::Redis, format!("{command}: unexpected reply {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_messages_are_truncated_and_binary_safe() {
        assert_eq!(show_key(b"user:1"), "\"user:1\"");
        assert_eq!(show_key(&[0xff, 0xfe]), "<2 binary bytes>");
        assert!(show_key(&[b'a'; 100]).ends_with("(100 bytes)"));
    }

    #[test]
    fn keys_are_checked() {
        assert_eq!(check_key(b"").map_err(|e| e.kind()), Err(ErrorKind::InvalidArgument));
        assert_eq!(check_key(&vec![b'k'; MAX_KEY_LEN + 1]).map_err(|e| e.kind()), Err(ErrorKind::InvalidArgument));
        assert!(check_key(b"k").is_ok());
    }

    #[test]
    fn zero_ttl_is_refused() {
        assert_eq!(ttl_millis(Duration::ZERO, b"k").map_err(|e| e.kind()), Err(ErrorKind::InvalidArgument));
        assert_eq!(ttl_millis(Duration::from_micros(1500), b"k").ok(), Some(1));
    }
}
