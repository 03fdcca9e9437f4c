//! The default L1 store: a fixed array of shards, each an open-addressed
//! table read without locks (see `table` and `readers`) and written under the
//! shard's mutex, with CLOCK eviction against one global, exact byte bound.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::command::Reply;
use crate::stats::HotKeys;

use super::counters::{Count, ThreadCounters};
use super::entry::{Entry, KeyHead, Replies, StoredReply, NO_VALUE};
use super::readers::{self, ReadGuard};
use super::reclaim::{Garbage, Reclaim};
use super::table::{tombstone, Table};
use super::{
    reply_weight, ChangeWords, LocalRef, Lookup, NewEntry, NewReply, Seen, Store, StoreCounters, ENTRY_OVERHEAD,
    SHARDS, SHARD_BITS,
};

/// One hit in this many feeds the hot-key sketch; cheap enough to leave on.
const HOT_KEY_SAMPLE_MASK: u64 = 63;

/// What the shard's writer keeps beside the table.
#[derive(Default)]
struct WriterSide {
    /// Insertion order for CLOCK: (key, hash, seq).
    queue: VecDeque<(Bytes, u64, u64)>,
    next_seq: u64,
    /// Live entries and removed slots in the table (for its load factor).
    live: usize,
    tombstones: usize,
}

/// Cache-line aligned so two shards' table pointers never share a line.
#[repr(align(128))]
struct Shard {
    /// Never null; replaced (and the old one retired) when the table is
    /// rebuilt.
    table: AtomicPtr<AtomicPtr<Entry>>,
    writer: Mutex<WriterSide>,
}

impl Shard {
    fn new() -> Shard {
        Shard { table: AtomicPtr::new(Table::allocate(0)), writer: Mutex::default() }
    }

    /// The current table, for as long as `guard` lives.
    #[inline]
    fn table<'g>(&'g self, _guard: &'g ReadGuard) -> &'g Table {
        // SAFETY: never null; a replaced table is retired, so it outlives
        // every read that could have loaded it.
        unsafe { Table::from_base(self.table.load(Ordering::Acquire)) }
    }

    /// The current table for the writer (who alone replaces it). Valid until
    /// the writer rebuilds or clears the table: callers look it up again
    /// after `reserve`, `rebuild` or `clear`.
    fn table_mut(&self, _writer: &WriterSide) -> &Table {
        // SAFETY: as in `table`; only the holder of `writer` replaces it, and
        // a replaced table is retired, not freed at once.
        unsafe { Table::from_base(self.table.load(Ordering::Acquire)) }
    }
}

/// The default L1 store (see the module docs of `l1` for the design).
pub(crate) struct ShardedStore {
    shards: Box<[Shard]>,
    hasher: foldhash::fast::RandomState,
    max_bytes: u64,
    total_bytes: AtomicU64,
    entries: AtomicU64,
    evictions: AtomicU64,
    rejected_too_big: AtomicU64,
    lookups: ThreadCounters,
    hot_keys: Option<Arc<HotKeys>>,
    changes: ChangeWords,
    reclaim: Reclaim,
}

/// A found entry, its shard and the shard's change word read before the
/// lookup.
struct Found<'g> {
    entry: &'g Entry,
    shard: usize,
    change: u32,
}

impl ShardedStore {
    pub(crate) fn new(max_bytes: u64, hot_keys: Option<Arc<HotKeys>>) -> Self {
        ShardedStore {
            shards: (0..SHARDS).map(|_| Shard::new()).collect(),
            hasher: foldhash::fast::RandomState::default(),
            max_bytes,
            total_bytes: AtomicU64::new(0),
            entries: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            rejected_too_big: AtomicU64::new(0),
            lookups: ThreadCounters::new(),
            hot_keys,
            changes: ChangeWords::new(),
            reclaim: Reclaim::new(max_bytes),
        }
    }

    /// The change words of this store (see [`ChangeWords`]).
    /// The partial flush (a lost cluster node): every entry of epoch `from`
    /// whose key `keep` accepts moves to epoch `to`, along with its cached
    /// replies of epoch `from`; the others are unlinked (`remove`) or left
    /// at `from`, hidden once the caller makes `to` the oldest trusted epoch
    /// (kept for `stale_if_error`). Entries of older epochs are already
    /// hidden and left alone. The caller holds every fill lock, so nothing
    /// is inserted meanwhile, and publishes `to` only after this returns.
    /// Returns (kept, dropped).
    pub(crate) fn restamp(&self, from: u64, to: u64, keep: impl Fn(&[u8]) -> bool, remove: bool) -> (u64, u64) {
        let (mut kept, mut dropped) = (0, 0);
        for index in 0..SHARDS {
            let mut writer = self.shards[index].writer.lock();
            let mut lost = Vec::new();
            for (i, p) in self.shards[index].table_mut(&writer).live() {
                // SAFETY: live under the writer's mutex.
                let entry = unsafe { &*p };
                if !keep(&entry.key) {
                    lost.push(i);
                    continue;
                }
                let _ = entry.epoch.compare_exchange(from, to, Ordering::Release, Ordering::Relaxed);
                if let Some(replies) = entry.replies.lock().as_mut() {
                    for stored in replies.map.values_mut().filter(|r| r.epoch == from) {
                        stored.epoch = to;
                    }
                }
                kept += 1;
            }
            dropped += lost.len() as u64;
            if remove && !lost.is_empty() {
                for i in lost {
                    self.unlink(index, &mut writer, i);
                }
                self.reserve(index, &mut writer, 0);
            }
        }
        (kept, dropped)
    }

    pub(crate) fn changes(&self) -> &ChangeWords {
        &self.changes
    }

    /// The shard comes from bits the slot index (the low bits) does not use.
    #[inline]
    fn shard_index(hash: u64) -> usize {
        ((hash >> 32) as usize) & (SHARDS - 1)
    }

    fn weight_of(key: &Bytes, value: &Option<Bytes>) -> u64 {
        key.len() as u64 + value.as_ref().map_or(0, |v| v.len() as u64) + ENTRY_OVERHEAD
    }

    /// The entry for `key` if its `GET` slot may answer now, marked visited.
    /// Counts nothing.
    #[inline]
    fn find<'g>(&'g self, key: &[u8], now: u64, min_epoch: u64, guard: &'g ReadGuard) -> Option<Found<'g>> {
        let hash = self.hasher.hash_one(key);
        let shard = Self::shard_index(hash);
        // Read before the lookup: a removal bumps it after unlinking, so a
        // removal of what this lookup finds changes it (see `LocalView`).
        let change = self.changes.read(shard);
        let entry = self.shards[shard].table(guard).find(hash, key, guard)?;
        if entry.expires_at <= now || entry.epoch.load(Ordering::Relaxed) < min_epoch {
            return None;
        }
        if !entry.visited.load(Ordering::Relaxed) {
            entry.visited.store(true, Ordering::Relaxed);
        }
        Some(Found { entry, shard, change })
    }

    /// Counts a hit or negative hit and samples hot keys.
    #[inline]
    fn count_found(&self, key: &[u8], found: &Found<'_>, guard: &ReadGuard) {
        if found.entry.value.is_some() {
            let n = self.lookups.add(guard, Count::Hit);
            if n & HOT_KEY_SAMPLE_MASK == 0 {
                if let Some(hot) = &self.hot_keys {
                    hot.record(key);
                }
            }
        } else {
            self.lookups.add(guard, Count::NegativeHit);
        }
    }

    /// The lookup behind `get_versioned`, with what [`super::LocalView`]
    /// needs; `None` for a miss. Counts hits and misses.
    #[inline]
    pub(crate) fn get_seen(&self, key: &[u8], now: u64, min_epoch: u64) -> Option<Seen> {
        let guard = readers::read();
        match self.find(key, now, min_epoch, &guard) {
            Some(found) => {
                self.count_found(key, &found, &guard);
                let e = found.entry;
                let lookup = e.value.as_ref().map_or(Lookup::Absent, |v| Lookup::Hit(v.clone()));
                Some(Seen {
                    lookup,
                    version: version(e.seq, found.shard),
                    word: found.shard,
                    change: found.change,
                    expires_at: e.expires_at,
                })
            }
            None => {
                self.lookups.add(&guard, Count::Miss);
                None
            }
        }
    }

    /// Runs `f` on the answer, borrowing the value from L1's memory (no
    /// reference count touched), inside the caller's read `guard` (memory
    /// unlinked meanwhile is not freed until it ends). Counts hits and misses.
    #[inline]
    pub(crate) fn with_value<R>(
        &self,
        key: &[u8],
        now: u64,
        min_epoch: u64,
        guard: &ReadGuard,
        f: impl FnOnce(LocalRef<'_>) -> R,
    ) -> R {
        match self.find(key, now, min_epoch, guard) {
            Some(found) => {
                self.count_found(key, &found, guard);
                f(found.entry.value.as_deref().map_or(LocalRef::Absent, LocalRef::Hit))
            }
            None => {
                self.lookups.add(guard, Count::Miss);
                f(LocalRef::Miss)
            }
        }
    }

    /// Unlinks slot `i` of `shard`'s table and retires its entry; returns the
    /// entry's charge.
    fn unlink(&self, shard: usize, writer: &mut WriterSide, i: usize) {
        let table = self.shards[shard].table_mut(writer);
        let p = table.replace(i, 0, tombstone());
        writer.live -= 1;
        writer.tombstones += 1;
        self.release(p);
        self.changes.bump(shard);
    }

    /// Uncharges an unlinked entry and hands it to reclamation.
    fn release(&self, p: *mut Entry) {
        // SAFETY: `p` was just unlinked by the writer, who keeps it alive
        // until it is retired below.
        let weight = unsafe { (*p).weight.load(Ordering::Relaxed) };
        self.total_bytes.fetch_sub(weight, Ordering::Relaxed);
        self.entries.fetch_sub(1, Ordering::Relaxed);
        self.reclaim.retire(Garbage::Entry(p), weight);
    }

    /// Makes room for `extra` more entries in `shard`'s table, rebuilding it
    /// when three quarters of its slots are used (removed slots count) and
    /// shrinking it when under an eighth holds entries. A rebuilt table is a
    /// quarter to half full: small slot arrays stay in cache (they are the
    /// first memory a hit touches), and the hash tags in the slots keep
    /// probes past other keys cheap.
    fn reserve(&self, shard: usize, writer: &mut WriterSide, extra: usize) {
        let capacity = self.shards[shard].table_mut(writer).capacity();
        let used = writer.live + writer.tombstones + extra;
        let wanted = (writer.live + extra) * 2;
        if used * 4 > capacity * 3 || (capacity > 64 && (writer.live + extra) * 8 < capacity) {
            self.rebuild(shard, writer, wanted);
        }
    }

    fn rebuild(&self, shard: usize, writer: &mut WriterSide, capacity: usize) {
        let fresh = self.shards[shard].table_mut(writer).rebuilt(capacity);
        let old = self.shards[shard].table.swap(fresh, Ordering::AcqRel);
        writer.tombstones = 0;
        self.reclaim.retire(Garbage::Table(old), 0);
    }

    /// Publishes a new entry for a key not in the table.
    fn add(&self, shard: usize, writer: &mut WriterSide, entry: Entry) {
        let (hash, weight) = (entry.hash, entry.weight.load(Ordering::Relaxed));
        self.reserve(shard, writer, 1);
        let reused = self.shards[shard].table_mut(writer).publish(hash, Box::into_raw(Box::new(entry)));
        writer.live += 1;
        if reused {
            writer.tombstones -= 1;
        }
        self.total_bytes.fetch_add(weight, Ordering::Relaxed);
        self.entries.fetch_add(1, Ordering::Relaxed);
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
                let index = (start + step) % SHARDS;
                let mut writer = self.shards[index].writer.lock();
                let mut budget = writer.queue.len();
                while budget > 0 && self.total_bytes.load(Ordering::Relaxed) > self.max_bytes {
                    budget -= 1;
                    let Some((key, hash, seq)) = writer.queue.pop_front() else { break };
                    let table = self.shards[index].table_mut(&writer);
                    let Some(i) = table.position(hash, |e| e.seq == seq) else {
                        continue; // stale queue slot: the entry was replaced or removed
                    };
                    let Some(entry) = table.at(i) else { continue };
                    if entry.live_until() > now && entry.visited.swap(false, Ordering::Relaxed) {
                        writer.queue.push_back((key, hash, seq));
                        continue;
                    }
                    self.unlink(index, &mut writer, i);
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Stale queue slots accumulate when keys are invalidated and refilled
    /// without eviction pressure; rebuild the queue once they dominate.
    fn compact_queue(&self, shard: usize, writer: &mut WriterSide) {
        if writer.queue.len() <= 2 * writer.live + 64 {
            return;
        }
        let table = self.shards[shard].table_mut(writer);
        let keep: VecDeque<_> = writer
            .queue
            .iter()
            .filter(|(key, hash, seq)| table.position(*hash, |e| e.seq == *seq && e.key == key).is_some())
            .cloned()
            .collect();
        writer.queue = keep;
    }

    /// Writer-side lookup of `key`'s slot in `shard`.
    fn position_of(&self, shard: usize, writer: &WriterSide, hash: u64, key: &[u8]) -> Option<usize> {
        self.shards[shard].table_mut(writer).position(hash, |e| e.is(hash, key))
    }

    /// Counted lookups of a reply slot, for `get_reply`.
    fn reply_of(&self, key: &[u8], slot: &[u8], now: u64, min_epoch: u64) -> Option<Arc<Reply>> {
        let hash = self.hasher.hash_one(key);
        let guard = readers::read();
        let table = self.shards[Self::shard_index(hash)].table(&guard);
        let found = table.find(hash, key, &guard).and_then(|e| {
            let replies = e.replies.lock();
            let stored = replies.as_ref()?.map.get(slot)?;
            if stored.expires_at <= now || stored.epoch < min_epoch {
                return None;
            }
            if !e.visited.load(Ordering::Relaxed) {
                e.visited.store(true, Ordering::Relaxed);
            }
            Some((Arc::clone(&stored.reply), stored.absent))
        });
        match found {
            Some((reply, absent)) => {
                let n = self.lookups.add(&guard, if absent { Count::ReadNegativeHit } else { Count::ReadHit });
                if n & HOT_KEY_SAMPLE_MASK == 0 {
                    if let Some(hot) = &self.hot_keys {
                        hot.record(key);
                    }
                }
                Some(reply)
            }
            None => {
                self.lookups.add(&guard, Count::ReadMiss);
                None
            }
        }
    }

    /// Every entry's charge, summed from the tables (tests check it against
    /// the running total).
    #[cfg(test)]
    pub(super) fn charged(&self) -> (u64, usize) {
        let mut total = (0, 0);
        for shard in self.shards.iter() {
            let writer = shard.writer.lock();
            for (_, p) in shard.table_mut(&writer).live() {
                // SAFETY: live under the writer's mutex.
                total.0 += unsafe { (*p).weight.load(Ordering::Relaxed) };
                total.1 += 1;
            }
        }
        total
    }

    #[cfg(test)]
    pub(super) fn queued(&self) -> usize {
        self.shards.iter().map(|s| s.writer.lock().queue.len()).sum()
    }

    #[cfg(test)]
    pub(super) fn waiting_to_free(&self) -> usize {
        self.reclaim.waiting()
    }
}

/// `seq` is unique per insertion within a shard and never reused (it
/// survives `clear`), so with the shard index it names one insertion.
#[inline]
fn version(seq: u64, shard: usize) -> u64 {
    (seq << SHARD_BITS) | shard as u64
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
            let mut writer = self.shards[index].writer.lock();
            writer.next_seq += 1;
            let seq = writer.next_seq;
            let queued_key = key.clone();
            let fresh = Entry {
                hash,
                head: KeyHead::of(&key),
                key,
                value,
                expires_at,
                filled_at: now,
                epoch: AtomicU64::new(epoch),
                seq,
                weight: AtomicU64::new(weight),
                visited: AtomicBool::new(false),
                replies: Mutex::new(None),
            };
            match self.position_of(index, &writer, hash, &queued_key) {
                Some(i) => {
                    let table = self.shards[index].table_mut(&writer);
                    // The key's other replies move over: an invalidation
                    // since they were filled would have removed the whole
                    // entry. A reply read of the old entry meanwhile misses.
                    if let Some(existing) = table.at(i) {
                        // The old entry keeps its full charge, released below
                        // once; the new one is charged the replies again.
                        let replies = existing.replies.lock().take();
                        let moved = replies.as_ref().map_or(0, |r| r.weight);
                        fresh.weight.fetch_add(moved, Ordering::Relaxed);
                        *fresh.replies.lock() = replies;
                    }
                    let new_weight = fresh.weight.load(Ordering::Relaxed);
                    let old = table.replace(i, hash, Box::into_raw(Box::new(fresh)));
                    self.total_bytes.fetch_add(new_weight, Ordering::Relaxed);
                    self.entries.fetch_add(1, Ordering::Relaxed);
                    self.release(old);
                    self.changes.bump(index);
                }
                None => self.add(index, &mut writer, fresh),
            }
            writer.queue.push_back((queued_key, hash, seq));
            self.compact_queue(index, &mut writer);
        }
        if self.total_bytes.load(Ordering::Relaxed) > self.max_bytes {
            self.evict_to_bound(index, now);
        }
        true
    }

    fn get_stale(&self, key: &[u8], now: u64, max_age: u64) -> Option<Option<Bytes>> {
        let hash = self.hasher.hash_one(key);
        let guard = readers::read();
        let entry = self.shards[Self::shard_index(hash)].table(&guard).find(hash, key, &guard)?;
        (entry.has_value() && now < entry.filled_at.saturating_add(max_age)).then(|| entry.value.clone())
    }

    fn get_reply(&self, key: &[u8], slot: &[u8], now: u64, min_epoch: u64) -> Option<Arc<Reply>> {
        self.reply_of(key, slot, now, min_epoch)
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
            let mut writer = self.shards[index].writer.lock();
            match self.position_of(index, &writer, hash, &key) {
                Some(i) => {
                    // The `GET` slot and the entry's version stay as they
                    // are: a binding's kept copy of the value is still right.
                    if let Some(existing) = self.shards[index].table_mut(&writer).at(i) {
                        let mut replies = existing.replies.lock();
                        let hasher = self.hasher.clone();
                        let released =
                            replies.get_or_insert_with(|| Box::new(Replies::new(hasher))).add(slot, stored, now);
                        existing.weight.fetch_add(weight, Ordering::Relaxed);
                        existing.weight.fetch_sub(released, Ordering::Relaxed);
                        self.total_bytes.fetch_add(weight, Ordering::Relaxed);
                        self.total_bytes.fetch_sub(released, Ordering::Relaxed);
                    }
                }
                None => {
                    writer.next_seq += 1;
                    let seq = writer.next_seq;
                    let mut replies = Box::new(Replies::new(self.hasher.clone()));
                    replies.add(slot, stored, now);
                    let entry_weight = key.len() as u64 + ENTRY_OVERHEAD + weight;
                    let queued_key = key.clone();
                    let fresh = Entry {
                        hash,
                        head: KeyHead::of(&key),
                        key,
                        value: None,
                        expires_at: NO_VALUE,
                        filled_at: now,
                        epoch: AtomicU64::new(0),
                        seq,
                        weight: AtomicU64::new(entry_weight),
                        visited: AtomicBool::new(false),
                        replies: Mutex::new(Some(replies)),
                    };
                    self.add(index, &mut writer, fresh);
                    writer.queue.push_back((queued_key, hash, seq));
                    self.compact_queue(index, &mut writer);
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
        let mut writer = self.shards[index].writer.lock();
        match self.position_of(index, &writer, hash, key) {
            Some(i) => {
                self.unlink(index, &mut writer, i);
                self.reserve(index, &mut writer, 0);
                true
            }
            None => false,
        }
    }

    fn remove_prefix(&self, prefix: &[u8]) -> u64 {
        let mut removed = 0;
        for index in 0..SHARDS {
            let mut writer = self.shards[index].writer.lock();
            let matching: Vec<usize> = self.shards[index]
                .table_mut(&writer)
                .live()
                // SAFETY: live under the writer's mutex.
                .filter(|(_, p)| unsafe { (**p).key.starts_with(prefix) })
                .map(|(i, _)| i)
                .collect();
            for i in &matching {
                self.unlink(index, &mut writer, *i);
            }
            if !matching.is_empty() {
                self.reserve(index, &mut writer, 0);
            }
            removed += matching.len() as u64;
        }
        removed
    }

    fn clear(&self) -> u64 {
        let mut removed = 0;
        for index in 0..SHARDS {
            let mut writer = self.shards[index].writer.lock();
            let old = self.shards[index].table.swap(Table::allocate(0), Ordering::AcqRel);
            // SAFETY: `old` is unlinked and only this writer can reach it
            // to retire it; readers may still hold it, hence the reclaim.
            for (_, p) in unsafe { Table::from_base(old) }.live() {
                self.release(p);
                removed += 1;
            }
            self.reclaim.retire(Garbage::Table(old), 0);
            writer.queue.clear();
            writer.live = 0;
            writer.tombstones = 0;
            self.changes.bump(index);
        }
        self.reclaim.flush();
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
        self.lookups.sum_into(&mut c);
        c
    }
}

impl Drop for ShardedStore {
    fn drop(&mut self) {
        for shard in self.shards.iter() {
            let table = shard.table.swap(std::ptr::null_mut(), Ordering::AcqRel);
            if table.is_null() {
                continue;
            }
            // SAFETY: dropping the store: no reader of it exists, and every
            // pointer in the table is owned by it.
            unsafe {
                for (_, p) in Table::from_base(table).live() {
                    drop(Box::from_raw(p));
                }
                Table::free(table);
            }
        }
        // `reclaim` frees what was retired when it drops.
    }
}
