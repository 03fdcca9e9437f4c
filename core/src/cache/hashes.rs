//! The hash writes (`hset`, `hdel`). Hash reads are cached reads (`typed.rs`
//! on the mechanism in `reads.rs`).

use crate::error::{Error, Result};
use crate::stats::Op;

use super::keys::check_key;
use super::replies::int_reply;
use super::Cache;

impl Cache {
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
