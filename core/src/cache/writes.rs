//! Typed writes on counters, hashes, sets, sorted sets and lists. Each one
//! drops the key from L1 (its value and every cached reply) and retires its
//! pending fills before it is sent (rule 3), so the next read of the key in
//! this process goes to Redis and sees the write. Members and list elements
//! are sent as given: they are never compressed (a set member is an
//! identity, not a value), unlike `set` and `hset` values.

use bytes::Bytes;
use redis::{Cmd, Value};

use crate::command::Reply;
use crate::error::{Error, Result};
use crate::stats::Op;

use super::keys::check_key;
use super::replies::{count_of, int_reply, maybe_bytes_of, score_of};
use super::Cache;

impl Cache {
    /// Checks the key, drops it from L1, sends `cmd`.
    async fn typed_write(&self, name: &'static str, key: &[u8], cmd: &Cmd) -> Result<Value> {
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        inner.own_write(key);
        inner.timed_as(Op::Write, name, key, inner.backend.query(key, cmd)).await
    }

    /// `INCRBY key by`: the new value.
    pub async fn incrby(&self, key: impl AsRef<[u8]>, by: i64) -> Result<i64> {
        let key = key.as_ref();
        int_reply(self.typed_write("INCRBY", key, redis::cmd("INCRBY").arg(key).arg(by)).await?, "INCRBY")
    }

    /// `INCR key`: the new value.
    pub async fn incr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        self.incrby(key, 1).await
    }

    /// `DECRBY key by`: the new value.
    pub async fn decrby(&self, key: impl AsRef<[u8]>, by: i64) -> Result<i64> {
        let key = key.as_ref();
        int_reply(self.typed_write("DECRBY", key, redis::cmd("DECRBY").arg(key).arg(by)).await?, "DECRBY")
    }

    /// `DECR key`: the new value.
    pub async fn decr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        self.decrby(key, 1).await
    }

    /// `HINCRBY key field by`: the field's new value.
    pub async fn hincrby(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>, by: i64) -> Result<i64> {
        let key = key.as_ref();
        let mut cmd = redis::cmd("HINCRBY");
        cmd.arg(key).arg(field.as_ref()).arg(by);
        int_reply(self.typed_write("HINCRBY", key, &cmd).await?, "HINCRBY")
    }

    /// `SADD`: how many members were new. At least one member is required.
    pub async fn sadd<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<u64> {
        self.members_write("SADD", key.as_ref(), members, true).await
    }

    /// `SREM`: how many members were removed (0 for an empty list, without
    /// asking Redis).
    pub async fn srem<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<u64> {
        self.members_write("SREM", key.as_ref(), members, false).await
    }

    /// `ZREM`: how many members were removed (0 for an empty list).
    pub async fn zrem<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<u64> {
        self.members_write("ZREM", key.as_ref(), members, false).await
    }

    /// `LPUSH`: the list's new length. At least one value is required.
    pub async fn lpush<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, values: &[V]) -> Result<u64> {
        self.members_write("LPUSH", key.as_ref(), values, true).await
    }

    /// `RPUSH`: the list's new length. At least one value is required.
    pub async fn rpush<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, values: &[V]) -> Result<u64> {
        self.members_write("RPUSH", key.as_ref(), values, true).await
    }

    /// `name key m1 m2 ...` with an integer reply. An empty list is refused
    /// where Redis would refuse it (`required`), else answered with 0.
    async fn members_write<M: AsRef<[u8]>>(
        &self,
        name: &'static str,
        key: &[u8],
        members: &[M],
        required: bool,
    ) -> Result<u64> {
        if members.is_empty() {
            self.inner.check_usable()?;
            check_key(key)?;
            return match required {
                true => Err(Error::invalid(format!("{name}: nothing to add"))),
                false => Ok(0),
            };
        }
        let mut cmd = redis::cmd(name);
        cmd.arg(key);
        for member in members {
            cmd.arg(member.as_ref());
        }
        let reply = self.typed_write(name, key, &cmd).await?;
        count_of(name, &Reply::from_value(reply))
    }

    /// `ZADD key score member ...`: how many members were new. At least one
    /// member is required; a NaN score is refused.
    pub async fn zadd<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[(f64, M)]) -> Result<u64> {
        let key = key.as_ref();
        if members.is_empty() {
            self.inner.check_usable()?;
            check_key(key)?;
            return Err(Error::invalid("ZADD: nothing to add"));
        }
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(key);
        for (score, member) in members {
            cmd.arg(score_arg("ZADD", *score)?).arg(member.as_ref());
        }
        let reply = self.typed_write("ZADD", key, &cmd).await?;
        count_of("ZADD", &Reply::from_value(reply))
    }

    /// `ZINCRBY key by member`: the member's new score.
    pub async fn zincrby(&self, key: impl AsRef<[u8]>, by: f64, member: impl AsRef<[u8]>) -> Result<f64> {
        let key = key.as_ref();
        let mut cmd = redis::cmd("ZINCRBY");
        cmd.arg(key).arg(score_arg("ZINCRBY", by)?).arg(member.as_ref());
        let reply = self.typed_write("ZINCRBY", key, &cmd).await?;
        score_of("ZINCRBY", &Reply::from_value(reply))
    }

    /// `LPOP key`: the first element, `None` if the list is empty or missing.
    pub async fn lpop(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        let reply = self.typed_write("LPOP", key, redis::cmd("LPOP").arg(key)).await?;
        maybe_bytes_of("LPOP", &Reply::from_value(reply))
    }

    /// `RPOP key`: the last element, `None` if the list is empty or missing.
    pub async fn rpop(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        let reply = self.typed_write("RPOP", key, redis::cmd("RPOP").arg(key)).await?;
        maybe_bytes_of("RPOP", &Reply::from_value(reply))
    }

    /// `LTRIM key start stop`: keeps only that range of the list.
    pub async fn ltrim(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<()> {
        let key = key.as_ref();
        self.typed_write("LTRIM", key, redis::cmd("LTRIM").arg(key).arg(start).arg(stop)).await.map(drop)
    }

    /// `PERSIST key`: true if a TTL was removed.
    pub async fn persist(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        Ok(int_reply(self.typed_write("PERSIST", key, redis::cmd("PERSIST").arg(key)).await?, "PERSIST")? == 1)
    }
}

/// A score as Redis parses it; NaN has no meaning there.
fn score_arg(command: &str, score: f64) -> Result<String> {
    if score.is_nan() {
        return Err(Error::invalid(format!("{command}: the score is NaN")));
    }
    Ok(match score {
        f64::INFINITY => "+inf".to_owned(),
        f64::NEG_INFINITY => "-inf".to_owned(),
        finite => finite.to_string(),
    })
}
