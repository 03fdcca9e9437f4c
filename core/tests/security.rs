//! TLS, ACL users and secrets hygiene, against real redis-servers: TLS with a
//! throwaway CA made by `openssl` at run time, client certificates, a user
//! limited by ACL, and a grep for the password in everything a failing cache
//! can show.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use nearcache::config::Secret;
use nearcache::testing::{answered_locally, b, eventually, TestRedis};
use nearcache::{Cache, Config, Error, ErrorKind};

const PASSWORD: &str = "pw-SENTINEL-123";

// ---------------------------------------------------------------------------
// A throwaway PKI
// ---------------------------------------------------------------------------

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all
/// signed by it, plus an unrelated CA; removed on drop.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("nearcache-pki-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let pki = Pki { dir };
        pki.ca("ca");
        pki.ca("other-ca");
        pki.leaf("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
        pki.leaf("client", "ca", "extendedKeyUsage=clientAuth\n");
        pki
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).to_string_lossy().into_owned()
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("openssl is needed for the TLS tests (scripts/install-deps.sh installs it)");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn ca(&self, name: &str) {
        let (key, pem, subj) = (format!("{name}.key"), format!("{name}.pem"), format!("/CN=nearcache test {name}"));
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "2",
            "-subj",
            &subj,
        ]);
    }

    fn leaf(&self, name: &str, ca: &str, extensions: &str) {
        let ext = format!("{name}.ext");
        std::fs::write(self.dir.join(&ext), format!("basicConstraints=CA:FALSE\n{extensions}")).unwrap();
        let (key, csr, pem) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"));
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=localhost",
        ]);
        let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &ext,
        ]);
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A redis-server with TLS on a second port (the launcher keeps the plain
/// port for its readiness PING; the tests use it for the writer outside
/// nearcache). `auth_clients`: whether the server demands a client
/// certificate.
fn tls_server(pki: &Pki, auth_clients: bool) -> (TestRedis, u16) {
    // A free port, released just before the server binds it: a race with
    // another process is possible but rare; a retry takes a fresh one.
    let mut last = None;
    for _ in 0..3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (port_s, cert, key, ca) =
            (port.to_string(), pki.path("server.pem"), pki.path("server.key"), pki.path("ca.pem"));
        let args = [
            "--tls-port",
            &port_s,
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            if auth_clients { "yes" } else { "no" },
        ];
        match TestRedis::start_with_args(&args) {
            Ok(redis) => return (redis, port),
            Err(e) => last = Some(e),
        }
    }
    panic!("cannot start a TLS redis-server: {last:?}");
}

fn tls_config(port: u16, edit: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config::default();
    config.redis.url = format!("rediss://127.0.0.1:{port}").parse().unwrap();
    config.redis.client_name = "nc-under-test".into();
    config.redis.connect_timeout = Duration::from_secs(3);
    config.redis.command_timeout = Duration::from_secs(2);
    config.l1.ttl_jitter = 0.0;
    edit(&mut config);
    config.validate().unwrap();
    config
}

fn expect_err<T: std::fmt::Debug>(what: &str, result: nearcache::Result<T>) -> Error {
    match result {
        Ok(value) => panic!("{what}: expected an error, got {value:?}"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_custom_ca_reads_writes_and_invalidates() {
    let pki = Pki::new("basic");
    let (redis, port) = tls_server(&pki, false);
    let tls = |name: &str| {
        let name = name.to_owned();
        Cache::new(tls_config(port, |c| {
            c.redis.tls.ca_file = Some(pki.path("ca.pem"));
            c.redis.client_name = name;
        }))
        .unwrap()
    };
    let cache = tls("nc-under-test");
    cache.connect().await.unwrap();
    // Our connections are the TLS port's...
    let clients = redis.cli(&["CLIENT", "LIST"]).unwrap();
    let ours: Vec<&str> = clients.lines().filter(|l| l.contains("name=nc-under-test")).collect();
    assert_eq!(ours.len(), 2, "{clients}");
    assert!(ours.iter().all(|l| l.contains(&format!("laddr=127.0.0.1:{port}"))), "{clients}");
    // ...and from here on the server has no plain port at all (the launcher
    // needed one to see it start).
    assert_eq!(redis.cli(&["CONFIG", "SET", "port", "0"]).unwrap().trim(), "OK");
    assert!(redis.cli(&["PING"]).is_err(), "the plain port should be closed");

    cache.set("nc:k", "v1", Default::default()).await.unwrap();
    assert_eq!(cache.get("nc:k").await.unwrap(), Some(b("v1")));
    assert!(answered_locally(&cache, "nc:k"), "the read should fill L1");
    // Another process's write (another cache, its own TLS connections): the
    // invalidation comes back over our TLS connection.
    let writer = tls("nc-writer");
    writer.set("nc:k", "v2", Default::default()).await.unwrap();
    eventually("invalidation over TLS", Duration::from_secs(3), || !answered_locally(&cache, "nc:k")).await;
    assert_eq!(cache.get("nc:k").await.unwrap(), Some(b("v2")));
    assert_eq!(cache.get_many(&["nc:k", "nc:none"]).await.unwrap(), vec![Some(b("v2")), None]);
    writer.delete("nc:k").await.unwrap();
    eventually("invalidation of a delete over TLS", Duration::from_secs(3), || !answered_locally(&cache, "nc:k")).await;
    assert_eq!(cache.get("nc:k").await.unwrap(), None);
    // A dedicated connection (a transaction) is TLS too: the plain port is gone.
    let tx = cache.watch(&["nc:k"]).await.unwrap();
    tx.queue(&["SET", "nc:k", "v3"]).unwrap();
    tx.exec().await.unwrap();
    assert_eq!(cache.get("nc:k").await.unwrap(), Some(b("v3")));
    cache.close();
    writer.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_wrong_ca_is_a_clean_connection_error() {
    let pki = Pki::new("wrong-ca");
    let (_redis, port) = tls_server(&pki, false);
    let cache = Cache::new(tls_config(port, |c| c.redis.tls.ca_file = Some(pki.path("other-ca.pem")))).unwrap();
    let err = expect_err("connect with the wrong CA", cache.connect().await);
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(msg.contains("certificate"), "{msg}");
    assert!(msg.contains("UnknownIssuer"), "{msg}");
    let err = expect_err("get with the wrong CA", cache.get("nc:k").await);
    assert!(matches!(err.kind(), ErrorKind::Connection), "{err}");
    // Without [redis.tls] the system's roots do not know our CA either.
    let cache = Cache::new(tls_config(port, |_| {})).unwrap();
    let err = expect_err("connect with the system roots", cache.connect().await);
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_client_certificates() {
    let pki = Pki::new("mtls");
    let (_redis, port) = tls_server(&pki, true);
    let with_cert = Cache::new(tls_config(port, |c| {
        c.redis.tls.ca_file = Some(pki.path("ca.pem"));
        c.redis.tls.cert_file = Some(pki.path("client.pem"));
        c.redis.tls.key_file = Some(pki.path("client.key"));
    }))
    .unwrap();
    with_cert.connect().await.unwrap();
    with_cert.set("nc:m", "v", Default::default()).await.unwrap();
    assert_eq!(with_cert.get("nc:m").await.unwrap(), Some(b("v")));

    let without = Cache::new(tls_config(port, |c| c.redis.tls.ca_file = Some(pki.path("ca.pem")))).unwrap();
    let err = expect_err("connect without a client certificate", without.connect().await);
    assert!(matches!(err.kind(), ErrorKind::Connection | ErrorKind::Timeout), "{err}");
    assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
}

#[test]
fn tls_files_are_checked_when_the_cache_is_created() {
    let pki = Pki::new("files");
    let config = |edit: &dyn Fn(&mut Config)| tls_config(1, |c| edit(c));
    let config_err = |config: Config| {
        let err = expect_err("cache with bad TLS files", Cache::new(config));
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        err.message().to_owned()
    };
    let missing = pki.path("missing.pem");
    let msg = config_err(config(&|c| c.redis.tls.ca_file = Some(missing.clone())));
    assert!(msg.starts_with(&format!("redis.tls.ca_file: cannot read {missing}: ")), "{msg}");

    std::fs::write(pki.dir.join("junk.pem"), "not a certificate\n").unwrap();
    let junk = pki.path("junk.pem");
    let msg = config_err(config(&|c| c.redis.tls.ca_file = Some(junk.clone())));
    assert_eq!(msg, format!("redis.tls.ca_file: {junk} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));

    let msg = config_err(config(&|c| {
        c.redis.tls.cert_file = Some(pki.path("client.pem"));
        c.redis.tls.key_file = Some(junk.clone());
    }));
    assert!(msg.starts_with(&format!("redis.tls.key_file: {junk} holds no PEM private key")), "{msg}");

    // A key file in the certificate's place: no certificate in it, and its
    // contents are never quoted.
    let key = pki.path("client.key");
    let msg = config_err(config(&|c| {
        c.redis.tls.cert_file = Some(key.clone());
        c.redis.tls.key_file = Some(key.clone());
    }));
    assert!(msg.starts_with(&format!("redis.tls.cert_file: {key} holds no PEM certificate")), "{msg}");
    let key_text = std::fs::read_to_string(&key).unwrap();
    let key_line = key_text.lines().nth(1).unwrap();
    assert!(!msg.contains(key_line));

    let msg = config_err(config(&|c| {
        c.redis.tls.cert_file = Some(pki.path("client.pem"));
        c.redis.tls.key_file = Some(pki.path("server.key"));
    }));
    assert!(
        msg.starts_with(&format!(
            "redis.tls.key_file: {} is not the key of the certificate in",
            pki.path("server.key")
        )),
        "{msg}"
    );

    // All good: no I/O yet, so port 1 does not matter.
    let ok = Cache::new(config(&|c| {
        c.redis.tls.ca_file = Some(pki.path("ca.pem"));
        c.redis.tls.cert_file = Some(pki.path("client.pem"));
        c.redis.tls.key_file = Some(pki.path("client.key"));
    }));
    assert!(ok.is_ok(), "{ok:?}");
}

// ---------------------------------------------------------------------------
// ACL users
// ---------------------------------------------------------------------------

/// A server with a user `nc` limited to `nc:*` keys and the read, write and
/// connection commands (what a cache needs: HELLO, CLIENT SETNAME, CLIENT
/// TRACKING, PING, GET, PTTL, SET, ...).
fn acl_server() -> TestRedis {
    let redis = TestRedis::start().unwrap();
    let reply = redis
        .cli(&[
            "ACL",
            "SETUSER",
            "nc",
            "on",
            &format!(">{PASSWORD}"),
            "~nc:*",
            "+@read",
            "+@write",
            "+@connection",
            "+@transaction",
        ])
        .unwrap();
    assert_eq!(reply.trim(), "OK");
    redis
}

fn acl_config(url: &str) -> Config {
    let mut config = Config::default();
    config.redis.url = url.parse().unwrap();
    config.redis.client_name = "nc-under-test".into();
    config.redis.connect_timeout = Duration::from_secs(3);
    config.redis.command_timeout = Duration::from_secs(2);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_user_in_the_url_and_in_the_fields() {
    let redis = acl_server();
    let port = redis.port();
    let in_url = Cache::new(acl_config(&format!("redis://nc:{PASSWORD}@127.0.0.1:{port}"))).unwrap();
    let in_fields = Cache::new({
        let mut c = acl_config(redis.url());
        c.redis.username = Some("nc".into());
        c.redis.password = Some(Secret::new(PASSWORD));
        c
    })
    .unwrap();
    // The URL names the user, the field gives the password.
    let mixed = Cache::new({
        let mut c = acl_config(&format!("redis://nc@127.0.0.1:{port}"));
        c.redis.password = Some(Secret::new(PASSWORD));
        c
    })
    .unwrap();
    for cache in [&in_url, &in_fields, &mixed] {
        cache.connect().await.unwrap();
        cache.set("nc:a", "1", Default::default()).await.unwrap();
        assert_eq!(cache.get("nc:a").await.unwrap(), Some(b("1")));
        assert!(answered_locally(cache, "nc:a"), "tracking works for the limited user");
        // Keys outside ~nc:* are refused: an Auth error naming the command
        // and the key; the connection stays usable.
        let err = expect_err("GET outside the key pattern", cache.get("other:a").await);
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
        assert!(err.message().starts_with("GET \"other:a\": "), "{err}");
        assert!(err.message().to_ascii_uppercase().contains("NOPERM"), "{err}");
        let err = expect_err("SET outside the key pattern", cache.set("other:a", "1", Default::default()).await);
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
        assert!(err.message().starts_with("SET \"other:a\": "), "{err}");
        // A command outside the user's categories.
        let err = expect_err("CONFIG GET", cache.command(&["CONFIG", "GET", "maxmemory"]).await);
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
        assert!(err.to_string().contains("config|get"), "{err}");
        assert_eq!(cache.get("nc:a").await.unwrap(), Some(b("1")));
        // Dedicated connections authenticate the same way (a transaction).
        let ((), replies) =
            cache.transaction(&["nc:t"], |tx| async move { tx.queue(&["INCR", "nc:t"]) }).await.unwrap();
        assert!(matches!(replies[0], Ok(nearcache::Reply::Int(_))), "{replies:?}");
        cache.close();
    }
    // The invalidation of a limited user's read still arrives.
    let cache = Cache::new(acl_config(&format!("redis://nc:{PASSWORD}@127.0.0.1:{port}"))).unwrap();
    assert_eq!(cache.get("nc:a").await.unwrap(), Some(b("1")));
    redis.cli(&["SET", "nc:a", "2"]).unwrap();
    eventually("invalidation for the ACL user", Duration::from_secs(3), || !answered_locally(&cache, "nc:a")).await;
    assert_eq!(cache.get("nc:a").await.unwrap(), Some(b("2")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failures_are_auth_errors() {
    let redis = acl_server();
    let port = redis.port();
    let wrong = Cache::new(acl_config(&format!("redis://nc:wrong-{PASSWORD}@127.0.0.1:{port}"))).unwrap();
    let err = expect_err("wrong password", wrong.connect().await);
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains("WRONGPASS"), "{err}");
    let err = expect_err("wrong password, get", wrong.get("nc:a").await);
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(wrong.stats().errors.get("NC_AUTH").copied().unwrap_or(0) >= 2, "{:?}", wrong.stats().errors);

    let unknown = Cache::new(acl_config(&format!("redis://nobody:{PASSWORD}@127.0.0.1:{port}"))).unwrap();
    assert_eq!(expect_err("unknown user", unknown.connect().await).kind(), ErrorKind::Auth);

    let protected = TestRedis::start_with_args(&["--requirepass", PASSWORD]).unwrap();
    let none = Cache::new(acl_config(protected.url())).unwrap();
    let err = expect_err("no password", none.connect().await);
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    let with = Cache::new({
        let mut c = acl_config(protected.url());
        c.redis.password = Some(Secret::new(PASSWORD));
        c
    })
    .unwrap();
    with.connect().await.unwrap();
}

// ---------------------------------------------------------------------------
// The password appears nowhere
// ---------------------------------------------------------------------------

/// Everything a user or a log could see of this error: Display, Debug, the
/// message and the whole source chain.
fn error_texts(err: &Error) -> Vec<String> {
    let mut texts = vec![err.to_string(), format!("{err:?}"), format!("{err:#?}"), err.message().to_owned()];
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        texts.push(cause.to_string());
        texts.push(format!("{cause:?}"));
        source = cause.source();
    }
    texts
}

/// What a cache shows: Debug, config dump, stats, Prometheus text.
fn cache_texts(cache: &Cache) -> Vec<String> {
    vec![
        format!("{cache:?}"),
        format!("{cache:#?}"),
        format!("{:?}", cache.config()),
        cache.config().to_json(),
        format!("{:?}", cache.stats()),
        serde_json::to_string(&cache.stats()).unwrap(),
        cache.stats_prometheus(),
        format!("{:?}", nearcache::blocking::Cache::from(cache.clone())),
    ]
}

#[derive(Default)]
struct Seen {
    texts: Vec<(String, String)>,
}

impl Seen {
    fn add(&mut self, what: &str, texts: Vec<String>) {
        self.texts.extend(texts.into_iter().map(|t| (what.to_owned(), t)));
    }

    fn error<T: std::fmt::Debug>(&mut self, what: &str, result: nearcache::Result<T>) -> ErrorKind {
        let err = expect_err(what, result);
        self.add(what, error_texts(&err));
        err.kind()
    }

    fn check(&self) {
        assert!(self.texts.len() > 100, "too little was checked: {}", self.texts.len());
        for (what, text) in &self.texts {
            // The whole password and its distinctive part.
            assert!(!text.contains(PASSWORD) && !text.contains("SENTINEL"), "{what} shows the password: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_appears_nowhere() {
    let mut seen = Seen::default();
    let redis = acl_server();
    let port = redis.port();
    let fast = |c: &mut Config| {
        c.redis.connect_timeout = Duration::from_millis(500);
        c.redis.command_timeout = Duration::from_millis(200);
        c.redis.reconnect.min = Duration::from_millis(1);
        c.redis.reconnect.max = Duration::from_millis(5);
    };

    // Unreachable port: connect, reads, writes, the fast-fail path while
    // backing off, and the error recorded for it.
    let mut cfg = acl_config(&format!("redis://nc:{PASSWORD}@127.0.0.1:1/0"));
    fast(&mut cfg);
    let unreachable = Cache::new(cfg).unwrap();
    assert_eq!(seen.error("unreachable connect", unreachable.connect().await), ErrorKind::Connection);
    seen.error("unreachable get", unreachable.get("nc:a").await);
    seen.error("unreachable set", unreachable.set("nc:a", "1", Default::default()).await);
    seen.error("unreachable get_many", unreachable.get_many(&["nc:a", "nc:b"]).await);
    seen.error("unreachable command", unreachable.command(&["PING"]).await);
    seen.add("unreachable cache", cache_texts(&unreachable));

    // Wrong password, in the URL and in the field.
    let mut cfg = acl_config(&format!("redis://nc:x{PASSWORD}@127.0.0.1:{port}"));
    fast(&mut cfg);
    let wrong = Cache::new(cfg).unwrap();
    assert_eq!(seen.error("wrong password", wrong.connect().await), ErrorKind::Auth);
    seen.error("wrong password get", wrong.get("nc:a").await);
    seen.add("wrong password cache", cache_texts(&wrong));
    let mut cfg = acl_config(redis.url());
    fast(&mut cfg);
    cfg.redis.username = Some("nobody".into());
    cfg.redis.password = Some(Secret::new(PASSWORD));
    let wrong_field = Cache::new(cfg).unwrap();
    assert_eq!(seen.error("wrong user, password field", wrong_field.connect().await), ErrorKind::Auth);
    seen.add("password field cache", cache_texts(&wrong_field));

    // The right password, then NOPERM, timeouts (a stopped server) and close.
    let mut cfg = acl_config(&format!("redis://nc:{PASSWORD}@127.0.0.1:{port}"));
    fast(&mut cfg);
    let good = Cache::new(cfg).unwrap();
    good.set("nc:a", "1", Default::default()).await.unwrap();
    assert_eq!(seen.error("noperm get", good.get("other:a").await), ErrorKind::Auth);
    seen.error("noperm command", good.command(&["CONFIG", "GET", "requirepass"]).await);
    seen.error("refused command", good.command(&["AUTH", "nc", PASSWORD]).await);
    redis.pause();
    let timed_out = good.get("nc:b").await;
    redis.resume();
    assert_eq!(seen.error("timeout", timed_out), ErrorKind::Timeout);
    seen.add("good cache", cache_texts(&good));
    good.close();
    assert_eq!(seen.error("closed", good.get("nc:a").await), ErrorKind::Closed);
    seen.add("closed cache", cache_texts(&good));

    // TLS to a plain port.
    let mut cfg = acl_config(&format!("rediss://nc:{PASSWORD}@127.0.0.1:{port}"));
    fast(&mut cfg);
    let tls_plain = Cache::new(cfg).unwrap();
    seen.error("TLS to a plain port", tls_plain.connect().await);
    seen.add("TLS cache", cache_texts(&tls_plain));

    // Bad URLs and bad config fields, through every loader.
    for bad_url in [
        format!("redis://nc:{PASSWORD}@127.0.0.1:notaport"),
        format!("redis://nc:{PASSWORD}@127.0.0.1:99999/0"),
        format!("redis://nc:{PASSWORD}@127.0.0.1/notadb"),
        format!("redis://nc:{PASSWORD}@bad host"),
        format!("redis://nc:{PASSWORD}"),
        format!("ftp://nc:{PASSWORD}@h"),
        format!("redis://nc:{PASSWORD}@h#frag"),
    ] {
        seen.error("bad url (builder)", Cache::builder().url(bad_url.as_str()).build());
        seen.error("bad url (parse)", bad_url.parse::<nearcache::config::RedisUrl>());
        seen.error("bad url (toml)", Config::from_toml_str(&format!("[redis]\nurl = \"{bad_url}\"")));
        seen.error("bad url (value)", Config::from_value(serde_json::json!({ "url": bad_url })));
    }
    let url = format!("redis://nc:{PASSWORD}@127.0.0.1:{port}");
    for toml in [
        format!("[redis]\nurl = \"{url}\"\n[l1]\nmax_bytes = \"lots\""),
        format!("[redis]\nurl = \"{url}\"\nconnections = \"{url}\""),
        format!("[redis]\nurl = \"{url}\"\nmode = \"cluster\"\n[redis.tls]\nca_file = 1"),
        format!("[redis]\nurl = \"{url}\"\npassword = \"{PASSWORD}\"\nbogus = 1"),
        format!("[redis]\npassword = \"{PASSWORD}\"\nusername = \"\""),
        format!("[redis]\npassword = \"{PASSWORD}\"\n[redis.tls]\nca_file = \"/nonexistent/ca.pem\""),
        format!("[redis]\nurl = \"{url}\" junk"),
        format!("[redis]\npassword = {PASSWORD}"),
    ] {
        seen.error("bad config", Config::from_toml_str(&toml));
    }
    let mut cfg = acl_config(&format!("rediss://nc:{PASSWORD}@127.0.0.1:{port}"));
    cfg.redis.password = Some(Secret::new(PASSWORD));
    cfg.redis.tls.ca_file = Some("/nonexistent/ca.pem".into());
    assert_eq!(seen.error("missing CA file", Cache::new(cfg.clone())), ErrorKind::Config);
    seen.add("config", vec![format!("{cfg:?}"), format!("{cfg:#?}"), cfg.to_json()]);
    let builder = Cache::builder().url(url.as_str());
    seen.add("builder", vec![format!("{builder:?}")]);

    seen.check();
}
