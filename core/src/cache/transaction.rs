//! Optimistic transactions (`WATCH` ... `MULTI` ... `EXEC`) on a dedicated
//! connection, with redis-py's `Redis.transaction` semantics: commands
//! before [`Transaction::multi`] run at once (reads of the watched keys, say),
//! commands after it are queued and sent as one `MULTI` ... `EXEC`; an `EXEC`
//! that a changed watched key aborted is retried, up to
//! `redis.transaction_retries` times, by [`Cache::transaction`].
//!
//! Reads inside a transaction never come from L1 and never fill it: they
//! run on a connection without tracking, so nothing would tell L1 later
//! that the value changed. Every key a write names is dropped from L1
//! before the write is sent and again once its reply is back (rule 3).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::command::Reply;
use crate::dedicated::Lease;
use crate::error::{Error, ErrorKind, Result};
use crate::stats::Op;

use super::batch::{common_group, multi_exec, Exec, Queued};
use super::keys::check_key;
use super::script::Script;
use super::Cache;

/// An optimistic transaction in progress, created by [`Cache::watch`] (or
/// handed to the closure of [`Cache::transaction`]).
///
/// A cheap handle: clones share one transaction, so a closure can take it by
/// value. Its connection is its own until [`Transaction::exec`] or
/// [`Transaction::reset`]; a transaction dropped before either closes that
/// connection (the server forgets the `WATCH`), it is never reused.
///
/// ```
/// # nearcache::testing::run_with_redis(|url| async move {
/// let cache = nearcache::Cache::builder().url(url).build()?;
/// cache.set("stock", "5", Default::default()).await?;
/// let tx = cache.watch(&["stock"]).await?;
/// let stock = tx.command(&["GET", "stock"]).await?; // runs now, never from L1
/// assert_eq!(stock, nearcache::Reply::Bytes("5".into()));
/// tx.multi()?;
/// tx.queue(&["DECRBY", "stock", "2"])?; // queued until exec
/// let replies = tx.exec().await?; // Err(TransactionAborted) if "stock" changed
/// assert_eq!(replies[0].as_ref().ok(), Some(&nearcache::Reply::Int(3)));
/// assert_eq!(cache.get("stock").await?.as_deref(), Some(&b"3"[..]));
/// # Ok(()) });
/// ```
#[derive(Clone)]
pub struct Transaction {
    cache: Cache,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Transaction")
            .field("watching", &state.watching)
            .field("multi", &state.multi)
            .field("queued", &state.queued.len())
            .field("finished", &state.finished)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    /// The dedicated connection, while no call is using it.
    lease: Option<Lease>,
    /// A call took the connection out and has not put it back: it is
    /// running, or it was cancelled (then the connection is gone).
    busy: bool,
    /// The first key: where the connection goes.
    route: Option<Vec<u8>>,
    watching: bool,
    multi: bool,
    queued: Vec<Queued>,
    /// `exec` or `reset` ran, or the connection failed: nothing more can
    /// be sent.
    finished: bool,
}

impl Cache {
    /// Starts an optimistic transaction: takes a dedicated connection
    /// (`redis.dedicated_connections`) to the server of `keys` and sends
    /// `WATCH keys` on it (nothing when `keys` is empty). In a cluster, or
    /// with routes, every key must share one hash slot and deployment
    /// (`InvalidArgument` otherwise, before anything is sent).
    pub async fn watch<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Transaction> {
        self.inner.check_usable()?;
        let tx = Transaction { cache: self.clone(), state: Arc::new(Mutex::new(State::default())) };
        if !keys.is_empty() {
            tx.watch(keys).await?;
        }
        Ok(tx)
    }

    /// redis-py's `Redis.transaction(func, *watches)`: runs `body` with a
    /// transaction watching `keys`, then `EXEC`s what it queued; when `EXEC`
    /// is aborted because a watched key changed, runs `body` again on a new
    /// transaction, at most `redis.transaction_retries` more times, then
    /// fails with [`ErrorKind::TransactionAborted`]. Returns what `body`
    /// returned and the replies of the queued commands. An error from `body`
    /// ends the transaction (`UNWATCH`) and is returned as is. `body` must
    /// not call [`Transaction::exec`] itself.
    ///
    /// ```
    /// # nearcache::testing::run_with_redis(|url| async move {
    /// use nearcache::Reply;
    ///
    /// let cache = nearcache::Cache::builder().url(url).build()?;
    /// let (seen, replies) = cache
    ///     .transaction(&["visits"], |tx| async move {
    ///         let seen = match tx.command(&["GET", "visits"]).await? {
    ///             Reply::Bytes(n) => std::str::from_utf8(&n).unwrap_or("0").parse::<i64>().unwrap_or(0),
    ///             _ => 0,
    ///         };
    ///         tx.multi()?;
    ///         tx.queue(&["SET", "visits", &(seen + 1).to_string()])?;
    ///         Ok(seen)
    ///     })
    ///     .await?;
    /// assert_eq!(seen, 0);
    /// assert_eq!(replies[0].as_ref().ok(), Some(&Reply::Status("OK".into())));
    /// assert_eq!(cache.get("visits").await?.as_deref(), Some(&b"1"[..]));
    /// # Ok(()) });
    /// ```
    pub async fn transaction<K, F, Fut, T>(&self, keys: &[K], body: F) -> Result<(T, Vec<Result<Reply>>)>
    where
        K: AsRef<[u8]>,
        F: FnMut(Transaction) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.transaction_with(keys, self.transaction_retries(), body).await
    }

    /// [`Cache::transaction`] with another retry policy (a delay between
    /// attempts, redis-py's `watch_delay`; another number of retries).
    pub async fn transaction_with<K, F, Fut, T>(
        &self,
        keys: &[K],
        mut retries: TransactionRetries,
        mut body: F,
    ) -> Result<(T, Vec<Result<Reply>>)>
    where
        K: AsRef<[u8]>,
        F: FnMut(Transaction) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        loop {
            let attempt = async {
                let tx = self.watch(keys).await?;
                let value = match body(tx.clone()).await {
                    Ok(value) => value,
                    Err(e) => {
                        tx.reset().await;
                        return Ok(Err(e)); // the body's error ends the loop as is
                    }
                };
                tx.exec().await.map(|replies| Ok((value, replies)))
            };
            match attempt.await {
                Ok(done) => return done,
                Err(e) => {
                    let delay = self.retry_transaction(&mut retries, e)?;
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                }
            }
        }
    }

    /// [`TransactionRetries::retry`] for a binding that runs the attempts
    /// itself (its body is a JavaScript function): the same decision, and
    /// the give-up counted in [`Cache::stats`] as [`Cache::transaction`]
    /// counts it, so every language reports the same errors.
    pub fn retry_transaction(&self, retries: &mut TransactionRetries, err: Error) -> Result<Duration> {
        retries.retry(err).map_err(|e| self.count_give_up(e))
    }

    /// Counts the error [`TransactionRetries::retry`] gives up with when it
    /// is its own (`TransactionAborted`); the errors it passes through were
    /// counted where they arose.
    pub(crate) fn count_give_up(&self, err: Error) -> Error {
        if err.kind() == ErrorKind::TransactionAborted {
            self.inner.count(err)
        } else {
            err
        }
    }

    /// The retry policy [`Cache::transaction`] uses (`redis.transaction_retries`
    /// retries, no delay), for [`Cache::transaction_with`] and for bindings
    /// that run the attempts themselves.
    pub fn transaction_retries(&self) -> TransactionRetries {
        TransactionRetries::new(self.inner.config.redis.transaction_retries)
    }
}

/// How often an optimistic transaction is run again, and how long to wait
/// in between: [`Cache::transaction`]'s loop, usable on its own by a caller
/// that runs each attempt itself (a binding whose body is a Python or
/// JavaScript function):
///
/// ```
/// # nearcache::testing::run_with_redis(|url| async move {
/// let cache = nearcache::Cache::builder().url(url).build()?;
/// let mut retries = cache.transaction_retries();
/// let replies = loop {
///     let tx = cache.watch(&["k"]).await?;
///     tx.queue(&["INCR", "k"])?;
///     match tx.exec().await {
///         Ok(replies) => break replies,
///         // Ok(delay): run it again after `delay`; Err: give up with it.
///         Err(e) => tokio::time::sleep(retries.retry(e)?).await,
///     }
/// };
/// assert_eq!(replies[0].as_ref().ok(), Some(&nearcache::Reply::Int(1)));
/// # Ok(()) });
/// ```
#[derive(Debug, Clone)]
pub struct TransactionRetries {
    retries: u32,
    left: u32,
    delay: Duration,
}

impl TransactionRetries {
    /// Up to `retries` runs after the first, without delay.
    pub fn new(retries: u32) -> TransactionRetries {
        TransactionRetries { retries, left: retries, delay: Duration::ZERO }
    }

    /// Waits `delay` before each retry (redis-py's `watch_delay`).
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> TransactionRetries {
        self.delay = delay;
        self
    }

    /// After an attempt failed with `err`: `Ok(delay)` when the transaction
    /// should run again after `delay` (its `EXEC` was aborted by a watched
    /// key, or a cluster slot moved, and retries are left); otherwise the
    /// error to return: `err` itself, or [`ErrorKind::TransactionAborted`]
    /// once every retry is used.
    pub fn retry(&mut self, err: Error) -> Result<Duration> {
        let again = err.kind() == ErrorKind::TransactionAborted || err.redirect().is_some();
        if !again {
            return Err(err);
        }
        if self.left == 0 {
            return Err(gave_up(self.retries));
        }
        self.left -= 1;
        Ok(self.delay)
    }
}

/// The error after the last allowed attempt was aborted.
fn gave_up(retries: u32) -> Error {
    Error::new(
        ErrorKind::TransactionAborted,
        format!(
            "transaction: EXEC was aborted {} times in a row because a watched key changed \
             (redis.transaction_retries = {retries})",
            u64::from(retries) + 1
        ),
    )
}

fn finished_error() -> Error {
    Error::invalid("transaction: already finished (exec() or reset() ran, or its connection failed)")
}

impl Transaction {
    /// Adds `keys` to the watched keys (`WATCH`, sent now). Refused after
    /// [`Transaction::multi`], as redis-py refuses it.
    pub async fn watch<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<()> {
        let inner = &*self.cache.inner;
        inner.check_usable()?;
        if keys.is_empty() {
            return Ok(());
        }
        let mut args: Vec<&[u8]> = vec![b"WATCH"];
        for key in keys {
            check_key(key.as_ref()).map_err(|e| inner.count(e))?;
            args.push(key.as_ref());
        }
        {
            let state = self.state.lock();
            if state.multi {
                return Err(inner.count(Error::invalid("transaction: WATCH after multi() is refused")));
            }
        }
        let first = args[1];
        self.claim_keys(std::iter::once(first).chain(args[2..].iter().copied()), "WATCH")?;
        let mut cmd = redis::cmd("WATCH");
        for key in &args[1..] {
            cmd.arg(*key);
        }
        let reply = self.send(&cmd, first, true).await?;
        self.state.lock().watching = true;
        match reply {
            redis::Value::ServerError(e) => Err(inner.count(Error::from(redis::RedisError::from(e)).context("WATCH"))),
            _ => Ok(()),
        }
    }

    /// Runs one command now, on the transaction's connection (before
    /// [`Transaction::multi`]; redis-py's immediate mode while watching).
    /// Never answered from L1, never filling it; a write drops the keys it
    /// names from L1. A server error (`WRONGTYPE`) is returned as `Redis`
    /// and leaves the transaction usable.
    pub async fn command<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Reply> {
        let inner = &*self.cache.inner;
        inner.check_usable()?;
        let queued = Queued::checked(inner, args, "transaction")?;
        {
            let state = self.state.lock();
            if state.finished {
                return Err(inner.count(finished_error()));
            }
            if state.multi {
                return Err(inner.count(Error::invalid(
                    "transaction: command() after multi(); queue() it, or run it before multi()",
                )));
            }
        }
        let key = queued.route_key().map(<[u8]>::to_vec);
        if let Some(key) = &key {
            self.claim_keys(std::iter::once(key.as_slice()), &queued.name)?;
        }
        queued.own_write(inner);
        let reply = self.send(&queued.cmd(), key.as_deref().unwrap_or(b""), false).await;
        queued.own_write(inner);
        queued.convert(inner, reply?)
    }

    /// Starts the queued part: every later command is [`Transaction::queue`]d
    /// and sent by [`Transaction::exec`] inside `MULTI` ... `EXEC`. Refused
    /// when called twice, as redis-py's "Cannot issue nested calls to MULTI".
    pub fn multi(&self) -> Result<()> {
        let inner = &*self.cache.inner;
        let mut state = self.state.lock();
        if state.finished {
            return Err(inner.count(finished_error()));
        }
        if state.multi {
            return Err(inner.count(Error::invalid("transaction: multi() was called already (MULTI cannot nest)")));
        }
        state.multi = true;
        Ok(())
    }

    /// Queues one command for [`Transaction::exec`] (starting the queued
    /// part if [`Transaction::multi`] was not called). Refused commands and
    /// keys outside the transaction's hash slot are an `InvalidArgument`
    /// now; the server's own errors come back as that command's result.
    pub fn queue<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<()> {
        let inner = &*self.cache.inner;
        let queued = Queued::checked(inner, args, "transaction")?;
        if self.state.lock().finished {
            return Err(inner.count(finished_error()));
        }
        if let Some(key) = queued.route_key() {
            self.claim_keys(std::iter::once(key), &queued.name)?;
        }
        let mut state = self.state.lock();
        state.multi = true;
        state.queued.push(queued);
        Ok(())
    }

    /// Queues a call of `script` for [`Transaction::exec`], as `EVAL` with
    /// its source (a `NOSCRIPT` inside `EXEC` could not be undone); its keys
    /// must share the transaction's hash slot.
    pub fn queue_script<K: AsRef<[u8]>, A: AsRef<[u8]>>(&self, script: &Script, keys: &[K], args: &[A]) -> Result<()> {
        let inner = &*self.cache.inner;
        let queued = Queued::script(inner, script, keys, args)?;
        if self.state.lock().finished {
            return Err(inner.count(finished_error()));
        }
        if let Some(key) = queued.route_key() {
            self.claim_keys(std::iter::once(key), "EVAL")?;
        }
        let mut state = self.state.lock();
        state.multi = true;
        state.queued.push(queued);
        Ok(())
    }

    /// Whether a command now would be queued ([`Transaction::queue`]) rather
    /// than run at once ([`Transaction::command`]): after `multi()`, or
    /// when nothing is watched (redis-py's rule, for the bindings).
    pub fn is_queueing(&self) -> bool {
        let state = self.state.lock();
        state.multi || !state.watching
    }

    /// How many commands are queued.
    pub fn queued(&self) -> usize {
        self.state.lock().queued.len()
    }

    /// Sends `MULTI`, the queued commands and `EXEC` in one write. Each
    /// command's reply (or server error) is its own entry. When a watched key
    /// changed since `WATCH`, nothing ran and the error is
    /// [`ErrorKind::TransactionAborted`]. With nothing watched and nothing
    /// queued, sends nothing. The transaction is finished afterwards.
    pub async fn exec(&self) -> Result<Vec<Result<Reply>>> {
        let inner = &*self.cache.inner;
        inner.check_usable()?;
        let (queued, watching, route) = {
            let mut state = self.state.lock();
            if state.finished {
                return Err(inner.count(finished_error()));
            }
            state.finished = true;
            (std::mem::take(&mut state.queued), state.watching, state.route.clone())
        };
        if queued.is_empty() && !watching {
            self.release();
            return Ok(Vec::new());
        }
        let mut lease = self.take_lease(route.as_deref()).await?;
        for q in &queued {
            q.own_write(inner);
        }
        let key = route.as_deref().unwrap_or(b"");
        let (clean, outcome) =
            inner.timed(Op::Command, key, async { Ok(multi_exec(inner, &mut lease, &queued).await) }).await?;
        for q in &queued {
            q.own_write(inner);
        }
        if clean {
            lease.release();
        }
        self.state.lock().busy = false;
        if let (Err(e), Some(key)) = (&outcome, route.as_deref()) {
            if e.redirect().is_some() {
                inner.backend.moved(key).await;
            }
        }
        match outcome? {
            Exec::Ran(replies) => Ok(replies),
            Exec::Aborted => Err(inner.count(Error::new(
                ErrorKind::TransactionAborted,
                "EXEC aborted: a watched key changed since WATCH, nothing ran",
            ))),
        }
    }

    /// Ends the transaction without `EXEC`: `UNWATCH` if anything is
    /// watched, and the connection goes back to the pool (redis-py's
    /// `reset`). Queued commands are dropped, never sent. Never fails: a
    /// connection that cannot be reset is closed instead.
    pub async fn reset(&self) {
        let (lease, watching) = {
            let mut state = self.state.lock();
            state.finished = true;
            state.queued.clear();
            (if state.busy { None } else { state.lease.take() }, state.watching)
        };
        let Some(mut lease) = lease else { return };
        if !watching {
            lease.release();
            return;
        }
        if let Ok(redis::Value::Okay | redis::Value::SimpleString(_)) = lease.send(&redis::cmd("UNWATCH")).await {
            lease.release();
        }
    }

    /// Checks that `keys` share the transaction's hash slot and deployment
    /// (the first key ever given fixes them and where the connection goes).
    fn claim_keys<'a>(&self, keys: impl Iterator<Item = &'a [u8]>, what: &str) -> Result<()> {
        let inner = &*self.cache.inner;
        let keys: Vec<&[u8]> = keys.collect();
        let mut state = self.state.lock();
        let known = state.route.clone();
        let all = known.as_deref().into_iter().chain(keys.iter().copied());
        common_group(inner, all, &format!("transaction ({what})"))?;
        if state.route.is_none() {
            state.route = keys.first().map(|k| k.to_vec());
        }
        Ok(())
    }

    /// Takes the connection out of the state for one call (dialing it on
    /// first use, for the server of `route`).
    async fn take_lease(&self, route: Option<&[u8]>) -> Result<Lease> {
        let inner = &*self.cache.inner;
        let existing = {
            let mut state = self.state.lock();
            if state.busy {
                return Err(inner.count(Error::invalid(
                    "transaction: another call on it is running, or one was cancelled (then the transaction is void)",
                )));
            }
            state.busy = true;
            state.lease.take()
        };
        match existing {
            Some(lease) => Ok(lease),
            None => match inner.backend.dedicated(route).await {
                Ok(lease) => Ok(lease),
                Err(e) => {
                    let mut state = self.state.lock();
                    state.busy = false;
                    state.finished = true;
                    Err(inner.count(e.context("transaction: taking a dedicated connection")))
                }
            },
        }
    }

    /// Sends one command on the transaction's connection and puts the
    /// connection back. `first_use_retry`: the command may be sent again on
    /// a fresh connection when a connection that was idle turns out to be
    /// closed (only for `WATCH`, the first command, which is safe to repeat).
    async fn send(&self, cmd: &redis::Cmd, key: &[u8], first_use_retry: bool) -> Result<redis::Value> {
        let inner = &*self.cache.inner;
        let route = self.state.lock().route.clone();
        let mut lease = self.take_lease(route.as_deref()).await?;
        let started = std::time::Instant::now();
        let mut reply = lease.send(cmd).await;
        if let Err(e) = &reply {
            if first_use_retry && lease.reused() && crate::conn::is_broken(e) {
                reply = match lease.redial().await {
                    Ok(()) => lease.send(cmd).await,
                    Err(e) => {
                        self.fail();
                        return Err(inner.count(e));
                    }
                };
            }
        }
        inner.recorder.latency(Op::Command, started.elapsed(), key);
        match reply {
            Ok(value) => {
                if let redis::Value::ServerError(e) = &value {
                    if e.code() == "MOVED" {
                        inner.backend.moved(key).await;
                    }
                }
                let mut state = self.state.lock();
                state.lease = Some(lease);
                state.busy = false;
                Ok(value)
            }
            Err(e) => {
                // The connection's state is unknown: it is dropped (closed),
                // and the transaction cannot go on.
                drop(lease);
                self.fail();
                Err(inner.count(Error::from(e).context(format!("transaction on {}", self.endpoint_hint()))))
            }
        }
    }

    /// Ends the transaction at once, closing its connection (for callers
    /// that cannot wait for [`Transaction::reset`]).
    pub(crate) fn abandon(&self) {
        self.fail();
    }

    fn fail(&self) {
        let mut state = self.state.lock();
        state.busy = false;
        state.finished = true;
        state.lease = None;
    }

    fn release(&self) {
        let lease = {
            let mut state = self.state.lock();
            state.busy = false;
            state.lease.take()
        };
        if let Some(lease) = lease {
            lease.release();
        }
    }

    fn endpoint_hint(&self) -> String {
        match &self.state.lock().route {
            Some(key) => super::keys::show_key(key),
            None => "the [redis] deployment".to_owned(),
        }
    }
}
