//! Counters, latency histograms, the client-side slow log and the hot-key
//! sketch, and their snapshot ([`Stats`]) in plain data and Prometheus text.
//!
//! Everything here is lock-free on the paths that run per command, except
//! the slow log (only slow commands reach it) and the hot-key sketch (fed by
//! one L1 hit in 64).

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;

use crate::error::ErrorKind;

/// The commands nearcache times separately. `L1` is the in-process lookup
/// (sampled, see [`L1_SAMPLE_MASK`]); the others are Redis round trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Op {
    L1,
    Get,
    GetMany,
    Set,
    SetMany,
    Delete,
    Expire,
    Ttl,
    HGet,
    HMGet,
    HGetAll,
    HSet,
    HDel,
    Scan,
    Unlink,
    Command,
    Connect,
    /// A cached read other than `GET` and the hash reads above
    /// (`Cache::read` and the typed helpers built on it).
    Read,
    /// A typed write other than the verbs above (`incr`, `sadd`, ...).
    Write,
}

impl Op {
    const ALL: [Op; 19] = [
        Op::L1,
        Op::Get,
        Op::GetMany,
        Op::Set,
        Op::SetMany,
        Op::Delete,
        Op::Expire,
        Op::Ttl,
        Op::HGet,
        Op::HMGet,
        Op::HGetAll,
        Op::HSet,
        Op::HDel,
        Op::Scan,
        Op::Unlink,
        Op::Command,
        Op::Connect,
        Op::Read,
        Op::Write,
    ];

    pub(crate) const fn name(self) -> &'static str {
        match self {
            Op::L1 => "l1_get",
            Op::Get => "get",
            Op::GetMany => "get_many",
            Op::Set => "set",
            Op::SetMany => "set_many",
            Op::Delete => "delete",
            Op::Expire => "expire",
            Op::Ttl => "ttl",
            Op::HGet => "hget",
            Op::HMGet => "hmget",
            Op::HGetAll => "hgetall",
            Op::HSet => "hset",
            Op::HDel => "hdel",
            Op::Scan => "scan",
            Op::Unlink => "unlink",
            Op::Command => "command",
            Op::Connect => "connect",
            Op::Read => "read",
            Op::Write => "write",
        }
    }
}

/// One L1 lookup in this many is timed: two clock reads would double the
/// cost of a hit.
pub(crate) const L1_SAMPLE_MASK: u64 = 1023;

/// Log-linear histogram of nanoseconds: 8 sub-buckets per power of two, so
/// a reported percentile is within 12.5 % of the true value.
pub(crate) struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_nanos: AtomicU64,
    max_nanos: AtomicU64,
}

const SUB_BITS: u32 = 3;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB as usize;

impl Histogram {
    fn new() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
            max_nanos: AtomicU64::new(0),
        }
    }

    fn index(nanos: u64) -> usize {
        if nanos < SUB {
            return nanos as usize;
        }
        let msb = 63 - nanos.leading_zeros();
        let shift = msb - SUB_BITS;
        let sub = (nanos >> shift) & (SUB - 1);
        ((shift + 1) as usize) * SUB as usize + sub as usize
    }

    /// The largest value that falls in bucket `index`.
    fn upper_bound(index: usize) -> u64 {
        let index = index as u64;
        if index < SUB {
            return index;
        }
        let shift = index / SUB - 1;
        let sub = index % SUB;
        ((SUB + sub + 1) << shift).saturating_sub(1)
    }

    pub(crate) fn record(&self, d: Duration) {
        let nanos = crate::clock::duration_nanos(d);
        self.buckets[Self::index(nanos).min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.max_nanos.fetch_max(nanos, Ordering::Relaxed);
    }

    fn summary(&self) -> Option<LatencySummary> {
        let count = self.count.load(Ordering::Relaxed);
        if count == 0 {
            return None;
        }
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        let quantile = |q: f64| -> f64 {
            let rank = ((total as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return Self::upper_bound(i) as f64 / 1000.0;
                }
            }
            self.max_nanos.load(Ordering::Relaxed) as f64 / 1000.0
        };
        let max_us = self.max_nanos.load(Ordering::Relaxed) as f64 / 1000.0;
        Some(LatencySummary {
            count,
            mean_us: self.sum_nanos.load(Ordering::Relaxed) as f64 / count as f64 / 1000.0,
            p50_us: quantile(0.50).min(max_us),
            p99_us: quantile(0.99).min(max_us),
            p999_us: quantile(0.999).min(max_us),
            max_us,
        })
    }
}

/// The Space-Saving top-k sketch: a bounded table of candidate hot keys.
/// Fed by sampled L1 hits and by misses; reports approximate counts.
pub(crate) struct HotKeys {
    capacity: usize,
    table: Mutex<Vec<(Vec<u8>, u64)>>,
}

/// Keys longer than this are truncated in the sketch (memory, and readability).
const HOT_KEY_MAX_LEN: usize = 128;

impl HotKeys {
    pub(crate) fn new(capacity: usize) -> Self {
        HotKeys { capacity, table: Mutex::new(Vec::with_capacity(capacity)) }
    }

    pub(crate) fn record(&self, key: &[u8]) {
        if self.capacity == 0 {
            return;
        }
        let key = &key[..key.len().min(HOT_KEY_MAX_LEN)];
        let mut table = self.table.lock();
        if let Some(slot) = table.iter_mut().find(|(k, _)| k.as_slice() == key) {
            slot.1 += 1;
        } else if table.len() < self.capacity {
            table.push((key.to_vec(), 1));
        } else if let Some(min) = table.iter_mut().min_by_key(|(_, c)| *c) {
            // Space-Saving: the newcomer inherits the evicted minimum's count.
            *min = (key.to_vec(), min.1 + 1);
        }
    }

    fn top(&self) -> Vec<HotKey> {
        let mut keys: Vec<HotKey> = self
            .table
            .lock()
            .iter()
            .map(|(k, c)| HotKey { key: String::from_utf8_lossy(k).into_owned(), count: *c })
            .collect();
        keys.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        keys
    }
}

/// Recent commands slower than `observability.slow_threshold`.
///
/// Under overload every command is slow; recording each would put a mutex
/// and an allocation on every command exactly when the client can least
/// afford it. So every slow command is counted, but at most one per
/// millisecond is written to the log.
struct SlowLog {
    threshold: Duration,
    entries: Mutex<VecDeque<SlowEntry>>,
    count: AtomicU64,
    /// Monotonic microseconds of the last entry written.
    last_written_us: AtomicU64,
    origin: std::time::Instant,
}

const SLOW_LOG_LEN: usize = 128;
const SLOW_LOG_KEY_LEN: usize = 64;

/// Counters for things the L1 store does not count itself.
#[derive(Default)]
pub(crate) struct Counters {
    pub fills: AtomicU64,
    pub fills_discarded: AtomicU64,
    pub invalidations: AtomicU64,
    pub flush_disconnect: AtomicU64,
    pub flush_nil: AtomicU64,
    pub flush_health: AtomicU64,
    pub flush_manual: AtomicU64,
    pub flush_topology: AtomicU64,
    pub flush_partial: AtomicU64,
    /// Entries the partial (per node) flushes dropped.
    pub partial_flush_dropped: AtomicU64,
    pub reconnects: AtomicU64,
    pub compression_bytes_saved: AtomicU64,
    pub compressed_writes: AtomicU64,
    pub big_values: AtomicU64,
    pub stale_served: AtomicU64,
    pub single_flight_joins: AtomicU64,
    pub loader_calls: AtomicU64,
}

/// Everything the cache measures; one per cache.
pub(crate) struct Recorder {
    pub counters: Counters,
    errors: [AtomicU64; ErrorKind::ALL.len()],
    latency: Box<[Histogram]>,
    slow: SlowLog,
    pub hot_keys: std::sync::Arc<HotKeys>,
}

impl Recorder {
    pub(crate) fn new(slow_threshold: Duration, hot_keys: usize) -> Self {
        Recorder {
            counters: Counters::default(),
            errors: Default::default(),
            latency: Op::ALL.iter().map(|_| Histogram::new()).collect(),
            slow: SlowLog {
                threshold: slow_threshold,
                entries: Mutex::new(VecDeque::with_capacity(SLOW_LOG_LEN)),
                count: AtomicU64::new(0),
                last_written_us: AtomicU64::new(0),
                origin: std::time::Instant::now(),
            },
            hot_keys: std::sync::Arc::new(HotKeys::new(hot_keys)),
        }
    }

    pub(crate) fn error(&self, kind: ErrorKind) {
        self.errors[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Records a timed operation; `key` names it in the slow log.
    pub(crate) fn latency(&self, op: Op, elapsed: Duration, key: &[u8]) {
        self.latency[op as usize].record(elapsed);
        if op != Op::L1 && elapsed >= self.slow.threshold {
            self.slow.count.fetch_add(1, Ordering::Relaxed);
            let now_us = self.slow.origin.elapsed().as_micros() as u64;
            let last = self.slow.last_written_us.load(Ordering::Relaxed);
            let due = last == 0 || now_us.saturating_sub(last) >= 1000;
            if !due
                || self
                    .slow
                    .last_written_us
                    .compare_exchange(last, now_us.max(1), Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                return;
            }
            let mut entries = self.slow.entries.lock();
            if entries.len() == SLOW_LOG_LEN {
                entries.pop_front();
            }
            let unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
            entries.push_back(SlowEntry {
                command: op.name(),
                key: String::from_utf8_lossy(&key[..key.len().min(SLOW_LOG_KEY_LEN)]).into_owned(),
                micros: elapsed.as_micros() as u64,
                unix_ms,
            });
        }
    }

    pub(crate) fn snapshot(&self, l1: L1Snapshot) -> Stats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            l1_hits: l1.hits,
            l1_misses: l1.misses,
            l1_negative_hits: l1.negative_hits,
            l1_read_hits: l1.read_hits,
            l1_read_misses: l1.read_misses,
            l1_read_negative_hits: l1.read_negative_hits,
            l1_entries: l1.entries,
            l1_bytes: l1.bytes,
            l1_max_bytes: l1.max_bytes,
            evictions: l1.evictions,
            rejected_too_big: l1.rejected_too_big,
            fills: get(&c.fills),
            fills_discarded: get(&c.fills_discarded),
            invalidations: get(&c.invalidations),
            flushes: Flushes {
                disconnect: get(&c.flush_disconnect),
                nil: get(&c.flush_nil),
                health: get(&c.flush_health),
                manual: get(&c.flush_manual),
                topology: get(&c.flush_topology),
                partial: get(&c.flush_partial),
            },
            partial_flush_dropped: get(&c.partial_flush_dropped),
            reconnects: get(&c.reconnects),
            compression_bytes_saved: get(&c.compression_bytes_saved),
            compressed_writes: get(&c.compressed_writes),
            big_values: get(&c.big_values),
            stale_served: get(&c.stale_served),
            single_flight_joins: get(&c.single_flight_joins),
            loader_calls: get(&c.loader_calls),
            errors: ErrorKind::ALL.iter().map(|k| (k.code(), get(&self.errors[k.index()]))).collect(),
            latency: Op::ALL
                .iter()
                .zip(self.latency.iter())
                .filter_map(|(op, h)| h.summary().map(|s| (op.name(), s)))
                .collect(),
            slow_commands: self.slow.count.load(Ordering::Relaxed),
            slow_log: self.slow.entries.lock().iter().cloned().collect(),
            hot_keys: self.hot_keys.top(),
            deployments: Vec::new(),
        }
    }
}

/// What the L1 store reports for a snapshot.
pub(crate) struct L1Snapshot {
    pub hits: u64,
    pub misses: u64,
    pub negative_hits: u64,
    pub read_hits: u64,
    pub read_misses: u64,
    pub read_negative_hits: u64,
    pub entries: u64,
    pub bytes: u64,
    pub max_bytes: u64,
    pub evictions: u64,
    pub rejected_too_big: u64,
}

/// L1 flushes by cause.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Flushes {
    /// The connection carrying invalidations was lost.
    pub disconnect: u64,
    /// The server sent a nil invalidation (FLUSHALL / FLUSHDB).
    pub nil: u64,
    /// The health ping did not confirm the connection in time.
    pub health: u64,
    /// `invalidate_local` with no keys, or `close`.
    pub manual: u64,
    /// Cluster slots changed master: only their entries were dropped.
    pub topology: u64,
    /// A cluster node's or a route's connection was lost: a partial flush,
    /// of only the entries of the keys read through it.
    pub partial: u64,
}

/// Commands sent to one deployment (`[redis]` or a route).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeploymentStats {
    /// The route's key prefix; empty for `[redis]`.
    pub prefix: String,
    /// `host:port` of the server (the seed node of a cluster); never a password.
    pub endpoint: String,
    /// `"standalone"` or `"cluster"`.
    pub mode: &'static str,
    /// Round trips sent (a pipeline counts once).
    pub commands: u64,
    /// Round trips that failed.
    pub errors: u64,
}

/// Latency of one command, in microseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LatencySummary {
    /// Operations timed.
    pub count: u64,
    /// Mean latency.
    pub mean_us: f64,
    /// Median (bucket upper bound, within 12.5 %).
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest seen.
    pub max_us: f64,
}

/// One entry of the client-side slow log.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SlowEntry {
    /// The operation (`get`, `set`, ...).
    pub command: &'static str,
    /// The first key, lossily decoded and truncated to 64 bytes.
    pub key: String,
    /// How long it took.
    pub micros: u64,
    /// Wall-clock time of completion, milliseconds since the Unix epoch.
    pub unix_ms: u64,
}

/// An approximately hot key and its approximate (sampled) count.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HotKey {
    /// The key, lossily decoded and truncated to 128 bytes.
    pub key: String,
    /// Sampled count (about one hit in 64, plus misses).
    pub count: u64,
}

/// A snapshot of a cache's counters. Plain data: every binding hands it over
/// as a dict / object / JSON text.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stats {
    /// Reads answered by L1 with a value.
    pub l1_hits: u64,
    /// Reads L1 could not answer.
    pub l1_misses: u64,
    /// Reads answered by L1 with a cached absence.
    pub l1_negative_hits: u64,
    /// Cached reads other than `GET` (`hget`, `read`, ...) answered by L1
    /// (the three `l1_*` counters above count `GET` lookups only).
    pub l1_read_hits: u64,
    /// Cached reads other than `GET` that L1 could not answer.
    pub l1_read_misses: u64,
    /// Cached reads other than `GET` answered by L1 with a reply read from a
    /// missing key (a negative entry).
    pub l1_read_negative_hits: u64,
    /// Entries in L1 now.
    pub l1_entries: u64,
    /// Bytes charged to L1: key + decompressed value + a fixed per-entry overhead.
    pub l1_bytes: u64,
    /// The configured bound (0 when L1 is off).
    pub l1_max_bytes: u64,
    /// Entries evicted for space.
    pub evictions: u64,
    /// Fills refused because one entry was larger than `l1.max_bytes`.
    pub rejected_too_big: u64,
    /// Values inserted into L1 after a Redis read.
    pub fills: u64,
    /// Fills dropped because the key was invalidated while the read was in flight.
    pub fills_discarded: u64,
    /// Keys invalidated in L1 (by the server or `invalidate_local`).
    pub invalidations: u64,
    /// L1 flushes by cause (all of L1, or one node's or route's part:
    /// `partial`).
    pub flushes: Flushes,
    /// Entries the `partial` and `topology` flushes dropped (the rest stayed
    /// in L1).
    pub partial_flush_dropped: u64,
    /// Connections re-established after a loss.
    pub reconnects: u64,
    /// Bytes saved by compression on writes.
    pub compression_bytes_saved: u64,
    /// Writes stored compressed.
    pub compressed_writes: u64,
    /// Values written or read above `observability.big_value_warn`.
    pub big_values: u64,
    /// Reads answered with stale data under `stale_if_error`.
    pub stale_served: u64,
    /// Reads that shared another caller's in-flight round trip.
    pub single_flight_joins: u64,
    /// Loader runs in `get_or_load`.
    pub loader_calls: u64,
    /// Errors by code (`NC_TIMEOUT`, ...): failed round trips, corrupt frames,
    /// refused values and raw commands, loader failures. Argument checks on
    /// the L1 path (an empty key, a closed cache) are not counted.
    pub errors: BTreeMap<&'static str, u64>,
    /// Latency per command; `l1_get` is sampled (one lookup in 1024).
    pub latency: BTreeMap<&'static str, LatencySummary>,
    /// Operations slower than `observability.slow_threshold`, all counted.
    pub slow_commands: u64,
    /// Recent slow operations (at most one per millisecond is logged).
    pub slow_log: Vec<SlowEntry>,
    /// Approximately the hottest keys, hottest first.
    pub hot_keys: Vec<HotKey>,
    /// Commands per deployment: `[redis]` first (prefix `""`), then each
    /// `[[routes]]` entry.
    pub deployments: Vec<DeploymentStats>,
}

impl Stats {
    /// L1 hit ratio over all L1 lookups (negative hits count as hits).
    pub fn hit_ratio(&self) -> f64 {
        let hits = self.l1_hits + self.l1_negative_hits;
        let total = hits + self.l1_misses;
        if total == 0 {
            0.0
        } else {
            hits as f64 / total as f64
        }
    }

    /// The snapshot as JSON text (what the C binding returns).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The snapshot in the Prometheus text exposition format.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP nearcache_{name} {help}\n# TYPE nearcache_{name} counter");
            let _ = writeln!(out, "nearcache_{name} {value}");
        };
        counter("l1_hits_total", "L1 lookups answered with a value.", self.l1_hits);
        counter("l1_negative_hits_total", "L1 lookups answered with a cached absence.", self.l1_negative_hits);
        counter("l1_misses_total", "L1 lookups that went to Redis.", self.l1_misses);
        counter("l1_read_hits_total", "Other cached reads answered by L1.", self.l1_read_hits);
        counter(
            "l1_read_negative_hits_total",
            "Other cached reads answered by L1 from a missing key.",
            self.l1_read_negative_hits,
        );
        counter("l1_read_misses_total", "Other cached reads that went to Redis.", self.l1_read_misses);
        counter("l1_evictions_total", "L1 entries evicted for space.", self.evictions);
        counter("fills_total", "Values inserted into L1 after a Redis read.", self.fills);
        counter("fills_discarded_total", "Fills dropped by the invalidation race guard.", self.fills_discarded);
        counter("invalidations_total", "Keys invalidated in L1.", self.invalidations);
        counter("reconnects_total", "Redis reconnections.", self.reconnects);
        counter("compression_bytes_saved_total", "Bytes saved by compression on writes.", self.compression_bytes_saved);
        counter("stale_served_total", "Reads served stale under stale_if_error.", self.stale_served);
        counter("slow_commands_total", "Operations slower than slow_threshold.", self.slow_commands);
        let _ = writeln!(
            out,
            "# HELP nearcache_l1_flushes_total Whole-L1 flushes by cause.\n# TYPE nearcache_l1_flushes_total counter"
        );
        for (cause, value) in [
            ("disconnect", self.flushes.disconnect),
            ("nil", self.flushes.nil),
            ("health", self.flushes.health),
            ("manual", self.flushes.manual),
            ("topology", self.flushes.topology),
        ] {
            let _ = writeln!(out, "nearcache_l1_flushes_total{{cause=\"{cause}\"}} {value}");
        }
        let _ = writeln!(
            out,
            "# HELP nearcache_errors_total Errors returned, by code.\n# TYPE nearcache_errors_total counter"
        );
        for (code, value) in &self.errors {
            let _ = writeln!(out, "nearcache_errors_total{{code=\"{code}\"}} {value}");
        }
        let _ = writeln!(out, "# HELP nearcache_l1_bytes Bytes charged to L1.\n# TYPE nearcache_l1_bytes gauge");
        let _ = writeln!(out, "nearcache_l1_bytes {}", self.l1_bytes);
        let _ = writeln!(out, "# HELP nearcache_l1_entries Entries in L1.\n# TYPE nearcache_l1_entries gauge");
        let _ = writeln!(out, "nearcache_l1_entries {}", self.l1_entries);
        let _ = writeln!(
            out,
            "# HELP nearcache_latency_microseconds Command latency quantiles.\n# TYPE nearcache_latency_microseconds summary"
        );
        for (command, s) in &self.latency {
            for (q, v) in [("0.5", s.p50_us), ("0.99", s.p99_us), ("0.999", s.p999_us)] {
                let _ = writeln!(out, "nearcache_latency_microseconds{{command=\"{command}\",quantile=\"{q}\"}} {v}");
            }
            let _ = writeln!(
                out,
                "nearcache_latency_microseconds_sum{{command=\"{command}\"}} {}",
                s.mean_us * s.count as f64
            );
            let _ = writeln!(out, "nearcache_latency_microseconds_count{{command=\"{command}\"}} {}", s.count);
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_bound_values_within_an_eighth() {
        for v in [0u64, 1, 7, 8, 9, 15, 16, 100, 1_000, 12_345, 1_000_000, 987_654_321, u64::MAX / 2] {
            let i = Histogram::index(v);
            let upper = Histogram::upper_bound(i);
            assert!(upper >= v, "v={v} upper={upper}");
            assert!(upper - v <= v / 8 + 1, "v={v} upper={upper}");
            if i > 0 {
                assert!(Histogram::upper_bound(i - 1) < v, "v={v} falls in the previous bucket");
            }
        }
    }

    #[test]
    fn histogram_quantiles_follow_the_data() {
        let h = Histogram::new();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let s = h.summary().unwrap();
        assert_eq!(s.count, 1000);
        assert!((s.p50_us - 500.0).abs() <= 500.0 / 8.0 + 1.0, "{s:?}");
        assert!((s.p99_us - 990.0).abs() <= 990.0 / 8.0 + 1.0, "{s:?}");
        assert!((s.mean_us - 500.5).abs() < 0.01);
        assert_eq!(s.max_us, 1000.0);
    }

    #[test]
    fn hot_keys_find_the_heavy_hitters() {
        let hot = HotKeys::new(8);
        for i in 0..10_000u32 {
            hot.record(format!("cold:{i}").as_bytes());
            if i % 2 == 0 {
                hot.record(b"hot:a");
            }
            if i % 3 == 0 {
                hot.record(b"hot:b");
            }
        }
        let top = hot.top();
        assert_eq!(top[0].key, "hot:a");
        assert_eq!(top[1].key, "hot:b");
    }

    #[test]
    fn slow_log_keeps_only_slow_commands_and_is_bounded() {
        let rec = Recorder::new(Duration::from_millis(1), 8);
        rec.latency(Op::Get, Duration::from_micros(10), b"fast");
        for _ in 0..(SLOW_LOG_LEN + 10) {
            rec.latency(Op::Get, Duration::from_millis(5), b"slow");
        }
        let stats = rec.snapshot(L1Snapshot {
            hits: 0,
            misses: 0,
            negative_hits: 0,
            read_hits: 0,
            read_misses: 0,
            read_negative_hits: 0,
            entries: 0,
            bytes: 0,
            max_bytes: 0,
            evictions: 0,
            rejected_too_big: 0,
        });
        // Counted every time; logged at most once per millisecond.
        assert_eq!(stats.slow_commands, SLOW_LOG_LEN as u64 + 10);
        assert!(!stats.slow_log.is_empty() && stats.slow_log.len() <= SLOW_LOG_LEN);
        assert!(stats.slow_log.iter().all(|e| e.key == "slow" && e.command == "get"));
        assert_eq!(stats.latency["get"].count, SLOW_LOG_LEN as u64 + 11);
        let text = stats.to_prometheus();
        assert!(text.contains("nearcache_latency_microseconds_count{command=\"get\"} 139"), "{text}");
        assert!(text.contains("nearcache_errors_total{code=\"NC_TIMEOUT\"} 0"));
    }
}
