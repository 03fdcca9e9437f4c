//! The consistency checker (CONTRIBUTING.md, "Tests"): readers through nearcache,
//! writers outside it (plain redis-rs connections), a small hot key set,
//! bounded time; every read is checked against the write history. Run in
//! `tracking` and `bcast` modes, healthy and under each fault, for string
//! values (`get`) and for hash fields (`hget` / `hmget` / `hgetall` and a
//! pipelined `HGET`, with writers running `HSET` / `HDEL` / `DEL` /
//! `EXPIRE`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nearcache::testing::consistency::{
    hash_state, hash_write, read_hashes_until_stopped, read_until_stopped, History, Observations,
};
use nearcache::testing::TestRedis;
use nearcache::{Cache, Config, Invalidation};
use parking_lot::Mutex;

const KEYS: usize = 16;
const WRITERS: usize = 2;
const READERS: usize = 4;
const RUN: Duration = Duration::from_millis(2500);
const MAX_STALENESS: Duration = Duration::from_millis(500);
/// Short, so that `ttl` mode's bound is tested within the run.
const L1_TTL: Duration = Duration::from_millis(300);
/// In `tracking` and `bcast` modes: longer than the run, so that only
/// invalidations and the health bound keep L1 within `MAX_STALENESS` (an
/// L1 TTL below the bound would hide a lost invalidation).
const PUSH_MODE_L1_TTL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// kill -9, then a fresh server on the same port (data lost).
    KillRestart,
    /// CLIENT KILL of the cache's connections.
    ClientKill,
    /// DEBUG SLEEP: the server stalls.
    DebugSleep,
    /// CLIENT PAUSE: the server holds every client.
    ClientPause,
    /// SIGSTOP / SIGCONT: a half-open connection.
    Stop,
    /// FLUSHALL from another client (data lost).
    FlushAll,
}

fn key(i: usize) -> String {
    format!("cc:{i}")
}

/// Hash keys, under the same `bcast` prefix.
fn hash_key(i: usize) -> String {
    format!("cc:h:{i}")
}

/// What the readers read and the writers write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// String values: `SET` outside, `get` through nearcache.
    Strings,
    /// Hash fields: the schedule of `hash_write` outside, `hget` / `hmget`
    /// / `hgetall` / a pipelined `HGET` through nearcache.
    Hashes,
}

/// One writer outside nearcache: owns keys `w, w + WRITERS, ...`, writes
/// increasing versions (a `SET`, or a hash write as one MULTI/EXEC),
/// reconnects after errors, records acknowledgements.
async fn writer(url: String, w: usize, shape: Shape, history: Arc<History>, stop: Arc<AtomicBool>) {
    let client = redis::Client::open(url).unwrap();
    let mut versions = [0u64; KEYS];
    let mut conn = None;
    let mut k = w;
    while !stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            let config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Duration::from_millis(200)))
                .set_response_timeout(Some(Duration::from_millis(200)));
            match client.get_multiplexed_async_connection_with_config(&config).await {
                Ok(c) => conn = Some(c),
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        versions[k] += 1;
        let set: redis::RedisResult<()> = match shape {
            Shape::Strings => redis::cmd("SET").arg(key(k)).arg(versions[k]).query_async(c).await,
            Shape::Hashes => {
                let mut pipe = redis::pipe();
                pipe.atomic();
                for cmd in hash_write(&hash_key(k), versions[k]) {
                    pipe.cmd(&cmd[0]).arg(&cmd[1..]).ignore();
                }
                if hash_state(versions[k]).is_none() {
                    history.record_removal_sent(k, versions[k], Instant::now());
                }
                pipe.query_async(c).await
            }
        };
        match set {
            Ok(()) => history.record_write(k, versions[k], Instant::now()),
            Err(_) => conn = None,
        }
        k = (k + WRITERS) % KEYS;
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

fn our_client_ids(redis: &TestRedis) -> Vec<String> {
    let clients = redis.cli(&["CLIENT", "LIST"]).unwrap();
    clients
        .lines()
        .filter(|l| l.contains("name=nc-checker"))
        .filter_map(|l| l.split_whitespace().find_map(|f| f.strip_prefix("id=")).map(str::to_owned))
        .collect()
}

/// Injects `fault`; returns when the server is back (the recovery clock
/// starts then).
async fn inject(fault: Fault, redis: &mut TestRedis, history: &History) -> Instant {
    match fault {
        Fault::None => {}
        Fault::KillRestart => {
            history.data_lost(Instant::now());
            redis.restart().unwrap();
        }
        Fault::ClientKill => {
            for id in our_client_ids(redis) {
                redis.cli(&["CLIENT", "KILL", "ID", &id]).unwrap();
            }
        }
        Fault::DebugSleep => {
            redis.cli(&["DEBUG", "SLEEP", "0.4"]).unwrap();
        }
        Fault::ClientPause => {
            redis.cli(&["CLIENT", "PAUSE", "400", "ALL"]).unwrap();
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        Fault::Stop => {
            redis.pause();
            tokio::time::sleep(Duration::from_millis(800)).await;
            redis.resume();
        }
        Fault::FlushAll => {
            // Recorded before the command: reads that start after this may
            // already see the empty keyspace.
            history.data_lost(Instant::now());
            redis.cli(&["FLUSHALL"]).unwrap();
        }
    }
    Instant::now()
}

async fn check(mode: Invalidation, fault: Fault) {
    check_shape(mode, fault, Shape::Strings).await;
}

async fn check_hashes(mode: Invalidation, fault: Fault) {
    check_shape(mode, fault, Shape::Hashes).await;
}

async fn check_shape(mode: Invalidation, fault: Fault, shape: Shape) {
    // DEBUG is off by default in Redis 7; `local` allows it from loopback.
    let mut redis = TestRedis::start_with_args(&["--enable-debug-command", "local"]).unwrap();
    let mut config = Config::default();
    config.redis.url = redis.url().parse().unwrap();
    config.redis.client_name = "nc-checker".into();
    config.redis.command_timeout = Duration::from_millis(150);
    config.redis.connect_timeout = Duration::from_millis(200);
    config.redis.reconnect.min = Duration::from_millis(10);
    config.redis.reconnect.max = Duration::from_millis(100);
    config.l1.invalidation = mode;
    config.l1.prefixes = if mode == Invalidation::Bcast { vec!["cc:".into()] } else { vec![] };
    config.l1.max_staleness = MAX_STALENESS;
    config.l1.health_interval = Duration::from_millis(100);
    let l1_ttl = if mode.uses_server_push() { PUSH_MODE_L1_TTL } else { L1_TTL };
    config.l1.ttl = l1_ttl;
    config.l1.negative_ttl = l1_ttl;
    let cache = Cache::new(config).unwrap();
    // The documented bound of each mode (README, "Consistency").
    let bound = match mode {
        Invalidation::Tracking | Invalidation::Bcast => MAX_STALENESS,
        // Both l1.ttl and l1.negative_ttl are L1_TTL here.
        Invalidation::Ttl => L1_TTL,
        Invalidation::Off => Duration::ZERO,
    };

    let history = Arc::new(History::new(KEYS));
    let stop = Arc::new(AtomicBool::new(false));
    let outcome = Arc::new(Mutex::new(Observations::default()));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        tasks.spawn(writer(redis.url().to_owned(), w, shape, Arc::clone(&history), Arc::clone(&stop)));
    }
    for r in 0..READERS {
        let (cache, stop, outcome) = (cache.clone(), Arc::clone(&stop), Arc::clone(&outcome));
        match shape {
            Shape::Strings => tasks.spawn(read_until_stopped(cache, r, KEYS, key, stop, outcome)),
            Shape::Hashes => tasks.spawn(read_hashes_until_stopped(cache, r, KEYS, hash_key, stop, outcome)),
        };
    }
    tokio::time::sleep(RUN / 3).await;
    let fault_started = Instant::now();
    let back = inject(fault, &mut redis, &history).await;
    tokio::time::sleep(RUN * 2 / 3).await;
    stop.store(true, Ordering::Relaxed);
    while tasks.join_next().await.is_some() {}

    let outcome = outcome.lock();
    let report = history.check(&outcome.reads, bound);
    let stats = cache.stats();
    eprintln!(
        "{shape:?} {mode:?} / {fault:?}: {} reads ({:.0} % from L1), {} errors, max staleness {:?}, {} stale; flushes {:?}",
        report.reads,
        match shape {
            Shape::Strings => stats.hit_ratio() * 100.0,
            Shape::Hashes => {
                let hits = (stats.l1_read_hits + stats.l1_read_negative_hits) as f64;
                100.0 * hits / (hits + stats.l1_read_misses as f64).max(1.0)
            }
        },
        outcome.errors.len(),
        report.max_staleness,
        report.stale,
        stats.flushes
    );
    assert_eq!(report.stale, 0, "{shape:?} {mode:?} / {fault:?}: stale reads beyond {bound:?}: {:?}", report.examples);
    assert!(outcome.torn.is_empty(), "{shape:?} {mode:?} / {fault:?}: replies no write left: {:?}", outcome.torn);
    assert!(report.reads > 200, "{mode:?} / {fault:?}: too few reads to judge ({})", report.reads);
    if mode != Invalidation::Off {
        let served = match shape {
            Shape::Strings => stats.l1_hits,
            Shape::Hashes => stats.l1_read_hits,
        };
        assert!(served > 0, "{shape:?} {mode:?} / {fault:?}: L1 never served, the check proves nothing");
    }
    for (_, kind) in &outcome.errors {
        assert!(kind.is_retryable(), "{mode:?} / {fault:?}: untyped or unexpected error while down: {kind:?}");
    }
    // Recovery: after the server is back, reads succeed within 1 s.
    let last_error = outcome.errors.iter().map(|(at, _)| *at).filter(|at| *at >= fault_started).max();
    if let Some(last) = last_error {
        let recovery = last.saturating_duration_since(back);
        assert!(
            recovery < Duration::from_secs(1),
            "{mode:?} / {fault:?}: errors {recovery:?} after the server returned"
        );
        let later = outcome.reads.iter().filter(|r| r.started > last).count();
        assert!(later > 0, "{mode:?} / {fault:?}: no successful read after the outage");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_healthy() {
    check(Invalidation::Tracking, Fault::None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bcast_healthy() {
    check(Invalidation::Bcast, Fault::None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_healthy() {
    check(Invalidation::Ttl, Fault::None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_healthy_is_never_stale() {
    check(Invalidation::Off, Fault::None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_kill_and_restart() {
    check(Invalidation::Tracking, Fault::KillRestart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_client_kill() {
    check(Invalidation::Tracking, Fault::ClientKill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_debug_sleep() {
    check(Invalidation::Tracking, Fault::DebugSleep).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_client_pause() {
    check(Invalidation::Tracking, Fault::ClientPause).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_sigstop_half_open() {
    check(Invalidation::Tracking, Fault::Stop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_flushall() {
    check(Invalidation::Tracking, Fault::FlushAll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bcast_kill_and_restart() {
    check(Invalidation::Bcast, Fault::KillRestart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bcast_sigstop_half_open() {
    check(Invalidation::Bcast, Fault::Stop).await;
}

// Hash fields: the same checks with hget / hmget / hgetall / pipelined HGET
// readers.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_tracking_healthy() {
    check_hashes(Invalidation::Tracking, Fault::None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_bcast_healthy() {
    check_hashes(Invalidation::Bcast, Fault::None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_tracking_kill_and_restart() {
    check_hashes(Invalidation::Tracking, Fault::KillRestart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_tracking_client_kill() {
    check_hashes(Invalidation::Tracking, Fault::ClientKill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_tracking_debug_sleep() {
    check_hashes(Invalidation::Tracking, Fault::DebugSleep).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_tracking_client_pause() {
    check_hashes(Invalidation::Tracking, Fault::ClientPause).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_tracking_flushall() {
    check_hashes(Invalidation::Tracking, Fault::FlushAll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_tracking_sigstop_half_open() {
    check_hashes(Invalidation::Tracking, Fault::Stop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_bcast_kill_and_restart() {
    check_hashes(Invalidation::Bcast, Fault::KillRestart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_bcast_sigstop_half_open() {
    check_hashes(Invalidation::Bcast, Fault::Stop).await;
}
