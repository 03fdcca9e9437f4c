//! Redis Cluster: hash-slot routing over one connection [`Pool`] per node.
//!
//! We do not use redis-rs's cluster client: it reconnects nodes without
//! re-enabling `CLIENT TRACKING` and gives no per-node hook to do it, and a
//! node connection that carries invalidations must re-enable tracking and
//! flush L1 when it is lost (docs/design.md, "Server behaviour"). So every node gets a [`Pool`], with
//! the same handshake, tracking, reconnect and health pings as a standalone
//! server, and this module only decides which pool a command goes to:
//!
//! - the slot map comes from `CLUSTER SLOTS`, fetched on first use and again
//!   after a `MOVED` reply or a lost node connection;
//! - `ASK` (a slot in migration) is answered with `ASKING` + the command on
//!   the importing node, without touching the map;
//! - when a refresh shows that slots changed master, their entries are
//!   dropped from L1: filled from the old master, they might otherwise miss
//!   an invalidation;
//! - a node's lost connection drops only the entries of the slots that node
//!   served (`node`): the other nodes' invalidations are still arriving.

mod node;
pub(crate) mod slots;
pub(crate) mod topology;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use redis::{Cmd, Pipeline, Value};

use crate::config::{Config, ReadFrom};
use crate::conn::{Pool, PoolHooks};
use crate::endpoint::Endpoint;
use crate::error::{Error, ErrorKind, Redirect, Result};
use crate::stats::Recorder;
use node::{Node, SlotSet};
use slots::{key_slot, SLOT_COUNT};
use topology::{parse_cluster_slots, NodeAddr, SlotRange};

/// Redirects followed for one command before giving up (a slot that keeps
/// moving means the cluster is being reconfigured faster than we can follow).
const MAX_REDIRECTS: usize = 5;

/// Refreshes for a suspected (not proven) topology change are at most this
/// frequent, so an outage does not turn every command into `CLUSTER SLOTS`.
const SUSPECT_REFRESH_INTERVAL: Duration = Duration::from_millis(100);

/// How often the slot map is refreshed without any sign of a change, to
/// pick up new replicas (and masters that took over without a `MOVED`).
const PERIODIC_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// Marks a slot that no node serves.
const UNASSIGNED: u16 = u16::MAX;

/// What to send, so that redirects can re-send it anywhere.
#[derive(Clone, Copy)]
pub(crate) enum Request<'a> {
    /// A command that may have side effects: never sent twice on its own.
    Write(&'a Cmd),
    /// A read: may go to a replica, and is retried once on a broken connection.
    Read(&'a Cmd),
    /// A pipeline or transaction of writes.
    Pipeline(&'a Pipeline),
    /// A pipeline of reads.
    ReadPipeline(&'a Pipeline),
}

impl Request<'_> {
    fn is_read(self) -> bool {
        matches!(self, Request::Read(_) | Request::ReadPipeline(_))
    }
}

/// The reply to a [`Request`].
pub(crate) enum Response {
    One(Value),
    Many(Vec<Value>),
}

impl Response {
    pub(crate) fn one(self) -> Value {
        match self {
            Response::One(value) => value,
            Response::Many(mut values) => values.pop().unwrap_or_default(),
        }
    }

    pub(crate) fn many(self) -> Vec<Value> {
        match self {
            Response::One(value) => vec![value],
            Response::Many(values) => values,
        }
    }
}

impl Pool {
    /// Sends `request`, after `ASKING` when answering an `ASK` redirect.
    pub(crate) async fn execute(&self, request: Request<'_>, asking: bool) -> Result<Response> {
        match (request, asking) {
            (Request::Write(cmd), false) => self.query(cmd).await.map(Response::One),
            (Request::Read(cmd), false) => self.query_read(cmd).await.map(Response::One),
            (Request::Pipeline(pipe), false) => self.query_pipeline(pipe).await.map(Response::Many),
            (Request::ReadPipeline(pipe), false) => self.query_pipeline_read(pipe).await.map(Response::Many),
            (Request::Write(cmd) | Request::Read(cmd), true) => self.query_asking(cmd).await.map(Response::One),
            (Request::Pipeline(pipe) | Request::ReadPipeline(pipe), true) => {
                self.query_pipeline_asking(pipe).await.map(Response::Many)
            }
        }
    }
}

/// One slot range's nodes.
struct Shard {
    master: NodeAddr,
    master_node: Node,
    replicas: Vec<Node>,
}

/// Which shard serves each slot.
struct SlotMap {
    /// Index into `shards` per slot, or [`UNASSIGNED`].
    slots: Box<[u16]>,
    shards: Vec<Shard>,
}

impl SlotMap {
    fn shard(&self, slot: u16) -> Option<&Shard> {
        match self.slots.get(usize::from(slot)) {
            Some(&index) if index != UNASSIGNED => self.shards.get(usize::from(index)),
            _ => None,
        }
    }

    fn master_of(&self, slot: u16) -> Option<&NodeAddr> {
        self.shard(slot).map(|shard| &shard.master)
    }
}

/// A Redis Cluster deployment.
pub(crate) struct Cluster {
    seed: Endpoint,
    seed_addr: NodeAddr,
    config: Config,
    recorder: Arc<Recorder>,
    /// Given to every node pool; told when a slot changes master.
    hooks: PoolHooks,
    read_from: ReadFrom,
    map: RwLock<Option<Arc<SlotMap>>>,
    /// Every node pool ever opened, by address and role (replica pools send
    /// `READONLY`), so a refresh reuses live connections.
    pools: Mutex<HashMap<(NodeAddr, bool), Node>>,
    /// One `CLUSTER SLOTS` refresh at a time.
    refreshing: tokio::sync::Mutex<()>,
    /// Bumped by every refresh; lets concurrent callers that all saw the
    /// same `MOVED` share one refresh.
    version: AtomicU64,
    /// A node connection failed: the next command refreshes the map first
    /// (a failover may have promoted a replica).
    stale: AtomicBool,
    /// When the last refresh finished (see [`SUSPECT_REFRESH_INTERVAL`]).
    refreshed_at: Mutex<Option<Instant>>,
    closed: AtomicBool,
    next_replica: AtomicUsize,
}

impl Cluster {
    pub(crate) fn new(seed: Endpoint, config: &Config, recorder: Arc<Recorder>, hooks: PoolHooks) -> Result<Cluster> {
        let seed_addr = NodeAddr::parse(seed.name()).ok_or_else(|| {
            Error::config(format!("redis.url: cluster mode needs a host:port address, got {}", seed.name()))
        })?;
        Ok(Cluster {
            seed,
            seed_addr,
            config: config.clone(),
            recorder,
            hooks,
            read_from: config.redis.read_from,
            map: RwLock::new(None),
            pools: Mutex::new(HashMap::new()),
            refreshing: tokio::sync::Mutex::new(()),
            version: AtomicU64::new(0),
            stale: AtomicBool::new(false),
            refreshed_at: Mutex::new(None),
            closed: AtomicBool::new(false),
            next_replica: AtomicUsize::new(0),
        })
    }

    /// `host:port` of the seed node, for messages.
    pub(crate) fn name(&self) -> &str {
        self.seed.name()
    }

    /// Sends `request` to the node serving `key`'s slot, following
    /// redirects.
    pub(crate) async fn execute(&self, key: &[u8], request: Request<'_>) -> Result<Response> {
        let slot = key_slot(key);
        let mut ask: Option<NodeAddr> = None;
        let mut avoid_replica = false;
        let mut last_error = None;
        for _ in 0..MAX_REDIRECTS {
            let (node, asking) = match ask.take() {
                Some(addr) => (self.pool(&addr, false)?, true),
                None => (self.route(slot, request.is_read() && !avoid_replica).await?, false),
            };
            let seen = self.version.load(Ordering::Acquire);
            let err = match node.serving(slot).execute(request, asking).await {
                Ok(response) => return Ok(response),
                Err(err) => err,
            };
            match err.redirect() {
                Some(Redirect::Moved(_)) => self.refresh(seen).await?,
                Some(Redirect::Ask(addr)) => {
                    ask = Some(NodeAddr::parse(&addr).ok_or_else(|| malformed_redirect(&addr))?);
                }
                None if err.kind() == ErrorKind::Connection => {
                    // The node may be gone for good (failover): look again
                    // before the next command, and let a replica read fall
                    // back to the master now.
                    self.stale.store(true, Ordering::Release);
                    if request.is_read() && !avoid_replica && self.read_from == ReadFrom::Replica {
                        avoid_replica = true;
                        last_error = Some(err);
                        continue;
                    }
                    return Err(err);
                }
                None => return Err(err),
            }
            last_error = Some(err);
        }
        let last = last_error.map(|e| e.message().to_owned()).unwrap_or_default();
        Err(Error::new(
            ErrorKind::Redis,
            format!("slot {slot}: still redirected after {MAX_REDIRECTS} attempts (last: {last})"),
        ))
    }

    /// Independent commands, each routed by its own key: one pipeline per
    /// master holding any of their slots, all sent concurrently; every
    /// result in call order, a command's server error as its `Ok` reply.
    /// Commands answered `MOVED` or `ASK` did not run, so they alone are sent
    /// again where their redirect points (after `ASKING` for `ASK`), at most
    /// [`MAX_REDIRECTS`] times; after that their redirect error is their
    /// reply. A node whose pipeline failed gives that error to each of its
    /// commands.
    pub(crate) async fn execute_many(&self, commands: &[(&[u8], &Cmd)]) -> Vec<Result<Value>> {
        let mut results: Vec<Result<Value>> = commands.iter().map(|_| Ok(Value::Nil)).collect();
        // (command index, the node an ASK named for it)
        let mut pending: Vec<(usize, Option<NodeAddr>)> = (0..commands.len()).map(|i| (i, None)).collect();
        for _ in 0..MAX_REDIRECTS {
            let seen = self.version.load(Ordering::Acquire);
            // One batch per (node, asking).
            let mut batches: Vec<(Node, bool, Vec<usize>)> = Vec::new();
            for (i, ask) in pending.drain(..) {
                let slot = key_slot(commands[i].0);
                let target = match ask {
                    Some(addr) => self.pool(&addr, false).map(|node| (node, true)),
                    None => self.route(slot, false).await.map(|node| (node, false)),
                };
                match target {
                    Ok((node, asking)) => {
                        node.serving(slot);
                        match batches.iter_mut().find(|(n, a, _)| n.is(&node) && *a == asking) {
                            Some((_, _, members)) => members.push(i),
                            None => batches.push((node, asking, vec![i])),
                        }
                    }
                    Err(err) => results[i] = Err(err),
                }
            }
            let sends = batches.iter().map(|(node, asking, members)| async move {
                let mut pipe = redis::pipe();
                for &i in members {
                    if *asking {
                        pipe.cmd("ASKING");
                    }
                    pipe.add_command(commands[i].1.clone());
                }
                node.pool().query_pipeline(&pipe).await
            });
            let mut moved = false;
            for ((_, asking, members), sent) in batches.iter().zip(futures_util::future::join_all(sends).await) {
                let values = match sent {
                    Ok(values) => values,
                    Err(err) => {
                        if err.kind() == ErrorKind::Connection {
                            self.stale.store(true, Ordering::Release);
                        }
                        for &i in members {
                            results[i] = Err(Error::new(err.kind(), err.message()));
                        }
                        continue;
                    }
                };
                let asking = usize::from(*asking);
                for (&i, value) in members.iter().zip(values.into_iter().skip(asking).step_by(1 + asking)) {
                    if let Value::ServerError(e) = &value {
                        match e.code() {
                            "MOVED" => {
                                moved = true;
                                pending.push((i, None));
                            }
                            "ASK" => {
                                let addr = e.details().and_then(|d| d.split_whitespace().nth(1)).unwrap_or_default();
                                pending.push((i, NodeAddr::parse(addr)));
                            }
                            _ => {}
                        }
                    }
                    results[i] = Ok(value);
                }
            }
            if pending.is_empty() {
                break;
            }
            if moved && self.refresh(seen).await.is_err() {
                break; // the redirect errors stay the replies
            }
        }
        results
    }

    /// A shard number for `key`: keys with the same number can share one
    /// multi-key command.
    pub(crate) fn shard_of(key: &[u8]) -> u16 {
        key_slot(key)
    }

    /// The pools of every master, for commands that must visit each (SCAN).
    pub(crate) async fn masters(&self) -> Result<Vec<Arc<Pool>>> {
        let map = self.current_map().await?;
        Ok(map.shards.iter().map(|shard| Arc::clone(shard.master_node.pool())).collect())
    }

    /// The master serving `key`'s slot (for dedicated connections, which
    /// follow no redirects on their own).
    pub(crate) async fn master_for(&self, key: &[u8]) -> Result<Arc<Pool>> {
        let slot = key_slot(key);
        Ok(Arc::clone(self.route(slot, false).await?.serving(slot)))
    }

    /// Refreshes the slot map now (after a `MOVED` seen outside
    /// [`Cluster::execute`]); a failed refresh leaves the map as it was and
    /// the next command's own error says what is wrong.
    pub(crate) async fn refresh_now(&self) {
        let seen = self.version.load(Ordering::Acquire);
        let _ = self.refresh(seen).await;
    }

    /// Any master (for keyless commands).
    pub(crate) async fn any_master(&self) -> Result<Arc<Pool>> {
        let map = self.current_map().await?;
        let shard = map.shards.first().ok_or_else(no_shards)?;
        Ok(Arc::clone(shard.master_node.pool()))
    }

    /// Discovers the topology and connects every master (and replica, for
    /// replica reads), so that errors surface at start-up.
    pub(crate) async fn connect_all(&self) -> Result<()> {
        let map = self.current_map().await?;
        for shard in &map.shards {
            shard.master_node.pool().connect_all().await?;
            if self.read_from == ReadFrom::Replica {
                for replica in &shard.replicas {
                    replica.pool().connect_all().await?;
                }
            }
        }
        Ok(())
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        for node in self.pools.lock().values() {
            node.pool().close();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    async fn route(&self, slot: u16, read: bool) -> Result<Node> {
        let map = self.current_map().await?;
        let shard = map.shard(slot).ok_or_else(|| {
            self.stale.store(true, Ordering::Release);
            Error::new(ErrorKind::Connection, format!("slot {slot} is not served by any node (is the cluster down?)"))
        })?;
        if read && self.read_from == ReadFrom::Replica && !shard.replicas.is_empty() {
            let n = self.next_replica.fetch_add(1, Ordering::Relaxed);
            return Ok(shard.replicas[n % shard.replicas.len()].clone());
        }
        Ok(shard.master_node.clone())
    }

    async fn current_map(&self) -> Result<Arc<SlotMap>> {
        if self.is_closed() {
            return Err(Error::closed());
        }
        let seen = self.version.load(Ordering::Acquire);
        let known = self.map.read().clone();
        match known {
            Some(map) if self.periodic_refresh_due() => {
                // Only the caller that gets the lock refreshes; the others
                // go on with the map they have.
                if let Ok(_one_at_a_time) = self.refreshing.try_lock() {
                    let _ = self.install_fresh_map().await;
                }
                Ok(self.map.read().clone().unwrap_or(map))
            }
            Some(map) if !self.stale.load(Ordering::Acquire) || self.refreshed_recently() => Ok(map),
            Some(map) => {
                // A failed refresh (the failover is still under way) keeps
                // the map we have; the command's own error tells the caller.
                if self.refresh(seen).await.is_err() {
                    return Ok(map);
                }
                self.map.read().clone().ok_or_else(no_shards)
            }
            None => {
                self.refresh(seen).await?;
                self.map.read().clone().ok_or_else(no_shards)
            }
        }
    }

    fn periodic_refresh_due(&self) -> bool {
        self.refreshed_at.lock().is_some_and(|at| at.elapsed() >= PERIODIC_REFRESH_INTERVAL)
    }

    fn refreshed_recently(&self) -> bool {
        self.refreshed_at.lock().is_some_and(|at| at.elapsed() < SUSPECT_REFRESH_INTERVAL)
    }

    /// Fetches `CLUSTER SLOTS` and installs the new map, unless another
    /// caller refreshed since `seen`.
    async fn refresh(&self, seen: u64) -> Result<()> {
        let _one_at_a_time = self.refreshing.lock().await;
        if self.version.load(Ordering::Acquire) != seen {
            return Ok(());
        }
        self.install_fresh_map().await
    }

    /// Fetches and installs the slot map; the caller holds `refreshing`.
    async fn install_fresh_map(&self) -> Result<()> {
        let ranges = self.fetch_slots().await?;
        let map = self.build_map(&ranges)?;
        *self.refreshed_at.lock() = Some(Instant::now());
        let map = Arc::new(map);
        let previous = self.map.write().replace(Arc::clone(&map));
        self.stale.store(false, Ordering::Release);
        self.version.fetch_add(1, Ordering::AcqRel);
        if let Some(moved) = previous.and_then(|previous| moved_slots(&previous, &map)) {
            // Only the moved slots' entries lost their invalidations.
            self.hooks.events.topology_changed(&|key: &[u8]| moved.contains(key_slot(key)));
        }
        Ok(())
    }

    /// Asks the known masters, then the seed node, for the slot map.
    async fn fetch_slots(&self) -> Result<Vec<SlotRange>> {
        let mut candidates: Vec<NodeAddr> = match &*self.map.read() {
            Some(map) => map.shards.iter().map(|shard| shard.master.clone()).collect(),
            None => Vec::new(),
        };
        if !candidates.contains(&self.seed_addr) {
            candidates.push(self.seed_addr.clone());
        }
        let mut last_error = None;
        for addr in candidates {
            let node = self.pool(&addr, false)?;
            match node.pool().query_read(redis::cmd("CLUSTER").arg("SLOTS")).await {
                Ok(reply) => return parse_cluster_slots(reply, &addr.host),
                Err(err) if err.kind() == ErrorKind::Closed => return Err(err),
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.unwrap_or_else(no_shards).context("discovering the cluster's slots"))
    }

    fn build_map(&self, ranges: &[SlotRange]) -> Result<SlotMap> {
        let mut slots = vec![UNASSIGNED; usize::from(SLOT_COUNT)].into_boxed_slice();
        let mut shards: Vec<Shard> = Vec::new();
        for range in ranges {
            let index = match shards.iter().position(|shard| shard.master == range.master) {
                Some(index) => index,
                None => {
                    let replicas = if self.read_from == ReadFrom::Replica {
                        range.replicas.iter().map(|addr| self.pool(addr, true)).collect::<Result<Vec<_>>>()?
                    } else {
                        Vec::new()
                    };
                    shards.push(Shard {
                        master: range.master.clone(),
                        master_node: self.pool(&range.master, false)?,
                        replicas,
                    });
                    shards.len() - 1
                }
            };
            let index = u16::try_from(index).map_err(|_| Error::new(ErrorKind::Redis, "more shards than slots"))?;
            for slot in range.start..=range.end {
                slots[usize::from(slot)] = index;
            }
        }
        Ok(SlotMap { slots, shards })
    }

    /// The node pool for `addr` in `replica` role, opened on first use.
    fn pool(&self, addr: &NodeAddr, replica: bool) -> Result<Node> {
        let mut pools = self.pools.lock();
        if let Some(node) = pools.get(&(addr.clone(), replica)) {
            return Ok(node.clone());
        }
        if self.is_closed() {
            return Err(Error::closed());
        }
        let mut endpoint = self.seed.node(&addr.host, addr.port);
        if replica {
            endpoint = endpoint.replica();
        }
        let node = Node::open(
            |hooks| Pool::new(&endpoint, &self.config.redis, Arc::clone(&self.recorder), hooks),
            &self.hooks,
        )?;
        pools.insert((addr.clone(), replica), node.clone());
        Ok(node)
    }
}

/// The slots that had a master and now have another (or none), if any.
fn moved_slots(before: &SlotMap, after: &SlotMap) -> Option<SlotSet> {
    let moved = SlotSet::new();
    let mut any = false;
    for slot in 0..SLOT_COUNT {
        if before.master_of(slot).is_some_and(|old| after.master_of(slot) != Some(old)) {
            moved.insert(slot);
            any = true;
        }
    }
    any.then_some(moved)
}

fn no_shards() -> Error {
    Error::new(ErrorKind::Connection, "the cluster reports no slots (is it still being created?)")
}

fn malformed_redirect(addr: &str) -> Error {
    Error::new(ErrorKind::Redis, format!("a redirect names an address we cannot parse: {addr:?}"))
}
