//! `Cache`: the JavaScript class over `nearcache::Cache`.
//!
//! Each method takes typed arguments (`convert`), makes one call into core
//! and converts its result: [`JsCache::call`] for the sync methods (throws),
//! [`JsCache::promise`] for the async ones (a Promise settled from core's
//! runtime, see `settle`; argument errors reject it). Both catch panics as
//! core's `Internal` error.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use napi::bindgen_prelude::{Either, Either3, Either4, FromNapiValue, Function, Null, ToNapiValue, Undefined};
use napi::{sys, Env};
use napi_derive::napi;
use nearcache::{Lookup, Ready};

use crate::convert::{
    self, Arg, Batch, Buffer, CacheOptions, ChangeWords, CommandArgs, Entries, Field, FieldOrFields, FieldValues,
    Fields, Key, KeyOrKeys, Keys, Path, Pattern, Payload, Prefix, Record, Reply, SetOptions, Slots, Stats, Ttl,
    TtlOptions, Uint8Array,
};
use crate::error::{guard, ArgError, ArgResult, Failure, Result};
use crate::settle::{self, Promise};

/// A Redis client-side cache: an in-process L1 tier in front of Redis,
/// kept coherent by server-assisted invalidation.
#[napi(js_name = "Cache")]
pub struct JsCache {
    pub(crate) cache: nearcache::Cache,
    /// Hits that index.js answered from its own copies without calling
    /// core (see `_view`), added to core's counters in `stats()`.
    js_hits: AtomicU64,
    js_negative_hits: AtomicU64,
}

/// A napi failure (building a value or a Promise) as core's `Internal` error.
fn napi_failure(err: napi::Error) -> Failure {
    Failure::Core(nearcache::Error::new(nearcache::ErrorKind::Internal, err.reason))
}

impl JsCache {
    fn wrap(cache: nearcache::Cache) -> Self {
        JsCache { cache, js_hits: AtomicU64::new(0), js_negative_hits: AtomicU64::new(0) }
    }

    fn stats_with_js_hits(&self) -> nearcache::Stats {
        let mut stats = self.cache.stats();
        stats.l1_hits += self.js_hits.load(Ordering::Relaxed);
        stats.l1_negative_hits += self.js_negative_hits.load(Ordering::Relaxed);
        stats
    }

    /// A sync method: converted `args`, one core call.
    pub(crate) fn call<A: Arg, T>(
        &self,
        env: &Env,
        args: A,
        call: impl FnOnce(&nearcache::Cache, A::Out) -> nearcache::Result<T>,
    ) -> Result<T> {
        guard(env.raw(), || Ok(call(&self.cache, args.take()?)?))
    }

    /// An async method: converted `args`, one core future, run on core's
    /// runtime; its result settles the Promise.
    pub(crate) fn promise<A, T, F>(
        &self,
        env: &Env,
        args: A,
        call: impl FnOnce(nearcache::Cache, A::Out) -> F,
    ) -> Result<Promise<T>>
    where
        A: Arg,
        T: ToNapiValue + Send + 'static,
        F: Future<Output = nearcache::Result<T>> + Send + 'static,
    {
        let cache = self.cache.clone();
        counted(env, &self.cache, args, move |args| call(cache, args))
    }

    /// An async method whose answer core may have at once (an L1 hit): the
    /// Promise is settled now, and only a miss goes to core's runtime.
    pub(crate) fn ready<A: Arg, T, U>(
        &self,
        env: &Env,
        args: A,
        call: impl FnOnce(&nearcache::Cache, A::Out) -> nearcache::Result<Ready<T>>,
        convert: impl FnOnce(T) -> U + Send + 'static,
    ) -> Result<Promise<U>>
    where
        T: Send + 'static,
        U: ToNapiValue + Send + 'static,
    {
        let env = env.raw();
        guard(env, || {
            match args.take().and_then(|args| Ok(call(&self.cache, args)?)) {
                Ok(Ready::Now(value)) => settle::resolved(env, convert(value)),
                Ok(Ready::Later(pending)) => self.later(env, pending, convert),
                Err(refused) => settle::rejected(env, refused),
            }
            .map_err(napi_failure)
        })
    }

    /// The Promise of an answer core does not have at once: `pending` runs
    /// on core's runtime, counted in flight (refused once closing).
    fn later<T, U>(
        &self,
        env: sys::napi_env,
        pending: impl Future<Output = nearcache::Result<T>> + Send + 'static,
        convert: impl FnOnce(T) -> U + Send + 'static,
    ) -> napi::Result<Promise<U>>
    where
        T: Send + 'static,
        U: ToNapiValue + Send + 'static,
    {
        match self.cache.start_work() {
            Ok(in_flight) => settle::spawn_in_flight(env, Some(in_flight), async move { pending.await.map(convert) }),
            Err(closing) => settle::rejected(env, closing.into()),
        }
    }
}

/// Runs `work` on converted `args` on core's runtime, counted in flight by
/// `cache` (refused once it is closing) so that `close()` waits for it; an
/// argument error rejects the Promise. Every async method goes through
/// here, the Cache's and those of its pipelines, transactions and scripts.
pub(crate) fn counted<A, T, F>(
    env: &Env,
    cache: &nearcache::Cache,
    args: A,
    work: impl FnOnce(A::Out) -> F,
) -> Result<Promise<T>>
where
    A: Arg,
    T: ToNapiValue + Send + 'static,
    F: Future<Output = nearcache::Result<T>> + Send + 'static,
{
    let env = env.raw();
    guard(env, || {
        match args.take().and_then(|args| Ok((cache.start_work()?, args))) {
            Ok((in_flight, args)) => settle::spawn_in_flight(env, Some(in_flight), work(args)),
            Err(arg) => settle::rejected(env, arg),
        }
        .map_err(napi_failure)
    })
}

/// What `_hgetInto` returns: the length copied, a long value's Buffer, a
/// missing field's `null`, or the Promise of `hget`.
type HgetInto = Either4<f64, Buffer, Null, Promise<Either<Buffer, Null>>>;

/// An L1 answer: the hit converted, `null` for a cached absence,
/// `undefined` when L1 cannot answer.
fn local<T>(found: Lookup, hit: impl FnOnce(Bytes) -> T) -> Either3<T, Null, Undefined> {
    match found {
        Lookup::Hit(value) => Either3::A(hit(value)),
        Lookup::Absent => Either3::B(Null),
        Lookup::Miss => Either3::C(()),
    }
}

#[napi]
impl JsCache {
    /// A cache from an options object: the config file's tree with
    /// snake_case keys, plus `url` as a shortcut for `redis.url`
    /// (`new Cache({ url, l1: { max_bytes: '64MiB' } })`). Without options,
    /// the config comes from `NEARCACHE_CONFIG` / `NEARCACHE_URL` /
    /// `REDIS_URL`. No I/O happens here; connections open on first use.
    #[napi(constructor, catch_unwind)]
    pub fn new(env: Env, options: Option<CacheOptions>) -> Result<Self> {
        guard(env.raw(), || {
            let config = match options.take()? {
                Some(tree) => nearcache::Config::from_value(tree),
                None => nearcache::Config::from_env(),
            };
            Ok(JsCache::wrap(config.and_then(nearcache::Cache::new)?))
        })
    }

    /// A cache from a config file (TOML, or JSON when the name ends in
    /// `.json`).
    #[napi(factory, catch_unwind)]
    pub fn from_config(env: Env, path: Path<'_>) -> Result<Self> {
        guard(env.raw(), || {
            let path = String::from_utf8_lossy(path.borrowed()?.as_ref()).into_owned();
            Ok(JsCache::wrap(nearcache::Config::from_path(path).and_then(nearcache::Cache::new)?))
        })
    }

    /// The effective configuration as JSON (passwords redacted); the same
    /// text in every language.
    #[napi(catch_unwind)]
    pub fn config_json(&self, env: Env) -> Result<String> {
        self.call(&env, (), |c, ()| Ok(c.config().to_json()))
    }

    /// `l1.max_bytes`, which also bounds the Buffers `getLocal` keeps; 0
    /// when L1 is off.
    #[napi(skip_typescript, js_name = "_l1MaxBytes", catch_unwind)]
    pub fn l1_max_bytes(&self, env: Env) -> Result<f64> {
        self.call(&env, (), |c, ()| {
            let l1 = &c.config().l1;
            Ok(if l1.invalidation == nearcache::Invalidation::Off { 0.0 } else { l1.max_bytes as f64 })
        })
    }

    /// The L1 lookup behind index.js's copies (`getLocal`, `get`): returns
    /// `undefined` on a miss, `null` for a cached absence, `true` when the
    /// entry is still the one with version `known` (its copy is exact), else
    /// a new Buffer of the value. For a hit or an absence it writes into
    /// `out` (a Float64Array of 5): version, change-word index, that word's
    /// value, the global word's value, milliseconds the answer stays valid
    /// (see core's `LocalView`).
    #[napi(skip_typescript, js_name = "_view", catch_unwind)]
    pub fn view(
        &self,
        env: Env,
        key: Key<'_>,
        known: f64,
        out: Slots<'_>,
    ) -> Result<Either4<Buffer, bool, Null, Undefined>> {
        self.call(&env, (out, Borrowed(key)), |c, (slots, key)| {
            let view = c.get_local_view(key.as_ref())?;
            if view.lookup == Lookup::Miss {
                return Ok(Either4::D(()));
            }
            // index.js reads the words through an Int32Array: hand them over
            // as the same signed values, or they would never compare equal
            // again once a word passes 2^31.
            let signed = |word: u32| f64::from(i32::from_ne_bytes(word.to_ne_bytes()));
            slots.copy_from_slice(&[
                view.version as f64,
                view.word as f64,
                signed(view.change),
                signed(view.global),
                view.valid_for.as_secs_f64() * 1000.0,
            ]);
            Ok(match view.lookup {
                Lookup::Miss => Either4::D(()),
                Lookup::Absent => Either4::C(Null),
                Lookup::Hit(_) if view.version as f64 == known => Either4::B(true),
                Lookup::Hit(value) => Either4::A(Buffer(value)),
            })
        })
    }

    /// Core's change words as an ArrayBuffer of 32-bit words (index.js reads
    /// them as an Int32Array on every hit), or `undefined` where the runtime
    /// refuses external ArrayBuffers (index.js then asks core on every hit).
    #[napi(skip_typescript, js_name = "_changeWords", catch_unwind)]
    pub fn change_words(&self, env: Env) -> Result<ChangeWords> {
        self.call(&env, (), |c, ()| Ok(ChangeWords(c.change_words())))
    }

    /// Adds hits index.js answered from its copies to the counters `stats()`
    /// reports.
    #[napi(skip_typescript, js_name = "_addLocalHits", catch_unwind)]
    pub fn add_local_hits(&self, hits: f64, negative_hits: f64) {
        self.js_hits.fetch_add(hits.max(0.0) as u64, Ordering::Relaxed);
        self.js_negative_hits.fetch_add(negative_hits.max(0.0) as u64, Ordering::Relaxed);
    }

    /// The Redis half of `get` for a batch of keys that L1 could not answer
    /// (index.js gathers the `get` calls of one event-loop turn): one native
    /// call, one task and one settlement for the batch. Resolves
    /// `[blob, errors]`: `blob` is one Buffer holding a little-endian i32 per
    /// key (the value's length, -1 for a missing key, -2 - i for
    /// `errors[i]`), padded to 8 bytes, then the values back to back; index.js
    /// cuts each caller's Buffer from it. One Buffer per batch rather than
    /// per key: building a Buffer through napi costs microseconds.
    #[napi(skip_typescript, js_name = "_getBatch", catch_unwind)]
    pub fn get_batch(&self, env: Env, keys: Keys) -> Result<Promise<Batch>> {
        self.promise(&env, keys, |c, keys| async move {
            let results = futures_util::future::join_all(keys.iter().map(|k| c.get_after_miss(k))).await;
            Ok(batch(results))
        })
    }

    /// The value of `key` from L1 only, synchronously; never touches the
    /// network. `undefined` when L1 cannot answer, `null` when L1 knows the
    /// key is absent. Each call returns a Buffer of its own: mutating it
    /// never affects other callers.
    #[napi(catch_unwind)]
    pub fn get_local(&self, env: Env, key: Key<'_>) -> Result<Either3<Buffer, Null, Undefined>> {
        self.call(&env, Borrowed(key), |c, key| Ok(local(c.get_local(key.as_ref())?, Buffer)))
    }

    /// Copies the L1 value of `key` into `target` without allocating.
    /// Returns the value's length (when it exceeds `target.length`, nothing
    /// is copied: grow the target and call again), `null` when L1 knows the
    /// key is absent, `undefined` when L1 cannot answer.
    #[napi(catch_unwind)]
    pub fn get_local_into(
        &self,
        env: Env,
        key: Key<'_>,
        target: Uint8Array<'_>,
    ) -> Result<Either3<f64, Null, Undefined>> {
        self.call(&env, (target, Borrowed(key)), |c, (out, key)| {
            Ok(local(c.get_local(key.as_ref())?, |value| {
                if let Some(dest) = out.get_mut(..value.len()) {
                    dest.copy_from_slice(&value);
                }
                value.len() as f64
            }))
        })
    }

    /// The value of `key`: from L1 when it is there, else from Redis (one
    /// round trip shared by concurrent readers), filling L1.
    #[napi(catch_unwind)]
    pub fn get(&self, env: Env, key: Key<'_>) -> Result<Promise<Either<Buffer, Null>>> {
        self.ready(&env, Borrowed(key), |c, key| c.get_ready(key.as_ref()), Buffer::opt)
    }

    /// The values of `keys`, in order (`null` for missing keys): L1 answers
    /// what it can, one `MGET` fetches the rest.
    #[napi(catch_unwind)]
    pub fn get_many(&self, env: Env, keys: Keys) -> Result<Promise<Vec<Either<Buffer, Null>>>> {
        self.promise(&env, keys, |c, keys| async move { c.get_many(&keys).await.map(Buffer::list) })
    }

    /// Writes `value` to `key`; resolves `false` when `nx` / `xx` prevented
    /// the write. `ttl`: milliseconds or a duration string ("30s"), shortened
    /// by up to `write.ttl_jitter`.
    #[napi(catch_unwind)]
    pub fn set(
        &self,
        env: Env,
        key: Key<'_>,
        value: Payload<'_>,
        options: Option<SetOptions>,
    ) -> Result<Promise<bool>> {
        self.promise(
            &env,
            (key, value, options),
            |c, (k, v, o)| async move { c.set(k, v, o.unwrap_or_default()).await },
        )
    }

    /// Writes several keys at once (`MSET`, or `SET PX` in one transaction
    /// with a `ttl`). `entries`: `[[key, value], ...]` or an object.
    #[napi(catch_unwind)]
    pub fn set_many(&self, env: Env, entries: Entries, options: Option<TtlOptions>) -> Result<Promise<()>> {
        self.promise(&env, (entries, options), |c, (e, ttl)| async move { c.set_many(&e, ttl.flatten()).await })
    }

    /// Deletes `key` (or every key of an array, in one `DEL`); resolves how
    /// many existed.
    #[napi(catch_unwind)]
    pub fn delete(&self, env: Env, key: KeyOrKeys) -> Result<Promise<f64>> {
        self.promise(&env, key, |c, keys| async move { c.delete_many(&keys).await.map(|n| n as f64) })
    }

    /// Sets `key` to expire after `ttl` (milliseconds or "30s"; no jitter);
    /// resolves whether the key exists.
    #[napi(catch_unwind)]
    pub fn expire(&self, env: Env, key: Key<'_>, ttl: Ttl) -> Result<Promise<bool>> {
        self.promise(&env, (key, ttl), |c, (k, ttl)| async move { c.expire(k, ttl).await })
    }

    /// The remaining time to live of `key` in Redis, in milliseconds:
    /// `Infinity` when the key has no expiry, `null` when it does not exist.
    #[napi(catch_unwind)]
    pub fn ttl(&self, env: Env, key: Key<'_>) -> Result<Promise<Either<f64, Null>>> {
        self.promise(&env, key, |c, k| async move {
            Ok(convert::or_null(match c.ttl(k).await? {
                nearcache::Ttl::Missing => None,
                nearcache::Ttl::Persistent => Some(f64::INFINITY),
                nearcache::Ttl::Expires(left) => Some(left.as_millis() as f64),
            }))
        })
    }

    /// One field of a hash, or `null`.
    #[napi(catch_unwind)]
    pub fn hget(&self, env: Env, key: Key<'_>, field: Field<'_>) -> Result<Promise<Either<Buffer, Null>>> {
        self.ready(&env, (key, field), |c, (k, f)| c.hget_ready(k, f), Buffer::opt)
    }

    /// The `hget` behind index.js. An L1 hit is copied into `into` and its
    /// length returned (index.js cuts the caller's Buffer from its own
    /// chunks: no napi Buffer, no napi Promise, which were most of a hit's
    /// cost), or returned as a Buffer when longer than `into`; `null` for a
    /// field L1 knows is missing; anything else is the Promise `hget`
    /// returns (a miss, or a rejection for a bad argument or a closed cache).
    #[napi(skip_typescript, js_name = "_hgetInto", catch_unwind)]
    pub fn hget_into(&self, env: Env, key: Key<'_>, field: Field<'_>, into: Uint8Array<'_>) -> Result<HgetInto> {
        let env = env.raw();
        guard(env, || {
            match (into, key, field).take().and_then(|(into, k, f)| Ok((into, self.cache.hget_ready(k, f)?))) {
                Ok((into, Ready::Now(Some(value)))) => Ok(match into.get_mut(..value.len()) {
                    Some(dest) => {
                        dest.copy_from_slice(&value);
                        Either4::A(value.len() as f64)
                    }
                    None => Either4::B(Buffer(value)),
                }),
                Ok((_, Ready::Now(None))) => Ok(Either4::C(Null)),
                Ok((_, Ready::Later(pending))) => self.later(env, pending, Buffer::opt).map(Either4::D),
                Err(refused) => settle::rejected(env, refused).map(Either4::D),
            }
            .map_err(napi_failure)
        })
    }

    /// Several fields of a hash, in order (`null` for missing fields).
    #[napi(catch_unwind)]
    pub fn hmget(&self, env: Env, key: Key<'_>, fields: Fields) -> Result<Promise<Vec<Either<Buffer, Null>>>> {
        self.ready(&env, (key, fields), |c, (k, f)| c.hmget_ready(k, &f), Buffer::list)
    }

    /// Every field of a hash as an object (field names decoded as UTF-8).
    #[napi(catch_unwind)]
    pub fn hgetall(&self, env: Env, key: Key<'_>) -> Result<Promise<Record<String, Buffer>>> {
        self.ready(&env, key, |c, k| c.hgetall_ready(k), field_record)
    }

    /// Sets hash fields (`[[field, value], ...]` or an object); resolves how
    /// many were new.
    #[napi(catch_unwind)]
    pub fn hset(&self, env: Env, key: Key<'_>, fields: FieldValues) -> Result<Promise<f64>> {
        self.promise(&env, (key, fields), |c, (k, f)| async move { c.hset(k, &f).await.map(|n| n as f64) })
    }

    /// Deletes hash fields; resolves how many existed.
    #[napi(catch_unwind)]
    pub fn hdel(&self, env: Env, key: Key<'_>, fields: FieldOrFields) -> Result<Promise<f64>> {
        self.promise(&env, (key, fields), |c, (k, f)| async move { c.hdel(k, &f).await.map(|n| n as f64) })
    }

    /// The native half of `getOrLoad` (index.js): `loader` must return a
    /// Promise of a Buffer. Core runs it once per key across concurrent
    /// callers, writes its value with `ttl`, and rejects with the `Loader`
    /// code (the loader's rejection as `cause`) when it fails. index.js has
    /// already asked L1 (and found no value), so core skips that lookup and
    /// the miss is counted once.
    #[napi(skip_typescript, js_name = "_getOrLoad", catch_unwind)]
    pub fn get_or_load_native(
        &self,
        env: Env,
        key: Key<'_>,
        loader: Loader,
        options: Option<TtlOptions>,
    ) -> Result<Promise<Buffer>> {
        self.promise(&env, (key, loader, options), |c, (key, tsfn, ttl)| async move {
            let ttl = ttl.flatten();
            let load = || async move {
                let promise = tsfn.call_async_catch(()).await.map_err(LoaderError)?;
                promise.await.map(|b: Bytesish| b.0).map_err(LoaderError)
            };
            c.get_or_load_after_miss(key, ttl, load).await.map(Buffer)
        })
    }

    /// Drops keys from this process's L1 (Redis is untouched): one key, an
    /// array of keys, or everything when called without arguments.
    #[napi(catch_unwind)]
    pub fn invalidate_local(&self, env: Env, keys: Option<KeyOrKeys>) -> Result<()> {
        self.call(&env, keys, |c, keys| match keys {
            Some(keys) => c.invalidate_local(&keys),
            None => c.invalidate_local_all(),
        })
    }

    /// The native half of `scan` (index.js).
    #[napi(skip_typescript, js_name = "_scanner", catch_unwind)]
    pub fn scanner(&self, env: Env, pattern: Option<Pattern<'_>>) -> Result<ScanCursor> {
        self.call(&env, pattern, |c, pattern| {
            Ok(ScanCursor { cache: c.clone(), scan: Arc::new(tokio::sync::Mutex::new(c.scan(pattern.as_deref()))) })
        })
    }

    /// Deletes every key starting with `prefix` (SCAN + UNLINK, never KEYS)
    /// and drops them from L1; resolves how many were deleted.
    #[napi(catch_unwind)]
    pub fn delete_prefix(&self, env: Env, prefix: Prefix<'_>) -> Result<Promise<f64>> {
        self.promise(&env, prefix, |c, p| async move { c.delete_prefix(p).await.map(|n| n as f64) })
    }

    /// Sends a raw command (`['INCR', 'counter']`) on the shared
    /// connections. Never cached or decompressed; commands that would change
    /// or hold the shared connection are refused (an `InvalidArgument`
    /// error); a write drops the L1 entries of the keys it names.
    #[napi(catch_unwind)]
    pub fn command(&self, env: Env, args: CommandArgs) -> Result<Promise<Reply>> {
        self.promise(&env, args, |c, args| async move { c.command(&args).await.map(Reply) })
    }

    /// A snapshot of the counters, latencies, slow log and hot keys.
    #[napi(catch_unwind)]
    pub fn stats(&self, env: Env) -> Result<Stats> {
        self.call(&env, (), |_, ()| Ok(Stats(self.stats_with_js_hits())))
    }

    /// The stats in the Prometheus text format.
    #[napi(catch_unwind)]
    pub fn stats_prometheus(&self, env: Env) -> Result<String> {
        self.call(&env, (), |_, ()| Ok(self.stats_with_js_hits().to_prometheus()))
    }

    /// Refuses new calls at once (the `Closed` code), waits for the calls
    /// in flight, then closes the connections and empties L1; the Promise
    /// resolves when the cache is closed. Closing twice is fine.
    #[napi(catch_unwind)]
    pub fn close(&self, env: Env) -> Result<Promise<()>> {
        let env = env.raw();
        guard(env, || {
            match self.cache.close_when_idle() {
                Ready::Now(()) => settle::resolved(env, ()),
                Ready::Later(pending) => settle::spawn(env, pending),
            }
            .map_err(napi_failure)
        })
    }

    /// Whether `close()` was called.
    #[napi(getter, catch_unwind)]
    pub fn closed(&self) -> bool {
        self.cache.is_closed()
    }
}

/// The `_getBatch` blob: a tag per key, then the values back to back.
fn batch(results: Vec<nearcache::Result<Option<Bytes>>>) -> Batch {
    let head = (results.len() * 4).next_multiple_of(8);
    let mut tags = Vec::with_capacity(head);
    let mut values = Vec::with_capacity(results.len());
    let mut errors = Vec::new();
    for result in results {
        let tag = match result {
            Ok(Some(value)) => {
                let len = i32::try_from(value.len()).unwrap_or(i32::MAX);
                values.push(value);
                len
            }
            Ok(None) => -1,
            Err(e) => {
                errors.push(e);
                -1 - i32::try_from(errors.len()).unwrap_or(i32::MAX)
            }
        };
        tags.extend_from_slice(&tag.to_le_bytes());
    }
    tags.resize(head, 0);
    let mut blob = tags;
    blob.reserve_exact(values.iter().map(Bytes::len).sum());
    for value in &values {
        blob.extend_from_slice(value);
    }
    Batch { blob, errors }
}

/// A key read in place, for the sync L1 calls (no allocation).
struct Borrowed<'a>(Key<'a>);

impl<'a> Arg for Borrowed<'a> {
    type Out = convert::TextBytes<'a>;
    fn take(self) -> ArgResult<Self::Out> {
        self.0.borrowed()
    }
}

/// One SCAN in progress; `Cache.scan()` iterates over it. Not constructed
/// directly.
#[napi]
pub struct ScanCursor {
    cache: nearcache::Cache,
    scan: Arc<tokio::sync::Mutex<nearcache::Scan>>,
}

#[napi]
impl ScanCursor {
    /// The next batch (possibly empty), or `null` when the scan is done.
    #[napi(catch_unwind)]
    pub fn next_batch(&self, env: Env) -> Result<Promise<Either<Vec<Buffer>, Null>>> {
        let scan = Arc::clone(&self.scan);
        let env = env.raw();
        guard(env, || {
            let in_flight = match self.cache.start_work() {
                Ok(in_flight) => in_flight,
                Err(closing) => return settle::rejected(env, closing.into()).map_err(napi_failure),
            };
            settle::spawn_in_flight(env, Some(in_flight), async move {
                let batch = scan.lock().await.next_batch().await?;
                Ok(convert::or_null(batch.map(|keys| keys.into_iter().map(Buffer).collect())))
            })
            .map_err(napi_failure)
        })
    }
}

type LoaderFn = napi::threadsafe_function::ThreadsafeFunction<
    (),
    napi::bindgen_prelude::Promise<Bytesish>,
    (),
    napi::Status,
    false,
    true,
>;

/// `getOrLoad`'s loader (index.js's adapter): a function returning a
/// Promise of a Buffer, callable from core's runtime.
pub struct Loader(ArgResult<LoaderFn>);

impl FromNapiValue for Loader {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        if !convert::is_function(env, value) {
            return Ok(Loader(Err(convert::expected(env, value, "loader", "a function"))));
        }
        let loader_error = |e: napi::Error| ArgError::wrong_type(format!("loader: {}", e.reason));
        // SAFETY: checked to be a function.
        let built = unsafe { Function::<(), napi::bindgen_prelude::Promise<Bytesish>>::from_napi_value(env, value) }
            .map_err(loader_error)
            .and_then(|f| {
                f.build_threadsafe_function::<()>()
                    .callee_handled::<false>()
                    .weak::<true>()
                    .build()
                    .map_err(loader_error)
            });
        Ok(Loader(built))
    }
}

impl Arg for Loader {
    type Out = LoaderFn;
    fn take(self) -> ArgResult<LoaderFn> {
        self.0
    }
}

/// Bytes from whatever the loader resolved with (index.js has already made
/// it a Buffer).
pub struct Bytesish(Bytes);

impl FromNapiValue for Bytesish {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        convert::bytes(env, value, "the loader's value").map(Bytesish).map_err(|e| match e {
            ArgError::WrongType(message) => napi::Error::new(napi::Status::InvalidArg, message),
            ArgError::Refused(err) => napi::Error::new(napi::Status::InvalidArg, err.message().to_owned()),
        })
    }
}

impl napi::bindgen_prelude::TypeName for Bytesish {
    fn type_name() -> &'static str {
        "Buffer"
    }
    fn value_type() -> napi::ValueType {
        napi::ValueType::Object
    }
}

impl napi::bindgen_prelude::ValidateNapiValue for Bytesish {}

/// What the loader rejected with, kept whole so it becomes the `cause` of
/// the `Loader` error (see `error::to_napi`); shown by its message alone.
#[derive(Debug)]
pub(crate) struct LoaderError(pub(crate) napi::Error);

impl std::fmt::Display for LoaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.reason)
    }
}

impl std::error::Error for LoaderError {}

/// A hash's fields as a JavaScript object, field names decoded as UTF-8.
fn field_record(pairs: Vec<(Bytes, Bytes)>) -> Record<String, Buffer> {
    Record::new(pairs.into_iter().map(|(f, v)| (String::from_utf8_lossy(&f).into_owned(), Buffer(v))).collect())
}
