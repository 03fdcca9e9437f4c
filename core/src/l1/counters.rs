//! Hit and miss counters written without a shared write: one block per
//! reader slot (see `readers`), which only the slot's thread writes, with
//! plain load + store; `stats()` sums the blocks. Threads without a slot
//! share the last block and pay an atomic increment.

use std::sync::atomic::{AtomicU64, Ordering};

use super::readers::{ReadGuard, SLOTS};
use super::StoreCounters;

/// What a lookup counts.
#[derive(Clone, Copy)]
pub(super) enum Count {
    Hit = 0,
    NegativeHit,
    Miss,
    ReadHit,
    ReadNegativeHit,
    ReadMiss,
}

const KINDS: usize = 6;

#[repr(align(64))]
#[derive(Default)]
struct Block([AtomicU64; KINDS]);

pub(super) struct ThreadCounters {
    /// `SLOTS` owned blocks, then the shared one.
    blocks: Box<[Block]>,
}

impl ThreadCounters {
    pub(super) fn new() -> Self {
        ThreadCounters { blocks: (0..=SLOTS).map(|_| Block::default()).collect() }
    }

    /// Counts one lookup made inside `guard`; returns the count of that
    /// kind in this block before it (for sampling).
    #[inline]
    pub(super) fn add(&self, guard: &ReadGuard, kind: Count) -> u64 {
        match guard.slot() {
            Some(slot) => {
                let counter = &self.blocks[slot].0[kind as usize];
                // Only the slot's thread writes this block (it owns the slot
                // while `guard` lives), so no read-modify-write is needed.
                let n = counter.load(Ordering::Relaxed);
                counter.store(n + 1, Ordering::Relaxed);
                n
            }
            None => self.blocks[SLOTS].0[kind as usize].fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The sums over every block (into `into`'s lookup counters).
    pub(super) fn sum_into(&self, into: &mut StoreCounters) {
        let total = |kind: Count| self.blocks.iter().map(|b| b.0[kind as usize].load(Ordering::Relaxed)).sum::<u64>();
        into.hits = total(Count::Hit);
        into.negative_hits = total(Count::NegativeHit);
        into.misses = total(Count::Miss);
        into.read_hits = total(Count::ReadHit);
        into.read_negative_hits = total(Count::ReadNegativeHit);
        into.read_misses = total(Count::ReadMiss);
    }
}
