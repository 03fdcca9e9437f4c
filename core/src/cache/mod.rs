//! The async [`Cache`]: L1 in front of Redis.
//!
//! `Cache` is a handle (an `Arc` of `inner::Inner`); its methods are
//! spread by job: `builder` (construction and `SetOptions`), `local` (the
//! synchronous L1 hit path), `strings` and `hashes` (the verbs), `reads`
//! (the cached reads beyond `GET`: `read`, the fill of any allow-listed
//! read, the pipeline hooks), `typed` (typed helpers on it: `hlen`,
//! `zrange`, ...), `writes` (typed writes: `incr`, `sadd`, ...), `load`
//! (`get_or_load`), `raw` (`command`), `scan` (`Scan`, `delete_prefix`),
//! `ready` ("L1 now or Redis later" for the bindings: [`Ready`]), `work`
//! (calls in flight and the close that waits for them).
//! The shared internals live in `inner` (timing, codec, own writes) and
//! `fetch` (the `GET` miss path and its guarded L1 fill).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::backend::Backend;
use crate::clock::Clock;
use crate::codec::Codec;
use crate::config::Config;
use crate::conn::PoolHooks;
use crate::error::Result;
use crate::fills::Fills;
use crate::health::{self, Health};
use crate::l1::Store;
use crate::stats::{L1Snapshot, Recorder, Stats};
use crate::tracking::{self, FlushCause, Local};

mod batch;
mod builder;
mod fetch;
mod hashes;
mod inner;
mod keys;
mod load;
mod local;
mod pipeline;
mod raw;
mod reads;
mod ready;
mod replies;
mod scan;
mod script;
mod strings;
mod transaction;
mod typed;
mod work;
mod writes;

pub use builder::{CacheBuilder, SetOptions};
use inner::Inner;
pub use pipeline::Pipeline;
pub use ready::{Pending, Ready, ReadyWith};
pub use scan::Scan;
pub use script::Script;
pub use transaction::{Transaction, TransactionRetries};
pub use typed::ZRange;
pub use work::InFlight;

/// The typed helpers' reply decoders, for a binding that gets a raw
/// [`Reply`](crate::Reply) of the same command some other way (a pipeline
/// or transaction queued through a typed method: redis-py applies each
/// command's response callback there too). Each takes the command's name
/// for its error; a reply of another shape is a `Redis` error naming it.
/// RESP2 and RESP3 shapes are both accepted, as the typed helpers accept
/// them.
///
/// ```
/// use nearcache::{decode, Reply};
/// let pairs = Reply::Map(vec![(Reply::Bytes("f".into()), Reply::Bytes("v".into()))]);
/// let decoded = decode::pairs_of("HGETALL", &pairs)?;
/// assert_eq!((&decoded[0].0[..], &decoded[0].1[..]), (&b"f"[..], &b"v"[..]));
/// assert_eq!(decode::maybe_score_of("ZSCORE", &Reply::Bytes("2.5".into()))?, Some(2.5));
/// assert!(decode::count_of("HLEN", &Reply::Nil).is_err());
/// # Ok::<(), nearcache::Error>(())
/// ```
pub mod decode {
    pub use super::replies::{
        bytes_list_of, count_of, flag_of, flags_of, maybe_bytes_list_of, maybe_bytes_of, maybe_count_of,
        maybe_score_of, maybe_scores_of, pairs_of, score_of, scored_of, status_of,
    };
}

/// Keys longer than this are refused: Redis accepts up to 512 MiB, but a key
/// this long is a bug in the caller, and L1 would hold it twice.
pub const MAX_KEY_LEN: usize = 64 * 1024;

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

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("endpoint", &self.inner.backend.name())
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Cache {
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
        let health = Health::new(Arc::clone(&local));
        let hooks = PoolHooks {
            events: Arc::clone(&local) as _,
            watch: Arc::clone(&health) as _,
            handshake: tracking::handshake(&config.l1),
            clock: local.clock.clone(),
        };
        let backend = Backend::new(&config, &recorder, &hooks)?;
        if config.l1.invalidation.uses_server_push() {
            // Health pings bound staleness on half-open connections (rule 5).
            let pings = health::health_loop(Arc::downgrade(&health), config.l1.health_interval);
            crate::runtime::get()?.spawn(pings);
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
                work: Arc::default(),
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
    /// A snapshot of the counters, latencies, slow log and hot keys.
    pub fn stats(&self) -> Stats {
        let inner = &*self.inner;
        let store = &inner.local.store;
        let c = store.counters();
        let mut stats = inner.recorder.snapshot(L1Snapshot {
            hits: c.hits,
            misses: c.misses,
            negative_hits: c.negative_hits,
            read_hits: c.read_hits,
            read_misses: c.read_misses,
            read_negative_hits: c.read_negative_hits,
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
    /// [`ErrorKind::Closed`](crate::ErrorKind::Closed); closing twice is fine. Clones share the state.
    pub fn close(&self) {
        let inner = &*self.inner;
        if inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        inner.backend.close();
        inner.local.flush(FlushCause::Manual);
    }

    /// `Ok` while the cache can be used; [`ErrorKind::Closed`](crate::ErrorKind::Closed) after
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
