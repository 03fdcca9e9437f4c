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

use nearcache::testing::consistency::{read_hashes_until_stopped, read_until_stopped, History, Observations};
use nearcache::testing::TestRedis;
use nearcache::{Cache, Invalidation};
use parking_lot::Mutex;
use support::{checker_config, hash_key, inject, key, writer, Fault, Shape, KEYS, WRITERS};

mod support;

const READERS: usize = 4;
/// The cache's connection name, which CLIENT KILL picks out.
const CLIENT_NAME: &str = "nc-checker";
const RUN: Duration = Duration::from_millis(2500);
const MAX_STALENESS: Duration = Duration::from_millis(500);
/// Short, so that `ttl` mode's bound is tested within the run.
const L1_TTL: Duration = Duration::from_millis(300);
/// In `tracking` and `bcast` modes: longer than the run, so that only
/// invalidations and the health bound keep L1 within `MAX_STALENESS` (an
/// L1 TTL below the bound would hide a lost invalidation).
const PUSH_MODE_L1_TTL: Duration = Duration::from_secs(10);

async fn check(mode: Invalidation, fault: Fault) {
    check_shape(mode, fault, Shape::Strings).await;
}

async fn check_hashes(mode: Invalidation, fault: Fault) {
    check_shape(mode, fault, Shape::Hashes).await;
}

async fn check_shape(mode: Invalidation, fault: Fault, shape: Shape) {
    // DEBUG is off by default in Redis 7; `local` allows it from loopback.
    let mut redis = TestRedis::start_with_args(&["--enable-debug-command", "local"]).unwrap();
    let mut config = checker_config(&redis, CLIENT_NAME, mode, MAX_STALENESS);
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
    let back = inject(fault, &mut redis, &history, CLIENT_NAME).await;
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
