//! The L1 tier: a byte-bounded, sharded, in-process store.
//!
//! Why not moka: measured on this machine (bench/REPORT.md) a moka hit costs
//! several times a plain hash lookup, and a single `RwLock<HashMap>`
//! collapses under two threads. This store is a fixed array of shards, each
//! an open-addressed table of entry pointers (`table`) that readers probe
//! without taking any lock and writers change under the shard's mutex. A hit
//! writes no memory another thread writes: no lock word, no reference count
//! (`with_local` borrows the value in place), no shared counter (hits are
//! counted per thread, `counters`). What a writer unlinks is freed once no
//! reader can still see it (`readers`, `reclaim`).
//!
//! Eviction is CLOCK (second chance): a hit sets the entry's `visited` bit
//! with a relaxed store (no write lock on the hit path); an insert that
//! pushes the total over `max_bytes` sweeps shards' insertion queues, evicting
//! expired or unvisited entries and clearing the bit of visited ones. The
//! byte bound is global and exact: it counts key + value + [`ENTRY_OVERHEAD`].
//!
//! Entries carry the invalidation *epoch* they were filled under; a read
//! passes the oldest epoch still trusted, so dropping every entry a lost
//! connection served is one atomic increment, not a sweep.
//!
//! An entry is one Redis key. Besides the `GET` value (the hit path every
//! binding uses, unchanged), it holds the replies of the other cached reads
//! of that key (`cached_read`: normalized command -> reply), each with its own
//! expiry and epoch and each charged to the byte bound. Removing, evicting or
//! clearing the key drops all of them at once, which is how one invalidation
//! of the key invalidates every reply.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use crate::command::Reply;

mod counters;
mod entry;
mod readers;
mod reclaim;
mod store;
mod table;

pub(crate) use readers::read;
pub(crate) use store::ShardedStore;

/// Bytes charged per entry on top of key and value: the entry struct, its
/// table slot and its queue slot, rounded up. Keeps many tiny entries from
/// blowing past `max_bytes` in real memory.
pub const ENTRY_OVERHEAD: u64 = 128;

/// Bytes charged per cached reply on top of its slot name and its reply
/// (see [`reply_weight`]): its map slot, its record and its `Arc`.
pub const REPLY_OVERHEAD: u64 = 64;

const SHARD_BITS: u32 = 6;
const SHARDS: usize = 1 << SHARD_BITS;

/// What L1 knows about a key, borrowed from L1's memory: what
/// [`crate::Cache::with_local`] hands its callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalRef<'a> {
    /// A live value.
    Hit(&'a [u8]),
    /// The key is known to be absent in Redis (a negative entry).
    Absent,
    /// L1 cannot answer; ask Redis.
    Miss,
}

/// What L1 knows about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A live value.
    Hit(Bytes),
    /// The key is known to be absent in Redis (a negative entry).
    Absent,
    /// L1 cannot answer; ask Redis.
    Miss,
}

/// Change counters over L1, readable without a call into core: one 32-bit
/// word per store shard, bumped (wrapping) whenever an entry of that shard
/// is removed, replaced or evicted, and one last word, bumped whenever L1
/// stops trusting entries wholesale (a flush, an epoch change, a health
/// deadline moved back). Bindings keep a converted copy of an entry (a JS
/// Buffer) with the words [`LocalView`] reported and reuse it while both
/// words are unchanged and its `valid_for` has not run out; on any change
/// they ask core again. Cheap to clone; the words live as long as a clone.
#[derive(Clone)]
pub struct ChangeWords(Arc<[AtomicU32]>);

impl ChangeWords {
    fn new() -> Self {
        ChangeWords((0..=SHARDS).map(|_| AtomicU32::new(0)).collect())
    }

    /// The words, shard words first, the global word last. They are written
    /// with `Release` and may be read from another language as plain
    /// aligned 32-bit loads (x86-64 and aarch64 keep those atomic).
    pub fn words(&self) -> &[AtomicU32] {
        &self.0
    }

    /// The index of the global word.
    pub fn global_index(&self) -> usize {
        SHARDS
    }

    #[inline]
    pub(crate) fn bump(&self, index: usize) {
        if let Some(word) = self.0.get(index) {
            word.fetch_add(1, Ordering::Release);
        }
    }

    #[inline]
    pub(crate) fn read(&self, index: usize) -> u32 {
        self.0.get(index).map_or(0, |w| w.load(Ordering::Acquire))
    }
}

/// What [`crate::Cache::get_local_view`] reports: the answer, the entry's
/// version (as `get_local_versioned`), and what a binding needs to reuse a
/// converted copy without asking again: the change word of the entry's shard
/// and its value when the entry was read (under the shard's lock, so any
/// later removal changes it), the global word's value (read before the
/// lookup), and how long the answer stays valid if nothing changes (until the
/// entry's expiry or the health deadline, whichever is first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalView {
    /// The answer, as [`crate::Cache::get_local`] gives it.
    pub lookup: Lookup,
    /// The entry's version; 0 for a miss.
    pub version: u64,
    /// Index of the entry's shard word in [`ChangeWords::words`].
    pub word: usize,
    /// That word's value when the entry was read.
    pub change: u32,
    /// The global word's value, read before the lookup.
    pub global: u32,
    /// How long the answer stays true unless a word changes (zero for a miss).
    pub valid_for: std::time::Duration,
}

/// A hit or negative hit as the store saw it, for [`LocalView`].
pub(crate) struct Seen {
    pub lookup: Lookup,
    pub version: u64,
    pub word: usize,
    pub change: u32,
    pub expires_at: u64,
}

/// An entry to insert.
pub(crate) struct NewEntry {
    pub key: Bytes,
    /// `None` records that the key does not exist (negative caching).
    pub value: Option<Bytes>,
    /// Absolute deadline on the L1 clock.
    pub expires_at: u64,
    /// The invalidation epoch the fill started under.
    pub epoch: u64,
}

/// A reply of an allow-listed read to insert into its key's entry.
pub(crate) struct NewReply {
    pub key: Bytes,
    /// The normalized command (`CachedRead::slot`).
    pub slot: Bytes,
    pub reply: Arc<Reply>,
    /// Whether the key did not exist when the reply was read (counted as a
    /// negative hit when served).
    pub absent: bool,
    /// Absolute deadline on the L1 clock.
    pub expires_at: u64,
    /// The invalidation epoch the fill started under.
    pub epoch: u64,
}

/// What a reply is charged: its slot name, its size ([`reply_size`]) and
/// [`REPLY_OVERHEAD`].
pub(crate) fn reply_weight(slot: &[u8], reply: &Reply) -> u64 {
    slot.len() as u64 + reply_size(reply) + REPLY_OVERHEAD
}

/// The memory a reply holds: one `Reply` per node plus the bytes it owns.
pub(crate) fn reply_size(reply: &Reply) -> u64 {
    let own = std::mem::size_of::<Reply>() as u64;
    own + match reply {
        Reply::Nil | Reply::Int(_) | Reply::Double(_) | Reply::Bool(_) => 0,
        Reply::Bytes(b) => b.len() as u64,
        Reply::Status(s) | Reply::BigNumber(s) | Reply::Error(s) => s.len() as u64,
        Reply::Array(items) | Reply::Set(items) => items.iter().map(reply_size).sum(),
        Reply::Map(pairs) => pairs.iter().map(|(k, v)| reply_size(k) + reply_size(v)).sum(),
    }
}

/// Counters kept by the store itself, next to the data they count.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreCounters {
    pub hits: u64,
    pub negative_hits: u64,
    pub misses: u64,
    /// The same three for the other cached reads (`get_reply`).
    pub read_hits: u64,
    pub read_negative_hits: u64,
    pub read_misses: u64,
    pub evictions: u64,
    pub rejected_too_big: u64,
}

/// The contract every L1 implementation keeps; see the contract tests below.
pub(crate) trait Store: Send + Sync {
    /// Answers from memory only. `now` is the L1 clock, `min_epoch` the oldest
    /// epoch still trusted.
    #[cfg(test)]
    fn get(&self, key: &[u8], now: u64, min_epoch: u64) -> Lookup {
        self.get_versioned(key, now, min_epoch).0
    }
    /// [`Store::get`], plus the version of the entry that answered (0 for a
    /// miss). Every insertion gets a version no other insertion into this
    /// store had, so two answers with one version carry the same bytes.
    fn get_versioned(&self, key: &[u8], now: u64, min_epoch: u64) -> (Lookup, u64);
    /// Inserts or replaces; evicts as needed to stay within the byte bound.
    /// Returns false if the entry alone is larger than the bound.
    fn insert(&self, entry: NewEntry, now: u64) -> bool;
    /// The entry for `key` whatever its expiry or epoch, if it was filled
    /// less than `max_age` ago (`stale_if_error`): `Some(None)` is a cached
    /// absence. Not counted as a hit or miss.
    fn get_stale(&self, key: &[u8], now: u64, max_age: u64) -> Option<Option<Bytes>>;
    /// The reply cached for `slot` in `key`'s entry, if it is live (same
    /// expiry and epoch rules as [`Store::get_versioned`]). Counted as a read
    /// hit, read negative hit (the reply was read from a missing key) or
    /// read miss, apart from `GET`'s counters.
    fn get_reply(&self, key: &[u8], slot: &[u8], now: u64, min_epoch: u64) -> Option<Arc<Reply>>;
    /// Adds (or replaces) one reply in `key`'s entry, creating the entry if
    /// there is none, and charges it to the bound (evicting as needed).
    /// Returns false if the reply alone with its key is larger than the bound.
    fn insert_reply(&self, reply: NewReply, now: u64) -> bool;
    /// Drops one key; true if it was present.
    fn remove(&self, key: &[u8]) -> bool;
    /// Drops every key that starts with `prefix`; returns how many.
    fn remove_prefix(&self, prefix: &[u8]) -> u64;
    /// Drops everything; returns how many entries were dropped.
    fn clear(&self) -> u64;
    /// Bytes currently charged (key + value + overhead per entry).
    fn weighted_size(&self) -> u64;
    /// Entries currently stored (expired ones included until swept).
    fn entry_count(&self) -> u64;
    fn counters(&self) -> StoreCounters;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000;
    const LATER: u64 = 10_000;

    fn entry(key: &str, value: Option<&str>, expires_at: u64, epoch: u64) -> NewEntry {
        NewEntry {
            key: Bytes::copy_from_slice(key.as_bytes()),
            value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            expires_at,
            epoch,
        }
    }

    /// The contract every store keeps. Run against each implementation.
    fn contract(store: &dyn Store) {
        assert_eq!(store.get(b"a", NOW, 0), Lookup::Miss);
        assert!(store.insert(entry("a", Some("1"), LATER, 1), NOW));
        assert_eq!(store.get(b"a", NOW, 0), Lookup::Hit(Bytes::from_static(b"1")));
        // Expiry is exclusive at the deadline.
        assert_eq!(store.get(b"a", LATER, 0), Lookup::Miss);
        // An entry from an older epoch is not served.
        assert_eq!(store.get(b"a", NOW, 2), Lookup::Miss);
        // Replacing keeps one entry and re-charges the weight.
        assert!(store.insert(entry("a", Some("22"), LATER, 1), NOW));
        assert_eq!(store.entry_count(), 1);
        assert_eq!(store.weighted_size(), 1 + 2 + ENTRY_OVERHEAD);
        // Negative entries.
        assert!(store.insert(entry("gone", None, LATER, 1), NOW));
        assert_eq!(store.get(b"gone", NOW, 0), Lookup::Absent);
        // Removal.
        assert!(store.remove(b"a"));
        assert!(!store.remove(b"a"));
        assert_eq!(store.get(b"a", NOW, 0), Lookup::Miss);
        // Stale reads ignore expiry and epoch, but not age.
        assert!(store.insert(entry("old", Some("s"), NOW + 1, 1), NOW));
        assert_eq!(store.get_stale(b"old", LATER, 0), None);
        assert_eq!(store.get_stale(b"old", LATER, LATER), Some(Some(Bytes::from_static(b"s"))));
        assert!(store.remove(b"old"));
        // Prefix removal.
        for k in ["p:1", "p:2", "q:1"] {
            store.insert(entry(k, Some("v"), LATER, 1), NOW);
        }
        assert_eq!(store.remove_prefix(b"p:"), 2);
        assert_eq!(store.get(b"q:1", NOW, 0), Lookup::Hit(Bytes::from_static(b"v")));
        // Clear.
        assert_eq!(store.clear(), 2);
        assert_eq!(store.entry_count(), 0);
        assert_eq!(store.weighted_size(), 0);
        let c = store.counters();
        assert_eq!((c.hits, c.negative_hits, c.misses), (2, 1, 4), "{c:?}");
        // Versions: stable while the entry stands, new on every insertion
        // (also of the same bytes, and after a clear), 0 for a miss.
        assert!(store.insert(entry("v", Some("1"), LATER, 1), NOW));
        let (found, first) = store.get_versioned(b"v", NOW, 0);
        assert_eq!((found, first == 0), (Lookup::Hit(Bytes::from_static(b"1")), false));
        assert_eq!(store.get_versioned(b"v", NOW, 0).1, first);
        assert!(store.insert(entry("v", Some("1"), LATER, 1), NOW));
        let second = store.get_versioned(b"v", NOW, 0).1;
        assert_ne!(second, first);
        store.clear();
        assert_eq!(store.get_versioned(b"v", NOW, 0), (Lookup::Miss, 0));
        assert!(store.insert(entry("v", Some("1"), LATER, 1), NOW));
        let third = store.get_versioned(b"v", NOW, 0).1;
        assert!(third != first && third != second);
        store.clear();
    }

    fn reply(key: &str, slot: &str, value: &str, expires_at: u64, epoch: u64) -> NewReply {
        NewReply {
            key: Bytes::copy_from_slice(key.as_bytes()),
            slot: Bytes::copy_from_slice(slot.as_bytes()),
            reply: Arc::new(Reply::Bytes(Bytes::copy_from_slice(value.as_bytes()))),
            absent: false,
            expires_at,
            epoch,
        }
    }

    fn weight_of(key: &str, replies: &[(&str, &str)], value: Option<&str>) -> u64 {
        let replies: u64 = replies
            .iter()
            .map(|(slot, v)| reply_weight(slot.as_bytes(), &Reply::Bytes(Bytes::copy_from_slice(v.as_bytes()))))
            .sum();
        key.len() as u64 + value.map_or(0, |v| v.len() as u64) + ENTRY_OVERHEAD + replies
    }

    /// The replies part of the contract: one entry per key holds every reply,
    /// each with its own expiry and epoch; the `GET` slot is independent;
    /// dropping the key drops all; every byte is charged and released.
    fn replies_contract(store: &dyn Store) {
        let got = |key: &str, slot: &str, now, epoch| {
            store.get_reply(key.as_bytes(), slot.as_bytes(), now, epoch).map(|r| Reply::clone(&r))
        };
        let bytes = |v: &str| Some(Reply::Bytes(Bytes::copy_from_slice(v.as_bytes())));
        assert!(store.insert_reply(reply("h", "HGET f", "1", LATER, 1), NOW));
        assert!(store.insert_reply(reply("h", "HLEN", "2", NOW + 5, 2), NOW));
        assert_eq!(store.entry_count(), 1, "one entry per key");
        assert_eq!(store.weighted_size(), weight_of("h", &[("HGET f", "1"), ("HLEN", "2")], None));
        assert_eq!(got("h", "HGET f", NOW, 0), bytes("1"));
        assert_eq!(got("h", "HLEN", NOW, 0), bytes("2"));
        assert_eq!(got("h", "HKEYS", NOW, 0), None);
        // Each reply has its own expiry and epoch.
        assert_eq!(got("h", "HLEN", NOW + 5, 0), None);
        assert_eq!(got("h", "HGET f", NOW, 2), None);
        assert_eq!(got("h", "HLEN", NOW, 2), bytes("2"));
        // An entry of replies only has no `GET` value, cached or stale.
        assert_eq!(store.get(b"h", NOW, 0), Lookup::Miss);
        assert_eq!(store.get_stale(b"h", NOW, LATER), None);
        // A `GET` fill keeps the replies and is charged on top of them.
        assert!(store.insert(entry("h", Some("v"), LATER, 1), NOW));
        assert_eq!(store.get(b"h", NOW, 0), Lookup::Hit(Bytes::from_static(b"v")));
        assert_eq!(got("h", "HGET f", NOW, 0), bytes("1"));
        assert_eq!(store.weighted_size(), weight_of("h", &[("HGET f", "1"), ("HLEN", "2")], Some("v")));
        // Adding a reply keeps the value and its version; replacing one re-charges it.
        let version = store.get_versioned(b"h", NOW, 0).1;
        assert!(store.insert_reply(reply("h", "HGET f", "333", LATER, 1), NOW));
        assert_eq!(store.get_versioned(b"h", NOW, 0), (Lookup::Hit(Bytes::from_static(b"v")), version));
        assert_eq!(got("h", "HGET f", NOW, 0), bytes("333"));
        assert_eq!(store.weighted_size(), weight_of("h", &[("HGET f", "333"), ("HLEN", "2")], Some("v")));
        // Dropping the key drops every reply and releases every byte.
        assert!(store.remove(b"h"));
        assert_eq!(got("h", "HGET f", NOW, 0), None);
        assert_eq!((store.entry_count(), store.weighted_size()), (0, 0));
        // Prefix removal and clear do the same.
        store.insert_reply(reply("p:1", "SCARD", "1", LATER, 1), NOW);
        store.insert_reply(reply("q:1", "SCARD", "1", LATER, 1), NOW);
        assert_eq!(store.remove_prefix(b"p:"), 1);
        assert_eq!(got("q:1", "SCARD", NOW, 0), bytes("1"));
        assert_eq!(store.clear(), 1);
        assert_eq!((store.entry_count(), store.weighted_size()), (0, 0));
        // Negative replies are counted as negative hits.
        let before = store.counters();
        store.insert_reply(NewReply { absent: true, ..reply("gone", "HLEN", "0", LATER, 1) }, NOW);
        assert!(got("gone", "HLEN", NOW, 0).is_some());
        assert!(got("gone", "HGET x", NOW, 0).is_none());
        let after = store.counters();
        assert_eq!(
            (
                after.read_negative_hits - before.read_negative_hits,
                after.read_misses - before.read_misses,
                after.read_hits - before.read_hits,
                after.hits + after.misses + after.negative_hits,
            ),
            (1, 1, 0, before.hits + before.misses + before.negative_hits),
            "read lookups are counted apart from GET's"
        );
        store.clear();
    }

    #[test]
    fn sharded_store_keeps_the_replies_contract() {
        replies_contract(&ShardedStore::new(1 << 20, None));
    }

    #[test]
    fn byte_bound_holds_with_many_replies_per_key() {
        let max = 64 * 1024;
        let store = ShardedStore::new(max, None);
        let value = "x".repeat(100);
        for i in 0..5_000 {
            // 50 keys, 100 fields each: replies pile onto existing entries.
            let key = format!("h:{}", i % 50);
            store.insert_reply(reply(&key, &format!("HGET f{}", i / 50), &value, LATER, 1), NOW);
            assert!(store.weighted_size() <= max, "over the bound at insert {i}");
        }
        assert!(store.counters().evictions > 0);
        // The charge is exactly what the remaining entries hold.
        assert_eq!(store.charged().0, store.weighted_size());
        store.clear();
        assert_eq!(store.weighted_size(), 0);
    }

    #[test]
    fn expired_replies_are_swept_and_released_as_replies_are_added() {
        let store = ShardedStore::new(1 << 30, None);
        for i in 0..100 {
            store.insert_reply(reply("h", &format!("HGET f{i}"), "v", NOW + 1, 1), NOW);
        }
        let full = store.weighted_size();
        // Later replies sweep the expired ones out of the entry.
        for i in 0..100 {
            store.insert_reply(reply("h", &format!("HGET g{i}"), "v", LATER, 1), NOW + 2);
        }
        assert!(store.weighted_size() < full * 3 / 2, "expired replies kept their charge");
        assert_eq!(store.get_reply(b"h", b"HGET f1", NOW + 2, 0), None);
        assert!(store.get_reply(b"h", b"HGET g1", NOW + 2, 0).is_some());
    }

    #[test]
    fn a_reply_larger_than_the_bound_is_refused() {
        let store = ShardedStore::new(ENTRY_OVERHEAD + REPLY_OVERHEAD + 100, None);
        assert!(!store.insert_reply(reply("k", "HGET f", &"x".repeat(200), LATER, 1), NOW));
        assert_eq!(store.counters().rejected_too_big, 1);
        assert_eq!(store.entry_count(), 0);
    }

    #[test]
    fn sharded_store_keeps_the_contract() {
        contract(&ShardedStore::new(1 << 20, None));
    }

    #[test]
    fn byte_bound_holds_under_churn() {
        let max = 256 * 1024;
        let store = ShardedStore::new(max, None);
        let value = "x".repeat(900);
        for i in 0..20_000 {
            store.insert(entry(&format!("key:{i}"), Some(&value), LATER, 1), NOW);
            assert!(store.weighted_size() <= max, "over the bound at insert {i}");
        }
        let per_entry = 900 + 9 + ENTRY_OVERHEAD;
        // Full within a couple of entries of the bound, not emptied by eviction.
        assert!(store.weighted_size() + 2 * per_entry >= max * 9 / 10, "{}", store.weighted_size());
        assert!(store.counters().evictions > 19_000);
    }

    #[test]
    fn visited_entries_survive_eviction_sweeps() {
        let per_entry = 1 + 3 + ENTRY_OVERHEAD; // "k:N" keys hold 3..=5 bytes
        let store = ShardedStore::new(per_entry * 400, None);
        store.insert(entry("hot", Some("v"), LATER, 1), NOW);
        for i in 0..5_000 {
            // The hot key is read between inserts, as a hot key is.
            assert_eq!(store.get(b"hot", NOW, 0), Lookup::Hit(Bytes::from_static(b"v")), "lost at {i}");
            store.insert(entry(&format!("k:{i}"), Some("v"), LATER, 1), NOW);
        }
    }

    #[test]
    fn expired_entries_go_before_live_visited_ones() {
        let per_entry = 8 + 1 + ENTRY_OVERHEAD; // "old:NNNN" / "new:NNNN"
        let store = ShardedStore::new(per_entry * 1000, None);
        for i in 0..800 {
            let key = format!("old:{i:04}");
            store.insert(entry(&key, Some("v"), NOW + 1, 1), NOW);
            let _ = store.get(key.as_bytes(), NOW, 0); // visited, then expired
        }
        for i in 0..800 {
            let key = format!("new:{i:04}");
            store.insert(entry(&key, Some("v"), LATER, 1), NOW + 5);
            let _ = store.get(key.as_bytes(), NOW + 5, 0);
        }
        let live = (0..800)
            .filter(|i| matches!(store.get(format!("new:{i:04}").as_bytes(), NOW + 5, 0), Lookup::Hit(_)))
            .count();
        // CLOCK is approximate: an entry read once gets one second chance per
        // sweep of its shard, so a few may go while expired ones remain elsewhere.
        assert!(live >= 720, "only {live} of 800 live entries survived while expired ones were there");
        assert!(store.weighted_size() <= per_entry * 1000);
    }

    #[test]
    fn an_entry_larger_than_the_bound_is_refused_and_drops_the_old_copy() {
        let store = ShardedStore::new(ENTRY_OVERHEAD + 10, None);
        assert!(store.insert(entry("k", Some("small"), LATER, 1), NOW));
        assert!(!store.insert(entry("k", Some(&"x".repeat(100)), LATER, 1), NOW));
        assert_eq!(store.get(b"k", NOW, 0), Lookup::Miss);
        assert_eq!(store.counters().rejected_too_big, 1);
    }

    #[test]
    fn queue_stays_bounded_when_keys_are_refilled_without_pressure() {
        let store = ShardedStore::new(1 << 30, None);
        for _ in 0..10_000 {
            store.insert(entry("k", Some("v"), LATER, 1), NOW);
            store.remove(b"k");
        }
        let queued = store.queued();
        assert!(queued < 200, "queue grew to {queued}");
    }

    #[test]
    fn concurrent_readers_and_writers_keep_the_bound() {
        let store = Arc::new(ShardedStore::new(64 * 1024, None));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        let key = format!("k{}", (i * 7 + t) % 1000);
                        if i % 3 == 0 {
                            store.insert(entry(&key, Some("0123456789"), LATER, 1), NOW);
                        } else {
                            let _ = store.get(key.as_bytes(), NOW, 0);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(store.weighted_size() <= 64 * 1024);
        let (charged, counted) = store.charged();
        assert_eq!(counted as u64, store.entry_count());
        assert_eq!(charged, store.weighted_size());
    }

    /// A value whose every byte names its key and generation, so a torn or
    /// freed read shows.
    fn patterned(key: u64, generation: u64) -> Bytes {
        let len = 16 + ((key * 31 + generation * 7) % 1000) as usize;
        Bytes::from(vec![(key as u8) ^ (generation as u8); len])
    }

    #[test]
    fn borrowed_reads_stay_intact_while_writers_replace_remove_and_clear() {
        let store = Arc::new(ShardedStore::new(256 * 1024, None));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (store, stop) = (Arc::clone(&store), Arc::clone(&stop));
                std::thread::spawn(move || {
                    let mut hits = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        for k in 0..200u64 {
                            let key = format!("k{k}");
                            store.with_value(key.as_bytes(), NOW, 0, &read(), |found| {
                                if let LocalRef::Hit(bytes) = found {
                                    let first = bytes[0];
                                    assert!(bytes.len() >= 16 && bytes.len() < 1016, "torn length {}", bytes.len());
                                    assert!(bytes.iter().all(|b| *b == first), "torn value for {key}");
                                    hits += 1;
                                }
                            });
                        }
                    }
                    hits
                })
            })
            .collect();
        for generation in 0..300u64 {
            for k in 0..200u64 {
                let key = Bytes::from(format!("k{k}"));
                match (k + generation) % 7 {
                    0 => {
                        store.remove(&key);
                    }
                    _ => {
                        store.insert(
                            NewEntry { key, value: Some(patterned(k, generation)), expires_at: LATER, epoch: 1 },
                            NOW,
                        );
                    }
                }
            }
            if generation % 50 == 49 {
                store.clear();
            }
        }
        stop.store(true, Ordering::Relaxed);
        let hits: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
        assert!(hits > 0, "the readers never hit");
        let (charged, count) = store.charged();
        assert_eq!((charged, count as u64), (store.weighted_size(), store.entry_count()));
    }

    #[test]
    fn a_reader_inside_with_local_keeps_what_it_sees_until_it_leaves() {
        let store = Arc::new(ShardedStore::new(1 << 20, None));
        store.insert(
            NewEntry { key: Bytes::from_static(b"held"), value: Some(patterned(1, 1)), expires_at: LATER, epoch: 1 },
            NOW,
        );
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let reader = {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                store.with_value(b"held", NOW, 0, &read(), |found| {
                    let LocalRef::Hit(bytes) = found else { panic!("expected a hit, got {found:?}") };
                    entered_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    // The entry was removed and many batches retired meanwhile.
                    bytes == patterned(1, 1).as_ref()
                })
            })
        };
        entered_rx.recv().unwrap();
        assert!(store.remove(b"held"));
        for i in 0..1_000 {
            let key = Bytes::from(format!("churn{i}"));
            store.insert(NewEntry { key: key.clone(), value: Some(patterned(i, 2)), expires_at: LATER, epoch: 1 }, NOW);
            store.remove(&key);
        }
        assert!(store.waiting_to_free() >= 1_000, "freed while a reader could hold it: {}", store.waiting_to_free());
        release_tx.send(()).unwrap();
        assert!(reader.join().unwrap(), "the held value changed under the reader");
        // Each clear cuts a batch and frees those whose readers left; other
        // tests' threads read too (the reader slots are process-wide), so
        // allow them a moment to leave.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while store.waiting_to_free() > 0 && std::time::Instant::now() < deadline {
            store.clear();
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(store.waiting_to_free(), 0);
    }

    #[test]
    fn reads_nest_inside_a_callback() {
        let store = ShardedStore::new(1 << 20, None);
        store.insert(entry("a", Some("1"), LATER, 1), NOW);
        store.insert(entry("b", Some("2"), LATER, 1), NOW);
        let both = store.with_value(b"a", NOW, 0, &read(), |a| {
            let b = store.with_value(b"b", NOW, 0, &read(), |b| format!("{b:?}"));
            store.remove(b"b");
            format!("{a:?} {b}")
        });
        assert_eq!(both, format!("{:?} {:?}", LocalRef::Hit(b"1"), LocalRef::Hit(b"2")));
        assert_eq!(store.get(b"b", NOW, 0), Lookup::Miss);
    }

    #[test]
    fn lookups_are_counted_exactly_across_threads_that_come_and_go() {
        let store = Arc::new(ShardedStore::new(1 << 20, None));
        store.insert(entry("k", Some("v"), LATER, 1), NOW);
        for _round in 0..3 {
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let store = Arc::clone(&store);
                    std::thread::spawn(move || {
                        for _ in 0..1_000 {
                            let _ = store.get(b"k", NOW, 0);
                            let _ = store.get(b"missing", NOW, 0);
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        }
        let c = store.counters();
        assert_eq!((c.hits, c.misses), (24_000, 24_000));
    }
}
