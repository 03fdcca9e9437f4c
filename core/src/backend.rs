//! Where a key's commands go: the `[redis]` deployment, or the deployment
//! of the longest `[[routes]]` prefix the key starts with; within a cluster
//! deployment, the node serving the key's slot.
//!
//! Every deployment shares the one L1 ([`Local`]): keys are disjoint by
//! prefix, and each deployment's connections carry the invalidations of the
//! keys read through them. A lost connection anywhere flushes all of L1
//! (rule 4), which is coarser than needed but never serves an entry whose
//! invalidation may have been missed.

use std::sync::Arc;

use redis::{Cmd, Pipeline, Value};

use crate::cluster::{Cluster, Request, Response};
use crate::config::{Config, Mode, RedisUrl};
use crate::conn::Pool;
use crate::endpoint::Endpoint;
use crate::error::Result;
use crate::stats::Recorder;
use crate::tracking::Local;

/// One Redis deployment.
enum Deployment {
    Standalone(Arc<Pool>),
    Cluster(Box<Cluster>),
}

impl Deployment {
    fn new(
        url: &RedisUrl,
        mode: Mode,
        field: &str,
        config: &Config,
        recorder: &Arc<Recorder>,
        local: &Arc<Local>,
    ) -> Result<Self> {
        let endpoint = Endpoint::from_url(url, &config.redis, field)?;
        Ok(match mode {
            Mode::Standalone => {
                Deployment::Standalone(Pool::new(&endpoint, config, Arc::clone(recorder), Arc::clone(local))?)
            }
            Mode::Cluster => {
                Deployment::Cluster(Box::new(Cluster::new(endpoint, config, Arc::clone(recorder), Arc::clone(local))?))
            }
        })
    }

    fn name(&self) -> &str {
        match self {
            Deployment::Standalone(pool) => pool.endpoint(),
            Deployment::Cluster(cluster) => cluster.name(),
        }
    }
}

/// A route: keys starting with `prefix` go to `deployment`.
struct Route {
    prefix: Vec<u8>,
    deployment: Deployment,
}

/// Every deployment of a cache, and the rule that picks one per key.
pub(crate) struct Backend {
    default: Deployment,
    /// Longest prefix first, so the first match is the longest.
    routes: Vec<Route>,
}

impl Backend {
    pub(crate) fn new(config: &Config, recorder: &Arc<Recorder>, local: &Arc<Local>) -> Result<Backend> {
        let default = Deployment::new(&config.redis.url, config.redis.mode, "redis.url", config, recorder, local)?;
        let mut routes = config
            .routes
            .iter()
            .enumerate()
            .map(|(i, route)| {
                let field = format!("routes[{i}].url");
                let deployment = Deployment::new(&route.url, route.mode, &field, config, recorder, local)?;
                Ok(Route { prefix: route.prefix.as_bytes().to_vec(), deployment })
            })
            .collect::<Result<Vec<_>>>()?;
        routes.sort_by_key(|route| std::cmp::Reverse(route.prefix.len()));
        Ok(Backend { default, routes })
    }

    /// `host:port` of the default deployment, for `Debug`.
    pub(crate) fn name(&self) -> &str {
        self.default.name()
    }

    /// Which deployment serves `key`: 0 for `[redis]`, `i + 1` for a route.
    fn index_of(&self, key: &[u8]) -> usize {
        self.routes.iter().position(|route| key.starts_with(&route.prefix)).map_or(0, |i| i + 1)
    }

    fn deployment(&self, key: &[u8]) -> &Deployment {
        match self.index_of(key) {
            0 => &self.default,
            i => &self.routes[i - 1].deployment,
        }
    }

    fn deployments(&self) -> impl Iterator<Item = &Deployment> {
        std::iter::once(&self.default).chain(self.routes.iter().map(|route| &route.deployment))
    }

    /// Whether keys may live in different places (so multi-key commands
    /// must be split by [`Backend::group_of`]).
    pub(crate) fn is_sharded(&self) -> bool {
        !self.routes.is_empty() || matches!(self.default, Deployment::Cluster(_))
    }

    /// Keys with the same group can share one multi-key command: same
    /// deployment and, in a cluster, same hash slot.
    pub(crate) fn group_of(&self, key: &[u8]) -> u32 {
        let index = self.index_of(key) as u32;
        let slot = match self.deployment(key) {
            Deployment::Standalone(_) => 0,
            Deployment::Cluster(_) => u32::from(Cluster::shard_of(key)),
        };
        (index << 16) | slot
    }

    /// A command that may write, for the node serving `key`.
    pub(crate) async fn query(&self, key: &[u8], cmd: &Cmd) -> Result<Value> {
        match self.deployment(key) {
            Deployment::Standalone(pool) => pool.query(cmd).await,
            Deployment::Cluster(cluster) => {
                Box::pin(cluster.execute(key, Request::Write(cmd))).await.map(Response::one)
            }
        }
    }

    /// A read for `key` (retried once on a broken connection; may go to a
    /// replica when `read_from = "replica"`).
    pub(crate) async fn query_read(&self, key: &[u8], cmd: &Cmd) -> Result<Value> {
        match self.deployment(key) {
            Deployment::Standalone(pool) => pool.query_read(cmd).await,
            Deployment::Cluster(cluster) => Box::pin(cluster.execute(key, Request::Read(cmd))).await.map(Response::one),
        }
    }

    /// A pipeline or transaction whose keys all share `key`'s group.
    pub(crate) async fn query_pipeline(&self, key: &[u8], pipe: &Pipeline) -> Result<Vec<Value>> {
        match self.deployment(key) {
            Deployment::Standalone(pool) => pool.query_pipeline(pipe).await,
            Deployment::Cluster(cluster) => {
                Box::pin(cluster.execute(key, Request::Pipeline(pipe))).await.map(Response::many)
            }
        }
    }

    /// A pipeline of reads whose keys all share `key`'s group.
    pub(crate) async fn query_pipeline_read(&self, key: &[u8], pipe: &Pipeline) -> Result<Vec<Value>> {
        match self.deployment(key) {
            Deployment::Standalone(pool) => pool.query_pipeline_read(pipe).await,
            Deployment::Cluster(cluster) => {
                Box::pin(cluster.execute(key, Request::ReadPipeline(pipe))).await.map(Response::many)
            }
        }
    }

    /// A command without a key (`PING`, `INFO`, `DBSIZE`): the `[redis]`
    /// deployment, any master of a cluster.
    pub(crate) async fn query_keyless(&self, cmd: &Cmd) -> Result<Value> {
        match &self.default {
            Deployment::Standalone(pool) => pool.query(cmd).await,
            Deployment::Cluster(cluster) => cluster.any_master().await?.query(cmd).await,
        }
    }

    /// Every master of every deployment, for commands that must visit each
    /// one (SCAN).
    pub(crate) async fn masters(&self) -> Result<Vec<Arc<Pool>>> {
        let mut out = Vec::new();
        for deployment in self.deployments() {
            match deployment {
                Deployment::Standalone(pool) => out.push(Arc::clone(pool)),
                Deployment::Cluster(cluster) => out.extend(cluster.masters().await?),
            }
        }
        Ok(out)
    }

    /// Opens every connection of every deployment; returns the first error.
    pub(crate) async fn connect_all(&self) -> Result<()> {
        for deployment in self.deployments() {
            match deployment {
                Deployment::Standalone(pool) => pool.connect_all().await?,
                Deployment::Cluster(cluster) => cluster.connect_all().await?,
            }
        }
        Ok(())
    }

    pub(crate) fn close(&self) {
        for deployment in self.deployments() {
            match deployment {
                Deployment::Standalone(pool) => pool.close(),
                Deployment::Cluster(cluster) => cluster.close(),
            }
        }
    }
}
