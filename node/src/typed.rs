//! The typed helpers of the cached reads and the common writes, and the
//! generic cached `read`: each converts its arguments, makes one call into
//! core (`nearcache::Cache::hexists_ready`, `incrby`, ...) and converts the
//! result into ioredis's shapes: counts, ranks and scores as numbers, values
//! as Buffers, absent values as `null`, and yes/no answers (HEXISTS,
//! SISMEMBER, EXISTS, GETBIT, PERSIST) as 0 / 1 as ioredis returns them.
//! Reads use core's `_ready` forms, so an L1 hit settles the Promise at once.

use bytes::Bytes;
use napi::bindgen_prelude::{Either, Null};
use napi::Env;
use napi_derive::napi;
use nearcache::ZRange;

use crate::cache::JsCache;
use crate::convert::{
    self, Bound, Buffer, CommandArgs, Field, Int, Key, Member, MemberOrMembers, Reply, Score, ScoreMembers,
    ScoredMembers, ValueOrValues, ZRangeOptions, ZRangeSpec,
};
use crate::error::Result;
use crate::settle::Promise;

/// An argument JavaScript can spell but core's Rust types cannot take
/// (a negative bit offset, half a byte range).
fn invalid(message: impl Into<String>) -> nearcache::Error {
    nearcache::Error::new(nearcache::ErrorKind::InvalidArgument, message.into())
}

/// A yes/no answer as ioredis gives it: 0 or 1.
fn flag(yes: bool) -> f64 {
    f64::from(u8::from(yes))
}

fn count(n: u64) -> f64 {
    n as f64
}

fn buffers(values: Vec<Bytes>) -> Vec<Buffer> {
    values.into_iter().map(Buffer).collect()
}

fn rank(found: Option<u64>) -> Either<f64, Null> {
    convert::or_null(found.map(count))
}

fn zrange_of(start: String, stop: String, spec: &ZRangeSpec) -> nearcache::Result<ZRange> {
    let index = |what: &str, text: &str| {
        text.trim()
            .parse::<i64>()
            .map_err(|_| invalid(format!("zrange: {what} must be an integer index without `by`, got {text:?}")))
    };
    let mut range = match spec.by.as_deref() {
        None => ZRange::index(index("start", &start)?, index("stop", &stop)?),
        Some(by) if by.eq_ignore_ascii_case("score") => ZRange::score(start, stop),
        Some(by) if by.eq_ignore_ascii_case("lex") => ZRange::lex(start, stop),
        Some(other) => return Err(invalid(format!("zrange: by must be 'score' or 'lex', got {other:?}"))),
    };
    if spec.rev {
        range = range.rev();
    }
    if let Some((offset, count)) = spec.limit {
        range = range.limit(offset, count);
    }
    Ok(range)
}

#[napi]
impl JsCache {
    /// The cached form of any allow-listed read (`['ZRANGE', k, '0', '-1']`),
    /// answered from L1 when it holds that reply; the reply converts as
    /// `command`'s does. A command outside the allow-list is refused with
    /// `InvalidArgument` (use `command` for it).
    #[napi(catch_unwind)]
    pub fn read(&self, env: Env, args: CommandArgs) -> Result<Promise<Reply>> {
        self.ready(&env, args, |c, a| c.read_ready(&a), Reply)
    }

    /// Whether a hash has `field`: 1 or 0.
    #[napi(catch_unwind)]
    pub fn hexists(&self, env: Env, key: Key<'_>, field: Field<'_>) -> Result<Promise<f64>> {
        self.ready(&env, (key, field), |c, (k, f)| c.hexists_ready(k, f), flag)
    }

    /// How many fields a hash has (0 when the key is missing).
    #[napi(catch_unwind)]
    pub fn hlen(&self, env: Env, key: Key<'_>) -> Result<Promise<f64>> {
        self.ready(&env, key, |c, k| c.hlen_ready(k), count)
    }

    /// The field names of a hash, in Redis's order.
    #[napi(catch_unwind)]
    pub fn hkeys(&self, env: Env, key: Key<'_>) -> Result<Promise<Vec<Buffer>>> {
        self.ready(&env, key, |c, k| c.hkeys_ready(k), buffers)
    }

    /// The values of a hash, in Redis's order.
    #[napi(catch_unwind)]
    pub fn hvals(&self, env: Env, key: Key<'_>) -> Result<Promise<Vec<Buffer>>> {
        self.ready(&env, key, |c, k| c.hvals_ready(k), buffers)
    }

    /// The members of a set (unordered).
    #[napi(catch_unwind)]
    pub fn smembers(&self, env: Env, key: Key<'_>) -> Result<Promise<Vec<Buffer>>> {
        self.ready(&env, key, |c, k| c.smembers_ready(k), buffers)
    }

    /// Whether `member` is in the set: 1 or 0.
    #[napi(catch_unwind)]
    pub fn sismember(&self, env: Env, key: Key<'_>, member: Member<'_>) -> Result<Promise<f64>> {
        self.ready(&env, (key, member), |c, (k, m)| c.sismember_ready(k, m), flag)
    }

    /// For each member (an array, or the rest arguments), 1 or 0.
    #[napi(catch_unwind)]
    pub fn smismember(&self, env: Env, key: Key<'_>, members: MemberOrMembers) -> Result<Promise<Vec<f64>>> {
        self.ready(&env, (key, members), |c, (k, m)| c.smismember_ready(k, &m), |v| v.into_iter().map(flag).collect())
    }

    /// How many members a set has.
    #[napi(catch_unwind)]
    pub fn scard(&self, env: Env, key: Key<'_>) -> Result<Promise<f64>> {
        self.ready(&env, key, |c, k| c.scard_ready(k), count)
    }

    /// The score of `member` as a number (ioredis gives a string), or `null`.
    #[napi(catch_unwind)]
    pub fn zscore(&self, env: Env, key: Key<'_>, member: Member<'_>) -> Result<Promise<Either<f64, Null>>> {
        self.ready(&env, (key, member), |c, (k, m)| c.zscore_ready(k, m), convert::or_null)
    }

    /// The scores of several members, in order (`null` for missing ones).
    #[napi(catch_unwind)]
    pub fn zmscore(&self, env: Env, key: Key<'_>, members: MemberOrMembers) -> Result<Promise<Vec<Either<f64, Null>>>> {
        self.ready(
            &env,
            (key, members),
            |c, (k, m)| c.zmscore_ready(k, &m),
            |v| v.into_iter().map(convert::or_null).collect(),
        )
    }

    /// Members of a sorted set by rank (`start`, `stop` indexes), or by
    /// score / lex range with `{ by: 'score' | 'lex' }` (bounds such as
    /// `'(1'`, `'-inf'`, `'[a'`), optionally `rev` and `limit`. With
    /// `'WITHSCORES'` (or `{ withScores: true }`): `[[member, score], ...]`.
    #[napi(catch_unwind)]
    pub fn zrange(
        &self,
        env: Env,
        key: Key<'_>,
        start: Bound,
        stop: Bound,
        options: Option<ZRangeOptions>,
    ) -> Result<Promise<Either<Vec<Buffer>, ScoredMembers>>> {
        self.ready(
            &env,
            (key, start, stop, options),
            |c, (k, start, stop, spec)| {
                let spec = spec.unwrap_or_default();
                let range = zrange_of(start, stop, &spec)?;
                Ok(if spec.with_scores {
                    c.zrange_withscores_ready(k, &range)?.map(|v| Either::B(ScoredMembers(v)))
                } else {
                    c.zrange_ready(k, &range)?.map(|v| Either::A(buffers(v)))
                })
            },
            |v| v,
        )
    }

    /// The rank of `member` (lowest score first), or `null`.
    #[napi(catch_unwind)]
    pub fn zrank(&self, env: Env, key: Key<'_>, member: Member<'_>) -> Result<Promise<Either<f64, Null>>> {
        self.ready(&env, (key, member), |c, (k, m)| c.zrank_ready(k, m), rank)
    }

    /// The rank of `member` (highest score first), or `null`.
    #[napi(catch_unwind)]
    pub fn zrevrank(&self, env: Env, key: Key<'_>, member: Member<'_>) -> Result<Promise<Either<f64, Null>>> {
        self.ready(&env, (key, member), |c, (k, m)| c.zrevrank_ready(k, m), rank)
    }

    /// How many members a sorted set has.
    #[napi(catch_unwind)]
    pub fn zcard(&self, env: Env, key: Key<'_>) -> Result<Promise<f64>> {
        self.ready(&env, key, |c, k| c.zcard_ready(k), count)
    }

    /// How many members have a score within `min`..`max` (numbers, or
    /// bounds such as `'(1'`, `'-inf'`).
    #[napi(catch_unwind)]
    pub fn zcount(&self, env: Env, key: Key<'_>, min: Bound, max: Bound) -> Result<Promise<f64>> {
        self.ready(&env, (key, min, max), |c, (k, min, max)| c.zcount_ready(k, min, max), count)
    }

    /// The elements of a list from `start` to `stop` (inclusive; negative
    /// indexes count from the end).
    #[napi(catch_unwind)]
    pub fn lrange(&self, env: Env, key: Key<'_>, start: Int, stop: Int) -> Result<Promise<Vec<Buffer>>> {
        self.ready(&env, (key, start, stop), |c, (k, a, b)| c.lrange_ready(k, a, b), buffers)
    }

    /// The element at `index`, or `null`.
    #[napi(catch_unwind)]
    pub fn lindex(&self, env: Env, key: Key<'_>, index: Int) -> Result<Promise<Either<Buffer, Null>>> {
        self.ready(&env, (key, index), |c, (k, i)| c.lindex_ready(k, i), Buffer::opt)
    }

    /// The length of a list.
    #[napi(catch_unwind)]
    pub fn llen(&self, env: Env, key: Key<'_>) -> Result<Promise<f64>> {
        self.ready(&env, key, |c, k| c.llen_ready(k), count)
    }

    /// Whether `key` exists: 1 or 0 (one key: the cached form of EXISTS).
    #[napi(catch_unwind)]
    pub fn exists(&self, env: Env, key: Key<'_>) -> Result<Promise<f64>> {
        self.ready(&env, key, |c, k| c.exists_ready(k), flag)
    }

    /// The length of a string value (of the stored value: see the README
    /// on compression).
    #[napi(catch_unwind)]
    pub fn strlen(&self, env: Env, key: Key<'_>) -> Result<Promise<f64>> {
        self.ready(&env, key, |c, k| c.strlen_ready(k), count)
    }

    /// The type of `key`: `'string'`, `'hash'`, ..., `'none'` when missing.
    #[napi(js_name = "type", catch_unwind)]
    pub fn key_type(&self, env: Env, key: Key<'_>) -> Result<Promise<String>> {
        self.ready(&env, key, |c, k| c.key_type_ready(k), |t| t)
    }

    /// The bit at `offset` of a string value: 1 or 0.
    #[napi(catch_unwind)]
    pub fn getbit(&self, env: Env, key: Key<'_>, offset: Int) -> Result<Promise<f64>> {
        self.ready(
            &env,
            (key, offset),
            |c, (k, o)| {
                let offset =
                    u64::try_from(o).map_err(|_| invalid(format!("getbit: offset must not be negative, got {o}")))?;
                c.getbit_ready(k, offset)
            },
            flag,
        )
    }

    /// How many bits are set, in the whole value or between the byte
    /// indexes `start` and `end` (both or neither).
    #[napi(catch_unwind)]
    pub fn bitcount(&self, env: Env, key: Key<'_>, start: Option<Int>, end: Option<Int>) -> Result<Promise<f64>> {
        self.ready(
            &env,
            (key, start, end),
            |c, (k, start, end)| match (start, end) {
                (Some(a), Some(b)) => c.bitcount_ready(k, Some((a, b))),
                (None, None) => c.bitcount_ready(k, None),
                _ => Err(invalid("bitcount: give both start and end, or neither")),
            },
            count,
        )
    }

    // --- Writes (each drops the key from L1 first: read-your-writes) ----------

    /// Adds 1 to a counter; resolves the new value.
    #[napi(catch_unwind)]
    pub fn incr(&self, env: Env, key: Key<'_>) -> Result<Promise<f64>> {
        self.promise(&env, key, |c, k| async move { c.incr(k).await.map(|n| n as f64) })
    }

    /// Adds `increment` to a counter; resolves the new value.
    #[napi(catch_unwind)]
    pub fn incrby(&self, env: Env, key: Key<'_>, increment: Int) -> Result<Promise<f64>> {
        self.promise(&env, (key, increment), |c, (k, by)| async move { c.incrby(k, by).await.map(|n| n as f64) })
    }

    /// Subtracts 1 from a counter; resolves the new value.
    #[napi(catch_unwind)]
    pub fn decr(&self, env: Env, key: Key<'_>) -> Result<Promise<f64>> {
        self.promise(&env, key, |c, k| async move { c.decr(k).await.map(|n| n as f64) })
    }

    /// Subtracts `decrement` from a counter; resolves the new value.
    #[napi(catch_unwind)]
    pub fn decrby(&self, env: Env, key: Key<'_>, decrement: Int) -> Result<Promise<f64>> {
        self.promise(&env, (key, decrement), |c, (k, by)| async move { c.decrby(k, by).await.map(|n| n as f64) })
    }

    /// Adds `increment` to a hash field; resolves the new value.
    #[napi(catch_unwind)]
    pub fn hincrby(&self, env: Env, key: Key<'_>, field: Field<'_>, increment: Int) -> Result<Promise<f64>> {
        self.promise(&env, (key, field, increment), |c, (k, f, by)| async move {
            c.hincrby(k, f, by).await.map(|n| n as f64)
        })
    }

    /// Adds members to a set (an array, or the rest arguments); resolves how
    /// many were new.
    #[napi(catch_unwind)]
    pub fn sadd(&self, env: Env, key: Key<'_>, members: MemberOrMembers) -> Result<Promise<f64>> {
        self.promise(&env, (key, members), |c, (k, m)| async move { c.sadd(k, &m).await.map(count) })
    }

    /// Removes members from a set; resolves how many were there.
    #[napi(catch_unwind)]
    pub fn srem(&self, env: Env, key: Key<'_>, members: MemberOrMembers) -> Result<Promise<f64>> {
        self.promise(&env, (key, members), |c, (k, m)| async move { c.srem(k, &m).await.map(count) })
    }

    /// Adds or updates sorted-set members: `zadd(key, score, member, ...)`
    /// as in ioredis (index.js gathers the pairs); resolves how many were new.
    #[napi(catch_unwind)]
    pub fn zadd(&self, env: Env, key: Key<'_>, members: ScoreMembers) -> Result<Promise<f64>> {
        self.promise(&env, (key, members), |c, (k, m)| async move { c.zadd(k, &m).await.map(count) })
    }

    /// Removes sorted-set members; resolves how many were there.
    #[napi(catch_unwind)]
    pub fn zrem(&self, env: Env, key: Key<'_>, members: MemberOrMembers) -> Result<Promise<f64>> {
        self.promise(&env, (key, members), |c, (k, m)| async move { c.zrem(k, &m).await.map(count) })
    }

    /// Adds `increment` to a member's score; resolves the new score as a
    /// number.
    #[napi(catch_unwind)]
    pub fn zincrby(&self, env: Env, key: Key<'_>, increment: Score, member: Member<'_>) -> Result<Promise<f64>> {
        self.promise(&env, (key, increment, member), |c, (k, by, m)| async move { c.zincrby(k, by, m).await })
    }

    /// Prepends values to a list (an array, or the rest arguments);
    /// resolves its new length.
    #[napi(catch_unwind)]
    pub fn lpush(&self, env: Env, key: Key<'_>, values: ValueOrValues) -> Result<Promise<f64>> {
        self.promise(&env, (key, values), |c, (k, v)| async move { c.lpush(k, &v).await.map(count) })
    }

    /// Appends values to a list; resolves its new length.
    #[napi(catch_unwind)]
    pub fn rpush(&self, env: Env, key: Key<'_>, values: ValueOrValues) -> Result<Promise<f64>> {
        self.promise(&env, (key, values), |c, (k, v)| async move { c.rpush(k, &v).await.map(count) })
    }

    /// Removes and returns the first element, or `null`.
    #[napi(catch_unwind)]
    pub fn lpop(&self, env: Env, key: Key<'_>) -> Result<Promise<Either<Buffer, Null>>> {
        self.promise(&env, key, |c, k| async move { c.lpop(k).await.map(Buffer::opt) })
    }

    /// Removes and returns the last element, or `null`.
    #[napi(catch_unwind)]
    pub fn rpop(&self, env: Env, key: Key<'_>) -> Result<Promise<Either<Buffer, Null>>> {
        self.promise(&env, key, |c, k| async move { c.rpop(k).await.map(Buffer::opt) })
    }

    /// Keeps only the elements from `start` to `stop`; resolves `'OK'` as
    /// ioredis does.
    #[napi(catch_unwind)]
    pub fn ltrim(&self, env: Env, key: Key<'_>, start: Int, stop: Int) -> Result<Promise<String>> {
        self.promise(&env, (key, start, stop), |c, (k, a, b)| async move {
            c.ltrim(k, a, b).await.map(|()| "OK".to_owned())
        })
    }

    /// Removes the expiry of `key`: 1 when it had one, else 0.
    #[napi(catch_unwind)]
    pub fn persist(&self, env: Env, key: Key<'_>) -> Result<Promise<f64>> {
        self.promise(&env, key, |c, k| async move { c.persist(k).await.map(flag) })
    }
}
