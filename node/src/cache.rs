//! `Cache`: the JavaScript class over `nearcache::Cache`.
//!
//! Every method converts its arguments, calls core, and converts the result
//! or error. Async methods return a Promise settled from the core runtime
//! (see `settle`); argument type errors reject it with a `TypeError`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use napi::bindgen_prelude::{FromNapiValue, Function, Promise, ToNapiValue, TypeName, Unknown, ValidateNapiValue};
use napi::{sys, Env, JsValue, ValueType};
use napi_derive::napi;
use nearcache::{Lookup, SetOptions, Ttl};

use crate::convert;
use crate::error::{to_napi, ArgError, ArgResult};
use crate::settle::{self, Outcome};

type Result<T> = napi::Result<T, &'static str>;

/// A raw JavaScript value returned from a method (its TypeScript type is
/// given on the method).
pub struct Raw(sys::napi_value);

impl ToNapiValue for Raw {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        Ok(val.0)
    }
}

impl TypeName for Raw {
    fn type_name() -> &'static str {
        "unknown"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

fn raw(value: &Unknown<'_>) -> sys::napi_value {
    value.raw()
}

/// Runs `build` (argument conversion, then the future) and returns its
/// Promise, or a Promise rejected with the argument error.
fn promise<F, Fut>(env: &Env, build: F) -> Result<Raw>
where
    F: FnOnce(sys::napi_env) -> ArgResult<Fut>,
    Fut: std::future::Future<Output = Outcome> + Send + 'static,
{
    let env = env.raw();
    let made = match build(env) {
        Ok(work) => settle::spawn(env, work),
        Err(arg) => settle::rejected(env, &arg),
    };
    made.map(Raw).map_err(|e| napi::Error::new("NC_INTERNAL", e.reason.clone()))
}

fn throw_arg<T>(env: &Env, err: ArgError) -> Result<T> {
    let pending = err.throw(env.raw());
    Err(napi::Error::new("NC_INVALID_ARGUMENT", pending.reason)).map_err(|mut e: napi::Error<&'static str>| {
        // napi-rs skips re-throwing when this status is reported.
        e.status = "PendingException";
        e
    })
}

/// A Redis client-side cache: an in-process L1 tier in front of Redis,
/// kept coherent by server-assisted invalidation.
#[napi(js_name = "Cache")]
pub struct JsCache {
    cache: nearcache::Cache,
    /// Hits that index.js answered from its own copies without calling
    /// core (see `_view`), added to core's counters in `stats()`.
    js_hits: AtomicU64,
    js_negative_hits: AtomicU64,
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
}

#[napi]
impl JsCache {
    /// A cache from an options object: the config file's tree with
    /// snake_case keys, plus `url` as a shortcut for `redis.url`
    /// (`new Cache({ url, l1: { max_bytes: '64MiB' } })`). Without options,
    /// the config comes from `NEARCACHE_CONFIG` / `NEARCACHE_URL` /
    /// `REDIS_URL`. No I/O happens here; connections open on first use.
    #[napi(constructor, catch_unwind, ts_args_type = "options?: CacheOptions")]
    pub fn new(env: Env, options: Unknown<'_>) -> Result<Self> {
        let raw = raw(&options);
        let config = if convert::is_nullish(env.raw(), raw) {
            nearcache::Config::from_env()
        } else {
            if options.get_type().ok() != Some(ValueType::Object) {
                return throw_arg(&env, ArgError::new("options must be an object like { url: 'redis://...' }"));
            }
            // SAFETY: an object; napi-rs converts it to a JSON tree.
            let tree = match unsafe { serde_json::Value::from_napi_value(env.raw(), raw) } {
                Ok(tree) => tree,
                Err(e) => return throw_arg(&env, ArgError::new(format!("options: {}", e.reason))),
            };
            nearcache::Config::from_value(tree)
        };
        let cache = config.and_then(nearcache::Cache::new).map_err(to_napi)?;
        Ok(JsCache::wrap(cache))
    }

    /// A cache from a config file (TOML, or JSON when the name ends in
    /// `.json`).
    #[napi(factory, catch_unwind)]
    pub fn from_config(path: String) -> Result<Self> {
        let cache = nearcache::Config::from_path(path).and_then(nearcache::Cache::new).map_err(to_napi)?;
        Ok(JsCache::wrap(cache))
    }

    /// The effective configuration as JSON (passwords redacted); the same
    /// text in every language.
    #[napi(catch_unwind)]
    pub fn config_json(&self) -> String {
        self.cache.config().to_json()
    }

    /// `l1.max_bytes`, which also bounds the Buffers `getLocal` keeps; 0
    /// when L1 is off.
    #[napi(skip_typescript, js_name = "_l1MaxBytes")]
    pub fn l1_max_bytes(&self) -> f64 {
        let config = self.cache.config();
        if config.l1.invalidation == nearcache::Invalidation::Off {
            0.0
        } else {
            config.l1.max_bytes as f64
        }
    }

    /// The L1 lookup behind index.js's copies (`getLocal`, `get`): returns
    /// `undefined` on a miss, `null` for a cached absence, `true` when the
    /// entry is still the one with version `known` (its copy is exact), else
    /// a new Buffer of the value. For a hit or an absence it writes into
    /// `out` (a Float64Array of 5): version, change-word index, that word's
    /// value, the global word's value, milliseconds the answer stays valid
    /// (see core's `LocalView`).
    #[napi(skip_typescript, js_name = "_view", catch_unwind)]
    pub fn view(&self, env: Env, key: Unknown<'_>, known: f64, out: Unknown<'_>) -> Result<Raw> {
        let env_raw = env.raw();
        let slots = match convert::f64_slots(env_raw, raw(&out), 5) {
            Ok(slots) => slots,
            Err(arg) => return throw_arg(&env, arg),
        };
        let view = match convert::with_key(env_raw, raw(&key), "key", |k| self.cache.get_local_view(k)) {
            Ok(found) => found.map_err(to_napi)?,
            Err(arg) => return throw_arg(&env, arg),
        };
        if view.lookup == Lookup::Miss {
            return Ok(Raw(convert::undefined(env_raw)));
        }
        // index.js reads the words through an Int32Array: hand them over as
        // the same signed values, or they would never compare equal again
        // once a word passes 2^31.
        let signed = |word: u32| f64::from(i32::from_ne_bytes(word.to_ne_bytes()));
        slots.copy_from_slice(&[
            view.version as f64,
            view.word as f64,
            signed(view.change),
            signed(view.global),
            view.valid_for.as_secs_f64() * 1000.0,
        ]);
        Ok(Raw(match view.lookup {
            Lookup::Miss => convert::undefined(env_raw),
            Lookup::Absent => convert::null(env_raw),
            Lookup::Hit(_) if view.version as f64 == known => convert::boolean_value(env_raw, true),
            Lookup::Hit(value) => {
                convert::buffer(env_raw, &value).map_err(|e| napi::Error::new("NC_INTERNAL", e.reason))?
            }
        }))
    }

    /// Core's change words as an ArrayBuffer of 32-bit words (index.js reads
    /// them as an Int32Array on every hit), or `undefined` where the runtime
    /// refuses external ArrayBuffers (index.js then asks core on every hit).
    #[napi(skip_typescript, js_name = "_changeWords", catch_unwind)]
    pub fn change_words(&self, env: Env) -> Result<Raw> {
        let env_raw = env.raw();
        Ok(
            Raw(convert::change_words(env_raw, self.cache.change_words())
                .unwrap_or_else(|| convert::undefined(env_raw))),
        )
    }

    /// Adds hits index.js answered from its copies to the counters `stats()`
    /// reports.
    #[napi(skip_typescript, js_name = "_addLocalHits")]
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
    pub fn get_batch(&self, env: Env, keys: Unknown<'_>) -> Result<Raw> {
        let cache = self.cache.clone();
        promise(&env, |env| {
            let keys = convert::bytes_list(env, raw(&keys), "keys")?;
            Ok(async move {
                let results = futures_util::future::join_all(keys.iter().map(|k| cache.get_after_miss(k))).await;
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
                Outcome::Value(Box::new(move |env| {
                    let blob = convert::buffer(env, &blob)?;
                    let errors = if errors.is_empty() {
                        convert::undefined(env)
                    } else {
                        // SAFETY: settled on the JS thread with its env.
                        convert::new_array(
                            env,
                            errors.into_iter().map(|e| unsafe { crate::error::to_js(env, e) }).collect(),
                        )
                    };
                    Ok(convert::new_array(env, vec![blob, errors]))
                }))
            })
        })
    }

    /// The value of `key` from L1 only, synchronously; never touches the
    /// network. `undefined` when L1 cannot answer, `null` when L1 knows the
    /// key is absent. Each call returns a Buffer of its own: mutating it
    /// never affects other callers.
    #[napi(catch_unwind, ts_args_type = "key: string | Buffer", ts_return_type = "Buffer | null | undefined")]
    pub fn get_local(&self, env: Env, key: Unknown<'_>) -> Result<Raw> {
        let env_raw = env.raw();
        let found = match convert::with_key(env_raw, raw(&key), "key", |k| self.cache.get_local(k)) {
            Ok(found) => found.map_err(to_napi)?,
            Err(arg) => return throw_arg(&env, arg),
        };
        Ok(Raw(match found {
            Lookup::Miss => convert::undefined(env_raw),
            Lookup::Absent => convert::null(env_raw),
            Lookup::Hit(value) => {
                convert::buffer(env_raw, &value).map_err(|e| napi::Error::new("NC_INTERNAL", e.reason))?
            }
        }))
    }

    /// Copies the L1 value of `key` into `target` without allocating.
    /// Returns the value's length (when it exceeds `target.length`, nothing
    /// is copied: grow the target and call again), `null` when L1 knows the
    /// key is absent, `undefined` when L1 cannot answer.
    #[napi(
        catch_unwind,
        ts_args_type = "key: string | Buffer, target: Uint8Array",
        ts_return_type = "number | null | undefined"
    )]
    pub fn get_local_into(&self, env: Env, key: Unknown<'_>, target: Unknown<'_>) -> Result<Raw> {
        let env_raw = env.raw();
        let out = match convert::target(env_raw, raw(&target)) {
            Ok(out) => out,
            Err(arg) => return throw_arg(&env, arg),
        };
        let found = match convert::with_key(env_raw, raw(&key), "key", |k| self.cache.get_local(k)) {
            Ok(found) => found.map_err(to_napi)?,
            Err(arg) => return throw_arg(&env, arg),
        };
        Ok(Raw(match found {
            Lookup::Miss => convert::undefined(env_raw),
            Lookup::Absent => convert::null(env_raw),
            Lookup::Hit(value) => {
                if let Some(dest) = out.get_mut(..value.len()) {
                    dest.copy_from_slice(&value);
                }
                convert::number(env_raw, value.len() as f64)
            }
        }))
    }

    /// The value of `key`: from L1 when it is there, else from Redis (one
    /// round trip shared by concurrent readers), filling L1.
    #[napi(catch_unwind, ts_args_type = "key: string | Buffer", ts_return_type = "Promise<Buffer | null>")]
    pub fn get(&self, env: Env, key: Unknown<'_>) -> Result<Raw> {
        let cache = self.cache.clone();
        promise(&env, |env| {
            let key = convert::bytes(env, raw(&key), "key")?;
            Ok(async move { Outcome::of(cache.get(key).await, convert::optional_buffer) })
        })
    }

    /// The values of `keys`, in order (`null` for missing keys): L1 answers
    /// what it can, one `MGET` fetches the rest.
    #[napi(
        catch_unwind,
        ts_args_type = "keys: Array<string | Buffer>",
        ts_return_type = "Promise<Array<Buffer | null>>"
    )]
    pub fn get_many(&self, env: Env, keys: Unknown<'_>) -> Result<Raw> {
        let cache = self.cache.clone();
        promise(&env, |env| {
            let keys = convert::bytes_list(env, raw(&keys), "keys")?;
            Ok(async move { Outcome::of(cache.get_many(&keys).await, convert::buffer_list) })
        })
    }

    /// Writes `value` to `key`; resolves `false` when `nx` / `xx` prevented
    /// the write. `ttl`: milliseconds or a duration string ("30s"), shortened
    /// by up to `write.ttl_jitter`.
    #[napi(
        catch_unwind,
        ts_args_type = "key: string | Buffer, value: string | Buffer, options?: SetOptions",
        ts_return_type = "Promise<boolean>"
    )]
    pub fn set(&self, env: Env, key: Unknown<'_>, value: Unknown<'_>, options: Unknown<'_>) -> Result<Raw> {
        let cache = self.cache.clone();
        promise(&env, |env| {
            let key = convert::bytes(env, raw(&key), "key")?;
            let value = convert::bytes(env, raw(&value), "value")?;
            let options = set_options(env, raw(&options))?;
            Ok(async move { Outcome::of(cache.set(key, value, options).await, bool_value) })
        })
    }

    /// Writes several keys at once (`MSET`, or `SET PX` in one transaction
    /// with a `ttl`). `entries`: `[[key, value], ...]` or an object.
    #[napi(
        catch_unwind,
        ts_args_type = "entries: Array<[string | Buffer, string | Buffer]> | Record<string, string | Buffer>, options?: { ttl?: number | string }",
        ts_return_type = "Promise<void>"
    )]
    pub fn set_many(&self, env: Env, entries: Unknown<'_>, options: Unknown<'_>) -> Result<Raw> {
        let cache = self.cache.clone();
        promise(&env, |env| {
            let entries = convert::pairs(env, raw(&entries), "entries")?;
            let ttl = match convert::options(env, raw(&options), "options")? {
                Some(o) => convert::ttl(env, convert::property(env, o, c"ttl"), "options.ttl")?,
                None => None,
            };
            Ok(async move { Outcome::of(cache.set_many(&entries, ttl).await, |env, ()| Ok(convert::undefined(env))) })
        })
    }

    /// Deletes `key` (or every key of an array, in one `DEL`); resolves how
    /// many existed.
    #[napi(
        catch_unwind,
        ts_args_type = "key: string | Buffer | Array<string | Buffer>",
        ts_return_type = "Promise<number>"
    )]
    pub fn delete(&self, env: Env, key: Unknown<'_>) -> Result<Raw> {
        let cache = self.cache.clone();
        promise(&env, |env| {
            let keys = one_or_many(env, raw(&key), "key")?;
            Ok(async move { Outcome::of(cache.delete_many(&keys).await, |env, n| Ok(convert::number(env, n as f64))) })
        })
    }

    /// Sets `key` to expire after `ttl` (milliseconds or "30s"; no jitter);
    /// resolves whether the key exists.
    #[napi(
        catch_unwind,
        ts_args_type = "key: string | Buffer, ttl: number | string",
        ts_return_type = "Promise<boolean>"
    )]
    pub fn expire(&self, env: Env, key: Unknown<'_>, ttl: Unknown<'_>) -> Result<Raw> {
        let cache = self.cache.clone();
        promise(&env, |env| {
            let key = convert::bytes(env, raw(&key), "key")?;
            let ttl = convert::ttl(env, raw(&ttl), "ttl")?.ok_or_else(|| ArgError::new("ttl is required"))?;
            Ok(async move { Outcome::of(cache.expire(key, ttl).await, bool_value) })
        })
    }

    /// The remaining time to live of `key` in Redis, in milliseconds:
    /// `Infinity` when the key has no expiry, `null` when it does not exist.
    #[napi(catch_unwind, ts_args_type = "key: string | Buffer", ts_return_type = "Promise<number | null>")]
    pub fn ttl(&self, env: Env, key: Unknown<'_>) -> Result<Raw> {
        let cache = self.cache.clone();
        promise(&env, |env| {
            let key = convert::bytes(env, raw(&key), "key")?;
            Ok(async move {
                Outcome::of(cache.ttl(key).await, |env, ttl| {
                    Ok(match ttl {
                        Ttl::Missing => convert::null(env),
                        Ttl::Persistent => convert::number(env, f64::INFINITY),
                        Ttl::Expires(left) => convert::number(env, left.as_millis() as f64),
                    })
                })
            })
        })
    }

    /// One field of a hash, or `null`.
    #[napi(
        catch_unwind,
        ts_args_type = "key: string | Buffer, field: string | Buffer",
        ts_return_type = "Promise<Buffer | null>"
    )]
    pub fn hget(&self, env: Env, key: Unknown<'_>, field: Unknown<'_>) -> Result<Raw> {
        let cache = self.cache.clone();
        promise(&env, |env| {
            let key = convert::bytes(env, raw(&key), "key")?;
            let field = convert::bytes(env, raw(&field), "field")?;
            Ok(async move { Outcome::of(cache.hget(key, field).await, convert::optional_buffer) })
        })
    }

    /// Several fields of a hash, in order (`null` for missing fields).
    #[napi(
        catch_unwind,
        ts_args_type = "key: string | Buffer, fields: Array<string | Buffer>",
        ts_return_type = "Promise<Array<Buffer | null>>"
    )]
    pub fn hmget(&self, env: Env, key: Unknown<'_>, fields: Unknown<'_>) -> Result<Raw> {
        let cache = self.cache.clone();
        promise(&env, |env| {
            let key = convert::bytes(env, raw(&key), "key")?;
            let fields = convert::bytes_list(env, raw(&fields), "fields")?;
            Ok(async move { Outcome::of(cache.hmget(key, &fields).await, convert::buffer_list) })
        })
    }

    /// Every field of a hash as an object (field names decoded as UTF-8).
    #[napi(catch_unwind, ts_args_type = "key: string | Buffer", ts_return_type = "Promise<Record<string, Buffer>>")]
    pub fn hgetall(&self, env: Env, key: Unknown<'_>) -> Result<Raw> {
        let cache = self.cache.clone();
        promise(&env, |env| {
            let key = convert::bytes(env, raw(&key), "key")?;
            Ok(async move {
                Outcome::of(cache.hgetall(key).await, |env, pairs| {
                    let mut entries = Vec::with_capacity(pairs.len());
                    for (field, value) in pairs {
                        entries.push((
                            convert::string(env, &String::from_utf8_lossy(&field)),
                            convert::buffer(env, &value)?,
                        ));
                    }
                    Ok(convert::new_object(env, entries))
                })
            })
        })
    }

    /// Sets hash fields (`[[field, value], ...]` or an object); resolves how
    /// many were new.
    #[napi(
        catch_unwind,
        ts_args_type = "key: string | Buffer, fields: Array<[string | Buffer, string | Buffer]> | Record<string, string | Buffer>",
        ts_return_type = "Promise<number>"
    )]
    pub fn hset(&self, env: Env, key: Unknown<'_>, fields: Unknown<'_>) -> Result<Raw> {
        let cache = self.cache.clone();
        promise(&env, |env| {
            let key = convert::bytes(env, raw(&key), "key")?;
            let fields = convert::pairs(env, raw(&fields), "fields")?;
            Ok(async move { Outcome::of(cache.hset(key, &fields).await, |env, n| Ok(convert::number(env, n as f64))) })
        })
    }

    /// Deletes hash fields; resolves how many existed.
    #[napi(
        catch_unwind,
        ts_args_type = "key: string | Buffer, fields: string | Buffer | Array<string | Buffer>",
        ts_return_type = "Promise<number>"
    )]
    pub fn hdel(&self, env: Env, key: Unknown<'_>, fields: Unknown<'_>) -> Result<Raw> {
        let cache = self.cache.clone();
        promise(&env, |env| {
            let key = convert::bytes(env, raw(&key), "key")?;
            let fields = one_or_many(env, raw(&fields), "fields")?;
            Ok(async move { Outcome::of(cache.hdel(key, &fields).await, |env, n| Ok(convert::number(env, n as f64))) })
        })
    }

    /// The native half of `getOrLoad` (index.js): `loader` must return a
    /// Promise of a Buffer. Core runs it once per key across concurrent
    /// callers, writes its value with `ttl`, and rejects with `NC_LOADER`
    /// (the loader's rejection as `cause`) when it fails. index.js has
    /// already asked L1 (and found no value), so core skips that lookup and
    /// the miss is counted once.
    #[napi(skip_typescript, js_name = "_getOrLoad", catch_unwind)]
    pub fn get_or_load_native(&self, env: Env, key: Unknown<'_>, loader: Unknown<'_>, ttl: Unknown<'_>) -> Result<Raw> {
        let cache = self.cache.clone();
        promise(&env, |env| {
            let key = convert::bytes(env, raw(&key), "key")?;
            let ttl = convert::ttl(env, raw(&ttl), "options.ttl")?;
            if loader.get_type().ok() != Some(ValueType::Function) {
                return Err(ArgError::new("loader must be a function"));
            }
            // SAFETY: checked to be a function.
            let function = unsafe { Function::<(), Promise<Bytesish>>::from_napi_value(env, raw(&loader)) }
                .map_err(|e| ArgError::new(format!("loader: {}", e.reason)))?;
            let tsfn = function
                .build_threadsafe_function::<()>()
                .callee_handled::<false>()
                .weak::<true>()
                .build()
                .map_err(|e| ArgError::new(format!("loader: {}", e.reason)))?;
            Ok(async move {
                let load = || async move {
                    let promise = tsfn.call_async_catch(()).await.map_err(LoaderError)?;
                    promise.await.map(|b: Bytesish| b.0).map_err(LoaderError)
                };
                Outcome::of(cache.get_or_load_after_miss(key, ttl, load).await, |env, v: Bytes| {
                    convert::buffer(env, &v)
                })
            })
        })
    }

    /// Drops keys from this process's L1 (Redis is untouched): one key, an
    /// array of keys, or everything when called without arguments.
    #[napi(catch_unwind, ts_args_type = "keys?: string | Buffer | Array<string | Buffer>")]
    pub fn invalidate_local(&self, env: Env, keys: Unknown<'_>) -> Result<()> {
        let env_raw = env.raw();
        if convert::is_nullish(env_raw, raw(&keys)) {
            return self.cache.invalidate_local_all().map_err(to_napi);
        }
        match one_or_many(env_raw, raw(&keys), "keys") {
            Ok(keys) => self.cache.invalidate_local(&keys).map_err(to_napi),
            Err(arg) => throw_arg(&env, arg),
        }
    }

    /// The native half of `scan` (index.js).
    #[napi(skip_typescript, js_name = "_scanner", catch_unwind)]
    pub fn scanner(&self, env: Env, pattern: Unknown<'_>) -> Result<ScanCursor> {
        let env_raw = env.raw();
        let pattern = if convert::is_nullish(env_raw, raw(&pattern)) {
            None
        } else {
            match convert::bytes(env_raw, raw(&pattern), "pattern") {
                Ok(p) => Some(p),
                Err(arg) => return throw_arg(&env, arg),
            }
        };
        let scan = self.cache.scan(pattern.as_deref());
        Ok(ScanCursor { scan: Arc::new(tokio::sync::Mutex::new(scan)) })
    }

    /// Deletes every key starting with `prefix` (SCAN + UNLINK, never KEYS)
    /// and drops them from L1; resolves how many were deleted.
    #[napi(catch_unwind, ts_args_type = "prefix: string | Buffer", ts_return_type = "Promise<number>")]
    pub fn delete_prefix(&self, env: Env, prefix: Unknown<'_>) -> Result<Raw> {
        let cache = self.cache.clone();
        promise(&env, |env| {
            let prefix = convert::bytes(env, raw(&prefix), "prefix")?;
            Ok(
                async move { Outcome::of(cache.delete_prefix(prefix).await, |env, n| Ok(convert::number(env, n as f64))) },
            )
        })
    }

    /// Sends a raw command (`['INCR', 'counter']`) on the shared
    /// connections. Never cached or decompressed; commands that would change
    /// or hold the shared connection are refused (`NC_INVALID_ARGUMENT`); a
    /// write drops the L1 entries of the keys it names.
    #[napi(catch_unwind, ts_args_type = "args: Array<string | Buffer | number>", ts_return_type = "Promise<Reply>")]
    pub fn command(&self, env: Env, args: Unknown<'_>) -> Result<Raw> {
        let cache = self.cache.clone();
        promise(&env, |env| {
            let items = convert::array(env, raw(&args), "args")?;
            let mut parts = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                // SAFETY: a value of this call.
                let value = unsafe { Unknown::from_raw_unchecked(env, item) };
                if value.get_type().ok() == Some(ValueType::Number) {
                    // SAFETY: checked to be a number.
                    let n = unsafe { f64::from_napi_value(env, item) }.unwrap_or(f64::NAN);
                    parts.push(Bytes::from(format_number(n)));
                } else {
                    parts.push(convert::bytes(env, item, &format!("args[{i}]"))?);
                }
            }
            Ok(async move { Outcome::of(cache.command(&parts).await, convert::reply) })
        })
    }

    /// A snapshot of the counters, latencies, slow log and hot keys.
    #[napi(catch_unwind, ts_return_type = "Stats")]
    pub fn stats(&self, env: Env) -> Result<Raw> {
        let value = serde_json::to_value(self.stats_with_js_hits()).unwrap_or_default();
        Ok(Raw(convert::json(env.raw(), &value)))
    }

    /// The stats in the Prometheus text format.
    #[napi(catch_unwind)]
    pub fn stats_prometheus(&self) -> String {
        self.stats_with_js_hits().to_prometheus()
    }

    /// Closes the connections and empties L1; later calls fail with
    /// `NC_CLOSED`. Closing twice is fine.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.cache.close();
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.cache.is_closed()
    }
}

/// One SCAN in progress; `Cache.scan()` iterates over it. Not constructed
/// directly.
#[napi]
pub struct ScanCursor {
    scan: Arc<tokio::sync::Mutex<nearcache::Scan>>,
}

#[napi]
impl ScanCursor {
    /// The next batch (possibly empty), or `null` when the scan is done.
    #[napi(catch_unwind, ts_return_type = "Promise<Buffer[] | null>")]
    pub fn next_batch(&self, env: Env) -> Result<Raw> {
        let scan = Arc::clone(&self.scan);
        promise(&env, |_| {
            Ok(async move {
                let batch = scan.lock().await.next_batch().await;
                Outcome::of(batch, |env, keys: Option<Vec<Bytes>>| match keys {
                    None => Ok(convert::null(env)),
                    Some(keys) => {
                        let items = keys.iter().map(|k| convert::buffer(env, k)).collect::<napi::Result<Vec<_>>>()?;
                        Ok(convert::new_array(env, items))
                    }
                })
            })
        })
    }
}

/// Bytes from whatever the loader resolved with (index.js has already made
/// it a Buffer).
pub struct Bytesish(Bytes);

impl FromNapiValue for Bytesish {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        convert::bytes(env, value, "the loader's value")
            .map(Bytesish)
            .map_err(|e| napi::Error::new(napi::Status::InvalidArg, e.0))
    }
}

impl TypeName for Bytesish {
    fn type_name() -> &'static str {
        "Buffer"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ValidateNapiValue for Bytesish {}

/// What the loader rejected with, kept whole so it becomes the `cause` of
/// the `NC_LOADER` error (see `error::to_napi`); shown by its message alone.
#[derive(Debug)]
pub(crate) struct LoaderError(pub(crate) napi::Error);

impl std::fmt::Display for LoaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.reason)
    }
}

impl std::error::Error for LoaderError {}

fn bool_value(env: sys::napi_env, b: bool) -> napi::Result<sys::napi_value> {
    Ok(convert::boolean_value(env, b))
}

fn one_or_many(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<Vec<Bytes>> {
    let mut is_array = false;
    // SAFETY: JS thread.
    unsafe { sys::napi_is_array(env, value, &mut is_array) };
    if is_array {
        convert::bytes_list(env, value, what)
    } else {
        Ok(vec![convert::bytes(env, value, what)?])
    }
}

fn set_options(env: sys::napi_env, value: sys::napi_value) -> ArgResult<SetOptions> {
    let Some(object) = convert::options(env, value, "options")? else { return Ok(SetOptions::default()) };
    Ok(SetOptions {
        ttl: convert::ttl(env, convert::property(env, object, c"ttl"), "options.ttl")?,
        only_if_absent: convert::boolean(env, convert::property(env, object, c"nx"), "options.nx")?,
        only_if_present: convert::boolean(env, convert::property(env, object, c"xx"), "options.xx")?,
        exact_ttl: false,
    })
}

/// Numbers in raw commands: integers without a fraction, others as JS
/// would print them.
fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}
