//! `RedisUrl`: the hand-written parser of `redis://`, `rediss://` and
//! `unix://` URLs. It is written by hand so that no error message ever quotes
//! the URL (a malformed one may split a password anywhere), and so that the
//! redacted form is computed once, at parse time.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::redact::redact_query;
use crate::error::{Error, Result};

/// The URL used when nothing is configured: a local server, database 0.
pub(super) const DEFAULT_URL: &str = "redis://127.0.0.1:6379/0";

/// A validated Redis URL whose password never leaves through `Debug`,
/// `Display`, `Serialize` or an error message.
///
/// Accepted forms: `redis://[user[:password]@]host[:port][/db][?query]`, the
/// same with `rediss://` for TLS (IPv6 hosts in brackets), and
/// `unix:///path/to/redis.sock[?db=N]` or `redis+unix:///...`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RedisUrl {
    raw: String,
    redacted: String,
    tls: bool,
    unix: bool,
    db: u32,
}

impl RedisUrl {
    /// Parses and validates `url`. The error message never quotes the URL,
    /// which may hold a password.
    pub fn parse(url: &str) -> Result<RedisUrl> {
        RedisUrl::parse_raw(url).map_err(Error::config)
    }

    /// The URL with its password, for the connector only: never log it.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The URL with the password replaced by `***`, safe to print.
    pub fn redacted(&self) -> String {
        self.redacted.clone()
    }

    /// Whether the connection uses TLS (`rediss://`).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether the server is reached through a unix socket.
    pub fn is_unix(&self) -> bool {
        self.unix
    }

    /// The database number (`/3`, or `?db=3` for unix sockets; 0 by default).
    pub fn db(&self) -> u32 {
        self.db
    }

    /// The same URL (credentials, database, query, TLS) pointing at another
    /// server: what a tool needs to reach each node a cluster names.
    /// `host` is a name or an IP address (IPv6 without brackets). Unix socket
    /// URLs have no address to replace: a Config error.
    ///
    /// ```
    /// # use nearcache::config::RedisUrl;
    /// let seed: RedisUrl = "redis://app:secret@10.0.0.1:7000/0".parse().unwrap();
    /// let node = seed.with_address("10.0.0.2", 7001).unwrap();
    /// assert_eq!(node.redacted(), "redis://app:***@10.0.0.2:7001/0");
    /// ```
    pub fn with_address(&self, host: &str, port: u16) -> Result<RedisUrl> {
        if self.unix {
            return Err(Error::config("a unix socket URL has no host and port to replace"));
        }
        let (scheme, rest) = self.raw.split_once("://").ok_or_else(|| Error::config("the URL has no scheme"))?;
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let userinfo = authority.rfind('@').map_or("", |at| &authority[..=at]);
        let host = if host.contains(':') { format!("[{host}]") } else { host.to_owned() };
        RedisUrl::parse(&format!("{scheme}://{userinfo}{host}:{port}{tail}"))
    }

    pub(super) fn parse_raw(url: &str) -> std::result::Result<RedisUrl, String> {
        const EXAMPLE: &str = "expected a URL like \"redis://host:6379/0\"";
        if url.chars().any(char::is_whitespace) {
            return Err(format!("{EXAMPLE}; this one contains whitespace"));
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(EXAMPLE.to_owned());
        };
        match scheme.to_ascii_lowercase().as_str() {
            "redis" => parse_tcp(scheme, rest, false),
            "rediss" => parse_tcp(scheme, rest, true),
            "unix" | "redis+unix" => parse_unix(scheme, rest),
            _ => {
                // The scheme is quoted only when it cannot be a password
                // fragment of a malformed URL.
                let shown =
                    if scheme.len() <= 16 && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
                        format!(" {scheme:?}")
                    } else {
                        String::new()
                    };
                Err(format!(
                    "unsupported scheme{shown}: expected redis://, rediss://, unix:// or \
                     redis+unix://"
                ))
            }
        }
    }
}

/// Parses `[user[:password]@]host[:port][/db][?query]`. Messages describe the
/// problem without quoting any part of the URL, since a malformed URL may
/// split a password anywhere.
fn parse_tcp(scheme: &str, rest: &str, tls: bool) -> std::result::Result<RedisUrl, String> {
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let port_text = if let Some(bracketed) = hostport.strip_prefix('[') {
        let close = bracketed.find(']').ok_or("the IPv6 host has no closing ']'")?;
        if bracketed[..close].parse::<std::net::Ipv6Addr>().is_err() {
            return Err("the host in brackets is not an IPv6 address".to_owned());
        }
        match &bracketed[close + 1..] {
            "" => None,
            after => Some(after.strip_prefix(':').ok_or("unexpected text after the IPv6 host")?),
        }
    } else {
        let (host, port) = match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        };
        if host.is_empty() {
            return Err("the URL has no host (redis://host:6379/0)".to_owned());
        }
        if !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')) {
            return Err("the host is not a valid host name or IP address (IPv6 goes in \
                        brackets: redis://[::1]:6379; special characters in a password must \
                        be percent-encoded)"
                .to_owned());
        }
        port
    };
    if let Some(port) = port_text {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.chars().all(|c| c.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        if !valid {
            return Err("the port must be a number between 1 and 65535 (special characters \
                        in a password must be percent-encoded)"
                .to_owned());
        }
    }
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    if tail.contains('#') {
        return Err("a Redis URL cannot have a #fragment".to_owned());
    }
    let db = match path.strip_prefix('/').unwrap_or(path) {
        "" => 0,
        db => parse_db(db)?,
    };
    let mut redacted = format!("{scheme}://");
    if let Some(userinfo) = userinfo {
        match userinfo.split_once(':') {
            Some((user, pass)) if !pass.is_empty() => {
                redacted.push_str(user);
                redacted.push_str(":***");
            }
            _ => redacted.push_str(userinfo),
        }
        redacted.push('@');
    }
    redacted.push_str(hostport);
    redacted.push_str(path);
    if let Some(query) = query {
        redacted.push_str(&redact_query(&format!("?{query}")));
    }
    let raw = format!("{scheme}://{rest}");
    Ok(RedisUrl { raw, redacted, tls, unix: false, db })
}

/// Parses `/absolute/path[?db=N&user=..&pass=..]`.
fn parse_unix(scheme: &str, rest: &str) -> std::result::Result<RedisUrl, String> {
    const EXAMPLE: &str = "expected a socket path like \"unix:///run/redis/redis.sock\"";
    if !rest.starts_with('/') {
        return Err(EXAMPLE.to_owned());
    }
    if rest.contains('#') {
        return Err("a Redis URL cannot have a #fragment".to_owned());
    }
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    if path.len() < 2 || path.ends_with('/') {
        return Err(EXAMPLE.to_owned());
    }
    let mut db = 0;
    for param in query.into_iter().flat_map(|q| q.split('&')) {
        if let Some(value) = param.strip_prefix("db=") {
            db = parse_db(value)?;
        }
    }
    let raw = format!("{scheme}://{rest}");
    let redacted = format!("{scheme}://{}", redact_query(rest));
    Ok(RedisUrl { raw, redacted, tls: false, unix: true, db })
}

fn parse_db(text: &str) -> std::result::Result<u32, String> {
    if !text.is_empty() && text.len() <= 9 && text.chars().all(|c| c.is_ascii_digit()) {
        text.parse().map_err(|_| "the database must be a number".to_owned())
    } else {
        Err("the database must be a number (redis://host:6379/0)".to_owned())
    }
}

impl Default for RedisUrl {
    fn default() -> Self {
        RedisUrl { raw: DEFAULT_URL.to_owned(), redacted: DEFAULT_URL.to_owned(), tls: false, unix: false, db: 0 }
    }
}

impl FromStr for RedisUrl {
    type Err = Error;

    fn from_str(url: &str) -> Result<RedisUrl> {
        RedisUrl::parse(url)
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedisUrl").field(&self.redacted).finish()
    }
}

impl Serialize for RedisUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted)
    }
}

impl<'de> Deserialize<'de> for RedisUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RedisUrl, D::Error> {
        struct UrlVisitor;
        impl Visitor<'_> for UrlVisitor {
            type Value = RedisUrl;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a URL like \"redis://host:6379/0\"")
            }

            fn visit_str<E: de::Error>(self, url: &str) -> Result<RedisUrl, E> {
                RedisUrl::parse_raw(url).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(UrlVisitor)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::config::fixtures::*;
    use crate::error::ErrorKind;

    #[test]
    fn with_address_keeps_everything_but_the_address() {
        let url = |s: &str| s.parse::<RedisUrl>().unwrap();
        let moved = url("rediss://u:p@seed:7000/2?protocol=resp3").with_address("10.0.0.9", 7005).unwrap();
        assert_eq!(moved.expose(), "rediss://u:p@10.0.0.9:7005/2?protocol=resp3");
        assert!(moved.is_tls());
        assert_eq!(moved.db(), 2);
        assert_eq!(url("redis://seed").with_address("::1", 7001).unwrap().expose(), "redis://[::1]:7001");
        let unix = url("unix:///tmp/redis.sock").with_address("h", 1).unwrap_err();
        assert_eq!(unix.kind(), ErrorKind::Config);
    }

    #[test]
    fn urls_are_parsed_by_hand() {
        let ok = [
            ("redis://127.0.0.1:6379/0", false, false, 0),
            ("redis://localhost", false, false, 0),
            ("redis://localhost/", false, false, 0),
            ("redis://cache.internal:6380/15", false, false, 15),
            ("rediss://user:pw@cache.example.com:6380/2", true, false, 2),
            ("redis://:pw@host:1", false, false, 0),
            ("redis://[::1]:6379/1", false, false, 1),
            ("redis://[::1]", false, false, 0),
            ("redis://h:6379/0?protocol=resp3", false, false, 0),
            ("REDIS://h", false, false, 0),
            ("unix:///run/redis.sock", false, true, 0),
            ("redis+unix:///tmp/redis.sock?db=4&pass=pw", false, true, 4),
        ];
        for (text, tls, unix, db) in ok {
            let u = url(text);
            assert_eq!((u.is_tls(), u.is_unix(), u.db()), (tls, unix, db), "{text}");
            assert_eq!(u.expose(), text);
            assert_eq!(text.parse::<RedisUrl>().ok(), Some(u));
        }
        let bad = [
            ("http://host", "unsupported scheme \"http\""),
            ("host:6379", "expected a URL like"),
            ("", "expected a URL like"),
            ("redis://", "the URL has no host"),
            ("redis://:6379", "the URL has no host"),
            ("redis://ho st", "expected a URL like"),
            ("redis://host:0", "the port must be"),
            ("redis://host:65536", "the port must be"),
            ("redis://host:", "the port must be"),
            ("redis://host:abc", "the port must be"),
            ("redis://host/abc", "the database must be a number"),
            ("redis://host/1/2", "the database must be a number"),
            ("redis://host/0#frag", "a Redis URL cannot have a #fragment"),
            ("redis://[::1", "the IPv6 host has no closing"),
            ("redis://[nope]:1", "the host in brackets is not an IPv6"),
            ("redis://[::1]x", "unexpected text after the IPv6 host"),
            ("redis://h%41st", "the host is not a valid host name"),
            ("unix://tmp/sock", "expected a socket path"),
            ("unix:///", "expected a socket path"),
            ("unix:///tmp/s?db=x", "the database must be a number"),
        ];
        for (text, msg) in bad {
            match RedisUrl::parse(text) {
                Ok(u) => panic!("accepted {text}: {u:?}"),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Config);
                    assert!(e.message().starts_with(msg), "{text}: {}", e.message());
                }
            }
        }
    }
}
