//! `get_or_load`: read, or run the caller's loader once per key in this
//! process (single flight, separate from read fills) and write its result.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;

use crate::error::{Error, ErrorKind, Result};
use crate::fills::{share, Join};

use super::keys::show_key;
use super::{Cache, SetOptions};

impl Cache {
    /// The value of `key`, or, when Redis has none, the value `loader`
    /// produces, which is written to Redis (with `ttl`) and returned.
    /// Concurrent callers for one key in this process run the loader once
    /// and share its result. A loader error is returned as
    /// [`ErrorKind::Loader`] with the loader's error as its cause.
    pub async fn get_or_load<F, Fut, E>(&self, key: impl AsRef<[u8]>, ttl: Option<Duration>, loader: F) -> Result<Bytes>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Bytes, E>>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.load(key.as_ref(), ttl, loader, false).await
    }

    /// [`Cache::get_or_load`] for callers that already asked
    /// [`Cache::get_local`] and got no value (the blocking facade, the
    /// bindings): the first read skips L1, so that the lookup is counted once
    /// in [`Stats`](crate::Stats), as [`Cache::get_after_miss`] does for `get`.
    pub async fn get_or_load_after_miss<F, Fut, E>(
        &self,
        key: impl AsRef<[u8]>,
        ttl: Option<Duration>,
        loader: F,
    ) -> Result<Bytes>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Bytes, E>>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.load(key.as_ref(), ttl, loader, true).await
    }

    async fn load<F, Fut, E>(&self, key: &[u8], ttl: Option<Duration>, loader: F, looked_up: bool) -> Result<Bytes>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Bytes, E>>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let mut loader = Some(loader);
        let mut skip_local = looked_up;
        loop {
            let found =
                if std::mem::take(&mut skip_local) { self.get_after_miss(key).await? } else { self.get(key).await? };
            if let Some(value) = found {
                return Ok(value);
            }
            let owned = Bytes::copy_from_slice(key);
            match self.inner.loads.join(&owned) {
                Join::Follower(follower) => {
                    self.inner.recorder.counters.single_flight_joins.fetch_add(1, Ordering::Relaxed);
                    if let Some(result) = follower.wait().await {
                        if let Some(value) = result? {
                            return Ok(value);
                        }
                    }
                }
                Join::Leader(guard) => {
                    let Some(load) = loader.take() else {
                        return Err(Error::internal("get_or_load: loader already used"));
                    };
                    self.inner.recorder.counters.loader_calls.fetch_add(1, Ordering::Relaxed);
                    let result = match load().await {
                        Ok(value) => {
                            let options = ttl.map(SetOptions::ttl).unwrap_or_default();
                            self.set(key, &value, options).await.map(|_| Some(value))
                        }
                        Err(e) => {
                            let cause = e.into();
                            let err =
                                Error::new(ErrorKind::Loader, format!("loader for {} failed: {cause}", show_key(key)));
                            Err(self.inner.count(err.with_source(cause)))
                        }
                    };
                    guard.complete(share(&result), || {});
                    return match result {
                        Ok(Some(value)) => Ok(value),
                        Ok(None) => Err(Error::internal("get_or_load: loader produced no value")),
                        Err(e) => Err(e),
                    };
                }
            }
        }
    }
}
