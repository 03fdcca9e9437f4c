//! The state every clone of a [`Cache`](super::Cache) shares, and the
//! helpers every verb uses: usability checks, timing and error counting,
//! value encoding, own writes, grouping keys by slot.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use redis::Value;

use crate::backend::Backend;
use crate::codec::Codec;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::fills::Fills;
use crate::stats::{Op, Recorder};
use crate::tracking::Local;

use super::keys::show_key;
use super::replies::{int_reply, unexpected};

pub(super) struct Inner {
    pub(super) config: Config,
    /// L1, its pending fills, and what decides whether an entry is served.
    pub(super) local: Arc<Local>,
    /// Single flight for `get_or_load` loaders (separate from read fills).
    pub(super) loads: Fills,
    pub(super) codec: Codec,
    /// Where each key's commands go (one server, a cluster, routes).
    pub(super) backend: Backend,
    pub(super) recorder: Arc<Recorder>,
    pub(super) closed: AtomicBool,
    /// Calls in flight, for `close_when_idle` (see `work`).
    pub(super) work: Arc<super::work::Tracker>,
    pub(super) fork_generation: u64,
    #[cfg(any(test, feature = "test-util"))]
    pub(super) fill_gate: parking_lot::Mutex<Option<Arc<crate::testing::FillGate>>>,
}

impl Inner {
    #[inline]
    pub(super) fn check_usable(&self) -> Result<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(Error::closed());
        }
        if self.fork_generation != crate::runtime::fork_generation() {
            return Err(Error::new(
                ErrorKind::Closed,
                "this cache was created before fork(); its connections belong to the parent process: create a new cache in the child",
            ));
        }
        Ok(())
    }

    /// Counts a returned error by kind, and passes it on.
    pub(super) fn count(&self, err: Error) -> Error {
        self.recorder.error(err.kind());
        err
    }

    /// Times a Redis round trip, records it, and counts its error.
    pub(super) async fn timed<T>(&self, op: Op, key: &[u8], work: impl Future<Output = Result<T>>) -> Result<T> {
        let started = Instant::now();
        let result = work.await;
        self.recorder.latency(op, started.elapsed(), key);
        result.map_err(|e| self.count(e.context(format!("{} {}", op.name().to_uppercase(), show_key(key)))))
    }

    /// [`Inner::timed`] for an op family that covers several commands: the
    /// error names `command` (`HLEN "k": ...`), the latency goes to `op`.
    pub(super) async fn timed_as<T>(
        &self,
        op: Op,
        command: &str,
        key: &[u8],
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let started = Instant::now();
        let result = work.await;
        self.recorder.latency(op, started.elapsed(), key);
        result.map_err(|e| self.count(e.context(format!("{command} {}", show_key(key)))))
    }

    pub(super) fn encode<'a>(&self, key: &[u8], value: &'a [u8]) -> Result<crate::codec::Encoded<'a>> {
        let max = self.config.compression.max_value_size;
        if value.len() as u64 > max {
            return Err(self.count(Error::invalid(format!(
                "value for {} is {} bytes; compression.max_value_size is {max}",
                show_key(key),
                value.len()
            ))));
        }
        if value.len() as u64 >= self.config.observability.big_value_warn {
            self.recorder.counters.big_values.fetch_add(1, Ordering::Relaxed);
        }
        let encoded = self.codec.encode(value);
        if encoded.is_compressed() {
            self.recorder.counters.compressed_writes.fetch_add(1, Ordering::Relaxed);
            self.recorder.counters.compression_bytes_saved.fetch_add(encoded.bytes_saved() as u64, Ordering::Relaxed);
        }
        Ok(encoded)
    }

    pub(super) fn decode_value(&self, key: &[u8], value: Value) -> Result<Option<Bytes>> {
        match value {
            Value::Nil => Ok(None),
            Value::BulkString(raw) => self
                .codec
                .decode(Bytes::from(raw))
                .map(Some)
                .map_err(|e| self.count(e.context(format!("value of {}", show_key(key))))),
            other => Err(self.count(unexpected("GET", &other))),
        }
    }

    /// Rule 3: a process reads its own writes. The entry and any pending
    /// fill are dropped before the write is sent.
    pub(super) fn own_write(&self, key: &[u8]) {
        self.local.drop_key(key);
    }
    /// Splits `keys` (by index, order kept) into groups that one multi-key
    /// command can serve: same deployment and, in a cluster, same slot.
    pub(super) fn groups(&self, keys: &[&[u8]]) -> Vec<Vec<usize>> {
        if !self.backend.is_sharded() {
            return vec![(0..keys.len()).collect()];
        }
        let mut groups: Vec<(u32, Vec<usize>)> = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let group = self.backend.group_of(key);
            match groups.iter_mut().find(|(g, _)| *g == group) {
                Some((_, members)) => members.push(i),
                None => groups.push((group, vec![i])),
            }
        }
        groups.into_iter().map(|(_, members)| members).collect()
    }

    /// `DEL` / `UNLINK` of `keys`, one command per group, concurrently;
    /// returns how many existed.
    pub(super) async fn delete_keys(&self, command: &'static str, op: Op, keys: &[&[u8]]) -> Result<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        let deletes = self.groups(keys).into_iter().map(|group| async move {
            let first = keys[group[0]];
            let mut cmd = redis::cmd(command);
            for &i in &group {
                cmd.arg(keys[i]);
            }
            let reply = self.timed(op, first, self.backend.query(first, &cmd)).await?;
            int_reply(reply, command).map(|n| n.max(0) as u64)
        });
        Ok(futures_util::future::try_join_all(deletes).await?.into_iter().sum())
    }
}
