//! The L1 hit path beside the stores a user could pick instead, in one run:
//! a `RwLock<HashMap>` with foldhash (the floor: no expiry, no bound, no
//! eviction) and moka (a full-featured cache). 1k and 100k keys; one thread,
//! and two threads hitting the same store (nanoseconds per lookup per thread).
//!
//! Every row reads the value's bytes (its length and first byte) where the
//! store lets it: `nearcache` borrows them with `with_local`, the baseline
//! under its read lock. `nearcache_owned` and `hashmap_rwlock_owned` return
//! an owned `Bytes` (a reference-count increment and decrement), as
//! `get_local` and moka do. `nearcache_hget` is a cached `HGET` hit (one
//! field per hash key, through the blocking `hget`: allow-list check, reply
//! slot, lookup, conversion).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use nearcache::testing::TestRedis;
use nearcache::{Invalidation, LocalRef, Lookup};
use parking_lot::RwLock;

const VALUE_LEN: usize = 1024;

fn keys(n: usize) -> Vec<Bytes> {
    (0..n).map(|i| Bytes::from(format!("user:{i:08}"))).collect()
}

/// A fixed pseudo-random visiting order, so every store sees the same reads.
fn order(n: usize) -> Vec<usize> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..(1 << 16))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        })
        .collect()
}

/// What every row does with a value it found: reads its length and first
/// byte, so the bytes are really touched.
#[inline]
fn touch(value: &[u8]) -> usize {
    value.len() + usize::from(value.first().copied().unwrap_or(0))
}

trait Hit: Send + Sync {
    /// `Some(touch(value))` on a hit.
    fn hit(&self, key: &[u8]) -> Option<usize>;
}

type Map = RwLock<HashMap<Bytes, Bytes, foldhash::fast::RandomState>>;

struct Baseline(Arc<Map>);
impl Hit for Baseline {
    fn hit(&self, key: &[u8]) -> Option<usize> {
        self.0.read().get(key).map(|v| touch(v))
    }
}

struct BaselineOwned(Arc<Map>);
impl Hit for BaselineOwned {
    fn hit(&self, key: &[u8]) -> Option<usize> {
        let value = self.0.read().get(key).cloned();
        value.map(|v| touch(&v))
    }
}

struct Moka(moka::sync::Cache<Bytes, Bytes>);
impl Hit for Moka {
    fn hit(&self, key: &[u8]) -> Option<usize> {
        self.0.get(key).map(|v| touch(&v))
    }
}

struct NearcacheHget(nearcache::blocking::Cache);
impl Hit for NearcacheHget {
    fn hit(&self, key: &[u8]) -> Option<usize> {
        self.0.hget(key, b"f").ok().flatten().map(|v| touch(&v))
    }
}

struct Nearcache(Arc<nearcache::blocking::Cache>);
impl Hit for Nearcache {
    fn hit(&self, key: &[u8]) -> Option<usize> {
        self.0
            .with_local(key, |found| match found {
                LocalRef::Hit(v) => Some(touch(v)),
                _ => None,
            })
            .ok()
            .flatten()
    }
}

struct NearcacheOwned(Arc<nearcache::blocking::Cache>);
impl Hit for NearcacheOwned {
    fn hit(&self, key: &[u8]) -> Option<usize> {
        match self.0.get_local(key) {
            Ok(Lookup::Hit(v)) => Some(touch(&v)),
            _ => None,
        }
    }
}

/// Runs `iters` lookups on each of `threads` threads; returns the mean time
/// per lookup per thread.
fn run(store: &Arc<dyn Hit>, keys: &Arc<Vec<Bytes>>, order: &Arc<Vec<usize>>, threads: usize, iters: u64) -> Duration {
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (store, keys, order) = (Arc::clone(store), Arc::clone(keys), Arc::clone(order));
            std::thread::spawn(move || {
                for i in (t * 7919..).take(iters as usize) {
                    let key = &keys[order[i & (order.len() - 1)]];
                    black_box(store.hit(black_box(key)));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    started.elapsed()
}

/// `url` with its database replaced by `db`.
fn database(url: &str, db: u32) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
    let host = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{host}/{db}")
}

fn bench(c: &mut Criterion) {
    // bench/report runs every language's bench against one server it names
    // in NEARCACHE_BENCH_URL; alone, the bench launches its own.
    let (_server, url) = match std::env::var("NEARCACHE_BENCH_URL") {
        Ok(url) => (None, url),
        Err(_) => {
            let redis = TestRedis::start().expect("redis-server");
            let url = redis.url().to_owned();
            (Some(redis), url)
        }
    };
    let value = Bytes::from(vec![b'v'; VALUE_LEN]);
    for n in [1_000usize, 100_000] {
        let keys = Arc::new(keys(n));
        let order = Arc::new(order(n));

        let mut map = HashMap::with_capacity_and_hasher(n, foldhash::fast::RandomState::default());
        let moka = moka::sync::Cache::builder().max_capacity(u64::MAX).time_to_live(Duration::from_secs(600)).build();
        let cache = nearcache::blocking::Cache::builder()
            .url(url.as_str())
            .invalidation(Invalidation::Ttl)
            .l1_ttl(Duration::from_secs(600))
            .l1_max_bytes(1 << 30)
            .build_blocking()
            .unwrap();
        let items: Vec<(Bytes, Bytes)> = keys.iter().map(|k| (k.clone(), value.clone())).collect();
        for chunk in items.chunks(1000) {
            cache.set_many(chunk, None).unwrap();
            let chunk_keys: Vec<&Bytes> = chunk.iter().map(|(k, _)| k).collect();
            cache.get_many(&chunk_keys).unwrap(); // fills L1
        }
        // The same keys as hashes in a second database, one field each.
        let hashes = nearcache::blocking::Cache::builder()
            .url(database(&url, 1))
            .invalidation(Invalidation::Ttl)
            .l1_ttl(Duration::from_secs(600))
            .l1_max_bytes(1 << 30)
            .build_blocking()
            .unwrap();
        for key in keys.iter() {
            hashes.hset(key, &[(b"f", &value)]).unwrap();
            hashes.hget(key, b"f").unwrap(); // fills L1
        }
        // One allocation per value, as values read from Redis have: sharing
        // one allocation would keep its reference count hot in cache and
        // flatter the baselines at 100k keys.
        for key in keys.iter() {
            map.insert(key.clone(), Bytes::from(value.to_vec()));
            moka.insert(key.clone(), Bytes::from(value.to_vec()));
        }
        let (map, cache) = (Arc::new(RwLock::new(map)), Arc::new(cache));
        let stores: [(&str, Arc<dyn Hit>); 6] = [
            ("hashmap_rwlock", Arc::new(Baseline(Arc::clone(&map)))),
            ("hashmap_rwlock_owned", Arc::new(BaselineOwned(map))),
            ("moka", Arc::new(Moka(moka))),
            ("nearcache", Arc::new(Nearcache(Arc::clone(&cache)))),
            ("nearcache_owned", Arc::new(NearcacheOwned(cache))),
            ("nearcache_hget", Arc::new(NearcacheHget(hashes))),
        ];
        for (name, store) in &stores {
            assert!(store.hit(&keys[0]).is_some(), "{name} does not hold the keys");
        }
        for threads in [1usize, 2] {
            let mut group = c.benchmark_group(format!("l1_hit/{n}_keys/{threads}_threads"));
            group.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
            for (name, store) in &stores {
                group.bench_function(BenchmarkId::from_parameter(name), |b| {
                    b.iter_custom(|iters| run(store, &keys, &order, threads, iters))
                });
            }
            group.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
