//! The compression frame: how nearcache stores a value in Redis.
//!
//! Large values hurt Redis's P99 (they occupy the single server thread and the
//! network for longer), so values of at least `compression.min_size` bytes are
//! compressed before they are written, and decompressed once when they are
//! read into L1 (L1 holds values decompressed, so a hit never pays for it).
//!
//! # Layout
//!
//! A framed value is an 8-byte header followed by a payload. Every language
//! writes and reads the same bytes; `tests/vectors/frames.json` pins them.
//!
//! ```text
//! offset  size  field
//! 0       3     magic    0x00 0x4E 0x43 (0x00 'N' 'C')
//! 3       1     algo     0 = raw (escaped), 1 = lz4 block, 2 = zstd
//! 4       4     len      original (decompressed) length, u32 little-endian
//! 8       ...   payload  algo 0: the value itself
//!                        algo 1: one raw LZ4 block (no LZ4 frame, no size prefix)
//!                        algo 2: a standard zstd frame
//! ```
//!
//! [`HEADER_LEN`] is 3 + 1 + 4 = 8.
//!
//! # Rules
//!
//! - A value is compressed only when it is at least `min_size` bytes long and
//!   the frame comes out smaller than the value; otherwise it is stored as is.
//! - A value stored as is that begins with [`MAGIC`] would be misread as a
//!   frame, so it is *escaped*: stored as algo 0, header plus the raw bytes,
//!   whatever its size and whatever the configured algorithm.
//! - On read, a value that does not begin with [`MAGIC`] is returned
//!   unchanged, without a copy: keys written by other clients (or before
//!   compression was enabled) read fine, and a value that was too small to
//!   compress costs nothing to decode.
//! - A value that begins with [`MAGIC`] but is not a valid frame is an
//!   [`ErrorKind::Codec`] error, never a panic. This includes a value of 3 to
//!   7 bytes that begins with the magic: no encoder writes one (a
//!   magic-prefixed value is always escaped, which makes it at least 8 bytes
//!   long), so it can only be a damaged frame.
//! - `len` above `max_value_size` is refused before any buffer is allocated,
//!   so a few hostile bytes cannot make a reader allocate gigabytes.
//! - Decoding does not depend on the configured algorithm: a reader
//!   configured for zstd (or for no compression) reads lz4 frames, and so on.
//!
//! The magic starts with a NUL byte because text values (JSON, strings,
//! numbers) never do, so a value written by another client is almost never
//! mistaken for a frame, and the rare binary value that is gets escaped when
//! nearcache writes it.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use nearcache::codec::{Algorithm, Codec, MAGIC};
//!
//! let codec = Codec::new(Algorithm::Lz4, 1024, 3, 512 * 1024 * 1024);
//!
//! // A 4 KiB JSON document: compressible, and above the 1 KiB threshold.
//! let mut json = String::from("[");
//! let mut id = 0;
//! while json.len() < 4000 {
//!     json.push_str(&format!(
//!         r#"{{"id":{id},"name":"user {id}","email":"user{id}@example.com","tags":["a","b"]}},"#
//!     ));
//!     id += 1;
//! }
//! json.pop();
//! json.push(']');
//!
//! let encoded = codec.encode(json.as_bytes());
//! assert!(encoded.is_compressed());
//! assert_eq!(encoded[..3], MAGIC);
//! assert!(encoded.len() < json.len());
//!
//! // What Redis hands back on a later GET.
//! let stored = Bytes::copy_from_slice(&encoded);
//! let value = codec.decode(stored)?;
//! assert_eq!(value, json.as_bytes());
//!
//! // A value some other client wrote comes back untouched.
//! let foreign = Bytes::from_static(b"written by redis-cli");
//! assert_eq!(codec.decode(foreign.clone())?, foreign);
//! # Ok::<(), nearcache::Error>(())
//! ```

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::io;
use std::ops::Deref;

use bytes::Bytes;

use crate::error::{Error, ErrorKind, Result};

/// The first three bytes of every frame: `0x00 'N' 'C'`.
pub const MAGIC: [u8; 3] = [0x00, b'N', b'C'];

/// The length of a frame's header: magic (3) + algo (1) + len (4).
pub const HEADER_LEN: usize = 8;

/// `algo` byte of an escaped value stored raw.
const ALGO_RAW: u8 = 0;
/// `algo` byte of an LZ4 block.
const ALGO_LZ4: u8 = 1;
/// `algo` byte of a zstd frame.
const ALGO_ZSTD: u8 = 2;

/// The most an LZ4 block can expand: a match's length grows by at most 255
/// per extra length byte, every other input byte yields less, so `n` payload
/// bytes never decompress to more than `255 * n` bytes. A header claiming more
/// is corrupt, and is refused before the output buffer is allocated.
const LZ4_MAX_EXPANSION: u64 = 255;

/// The compression algorithm used for values nearcache writes.
///
/// Only writing depends on it: every reader decodes every algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// LZ4 block compression: fast (about 5 us to compress and 1.5 us to
    /// decompress 4 KiB of JSON here), ratio about 2.
    #[default]
    Lz4,
    /// zstd: slower (about 11 / 5 us) but a better ratio (about 3.4 on JSON).
    Zstd,
    /// Never compress (magic-prefixed values are still escaped).
    None,
}

impl Algorithm {
    /// The name used in the config file (`"lz4"`, `"zstd"`, `"none"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::Lz4 => "lz4",
            Algorithm::Zstd => "zstd",
            Algorithm::None => "none",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Encodes values into frames and decodes stored values.
///
/// A `Codec` is a few plain fields: it is `Send + Sync`, cheap to clone, and
/// shared by every task. The zstd contexts it uses live in thread-locals
/// (creating one costs more than compressing a small value, so they are
/// reused), which is why encoding needs no lock.
#[derive(Debug, Clone)]
pub struct Codec {
    algorithm: Algorithm,
    min_size: usize,
    level: i32,
    max_value_size: usize,
}

impl Codec {
    /// A codec that compresses with `algorithm` values of at least
    /// `min_size` bytes, at zstd `level` (ignored by lz4; clamped to the
    /// range zstd accepts, the config module reports out-of-range levels),
    /// and refuses to decode frames that declare more than `max_value_size`
    /// bytes.
    pub fn new(algorithm: Algorithm, min_size: usize, level: i32, max_value_size: usize) -> Self {
        let levels = zstd::compression_level_range();
        let level = level.clamp(*levels.start(), *levels.end());
        Codec { algorithm, min_size, level, max_value_size }
    }

    /// The algorithm used when writing.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Values shorter than this are never compressed.
    pub fn min_size(&self) -> usize {
        self.min_size
    }

    /// The zstd compression level (after clamping).
    pub fn level(&self) -> i32 {
        self.level
    }

    /// The largest decoded length a frame may declare.
    pub fn max_value_size(&self) -> usize {
        self.max_value_size
    }

    /// Encodes `value` for storage in Redis.
    ///
    /// The result borrows `value` when it is stored as is (below `min_size`,
    /// incompressible, or `Algorithm::None`), so the common small-value path
    /// does not copy. A compressed or escaped value is a new frame.
    ///
    /// Encoding cannot fail: when a compressor fails (which would be a bug or
    /// an allocation failure) the value is stored uncompressed, which every
    /// reader decodes. Values longer than `u32::MAX` bytes cannot be framed
    /// and are stored as is; the cache refuses values above `max_value_size`
    /// before they get here.
    pub fn encode<'a>(&self, value: &'a [u8]) -> Encoded<'a> {
        if value.len() >= self.min_size {
            let frame = match self.algorithm {
                Algorithm::Lz4 => lz4_frame(value),
                Algorithm::Zstd => zstd_frame(value, self.level),
                Algorithm::None => None,
            };
            if let Some(frame) = frame {
                return Encoded {
                    bytes: Cow::Owned(frame),
                    form: Form::Compressed(self.algorithm),
                    original_len: value.len(),
                };
            }
        }
        if value.starts_with(&MAGIC) {
            if let Some(frame) = escaped_frame(value) {
                return Encoded { bytes: Cow::Owned(frame), form: Form::Escaped, original_len: value.len() };
            }
        }
        Encoded { bytes: Cow::Borrowed(value), form: Form::Unchanged, original_len: value.len() }
    }

    /// Decodes a value read from Redis.
    ///
    /// A value without the magic is returned as is, and an escaped value as a
    /// slice of `stored`: both without a copy, because most values are small
    /// or foreign and decoding them must cost nothing. A compressed value is
    /// decompressed into a buffer of exactly the declared length, allocated
    /// only after the header has been checked.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Codec`] when `stored` begins with [`MAGIC`] but is not a
    /// valid frame: a header shorter than [`HEADER_LEN`], an unknown algo, a
    /// `len` above `max_value_size`, a corrupt payload, or a payload whose
    /// decoded length differs from `len`.
    pub fn decode(&self, stored: Bytes) -> Result<Bytes> {
        if !stored.starts_with(&MAGIC) {
            return Ok(stored);
        }
        let (algo, len) = self.header(&stored)?;
        let payload = stored.get(HEADER_LEN..).unwrap_or_default();
        match algo {
            ALGO_RAW => {
                if payload.len() != len {
                    return Err(codec_error(format!("escaped frame holds {} bytes, header says {len}", payload.len())));
                }
                Ok(stored.slice(HEADER_LEN..))
            }
            ALGO_LZ4 => lz4_decompress(payload, len).map(Bytes::from),
            _ => zstd_decompress(payload, len).map(Bytes::from),
        }
    }

    /// Checks the header of a magic-prefixed value: returns the algo (one we
    /// know) and the declared length (within `max_value_size`).
    fn header(&self, stored: &[u8]) -> Result<(u8, usize)> {
        let Some(&[_, _, _, algo, l0, l1, l2, l3]) = stored.get(..HEADER_LEN) else {
            return Err(codec_error(format!("frame truncated: {} bytes, header needs {HEADER_LEN}", stored.len())));
        };
        if !matches!(algo, ALGO_RAW | ALGO_LZ4 | ALGO_ZSTD) {
            return Err(codec_error(format!("compressed frame: unknown algorithm {algo}")));
        }
        let declared = u32::from_le_bytes([l0, l1, l2, l3]);
        match usize::try_from(declared) {
            Ok(len) if len <= self.max_value_size => Ok((algo, len)),
            _ => Err(codec_error(format!(
                "compressed frame: header says {declared} bytes, above max_value_size {}",
                self.max_value_size
            ))),
        }
    }
}

/// The result of [`Codec::encode`]: the bytes to store, and what was done to
/// them (for stats).
///
/// Dereferences to the bytes to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded<'a> {
    bytes: Cow<'a, [u8]>,
    form: Form,
    original_len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Unchanged,
    Escaped,
    Compressed(Algorithm),
}

impl<'a> Encoded<'a> {
    /// The bytes to store in Redis.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether the value is stored as given (no frame, no copy).
    pub fn is_unchanged(&self) -> bool {
        self.form == Form::Unchanged
    }

    /// Whether the value is stored compressed.
    pub fn is_compressed(&self) -> bool {
        matches!(self.form, Form::Compressed(_))
    }

    /// Whether the value began with the magic and was escaped (algo 0).
    pub fn is_escaped(&self) -> bool {
        self.form == Form::Escaped
    }

    /// The algorithm the value was compressed with, if it was.
    pub fn algorithm(&self) -> Option<Algorithm> {
        match self.form {
            Form::Compressed(algorithm) => Some(algorithm),
            Form::Unchanged | Form::Escaped => None,
        }
    }

    /// The length of the value before encoding.
    pub fn original_len(&self) -> usize {
        self.original_len
    }

    /// Bytes saved by compression (the "compression bytes saved" stat): the
    /// original length minus the frame's, 0 when not compressed. An escaped
    /// value costs [`HEADER_LEN`] extra bytes, which is not counted here.
    pub fn bytes_saved(&self) -> usize {
        if self.is_compressed() {
            self.original_len.saturating_sub(self.bytes.len())
        } else {
            0
        }
    }

    /// The bytes as a `Cow`: borrowed when unchanged.
    pub fn into_cow(self) -> Cow<'a, [u8]> {
        self.bytes
    }

    /// The bytes as `Bytes` (copies an unchanged value; a frame is moved).
    pub fn into_bytes(self) -> Bytes {
        match self.bytes {
            Cow::Borrowed(bytes) => Bytes::copy_from_slice(bytes),
            Cow::Owned(frame) => Bytes::from(frame),
        }
    }
}

impl Deref for Encoded<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl AsRef<[u8]> for Encoded<'_> {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

fn codec_error(message: String) -> Error {
    Error::new(ErrorKind::Codec, message)
}

/// A buffer of `total` zeroed bytes whose first [`HEADER_LEN`] bytes are the
/// header for `algo` and `len`, or `None` when `len` does not fit the header.
fn frame_buffer(algo: u8, len: usize, total: usize) -> Option<Vec<u8>> {
    let declared = u32::try_from(len).ok()?;
    let mut frame = Vec::new();
    frame.try_reserve_exact(total.max(HEADER_LEN)).ok()?;
    frame.extend_from_slice(&MAGIC);
    frame.push(algo);
    frame.extend_from_slice(&declared.to_le_bytes());
    frame.resize(total.max(HEADER_LEN), 0);
    Some(frame)
}

fn escaped_frame(value: &[u8]) -> Option<Vec<u8>> {
    let mut frame = frame_buffer(ALGO_RAW, value.len(), HEADER_LEN)?;
    frame.try_reserve_exact(value.len()).ok()?;
    frame.extend_from_slice(value);
    Some(frame)
}

/// The lz4 frame of `value`, when it is smaller than `value`.
///
/// The payload is exactly `lz4_flex::block::compress(value)`, compressed in
/// place after the header to avoid a copy. (Not the size-prepended variant:
/// the length is in our header.)
fn lz4_frame(value: &[u8]) -> Option<Vec<u8>> {
    let bound = HEADER_LEN + lz4_flex::block::get_maximum_output_size(value.len());
    let mut frame = frame_buffer(ALGO_LZ4, value.len(), bound)?;
    let written = lz4_flex::block::compress_into(value, frame.get_mut(HEADER_LEN..)?).ok()?;
    finish_frame(frame, written, value.len())
}

/// The zstd frame of `value` at `level`, when it is smaller than `value`.
///
/// The payload is exactly `zstd::bulk::compress(value, level)`: a single
/// zstd frame that records its content size.
fn zstd_frame(value: &[u8], level: i32) -> Option<Vec<u8>> {
    let bound = HEADER_LEN + zstd::zstd_safe::compress_bound(value.len());
    let mut frame = frame_buffer(ALGO_ZSTD, value.len(), bound)?;
    let out = frame.get_mut(HEADER_LEN..)?;
    let mut compressor = take_compressor(level).ok()?;
    let written = compressor.compress_to_buffer(value, out);
    // Even after an error the context is reusable (the crate abandons the
    // failed frame), so it goes back to the thread-local either way.
    put_compressor(level, compressor);
    finish_frame(frame, written.ok()?, value.len())
}

/// Truncates `frame` to its header and `written` payload bytes, and keeps it
/// only if it is smaller than the original value.
fn finish_frame(mut frame: Vec<u8>, written: usize, original_len: usize) -> Option<Vec<u8>> {
    let total = HEADER_LEN.checked_add(written)?;
    if total >= original_len || total > frame.len() {
        return None;
    }
    frame.truncate(total);
    Some(frame)
}

/// The output buffer for a decompressed value: exactly `len` bytes, with an
/// error instead of an abort if the allocator refuses.
fn output_buffer(len: usize) -> Result<Vec<u8>> {
    #[cfg(test)]
    tests::OUTPUT_BYTES_ALLOCATED.with(|total| total.set(total.get() + len));
    let mut out = Vec::new();
    out.try_reserve_exact(len)
        .map_err(|_| codec_error(format!("cannot allocate {len} bytes to decompress a frame")))?;
    Ok(out)
}

fn lz4_decompress(payload: &[u8], len: usize) -> Result<Vec<u8>> {
    if len as u64 > (payload.len() as u64).saturating_mul(LZ4_MAX_EXPANSION) {
        return Err(codec_error(format!(
            "lz4 payload of {} bytes cannot decompress to {len} bytes as the header says",
            payload.len()
        )));
    }
    let mut out = output_buffer(len)?;
    out.resize(len, 0);
    // The output slice is exactly `len` long, so a payload that would produce
    // more fails here instead of growing the buffer.
    let written = lz4_flex::block::decompress_into(payload, &mut out)
        .map_err(|err| codec_error(format!("lz4 payload is corrupt or longer than the header's {len} bytes: {err}")))?;
    if written != len {
        return Err(codec_error(format!("lz4 payload decompressed to {written} bytes, header says {len}")));
    }
    Ok(out)
}

fn zstd_decompress(payload: &[u8], len: usize) -> Result<Vec<u8>> {
    // Frames written by nearcache (and by most one-shot compressors) record
    // their size: a mismatch is caught before allocating. Frames from a
    // streaming compressor may not, and are bounded by `max_value_size` only.
    if let Some(declared) = zstd_content_size(payload) {
        if declared != len as u64 {
            return Err(codec_error(format!("zstd payload declares {declared} bytes, header says {len}")));
        }
    }
    let mut out = output_buffer(len)?;
    let mut decompressor =
        take_decompressor().map_err(|err| codec_error(format!("cannot create a zstd decompression context: {err}")))?;
    // A `Vec` destination is filled up to its capacity, never re-allocated:
    // a payload that would produce more than `len` bytes is an error.
    let result = decompressor.decompress_to_buffer(payload, &mut out);
    put_decompressor(decompressor);
    let written = result.map_err(|err| {
        codec_error(format!("zstd payload is corrupt or longer than the header's {len} bytes: {err}"))
    })?;
    if written != len {
        return Err(codec_error(format!("zstd payload decompressed to {written} bytes, header says {len}")));
    }
    Ok(out)
}

/// The total content size recorded by the zstd frames in `payload`, or
/// `None` when a frame does not record it or the frames cannot be walked
/// (decompression then reports the corruption).
fn zstd_content_size(mut payload: &[u8]) -> Option<u64> {
    let mut total = 0u64;
    while !payload.is_empty() {
        let frame_len = zstd::zstd_safe::find_frame_compressed_size(payload).ok()?;
        let size = zstd::zstd_safe::get_frame_content_size(payload).ok()??;
        total = total.checked_add(size)?;
        payload = payload.get(frame_len..)?;
    }
    Some(total)
}

thread_local! {
    // One zstd context of each kind per thread, with the level the
    // compressor is set to. They are taken out while in use (so nothing is
    // borrowed across the call) and put back after.
    static ZSTD_COMPRESSOR: Cell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { Cell::new(None) };
    static ZSTD_DECOMPRESSOR: Cell<Option<zstd::bulk::Decompressor<'static>>> =
        const { Cell::new(None) };
}

fn take_compressor(level: i32) -> io::Result<zstd::bulk::Compressor<'static>> {
    // `try_with` fails only while the thread is being torn down: then a
    // one-off context does the job.
    match ZSTD_COMPRESSOR.try_with(Cell::take).ok().flatten() {
        Some((current, compressor)) if current == level => Ok(compressor),
        Some((_, mut compressor)) => match compressor.set_compression_level(level) {
            Ok(()) => Ok(compressor),
            Err(_) => zstd::bulk::Compressor::new(level),
        },
        None => zstd::bulk::Compressor::new(level),
    }
}

fn put_compressor(level: i32, compressor: zstd::bulk::Compressor<'static>) {
    let _ = ZSTD_COMPRESSOR.try_with(|slot| slot.set(Some((level, compressor))));
}

fn take_decompressor() -> io::Result<zstd::bulk::Decompressor<'static>> {
    match ZSTD_DECOMPRESSOR.try_with(Cell::take).ok().flatten() {
        Some(decompressor) => Ok(decompressor),
        None => zstd::bulk::Decompressor::new(),
    }
}

fn put_decompressor(decompressor: zstd::bulk::Decompressor<'static>) {
    let _ = ZSTD_DECOMPRESSOR.try_with(|slot| slot.set(Some(decompressor)));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    thread_local! {
        /// Bytes this thread's decoders reserved for output, so tests can
        /// prove that a refused frame allocated nothing.
        pub(super) static OUTPUT_BYTES_ALLOCATED: Cell<usize> = const { Cell::new(0) };
    }

    const MAX: usize = 512 * 1024 * 1024;
    const MIN: usize = 1024;
    const ALL: [Algorithm; 3] = [Algorithm::Lz4, Algorithm::Zstd, Algorithm::None];

    fn codec(algorithm: Algorithm) -> Codec {
        Codec::new(algorithm, MIN, 3, MAX)
    }

    /// xorshift64*: deterministic, no dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }
    }

    /// Realistic JSON (an array of user records), deterministic, of at most
    /// `max_len` bytes and as close to it as whole records allow.
    fn json(max_len: usize, seed: u64) -> Vec<u8> {
        const FIRST: [&str; 8] = ["ada", "grace", "linus", "ken", "barbara", "edsger", "alan", "margaret"];
        const LAST: [&str; 8] =
            ["lovelace", "hopper", "torvalds", "thompson", "liskov", "dijkstra", "turing", "hamilton"];
        const TAGS: [&str; 6] = ["admin", "beta", "premium", "eu-west", "mobile", "churn-risk"];
        let mut rng = Rng(seed | 1);
        let mut out = String::from("[");
        for id in 0.. {
            let first = FIRST[rng.below(FIRST.len())];
            let last = LAST[rng.below(LAST.len())];
            let tags: Vec<String> =
                (0..rng.below(3) + 1).map(|_| format!("\"{}\"", TAGS[rng.below(TAGS.len())])).collect();
            let record = format!(
                r#"{{"id":{},"name":"{first} {last}","email":"{first}.{last}{}@example.com","active":{},"score":{},"tags":[{}]}}"#,
                1000 + id,
                rng.below(100),
                rng.below(2) == 0,
                rng.below(10_000),
                tags.join(",")
            );
            let sep = if out.len() > 1 { 1 } else { 0 };
            if out.len() + sep + record.len() + 1 > max_len {
                break;
            }
            if sep == 1 {
                out.push(',');
            }
            out.push_str(&record);
        }
        out.push(']');
        out.into_bytes()
    }

    /// Exactly `len` bytes of compressible data (JSON cut to length).
    fn compressible(len: usize) -> Vec<u8> {
        let mut data = json(len + 200, 7);
        while data.len() < len {
            data.extend_from_slice(&json(len - data.len() + 200, data.len() as u64));
        }
        data.truncate(len);
        data
    }

    fn round_trip(codec: &Codec, value: &[u8]) -> Encoded<'static> {
        let encoded = codec.encode(value);
        let decoded = codec.decode(Bytes::copy_from_slice(&encoded)).unwrap();
        assert_eq!(decoded, value, "{:?} round trip of {} bytes", codec.algorithm(), value.len());
        Encoded {
            bytes: Cow::Owned(encoded.bytes.into_owned()),
            form: encoded.form,
            original_len: encoded.original_len,
        }
    }

    fn frame(algo: u8, len: u32, payload: &[u8]) -> Bytes {
        let mut out = MAGIC.to_vec();
        out.push(algo);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(payload);
        Bytes::from(out)
    }

    /// A zstd frame that does not record its content size, as streaming
    /// encoders in other languages write.
    fn zstd_without_content_size(value: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut encoder = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        encoder.include_contentsize(false).unwrap();
        encoder.write_all(value).unwrap();
        encoder.finish().unwrap()
    }

    fn codec_err(codec: &Codec, stored: Bytes) -> Error {
        let err = codec.decode(stored).expect_err("expected a codec error");
        assert_eq!(err.kind(), ErrorKind::Codec, "{err}");
        err
    }

    #[test]
    fn header_layout_adds_up() {
        assert_eq!(HEADER_LEN, MAGIC.len() + 1 + 4);
        assert_eq!(MAGIC, [0x00, 0x4E, 0x43]);
        let encoded = codec(Algorithm::Lz4).encode(&[0x00, b'N', b'C', 7]);
        assert_eq!(encoded.as_bytes(), &[0, b'N', b'C', 0, 4, 0, 0, 0, 0, b'N', b'C', 7]);
    }

    #[test]
    fn algorithm_serde_names_and_default() {
        assert_eq!(Algorithm::default(), Algorithm::Lz4);
        for algorithm in ALL {
            let name = serde_json::to_string(&algorithm).unwrap();
            assert_eq!(name, format!("\"{}\"", algorithm.as_str()));
            assert_eq!(serde_json::from_str::<Algorithm>(&name).unwrap(), algorithm);
            assert_eq!(algorithm.to_string(), algorithm.as_str());
        }
        assert!(serde_json::from_str::<Algorithm>("\"LZ4\"").is_err());
    }

    #[test]
    fn codec_is_send_sync_and_clamps_level() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Codec>();
        assert_eq!(Codec::new(Algorithm::Zstd, 0, 1000, MAX).level(), zstd::zstd_safe::max_c_level());
        let codec = Codec::new(Algorithm::Zstd, 10, 5, 20);
        assert_eq!(
            (codec.algorithm(), codec.min_size(), codec.level(), codec.max_value_size()),
            (Algorithm::Zstd, 10, 5, 20)
        );
    }

    #[test]
    fn round_trips_every_algorithm_and_size() {
        let sizes = [0, 1, MIN - 1, MIN, 4096, 64 * 1024, 1024 * 1024];
        for algorithm in ALL {
            let codec = codec(algorithm);
            for size in sizes {
                let value = compressible(size);
                assert_eq!(value.len(), size);
                let encoded = round_trip(&codec, &value);
                let should_compress = size >= MIN && algorithm != Algorithm::None;
                assert_eq!(encoded.is_compressed(), should_compress, "{algorithm} {size}");
                if should_compress {
                    assert_eq!(encoded.algorithm(), Some(algorithm));
                    assert!(encoded.len() < size);
                    assert_eq!(encoded.bytes_saved(), size - encoded.len());
                    assert_eq!(
                        encoded[..HEADER_LEN - 4],
                        [0, b'N', b'C', if algorithm == Algorithm::Lz4 { 1 } else { 2 }]
                    );
                    assert_eq!(encoded[4..8], (size as u32).to_le_bytes());
                } else {
                    assert!(encoded.is_unchanged());
                    assert_eq!(encoded.bytes_saved(), 0);
                    assert_eq!(encoded.as_bytes(), value.as_slice());
                }
            }
        }
    }

    #[test]
    fn json_compresses_roughly_as_measured() {
        // docs/design.md, "Server behaviour": lz4 about 2.1, zstd about 3.4 on 4 KiB JSON.
        let value = json(4096, 1);
        let lz4 = codec(Algorithm::Lz4).encode(&value).len();
        let zstd = codec(Algorithm::Zstd).encode(&value).len();
        assert!(lz4 * 3 < value.len() * 2, "lz4 {lz4} of {}", value.len());
        assert!(zstd < lz4, "zstd {zstd} lz4 {lz4}");
    }

    #[test]
    fn payloads_are_the_libraries_plain_outputs() {
        // Other languages call the same block/bulk APIs: the payload must be
        // exactly what those produce, with nothing of ours mixed in.
        let value = json(4096, 2);
        let lz4 = codec(Algorithm::Lz4).encode(&value);
        assert_eq!(lz4[HEADER_LEN..], lz4_flex::block::compress(&value)[..]);
        for level in [1, 3, 19, 1] {
            let zstd = Codec::new(Algorithm::Zstd, MIN, level, MAX).encode(&value);
            assert_eq!(zstd[HEADER_LEN..], zstd::bulk::compress(&value, level).unwrap()[..], "level {level}");
        }
    }

    #[test]
    fn incompressible_values_are_stored_raw_without_copy() {
        let mut rng = Rng(42);
        for size in [MIN, 4096, 64 * 1024] {
            let value = rng.bytes(size);
            for algorithm in ALL {
                let encoded = codec(algorithm).encode(&value);
                assert!(encoded.is_unchanged(), "{algorithm} {size}");
                assert_eq!(encoded.as_ptr(), value.as_ptr());
                assert_eq!(codec(algorithm).decode(Bytes::copy_from_slice(&encoded)).unwrap(), value);
            }
        }
    }

    #[test]
    fn magic_prefixed_values_are_escaped_and_round_trip() {
        let mut rng = Rng(7);
        let mut large_random = MAGIC.to_vec();
        large_random.extend(rng.bytes(8000));
        let mut large_json = MAGIC.to_vec();
        large_json.extend(json(8000, 3));
        for algorithm in ALL {
            let codec = codec(algorithm);
            for small in [&MAGIC[..], &[0, b'N', b'C', 0, 0, 0, 0, 0][..], b"\0NChello"] {
                let encoded = round_trip(&codec, small);
                assert!(encoded.is_escaped());
                assert_eq!(encoded[..4], [0, b'N', b'C', 0]);
                assert_eq!(encoded[4..8], (small.len() as u32).to_le_bytes());
                assert_eq!(encoded[HEADER_LEN..], *small);
                assert_eq!(encoded.bytes_saved(), 0);
            }
            let encoded = round_trip(&codec, &large_random);
            assert!(encoded.is_escaped(), "{algorithm}");
            assert_eq!(encoded.len(), large_random.len() + HEADER_LEN);
            // Compressible: compressed if the algorithm allows, escaped otherwise.
            let encoded = round_trip(&codec, &large_json);
            assert_eq!(encoded.is_compressed(), algorithm != Algorithm::None);
            assert_eq!(encoded.is_escaped(), algorithm == Algorithm::None);
        }
    }

    #[test]
    fn partial_magic_is_not_escaped() {
        for value in [&b"\0N"[..], b"\0", b"\0NX....", b"N", b"NC\0"] {
            let encoded = codec(Algorithm::Lz4).encode(value);
            assert!(encoded.is_unchanged());
        }
    }

    #[test]
    fn foreign_values_pass_through_zero_copy() {
        let mut rng = Rng(9);
        let values: Vec<Bytes> = vec![
            Bytes::new(),
            Bytes::from_static(b"hello"),
            Bytes::from_static(b"\0N"),
            Bytes::from_static(b"\0NX is not our magic"),
            Bytes::from(json(4096, 4)),
            Bytes::from(rng.bytes(5000)),
        ];
        for algorithm in ALL {
            for value in &values {
                let decoded = codec(algorithm).decode(value.clone()).unwrap();
                assert_eq!(decoded.as_ptr(), value.as_ptr());
                assert_eq!(decoded.len(), value.len());
            }
        }
        // An escaped value is a slice of what Redis returned, not a copy.
        let stored = frame(0, 5, b"hello");
        let decoded = codec(Algorithm::Lz4).decode(stored.clone()).unwrap();
        assert_eq!(decoded, &b"hello"[..]);
        assert_eq!(decoded.as_ptr(), stored[HEADER_LEN..].as_ptr());
    }

    #[test]
    fn decoding_ignores_the_configured_algorithm() {
        let value = json(4096, 5);
        for writer in [Algorithm::Lz4, Algorithm::Zstd] {
            let stored = codec(writer).encode(&value).into_bytes();
            for reader in ALL {
                assert_eq!(codec(reader).decode(stored.clone()).unwrap(), value);
            }
            // Thresholds only matter for writing, too.
            assert_eq!(Codec::new(Algorithm::None, usize::MAX, 3, MAX).decode(stored).unwrap(), value);
        }
    }

    #[test]
    fn corrupt_frames_are_codec_errors() {
        let codec = codec(Algorithm::Lz4);
        let value = b"hello world, hello world, hello world";
        let lz4 = lz4_flex::block::compress(value);
        let zstd = zstd::bulk::compress(value, 3).unwrap();
        let n = value.len() as u32;

        for len in 3..HEADER_LEN {
            let mut stored = MAGIC.to_vec();
            stored.resize(len, 1);
            let err = codec_err(&codec, Bytes::from(stored));
            assert_eq!(err.message(), format!("frame truncated: {len} bytes, header needs 8"));
        }
        for algo in [3, 9, 255] {
            let err = codec_err(&codec, frame(algo, 1, b"x"));
            assert_eq!(err.message(), format!("compressed frame: unknown algorithm {algo}"));
        }
        for algo in [0, 1, 2] {
            let err = codec_err(&codec, frame(algo, MAX as u32 + 1, b"x"));
            assert!(err.message().contains("above max_value_size"), "{err}");
        }
        // Escaped values must hold exactly `len` bytes.
        codec_err(&codec, frame(0, 6, b"hello"));
        codec_err(&codec, frame(0, 4, b"hello"));
        // lz4: garbage, a truncated block, and both length mismatches.
        codec_err(&codec, frame(1, 19, &[0x0F, 0x01, 0x00]));
        codec_err(&codec, frame(1, n, &[0xFF; 16]));
        codec_err(&codec, frame(1, n, &lz4[..lz4.len() - 3]));
        codec_err(&codec, frame(1, 10, &[]));
        let err = codec_err(&codec, frame(1, n + 1, &lz4));
        assert_eq!(err.message(), format!("lz4 payload decompressed to {n} bytes, header says {}", n + 1));
        codec_err(&codec, frame(1, n - 1, &lz4));
        // zstd: garbage, truncated, and both length mismatches (declared size).
        codec_err(&codec, frame(2, n, b"not a zstd frame at all"));
        codec_err(&codec, frame(2, n, &zstd[..zstd.len() - 2]));
        codec_err(&codec, frame(2, n, &[]));
        let err = codec_err(&codec, frame(2, n + 1, &zstd));
        assert!(err.message().starts_with("zstd payload declares"), "{err}");
        codec_err(&codec, frame(2, n - 1, &zstd));
        // zstd frames that do not record their size (streaming encoders).
        let streamed = zstd_without_content_size(value);
        assert_eq!(zstd_content_size(&streamed), None);
        assert_eq!(codec.decode(frame(2, n, &streamed)).unwrap(), &value[..]);
        codec_err(&codec, frame(2, n + 1, &streamed));
        codec_err(&codec, frame(2, n - 1, &streamed));
        // A valid frame followed by trailing garbage.
        let mut trailing = zstd.clone();
        trailing.extend_from_slice(b"junk");
        codec_err(&codec, frame(2, n, &trailing));
    }

    #[test]
    fn huge_declared_lengths_are_refused_without_allocating() {
        OUTPUT_BYTES_ALLOCATED.with(|total| total.set(0));
        let tiny_lz4 = lz4_flex::block::compress(b"tiny");
        let tiny_zstd = zstd::bulk::compress(b"tiny", 3).unwrap();
        // Above the configured maximum.
        for algo in [1, 2] {
            let err = codec_err(&codec(Algorithm::Lz4), frame(algo, u32::MAX, &tiny_lz4));
            assert!(err.message().contains("4294967295"), "{err}");
        }
        // Even with no maximum: lz4 cannot expand that much, and the zstd
        // frame declares its real size.
        let unlimited = Codec::new(Algorithm::Lz4, MIN, 3, usize::MAX);
        codec_err(&unlimited, frame(1, u32::MAX, &tiny_lz4));
        codec_err(&unlimited, frame(2, u32::MAX, &tiny_zstd));
        assert_eq!(OUTPUT_BYTES_ALLOCATED.with(Cell::get), 0);
        // The counter does see real allocations.
        unlimited.decode(frame(1, 4, &tiny_lz4)).unwrap();
        assert_eq!(OUTPUT_BYTES_ALLOCATED.with(Cell::get), 4);
    }

    #[test]
    fn lz4_expansion_bound_admits_the_most_compressible_input() {
        for size in [MIN, 64 * 1024, 1024 * 1024] {
            let zeros = vec![0u8; size];
            let encoded = round_trip(&codec(Algorithm::Lz4), &zeros);
            assert!(encoded.is_compressed());
        }
    }

    #[test]
    fn random_inputs_never_panic_and_round_trip() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let doc = json(16 * 1024, 6);
        let codecs: Vec<Codec> =
            ALL.iter().flat_map(|&a| [Codec::new(a, 0, 1, MAX), Codec::new(a, 64, 3, MAX)]).collect();
        for i in 0..4000 {
            let len = match rng.below(4) {
                0 => rng.below(16),
                1 => rng.below(256),
                _ => rng.below(4096),
            };
            let mut value = match rng.below(4) {
                0 => rng.bytes(len),
                1 => doc[..len.min(doc.len())].to_vec(),
                2 => vec![rng.next() as u8; len],
                _ => {
                    let mut v = MAGIC.to_vec();
                    v.extend(rng.bytes(len));
                    v
                }
            };
            if rng.below(8) == 0 {
                value.splice(0..0, MAGIC);
            }
            let codec = &codecs[i % codecs.len()];
            let encoded = round_trip(codec, &value);

            // Damage the frame: flip bytes, truncate, or rewrite the header.
            let mut damaged = encoded.to_vec();
            match rng.below(3) {
                0 if !damaged.is_empty() => {
                    for _ in 0..1 + rng.below(4) {
                        let at = rng.below(damaged.len());
                        damaged[at] ^= 1 << rng.below(8);
                    }
                }
                1 => damaged.truncate(rng.below(damaged.len() + 1)),
                _ => {
                    damaged = MAGIC.to_vec();
                    damaged.push(rng.below(4) as u8);
                    damaged.extend((rng.below(100_000) as u32).to_le_bytes());
                    let tail = rng.below(64);
                    damaged.extend(rng.bytes(tail));
                }
            }
            for reader in &codecs[..3] {
                match reader.decode(Bytes::from(damaged.clone())) {
                    Ok(out) => {
                        if damaged.starts_with(&MAGIC) {
                            let declared = u32::from_le_bytes(damaged[4..8].try_into().unwrap());
                            assert_eq!(out.len(), declared as usize);
                        } else {
                            assert_eq!(out, damaged);
                        }
                    }
                    Err(err) => assert_eq!(err.kind(), ErrorKind::Codec),
                }
            }
        }
    }

    // ---- test vectors shared with every language ----

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/frames.json");

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Case {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config: Option<CaseConfig>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input_hex: Option<String>,
        stored_hex: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output_hex: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect_error: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    }

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct CaseConfig {
        algorithm: Algorithm,
        min_size: usize,
        level: i32,
    }

    fn to_hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn from_hex(hex: &str) -> Vec<u8> {
        assert!(hex.len() % 2 == 0, "odd hex length");
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
    }

    /// Decode cases use the defaults (max_value_size 512 MiB).
    fn default_codec() -> Codec {
        Codec::new(Algorithm::Lz4, MIN, 3, MAX)
    }

    #[test]
    fn frame_vectors_hold_both_ways() {
        let text = std::fs::read_to_string(VECTORS).unwrap();
        let cases: Vec<Case> = serde_json::from_str(&text).unwrap();
        assert!(cases.len() >= 15);
        for case in &cases {
            let stored = from_hex(&case.stored_hex);
            let name = &case.name;
            if let Some(input_hex) = &case.input_hex {
                let config = case.config.as_ref().expect("encode case without config");
                let codec = Codec::new(config.algorithm, config.min_size, config.level, MAX);
                let input = from_hex(input_hex);
                assert_eq!(to_hex(&codec.encode(&input)), case.stored_hex, "{name}: encode");
                assert_eq!(codec.decode(Bytes::from(stored)).unwrap(), input, "{name}: decode");
            } else if let Some(output_hex) = &case.output_hex {
                let out = default_codec().decode(Bytes::from(stored)).unwrap();
                assert_eq!(to_hex(&out), *output_hex, "{name}");
            } else {
                assert_eq!(case.expect_error.as_deref(), Some("NC_CODEC"), "{name}");
                let err = default_codec().decode(Bytes::from(stored)).unwrap_err();
                assert_eq!(err.code(), "NC_CODEC", "{name}");
            }
        }
        assert_eq!(text, vector_file(), "frames.json differs from what regenerate_frame_vectors writes");
    }

    /// Rewrites `tests/vectors/frames.json`:
    /// `cargo test -p nearcache --lib codec -- --ignored regenerate_frame_vectors`.
    #[test]
    #[ignore = "writes tests/vectors/frames.json"]
    fn regenerate_frame_vectors() {
        std::fs::write(VECTORS, vector_file()).unwrap();
    }

    fn vector_file() -> String {
        let mut text = serde_json::to_string_pretty(&vector_cases()).unwrap();
        text.push('\n');
        text
    }

    fn vector_cases() -> Vec<Case> {
        let mut cases = Vec::new();
        let mut encode = |name: &str, algorithm: Algorithm, min_size: usize, level: i32, input: &[u8], note: &str| {
            let stored = Codec::new(algorithm, min_size, level, MAX).encode(input).to_vec();
            cases.push(Case {
                name: name.into(),
                config: Some(CaseConfig { algorithm, min_size, level }),
                input_hex: Some(to_hex(input)),
                stored_hex: to_hex(&stored),
                output_hex: None,
                expect_error: None,
                note: Some(note.into()),
            });
        };
        let doc = json(4096, 11);
        let mut rng = Rng(2024);
        encode(
            "below_threshold_stored_as_is",
            Algorithm::Lz4,
            1024,
            3,
            &json(300, 12),
            "shorter than min_size: stored unchanged",
        );
        encode("lz4_at_min_size", Algorithm::Lz4, 1024, 3, &compressible(1024), "exactly min_size bytes: compressed");
        encode(
            "lz4_json_4k",
            Algorithm::Lz4,
            1024,
            3,
            &doc,
            "algo 1: one raw LZ4 block (lz4_flex 0.14 block::compress)",
        );
        encode(
            "zstd_json_4k",
            Algorithm::Zstd,
            1024,
            3,
            &doc,
            "algo 2: one zstd frame with content size, level 3 (libzstd 1.5.7)",
        );
        encode(
            "incompressible_stays_raw",
            Algorithm::Zstd,
            1024,
            3,
            &rng.bytes(1536),
            "random bytes: the frame would be larger, stored unchanged",
        );
        encode(
            "none_never_compresses",
            Algorithm::None,
            1024,
            3,
            &compressible(1100),
            "algorithm none: stored unchanged",
        );
        encode(
            "magic_prefixed_escaped",
            Algorithm::Lz4,
            1024,
            3,
            b"\0NChello",
            "begins with the magic: algo 0, header + raw bytes",
        );
        encode(
            "magic_only_escaped",
            Algorithm::None,
            1024,
            3,
            &MAGIC,
            "exactly the magic: escaped even with algorithm none",
        );
        encode(
            "partial_magic_not_escaped",
            Algorithm::Lz4,
            1024,
            3,
            b"\0Nope",
            "only the first two magic bytes: stored unchanged",
        );
        encode("empty_value", Algorithm::Lz4, 0, 3, b"", "empty, even with min_size 0: stored unchanged (empty)");

        let mut decode = |name: &str, stored: &[u8], output: Option<&[u8]>, note: &str| {
            cases.push(Case {
                name: name.into(),
                config: None,
                input_hex: None,
                stored_hex: to_hex(stored),
                output_hex: output.map(to_hex),
                expect_error: output.is_none().then(|| "NC_CODEC".into()),
                note: Some(note.into()),
            });
        };
        let short = b"hello world, hello world, hello world";
        let n = short.len() as u32;
        let lz4 = lz4_flex::block::compress(short);
        let zstd = zstd::bulk::compress(short, 3).unwrap();
        let streamed = zstd_without_content_size(short);
        decode(
            "foreign_value_passes_through",
            b"{\"written\":\"by redis-cli\"}",
            Some(b"{\"written\":\"by redis-cli\"}"),
            "no magic: returned unchanged",
        );
        decode(
            "foreign_partial_magic_passes_through",
            b"\0NX",
            Some(b"\0NX"),
            "not the full magic: returned unchanged",
        );
        decode("foreign_empty_passes_through", b"", Some(b""), "empty: returned unchanged");
        decode("escaped_raw", &frame(0, 8, b"\0NChello"), Some(b"\0NChello"), "algo 0: the payload");
        decode("lz4_below_min_size_still_decodes", &frame(1, n, &lz4), Some(short), "thresholds only apply to writing");
        decode(
            "zstd_without_content_size",
            &frame(2, n, &streamed),
            Some(short),
            "streaming encoders omit the frame content size: still valid",
        );
        decode(
            "truncated_header_magic_only",
            &MAGIC,
            None,
            "3..7 bytes starting with the magic: never written, so a bad frame",
        );
        decode("truncated_header_7_bytes", &frame(1, n, &[])[..7], None, "header needs 8 bytes");
        decode("unknown_algorithm", &frame(9, 1, b"x"), None, "algo 9 is not defined");
        decode(
            "len_over_max",
            &frame(1, MAX as u32 + 1, &lz4),
            None,
            "len 512 MiB + 1 exceeds the default max_value_size: refused before allocating",
        );
        decode("escaped_len_mismatch", &frame(0, 6, b"hello"), None, "algo 0 payload must be exactly len bytes");
        decode(
            "corrupt_lz4_payload",
            &frame(1, 19, &[0x0F, 0x01, 0x00]),
            None,
            "a match (offset 1) before any output was produced",
        );
        decode("lz4_length_mismatch", &frame(1, n + 1, &lz4), None, "payload decompresses to one byte less than len");
        decode(
            "lz4_output_longer_than_len",
            &frame(1, n - 1, &lz4),
            None,
            "payload decompresses to one byte more than len",
        );
        decode("corrupt_zstd_payload", &frame(2, n, b"not a zstd frame at all"), None, "no zstd magic");
        decode("zstd_length_mismatch", &frame(2, n + 1, &zstd), None, "frame content size differs from len");
        cases
    }
}
