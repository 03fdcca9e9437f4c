//! Where a connection goes and how it is opened: address, credentials,
//! protocol and socket settings, derived once from a URL and the `[redis]`
//! settings, then reused for every node of a deployment.
//!
//! Credentials live only inside the redis-rs `ConnectionInfo`; everything
//! this module shows (`Endpoint::name`, errors) is built from the redacted
//! URL, never from the raw one.
//!
//! TLS (`rediss://`) runs on rustls with the ring provider. The files of
//! `[redis.tls]` are read and checked here, when a cache is created, so a
//! wrong path or a key that does not match its certificate is a `Config`
//! error at start-up, not a connection error at the first command.

use std::sync::Arc;

use redis::{ClientTlsConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, TlsCertificates};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{RedisConfig, RedisUrl, TlsConfig};
use crate::error::{Error, Result};

/// One server to connect to.
#[derive(Clone)]
pub(crate) struct Endpoint {
    info: ConnectionInfo,
    /// The PEM contents of `[redis.tls]`, for `rediss://` endpoints that set
    /// any file (`None`: plain TCP, or TLS against the system's roots).
    tls: Option<Arc<TlsCertificates>>,
    /// `host:port` (never the password) for messages and stats.
    name: String,
    /// Replica connections send `READONLY` (cluster replica reads).
    pub(crate) readonly: bool,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("tls", &self.is_tls())
            .field("readonly", &self.readonly)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// The server `url` names, with the connection settings of `redis`.
    pub(crate) fn from_url(url: &RedisUrl, redis: &RedisConfig, field: &str) -> Result<Endpoint> {
        let redacted = url.redacted();
        let info = url
            .expose()
            .into_connection_info()
            // redis-rs's URL errors may echo the URL (and its password).
            .map_err(|e| Error::config(format!("{field}: {redacted} is not a valid Redis URL ({:?})", e.kind())))?;
        let mut redis_settings = info.redis_settings().clone().set_protocol(redis::ProtocolVersion::RESP3);
        // The fields are defaults for every deployment: credentials in the
        // URL win, each on its own (a URL may name the user and leave the
        // password to the config).
        if let (None, Some(user)) = (redis_settings.username(), &redis.username) {
            redis_settings = redis_settings.set_username(user);
        }
        if let (None, Some(password)) = (redis_settings.password(), &redis.password) {
            redis_settings = redis_settings.set_password(password.expose());
        }
        // Nagle stays on (redis-rs's default): with many commands in flight
        // it merges the multiplexer's small writes into fewer segments, which
        // doubled 100-way GET throughput here (80k -> 160k ops/s, same run
        // as raw redis-rs). A lone request is never delayed: Nagle holds data
        // only while earlier data is unacknowledged, and Redis's reply
        // carries the ACK.
        let mut tcp = redis::io::tcp::TcpSettings::default().set_nodelay(false);
        // `0s` means no keepalive (documented so): handing the kernel an
        // idle time of 0 would be refused (EINVAL) on every connect.
        if !redis.keepalive.is_zero() {
            tcp = tcp.set_keepalive(socket2::TcpKeepalive::new().with_time(redis.keepalive));
        }
        let info = info.set_redis_settings(redis_settings).set_tcp_settings(tcp);
        let tls = if url.is_tls() { load_tls(&redis.tls)?.map(Arc::new) } else { None };
        let mut endpoint = Endpoint { info, tls, name: endpoint_of(&redacted), readonly: false };
        if endpoint.is_tls() {
            install_crypto_provider();
            // Built once now, so that a certificate redis-rs refuses fails
            // here, naming the field, rather than at every connection. Its
            // `ConnectionInfo` carries the parsed certificates in the
            // address, so every node derived from it (`node`) and any
            // redis-rs client built from it (a cluster's) keeps them.
            let client = endpoint.client().map_err(|e| Error::config(format!("redis.tls: {}", e.message())))?;
            endpoint.info = client.get_connection_info().clone();
        }
        Ok(endpoint)
    }

    /// The same credentials and settings, another node (`host`, `port` as
    /// the cluster reports them).
    pub(crate) fn node(&self, host: &str, port: u16) -> Endpoint {
        let addr = match self.info.addr() {
            ConnectionAddr::TcpTls { insecure, tls_params, .. } => ConnectionAddr::TcpTls {
                host: host.to_owned(),
                port,
                insecure: *insecure,
                tls_params: tls_params.clone(),
            },
            _ => ConnectionAddr::Tcp(host.to_owned(), port),
        };
        let name = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        Endpoint { info: self.info.clone().set_addr(addr), tls: self.tls.clone(), name, readonly: false }
    }

    /// This endpoint, for reads from a replica.
    pub(crate) fn replica(mut self) -> Endpoint {
        self.readonly = true;
        self
    }

    /// `host:port`, safe to print.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Whether connections to this endpoint use TLS.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.info.addr(), ConnectionAddr::TcpTls { .. })
    }

    /// The redis-rs client that dials this endpoint: redis-rs's TLS client
    /// when `[redis.tls]` gives certificates.
    pub(crate) fn client(&self) -> Result<redis::Client> {
        // Only the address, settings and certificates can be wrong here, and
        // none holds the password, but the error text is redis-rs's: keep it
        // to its kind.
        let client = match &self.tls {
            Some(certs) => redis::Client::build_with_tls(self.info.clone(), TlsCertificates::clone(certs)),
            None => redis::Client::open(self.info.clone()),
        };
        client.map_err(|e| Error::config(format!("{}: cannot build a client ({:?})", self.name, e.kind())))
    }
}

/// Makes ring rustls's process-wide crypto provider, unless the application
/// installed one already (then that one is used). redis-rs builds its rustls
/// configs with the process default; leaving it to rustls's crate features
/// would panic if anything else in the process enabled aws-lc-rs too.
fn install_crypto_provider() {
    // An error only means a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Reads and checks the files of `[redis.tls]`; `None` when none is set.
/// Errors name the field and the file; they never quote a file's contents
/// (a key file holds a secret).
fn load_tls(tls: &TlsConfig) -> Result<Option<TlsCertificates>> {
    if !tls.is_set() {
        return Ok(None);
    }
    let root_cert = match &tls.ca_file {
        Some(path) => {
            let pem = read_file("redis.tls.ca_file", path)?;
            certificates("redis.tls.ca_file", path, &pem)?;
            Some(pem)
        }
        None => None,
    };
    let client_tls = match (&tls.cert_file, &tls.key_file) {
        (Some(cert_path), Some(key_path)) => {
            let cert_pem = read_file("redis.tls.cert_file", cert_path)?;
            let chain = certificates("redis.tls.cert_file", cert_path, &cert_pem)?;
            let key_pem = read_file("redis.tls.key_file", key_path)?;
            let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
                Error::config(format!(
                    "redis.tls.key_file: {key_path} holds no PEM private key (-----BEGIN PRIVATE KEY-----, RSA or EC)"
                ))
            })?;
            let provider = rustls::crypto::ring::default_provider();
            rustls::sign::CertifiedKey::from_der(chain, key, &provider).map_err(|e| {
                Error::config(format!(
                    "redis.tls.key_file: {key_path} is not the key of the certificate in {cert_path} ({e})"
                ))
            })?;
            Some(ClientTlsConfig { client_cert: cert_pem, client_key: key_pem })
        }
        // Validation refuses one without the other.
        _ => None,
    };
    Ok(Some(TlsCertificates { client_tls, root_cert }))
}

fn read_file(field: &str, path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::config(format!("{field}: cannot read {path}: {e}")).with_source(e))
}

/// The certificates of a PEM file; at least one, or it is an error (an
/// empty CA file would make every handshake fail with `UnknownIssuer`).
fn certificates(field: &str, path: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::config(format!("{field}: {path} is not a valid PEM file ({e})")))?;
    if certs.is_empty() {
        return Err(Error::config(format!("{field}: {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")));
    }
    Ok(certs)
}

/// `redis://user:***@host:6379/0` -> `host:6379`.
fn endpoint_of(redacted_url: &str) -> String {
    let rest = redacted_url.split_once("://").map_or(redacted_url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_hides_credentials_and_path() {
        assert_eq!(endpoint_of("redis://u:***@h:6380/2?x=1"), "h:6380");
        assert_eq!(endpoint_of("redis://127.0.0.1:6379"), "127.0.0.1:6379");
        assert_eq!(endpoint_of("redis://[::1]:7000/0"), "[::1]:7000");
    }

    #[test]
    fn nodes_keep_credentials_and_get_their_own_name() {
        let url = RedisUrl::parse("redis://app:s3cret@127.0.0.1:7000/0").unwrap();
        let seed = Endpoint::from_url(&url, &RedisConfig::default(), "redis.url").unwrap();
        assert_eq!(seed.name(), "127.0.0.1:7000");
        let node = seed.node("127.0.0.1", 7001);
        assert_eq!(node.name(), "127.0.0.1:7001");
        assert_eq!(node.info.redis_settings().password(), Some("s3cret"));
        assert_eq!(node.info.redis_settings().username(), Some("app"));
        assert!(!format!("{node:?}").contains("s3cret"));
        assert!(node.clone().replica().readonly);
    }

    #[test]
    fn credential_fields_fill_in_what_the_url_lacks() {
        let creds = |url: &str, user: Option<&str>, password: Option<&str>| {
            let redis = RedisConfig {
                username: user.map(str::to_owned),
                password: password.map(crate::config::Secret::new),
                ..RedisConfig::default()
            };
            let endpoint = Endpoint::from_url(&RedisUrl::parse(url).unwrap(), &redis, "redis.url").unwrap();
            let settings = endpoint.info.redis_settings();
            (settings.username().map(str::to_owned), settings.password().map(str::to_owned))
        };
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(creds("redis://h:1", Some("app"), Some("pw")), (some("app"), some("pw")));
        assert_eq!(creds("redis://u:p@h:1", Some("app"), Some("pw")), (some("u"), some("p")));
        assert_eq!(creds("redis://u@h:1", Some("app"), Some("pw")), (some("u"), some("pw")));
        assert_eq!(creds("redis://:p@h:1", None, Some("pw")), (None, some("p")));
        assert_eq!(creds("redis://h:1", None, None), (None, None));
        assert_eq!(creds("unix:///tmp/r.sock", Some("app"), Some("pw")), (some("app"), some("pw")));
    }

    #[test]
    fn tls_endpoints_keep_tls_on_every_node() {
        let url = RedisUrl::parse("rediss://app:s3cret@127.0.0.1:7000").unwrap();
        let seed = Endpoint::from_url(&url, &RedisConfig::default(), "redis.url").unwrap();
        assert!(seed.is_tls());
        assert!(seed.tls.is_none(), "no [redis.tls]: the system's roots");
        let node = seed.node("10.0.0.2", 7001);
        assert!(node.is_tls());
        assert!(matches!(node.info.addr(), ConnectionAddr::TcpTls { host, port: 7001, .. } if host == "10.0.0.2"));
        assert!(node.client().is_ok());
        assert!(format!("{node:?}").contains("tls: true"));
        let plain = Endpoint::from_url(&RedisUrl::parse("redis://h:1").unwrap(), &RedisConfig::default(), "x");
        assert!(!plain.unwrap().node("h", 2).is_tls());
        // [redis.tls] is ignored for redis:// URLs (a rediss:// route may use it).
        let mut redis = RedisConfig::default();
        redis.tls.ca_file = Some("/nonexistent/ca.pem".into());
        let plain = Endpoint::from_url(&RedisUrl::parse("redis://h:1").unwrap(), &redis, "redis.url").unwrap();
        assert!(plain.tls.is_none());
        let err = Endpoint::from_url(&url, &redis, "routes[0].url").err().unwrap();
        assert_eq!(
            err.message(),
            "redis.tls.ca_file: cannot read /nonexistent/ca.pem: No such file or directory (os error 2)"
        );
    }
}
