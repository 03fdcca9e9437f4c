//! The L1 hit path: synchronous lookups that never touch the network or the
//! runtime (what every binding calls before it pays for a thread hop), and
//! local invalidation.

use std::time::Instant;

use crate::error::Result;
use crate::l1::{ChangeWords, LocalRef, LocalView, Lookup};
use crate::stats::{Op, L1_SAMPLE_MASK};
use crate::tracking::FlushCause;

use super::keys::check_key;
use super::Cache;

impl Cache {
    /// Answers from L1 only, synchronously, never touching the network or
    /// the runtime: [`Lookup::Hit`], [`Lookup::Absent`] (a cached miss), or
    /// [`Lookup::Miss`] (ask Redis). This is the hit path every binding uses
    /// before it pays for a thread hop or a GIL release.
    #[inline]
    pub fn get_local(&self, key: &[u8]) -> Result<Lookup> {
        self.get_local_versioned(key).map(|(found, _)| found)
    }

    /// [`Cache::get_local`], plus the version of the L1 entry that answered:
    /// 0 for [`Lookup::Miss`], otherwise a number no other insertion into
    /// this cache's L1 had. While a key's answers keep one version they are
    /// the same bytes; an invalidation, eviction, expiry or flush removes the
    /// entry, so the next answer is a miss and any later fill has a new
    /// version. Bindings use it to reuse what they built for an entry (a JS
    /// Buffer) instead of converting the value again on every hit.
    ///
    /// ```
    /// # nearcache::testing::run_with_redis(|url| async move {
    /// let cache = nearcache::Cache::builder().url(url).build()?;
    /// cache.set("k", "v", Default::default()).await?;
    /// cache.get("k").await?; // fills L1
    /// let (_, first) = cache.get_local_versioned(b"k")?;
    /// assert_ne!(first, 0);
    /// assert_eq!(cache.get_local_versioned(b"k")?.1, first);
    /// cache.invalidate_local(&["k"])?;
    /// assert_eq!(cache.get_local_versioned(b"k")?, (nearcache::Lookup::Miss, 0));
    /// # Ok(()) });
    /// ```
    #[inline]
    pub fn get_local_versioned(&self, key: &[u8]) -> Result<(Lookup, u64)> {
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        if !sample_this_lookup() {
            return Ok(inner.local.lookup_versioned(key));
        }
        let started = Instant::now();
        let found = inner.local.lookup_versioned(key);
        inner.recorder.latency(Op::L1, started.elapsed(), key);
        Ok(found)
    }

    /// [`Cache::get_local`] without a copy or a reference count: runs `f`
    /// on the answer borrowed from L1's memory ([`LocalRef`]) and returns
    /// what `f` returns. This is the hit path for bindings that copy the
    /// value into their own object anyway (a Python `bytes`, a C buffer):
    /// nothing on it writes memory another thread writes.
    ///
    /// `f` runs inside an L1 read: keep it short (copy the bytes and return).
    /// It may read the cache again, but while it runs, memory L1 unlinks
    /// meanwhile is not freed. Its return value is passed through, so errors
    /// of `f` stay the caller's.
    ///
    /// ```
    /// # nearcache::testing::run_with_redis(|url| async move {
    /// use nearcache::LocalRef;
    /// let cache = nearcache::Cache::builder().url(url).build()?;
    /// cache.set("k", "value", Default::default()).await?;
    /// cache.get("k").await?; // fills L1
    /// let len = cache.with_local(b"k", |found| match found {
    ///     LocalRef::Hit(bytes) => Some(bytes.len()),
    ///     LocalRef::Absent | LocalRef::Miss => None,
    /// })?;
    /// assert_eq!(len, Some(5));
    /// // The borrow cannot outlive the callback: return what you need from it.
    /// assert!(cache.with_local(b"other", |found| found == LocalRef::Miss)?);
    /// # Ok(()) });
    /// ```
    #[inline]
    pub fn with_local<R>(&self, key: &[u8], f: impl FnOnce(LocalRef<'_>) -> R) -> Result<R> {
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        Ok(inner.local.with_local(key, f))
    }

    /// [`Cache::get_local_versioned`], plus what a binding needs to reuse
    /// its converted copy of the answer without calling core on every hit:
    /// the change words to watch and how long the answer holds if they do not
    /// change (see [`LocalView`] and [`Cache::change_words`]).
    ///
    /// ```
    /// # nearcache::testing::run_with_redis(|url| async move {
    /// let cache = nearcache::Cache::builder().url(url).build()?;
    /// cache.set("k", "v", Default::default()).await?;
    /// cache.get("k").await?; // fills L1
    /// let view = cache.get_local_view(b"k")?;
    /// let words = cache.change_words();
    /// let word = |i: usize| words.words()[i].load(std::sync::atomic::Ordering::Acquire);
    /// assert_eq!(word(view.word), view.change);
    /// cache.invalidate_local(&["k"])?;
    /// assert_ne!(word(view.word), view.change); // the copy must be dropped
    /// # Ok(()) });
    /// ```
    #[inline]
    pub fn get_local_view(&self, key: &[u8]) -> Result<LocalView> {
        let inner = &*self.inner;
        inner.check_usable()?;
        check_key(key)?;
        Ok(inner.local.lookup_view(key))
    }

    /// The change words [`Cache::get_local_view`] refers to; they stay
    /// readable for as long as the returned handle lives.
    pub fn change_words(&self) -> ChangeWords {
        self.inner.local.store.changes().clone()
    }
    /// Drops `keys` from this process's L1 (Redis is untouched).
    pub fn invalidate_local<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<()> {
        self.inner.check_usable()?;
        // All checked first: an error leaves L1 as it was.
        for key in keys {
            check_key(key.as_ref())?;
        }
        for key in keys {
            self.inner.local.invalidate(key.as_ref());
        }
        Ok(())
    }

    /// Drops every entry of this process's L1.
    pub fn invalidate_local_all(&self) -> Result<()> {
        self.inner.check_usable()?;
        self.inner.local.flush(FlushCause::Manual);
        Ok(())
    }
}

/// Whether to time this L1 lookup: one in `L1_SAMPLE_MASK + 1` per thread.
/// A thread-local counter, because a shared one would put a contended
/// atomic on every hit.
#[inline]
fn sample_this_lookup() -> bool {
    thread_local! {
        static LOOKUPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    LOOKUPS.with(|n| {
        let next = n.get().wrapping_add(1);
        n.set(next);
        next & L1_SAMPLE_MASK == 0
    })
}
