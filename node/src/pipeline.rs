//! Pipelines, transactions and scripts: thin classes over core's
//! `Pipeline`, `Transaction`, `TransactionRetries` and `Script`. index.js
//! adds ioredis's chainable command methods (`pipeline().hget(k, f)`) and
//! the `transaction(fn, ...keys)` loop on top; every rule (what may be
//! queued, L1 answers inside a pipeline, WATCH, retries, NOSCRIPT) is
//! core's.

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::Either;
use napi::Env;
use napi_derive::napi;
use parking_lot::Mutex;

use crate::cache::{counted, JsCache};
use crate::convert::{CommandArgs, Keys, Payload, Reply, Results};
use crate::error::{guard, Result};
use crate::settle::Promise;

/// A sync call on converted arguments: a bad argument throws a TypeError,
/// core's refusal throws with its code.
fn sync_with<A: crate::convert::Arg, T>(
    env: &Env,
    args: A,
    call: impl FnOnce(A::Out) -> nearcache::Result<T>,
) -> Result<T> {
    guard(env.raw(), || Ok(call(args.take()?)?))
}

#[napi]
impl JsCache {
    /// A pipeline (ioredis's `pipeline()`): queued commands go out in one
    /// write when `exec()` is called; allow-listed reads L1 can answer are
    /// answered from it. index.js adds the chainable command methods.
    #[napi(js_name = "_pipeline", skip_typescript, catch_unwind)]
    pub fn new_pipeline(&self, env: Env, transaction: bool) -> Result<JsPipeline> {
        guard(env.raw(), || Ok(JsPipeline::new(self.cache.clone(), transaction)))
    }

    /// Starts an optimistic transaction: a dedicated connection with
    /// `WATCH keys` sent on it (nothing when `keys` is empty). See
    /// `transaction(fn, ...keys)` for the retried form.
    #[napi(catch_unwind)]
    pub fn watch(&self, env: Env, keys: Keys) -> Result<Promise<JsTransaction>> {
        let cache = self.cache.clone();
        counted(&env, &self.cache, keys, move |keys| async move {
            cache.watch(&keys).await.map(|tx| JsTransaction { cache, tx })
        })
    }

    /// The retry policy `transaction()` follows (`redis.transaction_retries`).
    #[napi(js_name = "_transactionRetries", skip_typescript, catch_unwind)]
    pub fn transaction_retries(&self, env: Env) -> Result<JsTransactionRetries> {
        guard(env.raw(), || {
            Ok(JsTransactionRetries { retries: Arc::new(Mutex::new(self.cache.transaction_retries())) })
        })
    }

    /// A Lua script bound to this cache (ioredis's `defineCommand` builds on
    /// it): called with EVALSHA, falling back to EVAL on NOSCRIPT.
    #[napi(catch_unwind)]
    pub fn register_script(&self, env: Env, lua: Payload<'_>) -> Result<JsScript> {
        sync_with(&env, lua, |lua| Ok(JsScript { cache: self.cache.clone(), script: self.cache.register_script(lua) }))
    }
}

/// Commands queued for one write (`cache.pipeline()`, `cache.multi()`).
/// The command methods (`hget`, `incr`, ...) come from index.js.
#[napi(js_name = "Pipeline")]
pub struct JsPipeline {
    cache: nearcache::Cache,
    queued: Mutex<nearcache::Pipeline>,
}

impl JsPipeline {
    fn new(cache: nearcache::Cache, transaction: bool) -> Self {
        let queued = Mutex::new(Self::fresh(&cache, transaction));
        JsPipeline { cache, queued }
    }

    fn fresh(cache: &nearcache::Cache, transaction: bool) -> nearcache::Pipeline {
        if transaction {
            cache.transaction_pipeline()
        } else {
            cache.pipeline()
        }
    }
}

#[napi]
impl JsPipeline {
    /// Queues a raw command (`['HGET', key, field]`); a command core refuses
    /// (MULTI, SUBSCRIBE, ...) throws now and nothing is queued.
    #[napi(js_name = "_cmd", skip_typescript, catch_unwind)]
    pub fn cmd(&self, env: Env, args: CommandArgs) -> Result<()> {
        sync_with(&env, args, |args| self.queued.lock().cmd(&args).map(|_| ()))
    }

    /// Queues a call of `script`.
    #[napi(js_name = "_script", skip_typescript, catch_unwind)]
    pub fn script(&self, env: Env, script: &JsScript, keys: Keys, args: CommandArgs) -> Result<()> {
        sync_with(&env, (keys, args), |(keys, args)| {
            self.queued.lock().script(&script.script, &keys, &args).map(|_| ())
        })
    }

    /// How many commands are queued.
    #[napi(getter)]
    pub fn length(&self) -> u32 {
        u32::try_from(self.queued.lock().len()).unwrap_or(u32::MAX)
    }

    /// Whether `exec()` sends MULTI ... EXEC (`cache.multi()`).
    #[napi(getter)]
    pub fn transaction(&self) -> bool {
        self.queued.lock().is_transaction()
    }

    /// Sends the queued commands and empties the pipeline. Resolves
    /// ioredis's `[[error | null, reply], ...]` in call order: one command's
    /// error (WRONGTYPE) is its own entry. A transactional pipeline rejects
    /// as a whole when the server refused a command while queueing
    /// (EXECABORT: nothing ran) or the connection failed.
    #[napi(catch_unwind)]
    pub fn exec(&self, env: Env) -> Result<Promise<Results>> {
        let mut pipeline = {
            let mut queued = self.queued.lock();
            let fresh = Self::fresh(&self.cache, queued.is_transaction());
            std::mem::replace(&mut *queued, fresh)
        };
        counted(&env, &self.cache, (), move |()| async move { pipeline.execute().await.map(Results) })
    }
}

/// An optimistic transaction on a dedicated connection (`cache.watch()`,
/// and what `transaction(fn)` passes to `fn`). Before `multi()`,
/// `command()` runs at once (never from L1); after it, `queue()` queues for
/// `exec()`.
#[napi(js_name = "Transaction")]
pub struct JsTransaction {
    /// For `start_work`: the transaction's calls are in flight too.
    cache: nearcache::Cache,
    tx: nearcache::Transaction,
}

#[napi]
impl JsTransaction {
    /// Watches more keys (`WATCH`); refused after `multi()`.
    #[napi(catch_unwind)]
    pub fn watch(&self, env: Env, keys: Keys) -> Result<Promise<()>> {
        let tx = self.tx.clone();
        counted(&env, &self.cache, keys, move |keys| async move { tx.watch(&keys).await })
    }

    /// Runs a command now on the transaction's connection (reads never come
    /// from L1 nor fill it); after `multi()` it is queued instead and
    /// resolves `'QUEUED'`.
    #[napi(catch_unwind)]
    pub fn command(&self, env: Env, args: CommandArgs) -> Result<Promise<Reply>> {
        let tx = self.tx.clone();
        counted(&env, &self.cache, args, move |args| async move { tx.command(&args).await.map(Reply) })
    }

    /// Starts the queued part: later commands go out with `exec()`.
    #[napi(catch_unwind)]
    pub fn multi(&self, env: Env) -> Result<()> {
        sync_with(&env, (), |()| self.tx.multi())
    }

    /// Queues a command for `exec()` (refused commands throw now).
    #[napi(catch_unwind)]
    pub fn queue(&self, env: Env, args: CommandArgs) -> Result<()> {
        sync_with(&env, args, |args| self.tx.queue(&args))
    }

    /// Queues a call of `script` (sent as EVAL inside MULTI).
    #[napi(js_name = "_queueScript", skip_typescript, catch_unwind)]
    pub fn queue_script(&self, env: Env, script: &JsScript, keys: Keys, args: CommandArgs) -> Result<()> {
        sync_with(&env, (keys, args), |(keys, args)| self.tx.queue_script(&script.script, &keys, &args))
    }

    /// How many commands are queued.
    #[napi(getter)]
    pub fn queued(&self) -> u32 {
        u32::try_from(self.tx.queued()).unwrap_or(u32::MAX)
    }

    /// Whether a command now is queued rather than run at once.
    #[napi(getter)]
    pub fn queueing(&self) -> bool {
        self.tx.is_queueing()
    }

    /// Sends MULTI, the queued commands and EXEC; resolves
    /// `[[error | null, reply], ...]`. Rejects with `NC_TRANSACTION_ABORTED`
    /// when a watched key changed (nothing ran).
    #[napi(catch_unwind)]
    pub fn exec(&self, env: Env) -> Result<Promise<Results>> {
        let tx = self.tx.clone();
        counted(&env, &self.cache, (), move |()| async move { tx.exec().await.map(Results) })
    }

    /// `exec()` under a retry policy (index.js's `transaction()` loop):
    /// resolves the results, or the milliseconds to wait before running the
    /// attempt again; rejects when core's policy gives up.
    #[napi(js_name = "_execOrRetry", skip_typescript, catch_unwind)]
    pub fn exec_or_retry(&self, env: Env, retries: &JsTransactionRetries) -> Result<Promise<Either<Results, f64>>> {
        let (cache, tx) = (self.cache.clone(), self.tx.clone());
        let retries = Arc::clone(&retries.retries);
        counted(&env, &self.cache, (), move |()| async move {
            match tx.exec().await {
                Ok(replies) => Ok(Either::A(Results(replies))),
                Err(e) => cache
                    .retry_transaction(&mut retries.lock(), e)
                    .map(|delay: Duration| Either::B(delay.as_secs_f64() * 1000.0)),
            }
        })
    }

    /// Ends the transaction (UNWATCH / DISCARD) and returns the connection.
    #[napi(catch_unwind)]
    pub fn reset(&self, env: Env) -> Result<Promise<()>> {
        let tx = self.tx.clone();
        counted(&env, &self.cache, (), move |()| async move {
            tx.reset().await;
            Ok(())
        })
    }
}

/// Core's retry policy for one `transaction()` call.
#[napi(js_name = "TransactionRetries")]
pub struct JsTransactionRetries {
    retries: Arc<Mutex<nearcache::TransactionRetries>>,
}

/// A registered Lua script (`cache.registerScript(lua)`).
#[napi(js_name = "Script")]
pub struct JsScript {
    /// For `start_work`: a script call is in flight too.
    cache: nearcache::Cache,
    script: nearcache::Script,
}

#[napi]
impl JsScript {
    /// Runs the script with `keys` (KEYS) and `args` (ARGV): EVALSHA, or
    /// EVAL when the server answers NOSCRIPT. The reply converts as
    /// `command`'s does; the declared keys are dropped from L1.
    #[napi(catch_unwind)]
    pub fn call(&self, env: Env, keys: Option<Keys>, args: Option<CommandArgs>) -> Result<Promise<Reply>> {
        let script = self.script.clone();
        counted(&env, &self.cache, (keys, args), move |(keys, args)| async move {
            script.call(&keys.unwrap_or_default(), &args.unwrap_or_default()).await.map(Reply)
        })
    }

    /// The script's SHA1 (lower-case hex).
    #[napi(getter)]
    pub fn sha1(&self) -> String {
        self.script.sha1().to_owned()
    }
}
