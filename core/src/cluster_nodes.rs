//! `CLUSTER NODES` as data, for tools that look at a cluster as a whole
//! (`nearcache doctor`, the test cluster). The router itself reads
//! `CLUSTER SLOTS`.
//!
//! ```
//! let text = "a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n\
//!             r1 127.0.0.1:7003@17003 slave a1 0 0 1 connected\n";
//! let nodes = nearcache::cluster_nodes::parse(text);
//! assert_eq!(nodes[0].slots, [(0, 5460)]);
//! assert_eq!((nodes[1].port, nodes[1].master_id.as_deref()), (7003, Some("a1")));
//! ```

use crate::cluster::topology::NodeAddr;

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    /// The node id (40 hex characters).
    pub id: String,
    /// The host as announced (an IPv6 address without brackets).
    pub host: String,
    /// The client port.
    pub port: u16,
    /// Flagged `master` (else a replica).
    pub master: bool,
    /// Flagged `fail` or `fail?` by the node asked.
    pub failing: bool,
    /// A replica's master id (`None` for masters).
    pub master_id: Option<String>,
    /// Inclusive slot ranges (masters).
    pub slots: Vec<(u16, u16)>,
}

impl ClusterNode {
    /// `host:port`, with brackets around an IPv6 host.
    pub fn addr(&self) -> String {
        NodeAddr { host: self.host.clone(), port: self.port }.to_string()
    }
}

/// Parses `CLUSTER NODES`: `id host:port@bus[,hostname] flags master-id ping
/// pong epoch link slot...`, where a slot is `N` or `N-M`, and a slot being
/// migrated (`[N->-id]`, `[N-<-id]`) is left out: it still belongs to the
/// node. Nodes without an address (`noaddr`, `handshake`) are skipped.
pub fn parse(text: &str) -> Vec<ClusterNode> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (id, addr, flags, master_id) = (fields.first()?, fields.get(1)?, fields.get(2)?, fields.get(3)?);
            let flags: Vec<&str> = flags.split(',').collect();
            if flags.contains(&"noaddr") || flags.contains(&"handshake") {
                return None;
            }
            let NodeAddr { host, port } = NodeAddr::parse(addr.split(['@', ',']).next()?)?;
            let slots = fields
                .iter()
                .skip(8)
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((lo, hi)) => Some((lo.parse().ok()?, hi.parse().ok()?)),
                    None => s.parse().ok().map(|n| (n, n)),
                })
                .collect();
            Some(ClusterNode {
                id: (*id).to_owned(),
                host,
                port,
                master: flags.contains(&"master"),
                failing: flags.iter().any(|f| *f == "fail" || *f == "fail?"),
                master_id: (*master_id != "-").then(|| (*master_id).to_owned()),
                slots,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_line_is_read() {
        let nodes = parse(
            "a2 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922 [10923->-a3] 12000\n\
             a3 [::1]:7002@17002,host3 master,fail? - 0 0 3 connected\n\
             x :0@0 noaddr,master - 0 0 0 disconnected\n",
        );
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].slots, [(5461, 10922), (12000, 12000)]);
        assert_eq!((nodes[1].host.as_str(), nodes[1].addr()), ("::1", "[::1]:7002".to_owned()));
        assert!(nodes[1].failing && nodes[1].master_id.is_none());
    }
}
