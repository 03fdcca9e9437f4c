//! A bare L1 hit loop for profilers (`perf stat -e cycles:u,instructions:u`):
//! counts per hit do not depend on how busy the machine is, where criterion's
//! times do. `cargo run --release -p nearcache --example hit_loop -- MODE N`
//! with MODE `with_local`, `get_local` or `rwlock` (the `RwLock<HashMap>`
//! floor); prints the mean time per hit as a rough guide.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nearcache::testing::TestRedis;
use nearcache::{Invalidation, LocalRef, Lookup};
use parking_lot::RwLock;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "with_local".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000_000);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let keys: Vec<Bytes> = (0..count).map(|i| Bytes::from(format!("user:{i:08}"))).collect();
    let redis = TestRedis::start().expect("redis-server");
    let cache = nearcache::blocking::Cache::builder()
        .url(redis.url())
        .invalidation(Invalidation::Ttl)
        .l1_ttl(Duration::from_secs(600))
        .build_blocking()
        .unwrap();
    let mut map = HashMap::with_hasher(foldhash::fast::RandomState::default());
    for chunk in keys.chunks(1000) {
        let items: Vec<(&Bytes, Vec<u8>)> = chunk.iter().map(|k| (k, vec![b'v'; 1024])).collect();
        cache.set_many(&items, None).unwrap();
        cache.get_many(chunk).unwrap(); // fills L1
        for (key, value) in items {
            map.insert(key.clone(), Bytes::from(value));
        }
    }
    let map = RwLock::new(map);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let order: Vec<usize> = (0..(1 << 16))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % count as u64) as usize
        })
        .collect();
    let started = Instant::now();
    let mut sum = 0usize;
    for i in 0..n {
        let key = black_box(&keys[order[i & 0xffff]]);
        sum += match mode.as_str() {
            "with_local" => cache
                .with_local(key, |f| match f {
                    LocalRef::Hit(v) => v.len() + v[0] as usize,
                    _ => 0,
                })
                .unwrap(),
            "get_local" => match cache.get_local(key).unwrap() {
                Lookup::Hit(v) => v.len() + v[0] as usize,
                _ => 0,
            },
            _ => map.read().get(key.as_ref()).map_or(0, |v| v.len() + v[0] as usize),
        };
    }
    let elapsed = started.elapsed();
    assert!(sum > 0);
    println!("{mode}: {:.1} ns per hit", elapsed.as_nanos() as f64 / n as f64);
}
