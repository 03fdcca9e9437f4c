//! The Redis path beside raw redis-rs, in one run on one launched server:
//! a single GET miss (latency), and 100 concurrent GETs (throughput). For
//! nearcache, L1 is off so every read goes to Redis: this measures our
//! connection layer (auto-pipelining, stats, codec check), not the cache.
//! The miss group also has the blocking pair: `blocking::Cache::get` from
//! the bench's own thread beside raw redis-rs's synchronous
//! `redis::Connection` (the caller writes and reads the socket itself, the
//! floor of one round trip).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nearcache::testing::TestRedis;
use nearcache::{Cache, Invalidation};

const CONCURRENCY: u64 = 100;
const KEYS: usize = 1000;

fn bench(c: &mut Criterion) {
    // bench/report runs every language's bench against one server it names
    // in NEARCACHE_BENCH_URL; alone, the bench launches its own.
    let (_server, url) = TestRedis::for_bench().expect("redis-server");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    // Default config (2 connections) and 1 connection, which is what the
    // raw redis-rs contender uses.
    // A 5 s command timeout: the default 250 ms fails a GET now and then
    // when other builds share the machine, and a bench has no retry.
    let mut two = nearcache::Config::default();
    two.redis.url = url.as_str().parse().unwrap();
    two.redis.command_timeout = Duration::from_secs(5);
    two.l1.invalidation = Invalidation::Off;
    let mut one = two.clone();
    one.redis.connections = 1;
    let cache = Cache::new(two).unwrap();
    let cache_one = Cache::new(one).unwrap();
    let raw = rt.block_on(async {
        let client = redis::Client::open(format!("{url}?protocol=resp3")).unwrap();
        client.get_multiplexed_async_connection().await.unwrap()
    });
    let mut raw_sync = redis::Client::open(format!("{url}?protocol=resp3")).unwrap().get_connection().unwrap();
    let blocking = nearcache::blocking::Cache::from(cache.clone());
    let keys: Vec<String> = (0..KEYS).map(|i| format!("k:{i}")).collect();
    rt.block_on(async {
        let items: Vec<(&String, &[u8])> = keys.iter().map(|k| (k, &[b'v'; 100][..])).collect();
        cache.set_many(&items, None).await.unwrap();
        cache.connect().await.unwrap();
        cache_one.connect().await.unwrap();
    });

    let mut group = c.benchmark_group("miss");
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("nearcache", |b| {
        let mut i = 0;
        b.to_async(&rt).iter(|| {
            i += 1;
            let key = &keys[i % KEYS];
            let cache = &cache;
            async move { black_box(cache.get(key).await.unwrap()) }
        })
    });
    group.bench_function("redis-rs", |b| {
        let mut i = 0;
        b.to_async(&rt).iter(|| {
            i += 1;
            let key = &keys[i % KEYS];
            let mut conn = raw.clone();
            async move { black_box(redis::cmd("GET").arg(key).query_async::<Option<Vec<u8>>>(&mut conn).await.unwrap()) }
        })
    });
    group.bench_function("nearcache_blocking", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            black_box(blocking.get(&keys[i % KEYS]).unwrap())
        })
    });
    group.bench_function("redis-rs_sync", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            black_box(redis::cmd("GET").arg(&keys[i % KEYS]).query::<Option<Vec<u8>>>(&mut raw_sync).unwrap())
        })
    });
    group.finish();

    let mut group = c.benchmark_group("concurrent_get_100");
    group.measurement_time(Duration::from_secs(5)).throughput(Throughput::Elements(1));
    let keys = Arc::new(keys);
    for (name, cache) in [("nearcache_2_connections", &cache), ("nearcache_1_connection", &cache_one)] {
        let (cache, keys) = (cache.clone(), Arc::clone(&keys));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let (cache, keys) = (cache.clone(), Arc::clone(&keys));
                concurrent(&rt, iters, move |k| {
                    let (cache, keys) = (cache.clone(), Arc::clone(&keys));
                    async move {
                        black_box(cache.get(&keys[k]).await.unwrap());
                    }
                })
            })
        });
    }
    group.bench_function("redis-rs", |b| {
        b.iter_custom(|iters| {
            let (raw, keys) = (raw.clone(), Arc::clone(&keys));
            concurrent(&rt, iters, move |k| {
                let (mut conn, keys) = (raw.clone(), Arc::clone(&keys));
                async move {
                    black_box(redis::cmd("GET").arg(&keys[k]).query_async::<Option<Vec<u8>>>(&mut conn).await.unwrap());
                }
            })
        })
    });
    group.finish();
}

/// Runs `iters` GETs as `CONCURRENCY` tasks on `rt`; `get(k)` reads key `k`.
/// Returns the wall time.
fn concurrent<F, Fut>(rt: &tokio::runtime::Runtime, iters: u64, get: F) -> Duration
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    rt.block_on(async {
        let per_task = iters.div_ceil(CONCURRENCY);
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..CONCURRENCY {
            let get = get.clone();
            tasks.spawn(async move {
                for i in 0..per_task {
                    get(((t * per_task + i) as usize) % KEYS).await;
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        started.elapsed()
    })
}

criterion_group!(benches, bench);
criterion_main!(benches);
