//! Parsing of the replies the doctor reads: INFO text, CONFIG GET pairs,
//! CLIENT LIST lines, SLOWLOG entries. Pure functions over [`Reply`].

use std::collections::BTreeMap;

use nearcache::Reply;

/// `INFO` text: `field:value` lines, `# Section` headers and blanks skipped.
pub(crate) fn info(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// The text of a bulk, verbatim or status reply.
pub(crate) fn text(reply: &Reply) -> Option<String> {
    match reply {
        Reply::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Reply::Status(s) | Reply::BigNumber(s) => Some(s.clone()),
        Reply::Int(i) => Some(i.to_string()),
        Reply::Double(d) => Some(d.to_string()),
        _ => None,
    }
}

pub(crate) fn int(reply: &Reply) -> Option<i64> {
    match reply {
        Reply::Int(i) => Some(*i),
        other => text(other).and_then(|t| t.trim().parse().ok()),
    }
}

/// `CONFIG GET`: a RESP3 map, or a flat RESP2 array of name, value pairs.
pub(crate) fn config_pairs(reply: &Reply) -> BTreeMap<String, String> {
    let pairs: Vec<(&Reply, &Reply)> = match reply {
        Reply::Map(pairs) => pairs.iter().map(|(k, v)| (k, v)).collect(),
        Reply::Array(flat) => flat.chunks_exact(2).map(|p| (&p[0], &p[1])).collect(),
        _ => Vec::new(),
    };
    pairs.into_iter().filter_map(|(k, v)| Some((text(k)?.to_ascii_lowercase(), text(v)?))).collect()
}

/// One connection from `CLIENT LIST`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Client {
    pub id: i64,
    pub addr: String,
    pub name: String,
    pub age_s: u64,
    pub idle_s: u64,
    pub flags: String,
    pub cmd: String,
}

impl Client {
    /// A replica or master link, not an application connection.
    pub(crate) fn is_replication(&self) -> bool {
        self.flags.contains('S') || self.flags.contains('M')
    }
}

/// `CLIENT LIST`: one `key=value key=value ...` line per connection.
pub(crate) fn client_list(text: &str) -> Vec<Client> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut c = Client::default();
            for (k, v) in line.split(' ').filter_map(|kv| kv.split_once('=')) {
                match k {
                    "id" => c.id = v.parse().unwrap_or(-1),
                    "addr" => c.addr = v.to_owned(),
                    "name" => c.name = v.to_owned(),
                    "age" => c.age_s = v.parse().unwrap_or(0),
                    "idle" => c.idle_s = v.parse().unwrap_or(0),
                    "flags" => c.flags = v.to_owned(),
                    "cmd" => c.cmd = v.to_owned(),
                    _ => {}
                }
            }
            c
        })
        .collect()
}

/// One `SLOWLOG GET` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SlowlogEntry {
    pub unix_s: i64,
    pub micros: i64,
    /// The command and its first arguments (Redis truncates long ones).
    pub args: Vec<String>,
    pub client_addr: String,
    pub client_name: String,
}

/// `SLOWLOG GET`: `[id, unix time, microseconds, [args], addr, name]` each.
pub(crate) fn slowlog(reply: &Reply) -> Vec<SlowlogEntry> {
    let Reply::Array(entries) = reply else { return Vec::new() };
    entries
        .iter()
        .filter_map(|entry| {
            let Reply::Array(fields) = entry else { return None };
            let args = match fields.get(3) {
                Some(Reply::Array(args)) => args.iter().filter_map(text).collect(),
                _ => Vec::new(),
            };
            Some(SlowlogEntry {
                unix_s: int(fields.get(1)?)?,
                micros: int(fields.get(2)?)?,
                args,
                client_addr: fields.get(4).and_then(text).unwrap_or_default(),
                client_name: fields.get(5).and_then(text).unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn bulk(s: &str) -> Reply {
        Reply::Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn info_fields_are_read() {
        let parsed = info("# Server\r\nredis_version:7.0.15\r\n\r\n# Stats\r\ntotal_connections_received:42\r\n");
        assert_eq!(parsed["redis_version"], "7.0.15");
        assert_eq!(parsed["total_connections_received"], "42");
        assert_eq!(parsed.len(), 2);
    }

    #[test]
    fn config_pairs_come_from_maps_and_flat_arrays() {
        let map = Reply::Map(vec![(bulk("maxmemory"), bulk("0"))]);
        assert_eq!(config_pairs(&map)["maxmemory"], "0");
        let flat = Reply::Array(vec![bulk("timeout"), bulk("300"), bulk("odd")]);
        assert_eq!(config_pairs(&flat).len(), 1);
        assert_eq!(config_pairs(&flat)["timeout"], "300");
    }

    #[test]
    fn client_list_lines_are_split() {
        let clients = client_list(
            "id=3 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=8 name= age=12 idle=3 flags=N db=0 cmd=get user=default\n\
             id=4 addr=127.0.0.1:5001 laddr=127.0.0.1:6379 fd=9 name=app:web:1 age=1 idle=0 flags=S db=0 cmd=replconf\n",
        );
        assert_eq!(clients.len(), 2);
        assert_eq!(clients[0].id, 3);
        assert_eq!(clients[0].name, "");
        assert_eq!((clients[0].age_s, clients[0].idle_s), (12, 3));
        assert_eq!(clients[1].name, "app:web:1");
        assert!(clients[1].is_replication());
        assert!(!clients[0].is_replication());
    }

    #[test]
    fn slowlog_entries_are_read() {
        let entry = Reply::Array(vec![
            Reply::Int(7),
            Reply::Int(1_700_000_000),
            Reply::Int(15_000),
            Reply::Array(vec![bulk("KEYS"), bulk("*")]),
            bulk("127.0.0.1:5000"),
            bulk(""),
        ]);
        let parsed = slowlog(&Reply::Array(vec![entry, Reply::Nil]));
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].micros, 15_000);
        assert_eq!(parsed[0].args, ["KEYS", "*"]);
        assert_eq!(parsed[0].client_addr, "127.0.0.1:5000");
    }
}
