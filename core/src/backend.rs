//! Where a key's commands go: the `[redis]` deployment, or the deployment
//! of the longest `[[routes]]` prefix the key starts with; within a cluster
//! deployment, the node serving the key's slot.
//!
//! Every deployment shares the one L1: keys are disjoint by prefix, and each
//! deployment's connections carry the invalidations of the keys read through
//! them. So a deployment's lost connection drops only the entries of the
//! keys it serves (rule 4, per deployment: [`DeploymentEvents`]), and within
//! a cluster only those of the node's slots.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use redis::{Cmd, Pipeline, PushInfo, Value};

use crate::cluster::{Cluster, Request, Response};
use crate::config::{Config, Mode, RedisUrl};
use crate::conn::{ConnEvents, Pool, PoolHooks};
use crate::dedicated::Lease;
use crate::endpoint::Endpoint;
use crate::error::{Error, ErrorKind, Result};
use crate::stats::{DeploymentStats, Recorder};

/// How a deployment is reached.
enum Target {
    Standalone(Arc<Pool>),
    Cluster(Box<Cluster>),
}

/// One Redis deployment: `[redis]`, or a route's.
struct Deployment {
    /// The route's prefix; empty for `[redis]`.
    prefix: Vec<u8>,
    target: Target,
    /// Commands sent to it and how many failed, for `Stats::deployments`.
    commands: AtomicU64,
    errors: AtomicU64,
}

impl Target {
    fn new(
        url: &RedisUrl,
        mode: Mode,
        field: &str,
        config: &Config,
        recorder: &Arc<Recorder>,
        hooks: &PoolHooks,
    ) -> Result<Self> {
        let endpoint = Endpoint::from_url(url, &config.redis, field)?;
        Ok(match mode {
            Mode::Standalone => {
                Target::Standalone(Pool::new(&endpoint, &config.redis, Arc::clone(recorder), hooks.clone())?)
            }
            Mode::Cluster => {
                Target::Cluster(Box::new(Cluster::new(endpoint, config, Arc::clone(recorder), hooks.clone())?))
            }
        })
    }

    fn name(&self) -> &str {
        match self {
            Target::Standalone(pool) => pool.endpoint(),
            Target::Cluster(cluster) => cluster.name(),
        }
    }
}

impl Deployment {
    fn new(prefix: &str, target: Target) -> Deployment {
        Deployment {
            prefix: prefix.as_bytes().to_vec(),
            target,
            commands: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }

    /// Counts `work` as one command of this deployment.
    async fn counted<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        self.commands.fetch_add(1, Ordering::Relaxed);
        let result = work.await;
        if result.is_err() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

/// One pipeline's replies, one `Result` per command: a failed send is each
/// command's error, a short reply list an error for the commands it lacks.
fn spread(sent: Result<Vec<Value>>, count: usize) -> Vec<Result<Value>> {
    match sent {
        Ok(values) if values.len() == count => values.into_iter().map(Ok).collect(),
        Ok(values) => {
            let message = format!("pipeline: {count} commands sent, {} replies", values.len());
            (0..count).map(|_| Err(Error::new(ErrorKind::Redis, message.clone()))).collect()
        }
        Err(err) => (0..count).map(|_| Err(Error::new(err.kind(), err.message()))).collect(),
    }
}

/// The route prefixes, longest first, so the first match is the longest.
struct Prefixes(Vec<Vec<u8>>);

impl Prefixes {
    /// Which deployment serves `key`: 0 for `[redis]`, `i + 1` for a route.
    fn index_of(&self, key: &[u8]) -> usize {
        self.0.iter().position(|prefix| key.starts_with(prefix)).map_or(0, |i| i + 1)
    }
}

/// A deployment's pool events: as the cache's, but a lost connection loses
/// only the keys the deployment serves (and, from a cluster node, only
/// those of its slots).
struct DeploymentEvents {
    inner: Arc<dyn ConnEvents>,
    prefixes: Arc<Prefixes>,
    index: usize,
}

impl ConnEvents for DeploymentEvents {
    fn push_received(&self, push: PushInfo) {
        self.inner.push_received(push);
    }

    fn connection_lost(&self) {
        self.inner.connection_lost_serving(&|key: &[u8]| self.prefixes.index_of(key) == self.index);
    }

    fn topology_changed(&self, moved: &dyn Fn(&[u8]) -> bool) {
        self.inner.topology_changed(&|key: &[u8]| self.prefixes.index_of(key) == self.index && moved(key));
    }

    fn connection_lost_serving(&self, served: &dyn Fn(&[u8]) -> bool) {
        self.inner.connection_lost_serving(&|key: &[u8]| self.prefixes.index_of(key) == self.index && served(key));
    }
}

/// Every deployment of a cache, and the rule that picks one per key.
pub(crate) struct Backend {
    default: Deployment,
    /// In the order of `prefixes`.
    routes: Vec<Deployment>,
    prefixes: Arc<Prefixes>,
}

impl Backend {
    pub(crate) fn new(config: &Config, recorder: &Arc<Recorder>, hooks: &PoolHooks) -> Result<Backend> {
        let mut routes: Vec<_> = config.routes.iter().enumerate().collect();
        routes.sort_by_key(|(_, route)| std::cmp::Reverse(route.prefix.len()));
        let prefixes = Arc::new(Prefixes(routes.iter().map(|(_, route)| route.prefix.as_bytes().to_vec()).collect()));
        // Without routes every connection serves every key: the plain events.
        let hooks_of = |index: usize| match routes.is_empty() {
            true => hooks.clone(),
            false => PoolHooks {
                events: Arc::new(DeploymentEvents {
                    inner: Arc::clone(&hooks.events),
                    prefixes: Arc::clone(&prefixes),
                    index,
                }),
                ..hooks.clone()
            },
        };
        let target = Target::new(&config.redis.url, config.redis.mode, "redis.url", config, recorder, &hooks_of(0))?;
        let default = Deployment::new("", target);
        let routes = routes
            .iter()
            .enumerate()
            .map(|(index, (i, route))| {
                let field = format!("routes[{i}].url");
                let target = Target::new(&route.url, route.mode, &field, config, recorder, &hooks_of(index + 1))?;
                Ok(Deployment::new(&route.prefix, target))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Backend { default, routes, prefixes })
    }

    /// `host:port` of the default deployment, for `Debug`.
    pub(crate) fn name(&self) -> &str {
        self.default.target.name()
    }

    /// Which deployment serves `key`: 0 for `[redis]`, `i + 1` for a route.
    fn index_of(&self, key: &[u8]) -> usize {
        self.prefixes.index_of(key)
    }

    fn deployment(&self, key: &[u8]) -> &Deployment {
        match self.index_of(key) {
            0 => &self.default,
            i => &self.routes[i - 1],
        }
    }

    fn deployments(&self) -> impl Iterator<Item = &Deployment> {
        std::iter::once(&self.default).chain(self.routes.iter())
    }

    /// Whether keys may live in different places (so multi-key commands
    /// must be split by [`Backend::group_of`]).
    pub(crate) fn is_sharded(&self) -> bool {
        !self.routes.is_empty() || matches!(self.default.target, Target::Cluster(_))
    }

    /// Keys with the same group can share one multi-key command: same
    /// deployment and, in a cluster, same hash slot.
    pub(crate) fn group_of(&self, key: &[u8]) -> u32 {
        let index = self.index_of(key) as u32;
        let slot = match self.deployment(key).target {
            Target::Standalone(_) => 0,
            Target::Cluster(_) => u32::from(Cluster::shard_of(key)),
        };
        (index << 16) | slot
    }

    /// A command that may write, for the node serving `key`.
    pub(crate) async fn query(&self, key: &[u8], cmd: &Cmd) -> Result<Value> {
        let deployment = self.deployment(key);
        match &deployment.target {
            Target::Standalone(pool) => deployment.counted(pool.query(cmd)).await,
            Target::Cluster(cluster) => {
                deployment.counted(Box::pin(cluster.execute(key, Request::Write(cmd)))).await.map(Response::one)
            }
        }
    }

    /// A read for `key` (retried once on a broken connection; may go to a
    /// replica when `read_from = "replica"`).
    pub(crate) async fn query_read(&self, key: &[u8], cmd: &Cmd) -> Result<Value> {
        let deployment = self.deployment(key);
        match &deployment.target {
            Target::Standalone(pool) => deployment.counted(pool.query_read(cmd)).await,
            Target::Cluster(cluster) => {
                deployment.counted(Box::pin(cluster.execute(key, Request::Read(cmd)))).await.map(Response::one)
            }
        }
    }

    /// A pipeline or transaction whose keys all share `key`'s group.
    pub(crate) async fn query_pipeline(&self, key: &[u8], pipe: &Pipeline) -> Result<Vec<Value>> {
        let deployment = self.deployment(key);
        match &deployment.target {
            Target::Standalone(pool) => deployment.counted(pool.query_pipeline(pipe)).await,
            Target::Cluster(cluster) => {
                deployment.counted(Box::pin(cluster.execute(key, Request::Pipeline(pipe)))).await.map(Response::many)
            }
        }
    }

    /// Independent commands (an explicit pipeline), each routed by its key
    /// (`None`: keyless, for the `[redis]` deployment): one pipeline per
    /// server, all sent concurrently; every result in call order, a command's
    /// server error as its `Ok` reply, a failed server's error as each of its
    /// commands' `Err`. In a cluster, redirected commands are sent again
    /// where they belong. Never retried on a broken connection (the
    /// commands may be writes).
    pub(crate) async fn query_many(&self, commands: &[(Option<&[u8]>, Cmd)]) -> Vec<Result<Value>> {
        // Command indexes by deployment (0 = `[redis]`, i + 1 = route i).
        let mut by_deployment: Vec<(usize, Vec<usize>)> = Vec::new();
        for (i, (key, _)) in commands.iter().enumerate() {
            let index = key.map_or(0, |key| self.index_of(key));
            match by_deployment.iter_mut().find(|(d, _)| *d == index) {
                Some((_, members)) => members.push(i),
                None => by_deployment.push((index, vec![i])),
            }
        }
        let sends = by_deployment.iter().map(|(index, members)| async move {
            let deployment = if *index == 0 { &self.default } else { &self.routes[index - 1] };
            deployment.commands.fetch_add(1, Ordering::Relaxed);
            let results = match &deployment.target {
                Target::Standalone(pool) => {
                    let mut pipe = redis::pipe();
                    for &i in members {
                        pipe.add_command(commands[i].1.clone());
                    }
                    spread(pool.query_pipeline(&pipe).await, members.len())
                }
                Target::Cluster(cluster) => {
                    let keyed: Vec<usize> = members.iter().copied().filter(|&i| commands[i].0.is_some()).collect();
                    let keyless: Vec<usize> = members.iter().copied().filter(|&i| commands[i].0.is_none()).collect();
                    let routed: Vec<(&[u8], &Cmd)> =
                        keyed.iter().map(|&i| (commands[i].0.unwrap_or_default(), &commands[i].1)).collect();
                    let mut by_key = Box::pin(cluster.execute_many(&routed)).await.into_iter();
                    let mut without_key = if keyless.is_empty() {
                        Vec::new().into_iter()
                    } else {
                        let mut pipe = redis::pipe();
                        for &i in &keyless {
                            pipe.add_command(commands[i].1.clone());
                        }
                        let sent = async { cluster.any_master().await?.query_pipeline(&pipe).await }.await;
                        spread(sent, keyless.len()).into_iter()
                    };
                    let missing = || Err(Error::internal("pipeline: a command got no reply"));
                    members
                        .iter()
                        .map(|&i| match commands[i].0 {
                            Some(_) => by_key.next().unwrap_or_else(missing),
                            None => without_key.next().unwrap_or_else(missing),
                        })
                        .collect()
                }
            };
            if results.iter().any(Result::is_err) {
                deployment.errors.fetch_add(1, Ordering::Relaxed);
            }
            (members, results)
        });
        let mut out: Vec<Result<Value>> = commands.iter().map(|_| Ok(Value::Nil)).collect();
        for (members, results) in futures_util::future::join_all(sends).await {
            for (&i, result) in members.iter().zip(results) {
                out[i] = result;
            }
        }
        out
    }

    /// A pipeline of reads whose keys all share `key`'s group.
    pub(crate) async fn query_pipeline_read(&self, key: &[u8], pipe: &Pipeline) -> Result<Vec<Value>> {
        let deployment = self.deployment(key);
        match &deployment.target {
            Target::Standalone(pool) => deployment.counted(pool.query_pipeline_read(pipe)).await,
            Target::Cluster(cluster) => {
                let work = Box::pin(cluster.execute(key, Request::ReadPipeline(pipe)));
                deployment.counted(work).await.map(Response::many)
            }
        }
    }

    /// A dedicated connection (no tracking, one caller) to the master that
    /// serves `key`; with no key, to the `[redis]` deployment (any master of
    /// a cluster). For transactions.
    pub(crate) async fn dedicated(&self, key: Option<&[u8]>) -> Result<Lease> {
        let deployment = key.map_or(&self.default, |key| self.deployment(key));
        let pool = match (&deployment.target, key) {
            (Target::Standalone(pool), _) => Arc::clone(pool),
            (Target::Cluster(cluster), Some(key)) => cluster.master_for(key).await?,
            (Target::Cluster(cluster), None) => cluster.any_master().await?,
        };
        deployment.commands.fetch_add(1, Ordering::Relaxed);
        let lease = pool.dedicated().lease().await;
        if lease.is_err() {
            deployment.errors.fetch_add(1, Ordering::Relaxed);
        }
        lease
    }

    /// A `MOVED` reply came back on a dedicated connection for `key`: the
    /// cluster's slot map is refreshed before the next attempt.
    pub(crate) async fn moved(&self, key: &[u8]) {
        if let Target::Cluster(cluster) = &self.deployment(key).target {
            cluster.refresh_now().await;
        }
    }

    /// A command without a key (`PING`, `INFO`, `DBSIZE`): the `[redis]`
    /// deployment, any master of a cluster.
    pub(crate) async fn query_keyless(&self, cmd: &Cmd) -> Result<Value> {
        let deployment = &self.default;
        match &deployment.target {
            Target::Standalone(pool) => deployment.counted(pool.query(cmd)).await,
            Target::Cluster(cluster) => {
                deployment.counted(async { cluster.any_master().await?.query(cmd).await }).await
            }
        }
    }

    /// `cmd` on every master of every deployment, one after the other;
    /// returns the last reply (the first error stops).
    pub(crate) async fn query_every_master(&self, cmd: &Cmd) -> Result<Value> {
        let mut last = Value::Nil;
        for pool in self.masters().await? {
            last = pool.query(cmd).await?;
        }
        Ok(last)
    }

    /// Every master of every deployment, for commands that must visit each
    /// one (SCAN).
    pub(crate) async fn masters(&self) -> Result<Vec<Arc<Pool>>> {
        let mut out = Vec::new();
        for deployment in self.deployments() {
            match &deployment.target {
                Target::Standalone(pool) => out.push(Arc::clone(pool)),
                Target::Cluster(cluster) => out.extend(cluster.masters().await?),
            }
        }
        Ok(out)
    }

    /// Opens every connection of every deployment; returns the first error.
    pub(crate) async fn connect_all(&self) -> Result<()> {
        for deployment in self.deployments() {
            match &deployment.target {
                Target::Standalone(pool) => pool.connect_all().await?,
                Target::Cluster(cluster) => cluster.connect_all().await?,
            }
        }
        Ok(())
    }

    pub(crate) fn close(&self) {
        for deployment in self.deployments() {
            match &deployment.target {
                Target::Standalone(pool) => pool.close(),
                Target::Cluster(cluster) => cluster.close(),
            }
        }
    }

    /// Per-deployment counters, `[redis]` first, then the routes (longest
    /// prefix first).
    pub(crate) fn stats(&self) -> Vec<DeploymentStats> {
        self.deployments()
            .map(|deployment| DeploymentStats {
                prefix: String::from_utf8_lossy(&deployment.prefix).into_owned(),
                endpoint: deployment.target.name().to_owned(),
                mode: match deployment.target {
                    Target::Standalone(_) => Mode::Standalone.as_str(),
                    Target::Cluster(_) => Mode::Cluster.as_str(),
                },
                commands: deployment.commands.load(Ordering::Relaxed),
                errors: deployment.errors.load(Ordering::Relaxed),
            })
            .collect()
    }
}
