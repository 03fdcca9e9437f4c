//! `nc_config`: the configuration tree, built one dotted path at a time and
//! handed to core's `Config::from_value`, which validates it and names the
//! field path in its errors.

use std::ffi::c_char;

use nearcache::Config;
use serde_json::{Map, Value};

use crate::ffi::{self, boundary, boundary_value, c_str, free_box, invalid, out_ptr, try_mut, try_ref, Castable};
use crate::status::nc_status;

/// A configuration under construction: the same tree as the config file
/// (docs/design.md, "Configuration"), with `url` as a shortcut for `redis.url`.
///
/// Created by `nc_config_new`, freed by `nc_config_free`. Not synchronised:
/// use one `nc_config` from one thread at a time (distinct configs may be
/// used from distinct threads).
pub struct nc_config {
    _private: [u8; 0],
}

impl Castable for nc_config {
    type Rust = Value;
}

/// Sets `path` in `tree`, creating the tables on the way. The text is a JSON
/// value when it parses as one (`1000`, `0.5`, `true`, `["a:", "b:"]`,
/// `{"prefix": "s:", "ttl": "10s"}`), else a string (`64MiB`, `tracking`):
/// C has no typed values, and core's schema decides what is acceptable.
fn set_path(tree: &mut Value, path: &str, text: &str) -> ffi::Result<()> {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|part| part.is_empty()) {
        return Err(invalid(format!("config path {path:?} has an empty segment (expected e.g. \"l1.max_bytes\")")));
    }
    let value = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));
    let mut node = tree;
    let mut walked = String::new();
    let (last, tables) = parts.split_last().ok_or_else(|| invalid("config path is empty"))?;
    for part in tables {
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(part);
        let Value::Object(map) = node else {
            return Err(invalid(format!("config path {path:?}: {walked:?} is not a table")));
        };
        node = map.entry(*part).or_insert_with(|| Value::Object(Map::new()));
    }
    match node {
        Value::Object(map) => {
            map.insert((*last).to_owned(), value);
            Ok(())
        }
        _ => Err(invalid(format!("config path {path:?}: {walked:?} is not a table"))),
    }
}

/// Creates an empty configuration (every field at its documented default).
///
/// On `NC_OK`, `*out` receives a new `nc_config` that the caller owns and
/// frees with `nc_config_free`. `out` must not be NULL
/// (`NC_ERR_INVALID_ARGUMENT`). Thread-safe.
#[no_mangle]
pub extern "C" fn nc_config_new(out: *mut *mut nc_config) -> nc_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        *out = ffi::into_raw::<nc_config>(Value::Object(Map::new()));
        Ok(nc_status::NC_OK)
    })
}

/// Sets one field: `path` is the field's dotted path in the config file
/// (`"l1.max_bytes"`, `"redis.command_timeout"`, or `"url"` for
/// `redis.url`); `value` is its text, read as JSON when it is valid JSON
/// (`"1000"`, `"0.5"`, `"true"`, `"[\"a:\"]"`) and as a string otherwise
/// (`"64MiB"`, `"250ms"`, `"redis://127.0.0.1:6379"`).
///
/// Values are checked when the config is used (`nc_cache_open`,
/// `nc_config_json`), where an invalid one gives `NC_ERR_CONFIG` with a
/// message naming the field path; here only the shape of the path is
/// checked. Both strings are NUL-terminated UTF-8, borrowed for the call.
///
/// Returns `NC_OK`, or `NC_ERR_INVALID_ARGUMENT` for a NULL argument,
/// invalid UTF-8, an empty path segment, or a path through a non-table.
/// Not synchronised: one thread at a time per `cfg`.
///
/// # Safety
/// `cfg` comes from `nc_config_new` and is not freed; `path` and `value` are
/// NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn nc_config_set(cfg: *mut nc_config, path: *const c_char, value: *const c_char) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live config used by this thread only.
        let tree = unsafe { try_mut(cfg, "cfg") }?;
        // SAFETY: the caller promises NUL-terminated strings.
        let (path, value) = unsafe { (c_str(path, "path")?, c_str(value, "value")?) };
        set_path(tree, path, value)?;
        Ok(nc_status::NC_OK)
    })
}

/// Validates the configuration and gives the effective config as pretty
/// JSON (defaults filled in, sizes and durations canonical, password
/// redacted): the same text every language prints.
///
/// On `NC_OK`, `*out` receives a NUL-terminated string the caller frees with
/// `nc_string_free`. Returns `NC_ERR_CONFIG` (message starting with the
/// field path) for an invalid config, `NC_ERR_INVALID_ARGUMENT` for NULL
/// arguments. May be called from several threads at once on one `cfg` as
/// long as none is calling `nc_config_set` on it.
///
/// # Safety
/// `cfg` comes from `nc_config_new` and is not freed.
#[no_mangle]
pub unsafe extern "C" fn nc_config_json(cfg: *const nc_config, out: *mut *mut c_char) -> nc_status {
    boundary(|| {
        // SAFETY: the caller promises a live config not being mutated.
        let tree = unsafe { try_ref(cfg, "cfg") }?;
        let out = out_ptr(out, "out")?;
        let json = Config::from_value(tree.clone())?.to_json();
        *out = ffi::into_c_string(json);
        Ok(nc_status::NC_OK)
    })
}

/// Frees a configuration. NULL is a no-op. A cache opened from it does not
/// need it any more.
///
/// # Safety
/// A non-NULL `cfg` comes from `nc_config_new` and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn nc_config_free(cfg: *mut nc_config) {
    // SAFETY: the caller gives up a pointer from `nc_config_new`.
    boundary_value((), || unsafe { free_box(cfg) })
}

/// The validated core config behind `cfg`.
///
/// # Safety
/// As for `try_ref`.
pub(crate) unsafe fn to_config(cfg: *const nc_config) -> ffi::Result<Config> {
    // SAFETY: forwarded to the caller.
    let tree = unsafe { try_ref(cfg, "cfg") }?;
    Config::from_value(tree.clone())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_build_the_tree() {
        let mut tree = Value::Object(Map::new());
        set_path(&mut tree, "l1.max_bytes", "64MiB").unwrap();
        set_path(&mut tree, "redis.connections", "4").unwrap();
        set_path(&mut tree, "l1.prefixes", r#"["a:"]"#).unwrap();
        set_path(&mut tree, "url", "redis://127.0.0.1:1").unwrap();
        assert_eq!(
            tree,
            serde_json::json!({"l1": {"max_bytes": "64MiB", "prefixes": ["a:"]}, "redis": {"connections": 4}, "url": "redis://127.0.0.1:1"})
        );
        assert!(set_path(&mut tree, "l1..ttl", "1s").is_err());
        assert!(set_path(&mut tree, "", "1s").is_err());
        assert!(set_path(&mut tree, "redis.connections.x", "1").is_err());
    }
}
