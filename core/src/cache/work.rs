//! In-flight work and the graceful close: [`Cache::start_work`] and
//! [`Cache::close_when_idle`].
//!
//! A binding that hands a call's future to core's runtime (a Promise, an
//! asyncio future) holds an [`InFlight`] for it until its result has been
//! handed back to the caller's thread. `close_when_idle` refuses new work,
//! waits until every `InFlight` is dropped, then closes as [`Cache::close`]
//! does. The work in flight is not failed by the close that waits for it:
//! core's methods check `closed`, which is only set once the count is zero;
//! new work is refused by `closing`, which is set first.
//!
//! Calls answered on the caller's thread (an L1 hit) and blocking calls are
//! never in flight in this sense: they are done when they return.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use super::{Cache, Pending, Ready};
use crate::error::{Error, ErrorKind, Result};

/// The count of [`InFlight`] guards of one cache (shared by its clones).
#[derive(Default)]
pub(super) struct Tracker {
    count: AtomicUsize,
    /// Set by `close_when_idle`: no new work may start.
    closing: AtomicBool,
    /// Woken when the count drops to zero while `closing`.
    idle: Notify,
}

impl Tracker {
    fn is_idle(&self) -> bool {
        self.count.load(Ordering::SeqCst) == 0
    }

    async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the count is read, so a drop to zero between
            // the read and the await still wakes this waiter.
            notified.as_mut().enable();
            if self.is_idle() {
                return;
            }
            notified.await;
        }
    }
}

/// One call in flight (see the module docs): dropping it ends the call.
/// Bindings drop it after the result has been queued for the caller's
/// thread, so that results are delivered before the close that waited for
/// them.
#[must_use = "the call is in flight only while the guard is held"]
pub struct InFlight {
    tracker: Arc<Tracker>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // SeqCst pairs with `closing` in `start_work` and `close_when_idle`.
        if self.tracker.count.fetch_sub(1, Ordering::SeqCst) == 1 && self.tracker.closing.load(Ordering::SeqCst) {
            self.tracker.idle.notify_waiters();
        }
    }
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InFlight")
    }
}

impl Cache {
    /// Registers one call whose future leaves the calling thread; the cache
    /// counts it until the guard is dropped. Refused with
    /// [`ErrorKind::Closed`] once the cache is closed or closing, and in a
    /// forked child (as [`Cache::check_usable`]).
    pub fn start_work(&self) -> Result<InFlight> {
        self.inner.check_usable()?;
        let tracker = &self.inner.work;
        tracker.count.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight { tracker: Arc::clone(tracker) };
        if tracker.closing.load(Ordering::SeqCst) {
            drop(guard);
            return Err(Error::new(
                ErrorKind::Closed,
                "the cache is closing: it waits for work in flight, then closes",
            ));
        }
        Ok(guard)
    }

    /// How many calls are in flight (see [`Cache::start_work`]).
    pub fn in_flight(&self) -> usize {
        self.inner.work.count.load(Ordering::SeqCst)
    }

    /// Closes the cache once the calls in flight are done: new work is
    /// refused at once (`Closed`), then, when the last [`InFlight`] is
    /// dropped, the cache closes as [`Cache::close`] does. With nothing in
    /// flight it closes now ([`Ready::Now`]). Calling it again, or after
    /// `close`, is harmless. A caller that gives up waiting (drops the
    /// pending work) can call [`Cache::close`] to close at once.
    ///
    /// Calls answered from L1 on the caller's thread are still answered
    /// while the cache waits; only `close` empties L1.
    pub fn close_when_idle(&self) -> Ready<()> {
        let tracker = &self.inner.work;
        tracker.closing.store(true, Ordering::SeqCst);
        if tracker.is_idle() {
            self.close();
            return Ready::Now(());
        }
        let cache = self.clone();
        Ready::Later(Pending::new(async move {
            cache.inner.work.wait_idle().await;
            cache.close();
            Ok(())
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn cache() -> Cache {
        // Never connects: nothing here does I/O.
        Cache::builder().url("redis://127.0.0.1:1").build().unwrap()
    }

    #[test]
    fn idle_cache_closes_at_once_and_twice() {
        let cache = cache();
        assert!(matches!(cache.close_when_idle(), Ready::Now(())));
        assert!(cache.is_closed());
        assert!(matches!(cache.close_when_idle(), Ready::Now(())));
        cache.close();
        assert_eq!(cache.start_work().unwrap_err().kind(), ErrorKind::Closed);
    }

    #[test]
    fn close_waits_for_every_guard_and_refuses_new_work() {
        let cache = cache();
        let (a, b) = (cache.start_work().unwrap(), cache.start_work().unwrap());
        assert_eq!(cache.in_flight(), 2);
        let Ready::Later(pending) = cache.close_when_idle() else { panic!("work is in flight") };
        // Closing, not closed: the calls in flight still run.
        assert!(!cache.is_closed());
        assert!(cache.check_usable().is_ok());
        let refused = cache.start_work().unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Closed);
        assert!(refused.message().contains("closing"), "{refused}");
        assert_eq!(cache.in_flight(), 2, "a refused start leaves the count alone");
        let waiter = std::thread::spawn(move || pending.wait());
        drop(a);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!cache.is_closed(), "one guard is still held");
        drop(b);
        waiter.join().unwrap().unwrap();
        assert!(cache.is_closed());
        assert_eq!(cache.in_flight(), 0);
    }

    #[test]
    fn a_second_close_waits_too_and_plain_close_gives_up_waiting() {
        let cache = cache();
        let work = cache.start_work().unwrap();
        let (Ready::Later(first), Ready::Later(second)) = (cache.close_when_idle(), cache.close_when_idle()) else {
            panic!("work is in flight")
        };
        cache.close(); // closes now; the waiters still wait for the guard
        assert!(cache.is_closed());
        let waiters = [first, second].map(|p| std::thread::spawn(move || p.wait()));
        drop(work);
        for waiter in waiters {
            waiter.join().unwrap().unwrap();
        }
    }
}
