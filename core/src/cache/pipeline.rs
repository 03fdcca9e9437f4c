//! Explicit pipelines: queue any mix of commands, send them in one write
//! (one per server, concurrently, in a cluster or with routes), get
//! every result back in call order, each command's error its own.
//!
//! A plain pipeline answers the reads L1 can answer from L1 (and sends the
//! rest); a transactional one (`MULTI` ... `EXEC` on a dedicated connection)
//! never does, because its reads must see the same instant as its writes.
//! Either way every key a queued write names is dropped from L1 before the
//! pipeline is sent and again when its replies are back (rule 3), and a read
//! queued after a write of the same key is never answered from L1.

use crate::command::{Effect, Reply};
use crate::error::{Error, ErrorKind, Result};
use crate::stats::Op;

use super::batch::{common_group, multi_exec, Exec, Queued};
use super::inner::Inner;
use super::reads::PipelinedFill;
use super::script::Script;
use super::Cache;

/// Transactional pipelines whose `MULTI` met a slot that just moved are
/// sent again this many times (nothing ran: `EXECABORT`).
const MOVED_RETRIES: usize = 2;

/// Commands queued to be sent together, built by [`Cache::pipeline`] or
/// [`Cache::transaction_pipeline`]. Reusable: [`Pipeline::execute`] empties
/// it.
///
/// Replies are raw, as [`Cache::command`]'s are, except that an allow-listed
/// read's reply is converted as [`Cache::read`] returns it (values of `GET`,
/// `HGET`, `HMGET`, `HGETALL`, `HVALS` decompressed), so that an answer from
/// L1 and one from Redis are the same bytes. Allow-listed reads that are sent
/// fill L1. Values written through a pipeline are sent as given (not
/// compressed).
///
/// ```
/// # nearcache::testing::run_with_redis(|url| async move {
/// use nearcache::Reply;
///
/// let cache = nearcache::Cache::builder().url(url).build()?;
/// cache.set("user:1", "ada", Default::default()).await?;
/// cache.get("user:1").await?; // now in L1
/// let mut p = cache.pipeline();
/// p.cmd(&["GET", "user:1"])?; // answered from L1
/// p.cmd(&["INCR", "visits"])?;
/// p.cmd(&["HGET", "user:1", "name"])?; // WRONGTYPE: this command's error only
/// let replies = p.execute().await?;
/// assert_eq!(replies[0].as_ref().ok(), Some(&Reply::Bytes("ada".into())));
/// assert_eq!(replies[1].as_ref().ok(), Some(&Reply::Int(1)));
/// assert_eq!(replies[2].as_ref().err().map(|e| e.kind()), Some(nearcache::ErrorKind::Redis));
/// # Ok(()) });
/// ```
pub struct Pipeline {
    cache: Cache,
    transaction: bool,
    queued: Vec<Queued>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("transaction", &self.transaction)
            .field("queued", &self.queued.len())
            .finish_non_exhaustive()
    }
}

impl Cache {
    /// A pipeline: commands sent together, each with its own result, L1
    /// answering the reads it can.
    pub fn pipeline(&self) -> Pipeline {
        Pipeline { cache: self.clone(), transaction: false, queued: Vec::new() }
    }

    /// A transactional pipeline: its commands run atomically, as one
    /// `MULTI` ... `EXEC` on a dedicated connection, and none is answered from
    /// L1. In a cluster, or with routes, every command's key must share one
    /// hash slot and deployment (`InvalidArgument` before anything is sent).
    pub fn transaction_pipeline(&self) -> Pipeline {
        Pipeline { cache: self.clone(), transaction: true, queued: Vec::new() }
    }
}

impl Pipeline {
    /// Queues one command (name and arguments). Commands that would change
    /// or hold a shared connection (`MULTI`, `WATCH`, `SUBSCRIBE`, blocking
    /// pops, ...) are refused here with `InvalidArgument`, as
    /// [`Cache::command`] refuses them.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<&mut Pipeline> {
        let queued = Queued::checked(&self.cache.inner, args, "pipeline")?;
        self.queued.push(queued);
        Ok(self)
    }

    /// Queues a call of `script` (redis-py's `script(keys, args,
    /// client=pipe)`), sent as `EVAL` with its source: an `EVALSHA` that met
    /// `NOSCRIPT` mid-pipeline could only run again after the commands queued
    /// behind it. Its keys must share one hash slot and deployment.
    pub fn script<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        &mut self,
        script: &Script,
        keys: &[K],
        args: &[A],
    ) -> Result<&mut Pipeline> {
        let queued = Queued::script(&self.cache.inner, script, keys, args)?;
        self.queued.push(queued);
        Ok(self)
    }

    /// How many commands are queued.
    pub fn len(&self) -> usize {
        self.queued.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Whether this pipeline runs as one `MULTI` ... `EXEC`.
    pub fn is_transaction(&self) -> bool {
        self.transaction
    }

    /// Drops every queued command.
    pub fn clear(&mut self) {
        self.queued.clear();
    }

    /// Sends the queued commands and empties the pipeline. One entry per
    /// command, in call order: its reply, or its own error (a `WRONGTYPE` is
    /// that command's `Redis` error; a connection lost under one node's
    /// batch is the `Connection` error of each command of that batch).
    ///
    /// A transactional pipeline fails as a whole instead: when the server
    /// refused a command while queueing (`EXECABORT`, nothing ran), or the
    /// connection failed.
    pub async fn execute(&mut self) -> Result<Vec<Result<Reply>>> {
        let inner = &*self.cache.inner;
        inner.check_usable()?;
        let queued = std::mem::take(&mut self.queued);
        if queued.is_empty() {
            return Ok(Vec::new());
        }
        if self.transaction {
            execute_transaction(inner, &queued).await
        } else {
            Ok(execute_plain(&self.cache, &queued).await)
        }
    }
}

async fn execute_plain(cache: &Cache, queued: &[Queued]) -> Vec<Result<Reply>> {
    let inner = &*cache.inner;
    let mut results: Vec<Option<Result<Reply>>> = Vec::with_capacity(queued.len());
    // What goes out, in call order: a plain command, or an allow-listed read
    // that fills L1 (sent as `PTTL key` + the read, rule 7, under its fill
    // guard, rule 2).
    let mut to_send: Vec<(usize, Option<PipelinedFill<'_>>)> = Vec::new();
    for (i, q) in queued.iter().enumerate() {
        // A read may use L1 (answer from it, or fill it) unless an earlier
        // command of this pipeline may have written its key (that write has
        // not run yet, or runs in the same batch).
        let parts = q.parts();
        let uses_l1 = matches!((q.effect, q.route_key()), (Effect::Read, Some(key))
            if !queued[..i].iter().any(|w| w.may_write(key)));
        if uses_l1 {
            if let Some(reply) = inner.answer_locally(&parts) {
                results.push(Some(Ok(reply)));
                continue;
            }
        }
        results.push(None);
        q.own_write(inner);
        let fill = if uses_l1 { inner.begin_pipelined_fill(&parts) } else { None };
        to_send.push((i, fill));
    }
    if !to_send.is_empty() {
        let mut commands: Vec<(Option<&[u8]>, redis::Cmd)> = Vec::with_capacity(to_send.len());
        for (i, fill) in &to_send {
            let route = queued[*i].route_key();
            match fill {
                Some(fill) => commands.extend(fill.commands().map(|cmd| (route, cmd))),
                None => commands.push((route, queued[*i].cmd())),
            }
        }
        let started = std::time::Instant::now();
        let mut replies = inner.backend.query_many(&commands).await.into_iter();
        let first = commands[0].0.unwrap_or_default();
        inner.recorder.latency(Op::Command, started.elapsed(), first);
        for (i, fill) in to_send {
            let q = &queued[i];
            let result = match fill {
                Some(fill) => match (replies.next(), replies.next()) {
                    (Some(Ok(pttl)), Some(Ok(value))) => {
                        fill.complete(pttl, value).map_err(|e| inner.count(e.context(q.describe())))
                    }
                    (Some(Err(e)), _) | (_, Some(Err(e))) => Err(inner.count(e.context(q.describe()))),
                    _ => Err(Error::internal("pipeline: a command got no reply")),
                },
                None => match replies.next() {
                    Some(Ok(value)) => q.convert(inner, value),
                    Some(Err(e)) => Err(inner.count(e.context(q.describe()))),
                    None => Err(Error::internal("pipeline: a command got no reply")),
                },
            };
            results[i] = Some(result);
        }
    }
    for q in queued {
        q.own_write(inner);
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::internal("pipeline: a command got no result"))))
        .collect()
}

async fn execute_transaction(inner: &Inner, queued: &[Queued]) -> Result<Vec<Result<Reply>>> {
    common_group(inner, queued.iter().filter_map(Queued::route_key), "transaction pipeline")?;
    let route = queued.iter().find_map(Queued::route_key);
    let mut attempts = 0;
    loop {
        let mut lease = inner.backend.dedicated(route).await.map_err(|e| inner.count(e))?;
        for q in queued {
            q.own_write(inner);
        }
        let key = route.unwrap_or(b"");
        let (clean, outcome) =
            inner.timed(Op::Command, key, async { Ok(multi_exec(inner, &mut lease, queued).await) }).await?;
        for q in queued {
            q.own_write(inner);
        }
        if clean {
            lease.release();
        }
        match outcome {
            Ok(Exec::Ran(replies)) => return Ok(replies),
            // Nothing is watched, so only a server that aborts on its own
            // (a replica turned read-only mid-way, say) gets here.
            Ok(Exec::Aborted) => {
                return Err(Error::new(ErrorKind::TransactionAborted, "EXEC aborted by the server, nothing ran"))
            }
            Err(e) if e.redirect().is_some() && attempts < MOVED_RETRIES => {
                attempts += 1;
                if let Some(key) = route {
                    inner.backend.moved(key).await;
                }
            }
            Err(e) => return Err(e),
        }
    }
}
