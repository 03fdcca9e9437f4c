//! The loaders: TOML, JSON, a binding's untyped tree, a file, the
//! environment.
//!
//! Every format is first parsed into an untyped tree, so the same mistake
//! reads the same whatever the source; every loader validates, and every
//! error starts with the field path (`l1.max_bytes: ...`) with passwords
//! redacted.

use std::path::Path;

use super::redact::{redact_password_lines, redact_secrets};
use super::url::RedisUrl;
use super::validate::invalid;
use super::Config;
use crate::error::{Error, Result};

/// Environment variable naming the config file read by [`Config::from_env`].
pub const ENV_CONFIG: &str = "NEARCACHE_CONFIG";
/// Environment variable overriding `redis.url`; wins over [`ENV_REDIS_URL`].
pub const ENV_URL: &str = "NEARCACHE_URL";
/// The conventional variable (Heroku, docker-compose, redis-py examples)
/// overriding `redis.url` when [`ENV_URL`] is not set.
pub const ENV_REDIS_URL: &str = "REDIS_URL";

impl Config {
    /// Parses and validates a TOML document in the schema of docs/design.md ("Configuration").
    ///
    /// Syntax errors keep toml's message (line, column and the offending line,
    /// with any password redacted); other errors start with the field path.
    pub fn from_toml_str(toml_text: &str) -> Result<Config> {
        // Parsing into an untyped tree first, for every format, makes the
        // same mistake read the same in TOML, JSON and a binding's options.
        let tree: serde_json::Value = toml::from_str(toml_text)
            .map_err(|e| Error::config(redact_password_lines(&redact_secrets(e.to_string().trim_end()))))?;
        Config::from_tree(tree)
    }

    /// Parses and validates a JSON document with the same tree as the TOML
    /// file (no `url` shortcut: a file states the schema in full).
    pub fn from_json_str(json_text: &str) -> Result<Config> {
        let tree: serde_json::Value = serde_json::from_str(json_text)
            .map_err(|e| Error::config(redact_secrets(&format!("invalid JSON: {e}"))))?;
        Config::from_tree(tree)
    }

    /// Reads a config file: JSON when its name ends in `.json`, TOML otherwise.
    ///
    /// I/O errors name the file; parse and validation errors are those of
    /// [`Config::from_toml_str`] and [`Config::from_json_str`], so they read
    /// the same whatever the file is called.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!("{}: cannot read the config file: {e}", path.display())).with_source(e)
        })?;
        let is_json = path.extension().is_some_and(|ext| ext.to_string_lossy().eq_ignore_ascii_case("json"));
        if is_json {
            Config::from_json_str(&text)
        } else {
            Config::from_toml_str(&text)
        }
    }

    /// Builds a config from the untyped tree a binding passes (a Python dict,
    /// a JS options object, a parsed file).
    ///
    /// A top-level `url` is a shortcut for `redis.url`, so that
    /// `Cache(url=...)` and `new Cache({ url })` read naturally; giving both is
    /// an error rather than a silent precedence rule.
    pub fn from_value(mut value: serde_json::Value) -> Result<Config> {
        whole_floats_to_integers(&mut value);
        if let Some(root) = value.as_object_mut() {
            if let Some(url) = root.remove("url") {
                let redis = root.entry("redis").or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
                if let Some(redis) = redis.as_object_mut() {
                    if redis.contains_key("url") {
                        return Err(Error::config("url: given twice, as url and as redis.url; keep one"));
                    }
                    redis.insert("url".to_owned(), url);
                }
            }
        }
        Config::from_tree(value)
    }

    fn from_tree(tree: serde_json::Value) -> Result<Config> {
        ensure_tables(&tree)?;
        let config: Config =
            serde_path_to_error::deserialize(tree).map_err(|e| path_error(e.path(), &e.inner().to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration of a twelve-factor service: the file named by
    /// `NEARCACHE_CONFIG` (the defaults when unset), then `NEARCACHE_URL`, or
    /// else `REDIS_URL`, replacing `redis.url`.
    pub fn from_env() -> Result<Config> {
        Config::from_env_with(process_env)
    }

    /// Applies `NEARCACHE_URL` (or else `REDIS_URL`) to `redis.url`, then
    /// validates the result (a URL with a database number is refused in
    /// cluster mode). Empty variables count as unset.
    pub fn apply_env_overrides(&mut self) -> Result<()> {
        self.apply_env_overrides_with(process_env)
    }

    pub(super) fn from_env_with(env: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let mut config = match env(ENV_CONFIG).filter(|path| !path.is_empty()) {
            Some(path) => Config::from_path(path)?,
            None => Config::default(),
        };
        config.apply_env_overrides_with(env)?;
        Ok(config)
    }

    pub(super) fn apply_env_overrides_with(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<()> {
        for var in [ENV_URL, ENV_REDIS_URL] {
            if let Some(url) = env(var).filter(|url| !url.is_empty()) {
                self.redis.url = RedisUrl::parse_raw(&url)
                    .map_err(|msg| Error::config(redact_secrets(&format!("redis.url (from {var}): {msg}"))))?;
                break;
            }
        }
        self.validate()
    }
}

fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
}

/// Turns a deserialization error into a `Config` error that starts with the
/// field path. serde's "unknown field `x`" and "missing field `x`" messages are
/// reworded so that the path ends at the offending field.
fn path_error(path: &serde_path_to_error::Path, msg: &str) -> Error {
    let path = match path.to_string() {
        p if p == "." => String::new(),
        p => p,
    };
    let located = if let Some((field, rest)) = backticked_after(msg, "unknown field `") {
        format!("{}: unknown field{rest}", join_path(&path, field))
    } else if let Some((field, rest)) = backticked_after(msg, "missing field `") {
        format!("{}: missing field{rest}", join_path(&path, field))
    } else if let Some((field, rest)) = backticked_after(msg, "duplicate field `") {
        format!("{}: given more than once{rest}", join_path(&path, field))
    } else if path.is_empty() {
        msg.to_owned()
    } else {
        format!("{path}: {msg}")
    };
    Error::config(redact_secrets(&located))
}

/// JavaScript has only floats, so a binding may hand over `2.0` for
/// `connections = 2`; whole floats become integers before typed parsing
/// (fields typed `f64` accept integers, so nothing is lost).
fn whole_floats_to_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64() {
                // 2^53: beyond it, floats are no longer exact integers.
                if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
                    #[allow(clippy::cast_possible_truncation)]
                    let i = f as i64;
                    *value = Value::from(i);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_floats_to_integers),
        Value::Object(map) => map.values_mut().for_each(whole_floats_to_integers),
        _ => {}
    }
}

/// serde accepts a sequence wherever a struct is expected (fields by
/// position), which would make `reconnect = ["10ms", "1s"]` silently valid;
/// the schema's tables must be tables.
fn ensure_tables(tree: &serde_json::Value) -> Result<()> {
    use serde_json::Value;
    if !tree.is_object() {
        return Err(Error::config("the config must be a table of settings (an object in JSON)"));
    }
    let not_array = |value: Option<&Value>, path: &str| match value {
        Some(Value::Array(_)) => Err(invalid(path, "expected a table of settings, got an array")),
        _ => Ok(()),
    };
    for (pointer, path) in [
        ("/redis", "redis"),
        ("/redis/reconnect", "redis.reconnect"),
        ("/redis/tls", "redis.tls"),
        ("/l1", "l1"),
        ("/compression", "compression"),
        ("/write", "write"),
        ("/observability", "observability"),
    ] {
        not_array(tree.pointer(pointer), path)?;
    }
    for (pointer, path) in [("/l1/rules", "l1.rules"), ("/routes", "routes")] {
        if let Some(Value::Array(items)) = tree.pointer(pointer) {
            for (i, item) in items.iter().enumerate() {
                not_array(Some(item), &format!("{path}[{i}]"))?;
            }
        }
    }
    Ok(())
}

/// Splits `unknown field `x`, expected ...` into `("x", ", expected ...")`.
fn backticked_after<'a>(msg: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    let rest = msg.strip_prefix(prefix)?;
    let end = rest.find('`')?;
    Some((&rest[..end], &rest[end + 1..]))
}

/// Appends `field` to `path`, unless serde_path_to_error already recorded it
/// (it does for unknown fields, whose key it captures).
fn join_path(path: &str, field: &str) -> String {
    if path.is_empty() || path == field {
        field.to_owned()
    } else if path.ends_with(&format!(".{field}")) {
        path.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use crate::config::fixtures::*;
    use crate::config::*;
    use crate::error::ErrorKind;

    #[test]
    fn empty_documents_give_the_defaults() {
        assert_eq!(Config::from_toml_str("").ok(), Some(Config::default()));
        assert_eq!(Config::from_json_str("{}").ok(), Some(Config::default()));
        assert_eq!(Config::from_value(serde_json::json!({})).ok(), Some(Config::default()));
        assert_eq!(Config::from_toml_str("[l1]\n").ok(), Some(Config::default()));
    }

    #[test]
    fn design_example_parses_in_toml_json_and_value() {
        let from_toml = Config::from_toml_str(FULL_EXAMPLE);
        assert_eq!(from_toml.as_ref().ok(), Some(&design_config()), "{from_toml:?}");
        let from_json = Config::from_json_str(FULL_EXAMPLE_JSON);
        assert_eq!(from_json.as_ref().ok(), Some(&design_config()), "{from_json:?}");
        let value: serde_json::Value = serde_json::from_str(FULL_EXAMPLE_JSON).unwrap();
        assert_eq!(Config::from_value(value).ok(), Some(design_config()));
    }

    #[test]
    fn bad_values_name_the_field_path() {
        assert_eq!(
            toml_err("[l1]\nmax_bytes = \"lots\""),
            "l1.max_bytes: expected a size like \"64MiB\", got \"lots\""
        );
        assert_eq!(toml_err("[l1]\nmax_bytes = -5"), "l1.max_bytes: expected a size like \"64MiB\", got -5");
        assert_eq!(
            toml_err("[l1]\nmax_bytes = true"),
            "l1.max_bytes: invalid type: boolean `true`, expected a size like \"64MiB\""
        );
        assert_eq!(
            toml_err("[l1]\nttl = 30"),
            "l1.ttl: expected a duration like \"30s\" or \"250ms\", got 30 (a bare number is \
             ambiguous: add a unit such as s or ms)"
        );
        assert_starts(&toml_err("[l1]\nttl = 1.5"), "l1.ttl: expected a duration like");
        assert_starts(&toml_err("[redis]\nreconnect = { min = \"soon\" }"), "redis.reconnect.min: expected a duration");
        assert_starts(
            &toml_err("[observability]\nbig_value_warn = \"big\""),
            "observability.big_value_warn: expected a size",
        );
        assert_starts(&toml_err("[redis]\nconnections = \"two\""), "redis.connections: invalid type: string \"two\"");
        assert_starts(&toml_err("[redis]\nconnections = -1"), "redis.connections: invalid value: integer `-1`");
        assert_starts(
            &toml_err("[l1]\nrules = [{ prefix = \"a:\" }, { prefix = \"b:\", ttl = \"x\" }]"),
            "l1.rules[1].ttl: expected a duration",
        );
        assert_starts(
            &toml_err("[[routes]]\nprefix = \"a:\"\nurl = \"http://x\""),
            "routes[0].url: unsupported scheme \"http\"",
        );
        assert_starts(&toml_err("l1 = 5"), "l1: invalid type: integer `5`");
        assert_starts(&toml_err("routes = {}"), "routes: invalid type: map");
    }

    #[test]
    fn unknown_fields_are_refused_at_every_depth() {
        assert_starts(
            &toml_err("[l1]\nmax_byte = \"64MiB\""),
            "l1.max_byte: unknown field, expected one of `max_bytes`, `ttl`,",
        );
        assert_starts(&toml_err("url = \"redis://x\""), "url: unknown field, expected one of `redis`, `l1`,");
        assert_starts(
            &toml_err("[redis.reconnect]\nmaxx = \"1s\""),
            "redis.reconnect.maxx: unknown field, expected `min` or `max`",
        );
        assert_starts(
            &toml_err("[l1]\nrules = [{ prefix = \"a:\" }, { prefix = \"b:\", tll = \"1s\" }]"),
            "l1.rules[1].tll: unknown field, expected one of `prefix`, `ttl`, `cache`",
        );
        assert_starts(
            &toml_err("[[routes]]\nprefix = \"a:\"\nurl = \"redis://x\"\nweight = 1"),
            "routes[0].weight: unknown field",
        );
        assert_starts(
            &json_err(r#"{"observability": {"hot_key": 3}}"#),
            "observability.hot_key: unknown field, expected one of",
        );
        assert_starts(
            &value_err(serde_json::json!({"compression": {"algo": "lz4"}})),
            "compression.algo: unknown field",
        );
    }

    #[test]
    fn missing_required_fields_and_duplicates_name_the_field() {
        assert_eq!(toml_err("[[routes]]\nprefix = \"a:\""), "routes[0].url: missing field");
        assert_eq!(toml_err("[l1]\nrules = [{ ttl = \"1s\" }]"), "l1.rules[0].prefix: missing field");
        // JSON duplicate keys: the last wins, as in Python's and JavaScript's parsers.
        let cfg = Config::from_json_str(r#"{"redis": {"connections": 1, "connections": 3}}"#);
        assert_eq!(cfg.map(|c| c.redis.connections).ok(), Some(3));
    }

    #[test]
    fn tables_must_be_tables() {
        assert_eq!(
            toml_err("[redis]\nreconnect = [\"10ms\", \"1s\"]"),
            "redis.reconnect: expected a table of settings, got an array"
        );
        assert_eq!(toml_err("l1 = [1]"), "l1: expected a table of settings, got an array");
        assert_eq!(
            toml_err("[l1]\nrules = [{ prefix = \"a:\" }, [\"b:\"]]"),
            "l1.rules[1]: expected a table of settings, got an array"
        );
        assert_eq!(
            json_err(r#"{"routes": [["a:", "redis://h"]]}"#),
            "routes[0]: expected a table of settings, got an array"
        );
        assert_eq!(json_err("[]"), "the config must be a table of settings (an object in JSON)");
        assert_eq!(
            value_err(serde_json::json!("redis://h")),
            "the config must be a table of settings (an object in JSON)"
        );
        assert_starts(&toml_err("[l1]\nttl = 1979-05-27"), "l1.ttl: invalid type: map");
    }

    #[test]
    fn enum_values_are_checked() {
        assert_eq!(
            toml_err("[redis]\nmode = \"sentinel\""),
            "redis.mode: unknown variant `sentinel`, expected `standalone` or `cluster`"
        );
        assert_eq!(
            toml_err("[l1]\ninvalidation = \"push\""),
            "l1.invalidation: unknown variant `push`, expected one of `tracking`, `bcast`, `ttl`, `off`"
        );
        assert_starts(&toml_err("[compression]\nalgorithm = \"LZ4\""), "compression.algorithm: unknown variant `LZ4`");
        for (name, algorithm) in [("lz4", Algorithm::Lz4), ("zstd", Algorithm::Zstd), ("none", Algorithm::None)] {
            let cfg = Config::from_toml_str(&format!("[compression]\nalgorithm = \"{name}\""));
            assert_eq!(cfg.map(|c| c.compression.algorithm).ok(), Some(algorithm));
            assert_eq!(algorithm.as_str(), name);
        }
    }

    #[test]
    fn json_and_toml_errors_read_the_same() {
        let cases = [
            ("[l1]\nmax_bytes = \"lots\"", r#"{"l1": {"max_bytes": "lots"}}"#),
            ("[l1]\nmax_byte = 1", r#"{"l1": {"max_byte": 1}}"#),
            ("[redis]\nconnections = 0", r#"{"redis": {"connections": 0}}"#),
            ("[redis]\nmode = \"x\"", r#"{"redis": {"mode": "x"}}"#),
            ("[l1]\nttl = 30", r#"{"l1": {"ttl": 30}}"#),
        ];
        for (toml_text, json_text) in cases {
            assert_eq!(toml_err(toml_text), json_err(json_text));
            let value: serde_json::Value = serde_json::from_str(json_text).unwrap();
            assert_eq!(toml_err(toml_text), value_err(value));
        }
    }

    #[test]
    fn syntax_errors_keep_the_position() {
        let err = toml_err("[l1]\nmax_bytes = = 3\n");
        assert_starts(&err, "TOML parse error at line 2, column");
        let err = json_err("{\"l1\": {\"ttl\": \"1s\",}}");
        assert_starts(&err, "invalid JSON: ");
        assert!(err.contains("line 1 column"), "{err}");
        assert_starts(&json_err("{} {}"), "invalid JSON: trailing characters");
    }

    #[test]
    fn url_shortcut_in_the_value_tree() {
        let cfg = Config::from_value(serde_json::json!({
            "url": "redis://10.1.2.3:6380/2",
            "l1": { "max_bytes": "128MiB" },
        }));
        let cfg = match cfg {
            Ok(cfg) => cfg,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(cfg.redis.url.expose(), "redis://10.1.2.3:6380/2");
        assert_eq!(cfg.l1.max_bytes, 128 << 20);
        let cfg = Config::from_value(serde_json::json!({"url": "redis://h", "redis": {"connections": 4}}));
        assert_eq!(cfg.as_ref().map(|c| (c.redis.url.expose(), c.redis.connections)).ok(), Some(("redis://h", 4)));
        assert_eq!(
            value_err(serde_json::json!({"url": "redis://a", "redis": {"url": "redis://b"}})),
            "url: given twice, as url and as redis.url; keep one"
        );
        assert_starts(&value_err(serde_json::json!({"url": 5})), "redis.url: invalid type: integer `5`");
        assert_starts(&value_err(serde_json::json!({"url": "ftp://x"})), "redis.url: unsupported scheme");
        // Whole floats are integers: JavaScript numbers are floats.
        let cfg = Config::from_value(serde_json::json!({"redis": {"connections": 4.0}}));
        assert_eq!(cfg.map(|c| c.redis.connections).ok(), Some(4));
        assert_starts(
            &value_err(serde_json::json!({"redis": {"connections": 4.5}})),
            "redis.connections: invalid type: floating point `4.5`",
        );
        let cfg = Config::from_value(serde_json::json!({"l1": {"ttl_jitter": 1.0}}));
        assert_eq!(cfg.map(|c| c.l1.ttl_jitter).ok(), Some(1.0));
        let cfg = Config::from_value(serde_json::json!({"l1": {"max_bytes": 1048576.0}}));
        assert_eq!(cfg.map(|c| c.l1.max_bytes).ok(), Some(1 << 20));
        assert_starts(&value_err(serde_json::json!({"l1": {"max_bytes": 1.5}})), "l1.max_bytes: expected a size");
        // A rule's ttl may be null (inherit l1.ttl), as to_json writes it.
        let cfg = Config::from_value(serde_json::json!({"l1": {"rules": [{"prefix": "a:", "ttl": null}]}}));
        assert_eq!(cfg.map(|c| c.l1.rules[0].ttl).ok(), Some(None));
    }

    #[test]
    fn env_overrides_replace_the_url() {
        fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
            let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            move |name| map.get(name).cloned()
        }
        let cfg = Config::from_env_with(env(&[]));
        assert_eq!(cfg.ok(), Some(Config::default()));
        let cfg = Config::from_env_with(env(&[(ENV_REDIS_URL, "redis://r:1")]));
        assert_eq!(cfg.map(|c| c.redis.url.expose().to_owned()).ok().as_deref(), Some("redis://r:1"));
        let cfg = Config::from_env_with(env(&[(ENV_REDIS_URL, "redis://r:1"), (ENV_URL, "redis://n:2")]));
        assert_eq!(cfg.map(|c| c.redis.url.expose().to_owned()).ok().as_deref(), Some("redis://n:2"));
        let cfg = Config::from_env_with(env(&[(ENV_REDIS_URL, "redis://r:1"), (ENV_URL, "")]));
        assert_eq!(cfg.map(|c| c.redis.url.expose().to_owned()).ok().as_deref(), Some("redis://r:1"));

        let dir = scratch_dir("env");
        let path = dir.join("cfg.toml");
        std::fs::write(&path, "[redis]\nmode = \"cluster\"\nurl = \"redis://a:7000\"\n[l1]\nttl = \"5s\"").unwrap();
        let path = path.to_string_lossy().into_owned();
        let cfg = Config::from_env_with(env(&[(ENV_CONFIG, &path), (ENV_URL, "redis://b:7001")]));
        let cfg = cfg.unwrap();
        assert_eq!(cfg.redis.url.expose(), "redis://b:7001");
        assert_eq!(cfg.redis.mode, Mode::Cluster);
        assert_eq!(cfg.l1.ttl, Duration::from_secs(5));
        // The override is validated against the file's mode.
        let err = Config::from_env_with(env(&[(ENV_CONFIG, &path), (ENV_URL, "redis://b:7001/2")]));
        assert_eq!(
            err.err().map(|e| e.message().to_owned()).as_deref(),
            Some("redis.url: cluster mode supports database 0 only, got database 2")
        );
        let missing = dir.join("missing.toml").to_string_lossy().into_owned();
        let err = Config::from_env_with(env(&[(ENV_CONFIG, &missing)]));
        assert_starts(
            &err.err().map(|e| e.message().to_owned()).unwrap_or_default(),
            &format!("{missing}: cannot read the config file: "),
        );

        let mut cfg = Config::default();
        assert!(cfg.apply_env_overrides_with(env(&[(ENV_URL, "rediss://x:6380")])).is_ok());
        assert!(cfg.redis.url.is_tls());
        let _ = std::fs::remove_dir_all(dir);
    }

    fn scratch_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("nearcache-config-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn from_path_picks_the_format_by_extension() {
        let dir = scratch_dir("path");
        let toml_path = dir.join("nearcache.toml");
        let json_path = dir.join("nearcache.JSON");
        let other_path = dir.join("nearcache.conf");
        std::fs::write(&toml_path, FULL_EXAMPLE).unwrap();
        std::fs::write(&json_path, FULL_EXAMPLE_JSON).unwrap();
        std::fs::write(&other_path, FULL_EXAMPLE).unwrap();
        assert_eq!(Config::from_path(&toml_path).ok(), Some(design_config()));
        assert_eq!(Config::from_path(&json_path).ok(), Some(design_config()));
        assert_eq!(Config::from_path(&other_path).ok(), Some(design_config()));
        std::fs::write(&json_path, FULL_EXAMPLE).unwrap();
        let err = Config::from_path(&json_path).err().map(|e| e.message().to_owned()).unwrap_or_default();
        assert_starts(&err, "invalid JSON: ");
        let err = Config::from_path(dir.join("nope.toml")).err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.cause().is_some());
        assert_starts(err.message(), &format!("{}: cannot read the config file: ", dir.join("nope.toml").display()));
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Every TOML example of the README is a valid config.
    #[test]
    fn readme_toml_examples_parse() {
        let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
        let blocks: Vec<&str> =
            readme.split("```toml\n").skip(1).filter_map(|rest| rest.split("\n```").next()).collect();
        assert!(blocks.len() >= 2, "{} TOML blocks", blocks.len());
        for block in blocks {
            if let Err(e) = Config::from_toml_str(block) {
                panic!("README example does not parse: {e}\n{block}");
            }
        }
    }

    /// The cross-language conformance files: every binding must produce the
    /// same bytes. Set `NEARCACHE_BLESS=1` to rewrite the expected files.
    #[test]
    fn conformance_config_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/configs");
        let bless = std::env::var_os("NEARCACHE_BLESS").is_some();
        let check = |name: &str, actual: String| {
            let path = dir.join(name);
            let actual = actual + "\n";
            if bless {
                std::fs::write(&path, &actual).unwrap();
            }
            let expected = std::fs::read_to_string(&path).unwrap();
            assert_eq!(actual, expected, "{}", path.display());
        };
        let full = Config::from_path(dir.join("full.toml")).unwrap();
        // full.toml is the fixtures' example without [[routes]], which a cache
        // refuses until routes exist (the parse of routes is tested above).
        let mut expected = design_config();
        expected.routes.clear();
        assert_eq!(full, expected);
        check("full.expected.json", full.to_json());
        // Every config file of the directory has one expected file: the dump
        // (`NAME.expected.json`) or the error (`NAME.expected-error.txt`).
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let Some(stem) = name.strip_suffix(".toml").or_else(|| name.strip_suffix(".json")) else { continue };
            if stem.contains(".expected") {
                continue;
            }
            seen += 1;
            let (ok, bad) = (format!("{stem}.expected.json"), format!("{stem}.expected-error.txt"));
            match Config::from_path(&path) {
                Ok(config) if !dir.join(&bad).exists() => check(&ok, config.to_json()),
                Err(err) if !dir.join(&ok).exists() => {
                    assert_eq!(err.kind(), ErrorKind::Config);
                    check(&bad, err.message().to_owned());
                }
                other => panic!("{name}: {other:?} does not match the expected file"),
            }
        }
        assert!(seen >= 3, "only {seen} config files in {}", dir.display());
    }
}
