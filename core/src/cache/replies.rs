//! Decoding of the Redis replies the verbs expect.

use bytes::Bytes;
use redis::Value;

use crate::command::Reply;
use crate::error::{Error, ErrorKind, Result};

pub(super) fn int_reply(value: Value, command: &str) -> Result<i64> {
    match value {
        Value::Int(n) => Ok(n),
        other => Err(unexpected(command, &other)),
    }
}

pub(super) fn bulk(value: Value, command: &str) -> Result<Bytes> {
    match value {
        Value::BulkString(b) => Ok(Bytes::from(b)),
        Value::SimpleString(s) => Ok(Bytes::from(s)),
        other => Err(unexpected(command, &other)),
    }
}

pub(super) fn unexpected(command: &str, value: &Value) -> Error {
    Error::new(ErrorKind::Redis, format!("{command}: unexpected reply {value:?}"))
}

// Conversions of cached replies into the typed helpers' results. Each names
// the command in its error, as the reply shape is the command's contract.

pub(super) fn reply_unexpected(command: &str, reply: &Reply) -> Error {
    Error::new(ErrorKind::Redis, format!("{command}: unexpected reply {reply:?}"))
}

/// An integer reply as a count (never negative).
pub fn count_of(command: &str, reply: &Reply) -> Result<u64> {
    match reply {
        Reply::Int(n) => Ok((*n).max(0) as u64),
        other => Err(reply_unexpected(command, other)),
    }
}

/// A 0/1 integer (or RESP3 boolean) reply as a flag.
pub fn flag_of(command: &str, reply: &Reply) -> Result<bool> {
    match reply {
        Reply::Int(n) => Ok(*n != 0),
        Reply::Bool(b) => Ok(*b),
        other => Err(reply_unexpected(command, other)),
    }
}

/// A bulk string or nil.
pub fn maybe_bytes_of(command: &str, reply: &Reply) -> Result<Option<Bytes>> {
    match reply {
        Reply::Bytes(b) => Ok(Some(b.clone())),
        Reply::Nil => Ok(None),
        other => Err(reply_unexpected(command, other)),
    }
}

/// An array (or RESP3 set) of bulk strings.
pub fn bytes_list_of(command: &str, reply: &Reply) -> Result<Vec<Bytes>> {
    match reply {
        Reply::Array(items) | Reply::Set(items) => items
            .iter()
            .map(|item| match item {
                Reply::Bytes(b) => Ok(b.clone()),
                other => Err(reply_unexpected(command, other)),
            })
            .collect(),
        other => Err(reply_unexpected(command, other)),
    }
}

/// An array of bulk strings or nils.
pub fn maybe_bytes_list_of(command: &str, reply: &Reply) -> Result<Vec<Option<Bytes>>> {
    match reply {
        Reply::Array(items) => items.iter().map(|item| maybe_bytes_of(command, item)).collect(),
        other => Err(reply_unexpected(command, other)),
    }
}

/// An array of 0/1 integers.
pub fn flags_of(command: &str, reply: &Reply) -> Result<Vec<bool>> {
    match reply {
        Reply::Array(items) => items.iter().map(|item| flag_of(command, item)).collect(),
        other => Err(reply_unexpected(command, other)),
    }
}

/// A field-value map (RESP3) or flat array (RESP2), in the server's order.
pub fn pairs_of(command: &str, reply: &Reply) -> Result<Vec<(Bytes, Bytes)>> {
    let pair = |f: &Reply, v: &Reply| match (f, v) {
        (Reply::Bytes(f), Reply::Bytes(v)) => Ok((f.clone(), v.clone())),
        (Reply::Bytes(f), Reply::Nil) => Ok((f.clone(), Bytes::new())),
        (other, _) => Err(reply_unexpected(command, other)),
    };
    match reply {
        Reply::Map(pairs) => pairs.iter().map(|(f, v)| pair(f, v)).collect(),
        Reply::Array(flat) => flat.chunks_exact(2).map(|c| pair(&c[0], &c[1])).collect(),
        other => Err(reply_unexpected(command, other)),
    }
}

/// A score: a RESP3 double, a decimal bulk string (RESP2), or nil.
pub fn maybe_score_of(command: &str, reply: &Reply) -> Result<Option<f64>> {
    match reply {
        Reply::Double(d) => Ok(Some(*d)),
        Reply::Int(n) => Ok(Some(*n as f64)),
        Reply::Bytes(b) => parse_score(command, b).map(Some),
        Reply::Nil => Ok(None),
        other => Err(reply_unexpected(command, other)),
    }
}

/// A score that must be there (`ZINCRBY`): as [`maybe_score_of`], nil refused.
pub fn score_of(command: &str, reply: &Reply) -> Result<f64> {
    maybe_score_of(command, reply)?.ok_or_else(|| reply_unexpected(command, reply))
}

fn parse_score(command: &str, b: &[u8]) -> Result<f64> {
    let text = std::str::from_utf8(b).unwrap_or_default();
    match text {
        "inf" | "+inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        _ => text.parse().map_err(|_| reply_unexpected(command, &Reply::Bytes(Bytes::copy_from_slice(b)))),
    }
}

/// An array of scores or nils.
pub fn maybe_scores_of(command: &str, reply: &Reply) -> Result<Vec<Option<f64>>> {
    match reply {
        Reply::Array(items) => items.iter().map(|item| maybe_score_of(command, item)).collect(),
        other => Err(reply_unexpected(command, other)),
    }
}

/// Members with scores: RESP3 `[[member, score], ...]` or RESP2's flat
/// `[member, score, ...]`.
pub fn scored_of(command: &str, reply: &Reply) -> Result<Vec<(Bytes, f64)>> {
    let pair = |m: &Reply, s: &Reply| match m {
        Reply::Bytes(m) => Ok((m.clone(), score_of(command, s)?)),
        other => Err(reply_unexpected(command, other)),
    };
    match reply {
        Reply::Array(items) if items.iter().all(|i| matches!(i, Reply::Array(p) if p.len() == 2)) => items
            .iter()
            .map(|item| match item {
                Reply::Array(p) => pair(&p[0], &p[1]),
                other => Err(reply_unexpected(command, other)),
            })
            .collect(),
        Reply::Array(flat) if flat.len() % 2 == 0 => flat.chunks_exact(2).map(|c| pair(&c[0], &c[1])).collect(),
        other => Err(reply_unexpected(command, other)),
    }
}

/// A rank (integer) or nil.
pub fn maybe_count_of(command: &str, reply: &Reply) -> Result<Option<u64>> {
    match reply {
        Reply::Nil => Ok(None),
        other => count_of(command, other).map(Some),
    }
}

/// A status reply (`TYPE`).
pub fn status_of(command: &str, reply: &Reply) -> Result<String> {
    match reply {
        Reply::Status(s) => Ok(s.clone()),
        Reply::Bytes(b) => Ok(String::from_utf8_lossy(b).into_owned()),
        other => Err(reply_unexpected(command, other)),
    }
}
