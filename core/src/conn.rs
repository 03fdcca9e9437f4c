//! Multiplexed RESP3 connections to one Redis deployment.
//!
//! A [`Pool`] holds `redis.connections` long-lived redis-rs
//! `MultiplexedConnection`s. Each one pipelines every concurrent command sent
//! through it into shared writes and reads (auto-pipelining), so a pool of two
//! carries thousands of concurrent callers. Commands go round robin.
//!
//! We keep our own reconnect path rather than redis-rs's `ConnectionManager`:
//! a connection that carries invalidations must re-handshake and re-enable
//! tracking, and the L1 entries it served must be dropped first (NOTES.md).
//! A slot whose connection failed reconnects on the next command; after a
//! failed attempt it fails fast with `Connection` until its backoff
//! (`redis.reconnect.min` doubling up to `max`) has passed, so callers do not
//! queue behind a dead server.
//!
//! Connections are created on the core runtime, whoever asks: their driver
//! tasks must outlive the caller's task and runtime.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis::aio::MultiplexedConnection;
use redis::{Cmd, Value};

use crate::config::RedisConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::stats::{Op, Recorder};

/// A connection taken from the pool, with what is needed to report its
/// failure back to the right slot.
pub(crate) struct Handle {
    pub conn: MultiplexedConnection,
    slot: usize,
    generation: u64,
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
    /// Serialises connection attempts for this slot (one dial at a time).
    dialing: tokio::sync::Mutex<()>,
}

pub(crate) struct Pool {
    client: redis::Client,
    options: redis::AsyncConnectionConfig,
    client_name: String,
    connect_timeout: Duration,
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
}

impl Pool {
    pub(crate) fn new(config: &RedisConfig, recorder: Arc<Recorder>) -> Result<Self> {
        use redis::IntoConnectionInfo;
        let endpoint = config.url.redacted();
        let info = config
            .url
            .expose()
            .into_connection_info()
            // redis-rs's URL errors may echo the URL (and its password).
            .map_err(|e| Error::config(format!("redis.url: {endpoint} is not a valid Redis URL ({:?})", e.kind())))?;
        let redis_settings = info.redis_settings().clone().set_protocol(redis::ProtocolVersion::RESP3);
        let keepalive = socket2::TcpKeepalive::new().with_time(config.keepalive);
        let tcp = redis::io::tcp::TcpSettings::default().set_nodelay(true).set_keepalive(keepalive);
        let info = info.set_redis_settings(redis_settings).set_tcp_settings(tcp);
        let client = redis::Client::open(info).map_err(|e| Error::config(format!("redis.url: {e}")))?;
        let options = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.command_timeout));
        Ok(Pool {
            client,
            options,
            client_name: config.resolved_client_name(),
            connect_timeout: config.connect_timeout,
            backoff_min: config.reconnect.min,
            backoff_max: config.reconnect.max,
            endpoint: endpoint_of(&endpoint),
            slots: (0..config.connections.max(1)).map(|_| Slot::default()).collect::<Vec<_>>().into(),
            next: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            recorder,
        })
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
        if let Some(handle) = Self::live(slot, index) {
            return Ok(handle);
        }
        let _dialing = slot.dialing.lock().await;
        if let Some(handle) = Self::live(slot, index) {
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
                Ok(Handle { conn, slot: index, generation: state.generation })
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

    fn live(slot: &Slot, index: usize) -> Option<Handle> {
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

    /// Opens one connection on the core runtime, names it, and checks it.
    /// Its push handler runs inline in the connection's reader, before any
    /// reply that follows the push is delivered.
    async fn dial(&self, index: usize, generation: u64) -> Result<MultiplexedConnection> {
        let client = self.client.clone();
        let slots = Arc::clone(&self.slots);
        let on_push = move |push: redis::PushInfo| -> std::result::Result<(), std::convert::Infallible> {
            if push.kind == redis::PushKind::Disconnection {
                mark_dead(&slots[index], generation);
            }
            Ok(())
        };
        let options = self.options.clone().set_push_sender(on_push);
        let name = self.client_name.clone();
        let endpoint = self.endpoint.clone();
        let timeout = self.connect_timeout;
        let task = crate::runtime::get()?.spawn(async move {
            let connect = async {
                let mut conn = client.get_multiplexed_async_connection_with_config(&options).await?;
                redis::cmd("CLIENT").arg("SETNAME").arg(&name).exec_async(&mut conn).await?;
                Ok::<_, redis::RedisError>(conn)
            };
            match tokio::time::timeout(timeout, connect).await {
                Ok(Ok(conn)) => Ok(conn),
                Ok(Err(e)) => Err(Error::from(e).context(format!("connecting to {endpoint}"))),
                Err(_) => Err(Error::new(
                    ErrorKind::Timeout,
                    format!("connecting to {endpoint}: no answer within {} ms", timeout.as_millis()),
                )),
            }
        });
        task.await.map_err(|e| Error::internal(format!("connection task failed: {e}")))?
    }

    /// Sends one command on `handle`, reporting a broken connection to its
    /// slot so the next caller dials a fresh one.
    pub(crate) async fn send(&self, handle: &mut Handle, cmd: &Cmd) -> Result<Value> {
        match handle.conn.send_packed_command(cmd).await {
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
        match handle.conn.send_packed_commands(pipe, 0, pipe.len()).await {
            Ok(values) => Ok(values),
            Err(e) => {
                self.report(handle, &e);
                Err(Error::from(e))
            }
        }
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
        match handle.conn.send_packed_command(cmd).await {
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
        if !is_broken(err) {
            return;
        }
        mark_dead(&self.slots[handle.slot], handle.generation);
    }

    /// Drops every connection; later calls return `Closed`.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        for slot in self.slots.iter() {
            slot.state.lock().live = None;
        }
    }
}

/// A timeout alone does not prove a connection dead (DEBUG SLEEP, a slow
/// script); an I/O error or a closed socket does.
fn is_broken(err: &redis::RedisError) -> bool {
    !err.is_timeout() && (err.is_io_error() || err.is_connection_dropped())
}

/// Forgets the slot's connection if it is still the one of `generation`, so
/// the next caller dials a fresh one.
fn mark_dead(slot: &Slot, generation: u64) {
    let mut state = slot.state.lock();
    if state.live.as_ref().is_some_and(|(_, live)| *live == generation) {
        state.live = None;
    }
}

/// `redis://user:***@host:6379/0` -> `host:6379`.
fn endpoint_of(redacted_url: &str) -> String {
    let rest = redacted_url.split_once("://").map_or(redacted_url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_hides_credentials_and_path() {
        assert_eq!(endpoint_of("redis://u:***@h:6380/2?x=1"), "h:6380");
        assert_eq!(endpoint_of("redis://127.0.0.1:6379"), "127.0.0.1:6379");
        assert_eq!(endpoint_of("redis://[::1]:7000/0"), "[::1]:7000");
    }
}
