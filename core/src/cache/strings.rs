//! The string verbs: `get`, `get_many`, `set`, `set_many`, `delete`,
//! `expire`, `ttl`. Reads go through L1; writes drop the keys from L1
//! before they are sent (a process reads its own writes).

use std::time::Duration;

use bytes::Bytes;
use redis::Value;

use crate::error::{Error, Result};
use crate::expiry::{jitter, Ttl};
use crate::l1::Lookup;
use crate::stats::Op;

use super::keys::{check_key, ttl_millis};
use super::replies::int_reply;
use super::{Cache, SetOptions};

impl Cache {
    /// The value of `key`: from L1 if it is there, else from Redis (one
    /// round trip shared by every concurrent reader of the key), filling L1.
    pub async fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        match self.get_local(key)? {
            Lookup::Hit(value) => Ok(Some(value)),
            Lookup::Absent => Ok(None),
            Lookup::Miss => self.inner.fetch(key).await,
        }
    }

    /// The Redis half of [`Cache::get`], for callers that already asked
    /// [`Cache::get_local`] and got [`Lookup::Miss`] (the blocking facade,
    /// the bindings): single flight and the guarded L1 fill, without a second
    /// L1 lookup, so that the miss is counted once in [`Stats::l1_misses`](crate::Stats::l1_misses).
    pub async fn get_after_miss(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        self.inner.check_usable()?;
        check_key(key)?;
        self.inner.fetch(key).await
    }

    /// The values of `keys`, in order: L1 answers what it can, one `MGET`
    /// fetches the rest.
    pub async fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Bytes>>> {
        let mut out = Vec::with_capacity(keys.len());
        let mut missing = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            match self.get_local(key.as_ref())? {
                Lookup::Hit(value) => out.push(Some(value)),
                Lookup::Absent => out.push(None),
                Lookup::Miss => {
                    out.push(None);
                    missing.push(i);
                }
            }
        }
        if !missing.is_empty() {
            let wanted: Vec<&[u8]> = missing.iter().map(|&i| keys[i].as_ref()).collect();
            let fetched = self.inner.fetch_many(&wanted).await?;
            for (slot, value) in missing.into_iter().zip(fetched) {
                out[slot] = value;
            }
        }
        Ok(out)
    }

    /// Writes `value` to `key`. Returns false when `nx`/`xx` prevented the
    /// write. Values at least `compression.min_size` long are compressed.
    pub async fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>, options: SetOptions) -> Result<bool> {
        let (key, value) = (key.as_ref(), value.as_ref());
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        if options.only_if_absent && options.only_if_present {
            return Err(Error::invalid("SET: nx and xx exclude each other"));
        }
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(inner.encode(key, value)?.as_bytes());
        if let Some(ttl) = options.ttl {
            let ttl = if options.exact_ttl { ttl } else { jitter(ttl, inner.config.write.ttl_jitter) };
            cmd.arg("PX").arg(ttl_millis(ttl, key)?);
        }
        if options.only_if_absent {
            cmd.arg("NX");
        }
        if options.only_if_present {
            cmd.arg("XX");
        }
        inner.own_write(key);
        let reply = inner.timed(Op::Set, key, inner.backend.query(key, &cmd)).await?;
        Ok(!matches!(reply, Value::Nil))
    }

    /// Writes several keys: one `MSET`, or, with a TTL, one `MULTI`/`EXEC`
    /// of `SET PX` (all-or-nothing either way). In a cluster, or with keys
    /// under different routes, there is one such command per hash slot and
    /// deployment, sent concurrently: all-or-nothing per slot only.
    pub async fn set_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        items: &[(K, V)],
        ttl: Option<Duration>,
    ) -> Result<()> {
        let inner = &*self.inner;
        inner.check_usable()?;
        if items.is_empty() {
            return Ok(());
        }
        let mut encoded = Vec::with_capacity(items.len());
        for (key, value) in items {
            check_key(key.as_ref())?;
            encoded.push((key.as_ref(), inner.encode(key.as_ref(), value.as_ref())?));
        }
        for (key, _) in &encoded {
            inner.own_write(key);
        }
        let keys: Vec<&[u8]> = encoded.iter().map(|(key, _)| *key).collect();
        let writes = inner.groups(&keys).into_iter().map(|group| {
            let first = encoded[group[0]].0;
            let encoded = &encoded;
            async move {
                match ttl {
                    None => {
                        let mut cmd = redis::cmd("MSET");
                        for &i in &group {
                            cmd.arg(encoded[i].0).arg(encoded[i].1.as_ref());
                        }
                        inner.timed(Op::SetMany, first, inner.backend.query(first, &cmd)).await.map(drop)
                    }
                    Some(ttl) => {
                        let mut pipe = redis::pipe();
                        pipe.atomic();
                        for &i in &group {
                            let (key, value) = &encoded[i];
                            let ms = ttl_millis(jitter(ttl, inner.config.write.ttl_jitter), key)?;
                            pipe.cmd("SET").arg(*key).arg(value.as_ref()).arg("PX").arg(ms).ignore();
                        }
                        inner.timed(Op::SetMany, first, inner.backend.query_pipeline(first, &pipe)).await.map(drop)
                    }
                }
            }
        });
        futures_util::future::try_join_all(writes).await?;
        Ok(())
    }

    /// Deletes `key`; true if it existed.
    pub async fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.delete_many(&[key]).await? > 0)
    }

    /// Deletes `keys` with one `DEL` (one per hash slot and deployment in a
    /// cluster or with routes); returns how many existed.
    pub async fn delete_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64> {
        let inner = &*self.inner;
        inner.check_usable()?;
        let keys: Vec<&[u8]> = keys.iter().map(AsRef::as_ref).collect();
        for key in &keys {
            check_key(key)?;
        }
        for key in &keys {
            inner.own_write(key);
        }
        inner.delete_keys("DEL", Op::Delete, &keys).await
    }

    /// Sets `key` to expire after `ttl` (no jitter: the caller asked for
    /// this deadline); true if the key exists.
    pub async fn expire(&self, key: impl AsRef<[u8]>, ttl: Duration) -> Result<bool> {
        let key = key.as_ref();
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        let mut cmd = redis::cmd("PEXPIRE");
        cmd.arg(key).arg(ttl_millis(ttl, key)?);
        inner.own_write(key);
        let reply = inner.timed(Op::Expire, key, inner.backend.query(key, &cmd)).await?;
        Ok(int_reply(reply, "PEXPIRE")? == 1)
    }

    /// The remaining time to live of `key`, from Redis.
    pub async fn ttl(&self, key: impl AsRef<[u8]>) -> Result<Ttl> {
        let key = key.as_ref();
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        let reply = inner.timed(Op::Ttl, key, inner.backend.query_read(key, redis::cmd("PTTL").arg(key))).await?;
        Ok(Ttl::from_pttl(int_reply(reply, "PTTL")?))
    }
}
