//! Freeing what writers unlinked, once no reader can still hold it (see
//! `readers` for the protocol). Unlinked entries and slot arrays wait in a
//! list; every [`BATCH`] of them (or sooner when they hold many bytes, or at
//! a clear) becomes a batch with a snapshot of the readers, freed as soon as
//! those readers have left. Nothing here waits for a reader.

use std::collections::VecDeque;

use parking_lot::Mutex;

use super::entry::Entry;
use super::readers::Snapshot;
use super::table::Table;

/// Unlinked objects gathered before a batch is cut (one process-wide
/// barrier per batch keeps invalidation floods cheap).
const BATCH: usize = 64;

/// Something unlinked, owned here until it is freed.
pub(super) enum Garbage {
    Entry(*mut Entry),
    Table(*mut std::sync::atomic::AtomicPtr<Entry>),
}

// SAFETY: the pointers are owned (unlinked from every table, created by
// `Box::into_raw`); the objects are `Send` themselves.
unsafe impl Send for Garbage {}

impl Garbage {
    /// # Safety
    /// No reader may still hold the object: its batch's snapshot passed, or
    /// the store is being dropped.
    unsafe fn free(self) {
        // SAFETY: by the caller; each pointer came from `Box::into_raw` and is
        // freed once (garbage is moved, never copied).
        unsafe {
            match self {
                Garbage::Entry(p) => drop(Box::from_raw(p)),
                Garbage::Table(p) => Table::free(p),
            }
        }
    }
}

#[derive(Default)]
struct Lists {
    pending: Vec<Garbage>,
    pending_bytes: u64,
    batches: VecDeque<(Snapshot, Vec<Garbage>)>,
}

pub(super) struct Reclaim {
    lists: Mutex<Lists>,
    /// Bytes of pending entries that cut a batch early.
    batch_bytes: u64,
}

impl Reclaim {
    pub(super) fn new(max_bytes: u64) -> Reclaim {
        Reclaim { lists: Mutex::new(Lists::default()), batch_bytes: (max_bytes / 32).max(64 * 1024) }
    }

    /// Takes an unlinked object (with the bytes it holds, for the early cut).
    pub(super) fn retire(&self, garbage: Garbage, bytes: u64) {
        let mut lists = self.lists.lock();
        lists.pending.push(garbage);
        lists.pending_bytes += bytes;
        if lists.pending.len() >= BATCH || lists.pending_bytes >= self.batch_bytes {
            Self::cut(&mut lists);
        }
    }

    /// Cuts a batch of whatever is pending now and frees what it can.
    pub(super) fn flush(&self) {
        Self::cut(&mut self.lists.lock());
    }

    fn cut(lists: &mut Lists) {
        if !lists.pending.is_empty() {
            let batch = std::mem::take(&mut lists.pending);
            lists.pending_bytes = 0;
            lists.batches.push_back((Snapshot::take(), batch));
        }
        while let Some((snapshot, _)) = lists.batches.front_mut() {
            if !snapshot.passed() {
                break;
            }
            if let Some((_, batch)) = lists.batches.pop_front() {
                for garbage in batch {
                    // SAFETY: the batch's snapshot passed: every reader that
                    // could have seen these objects has left.
                    unsafe { garbage.free() };
                }
            }
        }
    }

    /// Objects waiting to be freed (for tests and the memory bench).
    #[cfg(test)]
    pub(super) fn waiting(&self) -> usize {
        let lists = self.lists.lock();
        lists.pending.len() + lists.batches.iter().map(|(_, b)| b.len()).sum::<usize>()
    }
}

impl Drop for Reclaim {
    fn drop(&mut self) {
        let lists = std::mem::take(&mut *self.lists.lock());
        for garbage in lists.pending.into_iter().chain(lists.batches.into_iter().flat_map(|(_, b)| b)) {
            // SAFETY: the store owning this is being dropped, so no reader
            // of it exists (every read borrows the store).
            unsafe { garbage.free() };
        }
    }
}
