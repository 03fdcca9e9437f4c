//! One shard's hash table: open addressing over atomic pointers, one writer
//! at a time (the shard's mutex), readers without any lock.
//!
//! Readers load slot pointers with `Acquire` and follow them inside a
//! [`ReadGuard`]; the writer publishes a fully built entry with one `Release`
//! store, replaces or removes by swapping the pointer (a removed slot holds
//! [`tombstone`] so later probes go on past it), and hands what it unlinked to
//! the store's [`Reclaim`](super::reclaim::Reclaim), which frees it once no
//! reader can hold it. Growing or shrinking builds a new table, publishes it,
//! and retires the old slot array the same way (the entries move over).

use std::alloc::{self, Layout};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, Ordering};

use super::entry::Entry;
use super::readers::ReadGuard;

/// The marker of a removed slot; never dereferenced.
#[inline]
pub(super) fn tombstone() -> *mut Entry {
    NonNull::<Entry>::dangling().as_ptr()
}

const MIN_CAPACITY: usize = 16;

/// Tables are allocated on this alignment, so the low bits of the shard's
/// table pointer can carry log2 of the capacity (at most 63: six bits).
const TABLE_ALIGN: usize = 64;
const SIZE_BITS: usize = TABLE_ALIGN - 1;

/// Slot words carry four bits of the entry's hash in the low bits of its
/// address (entries are 16-byte aligned), so a probe passes most other
/// keys' slots without loading their entries: the dependent cache miss per
/// probe is what a lookup in a table of pointers costs.
///
/// Both tags live in low bits, never in the high ones: a tagged word still
/// points inside its allocation, which is what leak checkers
/// (LeakSanitizer, Valgrind) follow. With high-bit tags a cache still alive
/// at exit showed every entry and table as leaked.
const TAG_BITS: usize = std::mem::align_of::<Entry>() - 1;

/// The tag of `hash` (its top bits; the low ones pick the slot).
#[inline]
fn tag_of(hash: u64) -> usize {
    (hash >> (u64::BITS - TAG_BITS.count_ones())) as usize
}

#[inline]
fn tagged(p: *mut Entry, hash: u64) -> *mut Entry {
    debug_assert_eq!(p.addr() & TAG_BITS, 0, "entries are aligned to {}", TAG_BITS + 1);
    p.map_addr(|a| a | tag_of(hash))
}

/// The entry address of a slot word; `None` if the tag rules `hash` out.
#[inline]
fn entry_of(word: *mut Entry, hash: u64) -> Option<*mut Entry> {
    (word.addr() & TAG_BITS == tag_of(hash)).then(|| untagged(word))
}

#[inline]
fn untagged(word: *mut Entry) -> *mut Entry {
    word.map_addr(|a| a & !TAG_BITS)
}

/// A table is one allocation of pointer-sized words: word 0 holds the
/// capacity mask, the rest are the slots. One allocation (not a header
/// pointing to a slot array) saves a reader one dependent load; the shard
/// holds a thin pointer to word 0 ([`Table::allocate`]).
#[repr(transparent)]
pub(super) struct Table {
    words: [AtomicPtr<Entry>],
}

impl Table {
    /// The layout of a table of `len` words.
    fn layout(len: usize) -> Layout {
        // Cannot fail: `len` words of a table that was (or is being)
        // allocated fit in `isize`, and the alignment is a power of two.
        Layout::array::<AtomicPtr<Entry>>(len)
            .and_then(|l| l.align_to(TABLE_ALIGN))
            .unwrap_or_else(|_| unreachable!("a table of {len} words"))
    }

    /// A new, empty table of at least `capacity` slots; returns the pointer
    /// the shard keeps (freed with [`Table::free`]). Its low bits carry log2
    /// of the capacity, so a reader knows the size without loading word 0.
    pub(super) fn allocate(capacity: usize) -> *mut AtomicPtr<Entry> {
        let capacity = capacity.max(MIN_CAPACITY).next_power_of_two();
        let layout = Self::layout(capacity + 1);
        // SAFETY: the layout has a non-zero size (at least 17 words).
        let base = unsafe { alloc::alloc_zeroed(layout) }.cast::<AtomicPtr<Entry>>();
        if base.is_null() {
            alloc::handle_alloc_error(layout);
        }
        // SAFETY: just allocated with room for `capacity + 1` words; all-zero
        // bytes are null pointers, so every slot starts empty.
        unsafe { (*base).store(ptr::without_provenance_mut(capacity - 1), Ordering::Relaxed) };
        base.map_addr(|a| a | capacity.trailing_zeros() as usize)
    }

    /// The table behind a pointer from [`Table::allocate`].
    ///
    /// # Safety
    /// `word` came from `allocate` and is not freed while the reference lives.
    #[inline]
    pub(super) unsafe fn from_base<'a>(word: *mut AtomicPtr<Entry>) -> &'a Table {
        let (base, len) = Self::split(word);
        // SAFETY: by the caller, the allocation holds `len` initialized words.
        unsafe { &*(ptr::slice_from_raw_parts(base, len) as *const Table) }
    }

    /// The allocation and its length in words, from the pointer's low bits.
    #[inline]
    fn split(word: *mut AtomicPtr<Entry>) -> (*mut AtomicPtr<Entry>, usize) {
        (word.map_addr(|a| a & !SIZE_BITS), (1 << (word.addr() & SIZE_BITS)) + 1)
    }

    /// Frees a table (not the entries it points to).
    ///
    /// # Safety
    /// `word` came from `allocate`, is unlinked, and no reader can hold it.
    pub(super) unsafe fn free(word: *mut AtomicPtr<Entry>) {
        let (base, len) = Self::split(word);
        // SAFETY: by the caller; `allocate` used this layout.
        unsafe { alloc::dealloc(base.cast(), Self::layout(len)) }
    }

    /// The capacity mask, from the slice length (no memory load).
    #[inline]
    fn mask(&self) -> usize {
        self.words.len() - 2
    }

    #[inline]
    fn slots(&self) -> &[AtomicPtr<Entry>] {
        &self.words[1..]
    }

    pub(super) fn capacity(&self) -> usize {
        self.slots().len()
    }

    /// The live entry for `key`, for as long as `guard` lives.
    #[inline]
    pub(super) fn find<'g>(&'g self, hash: u64, key: &[u8], _guard: &'g ReadGuard) -> Option<&'g Entry> {
        let (mask, slots) = (self.mask(), self.slots());
        let mut i = hash as usize & mask;
        for _ in 0..slots.len() {
            let p = slots[i].load(Ordering::Acquire);
            if p.is_null() {
                return None;
            }
            if p != tombstone() {
                if let Some(p) = entry_of(p, hash) {
                    // SAFETY: a non-null, non-tombstone slot points to an
                    // entry published with `Release`; it is freed only after
                    // every read that began before it was unlinked has ended,
                    // and `guard` is such a read while the reference lives.
                    let e = unsafe { &*p };
                    if e.is(hash, key) {
                        return Some(e);
                    }
                }
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Every live entry pointer with its slot index (writer side).
    pub(super) fn live(&self) -> impl Iterator<Item = (usize, *mut Entry)> + '_ {
        self.slots().iter().enumerate().filter_map(|(i, s)| {
            let p = s.load(Ordering::Acquire);
            (!p.is_null() && p != tombstone()).then_some((i, untagged(p)))
        })
    }

    /// The slot holding an entry `matches` accepts, probing from `hash`
    /// (writer side: the caller holds the shard's mutex, so the entries
    /// cannot be freed while it looks).
    pub(super) fn position(&self, hash: u64, mut matches: impl FnMut(&Entry) -> bool) -> Option<usize> {
        let (mask, slots) = (self.mask(), self.slots());
        let mut i = hash as usize & mask;
        for _ in 0..slots.len() {
            let p = slots[i].load(Ordering::Acquire);
            if p.is_null() {
                return None;
            }
            // SAFETY: as in `find`; the writer's mutex keeps the entry alive.
            if p != tombstone() && matches(unsafe { &*untagged(p) }) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// The entry at slot `i` (writer side, under the shard's mutex).
    pub(super) fn at(&self, i: usize) -> Option<&Entry> {
        let p = self.slots().get(i)?.load(Ordering::Acquire);
        // SAFETY: as in `position`.
        (!p.is_null() && p != tombstone()).then(|| unsafe { &*untagged(p) })
    }

    /// Publishes `entry` in the first free or removed slot of its probe
    /// sequence; returns whether it reused a tombstone. The caller made sure
    /// a free slot exists and the key is not in the table.
    pub(super) fn publish(&self, hash: u64, entry: *mut Entry) -> bool {
        let (mask, slots) = (self.mask(), self.slots());
        let mut i = hash as usize & mask;
        loop {
            let p = slots[i].load(Ordering::Relaxed);
            if p.is_null() || p == tombstone() {
                slots[i].store(tagged(entry, hash), Ordering::Release);
                return !p.is_null();
            }
            i = (i + 1) & mask;
        }
    }

    /// Puts `with` (an entry for `hash`, or [`tombstone`]) in slot `i`;
    /// returns the entry that was there.
    pub(super) fn replace(&self, i: usize, hash: u64, with: *mut Entry) -> *mut Entry {
        let word = if with == tombstone() { with } else { tagged(with, hash) };
        untagged(self.slots()[i].swap(word, Ordering::AcqRel))
    }

    /// Copies every live entry into a new table of `capacity` slots;
    /// returns its pointer (as [`Table::allocate`]).
    pub(super) fn rebuilt(&self, capacity: usize) -> *mut AtomicPtr<Entry> {
        let base = Table::allocate(capacity);
        // SAFETY: just allocated, owned here.
        let table = unsafe { Table::from_base(base) };
        for (_, p) in self.live() {
            // SAFETY: as in `position`.
            let hash = unsafe { (*p).hash };
            table.publish(hash, p);
        }
        base
    }
}
