//! Python values in and out.
//!
//! Arguments are `FromPyObject` newtypes ([`Key`], [`Value`], [`Keys`],
//! [`Items`], [`Ttl`], [`Args`], [`Loader`], ...): a method's signature says
//! what it takes, pyo3 converts before the body runs, and a wrong type raises
//! `nearcache.ArgumentTypeError` (a `TypeError` whose `code` is
//! `NC_INVALID_ARGUMENT`) naming what was expected. Which numbers are valid
//! TTLs or command arguments is core's rule (`nearcache::args`).
//!
//! [`Project`] gives each argument two forms: borrowed (the sync class waits
//! with the arguments on its stack, zero copy) and owned (the async class
//! hands a `'static` future to core's runtime).

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use nearcache::ErrorKind;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple};

use crate::error::{core_error, to_py, type_error};

/// An argument as the sync class borrows it and as the async class owns it.
pub(crate) trait Project {
    type View<'a>: Send
    where
        Self: 'a;
    type Owned: Send + 'static;
    fn view(&self) -> Self::View<'_>;
    fn owned(self) -> Self::Owned;
}

impl<T: Project> Project for Option<T> {
    type View<'a>
        = Option<T::View<'a>>
    where
        Self: 'a;
    type Owned = Option<T::Owned>;
    fn view(&self) -> Self::View<'_> {
        self.as_ref().map(T::view)
    }
    fn owned(self) -> Self::Owned {
        self.map(T::owned)
    }
}

/// Plain `Copy` arguments are the same borrowed and owned: the newtypes
/// give their value (`Ttl` a `Duration`, `Int` an `i64`, ...); flags
/// (`nx`, `xx`) are plain `bool`s.
macro_rules! copy_project {
    ($($name:ty => $value:ty, |$v:ident| $get:expr;)*) => {$(
        impl Project for $name {
            type View<'a> = $value;
            type Owned = $value;
            fn view(&self) -> $value {
                let $v = *self;
                $get
            }
            fn owned(self) -> $value {
                let $v = self;
                $get
            }
        }
    )*};
}
copy_project! {
    Ttl => Duration, |t| t.0;
    Offset => u64, |o| o.0;
    Int => i64, |n| n.0;
    Score => f64, |s| s.0;
    i64 => i64, |n| n;
    bool => bool, |b| b;
}

/// A key: `bytes` as is (held, not copied: `bytes` is immutable, so the
/// slice stays valid while the GIL is released), `str` encoded as UTF-8.
pub(crate) struct Key<'py>(Bound<'py, PyBytes>);

/// A value: `bytes` as is; `bytearray` and `memoryview` copied (they are
/// mutable, and the GIL is released while the slice is used).
pub(crate) struct Value<'py>(Bound<'py, PyBytes>);

macro_rules! bytes_newtype {
    ($($name:ident),*) => {$(
        impl std::ops::Deref for $name<'_> {
            type Target = [u8];
            fn deref(&self) -> &[u8] {
                self.0.as_bytes()
            }
        }

        impl Project for $name<'_> {
            type View<'a>
                = &'a [u8]
            where
                Self: 'a;
            type Owned = Bytes;
            fn view(&self) -> &[u8] {
                self.0.as_bytes()
            }
            fn owned(self) -> Bytes {
                Bytes::copy_from_slice(self.0.as_bytes())
            }
        }
    )*};
}
bytes_newtype!(Key, Value);

impl<'a, 'py> FromPyObject<'a, 'py> for Key<'py> {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        key(&obj).map(Key)
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Value<'py> {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        value(&obj).map(Value)
    }
}

fn key<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.clone());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return s.encode_utf8();
    }
    Err(type_error(obj.py(), format!("a key must be bytes or str, not {}", type_name(obj))))
}

fn value<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let py = obj.py();
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.clone());
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(PyBytes::new(py, &b.to_vec()));
    }
    if obj.is_instance_of::<PyMemoryView>() {
        return obj.call_method0("tobytes")?.cast_into::<PyBytes>().map_err(PyErr::from);
    }
    let hint = if obj.is_instance_of::<PyString>() { " (encode str values, or use set_json)" } else { "" };
    Err(type_error(py, format!("a value must be bytes, bytearray or memoryview, not {}{hint}", type_name(obj))))
}

/// Keys from any iterable of keys (a lone `bytes` or `str` is refused, as it
/// would be iterated character by character). Also `*keys` and `*fields`.
pub(crate) struct Keys<'py>(Vec<Bound<'py, PyBytes>>);

impl<'a, 'py> FromPyObject<'a, 'py> for Keys<'py> {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let expected = |what: &str| type_error(obj.py(), format!("expected an iterable of keys, not {what}"));
        if obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyString>() {
            return Err(expected(&format!("a single {}", type_name(&obj))));
        }
        let iter = obj.try_iter().map_err(|_| expected(&type_name(&obj)))?;
        iter.map(|item| key(&item?)).collect::<PyResult<_>>().map(Keys)
    }
}

impl Project for Keys<'_> {
    type View<'a>
        = Vec<&'a [u8]>
    where
        Self: 'a;
    type Owned = Vec<Bytes>;
    fn view(&self) -> Vec<&[u8]> {
        self.0.iter().map(|k| k.as_bytes()).collect()
    }
    fn owned(self) -> Vec<Bytes> {
        self.0.iter().map(|k| Bytes::copy_from_slice(k.as_bytes())).collect()
    }
}

/// `(key, value)` pairs from a mapping or an iterable of pairs.
pub(crate) struct Items<'py>(Vec<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)>);

impl<'a, 'py> FromPyObject<'a, 'py> for Items<'py> {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        pairs(&obj, "a mapping", "a mapping or (key, value) pairs", |k, v| Ok((key(&k)?, value(&v)?))).map(Items)
    }
}

/// The `(first, second)` pairs of a mapping (its items) or of an iterable
/// of 2-tuples, each converted by `each`; `what` / `hint` name what was
/// expected in the type errors.
fn pairs<'py, T>(
    obj: &Bound<'py, PyAny>,
    what: &str,
    hint: &str,
    mut each: impl FnMut(Bound<'py, PyAny>, Bound<'py, PyAny>) -> PyResult<T>,
) -> PyResult<Vec<T>> {
    let py = obj.py();
    let items = match obj.cast::<PyDict>() {
        Ok(dict) => dict.items().into_any(),
        Err(_) if obj.hasattr("items")? => obj.call_method0("items")?,
        Err(_) => obj.to_owned(),
    };
    let iter = items.try_iter().map_err(|_| type_error(py, format!("expected {what}, not {}", type_name(obj))))?;
    iter.map(|item| {
        let item = item?;
        let tuple = item
            .cast::<PyTuple>()
            .ok()
            .filter(|t| t.len() == 2)
            .ok_or_else(|| type_error(py, format!("expected {hint}")))?;
        each(tuple.get_item(0)?, tuple.get_item(1)?)
    })
    .collect()
}

impl Project for Items<'_> {
    type View<'a>
        = Vec<(&'a [u8], &'a [u8])>
    where
        Self: 'a;
    type Owned = Vec<(Bytes, Bytes)>;
    fn view(&self) -> Self::View<'_> {
        self.0.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())).collect()
    }
    fn owned(self) -> Self::Owned {
        let copy = |b: &Bound<'_, PyBytes>| Bytes::copy_from_slice(b.as_bytes());
        self.0.iter().map(|(k, v)| (copy(k), copy(v))).collect()
    }
}

/// A TTL: seconds as `int` or `float`, or a `datetime.timedelta` (`None`
/// is the caller's `Option`). Core decides which numbers are TTLs.
#[derive(Clone, Copy)]
pub(crate) struct Ttl(Duration);

impl<'a, 'py> FromPyObject<'a, 'py> for Ttl {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let py = obj.py();
        let seconds: f64 = if obj.is_instance_of::<PyBool>() {
            return Err(type_error(py, "a ttl must be seconds (int or float) or a timedelta, not bool"));
        } else if obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyFloat>() {
            obj.extract()?
        } else if obj.hasattr(pyo3::intern!(py, "total_seconds"))? {
            obj.call_method0(pyo3::intern!(py, "total_seconds"))?.extract()?
        } else {
            let message = format!("a ttl must be seconds (int or float) or a timedelta, not {}", type_name(&obj));
            return Err(type_error(py, message));
        };
        nearcache::args::ttl_from_secs("ttl", seconds).map(Ttl).map_err(|e| to_py(py, e))
    }
}

/// `*args` of a raw command: bytes, str, int (exact) or float (as core
/// writes numbers), bytearray or memoryview.
pub(crate) struct Args(Vec<Bytes>);

impl<'a, 'py> FromPyObject<'a, 'py> for Args {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        obj.try_iter()?.map(|a| arg(&a?)).collect::<PyResult<_>>().map(Args)
    }
}

/// Argument lists converted already ([`Args`], [`ArgList`]): borrowed as a
/// slice, owned as the vector.
macro_rules! args_project {
    ($($name:ty),*) => {$(
        impl Project for $name {
            type View<'a> = &'a [Bytes];
            type Owned = Vec<Bytes>;
            fn view(&self) -> &[Bytes] {
                &self.0
            }
            fn owned(self) -> Vec<Bytes> {
                self.0
            }
        }
    )*};
}
args_project!(Args, ArgList);

fn arg(obj: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    let py = obj.py();
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Bytes::copy_from_slice(b.as_bytes()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Bytes::copy_from_slice(s.encode_utf8()?.as_bytes()));
    }
    if obj.is_instance_of::<PyBool>() {
        return Err(type_error(py, "a command argument must be bytes, str, int or float, not bool"));
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(Bytes::from(obj.str()?.to_cow()?.into_owned()));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return nearcache::args::number_arg(f.value()).map_err(|e| to_py(py, e));
    }
    if obj.is_instance_of::<PyByteArray>() || obj.is_instance_of::<PyMemoryView>() {
        return Ok(Bytes::copy_from_slice(value(obj)?.as_bytes()));
    }
    let message = format!("a command argument must be bytes, str, int or float, not {}", type_name(obj));
    Err(type_error(py, message))
}

/// One command argument (a set member, a list element, a score bound): as
/// in [`Args`], bytes, str, int or float.
pub(crate) struct Arg(Bytes);

impl<'a, 'py> FromPyObject<'a, 'py> for Arg {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        arg(&obj).map(Arg)
    }
}

impl Project for Arg {
    type View<'a> = &'a [u8];
    type Owned = Bytes;
    fn view(&self) -> &[u8] {
        &self.0
    }
    fn owned(self) -> Bytes {
        self.0
    }
}

/// A bound or argument as text, for core's `impl Display` parameters
/// (`zcount`, `zrange` by score or lex).
pub(crate) fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

/// A non-negative integer (a bit offset).
#[derive(Clone, Copy)]
pub(crate) struct Offset(pub(crate) u64);

impl<'a, 'py> FromPyObject<'a, 'py> for Offset {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let Int(n) = obj.extract::<Int>()?;
        u64::try_from(n)
            .map(Offset)
            .map_err(|_| core_error(obj.py(), ErrorKind::InvalidArgument, "bit offset is out of range (negative)"))
    }
}

impl Args {
    /// `name` followed by `keys`, as a raw command (`EXISTS k1 k2`).
    pub(crate) fn command(name: &'static str, keys: &Keys<'_>) -> Args {
        let mut args = vec![Bytes::from_static(name.as_bytes())];
        args.extend(keys.0.iter().map(|k| Bytes::copy_from_slice(k.as_bytes())));
        Args(args)
    }
}

impl Keys<'_> {
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// redis-py's pairs of arguments given together or not at all
/// (`bitcount(start, end)`, `zrange(offset, num)`).
pub(crate) fn both(py: Python<'_>, a: Option<Int>, b: Option<Int>, what: &str) -> PyResult<Option<(i64, i64)>> {
    match (a, b) {
        (Some(a), Some(b)) => Ok(Some((a.0, b.0))),
        (None, None) => Ok(None),
        _ => Err(core_error(py, ErrorKind::InvalidArgument, format!("{what} must both be given, or neither"))),
    }
}

/// redis-py's `list_or_args`: a lone key (bytes, str, int, float) is one
/// argument, any other iterable is several (`hmget(name, keys, *args)`).
pub(crate) struct ArgList(Vec<Bytes>);

impl<'a, 'py> FromPyObject<'a, 'py> for ArgList {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let lone = obj.is_instance_of::<PyBytes>()
            || obj.is_instance_of::<PyString>()
            || obj.is_instance_of::<PyInt>()
            || obj.is_instance_of::<PyFloat>();
        if lone {
            return Ok(ArgList(vec![arg(&obj)?]));
        }
        let iter = obj.try_iter().map_err(|_| {
            type_error(obj.py(), format!("expected a key or an iterable of keys, not {}", type_name(&obj)))
        })?;
        iter.map(|a| arg(&a?)).collect::<PyResult<_>>().map(ArgList)
    }
}

/// An integer argument (`amount`, `start`, `index`): an `int`, not a bool.
#[derive(Clone, Copy)]
pub(crate) struct Int(pub(crate) i64);

impl<'a, 'py> FromPyObject<'a, 'py> for Int {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let py = obj.py();
        if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
            return Err(type_error(py, format!("expected an int, not {}", type_name(&obj))));
        }
        obj.extract::<i64>().map(Int).map_err(|_| {
            core_error(py, ErrorKind::InvalidArgument, "the integer does not fit in a signed 64-bit number")
        })
    }
}

/// An `int` amount with a literal default (`#[pyo3(from_py_with = int)]`,
/// so the signature shows `amount=1`, as redis-py's does).
pub(crate) fn int(obj: &Bound<'_, PyAny>) -> PyResult<i64> {
    obj.extract::<Int>().map(|Int(n)| n)
}

/// A score or float amount: an `int` or `float` (core refuses NaN).
#[derive(Clone, Copy)]
pub(crate) struct Score(pub(crate) f64);

impl<'a, 'py> FromPyObject<'a, 'py> for Score {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        score(&obj).map(Score)
    }
}

fn score(obj: &Bound<'_, PyAny>) -> PyResult<f64> {
    if obj.is_instance_of::<PyBool>() || !(obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyFloat>()) {
        return Err(type_error(obj.py(), format!("a score must be an int or float, not {}", type_name(obj))));
    }
    obj.extract::<f64>()
}

/// `zadd(name, mapping)`: `{member: score}` (or `(member, score)` pairs),
/// as core's `(score, member)` pairs.
pub(crate) struct Scored(Vec<(f64, Bytes)>);

impl<'a, 'py> FromPyObject<'a, 'py> for Scored {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let (what, hint) = ("a mapping of member to score", "a mapping of member to score or (member, score) pairs");
        pairs(&obj, what, hint, |member, s| Ok((score(&s)?, arg(&member)?))).map(Scored)
    }
}

impl Project for Scored {
    type View<'a> = &'a [(f64, Bytes)];
    type Owned = Vec<(f64, Bytes)>;
    fn view(&self) -> &[(f64, Bytes)] {
        &self.0
    }
    fn owned(self) -> Vec<(f64, Bytes)> {
        self.0
    }
}

/// `hset(name, key=None, value=None, mapping=None)` as redis-py takes it
/// (`key`/`value` first, then `mapping`'s items); a mapping in `key`'s
/// place with no `value` is nearcache's older `hset(name, mapping)`.
pub(crate) fn hset_items<'py>(
    key: Option<Bound<'py, PyAny>>,
    value: Option<Bound<'py, PyAny>>,
    mapping: Option<Bound<'py, PyAny>>,
) -> PyResult<Items<'py>> {
    let mut pairs = Vec::new();
    match (key, value) {
        (Some(k), None) if !(k.is_instance_of::<PyBytes>() || k.is_instance_of::<PyString>()) => {
            pairs.extend(k.extract::<Items<'py>>()?.0)
        }
        (Some(k), Some(v)) => pairs.push((self::key(&k)?, self::value(&v)?)),
        (Some(k), None) => {
            let message = "hset: a field needs a value (hset(name, key, value) or hset(name, mapping=...))";
            return Err(core_error(k.py(), ErrorKind::InvalidArgument, message));
        }
        (None, Some(v)) => {
            return Err(core_error(v.py(), ErrorKind::InvalidArgument, "hset: a value needs a field (key=...)"))
        }
        (None, None) => {}
    }
    if let Some(m) = mapping {
        pairs.extend(m.extract::<Items<'py>>()?.0);
    }
    Ok(Items(pairs))
}

/// A Lua script's source (`register_script`): `str` (UTF-8) or `bytes`, as
/// redis-py takes it.
pub(crate) struct Source(pub(crate) Bytes);

impl<'a, 'py> FromPyObject<'a, 'py> for Source {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyString>() {
            return arg(&obj).map(Source);
        }
        Err(type_error(obj.py(), format!("a script must be str or bytes, not {}", type_name(&obj))))
    }
}

/// A `get_or_load` loader: anything callable.
pub(crate) struct Loader<'py>(pub(crate) Bound<'py, PyAny>);

impl<'a, 'py> FromPyObject<'a, 'py> for Loader<'py> {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if !obj.is_callable() {
            return Err(type_error(obj.py(), format!("loader must be callable, not {}", type_name(&obj))));
        }
        Ok(Loader(obj.to_owned()))
    }
}

/// `Cache(url)`: a `str` such as `"redis://127.0.0.1:6379/0"`.
pub(crate) struct Url(pub(crate) String);

impl<'a, 'py> FromPyObject<'a, 'py> for Url {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match obj.cast::<PyString>() {
            Ok(s) => Ok(Url(s.to_cow()?.into_owned())),
            Err(_) => Err(type_error(
                obj.py(),
                format!("url must be a str such as \"redis://127.0.0.1:6379/0\", not {}", type_name(&obj)),
            )),
        }
    }
}

/// `Cache.from_config(path)`: a `str` or `os.PathLike`.
pub(crate) struct ConfigPath(pub(crate) PathBuf);

impl<'a, 'py> FromPyObject<'a, 'py> for ConfigPath {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        obj.extract::<PathBuf>()
            .map(ConfigPath)
            .map_err(|_| type_error(obj.py(), format!("path must be a str or os.PathLike, not {}", type_name(&obj))))
    }
}

/// `nx` / `xx` (`#[pyo3(from_py_with = flag)]`): `True` or `False`.
pub(crate) fn flag(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    match obj.cast::<PyBool>() {
        Ok(b) => Ok(b.is_true()),
        Err(_) => Err(type_error(obj.py(), format!("a flag must be True or False, not {}", type_name(obj)))),
    }
}

/// `SetOptions` from Python's keyword arguments (core checks `nx` with `xx`).
pub(crate) fn set_options(ttl: Option<Duration>, nx: bool, xx: bool) -> nearcache::SetOptions {
    nearcache::SetOptions { ttl, only_if_absent: nx, only_if_present: xx, exact_ttl: false }
}

/// A loader's return value as bytes.
pub(crate) fn loaded(obj: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    let b = value(obj).map_err(|_| {
        let message = format!("the loader must return bytes, bytearray or memoryview, not {}", type_name(obj));
        type_error(obj.py(), message)
    })?;
    Ok(Bytes::copy_from_slice(b.as_bytes()))
}

/// Builds the untyped config tree for `Config::from_value` from keyword
/// options: dicts, lists, str, int, float, bool, None. Core validates it.
pub(crate) fn tree(obj: &Bound<'_, PyAny>, path: &str) -> PyResult<serde_json::Value> {
    use serde_json::Value;
    let py = obj.py();
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(n) = obj.extract::<i64>() {
            return Ok(Value::from(n));
        }
        let out_of_range = || core_error(py, ErrorKind::Config, format!("{path}: the number is out of range"));
        return obj.extract::<u64>().map(Value::from).map_err(|_| out_of_range());
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return serde_json::Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| core_error(py, ErrorKind::Config, format!("{path}: expected a finite number")));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut map = serde_json::Map::new();
        for (k, v) in dict.iter() {
            let k = k
                .cast::<PyString>()
                .map_err(|_| type_error(py, format!("{path}: option names must be str, not {}", type_name(&k))))?;
            let name = k.to_cow()?.into_owned();
            let child = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
            map.insert(name, tree(&v, &child)?);
        }
        return Ok(Value::Object(map));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for (i, item) in obj.try_iter()?.enumerate() {
            out.push(tree(&item?, &format!("{path}[{i}]"))?);
        }
        return Ok(Value::Array(out));
    }
    Err(type_error(
        py,
        format!("{path}: an option must be a dict, list, str, int, float, bool or None, not {}", type_name(obj)),
    ))
}

/// Result conversions: every one has the shape `fn(Python, T) -> object`, so
/// that the method table names one for each verb and both classes use it
/// (the async class on the event loop's thread, when the result arrives).
pub(crate) mod out {
    use bytes::Bytes;
    use pyo3::prelude::*;
    use pyo3::types::{PyBool, PyBytes, PyInt, PyString};
    use pyo3::IntoPyObjectExt;

    /// `None`.
    pub(crate) fn none(py: Python<'_>, _: ()) -> PyResult<Bound<'_, PyAny>> {
        Ok(py.None().into_bound(py))
    }

    /// `bool`, `int`, `float` or `None`, as pyo3 converts them.
    pub(crate) fn plain<'py, T>(py: Python<'py>, value: T) -> PyResult<Bound<'py, PyAny>>
    where
        T: for<'a> IntoPyObject<'a>,
    {
        value.into_bound_py_any(py)
    }

    /// `bytes`.
    pub(crate) fn bytes(py: Python<'_>, value: Bytes) -> PyResult<Bound<'_, PyAny>> {
        Ok(PyBytes::new(py, &value).into_any())
    }

    /// `bytes` copied from a borrowed slice (an L1 hit read in place).
    #[inline]
    pub(crate) fn slice<'py>(py: Python<'py>, value: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        Ok(PyBytes::new(py, value).into_any())
    }

    /// `None` or `bytes` copied from a borrowed slice.
    #[inline]
    pub(crate) fn opt_slice<'py>(py: Python<'py>, value: Option<&[u8]>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match value {
            Some(v) => PyBytes::new(py, v).into_any(),
            None => py.None().into_bound(py),
        })
    }

    /// `None` or `bytes`.
    pub(crate) fn opt_bytes(py: Python<'_>, value: Option<Bytes>) -> PyResult<Bound<'_, PyAny>> {
        Ok(match value {
            Some(v) => PyBytes::new(py, &v).into_any(),
            None => py.None().into_bound(py),
        })
    }

    /// A list of `bytes` or `None`.
    pub(crate) fn opt_bytes_list(py: Python<'_>, values: Vec<Option<Bytes>>) -> PyResult<Bound<'_, PyAny>> {
        super::list_of(py, values, |value| opt_bytes(py, value))
    }

    /// A `{field: value}` dict of bytes.
    pub(crate) fn bytes_dict(py: Python<'_>, pairs: Vec<(Bytes, Bytes)>) -> PyResult<Bound<'_, PyAny>> {
        super::dict_of(py, pairs, |(k, v)| Ok((bytes(py, k)?, bytes(py, v)?)))
    }

    /// A list of `bytes`.
    pub(crate) fn bytes_list(py: Python<'_>, values: Vec<Bytes>) -> PyResult<Bound<'_, PyAny>> {
        super::list_of(py, values, |value| bytes(py, value))
    }

    /// A `set` of `bytes` (`smembers`, as redis-py returns it).
    pub(crate) fn bytes_set(py: Python<'_>, values: Vec<Bytes>) -> PyResult<Bound<'_, PyAny>> {
        let set = pyo3::types::PySet::empty(py)?;
        for value in values {
            set.add(PyBytes::new(py, &value))?;
        }
        Ok(set.into_any())
    }

    /// A list of `bool`, `int`, `float` or `None`, as pyo3 converts them.
    pub(crate) fn plain_list<'py, T>(py: Python<'py>, values: Vec<T>) -> PyResult<Bound<'py, PyAny>>
    where
        T: for<'a> IntoPyObject<'a>,
    {
        super::list_of(py, values, |value| plain(py, value))
    }

    /// A flag as redis-py's `int` 0 or 1 (`getbit`, `exists`).
    pub(crate) fn zero_one(py: Python<'_>, value: bool) -> PyResult<Bound<'_, PyAny>> {
        plain(py, i64::from(value))
    }

    /// Flags as redis-py's `int` 0 or 1 each (`smismember`).
    pub(crate) fn zero_one_list(py: Python<'_>, values: Vec<bool>) -> PyResult<Bound<'_, PyAny>> {
        super::list_of(py, values, |value| zero_one(py, value))
    }

    /// Members with scores as `(member, score)` tuples, each score passed
    /// through `cast` when one is given (redis-py's `score_cast_func`).
    pub(crate) fn scored(
        py: Python<'_>,
        (pairs, cast): (Vec<(Bytes, f64)>, Option<Py<PyAny>>),
    ) -> PyResult<Bound<'_, PyAny>> {
        super::list_of(py, pairs, |(member, score)| {
            let score = match &cast {
                Some(cast) => cast.bind(py).call1((score,))?,
                None => plain(py, score)?,
            };
            Ok(pyo3::types::PyTuple::new(py, [bytes(py, member)?, score])?.into_any())
        })
    }

    /// A status as `str` (`type`).
    pub(crate) fn text(py: Python<'_>, value: String) -> PyResult<Bound<'_, PyAny>> {
        Ok(PyString::new(py, &value).into_any())
    }

    /// A key's TTL: seconds as `float`, `math.inf` for a key without expiry,
    /// `None` for a missing key.
    pub(crate) fn ttl(py: Python<'_>, ttl: nearcache::Ttl) -> PyResult<Bound<'_, PyAny>> {
        plain(
            py,
            match ttl {
                nearcache::Ttl::Missing => None,
                nearcache::Ttl::Persistent => Some(f64::INFINITY),
                nearcache::Ttl::Expires(left) => Some(left.as_secs_f64()),
            },
        )
    }

    /// A raw reply: nil `None`, integers `int`, bulk strings `bytes`, status
    /// replies `str`, arrays and sets `list`, maps `dict`, and a nested
    /// error reply as a `RedisError` instance (not raised).
    pub(crate) fn reply(py: Python<'_>, value: nearcache::Reply) -> PyResult<Bound<'_, PyAny>> {
        use nearcache::Reply;
        Ok(match value {
            Reply::Nil => py.None().into_bound(py),
            Reply::Int(i) => i.into_bound_py_any(py)?,
            Reply::Bytes(b) => PyBytes::new(py, &b).into_any(),
            Reply::Status(s) => PyString::new(py, &s).into_any(),
            Reply::Double(d) => d.into_bound_py_any(py)?,
            Reply::Bool(b) => PyBool::new(py, b).to_owned().into_any(),
            Reply::BigNumber(n) => py.get_type::<PyInt>().call1((n,))?,
            Reply::Array(items) | Reply::Set(items) => super::list_of(py, items, |item| reply(py, item))?,
            Reply::Map(pairs) => super::dict_of(py, pairs, |(k, v)| Ok((reply(py, k)?, reply(py, v)?)))?,
            Reply::Error(message) => super::nested_error(py, message)?,
        })
    }

    /// Stats as a plain dict (the serde shape of core's `Stats`).
    pub(crate) fn stats(py: Python<'_>, stats: nearcache::Stats) -> PyResult<Bound<'_, PyAny>> {
        let value = serde_json::to_value(&stats).map_err(|e| {
            super::core_error(py, nearcache::ErrorKind::Internal, format!("cannot serialize the stats: {e}"))
        })?;
        super::json_to_py(py, &value)
    }
}

/// A nested error reply (inside an array reply): a `RedisError` instance,
/// with its code, returned rather than raised.
fn nested_error(py: Python<'_>, message: String) -> PyResult<Bound<'_, PyAny>> {
    Ok(core_error(py, ErrorKind::Redis, message).into_value(py).into_bound(py).into_any())
}

/// A JSON value (stats) as plain Python objects.
fn json_to_py<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use pyo3::IntoPyObjectExt;
    use serde_json::Value;
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_bound_py_any(py)?,
            (None, Some(i)) => i.into_bound_py_any(py)?,
            _ => n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)?,
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => list_of(py, items, |item| json_to_py(py, item))?,
        Value::Object(map) => dict_of(py, map, |(k, v)| Ok((PyString::new(py, k).into_any(), json_to_py(py, v)?)))?,
    })
}

/// A list of `convert(item)` for each item.
fn list_of<'py, T>(
    py: Python<'py>,
    items: impl IntoIterator<Item = T>,
    mut convert: impl FnMut(T) -> PyResult<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let list = PyList::empty(py);
    for item in items {
        list.append(convert(item)?)?;
    }
    Ok(list.into_any())
}

/// A dict of the `(key, value)` that `convert` makes of each pair.
fn dict_of<'py, T>(
    py: Python<'py>,
    pairs: impl IntoIterator<Item = T>,
    mut convert: impl FnMut(T) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
) -> PyResult<Bound<'py, PyAny>> {
    let dict = PyDict::new(py);
    for pair in pairs {
        let (k, v) = convert(pair)?;
        dict.set_item(k, v)?;
    }
    Ok(dict.into_any())
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "an unknown type".to_owned())
}

/// redis-py's `zadd` options: core's `zadd` has none of them, so any one
/// set is refused (rather than ignored).
pub(crate) fn zadd_options<const N: usize>(flags: [(&str, bool); N]) -> nearcache::Result<()> {
    match flags.iter().find(|(_, set)| *set) {
        Some((name, _)) => Err(nearcache::Error::new(
            ErrorKind::InvalidArgument,
            format!("zadd: {name}=True is not supported by nearcache; send ZADD with its options through command()"),
        )),
        None => Ok(()),
    }
}

/// redis-py's `zrange` arguments as core's [`nearcache::ZRange`]: ranks
/// (ints) by default, score or lex bounds with `byscore` / `bylex`.
pub(crate) fn zrange_of(
    start: &Bound<'_, PyAny>,
    end: &Bound<'_, PyAny>,
    desc: bool,
    byscore: bool,
    bylex: bool,
    limit: Option<(i64, i64)>,
) -> PyResult<nearcache::ZRange> {
    let py = start.py();
    let mut range = match (byscore, bylex) {
        (true, true) => {
            return Err(core_error(py, ErrorKind::InvalidArgument, "zrange: byscore and bylex cannot be combined"))
        }
        (true, false) => nearcache::ZRange::score(text(&arg(start)?), text(&arg(end)?)),
        (false, true) => nearcache::ZRange::lex(text(&arg(start)?), text(&arg(end)?)),
        (false, false) => nearcache::ZRange::index(start.extract::<Int>()?.0, end.extract::<Int>()?.0),
    };
    if desc {
        range = range.rev();
    }
    if let Some((offset, num)) = limit {
        range = range.limit(offset, num);
    }
    Ok(range)
}

/// `score_cast_func`: `None` or `float` keep the float core returns.
pub(crate) fn score_cast(func: Option<Bound<'_, PyAny>>) -> PyResult<Option<Py<PyAny>>> {
    match func {
        None => Ok(None),
        Some(f) if f.is(f.py().get_type::<PyFloat>()) => Ok(None),
        Some(f) if f.is_callable() => Ok(Some(f.unbind())),
        Some(f) => Err(type_error(f.py(), format!("score_cast_func must be callable, not {}", type_name(&f)))),
    }
}
