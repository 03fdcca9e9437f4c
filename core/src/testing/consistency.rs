//! A consistency checker: writers outside nearcache record every write the
//! server acknowledged, readers through nearcache record what they saw, and
//! [`History::check`] reports every read that returned data older than a
//! bound.
//!
//! Each key has one writer, which writes the decimal versions 1, 2, 3, ...
//! in order, so a value names its write. A read that started at `t0` and
//! returned version `v` is stale by `t0 - ack(w)` where `w` is the first
//! acknowledged write of that key newer than `v`. A server that lost its data
//! (restart without persistence, FLUSHALL) is recorded with
//! [`History::data_lost`]: afterwards, only writes acknowledged since count,
//! and serving a value written before the loss is itself stale.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::{Cache, ErrorKind};

/// One read through the cache: which key, when it started, which version it
/// returned (0 = the key was absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    /// Index of the key.
    pub key: usize,
    /// When the read was issued.
    pub started: Instant,
    /// The version returned (0 when absent).
    pub version: u64,
}

#[derive(Debug, Clone, Copy)]
struct Write {
    version: u64,
    acked: Instant,
}

/// The write history of a set of keys.
#[derive(Debug)]
pub struct History {
    keys: Vec<Mutex<Vec<Write>>>,
    losses: Mutex<Vec<Instant>>,
}

/// What [`History::check`] found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Reads checked.
    pub reads: usize,
    /// Reads staler than the bound.
    pub stale: usize,
    /// The largest staleness seen (within the bound or not).
    pub max_staleness: Duration,
    /// A few stale reads, described, for the failure message.
    pub examples: Vec<String>,
}

impl History {
    /// A history of `keys` keys with no writes.
    pub fn new(keys: usize) -> Self {
        History { keys: (0..keys).map(|_| Mutex::new(Vec::new())).collect(), losses: Mutex::new(Vec::new()) }
    }

    /// Records that the server acknowledged `version` of `key` at `acked`.
    pub fn record_write(&self, key: usize, version: u64, acked: Instant) {
        if let Some(writes) = self.keys.get(key) {
            writes.lock().push(Write { version, acked });
        }
    }

    /// Records that the server lost every write acknowledged before `at`.
    pub fn data_lost(&self, at: Instant) {
        self.losses.lock().push(at);
    }

    /// Checks every read against the history with a staleness `bound`.
    pub fn check(&self, reads: &[Read], bound: Duration) -> Report {
        let losses = self.losses.lock().clone();
        let mut report = Report { reads: reads.len(), ..Report::default() };
        for read in reads {
            let Some(writes) = self.keys.get(read.key) else { continue };
            let writes = writes.lock();
            let loss = losses.iter().copied().filter(|l| *l <= read.started).max();
            let counts = |w: &Write| loss.is_none_or(|l| w.acked >= l);
            let staleness = match writes.iter().filter(|w| counts(w)).find(|w| w.version > read.version) {
                Some(newer) => read.started.saturating_duration_since(newer.acked),
                None => Duration::ZERO,
            };
            // A value written before the data was lost no longer exists.
            let from_lost_data = match loss {
                Some(l) if read.version > 0 => {
                    let own = writes.iter().find(|w| w.version == read.version);
                    own.is_some_and(|w| w.acked < l).then(|| read.started.saturating_duration_since(l))
                }
                _ => None,
            };
            let staleness = staleness.max(from_lost_data.unwrap_or_default());
            report.max_staleness = report.max_staleness.max(staleness);
            if staleness > bound {
                report.stale += 1;
                if report.examples.len() < 5 {
                    report.examples.push(format!(
                        "key {} read version {} {:?} after a newer write was acknowledged",
                        read.key, read.version, staleness
                    ));
                }
            }
        }
        report
    }
}

/// What readers saw: every successful read, and every error with its time.
#[derive(Debug, Default)]
pub struct Observations {
    /// Reads that returned, with the version they saw.
    pub reads: Vec<Read>,
    /// Reads that failed: when, and how.
    pub errors: Vec<(Instant, ErrorKind)>,
}

/// A reader for the checker: reads `key(i)` for `i` in `0..keys` through
/// `cache` in a scrambled order starting from `first`, until `stop` is set.
/// Values must be decimal versions (absent = 0). After an error it waits
/// 5 ms, so an outage does not become a busy loop.
pub async fn read_until_stopped(
    cache: Cache,
    first: usize,
    keys: usize,
    key: fn(usize) -> String,
    stop: Arc<AtomicBool>,
    out: Arc<Mutex<Observations>>,
) {
    let mut k = first % keys.max(1);
    while !stop.load(Ordering::Relaxed) {
        k = (k * 7 + 3) % keys.max(1);
        let started = Instant::now();
        match cache.get(key(k)).await {
            Ok(value) => {
                let version =
                    value.and_then(|v| std::str::from_utf8(&v).ok().and_then(|v| v.parse::<u64>().ok())).unwrap_or(0);
                out.lock().reads.push(Read { key: k, started, version });
            }
            Err(e) => {
                out.lock().errors.push((Instant::now(), e.kind()));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    #[test]
    fn reads_are_judged_against_the_first_newer_acknowledged_write() {
        let t = Instant::now();
        let history = History::new(1);
        history.record_write(0, 1, at(t, 10));
        history.record_write(0, 2, at(t, 20));
        let reads = [
            Read { key: 0, started: at(t, 15), version: 1 },  // fresh
            Read { key: 0, started: at(t, 25), version: 1 },  // 5 ms stale
            Read { key: 0, started: at(t, 100), version: 0 }, // 90 ms stale
            Read { key: 0, started: at(t, 100), version: 2 }, // fresh
        ];
        let report = history.check(&reads, Duration::from_millis(10));
        assert_eq!(report.stale, 1, "{report:?}");
        assert_eq!(report.max_staleness, Duration::from_millis(90));
    }

    #[test]
    fn after_data_loss_old_values_are_stale_and_absence_is_fine() {
        let t = Instant::now();
        let history = History::new(1);
        history.record_write(0, 1, at(t, 10));
        history.data_lost(at(t, 50));
        let reads = [
            Read { key: 0, started: at(t, 60), version: 0 }, // absent after the loss: fine
            Read { key: 0, started: at(t, 200), version: 1 }, // served lost data 150 ms later
        ];
        let report = history.check(&reads, Duration::from_millis(100));
        assert_eq!(report.stale, 1, "{report:?}");
    }
}
