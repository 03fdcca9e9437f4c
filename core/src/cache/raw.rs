//! `command`: raw commands on the shared connections, classified first so
//! that a write drops what it names from L1 and a connection-changing
//! command is refused.

use redis::Cmd;

use crate::command::{self, Effect, Reply};
use crate::error::Result;
use crate::stats::Op;
use crate::tracking::FlushCause;

use super::{Cache, MAX_KEY_LEN};

impl Cache {
    /// Sends a raw command on the shared connections; the reply is never
    /// cached or decompressed. Commands that would change or hold the shared
    /// connection are refused with [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument). A write
    /// drops the L1 entries of every key it names before it is sent.
    pub async fn command<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Reply> {
        let inner = &*self.inner;
        inner.check_usable()?;
        let parts: Vec<&[u8]> = args.iter().map(AsRef::as_ref).collect();
        let effect = command::classify(&parts).map_err(|e| inner.count(e))?;
        match effect {
            Effect::Read => {}
            Effect::Write => {
                for arg in &parts[1..] {
                    if !arg.is_empty() && arg.len() <= MAX_KEY_LEN {
                        inner.own_write(arg);
                    }
                }
            }
            Effect::Flush => inner.local.flush(FlushCause::Manual),
        }
        let mut cmd = Cmd::new();
        for part in &parts {
            cmd.arg(*part);
        }
        // Routed by the first argument when there is one (the key of nearly
        // every command); keyless commands go to the `[redis]` deployment.
        // FLUSHALL / FLUSHDB empty every master of every deployment, as the
        // caller emptied all of L1.
        let reply = match (effect, parts.get(1).copied()) {
            (Effect::Flush, _) if inner.backend.is_sharded() => {
                inner.timed(Op::Command, b"", inner.backend.query_every_master(&cmd)).await?
            }
            (_, Some(key)) => inner.timed(Op::Command, key, inner.backend.query(key, &cmd)).await?,
            (_, None) => inner.timed(Op::Command, b"", inner.backend.query_keyless(&cmd)).await?,
        };
        Ok(Reply::from_value(reply))
    }
}
