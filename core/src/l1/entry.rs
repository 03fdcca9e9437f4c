//! What L1 stores per Redis key: the `GET` slot (immutable once published,
//! so readers need no lock) and the replies of the other cached reads (behind
//! the entry's own mutex: a reply read is not the hit path the bindings take).

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::command::Reply;

/// `expires_at` of an entry's `GET` slot when the entry holds only replies
/// of other reads: expiry is exclusive, so the slot never answers.
pub(super) const NO_VALUE: u64 = 0;

/// Bytes of the key kept inside the entry itself.
const KEY_HEAD: usize = 24;

/// The key's length and first [`KEY_HEAD`] bytes, inside the entry: a hit
/// on a short key compares it without loading the key's own allocation.
/// The length is a `u32` so that the head and `visited` share one word's
/// worth of space; a longer key (never: keys stop at `MAX_KEY_LEN`) would
/// saturate it and be told apart by the full comparison of its tail.
pub(super) struct KeyHead {
    len: u32,
    bytes: [u8; KEY_HEAD],
}

impl KeyHead {
    pub(super) fn of(key: &[u8]) -> KeyHead {
        let mut bytes = [0; KEY_HEAD];
        let n = key.len().min(KEY_HEAD);
        bytes[..n].copy_from_slice(&key[..n]);
        KeyHead { len: u32::try_from(key.len()).unwrap_or(u32::MAX), bytes }
    }

    #[inline]
    fn len_is(&self, len: usize) -> bool {
        u32::try_from(len).unwrap_or(u32::MAX) == self.len
    }
}

/// The fields a hit reads come first and fill the first 64 bytes (hash, key
/// head, `visited`, expiry, epoch, version), the value's handle the next.
///
/// Aligned to 16 (what the allocator gives a block of this size anyway) so
/// the low four bits of an entry's address are free for the table's hash
/// tag (see `table`): a tagged slot word still points inside the entry, so
/// leak checkers (LeakSanitizer, Valgrind) see the entry as reachable.
#[repr(C, align(16))]
pub(super) struct Entry {
    pub(super) hash: u64,
    pub(super) head: KeyHead,
    /// CLOCK's second-chance bit, set by hits with a relaxed store (beside
    /// the key head, in padding the `u32` length left).
    pub(super) visited: AtomicBool,
    pub(super) expires_at: u64,
    /// The invalidation epoch the entry is trusted under. Atomic only for a
    /// partial flush (`ShardedStore::restamp`), which moves the entries it
    /// keeps to the next epoch while readers may be looking at them.
    pub(super) epoch: AtomicU64,
    /// Identifies this insertion in the shard's queue (older queue slots for
    /// the same key are stale and skipped) and, with the shard, its version.
    pub(super) seq: u64,
    pub(super) value: Option<Bytes>,
    pub(super) key: Bytes,
    /// When the fill was inserted, for `stale_if_error`.
    pub(super) filled_at: u64,
    /// What the entry is charged (key + value + overhead + replies); only
    /// writers touch it, under the shard's mutex.
    pub(super) weight: AtomicU64,
    /// The replies of other cached reads of this key; `None` while there
    /// are none.
    pub(super) replies: Mutex<Option<Box<Replies>>>,
}

/// `a == b` for slices of one length up to [`KEY_HEAD`], inline: two or
/// three overlapping word compares instead of a call to `memcmp` (a tenth
/// of a hit's time in a profile).
#[inline]
fn short_eq(a: &[u8], b: &[u8]) -> bool {
    debug_assert!(a.len() == b.len() && a.len() <= KEY_HEAD);
    let n = a.len();
    let word =
        |s: &[u8], at: usize| s.get(at..at + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()).map(u64::from_ne_bytes);
    let half =
        |s: &[u8], at: usize| s.get(at..at + 4).and_then(|w| <[u8; 4]>::try_from(w).ok()).map(u32::from_ne_bytes);
    match n {
        0 => true,
        1..=3 => a == b,
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => word(a, 0) == word(b, 0) && word(a, 8) == word(b, 8) && word(a, n - 8) == word(b, n - 8),
    }
}

impl Entry {
    /// Whether this is the entry of `key` (whose hash is `hash`).
    #[inline]
    pub(super) fn is(&self, hash: u64, key: &[u8]) -> bool {
        if self.hash != hash || !self.head.len_is(key.len()) {
            return false;
        }
        let n = key.len().min(KEY_HEAD);
        short_eq(&self.head.bytes[..n], &key[..n]) && (key.len() <= KEY_HEAD || self.key[KEY_HEAD..] == key[KEY_HEAD..])
    }

    /// Until when some part of the entry may still answer (CLOCK treats an
    /// entry past this as expired).
    pub(super) fn live_until(&self) -> u64 {
        self.replies.lock().as_ref().map_or(self.expires_at, |r| r.live_until.max(self.expires_at))
    }

    /// Whether the `GET` slot holds a value or a cached absence.
    pub(super) fn has_value(&self) -> bool {
        self.expires_at != NO_VALUE
    }
}

pub(super) struct StoredReply {
    pub(super) reply: Arc<Reply>,
    pub(super) absent: bool,
    pub(super) expires_at: u64,
    pub(super) epoch: u64,
    pub(super) weight: u64,
}

/// The replies of one key's entry, with their total charge.
pub(super) struct Replies {
    pub(super) map: hashbrown::HashMap<Bytes, StoredReply, foldhash::fast::RandomState>,
    /// Sum of the replies' weights (part of the entry's weight).
    pub(super) weight: u64,
    /// The latest expiry among the replies.
    pub(super) live_until: u64,
    /// Expired replies are swept when the map reaches this size, so that
    /// adding replies stays amortized O(1).
    sweep_at: usize,
}

impl Replies {
    pub(super) fn new(hasher: foldhash::fast::RandomState) -> Self {
        Replies { map: hashbrown::HashMap::with_hasher(hasher), weight: 0, live_until: 0, sweep_at: 16 }
    }

    /// Adds `reply` under `slot`; returns the weight released (a replaced
    /// reply, expired ones swept).
    pub(super) fn add(&mut self, slot: Bytes, reply: StoredReply, now: u64) -> u64 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_leaves_four_tag_bits_and_fits_its_allocation_class() {
        assert_eq!(std::mem::align_of::<Entry>(), 16);
        // 160 bytes: one 176-byte glibc chunk, as before the alignment.
        assert!(std::mem::size_of::<Entry>() <= 160, "{}", std::mem::size_of::<Entry>());
        assert!(std::mem::offset_of!(Entry, seq) < 64, "the hit's fields left the first 64 bytes");
    }

    #[test]
    fn short_eq_agrees_with_slice_equality_at_every_length_and_position() {
        let base: Vec<u8> = (0..KEY_HEAD as u8).map(|i| i.wrapping_mul(37).wrapping_add(1)).collect();
        for n in 0..=KEY_HEAD {
            let a = &base[..n];
            assert!(short_eq(a, a), "equal slices of {n} bytes");
            for at in 0..n {
                let mut b = a.to_vec();
                b[at] ^= 0x40;
                assert!(!short_eq(a, &b), "a difference at byte {at} of {n} went unseen");
            }
        }
    }
}
