//! One cluster node's pool, and the slots it has served.
//!
//! A node's connection carries the invalidations of the keys read through
//! it (tracking) or written on it (bcast), so when it is lost only the
//! entries of those keys are in doubt (rule 4, per node). The router marks
//! a slot in the node's [`SlotSet`] before it sends that slot's command to
//! the node, so every entry filled from the node is in a marked slot; marks
//! are never cleared (a slot served once and moved away is dropped again:
//! more than needed, never less). The node's pool reports a lost
//! connection through [`NodeEvents`], which asks L1 to drop just those
//! slots' entries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use redis::PushInfo;

use super::slots::{key_slot, SLOT_COUNT};
use crate::conn::{ConnEvents, Pool, PoolHooks};

/// A set of hash slots, updated lock-free.
pub(crate) struct SlotSet {
    words: Box<[AtomicU64]>,
}

impl SlotSet {
    pub(crate) fn new() -> SlotSet {
        SlotSet { words: (0..usize::from(SLOT_COUNT) / 64).map(|_| AtomicU64::new(0)).collect() }
    }

    pub(crate) fn insert(&self, slot: u16) {
        let (word, bit) = (usize::from(slot % SLOT_COUNT) / 64, slot % 64);
        // Most commands go to slots already marked: a load avoids the
        // read-modify-write on the shared line.
        if self.words[word].load(Ordering::Relaxed) & (1 << bit) == 0 {
            self.words[word].fetch_or(1 << bit, Ordering::Release);
        }
    }

    pub(crate) fn contains(&self, slot: u16) -> bool {
        let (word, bit) = (usize::from(slot % SLOT_COUNT) / 64, slot % 64);
        self.words[word].load(Ordering::Acquire) & (1 << bit) != 0
    }

    /// Whether `key`'s slot is in the set.
    pub(crate) fn has_key(&self, key: &[u8]) -> bool {
        self.contains(key_slot(key))
    }
}

/// A node's pool with the slots sent to it.
#[derive(Clone)]
pub(crate) struct Node {
    pool: Arc<Pool>,
    served: Arc<SlotSet>,
}

impl Node {
    /// Opens the node's pool with `hooks`, its lost connections reported
    /// as losing only the slots it served.
    pub(crate) fn open(
        open: impl FnOnce(PoolHooks) -> crate::Result<Arc<Pool>>,
        hooks: &PoolHooks,
    ) -> crate::Result<Node> {
        let served = Arc::new(SlotSet::new());
        let events = Arc::new(NodeEvents { inner: Arc::clone(&hooks.events), served: Arc::clone(&served) });
        let pool = open(PoolHooks { events, ..hooks.clone() })?;
        Ok(Node { pool, served })
    }

    /// The pool, for a command on `slot` (marked served first).
    pub(crate) fn serving(&self, slot: u16) -> &Arc<Pool> {
        self.served.insert(slot);
        &self.pool
    }

    /// The pool, for a keyless command (no L1 entry comes of it).
    pub(crate) fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    pub(crate) fn is(&self, other: &Node) -> bool {
        Arc::ptr_eq(&self.pool, &other.pool)
    }
}

/// A node pool's events: as the cache's, but a lost connection loses only
/// the node's served slots.
struct NodeEvents {
    inner: Arc<dyn ConnEvents>,
    served: Arc<SlotSet>,
}

impl ConnEvents for NodeEvents {
    fn push_received(&self, push: PushInfo) {
        self.inner.push_received(push);
    }

    fn connection_lost(&self) {
        let served = Arc::clone(&self.served);
        self.inner.connection_lost_serving(&move |key: &[u8]| served.has_key(key));
    }

    fn topology_changed(&self, moved: &dyn Fn(&[u8]) -> bool) {
        self.inner.topology_changed(moved);
    }

    fn connection_lost_serving(&self, served: &dyn Fn(&[u8]) -> bool) {
        self.inner.connection_lost_serving(served);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_marked_one_by_one() {
        let set = SlotSet::new();
        assert!(!set.contains(0) && !set.contains(16383));
        set.insert(0);
        set.insert(16383);
        set.insert(65);
        assert!(set.contains(0) && set.contains(16383) && set.contains(65));
        assert!(!set.contains(1) && !set.contains(64) && !set.contains(66));
        let key = b"{user:1}:name";
        assert!(!set.has_key(key));
        set.insert(key_slot(key));
        assert!(set.has_key(b"{user:1}:email"), "a hash tag shares the slot");
    }
}
