//! The pending-fill table: fill tokens (docs/design.md, rule 2) and single flight
//! (rule 9).
//!
//! A miss registers a *flight* for its key before the read is sent. An
//! invalidation of the key removes the flight under the same lock that a
//! completing fill holds while it inserts into L1, so exactly one of these
//! orders happens:
//!
//! - the fill inserts, then the invalidation removes the inserted entry; or
//! - the invalidation retires the flight, and the fill sees that and does not
//!   insert.
//!
//! A stale value therefore never lands in L1 after the invalidation for it
//! was processed. Concurrent readers of the same key join the flight and share
//! its reply (one round trip). A flight whose leader is cancelled closes its
//! channel, and the followers start over.
//!
//! Flights are per key and *slot*: `GET` uses the empty slot, every other
//! cached read the normalized command it fills (`CachedRead::slot`), so two
//! different reads of one key fly separately, while an invalidation of the
//! key retires all of them under the one lock of the key's shard.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::error::{Error, ErrorKind, Result};

const SHARDS: usize = 16;

/// A reply shared between the leader of a flight and its followers. Errors
/// are shared by kind and message (the source stays with the leader).
pub(crate) type Shared<T = Option<Bytes>> = std::result::Result<T, (ErrorKind, String)>;

struct Flight<T> {
    tx: watch::Sender<Option<Shared<T>>>,
}

/// The flights of one key, by slot (almost always one).
type Flights<T> = Vec<(Bytes, Arc<Flight<T>>)>;
type Table<T> = HashMap<Bytes, Flights<T>, foldhash::fast::RandomState>;

/// The pending fills of one kind of reply: `Option<Bytes>` for `GET` and
/// `get_or_load`, `Arc<Reply>` for the other cached reads.
pub(crate) struct Fills<T = Option<Bytes>> {
    shards: Box<[Mutex<Table<T>>]>,
    hasher: foldhash::fast::RandomState,
}

/// The outcome of [`Fills::join`].
pub(crate) enum Join<'a, T = Option<Bytes>> {
    /// No read is in flight: the caller sends it and completes the guard.
    Leader(FillGuard<'a, T>),
    /// Another caller's read is in flight: wait for its reply.
    Follower(Follower<T>),
}

impl<T> Fills<T> {
    pub(crate) fn new() -> Self {
        Fills {
            shards: (0..SHARDS).map(|_| Mutex::new(Table::default())).collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn shard(&self, key: &[u8]) -> &Mutex<Table<T>> {
        &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS]
    }

    /// Registers a fill for `key` (the `GET` slot), or joins the one in flight.
    pub(crate) fn join(&self, key: &Bytes) -> Join<'_, T> {
        self.join_slot(key, &Bytes::new())
    }

    /// Registers a fill for `slot` of `key`, or joins the one in flight.
    pub(crate) fn join_slot(&self, key: &Bytes, slot: &Bytes) -> Join<'_, T> {
        let mut table = self.shard(key).lock();
        let flights = table.entry(key.clone()).or_default();
        if let Some((_, flight)) = flights.iter().find(|(s, _)| s == slot) {
            return Join::Follower(Follower { rx: flight.tx.subscribe() });
        }
        let (tx, _) = watch::channel(None);
        let flight = Arc::new(Flight { tx });
        flights.push((slot.clone(), Arc::clone(&flight)));
        Join::Leader(FillGuard { fills: self, key: key.clone(), slot: slot.clone(), flight, done: false })
    }

    /// Retires every fill in flight for `key` (all slots) and runs
    /// `drop_entry` (which removes the L1 entry) under the same lock that
    /// fills insert under. Returns whether a flight was retired.
    pub(crate) fn invalidate<R>(&self, key: &[u8], drop_entry: impl FnOnce() -> R) -> bool {
        let mut table = self.shard(key).lock();
        let retired = table.remove(key).is_some();
        drop_entry();
        retired
    }

    /// Removes `flight` from `table` if it is still the one for its slot;
    /// returns whether it was.
    fn retire(table: &mut Table<T>, key: &[u8], slot: &[u8], flight: &Arc<Flight<T>>) -> bool {
        let Some(flights) = table.get_mut(key) else { return false };
        let Some(at) = flights.iter().position(|(s, f)| s == slot && Arc::ptr_eq(f, flight)) else {
            return false;
        };
        flights.swap_remove(at);
        if flights.is_empty() {
            table.remove(key);
        }
        true
    }

    /// Retires every fill in flight and runs `drop_all` under all the locks
    /// (a flush: nil invalidation, lost connection, `invalidate_local()`).
    pub(crate) fn invalidate_all(&self, drop_all: impl FnOnce()) {
        let mut guards: Vec<_> = self.shards.iter().map(|s| s.lock()).collect();
        for table in guards.iter_mut() {
            table.clear();
        }
        drop_all();
    }

    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.shards.iter().map(|s| s.lock().values().map(Vec::len).sum::<usize>()).sum()
    }
}

/// Held by the one caller that sends the read for a key's slot.
pub(crate) struct FillGuard<'a, T = Option<Bytes>> {
    fills: &'a Fills<T>,
    key: Bytes,
    slot: Bytes,
    flight: Arc<Flight<T>>,
    done: bool,
}

impl<T> FillGuard<'_, T> {
    /// Runs `insert` only if no invalidation retired this fill since it was
    /// registered, atomically with respect to [`Fills::invalidate`]; then
    /// hands `reply` to the followers. Returns whether `insert` ran.
    pub(crate) fn complete(mut self, reply: Shared<T>, insert: impl FnOnce()) -> bool {
        let inserted = {
            let mut table = self.fills.shard(&self.key).lock();
            let live = Fills::retire(&mut table, &self.key, &self.slot, &self.flight);
            if live {
                insert();
            }
            live
        };
        self.flight.tx.send_replace(Some(reply));
        self.done = true;
        inserted
    }
}

impl<T> Drop for FillGuard<'_, T> {
    /// A leader dropped before completing (its caller was cancelled): retire
    /// the flight so the next reader starts a new one. Dropping the sender
    /// wakes the followers, who retry.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut table = self.fills.shard(&self.key).lock();
        Fills::retire(&mut table, &self.key, &self.slot, &self.flight);
    }
}

/// Waits for another caller's read.
pub(crate) struct Follower<T = Option<Bytes>> {
    rx: watch::Receiver<Option<Shared<T>>>,
}

impl<T: Clone> Follower<T> {
    /// The leader's reply; `None` if the leader was cancelled before it had
    /// one (the caller then starts over).
    pub(crate) async fn wait(mut self) -> Option<Result<T>> {
        let reply = self.rx.wait_for(Option::is_some).await.ok()?;
        Some(match reply.as_ref()? {
            Ok(value) => Ok(value.clone()),
            Err((kind, message)) => Err(Error::new(*kind, message.clone())),
        })
    }
}

/// Turns a result into the form followers share.
pub(crate) fn share<T: Clone>(result: &Result<T>) -> Shared<T> {
    match result {
        Ok(value) => Ok(value.clone()),
        Err(e) => Err((e.kind(), e.message().to_owned())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn key(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn a_fill_inserts_when_nothing_invalidated_it() {
        let fills: Fills = Fills::new();
        let Join::Leader(guard) = fills.join(&key("k")) else { panic!("expected leader") };
        let inserted = AtomicBool::new(false);
        assert!(guard.complete(Ok(None), || inserted.store(true, Ordering::SeqCst)));
        assert!(inserted.load(Ordering::SeqCst));
        assert_eq!(fills.in_flight(), 0);
    }

    #[test]
    fn an_invalidation_during_the_flight_discards_the_fill() {
        let fills: Fills = Fills::new();
        let Join::Leader(guard) = fills.join(&key("k")) else { panic!("expected leader") };
        let dropped = AtomicBool::new(false);
        assert!(fills.invalidate(b"k", || dropped.store(true, Ordering::SeqCst)));
        assert!(dropped.load(Ordering::SeqCst));
        assert!(!guard.complete(Ok(Some(key("stale"))), || panic!("stale value inserted")));
    }

    #[test]
    fn a_flush_during_the_flight_discards_the_fill() {
        let fills: Fills = Fills::new();
        let Join::Leader(guard) = fills.join(&key("k")) else { panic!("expected leader") };
        fills.invalidate_all(|| {});
        assert!(!guard.complete(Ok(None), || panic!("stale value inserted")));
    }

    #[test]
    fn a_newer_flight_is_not_retired_by_an_older_one() {
        let fills: Fills = Fills::new();
        let Join::Leader(old) = fills.join(&key("k")) else { panic!("expected leader") };
        fills.invalidate(b"k", || {});
        let Join::Leader(new) = fills.join(&key("k")) else { panic!("expected a new leader") };
        assert!(!old.complete(Ok(None), || panic!("old fill inserted")));
        assert_eq!(fills.in_flight(), 1, "the old flight removed the new one");
        assert!(new.complete(Ok(None), || {}));
    }

    #[tokio::test]
    async fn followers_share_the_leaders_reply() {
        let fills: Fills = Fills::new();
        let Join::Leader(guard) = fills.join(&key("k")) else { panic!("expected leader") };
        let Join::Follower(follower) = fills.join(&key("k")) else { panic!("expected follower") };
        guard.complete(Ok(Some(key("v"))), || {});
        let got = follower.wait().await.unwrap().unwrap();
        assert_eq!(got, Some(key("v")));
    }

    #[tokio::test]
    async fn followers_of_a_cancelled_leader_start_over() {
        let fills: Fills = Fills::new();
        let leader = fills.join(&key("k"));
        let Join::Follower(follower) = fills.join(&key("k")) else { panic!("expected follower") };
        drop(leader);
        assert!(follower.wait().await.is_none());
        assert!(matches!(fills.join(&key("k")), Join::Leader(_)));
    }

    #[tokio::test]
    async fn errors_reach_followers_with_their_kind() {
        let fills: Fills = Fills::new();
        let Join::Leader(guard) = fills.join(&key("k")) else { panic!("expected leader") };
        let Join::Follower(follower) = fills.join(&key("k")) else { panic!("expected follower") };
        let err: Result<Option<Bytes>> = Err(Error::new(ErrorKind::Timeout, "GET k: timed out"));
        guard.complete(share(&err), || {});
        let got = follower.wait().await.unwrap().unwrap_err();
        assert_eq!(got.kind(), ErrorKind::Timeout);
    }
}
