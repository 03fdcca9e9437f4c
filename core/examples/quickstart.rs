use std::time::Duration;

use bytes::Bytes;
use nearcache::{Cache, SetOptions};

#[tokio::main]
async fn main() -> nearcache::Result<()> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
    quickstart(&url).await
}

pub async fn quickstart(url: &str) -> nearcache::Result<()> {
    // No I/O yet: connections open on first use (`cache.connect().await?` to fail early).
    let cache = Cache::builder().url(url).l1_max_bytes(64 << 20).build()?;

    cache.set("user:42", r#"{"name":"Ada"}"#, SetOptions::ttl(Duration::from_secs(300))).await?;
    let user = cache.get("user:42").await?; // from Redis, then from L1
    println!("{user:?}");
    let many = cache.get_many(&["user:1", "user:42"]).await?; // L1 first, one MGET for the rest
    println!("{many:?}");

    // Computed on a miss, once per key across concurrent callers, and written to Redis.
    let report = cache
        .get_or_load("report:today", Some(Duration::from_secs(60)), || async {
            Ok::<_, std::io::Error>(Bytes::from_static(b"...expensive..."))
        })
        .await?;
    println!("{report:?}");

    // The same cache without an async runtime: nearcache::blocking::Cache::from(cache.clone()).
    cache.close();
    Ok(())
}
