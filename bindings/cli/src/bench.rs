//! `nearcache bench`: the numbers behind the README's performance section,
//! each beside a baseline measured in the same run on the same server.
//!
//! - L1 hit: `get_local` on 1,000 keys against a `RwLock<HashMap>` with
//!   foldhash (the floor: no expiry, no bound, no eviction).
//! - Miss: one GET at a time with L1 off (every read goes to Redis),
//!   async and blocking, against a raw redis-rs multiplexed connection.
//! - 100-way concurrency: 100 tasks reading at once through one cache (L1
//!   off: this measures auto-pipelining), against one redis-rs connection.
//! - Compression: the codec on a 4 KiB JSON document (ratio, encode, decode).
//!
//! Criterion benches in `core/benches/` measure the same things with more
//! statistical care; this harness is quick and prints one JSON document.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nearcache::codec::{Algorithm, Codec};
use nearcache::{Cache, Config, Invalidation, Lookup};
use serde::Serialize;

use crate::server::Target;
use crate::table::Table;
use crate::zipf::Rng;
use crate::Result;

const HIT_KEYS: usize = 1000;
const VALUE_LEN: usize = 1024;
const CONCURRENCY: usize = 100;
const PREFIX: &str = "nc-bench:";

/// Options of `nearcache bench`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Redis to use. Default: a throwaway redis-server on a free loopback port. The bench
    /// writes 1,000 keys under `nc-bench:` and deletes them afterwards.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Print one JSON document instead of tables.
    #[arg(long)]
    json: bool,
    /// Time spent on each measurement (there are nine).
    #[arg(long, value_name = "S", default_value = "1", value_parser = crate::parse_seconds)]
    seconds: f64,
}

#[derive(Serialize)]
struct Report {
    version: &'static str,
    cpus: usize,
    redis_version: String,
    seconds_per_measurement: f64,
    l1_hit: L1Hit,
    miss: Miss,
    concurrent_get_100: Concurrent,
    compression: Vec<Compression>,
}

#[derive(Serialize)]
struct L1Hit {
    keys: usize,
    value_bytes: usize,
    nearcache_ns: f64,
    hashmap_rwlock_ns: f64,
}

#[derive(Serialize)]
struct Latency {
    count: usize,
    mean_us: f64,
    p50_us: f64,
    p99_us: f64,
}

#[derive(Serialize)]
struct Miss {
    value_bytes: usize,
    nearcache_async: Latency,
    nearcache_blocking: Latency,
    redis_rs: Latency,
}

#[derive(Serialize)]
struct Concurrent {
    tasks: usize,
    nearcache_ops_per_s: f64,
    redis_rs_ops_per_s: f64,
}

#[derive(Serialize)]
struct Compression {
    algorithm: &'static str,
    input_bytes: usize,
    stored_bytes: usize,
    ratio: f64,
    encode_us: f64,
    decode_us: f64,
}

pub(crate) fn run(args: &Args) -> Result<()> {
    let target = Target::new(args.url.as_deref())?;
    let per = Duration::from_secs_f64(args.seconds);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("nearcache-bench")
        .enable_all()
        .build()?;
    let keys: Vec<Bytes> = (0..HIT_KEYS).map(|i| Bytes::from(format!("{PREFIX}{i:06}"))).collect();
    let value = Bytes::from((0..VALUE_LEN).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>());

    let direct = cache(target.url(), Invalidation::Off)?;
    let items: Vec<(&Bytes, &Bytes)> = keys.iter().map(|k| (k, &value)).collect();
    runtime.block_on(direct.connect())?;
    runtime.block_on(direct.set_many(&items, None))?;
    let redis_version = runtime.block_on(server_version(&direct)).unwrap_or_else(|_| "?".to_owned());

    let progress = |what: &str| {
        if !args.json {
            eprintln!("measuring {what} ...");
        }
    };
    progress("L1 hits");
    let l1_hit = l1_hit(target.url(), &keys, &runtime, per)?;
    progress("misses");
    let raw = runtime.block_on(async {
        let client = redis::Client::open(format!("{}?protocol=resp3", target.url().split('?').next().unwrap_or("")))?;
        client.get_multiplexed_async_connection().await
    })?;
    let miss = Miss {
        value_bytes: VALUE_LEN,
        nearcache_async: runtime.block_on(miss_async(&direct, &keys, per))?,
        nearcache_blocking: miss_blocking(&direct, &keys, per)?,
        redis_rs: runtime.block_on(miss_raw(raw.clone(), &keys, per))?,
    };
    progress("100 concurrent readers");
    let concurrent = Concurrent {
        tasks: CONCURRENCY,
        nearcache_ops_per_s: runtime.block_on(concurrent_nearcache(&direct, &keys, per))?,
        redis_rs_ops_per_s: runtime.block_on(concurrent_raw(&raw, &keys, per))?,
    };
    progress("compression");
    let compression = compression(per)?;
    if !target.is_throwaway() {
        runtime.block_on(direct.delete_prefix(PREFIX))?;
    }
    direct.close();
    let report = Report {
        version: env!("CARGO_PKG_VERSION"),
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        redis_version,
        seconds_per_measurement: args.seconds,
        l1_hit,
        miss,
        concurrent_get_100: concurrent,
        compression,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

fn cache(url: &str, invalidation: Invalidation) -> Result<Cache> {
    let mut config = Config::default();
    config.redis.url = url.parse()?;
    config.redis.command_timeout = Duration::from_secs(5);
    config.l1.invalidation = invalidation;
    config.l1.max_bytes = 256 << 20;
    config.l1.ttl = Duration::from_secs(600);
    Ok(Cache::new(config)?)
}

async fn server_version(cache: &Cache) -> Result<String> {
    match cache.command(&["INFO", "server"]).await? {
        nearcache::Reply::Bytes(b) => Ok(String::from_utf8_lossy(&b)
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .unwrap_or("?")
            .trim()
            .to_owned()),
        _ => Ok("?".to_owned()),
    }
}

/// Runs `step(i)` until `per` has passed; returns nanoseconds per step.
fn ns_per_op(per: Duration, mut step: impl FnMut(usize)) -> f64 {
    let started = Instant::now();
    let mut n = 0usize;
    loop {
        for _ in 0..4096 {
            step(n);
            n += 1;
        }
        let elapsed = started.elapsed();
        if elapsed >= per {
            return elapsed.as_nanos() as f64 / n as f64;
        }
    }
}

fn l1_hit(url: &str, keys: &[Bytes], runtime: &tokio::runtime::Runtime, per: Duration) -> Result<L1Hit> {
    let cache = cache(url, Invalidation::Tracking)?;
    runtime.block_on(async {
        cache.connect().await?;
        cache.get_many(keys).await
    })?;
    if !matches!(cache.get_local(&keys[0])?, Lookup::Hit(_)) {
        return Err("L1 did not keep the keys it was filled with".into());
    }
    // One allocation per value, as values read from Redis have.
    let map: HashMap<Bytes, Bytes, foldhash::fast::RandomState> =
        keys.iter().map(|k| (k.clone(), Bytes::from(vec![b'v'; VALUE_LEN]))).collect::<HashMap<_, _, _>>();
    let map = RwLock::new(map);
    // A fixed pseudo-random visiting order, the same for both.
    let mut rng = Rng::new(42);
    let order: Vec<usize> = (0..1 << 16).map(|_| (rng.next_u64() % keys.len() as u64) as usize).collect();
    let mask = order.len() - 1;
    let nearcache_ns = ns_per_op(per, |i| {
        black_box(cache.get_local(black_box(&keys[order[i & mask]])).ok());
    });
    let hashmap_rwlock_ns = ns_per_op(per, |i| {
        let found = map.read().ok().and_then(|m| m.get(black_box(&keys[order[i & mask]])).cloned());
        black_box(found);
    });
    cache.close();
    Ok(L1Hit { keys: keys.len(), value_bytes: VALUE_LEN, nearcache_ns, hashmap_rwlock_ns })
}

fn summarize(mut nanos: Vec<u64>) -> Latency {
    nanos.sort_unstable();
    let at = |q: f64| {
        let rank = ((nanos.len() as f64 * q).ceil() as usize).clamp(1, nanos.len().max(1)) - 1;
        nanos.get(rank).map_or(0.0, |&n| n as f64 / 1000.0)
    };
    let mean = nanos.iter().sum::<u64>() as f64 / nanos.len().max(1) as f64 / 1000.0;
    Latency { count: nanos.len(), mean_us: mean, p50_us: at(0.5), p99_us: at(0.99) }
}

async fn miss_async(cache: &Cache, keys: &[Bytes], per: Duration) -> Result<Latency> {
    let started = Instant::now();
    let mut nanos = Vec::new();
    let mut i = 0;
    while started.elapsed() < per {
        let t = Instant::now();
        black_box(cache.get(&keys[i % keys.len()]).await?);
        nanos.push(t.elapsed().as_nanos() as u64);
        i += 1;
    }
    Ok(summarize(nanos))
}

/// What a caller without a runtime (C, Python sync) pays: a hop onto the
/// core runtime and back.
fn miss_blocking(cache: &Cache, keys: &[Bytes], per: Duration) -> Result<Latency> {
    let cache = nearcache::blocking::Cache::from(cache.clone());
    let started = Instant::now();
    let mut nanos = Vec::new();
    let mut i = 0;
    while started.elapsed() < per {
        let t = Instant::now();
        black_box(cache.get(&keys[i % keys.len()])?);
        nanos.push(t.elapsed().as_nanos() as u64);
        i += 1;
    }
    Ok(summarize(nanos))
}

async fn miss_raw(mut conn: redis::aio::MultiplexedConnection, keys: &[Bytes], per: Duration) -> Result<Latency> {
    let started = Instant::now();
    let mut nanos = Vec::new();
    let mut i = 0;
    while started.elapsed() < per {
        let t = Instant::now();
        let value: Option<Vec<u8>> =
            redis::cmd("GET").arg(keys[i % keys.len()].as_ref()).query_async(&mut conn).await?;
        black_box(value);
        nanos.push(t.elapsed().as_nanos() as u64);
        i += 1;
    }
    Ok(summarize(nanos))
}

async fn concurrent_nearcache(cache: &Cache, keys: &[Bytes], per: Duration) -> Result<f64> {
    let keys: Arc<[Bytes]> = keys.into();
    let deadline = Instant::now() + per;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..CONCURRENCY {
        let (cache, keys) = (cache.clone(), Arc::clone(&keys));
        tasks.spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                black_box(cache.get(&keys[(t * 7 + n as usize) % keys.len()]).await?);
                n += 1;
            }
            Ok::<u64, nearcache::Error>(n)
        });
    }
    let mut total = 0;
    while let Some(done) = tasks.join_next().await {
        total += done??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

async fn concurrent_raw(conn: &redis::aio::MultiplexedConnection, keys: &[Bytes], per: Duration) -> Result<f64> {
    let keys: Arc<[Bytes]> = keys.into();
    let deadline = Instant::now() + per;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..CONCURRENCY {
        let (mut conn, keys) = (conn.clone(), Arc::clone(&keys));
        tasks.spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let key = keys[(t * 7 + n as usize) % keys.len()].as_ref();
                let value: Option<Vec<u8>> = redis::cmd("GET").arg(key).query_async(&mut conn).await?;
                black_box(value);
                n += 1;
            }
            Ok::<u64, redis::RedisError>(n)
        });
    }
    let mut total = 0;
    while let Some(done) = tasks.join_next().await {
        total += done??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// A JSON array of user records, at most `max_len` bytes: what caches hold.
fn json_document(max_len: usize) -> Vec<u8> {
    const NAMES: [&str; 8] = ["ada", "grace", "linus", "ken", "barbara", "edsger", "alan", "margaret"];
    const TAGS: [&str; 6] = ["admin", "beta", "premium", "eu-west", "mobile", "churn-risk"];
    let mut rng = Rng::new(0x5EED);
    let mut pick = |n: usize| (rng.next_u64() % n as u64) as usize;
    let mut out = String::from("[");
    for id in 1000.. {
        let name = NAMES[pick(NAMES.len())];
        let record = format!(
            r#"{{"id":{id},"name":"{name}","email":"{name}{}@example.com","active":{},"score":{},"tags":["{}"]}}"#,
            pick(100),
            pick(2) == 0,
            pick(10_000),
            TAGS[pick(TAGS.len())]
        );
        if out.len() + record.len() + 2 > max_len {
            break;
        }
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&record);
    }
    out.push(']');
    out.into_bytes()
}

fn compression(per: Duration) -> Result<Vec<Compression>> {
    let document = json_document(4096);
    let per = per / 3;
    let mut out = Vec::new();
    for (name, algorithm, level) in
        [("lz4", Algorithm::Lz4, 0), ("zstd-1", Algorithm::Zstd, 1), ("zstd-3", Algorithm::Zstd, 3)]
    {
        let codec = Codec::new(algorithm, 1024, level, 512 << 20);
        let stored = codec.encode(&document).into_bytes();
        if codec.decode(stored.clone())?.as_ref() != document.as_slice() {
            return Err(format!("{name}: the document does not round-trip").into());
        }
        let encode_ns = ns_per_op(per / 2, |_| {
            black_box(codec.encode(black_box(&document)).as_bytes().len());
        });
        let decode_ns = ns_per_op(per / 2, |_| {
            black_box(codec.decode(black_box(stored.clone())).map(|v| v.len()).ok());
        });
        out.push(Compression {
            algorithm: name,
            input_bytes: document.len(),
            stored_bytes: stored.len(),
            ratio: document.len() as f64 / stored.len() as f64,
            encode_us: encode_ns / 1000.0,
            decode_us: decode_ns / 1000.0,
        });
    }
    Ok(out)
}

fn render(r: &Report) -> String {
    let mut out = format!(
        "nearcache bench {}: {} CPUs, Redis {}, {:.1} s per measurement\n\n",
        r.version, r.cpus, r.redis_version, r.seconds_per_measurement
    );
    let mut t = Table::new(&["L1 hit (1,000 keys, 1 KiB)", "ns/op"]);
    t.row(vec!["nearcache get_local".into(), format!("{:.1}", r.l1_hit.nearcache_ns)]);
    t.row(vec!["RwLock<HashMap> (floor)".into(), format!("{:.1}", r.l1_hit.hashmap_rwlock_ns)]);
    out.push_str(&t.render());
    let mut t = Table::new(&["miss: one GET at a time", "mean us", "p50 us", "p99 us"]);
    for (name, l) in [
        ("nearcache (async)", &r.miss.nearcache_async),
        ("nearcache (blocking)", &r.miss.nearcache_blocking),
        ("redis-rs multiplexed", &r.miss.redis_rs),
    ] {
        t.row(vec![name.into(), format!("{:.1}", l.mean_us), format!("{:.1}", l.p50_us), format!("{:.1}", l.p99_us)]);
    }
    out.push('\n');
    out.push_str(&t.render());
    let mut t = Table::new(&["100 concurrent readers, L1 off", "GETs/s"]);
    t.row(vec!["nearcache".into(), format!("{:.0}", r.concurrent_get_100.nearcache_ops_per_s)]);
    t.row(vec!["redis-rs multiplexed".into(), format!("{:.0}", r.concurrent_get_100.redis_rs_ops_per_s)]);
    out.push('\n');
    out.push_str(&t.render());
    let mut t = Table::new(&["compression, 4 KiB JSON", "stored B", "ratio", "encode us", "decode us"]);
    for c in &r.compression {
        t.row(vec![
            c.algorithm.into(),
            c.stored_bytes.to_string(),
            format!("{:.2}", c.ratio),
            format!("{:.2}", c.encode_us),
            format!("{:.2}", c.decode_us),
        ]);
    }
    out.push('\n');
    out.push_str(&t.render());
    out
}
