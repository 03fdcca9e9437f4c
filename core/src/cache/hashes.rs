//! The hash verbs (`hget` ... `hdel`). Hash reads are not cached in L1 yet:
//! they go to Redis every time.

use bytes::Bytes;
use redis::Value;

use crate::error::{Error, Result};
use crate::stats::Op;

use super::keys::check_key;
use super::replies::{bulk, int_reply, unexpected};
use super::Cache;

impl Cache {
    /// One field of a hash (decompressed like `get`). Not cached in L1 yet.
    pub async fn hget(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        let reply = inner
            .timed(Op::HGet, key, inner.backend.query_read(key, redis::cmd("HGET").arg(key).arg(field.as_ref())))
            .await?;
        inner.decode_value(key, reply)
    }

    /// Several fields of a hash, in order.
    pub async fn hmget<F: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[F]) -> Result<Vec<Option<Bytes>>> {
        let key = key.as_ref();
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        if fields.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(key);
        for field in fields {
            cmd.arg(field.as_ref());
        }
        match inner.timed(Op::HMGet, key, inner.backend.query_read(key, &cmd)).await? {
            Value::Array(items) => items.into_iter().map(|v| inner.decode_value(key, v)).collect(),
            other => Err(unexpected("HMGET", &other)),
        }
    }

    /// Every field of a hash, in the server's order.
    pub async fn hgetall(&self, key: impl AsRef<[u8]>) -> Result<Vec<(Bytes, Bytes)>> {
        let key = key.as_ref();
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        let reply =
            inner.timed(Op::HGetAll, key, inner.backend.query_read(key, redis::cmd("HGETALL").arg(key))).await?;
        let pairs: Vec<(Value, Value)> = match reply {
            Value::Map(pairs) => pairs,
            Value::Array(flat) => {
                let mut it = flat.into_iter();
                let mut pairs = Vec::new();
                while let (Some(f), Some(v)) = (it.next(), it.next()) {
                    pairs.push((f, v));
                }
                pairs
            }
            other => return Err(unexpected("HGETALL", &other)),
        };
        pairs
            .into_iter()
            .map(|(f, v)| {
                let field = bulk(f, "HGETALL")?;
                let value = inner.decode_value(key, v)?.unwrap_or_default();
                Ok((field, value))
            })
            .collect()
    }

    /// Sets hash fields; returns how many were new.
    pub async fn hset<F: AsRef<[u8]>, V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[(F, V)]) -> Result<u64> {
        let key = key.as_ref();
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        if fields.is_empty() {
            return Err(Error::invalid("HSET: no fields given"));
        }
        let mut cmd = redis::cmd("HSET");
        cmd.arg(key);
        for (field, value) in fields {
            cmd.arg(field.as_ref()).arg(inner.encode(key, value.as_ref())?.as_bytes());
        }
        inner.own_write(key);
        let reply = inner.timed(Op::HSet, key, inner.backend.query(key, &cmd)).await?;
        int_reply(reply, "HSET").map(|n| n.max(0) as u64)
    }

    /// Deletes hash fields; returns how many existed.
    pub async fn hdel<F: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[F]) -> Result<u64> {
        let key = key.as_ref();
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        if fields.is_empty() {
            return Ok(0);
        }
        let mut cmd = redis::cmd("HDEL");
        cmd.arg(key);
        for field in fields {
            cmd.arg(field.as_ref());
        }
        inner.own_write(key);
        let reply = inner.timed(Op::HDel, key, inner.backend.query(key, &cmd)).await?;
        int_reply(reply, "HDEL").map(|n| n.max(0) as u64)
    }
}
