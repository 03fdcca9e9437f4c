//! L1 resident memory under churn (issue 17): fills L1 far past
//! `l1.max_bytes` with values of mixed sizes (16 B .. 64 KiB, log-uniform),
//! overwrites some of them meanwhile, and reports the process's resident
//! memory (VmRSS) minus the baseline taken before L1 was filled, against
//! `max_bytes`. Target: within 15 % of `max_bytes`.
//!
//!   cargo bench -p nearcache --bench l1_memory
//!
//! Bounded: stops once `FILL_FACTOR` x `max_bytes` were filled into L1 or
//! after `MAX_RUN`, whichever is first (a churn of many minutes of a real
//! service compressed into seconds). Not a test: it asserts nothing.
//! NEARCACHE_BENCH_URL names a server to use instead of launching one;
//! NEARCACHE_BENCH_JSON=file also writes the figures there (bench/report);
//! NEARCACHE_BENCH_L1_MIB=n runs with another `max_bytes` (to tell a fixed
//! cost from one that grows with L1), NEARCACHE_BENCH_FIXED_LEN=n gives
//! every value n bytes (no size mix: tells allocator fragmentation from a
//! per-entry cost).
//! The working set lives in Redis (written there by a Lua script, so the
//! client allocates nothing for it before the baseline).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nearcache::blocking::Cache;
use nearcache::testing::TestRedis;
use nearcache::{Config, SetOptions};

/// `l1.max_bytes` (the default, 64 MiB, unless NEARCACHE_BENCH_L1_MIB).
fn max_bytes() -> u64 {
    std::env::var("NEARCACHE_BENCH_L1_MIB").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(64) << 20
}
/// Keys whose values total about `WORKING_SET` x `max_bytes` in Redis.
const WORKING_SET: u64 = 4;
/// Stop after this many times `max_bytes` were filled into L1.
const FILL_FACTOR: u64 = 20;
const MAX_RUN: Duration = Duration::from_secs(40);
const THREADS: u64 = 4;
/// One operation in this many is an overwrite (which drops the L1 entry;
/// the value's size changes with its version).
const WRITE_EVERY: u64 = 10;
const MIN_LEN: f64 = 16.0;
const MAX_LEN: f64 = 65536.0;

/// xorshift64: deterministic, no allocation.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// A log-uniform length in [MIN_LEN, MAX_LEN] from a 64-bit draw.
fn length(draw: u64) -> usize {
    let u = (draw >> 11) as f64 / (1u64 << 53) as f64;
    (MIN_LEN * (MAX_LEN / MIN_LEN).powf(u)) as usize
}

fn fixed_len() -> Option<usize> {
    static FIXED: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    *FIXED.get_or_init(|| std::env::var("NEARCACHE_BENCH_FIXED_LEN").ok().and_then(|v| v.parse().ok()))
}

fn key_len(i: u64, version: u64) -> usize {
    if let Some(len) = fixed_len() {
        return len.clamp(1, MAX_LEN as usize);
    }
    let mut x = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ version.wrapping_mul(0xD1B5_4A32_D192_ED03);
    next(&mut x);
    length(next(&mut x))
}

/// VmRSS of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn main() {
    let (_server, url) = TestRedis::for_bench().expect("redis-server");
    let rss_start = rss();
    let max_bytes = max_bytes();
    let config = Config::from_value(serde_json::json!({
        "url": url,
        "l1": { "max_bytes": max_bytes, "ttl": "10m" },
        // A loaded machine can stall a 64 KiB GET past the 250 ms default.
        "redis": { "command_timeout": "5s" },
    }))
    .unwrap();
    let cache = Cache::new(config).unwrap();
    cache.connect().unwrap();

    // The working set, written by the server itself: no client buffers.
    let mut keys = 0u64;
    let mut total = 0u64;
    let script = "for i = 1, #ARGV do redis.call('SET', 'mem:' .. (KEYS[1] + i - 1), \
                  string.rep('nearcache-churn!', math.floor(ARGV[i] / 16)) .. string.rep('x', ARGV[i] % 16)) end \
                  return #ARGV";
    while total < WORKING_SET * max_bytes {
        let batch: Vec<String> = (keys..keys + 256).map(|i| key_len(i, 0).to_string()).collect();
        total += batch.iter().map(|l| l.parse::<u64>().unwrap()).sum::<u64>();
        let mut args = vec!["EVAL".to_owned(), script.to_owned(), "1".to_owned(), keys.to_string()];
        args.extend(batch);
        cache.command(&args).unwrap();
        keys += 256;
    }
    // A random 64 KiB pattern the overwrites take their values from.
    let mut x = 0x2545_F491_4F6C_DD1D;
    let pattern: Arc<Vec<u8>> = Arc::new((0..MAX_LEN as usize).map(|_| next(&mut x) as u8).collect());
    let key_names: Arc<Vec<String>> = Arc::new((0..keys).map(|i| format!("mem:{i}")).collect());
    let rss_baseline = rss();

    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak) = (Arc::clone(&stop), Arc::clone(&peak));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let started = Instant::now();
    let ops = Arc::new(AtomicU64::new(0));
    let written = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (cache, stop, ops, written) =
                (cache.clone(), Arc::clone(&stop), Arc::clone(&ops), Arc::clone(&written));
            let (pattern, key_names) = (Arc::clone(&pattern), Arc::clone(&key_names));
            std::thread::spawn(move || {
                let mut x = 0x9E37_79B9_7F4A_7C15 ^ (t + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                let mut version = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let i = next(&mut x) % key_names.len() as u64;
                    let key = &key_names[i as usize];
                    if next(&mut x) % WRITE_EVERY == 0 {
                        version += 1;
                        let len = key_len(i, version * THREADS + t);
                        let off = (next(&mut x) as usize) % (pattern.len() - len + 1);
                        cache.set(key, &pattern[off..off + len], SetOptions::default()).unwrap();
                        written.fetch_add(len as u64, Ordering::Relaxed);
                    } else {
                        std::hint::black_box(cache.get(key).unwrap());
                    }
                    ops.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Filled bytes are what L1 was charged for; stop at FILL_FACTOR x max_bytes.
    let mut filled_bytes = 0;
    while started.elapsed() < MAX_RUN {
        std::thread::sleep(Duration::from_millis(100));
        let stats = cache.stats();
        // Every fill charges its entry's weight; approximate the filled bytes
        // by fills x the mean charge of what L1 holds now.
        let mean = stats.l1_bytes.checked_div(stats.l1_entries).unwrap_or(0);
        filled_bytes = stats.fills * mean;
        if filled_bytes >= FILL_FACTOR * max_bytes {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    sampler.join().unwrap();
    let elapsed = started.elapsed();
    let rss_end = rss();
    let stats = cache.stats();
    let peak = peak.load(Ordering::Relaxed).max(rss_end);
    let end_delta = rss_end.saturating_sub(rss_baseline);
    let peak_delta = peak.saturating_sub(rss_baseline);
    let overhead_per_entry = (end_delta as f64 - stats.l1_bytes as f64) / stats.l1_entries.max(1) as f64;

    println!(
        "L1 resident memory under churn: max_bytes {:.0} MiB, {} keys of {}..{} B (log-uniform) totalling {:.0} MiB in Redis",
        mib(max_bytes),
        keys,
        MIN_LEN,
        MAX_LEN,
        mib(total)
    );
    println!(
        "  {} threads, 1 op in {} an overwrite; {:.1} s, {} ops, {} fills (~{:.1}x max_bytes filled), {:.0} MiB overwritten, {} evictions",
        THREADS,
        WRITE_EVERY,
        elapsed.as_secs_f64(),
        ops.load(Ordering::Relaxed),
        stats.fills,
        filled_bytes as f64 / max_bytes as f64,
        mib(written.load(Ordering::Relaxed)),
        stats.evictions
    );
    println!(
        "  VmRSS: {:.1} MiB at start, {:.1} MiB baseline (cache connected, working set in Redis), {:.1} MiB at the end, {:.1} MiB peak",
        mib(rss_start),
        mib(rss_baseline),
        mib(rss_end),
        mib(peak)
    );
    println!(
        "  L1 charged {:.1} MiB in {} entries; resident above baseline {:.1} MiB at the end ({:.2}x max_bytes), {:.1} MiB peak ({:.2}x)",
        mib(stats.l1_bytes),
        stats.l1_entries,
        mib(end_delta),
        end_delta as f64 / max_bytes as f64,
        mib(peak_delta),
        peak_delta as f64 / max_bytes as f64
    );
    println!("  resident above baseline minus L1's charge, per entry: {overhead_per_entry:.0} B");
    println!(
        "  target: resident above baseline <= 1.15x max_bytes: {}",
        if peak_delta as f64 <= 1.15 * max_bytes as f64 { "met" } else { "missed" }
    );
    if let Ok(path) = std::env::var("NEARCACHE_BENCH_JSON") {
        let doc = serde_json::json!({
            "max_bytes": max_bytes,
            "keys": keys,
            "working_set_bytes": total,
            "threads": THREADS,
            "seconds": elapsed.as_secs_f64(),
            "ops": ops.load(Ordering::Relaxed),
            "fills": stats.fills,
            "evictions": stats.evictions,
            "overwritten_bytes": written.load(Ordering::Relaxed),
            "rss_start": rss_start,
            "rss_baseline": rss_baseline,
            "rss_end": rss_end,
            "rss_peak": peak,
            "l1_bytes": stats.l1_bytes,
            "l1_entries": stats.l1_entries,
            "overhead_per_entry": overhead_per_entry,
        });
        std::fs::write(path, doc.to_string()).unwrap();
    }
    cache.close();
}
