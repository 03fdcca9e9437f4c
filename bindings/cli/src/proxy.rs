//! A TCP delay proxy on loopback, to emulate a network between the cache and
//! Redis (`nearcache demo --rtt 300us`).
//!
//! `--rtt D` adds D to every round trip: each byte is held for D/2 on its
//! way to Redis and D/2 on its way back. The added delay is a floor, not an
//! exact value: wake-up jitter adds a few microseconds, and the demo reports
//! the round trip it measured.
//!
//! Sockets are tokio's (one small runtime of its own). The delay is not:
//! tokio's timer has millisecond resolution, far too coarse for 150 us, so
//! each direction of each connection has a thread that sleeps until a
//! chunk's release time (with the timer slack lowered on Linux) and spins
//! through the last few tens of microseconds, then hands the chunk back to
//! the tokio task that writes it.

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc as tokio_mpsc;

/// The last stretch of each wait is spun rather than slept: a sleeping
/// thread wakes up tens of microseconds late.
const SPIN: Duration = Duration::from_micros(40);
const CHUNK: usize = 64 * 1024;

/// A running proxy; stops (and drops its connections) when dropped.
pub(crate) struct DelayProxy {
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl DelayProxy {
    /// Listens on a free loopback port and forwards each connection to
    /// `upstream`, adding `rtt` to every round trip.
    pub(crate) fn start(upstream: SocketAddr, rtt: Duration) -> io::Result<DelayProxy> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("nearcache-proxy")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind(("127.0.0.1", 0)))?;
        let addr = listener.local_addr()?;
        runtime.spawn(accept_loop(listener, upstream, rtt / 2));
        Ok(DelayProxy { addr, runtime: Some(runtime) })
    }

    /// The address to connect to instead of Redis.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Dropping the tasks drops the channels, which ends the threads.
            runtime.shutdown_background();
        }
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, one_way: Duration) {
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else { return };
            // Nagle would hold small replies back by up to 40 ms.
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            forward(client_read, server_write, one_way);
            forward(server_read, client_write, one_way);
        });
    }
}

/// One direction: read -> delay thread -> write, in order.
fn forward(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (to_delay, delayed) = mpsc::channel::<(Instant, Vec<u8>)>();
    let (release, mut released) = tokio_mpsc::unbounded_channel::<Vec<u8>>();
    let spawned = std::thread::Builder::new().name("nearcache-delay".into()).spawn(move || {
        lower_timer_slack();
        // Ends when the reader task is gone (EOF or shutdown).
        while let Ok((due, chunk)) = delayed.recv() {
            wait_until(due);
            if release.send(chunk).is_err() {
                return;
            }
        }
    });
    if spawned.is_err() {
        // No thread, no proxying: dropping both halves closes the connection.
        return;
    }
    tokio::spawn(async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if to_delay.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    tokio::spawn(async move {
        while let Some(chunk) = released.recv().await {
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
}

fn wait_until(due: Instant) {
    loop {
        let now = Instant::now();
        if now >= due {
            return;
        }
        let left = due - now;
        if left > SPIN {
            std::thread::sleep(left - SPIN);
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Linux lets a sleeping thread wake up to 50 us late by default (timer
/// slack); this thread's sleeps are the delay, so ask for 1 ns.
fn lower_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes an integer and affects only this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// An echo server on loopback: the proxy's upstream.
    fn echo() -> SocketAddr {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => stream.write_all(&buf[..n]).unwrap(),
                }
            }
        });
        addr
    }

    #[test]
    fn bytes_come_back_in_order_no_sooner_than_the_rtt() {
        let rtt = Duration::from_millis(5);
        let proxy = DelayProxy::start(echo(), rtt).unwrap();
        let mut stream = std::net::TcpStream::connect(proxy.addr()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        for round in 0..3u8 {
            let message = [b'a' + round; 100];
            let started = Instant::now();
            stream.write_all(&message).unwrap();
            let mut got = [0u8; 100];
            stream.read_exact(&mut got).unwrap();
            assert!(started.elapsed() >= rtt, "round {round} took {:?}", started.elapsed());
            assert_eq!(got, message);
        }
    }
}
