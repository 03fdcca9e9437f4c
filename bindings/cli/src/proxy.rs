//! A TCP delay proxy on loopback, to emulate a network between the cache and
//! Redis (`nearcache demo --rtt 300us`).
//!
//! The proxy adds a settable delay to every round trip: each byte is held
//! for half of it on its way to Redis and half on its way back. The delay
//! can change while connections are open (the demo measures the round trip
//! through the proxy with nothing added, then tops it up to `--rtt`). The
//! added delay is a floor, not an exact value: wake-up jitter adds a few
//! microseconds, and the demo reports the round trip it measured.
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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

/// The last stretch of each wait is spun rather than slept: a sleeping
/// thread wakes up tens of microseconds late.
const SPIN: Duration = Duration::from_micros(20);
const CHUNK: usize = 64 * 1024;

/// A running proxy; stops (and drops its connections) when dropped.
pub(crate) struct DelayProxy {
    addr: SocketAddr,
    /// Nanoseconds each byte is held in each direction (half the added round trip).
    one_way_nanos: Arc<AtomicU64>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl DelayProxy {
    /// Listens on a free loopback port and forwards each connection to
    /// `upstream`, adding `rtt` to every round trip.
    pub(crate) fn start(upstream: SocketAddr, rtt: Duration) -> io::Result<DelayProxy> {
        let one_way_nanos = Arc::new(AtomicU64::new(0));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("nearcache-proxy")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind(("127.0.0.1", 0)))?;
        let addr = listener.local_addr()?;
        runtime.spawn(accept_loop(listener, upstream, Arc::clone(&one_way_nanos)));
        let proxy = DelayProxy { addr, one_way_nanos, runtime: Some(runtime) };
        proxy.set_added_rtt(rtt);
        Ok(proxy)
    }

    /// Sets the delay added to each round trip from now on (open
    /// connections included: each chunk reads it when it arrives).
    pub(crate) fn set_added_rtt(&self, rtt: Duration) {
        let one_way = u64::try_from((rtt / 2).as_nanos()).unwrap_or(u64::MAX);
        self.one_way_nanos.store(one_way, Ordering::Relaxed);
    }

    /// The delay added to each round trip.
    pub(crate) fn added_rtt(&self) -> Duration {
        Duration::from_nanos(self.one_way_nanos.load(Ordering::Relaxed)) * 2
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

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, one_way: Arc<AtomicU64>) {
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        let one_way = Arc::clone(&one_way);
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else { return };
            if let (Ok(client), Ok(server)) = (blocking(client), blocking(server)) {
                let _ =
                    forward(&client, &server, Arc::clone(&one_way)).and_then(|()| forward(&server, &client, one_way));
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

/// One direction, `from` -> `to`, each chunk held for the current one-way
/// delay (in nanoseconds), in order.
fn forward(from: &std::net::TcpStream, to: &std::net::TcpStream, delay: Arc<AtomicU64>) -> io::Result<()> {
    let (mut from, mut to) = (from.try_clone()?, to.try_clone()?);
    let (stamped, due) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::Builder::new().name("nearcache-proxy-read".into()).spawn(move || {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let due = Instant::now() + Duration::from_nanos(delay.load(Ordering::Relaxed));
                    if stamped.send((due, buf[..n].to_vec())).is_err() {
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

    #[test]
    fn the_delay_changes_on_an_open_connection() {
        let proxy = DelayProxy::start(echo(), Duration::ZERO).unwrap();
        assert_eq!(proxy.added_rtt(), Duration::ZERO);
        let mut stream = std::net::TcpStream::connect(proxy.addr()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let rtt = Duration::from_millis(20);
        proxy.set_added_rtt(rtt);
        assert_eq!(proxy.added_rtt(), rtt);
        let started = Instant::now();
        stream.write_all(b"ping").unwrap();
        let mut got = [0u8; 4];
        stream.read_exact(&mut got).unwrap();
        assert!(started.elapsed() >= rtt, "took {:?}", started.elapsed());
        assert_eq!(&got, b"ping");
    }
}
