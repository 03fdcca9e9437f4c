//! Multiplexed RESP3 connections to one Redis deployment.
//!
//! A [`Pool`] holds `redis.connections` long-lived redis-rs
//! `MultiplexedConnection`s. Each one pipelines every concurrent command sent
//! through it into shared writes and reads (auto-pipelining), so a pool of two
//! carries thousands of concurrent callers. Commands go round robin.
//!
//! We keep our own reconnect path rather than redis-rs's `ConnectionManager`:
//! a connection that carries invalidations must re-run its handshake, and
//! its owner must hear that it was lost before anyone reads again, so that
//! the L1 entries it served are dropped first (docs/design.md, "Server behaviour").
//! A slot whose connection failed reconnects on the next command; after a
//! failed attempt it fails fast with `Connection` until its backoff
//! (`redis.reconnect.min` doubling up to `max`) has passed, so callers do not
//! queue behind a dead server.
//!
//! A connection's driver task runs on the runtime of the caller that dialed
//! it (the core runtime for blocking callers and the bindings); if that
//! runtime goes away, the connection reports a disconnect and is redialed.
//!
//! This layer knows nothing about L1. Its creator hands each pool a
//! [`PoolHooks`]: the handshake command that turns invalidations on, and
//! two listeners, [`ConnEvents`] (pushes and lost connections, for the
//! invalidation side) and [`PoolWatch`] (new pools and confirmed
//! connections, for the health bound).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
// The `ConnectionLike` methods return boxed futures: the inherent
// `send_packed_command` future is several KiB, and it was copied at every
// level of every command's future (measured: 1 us of CPU per GET).
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{Cmd, PushInfo, Value};

use crate::clock::Clock;
use crate::config::RedisConfig;
use crate::dedicated::Dedicated;
use crate::endpoint::Endpoint;
use crate::error::{Error, ErrorKind, Result};
use crate::stats::{Op, Recorder};

/// What a pool's connections report to the side that keeps L1 coherent.
///
/// `push_received` runs inline in the connection's reader: redis-rs calls it
/// before it delivers any reply that follows the push, so whatever it does
/// happens before the caller of a later command sees that command's reply.
pub(crate) trait ConnEvents: Send + Sync {
    /// A push that is not a disconnection (an invalidation, say).
    fn push_received(&self, push: PushInfo);
    /// A live connection is gone (reported once per connection, whichever
    /// path noticed first: the reader's disconnection push or a broken send).
    fn connection_lost(&self);
    /// Cluster slots moved to another master (reported by the cluster
    /// router, which owns the node pools): the keys `moved` accepts lost the
    /// connection that carried their invalidations.
    fn topology_changed(&self, moved: &dyn Fn(&[u8]) -> bool);
    /// A live connection is gone that served only the keys `served` accepts
    /// (a cluster node's: the router wraps each node pool's events to say
    /// so). By default the same as [`ConnEvents::connection_lost`].
    fn connection_lost_serving(&self, served: &dyn Fn(&[u8]) -> bool) {
        let _ = served;
        self.connection_lost();
    }
}

/// What a pool reports to the side that bounds how long its connections
/// may go unconfirmed (the health pings).
pub(crate) trait PoolWatch: Send + Sync {
    /// A pool was created; the watcher may keep it (weakly) to ping its
    /// connections.
    fn pool_created(&self, pool: &Arc<Pool>);
    /// A new connection finished its handshake, confirming it as of the time
    /// [`Pool::confirmations`] reports.
    fn connection_confirmed(&self);
}

/// A command every new connection sends after naming itself and before it
/// serves anything, with the context its error gets if the server refuses it.
#[derive(Clone)]
pub(crate) struct Handshake {
    pub(crate) cmd: Cmd,
    pub(crate) refused: &'static str,
}

/// What a pool's creator gives it besides the configuration.
#[derive(Clone)]
pub(crate) struct PoolHooks {
    /// Told about pushes and lost connections.
    pub(crate) events: Arc<dyn ConnEvents>,
    /// Told about new pools and newly confirmed connections.
    pub(crate) watch: Arc<dyn PoolWatch>,
    /// Sent on every new connection before it serves a read.
    pub(crate) handshake: Option<Handshake>,
    /// The clock connection confirmations are measured on.
    pub(crate) clock: Clock,
}

/// A connection taken from the pool, with what is needed to report its
/// failure back to the right slot.
pub(crate) struct Handle {
    pub conn: MultiplexedConnection,
    slot: usize,
    generation: u64,
}

impl Handle {
    /// Which dial of its slot this connection is.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }
}

#[derive(Default)]
struct SlotState {
    live: Option<(MultiplexedConnection, u64)>,
    generation: u64,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<(ErrorKind, String)>,
    ever_connected: bool,
}

#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    /// L1-clock time of the last PING (or handshake) this slot's current
    /// connection answered; see the `health` module.
    confirmed_at: AtomicU64,
    /// Serialises connection attempts for this slot (one dial at a time).
    dialing: tokio::sync::Mutex<()>,
}

/// How a connection to one server is opened and named, shared by a pool's
/// multiplexed connections and its dedicated ones (`crate::dedicated`), so
/// both get the same handshake: credentials, database, RESP3 and TLS (in the
/// redis-rs client, from the endpoint), `CLIENT SETNAME`, `READONLY` for a
/// replica, then the caller's own handshake command, if any.
#[derive(Clone)]
pub(crate) struct Dialer {
    client: redis::Client,
    /// Timeouts; no push sender (each caller adds its own).
    options: redis::AsyncConnectionConfig,
    client_name: String,
    connect_timeout: Duration,
    /// `host:port` (never the password) for messages.
    endpoint: String,
    /// A replica connection: sends `READONLY` before its first read.
    readonly: bool,
}

impl Dialer {
    pub(crate) fn new(endpoint: &Endpoint, config: &RedisConfig) -> Result<Dialer> {
        Ok(Dialer {
            client: endpoint.client()?,
            options: redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(config.connect_timeout))
                .set_response_timeout(Some(config.command_timeout)),
            client_name: config.resolved_client_name(),
            connect_timeout: config.connect_timeout,
            endpoint: endpoint.name().to_owned(),
            readonly: endpoint.readonly,
        })
    }

    /// `host:port`, safe to print.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The bound on one dial (and, for dedicated connections, on waiting
    /// for a free one).
    pub(crate) fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The connection options every connection starts from (timeouts).
    pub(crate) fn options(&self) -> redis::AsyncConnectionConfig {
        self.options.clone()
    }

    /// Opens one connection with `options`, names it, sends `READONLY` for
    /// a replica, then `handshake`; returns it with the `clock` time taken
    /// after naming and before the handshake (what the health bound counts
    /// as its first confirmation). The whole dial is bounded by
    /// `connect_timeout`.
    pub(crate) async fn open(
        &self,
        options: redis::AsyncConnectionConfig,
        handshake: Option<Handshake>,
        clock: Clock,
    ) -> Result<(MultiplexedConnection, u64)> {
        let client = self.client.clone();
        let name = self.client_name.clone();
        let endpoint = self.endpoint.clone();
        let timeout = self.connect_timeout;
        let readonly = self.readonly;
        // The connection's driver task lives on the caller's runtime when
        // there is one (no cross-runtime wake-up per reply), else on ours. If
        // that runtime shuts down, the connection reports a disconnect and
        // the next command dials again.
        let runtime = match tokio::runtime::Handle::try_current() {
            Ok(current) => current,
            Err(_) => crate::runtime::get()?.handle().clone(),
        };
        let task = runtime.spawn(async move {
            let connect = async {
                let mut conn = client.get_multiplexed_async_connection_with_config(&options).await?;
                redis::cmd("CLIENT").arg("SETNAME").arg(&name).exec_async(&mut conn).await?;
                if readonly {
                    redis::cmd("READONLY").exec_async(&mut conn).await?;
                }
                let confirmed = clock.now();
                if let Some(handshake) = &handshake {
                    handshake.cmd.exec_async(&mut conn).await.map_err(|e| Error::from(e).context(handshake.refused))?;
                }
                Ok::<_, Error>((conn, confirmed))
            };
            match tokio::time::timeout(timeout, connect).await {
                Ok(Ok(conn)) => Ok(conn),
                Ok(Err(e)) => Err(e.context(format!("connecting to {endpoint}"))),
                Err(_) => Err(Error::new(
                    ErrorKind::Timeout,
                    format!("connecting to {endpoint}: no answer within {} ms", timeout.as_millis()),
                )),
            }
        });
        task.await.map_err(|e| Error::internal(format!("connection task failed: {e}")))?
    }
}

pub(crate) struct Pool {
    dialer: Dialer,
    backoff_min: Duration,
    backoff_max: Duration,
    /// `host:port` (never the password) for messages.
    endpoint: String,
    /// Shared with each connection's push handler, which marks its slot
    /// dead the moment redis-rs reports the disconnection.
    slots: Arc<[Slot]>,
    next: AtomicUsize,
    closed: AtomicBool,
    recorder: Arc<Recorder>,
    hooks: PoolHooks,
    /// Connections of their own for transactions: named, authenticated and
    /// on the same db as the shared ones, without `hooks.handshake` (the
    /// invalidation subscription).
    dedicated: Dedicated,
}

impl Pool {
    /// A pool for `endpoint`, announced to `hooks.watch` (whose serving
    /// deadline counts every announced pool's connections).
    pub(crate) fn new(
        endpoint: &Endpoint,
        config: &RedisConfig,
        recorder: Arc<Recorder>,
        hooks: PoolHooks,
    ) -> Result<Arc<Self>> {
        let dialer = Dialer::new(endpoint, config)?;
        let pool = Arc::new(Pool {
            dedicated: Dedicated::new(dialer.clone(), config.dedicated_connections, hooks.clock.clone()),
            dialer,
            backoff_min: config.reconnect.min,
            backoff_max: config.reconnect.max,
            endpoint: endpoint.name().to_owned(),
            slots: (0..config.connections.max(1)).map(|_| Slot::default()).collect::<Vec<_>>().into(),
            next: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            recorder,
            hooks,
        });
        pool.hooks.watch.pool_created(&pool);
        Ok(pool)
    }

    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A live connection, dialing one if the slot has none.
    pub(crate) async fn get(&self) -> Result<Handle> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        self.get_slot(index).await
    }

    /// Connects every slot now, so configuration and reachability errors
    /// surface at start-up rather than on the first read.
    pub(crate) async fn connect_all(&self) -> Result<()> {
        for index in 0..self.slots.len() {
            self.get_slot(index).await?;
        }
        Ok(())
    }

    async fn get_slot(&self, index: usize) -> Result<Handle> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::closed());
        }
        let slot = &self.slots[index];
        if let Some(handle) = Self::live_handle(slot, index) {
            return Ok(handle);
        }
        let _dialing = slot.dialing.lock().await;
        if let Some(handle) = Self::live_handle(slot, index) {
            return Ok(handle); // another caller dialed while we waited
        }
        {
            let state = slot.state.lock();
            if let (Some(retry_at), Some((kind, message))) = (state.retry_at, &state.last_error) {
                let now = Instant::now();
                if now < retry_at {
                    return Err(Error::new(
                        *kind,
                        format!(
                            "{} is unreachable, next attempt in {} ms (last error: {message})",
                            self.endpoint,
                            (retry_at - now).as_millis()
                        ),
                    ));
                }
            }
        }
        let generation = slot.state.lock().generation + 1;
        let started = Instant::now();
        let dialed = self.dial(index, generation).await;
        let dialed = dialed.map(|(conn, confirmed)| {
            slot.confirmed_at.store(confirmed, Ordering::Release);
            conn
        });
        self.recorder.latency(Op::Connect, started.elapsed(), self.endpoint.as_bytes());
        let mut state = slot.state.lock();
        match dialed {
            Ok(conn) => {
                if state.ever_connected {
                    self.recorder.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                state.generation = generation;
                state.live = Some((conn.clone(), generation));
                state.failures = 0;
                state.retry_at = None;
                state.last_error = None;
                state.ever_connected = true;
                drop(state);
                self.hooks.watch.connection_confirmed();
                Ok(Handle { conn, slot: index, generation })
            }
            Err(err) => {
                state.failures = state.failures.saturating_add(1);
                let backoff = self.backoff(state.failures);
                state.retry_at = Some(Instant::now() + backoff);
                state.last_error = Some((err.kind(), err.message().to_owned()));
                Err(err)
            }
        }
    }

    fn live_handle(slot: &Slot, index: usize) -> Option<Handle> {
        let state = slot.state.lock();
        state.live.as_ref().map(|(conn, generation)| Handle {
            conn: conn.clone(),
            slot: index,
            generation: *generation,
        })
    }

    fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures.saturating_sub(1).min(16)).unwrap_or(u32::MAX);
        self.backoff_min.saturating_mul(factor).min(self.backoff_max)
    }

    /// Opens one connection on the core runtime, names it, runs the
    /// handshake, and returns it with the time its handshake confirmed it. Its push
    /// handler runs inline in the connection's reader, before any reply that
    /// follows the push is delivered.
    async fn dial(&self, index: usize, generation: u64) -> Result<(MultiplexedConnection, u64)> {
        let slots = Arc::clone(&self.slots);
        let events = Arc::clone(&self.hooks.events);
        let on_push = move |push: PushInfo| -> std::result::Result<(), std::convert::Infallible> {
            if push.kind == redis::PushKind::Disconnection {
                if mark_dead(&slots[index], generation) {
                    events.connection_lost();
                }
            } else {
                events.push_received(push);
            }
            Ok(())
        };
        let options = self.dialer.options().set_push_sender(on_push);
        self.dialer.open(options, self.hooks.handshake.clone(), self.hooks.clock.clone()).await
    }

    /// The dedicated connections of this server (transactions).
    pub(crate) fn dedicated(&self) -> &Dedicated {
        &self.dedicated
    }

    /// Sends one command on `handle`, reporting a broken connection to its
    /// slot so the next caller dials a fresh one.
    pub(crate) async fn send(&self, handle: &mut Handle, cmd: &Cmd) -> Result<Value> {
        match handle.conn.req_packed_command(cmd).await {
            Ok(Value::ServerError(e)) => Err(Error::from(redis::RedisError::from(e))),
            Ok(value) => Ok(value),
            Err(e) => {
                self.report(handle, &e);
                Err(Error::from(e))
            }
        }
    }

    /// Sends a pipeline as one write; replies in order.
    pub(crate) async fn send_pipeline(&self, handle: &mut Handle, pipe: &redis::Pipeline) -> Result<Vec<Value>> {
        match handle.conn.req_packed_commands(pipe, 0, pipe.len()).await {
            Ok(values) => Ok(values),
            Err(e) => {
                self.report(handle, &e);
                Err(Error::from(e))
            }
        }
    }

    /// A pipeline of reads, retried once on a fresh connection if the
    /// connection turns out to be broken (see [`Pool::query_read`]).
    pub(crate) async fn query_pipeline_read(&self, pipe: &redis::Pipeline) -> Result<Vec<Value>> {
        let mut handle = self.get().await?;
        let first = handle.conn.req_packed_commands(pipe, 0, pipe.len()).await;
        let values = match first {
            Err(e) if is_broken(&e) => {
                self.report(&handle, &e);
                let mut handle = self.get().await?;
                self.send_pipeline(&mut handle, pipe).await?
            }
            Err(e) => return Err(Error::from(e)),
            Ok(values) => values,
        };
        // A server error inside the pipeline is that command's reply.
        values.into_iter().map(server_reply).collect()
    }

    /// A pipeline (or transaction) on any connection, not retried.
    pub(crate) async fn query_pipeline(&self, pipe: &redis::Pipeline) -> Result<Vec<Value>> {
        let mut handle = self.get().await?;
        self.send_pipeline(&mut handle, pipe).await
    }

    /// `cmd` preceded by `ASKING`, in one write: the answer to a cluster
    /// `ASK` redirect while its slot migrates to this node.
    pub(crate) async fn query_asking(&self, cmd: &Cmd) -> Result<Value> {
        let mut pipe = redis::pipe();
        pipe.cmd("ASKING").add_command(cmd.clone());
        let mut values = self.query_pipeline(&pipe).await?;
        server_reply(values.pop().unwrap_or_default())
    }

    /// Every command of `pipe` preceded by its own `ASKING` (the flag lasts
    /// one command). Transactions cannot be redirected this way.
    pub(crate) async fn query_pipeline_asking(&self, pipe: &redis::Pipeline) -> Result<Vec<Value>> {
        if pipe.is_transaction() {
            return Err(Error::new(ErrorKind::Redis, "a transaction hit a slot in migration (ASK); retry later"));
        }
        let mut asked = redis::pipe();
        for cmd in pipe.cmd_iter() {
            asked.cmd("ASKING").add_command(cmd.clone());
        }
        let values = self.query_pipeline(&asked).await?;
        values.into_iter().skip(1).step_by(2).map(server_reply).collect()
    }

    /// One command on any connection.
    pub(crate) async fn query(&self, cmd: &Cmd) -> Result<Value> {
        let mut handle = self.get().await?;
        self.send(&mut handle, cmd).await
    }

    /// A read: if the connection turns out to be broken (the server
    /// restarted since it was last used), it is retried once on a fresh
    /// one. Only for commands that are safe to send twice.
    pub(crate) async fn query_read(&self, cmd: &Cmd) -> Result<Value> {
        let mut handle = self.get().await?;
        match handle.conn.req_packed_command(cmd).await {
            Ok(Value::ServerError(e)) => Err(Error::from(redis::RedisError::from(e))),
            Ok(value) => Ok(value),
            Err(e) if is_broken(&e) => {
                self.report(&handle, &e);
                self.query(cmd).await
            }
            Err(e) => Err(Error::from(e)),
        }
    }

    fn report(&self, handle: &Handle, err: &redis::RedisError) {
        if is_broken(err) && mark_dead(&self.slots[handle.slot], handle.generation) {
            self.hooks.events.connection_lost();
        }
    }

    /// The live connections, by slot (for health pings).
    pub(crate) fn live(&self) -> Vec<(usize, Handle)> {
        (0..self.slots.len())
            .filter_map(|index| Self::live_handle(&self.slots[index], index).map(|h| (index, h)))
            .collect()
    }

    /// Records that `slot`'s connection `generation` was current at `tp`.
    pub(crate) fn confirm(&self, slot: usize, generation: u64, tp: u64) {
        let slot = &self.slots[slot];
        let state = slot.state.lock();
        if state.live.as_ref().is_some_and(|(_, live)| *live == generation) {
            slot.confirmed_at.fetch_max(tp, Ordering::AcqRel);
        }
    }

    /// (slot, generation, confirmed_at) of every live connection.
    pub(crate) fn confirmations(&self) -> Vec<(usize, u64, u64)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| {
                let state = slot.state.lock();
                state
                    .live
                    .as_ref()
                    .map(|(_, generation)| (index, *generation, slot.confirmed_at.load(Ordering::Acquire)))
            })
            .collect()
    }

    /// The oldest confirmation among live connections.
    pub(crate) fn oldest_confirmation(&self) -> Option<u64> {
        self.confirmations().into_iter().map(|(_, _, tp)| tp).min()
    }

    /// Drops a connection that stopped answering (half-open); returns
    /// whether it was still the slot's live one, so the caller reacts once.
    pub(crate) fn recycle(&self, slot: usize, generation: u64) -> bool {
        mark_dead(&self.slots[slot], generation)
    }

    /// Whether `close` was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Drops every connection; later calls return `Closed`.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.dedicated.close();
        for slot in self.slots.iter() {
            slot.state.lock().live = None;
        }
    }
}

/// A server error reply as an `Error`, anything else as the value.
fn server_reply(value: Value) -> Result<Value> {
    match value {
        Value::ServerError(e) => Err(Error::from(redis::RedisError::from(e))),
        value => Ok(value),
    }
}

/// A timeout alone does not prove a connection dead (DEBUG SLEEP, a slow
/// script); an I/O error or a closed socket does.
pub(crate) fn is_broken(err: &redis::RedisError) -> bool {
    !err.is_timeout() && (err.is_io_error() || err.is_connection_dropped())
}

/// Forgets the slot's connection if it is still the one of `generation`, so
/// the next caller dials a fresh one.
/// Returns whether it did (a connection is forgotten once, however many
/// paths notice that it broke).
fn mark_dead(slot: &Slot, generation: u64) -> bool {
    let mut state = slot.state.lock();
    if state.live.as_ref().is_some_and(|(_, live)| *live == generation) {
        state.live = None;
        true
    } else {
        false
    }
}
