//! Dedicated connections: a small bounded pool per server for work that
//! puts a connection into a state of its own (`WATCH`, `MULTI` ... `EXEC`),
//! which the shared multiplexed connections must never be in.
//!
//! A dedicated connection is opened by the same [`Dialer`] as the shared
//! ones (credentials, database, RESP3, TLS, `CLIENT SETNAME`, `READONLY`)
//! but never sends `CLIENT TRACKING`: it carries no invalidations, so losing
//! one flushes nothing, and the reads made on it never fill L1.
//!
//! One caller holds a connection at a time (a [`Lease`]). A lease goes back
//! to the idle list only when its holder says the connection is in its
//! initial state again ([`Lease::release`]: no `WATCH` pending, no `MULTI`
//! open); a lease dropped any other way (an error, a cancelled future, a
//! caller that forgot) closes its connection, so a half-finished transaction
//! can never leak into the next caller's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{Cmd, Pipeline, Value};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::clock::Clock;
use crate::conn::Dialer;
use crate::error::{Error, ErrorKind, Result};

/// The dedicated connections of one server (`redis.dedicated_connections`).
pub(crate) struct Dedicated {
    shared: Arc<Shared>,
}

struct Shared {
    dialer: Dialer,
    clock: Clock,
    /// Connections returned in their initial state, most recent last.
    idle: Mutex<Vec<MultiplexedConnection>>,
    /// One permit per connection that may exist (idle or leased).
    permits: Arc<Semaphore>,
    size: usize,
    closed: AtomicBool,
}

impl Dedicated {
    pub(crate) fn new(dialer: Dialer, size: usize, clock: Clock) -> Dedicated {
        let size = size.max(1);
        Dedicated {
            shared: Arc::new(Shared {
                dialer,
                clock,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(size)),
                size,
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// A connection for one caller: an idle one, or a new one while fewer
    /// than `redis.dedicated_connections` exist. Waits at most
    /// `redis.connect_timeout` for one to be free, then fails with
    /// `Timeout` (a transaction that waits longer is more likely a caller
    /// holding every connection, such as nested transactions).
    pub(crate) async fn lease(&self) -> Result<Lease> {
        let shared = &self.shared;
        if shared.closed.load(Ordering::Acquire) {
            return Err(Error::closed());
        }
        let wait = shared.dialer.connect_timeout();
        let permit = match tokio::time::timeout(wait, Arc::clone(&shared.permits).acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(Error::closed()),
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "all {} dedicated connections to {} (redis.dedicated_connections) stayed in use for {} ms",
                        shared.size,
                        shared.dialer.endpoint(),
                        wait.as_millis()
                    ),
                ))
            }
        };
        let idle = shared.idle.lock().pop();
        let (conn, reused) = match idle {
            Some(conn) => (conn, true),
            None => (shared.open().await?, false),
        };
        Ok(Lease { conn, reused, clean: false, shared: Arc::clone(shared), _permit: permit })
    }

    /// Closes the idle connections; later leases fail with `Closed`.
    pub(crate) fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.permits.close();
        self.shared.idle.lock().clear();
    }

    #[cfg(test)]
    fn idle_count(&self) -> usize {
        self.shared.idle.lock().len()
    }
}

impl Shared {
    async fn open(&self) -> Result<MultiplexedConnection> {
        // No push sender and no handshake command: no tracking.
        let (conn, _) = self.dialer.open(self.dialer.options(), None, self.clock.clone()).await?;
        Ok(conn)
    }
}

/// One dedicated connection, held by one caller.
pub(crate) struct Lease {
    conn: MultiplexedConnection,
    /// Taken from the idle list (it may have died while idle).
    reused: bool,
    /// Set by [`Lease::release`]: the connection may serve the next caller.
    clean: bool,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl Lease {
    /// `host:port` of the server, for messages.
    pub(crate) fn endpoint(&self) -> &str {
        self.shared.dialer.endpoint()
    }

    /// Whether this connection was idle before (and so may have been
    /// closed by the server meanwhile), rather than dialed for this lease.
    pub(crate) fn reused(&self) -> bool {
        self.reused
    }

    /// Replaces the connection with a freshly dialed one (after the reused
    /// one turned out to be broken before anything was sent on it).
    pub(crate) async fn redial(&mut self) -> Result<()> {
        self.conn = self.shared.open().await?;
        self.reused = false;
        Ok(())
    }

    /// One command; a server error reply is returned as the value
    /// (`Value::ServerError`), the caller decides what it means.
    pub(crate) async fn send(&mut self, cmd: &Cmd) -> redis::RedisResult<Value> {
        self.conn.req_packed_command(cmd).await
    }

    /// Every command of `pipe` in one write; every reply, in order, server
    /// errors included as values. `pipe` must not be atomic: callers write
    /// `MULTI` and `EXEC` themselves and read every reply.
    pub(crate) async fn send_all(&mut self, pipe: &Pipeline) -> redis::RedisResult<Vec<Value>> {
        debug_assert!(!pipe.is_transaction());
        self.conn.req_packed_commands(pipe, 0, pipe.len()).await
    }

    /// Returns the connection to the pool: the caller vouches that no
    /// `WATCH` is pending and no `MULTI` is open on it.
    pub(crate) fn release(mut self) {
        self.clean = true;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.clean && !self.shared.closed.load(Ordering::Acquire) {
            self.shared.idle.lock().push(self.conn.clone());
        }
        // Otherwise the connection is dropped here, and with it (once the
        // last clone goes) its socket: the server forgets its WATCH / MULTI.
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::{RedisConfig, RedisUrl};
    use crate::endpoint::Endpoint;

    fn dedicated(size: usize) -> Dedicated {
        let config = RedisConfig { connect_timeout: std::time::Duration::from_millis(50), ..RedisConfig::default() };
        let url = RedisUrl::parse("redis://127.0.0.1:1").unwrap();
        let endpoint = Endpoint::from_url(&url, &config, "redis.url").unwrap();
        Dedicated::new(Dialer::new(&endpoint, &config).unwrap(), size, Clock::default())
    }

    #[tokio::test]
    async fn a_closed_pool_refuses_leases() {
        let pool = dedicated(1);
        pool.close();
        assert_eq!(pool.lease().await.err().map(|e| e.kind()), Some(ErrorKind::Closed));
        assert_eq!(pool.idle_count(), 0);
    }

    #[tokio::test]
    async fn a_dial_failure_gives_the_permit_back() {
        // Nothing listens on port 1: each lease fails to dial, and must not
        // keep its permit (else the second would time out waiting).
        let pool = dedicated(1);
        let first = pool.lease().await.err().map(|e| e.kind());
        assert!(matches!(first, Some(ErrorKind::Connection | ErrorKind::Timeout)), "{first:?}");
        let second = pool.lease().await.err().map(|e| e.message().to_owned()).unwrap_or_default();
        assert!(!second.contains("stayed in use"), "{second}");
    }
}
