//! Decoding of the Redis replies the verbs expect.

use bytes::Bytes;
use redis::Value;

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
