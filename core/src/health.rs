//! The health bound on half-open connections (rule 5): which pools vouch
//! for L1, the pings that confirm their connections, and the serving
//! deadline those confirmations give.
//!
//! A connection can go silent without closing (a paused server, a dropped
//! route): no push arrives, and none of its invalidations either. So every
//! `health_interval` each live connection is sent a PING at time `tp`; its
//! PONG arrives after every push the server queued before it, so it proves
//! the connection current as of `tp`. L1 serves entries only until the
//! oldest such confirmation plus `max_staleness` ([`Local::confirmed_until`]);
//! a connection silent for longer is recycled and L1 flushed.
//!
//! This module joins the two sides without either knowing the other: pools
//! (`conn`) announce themselves and their new connections through
//! [`PoolWatch`], and L1 (`tracking`) only ever hears a deadline.

use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use crate::conn::{Pool, PoolWatch};
use crate::tracking::{FlushCause, Local};

/// Every connection pool that fills L1 (one per server: several in a
/// cluster or with routes), and the L1 they vouch for.
pub(crate) struct Health {
    local: Arc<Local>,
    /// Held weakly: a pool lives as long as its deployment does.
    pools: Mutex<Vec<Weak<Pool>>>,
}

impl Health {
    /// A registry with no pool yet, for `local`.
    pub(crate) fn new(local: Arc<Local>) -> Arc<Health> {
        Arc::new(Health { local, pools: Mutex::new(Vec::new()) })
    }

    /// Adds a pool whose connections vouch for L1.
    pub(crate) fn register(&self, pool: &Arc<Pool>) {
        let mut pools = self.pools.lock();
        pools.retain(|p| p.strong_count() > 0);
        pools.push(Arc::downgrade(pool));
    }

    /// The registered pools still alive.
    pub(crate) fn pools(&self) -> Vec<Arc<Pool>> {
        self.pools.lock().iter().filter_map(Weak::upgrade).collect()
    }

    /// Moves the serving deadline to the oldest confirmation among the live
    /// connections of every pool. A pool without a live connection does not
    /// hold L1 back: the entries it filled were flushed when it lost them.
    pub(crate) fn refresh_deadline(&self) {
        let oldest = self.pools().iter().filter_map(|pool| pool.oldest_confirmation()).min();
        self.local.confirmed_until(oldest);
    }
}

impl PoolWatch for Health {
    fn pool_created(&self, pool: &Arc<Pool>) {
        self.register(pool);
    }

    fn connection_confirmed(&self) {
        self.refresh_deadline();
    }
}

/// Runs [`health_round`] every `interval` until the cache is dropped or
/// closed. Holds the cache's parts only during a round.
pub(crate) async fn health_loop(health: Weak<Health>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(health) = health.upgrade() else { return };
        let pools = health.pools();
        // No pool yet is not "every pool closed": cluster node pools are
        // created on first use, possibly long after this loop started. A
        // cache closed before any pool existed leaves this loop ticking
        // idly until the cache is dropped (the upgrade above then fails).
        if !pools.is_empty() && pools.iter().all(|pool| pool.is_closed()) {
            return;
        }
        health_round(&pools, &health).await;
    }
}

/// Pings every live connection of every pool at once; a PONG confirms its
/// connection as of the time the PING was sent. Connections unconfirmed for
/// `max_staleness` are recycled (L1 flushed), and the serving deadline is
/// moved.
async fn health_round(pools: &[Arc<Pool>], health: &Health) {
    let local = &health.local;
    let mut pings = tokio::task::JoinSet::new();
    for (index, pool) in pools.iter().enumerate() {
        for (slot, mut handle) in pool.live() {
            let pool = Arc::clone(pool);
            let clock = local.clock.clone();
            pings.spawn(async move {
                let tp = clock.now();
                let ok = pool.send(&mut handle, &redis::cmd("PING")).await.is_ok();
                (index, slot, handle.generation(), tp, ok)
            });
        }
    }
    while let Some(done) = pings.join_next().await {
        if let Ok((index, slot, generation, tp, true)) = done {
            pools[index].confirm(slot, generation, tp);
        }
    }
    for pool in pools {
        for (slot, generation, confirmed) in pool.confirmations() {
            if local.is_overdue(confirmed) && pool.recycle(slot, generation) {
                local.flush(FlushCause::Health);
            }
        }
    }
    health.refresh_deadline();
}
