//! The Redis server a command talks to: the user's `--url`, or a throwaway
//! redis-server started through the shared launcher (`tests/redis-launcher`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use nearcache::testing::TestRedis;

use crate::Result;

/// Where the launcher script lives inside a checkout.
const LAUNCHER: &str = "tests/redis-launcher";

/// A Redis server to use; a launched one stops when this is dropped.
pub(crate) struct Target {
    url: String,
    /// Kept for its `Drop`, which stops the server.
    _launched: Option<TestRedis>,
}

impl Target {
    /// The user's server if `url` is given, else a fresh local one.
    pub(crate) fn new(url: Option<&str>) -> Result<Target> {
        if let Some(url) = url {
            return Ok(Target { url: url.to_owned(), _launched: None });
        }
        let launcher = find_launcher().ok_or_else(|| {
            format!(
                "no --url given and the Redis launcher ({LAUNCHER}) was not found beside the binary, in the \
                 current directory's checkout, or in NEARCACHE_LAUNCHER; pass --url redis://HOST:PORT to use \
                 a running server"
            )
        })?;
        let server = TestRedis::start_with_launcher(&launcher, &[]).map_err(|e| {
            format!(
                "cannot start a throwaway redis-server with {}: {e}\n(install redis-server, e.g. \
                 `apt-get install redis-server`, or pass --url redis://HOST:PORT)",
                launcher.display()
            )
        })?;
        Ok(Target { url: server.url().to_owned(), _launched: Some(server) })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Whether the server was started by us (and so holds nothing else).
    pub(crate) fn is_throwaway(&self) -> bool {
        self._launched.is_some()
    }
}

/// `NEARCACHE_LAUNCHER`, else `tests/redis-launcher` in an ancestor of the
/// binary (a `target/` directory inside the checkout), else of the current
/// directory, else of the source tree the binary was built from.
fn find_launcher() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NEARCACHE_LAUNCHER") {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok();
    let cwd = std::env::current_dir().ok();
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = [exe.as_deref(), cwd.as_deref(), Some(built_from)]
        .into_iter()
        .flatten()
        .flat_map(Path::ancestors)
        .map(|dir| dir.join(LAUNCHER))
        .find(|candidate| candidate.is_file());
    found
}

/// The `host:port` of a `redis://` URL, resolved.
pub(crate) fn socket_addr(url: &str) -> Result<SocketAddr> {
    let (_, authority, _) = split_url(url)?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let with_port = if host_port.contains(':') && !host_port.ends_with(']') {
        host_port.to_owned()
    } else {
        format!("{host_port}:6379")
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {with_port}: {e}"))?
        .next()
        .ok_or_else(|| format!("{with_port} resolves to no address").into())
}

/// `url` with its `host:port` replaced (credentials, database and query kept).
pub(crate) fn with_address(url: &str, addr: SocketAddr) -> Result<String> {
    let (scheme, authority, rest) = split_url(url)?;
    let credentials = authority.rsplit_once('@').map(|(c, _)| format!("{c}@")).unwrap_or_default();
    Ok(format!("{scheme}://{credentials}{addr}{rest}"))
}

/// Splits `redis://AUTHORITY/REST`; only plain TCP URLs (the proxy and the
/// resolver handle nothing else).
fn split_url(url: &str) -> Result<(&str, &str, &str)> {
    let Some(("redis", after)) = url.split_once("://") else {
        return Err("--rtt needs a redis:// URL (TLS and unix sockets cannot go through the delay proxy)".into());
    };
    let end = after.find(['/', '?']).unwrap_or(after.len());
    Ok(("redis", &after[..end], &after[end..]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_swapped_and_everything_else_kept() {
        let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(
            with_address("redis://u:p@example.invalid:6380/2?x=1", addr).unwrap(),
            "redis://u:p@127.0.0.1:4000/2?x=1"
        );
        assert_eq!(with_address("redis://127.0.0.1:6380", addr).unwrap(), "redis://127.0.0.1:4000");
        assert!(with_address("rediss://h:1", addr).is_err());
    }

    #[test]
    fn socket_addresses_default_to_the_redis_port() {
        assert_eq!(socket_addr("redis://127.0.0.1:7000/0").unwrap().port(), 7000);
        assert_eq!(socket_addr("redis://:pw@127.0.0.1").unwrap().port(), 6379);
    }
}
