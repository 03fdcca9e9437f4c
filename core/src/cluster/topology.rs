//! The cluster's shape as `CLUSTER SLOTS` reports it: which node serves
//! which slot range, and the replicas of each.

use redis::Value;

use crate::error::{Error, ErrorKind, Result};

/// One node's address as the cluster reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct NodeAddr {
    pub host: String,
    pub port: u16,
}

impl NodeAddr {
    /// Parses `host:port` (as in a `MOVED` reply; IPv6 hosts have colons).
    pub(crate) fn parse(addr: &str) -> Option<NodeAddr> {
        let (host, port) = addr.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Some(NodeAddr { host: host.to_owned(), port: port.parse().ok()? })
    }
}

impl std::fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A slot range, its master, and its replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SlotRange {
    pub start: u16,
    pub end: u16,
    pub master: NodeAddr,
    pub replicas: Vec<NodeAddr>,
}

/// Parses a `CLUSTER SLOTS` reply. `asked` is the host the command was sent
/// to: a node that reports an empty host (or `?`) means "the address you
/// reached me on".
pub(crate) fn parse_cluster_slots(reply: Value, asked: &str) -> Result<Vec<SlotRange>> {
    let Value::Array(entries) = reply else { return Err(malformed("not an array")) };
    let mut ranges = Vec::with_capacity(entries.len());
    for entry in entries {
        let Value::Array(fields) = entry else { return Err(malformed("entry is not an array")) };
        let mut fields = fields.into_iter();
        let start = slot_number(fields.next())?;
        let end = slot_number(fields.next())?;
        if start > end {
            return Err(malformed("slot range ends before it starts"));
        }
        let master = node(fields.next(), asked)?.ok_or_else(|| malformed("slot range without a master"))?;
        let mut replicas = Vec::new();
        for field in fields {
            if let Some(replica) = node(Some(field), asked)? {
                replicas.push(replica);
            }
        }
        ranges.push(SlotRange { start, end, master, replicas });
    }
    Ok(ranges)
}

fn slot_number(value: Option<Value>) -> Result<u16> {
    match value {
        Some(Value::Int(n)) if (0..i64::from(super::slots::SLOT_COUNT)).contains(&n) => Ok(n as u16),
        _ => Err(malformed("slot number missing or out of range")),
    }
}

/// `[host, port, id, ...]`; `None` for a node without a usable address.
fn node(value: Option<Value>, asked: &str) -> Result<Option<NodeAddr>> {
    let Some(Value::Array(fields)) = value else { return Err(malformed("node is not an array")) };
    let mut fields = fields.into_iter();
    let host = match fields.next() {
        Some(Value::BulkString(host)) => String::from_utf8_lossy(&host).into_owned(),
        Some(Value::SimpleString(host)) => host,
        Some(Value::Nil) => String::new(),
        _ => return Err(malformed("node host missing")),
    };
    let port = match fields.next() {
        Some(Value::Int(port)) => u16::try_from(port).map_err(|_| malformed("node port out of range"))?,
        _ => return Err(malformed("node port missing")),
    };
    if port == 0 {
        return Ok(None); // a node that is not reachable (yet)
    }
    let host = if host.is_empty() || host == "?" { asked.to_owned() } else { host };
    Ok(Some(NodeAddr { host, port }))
}

fn malformed(what: &str) -> Error {
    Error::new(ErrorKind::Redis, format!("CLUSTER SLOTS: unexpected reply ({what})"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn node_value(host: &str, port: i64) -> Value {
        Value::Array(vec![
            Value::BulkString(host.as_bytes().to_vec()),
            Value::Int(port),
            Value::BulkString(b"id".to_vec()),
            Value::Map(vec![]),
        ])
    }

    #[test]
    fn parses_ranges_masters_and_replicas() {
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(5460),
                node_value("127.0.0.1", 7000),
                node_value("127.0.0.1", 7004),
            ]),
            Value::Array(vec![Value::Int(5461), Value::Int(16383), node_value("", 7001)]),
        ]);
        let ranges = parse_cluster_slots(reply, "10.0.0.1").unwrap();
        assert_eq!(ranges.len(), 2);
        assert_eq!(ranges[0].master, NodeAddr { host: "127.0.0.1".into(), port: 7000 });
        assert_eq!(ranges[0].replicas, vec![NodeAddr { host: "127.0.0.1".into(), port: 7004 }]);
        assert_eq!(ranges[1].master.host, "10.0.0.1", "an empty host means the node we asked");
        assert_eq!((ranges[1].start, ranges[1].end), (5461, 16383));
    }

    #[test]
    fn malformed_replies_are_errors_not_panics() {
        for reply in [
            Value::Nil,
            Value::Array(vec![Value::Int(1)]),
            Value::Array(vec![Value::Array(vec![Value::Int(10), Value::Int(5), node_value("h", 1)])]),
            Value::Array(vec![Value::Array(vec![Value::Int(0), Value::Int(99_999), node_value("h", 1)])]),
            Value::Array(vec![Value::Array(vec![Value::Int(0), Value::Int(1), Value::Int(3)])]),
        ] {
            let err = parse_cluster_slots(reply, "h").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Redis);
        }
    }

    #[test]
    fn redirect_addresses_parse() {
        assert_eq!(NodeAddr::parse("127.0.0.1:7002"), Some(NodeAddr { host: "127.0.0.1".into(), port: 7002 }));
        assert_eq!(NodeAddr::parse("[::1]:7002").map(|a| a.to_string()), Some("[::1]:7002".into()));
        assert_eq!(NodeAddr::parse("nonsense"), None);
    }
}
