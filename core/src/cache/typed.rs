//! Typed helpers for the cached reads (docs/design.md, "Cached reads"):
//! each builds the allow-listed command, goes through the one mechanism in
//! `reads.rs` (L1, else Redis with a guarded fill) and converts the reply
//! into a natural Rust type. Every helper comes in two forms: `x_ready`
//! ([`Ready`]: an L1 hit answered on the calling thread, for the blocking
//! facade and the bindings) and the async `x`.

use std::fmt::Display;

use bytes::Bytes;

use crate::error::Result;

use super::ready::Ready;
use super::replies::{
    bytes_list_of, count_of, flag_of, flags_of, maybe_bytes_list_of, maybe_bytes_of, maybe_count_of, maybe_score_of,
    maybe_scores_of, pairs_of, scored_of, status_of,
};
use super::Cache;

/// Which members [`Cache::zrange`] returns: by rank, score or lex range,
/// optionally reversed and limited (`ZRANGE key start stop [BYSCORE |
/// BYLEX] [REV] [LIMIT offset count]`).
///
/// ```
/// use nearcache::ZRange;
/// let top_ten = ZRange::index(0, 9).rev();
/// let cheap = ZRange::score("-inf", "(10").limit(0, 5);
/// let names = ZRange::lex("[a", "(c");
/// # let _ = (top_ten, cheap, names);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZRange {
    by: Option<&'static str>,
    start: String,
    stop: String,
    rev: bool,
    limit: Option<(i64, i64)>,
}

impl ZRange {
    /// Members by rank, `start` to `stop` inclusive (negative from the end).
    pub fn index(start: i64, stop: i64) -> ZRange {
        ZRange { by: None, start: start.to_string(), stop: stop.to_string(), rev: false, limit: None }
    }

    /// Members with scores from `min` to `max` (`BYSCORE`): numbers,
    /// `"-inf"` / `"+inf"`, or `"(x"` for an exclusive bound. With
    /// [`ZRange::rev`], give the higher bound first, as Redis wants.
    pub fn score(min: impl Display, max: impl Display) -> ZRange {
        ZRange { by: Some("BYSCORE"), start: min.to_string(), stop: max.to_string(), rev: false, limit: None }
    }

    /// Members from `min` to `max` in lexicographic order (`BYLEX`):
    /// `"[a"` inclusive, `"(a"` exclusive, `"-"` and `"+"` for the ends.
    pub fn lex(min: impl Display, max: impl Display) -> ZRange {
        ZRange { by: Some("BYLEX"), start: min.to_string(), stop: max.to_string(), rev: false, limit: None }
    }

    /// Highest first (`REV`).
    pub fn rev(mut self) -> ZRange {
        self.rev = true;
        self
    }

    /// Skips `offset` members and returns at most `count` (`LIMIT`; a
    /// negative count means all). Only with [`ZRange::score`] or
    /// [`ZRange::lex`]; Redis refuses it for ranks and so does `zrange`.
    pub fn limit(mut self, offset: i64, count: i64) -> ZRange {
        self.limit = Some((offset, count));
        self
    }

    /// The arguments after the key (`start stop [BYSCORE | BYLEX] [REV]
    /// [LIMIT offset count] [WITHSCORES]`), for a binding that queues this
    /// `ZRANGE` in a pipeline.
    pub fn args(&self, withscores: bool) -> Vec<String> {
        let mut args = vec![self.start.clone(), self.stop.clone()];
        args.extend(self.by.map(str::to_owned));
        if self.rev {
            args.push("REV".into());
        }
        if let Some((offset, count)) = self.limit {
            args.extend(["LIMIT".into(), offset.to_string(), count.to_string()]);
        }
        if withscores {
            args.push("WITHSCORES".into());
        }
        args
    }
}

/// `name key` followed by `rest`, as argument slices.
fn with_key<'a>(name: &'static str, key: &'a [u8], rest: impl IntoIterator<Item = &'a [u8]>) -> Vec<&'a [u8]> {
    let mut args = vec![name.as_bytes(), key];
    args.extend(rest);
    args
}

impl Cache {
    /// `HGET`, ready form (see [`Cache::hget`]).
    pub fn hget_ready(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<Ready<Option<Bytes>>> {
        self.typed_read(&[b"HGET", key.as_ref(), field.as_ref()], |r| maybe_bytes_of("HGET", r))
    }

    /// One field of a hash (decompressed like `get`), cached in L1 under the
    /// hash's key.
    pub async fn hget(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.hget_ready(key, field)?.await
    }

    /// `HMGET`, ready form (see [`Cache::hmget`]).
    pub fn hmget_ready<F: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        fields: &[F],
    ) -> Result<Ready<Vec<Option<Bytes>>>> {
        if fields.is_empty() {
            // No fields: nothing to ask, in every language (the key is still checked).
            self.inner.check_usable()?;
            super::keys::check_key(key.as_ref())?;
            return Ok(Ready::Now(Vec::new()));
        }
        let args = with_key("HMGET", key.as_ref(), fields.iter().map(AsRef::as_ref));
        self.typed_read(&args, |r| maybe_bytes_list_of("HMGET", r))
    }

    /// Several fields of a hash, in order; cached as one reply per field list.
    pub async fn hmget<F: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[F]) -> Result<Vec<Option<Bytes>>> {
        self.hmget_ready(key, fields)?.await
    }

    /// `HGETALL`, ready form (see [`Cache::hgetall`]).
    pub fn hgetall_ready(&self, key: impl AsRef<[u8]>) -> Result<Ready<Vec<(Bytes, Bytes)>>> {
        self.typed_read(&[b"HGETALL", key.as_ref()], |r| pairs_of("HGETALL", r))
    }

    /// Every field of a hash, in the server's order; cached.
    pub async fn hgetall(&self, key: impl AsRef<[u8]>) -> Result<Vec<(Bytes, Bytes)>> {
        self.hgetall_ready(key)?.await
    }

    /// `HEXISTS`, ready form.
    pub fn hexists_ready(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<Ready<bool>> {
        self.typed_read(&[b"HEXISTS", key.as_ref(), field.as_ref()], |r| flag_of("HEXISTS", r))
    }

    /// Whether a hash has `field`; cached.
    pub async fn hexists(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<bool> {
        self.hexists_ready(key, field)?.await
    }

    /// `HLEN`, ready form.
    pub fn hlen_ready(&self, key: impl AsRef<[u8]>) -> Result<Ready<u64>> {
        self.typed_read(&[b"HLEN", key.as_ref()], |r| count_of("HLEN", r))
    }

    /// The number of fields of a hash (0 if it does not exist); cached.
    pub async fn hlen(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.hlen_ready(key)?.await
    }

    /// `HKEYS`, ready form.
    pub fn hkeys_ready(&self, key: impl AsRef<[u8]>) -> Result<Ready<Vec<Bytes>>> {
        self.typed_read(&[b"HKEYS", key.as_ref()], |r| bytes_list_of("HKEYS", r))
    }

    /// The field names of a hash; cached.
    pub async fn hkeys(&self, key: impl AsRef<[u8]>) -> Result<Vec<Bytes>> {
        self.hkeys_ready(key)?.await
    }

    /// `HVALS`, ready form.
    pub fn hvals_ready(&self, key: impl AsRef<[u8]>) -> Result<Ready<Vec<Bytes>>> {
        self.typed_read(&[b"HVALS", key.as_ref()], |r| bytes_list_of("HVALS", r))
    }

    /// The values of a hash (decompressed like `get`); cached.
    pub async fn hvals(&self, key: impl AsRef<[u8]>) -> Result<Vec<Bytes>> {
        self.hvals_ready(key)?.await
    }

    /// `SMEMBERS`, ready form.
    pub fn smembers_ready(&self, key: impl AsRef<[u8]>) -> Result<Ready<Vec<Bytes>>> {
        self.typed_read(&[b"SMEMBERS", key.as_ref()], |r| bytes_list_of("SMEMBERS", r))
    }

    /// The members of a set, in the server's order; cached.
    pub async fn smembers(&self, key: impl AsRef<[u8]>) -> Result<Vec<Bytes>> {
        self.smembers_ready(key)?.await
    }

    /// `SISMEMBER`, ready form.
    pub fn sismember_ready(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<Ready<bool>> {
        self.typed_read(&[b"SISMEMBER", key.as_ref(), member.as_ref()], |r| flag_of("SISMEMBER", r))
    }

    /// Whether `member` is in the set; cached per member.
    pub async fn sismember(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<bool> {
        self.sismember_ready(key, member)?.await
    }

    /// `SMISMEMBER`, ready form.
    pub fn smismember_ready<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<Ready<Vec<bool>>> {
        let args = with_key("SMISMEMBER", key.as_ref(), members.iter().map(AsRef::as_ref));
        self.typed_read(&args, |r| flags_of("SMISMEMBER", r))
    }

    /// Whether each of `members` is in the set, in order; cached.
    pub async fn smismember<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<Vec<bool>> {
        self.smismember_ready(key, members)?.await
    }

    /// `SCARD`, ready form.
    pub fn scard_ready(&self, key: impl AsRef<[u8]>) -> Result<Ready<u64>> {
        self.typed_read(&[b"SCARD", key.as_ref()], |r| count_of("SCARD", r))
    }

    /// The number of members of a set; cached.
    pub async fn scard(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.scard_ready(key)?.await
    }

    /// `ZSCORE`, ready form.
    pub fn zscore_ready(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<Ready<Option<f64>>> {
        self.typed_read(&[b"ZSCORE", key.as_ref(), member.as_ref()], |r| maybe_score_of("ZSCORE", r))
    }

    /// The score of `member` (`None` if it or the key is missing); cached.
    pub async fn zscore(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<Option<f64>> {
        self.zscore_ready(key, member)?.await
    }

    /// `ZMSCORE`, ready form.
    pub fn zmscore_ready<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[M],
    ) -> Result<Ready<Vec<Option<f64>>>> {
        let args = with_key("ZMSCORE", key.as_ref(), members.iter().map(AsRef::as_ref));
        self.typed_read(&args, |r| maybe_scores_of("ZMSCORE", r))
    }

    /// The scores of `members`, in order; cached.
    pub async fn zmscore<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<Vec<Option<f64>>> {
        self.zmscore_ready(key, members)?.await
    }

    /// `ZRANGE` without scores, ready form.
    pub fn zrange_ready(&self, key: impl AsRef<[u8]>, range: &ZRange) -> Result<Ready<Vec<Bytes>>> {
        let rest = range.args(false);
        let args = with_key("ZRANGE", key.as_ref(), rest.iter().map(String::as_bytes));
        self.typed_read(&args, |r| bytes_list_of("ZRANGE", r))
    }

    /// The members of a sorted set in `range`; cached per range.
    ///
    /// ```
    /// # nearcache::testing::run_with_redis(|url| async move {
    /// use nearcache::ZRange;
    /// let cache = nearcache::Cache::builder().url(url).build()?;
    /// cache.zadd("board", &[(3.0, "ada"), (5.0, "bob"), (1.0, "cy")]).await?;
    /// assert_eq!(cache.zrange("board", &ZRange::index(0, 0).rev()).await?, vec!["bob"]);
    /// let low = cache.zrange_withscores("board", &ZRange::score("-inf", 3)).await?;
    /// assert_eq!(low, vec![("cy".into(), 1.0), ("ada".into(), 3.0)]);
    /// # Ok(()) });
    /// ```
    pub async fn zrange(&self, key: impl AsRef<[u8]>, range: &ZRange) -> Result<Vec<Bytes>> {
        self.zrange_ready(key, range)?.await
    }

    /// `ZRANGE ... WITHSCORES`, ready form.
    pub fn zrange_withscores_ready(&self, key: impl AsRef<[u8]>, range: &ZRange) -> Result<Ready<Vec<(Bytes, f64)>>> {
        let rest = range.args(true);
        let args = with_key("ZRANGE", key.as_ref(), rest.iter().map(String::as_bytes));
        self.typed_read(&args, |r| scored_of("ZRANGE", r))
    }

    /// The members of a sorted set in `range` with their scores; cached.
    pub async fn zrange_withscores(&self, key: impl AsRef<[u8]>, range: &ZRange) -> Result<Vec<(Bytes, f64)>> {
        self.zrange_withscores_ready(key, range)?.await
    }

    /// `ZRANK`, ready form.
    pub fn zrank_ready(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<Ready<Option<u64>>> {
        self.typed_read(&[b"ZRANK", key.as_ref(), member.as_ref()], |r| maybe_count_of("ZRANK", r))
    }

    /// The rank of `member`, lowest score first (`None` if missing); cached.
    pub async fn zrank(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<Option<u64>> {
        self.zrank_ready(key, member)?.await
    }

    /// `ZREVRANK`, ready form.
    pub fn zrevrank_ready(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<Ready<Option<u64>>> {
        self.typed_read(&[b"ZREVRANK", key.as_ref(), member.as_ref()], |r| maybe_count_of("ZREVRANK", r))
    }

    /// The rank of `member`, highest score first (`None` if missing); cached.
    pub async fn zrevrank(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<Option<u64>> {
        self.zrevrank_ready(key, member)?.await
    }

    /// `ZCARD`, ready form.
    pub fn zcard_ready(&self, key: impl AsRef<[u8]>) -> Result<Ready<u64>> {
        self.typed_read(&[b"ZCARD", key.as_ref()], |r| count_of("ZCARD", r))
    }

    /// The number of members of a sorted set; cached.
    pub async fn zcard(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.zcard_ready(key)?.await
    }

    /// `ZCOUNT`, ready form.
    pub fn zcount_ready(&self, key: impl AsRef<[u8]>, min: impl Display, max: impl Display) -> Result<Ready<u64>> {
        let (min, max) = (min.to_string(), max.to_string());
        self.typed_read(&[b"ZCOUNT", key.as_ref(), min.as_bytes(), max.as_bytes()], |r| count_of("ZCOUNT", r))
    }

    /// How many members have scores from `min` to `max` (numbers, `"-inf"`,
    /// `"+inf"`, `"(x"` exclusive); cached.
    pub async fn zcount(&self, key: impl AsRef<[u8]>, min: impl Display, max: impl Display) -> Result<u64> {
        self.zcount_ready(key, min, max)?.await
    }

    /// `LRANGE`, ready form.
    pub fn lrange_ready(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<Ready<Vec<Bytes>>> {
        let (start, stop) = (start.to_string(), stop.to_string());
        self.typed_read(&[b"LRANGE", key.as_ref(), start.as_bytes(), stop.as_bytes()], |r| bytes_list_of("LRANGE", r))
    }

    /// The elements of a list from `start` to `stop` inclusive (negative
    /// from the end); cached per range.
    pub async fn lrange(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<Vec<Bytes>> {
        self.lrange_ready(key, start, stop)?.await
    }

    /// `LINDEX`, ready form.
    pub fn lindex_ready(&self, key: impl AsRef<[u8]>, index: i64) -> Result<Ready<Option<Bytes>>> {
        let index = index.to_string();
        self.typed_read(&[b"LINDEX", key.as_ref(), index.as_bytes()], |r| maybe_bytes_of("LINDEX", r))
    }

    /// The element at `index` (negative from the end); cached.
    pub async fn lindex(&self, key: impl AsRef<[u8]>, index: i64) -> Result<Option<Bytes>> {
        self.lindex_ready(key, index)?.await
    }

    /// `LLEN`, ready form.
    pub fn llen_ready(&self, key: impl AsRef<[u8]>) -> Result<Ready<u64>> {
        self.typed_read(&[b"LLEN", key.as_ref()], |r| count_of("LLEN", r))
    }

    /// The length of a list; cached.
    pub async fn llen(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.llen_ready(key)?.await
    }

    /// `EXISTS` of one key, ready form.
    pub fn exists_ready(&self, key: impl AsRef<[u8]>) -> Result<Ready<bool>> {
        self.typed_read(&[b"EXISTS", key.as_ref()], |r| flag_of("EXISTS", r))
    }

    /// Whether `key` exists (of any type); cached.
    pub async fn exists(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.exists_ready(key)?.await
    }

    /// `STRLEN`, ready form.
    pub fn strlen_ready(&self, key: impl AsRef<[u8]>) -> Result<Ready<u64>> {
        self.typed_read(&[b"STRLEN", key.as_ref()], |r| count_of("STRLEN", r))
    }

    /// The length of the string as Redis stores it; cached. For a value
    /// nearcache compressed this is the frame's length, not the value's
    /// (docs/design.md, "Cached reads").
    pub async fn strlen(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.strlen_ready(key)?.await
    }

    /// `TYPE`, ready form.
    pub fn key_type_ready(&self, key: impl AsRef<[u8]>) -> Result<Ready<String>> {
        self.typed_read(&[b"TYPE", key.as_ref()], |r| status_of("TYPE", r))
    }

    /// The type of `key` as Redis names it (`"string"`, `"hash"`, ...,
    /// `"none"` when missing); cached. (`type` is a Rust keyword.)
    pub async fn key_type(&self, key: impl AsRef<[u8]>) -> Result<String> {
        self.key_type_ready(key)?.await
    }

    /// `GETBIT`, ready form.
    pub fn getbit_ready(&self, key: impl AsRef<[u8]>, offset: u64) -> Result<Ready<bool>> {
        let offset = offset.to_string();
        self.typed_read(&[b"GETBIT", key.as_ref(), offset.as_bytes()], |r| flag_of("GETBIT", r))
    }

    /// The bit at `offset` of the string as Redis stores it; cached.
    pub async fn getbit(&self, key: impl AsRef<[u8]>, offset: u64) -> Result<bool> {
        self.getbit_ready(key, offset)?.await
    }

    /// `BITCOUNT`, ready form.
    pub fn bitcount_ready(&self, key: impl AsRef<[u8]>, bytes: Option<(i64, i64)>) -> Result<Ready<u64>> {
        let range = bytes.map(|(start, end)| (start.to_string(), end.to_string()));
        let mut args: Vec<&[u8]> = vec![b"BITCOUNT", key.as_ref()];
        if let Some((start, end)) = &range {
            args.extend([start.as_bytes(), end.as_bytes()]);
        }
        self.typed_read(&args, |r| count_of("BITCOUNT", r))
    }

    /// The number of set bits of the string, optionally within a byte
    /// range (`start`, `end` inclusive, negative from the end); cached.
    pub async fn bitcount(&self, key: impl AsRef<[u8]>, bytes: Option<(i64, i64)>) -> Result<u64> {
        self.bitcount_ready(key, bytes)?.await
    }
}
