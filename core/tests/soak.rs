//! The soak (`make soak`, not part of `make test`): ten minutes of mixed load
//! through one cache (string readers and hash readers, writers outside
//! nearcache for both) while every fault of the consistency checker hits the
//! server in turn, one per window. Every read is checked against the write
//! history as the run goes; the run fails on any read staler than the bound,
//! on a torn hash, on errors more than 1 s after a fault ended, on a
//! connection count that grows, or on process memory that grows, over the
//! second half of the run (the first is warm-up), by more than the recorded
//! history explains.
//!
//! `NEARCACHE_SOAK_SECONDS` sets the length (default 600),
//! `NEARCACHE_SOAK_MODE` the invalidation mode (`tracking`, the default, or
//! `bcast`) and `NEARCACHE_SOAK_FAULTS` which faults run (`none`, or names
//! such as `client-kill,flushall`; all by default). Each window prints one line: reads, L1 share, worst staleness,
//! recovery, connections and memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nearcache::testing::consistency::{read_hashes_until_stopped, read_until_stopped, History, Observations, Read};
use nearcache::testing::TestRedis;
use nearcache::{Cache, Invalidation};
use parking_lot::Mutex;
use support::{checker_config, hash_key, inject, key, writer, Fault, Shape, KEYS, WRITERS};

mod support;

const CLIENT_NAME: &str = "nc-soak";
/// One fault per window; the window's reads are checked when it ends.
const WINDOW: Duration = Duration::from_secs(20);
/// Reads are moved out of the shared record and checked this often, so a
/// long run never holds more than a few seconds of them.
const CHECK_EVERY: Duration = Duration::from_secs(1);
const READERS_PER_SHAPE: usize = 3;
const MAX_STALENESS: Duration = Duration::from_millis(500);
/// Longer than any window: only invalidations and the health bound keep L1
/// fresh.
const L1_TTL: Duration = Duration::from_secs(60);
/// Errors must stop this soon after the server is back.
const RECOVERY_BOUND: Duration = Duration::from_secs(1);
/// Over the second half of the run, process memory may grow by what the
/// write history holds plus this. The first half is warm-up: measured
/// here, the process grows by about 35 MiB over its first dozen faults (the
/// allocator's per-thread arenas fill) and is flat after that.
const MEMORY_SLACK: u64 = 16 << 20;
/// Room reserved for one check's reads per shape (about a second of them),
/// reused by every check, so the harness's own buffers stop growing after
/// the first window.
const READS_PER_CHECK: usize = 1 << 20;
/// An upper bound on one key's writes per second (a writer sleeps 500 us
/// between writes and owns several keys), to reserve the history up front.
const WRITES_PER_KEY_PER_SECOND: usize = 250;

fn env_seconds() -> Duration {
    let seconds = std::env::var("NEARCACHE_SOAK_SECONDS").ok().map(|s| {
        s.parse::<u64>().unwrap_or_else(|_| panic!("NEARCACHE_SOAK_SECONDS={s:?} is not a whole number of seconds"))
    });
    Duration::from_secs(seconds.unwrap_or(600))
}

/// `NEARCACHE_SOAK_FAULTS`: `none` runs the load alone (to tell what the
/// faults cost from what the load does), a comma-separated list of fault
/// names (`client-kill,flushall`) only those; unset, every fault in turn.
fn env_faults() -> Vec<Fault> {
    let Ok(names) = std::env::var("NEARCACHE_SOAK_FAULTS") else { return Fault::ALL.to_vec() };
    names
        .split(',')
        .map(|name| match name.trim() {
            "none" => Fault::None,
            "client-kill" => Fault::ClientKill,
            "debug-sleep" => Fault::DebugSleep,
            "client-pause" => Fault::ClientPause,
            "stop" => Fault::Stop,
            "flushall" => Fault::FlushAll,
            "kill-restart" => Fault::KillRestart,
            other => panic!(
                "NEARCACHE_SOAK_FAULTS: unknown fault {other:?} (none, client-kill, debug-sleep, client-pause, \
                 stop, flushall, kill-restart)"
            ),
        })
        .collect()
}

fn env_mode() -> Invalidation {
    match std::env::var("NEARCACHE_SOAK_MODE").as_deref() {
        Err(_) | Ok("tracking") => Invalidation::Tracking,
        Ok("bcast") => Invalidation::Bcast,
        Ok(other) => panic!("NEARCACHE_SOAK_MODE={other:?}: expected tracking or bcast"),
    }
}

/// Resident set size of this process, from /proc (Linux).
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Reads and errors seen so far, per shape.
struct Checked {
    /// The emptied buffer swapped in at the next check.
    spare: Vec<Read>,
    reads: usize,
    stale: usize,
    max_staleness: Duration,
    examples: Vec<String>,
    torn: Vec<String>,
    /// Errors since the last window ended, with when they happened.
    errors: Vec<(Instant, nearcache::ErrorKind)>,
}

impl Checked {
    fn new() -> Self {
        Checked {
            spare: Vec::with_capacity(READS_PER_CHECK),
            reads: 0,
            stale: 0,
            max_staleness: Duration::ZERO,
            examples: Vec::new(),
            torn: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Moves what the readers recorded out of `outcome` and checks it.
    fn drain(&mut self, outcome: &Mutex<Observations>, history: &History) {
        let (mut reads, torn, errors) = {
            let mut outcome = outcome.lock();
            let reads = std::mem::replace(&mut outcome.reads, std::mem::take(&mut self.spare));
            (reads, std::mem::take(&mut outcome.torn), std::mem::take(&mut outcome.errors))
        };
        let report = history.check(&reads, MAX_STALENESS);
        reads.clear();
        self.spare = reads;
        self.reads += report.reads;
        self.stale += report.stale;
        self.max_staleness = self.max_staleness.max(report.max_staleness);
        self.examples.extend(report.examples.into_iter().take(5usize.saturating_sub(self.examples.len())));
        self.torn.extend(torn);
        self.errors.extend(errors);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "ten minutes: run with `make soak`"]
async fn soak_mixed_load_through_every_fault() {
    let run = env_seconds();
    let mode = env_mode();
    let faults = env_faults();
    // DEBUG is off by default in Redis 7; `local` allows it from loopback.
    let mut redis = TestRedis::start_with_args(&["--enable-debug-command", "local"]).unwrap();
    let mut config = checker_config(&redis, CLIENT_NAME, mode, MAX_STALENESS);
    config.l1.ttl = L1_TTL;
    config.l1.negative_ttl = L1_TTL;
    let cache = Cache::new(config).unwrap();

    let shapes = [Shape::Strings, Shape::Hashes];
    let writes_per_key = run.as_secs() as usize * WRITES_PER_KEY_PER_SECOND;
    let histories = shapes.map(|_| Arc::new(History::with_capacity(KEYS, writes_per_key)));
    let outcomes = shapes.map(|_| {
        Arc::new(Mutex::new(Observations { reads: Vec::with_capacity(READS_PER_CHECK), ..Observations::default() }))
    });
    let mut checked = shapes.map(|_| Checked::new());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, shape) in shapes.into_iter().enumerate() {
        for w in 0..WRITERS {
            tasks.spawn(writer(redis.url().to_owned(), w, shape, Arc::clone(&histories[i]), Arc::clone(&stop)));
        }
        for r in 0..READERS_PER_SHAPE {
            let (cache, stop, outcome) = (cache.clone(), Arc::clone(&stop), Arc::clone(&outcomes[i]));
            match shape {
                Shape::Strings => tasks.spawn(read_until_stopped(cache, r, KEYS, key, stop, outcome)),
                Shape::Hashes => tasks.spawn(read_hashes_until_stopped(cache, r, KEYS, hash_key, stop, outcome)),
            };
        }
    }

    let windows = (run.as_secs() / WINDOW.as_secs()).max(1) as usize;
    eprintln!("soak: {mode:?}, {windows} windows of {WINDOW:?}, one fault each");
    // (connections, rss - history bytes) at the end of each window.
    let mut samples: Vec<(usize, u64)> = Vec::new();
    let mut recovery_worst = Duration::ZERO;
    for window in 0..windows {
        let fault = faults[window % faults.len()];
        let started = Instant::now();
        let mut fault_at = None;
        let reads_before: usize = checked.iter().map(|c| c.reads).sum();
        let stats_before = cache.stats();
        while started.elapsed() < WINDOW {
            if fault_at.is_none() && started.elapsed() >= WINDOW / 4 {
                let injected = Instant::now();
                // Data loss is recorded in both histories; `inject` records
                // it in the one it is given, the other is told here.
                if matches!(fault, Fault::KillRestart | Fault::FlushAll) {
                    histories[1].data_lost(injected);
                }
                let back = inject(fault, &mut redis, &histories[0], CLIENT_NAME).await;
                fault_at = Some((injected, back));
            }
            tokio::time::sleep(CHECK_EVERY).await;
            for i in 0..shapes.len() {
                checked[i].drain(&outcomes[i], &histories[i]);
            }
        }
        let (injected, back) = fault_at.expect("every window injects its fault");
        // Recovery: the last error after the fault, measured from the
        // server's return.
        let mut recovery = Duration::ZERO;
        for c in &mut checked {
            for (at, kind) in c.errors.drain(..) {
                assert!(kind.is_retryable(), "window {window} / {fault:?}: unexpected error kind {kind:?}");
                if at >= injected {
                    recovery = recovery.max(at.saturating_duration_since(back));
                }
            }
        }
        assert!(
            recovery < RECOVERY_BOUND,
            "window {window} / {fault:?}: errors {recovery:?} after the server returned"
        );
        recovery_worst = recovery_worst.max(recovery);

        let connections = support::client_ids(&redis, CLIENT_NAME).len();
        let history_bytes: usize = histories.iter().map(|h| h.heap_bytes()).sum();
        let rss = rss_bytes();
        samples.push((connections, rss.saturating_sub(history_bytes as u64)));
        let stats = cache.stats();
        let reads = checked.iter().map(|c| c.reads).sum::<usize>() - reads_before;
        let hits = stats.l1_hits + stats.l1_read_hits - stats_before.l1_hits - stats_before.l1_read_hits;
        eprintln!(
            "soak: window {window:>2} {fault:<11?} {reads:>8} reads ({:>4.1} % from L1), worst staleness {:?}, \
             recovery {recovery:?}, {connections} connections, rss {:.1} MiB (history {:.1} MiB), L1 {} entries",
            100.0 * hits as f64 / reads.max(1) as f64,
            checked.iter().map(|c| c.max_staleness).max().unwrap_or_default(),
            rss as f64 / 1048576.0,
            history_bytes as f64 / 1048576.0,
            stats.l1_entries,
        );
    }
    stop.store(true, Ordering::Relaxed);
    while tasks.join_next().await.is_some() {}
    for i in 0..shapes.len() {
        checked[i].drain(&outcomes[i], &histories[i]);
    }

    let stats = cache.stats();
    for (shape, c) in shapes.iter().zip(&checked) {
        eprintln!(
            "soak: {shape:?}: {} reads, {} stale, worst staleness {:?} (bound {MAX_STALENESS:?})",
            c.reads, c.stale, c.max_staleness
        );
        assert_eq!(c.stale, 0, "{shape:?}: stale reads beyond {MAX_STALENESS:?}: {:?}", c.examples);
        assert!(c.torn.is_empty(), "{shape:?}: replies no write left: {:?}", c.torn);
        assert!(c.reads > 1000, "{shape:?}: too few reads to judge ({})", c.reads);
    }
    assert!(stats.l1_hits > 0 && stats.l1_read_hits > 0, "L1 never served, the soak proves nothing: {stats:?}");
    eprintln!("soak: worst recovery {recovery_worst:?}; flushes {:?}", stats.flushes);

    // No leaked connections: never more than after the first window (the
    // pool's size is fixed; a reconnect replaces, never adds).
    let baseline = samples[0].0;
    assert!(baseline > 0, "no connection named {CLIENT_NAME} after the first window");
    for (window, (connections, _)) in samples.iter().enumerate() {
        assert!(*connections <= baseline, "window {window}: {connections} connections, {baseline} after the first");
    }
    // Memory flat: over the second half, the process grew by no more than
    // its history explains.
    if let (Some(first), Some(last)) = (samples.get(samples.len() / 2), samples.last()) {
        let growth = last.1.saturating_sub(first.1);
        assert!(growth <= MEMORY_SLACK, "memory grew {growth} bytes over the second half beyond the history's growth");
    }
}
