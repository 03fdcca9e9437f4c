//! Throwaway Redis servers for tests: the Rust side of `tests/redis-launcher`.
//!
//! Every language starts its test servers through the same launcher script,
//! and this module is the Rust wrapper around it. [`TestRedis::start`] runs the
//! launcher with piped stdin and stdout; the launcher starts `redis-server`
//! (or `$NEARCACHE_REDIS_SERVER`, e.g. `valkey-server`) on a random free
//! 127.0.0.1 port (never 6379), waits until it answers `PING`, and prints
//!
//! ```text
//! url=redis://127.0.0.1:PORT
//! pid=PID
//! ```
//!
//! Afterwards it reads commands, one per line, from its stdin:
//!
//! - `restart`: SIGKILL the server and start a fresh, empty one on the same
//!   port; the launcher answers `pid=NEWPID` once the new server answers `PING`.
//! - `stop`, or EOF on stdin: stop the server (SIGCONT, SIGTERM, SIGKILL after
//!   3 s), remove its temporary directory, exit 0.
//!
//! Because EOF stops the server, a test process that dies for any reason
//! closes the pipe and takes its servers with it. [`TestRedis`]'s `Drop` closes
//! stdin and waits for the launcher (at most 5 s, then kills both).
//!
//! The launcher is found at `tests/redis-launcher` beside the `core` crate;
//! the environment variable `NEARCACHE_LAUNCHER` overrides the path, and
//! `NEARCACHE_REDIS_CLI` the `redis-cli` used by [`TestRedis::cli`].

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long `Drop` waits for the launcher to stop its server before killing
/// both (the launcher itself allows the server 3 s to exit on SIGTERM).
const DROP_TIMEOUT: Duration = Duration::from_secs(5);

/// A running test server, stopped when dropped.
///
/// `TestRedis` owns the launcher process; the launcher owns the server.
#[derive(Debug)]
pub struct TestRedis {
    launcher: Child,
    /// `None` once closed: closing it is the launcher's signal to stop.
    commands: Option<ChildStdin>,
    replies: BufReader<ChildStdout>,
    url: String,
    port: u16,
    /// 0 until the launcher has reported it; never signalled while 0.
    pid: u32,
}

impl TestRedis {
    /// The server a benchmark runs against: the one bench/report names in
    /// `NEARCACHE_BENCH_URL` (every language's bench shares it), else one
    /// launched now (returned too, so that it lives as long as the bench).
    pub fn for_bench() -> io::Result<(Option<TestRedis>, String)> {
        match std::env::var("NEARCACHE_BENCH_URL") {
            Ok(url) => Ok((None, url)),
            Err(_) => {
                let redis = TestRedis::start()?;
                let url = redis.url().to_owned();
                Ok((Some(redis), url))
            }
        }
    }

    /// Starts a server with the launcher's default arguments.
    pub fn start() -> io::Result<TestRedis> {
        Self::start_with_args(&[])
    }

    /// Starts a server with extra `redis-server` arguments, such as
    /// `["--requirepass", "secret"]`. `--port` and `--daemonize` are refused.
    pub fn start_with_args(args: &[&str]) -> io::Result<TestRedis> {
        Self::start_with_launcher(&launcher_path(), args)
    }

    /// Like [`start_with_args`](Self::start_with_args), with the launcher
    /// script at `path`. For programs that run outside the source tree (the
    /// `nearcache` binary), where the path compiled into
    /// [`start`](Self::start) may not exist; they find the script themselves.
    pub fn start_with_launcher(path: &Path, args: &[&str]) -> io::Result<TestRedis> {
        let mut launcher = Command::new(path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Read only once it has exited, to put its reason in the error.
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run the Redis launcher {}: {e}", path.display())))?;
        let commands = launcher.stdin.take();
        let replies = launcher.stdout.take();
        // Built before anything can fail, so that `Drop` reaps the launcher on
        // every error path below.
        let mut redis = TestRedis {
            launcher,
            commands,
            replies: match replies {
                Some(out) => BufReader::new(out),
                None => return Err(io::Error::other("the launcher's stdout is not piped")),
            },
            url: String::new(),
            port: 0,
            pid: 0,
        };
        let (mut url, mut pid) = (None, None);
        let (url, pid) = loop {
            let (key, value) = redis.read_reply()?;
            match key.as_str() {
                "url" => url = Some(value),
                "pid" => pid = Some(parse_pid(&value)?),
                // Lines a future launcher may add.
                _ => {}
            }
            if let (Some(url), Some(pid)) = (&url, pid) {
                break (url.clone(), pid);
            }
        };
        redis.port = parse_port(&url)?;
        redis.url = url;
        redis.pid = pid;
        Ok(redis)
    }

    /// The server's URL, `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's port; it stays the same across [`restart`](Self::restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The current server process's id; it changes on
    /// [`restart`](Self::restart).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Stops the server with SIGSTOP: connections stay open and nothing
    /// answers, like a half-open connection. Undo with [`resume`](Self::resume).
    ///
    /// The server is the launcher's child and stays a zombie until the
    /// launcher reaps it, so the signal cannot reach a recycled pid; it can
    /// fail only if the server is already gone, which the test notices anyway.
    pub fn pause(&self) {
        let _ = signal(self.pid, libc::SIGSTOP);
    }

    /// Continues a server stopped by [`pause`](Self::pause).
    pub fn resume(&self) {
        let _ = signal(self.pid, libc::SIGCONT);
    }

    /// Kills the server with SIGKILL (no shutdown, no save). The port stays
    /// closed until [`restart`](Self::restart); dropping stops everything as usual.
    pub fn kill(&mut self) {
        let _ = signal(self.pid, libc::SIGKILL);
    }

    /// Kills the server (SIGKILL) and starts a fresh one, with no data, on the
    /// same port, returning once it answers `PING`. Also works after
    /// [`kill`](Self::kill) and [`pause`](Self::pause).
    pub fn restart(&mut self) -> io::Result<()> {
        let commands = self.commands.as_mut().ok_or_else(|| io::Error::other("the launcher's stdin is closed"))?;
        commands.write_all(b"restart\n")?;
        commands.flush()?;
        loop {
            let (key, value) = self.read_reply()?;
            if key == "pid" {
                self.pid = parse_pid(&value)?;
                return Ok(());
            }
        }
    }

    /// Runs `redis-cli -h 127.0.0.1 -p PORT ARGS...` and returns its stdout:
    /// a writer outside nearcache. redis-cli 7.0 exits 0 on error replies, so
    /// those come back as text (`"WRONGTYPE ..."`); a non-zero exit is an error.
    pub fn cli(&self, args: &[&str]) -> io::Result<String> {
        let program = std::env::var_os("NEARCACHE_REDIS_CLI").unwrap_or_else(|| "redis-cli".into());
        let output = Command::new(&program)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run {}: {e}", PathBuf::from(&program).display())))?;
        if !output.status.success() {
            return Err(io::Error::other(format!(
                "redis-cli {args:?} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim_end()
            )));
        }
        String::from_utf8(output.stdout).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Reads one `key=value` line from the launcher. EOF means the launcher
    /// exited; the error carries its stderr (the server's log, if it failed).
    fn read_reply(&mut self) -> io::Result<(String, String)> {
        let mut line = String::new();
        if self.replies.read_line(&mut line)? == 0 {
            // The launcher closes stdout only by exiting, and its stderr is
            // the launcher's alone (the server logs to a file): read it to
            // EOF first, so that a long log cannot block its exit.
            let mut stderr = String::new();
            if let Some(pipe) = self.launcher.stderr.as_mut() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            let status = match wait_bounded(&mut self.launcher, DROP_TIMEOUT)? {
                Some(status) => status.to_string(),
                None => "still running".to_owned(),
            };
            return Err(io::Error::other(format!(
                "the Redis launcher exited ({status}) without answering:\n{}",
                stderr.trim_end()
            )));
        }
        let line = line.trim_end();
        match line.split_once('=') {
            Some((key, value)) => Ok((key.to_owned(), value.to_owned())),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected line from the Redis launcher: {line:?}"),
            )),
        }
    }
}

/// Runs `body` with the URL of a fresh test server on a current-thread
/// tokio runtime, for doc examples; panics (failing the doctest) on error.
pub fn run_with_redis<F, Fut>(body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), Box<dyn std::error::Error>>>,
{
    let server = match TestRedis::start() {
        Ok(server) => server,
        Err(e) => panic!("cannot start a test redis-server: {e}"),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => panic!("cannot start a tokio runtime: {e}"),
    };
    if let Err(e) = runtime.block_on(body(server.url().to_owned())) {
        panic!("example failed: {e}");
    }
}

/// Runs `body` with the URL of a fresh test server, for blocking doc
/// examples; panics (failing the doctest) on error.
pub fn with_redis<F>(body: F)
where
    F: FnOnce(String) -> Result<(), Box<dyn std::error::Error>>,
{
    let server = match TestRedis::start() {
        Ok(server) => server,
        Err(e) => panic!("cannot start a test redis-server: {e}"),
    };
    if let Err(e) = body(server.url().to_owned()) {
        panic!("example failed: {e}");
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        // EOF on its stdin makes the launcher stop the server and exit.
        drop(self.commands.take());
        if let Ok(Some(_)) = wait_bounded(&mut self.launcher, DROP_TIMEOUT) {
            return;
        }
        // The launcher is stuck: kill the server (still its unreaped child,
        // so the pid is still ours), then the launcher.
        let _ = signal(self.pid, libc::SIGKILL);
        let _ = self.launcher.kill();
        let _ = self.launcher.wait();
    }
}

fn launcher_path() -> PathBuf {
    match std::env::var_os("NEARCACHE_LAUNCHER") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/redis-launcher"),
    }
}

fn parse_pid(value: &str) -> io::Result<u32> {
    match value.parse::<u32>() {
        Ok(pid) if pid > 0 && libc::pid_t::try_from(pid).is_ok() => Ok(pid),
        _ => Err(io::Error::new(io::ErrorKind::InvalidData, format!("bad pid from the Redis launcher: {value:?}"))),
    }
}

fn parse_port(url: &str) -> io::Result<u16> {
    url.rsplit_once(':')
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .filter(|&port| port != 0)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("bad url from the Redis launcher: {url:?}")))
}

/// Sends `sig` to the server process. Refuses pid 0 and anything that would
/// not fit a positive `pid_t`: `kill(0, ..)` and negative pids signal whole
/// process groups.
fn signal(pid: u32, sig: libc::c_int) -> io::Result<()> {
    let pid = match libc::pid_t::try_from(pid) {
        Ok(pid) if pid > 0 => pid,
        _ => return Err(io::Error::other("no server pid to signal")),
    };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Waits for `child` to exit, for at most `timeout`; `Ok(None)` if it is
/// still running.
fn wait_bounded(child: &mut Child, timeout: Duration) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::ErrorKind;
    use std::net::{TcpListener, TcpStream};

    /// Sends `PING` on a fresh connection; `None` if no reply came within
    /// `wait`.
    fn raw_ping(port: u16, wait: Duration) -> (TcpStream, Option<String>) {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.write_all(b"PING\r\n").unwrap();
        let reply = read_tcp_reply(&mut stream, wait);
        (stream, reply)
    }

    fn read_tcp_reply(stream: &mut TcpStream, wait: Duration) -> Option<String> {
        stream.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 64];
        match stream.read(&mut buf) {
            Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
            Err(e) => panic!("read failed: {e}"),
        }
    }

    fn process_exists(pid: u32) -> bool {
        signal(pid, 0).is_ok()
    }

    #[test]
    fn two_servers_run_side_by_side() {
        let a = std::thread::spawn(TestRedis::start);
        let b = std::thread::spawn(TestRedis::start);
        let a = a.join().unwrap().unwrap();
        let b = b.join().unwrap().unwrap();
        assert_ne!(a.port(), b.port());
        assert_ne!(a.pid(), b.pid());
        for redis in [&a, &b] {
            assert_ne!(redis.port(), 6379);
            assert_eq!(redis.url(), format!("redis://127.0.0.1:{}", redis.port()));
            assert_eq!(redis.cli(&["PING"]).unwrap(), "PONG\n");
        }
        a.cli(&["SET", "only-in-a", "1"]).unwrap();
        assert_eq!(b.cli(&["EXISTS", "only-in-a"]).unwrap(), "0\n");
    }

    #[test]
    fn restart_keeps_the_port_and_drops_the_data() {
        let mut redis = TestRedis::start().unwrap();
        let (port, old_pid) = (redis.port(), redis.pid());
        assert_eq!(redis.cli(&["SET", "k", "v"]).unwrap(), "OK\n");
        redis.restart().unwrap();
        assert_eq!(redis.port(), port);
        assert_ne!(redis.pid(), old_pid);
        assert!(!process_exists(old_pid), "the old server was reaped");
        assert_eq!(redis.cli(&["GET", "k"]).unwrap(), "\n");
        assert_eq!(redis.cli(&["PING"]).unwrap(), "PONG\n");
    }

    #[test]
    fn kill_closes_the_port_until_restart() {
        let mut redis = TestRedis::start().unwrap();
        redis.kill();
        let refused = (0..200).any(|_| {
            let gone = TcpStream::connect(("127.0.0.1", redis.port())).is_err();
            if !gone {
                std::thread::sleep(Duration::from_millis(10));
            }
            gone
        });
        assert!(refused, "the killed server still accepts connections");
        redis.restart().unwrap();
        assert_eq!(redis.cli(&["PING"]).unwrap(), "PONG\n");
    }

    #[test]
    fn a_paused_server_does_not_answer_until_resumed() {
        let redis = TestRedis::start().unwrap();
        redis.pause();
        // The kernel still accepts the connection; nobody reads it.
        let (mut stream, reply) = raw_ping(redis.port(), Duration::from_millis(300));
        assert_eq!(reply, None);
        redis.resume();
        let reply = read_tcp_reply(&mut stream, Duration::from_secs(5));
        assert_eq!(reply.as_deref(), Some("+PONG\r\n"));
        let (_, reply) = raw_ping(redis.port(), Duration::from_secs(5));
        assert_eq!(reply.as_deref(), Some("+PONG\r\n"));
    }

    #[test]
    fn drop_stops_the_server_and_frees_the_port() {
        let redis = TestRedis::start().unwrap();
        let (port, pid) = (redis.port(), redis.pid());
        redis.pause(); // Drop must also stop a stopped server.
        drop(redis);
        assert_eq!(signal(pid, 0).unwrap_err().raw_os_error(), Some(libc::ESRCH), "server {pid} is still there");
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
        TcpListener::bind(("127.0.0.1", port)).expect("the port is free again");
    }

    #[test]
    fn extra_arguments_reach_the_server() {
        let redis = TestRedis::start_with_args(&["--requirepass", "secret"]).unwrap();
        assert!(redis.cli(&["PING"]).unwrap().starts_with("NOAUTH"));
        let authed = redis.cli(&["-a", "secret", "--no-auth-warning", "PING"]).unwrap();
        assert_eq!(authed, "PONG\n");
    }

    #[test]
    fn a_server_that_cannot_start_is_an_error() {
        let err = TestRedis::start_with_args(&["--no-such-directive", "1"]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("launcher exited"), "{message}");
        assert!(message.contains("no-such-directive"), "the server log is missing: {message}");
    }
}

pub mod cluster;
pub mod consistency;
mod helpers;
pub use cluster::TestCluster;
pub use helpers::{answered_locally, b, eventually};

/// A test hook: holds one fill of a key after its reply arrived from Redis
/// and before it is inserted into L1, so a test can make a write land in
/// exactly that window (docs/design.md, rule 2). Created by
/// [`crate::Cache::hold_next_fill`].
#[derive(Debug)]
pub struct FillGate {
    pub(crate) key: bytes::Bytes,
    reached: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

impl FillGate {
    pub(crate) fn new(key: &[u8]) -> Self {
        FillGate {
            key: bytes::Bytes::copy_from_slice(key),
            reached: tokio::sync::Notify::new(),
            release: tokio::sync::Notify::new(),
        }
    }

    /// Resolves once the held fill has its reply and is waiting.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the held fill go on to its insert.
    pub fn open(&self) {
        self.release.notify_one();
    }

    /// Called by the fill: announce, then wait to be let through.
    pub(crate) async fn hold(&self) {
        self.reached.notify_one();
        self.release.notified().await;
    }
}
