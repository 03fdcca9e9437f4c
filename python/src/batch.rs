//! What `Pipeline` / `AsyncPipeline` and the script classes share: the
//! command lines the typed pipeline methods queue, the Python type each
//! queued command's reply becomes ([`Shape`], decoded by core's
//! `nearcache::decode`, as redis-py applies each command's response
//! callback), and the state of one pipeline in redis-py's modes:
//!
//! - queueing (`Mode::Queue`): a core `Pipeline` (plain, or `MULTI` ...
//!   `EXEC` when made with `transaction=True` or after `multi()`);
//! - watching (`Mode::Watch`, after `watch(*keys)`): a core `Transaction`;
//!   commands run at once until `multi()` (core's `is_queueing` says which),
//!   then are queued for `EXEC`.
//!
//! Every rule (what may be queued, L1 answers, WATCH, retries, NOSCRIPT) is
//! core's; this module only routes calls to it and translates types.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use nearcache::{decode, ErrorKind, Reply};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::convert::out;
use crate::error::{core_error, to_py};

/// One command as queued: its name and arguments.
pub(crate) struct Line(pub(crate) Vec<Bytes>);

impl Line {
    pub(crate) fn of(name: &'static str) -> Line {
        Line(vec![Bytes::from_static(name.as_bytes())])
    }

    /// Appends a key, field or value.
    pub(crate) fn arg(mut self, arg: &[u8]) -> Line {
        self.0.push(Bytes::copy_from_slice(arg));
        self
    }

    /// Appends arguments converted already.
    pub(crate) fn args(mut self, args: &[Bytes]) -> Line {
        self.0.extend(args.iter().cloned());
        self
    }

    /// Appends keys.
    pub(crate) fn keys(mut self, keys: Vec<&[u8]>) -> Line {
        self.0.extend(keys.into_iter().map(Bytes::copy_from_slice));
        self
    }

    /// Appends a non-negative integer (a bit offset).
    pub(crate) fn uint(mut self, n: u64) -> Line {
        self.0.push(Bytes::from(n.to_string()));
        self
    }

    /// Appends an integer (`INCRBY` amounts, ranges, offsets).
    pub(crate) fn int(mut self, n: i64) -> Line {
        self.0.push(Bytes::from(n.to_string()));
        self
    }

    /// Appends a float as core writes numbers (refusing NaN).
    pub(crate) fn score(mut self, py: Python<'_>, n: f64) -> PyResult<Line> {
        self.0.push(nearcache::args::number_arg(n).map_err(|e| to_py(py, e))?);
        Ok(self)
    }

    /// The first word, as given (for reply errors).
    pub(crate) fn name(&self) -> String {
        self.0.first().map(|n| String::from_utf8_lossy(n).to_ascii_uppercase()).unwrap_or_default()
    }
}

/// What a queued command's reply becomes in Python: the type the cache's
/// method of the same name returns (`Raw` for `command()` and scripts).
pub(crate) enum Shape {
    /// As `command()` returns it.
    Raw,
    /// `None` whatever the reply (`ltrim`).
    Nothing,
    /// `True` for `OK`, `False` for nil (`set` with `nx` / `xx`).
    Written,
    OptBytes,
    OptBytesList,
    BytesDict,
    BytesList,
    BytesSet,
    Flag,
    ZeroOne,
    ZeroOnes,
    Count,
    OptCount,
    Score,
    OptScore,
    OptScores,
    Text,
    /// `(member, score)` tuples, each score through the optional cast.
    Scored(Option<Py<PyAny>>),
}

impl Shape {
    /// The reply of `command` as this shape; a reply of another shape is a
    /// `RedisError` naming the command (core's decoders decide).
    pub(crate) fn convert<'py>(self, py: Python<'py>, command: &str, reply: Reply) -> PyResult<Bound<'py, PyAny>> {
        let r = &reply;
        let c = command;
        match self {
            Shape::Raw => out::reply(py, reply),
            Shape::Nothing => out::none(py, ()),
            Shape::Written => out::plain(py, !matches!(reply, Reply::Nil)),
            Shape::OptBytes => out::opt_bytes(py, typed_value(py, decode::maybe_bytes_of(c, r))?),
            Shape::OptBytesList => out::opt_bytes_list(py, typed_value(py, decode::maybe_bytes_list_of(c, r))?),
            Shape::BytesDict => out::bytes_dict(py, typed_value(py, decode::pairs_of(c, r))?),
            Shape::BytesList => out::bytes_list(py, typed_value(py, decode::bytes_list_of(c, r))?),
            Shape::BytesSet => out::bytes_set(py, typed_value(py, decode::bytes_list_of(c, r))?),
            Shape::Flag => out::plain(py, typed_value(py, decode::flag_of(c, r))?),
            Shape::ZeroOnes => out::zero_one_list(py, typed_value(py, decode::flags_of(c, r))?),
            Shape::ZeroOne => out::zero_one(py, typed_value(py, decode::flag_of(c, r))?),
            Shape::Count => out::plain(py, typed_value(py, decode::count_of(c, r))?),
            Shape::OptCount => out::plain(py, typed_value(py, decode::maybe_count_of(c, r))?),
            Shape::Score => out::plain(py, typed_value(py, decode::score_of(c, r))?),
            Shape::OptScore => out::plain(py, typed_value(py, decode::maybe_score_of(c, r))?),
            Shape::OptScores => out::plain_list(py, typed_value(py, decode::maybe_scores_of(c, r))?),
            Shape::Text => out::text(py, typed_value(py, decode::status_of(c, r))?),
            Shape::Scored(cast) => out::scored(py, (typed_value(py, decode::scored_of(c, r))?, cast)),
        }
    }
}

fn typed_value<T>(py: Python<'_>, result: nearcache::Result<T>) -> PyResult<T> {
    result.map_err(|e| to_py(py, e))
}

/// A queued command's shape and name (for its reply's errors).
pub(crate) struct Typed {
    name: String,
    shape: Shape,
}

/// Where a pipeline's commands go now.
enum Mode {
    Queue(nearcache::Pipeline),
    Watch(nearcache::Transaction),
}

/// One pipeline's state (behind the class's mutex, never held across I/O).
pub(crate) struct State {
    cache: nearcache::Cache,
    /// `pipeline(transaction=...)`: what a fresh state queues into.
    transaction: bool,
    /// `multi()` was called while queueing (redis-py refuses it twice).
    explicit: bool,
    mode: Mode,
    shapes: Vec<Typed>,
}

/// What [`State::issue`] decided.
pub(crate) enum Issued {
    /// Queued: the method returns the pipeline (chainable).
    Queued,
    /// Watching, before `multi()`: run it now on the transaction.
    Now(nearcache::Transaction, Line, Shape),
}

/// The commands taken out of a pipeline for `execute()`.
pub(crate) struct Batch {
    run: Run,
    shapes: Vec<Typed>,
}

enum Run {
    Plain(nearcache::Pipeline),
    Exec(nearcache::Transaction),
}

impl State {
    pub(crate) fn new(cache: nearcache::Cache, transaction: bool) -> State {
        let mode = Mode::Queue(fresh(&cache, transaction));
        State { cache, transaction, explicit: false, mode, shapes: Vec::new() }
    }

    /// Queues `line` (core checks it now: a refused command raises and
    /// nothing is queued), or hands it back to run at once while watching.
    pub(crate) fn issue(&mut self, py: Python<'_>, line: Line, shape: Shape) -> PyResult<Issued> {
        match &mut self.mode {
            Mode::Watch(tx) if !tx.is_queueing() => return Ok(Issued::Now(tx.clone(), line, shape)),
            Mode::Watch(tx) => tx.queue(&line.0).map_err(|e| to_py(py, e))?,
            Mode::Queue(p) => p.cmd(&line.0).map(drop).map_err(|e| to_py(py, e))?,
        }
        self.shapes.push(Typed { name: line.name(), shape });
        Ok(Issued::Queued)
    }

    /// Queues a call of `script` (redis-py's `script(keys, args, client=pipe)`).
    pub(crate) fn queue_script(
        &mut self,
        py: Python<'_>,
        script: &nearcache::Script,
        keys: &[Bytes],
        args: &[Bytes],
    ) -> PyResult<()> {
        match &mut self.mode {
            Mode::Watch(tx) => tx.queue_script(script, keys, args).map_err(|e| to_py(py, e))?,
            Mode::Queue(p) => p.script(script, keys, args).map(drop).map_err(|e| to_py(py, e))?,
        }
        self.shapes.push(Typed { name: "EVAL".to_owned(), shape: Shape::Raw });
        Ok(())
    }

    pub(crate) fn cache(&self) -> &nearcache::Cache {
        &self.cache
    }

    /// Whether `watch()` was called (and neither `execute()` nor `reset()` since).
    pub(crate) fn is_watching(&self) -> bool {
        matches!(self.mode, Mode::Watch(_))
    }

    /// How many commands are queued.
    pub(crate) fn len(&self) -> usize {
        match &self.mode {
            Mode::Queue(p) => p.len(),
            Mode::Watch(tx) => tx.queued(),
        }
    }

    /// `watch(*keys)`: the transaction to add `keys` to, or `None` when a
    /// new one must be started (core's `Cache::watch`). Refused once
    /// commands are queued, as redis-py refuses it.
    pub(crate) fn watching(&self, py: Python<'_>) -> PyResult<Option<nearcache::Transaction>> {
        match &self.mode {
            Mode::Watch(tx) => Ok(Some(tx.clone())),
            Mode::Queue(p) if p.is_empty() && !self.explicit => Ok(None),
            Mode::Queue(_) => Err(core_error(
                py,
                ErrorKind::InvalidArgument,
                "pipeline: watch() must come before any command is queued or multi() is called",
            )),
        }
    }

    /// Enters watching mode with the transaction `watch()` started.
    pub(crate) fn watch_with(&mut self, tx: nearcache::Transaction) {
        self.mode = Mode::Watch(tx);
    }

    /// `multi()`: ends the immediate part of a watching pipeline (core's
    /// `Transaction::multi`); on a queueing one, makes it `MULTI` ... `EXEC`.
    pub(crate) fn multi(&mut self, py: Python<'_>) -> PyResult<()> {
        match &mut self.mode {
            Mode::Watch(tx) => tx.multi().map_err(|e| to_py(py, e)),
            Mode::Queue(_) if self.explicit => Err(core_error(
                py,
                ErrorKind::InvalidArgument,
                "pipeline: multi() was called already (MULTI cannot nest)",
            )),
            Mode::Queue(p) if !p.is_empty() => Err(core_error(
                py,
                ErrorKind::InvalidArgument,
                "pipeline: multi() must come before any command is queued (without watch(), commands are queued \
                 already)",
            )),
            Mode::Queue(p) => {
                *p = self.cache.transaction_pipeline();
                self.explicit = true;
                Ok(())
            }
        }
    }

    /// Takes everything out for `execute()`, leaving a fresh pipeline
    /// (redis-py resets a pipeline after `execute()`).
    pub(crate) fn take(&mut self) -> Batch {
        let mode = std::mem::replace(&mut self.mode, Mode::Queue(fresh(&self.cache, self.transaction)));
        self.explicit = false;
        let shapes = std::mem::take(&mut self.shapes);
        let run = match mode {
            Mode::Queue(p) => Run::Plain(p),
            Mode::Watch(tx) => Run::Exec(tx),
        };
        Batch { run, shapes }
    }

    /// `reset()`: drops what is queued; the transaction being watched, if
    /// any, is returned to be reset (`UNWATCH`, by core).
    pub(crate) fn reset(&mut self) -> Option<nearcache::Transaction> {
        match self.take().run {
            Run::Exec(tx) => Some(tx),
            Run::Plain(_) => None,
        }
    }
}

fn fresh(cache: &nearcache::Cache, transaction: bool) -> nearcache::Pipeline {
    if transaction {
        cache.transaction_pipeline()
    } else {
        cache.pipeline()
    }
}

/// What a batch's run gave: replies, or (for `transaction()`) "run the
/// function again" once core's retry policy allowed it.
pub(crate) type Outcome = Option<Vec<nearcache::Result<Reply>>>;

impl Batch {
    /// Sends the commands (core's `Pipeline::execute` or `Transaction::exec`).
    /// With `retries`, an aborted `EXEC` is handed to core's retry policy:
    /// `Ok(None)` after the delay it asks for, or its final error.
    pub(crate) fn run(
        self,
        retries: Option<Retries>,
    ) -> (impl std::future::Future<Output = nearcache::Result<Outcome>> + Send + 'static, Vec<Typed>) {
        let Batch { run, shapes } = self;
        let work = async move {
            let result = match run {
                Run::Plain(mut p) => p.execute().await,
                Run::Exec(tx) => tx.exec().await,
            };
            match (result, retries) {
                (Ok(replies), _) => Ok(Some(replies)),
                (Err(e), None) => Err(e),
                (Err(e), Some(retries)) => {
                    let delay = retries.cache.retry_transaction(&mut retries.policy.lock(), e)?;
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    Ok(None)
                }
            }
        };
        (work, shapes)
    }
}

/// The results of `execute()` in call order, each converted to its shape;
/// a command's error is an exception in its place, or (`raise_on_error`)
/// the first one is raised, as redis-py does.
pub(crate) fn results<'py>(
    py: Python<'py>,
    shapes: Vec<Typed>,
    replies: Vec<nearcache::Result<Reply>>,
    raise_on_error: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let list = PyList::empty(py);
    let mut first_error = None;
    let mut shapes = shapes.into_iter();
    for reply in replies {
        // Core returns one result per queued command; a missing shape would
        // be a bug, and then the raw reply is still the right value.
        let typed = shapes.next().unwrap_or(Typed { name: String::new(), shape: Shape::Raw });
        let value = match reply {
            Ok(reply) => typed.shape.convert(py, &typed.name, reply),
            Err(e) => Err(to_py(py, e)),
        };
        match value {
            Ok(value) => list.append(value)?,
            Err(err) => {
                list.append(err.value(py))?;
                first_error.get_or_insert(err);
            }
        }
    }
    match first_error {
        Some(err) if raise_on_error => Err(err),
        _ => Ok(list.into_any()),
    }
}

/// `nearcache._native.TransactionRetries`: core's retry policy for one
/// `transaction()` call (`redis.transaction_retries`, redis-py's
/// `watch_delay`), consulted by `_execute_or_retry`.
#[pyclass(frozen, module = "nearcache._native", name = "TransactionRetries")]
pub(crate) struct PyRetries {
    pub(crate) inner: Retries,
}

/// Shared with the future that consults it; the cache counts the give-up
/// in its stats (`Cache::retry_transaction`), as every language does.
#[derive(Clone)]
pub(crate) struct Retries {
    policy: Arc<Mutex<nearcache::TransactionRetries>>,
    cache: nearcache::Cache,
}

impl PyRetries {
    /// Core's policy for `cache`, with `watch_delay` seconds between attempts
    /// (`None` or not positive: none, as redis-py sleeps only when > 0).
    pub(crate) fn new(py: Python<'_>, cache: &nearcache::Cache, watch_delay: Option<f64>) -> PyResult<PyRetries> {
        let mut policy = cache.transaction_retries();
        if let Some(seconds) = watch_delay.filter(|s| s.is_nan() || *s > 0.0) {
            let delay = Duration::try_from_secs_f64(seconds).map_err(|_| {
                core_error(py, ErrorKind::InvalidArgument, format!("watch_delay: {seconds} is not a number of seconds"))
            })?;
            policy = policy.delay(delay);
        }
        Ok(PyRetries { inner: Retries { policy: Arc::new(Mutex::new(policy)), cache: cache.clone() } })
    }
}

/// Script call arguments: `keys` and `args`, both optional (redis-py's
/// `script(keys=None, args=None)`).
pub(crate) fn script_args(
    keys: Option<crate::convert::Keys<'_>>,
    args: Option<crate::convert::Args>,
) -> (Vec<Bytes>, Vec<Bytes>) {
    use crate::convert::Project;
    (keys.map(Project::owned).unwrap_or_default(), args.map(Project::owned).unwrap_or_default())
}
