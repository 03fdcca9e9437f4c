//! Keeping L1 coherent with Redis: server-assisted invalidation (CLIENT
//! TRACKING), epochs, and the health bound on half-open connections.
//!
//! [`Local`] is the L1 side that connections talk to. Its push handler runs
//! inline in each connection's reader (redis-rs calls it before it delivers
//! any reply that follows the push), which is what makes these hold:
//!
//! - **Fill race (rule 2).** A push for a key retires the key's pending fill
//!   under the lock the fill inserts under (see `fills`).
//! - **Lost connection (rule 4).** When a connection that carried
//!   invalidations goes away, the epoch is bumped before anyone can read
//!   from L1 again: entries filled under the old epoch are never served.
//!   A nil invalidation (FLUSHALL / FLUSHDB) does the same.
//! - **Half-open connections (rule 5).** Every `health_interval` each
//!   connection is sent a PING at time `tp`; its PONG arrives after every
//!   push the server queued before it, and those pushes were applied before
//!   the PONG was delivered, so the PONG proves the connection current as of
//!   `tp`. L1 serves entries only until `min(tp over live connections) +
//!   max_staleness`; a connection silent for longer is recycled (and L1
//!   flushed). The pings and the registry of pools live in `health`; this
//!   module keeps the deadline and applies it.
//!
//! The connection layer knows nothing of this: `Local` hears from it through
//! [`ConnEvents`], and [`handshake`] is the command each new connection is
//! given to turn tracking on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use redis::{PushInfo, PushKind, Value};

use crate::clock::{duration_nanos, Clock};
use crate::command::Reply;
use crate::config::{Invalidation, L1Config};
use crate::conn::{ConnEvents, Handshake};
use crate::fills::Fills;
use crate::l1::{LocalRef, LocalView, Lookup, ShardedStore, Store};
use crate::stats::{Op, Recorder, L1_SAMPLE_MASK};

/// Why L1 was emptied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlushCause {
    /// A connection carrying invalidations was lost.
    Disconnect,
    /// The server sent a nil invalidation (FLUSHALL / FLUSHDB).
    Nil,
    /// A connection was not confirmed alive within `max_staleness`.
    Health,
    /// The caller asked (`invalidate_local_all`, a raw FLUSHDB, `close`).
    Manual,
    /// Cluster slots moved to another master: only their entries went.
    Topology,
    /// A cluster node's or a route's connection was lost: only the entries
    /// of the keys read through it went (see [`Local::flush_slots`]).
    Partial,
}

/// L1 and everything that decides whether an entry may be served.
pub(crate) struct Local {
    pub(crate) store: ShardedStore,
    /// Pending `GET` fills.
    pub(crate) fills: Fills,
    /// Pending fills of the other cached reads (per key and slot). Every
    /// invalidation retires both tables' flights for the key.
    pub(crate) reads: Fills<Arc<Reply>>,
    pub(crate) clock: Clock,
    recorder: Arc<Recorder>,
    mode: Invalidation,
    enabled: bool,
    /// `stale_if_error` in nanoseconds (0 = off). While it is on, a flush for
    /// a lost connection hides entries (epoch) instead of deleting them, so
    /// they can still be served, flagged, if Redis stays unreachable.
    stale_if_error: u64,
    max_staleness: u64,
    /// Entries filled under an older epoch are not served.
    epoch: AtomicU64,
    /// Held while the epoch changes, so that a full flush's bump never lands
    /// in the middle of a partial flush moving the entries it keeps to the
    /// next epoch (which would carry them past the full flush).
    epoch_change: Mutex<()>,
    /// L1 answers only while the clock is below this (rule 5). `u64::MAX`
    /// in `ttl` mode, where no connection vouches for L1.
    serve_until: AtomicU64,
}

impl Local {
    pub(crate) fn new(l1: &L1Config, clock: Clock, recorder: Arc<Recorder>) -> Self {
        let enabled = l1.invalidation != Invalidation::Off;
        let store = ShardedStore::new(if enabled { l1.max_bytes } else { 0 }, Some(Arc::clone(&recorder.hot_keys)));
        let serve_until = if l1.invalidation.uses_server_push() { 0 } else { u64::MAX };
        Local {
            store,
            fills: Fills::new(),
            reads: Fills::new(),
            clock,
            recorder,
            mode: l1.invalidation,
            enabled,
            stale_if_error: duration_nanos(l1.stale_if_error),
            max_staleness: duration_nanos(l1.max_staleness),
            epoch: AtomicU64::new(1),
            epoch_change: Mutex::new(()),
            serve_until: AtomicU64::new(serve_until),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// The hit path: memory only, no lock a network task holds for long.
    #[cfg(test)]
    pub(crate) fn lookup(&self, key: &[u8]) -> Lookup {
        self.lookup_versioned(key).0
    }

    /// [`Local::lookup`] with the version of the entry that answered (see
    /// `Store::get_versioned`; 0 for a miss).
    #[inline]
    pub(crate) fn lookup_versioned(&self, key: &[u8]) -> (Lookup, u64) {
        if !self.enabled {
            return (Lookup::Miss, 0);
        }
        let now = self.clock.now();
        // Past the health deadline nothing is trusted: asking for an epoch
        // no entry has turns every lookup into a (counted) miss.
        let min_epoch =
            if now < self.serve_until.load(Ordering::Acquire) { self.epoch.load(Ordering::Acquire) } else { u64::MAX };
        self.store.get_versioned(key, now, min_epoch)
    }

    /// [`Local::lookup_versioned`], borrowing the answer (see
    /// `Cache::with_local`).
    #[inline]
    pub(crate) fn with_local<R>(&self, key: &[u8], f: impl FnOnce(LocalRef<'_>) -> R) -> R {
        if !self.enabled {
            return f(LocalRef::Miss);
        }
        let guard = crate::l1::read();
        // One read in `L1_SAMPLE_MASK + 1` per thread is timed; the guard's
        // slot already counts the thread's reads, so sampling costs nothing.
        let started = guard.sampled(L1_SAMPLE_MASK).then(Instant::now);
        let now = self.clock.now();
        let result = self.store.with_value(key, now, self.min_epoch(now), &guard, f);
        drop(guard);
        if let Some(started) = started {
            self.recorder.latency(Op::L1, started.elapsed(), key);
        }
        result
    }

    /// The oldest epoch an entry may have to be served now: past the health
    /// deadline nothing is trusted, so `u64::MAX` (every lookup a miss).
    #[inline]
    fn min_epoch(&self, now: u64) -> u64 {
        if now < self.serve_until.load(Ordering::Acquire) {
            self.epoch.load(Ordering::Acquire)
        } else {
            u64::MAX
        }
    }

    /// The cached reply of the read `slot` of `key`, under the same rules as
    /// [`Local::lookup_versioned`] (epoch, health deadline, expiry).
    pub(crate) fn lookup_reply(&self, key: &[u8], slot: &[u8]) -> Option<Arc<Reply>> {
        if !self.enabled {
            return None;
        }
        let now = self.clock.now();
        self.store.get_reply(key, slot, now, self.min_epoch(now))
    }

    /// [`Local::lookup_versioned`] with what a binding needs to reuse a
    /// converted copy of the answer (see [`LocalView`]).
    pub(crate) fn lookup_view(&self, key: &[u8]) -> LocalView {
        let changes = self.store.changes();
        let global_index = changes.global_index();
        let miss = |global| LocalView {
            lookup: Lookup::Miss,
            version: 0,
            word: global_index,
            change: 0,
            global,
            valid_for: Duration::ZERO,
        };
        if !self.enabled {
            return miss(0);
        }
        // Read first: flushes and health-deadline cuts bump it after they
        // take effect, so a copy made from this lookup is dropped by any
        // that lands after this read.
        let global = changes.read(global_index);
        let now = self.clock.now();
        let serve_until = self.serve_until.load(Ordering::Acquire);
        let min_epoch = if now < serve_until { self.epoch.load(Ordering::Acquire) } else { u64::MAX };
        match self.store.get_seen(key, now, min_epoch) {
            Some(seen) => LocalView {
                lookup: seen.lookup,
                version: seen.version,
                word: seen.word,
                change: seen.change,
                global,
                valid_for: Duration::from_nanos(seen.expires_at.min(serve_until).saturating_sub(now)),
            },
            None => miss(global),
        }
    }

    /// The epoch a fill must record; read before its request is sent.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The last value known for `key` if it is at most `stale_if_error` old
    /// (rule 8); `None` when there is none or the option is off.
    pub(crate) fn stale(&self, key: &[u8]) -> Option<Option<Bytes>> {
        if self.stale_if_error == 0 || !self.enabled {
            return None;
        }
        let found = self.store.get_stale(key, self.clock.now(), self.stale_if_error);
        if found.is_some() {
            self.recorder.counters.stale_served.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Drops `key` (its value and every cached reply) and retires its
    /// pending fills of every kind (own writes, rule 3).
    pub(crate) fn drop_key(&self, key: &[u8]) {
        if self.enabled {
            self.fills.invalidate(key, || self.reads.invalidate(key, || self.store.remove(key)));
        }
    }

    /// An invalidation from the server or from the caller.
    pub(crate) fn invalidate(&self, key: &[u8]) {
        self.drop_key(key);
        self.recorder.counters.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops every entry whose key starts with `prefix`.
    pub(crate) fn drop_prefix(&self, prefix: &[u8]) {
        self.fills.invalidate_all(|| {
            self.reads.invalidate_all(|| {
                self.store.remove_prefix(prefix);
            })
        });
    }

    /// Empties L1: bumps the epoch (entries of in-flight fills become
    /// invisible even if they land after this) and retires every fill.
    pub(crate) fn flush(&self, cause: FlushCause) {
        self.count_flush(cause);
        {
            let _exclusive = self.epoch_change.lock();
            self.epoch.fetch_add(1, Ordering::AcqRel);
        }
        self.store.changes().bump(self.store.changes().global_index());
        let keep_for_stale = self.stale_if_error > 0 && matches!(cause, FlushCause::Disconnect | FlushCause::Health);
        self.fills.invalidate_all(|| {
            self.reads.invalidate_all(|| {
                if !keep_for_stale {
                    self.store.clear();
                }
            })
        });
    }

    fn count_flush(&self, cause: FlushCause) {
        let counters = &self.recorder.counters;
        let counter = match cause {
            FlushCause::Disconnect => &counters.flush_disconnect,
            FlushCause::Nil => &counters.flush_nil,
            FlushCause::Health => &counters.flush_health,
            FlushCause::Manual => &counters.flush_manual,
            FlushCause::Topology => &counters.flush_topology,
            FlushCause::Partial => &counters.flush_partial,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Rule 4 for one cluster node: drops the entries whose key `lost`
    /// accepts (the slots the node's connection served) and keeps the rest.
    /// As in [`Local::flush`], every fill in flight is retired and no entry
    /// of the old epoch is served once this returns; the entries kept move
    /// to the new epoch first, all under the fill locks (nothing lands
    /// meanwhile), so the switch is atomic for readers. With
    /// `stale_if_error` the dropped entries are hidden, not deleted.
    pub(crate) fn flush_slots(&self, lost: &dyn Fn(&[u8]) -> bool) {
        self.flush_keys(FlushCause::Partial, lost);
    }

    /// [`Local::flush_slots`], counted as `cause`.
    fn flush_keys(&self, cause: FlushCause, lost: &dyn Fn(&[u8]) -> bool) {
        self.count_flush(cause);
        let remove = self.stale_if_error == 0;
        self.fills.invalidate_all(|| {
            self.reads.invalidate_all(|| {
                let _exclusive = self.epoch_change.lock();
                let from = self.epoch.load(Ordering::Acquire);
                let (_, dropped) = self.store.restamp(from, from + 1, |key| !lost(key), remove);
                self.epoch.store(from + 1, Ordering::Release);
                self.recorder.counters.partial_flush_dropped.fetch_add(dropped, Ordering::Relaxed);
            })
        });
        // Copies kept by bindings may be of dropped entries.
        self.store.changes().bump(self.store.changes().global_index());
    }

    /// A connection that carried invalidations is gone (rule 4). In `ttl`
    /// mode no connection vouches for L1, so nothing is dropped.
    pub(crate) fn connection_lost(&self) {
        if self.mode.uses_server_push() {
            self.flush(FlushCause::Disconnect);
        }
    }

    /// [`Local::connection_lost`] for a connection that served only the keys
    /// `served` accepts (one cluster node's).
    pub(crate) fn connection_lost_serving(&self, served: &dyn Fn(&[u8]) -> bool) {
        if self.mode.uses_server_push() {
            self.flush_slots(served);
        }
    }

    /// Handles a push from a connection's reader, inline.
    pub(crate) fn on_push(&self, push: PushInfo) {
        if push.kind != PushKind::Invalidate {
            return;
        }
        // RESP3: ["invalidate", [key, ...]] arrives as data = [[key, ...]],
        // or data = [nil] after FLUSHALL / FLUSHDB.
        match push.data.into_iter().next() {
            Some(Value::Array(keys)) => {
                for key in keys {
                    if let Value::BulkString(key) = key {
                        self.invalidate(&key);
                    }
                }
            }
            _ => self.flush(FlushCause::Nil),
        }
    }

    /// Sets the health deadline from the oldest confirmation among live
    /// connections (`None`: no live connection, so nothing is vouched for).
    pub(crate) fn confirmed_until(&self, oldest_confirmation: Option<u64>) {
        if !self.mode.uses_server_push() {
            return;
        }
        let until = oldest_confirmation.map_or(0, |tp| tp.saturating_add(self.max_staleness));
        let before = self.serve_until.swap(until, Ordering::AcqRel);
        if until < before {
            // Copies kept by bindings were promised the old deadline.
            self.store.changes().bump(self.store.changes().global_index());
        }
    }

    /// Whether a confirmation at `tp` is too old to vouch for L1 any more.
    pub(crate) fn is_overdue(&self, tp: u64) -> bool {
        self.clock.now() >= tp.saturating_add(self.max_staleness)
    }
}

/// How a connection reports to L1: pushes invalidate, a lost connection
/// or a moved slot flushes.
impl ConnEvents for Local {
    fn push_received(&self, push: PushInfo) {
        self.on_push(push);
    }

    fn connection_lost(&self) {
        Local::connection_lost(self);
    }

    fn topology_changed(&self, moved: &dyn Fn(&[u8]) -> bool) {
        if self.mode.uses_server_push() {
            self.flush_keys(FlushCause::Topology, moved);
        }
    }

    fn connection_lost_serving(&self, served: &dyn Fn(&[u8]) -> bool) {
        Local::connection_lost_serving(self, served);
    }
}

/// The command that turns tracking on for a new connection, if the mode
/// needs one.
pub(crate) fn tracking_command(l1: &L1Config) -> Option<redis::Cmd> {
    match l1.invalidation {
        Invalidation::Tracking => Some(redis::cmd("CLIENT").arg("TRACKING").arg("ON").to_owned()),
        Invalidation::Bcast => {
            let mut cmd = redis::cmd("CLIENT");
            cmd.arg("TRACKING").arg("ON").arg("BCAST");
            for prefix in &l1.prefixes {
                cmd.arg("PREFIX").arg(prefix);
            }
            Some(cmd)
        }
        Invalidation::Ttl | Invalidation::Off => None,
    }
}

/// The handshake that turns tracking on for a new connection, if the mode
/// needs one, worded for the error a server without tracking gives.
pub(crate) fn handshake(l1: &L1Config) -> Option<Handshake> {
    tracking_command(l1).map(|cmd| Handshake {
        cmd,
        refused: "enabling CLIENT TRACKING (l1.invalidation needs Redis 6+; use \"ttl\" without it)",
    })
}

/// Whether `key` may be cached in L1 under `mode`: in `bcast` mode with
/// prefixes, keys outside them get no invalidations and are not cached.
pub(crate) fn covered(l1: &L1Config, key: &[u8]) -> bool {
    l1.invalidation != Invalidation::Bcast
        || l1.prefixes.is_empty()
        || l1.prefixes.iter().any(|p| key.starts_with(p.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::l1::NewEntry;

    fn local(mode: Invalidation) -> (Local, Clock) {
        let clock = Clock::manual();
        let l1 = L1Config { invalidation: mode, ..L1Config::default() };
        (Local::new(&l1, clock.clone(), Arc::new(Recorder::new(Duration::from_secs(1), 0))), clock)
    }

    fn fill(local: &Local, key: &str, value: &str) {
        let now = local.clock.now();
        local.store.insert(
            NewEntry {
                key: Bytes::copy_from_slice(key.as_bytes()),
                value: Some(Bytes::copy_from_slice(value.as_bytes())),
                expires_at: now + 60_000_000_000,
                epoch: local.epoch(),
            },
            now,
        );
    }

    fn push(keys: Option<&[&str]>) -> PushInfo {
        let data = match keys {
            Some(keys) => vec![Value::Array(keys.iter().map(|k| Value::BulkString(k.as_bytes().to_vec())).collect())],
            None => vec![Value::Nil],
        };
        PushInfo { kind: PushKind::Invalidate, data }
    }

    #[test]
    fn nothing_is_served_before_a_connection_vouches_for_it() {
        let (local, clock) = local(Invalidation::Tracking);
        fill(&local, "k", "v");
        assert_eq!(local.lookup(b"k"), Lookup::Miss);
        local.confirmed_until(Some(clock.now()));
        assert!(matches!(local.lookup(b"k"), Lookup::Hit(_)));
        clock.advance(Duration::from_secs(2));
        assert_eq!(local.lookup(b"k"), Lookup::Miss, "served past max_staleness");
        local.confirmed_until(Some(clock.now()));
        assert!(matches!(local.lookup(b"k"), Lookup::Hit(_)));
        local.confirmed_until(None);
        assert_eq!(local.lookup(b"k"), Lookup::Miss);
    }

    /// A binding's copy made from a view stays usable exactly while its two
    /// words are unchanged and `valid_for` has not run out.
    fn still_usable(local: &Local, view: &LocalView, made_at: u64) -> bool {
        let words = local.store.changes();
        words.read(view.word) == view.change
            && words.read(words.global_index()) == view.global
            && local.clock.now() < made_at + duration_nanos(view.valid_for)
    }

    #[test]
    fn views_change_whenever_l1_stops_serving_the_entry() {
        let (local, clock) = local(Invalidation::Tracking);
        local.confirmed_until(Some(clock.now()));
        let view_of = |key: &str| {
            let view = local.lookup_view(key.as_bytes());
            assert!(matches!(view.lookup, Lookup::Hit(_)), "{key}: {view:?}");
            (view, local.clock.now())
        };

        // An invalidation of the key; not one of another key in its shard.
        fill(&local, "a", "v");
        let (view, at) = view_of("a");
        assert_eq!(view.valid_for, Duration::from_secs(2), "the health deadline comes first");
        local.on_push(push(Some(&["not-cached"])));
        assert!(still_usable(&local, &view, at));
        local.on_push(push(Some(&["a"])));
        assert!(!still_usable(&local, &view, at));

        // A refill of the same key (replacing the entry), a flush, a prefix drop.
        fill(&local, "b", "v");
        let (view, at) = view_of("b");
        fill(&local, "b", "w");
        assert!(!still_usable(&local, &view, at));
        let (view, at) = view_of("b");
        local.flush(FlushCause::Manual);
        assert!(!still_usable(&local, &view, at));
        fill(&local, "c:1", "v");
        let (view, at) = view_of("c:1");
        local.drop_prefix(b"c:");
        assert!(!still_usable(&local, &view, at));

        // The health deadline passing, and being cut back.
        fill(&local, "d", "v");
        let (view, at) = view_of("d");
        clock.advance(Duration::from_millis(1999));
        assert!(still_usable(&local, &view, at));
        clock.advance(Duration::from_millis(1));
        assert!(!still_usable(&local, &view, at));
        assert_eq!(local.lookup_view(b"d").lookup, Lookup::Miss);
        local.confirmed_until(Some(clock.now()));
        let (view, at) = view_of("d");
        local.confirmed_until(None);
        assert!(!still_usable(&local, &view, at));
        local.confirmed_until(Some(clock.now()));
        let (view, at) = view_of("d");
        local.confirmed_until(Some(clock.now() + 1));
        assert!(still_usable(&local, &view, at), "a later deadline keeps copies");
    }

    #[test]
    fn views_end_at_the_entry_expiry_and_on_eviction() {
        let (local, clock) = local(Invalidation::Ttl);
        let now = clock.now();
        local.store.insert(
            NewEntry { key: Bytes::from_static(b"k"), value: None, expires_at: now + 500, epoch: local.epoch() },
            now,
        );
        let view = local.lookup_view(b"k");
        assert_eq!((view.lookup.clone(), view.valid_for), (Lookup::Absent, Duration::from_nanos(500)));
        clock.advance(Duration::from_nanos(500));
        assert!(!still_usable(&local, &view, now));

        // Eviction: a store of one entry's room.
        let l1 = L1Config { invalidation: Invalidation::Ttl, max_bytes: 300, ..L1Config::default() };
        let small = Local::new(&l1, clock.clone(), Arc::new(Recorder::new(Duration::from_secs(1), 0)));
        fill(&small, "first", "v");
        let view = small.lookup_view(b"first");
        assert!(matches!(view.lookup, Lookup::Hit(_)));
        let at = clock.now();
        for i in 0..200 {
            fill(&small, &format!("other:{i}"), "v");
        }
        assert_eq!(small.lookup_view(b"first").lookup, Lookup::Miss);
        assert!(!still_usable(&small, &view, at));
    }

    #[test]
    fn views_of_a_disabled_l1_are_misses() {
        let (local, _) = local(Invalidation::Off);
        fill(&local, "k", "v");
        assert_eq!(local.lookup_view(b"k").lookup, Lookup::Miss);
    }

    #[test]
    fn pushes_invalidate_keys_and_nil_flushes_everything() {
        let (local, clock) = local(Invalidation::Tracking);
        local.confirmed_until(Some(clock.now()));
        for k in ["a", "b", "c"] {
            fill(&local, k, "v");
        }
        local.on_push(push(Some(&["a", "b"])));
        assert_eq!(local.lookup(b"a"), Lookup::Miss);
        assert_eq!(local.lookup(b"b"), Lookup::Miss);
        assert!(matches!(local.lookup(b"c"), Lookup::Hit(_)));
        local.on_push(push(None));
        assert_eq!(local.lookup(b"c"), Lookup::Miss);
        assert_eq!(local.recorder.counters.flush_nil.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_lost_connection_hides_entries_filled_before_it() {
        let (local, clock) = local(Invalidation::Tracking);
        local.confirmed_until(Some(clock.now()));
        let epoch = local.epoch();
        fill(&local, "k", "v");
        local.connection_lost();
        assert_eq!(local.lookup(b"k"), Lookup::Miss);
        // A fill that started before the loss and lands after it stays hidden.
        let now = clock.now();
        local.store.insert(
            NewEntry { key: Bytes::from_static(b"late"), value: None, expires_at: now + 1_000_000_000, epoch },
            now,
        );
        assert_eq!(local.lookup(b"late"), Lookup::Miss);
    }

    #[test]
    fn a_lost_node_drops_only_the_keys_it_served() {
        let (local, clock) = local(Invalidation::Tracking);
        local.confirmed_until(Some(clock.now()));
        let epoch = local.epoch();
        for k in ["lost:1", "lost:2", "kept:1", "kept:2"] {
            fill(&local, k, "v");
        }
        local.connection_lost_serving(&|key: &[u8]| key.starts_with(b"lost:"));
        assert_eq!(local.lookup(b"lost:1"), Lookup::Miss);
        assert_eq!(local.lookup(b"lost:2"), Lookup::Miss);
        assert!(matches!(local.lookup(b"kept:1"), Lookup::Hit(_)));
        assert!(matches!(local.lookup(b"kept:2"), Lookup::Hit(_)));
        assert_eq!(local.store.entry_count(), 2, "the dropped entries are gone, not just hidden");
        assert_eq!(local.recorder.counters.flush_partial.load(Ordering::Relaxed), 1);
        assert_eq!(local.recorder.counters.partial_flush_dropped.load(Ordering::Relaxed), 2);
        assert_eq!(local.recorder.counters.flush_disconnect.load(Ordering::Relaxed), 0);
        // A fill that started before the loss stays hidden whichever node it
        // came from (it may have been answered by the lost one).
        let now = clock.now();
        local.store.insert(
            NewEntry { key: Bytes::from_static(b"kept:3"), value: None, expires_at: now + 1_000_000_000, epoch },
            now,
        );
        assert_eq!(local.lookup(b"kept:3"), Lookup::Miss);
        // A later full flush still empties what the partial one kept.
        local.connection_lost();
        assert_eq!(local.lookup(b"kept:1"), Lookup::Miss);
    }

    #[test]
    fn ttl_mode_is_not_flushed_by_a_lost_connection() {
        let (local, _) = local(Invalidation::Ttl);
        fill(&local, "k", "v");
        local.connection_lost();
        assert!(matches!(local.lookup(b"k"), Lookup::Hit(_)));
    }

    #[test]
    fn bcast_prefixes_decide_what_is_cached() {
        let l1 = L1Config { invalidation: Invalidation::Bcast, prefixes: vec!["user:".into()], ..L1Config::default() };
        assert!(covered(&l1, b"user:1"));
        assert!(!covered(&l1, b"order:1"));
        let cmd = tracking_command(&l1).unwrap();
        let packed = String::from_utf8_lossy(&cmd.get_packed_command()).into_owned();
        assert!(packed.contains("BCAST") && packed.contains("PREFIX") && packed.contains("user:"), "{packed}");
    }
}
