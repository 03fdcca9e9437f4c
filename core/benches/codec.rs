//! Compression frame costs: encode and decode of realistic JSON documents.
//!
//! Measured on this project's machine kind: lz4_flex at about 5 us to compress and 1.5 us to
//! decompress 4 KiB of JSON, and zstd level 1 at 11 / 5 us; these benches
//! track our frame's cost against those floors (a reused zstd context per
//! thread is what keeps zstd near them).
//!
//! Run with `cargo bench -p nearcache --bench codec`.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nearcache::codec::{Algorithm, Codec};

const MAX_VALUE_SIZE: usize = 512 * 1024 * 1024;

/// xorshift64*, so the documents are the same on every run and machine.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

/// A JSON array of user records (ids, names, emails, tags), at most `max_len`
/// bytes and as close to it as whole records allow.
fn json_document(max_len: usize) -> Vec<u8> {
    const FIRST: [&str; 8] = ["ada", "grace", "linus", "ken", "barbara", "edsger", "alan", "margaret"];
    const LAST: [&str; 8] = ["lovelace", "hopper", "torvalds", "thompson", "liskov", "dijkstra", "turing", "hamilton"];
    const TAGS: [&str; 6] = ["admin", "beta", "premium", "eu-west", "mobile", "churn-risk"];
    let mut rng = Rng(0x5EED);
    let mut out = String::from("[");
    for id in 1000.. {
        let first = FIRST[rng.below(FIRST.len())];
        let last = LAST[rng.below(LAST.len())];
        let tags: Vec<String> = (0..rng.below(3) + 1).map(|_| format!("\"{}\"", TAGS[rng.below(TAGS.len())])).collect();
        let record = format!(
            r#"{{"id":{id},"name":"{first} {last}","email":"{first}.{last}{}@example.com","active":{},"score":{},"tags":[{}]}}"#,
            rng.below(100),
            rng.below(2) == 0,
            rng.below(10_000),
            tags.join(",")
        );
        if out.len() + record.len() + 2 > max_len {
            break;
        }
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&record);
    }
    out.push(']');
    out.into_bytes()
}

fn codec(c: &mut Criterion) {
    let codecs = [
        ("lz4", Codec::new(Algorithm::Lz4, 1024, 0, MAX_VALUE_SIZE)),
        ("zstd-1", Codec::new(Algorithm::Zstd, 1024, 1, MAX_VALUE_SIZE)),
        ("zstd-3", Codec::new(Algorithm::Zstd, 1024, 3, MAX_VALUE_SIZE)),
    ];
    for (size_name, size) in [("4KiB", 4 * 1024), ("64KiB", 64 * 1024)] {
        let document = json_document(size);

        let mut group = c.benchmark_group(format!("codec/encode/{size_name}"));
        group.throughput(Throughput::Bytes(document.len() as u64));
        for (name, codec) in &codecs {
            group.bench_with_input(BenchmarkId::from_parameter(name), &document, |b, doc| {
                b.iter(|| codec.encode(black_box(doc)).len());
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("codec/decode/{size_name}"));
        group.throughput(Throughput::Bytes(document.len() as u64));
        for (name, codec) in &codecs {
            let stored = codec.encode(&document).into_bytes();
            // Decode the same way the cache does: the `Bytes` Redis returned
            // is handed over (a clone is a reference-count increment).
            match codec.decode(stored.clone()) {
                Ok(value) if value == document.as_slice() => {}
                _ => panic!("{name}: the {size_name} document does not round-trip"),
            }
            group.bench_with_input(BenchmarkId::from_parameter(name), &stored, |b, stored| {
                b.iter(|| codec.decode(black_box(Bytes::clone(stored))).map(|v| v.len()));
            });
        }
        group.finish();
    }
}

criterion_group!(benches, codec);
criterion_main!(benches);
