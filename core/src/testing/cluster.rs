//! A throwaway local Redis Cluster for tests: six launcher-started servers
//! (three masters, three replicas) on loopback, joined with
//! `redis-cli --cluster create`, torn down when dropped.
//!
//! Every node is a [`TestRedis`], so each one is stopped by its launcher
//! even if the test process dies. Starting takes about two seconds
//! (docs/design.md, "Server behaviour": `--repl-diskless-sync-delay 0` keeps replicas from waiting 5 s).

use std::io;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::TestRedis;

/// How long a node may be silent before the others fail it over. Short, so
/// failover tests finish quickly; long enough for a loaded 2-core machine.
pub const NODE_TIMEOUT_MS: u64 = 1500;

/// How long [`TestCluster::wait_healthy`] waits by default.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(30);

/// Six nodes forming one cluster.
#[derive(Debug)]
pub struct TestCluster {
    nodes: Vec<TestRedis>,
}

impl TestCluster {
    /// Starts six nodes and joins them as three masters with one replica
    /// each; returns once every slot is served and every replica is in sync.
    pub fn start() -> io::Result<TestCluster> {
        let timeout = NODE_TIMEOUT_MS.to_string();
        let args = [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            timeout.as_str(),
            "--repl-diskless-sync-delay",
            "0",
        ];
        let nodes = (0..6).map(|_| TestRedis::start_with_args(&args)).collect::<io::Result<Vec<_>>>()?;
        let cluster = TestCluster { nodes };
        let mut create: Vec<String> = vec!["--cluster".into(), "create".into()];
        create.extend(cluster.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port())));
        create.extend(["--cluster-replicas".into(), "1".into(), "--cluster-yes".into()]);
        run_cli(&create)?;
        cluster.wait_healthy(HEALTHY_TIMEOUT)?;
        Ok(cluster)
    }

    /// A URL of one node (any node serves as the seed).
    pub fn url(&self) -> &str {
        self.nodes[0].url()
    }

    /// Every node, masters and replicas.
    pub fn nodes(&self) -> &[TestRedis] {
        &self.nodes
    }

    /// The node on `port`.
    pub fn node(&self, port: u16) -> Option<&TestRedis> {
        self.nodes.iter().find(|n| n.port() == port)
    }

    /// The node on `port`, mutable (to kill or restart it).
    pub fn node_mut(&mut self, port: u16) -> Option<&mut TestRedis> {
        self.nodes.iter_mut().find(|n| n.port() == port)
    }

    /// `redis-cli -c` against a live node (follows redirects).
    pub fn cli(&self, args: &[&str]) -> io::Result<String> {
        let node = self.live_node()?;
        let mut all = vec!["-c"];
        all.extend_from_slice(args);
        node.cli(&all)
    }

    /// The port of the master serving `key`'s slot.
    pub fn master_of(&self, key: &str) -> io::Result<u16> {
        let node = self.live_node()?;
        let slot = node.cli(&["CLUSTER", "KEYSLOT", key])?.trim().parse::<u16>().map_err(io::Error::other)?;
        self.masters()?
            .into_iter()
            .find(|m| m.slots.iter().any(|&(lo, hi)| (lo..=hi).contains(&slot)))
            .map(|m| m.port)
            .ok_or_else(|| io::Error::other(format!("no master serves slot {slot}")))
    }

    /// Masters as the cluster sees them now: port, node id, slot ranges.
    pub fn masters(&self) -> io::Result<Vec<Master>> {
        let node = self.live_node()?;
        let text = node.cli(&["CLUSTER", "NODES"])?;
        Ok(crate::cluster_nodes::parse(&text)
            .into_iter()
            .filter(|n| n.master && !n.failing && !n.slots.is_empty())
            .map(|n| Master { port: n.port, id: n.id, slots: n.slots })
            .collect())
    }

    /// Moves `count` slots from the master on `from` to the master on `to`
    /// (keys included), as an operator's resharding would.
    pub fn reshard(&self, from: u16, to: u16, count: u32) -> io::Result<()> {
        let masters = self.masters()?;
        let id = |port: u16| {
            masters
                .iter()
                .find(|m| m.port == port)
                .map(|m| m.id.clone())
                .ok_or_else(|| io::Error::other(format!("{port} is not a master")))
        };
        let (from_id, to_id) = (id(from)?, id(to)?);
        run_cli(&[
            "--cluster".into(),
            "reshard".into(),
            format!("127.0.0.1:{from}"),
            "--cluster-from".into(),
            from_id,
            "--cluster-to".into(),
            to_id,
            "--cluster-slots".into(),
            count.to_string(),
            "--cluster-yes".into(),
            "--cluster-pipeline".into(),
            "100".into(),
        ])?;
        Ok(())
    }

    /// Waits until every slot is served (`cluster_state:ok` on every live
    /// node) and every live replica's link to its master is up.
    pub fn wait_healthy(&self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.health() {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() >= deadline => {
                    return Err(io::Error::other(format!("cluster not healthy after {timeout:?}: {e}")))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn health(&self) -> io::Result<()> {
        let live = self.live_nodes().count();
        for node in self.live_nodes() {
            // Every live node appears in every node's CLUSTER SLOTS (a new
            // replica shows up there a moment after its link is up).
            let slots = node.cli(&["CLUSTER", "SLOTS"])?;
            let listed = slots.lines().filter(|l| l.trim() == "127.0.0.1").count();
            if listed != live {
                return Err(io::Error::other(format!("{}: CLUSTER SLOTS lists {listed} of {live} nodes", node.port())));
            }
            let info = node.cli(&["CLUSTER", "INFO"])?;
            if !info.contains("cluster_state:ok") {
                return Err(io::Error::other(format!("{}: cluster_state is not ok", node.port())));
            }
            let replication = node.cli(&["INFO", "replication"])?;
            if replication.contains("role:slave") && !replication.contains("master_link_status:up") {
                return Err(io::Error::other(format!("{}: replica link is down", node.port())));
            }
        }
        Ok(())
    }

    fn live_nodes(&self) -> impl Iterator<Item = &TestRedis> {
        self.nodes.iter().filter(|n| n.cli(&["PING"]).is_ok())
    }

    fn live_node(&self) -> io::Result<&TestRedis> {
        self.live_nodes().next().ok_or_else(|| io::Error::other("no cluster node answers"))
    }
}

/// A master as `CLUSTER NODES` reports it.
#[derive(Debug, Clone)]
pub struct Master {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its node id.
    pub id: String,
    /// The slot ranges it serves, inclusive.
    pub slots: Vec<(u16, u16)>,
}

fn run_cli(args: &[String]) -> io::Result<String> {
    let program = std::env::var_os("NEARCACHE_REDIS_CLI").unwrap_or_else(|| "redis-cli".into());
    let output = Command::new(&program).args(args).stdin(Stdio::null()).output()?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "redis-cli {} failed ({}): {}{}",
            args.first().map(String::as_str).unwrap_or_default(),
            output.status,
            String::from_utf8_lossy(&output.stdout).trim_end(),
            String::from_utf8_lossy(&output.stderr).trim_end()
        )));
    }
    String::from_utf8(output.stdout).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
