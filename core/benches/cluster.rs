//! Cluster mode beside standalone mode, in one run: the L1 hit path (must
//! not be slower: routing happens only on a miss) and 100 concurrent GETs
//! with L1 off (reads spread over the three masters). Starts one
//! standalone server and one 3-master, 3-replica cluster on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nearcache::config::Mode;
use nearcache::testing::{TestCluster, TestRedis};
use nearcache::{Cache, Config, Invalidation, Lookup};

const CONCURRENCY: u64 = 100;
const KEYS: usize = 1000;

fn cache(url: &str, mode: Mode, invalidation: Invalidation) -> Cache {
    let mut config = Config::default();
    config.redis.url = url.parse().unwrap();
    config.redis.mode = mode;
    config.l1.invalidation = invalidation;
    Cache::new(config).unwrap()
}

fn bench(c: &mut Criterion) {
    let standalone = TestRedis::start().expect("redis-server");
    let cluster = TestCluster::start().expect("cluster");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|i| format!("k:{i}")).collect());
    let deployments = [("standalone", standalone.url(), Mode::Standalone), ("cluster", cluster.url(), Mode::Cluster)];

    let mut group = c.benchmark_group("cluster_l1_hit");
    group.measurement_time(Duration::from_secs(3));
    for (name, url, mode) in deployments {
        let cache = cache(url, mode, Invalidation::Tracking);
        rt.block_on(async {
            let items: Vec<(&String, &[u8])> = keys.iter().map(|k| (k, &[b'v'; 100][..])).collect();
            cache.set_many(&items, None).await.unwrap();
            cache.get_many(&keys).await.unwrap();
        });
        assert!(matches!(cache.get_local(keys[0].as_bytes()).unwrap(), Lookup::Hit(_)), "{name}: not in L1");
        group.bench_function(name, |b| {
            let mut i = 0;
            b.iter(|| {
                i += 1;
                black_box(cache.get_local(keys[i % KEYS].as_bytes()).unwrap())
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("cluster_concurrent_get_100");
    group.measurement_time(Duration::from_secs(5)).throughput(Throughput::Elements(1));
    for (name, url, mode) in deployments {
        let cache = cache(url, mode, Invalidation::Off);
        rt.block_on(cache.connect()).unwrap();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let per_task = iters.div_ceil(CONCURRENCY);
                rt.block_on(async {
                    let started = Instant::now();
                    let mut tasks = tokio::task::JoinSet::new();
                    for t in 0..CONCURRENCY {
                        let (cache, keys) = (cache.clone(), Arc::clone(&keys));
                        tasks.spawn(async move {
                            for i in 0..per_task {
                                let k = ((t * per_task + i) as usize) % KEYS;
                                black_box(cache.get(&keys[k]).await.unwrap());
                            }
                        });
                    }
                    while tasks.join_next().await.is_some() {}
                    started.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
