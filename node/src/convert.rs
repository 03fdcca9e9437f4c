//! JavaScript values to core's arguments and core's results back, as types.
//!
//! Each argument kind is one type with a `FromNapiValue` impl, so a
//! `#[napi]` method takes typed parameters and napi-derive writes their
//! names into index.d.ts (`key: Key`; scripts/dts-header.d.ts says what
//! `Key` is). Conversion never fails inside napi-rs: a type keeps its
//! [`ArgResult`] and the method delivers the error, thrown by a sync method
//! and as a rejected Promise by an async one (see [`Arg`]). Whether a value
//! is acceptable (a negative TTL, NaN) is core's decision (`nearcache::args`);
//! this module only checks JavaScript types.
//!
//! Raw napi calls here: the typed wrappers would allocate a `String` per key
//! on the hit path.

use std::marker::PhantomData;
use std::ptr;
use std::time::Duration;

use bytes::Bytes;
use napi::bindgen_prelude::{Either, FromNapiValue, Null, ToNapiValue};
use napi::sys;
use nearcache::args;

use crate::error::{ArgError, ArgResult};

/// Keys up to this long are read into a stack buffer (no allocation).
const INLINE_KEY: usize = 256;

// --- Arguments ---------------------------------------------------------------

/// A converted argument (or a tuple of them): `take` hands over the Rust
/// value or the reason it was refused.
pub(crate) trait Arg {
    type Out;
    fn take(self) -> ArgResult<Self::Out>;
}

impl<T: Arg> Arg for Option<T> {
    type Out = Option<T::Out>;
    fn take(self) -> ArgResult<Self::Out> {
        self.map(Arg::take).transpose()
    }
}

impl Arg for () {
    type Out = ();
    fn take(self) -> ArgResult<()> {
        Ok(())
    }
}

macro_rules! arg_tuple {
    ($($t:ident),+) => {
        impl<$($t: Arg),+> Arg for ($($t,)+) {
            type Out = ($($t::Out,)+);
            #[allow(non_snake_case)]
            fn take(self) -> ArgResult<Self::Out> {
                let ($($t,)+) = self;
                Ok(($($t.take()?,)+))
            }
        }
    };
}
arg_tuple!(A);
arg_tuple!(A, B);
arg_tuple!(A, B, C);
arg_tuple!(A, B, C, D);

/// Implements `FromNapiValue` (conversion kept for the method to deliver)
/// and [`Arg`] for an argument type from its conversion function.
macro_rules! js_arg {
    ($ty:ident $(<$lt:lifetime>)?, $out:ty, $convert:ident) => {
        impl$(<$lt>)? FromNapiValue for $ty$(<$lt>)? {
            unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
                Ok($ty($convert(env, value)))
            }
        }

        impl$(<$lt>)? Arg for $ty$(<$lt>)? {
            type Out = $out;
            fn take(self) -> ArgResult<$out> {
                self.0
            }
        }
    };
}

/// What an argument is called in error messages.
pub trait Name {
    const WHAT: &'static str;
}

macro_rules! names {
    ($($marker:ident = $what:literal),* $(,)?) => {
        $(
            pub struct $marker;
            impl Name for $marker {
                const WHAT: &'static str = $what;
            }
        )*
    };
}
names!(
    KeyName = "key",
    KeysName = "keys",
    ValueName = "value",
    FieldName = "field",
    FieldsName = "fields",
    EntriesName = "entries",
    PrefixName = "prefix",
    PatternName = "pattern",
    PathName = "path",
    MemberName = "member",
    MembersName = "members",
    ValuesName = "values",
);

/// A string (UTF-8) or Buffer / Uint8Array, read without allocating when it
/// is a string of up to [`INLINE_KEY`] bytes or a Buffer (borrowed from the
/// JS heap for the duration of the call). `.take()` gives owned bytes for
/// async calls; [`Text::borrowed`] the bytes in place for sync L1 calls.
pub struct Text<'a, N: Name>(ArgResult<TextBytes<'a>>, PhantomData<N>);

/// index.d.ts names these types; scripts/dts-header.d.ts declares each as
/// `string | Buffer`.
pub type Key<'a> = Text<'a, KeyName>;
/// (`Value` would render as `any`: napi-derive reads it as serde's `Value`.)
pub type Payload<'a> = Text<'a, ValueName>;
pub type Field<'a> = Text<'a, FieldName>;
pub type Prefix<'a> = Text<'a, PrefixName>;
pub type Pattern<'a> = Text<'a, PatternName>;
pub type Member<'a> = Text<'a, MemberName>;
/// A config file's path (`Cache.fromConfig`), decoded as UTF-8.
pub type Path<'a> = Text<'a, PathName>;

// The inline variant is the point: a short key stays on the stack.
#[allow(clippy::large_enum_variant)]
pub(crate) enum TextBytes<'a> {
    Inline([u8; INLINE_KEY], usize),
    Owned(Vec<u8>),
    Borrowed(&'a [u8]),
}

impl AsRef<[u8]> for TextBytes<'_> {
    fn as_ref(&self) -> &[u8] {
        match self {
            TextBytes::Inline(buf, len) => &buf[..*len],
            TextBytes::Owned(v) => v,
            TextBytes::Borrowed(b) => b,
        }
    }
}

impl TextBytes<'_> {
    fn into_bytes(self) -> Bytes {
        match self {
            TextBytes::Owned(v) => Bytes::from(v),
            other => Bytes::copy_from_slice(other.as_ref()),
        }
    }
}

impl<'a, N: Name> Text<'a, N> {
    /// The bytes in place (no allocation for short strings and Buffers).
    pub(crate) fn borrowed(self) -> ArgResult<TextBytes<'a>> {
        self.0
    }
}

impl<N: Name> FromNapiValue for Text<'_, N> {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        Ok(Text(text(env, value, N::WHAT), PhantomData))
    }
}

impl<N: Name> Arg for Text<'_, N> {
    type Out = Bytes;
    fn take(self) -> ArgResult<Bytes> {
        self.0.map(TextBytes::into_bytes)
    }
}

fn text<'a>(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<TextBytes<'a>> {
    text_or(env, value).ok_or_else(|| expected(env, value, what, "a string or Buffer"))
}

/// The bytes of a string / Buffer / Uint8Array, `None` for any other value.
fn text_or<'a>(env: sys::napi_env, value: sys::napi_value) -> Option<TextBytes<'a>> {
    if type_of(env, value) == sys::ValueType::napi_string {
        let mut stack = [0u8; INLINE_KEY];
        let mut len = 0usize;
        // SAFETY: JS thread; napi writes at most `INLINE_KEY - 1` bytes and a NUL.
        unsafe { sys::napi_get_value_string_utf8(env, value, stack.as_mut_ptr().cast(), INLINE_KEY, &mut len) };
        if len < INLINE_KEY - 1 {
            return Some(TextBytes::Inline(stack, len));
        }
        return Some(TextBytes::Owned(string_bytes(env, value)));
    }
    typed_bytes(env, value).map(|bytes| TextBytes::Borrowed(bytes))
}

/// Owned bytes of a string / Buffer / Uint8Array (list elements, fields).
pub(crate) fn bytes(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<Bytes> {
    text(env, value, what).map(TextBytes::into_bytes)
}

/// [`bytes`] for an element of a list, whose name (`keys[3]`) is spelled out
/// only when the element is refused: formatting it up front cost an
/// allocation per key (per argument of a pipeline) on every call.
fn item_bytes(env: sys::napi_env, value: sys::napi_value, what: impl FnOnce() -> String) -> ArgResult<Bytes> {
    match text_or(env, value) {
        Some(found) => Ok(found.into_bytes()),
        None => Err(expected(env, value, &what(), "a string or Buffer")),
    }
}

/// An array of strings / Buffers (`keys`, `fields`).
pub struct List<N: Name>(ArgResult<Vec<Bytes>>, PhantomData<N>);
pub type Keys = List<KeysName>;
pub type Fields = List<FieldsName>;

/// One string / Buffer or an array of them (`delete`, `hdel`, `invalidateLocal`).
pub struct OneOrMany<N: Name>(ArgResult<Vec<Bytes>>, PhantomData<N>);
pub type KeyOrKeys = OneOrMany<KeysName>;
pub type FieldOrFields = OneOrMany<FieldsName>;
pub type MemberOrMembers = OneOrMany<MembersName>;
pub type ValueOrValues = OneOrMany<ValuesName>;

/// `[[k, v], ...]` pairs, or the own enumerable properties of an object.
pub struct Pairs<N: Name>(ArgResult<Vec<(Bytes, Bytes)>>, PhantomData<N>);
pub type Entries = Pairs<EntriesName>;
pub type FieldValues = Pairs<FieldsName>;

macro_rules! named_arg {
    ($ty:ident, $out:ty, $convert:ident) => {
        impl<N: Name> FromNapiValue for $ty<N> {
            unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
                Ok($ty($convert(env, value, N::WHAT), PhantomData))
            }
        }

        impl<N: Name> Arg for $ty<N> {
            type Out = $out;
            fn take(self) -> ArgResult<$out> {
                self.0
            }
        }
    };
}
named_arg!(List, Vec<Bytes>, bytes_list);
named_arg!(OneOrMany, Vec<Bytes>, one_or_many);
named_arg!(Pairs, Vec<(Bytes, Bytes)>, pairs);

fn bytes_list(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<Vec<Bytes>> {
    array(env, value, what)?
        .into_iter()
        .enumerate()
        .map(|(i, v)| item_bytes(env, v, || format!("{what}[{i}]")))
        .collect()
}

fn one_or_many(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<Vec<Bytes>> {
    if is_array(env, value) {
        bytes_list(env, value, what)
    } else {
        Ok(vec![bytes(env, value, what)?])
    }
}

fn pairs(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<Vec<(Bytes, Bytes)>> {
    if is_array(env, value) {
        let mut out = Vec::new();
        for (i, pair) in array(env, value, what)?.into_iter().enumerate() {
            if !is_array(env, pair) {
                return Err(expected(env, pair, &format!("{what}[{i}]"), "an array"));
            }
            let parts = array(env, pair, what)?;
            let [k, v] = parts[..] else {
                return Err(ArgError::wrong_type(format!("{what}[{i}] must be a [key, value] pair")));
            };
            out.push((
                item_bytes(env, k, || format!("{what}[{i}][0]"))?,
                item_bytes(env, v, || format!("{what}[{i}][1]"))?,
            ));
        }
        return Ok(out);
    }
    if type_of(env, value) != sys::ValueType::napi_object || typed_bytes(env, value).is_some() {
        return Err(expected(env, value, what, "an array of [key, value] pairs or an object"));
    }
    let mut names = ptr::null_mut();
    // SAFETY: JS thread, an object.
    unsafe { sys::napi_get_property_names(env, value, &mut names) };
    let mut out = Vec::new();
    for name in array(env, names, what)? {
        let mut v = ptr::null_mut();
        // SAFETY: as above.
        unsafe { sys::napi_get_property(env, value, name, &mut v) };
        let key = bytes(env, name, what)?;
        let value = item_bytes(env, v, || format!("{what}.{}", String::from_utf8_lossy(&key)))?;
        out.push((key, value));
    }
    Ok(out)
}

/// A required TTL: milliseconds or a duration string ("30s").
pub struct Ttl(ArgResult<Duration>);
js_arg!(Ttl, Duration, required_ttl);

fn required_ttl(env: sys::napi_env, value: sys::napi_value) -> ArgResult<Duration> {
    ttl(env, value, "ttl")?.ok_or_else(|| ArgError::wrong_type("ttl is required"))
}

/// A TTL, `None` when absent. The JavaScript type is checked here; the
/// number or text goes to core, which decides what is a valid TTL.
fn ttl(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<Option<Duration>> {
    Ok(Some(match type_of(env, value) {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null => return Ok(None),
        sys::ValueType::napi_number => args::ttl_from_millis(what, number(env, value))?,
        sys::ValueType::napi_string => args::ttl_from_text(what, &String::from_utf8_lossy(&string_bytes(env, value)))?,
        _ => return Err(expected(env, value, what, "a number of milliseconds or a duration string like \"30s\"")),
    }))
}

/// `{ ttl, nx, xx }` of `set`.
pub struct SetOptions(ArgResult<nearcache::SetOptions>);
js_arg!(SetOptions, nearcache::SetOptions, set_options);

fn set_options(env: sys::napi_env, value: sys::napi_value) -> ArgResult<nearcache::SetOptions> {
    let object = options(env, value, "options")?;
    Ok(nearcache::SetOptions {
        ttl: ttl(env, property(env, object, c"ttl"), "options.ttl")?,
        only_if_absent: boolean(env, property(env, object, c"nx"), "options.nx")?,
        only_if_present: boolean(env, property(env, object, c"xx"), "options.xx")?,
        exact_ttl: false,
    })
}

/// `{ ttl }` of `setMany`.
pub struct TtlOptions(ArgResult<Option<Duration>>);
js_arg!(TtlOptions, Option<Duration>, ttl_options);

fn ttl_options(env: sys::napi_env, value: sys::napi_value) -> ArgResult<Option<Duration>> {
    ttl(env, property(env, options(env, value, "options")?, c"ttl"), "options.ttl")
}

/// The options tree of `new Cache(options)`, for core's config parser.
pub struct CacheOptions(ArgResult<serde_json::Value>);
js_arg!(CacheOptions, serde_json::Value, cache_options);

fn cache_options(env: sys::napi_env, value: sys::napi_value) -> ArgResult<serde_json::Value> {
    options(env, value, "options")
        .map_err(|_| ArgError::wrong_type("options must be an object like { url: 'redis://...' }"))?;
    // SAFETY: an object; napi-rs converts it to a JSON tree.
    unsafe { serde_json::Value::from_napi_value(env, value) }
        .map_err(|e| ArgError::wrong_type(format!("options: {}", e.reason)))
}

/// The arguments of a raw command: strings, Buffers and numbers (core's
/// `number_arg` writes numbers as Redis reads them).
pub struct CommandArgs(ArgResult<Vec<Bytes>>);
js_arg!(CommandArgs, Vec<Bytes>, command_args);

fn command_args(env: sys::napi_env, value: sys::napi_value) -> ArgResult<Vec<Bytes>> {
    let items = array(env, value, "args")?;
    let mut parts = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        parts.push(match type_of(env, item) {
            sys::ValueType::napi_number => args::number_arg(number(env, item))?,
            _ => item_bytes(env, item, || format!("args[{i}]"))?,
        });
    }
    Ok(parts)
}

/// An integer argument (`incrby`'s amount, `lrange`'s indexes): a number
/// with no fractional part within 2^53, or a decimal string (ioredis
/// accepts both). Only the JavaScript type is checked here.
pub struct Int(ArgResult<i64>);
js_arg!(Int, i64, int_arg);

fn int_arg(env: sys::napi_env, value: sys::napi_value) -> ArgResult<i64> {
    integer(env, value, "the argument")
}

fn integer(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<i64> {
    const SAFE: f64 = 9_007_199_254_740_991.0;
    match type_of(env, value) {
        sys::ValueType::napi_number => {
            let n = number(env, value);
            if n.fract() == 0.0 && n.abs() <= SAFE {
                Ok(n as i64)
            } else {
                Err(ArgError::wrong_type(format!("{what} must be an integer, got {n}")))
            }
        }
        sys::ValueType::napi_string => {
            let text = String::from_utf8_lossy(&string_bytes(env, value)).into_owned();
            text.trim()
                .parse::<i64>()
                .map_err(|_| ArgError::wrong_type(format!("{what} must be an integer, got \"{text}\"")))
        }
        _ => Err(expected(env, value, what, "an integer")),
    }
}

/// A score (`zincrby`): a number, or a string Redis reads as one
/// (`"+inf"`). Whether it is a valid score is core's decision.
pub struct Score(ArgResult<f64>);
js_arg!(Score, f64, score_arg);

fn score_arg(env: sys::napi_env, value: sys::napi_value) -> ArgResult<f64> {
    score(env, value, "score")
}

fn score(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<f64> {
    match type_of(env, value) {
        sys::ValueType::napi_number => Ok(number(env, value)),
        sys::ValueType::napi_string => {
            let text = String::from_utf8_lossy(&string_bytes(env, value)).into_owned();
            match text.trim().to_ascii_lowercase().as_str() {
                "+inf" | "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                t => t
                    .parse::<f64>()
                    .map_err(|_| ArgError::wrong_type(format!("{what} must be a number, got \"{text}\""))),
            }
        }
        _ => Err(expected(env, value, what, "a number")),
    }
}

/// A range bound as Redis reads it (`zcount`, `zrange` by score or lex):
/// a number, or a string such as `"(1"`, `"-inf"`, `"[a"`.
pub struct Bound(ArgResult<String>);
js_arg!(Bound, String, bound);

fn bound(env: sys::napi_env, value: sys::napi_value) -> ArgResult<String> {
    match type_of(env, value) {
        sys::ValueType::napi_number => Ok(String::from_utf8_lossy(&args::number_arg(number(env, value))?).into_owned()),
        sys::ValueType::napi_string => Ok(String::from_utf8_lossy(&string_bytes(env, value)).into_owned()),
        _ => Err(expected(env, value, "bound", "a number or a string like \"(1\"")),
    }
}

/// `zadd`'s members: `[score, member, score, member, ...]` (ioredis's
/// argument order; index.js gathers the rest arguments into it).
pub struct ScoreMembers(ArgResult<Vec<(f64, Bytes)>>);
js_arg!(ScoreMembers, Vec<(f64, Bytes)>, score_members);

fn score_members(env: sys::napi_env, value: sys::napi_value) -> ArgResult<Vec<(f64, Bytes)>> {
    let items = array(env, value, "members")?;
    if items.len() % 2 != 0 {
        return Err(ArgError::wrong_type("zadd takes score, member pairs: an even number of arguments after the key"));
    }
    items
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            Ok((score(env, pair[0], &format!("score {i}"))?, bytes(env, pair[1], &format!("member {i}"))?))
        })
        .collect()
}

/// `zrange`'s fourth argument: `'WITHSCORES'` (ioredis's trailing option),
/// or `{ withScores, by: 'score' | 'lex', rev, limit: { offset, count } }`.
pub struct ZRangeOptions(ArgResult<ZRangeSpec>);
js_arg!(ZRangeOptions, ZRangeSpec, zrange_options);

#[derive(Default)]
pub(crate) struct ZRangeSpec {
    pub with_scores: bool,
    pub by: Option<String>,
    pub rev: bool,
    pub limit: Option<(i64, i64)>,
}

fn zrange_options(env: sys::napi_env, value: sys::napi_value) -> ArgResult<ZRangeSpec> {
    match type_of(env, value) {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null => return Ok(ZRangeSpec::default()),
        sys::ValueType::napi_string => {
            let text = String::from_utf8_lossy(&string_bytes(env, value)).into_owned();
            if text.eq_ignore_ascii_case("withscores") {
                return Ok(ZRangeSpec { with_scores: true, ..ZRangeSpec::default() });
            }
            return Err(ArgError::wrong_type(format!("zrange: unknown option \"{text}\" (only 'WITHSCORES')")));
        }
        _ => {}
    }
    let object = options(env, value, "options")?;
    let by = match type_of(env, property(env, object, c"by")) {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null => None,
        sys::ValueType::napi_string => {
            Some(String::from_utf8_lossy(&string_bytes(env, property(env, object, c"by"))).into_owned())
        }
        _ => return Err(expected(env, property(env, object, c"by"), "options.by", "'score' or 'lex'")),
    };
    let limit_value = property(env, object, c"limit");
    let limit = match type_of(env, limit_value) {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null => None,
        _ => {
            let limit = options(env, limit_value, "options.limit")?;
            Some((
                integer(env, property(env, limit, c"offset"), "options.limit.offset")?,
                integer(env, property(env, limit, c"count"), "options.limit.count")?,
            ))
        }
    };
    Ok(ZRangeSpec {
        with_scores: boolean(env, property(env, object, c"withScores"), "options.withScores")?,
        by,
        rev: boolean(env, property(env, object, c"rev"), "options.rev")?,
        limit,
    })
}

/// `zrange(..., 'WITHSCORES')`: `[[member, score], ...]`.
pub struct ScoredMembers(pub Vec<(Bytes, f64)>);

impl ToNapiValue for ScoredMembers {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let mut items = Vec::with_capacity(val.0.len());
        for (member, score) in val.0 {
            items.push(new_array(env, vec![buffer(env, &member)?, number_value(env, score)]));
        }
        Ok(new_array(env, items))
    }
}

/// The results of a pipeline or transaction in ioredis's shape:
/// `[[error | null, reply], ...]`, one entry per command in call order.
pub struct Results(pub Vec<nearcache::Result<nearcache::Reply>>);

impl ToNapiValue for Results {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let mut items = Vec::with_capacity(val.0.len());
        for result in val.0 {
            items.push(match result {
                Ok(value) => new_array(env, vec![null(env), reply(env, value)?]),
                // SAFETY: JS thread.
                Err(e) => new_array(env, vec![unsafe { crate::error::to_js(env, e) }, undefined(env)]),
            });
        }
        Ok(new_array(env, items))
    }
}

/// The writable bytes of a Uint8Array (`getLocalInto`'s target); named so
/// that index.d.ts says `Uint8Array`.
pub type Uint8Array<'a> = Target<'a>;
pub struct Target<'a>(ArgResult<&'a mut [u8]>);
js_arg!(Target<'a>, &'a mut [u8], target);

fn target<'a>(env: sys::napi_env, value: sys::napi_value) -> ArgResult<&'a mut [u8]> {
    typed_bytes(env, value).ok_or_else(|| expected(env, value, "target", "a Buffer or Uint8Array"))
}

/// index.js's out-parameter of `_view`: a Float64Array of 5 slots.
pub struct Slots<'a>(ArgResult<&'a mut [f64]>);
js_arg!(Slots<'a>, &'a mut [f64], slots);

fn slots<'a>(env: sys::napi_env, value: sys::napi_value) -> ArgResult<&'a mut [f64]> {
    let n = 5;
    let mut is = false;
    // SAFETY: JS thread; the slice borrows the array's memory, which the
    // caller's argument keeps alive for the duration of this native call.
    unsafe {
        sys::napi_is_typedarray(env, value, &mut is);
        if is {
            let mut kind = 0;
            let mut len = 0usize;
            let mut data = ptr::null_mut();
            let mut buffer = ptr::null_mut();
            let mut offset = 0usize;
            let status =
                sys::napi_get_typedarray_info(env, value, &mut kind, &mut len, &mut data, &mut buffer, &mut offset);
            if status == sys::Status::napi_ok
                && kind == sys::TypedarrayType::float64_array
                && len >= n
                && !data.is_null()
            {
                return Ok(std::slice::from_raw_parts_mut(data.cast::<f64>(), n));
            }
        }
    }
    Err(expected(env, value, "out", &format!("a Float64Array of at least {n}")))
}

// --- JavaScript type checks --------------------------------------------------

fn type_of(env: sys::napi_env, value: sys::napi_value) -> sys::napi_valuetype {
    let mut kind = sys::ValueType::napi_undefined;
    // SAFETY: JS thread, a live value.
    unsafe { sys::napi_typeof(env, value, &mut kind) };
    kind
}

fn type_name(env: sys::napi_env, value: sys::napi_value) -> &'static str {
    match type_of(env, value) {
        sys::ValueType::napi_undefined => "undefined",
        sys::ValueType::napi_null => "null",
        sys::ValueType::napi_boolean => "a boolean",
        sys::ValueType::napi_number => "a number",
        sys::ValueType::napi_string => "a string",
        sys::ValueType::napi_symbol => "a symbol",
        sys::ValueType::napi_function => "a function",
        sys::ValueType::napi_bigint => "a bigint",
        _ => "an object",
    }
}

pub(crate) fn expected(env: sys::napi_env, value: sys::napi_value, what: &str, wanted: &str) -> ArgError {
    ArgError::wrong_type(format!("{what} must be {wanted}, got {}", type_name(env, value)))
}

pub(crate) fn is_function(env: sys::napi_env, value: sys::napi_value) -> bool {
    type_of(env, value) == sys::ValueType::napi_function
}

fn is_array(env: sys::napi_env, value: sys::napi_value) -> bool {
    let mut is = false;
    // SAFETY: JS thread.
    unsafe { sys::napi_is_array(env, value, &mut is) };
    is
}

/// The bytes of a Buffer / Uint8Array (borrowed from the JS heap for the
/// duration of the call), or `None` if it is not one.
fn typed_bytes<'a>(env: sys::napi_env, value: sys::napi_value) -> Option<&'a mut [u8]> {
    let mut is = false;
    // SAFETY: JS thread; the slice borrows the ArrayBuffer, which the caller's
    // argument keeps alive for the duration of this native call.
    unsafe {
        sys::napi_is_typedarray(env, value, &mut is);
        if !is {
            return None;
        }
        let mut kind = 0;
        let mut len = 0usize;
        let mut data = ptr::null_mut();
        let mut buffer = ptr::null_mut();
        let mut offset = 0usize;
        if sys::napi_get_typedarray_info(env, value, &mut kind, &mut len, &mut data, &mut buffer, &mut offset)
            != sys::Status::napi_ok
            || kind != sys::TypedarrayType::uint8_array
        {
            return None;
        }
        if len == 0 || data.is_null() {
            return Some(&mut []);
        }
        Some(std::slice::from_raw_parts_mut(data.cast::<u8>(), len))
    }
}

fn string_bytes(env: sys::napi_env, value: sys::napi_value) -> Vec<u8> {
    let mut len = 0usize;
    // SAFETY: JS thread; first call asks for the length, second fills.
    unsafe {
        sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len);
        let mut out = vec![0u8; len + 1];
        sys::napi_get_value_string_utf8(env, value, out.as_mut_ptr().cast(), len + 1, &mut len);
        out.truncate(len);
        out
    }
}

fn number(env: sys::napi_env, value: sys::napi_value) -> f64 {
    let mut n = f64::NAN;
    // SAFETY: JS thread, a number (checked by the caller).
    unsafe { sys::napi_get_value_double(env, value, &mut n) };
    n
}

/// The elements of a JS array.
fn array(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<Vec<sys::napi_value>> {
    if !is_array(env, value) {
        return Err(expected(env, value, what, "an array"));
    }
    let mut len = 0u32;
    // SAFETY: JS thread, `value` is an array.
    unsafe { sys::napi_get_array_length(env, value, &mut len) };
    let mut out = Vec::with_capacity(len as usize);
    for i in 0..len {
        let mut item = ptr::null_mut();
        // SAFETY: as above.
        unsafe { sys::napi_get_element(env, value, i, &mut item) };
        out.push(item);
    }
    Ok(out)
}

/// An options object; `undefined` for an absent one, so every property
/// reads as absent.
fn options(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<sys::napi_value> {
    match type_of(env, value) {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null | sys::ValueType::napi_object => Ok(value),
        _ => Err(expected(env, value, what, "an object")),
    }
}

/// A property of an options object (`undefined` when absent or when the
/// options are).
fn property(env: sys::napi_env, object: sys::napi_value, name: &std::ffi::CStr) -> sys::napi_value {
    if type_of(env, object) != sys::ValueType::napi_object {
        return undefined(env);
    }
    let mut out = ptr::null_mut();
    // SAFETY: JS thread; `object` is an object.
    unsafe { sys::napi_get_named_property(env, object, name.as_ptr(), &mut out) };
    out
}

fn boolean(env: sys::napi_env, value: sys::napi_value, what: &str) -> ArgResult<bool> {
    match type_of(env, value) {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(false),
        sys::ValueType::napi_boolean => {
            let mut out = false;
            // SAFETY: JS thread, a boolean.
            unsafe { sys::napi_get_value_bool(env, value, &mut out) };
            Ok(out)
        }
        _ => Err(expected(env, value, what, "a boolean")),
    }
}

// --- Results -----------------------------------------------------------------

/// A value as a new JavaScript Buffer (a copy: each caller owns its own).
pub struct Buffer(pub Bytes);

impl Buffer {
    pub(crate) fn opt(value: Option<Bytes>) -> Either<Buffer, Null> {
        or_null(value.map(Buffer))
    }

    pub(crate) fn list(values: Vec<Option<Bytes>>) -> Vec<Either<Buffer, Null>> {
        values.into_iter().map(Buffer::opt).collect()
    }
}

/// A value or `null`: the results use `Either<T, Null>` rather than
/// `Option<T>`, which napi-derive renders as `T | undefined | null` inside a
/// `Promise`.
pub(crate) fn or_null<T>(value: Option<T>) -> Either<T, Null> {
    value.map_or(Either::B(Null), Either::A)
}

impl ToNapiValue for Buffer {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        buffer(env, &val.0)
    }
}

/// A plain object with string keys, in the order given (`hgetall`).
pub struct Record<K, V>(pub Vec<(String, V)>, PhantomData<K>);

impl<V> Record<String, V> {
    pub(crate) fn new(entries: Vec<(String, V)>) -> Self {
        Record(entries, PhantomData)
    }
}

impl<K, V: ToNapiValue> ToNapiValue for Record<K, V> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let mut entries = Vec::with_capacity(val.0.len());
        for (k, v) in val.0 {
            // SAFETY: JS thread (ToNapiValue's contract).
            entries.push((string(env, &k), unsafe { V::to_napi_value(env, v) }?));
        }
        Ok(new_object(env, entries))
    }
}

/// A raw reply of `command`: nil -> null, integers and doubles -> number,
/// bulk strings -> Buffer, status -> string, arrays and sets -> arrays, maps
/// -> plain objects (keys decoded as UTF-8), nested errors -> Error (core's
/// `Redis` kind).
pub struct Reply(pub nearcache::Reply);

impl ToNapiValue for Reply {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        reply(env, val.0)
    }
}

fn reply(env: sys::napi_env, value: nearcache::Reply) -> napi::Result<sys::napi_value> {
    use nearcache::Reply as R;
    Ok(match value {
        R::Nil => null(env),
        R::Int(n) => number_value(env, n as f64),
        R::Bytes(b) => buffer(env, &b)?,
        R::Status(s) | R::BigNumber(s) => string(env, &s),
        R::Double(d) => number_value(env, d),
        R::Bool(b) => boolean_value(env, b),
        R::Array(items) | R::Set(items) => {
            let items = items.into_iter().map(|v| reply(env, v)).collect::<napi::Result<Vec<_>>>()?;
            new_array(env, items)
        }
        R::Map(pairs) => {
            let mut entries = Vec::with_capacity(pairs.len());
            for (k, v) in pairs {
                let key = match k {
                    R::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
                    R::Status(s) | R::BigNumber(s) => s,
                    R::Int(n) => n.to_string(),
                    other => format!("{other:?}"),
                };
                entries.push((string(env, &key), reply(env, v)?));
            }
            new_object(env, entries)
        }
        R::Error(message) => {
            let err = nearcache::Error::new(nearcache::ErrorKind::Redis, message);
            // SAFETY: JS thread.
            unsafe { crate::error::to_js(env, err) }
        }
    })
}

/// `stats()` as a plain object (core's serde form).
pub struct Stats(pub nearcache::Stats);

impl ToNapiValue for Stats {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let value = serde_json::to_value(val.0).map_err(|e| napi::Error::from_reason(e.to_string()))?;
        // SAFETY: JS thread (ToNapiValue's contract).
        unsafe { serde_json::Value::to_napi_value(env, value) }
    }
}

/// Core's change words as an external ArrayBuffer over core's own memory
/// (no copy: JavaScript sees every bump), or `undefined` where external
/// buffers are refused. The buffer keeps the words alive until collected.
pub struct ChangeWords(pub nearcache::ChangeWords);

impl ToNapiValue for ChangeWords {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        unsafe extern "C" fn release(_env: sys::napi_env, _data: *mut std::ffi::c_void, hint: *mut std::ffi::c_void) {
            // SAFETY: `hint` is the box leaked below, released exactly once.
            drop(unsafe { Box::from_raw(hint.cast::<nearcache::ChangeWords>()) });
        }
        let words = val.0;
        let len = std::mem::size_of_val(words.words());
        let data = words.words().as_ptr().cast_mut().cast::<std::ffi::c_void>();
        let owner = Box::into_raw(Box::new(words));
        let mut out = ptr::null_mut();
        // SAFETY: JS thread; `data` stays valid while `owner` lives, and
        // `owner` is dropped by `release` when the ArrayBuffer is collected.
        // JavaScript only reads the words (aligned 32-bit loads).
        let status =
            unsafe { sys::napi_create_external_arraybuffer(env, data, len, Some(release), owner.cast(), &mut out) };
        if status != sys::Status::napi_ok {
            // SAFETY: napi did not take ownership.
            drop(unsafe { Box::from_raw(owner) });
            return Ok(undefined(env));
        }
        Ok(out)
    }
}

/// The batch of `_getBatch` (see there): `[blob, errors | undefined]`.
pub struct Batch {
    pub blob: Vec<u8>,
    pub errors: Vec<nearcache::Error>,
}

impl ToNapiValue for Batch {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let blob = owned_buffer(env, val.blob)?;
        let errors = if val.errors.is_empty() {
            undefined(env)
        } else {
            // SAFETY: JS thread.
            new_array(env, val.errors.into_iter().map(|e| unsafe { crate::error::to_js(env, e) }).collect())
        };
        Ok(new_array(env, vec![blob, errors]))
    }
}

/// A Buffer over `data` itself, released when the Buffer is collected: no
/// copy, and no second allocation of the size of a whole batch (100 values of
/// 1 KiB: a fresh 100 KiB that the copy also page-faulted in, on the
/// JavaScript thread, once per batch). Where the runtime refuses external
/// buffers, a copy.
fn owned_buffer(env: sys::napi_env, data: Vec<u8>) -> napi::Result<sys::napi_value> {
    unsafe extern "C" fn release(_env: sys::napi_env, _data: *mut std::ffi::c_void, hint: *mut std::ffi::c_void) {
        // SAFETY: `hint` is the box leaked below, released exactly once.
        drop(unsafe { Box::from_raw(hint.cast::<Vec<u8>>()) });
    }
    if data.is_empty() {
        return buffer(env, &data);
    }
    let len = data.len();
    let owner = Box::into_raw(Box::new(data));
    // SAFETY: `owner` is a live box; its heap block does not move while the
    // box lives (the Vec is never touched again until `release`).
    let ptr = unsafe { (*owner).as_mut_ptr() }.cast::<std::ffi::c_void>();
    let mut out = ptr::null_mut();
    // SAFETY: JS thread; napi owns `owner` from here on success and drops it
    // through `release` when the Buffer is collected.
    let status = unsafe { sys::napi_create_external_buffer(env, len, ptr, Some(release), owner.cast(), &mut out) };
    if status == sys::Status::napi_ok {
        return Ok(out);
    }
    // SAFETY: napi did not take ownership.
    let data = unsafe { Box::from_raw(owner) };
    buffer(env, &data)
}

fn buffer(env: sys::napi_env, data: &[u8]) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    let mut copied = ptr::null_mut();
    // SAFETY: JS thread; napi copies `data`.
    let status = unsafe { sys::napi_create_buffer_copy(env, data.len(), data.as_ptr().cast(), &mut copied, &mut out) };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::from_reason(format!("cannot create a Buffer of {} bytes", data.len())));
    }
    Ok(out)
}

fn undefined(env: sys::napi_env) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: JS thread.
    unsafe { sys::napi_get_undefined(env, &mut out) };
    out
}

fn null(env: sys::napi_env) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: JS thread.
    unsafe { sys::napi_get_null(env, &mut out) };
    out
}

fn number_value(env: sys::napi_env, n: f64) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: JS thread.
    unsafe { sys::napi_create_double(env, n, &mut out) };
    out
}

fn boolean_value(env: sys::napi_env, b: bool) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: JS thread.
    unsafe { sys::napi_get_boolean(env, b, &mut out) };
    out
}

pub(crate) fn string(env: sys::napi_env, s: &str) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: JS thread.
    unsafe { sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out) };
    out
}

fn new_array(env: sys::napi_env, items: Vec<sys::napi_value>) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: JS thread.
    unsafe {
        sys::napi_create_array_with_length(env, items.len(), &mut out);
        for (i, item) in items.into_iter().enumerate() {
            sys::napi_set_element(env, out, i as u32, item);
        }
    }
    out
}

fn new_object(env: sys::napi_env, entries: Vec<(sys::napi_value, sys::napi_value)>) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: JS thread.
    unsafe {
        sys::napi_create_object(env, &mut out);
        for (k, v) in entries {
            sys::napi_set_property(env, out, k, v);
        }
    }
    out
}
