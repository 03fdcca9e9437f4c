//! Read-side protection for L1 without a shared write: who may still be
//! looking at an entry that a writer has unlinked, and when it can be freed.
//!
//! A hit must not write a cache line another thread writes (a lock word, a
//! reference count, a shared counter): on this machine one uncontended atomic
//! read-modify-write costs about a third of the whole hit budget, and a
//! contended one costs far more. Epoch-based reclamation crates protect a read
//! with such an operation on every exit (crossbeam-epoch's `pin`, seize's
//! guard: 17-18 ns a read here), so L1 keeps its own, smaller scheme, the
//! classic one of userspace RCU with asymmetric fences:
//!
//! - Every thread that reads L1 owns a *slot* (a cache-line-sized word, claimed
//!   on its first read and returned when the thread exits). A read makes the
//!   word odd with a plain store before it loads any table pointer and even
//!   again, with a release store, when it is done. Nested reads (a
//!   `with_local` callback that reads again) only count depth.
//! - A writer unlinks an object first, then *retires* it (see
//!   [`Retired`]). Retired objects are freed in batches: the writer issues a
//!   process-wide memory barrier (`membarrier(2)`, which makes every thread
//!   of the process execute a full fence, so the readers' plain stores need
//!   none), then notes every slot that is odd. The batch is freed once each
//!   of those slots has changed: the readers that might have seen the
//!   objects have left. Nothing ever waits for a reader, so a reader that
//!   stalls (a slow callback, a descheduled thread) only delays freeing.
//! - Without `membarrier` (not Linux, or a kernel without it), readers pay a
//!   sequentially consistent store and fence instead, and writers a fence.
//! - More threads than slots: the extra ones share one counter of active
//!   readers with atomic increments; a batch waits until it reads zero.
//!
//! The slots are process-wide (one set for every cache), so a thread reading
//! several caches owns one slot. After `fork()` only the forking thread
//! exists in the child, so every other slot is released there.

use std::sync::atomic::{compiler_fence, fence, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;

/// Thread slots with a word of their own (cache-line padded). Beyond this,
/// threads share [`Registry::overflow`].
pub(crate) const SLOTS: usize = 512;

/// A slot index for a thread that has none.
const NO_SLOT: usize = usize::MAX;

#[repr(align(128))]
struct Word(AtomicU64);

struct Registry {
    words: Box<[Word]>,
    /// Slots returned by exited threads, reused first.
    free: Mutex<Vec<usize>>,
    /// Slots ever claimed; a grace period scans only these.
    claimed: AtomicUsize,
    /// Readers without a slot of their own, currently inside a read.
    overflow: AtomicU64,
}

static REGISTRY: OnceLock<Registry> = OnceLock::new();

fn registry() -> &'static Registry {
    REGISTRY.get_or_init(|| {
        install_fork_handler();
        Registry {
            words: (0..SLOTS).map(|_| Word(AtomicU64::new(0))).collect(),
            free: Mutex::new(Vec::new()),
            claimed: AtomicUsize::new(0),
            overflow: AtomicU64::new(0),
        }
    })
}

/// How readers and writers order their accesses (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Barrier {
    /// Readers: plain stores; writers: `membarrier(PRIVATE_EXPEDITED)`.
    Membarrier,
    /// Readers: SeqCst store + fence; writers: a SeqCst fence.
    Fence,
}

/// 0 until decided.
static BARRIER: AtomicU8 = AtomicU8::new(0);
const MEMBARRIER: u8 = 1;
const FENCE: u8 = 2;

#[inline]
fn barrier() -> Barrier {
    match BARRIER.load(Ordering::Relaxed) {
        MEMBARRIER => Barrier::Membarrier,
        FENCE => Barrier::Fence,
        _ => decide_barrier(),
    }
}

#[cold]
fn decide_barrier() -> Barrier {
    static DECIDED: OnceLock<Barrier> = OnceLock::new();
    let chosen = *DECIDED.get_or_init(|| if membarrier::register() { Barrier::Membarrier } else { Barrier::Fence });
    BARRIER.store(if chosen == Barrier::Membarrier { MEMBARRIER } else { FENCE }, Ordering::Relaxed);
    chosen
}

/// This thread's slot: its index and its word. Only this thread writes the
/// word, so entering and leaving a read are plain stores, and the word's
/// parity says whether the thread is inside a read (odd) already, which is
/// how nested reads are told apart.
struct ThreadSlot {
    index: usize,
    word: Option<&'static AtomicU64>,
}

impl ThreadSlot {
    fn claim() -> ThreadSlot {
        let registry = registry();
        // After a fork the free list's mutex may have been held by a thread
        // that does not exist in the child: slots come from the counter.
        let reused = if FORKED.load(Ordering::Relaxed) { None } else { registry.free.lock().pop() };
        let index = reused.or_else(|| {
            let next = registry.claimed.fetch_add(1, Ordering::AcqRel);
            (next < SLOTS).then_some(next)
        });
        match index {
            Some(index) => ThreadSlot { index, word: Some(&registry.words[index].0) },
            None => ThreadSlot { index: NO_SLOT, word: None },
        }
    }
}

impl Drop for ThreadSlot {
    fn drop(&mut self) {
        if self.word.is_some() && !FORKED.load(Ordering::Relaxed) {
            // Even already (no read outlives the thread); hand it on.
            registry().free.lock().push(self.index);
        }
    }
}

thread_local! {
    static SLOT: ThreadSlot = ThreadSlot::claim();
}

/// Proof that the current thread is inside a read: while it lives, nothing
/// retired after it was created is freed. Not `Send`: it names this thread's
/// slot.
pub(crate) struct ReadGuard {
    /// The slot this read entered through; `NO_SLOT` for the shared
    /// overflow counter.
    slot: usize,
    /// The slot's word and the value to store in it when leaving, if this
    /// guard entered the read (an outer guard); `None` for a nested one.
    leave: Option<(&'static AtomicU64, u64)>,
    _not_send: std::marker::PhantomData<*const ()>,
}

/// Enters a read (see the module docs). Reentrant.
#[inline]
pub(crate) fn read() -> ReadGuard {
    let entered = SLOT.try_with(|t| {
        let word = t.word?;
        let seq = word.load(Ordering::Relaxed);
        if seq & 1 == 1 {
            // Nested inside a read of this thread: the outer guard leaves.
            return Some((t.index, None));
        }
        match barrier() {
            Barrier::Membarrier => {
                word.store(seq + 1, Ordering::Relaxed);
                compiler_fence(Ordering::SeqCst);
            }
            Barrier::Fence => {
                word.store(seq + 1, Ordering::SeqCst);
                fence(Ordering::SeqCst);
            }
        }
        Some((t.index, Some((word, seq + 2))))
    });
    match entered {
        Ok(Some((slot, leave))) => ReadGuard { slot, leave, _not_send: std::marker::PhantomData },
        // No slot (too many threads, or the thread is exiting): the shared counter.
        _ => {
            registry().overflow.fetch_add(1, Ordering::SeqCst);
            ReadGuard { slot: NO_SLOT, leave: None, _not_send: std::marker::PhantomData }
        }
    }
}

impl Drop for ReadGuard {
    #[inline]
    fn drop(&mut self) {
        if let Some((word, even)) = self.leave {
            word.store(even, Ordering::Release);
        } else if self.slot == NO_SLOT {
            registry().overflow.fetch_sub(1, Ordering::Release);
        }
    }
}

/// Readers that were inside a read when a batch was retired.
pub(crate) struct Snapshot {
    /// (slot, its odd value) for every slot that was reading.
    busy: Vec<(usize, u64)>,
    /// Whether slotless readers were active.
    overflow: bool,
}

impl Snapshot {
    /// Takes the snapshot after making every earlier unlink visible to
    /// every reader that enters from now on.
    pub(crate) fn take() -> Snapshot {
        let registry = registry();
        heavy_barrier();
        let claimed = registry.claimed.load(Ordering::Acquire).min(SLOTS);
        let busy = registry.words[..claimed]
            .iter()
            .enumerate()
            .filter_map(|(i, w)| {
                let v = w.0.load(Ordering::Acquire);
                (v & 1 == 1).then_some((i, v))
            })
            .collect();
        Snapshot { busy, overflow: registry.overflow.load(Ordering::Acquire) != 0 }
    }

    /// Whether every reader noted has left (so what was retired before the
    /// snapshot can be freed). Narrows the list as readers leave.
    pub(crate) fn passed(&mut self) -> bool {
        let registry = registry();
        self.busy.retain(|(i, v)| registry.words[*i].0.load(Ordering::Acquire) == *v);
        if self.overflow {
            self.overflow = registry.overflow.load(Ordering::Acquire) != 0;
        }
        self.busy.is_empty() && !self.overflow
    }
}

fn heavy_barrier() {
    match barrier() {
        Barrier::Membarrier => {
            if !membarrier::barrier() {
                // Registration is per process image; retry it once (e.g.
                // after a fork), then fall back to the global command.
                if !(membarrier::register() && membarrier::barrier()) {
                    membarrier::global_barrier();
                }
            }
        }
        Barrier::Fence => fence(Ordering::SeqCst),
    }
}

/// Releases every slot but the calling thread's in a forked child, where
/// the other threads do not exist (their slots may be odd forever).
#[cfg(unix)]
fn install_fork_handler() {
    extern "C" fn in_child() {
        // Only atomics and no allocation: async-signal-safe. The free list
        // (a mutex another thread may have held at fork) is abandoned and
        // the claim counter reset instead, so slots are claimed afresh.
        let Some(registry) = REGISTRY.get() else { return };
        let mine = SLOT.try_with(|t| t.index).unwrap_or(NO_SLOT);
        for (i, word) in registry.words.iter().enumerate() {
            if i != mine {
                word.0.store(0, Ordering::Relaxed);
            }
        }
        registry.overflow.store(0, Ordering::Relaxed);
        // Slots past ours are claimed again from the counter; ours stays.
        let next = if mine == NO_SLOT { 0 } else { mine + 1 };
        registry.claimed.store(next, Ordering::Relaxed);
        FORKED.store(true, Ordering::Relaxed);
    }
    // SAFETY: registering a handler that only touches atomics.
    unsafe {
        libc::pthread_atfork(None, None, Some(in_child));
    }
}

#[cfg(not(unix))]
fn install_fork_handler() {}

/// Set in a forked child: the free list is not trusted there.
static FORKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cfg(target_os = "linux")]
mod membarrier {
    const QUERY: libc::c_long = 0;
    const GLOBAL: libc::c_long = 1;
    const PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    fn call(cmd: libc::c_long) -> libc::c_long {
        // SAFETY: membarrier takes two integers and touches no memory of ours.
        unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_long) }
    }

    /// Registers the process for private expedited barriers; false if the
    /// kernel offers none.
    pub(super) fn register() -> bool {
        let supported = call(QUERY);
        supported >= 0 && supported & PRIVATE_EXPEDITED != 0 && call(REGISTER_PRIVATE_EXPEDITED) == 0
    }

    pub(super) fn barrier() -> bool {
        call(PRIVATE_EXPEDITED) == 0
    }

    pub(super) fn global_barrier() {
        if call(GLOBAL) != 0 {
            // Nothing left to order the readers' plain stores with: a fence
            // here is not enough in theory, but every kernel that passed
            // `register` offers GLOBAL; this is only reached if it stops.
            std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod membarrier {
    pub(super) fn register() -> bool {
        false
    }
    pub(super) fn barrier() -> bool {
        false
    }
    pub(super) fn global_barrier() {}
}

impl ReadGuard {
    /// Whether this read is one in `mask + 1` of its thread's outer reads
    /// (for latency sampling without a counter of its own: the slot word
    /// already counts the thread's reads).
    #[inline]
    pub(crate) fn sampled(&self, mask: u64) -> bool {
        self.leave.is_some_and(|(_, even)| (even >> 1) & mask == 0)
    }

    /// The slot this read owns, `None` for a thread without one.
    #[inline]
    pub(crate) fn slot(&self) -> Option<usize> {
        (self.slot != NO_SLOT).then_some(self.slot)
    }
}
