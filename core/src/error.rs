//! One error type for every binding.
//!
//! [`ErrorKind`] is the stable classification of the error table of docs/design.md; each
//! binding maps it in one exhaustive `match` (it is deliberately not
//! `#[non_exhaustive]`, so a new kind breaks their build until it is mapped).
//! Messages carry context (the key, the host, the config field path) and never
//! a password.

use std::fmt;

/// The stable classification of every nearcache error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The configuration is invalid; the message names the field path.
    Config,
    /// The server could not be reached, or the connection was lost.
    Connection,
    /// The server did not answer within `command_timeout` / `connect_timeout`.
    Timeout,
    /// The server refused our credentials.
    Auth,
    /// The server answered with an error reply (`WRONGTYPE`, `ERR ...`).
    Redis,
    /// A stored value carries the compression magic but a malformed frame.
    Codec,
    /// The caller passed an argument nearcache refuses (a refused raw command,
    /// a key that is too large, a negative TTL, ...).
    InvalidArgument,
    /// The cache was closed (or is used in a forked child).
    Closed,
    /// The caller's loader failed inside `get_or_load`.
    Loader,
    /// A bug in nearcache; panics are turned into this at every FFI edge.
    Internal,
    /// An optimistic transaction's `EXEC` was aborted because a watched key
    /// changed, on every attempt `redis.transaction_retries` allowed.
    TransactionAborted,
}

impl ErrorKind {
    /// Every kind, in a fixed order (stats and bindings iterate over it).
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::Config,
        ErrorKind::Connection,
        ErrorKind::Timeout,
        ErrorKind::Auth,
        ErrorKind::Redis,
        ErrorKind::Codec,
        ErrorKind::InvalidArgument,
        ErrorKind::Closed,
        ErrorKind::Loader,
        ErrorKind::Internal,
        ErrorKind::TransactionAborted,
    ];

    /// The code shared by every language (`err.code` in Node, `.code` in Python).
    ///
    /// ```
    /// assert_eq!(nearcache::ErrorKind::Timeout.code(), "NC_TIMEOUT");
    /// ```
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::Config => "NC_CONFIG",
            ErrorKind::Connection => "NC_CONNECTION",
            ErrorKind::Timeout => "NC_TIMEOUT",
            ErrorKind::Auth => "NC_AUTH",
            ErrorKind::Redis => "NC_REDIS",
            ErrorKind::Codec => "NC_CODEC",
            ErrorKind::InvalidArgument => "NC_INVALID_ARGUMENT",
            ErrorKind::Closed => "NC_CLOSED",
            ErrorKind::Loader => "NC_LOADER",
            ErrorKind::Internal => "NC_INTERNAL",
            ErrorKind::TransactionAborted => "NC_TRANSACTION_ABORTED",
        }
    }

    /// The kind's position in [`ErrorKind::ALL`], for per-kind counters.
    pub(crate) const fn index(self) -> usize {
        match self {
            ErrorKind::Config => 0,
            ErrorKind::Connection => 1,
            ErrorKind::Timeout => 2,
            ErrorKind::Auth => 3,
            ErrorKind::Redis => 4,
            ErrorKind::Codec => 5,
            ErrorKind::InvalidArgument => 6,
            ErrorKind::Closed => 7,
            ErrorKind::Loader => 8,
            ErrorKind::Internal => 9,
            ErrorKind::TransactionAborted => 10,
        }
    }

    /// Whether retrying the same call later may succeed without any change by
    /// the caller (the network or the server was the problem).
    pub const fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Connection | ErrorKind::Timeout)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A Redis Cluster redirect reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Redirect {
    /// The slot lives elsewhere for good: refresh the slot map.
    Moved(String),
    /// The key is being migrated: ask that node once, after `ASKING`.
    Ask(String),
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A nearcache error: a [`ErrorKind`], a message with context, and the
/// underlying cause when there is one.
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Source>,
}

/// `Result` with nearcache's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a message that gives context.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), source: None }
    }

    /// The `Internal` error for a panic caught at a binding's edge (every
    /// FFI export, napi method and Python method catches unwinds): one text
    /// in every language, naming what panicked.
    ///
    /// ```
    /// let payload = std::panic::catch_unwind(|| panic!("boom")).unwrap_err();
    /// let err = nearcache::Error::from_panic(payload.as_ref());
    /// assert_eq!(err.kind(), nearcache::ErrorKind::Internal);
    /// assert_eq!(err.message(), "internal error (a bug in nearcache, please report it): panic: boom");
    /// ```
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let detail = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        Error::new(
            ErrorKind::Internal,
            format!("internal error (a bug in nearcache, please report it): panic: {detail}"),
        )
    }

    /// Attaches the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The stable classification.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Shortcut for `self.kind().code()`.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The message, without the kind's code.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The underlying cause, if any (for `Loader`, the caller's own error).
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.source.as_deref()
    }

    /// Takes the underlying cause out (bindings re-raise a loader's original
    /// exception this way).
    pub fn into_cause(self) -> Option<Source> {
        self.source
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config, message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn closed() -> Self {
        Error::new(ErrorKind::Closed, "the cache is closed")
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }

    /// The code of the server's error reply (`NOSCRIPT`, `WRONGTYPE`), if
    /// this error is one.
    pub(crate) fn server_code(&self) -> Option<&str> {
        self.source.as_deref()?.downcast_ref::<redis::RedisError>()?.code()
    }

    /// The cluster redirect (`MOVED` / `ASK`) this error is, if any.
    pub(crate) fn redirect(&self) -> Option<Redirect> {
        let err = self.source.as_deref()?.downcast_ref::<redis::RedisError>()?;
        let (addr, _slot) = err.redirect_node()?;
        let addr = addr.to_owned();
        match err.code() {
            Some("ASK") => Some(Redirect::Ask(addr)),
            _ => Some(Redirect::Moved(addr)),
        }
    }

    /// Prefixes the message with context (`GET user:1: ...`).
    #[must_use]
    pub(crate) fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// Classifies a redis-rs error. This is the one place where a transport
/// error becomes an [`ErrorKind`]; redis-rs never puts the password in its
/// messages, but we still scrub URLs defensively in [`crate::config`].
impl From<redis::RedisError> for Error {
    fn from(err: redis::RedisError) -> Self {
        use redis::ErrorKind as R;
        let kind = if err.is_timeout() {
            ErrorKind::Timeout
        } else if err.is_io_error() || err.is_connection_dropped() || err.is_connection_refusal() {
            ErrorKind::Connection
        } else {
            match err.kind() {
                R::AuthenticationFailed => ErrorKind::Auth,
                // Codes redis-rs does not know (NOAUTH, WRONGPASS) arrive as
                // `Extension`, not `Server`: they are server replies too.
                R::Server(_) | R::Extension => classify_server_error(&err),
                R::InvalidClientConfig => ErrorKind::Config,
                R::Io | R::ClusterConnectionNotFound => ErrorKind::Connection,
                R::Parse | R::UnexpectedReturnType => ErrorKind::Redis,
                _ => ErrorKind::Redis,
            }
        };
        Error::new(kind, err.to_string()).with_source(err)
    }
}

fn classify_server_error(err: &redis::RedisError) -> ErrorKind {
    // NOAUTH / WRONGPASS / NOPERM are server replies, but callers handle them
    // as credential problems, as redis-py's AuthenticationError does.
    match err.code() {
        Some("NOAUTH" | "WRONGPASS" | "NOPERM") => ErrorKind::Auth,
        // The server is there but cannot serve for a moment (a cluster
        // failover or slot migration, a dataset loading after restart): as
        // retryable as a lost connection, so it gets the same kind.
        Some("CLUSTERDOWN" | "TRYAGAIN" | "LOADING" | "MASTERDOWN") => ErrorKind::Connection,
        _ => ErrorKind::Redis,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_indexed_in_order() {
        let mut codes: Vec<_> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
        for (i, kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(kind.index(), i);
        }
    }

    #[test]
    fn credential_replies_are_auth_errors() {
        for reply in [
            &b"-NOAUTH HELLO must be called with the client already authenticated\r\n"[..],
            b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
            b"-NOPERM User u has no permissions to run the 'get' command\r\n",
        ] {
            let redis::Value::ServerError(reply) = redis::parse_redis_value(reply).unwrap() else {
                panic!("not an error reply");
            };
            assert_eq!(Error::from(redis::RedisError::from(reply)).kind(), ErrorKind::Auth);
        }
        let redis::Value::ServerError(reply) = redis::parse_redis_value(b"-WRONGTYPE Operation\r\n").unwrap() else {
            panic!("not an error reply");
        };
        assert_eq!(Error::from(redis::RedisError::from(reply)).kind(), ErrorKind::Redis);
    }

    fn server_error(reply: &[u8]) -> Error {
        let redis::Value::ServerError(reply) = redis::parse_redis_value(reply).unwrap() else {
            panic!("not an error reply");
        };
        Error::from(redis::RedisError::from(reply))
    }

    #[test]
    fn transient_server_states_are_retryable() {
        for reply in [
            &b"-CLUSTERDOWN The cluster is down\r\n"[..],
            b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
            b"-LOADING Redis is loading the dataset in memory\r\n",
            b"-MASTERDOWN Link with MASTER is down\r\n",
        ] {
            let err = server_error(reply);
            assert!(err.kind().is_retryable(), "{err}");
        }
        assert_eq!(
            server_error(b"-CROSSSLOT Keys in request don't hash to the same slot\r\n").kind(),
            ErrorKind::Redis
        );
    }

    #[test]
    fn redirects_name_their_node() {
        assert_eq!(
            server_error(b"-MOVED 3999 127.0.0.1:6381\r\n").redirect(),
            Some(Redirect::Moved("127.0.0.1:6381".into()))
        );
        assert_eq!(
            server_error(b"-ASK 3999 127.0.0.1:6381\r\n").redirect(),
            Some(Redirect::Ask("127.0.0.1:6381".into()))
        );
        assert_eq!(server_error(b"-ERR nope\r\n").redirect(), None);
        assert_eq!(Error::invalid("x").redirect(), None);
    }

    #[test]
    fn display_names_the_code_and_context() {
        let err = Error::invalid("key is empty").context("GET");
        assert_eq!(err.to_string(), "NC_INVALID_ARGUMENT: GET: key is empty");
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }
}
