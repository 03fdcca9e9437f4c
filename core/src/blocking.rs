//! A blocking facade over [`crate::Cache`], for callers without an async
//! runtime (the C and Python sync bindings use it).
//!
//! An L1 hit is answered on the calling thread with no runtime involvement;
//! anything else runs the async method on the core runtime and waits.
//! Calling these from inside an async runtime returns
//! [`crate::ErrorKind::InvalidArgument`] instead of deadlocking it.

use std::fmt::Display;
use std::time::Duration;

use bytes::Bytes;

use crate::cache::{self, SetOptions, ZRange};
use crate::command::Reply;
use crate::config::Config;
use crate::error::Result;
use crate::expiry::Ttl;
use crate::l1::Lookup;
use crate::runtime::block_on;
use crate::stats::Stats;

/// The blocking twin of [`crate::Cache`]; same state, same semantics.
///
/// ```
/// # nearcache::testing::with_redis(|url| {
/// use nearcache::blocking::Cache;
/// use nearcache::SetOptions;
///
/// let cache = Cache::builder().url(url).build_blocking()?;
/// cache.set("greeting", "hello", SetOptions::default())?;
/// assert_eq!(cache.get("greeting")?.as_deref(), Some(&b"hello"[..]));
/// # Ok(()) });
/// ```
#[derive(Clone, Debug)]
pub struct Cache {
    inner: cache::Cache,
}

impl From<cache::Cache> for Cache {
    fn from(inner: cache::Cache) -> Self {
        Cache { inner }
    }
}

impl cache::CacheBuilder {
    /// Builds a [`Cache`] for blocking use.
    pub fn build_blocking(self) -> Result<Cache> {
        self.build().map(Cache::from)
    }
}

impl Cache {
    /// A builder with the default configuration (see [`crate::CacheBuilder`]).
    pub fn builder() -> cache::CacheBuilder {
        cache::Cache::builder()
    }

    /// Creates a cache; no I/O happens until the first command.
    pub fn new(config: Config) -> Result<Cache> {
        cache::Cache::new(config).map(Cache::from)
    }

    /// The async cache underneath (same L1, same connections).
    pub fn as_async(&self) -> &cache::Cache {
        &self.inner
    }

    /// See [`crate::Cache::connect`].
    pub fn connect(&self) -> Result<()> {
        block_on(self.inner.connect())?
    }

    /// See [`crate::Cache::get_local`].
    #[inline]
    pub fn get_local(&self, key: &[u8]) -> Result<Lookup> {
        self.inner.get_local(key)
    }

    /// See [`crate::Cache::with_local`].
    #[inline]
    pub fn with_local<R>(&self, key: &[u8], f: impl FnOnce(crate::LocalRef<'_>) -> R) -> Result<R> {
        self.inner.with_local(key, f)
    }

    /// [`Cache::get`], handing the value to `convert` borrowed instead of
    /// returning it owned: from L1's memory on a hit (no copy, no reference
    /// count; `convert` runs inside the L1 read, see
    /// [`crate::Cache::with_local`]), from the reply on a miss. `None` is a
    /// key Redis does not have.
    ///
    /// ```
    /// # nearcache::testing::with_redis(|url| {
    /// let cache = nearcache::blocking::Cache::builder().url(url).build_blocking()?;
    /// cache.set("k", "value", Default::default())?;
    /// let mut buf = Vec::new();
    /// let found = cache.get_with(b"k", |v| v.map(|v| buf.extend_from_slice(v)).is_some())?;
    /// assert!(found);
    /// assert_eq!(buf, b"value");
    /// # Ok(()) });
    /// ```
    pub fn get_with<T>(&self, key: &[u8], mut convert: impl FnMut(Option<&[u8]>) -> T) -> Result<T> {
        match self.inner.get_ready_with(key, &mut convert)? {
            crate::ReadyWith::Now(converted) => Ok(converted),
            crate::ReadyWith::Later(pending) => Ok(convert(pending.wait()?.as_deref())),
        }
    }

    /// See [`crate::Cache::get`]. An L1 hit never enters the runtime.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.inner.get_ready(key.as_ref())?.wait()
    }

    /// See [`crate::Cache::get_many`].
    pub fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Bytes>>> {
        block_on(self.inner.get_many(keys))?
    }

    /// See [`crate::Cache::set`].
    pub fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>, options: SetOptions) -> Result<bool> {
        block_on(self.inner.set(key, value, options))?
    }

    /// See [`crate::Cache::set_many`].
    pub fn set_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, items: &[(K, V)], ttl: Option<Duration>) -> Result<()> {
        block_on(self.inner.set_many(items, ttl))?
    }

    /// See [`crate::Cache::delete`].
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        block_on(self.inner.delete(key))?
    }

    /// See [`crate::Cache::delete_many`].
    pub fn delete_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64> {
        block_on(self.inner.delete_many(keys))?
    }

    /// See [`crate::Cache::expire`].
    pub fn expire(&self, key: impl AsRef<[u8]>, ttl: Duration) -> Result<bool> {
        block_on(self.inner.expire(key, ttl))?
    }

    /// See [`crate::Cache::ttl`].
    pub fn ttl(&self, key: impl AsRef<[u8]>) -> Result<Ttl> {
        block_on(self.inner.ttl(key))?
    }

    /// See [`crate::Cache::hset`].
    pub fn hset<F: AsRef<[u8]>, V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[(F, V)]) -> Result<u64> {
        block_on(self.inner.hset(key, fields))?
    }

    /// See [`crate::Cache::hdel`].
    pub fn hdel<F: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[F]) -> Result<u64> {
        block_on(self.inner.hdel(key, fields))?
    }

    /// See [`crate::Cache::read`]. An L1 hit never enters the runtime.
    pub fn read<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Reply> {
        self.inner.read_ready(args)?.wait()
    }

    /// See [`crate::Cache::hget`]. An L1 hit never enters the runtime (so
    /// for every cached read below).
    pub fn hget(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.inner.hget_ready(key, field)?.wait()
    }

    /// See [`crate::Cache::hmget`].
    pub fn hmget<F: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[F]) -> Result<Vec<Option<Bytes>>> {
        self.inner.hmget_ready(key, fields)?.wait()
    }

    /// See [`crate::Cache::hgetall`].
    pub fn hgetall(&self, key: impl AsRef<[u8]>) -> Result<Vec<(Bytes, Bytes)>> {
        self.inner.hgetall_ready(key)?.wait()
    }

    /// See [`crate::Cache::hexists`].
    pub fn hexists(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<bool> {
        self.inner.hexists_ready(key, field)?.wait()
    }

    /// See [`crate::Cache::hlen`].
    pub fn hlen(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.inner.hlen_ready(key)?.wait()
    }

    /// See [`crate::Cache::hkeys`].
    pub fn hkeys(&self, key: impl AsRef<[u8]>) -> Result<Vec<Bytes>> {
        self.inner.hkeys_ready(key)?.wait()
    }

    /// See [`crate::Cache::hvals`].
    pub fn hvals(&self, key: impl AsRef<[u8]>) -> Result<Vec<Bytes>> {
        self.inner.hvals_ready(key)?.wait()
    }

    /// See [`crate::Cache::smembers`].
    pub fn smembers(&self, key: impl AsRef<[u8]>) -> Result<Vec<Bytes>> {
        self.inner.smembers_ready(key)?.wait()
    }

    /// See [`crate::Cache::sismember`].
    pub fn sismember(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<bool> {
        self.inner.sismember_ready(key, member)?.wait()
    }

    /// See [`crate::Cache::smismember`].
    pub fn smismember<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<Vec<bool>> {
        self.inner.smismember_ready(key, members)?.wait()
    }

    /// See [`crate::Cache::scard`].
    pub fn scard(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.inner.scard_ready(key)?.wait()
    }

    /// See [`crate::Cache::zscore`].
    pub fn zscore(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<Option<f64>> {
        self.inner.zscore_ready(key, member)?.wait()
    }

    /// See [`crate::Cache::zmscore`].
    pub fn zmscore<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<Vec<Option<f64>>> {
        self.inner.zmscore_ready(key, members)?.wait()
    }

    /// See [`crate::Cache::zrange`].
    pub fn zrange(&self, key: impl AsRef<[u8]>, range: &ZRange) -> Result<Vec<Bytes>> {
        self.inner.zrange_ready(key, range)?.wait()
    }

    /// See [`crate::Cache::zrange_withscores`].
    pub fn zrange_withscores(&self, key: impl AsRef<[u8]>, range: &ZRange) -> Result<Vec<(Bytes, f64)>> {
        self.inner.zrange_withscores_ready(key, range)?.wait()
    }

    /// See [`crate::Cache::zrank`].
    pub fn zrank(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<Option<u64>> {
        self.inner.zrank_ready(key, member)?.wait()
    }

    /// See [`crate::Cache::zrevrank`].
    pub fn zrevrank(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<Option<u64>> {
        self.inner.zrevrank_ready(key, member)?.wait()
    }

    /// See [`crate::Cache::zcard`].
    pub fn zcard(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.inner.zcard_ready(key)?.wait()
    }

    /// See [`crate::Cache::zcount`].
    pub fn zcount(&self, key: impl AsRef<[u8]>, min: impl Display, max: impl Display) -> Result<u64> {
        self.inner.zcount_ready(key, min, max)?.wait()
    }

    /// See [`crate::Cache::lrange`].
    pub fn lrange(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<Vec<Bytes>> {
        self.inner.lrange_ready(key, start, stop)?.wait()
    }

    /// See [`crate::Cache::lindex`].
    pub fn lindex(&self, key: impl AsRef<[u8]>, index: i64) -> Result<Option<Bytes>> {
        self.inner.lindex_ready(key, index)?.wait()
    }

    /// See [`crate::Cache::llen`].
    pub fn llen(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.inner.llen_ready(key)?.wait()
    }

    /// See [`crate::Cache::exists`].
    pub fn exists(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.inner.exists_ready(key)?.wait()
    }

    /// See [`crate::Cache::strlen`].
    pub fn strlen(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.inner.strlen_ready(key)?.wait()
    }

    /// See [`crate::Cache::key_type`].
    pub fn key_type(&self, key: impl AsRef<[u8]>) -> Result<String> {
        self.inner.key_type_ready(key)?.wait()
    }

    /// See [`crate::Cache::getbit`].
    pub fn getbit(&self, key: impl AsRef<[u8]>, offset: u64) -> Result<bool> {
        self.inner.getbit_ready(key, offset)?.wait()
    }

    /// See [`crate::Cache::bitcount`].
    pub fn bitcount(&self, key: impl AsRef<[u8]>, bytes: Option<(i64, i64)>) -> Result<u64> {
        self.inner.bitcount_ready(key, bytes)?.wait()
    }

    /// See [`crate::Cache::incr`].
    pub fn incr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        block_on(self.inner.incr(key))?
    }

    /// See [`crate::Cache::incrby`].
    pub fn incrby(&self, key: impl AsRef<[u8]>, by: i64) -> Result<i64> {
        block_on(self.inner.incrby(key, by))?
    }

    /// See [`crate::Cache::decr`].
    pub fn decr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        block_on(self.inner.decr(key))?
    }

    /// See [`crate::Cache::decrby`].
    pub fn decrby(&self, key: impl AsRef<[u8]>, by: i64) -> Result<i64> {
        block_on(self.inner.decrby(key, by))?
    }

    /// See [`crate::Cache::hincrby`].
    pub fn hincrby(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>, by: i64) -> Result<i64> {
        block_on(self.inner.hincrby(key, field, by))?
    }

    /// See [`crate::Cache::sadd`].
    pub fn sadd<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<u64> {
        block_on(self.inner.sadd(key, members))?
    }

    /// See [`crate::Cache::srem`].
    pub fn srem<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<u64> {
        block_on(self.inner.srem(key, members))?
    }

    /// See [`crate::Cache::zadd`].
    pub fn zadd<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[(f64, M)]) -> Result<u64> {
        block_on(self.inner.zadd(key, members))?
    }

    /// See [`crate::Cache::zrem`].
    pub fn zrem<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<u64> {
        block_on(self.inner.zrem(key, members))?
    }

    /// See [`crate::Cache::zincrby`].
    pub fn zincrby(&self, key: impl AsRef<[u8]>, by: f64, member: impl AsRef<[u8]>) -> Result<f64> {
        block_on(self.inner.zincrby(key, by, member))?
    }

    /// See [`crate::Cache::lpush`].
    pub fn lpush<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, values: &[V]) -> Result<u64> {
        block_on(self.inner.lpush(key, values))?
    }

    /// See [`crate::Cache::rpush`].
    pub fn rpush<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, values: &[V]) -> Result<u64> {
        block_on(self.inner.rpush(key, values))?
    }

    /// See [`crate::Cache::lpop`].
    pub fn lpop(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        block_on(self.inner.lpop(key))?
    }

    /// See [`crate::Cache::rpop`].
    pub fn rpop(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        block_on(self.inner.rpop(key))?
    }

    /// See [`crate::Cache::ltrim`].
    pub fn ltrim(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<()> {
        block_on(self.inner.ltrim(key, start, stop))?
    }

    /// See [`crate::Cache::persist`].
    pub fn persist(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        block_on(self.inner.persist(key))?
    }

    /// See [`crate::Cache::get_or_load`]; the loader runs on the calling
    /// thread, at most once per key across concurrent callers.
    pub fn get_or_load<F, E>(&self, key: impl AsRef<[u8]>, ttl: Option<Duration>, loader: F) -> Result<Bytes>
    where
        F: FnOnce() -> std::result::Result<Bytes, E>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let key = key.as_ref();
        if let Lookup::Hit(value) = self.inner.get_local(key)? {
            return Ok(value);
        }
        self.get_or_load_after_miss(key, ttl, loader)
    }

    /// [`Cache::get_or_load`] for callers that already asked
    /// [`Cache::get_local`] and got no value; see
    /// [`crate::Cache::get_or_load_after_miss`].
    pub fn get_or_load_after_miss<F, E>(&self, key: impl AsRef<[u8]>, ttl: Option<Duration>, loader: F) -> Result<Bytes>
    where
        F: FnOnce() -> std::result::Result<Bytes, E>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        block_on(self.inner.get_or_load_after_miss(key, ttl, || std::future::ready(loader())))?
    }

    /// See [`crate::Cache::invalidate_local`].
    pub fn invalidate_local<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<()> {
        self.inner.invalidate_local(keys)
    }

    /// See [`crate::Cache::invalidate_local_all`].
    pub fn invalidate_local_all(&self) -> Result<()> {
        self.inner.invalidate_local_all()
    }

    /// Iterates over keys matching `pattern` with SCAN (never KEYS).
    pub fn scan(&self, pattern: Option<&[u8]>) -> Scan {
        Scan { inner: self.inner.scan(pattern) }
    }

    /// See [`crate::Cache::delete_prefix`].
    pub fn delete_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<u64> {
        block_on(self.inner.delete_prefix(prefix))?
    }

    /// See [`crate::Cache::command`].
    pub fn command<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Reply> {
        block_on(self.inner.command(args))?
    }

    /// See [`crate::Cache::pipeline`].
    ///
    /// ```
    /// # nearcache::testing::with_redis(|url| {
    /// let cache = nearcache::blocking::Cache::builder().url(url).build_blocking()?;
    /// let mut p = cache.pipeline();
    /// p.cmd(&["SET", "a", "1"])?.cmd(&["INCR", "a"])?;
    /// let replies = p.execute()?;
    /// assert_eq!(replies[1].as_ref().ok(), Some(&nearcache::Reply::Int(2)));
    /// # Ok(()) });
    /// ```
    pub fn pipeline(&self) -> Pipeline {
        Pipeline { inner: self.inner.pipeline() }
    }

    /// See [`crate::Cache::transaction_pipeline`].
    pub fn transaction_pipeline(&self) -> Pipeline {
        Pipeline { inner: self.inner.transaction_pipeline() }
    }

    /// See [`crate::Cache::register_script`].
    pub fn register_script(&self, lua: impl AsRef<[u8]>) -> Script {
        Script { inner: self.inner.register_script(lua) }
    }

    /// See [`crate::Cache::watch`].
    pub fn watch<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Transaction> {
        block_on(self.inner.watch(keys))?.map(|inner| Transaction { inner })
    }

    /// See [`crate::Cache::transaction`]; `body` runs on the calling thread.
    ///
    /// ```
    /// # nearcache::testing::with_redis(|url| {
    /// let cache = nearcache::blocking::Cache::builder().url(url).build_blocking()?;
    /// let ((), replies) = cache.transaction(&["n"], |tx| {
    ///     tx.command(&["GET", "n"])?; // runs now
    ///     tx.multi()?;
    ///     tx.queue(&["INCR", "n"])
    /// })?;
    /// assert_eq!(replies[0].as_ref().ok(), Some(&nearcache::Reply::Int(1)));
    /// # Ok(()) });
    /// ```
    pub fn transaction<K, F, T>(&self, keys: &[K], body: F) -> Result<(T, Vec<Result<Reply>>)>
    where
        K: AsRef<[u8]>,
        F: FnMut(&Transaction) -> Result<T>,
    {
        self.transaction_with(keys, self.inner.transaction_retries(), body)
    }

    /// See [`crate::Cache::transaction_with`]; a delay is slept on the
    /// calling thread.
    pub fn transaction_with<K, F, T>(
        &self,
        keys: &[K],
        mut retries: crate::TransactionRetries,
        mut body: F,
    ) -> Result<(T, Vec<Result<Reply>>)>
    where
        K: AsRef<[u8]>,
        F: FnMut(&Transaction) -> Result<T>,
    {
        loop {
            let attempt = (|| {
                let tx = self.watch(keys)?;
                let value = match body(&tx) {
                    Ok(value) => value,
                    Err(e) => {
                        tx.reset();
                        return Ok(Err(e)); // the body's error ends the loop as is
                    }
                };
                tx.exec().map(|replies| Ok((value, replies)))
            })();
            match attempt {
                Ok(done) => return done,
                Err(e) => {
                    let delay = retries.retry(e).map_err(|e| self.inner.count_give_up(e))?;
                    if !delay.is_zero() {
                        std::thread::sleep(delay);
                    }
                }
            }
        }
    }

    /// See [`crate::Cache::stats`].
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// See [`crate::Cache::stats_prometheus`].
    pub fn stats_prometheus(&self) -> String {
        self.inner.stats_prometheus()
    }

    /// See [`crate::Cache::close`].
    pub fn close(&self) {
        self.inner.close()
    }

    /// The effective configuration.
    pub fn config(&self) -> &Config {
        self.inner.config()
    }
}

/// The blocking twin of [`crate::Pipeline`].
#[derive(Debug)]
pub struct Pipeline {
    inner: crate::Pipeline,
}

impl Pipeline {
    /// See [`crate::Pipeline::cmd`].
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<&mut Pipeline> {
        self.inner.cmd(args)?;
        Ok(self)
    }

    /// See [`crate::Pipeline::script`].
    pub fn script<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        &mut self,
        script: &Script,
        keys: &[K],
        args: &[A],
    ) -> Result<&mut Pipeline> {
        self.inner.script(&script.inner, keys, args)?;
        Ok(self)
    }

    /// See [`crate::Pipeline::len`].
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// See [`crate::Pipeline::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// See [`crate::Pipeline::is_transaction`].
    pub fn is_transaction(&self) -> bool {
        self.inner.is_transaction()
    }

    /// See [`crate::Pipeline::clear`].
    pub fn clear(&mut self) {
        self.inner.clear()
    }

    /// See [`crate::Pipeline::execute`].
    pub fn execute(&mut self) -> Result<Vec<Result<Reply>>> {
        block_on(self.inner.execute())?
    }
}

/// The blocking twin of [`crate::Script`].
#[derive(Clone, Debug)]
pub struct Script {
    inner: crate::Script,
}

impl Script {
    /// See [`crate::Script::sha1`].
    pub fn sha1(&self) -> &str {
        self.inner.sha1()
    }

    /// See [`crate::Script::source`].
    pub fn source(&self) -> &[u8] {
        self.inner.source()
    }

    /// See [`crate::Script::call`].
    pub fn call<K: AsRef<[u8]>, A: AsRef<[u8]>>(&self, keys: &[K], args: &[A]) -> Result<Reply> {
        block_on(self.inner.call(keys, args))?
    }
}

/// The blocking twin of [`crate::Transaction`]; every call blocks.
#[derive(Clone, Debug)]
pub struct Transaction {
    inner: crate::Transaction,
}

impl Transaction {
    /// The async transaction underneath.
    pub fn as_async(&self) -> &crate::Transaction {
        &self.inner
    }

    /// See [`crate::Transaction::watch`].
    pub fn watch<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<()> {
        block_on(self.inner.watch(keys))?
    }

    /// See [`crate::Transaction::command`].
    pub fn command<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Reply> {
        block_on(self.inner.command(args))?
    }

    /// See [`crate::Transaction::multi`].
    pub fn multi(&self) -> Result<()> {
        self.inner.multi()
    }

    /// See [`crate::Transaction::queue`].
    pub fn queue<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<()> {
        self.inner.queue(args)
    }

    /// See [`crate::Transaction::queue_script`].
    pub fn queue_script<K: AsRef<[u8]>, A: AsRef<[u8]>>(&self, script: &Script, keys: &[K], args: &[A]) -> Result<()> {
        self.inner.queue_script(&script.inner, keys, args)
    }

    /// See [`crate::Transaction::is_queueing`].
    pub fn is_queueing(&self) -> bool {
        self.inner.is_queueing()
    }

    /// See [`crate::Transaction::queued`].
    pub fn queued(&self) -> usize {
        self.inner.queued()
    }

    /// See [`crate::Transaction::exec`].
    pub fn exec(&self) -> Result<Vec<Result<Reply>>> {
        block_on(self.inner.exec())?
    }

    /// See [`crate::Transaction::reset`]; from inside an async runtime the
    /// connection is closed instead of reset.
    pub fn reset(&self) {
        if block_on(self.inner.reset()).is_err() {
            self.inner.abandon();
        }
    }
}

/// A blocking iterator over SCAN; yields `Result<Bytes>` per key.
pub struct Scan {
    inner: cache::Scan,
}

impl Iterator for Scan {
    type Item = Result<Bytes>;

    fn next(&mut self) -> Option<Self::Item> {
        match block_on(self.inner.next()) {
            Ok(Ok(Some(key))) => Some(Ok(key)),
            Ok(Ok(None)) => None,
            Ok(Err(e)) | Err(e) => Some(Err(e)),
        }
    }
}
