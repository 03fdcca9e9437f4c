//! Facts for the check families' unit tests.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;

use super::facts::{Churn, Facts, KeySample, SampledKey, Summary};

pub(crate) fn facts(config: &[(&str, &str)], keys: Vec<SampledKey>) -> Facts {
    Facts {
        summary: Summary {
            url: "redis://127.0.0.1:1".into(),
            version: "7.0.15".into(),
            used_memory: "1M".into(),
            keys: keys.len() as u64,
            clients: 1,
            method: String::new(),
        },
        info: BTreeMap::new(),
        config: Ok(config.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
        slowlog: Ok(Vec::new()),
        clients: Ok(Vec::new()),
        sample: Ok(KeySample { dbsize: keys.len() as u64, keys }),
        churn: Ok(Churn { window: Duration::from_secs(2), new_connections: 0 }),
        tracking: Ok(()),
        cluster: None,
    }
}

pub(crate) fn key(name: &str, bytes: u64, expires_at_ms: Option<u64>) -> SampledKey {
    SampledKey { key: Bytes::copy_from_slice(name.as_bytes()), bytes: Some(bytes), expires_at_ms, freq: None }
}
