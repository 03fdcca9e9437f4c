//! Cached reads beyond `GET` (docs/design.md, "Cached reads"): the generic
//! [`Cache::read`] / [`Cache::read_ready`], the miss path for any
//! allow-listed read (single flight per key and command, `PTTL` in the same
//! round trip, the guarded fill into the key's L1 entry), and the two hooks
//! the pipeline helper uses ([`Inner::answer_locally`],
//! [`Inner::begin_pipelined_fill`]).
//!
//! `GET` itself keeps its own path (`fetch.rs`, the entry's value slot); a
//! `read(["GET", k])` is routed there, so both share one cached value.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use redis::Value;

use crate::cached_read::{self, CachedRead, Decode};
use crate::clock::duration_nanos;
use crate::command::Reply;
use crate::error::{Error, ErrorKind, Result};
use crate::expiry::Ttl;
use crate::fills::{FillGuard, Join};
use crate::l1::{Lookup, NewEntry, NewReply, Store};
use crate::stats::Op;

use super::inner::Inner;
use super::keys::check_key;
use super::ready::{Pending, Ready};
use super::replies::{bulk, int_reply, unexpected};
use super::Cache;

/// Converts a cached reply into a typed helper's result.
pub(super) type Convert<T> = fn(&Reply) -> Result<T>;

impl Cache {
    /// A cached read of any allow-listed command (docs/design.md, "Cached
    /// reads"): `args` is the command as Redis takes it, name first
    /// (`["ZRANGE", "board", "0", "9", "WITHSCORES"]`). The reply comes from
    /// L1 when the key's entry holds it, else from Redis (one round trip per
    /// key and command however many callers want it), and fills L1. Values
    /// of `GET`, `HGET`, `HMGET`, `HGETALL` and `HVALS` are decompressed like
    /// [`Cache::get`]'s. A command outside the allow-list is refused with
    /// [`ErrorKind::InvalidArgument`] naming it; [`Cache::command`] sends
    /// anything, uncached.
    ///
    /// ```
    /// # nearcache::testing::run_with_redis(|url| async move {
    /// use nearcache::Reply;
    /// let cache = nearcache::Cache::builder().url(url).build()?;
    /// cache.sadd("tags", &["rust", "redis"]).await?;
    /// assert_eq!(cache.read(&["SCARD", "tags"]).await?, Reply::Int(2));
    /// assert_eq!(cache.read(&["SCARD", "tags"]).await?, Reply::Int(2)); // from L1
    /// assert!(cache.read(&["TTL", "tags"]).await.is_err()); // time-dependent: use command()
    /// # Ok(()) });
    /// ```
    pub async fn read<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Reply> {
        self.read_ready(args)?.await
    }

    /// [`Cache::read`] split at the point where it would go to Redis (as
    /// [`Cache::get_ready`] does for `GET`): an L1 hit is [`Ready::Now`],
    /// answered on the calling thread; a miss is the Redis half as
    /// [`Ready::Later`]. Argument errors and refusals come back at once.
    pub fn read_ready<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Ready<Reply>> {
        let parts: Vec<&[u8]> = args.iter().map(AsRef::as_ref).collect();
        self.typed_read(&parts, |reply| Ok(reply.clone()))
    }

    /// The engine behind every cached read helper: checks `args`, answers
    /// from L1 through `convert`, or hands back the fill as pending work.
    pub(super) fn typed_read<T: Send + 'static>(&self, args: &[&[u8]], convert: Convert<T>) -> Result<Ready<T>> {
        let inner = &*self.inner;
        inner.check_usable()?;
        let read = cached_read::classify(args).map_err(|e| inner.count(e))?;
        check_key(read.key)?;
        if read.is_get() {
            return Ok(match self.get_local(read.key)? {
                Lookup::Hit(value) => Ready::Now(convert(&Reply::Bytes(value))?),
                Lookup::Absent => Ready::Now(convert(&Reply::Nil)?),
                Lookup::Miss => {
                    let (cache, key) = (self.clone(), Bytes::copy_from_slice(read.key));
                    Ready::Later(Pending::new(async move {
                        let value = cache.get_after_miss(&key).await?;
                        convert(&value.map_or(Reply::Nil, Reply::Bytes))
                    }))
                }
            });
        }
        if let Some(reply) = read.with_slot(|slot| inner.local.lookup_reply(read.key, slot)) {
            return convert(&reply).map(Ready::Now);
        }
        let slot = read.slot();
        let cache = self.clone();
        let owned: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        Ok(Ready::Later(Pending::new(async move {
            let parts: Vec<&[u8]> = owned.iter().map(Bytes::as_ref).collect();
            let read = cached_read::classify(&parts)?;
            let reply = cache.inner.fetch_reply(&read, slot).await?;
            convert(&reply)
        })))
    }
}

impl Inner {
    /// The reply L1 holds for an allow-listed read, without any I/O: `None`
    /// when L1 cannot answer or `args` is not an allow-listed read (the
    /// caller then sends it). For the pipeline helper: a queued read it can
    /// answer here never goes out. Counted as an L1 hit or miss.
    pub(crate) fn answer_locally(&self, args: &[&[u8]]) -> Option<Reply> {
        let read = cached_read::classify(args).ok()?;
        check_key(read.key).ok()?;
        if read.is_get() {
            return match self.local.lookup_versioned(read.key).0 {
                Lookup::Hit(value) => Some(Reply::Bytes(value)),
                Lookup::Absent => Some(Reply::Nil),
                Lookup::Miss => None,
            };
        }
        read.with_slot(|slot| self.local.lookup_reply(read.key, slot)).map(|reply| Reply::clone(&reply))
    }

    /// For the pipeline helper: registers the fill of an allow-listed read
    /// that is about to be sent inside a pipeline, so that its reply may
    /// fill L1 under every rule a direct read keeps (fill guard, epoch,
    /// `PTTL` cap). `None` when the read may not fill L1 (not allow-listed,
    /// the key is not cacheable, or another caller's fill of the same key
    /// and command is already in flight): send it as a plain command then.
    ///
    /// The caller must queue [`PipelinedFill::commands`] (a `PTTL` of the
    /// key, then the read) in place of the read, in that order and in the
    /// same pipeline, and hand both replies to [`PipelinedFill::complete`];
    /// dropping it instead (an error, a cancelled pipeline) retires the
    /// fill. Own writes to the key queued *before* the read in the same
    /// pipeline must have dropped the key already (they do: every write path
    /// drops first), so a fill registered after them stays valid.
    pub(crate) fn begin_pipelined_fill(&self, args: &[&[u8]]) -> Option<PipelinedFill<'_>> {
        let read = cached_read::classify(args).ok()?;
        if check_key(read.key).is_err() || !self.cacheable(read.key) {
            return None;
        }
        let key = Bytes::copy_from_slice(read.key);
        let guard = if read.is_get() {
            match self.local.fills.join(&key) {
                Join::Leader(guard) => PipelinedGuard::Get(guard),
                Join::Follower(_) => return None,
            }
        } else {
            let slot = read.slot();
            match self.local.reads.join_slot(&key, &slot) {
                Join::Leader(guard) => PipelinedGuard::Read(guard, slot),
                Join::Follower(_) => return None,
            }
        };
        let epoch = self.local.epoch();
        Some(PipelinedFill { inner: self, name: read.name, decode: read.decode, cmd: read.to_cmd(), key, guard, epoch })
    }

    /// The Redis half of an allow-listed read other than `GET`: single
    /// flight per key and command, `PTTL` + the read in one round trip, and
    /// the guarded fill.
    pub(super) async fn fetch_reply(&self, read: &CachedRead<'_>, slot: Bytes) -> Result<Arc<Reply>> {
        if !self.cacheable(read.key) {
            let cmd = read.to_cmd();
            let value =
                self.timed_as(op_of(read), read.name, read.key, self.backend.query_read(read.key, &cmd)).await?;
            return self.reply_of(read.name, read.decode, read.key, value).map(Arc::new);
        }
        let key = Bytes::copy_from_slice(read.key);
        loop {
            match self.local.reads.join_slot(&key, &slot) {
                Join::Leader(guard) => {
                    // Read before the request is sent: a connection lost
                    // after this point hides whatever this fill inserts.
                    let epoch = self.local.epoch();
                    return match self.read_reply_with_ttl(read).await {
                        Ok((reply, ttl)) => {
                            let reply = Arc::new(reply);
                            #[cfg(any(test, feature = "test-util"))]
                            self.wait_at_gate(read.key).await;
                            self.complete_reply_fill(guard, &key, &slot, epoch, &reply, ttl);
                            Ok(reply)
                        }
                        Err(e) => {
                            guard.complete(Err((e.kind(), e.message().to_owned())), || {});
                            Err(e)
                        }
                    };
                }
                Join::Follower(follower) => {
                    self.recorder.counters.single_flight_joins.fetch_add(1, Ordering::Relaxed);
                    if let Some(result) = follower.wait().await {
                        return result;
                    }
                    // The leader was cancelled: start over.
                }
            }
        }
    }

    /// `PTTL` then the read, in one round trip. `PTTL` goes first so that
    /// the reply is at least as new as the TTL: if the key is created
    /// between the two, the reply (of the new key) is cached as a negative
    /// entry, whose lifetime is the shorter one; if it is deleted between
    /// them, the reply describes the missing key and the old TTL still
    /// bounds it.
    async fn read_reply_with_ttl(&self, read: &CachedRead<'_>) -> Result<(Reply, Ttl)> {
        let mut pipe = redis::pipe();
        pipe.cmd("PTTL").arg(read.key).add_command(read.to_cmd());
        let work = self.backend.query_pipeline_read(read.key, &pipe);
        let replies = self.timed_as(op_of(read), read.name, read.key, work).await?;
        let mut replies = replies.into_iter();
        let (Some(pttl), Some(value)) = (replies.next(), replies.next()) else {
            return Err(self.count(Error::new(ErrorKind::Redis, format!("PTTL + {}: expected two replies", read.name))));
        };
        let ttl = Ttl::from_pttl(int_reply(pttl, "PTTL").map_err(|e| self.count(e))?);
        Ok((self.reply_of(read.name, read.decode, read.key, value)?, ttl))
    }

    /// Inserts a read's reply into its key's entry if its guard is still
    /// live, and counts the outcome. A reply read from a missing key (`PTTL`
    /// -2) is a negative entry: it lives `l1.negative_ttl` (rule 6).
    fn complete_reply_fill(
        &self,
        guard: FillGuard<'_, Arc<Reply>>,
        key: &Bytes,
        slot: &Bytes,
        epoch: u64,
        reply: &Arc<Reply>,
        ttl: Ttl,
    ) {
        let absent = matches!(ttl, Ttl::Missing);
        let lifetime = self.l1_ttl(key, absent, ttl);
        let mut inserted = false;
        let live = guard.complete(Ok(Arc::clone(reply)), || {
            if let Some(lifetime) = lifetime {
                let now = self.local.clock.now();
                let new = NewReply {
                    key: key.clone(),
                    slot: slot.clone(),
                    reply: Arc::clone(reply),
                    absent,
                    expires_at: now.saturating_add(duration_nanos(lifetime)),
                    epoch,
                };
                inserted = self.local.store.insert_reply(new, now);
            }
        });
        let counters = &self.recorder.counters;
        if !live {
            counters.fills_discarded.fetch_add(1, Ordering::Relaxed);
        } else if inserted {
            counters.fills.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The reply of any command as a pipeline or transaction returns it:
    /// an allow-listed read's reply is converted as [`Cache::read`] returns
    /// it (so a reply does not depend on whether L1 or Redis answered it),
    /// anything else is raw.
    pub(crate) fn convert_reply(&self, args: &[&[u8]], value: Value) -> Result<Reply> {
        match cached_read::classify(args) {
            Ok(read) => self.reply_of(read.name, read.decode, read.key, value),
            Err(_) => Ok(Reply::from_value(value)),
        }
    }

    /// A read's raw reply as it is cached and returned: values decoded
    /// where the allow-list says they are user values.
    fn reply_of(&self, name: &str, decode: Decode, key: &[u8], value: Value) -> Result<Reply> {
        let decoded = |v: Value| -> Result<Reply> {
            Ok(match v {
                Value::Nil => Reply::Nil,
                other => self.decode_value(key, other)?.map_or(Reply::Nil, Reply::Bytes),
            })
        };
        match (decode, value) {
            (Decode::Nothing, value) => Ok(Reply::from_value(value)),
            (Decode::Value, value) => decoded(value),
            (Decode::Values, Value::Array(items)) => {
                items.into_iter().map(decoded).collect::<Result<_>>().map(Reply::Array)
            }
            (Decode::MapValues, Value::Map(pairs)) => pairs
                .into_iter()
                .map(|(f, v)| Ok((Reply::Bytes(bulk(f, name)?), decoded(v)?)))
                .collect::<Result<_>>()
                .map(Reply::Map),
            (Decode::MapValues, Value::Array(flat)) => {
                let mut pairs = Vec::with_capacity(flat.len() / 2);
                let mut it = flat.into_iter();
                while let (Some(f), Some(v)) = (it.next(), it.next()) {
                    pairs.push((Reply::Bytes(bulk(f, name)?), decoded(v)?));
                }
                Ok(Reply::Map(pairs))
            }
            (_, other) => Err(self.count(unexpected(name, &other))),
        }
    }
}

/// The latency family of a read.
fn op_of(read: &CachedRead<'_>) -> Op {
    match read.name {
        "HGET" => Op::HGet,
        "HMGET" => Op::HMGet,
        "HGETALL" => Op::HGetAll,
        _ => Op::Read,
    }
}

#[cfg_attr(not(test), allow(dead_code))]
enum PipelinedGuard<'a> {
    Get(FillGuard<'a>),
    Read(FillGuard<'a, Arc<Reply>>, Bytes),
}

/// A registered fill of a read sent inside a pipeline; see
/// [`Inner::begin_pipelined_fill`].
pub(crate) struct PipelinedFill<'a> {
    inner: &'a Inner,
    name: &'static str,
    decode: Decode,
    /// The read as it is sent (canonical name, the caller's arguments).
    cmd: redis::Cmd,
    key: Bytes,
    guard: PipelinedGuard<'a>,
    epoch: u64,
}

impl PipelinedFill<'_> {
    /// The two commands to queue in place of the read, in this order:
    /// `PTTL key`, then the read itself (canonical name, same arguments).
    pub(crate) fn commands(&self) -> [redis::Cmd; 2] {
        let mut pttl = redis::cmd("PTTL");
        pttl.arg(self.key.as_ref());
        [pttl, self.cmd.clone()]
    }

    /// Hands the two replies of [`PipelinedFill::commands`] over: decodes
    /// the read's reply (as [`Cache::read`] returns it), fills L1 if no
    /// invalidation retired the fill meanwhile, and returns the reply. A
    /// server error in either reply is returned (and nothing is cached).
    pub(crate) fn complete(self, pttl: Value, value: Value) -> Result<Reply> {
        let PipelinedFill { inner, name, decode, key, guard, epoch, .. } = self;
        let parsed = match (pttl, value) {
            (Value::ServerError(e), _) | (_, Value::ServerError(e)) => Err(Error::from(redis::RedisError::from(e))),
            (pttl, value) => int_reply(pttl, "PTTL")
                .map(Ttl::from_pttl)
                .and_then(|ttl| Ok((ttl, inner.reply_of(name, decode, &key, value)?))),
        };
        match guard {
            PipelinedGuard::Get(guard) => match parsed {
                Ok((ttl, reply)) => {
                    let value = match &reply {
                        Reply::Bytes(b) => Some(b.clone()),
                        _ => None,
                    };
                    inner.complete_get_fill(guard, &key, epoch, value, ttl);
                    Ok(reply)
                }
                Err(e) => {
                    guard.complete(Err((e.kind(), e.message().to_owned())), || {});
                    Err(e)
                }
            },
            PipelinedGuard::Read(guard, slot) => match parsed {
                Ok((ttl, reply)) => {
                    let reply = Arc::new(reply);
                    inner.complete_reply_fill(guard, &key, &slot, epoch, &reply, ttl);
                    Ok(Arc::try_unwrap(reply).unwrap_or_else(|shared| Reply::clone(&shared)))
                }
                Err(e) => {
                    guard.complete(Err((e.kind(), e.message().to_owned())), || {});
                    Err(e)
                }
            },
        }
    }
}

#[cfg_attr(not(test), allow(dead_code))]
impl Inner {
    /// A `GET` fill read inside a pipeline (`PTTL` first): the value is
    /// cached only if the key still existed at the `PTTL` (rule 7), or as a
    /// cached absence if the key was missing at the read.
    fn complete_get_fill(&self, guard: FillGuard<'_>, key: &Bytes, epoch: u64, value: Option<Bytes>, ttl: Ttl) {
        let lifetime = self.l1_ttl(key, value.is_none(), ttl);
        let mut inserted = false;
        let live = guard.complete(Ok(value.clone()), || {
            if let Some(lifetime) = lifetime {
                let now = self.local.clock.now();
                let entry = NewEntry {
                    key: key.clone(),
                    value,
                    expires_at: now.saturating_add(duration_nanos(lifetime)),
                    epoch,
                };
                inserted = self.local.store.insert(entry, now);
            }
        });
        let counters = &self.recorder.counters;
        if !live {
            counters.fills_discarded.fetch_add(1, Ordering::Relaxed);
        } else if inserted {
            counters.fills.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::testing::TestRedis;

    fn args<'a>(parts: &'a [&'a str]) -> Vec<&'a [u8]> {
        parts.iter().map(|p| p.as_bytes()).collect()
    }

    /// What the pipeline helper does: queue `PTTL` + the read in place of
    /// the read, send, hand both replies back.
    async fn pipelined(cache: &Cache, read: &[&str]) -> Result<Reply> {
        let inner = &*cache.inner;
        let parts = args(read);
        let fill = inner.begin_pipelined_fill(&parts).expect("a cacheable read registers a fill");
        let mut pipe = redis::pipe();
        for cmd in fill.commands() {
            pipe.add_command(cmd);
        }
        // Sent the way a pipeline is: raw replies, errors in place.
        let mut replies = inner.backend.query_pipeline(parts[1], &pipe).await?.into_iter();
        let (pttl, value) = (replies.next().unwrap(), replies.next().unwrap());
        fill.complete(pttl, value)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipelined_reads_fill_l1_and_are_then_answered_locally() {
        let redis = TestRedis::start().unwrap();
        let cache = Cache::builder().url(redis.url()).build().unwrap();
        redis.cli(&["HSET", "h", "f", "1"]).unwrap();
        redis.cli(&["SET", "s", "v"]).unwrap();
        let inner = &*cache.inner;
        assert_eq!(inner.answer_locally(&args(&["HGET", "h", "f"])), None);
        assert_eq!(pipelined(&cache, &["HGET", "h", "f"]).await.unwrap(), Reply::Bytes(Bytes::from_static(b"1")));
        assert_eq!(inner.answer_locally(&args(&["hget", "h", "f"])), Some(Reply::Bytes(Bytes::from_static(b"1"))));
        // GET goes to the value slot, shared with `get`.
        assert_eq!(pipelined(&cache, &["GET", "s"]).await.unwrap(), Reply::Bytes(Bytes::from_static(b"v")));
        assert_eq!(cache.get_local(b"s").unwrap(), Lookup::Hit(Bytes::from_static(b"v")));
        assert_eq!(pipelined(&cache, &["GET", "missing"]).await.unwrap(), Reply::Nil);
        assert_eq!(inner.answer_locally(&args(&["GET", "missing"])), Some(Reply::Nil));
        // Not allow-listed, or a Redis error: nothing registered, nothing cached.
        assert!(inner.begin_pipelined_fill(&args(&["TTL", "h"])).is_none());
        assert_eq!(inner.answer_locally(&args(&["TTL", "h"])), None);
        assert_eq!(pipelined(&cache, &["SCARD", "h"]).await.unwrap_err().kind(), ErrorKind::Redis);
        assert_eq!(inner.answer_locally(&args(&["SCARD", "h"])), None);
        // A fill already in flight for the same read: send it uncached.
        let first = inner.begin_pipelined_fill(&args(&["HLEN", "h"])).unwrap();
        assert!(inner.begin_pipelined_fill(&args(&["HLEN", "h"])).is_none());
        drop(first);
        assert!(inner.begin_pipelined_fill(&args(&["HLEN", "h"])).is_some(), "a dropped fill is retired");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_own_write_during_a_pipelined_fill_discards_it() {
        let redis = TestRedis::start().unwrap();
        let cache = Cache::builder().url(redis.url()).build().unwrap();
        redis.cli(&["HSET", "h", "f", "1"]).unwrap();
        let inner = &*cache.inner;
        let parts = args(&["HGET", "h", "f"]);
        let fill = inner.begin_pipelined_fill(&parts).unwrap();
        let mut pipe = redis::pipe();
        for cmd in fill.commands() {
            pipe.add_command(cmd);
        }
        let mut replies = inner.backend.query_pipeline(b"h", &pipe).await.unwrap().into_iter();
        cache.hset("h", &[("f", "2")]).await.unwrap();
        let old = fill.complete(replies.next().unwrap(), replies.next().unwrap()).unwrap();
        assert_eq!(old, Reply::Bytes(Bytes::from_static(b"1")));
        assert_eq!(inner.answer_locally(&parts), None, "a fill older than an own write landed");
        assert_eq!(cache.stats().fills_discarded, 1);
    }
}
