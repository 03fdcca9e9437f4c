//! [`Scan`] (`SCAN` over every master of every deployment, never `KEYS`)
//! and `delete_prefix`, built on it.

use std::sync::Arc;

use bytes::Bytes;
use redis::Value;

use crate::command;
use crate::error::{Error, ErrorKind, Result};
use crate::stats::Op;

use super::replies::{bulk, unexpected};
use super::Cache;

/// How many keys one SCAN step asks for.
const SCAN_COUNT: usize = 1000;

impl Cache {
    /// Iterates over keys matching `pattern` (a Redis glob; all keys if
    /// `None`) with `SCAN`, never `KEYS`. Keys may repeat, as SCAN guarantees
    /// only that every key present throughout the scan is returned.
    pub fn scan(&self, pattern: Option<&[u8]>) -> Scan {
        Scan {
            cache: self.clone(),
            pattern: pattern.map(Bytes::copy_from_slice),
            cursor: 0,
            nodes: None,
            node: 0,
            finished: false,
            pending: std::collections::VecDeque::new(),
        }
    }

    /// Deletes every key starting with `prefix` (SCAN + UNLINK in batches)
    /// and drops them from L1; returns how many were deleted. Keys created
    /// during the sweep may survive, as with any SCAN.
    pub async fn delete_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<u64> {
        let prefix = prefix.as_ref();
        self.inner.check_usable()?;
        if prefix.is_empty() {
            return Err(Error::invalid("delete_prefix: the prefix is empty (use FLUSHDB to clear a database)"));
        }
        let mut pattern = command::glob_escape(prefix);
        pattern.push(b'*');
        let mut scan = self.scan(Some(&pattern));
        let mut deleted = 0;
        while let Some(batch) = scan.next_batch().await? {
            if batch.is_empty() {
                continue;
            }
            let keys: Vec<&[u8]> = batch.iter().map(|key| key.as_ref()).collect();
            for key in &keys {
                self.inner.own_write(key);
            }
            deleted += self.inner.delete_keys("UNLINK", Op::Unlink, &keys).await?;
        }
        self.inner.local.drop_prefix(prefix);
        Ok(deleted)
    }
}

/// An iterator over `SCAN`, created by [`Cache::scan`].
pub struct Scan {
    cache: Cache,
    pattern: Option<Bytes>,
    cursor: u64,
    /// The servers to scan, one after the other (every master of every
    /// deployment), fetched on the first step.
    nodes: Option<Vec<Arc<crate::conn::Pool>>>,
    /// The server being scanned.
    node: usize,
    finished: bool,
    pending: std::collections::VecDeque<Bytes>,
}

impl Scan {
    /// The next key, or `None` when the scan is complete.
    pub async fn next(&mut self) -> Result<Option<Bytes>> {
        loop {
            if let Some(key) = self.pending.pop_front() {
                return Ok(Some(key));
            }
            match self.next_batch().await? {
                Some(batch) => self.pending.extend(batch),
                None => return Ok(None),
            }
        }
    }

    /// The next batch of keys from one SCAN step (possibly empty), or `None`
    /// when the scan is complete.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<Bytes>>> {
        if self.finished {
            return Ok(None);
        }
        let inner = &*self.cache.inner;
        inner.check_usable()?;
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(self.cursor);
        if let Some(pattern) = &self.pattern {
            cmd.arg("MATCH").arg(pattern.as_ref());
        }
        cmd.arg("COUNT").arg(SCAN_COUNT);
        let key = self.pattern.as_deref().unwrap_or_default();
        if self.nodes.is_none() {
            self.nodes = Some(inner.timed(Op::Scan, key, inner.backend.masters()).await?);
        }
        let Some(pool) = self.nodes.as_ref().and_then(|nodes| nodes.get(self.node)).cloned() else {
            self.finished = true;
            return Ok(None);
        };
        let reply = inner.timed(Op::Scan, key, pool.query_read(&cmd)).await?;
        let Value::Array(mut parts) = reply else { return Err(unexpected("SCAN", &reply)) };
        if parts.len() != 2 {
            return Err(Error::new(ErrorKind::Redis, "SCAN: expected [cursor, keys]"));
        }
        let keys = parts.pop().unwrap_or_default();
        let cursor = bulk(parts.pop().unwrap_or_default(), "SCAN")?;
        self.cursor = std::str::from_utf8(&cursor)
            .ok()
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| Error::new(ErrorKind::Redis, "SCAN: the cursor is not a number"))?;
        if self.cursor == 0 {
            // This server is done; the next step starts on the next one.
            self.node += 1;
            self.finished = self.nodes.as_ref().is_none_or(|nodes| self.node >= nodes.len());
        }
        let Value::Array(keys) = keys else { return Err(unexpected("SCAN", &keys)) };
        keys.into_iter().map(|k| bulk(k, "SCAN")).collect::<Result<Vec<_>>>().map(Some)
    }
}
