//! The miss path: single flight per key, `GET` + `PTTL` in one round trip,
//! and the guarded L1 fill (an invalidation that lands while a read is in
//! flight discards its fill). `MGET` for `get_many` follows the same rules.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use redis::Value;

use crate::clock::duration_nanos;
use crate::error::{Error, ErrorKind, Result};
use crate::expiry::{jitter, Ttl};
use crate::fills::{FillGuard, Join};
use crate::l1::{NewEntry, Store};
use crate::stats::Op;
use crate::tracking;

use super::inner::Inner;
use super::replies::{int_reply, unexpected};

impl Inner {
    #[cfg(any(test, feature = "test-util"))]
    pub(super) async fn wait_at_gate(&self, key: &[u8]) {
        let gate = {
            let mut slot = self.fill_gate.lock();
            match slot.as_ref() {
                Some(gate) if gate.key.as_ref() == key => slot.take(),
                _ => None,
            }
        };
        if let Some(gate) = gate {
            gate.hold().await;
        }
    }
    /// Whether a read of `key` may fill L1: L1 is on, no prefix rule says
    /// `cache = false`, and (in `bcast` mode) the key is under a prefix the
    /// server reports on.
    pub(super) fn cacheable(&self, key: &[u8]) -> bool {
        self.local.enabled()
            && self.config.l1.rule_for(key).is_none_or(|rule| rule.cache)
            && tracking::covered(&self.config.l1, key)
    }

    /// How long a fill may live in L1: the prefix rule's TTL or `l1.ttl`
    /// (`negative_ttl` for a cached absence), jittered down, and never past
    /// the key's own TTL in Redis (rule 7). `None`: do not cache.
    pub(super) fn l1_ttl(&self, key: &[u8], absent: bool, redis_ttl: Ttl) -> Option<Duration> {
        let l1 = &self.config.l1;
        let rule_ttl = l1.rule_for(key).and_then(|r| r.ttl);
        let ttl = if absent {
            rule_ttl.map_or(l1.negative_ttl, |t| t.min(l1.negative_ttl))
        } else {
            rule_ttl.unwrap_or(l1.ttl)
        };
        let ttl = match (absent, redis_ttl) {
            (false, Ttl::Expires(left)) => ttl.min(left),
            // The value was read, but the key was gone by the PTTL: it just expired.
            (false, Ttl::Missing) => return None,
            _ => ttl,
        };
        (!ttl.is_zero()).then(|| jitter(ttl, l1.ttl_jitter))
    }

    /// Inserts a fill if its guard is still live (no invalidation since it
    /// was registered), and counts the outcome.
    fn complete_fill(&self, guard: FillGuard<'_>, key: &Bytes, epoch: u64, found: &(Option<Bytes>, Ttl)) {
        let (value, redis_ttl) = found;
        let ttl = self.l1_ttl(key, value.is_none(), *redis_ttl);
        let mut inserted = false;
        let live = guard.complete(Ok(value.clone()), || {
            if let Some(ttl) = ttl {
                let now = self.local.clock.now();
                let entry = NewEntry {
                    key: key.clone(),
                    value: value.clone(),
                    expires_at: now.saturating_add(duration_nanos(ttl)),
                    epoch,
                };
                inserted = self.local.store.insert(entry, now);
            }
        });
        let counters = &self.recorder.counters;
        if !live {
            counters.fills_discarded.fetch_add(1, Ordering::Relaxed);
        } else if inserted {
            counters.fills.fetch_add(1, Ordering::Relaxed);
        }
    }
    /// A miss: one round trip per key however many callers want it, and a
    /// guarded L1 fill.
    pub(super) async fn fetch(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let result = self.fetch_fresh(key).await;
        match result {
            Err(e) if e.kind().is_retryable() => match self.local.stale(key) {
                Some(value) => Ok(value),
                None => Err(e),
            },
            other => other,
        }
    }

    async fn fetch_fresh(&self, key: &[u8]) -> Result<Option<Bytes>> {
        if !self.cacheable(key) {
            return self.read(key).await;
        }
        let owned = Bytes::copy_from_slice(key);
        loop {
            match self.local.fills.join(&owned) {
                Join::Leader(guard) => {
                    // Read before the request is sent: a connection lost
                    // after this point hides whatever this fill inserts.
                    let epoch = self.local.epoch();
                    return match self.read_with_ttl(key).await {
                        Ok(found) => {
                            #[cfg(any(test, feature = "test-util"))]
                            self.wait_at_gate(key).await;
                            self.complete_fill(guard, &owned, epoch, &found);
                            Ok(found.0)
                        }
                        Err(e) => {
                            guard.complete(Err((e.kind(), e.message().to_owned())), || {});
                            Err(e)
                        }
                    };
                }
                Join::Follower(follower) => {
                    self.recorder.counters.single_flight_joins.fetch_add(1, Ordering::Relaxed);
                    if let Some(result) = follower.wait().await {
                        return result;
                    }
                    // The leader was cancelled: start over.
                }
            }
        }
    }

    /// `GET` from Redis, decompressed (for keys L1 does not hold).
    async fn read(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let reply = self.timed(Op::Get, key, self.backend.query_read(key, redis::cmd("GET").arg(key))).await?;
        self.decode_value(key, reply)
    }

    /// `GET` and `PTTL` in one round trip, so the fill can be capped by the
    /// key's own TTL.
    async fn read_with_ttl(&self, key: &[u8]) -> Result<(Option<Bytes>, Ttl)> {
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(key).cmd("PTTL").arg(key);
        let replies = self.timed(Op::Get, key, self.backend.query_pipeline_read(key, &pipe)).await?;
        let mut replies = replies.into_iter();
        let (Some(value), Some(pttl)) = (replies.next(), replies.next()) else {
            return Err(self.count(Error::new(ErrorKind::Redis, "GET + PTTL: expected two replies")));
        };
        Ok((self.decode_value(key, value)?, Ttl::from_pttl(int_reply(pttl, "PTTL")?)))
    }

    /// `MGET` for keys L1 could not answer: one per group (hash slot and
    /// deployment), sent concurrently.
    pub(super) async fn fetch_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>> {
        if !self.backend.is_sharded() {
            return self.fetch_group(keys).await;
        }
        let groups = self.groups(keys);
        let fetches = groups.iter().map(|group| async move {
            let members: Vec<&[u8]> = group.iter().map(|&i| keys[i]).collect();
            self.fetch_group(&members).await
        });
        let fetched = futures_util::future::try_join_all(fetches).await?;
        let mut out = vec![None; keys.len()];
        for (group, values) in groups.iter().zip(fetched) {
            for (&i, value) in group.iter().zip(values) {
                out[i] = value;
            }
        }
        Ok(out)
    }

    /// `MGET` (with a `PTTL` per key, same round trip) for keys that share
    /// one group, with fill tokens for each.
    async fn fetch_group(&self, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>> {
        let owned: Vec<Bytes> = keys.iter().map(|k| Bytes::copy_from_slice(k)).collect();
        // Followers are not awaited: joining would serialise this MGET behind
        // other flights, so a key already in flight is read without a fill.
        let guards: Vec<Option<FillGuard<'_>>> = owned
            .iter()
            .map(|k| match self.cacheable(k) {
                true => match self.local.fills.join(k) {
                    Join::Leader(guard) => Some(guard),
                    Join::Follower(_) => None,
                },
                false => None,
            })
            .collect();
        let epoch = self.local.epoch();
        let mut pipe = redis::pipe();
        pipe.cmd("MGET");
        for key in keys {
            pipe.arg(*key);
        }
        for (key, guard) in keys.iter().zip(&guards) {
            if guard.is_some() {
                pipe.cmd("PTTL").arg(*key);
            }
        }
        let replies = match self.timed(Op::GetMany, keys[0], self.backend.query_pipeline_read(keys[0], &pipe)).await {
            Ok(replies) => self.parse_mget(keys, &guards, replies),
            Err(e) => Err(e),
        };
        let (values, ttls) = match replies {
            Ok(parsed) => parsed,
            Err(e) => {
                for guard in guards.into_iter().flatten() {
                    guard.complete(Err((e.kind(), e.message().to_owned())), || {});
                }
                return Err(e);
            }
        };
        let mut ttls = ttls.into_iter();
        for ((guard, key), value) in guards.into_iter().zip(&owned).zip(&values) {
            if let Some(guard) = guard {
                let redis_ttl = ttls.next().unwrap_or(Ttl::Missing);
                self.complete_fill(guard, key, epoch, &(value.clone(), redis_ttl));
            }
        }
        Ok(values)
    }

    /// Splits the MGET + PTTL replies into values and the TTLs of the keys
    /// that have a fill guard.
    fn parse_mget(
        &self,
        keys: &[&[u8]],
        guards: &[Option<FillGuard<'_>>],
        replies: Vec<Value>,
    ) -> Result<(Vec<Option<Bytes>>, Vec<Ttl>)> {
        let mut replies = replies.into_iter();
        let values = match replies.next() {
            Some(Value::Array(items)) if items.len() == keys.len() => {
                items.into_iter().zip(keys).map(|(v, key)| self.decode_value(key, v)).collect::<Result<Vec<_>>>()?
            }
            other => return Err(self.count(unexpected("MGET", &other.unwrap_or_default()))),
        };
        let wanted = guards.iter().filter(|g| g.is_some()).count();
        let ttls =
            replies.take(wanted).map(|v| int_reply(v, "PTTL").map(Ttl::from_pttl)).collect::<Result<Vec<_>>>()?;
        if ttls.len() != wanted {
            return Err(self.count(Error::new(ErrorKind::Redis, "MGET + PTTL: missing replies")));
        }
        Ok((values, ttls))
    }
}
