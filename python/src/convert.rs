//! Python values in and out: keys, values, TTLs, the config tree, replies
//! and stats. Wrong types raise `TypeError` naming what was expected.

use std::time::Duration;

use bytes::Bytes;
use nearcache::{Reply, Ttl};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple};

/// A key as a `bytes` object: `bytes` as is, `str` encoded as UTF-8.
/// Holding the object keeps the borrowed slice valid while the GIL is
/// released (`bytes` is immutable).
pub(crate) fn key<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.clone());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return s.encode_utf8();
    }
    Err(PyTypeError::new_err(format!("a key must be bytes or str, not {}", type_name(obj))))
}

/// Keys from any iterable of keys (a lone `bytes` or `str` is refused, as it
/// would be iterated character by character).
pub(crate) fn keys<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    if obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be an iterable of keys, not a single {}",
            type_name(obj)
        )));
    }
    let iter = obj
        .try_iter()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be an iterable of keys, not {}", type_name(obj))))?;
    iter.map(|item| key(&item?)).collect()
}

/// A value as a `bytes` object: `bytes` as is; `bytearray` and `memoryview`
/// copied (they are mutable, and the GIL is released while the slice is used).
pub(crate) fn value<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
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
    Err(PyTypeError::new_err(format!("a value must be bytes, bytearray or memoryview, not {}{hint}", type_name(obj))))
}

/// `(key, value)` pairs from a mapping or an iterable of pairs.
pub(crate) fn items<'py>(
    obj: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<Vec<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)>> {
    let pairs = match obj.cast::<PyDict>() {
        Ok(dict) => dict.items().into_any(),
        Err(_) if obj.hasattr("items")? => obj.call_method0("items")?,
        Err(_) => obj.clone(),
    };
    let iter = pairs
        .try_iter()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a mapping, not {}", type_name(obj))))?;
    iter.map(|item| {
        let item = item?;
        let tuple = item
            .cast::<PyTuple>()
            .ok()
            .filter(|t| t.len() == 2)
            .ok_or_else(|| PyTypeError::new_err(format!("{what} must be a mapping or (key, value) pairs")))?;
        Ok((key(&tuple.get_item(0)?)?, value(&tuple.get_item(1)?)?))
    })
    .collect()
}

/// A TTL: `None`, seconds as `int` or `float`, or a `datetime.timedelta`.
pub(crate) fn ttl(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Duration>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(None) };
    let seconds: f64 = if obj.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err("a ttl must be seconds (int or float) or a timedelta, not bool"));
    } else if obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyFloat>() {
        obj.extract()?
    } else if obj.hasattr("total_seconds")? {
        obj.call_method0("total_seconds")?.extract()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "a ttl must be seconds (int or float) or a timedelta, not {}",
            type_name(obj)
        )));
    };
    // Core refuses a zero TTL with its own message; a negative or NaN one
    // cannot even be represented as a Duration.
    Duration::try_from_secs_f64(seconds).map(Some).map_err(|_| {
        crate::error::InvalidArgumentError::new_err(format!(
            "a ttl must be a non-negative number of seconds, got {seconds}"
        ))
    })
}

/// A key's TTL for Python: seconds as `float`, `math.inf` for a key without
/// expiry, `None` for a missing key.
pub(crate) fn ttl_out(ttl: Ttl) -> Option<f64> {
    match ttl {
        Ttl::Missing => None,
        Ttl::Persistent => Some(f64::INFINITY),
        Ttl::Expires(left) => Some(left.as_secs_f64()),
    }
}

/// A raw command argument: bytes, str, int or float (as Redis reads them).
pub(crate) fn arg(obj: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Bytes::copy_from_slice(b.as_bytes()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Bytes::copy_from_slice(s.encode_utf8()?.as_bytes()));
    }
    if obj.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err("a command argument must be bytes, str, int or float, not bool"));
    }
    if obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyFloat>() {
        return Ok(Bytes::from(obj.str()?.to_cow()?.into_owned()));
    }
    if obj.is_instance_of::<PyByteArray>() || obj.is_instance_of::<PyMemoryView>() {
        return Ok(Bytes::copy_from_slice(value(obj)?.as_bytes()));
    }
    Err(PyTypeError::new_err(format!("a command argument must be bytes, str, int or float, not {}", type_name(obj))))
}

/// Builds the untyped config tree for `Config::from_value` from keyword
/// options: dicts, lists, str, int, float, bool, None. Core validates it.
pub(crate) fn tree(obj: &Bound<'_, PyAny>, path: &str) -> PyResult<serde_json::Value> {
    use serde_json::Value;
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
        return obj
            .extract::<u64>()
            .map(Value::from)
            .map_err(|_| crate::error::ConfigError::new_err(format!("{path}: the number is out of range")));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return serde_json::Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| crate::error::ConfigError::new_err(format!("{path}: expected a finite number")));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut map = serde_json::Map::new();
        for (k, v) in dict.iter() {
            let k = k.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!("{path}: option names must be str, not {}", type_name(&k)))
            })?;
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
    Err(PyTypeError::new_err(format!(
        "{path}: an option must be a dict, list, str, int, float, bool or None, not {}",
        type_name(obj)
    )))
}

/// A JSON value (stats) as plain Python objects.
pub(crate) fn json_to_py<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_pyobject(py)?.into_any(),
            (None, Some(i)) => i.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, json_to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// A raw reply as Python objects: nil `None`, integers `int`, bulk strings
/// `bytes`, status replies `str`, arrays and sets `list`, maps `dict`, and a
/// nested error reply as a `RedisError` instance (not raised).
pub(crate) fn reply_to_py<'py>(py: Python<'py>, reply: Reply) -> PyResult<Bound<'py, PyAny>> {
    Ok(match reply {
        Reply::Nil => py.None().into_bound(py),
        Reply::Int(i) => i.into_pyobject(py)?.into_any(),
        Reply::Bytes(b) => PyBytes::new(py, &b).into_any(),
        Reply::Status(s) => PyString::new(py, &s).into_any(),
        Reply::Double(d) => d.into_pyobject(py)?.into_any(),
        Reply::Bool(b) => PyBool::new(py, b).to_owned().into_any(),
        Reply::BigNumber(n) => py.get_type::<PyInt>().call1((n,))?,
        Reply::Array(items) | Reply::Set(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(reply_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Reply::Map(pairs) => {
            let dict = PyDict::new(py);
            for (k, v) in pairs {
                dict.set_item(reply_to_py(py, k)?, reply_to_py(py, v)?)?;
            }
            dict.into_any()
        }
        Reply::Error(message) => crate::error::RedisError::new_err(message).into_value(py).into_bound(py).into_any(),
    })
}

/// `None` or `bytes`.
pub(crate) fn opt_bytes<'py>(py: Python<'py>, value: Option<Bytes>) -> Bound<'py, PyAny> {
    match value {
        Some(v) => PyBytes::new(py, &v).into_any(),
        None => py.None().into_bound(py),
    }
}

/// A list of `bytes` or `None`.
pub(crate) fn opt_bytes_list(py: Python<'_>, values: Vec<Option<Bytes>>) -> PyResult<Bound<'_, PyList>> {
    PyList::new(py, values.into_iter().map(|v| opt_bytes(py, v)))
}

/// A `{field: value}` dict of bytes.
pub(crate) fn pairs_to_dict(py: Python<'_>, pairs: Vec<(Bytes, Bytes)>) -> PyResult<Bound<'_, PyDict>> {
    let dict = PyDict::new(py);
    for (k, v) in pairs {
        dict.set_item(PyBytes::new(py, &k), PyBytes::new(py, &v))?;
    }
    Ok(dict)
}

/// Stats as a plain dict (the serde shape of core's `Stats`).
pub(crate) fn stats_to_py<'py>(py: Python<'py>, stats: &nearcache::Stats) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(stats).map_err(|e| crate::error::InternalError::new_err(e.to_string()))?;
    json_to_py(py, &value)
}

/// `json.dumps(obj)` as compact UTF-8 bytes.
pub(crate) fn json_dumps<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let py = obj.py();
    let kwargs = PyDict::new(py);
    kwargs.set_item("separators", (",", ":"))?;
    let text = py.import("json")?.call_method("dumps", (obj,), Some(&kwargs))?;
    text.cast_into::<PyString>().map_err(PyErr::from)?.encode_utf8()
}

/// `json.loads(bytes)`, or `None` for a missing key.
pub(crate) fn json_loads<'py>(py: Python<'py>, value: Option<Bytes>) -> PyResult<Bound<'py, PyAny>> {
    match value {
        None => Ok(py.None().into_bound(py)),
        Some(v) => py.import("json")?.call_method1("loads", (PyBytes::new(py, &v),)),
    }
}

/// A loader's return value as bytes.
pub(crate) fn loaded(obj: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    let b = value(obj).map_err(|_| {
        PyTypeError::new_err(format!("the loader must return bytes, bytearray or memoryview, not {}", type_name(obj)))
    })?;
    Ok(Bytes::copy_from_slice(b.as_bytes()))
}

/// `SetOptions` from Python's keyword arguments (core checks `nx` with `xx`).
pub(crate) fn set_options(ttl: Option<Duration>, nx: bool, xx: bool) -> nearcache::SetOptions {
    nearcache::SetOptions { ttl, only_if_absent: nx, only_if_present: xx, exact_ttl: false }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "an unknown type".to_owned())
}
