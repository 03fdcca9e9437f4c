//! What pipelines, transactions and scripts share: a queued command (checked
//! and classified once, when it is queued), where it is routed, the own-write
//! rule for it, how its reply is converted, and `MULTI` ... `EXEC` on a
//! dedicated connection.

use bytes::Bytes;
use redis::{Cmd, Value};

use crate::command::{self, Effect, Reply};
use crate::dedicated::Lease;
use crate::error::{Error, ErrorKind, Result};
use crate::tracking::FlushCause;

use super::inner::Inner;
use super::keys::{check_key, show_key};
use super::replies::unexpected;
use super::script::Script;
use super::MAX_KEY_LEN;

/// One command of a pipeline or transaction.
pub(super) struct Queued {
    /// The command name and its arguments, as given.
    pub(super) args: Vec<Bytes>,
    /// The name, upper case (for reply conversion and messages).
    pub(super) name: String,
    pub(super) effect: Effect,
}

impl Queued {
    /// Checks a command the way [`Cache::command`](super::Cache::command)
    /// does: refused commands (`MULTI`, `WATCH`, `SUBSCRIBE`, blocking pops,
    /// ...) are an `InvalidArgument` now, not a failure at execution.
    pub(super) fn new<A: AsRef<[u8]>>(args: &[A]) -> Result<Queued> {
        let parts: Vec<&[u8]> = args.iter().map(AsRef::as_ref).collect();
        let effect = command::classify(&parts)?;
        let name = String::from_utf8_lossy(parts[0]).to_ascii_uppercase();
        Ok(Queued { args: parts.iter().map(|a| Bytes::copy_from_slice(a)).collect(), name, effect })
    }

    /// A script call, as `EVAL` with the script's source: in a pipeline an
    /// `EVALSHA` answered `NOSCRIPT` could only be sent again after the
    /// commands queued behind it had run (and inside `MULTI` not at all), so
    /// the source travels each time. Its keys must share one hash slot and
    /// deployment; its own writes are its declared keys (with the other
    /// arguments, as for any write).
    pub(super) fn script<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        inner: &Inner,
        script: &Script,
        keys: &[K],
        args: &[A],
    ) -> Result<Queued> {
        for key in keys {
            check_key(key.as_ref()).map_err(|e| inner.count(e))?;
        }
        common_group(inner, keys.iter().map(AsRef::as_ref), "script")?;
        let mut call = vec![Bytes::from_static(b"EVAL"), Bytes::copy_from_slice(script.source())];
        call.push(Bytes::from(keys.len().to_string()));
        call.extend(keys.iter().map(|k| Bytes::copy_from_slice(k.as_ref())));
        call.extend(args.iter().map(|a| Bytes::copy_from_slice(a.as_ref())));
        Ok(Queued { args: call, name: "EVAL".to_owned(), effect: Effect::Write })
    }

    /// [`Queued::new`], plus what only the cache can say: `FLUSHALL`,
    /// `FLUSHDB` and `SWAPDB` are refused where keys live on several nodes
    /// or deployments (one pipeline or transaction reaches one of them;
    /// `command` sends a flush to every master).
    pub(super) fn checked<A: AsRef<[u8]>>(inner: &Inner, args: &[A], what: &str) -> Result<Queued> {
        let queued = Queued::new(args).map_err(|e| inner.count(e))?;
        if queued.effect == Effect::Flush && inner.backend.is_sharded() {
            return Err(inner.count(Error::invalid(format!(
                "{what}: {} in a cluster or with routes goes through command(), which sends it to every master",
                queued.name
            ))));
        }
        Ok(queued)
    }

    /// The redis-rs command.
    pub(super) fn cmd(&self) -> Cmd {
        let mut cmd = Cmd::new();
        for arg in &self.args {
            cmd.arg(arg.as_ref());
        }
        cmd
    }

    /// The key the command is routed by: the first argument after the name
    /// (as `command` routes), or the first declared key of `EVAL`,
    /// `EVALSHA` and `FCALL` (and their `_RO` forms); `None` for a keyless
    /// command.
    pub(super) fn route_key(&self) -> Option<&[u8]> {
        match self.name.as_str() {
            "EVAL" | "EVALSHA" | "EVAL_RO" | "EVALSHA_RO" | "FCALL" | "FCALL_RO" => {
                let numkeys = std::str::from_utf8(self.args.get(2)?).ok()?.parse::<usize>().ok()?;
                if numkeys == 0 {
                    None
                } else {
                    self.args.get(3).map(AsRef::as_ref)
                }
            }
            _ => self.args.get(1).map(AsRef::as_ref),
        }
    }

    /// Rule 3 for this command: a write drops every argument that could be
    /// a key from L1 (and retires its fill); a flush empties L1. Called
    /// before the command is sent, and again once its reply is back.
    pub(super) fn own_write(&self, inner: &Inner) {
        match self.effect {
            Effect::Read => {}
            Effect::Write => drop_keys(inner, &self.args[1..]),
            Effect::Flush => inner.local.flush(FlushCause::Manual),
        }
    }

    /// Whether this command may write `key` (so a later read of it in the
    /// same pipeline must not be answered from L1).
    pub(super) fn may_write(&self, key: &[u8]) -> bool {
        match self.effect {
            Effect::Read => false,
            Effect::Write => self.args[1..].iter().any(|a| a.as_ref() == key),
            Effect::Flush => true,
        }
    }

    /// The reply as the caller sees it: a server error is this command's
    /// `Err`; an allow-listed read's reply is converted as `Cache::read`
    /// returns it (values decompressed), so that it does not depend on
    /// whether L1 or Redis answered it; everything else is raw.
    pub(super) fn convert(&self, inner: &Inner, value: Value) -> Result<Reply> {
        if let Value::ServerError(e) = value {
            let err = Error::from(redis::RedisError::from(e));
            return Err(inner.count(err.context(self.describe())));
        }
        inner.convert_reply(&self.parts(), value)
    }

    /// The command and its arguments as byte slices.
    pub(super) fn parts(&self) -> Vec<&[u8]> {
        self.args.iter().map(AsRef::as_ref).collect()
    }

    /// `HSET "user:1"` for messages (the name and the route key only: other
    /// arguments may be values, which messages never show).
    pub(super) fn describe(&self) -> String {
        match self.route_key() {
            Some(key) => format!("{} {}", self.name, show_key(key)),
            None => self.name.clone(),
        }
    }
}

/// Drops each argument that can be a key (1 byte to `MAX_KEY_LEN`) from L1.
pub(super) fn drop_keys(inner: &Inner, keys: &[Bytes]) {
    for key in keys {
        if !key.is_empty() && key.len() <= MAX_KEY_LEN {
            inner.own_write(key);
        }
    }
}

/// The group (deployment and hash slot) every key of one transaction or
/// script must share, or an `InvalidArgument` naming two keys that differ.
/// `None` when no key is given.
pub(super) fn common_group<'a>(
    inner: &Inner,
    keys: impl IntoIterator<Item = &'a [u8]>,
    what: &str,
) -> Result<Option<u32>> {
    let mut first: Option<(&[u8], u32)> = None;
    for key in keys {
        let group = inner.backend.group_of(key);
        match first {
            None => first = Some((key, group)),
            Some((_, g)) if g == group => {}
            Some((other, _)) => {
                return Err(inner.count(Error::invalid(format!(
                    "{what}: every key must live in one hash slot of one deployment, but {} and {} do not \
                     (give them one hash tag, such as {{user:1}}:a and {{user:1}}:b)",
                    show_key(other),
                    show_key(key)
                ))))
            }
        }
    }
    Ok(first.map(|(_, g)| g))
}

/// What `MULTI` ... `EXEC` on a dedicated connection came to.
pub(super) enum Exec {
    /// `EXEC` ran every command: their replies, in order.
    Ran(Vec<Result<Reply>>),
    /// `EXEC` returned nil: a watched key changed, nothing ran.
    Aborted,
}

/// Sends `MULTI`, the queued commands and `EXEC` in one write on `lease`
/// and reads every reply. Returns whether the connection is back in its
/// initial state (no `MULTI` open, no `WATCH` pending) with the outcome: an
/// I/O error or a reply we cannot account for leaves it unknown, and the
/// caller must not release it.
pub(super) async fn multi_exec(inner: &Inner, lease: &mut Lease, queued: &[Queued]) -> (bool, Result<Exec>) {
    let mut pipe = redis::pipe();
    pipe.cmd("MULTI");
    for q in queued {
        pipe.add_command(q.cmd());
    }
    pipe.cmd("EXEC");
    let replies = match lease.send_all(&pipe).await {
        Ok(replies) => replies,
        Err(e) => {
            return (false, Err(inner.count(Error::from(e).context(format!("MULTI ... EXEC on {}", lease.endpoint())))))
        }
    };
    if replies.len() != queued.len() + 2 {
        let err = Error::new(
            ErrorKind::Redis,
            format!("MULTI ... EXEC: expected {} replies, got {}", queued.len() + 2, replies.len()),
        );
        return (false, Err(inner.count(err)));
    }
    let mut replies = replies.into_iter();
    if let Some(Value::ServerError(e)) = replies.next() {
        let err = Error::from(redis::RedisError::from(e)).context("MULTI");
        return (false, Err(inner.count(err)));
    }
    // A command the server refused while queueing (wrong arity, unknown
    // command, MOVED) makes EXEC fail with EXECABORT and nothing runs; the
    // refused command's own error says more than EXECABORT.
    let mut refused = None;
    for (i, (q, reply)) in queued.iter().zip(replies.by_ref().take(queued.len())).enumerate() {
        if let (Value::ServerError(e), None) = (reply, &refused) {
            let context = format!("MULTI ... EXEC aborted, nothing ran: command #{} ({})", i + 1, q.describe());
            refused = Some(Error::from(redis::RedisError::from(e)).context(context));
        }
    }
    let exec = replies.next().unwrap_or_default();
    let outcome = match (exec, refused) {
        (Value::Nil, _) => Ok(Exec::Aborted),
        (Value::Array(items), None) if items.len() == queued.len() => {
            Ok(Exec::Ran(queued.iter().zip(items).map(|(q, v)| q.convert(inner, v)).collect()))
        }
        (Value::ServerError(_), Some(refused)) => Err(inner.count(refused)),
        (Value::ServerError(e), None) => Err(inner.count(Error::from(redis::RedisError::from(e)).context("EXEC"))),
        (other, _) => Err(inner.count(unexpected("EXEC", &other))),
    };
    // EXEC (and EXECABORT) end the MULTI and forget every WATCH.
    (true, outcome)
}
