//! "L1 first, then Redis" as one call: [`Ready`].
//!
//! Every binding answers an L1 hit on the calling thread (no runtime, no
//! GIL release, no Promise settlement) and pays for a hop only on a miss.
//! Before this module each binding wrote that sequence itself (look up,
//! match the three outcomes, then call the Redis half); now core decides
//! what can be answered at once and hands back the rest as a [`Pending`]
//! future, and a binding only chooses how to wait for it: block
//! ([`Ready::wait`]), spawn it on core's runtime, or `.await` it.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;

use super::Cache;
use crate::error::Result;
use crate::l1::{LocalRef, Lookup};
use crate::runtime::block_on;

/// An answer available now, or the work that still needs Redis.
///
/// ```
/// # nearcache::testing::with_redis(|url| {
/// use nearcache::{Cache, Ready};
///
/// let cache = Cache::builder().url(url).build()?;
/// // Not in L1 yet: the Redis half comes back as pending work.
/// assert!(matches!(cache.get_ready(b"greeting")?, Ready::Later(_)));
/// assert_eq!(cache.get_ready(b"greeting")?.wait()?, None);
/// # Ok(()) });
/// ```
#[must_use = "a Ready::Later does nothing until it is waited for or awaited"]
pub enum Ready<T> {
    /// Answered on the calling thread (an L1 hit or a cached absence).
    Now(T),
    /// Needs a round trip to Redis.
    Later(Pending<T>),
}

impl<T: Send + 'static> Ready<T> {
    /// The answer, blocking the calling thread on a miss (the I/O runs on
    /// core's runtime). Refused with `InvalidArgument` when called from
    /// inside an async runtime, like every blocking call.
    pub fn wait(self) -> Result<T> {
        match self {
            Ready::Now(value) => Ok(value),
            Ready::Later(pending) => pending.wait(),
        }
    }

    /// Converts the answer, now or when it arrives.
    pub fn map<U: Send + 'static>(self, f: impl FnOnce(T) -> U + Send + 'static) -> Ready<U> {
        match self {
            Ready::Now(value) => Ready::Now(f(value)),
            Ready::Later(pending) => Ready::Later(Pending::new(async move { pending.await.map(f) })),
        }
    }
}

impl<T: Send + 'static> IntoFuture for Ready<T> {
    type Output = Result<T>;
    type IntoFuture = Pending<T>;

    /// For async callers that do not care which case it was; bindings match
    /// on [`Ready::Now`] first so that a hit never allocates.
    fn into_future(self) -> Pending<T> {
        match self {
            Ready::Now(value) => Pending::new(std::future::ready(Ok(value))),
            Ready::Later(pending) => pending,
        }
    }
}

impl<T> std::fmt::Debug for Ready<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Ready::Now(_) => "Ready::Now(..)",
            Ready::Later(_) => "Ready::Later(..)",
        })
    }
}

/// The Redis half of a [`Ready`]: a `'static` future that owns what it
/// needs (a handle to the cache and a copy of the key), so a binding can
/// spawn it on core's runtime. Allocated once per miss, never on a hit.
#[must_use = "futures do nothing unless awaited or waited for"]
pub struct Pending<T> {
    future: Pin<Box<dyn Future<Output = Result<T>> + Send + 'static>>,
}

impl<T> Pending<T> {
    pub(super) fn new(future: impl Future<Output = Result<T>> + Send + 'static) -> Self {
        Pending { future: Box::pin(future) }
    }

    /// Blocks the calling thread until Redis answered (see [`Ready::wait`]).
    pub fn wait(self) -> Result<T> {
        block_on(self)?
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        self.future.as_mut().poll(cx)
    }
}

/// What [`Cache::get_ready_with`] gives: the L1 answer already converted by
/// the caller, or the pending Redis read (its value owned).
pub enum ReadyWith<T> {
    /// L1 answered; the conversion ran on the value borrowed from L1.
    Now(T),
    /// Needs a round trip to Redis, as [`Ready::Later`].
    Later(Pending<Option<Bytes>>),
}

impl Cache {
    /// [`Cache::get_ready`] for a binding that copies the value into an
    /// object of its own (a Python `bytes`, a caller's buffer): on an L1
    /// answer, `convert` runs on the value borrowed from L1's memory
    /// (`None` for a cached absence) inside the L1 read, so the hit touches
    /// no reference count (see [`Cache::with_local`]); on a miss, the
    /// pending read is returned and `convert` is not called. The L1 lookup
    /// happens once either way (a miss is counted once).
    ///
    /// ```
    /// # nearcache::testing::run_with_redis(|url| async move {
    /// use nearcache::ReadyWith;
    /// let cache = nearcache::Cache::builder().url(url).build()?;
    /// cache.set("k", "value", Default::default()).await?;
    /// let len = |v: Option<&[u8]>| v.map(<[u8]>::len);
    /// assert!(matches!(cache.get_ready_with(b"k", len)?, ReadyWith::Later(_)));
    /// cache.get("k").await?; // fills L1
    /// assert!(matches!(cache.get_ready_with(b"k", len)?, ReadyWith::Now(Some(5))));
    /// # Ok(()) });
    /// ```
    #[inline]
    pub fn get_ready_with<T>(&self, key: &[u8], convert: impl FnOnce(Option<&[u8]>) -> T) -> Result<ReadyWith<T>> {
        let local = self.with_local(key, |found| match found {
            LocalRef::Hit(value) => Some(convert(Some(value))),
            LocalRef::Absent => Some(convert(None)),
            LocalRef::Miss => None,
        })?;
        Ok(match local {
            Some(converted) => ReadyWith::Now(converted),
            None => {
                let (cache, key) = (self.clone(), Bytes::copy_from_slice(key));
                ReadyWith::Later(Pending::new(async move { cache.get_after_miss(&key).await }))
            }
        })
    }

    /// [`Cache::get`] split at the point where it would go to Redis: an L1
    /// hit (or cached absence) is [`Ready::Now`]; anything else is the
    /// single-flight, fill-guarded Redis read as [`Ready::Later`], which
    /// counts the L1 miss once. Argument and closed-cache errors come back
    /// at once, before any work is handed out.
    pub fn get_ready(&self, key: &[u8]) -> Result<Ready<Option<Bytes>>> {
        Ok(match self.get_local(key)? {
            Lookup::Hit(value) => Ready::Now(Some(value)),
            Lookup::Absent => Ready::Now(None),
            Lookup::Miss => {
                let (cache, key) = (self.clone(), Bytes::copy_from_slice(key));
                Ready::Later(Pending::new(async move { cache.get_after_miss(&key).await }))
            }
        })
    }

    /// [`Cache::get_or_load`] split the same way: an L1 hit is
    /// [`Ready::Now`]; otherwise the pending work reads Redis and, when the
    /// key is missing there too, runs `loader` (once per key across
    /// concurrent callers in this process) and writes its value with `ttl`.
    /// The loader runs wherever the pending work is driven: on the calling
    /// thread with [`Ready::wait`], on core's runtime when spawned.
    pub fn get_or_load_ready<F, Fut, E>(&self, key: &[u8], ttl: Option<Duration>, loader: F) -> Result<Ready<Bytes>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
    {
        Ok(match self.get_local(key)? {
            Lookup::Hit(value) => Ready::Now(value),
            Lookup::Absent | Lookup::Miss => {
                let (cache, key) = (self.clone(), Bytes::copy_from_slice(key));
                Ready::Later(Pending::new(async move { cache.get_or_load_after_miss(&key, ttl, loader).await }))
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn cache() -> Cache {
        // Never connects: every test here is answered before any I/O.
        Cache::builder().url("redis://127.0.0.1:1").build().unwrap()
    }

    #[test]
    fn argument_errors_come_back_before_any_work() {
        let cache = cache();
        assert_eq!(cache.get_ready(b"").unwrap_err().kind(), ErrorKind::InvalidArgument);
        let load = || async { Ok::<_, std::io::Error>(Bytes::from_static(b"v")) };
        assert_eq!(cache.get_or_load_ready(b"", None, load).unwrap_err().kind(), ErrorKind::InvalidArgument);
        cache.close();
        assert_eq!(cache.get_ready(b"k").unwrap_err().kind(), ErrorKind::Closed);
    }

    #[test]
    fn a_miss_hands_back_work_that_owns_its_key() {
        let cache = cache();
        let ready = {
            let key = b"k".to_vec();
            cache.get_ready(&key).unwrap()
        };
        // The key's buffer is gone; the pending work still runs (and fails
        // to connect, typed, rather than reading freed memory).
        let Ready::Later(pending) = ready else { panic!("expected a miss") };
        assert!(pending.wait().unwrap_err().kind().is_retryable());
    }

    #[test]
    fn map_applies_now_and_later() {
        let now: Ready<u32> = Ready::Now(2);
        assert_eq!(now.map(|n| n * 10).wait().unwrap(), 20);
        let later = Ready::Later(Pending::new(async { Ok(3u32) }));
        assert_eq!(later.map(|n| n + 1).wait().unwrap(), 4);
        assert_eq!(crate::block_on(Ready::Now(5u8).into_future()).unwrap().unwrap(), 5);
    }
}
