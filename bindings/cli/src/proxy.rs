//! A TCP delay proxy on loopback, to emulate a network between the cache and
//! Redis (`nearcache demo --rtt 300us`).
//!
//! `--rtt D` adds D to every round trip: each byte is held for D/2 on its
//! way to Redis and D/2 on its way back. The added delay is a floor, not an
//! exact value: wake-up jitter adds a few microseconds, and the demo reports
//! the round trip it measured.
//!
//! tokio accepts and dials; the bytes then move on plain threads, because
//! tokio's timer has millisecond resolution (far too coarse for 150 us) and
//! every hop between a runtime worker and a timer thread is one more
//! wake-up on the path being measured. Each direction of each connection
//! has a reader thread, which stamps each chunk with its release time, and
//! a writer thread, which sleeps until then (with the timer slack lowered on
//! Linux), spins through the last few microseconds, and writes.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

/// The last stretch of each wait is spun rather than slept: a sleeping
/// thread wakes up tens of microseconds late.
const SPIN: Duration = Duration::from_micros(20);
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
            // Stops accepting; live connections end when their peers close
            // them (the cache closes its connections before the proxy goes).
            runtime.shutdown_background();
        }
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, one_way: Duration) {
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else { return };
            if let (Ok(client), Ok(server)) = (blocking(client), blocking(server)) {
                let _ = forward(&client, &server, one_way).and_then(|()| forward(&server, &client, one_way));
            }
            // On error the sockets drop here, which closes the connection.
        });
    }
}

/// A tokio socket as a blocking std one, with Nagle off (it would hold small
/// replies back by up to 40 ms).
fn blocking(stream: TcpStream) -> io::Result<std::net::TcpStream> {
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One direction, `from` -> `to`, each chunk held for `delay`, in order.
fn forward(from: &std::net::TcpStream, to: &std::net::TcpStream, delay: Duration) -> io::Result<()> {
    let (mut from, mut to) = (from.try_clone()?, to.try_clone()?);
    let (stamped, due) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::Builder::new().name("nearcache-proxy-read".into()).spawn(move || {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if stamped.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
        // Dropping `stamped` ends the writer once it has sent what is queued.
    })?;
    std::thread::Builder::new().name("nearcache-proxy-write".into()).spawn(move || {
        lower_timer_slack();
        while let Ok((at, chunk)) = due.recv() {
            wait_until(at);
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    })?;
    Ok(())
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
