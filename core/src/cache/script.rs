//! Lua scripts: `EVALSHA` by the script's SHA1, falling back to `EVAL`
//! when the server does not know the script (`NOSCRIPT`: a restart, a
//! `SCRIPT FLUSH`, another node), which also loads it for the next
//! `EVALSHA`; redis-py's `register_script`.
//!
//! A script may write any key it declares, so every declared key is dropped
//! from L1 before the script is sent and again when its reply is back
//! (rule 3). Keys a script touches without declaring them break that rule,
//! as they break Redis Cluster: declare every key.

use std::sync::Arc;

use bytes::Bytes;
use redis::Cmd;

use crate::command::Reply;
use crate::error::Result;
use crate::stats::Op;

use super::batch::{common_group, drop_keys};
use super::keys::check_key;
use super::Cache;

/// A Lua script bound to a cache, made by [`Cache::register_script`].
/// Cheap to clone.
///
/// ```
/// # nearcache::testing::run_with_redis(|url| async move {
/// let cache = nearcache::Cache::builder().url(url).build()?;
/// let add = cache.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
/// assert_eq!(add.call(&["hits"], &["5"]).await?, nearcache::Reply::Int(5));
/// assert_eq!(cache.get("hits").await?.as_deref(), Some(&b"5"[..])); // read back at once
/// # Ok(()) });
/// ```
#[derive(Clone)]
pub struct Script {
    cache: Cache,
    source: Bytes,
    sha1: Arc<str>,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script").field("sha1", &self.sha1).finish_non_exhaustive()
    }
}

impl Cache {
    /// Binds a Lua script to this cache; nothing is sent until the first
    /// [`Script::call`].
    pub fn register_script(&self, lua: impl AsRef<[u8]>) -> Script {
        let source = Bytes::copy_from_slice(lua.as_ref());
        let sha1 = sha1_smol::Sha1::from(&source).digest().to_string();
        Script { cache: self.clone(), source, sha1: sha1.into() }
    }
}

impl Script {
    /// The script's SHA1, in lower-case hex (what `EVALSHA` names).
    pub fn sha1(&self) -> &str {
        &self.sha1
    }

    /// The Lua source.
    pub fn source(&self) -> &[u8] {
        &self.source
    }

    /// Runs the script with `keys` (its `KEYS`) and `args` (its `ARGV`):
    /// `EVALSHA`, or `EVAL` when the server answers `NOSCRIPT`. The reply is
    /// raw; an error the script raises is a `Redis` error. Routed by the
    /// first key (the `[redis]` deployment without keys); in a cluster, or
    /// with routes, every key must share one hash slot and deployment
    /// (`InvalidArgument` before anything is sent).
    pub async fn call<K: AsRef<[u8]>, A: AsRef<[u8]>>(&self, keys: &[K], args: &[A]) -> Result<Reply> {
        let inner = &*self.cache.inner;
        inner.check_usable()?;
        for key in keys {
            check_key(key.as_ref()).map_err(|e| inner.count(e))?;
        }
        common_group(inner, keys.iter().map(AsRef::as_ref), "script")?;
        let declared: Vec<Bytes> = keys.iter().map(|k| Bytes::copy_from_slice(k.as_ref())).collect();
        drop_keys(inner, &declared);
        let by_sha = self.command("EVALSHA", self.sha1.as_bytes(), keys, args);
        let route = keys.first().map(AsRef::as_ref);
        let mut reply = self.send(route, &by_sha).await;
        if matches!(&reply, Err(e) if e.server_code() == Some("NOSCRIPT")) {
            let by_source = self.command("EVAL", &self.source, keys, args);
            reply = self.send(route, &by_source).await;
        }
        drop_keys(inner, &declared);
        reply.map(Reply::from_value).map_err(|e| inner.count(e.context(format!("script {}", self.sha1))))
    }

    fn command<K: AsRef<[u8]>, A: AsRef<[u8]>>(&self, name: &str, script: &[u8], keys: &[K], args: &[A]) -> Cmd {
        let mut cmd = redis::cmd(name);
        cmd.arg(script).arg(keys.len());
        for key in keys {
            cmd.arg(key.as_ref());
        }
        for arg in args {
            cmd.arg(arg.as_ref());
        }
        cmd
    }

    /// Sends and times one attempt; errors are counted by the caller, once
    /// it knows whether a `NOSCRIPT` was recovered from.
    async fn send(&self, route: Option<&[u8]>, cmd: &Cmd) -> Result<redis::Value> {
        let inner = &*self.cache.inner;
        let started = std::time::Instant::now();
        let reply = match route {
            Some(key) => inner.backend.query(key, cmd).await,
            None => inner.backend.query_keyless(cmd).await,
        };
        inner.recorder.latency(Op::Command, started.elapsed(), route.unwrap_or(b""));
        reply
    }
}
