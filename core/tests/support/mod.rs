//! The consistency checker's outside world, shared by `tests/consistency.rs`
//! and `tests/soak.rs`: the keys, the writers outside nearcache, and the
//! faults injected into the server.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nearcache::testing::consistency::{hash_state, hash_write, History};
use nearcache::testing::TestRedis;
use nearcache::{Config, Invalidation};

/// A small hot key set: every key is read and written many times per run.
pub const KEYS: usize = 16;
/// Writers per shape; writer `w` owns keys `w, w + WRITERS, ...`.
pub const WRITERS: usize = 2;

pub fn key(i: usize) -> String {
    format!("cc:{i}")
}

/// Hash keys, under the same `bcast` prefix.
pub fn hash_key(i: usize) -> String {
    format!("cc:h:{i}")
}

/// The checker's cache on `redis`: connections named `client_name`, short
/// timeouts and backoff (so faults are noticed and survived within a run),
/// health pings every 100 ms against `max_staleness`, and in `bcast` mode
/// the `cc:` prefix. L1 TTLs are the caller's.
pub fn checker_config(redis: &TestRedis, client_name: &str, mode: Invalidation, max_staleness: Duration) -> Config {
    let mut config = Config::default();
    config.redis.url = redis.url().parse().unwrap();
    config.redis.client_name = client_name.into();
    config.redis.command_timeout = Duration::from_millis(150);
    config.redis.connect_timeout = Duration::from_millis(200);
    config.redis.reconnect.min = Duration::from_millis(10);
    config.redis.reconnect.max = Duration::from_millis(100);
    config.l1.invalidation = mode;
    config.l1.prefixes = if mode == Invalidation::Bcast { vec!["cc:".into()] } else { vec![] };
    config.l1.max_staleness = max_staleness;
    config.l1.health_interval = Duration::from_millis(100);
    config
}

/// What the readers read and the writers write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// String values: `SET` outside, `get` through nearcache.
    Strings,
    /// Hash fields: the schedule of `hash_write` outside, `hget` / `hmget`
    /// / `hgetall` / a pipelined `HGET` through nearcache.
    Hashes,
}

/// One writer outside nearcache: owns keys `w, w + WRITERS, ...`, writes
/// increasing versions (a `SET`, or a hash write as one MULTI/EXEC),
/// reconnects after errors, records acknowledgements.
pub async fn writer(url: String, w: usize, shape: Shape, history: Arc<History>, stop: Arc<AtomicBool>) {
    let client = redis::Client::open(url).unwrap();
    let mut versions = [0u64; KEYS];
    let mut conn = None;
    let mut k = w;
    while !stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            let config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Duration::from_millis(200)))
                .set_response_timeout(Some(Duration::from_millis(200)));
            match client.get_multiplexed_async_connection_with_config(&config).await {
                Ok(c) => conn = Some(c),
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        versions[k] += 1;
        let set: redis::RedisResult<()> = match shape {
            Shape::Strings => redis::cmd("SET").arg(key(k)).arg(versions[k]).query_async(c).await,
            Shape::Hashes => {
                let mut pipe = redis::pipe();
                pipe.atomic();
                for cmd in hash_write(&hash_key(k), versions[k]) {
                    pipe.cmd(&cmd[0]).arg(&cmd[1..]).ignore();
                }
                if hash_state(versions[k]).is_none() {
                    history.record_removal_sent(k, versions[k], Instant::now());
                }
                pipe.query_async(c).await
            }
        };
        match set {
            Ok(()) => history.record_write(k, versions[k], Instant::now()),
            Err(_) => conn = None,
        }
        k = (k + WRITERS) % KEYS;
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// kill -9, then a fresh server on the same port (data lost).
    KillRestart,
    /// CLIENT KILL of the cache's connections.
    ClientKill,
    /// DEBUG SLEEP: the server stalls.
    DebugSleep,
    /// CLIENT PAUSE: the server holds every client.
    ClientPause,
    /// SIGSTOP / SIGCONT: a half-open connection.
    Stop,
    /// FLUSHALL from another client (data lost).
    FlushAll,
}

impl Fault {
    /// Every fault, in the order the soak cycles through them.
    pub const ALL: [Fault; 6] =
        [Fault::ClientKill, Fault::DebugSleep, Fault::ClientPause, Fault::Stop, Fault::FlushAll, Fault::KillRestart];
}

/// The server's client ids of the connections named `client_name`.
pub fn client_ids(redis: &TestRedis, client_name: &str) -> Vec<String> {
    let clients = redis.cli(&["CLIENT", "LIST"]).unwrap();
    let name = format!("name={client_name}");
    clients
        .lines()
        .filter(|l| l.split_whitespace().any(|f| f == name))
        .filter_map(|l| l.split_whitespace().find_map(|f| f.strip_prefix("id=")).map(str::to_owned))
        .collect()
}

/// Injects `fault` (CLIENT KILL hits the connections named `client_name`);
/// returns when the server is back (the recovery clock starts then).
pub async fn inject(fault: Fault, redis: &mut TestRedis, history: &History, client_name: &str) -> Instant {
    match fault {
        Fault::None => {}
        Fault::KillRestart => {
            history.data_lost(Instant::now());
            redis.restart().unwrap();
        }
        Fault::ClientKill => {
            for id in client_ids(redis, client_name) {
                redis.cli(&["CLIENT", "KILL", "ID", &id]).unwrap();
            }
        }
        Fault::DebugSleep => {
            redis.cli(&["DEBUG", "SLEEP", "0.4"]).unwrap();
        }
        Fault::ClientPause => {
            redis.cli(&["CLIENT", "PAUSE", "400", "ALL"]).unwrap();
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        Fault::Stop => {
            redis.pause();
            tokio::time::sleep(Duration::from_millis(800)).await;
            redis.resume();
        }
        Fault::FlushAll => {
            // Recorded before the command: reads that start after this may
            // already see the empty keyspace.
            history.data_lost(Instant::now());
            redis.cli(&["FLUSHALL"]).unwrap();
        }
    }
    Instant::now()
}
