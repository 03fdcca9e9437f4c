//! The core's own tokio runtime, and fork detection.
//!
//! One lazily started multi-thread runtime per process runs every connection
//! task, whichever language or runtime called us: connections outlive the
//! caller's task, and bindings (Python, Node, C) have no tokio of their own.
//! Rust async callers await our futures on their runtime; the sockets stay
//! here.

use std::future::Future;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::error::{Error, Result};

/// A runtime and the fork generation of the process that started it.
struct Current {
    generation: u64,
    runtime: tokio::runtime::Runtime,
}

/// The runtime of this process: null until first use, then a leaked
/// `Current` that is never freed (so the pointer stays valid forever).
static CURRENT: AtomicPtr<Current> = AtomicPtr::new(std::ptr::null_mut());
/// Serialises starting a runtime.
static STARTING: Mutex<()> = Mutex::new(());

fn current() -> Option<&'static Current> {
    // SAFETY: CURRENT is null or a pointer from `Box::leak`, never freed.
    unsafe { CURRENT.load(Ordering::Acquire).as_ref() }
}

/// The shared runtime, started on first use, and started again in a forked
/// child: a child inherits the parent's runtime object but none of its
/// worker threads, so a future spawned there would never run. The parent's
/// runtime is leaked in the child (dropping it would wait for threads that
/// do not exist there).
pub(crate) fn get() -> Result<&'static tokio::runtime::Runtime> {
    install_fork_handler();
    let generation = fork_generation();
    if let Some(cur) = current().filter(|c| c.generation == generation) {
        return Ok(&cur.runtime);
    }
    let _starting = STARTING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(cur) = current().filter(|c| c.generation == generation) {
        return Ok(&cur.runtime);
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("nearcache-io")
        .enable_all()
        .build()
        .map_err(|e| Error::internal(format!("cannot start the nearcache runtime: {e}")))?;
    let cur: &'static mut Current = Box::leak(Box::new(Current { generation, runtime }));
    CURRENT.store(cur, Ordering::Release);
    Ok(&cur.runtime)
}

/// The core's shared tokio runtime, started on first use (and again in a
/// forked child, whose inherited runtime has no threads).
///
/// For bindings that bridge core futures to a foreign event loop (the
/// Python binding's `AsyncCache` spawns here, so that `asyncio` calls run
/// their I/O on this runtime and no second runtime is started). Call
/// [`crate::Cache::check_usable`] before spawning a cache's future: a cache
/// created before a fork is unusable in the child.
pub fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    get()
}

/// Runs `future` on the core runtime and waits for it on this thread. Used by
/// [`crate::blocking::Cache`] and the bindings; refuses to run inside an async
/// context, where blocking would stall (or deadlock) that runtime.
pub fn block_on<F: Future>(future: F) -> Result<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::invalid(
            "a blocking nearcache call was made from inside an async runtime; use nearcache::Cache (async) there",
        ));
    }
    Ok(get()?.block_on(future))
}

/// Runs `future` on the core runtime (starting it if needed) and returns its
/// handle. Bindings whose host has no tokio (Node's event loop, C callers
/// that want a callback) start their async calls here, so every connection
/// task and every call share the one runtime; awaiting the handle works from
/// any executor.
pub fn spawn<F>(future: F) -> Result<tokio::task::JoinHandle<F::Output>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Ok(get()?.spawn(future))
}

/// Bumped in the child after every `fork()`. A cache remembers the value it
/// was created under; a mismatch means its sockets and runtime threads
/// belong to the parent.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

pub(crate) fn fork_generation() -> u64 {
    FORK_GENERATION.load(Ordering::Relaxed)
}

#[cfg(unix)]
fn install_fork_handler() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    extern "C" fn in_child() {
        FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
    }
    INSTALLED.get_or_init(|| {
        // SAFETY: registering a handler that only touches an atomic is
        // async-signal-safe, as the child side of pthread_atfork requires.
        unsafe {
            libc::pthread_atfork(None, None, Some(in_child));
        }
    });
}

#[cfg(not(unix))]
fn install_fork_handler() {}

/// Installs the fork handler without starting the runtime (a cache records
/// its generation at creation).
pub(crate) fn watch_forks() {
    install_fork_handler();
}
