//! The Rust side of bench/run.sh: the same workload as bench.c through
//! `nearcache::blocking::Cache` directly, so the C figures have the core's
//! own beside them. Prints `name value` lines:
//!   rust_l1_hit_get_ns        blocking::Cache::get on a hot key (the Bytes dropped)
//!   rust_l1_hit_get_local_ns  Cache::get_local (the L1 lookup alone)
//!   rust_miss_1t_ops          gets answered by Redis, one thread
//!   rust_miss_8t_ops          the same from 8 threads sharing the cache
//!   raw_sync_miss_1t_ops      the same GETs through raw redis-rs's synchronous
//!                             `redis::Connection` (RESP3, one thread): the
//!                             floor of one round trip made by the caller itself
//!   raw_async_miss_1t_ops     the same through raw redis-rs's
//!                             `MultiplexedConnection`, waited for with
//!                             `nearcache::block_on`: the hop to the runtime's
//!                             worker and back, without nearcache's own work
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use nearcache::blocking::Cache;
use nearcache::{Config, Lookup, SetOptions};

const KEYS: usize = 1000;
const VALUE_LEN: usize = 1024;
const ORDER: usize = 1 << 16;
const HIT_ITERS: usize = 2_000_000;
const MISS_ITERS: usize = 5000;
const MISS_THREADS: usize = 8;
const RUNS: usize = 5;

fn open(url: &str, invalidation: &str) -> Cache {
    let config = Config::from_value(serde_json::json!({ "url": url, "l1": { "invalidation": invalidation } })).unwrap();
    Cache::new(config).unwrap()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn miss_worker(cache: &Cache, keys: &[Bytes], order: &[usize], t: usize) {
    for i in 0..MISS_ITERS {
        let key = &keys[order[(t * 7919 + i) & (ORDER - 1)]];
        black_box(cache.get(key).unwrap().unwrap());
    }
}

fn raw_worker(conn: &mut redis::Connection, keys: &[Bytes], order: &[usize], t: usize) {
    for i in 0..MISS_ITERS {
        let key = &keys[order[(t * 7919 + i) & (ORDER - 1)]];
        let value: Option<Vec<u8>> = redis::cmd("GET").arg(&key[..]).query(conn).unwrap();
        black_box(value.unwrap());
    }
}

fn raw_async_worker(conn: &redis::aio::MultiplexedConnection, keys: &[Bytes], order: &[usize], t: usize) {
    for i in 0..MISS_ITERS {
        let key = &keys[order[(t * 7919 + i) & (ORDER - 1)]];
        let mut conn = conn.clone();
        let get = async move { redis::cmd("GET").arg(&key[..]).query_async::<Option<Vec<u8>>>(&mut conn).await };
        black_box(nearcache::block_on(get).unwrap().unwrap().unwrap());
    }
}

fn main() {
    let url = std::env::args().nth(1).expect("usage: bench_rust URL");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let order: Arc<Vec<usize>> = Arc::new(
        (0..ORDER)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % KEYS as u64) as usize
            })
            .collect(),
    );
    let keys: Arc<Vec<Bytes>> = Arc::new((0..KEYS).map(|i| Bytes::from(format!("user:{i:08}"))).collect());
    let value: Vec<u8> = (0..VALUE_LEN).map(|i| (i * 31 + 7) as u8).collect();
    let cache = open(&url, "tracking");
    for key in keys.iter() {
        cache.set(key, &value, SetOptions::default()).unwrap();
        cache.get(key).unwrap().unwrap();
    }

    let (mut get_ns, mut local_ns, mut miss1, mut miss8, mut raw1) = (vec![], vec![], vec![], vec![], vec![]);
    let mut raw_async1 = vec![];
    for _ in 0..RUNS {
        let started = Instant::now();
        for i in 0..HIT_ITERS {
            let key = &keys[order[i & (ORDER - 1)]];
            black_box(cache.get(black_box(key)).unwrap().unwrap().len());
        }
        get_ns.push(started.elapsed().as_nanos() as f64 / HIT_ITERS as f64);
        let started = Instant::now();
        for i in 0..HIT_ITERS {
            let key = &keys[order[i & (ORDER - 1)]];
            match cache.get_local(black_box(key)).unwrap() {
                Lookup::Hit(v) => black_box(v.len()),
                _ => panic!("not an L1 hit"),
            };
        }
        local_ns.push(started.elapsed().as_nanos() as f64 / HIT_ITERS as f64);
    }

    let misses = open(&url, "off");
    miss_worker(&misses, &keys, &order, 0);
    let mut raw = redis::Client::open(format!("{url}?protocol=resp3")).unwrap().get_connection().unwrap();
    raw_worker(&mut raw, &keys, &order, 0);
    let client = redis::Client::open(format!("{url}?protocol=resp3")).unwrap();
    let multiplexed = nearcache::block_on(client.get_multiplexed_async_connection()).unwrap().unwrap();
    raw_async_worker(&multiplexed, &keys, &order, 0);
    for _ in 0..RUNS {
        let started = Instant::now();
        raw_worker(&mut raw, &keys, &order, 1);
        raw1.push(MISS_ITERS as f64 / started.elapsed().as_secs_f64());
        let started = Instant::now();
        raw_async_worker(&multiplexed, &keys, &order, 1);
        raw_async1.push(MISS_ITERS as f64 / started.elapsed().as_secs_f64());
        let started = Instant::now();
        miss_worker(&misses, &keys, &order, 1);
        miss1.push(MISS_ITERS as f64 / started.elapsed().as_secs_f64());
        let started = Instant::now();
        let workers: Vec<_> = (0..MISS_THREADS)
            .map(|t| {
                let (misses, keys, order) = (misses.clone(), Arc::clone(&keys), Arc::clone(&order));
                std::thread::spawn(move || miss_worker(&misses, &keys, &order, t))
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        miss8.push((MISS_ITERS * MISS_THREADS) as f64 / started.elapsed().as_secs_f64());
    }
    println!("rust_l1_hit_get_ns {:.1}", median(get_ns));
    println!("rust_l1_hit_get_local_ns {:.1}", median(local_ns));
    println!("rust_miss_1t_ops {:.0}", median(miss1));
    println!("rust_miss_8t_ops {:.0}", median(miss8));
    println!("raw_sync_miss_1t_ops {:.0}", median(raw1));
    println!("raw_async_miss_1t_ops {:.0}", median(raw_async1));
}
