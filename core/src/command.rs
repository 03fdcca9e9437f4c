//! Raw commands: which ones the shared connections can carry, which keys a
//! write touches, and the reply type handed to callers.

use bytes::Bytes;
use redis::Value;

use crate::error::{Error, Result};

/// How a raw command interacts with L1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Reads only: L1 is left alone.
    Read,
    /// May write any key it names: every argument is dropped from L1 before
    /// sending (dropping a non-key argument costs one hash lookup and is
    /// harmless; missing a key would break read-your-writes).
    Write,
    /// Replaces the whole keyspace (FLUSHALL, FLUSHDB, SWAPDB): L1 is emptied.
    Flush,
}

/// Commands that would change the state of a shared, multiplexed connection
/// or hold it, and so cannot go through `command`.
const REFUSED: &[&str] = &[
    "MULTI",
    "EXEC",
    "DISCARD",
    "WATCH",
    "UNWATCH",
    "SELECT",
    "HELLO",
    "AUTH",
    "RESET",
    "QUIT",
    "SUBSCRIBE",
    "PSUBSCRIBE",
    "SSUBSCRIBE",
    "UNSUBSCRIBE",
    "PUNSUBSCRIBE",
    "SUNSUBSCRIBE",
    "MONITOR",
    "SYNC",
    "PSYNC",
    "REPLCONF",
    "BLPOP",
    "BRPOP",
    "BRPOPLPUSH",
    "BLMOVE",
    "BLMPOP",
    "BZPOPMIN",
    "BZPOPMAX",
    "BZMPOP",
    "WAIT",
    "WAITAOF",
];

/// `CLIENT` subcommands that change connection state.
const REFUSED_CLIENT: &[&str] = &["TRACKING", "REPLY", "CACHING", "SETNAME", "NO-EVICT", "NO-TOUCH"];

/// Commands known not to write, so their arguments stay in L1.
const READ_ONLY: &[&str] = &[
    "GET",
    "MGET",
    "STRLEN",
    "GETRANGE",
    "SUBSTR",
    "EXISTS",
    "TYPE",
    "TTL",
    "PTTL",
    "EXPIRETIME",
    "PEXPIRETIME",
    "HGET",
    "HMGET",
    "HGETALL",
    "HKEYS",
    "HVALS",
    "HLEN",
    "HEXISTS",
    "HSTRLEN",
    "HRANDFIELD",
    "HSCAN",
    "LRANGE",
    "LLEN",
    "LINDEX",
    "LPOS",
    "SMEMBERS",
    "SISMEMBER",
    "SMISMEMBER",
    "SCARD",
    "SRANDMEMBER",
    "SSCAN",
    "SINTER",
    "SUNION",
    "SDIFF",
    "SINTERCARD",
    "ZRANGE",
    "ZRANGEBYSCORE",
    "ZRANGEBYLEX",
    "ZREVRANGE",
    "ZREVRANGEBYSCORE",
    "ZSCORE",
    "ZMSCORE",
    "ZCARD",
    "ZCOUNT",
    "ZLEXCOUNT",
    "ZRANK",
    "ZREVRANK",
    "ZSCAN",
    "SCAN",
    "KEYS",
    "RANDOMKEY",
    "DBSIZE",
    "PING",
    "ECHO",
    "INFO",
    "TIME",
    "COMMAND",
    "MEMORY",
    "OBJECT",
    "DUMP",
    "BITCOUNT",
    "BITPOS",
    "GETBIT",
    "PFCOUNT",
    "XREAD",
    "XRANGE",
    "XREVRANGE",
    "XLEN",
    "XINFO",
    "GEOPOS",
    "GEODIST",
    "GEOHASH",
    "GEOSEARCH",
    "LCS",
    "TOUCH",
    "SLOWLOG",
    "LATENCY",
    "LOLWUT",
    "ROLE",
    "LASTSAVE",
    "CONFIG",
    "ACL",
    "CLUSTER",
    "FUNCTION",
    "SCRIPT",
    "CLIENT",
];

const FLUSHES: &[&str] = &["FLUSHALL", "FLUSHDB", "SWAPDB"];

/// Checks a raw command and says how it affects L1.
pub(crate) fn classify(args: &[&[u8]]) -> Result<Effect> {
    let Some(name) = args.first() else {
        return Err(Error::invalid("command: no command name given"));
    };
    let name = String::from_utf8_lossy(name).to_ascii_uppercase();
    if name.is_empty() {
        return Err(Error::invalid("command: the command name is empty"));
    }
    if REFUSED.contains(&name.as_str()) {
        return Err(Error::invalid(format!(
            "command: {name} changes or holds the shared connection and cannot be sent through command()"
        )));
    }
    if name == "XREAD" || name == "XREADGROUP" {
        let blocks = args.iter().skip(1).any(|a| a.eq_ignore_ascii_case(b"BLOCK"));
        if blocks {
            return Err(Error::invalid(format!("command: {name} with BLOCK would hold the shared connection")));
        }
    }
    if name == "CLIENT" {
        let sub = args.get(1).map(|s| String::from_utf8_lossy(s).to_ascii_uppercase()).unwrap_or_default();
        if REFUSED_CLIENT.contains(&sub.as_str()) {
            return Err(Error::invalid(format!(
                "command: CLIENT {sub} changes the shared connection's state and cannot be sent through command()"
            )));
        }
    }
    if FLUSHES.contains(&name.as_str()) {
        return Ok(Effect::Flush);
    }
    if READ_ONLY.contains(&name.as_str()) {
        return Ok(Effect::Read);
    }
    Ok(Effect::Write)
}

/// A raw Redis reply, independent of the client library underneath.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A nil reply.
    Nil,
    /// An integer.
    Int(i64),
    /// A bulk string; values are not decompressed (the reply is raw).
    Bytes(Bytes),
    /// A simple status reply such as `OK`.
    Status(String),
    /// A RESP3 double.
    Double(f64),
    /// A RESP3 boolean.
    Bool(bool),
    /// A big number, in decimal.
    BigNumber(String),
    /// An array.
    Array(Vec<Reply>),
    /// A RESP3 set.
    Set(Vec<Reply>),
    /// A RESP3 map, in the server's order.
    Map(Vec<(Reply, Reply)>),
    /// An error nested inside an array (a top-level error is an `Err`).
    Error(String),
}

impl Reply {
    pub(crate) fn from_value(value: Value) -> Reply {
        match value {
            Value::Nil => Reply::Nil,
            Value::Int(i) => Reply::Int(i),
            Value::BulkString(b) => Reply::Bytes(Bytes::from(b)),
            Value::SimpleString(s) => Reply::Status(s),
            Value::Okay => Reply::Status("OK".to_owned()),
            Value::Double(d) => Reply::Double(d),
            Value::Boolean(b) => Reply::Bool(b),
            Value::VerbatimString { text, .. } => Reply::Bytes(Bytes::from(text)),
            Value::BigNumber(n) => Reply::BigNumber(String::from_utf8_lossy(&n).into_owned()),
            Value::Array(items) => Reply::Array(items.into_iter().map(Reply::from_value).collect()),
            Value::Set(items) => Reply::Set(items.into_iter().map(Reply::from_value).collect()),
            Value::Map(pairs) => {
                Reply::Map(pairs.into_iter().map(|(k, v)| (Reply::from_value(k), Reply::from_value(v))).collect())
            }
            Value::Attribute { data, .. } => Reply::from_value(*data),
            Value::Push { data, .. } => Reply::Array(data.into_iter().map(Reply::from_value).collect()),
            Value::ServerError(e) => Reply::Error(e.to_string()),
            other => Reply::Error(format!("unsupported reply type: {other:?}")),
        }
    }
}

/// Escapes glob metacharacters so `prefix` matches literally in SCAN MATCH.
pub(crate) fn glob_escape(prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + 1);
    for &b in prefix {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn connection_state_commands_are_refused() {
        for args in [
            &[&b"multi"[..]][..],
            &[b"SELECT", b"1"],
            &[b"client", b"tracking", b"on"],
            &[b"BLPOP", b"q", b"0"],
            &[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"],
            &[b"subscribe", b"ch"],
        ] {
            let err = classify(args).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{args:?}");
        }
        assert_eq!(classify(&[]).unwrap_err().kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn reads_writes_and_flushes_are_told_apart() {
        assert_eq!(classify(&[b"get", b"k"]).unwrap(), Effect::Read);
        assert_eq!(classify(&[b"CLIENT", b"LIST"]).unwrap(), Effect::Read);
        assert_eq!(classify(&[b"XREAD", b"STREAMS", b"s", b"0"]).unwrap(), Effect::Read);
        assert_eq!(classify(&[b"incr", b"k"]).unwrap(), Effect::Write);
        assert_eq!(classify(&[b"GETDEL", b"k"]).unwrap(), Effect::Write);
        assert_eq!(classify(&[b"flushall"]).unwrap(), Effect::Flush);
    }

    #[test]
    fn glob_metacharacters_are_escaped() {
        assert_eq!(glob_escape(b"a*b?[c]\\"), b"a\\*b\\?\\[c\\]\\\\".to_vec());
    }
}
