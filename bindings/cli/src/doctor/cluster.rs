//! A Redis Cluster as a whole: every node `CLUSTER NODES` names is reached
//! and asked for its role and its command counts, then
//!
//! - `cluster-slots`: all 16384 slots are served by a master that is not
//!   failing (an uncovered slot fails every command on its keys);
//! - `cluster-nodes`: every node answers and none is flagged failing, and
//!   each replica's link to its master is up;
//! - `cluster-replicas`: every master has a replica to fail over to;
//! - `hot-shard`: the commands each master ran during the doctor's window
//!   (`INFO commandstats`, summed) are balanced; one master doing most of
//!   the work is a hot shard.
//!
//! Gathering is [`Watch`], around the doctor's window; the checks are pure
//! functions of [`ClusterFacts`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nearcache::cluster_nodes::{self, ClusterNode as Node};
use nearcache::config::RedisUrl;

use super::facts::{cache, text_of};
use super::reply;
use super::{Finding, Findings, Severity};

/// Slots in a Redis Cluster.
const SLOTS: usize = 16384;
/// A master running this many times the mean of the others is a hot shard.
const HOT_FACTOR: f64 = 2.0;
/// Below this many commands per second over the window no shard is hot.
const HOT_MIN_RATE: f64 = 100.0;

/// What the doctor learnt from one node over its own connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Probe {
    /// Why the node could not be read, if it could not.
    pub error: Option<String>,
    /// `master_link_status` of a replica (`up` or `down`).
    pub master_link: Option<String>,
    /// Commands the node ran during the window (commandstats calls, summed).
    pub commands: Option<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct ClusterFacts {
    pub nodes: Vec<Node>,
    /// Per node address.
    pub probes: BTreeMap<String, Probe>,
    pub window: Duration,
}

/// Sum of `calls=` over `INFO commandstats`.
fn command_calls(info: &str) -> u64 {
    info.lines()
        .filter(|l| l.starts_with("cmdstat_"))
        .filter_map(|l| l.split(',').find_map(|f| f.split_once("calls=").map(|(_, n)| n)))
        .filter_map(|n| n.parse::<u64>().ok())
        .sum()
}

/// The cluster's nodes, connected, with their command counts at the start
/// of the doctor's window.
pub(crate) struct Watch {
    nodes: Vec<Node>,
    /// Per node address: its connection and its commandstats calls so far.
    connected: Vec<(String, nearcache::Cache, Option<u64>)>,
    probes: BTreeMap<String, Probe>,
    /// When the first counts were read.
    since: Instant,
}

impl Watch {
    /// Reads `CLUSTER NODES` over `seed`, then connects to every node with
    /// the seed URL's credentials and settings.
    pub(crate) async fn start(seed_url: &RedisUrl, seed: &nearcache::Cache) -> std::result::Result<Watch, String> {
        let nodes = cluster_nodes::parse(&text_of(seed, &["CLUSTER", "NODES"]).await.map_err(|e| e.to_string())?);
        let mut watch =
            Watch { nodes: Vec::new(), connected: Vec::new(), probes: BTreeMap::new(), since: Instant::now() };
        for node in &nodes {
            match connect(seed_url, node).await {
                Ok(c) => {
                    let calls = text_of(&c, &["INFO", "commandstats"]).await.ok().map(|i| command_calls(&i));
                    watch.connected.push((node.addr(), c, calls));
                }
                Err(e) => {
                    watch.probes.insert(node.addr(), Probe { error: Some(e), ..Probe::default() });
                }
            }
        }
        watch.nodes = nodes;
        Ok(watch)
    }

    /// Reads each node's replication state and its commands since
    /// [`Watch::start`], and closes the connections.
    pub(crate) async fn finish(mut self) -> ClusterFacts {
        let window = self.since.elapsed();
        for (addr, c, before) in &self.connected {
            let mut probe = Probe::default();
            match text_of(c, &["INFO", "replication"]).await {
                Ok(text) => probe.master_link = reply::info(&text).get("master_link_status").cloned(),
                Err(e) => probe.error = Some(e.to_string()),
            }
            if let (Some(before), Ok(info)) = (before, text_of(c, &["INFO", "commandstats"]).await) {
                probe.commands = Some(command_calls(&info).saturating_sub(*before));
            }
            c.close();
            self.probes.insert(addr.clone(), probe);
        }
        ClusterFacts { nodes: self.nodes, probes: self.probes, window }
    }
}

/// A connection of the doctor's to `node`.
async fn connect(seed_url: &RedisUrl, node: &Node) -> std::result::Result<nearcache::Cache, String> {
    let url = seed_url.with_address(&node.host, node.port).map_err(|e| e.to_string())?;
    let node = cache(&url, nearcache::Invalidation::Off).map_err(|e| e.to_string())?;
    node.connect().await.map_err(|e| format!("cannot connect: {e}"))?;
    Ok(node)
}

pub(crate) fn check(facts: &ClusterFacts, out: &mut Findings) {
    slots(facts, out);
    nodes(facts, out);
    replicas(facts, out);
    hot_shard(facts, out);
}

/// Inclusive ranges of the slots no healthy master serves.
fn uncovered(facts: &ClusterFacts) -> Vec<(usize, usize)> {
    let mut served = vec![false; SLOTS];
    for node in facts.nodes.iter().filter(|n| n.master && !n.failing) {
        for &(lo, hi) in &node.slots {
            if let Some(range) = served.get_mut(usize::from(lo)..=usize::from(hi).min(SLOTS - 1)) {
                range.fill(true);
            }
        }
    }
    let mut ranges = Vec::new();
    let mut start = None;
    for (slot, &is_served) in served.iter().chain(std::iter::once(&true)).enumerate() {
        match (is_served, start) {
            (false, None) => start = Some(slot),
            (true, Some(lo)) => {
                ranges.push((lo, slot - 1));
                start = None;
            }
            _ => {}
        }
    }
    ranges
}

fn slots(facts: &ClusterFacts, out: &mut Findings) {
    let missing = uncovered(facts);
    if missing.is_empty() {
        let masters = facts.nodes.iter().filter(|n| n.master && !n.slots.is_empty()).count();
        return out.ok("cluster-slots", format!("all {SLOTS} slots are served ({masters} masters)"));
    }
    let count: usize = missing.iter().map(|(lo, hi)| hi - lo + 1).sum();
    let shown: Vec<String> =
        missing.iter().take(10).map(|(lo, hi)| if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") }).collect();
    out.add(Finding {
        id: "cluster-slots",
        severity: Severity::Error,
        title: format!("{count} of {SLOTS} slots have no healthy master: every command on their keys fails"),
        details: vec![format!("unserved slots: {}{}", shown.join(", "), if missing.len() > 10 { ", ..." } else { "" })],
        fix: "assign the slots to a master (redis-cli --cluster fix HOST:PORT), or bring back the failed master \
              or promote its replica (CLUSTER FAILOVER on the replica)"
            .into(),
    });
}

fn nodes(facts: &ClusterFacts, out: &mut Findings) {
    let mut problems = Vec::new();
    for node in &facts.nodes {
        let role = if node.master { "master" } else { "replica" };
        if node.failing {
            problems.push(format!("{role} {}: flagged failing by the cluster", node.addr()));
        }
        match facts.probes.get(&node.addr()) {
            Some(Probe { error: Some(e), .. }) => problems.push(format!("{role} {}: {e}", node.addr())),
            Some(probe) if !node.master && probe.master_link.as_deref() != Some("up") => problems.push(format!(
                "replica {}: master_link_status is {}",
                node.addr(),
                probe.master_link.as_deref().unwrap_or("unknown")
            )),
            _ => {}
        }
    }
    if problems.is_empty() {
        return out.ok("cluster-nodes", format!("all {} nodes answer and replicate", facts.nodes.len()));
    }
    out.add(Finding {
        id: "cluster-nodes",
        severity: Severity::Warning,
        title: format!(
            "{} of {} cluster nodes are unreachable, failing or not replicating",
            problems.len(),
            facts.nodes.len()
        ),
        details: problems,
        fix: "restart or replace the failed nodes (a failed master's replica takes over after cluster-node-timeout); \
              a replica with its link down resyncs once it can reach its master"
            .into(),
    });
}

fn replicas(facts: &ClusterFacts, out: &mut Findings) {
    let alone: Vec<String> = facts
        .nodes
        .iter()
        .filter(|m| m.master && !m.slots.is_empty())
        .filter(|m| !facts.nodes.iter().any(|r| r.master_id.as_deref() == Some(m.id.as_str()) && !r.failing))
        .map(Node::addr)
        .collect();
    if alone.is_empty() {
        return out.ok("cluster-replicas", "every master has a healthy replica to fail over to");
    }
    out.add(Finding {
        id: "cluster-replicas",
        severity: Severity::Warning,
        title: format!("{} masters have no healthy replica: losing one loses its slots", alone.len()),
        details: alone.iter().map(|a| format!("master {a}")).collect(),
        fix: "add a replica to each (redis-cli --cluster add-node NEW:PORT HOST:PORT --cluster-slave)".into(),
    });
}

fn hot_shard(facts: &ClusterFacts, out: &mut Findings) {
    let seconds = facts.window.as_secs_f64().max(0.001);
    let rates: Vec<(String, f64)> = facts
        .nodes
        .iter()
        .filter(|n| n.master && !n.slots.is_empty())
        .filter_map(|n| Some((n.addr(), facts.probes.get(&n.addr())?.commands? as f64 / seconds)))
        .collect();
    if rates.len() < 2 {
        return out.skip("hot-shard", "fewer than two masters' command counts could be read");
    }
    let total: f64 = rates.iter().map(|(_, r)| r).sum();
    let hot: Vec<String> = rates
        .iter()
        .filter(|(_, rate)| {
            let others = (total - rate) / (rates.len() - 1) as f64;
            *rate >= HOT_MIN_RATE && *rate >= HOT_FACTOR * others
        })
        .map(|(addr, rate)| {
            format!("master {addr}: {rate:.0} commands/s, {:.0} % of the cluster's", 100.0 * rate / total)
        })
        .collect();
    let each: Vec<String> = rates.iter().map(|(a, r)| format!("{a} {r:.0}/s")).collect();
    if hot.is_empty() {
        return out.ok("hot-shard", format!("commands per master over {seconds:.1} s: {}", each.join(", ")));
    }
    out.add(Finding {
        id: "hot-shard",
        severity: Severity::Warning,
        title: format!("a hot shard: one master ran at least {HOT_FACTOR}x the others' mean during the window"),
        details: hot.into_iter().chain(std::iter::once(format!("all masters: {}", each.join(", ")))).collect(),
        fix: "find its hot keys (redis-cli --hotkeys on that master with an LFU policy, or the hot keys in \
              nearcache's stats) and spread them (no shared hash tag, or a per-key suffix), serve its reads from \
              replicas (cluster.read_from = \"replica\") and L1, or move slots away from it \
              (redis-cli --cluster rebalance)"
            .into(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
a2 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922 [10923->-a3]
a3 127.0.0.1:7002@17002,host3 master - 0 0 3 connected 10923-16383
r1 127.0.0.1:7003@17003 slave a1 0 0 1 connected
r2 127.0.0.1:7004@17004 slave a2 0 0 2 connected
r3 127.0.0.1:7005@17005 slave,fail a3 0 0 3 disconnected
";

    fn facts(nodes: &str, commands: &[(&str, u64)]) -> ClusterFacts {
        let nodes = cluster_nodes::parse(nodes);
        let probes = nodes
            .iter()
            .map(|n| {
                let commands = commands.iter().find(|(a, _)| *a == n.addr()).map(|(_, c)| *c);
                let link = (!n.master).then(|| "up".to_owned());
                (n.addr(), Probe { error: None, master_link: link, commands })
            })
            .collect();
        ClusterFacts { nodes, probes, window: Duration::from_secs(1) }
    }

    #[test]
    fn the_sample_cluster_is_read() {
        let nodes = cluster_nodes::parse(NODES);
        assert_eq!(nodes.len(), 6);
        assert!(nodes[5].failing && !nodes[5].master);
    }

    #[test]
    fn uncovered_slots_are_an_error() {
        let mut out = Findings::default();
        slots(&facts(NODES, &[]), &mut out);
        assert!(out.ids().is_empty());
        let gap = NODES.replace("0-5460", "0-99 200-5460");
        let mut out = Findings::default();
        slots(&facts(&gap, &[]), &mut out);
        assert_eq!(out.ids(), ["cluster-slots"]);
        assert_eq!(out.findings[0].severity, Severity::Error);
        assert!(out.findings[0].details[0].contains("100-199"), "{:?}", out.findings[0].details);
        let failed = NODES.replace("myself,master", "myself,master,fail");
        assert_eq!(uncovered(&facts(&failed, &[])), [(0, 5460)]);
    }

    #[test]
    fn a_failed_replica_leaves_its_master_alone() {
        let mut out = Findings::default();
        let f = facts(NODES, &[]);
        replicas(&f, &mut out);
        nodes(&f, &mut out);
        assert_eq!(out.ids(), ["cluster-replicas", "cluster-nodes"]);
        assert_eq!(out.findings[0].details, ["master 127.0.0.1:7002"]);
    }

    #[test]
    fn one_busy_master_is_a_hot_shard() {
        let even = [("127.0.0.1:7000", 1000), ("127.0.0.1:7001", 1100), ("127.0.0.1:7002", 900)];
        let mut out = Findings::default();
        hot_shard(&facts(NODES, &even), &mut out);
        assert!(out.ids().is_empty());
        let hot = [("127.0.0.1:7000", 1000), ("127.0.0.1:7001", 5000), ("127.0.0.1:7002", 900)];
        let mut out = Findings::default();
        hot_shard(&facts(NODES, &hot), &mut out);
        assert_eq!(out.ids(), ["hot-shard"]);
        assert!(out.findings[0].details[0].contains("7001"));
        // An idle cluster has no hot shard, whatever the ratio.
        let idle = [("127.0.0.1:7000", 1), ("127.0.0.1:7001", 50), ("127.0.0.1:7002", 1)];
        let mut out = Findings::default();
        hot_shard(&facts(NODES, &idle), &mut out);
        assert!(out.ids().is_empty());
    }
}
