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
//!
//! Hashes ([`read_hashes_until_stopped`]): write `v` of a key leaves the
//! hash in the state [`hash_state`] names (fields `f0`/`f1` holding `v`, or
//! the key deleted), so a read names the write it saw by `f0`, and `f1`
//! must agree with it. A read that finds the key missing saw some deleting
//! write; it is judged against the newest one sent before it returned
//! ([`History::record_removal_sent`], [`MISSING`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::{Cache, Error, ErrorKind, Reply};

/// One read through the cache: which key, when it started, which version it
/// returned (0 = the key was absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    /// Index of the key.
    pub key: usize,
    /// When the read was issued.
    pub started: Instant,
    /// When it returned (a read may see any write applied before then).
    pub finished: Instant,
    /// The version returned (0 when absent).
    pub version: u64,
}

#[derive(Debug, Clone, Copy)]
struct Write {
    version: u64,
    acked: Instant,
}

/// [`Read::version`] of a read that found the key missing while writers
/// also delete it: resolved to the newest deleting write sent before the
/// read returned (see [`History::record_removal_sent`]).
pub const MISSING: u64 = u64::MAX;

/// The write history of a set of keys.
#[derive(Debug)]
pub struct History {
    keys: Vec<Mutex<Vec<Write>>>,
    /// Per key: (version, sent) of every write that deletes the key.
    removals: Vec<Mutex<Vec<(u64, Instant)>>>,
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
        History::with_capacity(keys, 0)
    }

    /// [`History::new`] with room for `writes_per_key` writes of each key
    /// reserved up front, so that a long run's history grows in place
    /// rather than by copying (a soak measures the process's memory).
    pub fn with_capacity(keys: usize, writes_per_key: usize) -> Self {
        History {
            keys: (0..keys).map(|_| Mutex::new(Vec::with_capacity(writes_per_key))).collect(),
            removals: (0..keys).map(|_| Mutex::new(Vec::new())).collect(),
            losses: Mutex::new(Vec::new()),
        }
    }

    /// Records that write `version` of `key`, which deletes the key, is
    /// about to be sent at `sent` (recorded before sending: the server may
    /// apply it even if its acknowledgement is lost).
    /// Like writes, removals of a key arrive in order.
    pub fn record_removal_sent(&self, key: usize, version: u64, sent: Instant) {
        if let Some(removals) = self.removals.get(key) {
            let mut removals = removals.lock();
            debug_assert!(removals.last().is_none_or(|(v, at)| *v < version && *at <= sent));
            removals.push((version, sent));
        }
    }

    /// Records that the server acknowledged `version` of `key` at `acked`.
    /// Each key has one writer, so versions and acknowledgements arrive in
    /// order; [`History::check`] relies on it to binary-search (a soak
    /// checks millions of reads against minutes of writes).
    pub fn record_write(&self, key: usize, version: u64, acked: Instant) {
        if let Some(writes) = self.keys.get(key) {
            let mut writes = writes.lock();
            debug_assert!(writes.last().is_none_or(|w| w.version < version && w.acked <= acked));
            writes.push(Write { version, acked });
        }
    }

    /// The bytes the recorded history fills on the heap (a soak subtracts
    /// their growth from the process's): reserved room counts once written.
    pub fn heap_bytes(&self) -> usize {
        let writes: usize = self.keys.iter().map(|w| w.lock().len() * std::mem::size_of::<Write>()).sum();
        let removals: usize =
            self.removals.iter().map(|r| r.lock().capacity() * std::mem::size_of::<(u64, Instant)>()).sum();
        writes + removals + self.losses.lock().capacity() * std::mem::size_of::<Instant>()
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
            // Writes acknowledged before the loss no longer count.
            let first_counted = loss.map_or(0, |l| writes.partition_point(|w| w.acked < l));
            let missing = read.version == MISSING;
            let version = match missing {
                // The newest deletion that may have been applied before the
                // read executed, i.e. sent before it returned (a read that
                // waited out a stalled server can see a deletion sent after
                // it started).
                true => {
                    let removals = self.removals[read.key].lock();
                    let sent_before = removals.partition_point(|(_, sent)| *sent <= read.finished);
                    sent_before.checked_sub(1).map_or(0, |i| removals[i].0)
                }
                false => read.version,
            };
            let first_newer = writes.partition_point(|w| w.version <= version).max(first_counted);
            let staleness = match writes.get(first_newer) {
                Some(newer) => read.started.saturating_duration_since(newer.acked),
                None => Duration::ZERO,
            };
            // A value written before the data was lost no longer exists (a
            // missing key is what a loss leaves, so it is never from lost data).
            let from_lost_data = match loss {
                Some(l) if version > 0 && !missing => {
                    let own = writes.binary_search_by_key(&version, |w| w.version).ok().map(|i| &writes[i]);
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
                        read.key,
                        if missing { format!("{version} (missing)") } else { version.to_string() },
                        staleness
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
    /// Replies no single write could have left (a hash whose fields name
    /// different writes): always a bug, whatever the bound.
    pub torn: Vec<String>,
}

/// What write `version` of a hash key leaves (the writers' schedule):
/// `None` when it deletes the key, else `f0`'s version and `f1`'s (`None`
/// when the write removed `f1`). Version 0 is the key before any write.
pub fn hash_state(version: u64) -> Option<(u64, Option<u64>)> {
    match version % 4 {
        _ if version == 0 => None,
        0 => None,
        2 => Some((version, None)),
        _ => Some((version, Some(version))),
    }
}

/// The commands of write `version` to hash `key` (run as one MULTI/EXEC, so
/// the key goes from one [`hash_state`] to the next): `HSET` of both
/// fields; `HSET` of `f0` and `HDEL` of `f1`; `HSET` of both and `EXPIRE`
/// (far enough away never to fire during a run); `DEL`.
pub fn hash_write(key: &str, version: u64) -> Vec<Vec<String>> {
    let v = version.to_string();
    let args = |parts: &[&str]| parts.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match version % 4 {
        1 => vec![args(&["HSET", key, "f0", &v, "f1", &v])],
        2 => vec![args(&["HSET", key, "f0", &v]), args(&["HDEL", key, "f1"])],
        3 => vec![args(&["HSET", key, "f0", &v, "f1", &v]), args(&["EXPIRE", key, "600"])],
        _ => vec![args(&["DEL", key])],
    }
}

fn version_of(value: Option<&[u8]>) -> Option<u64> {
    value.and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
}

/// A hash reader for the checker: like [`read_until_stopped`], with
/// `hget(f0)`, `hmget(f0, f1)`, `hgetall` and a pipelined `HGET f0` (a
/// pipeline's reads are answered from L1 and fill it on their own path,
/// [`crate::Pipeline`]) in turn. Each reply is turned
/// into the version it names ([`MISSING`] when the key is missing); a reply
/// no write leaves is recorded in [`Observations::torn`].
pub async fn read_hashes_until_stopped(
    cache: Cache,
    first: usize,
    keys: usize,
    key: fn(usize) -> String,
    stop: Arc<AtomicBool>,
    out: Arc<Mutex<Observations>>,
) {
    let mut k = first % keys.max(1);
    let mut turn = first;
    while !stop.load(Ordering::Relaxed) {
        k = (k * 7 + 3) % keys.max(1);
        turn += 1;
        let name = key(k);
        let started = Instant::now();
        // (f0, f1 if this read saw it)
        let seen: crate::Result<(Option<u64>, Option<Option<u64>>)> = match turn % 4 {
            0 => cache.hget(&name, "f0").await.map(|f0| (version_of(f0.as_deref()), None)),
            3 => pipelined_hget(&cache, &name).await.map(|f0| (version_of(f0.as_deref()), None)),
            1 => cache
                .hmget(&name, &["f0", "f1"])
                .await
                .map(|fields| (version_of(fields[0].as_deref()), Some(version_of(fields[1].as_deref())))),
            _ => cache.hgetall(&name).await.map(|pairs| {
                let field = |f: &str| pairs.iter().find(|(n, _)| n.as_ref() == f.as_bytes()).map(|(_, v)| v.as_ref());
                (version_of(field("f0")), Some(version_of(field("f1"))))
            }),
        };
        match seen {
            Ok((f0, f1)) => {
                let version = f0.unwrap_or(MISSING);
                let expected_f1 = f0.and_then(hash_state).map(|(_, f1)| f1);
                if f1.is_some_and(|f1| f1 != expected_f1.flatten()) {
                    out.lock().torn.push(format!("key {k}: f0 = {f0:?} with f1 = {f1:?}"));
                }
                out.lock().reads.push(Read { key: k, started, finished: Instant::now(), version });
            }
            Err(e) => {
                out.lock().errors.push((Instant::now(), e.kind()));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        tokio::task::yield_now().await;
    }
}

/// `HGET name f0` as the only command of a plain pipeline.
async fn pipelined_hget(cache: &Cache, name: &str) -> crate::Result<Option<Bytes>> {
    let mut pipe = cache.pipeline();
    pipe.cmd(&["HGET", name, "f0"])?;
    let mut replies = pipe.execute().await?;
    match replies.pop() {
        Some(Ok(Reply::Bytes(v))) => Ok(Some(v)),
        Some(Ok(Reply::Nil)) => Ok(None),
        Some(Ok(other)) => Err(Error::new(ErrorKind::Redis, format!("HGET replied {other:?}"))),
        Some(Err(e)) => Err(e),
        None => Err(Error::new(ErrorKind::Redis, "a pipeline of one command returned nothing")),
    }
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
                out.lock().reads.push(Read { key: k, started, finished: Instant::now(), version });
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
            Read { key: 0, started: at(t, 15), finished: at(t, 15), version: 1 }, // fresh
            Read { key: 0, started: at(t, 25), finished: at(t, 25), version: 1 }, // 5 ms stale
            Read { key: 0, started: at(t, 100), finished: at(t, 100), version: 0 }, // 90 ms stale
            Read { key: 0, started: at(t, 100), finished: at(t, 100), version: 2 }, // fresh
        ];
        let report = history.check(&reads, Duration::from_millis(10));
        assert_eq!(report.stale, 1, "{report:?}");
        assert_eq!(report.max_staleness, Duration::from_millis(90));
    }

    #[test]
    fn a_missing_key_is_judged_against_the_newest_deletion_sent_before_the_read() {
        let t = Instant::now();
        let history = History::new(1);
        for v in 1..=5 {
            if hash_state(v).is_none() {
                history.record_removal_sent(0, v, at(t, v * 10 - 1));
            }
            history.record_write(0, v, at(t, v * 10));
        }
        let reads = [
            Read { key: 0, started: at(t, 42), finished: at(t, 42), version: MISSING }, // saw write 4: fresh
            Read { key: 0, started: at(t, 60), finished: at(t, 60), version: MISSING }, // write 5 acked 10 ms before
            Read { key: 0, started: at(t, 5), finished: at(t, 5), version: MISSING },   // before any write
            Read { key: 0, started: at(t, 300), finished: at(t, 300), version: MISSING }, // 250 ms stale
        ];
        let report = history.check(&reads, Duration::from_millis(100));
        assert_eq!(report.stale, 1, "{report:?}");
        assert_eq!(report.max_staleness, Duration::from_millis(250));
        // A read that waited (a stalled server) may see a deletion sent after
        // it started.
        history.record_removal_sent(0, 8, at(t, 320));
        history.record_write(0, 8, at(t, 330));
        let waited = Read { key: 0, started: at(t, 300), finished: at(t, 340), version: MISSING };
        assert_eq!(history.check(&[waited], Duration::from_millis(100)).stale, 0);
        // After a loss, a missing key is never "from lost data".
        history.data_lost(at(t, 400));
        let report = history
            .check(&[Read { key: 0, started: at(t, 450), finished: at(t, 450), version: MISSING }], Duration::ZERO);
        assert_eq!(report.stale, 0, "{report:?}");
    }

    #[test]
    fn hash_states_follow_the_writes() {
        assert_eq!(hash_state(0), None);
        assert_eq!(hash_state(1), Some((1, Some(1))));
        assert_eq!(hash_state(2), Some((2, None)));
        assert_eq!(hash_state(3), Some((3, Some(3))));
        assert_eq!(hash_state(4), None);
        assert_eq!(hash_write("k", 4), vec![vec!["DEL".to_owned(), "k".to_owned()]]);
        assert_eq!(hash_write("k", 2)[1], vec!["HDEL".to_owned(), "k".to_owned(), "f1".to_owned()]);
    }

    #[test]
    fn after_data_loss_old_values_are_stale_and_absence_is_fine() {
        let t = Instant::now();
        let history = History::new(1);
        history.record_write(0, 1, at(t, 10));
        history.data_lost(at(t, 50));
        let reads = [
            Read { key: 0, started: at(t, 60), finished: at(t, 60), version: 0 }, // absent after the loss: fine
            Read { key: 0, started: at(t, 200), finished: at(t, 200), version: 1 }, // served lost data 150 ms later
        ];
        let report = history.check(&reads, Duration::from_millis(100));
        assert_eq!(report.stale, 1, "{report:?}");
    }
}
