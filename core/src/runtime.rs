//! The core's own tokio runtime, and fork detection.
//!
//! One lazily started multi-thread runtime per process runs every connection
//! task, whichever language or runtime called us: connections outlive the
//! caller's task, and bindings (Python, Node, C) have no tokio of their own.
//! Rust async callers await our futures on their runtime; the sockets stay
//! here.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::error::{Error, Result};

static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();

/// The shared runtime, started on first use.
pub(crate) fn get() -> Result<&'static tokio::runtime::Runtime> {
    install_fork_handler();
    RUNTIME
        .get_or_init(|| {
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("nearcache-io")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::internal(format!("cannot start the nearcache runtime: {e}")))
}

/// The core's shared tokio runtime, started on first use.
///
/// For bindings that hand core futures to a foreign event loop bridge
/// (the Python binding registers it with `pyo3-async-runtimes`, so that
/// `asyncio` awaits run their I/O here and no second runtime is started).
/// Spawn only futures that call [`crate::Cache::check_usable`] first, or call
/// it before spawning: in a forked child this runtime's threads are gone, so
/// a spawned future would never run.
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
