//! The L1 tier: a byte-bounded, sharded, in-process store.
//!
//! Why not moka: measured on this machine (bench/REPORT.md) a
//! moka hit costs several times a plain hash lookup, and a single
//! `RwLock<HashMap>` collapses under two threads. This store is a fixed array
//! of `RwLock`-protected hash tables (foldhash, hashbrown's `HashTable`) so a
//! hit is one hash, one uncontended read lock, one comparison and one
//! reference-count increment.
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

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use hashbrown::HashTable;
use parking_lot::RwLock;

use crate::command::Reply;
use crate::stats::HotKeys;

/// Bytes charged per entry on top of key and value: the entry struct, its
/// table slot and its queue slot, rounded up. Keeps many tiny entries from
/// blowing past `max_bytes` in real memory.
pub const ENTRY_OVERHEAD: u64 = 128;

/// Bytes charged per cached reply on top of its slot name and its reply
/// (see [`reply_weight`]): its map slot, its record and its `Arc`.
pub const REPLY_OVERHEAD: u64 = 64;

/// `expires_at` of an entry's `GET` slot when the entry holds only replies
/// of other reads: expiry is exclusive, so the slot never answers.
const NO_VALUE: u64 = 0;

const SHARD_BITS: u32 = 6;
const SHARDS: usize = 1 << SHARD_BITS;
/// One hit in this many feeds the hot-key sketch; cheap enough to leave on.
const HOT_KEY_SAMPLE_MASK: u64 = 63;

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

struct Entry {
    hash: u64,
    key: Bytes,
    value: Option<Bytes>,
    expires_at: u64,
    /// When the fill was inserted, for `stale_if_error`.
    filled_at: u64,
    epoch: u64,
    weight: u64,
    /// Identifies this insertion in the shard's queue (older queue slots for
    /// the same key are stale and skipped).
    seq: u64,
    visited: AtomicBool,
    /// The replies of other cached reads of this key; `None` while there
    /// are none, so a `GET`-only entry pays one word.
    replies: Option<Box<Replies>>,
}

impl Entry {
    /// Until when some part of the entry may still answer (CLOCK treats an
    /// entry past this as expired).
    fn live_until(&self) -> u64 {
        self.replies.as_ref().map_or(self.expires_at, |r| r.live_until.max(self.expires_at))
    }

    /// Whether the `GET` slot holds a value or a cached absence.
    fn has_value(&self) -> bool {
        self.expires_at != NO_VALUE
    }
}

struct StoredReply {
    reply: Arc<Reply>,
    absent: bool,
    expires_at: u64,
    epoch: u64,
    weight: u64,
}

/// The replies of one key's entry, with their total charge.
struct Replies {
    map: hashbrown::HashMap<Bytes, StoredReply, foldhash::fast::RandomState>,
    /// Sum of the replies' weights (part of the entry's weight).
    weight: u64,
    /// The latest expiry among the replies.
    live_until: u64,
    /// Expired replies are swept when the map reaches this size, so that
    /// adding replies stays amortized O(1).
    sweep_at: usize,
}

impl Replies {
    fn new(hasher: foldhash::fast::RandomState) -> Self {
        Replies { map: hashbrown::HashMap::with_hasher(hasher), weight: 0, live_until: 0, sweep_at: 16 }
    }

    /// Adds `reply` under `slot`; returns the weight released (a replaced
    /// reply, expired ones swept).
    fn add(&mut self, slot: Bytes, reply: StoredReply, now: u64) -> u64 {
        let mut released = 0;
        if self.map.len() >= self.sweep_at {
            self.map.retain(|_, r| {
                let keep = r.expires_at > now;
                if !keep {
                    released += r.weight;
                }
                keep
            });
            self.live_until = self.map.values().map(|r| r.expires_at).max().unwrap_or(0);
            self.sweep_at = (self.map.len() * 2).max(16);
        }
        self.live_until = self.live_until.max(reply.expires_at);
        self.weight += reply.weight;
        if let Some(old) = self.map.insert(slot, reply) {
            released += old.weight;
        }
        self.weight -= released;
        released
    }
}

#[derive(Default)]
struct ShardInner {
    table: HashTable<Entry>,
    /// Insertion order for CLOCK: (key, hash, seq).
    queue: VecDeque<(Bytes, u64, u64)>,
    next_seq: u64,
}

/// Cache-line aligned so two shards never share a line; the counters sit
/// next to the lock word that the hit path writes anyway.
#[repr(align(128))]
#[derive(Default)]
struct Shard {
    inner: RwLock<ShardInner>,
    hits: AtomicU64,
    negative_hits: AtomicU64,
    misses: AtomicU64,
    read_hits: AtomicU64,
    read_negative_hits: AtomicU64,
    read_misses: AtomicU64,
}

/// The default L1 store (see the module docs for the design and numbers).
pub(crate) struct ShardedStore {
    shards: Box<[Shard]>,
    hasher: foldhash::fast::RandomState,
    max_bytes: u64,
    total_bytes: AtomicU64,
    entries: AtomicU64,
    evictions: AtomicU64,
    rejected_too_big: AtomicU64,
    hot_keys: Option<Arc<HotKeys>>,
    changes: ChangeWords,
}

impl ShardedStore {
    pub(crate) fn new(max_bytes: u64, hot_keys: Option<Arc<HotKeys>>) -> Self {
        ShardedStore {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            hasher: foldhash::fast::RandomState::default(),
            max_bytes,
            total_bytes: AtomicU64::new(0),
            entries: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            rejected_too_big: AtomicU64::new(0),
            hot_keys,
            changes: ChangeWords::new(),
        }
    }

    /// The change words of this store (see [`ChangeWords`]).
    pub(crate) fn changes(&self) -> &ChangeWords {
        &self.changes
    }

    /// hashbrown uses the low bits for the bucket and the top seven for its
    /// control bytes, so the shard comes from bits it does not look at.
    #[inline]
    fn shard_index(hash: u64) -> usize {
        ((hash >> 32) as usize) & (SHARDS - 1)
    }

    fn weight_of(key: &Bytes, value: &Option<Bytes>) -> u64 {
        key.len() as u64 + value.as_ref().map_or(0, |v| v.len() as u64) + ENTRY_OVERHEAD
    }

    fn unlink(&self, entry: &Entry) {
        self.total_bytes.fetch_sub(entry.weight, Ordering::Relaxed);
        self.entries.fetch_sub(1, Ordering::Relaxed);
    }

    /// Runs CLOCK until the total is within the bound, starting with the
    /// shard after `start` so a fresh insert is not its own first victim.
    /// The first round gives visited entries a second chance (clearing their
    /// bit) and evicts expired or unvisited ones, one queue slot each, shard
    /// after shard, which approximates one global clock hand; the second
    /// round evicts whatever it meets. Every slot is looked at a bounded
    /// number of times, so this always terminates.
    fn evict_to_bound(&self, start: usize, now: u64) {
        for _round in 0..2 {
            for step in 1..=SHARDS {
                if self.total_bytes.load(Ordering::Relaxed) <= self.max_bytes {
                    return;
                }
                let shard = &self.shards[(start + step) % SHARDS];
                let mut inner = shard.inner.write();
                let mut budget = inner.queue.len();
                while budget > 0 && self.total_bytes.load(Ordering::Relaxed) > self.max_bytes {
                    budget -= 1;
                    let Some((key, hash, seq)) = inner.queue.pop_front() else { break };
                    let Ok(slot) = inner.table.find_entry(hash, |e| e.seq == seq) else {
                        continue; // stale queue slot: the entry was replaced or removed
                    };
                    let entry = slot.get();
                    if entry.live_until() > now && entry.visited.swap(false, Ordering::Relaxed) {
                        inner.queue.push_back((key, hash, seq));
                        continue;
                    }
                    let (removed, _) = slot.remove();
                    self.unlink(&removed);
                    self.changes.bump((start + step) % SHARDS);
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// The lookup behind `get_versioned`, with what [`LocalView`] needs;
    /// `None` for a miss. Counts hits and misses.
    #[inline]
    pub(crate) fn get_seen(&self, key: &[u8], now: u64, min_epoch: u64) -> Option<Seen> {
        let hash = self.hasher.hash_one(key);
        let index = Self::shard_index(hash);
        let shard = &self.shards[index];
        let mut seq = 0;
        let mut expires_at = 0;
        let (change, found) = {
            let inner = shard.inner.read();
            // Read under the lock: removals bump the word under the write
            // lock, so a later removal of this entry changes it.
            let change = self.changes.read(index);
            let found = match inner.table.find(hash, |e| e.key.as_ref() == key) {
                Some(e) if e.expires_at > now && e.epoch >= min_epoch => {
                    if !e.visited.load(Ordering::Relaxed) {
                        e.visited.store(true, Ordering::Relaxed);
                    }
                    seq = e.seq;
                    expires_at = e.expires_at;
                    Some(e.value.clone())
                }
                _ => None,
            };
            (change, found)
        };
        // `seq` is unique per insertion within a shard and never reused (it
        // survives `clear`), so with the shard index it names one insertion.
        let version = (seq << SHARD_BITS) | index as u64;
        match found {
            Some(Some(value)) => {
                let n = shard.hits.fetch_add(1, Ordering::Relaxed);
                if n & HOT_KEY_SAMPLE_MASK == 0 {
                    if let Some(hot) = &self.hot_keys {
                        hot.record(key);
                    }
                }
                Some(Seen { lookup: Lookup::Hit(value), version, word: index, change, expires_at })
            }
            Some(None) => {
                shard.negative_hits.fetch_add(1, Ordering::Relaxed);
                Some(Seen { lookup: Lookup::Absent, version, word: index, change, expires_at })
            }
            None => {
                shard.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Stale queue slots accumulate when keys are invalidated and refilled
    /// without eviction pressure; rebuild the queue once they dominate.
    fn compact_queue(inner: &mut ShardInner) {
        if inner.queue.len() <= 2 * inner.table.len() + 64 {
            return;
        }
        let ShardInner { table, queue, .. } = inner;
        queue.retain(|(key, hash, seq)| table.find(*hash, |e| e.seq == *seq && e.key == key).is_some());
    }
}

impl Store for ShardedStore {
    #[inline]
    fn get_versioned(&self, key: &[u8], now: u64, min_epoch: u64) -> (Lookup, u64) {
        match self.get_seen(key, now, min_epoch) {
            Some(seen) => (seen.lookup, seen.version),
            None => (Lookup::Miss, 0),
        }
    }

    fn insert(&self, entry: NewEntry, now: u64) -> bool {
        let NewEntry { key, value, expires_at, epoch } = entry;
        let weight = Self::weight_of(&key, &value);
        if weight > self.max_bytes {
            // Never keep an older copy around when the new one is refused.
            self.remove(&key);
            self.rejected_too_big.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let hash = self.hasher.hash_one(key.as_ref());
        let index = Self::shard_index(hash);
        {
            let mut inner = self.shards[index].inner.write();
            inner.next_seq += 1;
            let seq = inner.next_seq;
            let queued_key = key.clone();
            let mut fresh = Entry {
                hash,
                key,
                value,
                expires_at,
                filled_at: now,
                epoch,
                weight,
                seq,
                visited: AtomicBool::new(false),
                replies: None,
            };
            match inner.table.find_mut(hash, |e| e.key == fresh.key) {
                Some(existing) => {
                    // The key's other replies stay: an invalidation since
                    // they were filled would have removed the whole entry.
                    fresh.replies = existing.replies.take();
                    fresh.weight += fresh.replies.as_ref().map_or(0, |r| r.weight);
                    self.total_bytes.fetch_sub(existing.weight, Ordering::Relaxed);
                    self.total_bytes.fetch_add(fresh.weight, Ordering::Relaxed);
                    *existing = fresh;
                    self.changes.bump(index);
                }
                None => {
                    inner.table.insert_unique(hash, fresh, |e| e.hash);
                    self.total_bytes.fetch_add(weight, Ordering::Relaxed);
                    self.entries.fetch_add(1, Ordering::Relaxed);
                }
            }
            inner.queue.push_back((queued_key, hash, seq));
            Self::compact_queue(&mut inner);
        }
        if self.total_bytes.load(Ordering::Relaxed) > self.max_bytes {
            self.evict_to_bound(index, now);
        }
        true
    }

    fn get_stale(&self, key: &[u8], now: u64, max_age: u64) -> Option<Option<Bytes>> {
        let hash = self.hasher.hash_one(key);
        let inner = self.shards[Self::shard_index(hash)].inner.read();
        let entry = inner.table.find(hash, |e| e.key.as_ref() == key)?;
        (entry.has_value() && now < entry.filled_at.saturating_add(max_age)).then(|| entry.value.clone())
    }

    fn get_reply(&self, key: &[u8], slot: &[u8], now: u64, min_epoch: u64) -> Option<Arc<Reply>> {
        let hash = self.hasher.hash_one(key);
        let shard = &self.shards[Self::shard_index(hash)];
        let found = {
            let inner = shard.inner.read();
            inner.table.find(hash, |e| e.key.as_ref() == key).and_then(|e| {
                let stored = e.replies.as_ref()?.map.get(slot)?;
                if stored.expires_at <= now || stored.epoch < min_epoch {
                    return None;
                }
                if !e.visited.load(Ordering::Relaxed) {
                    e.visited.store(true, Ordering::Relaxed);
                }
                Some((Arc::clone(&stored.reply), stored.absent))
            })
        };
        match found {
            Some((reply, absent)) => {
                let counter = if absent { &shard.read_negative_hits } else { &shard.read_hits };
                let n = counter.fetch_add(1, Ordering::Relaxed);
                if n & HOT_KEY_SAMPLE_MASK == 0 {
                    if let Some(hot) = &self.hot_keys {
                        hot.record(key);
                    }
                }
                Some(reply)
            }
            None => {
                shard.read_misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    fn insert_reply(&self, new: NewReply, now: u64) -> bool {
        let NewReply { key, slot, reply, absent, expires_at, epoch } = new;
        let weight = reply_weight(&slot, &reply);
        if key.len() as u64 + ENTRY_OVERHEAD + weight > self.max_bytes {
            self.rejected_too_big.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let hash = self.hasher.hash_one(key.as_ref());
        let index = Self::shard_index(hash);
        let stored = StoredReply { reply, absent, expires_at, epoch, weight };
        {
            let mut inner = self.shards[index].inner.write();
            match inner.table.find_mut(hash, |e| e.key == key) {
                Some(existing) => {
                    // The `GET` slot and the entry's version stay as they
                    // are: a binding's kept copy of the value is still right.
                    let hasher = self.hasher.clone();
                    let replies = existing.replies.get_or_insert_with(|| Box::new(Replies::new(hasher)));
                    let released = replies.add(slot, stored, now);
                    existing.weight = existing.weight + weight - released;
                    self.total_bytes.fetch_add(weight, Ordering::Relaxed);
                    self.total_bytes.fetch_sub(released, Ordering::Relaxed);
                }
                None => {
                    inner.next_seq += 1;
                    let seq = inner.next_seq;
                    let mut replies = Box::new(Replies::new(self.hasher.clone()));
                    replies.add(slot, stored, now);
                    let entry_weight = key.len() as u64 + ENTRY_OVERHEAD + weight;
                    let queued_key = key.clone();
                    let fresh = Entry {
                        hash,
                        key,
                        value: None,
                        expires_at: NO_VALUE,
                        filled_at: now,
                        epoch: 0,
                        weight: entry_weight,
                        seq,
                        visited: AtomicBool::new(false),
                        replies: Some(replies),
                    };
                    inner.table.insert_unique(hash, fresh, |e| e.hash);
                    self.total_bytes.fetch_add(entry_weight, Ordering::Relaxed);
                    self.entries.fetch_add(1, Ordering::Relaxed);
                    inner.queue.push_back((queued_key, hash, seq));
                    Self::compact_queue(&mut inner);
                }
            }
        }
        if self.total_bytes.load(Ordering::Relaxed) > self.max_bytes {
            self.evict_to_bound(index, now);
        }
        true
    }

    fn remove(&self, key: &[u8]) -> bool {
        let hash = self.hasher.hash_one(key);
        let index = Self::shard_index(hash);
        let mut inner = self.shards[index].inner.write();
        match inner.table.find_entry(hash, |e| e.key.as_ref() == key) {
            Ok(slot) => {
                let (removed, _) = slot.remove();
                self.unlink(&removed);
                self.changes.bump(index);
                true
            }
            Err(_) => false,
        }
    }

    fn remove_prefix(&self, prefix: &[u8]) -> u64 {
        let mut removed = 0;
        for (index, shard) in self.shards.iter().enumerate() {
            let mut inner = shard.inner.write();
            let before = removed;
            inner.table.retain(|e| {
                let keep = !e.key.starts_with(prefix);
                if !keep {
                    self.unlink(e);
                    removed += 1;
                }
                keep
            });
            if removed != before {
                self.changes.bump(index);
            }
        }
        removed
    }

    fn clear(&self) -> u64 {
        let mut removed = 0;
        for (index, shard) in self.shards.iter().enumerate() {
            let mut inner = shard.inner.write();
            for e in inner.table.drain() {
                self.unlink(&e);
                removed += 1;
            }
            inner.queue.clear();
            self.changes.bump(index);
        }
        removed
    }

    fn weighted_size(&self) -> u64 {
        self.total_bytes.load(Ordering::Relaxed)
    }

    fn entry_count(&self) -> u64 {
        self.entries.load(Ordering::Relaxed)
    }

    fn counters(&self) -> StoreCounters {
        let mut c = StoreCounters {
            evictions: self.evictions.load(Ordering::Relaxed),
            rejected_too_big: self.rejected_too_big.load(Ordering::Relaxed),
            ..StoreCounters::default()
        };
        for shard in self.shards.iter() {
            c.hits += shard.hits.load(Ordering::Relaxed);
            c.negative_hits += shard.negative_hits.load(Ordering::Relaxed);
            c.misses += shard.misses.load(Ordering::Relaxed);
            c.read_hits += shard.read_hits.load(Ordering::Relaxed);
            c.read_negative_hits += shard.read_negative_hits.load(Ordering::Relaxed);
            c.read_misses += shard.read_misses.load(Ordering::Relaxed);
        }
        c
    }
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
        let counted: u64 =
            store.shards.iter().map(|s| s.inner.read().table.iter().map(|e| e.weight).sum::<u64>()).sum();
        assert_eq!(counted, store.weighted_size());
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
        let queued: usize = store.shards.iter().map(|s| s.inner.read().queue.len()).sum();
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
        let counted: usize = store.shards.iter().map(|s| s.inner.read().table.len()).sum();
        assert_eq!(counted as u64, store.entry_count());
    }
}
