//! Which reads L1 may cache besides `GET`: the allow-list, argument checks,
//! and the normalized form a reply is stored under (docs/design.md,
//! "Cached reads").
//!
//! A command is on the list only if it is read-only, names exactly one key,
//! and its reply depends on nothing but that key's value: never on time
//! (`TTL`, `PTTL`, `EXPIRETIME`), chance (`SRANDMEMBER`, `HRANDFIELD`),
//! another key (`EXISTS a b`, `SINTER`, `ZRANGESTORE`, `SORT ... STORE`) or
//! a cursor (`HSCAN`). Because every listed reply is a function of the one
//! key's value, any write to the key (which is what an invalidation reports)
//! makes all of its replies stale at once, and dropping the key's L1 entry
//! drops them all.
//!
//! [`classify`] checks a command against the list and its arity and options
//! (so a malformed read is refused here, typed, instead of being sent), and
//! returns a [`CachedRead`]: the key, the canonical name, the form its reply
//! is stored under in the key's L1 entry ([`CachedRead::slot`]), and which
//! parts of its reply are user values to decode like `get` ([`Decode`]).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{Error, Result};

/// Which parts of a reply are values written through nearcache's codec, so
/// that they are decompressed before they are cached and returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decode {
    /// Nothing: counts, flags, members, scores, bytes of a string as stored.
    Nothing,
    /// The reply is one value or nil (`HGET`).
    Value,
    /// The reply is an array of values or nils (`HMGET`, `HVALS`).
    Values,
    /// The reply is a map of field to value; values are decoded (`HGETALL`).
    MapValues,
}

/// What a command's reply is about, for statistics and latency families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    String,
    Key,
    Hash,
    Set,
    SortedSet,
    List,
}

/// A checked, allow-listed read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CachedRead<'a> {
    /// The canonical (upper-case) command name.
    pub(crate) name: &'static str,
    /// The one key the reply depends on.
    pub(crate) key: &'a [u8],
    /// Everything after the command name, as given (sent to Redis as is,
    /// after the canonical name).
    pub(crate) args: &'a [&'a [u8]],
    pub(crate) decode: Decode,
    pub(crate) family: Family,
    /// From which argument index (0 = the name) option keywords start;
    /// they are upper-cased in the slot so that `withscores` and
    /// `WITHSCORES` share one cached reply.
    options_from: usize,
}

impl CachedRead<'_> {
    /// Whether this is `GET`, which L1 keeps in the entry's own value slot
    /// (the fast path every binding uses) rather than among the replies.
    pub(crate) fn is_get(&self) -> bool {
        self.name == "GET"
    }

    /// The name the reply is stored under inside the key's L1 entry: the
    /// canonical command name, then every argument after the key,
    /// length-prefixed (so no two argument lists share a slot), keywords
    /// upper-cased.
    pub(crate) fn slot(&self) -> Bytes {
        let mut slot = BytesMut::with_capacity(self.slot_len());
        self.write_slot(&mut slot);
        slot.freeze()
    }

    /// Runs `f` on [`CachedRead::slot`] without allocating when the slot is
    /// short (the L1 hit path of a typical read).
    pub(crate) fn with_slot<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        const ON_STACK: usize = 128;
        let len = self.slot_len();
        if len > ON_STACK {
            return f(&self.slot());
        }
        let mut buf = [0u8; ON_STACK];
        let mut out = &mut buf[..];
        self.write_slot(&mut out);
        f(&buf[..len])
    }

    fn slot_len(&self) -> usize {
        self.name.len() + self.args[1..].iter().map(|a| a.len() + 4).sum::<usize>()
    }

    fn write_slot(&self, slot: &mut impl BufMut) {
        slot.put_slice(self.name.as_bytes());
        for (i, arg) in self.args[1..].iter().enumerate() {
            // `args` starts at the key (argument index 1), so this is index i + 2.
            slot.put_u32(arg.len() as u32);
            if i + 2 >= self.options_from {
                for b in arg.iter() {
                    slot.put_u8(b.to_ascii_uppercase());
                }
            } else {
                slot.put_slice(arg);
            }
        }
    }

    /// The command as it is sent: canonical name, then the arguments.
    pub(crate) fn to_cmd(&self) -> redis::Cmd {
        let mut cmd = redis::cmd(self.name);
        for arg in self.args {
            cmd.arg(*arg);
        }
        cmd
    }
}

/// How many arguments follow the key, and what else to check.
#[derive(Clone, Copy)]
enum Shape {
    /// Exactly this many arguments after the key.
    Exactly(usize),
    /// At least this many.
    AtLeast(usize),
    /// A command whose options need their own parser.
    Custom(fn(&str, &[&[u8]]) -> Result<()>),
}

struct Allowed {
    name: &'static str,
    shape: Shape,
    decode: Decode,
    family: Family,
    /// Arguments after the key that must be integers (indices into the
    /// arguments after the key).
    integers: &'static [usize],
    options_from: usize,
}

const NO_OPTIONS: usize = usize::MAX;

const fn allowed(name: &'static str, shape: Shape, family: Family) -> Allowed {
    Allowed { name, shape, decode: Decode::Nothing, family, integers: &[], options_from: NO_OPTIONS }
}

/// The allow-list. Keep docs/design.md ("Cached reads") in step.
const ALLOWED: &[Allowed] = &[
    Allowed { decode: Decode::Value, ..allowed("GET", Shape::Exactly(0), Family::String) },
    allowed("STRLEN", Shape::Exactly(0), Family::String),
    Allowed { integers: &[0, 1], ..allowed("GETRANGE", Shape::Exactly(2), Family::String) },
    Allowed { integers: &[0], ..allowed("GETBIT", Shape::Exactly(1), Family::String) },
    Allowed { options_from: 4, ..allowed("BITCOUNT", Shape::Custom(bitcount), Family::String) },
    allowed("EXISTS", Shape::Exactly(0), Family::Key),
    allowed("TYPE", Shape::Exactly(0), Family::Key),
    Allowed { decode: Decode::Value, ..allowed("HGET", Shape::Exactly(1), Family::Hash) },
    Allowed { decode: Decode::Values, ..allowed("HMGET", Shape::AtLeast(1), Family::Hash) },
    Allowed { decode: Decode::MapValues, ..allowed("HGETALL", Shape::Exactly(0), Family::Hash) },
    allowed("HEXISTS", Shape::Exactly(1), Family::Hash),
    allowed("HLEN", Shape::Exactly(0), Family::Hash),
    allowed("HKEYS", Shape::Exactly(0), Family::Hash),
    Allowed { decode: Decode::Values, ..allowed("HVALS", Shape::Exactly(0), Family::Hash) },
    allowed("HSTRLEN", Shape::Exactly(1), Family::Hash),
    allowed("SMEMBERS", Shape::Exactly(0), Family::Set),
    allowed("SISMEMBER", Shape::Exactly(1), Family::Set),
    allowed("SMISMEMBER", Shape::AtLeast(1), Family::Set),
    allowed("SCARD", Shape::Exactly(0), Family::Set),
    allowed("ZSCORE", Shape::Exactly(1), Family::SortedSet),
    allowed("ZMSCORE", Shape::AtLeast(1), Family::SortedSet),
    Allowed { options_from: 4, ..allowed("ZRANGE", Shape::Custom(zrange), Family::SortedSet) },
    Allowed { options_from: 4, ..allowed("ZRANGEBYSCORE", Shape::Custom(zrangebyscore), Family::SortedSet) },
    Allowed { options_from: 4, ..allowed("ZREVRANGE", Shape::Custom(zrevrange), Family::SortedSet) },
    Allowed { options_from: 3, ..allowed("ZRANK", Shape::Custom(zrank), Family::SortedSet) },
    Allowed { options_from: 3, ..allowed("ZREVRANK", Shape::Custom(zrank), Family::SortedSet) },
    allowed("ZCARD", Shape::Exactly(0), Family::SortedSet),
    allowed("ZCOUNT", Shape::Exactly(2), Family::SortedSet),
    allowed("ZLEXCOUNT", Shape::Exactly(2), Family::SortedSet),
    Allowed { integers: &[0, 1], ..allowed("LRANGE", Shape::Exactly(2), Family::List) },
    Allowed { integers: &[0], ..allowed("LINDEX", Shape::Exactly(1), Family::List) },
    allowed("LLEN", Shape::Exactly(0), Family::List),
    Allowed { options_from: 3, ..allowed("LPOS", Shape::Custom(lpos), Family::List) },
];

/// Commands people may expect here, and why they are not cached.
const NOT_CACHEABLE: &[(&str, &str)] = &[
    ("TTL", "its reply depends on the time"),
    ("PTTL", "its reply depends on the time"),
    ("EXPIRETIME", "its reply can change without a write to the key's value"),
    ("PEXPIRETIME", "its reply can change without a write to the key's value"),
    ("SRANDMEMBER", "its reply is random"),
    ("HRANDFIELD", "its reply is random"),
    ("ZRANDMEMBER", "its reply is random"),
    ("ZRANGESTORE", "it writes"),
    ("SORT", "it may write (STORE) and may read other keys (BY, GET)"),
    ("MGET", "it reads several keys (use get_many)"),
    ("SINTER", "it reads several keys"),
    ("SUNION", "it reads several keys"),
    ("SDIFF", "it reads several keys"),
    ("HSCAN", "its reply depends on a cursor"),
    ("SSCAN", "its reply depends on a cursor"),
    ("ZSCAN", "its reply depends on a cursor"),
];

/// Checks `args` (command name first) against the allow-list.
pub(crate) fn classify<'a>(args: &'a [&'a [u8]]) -> Result<CachedRead<'a>> {
    let Some((name, rest)) = args.split_first() else {
        return Err(Error::invalid("read: no command name given"));
    };
    if name.is_empty() {
        return Err(Error::invalid("read: the command name is empty"));
    }
    // No allocation on the hit path: the name is compared in place.
    let Some(entry) = ALLOWED.iter().find(|a| a.name.as_bytes().eq_ignore_ascii_case(name)) else {
        let upper = String::from_utf8_lossy(name).to_ascii_uppercase();
        let why = NOT_CACHEABLE.iter().find(|(n, _)| *n == upper).map_or(
            "it is not on the allow-list of read-only single-key commands (docs/design.md, \"Cached reads\")",
            |(_, why)| why,
        );
        return Err(Error::invalid(format!("read: {upper} cannot be a cached read: {why}; send it with command()")));
    };
    let upper = entry.name;
    let Some((key, after_key)) = rest.split_first() else {
        return Err(Error::invalid(format!("read: {upper} needs a key")));
    };
    if entry.name == "EXISTS" && !after_key.is_empty() {
        return Err(Error::invalid(format!(
            "read: EXISTS with {} keys cannot be a cached read: it reads several keys; give one key",
            rest.len()
        )));
    }
    match entry.shape {
        Shape::Exactly(n) if after_key.len() != n => {
            return Err(Error::invalid(format!(
                "read: {upper} takes a key and {n} more argument{}, got {}",
                if n == 1 { "" } else { "s" },
                after_key.len()
            )));
        }
        Shape::AtLeast(n) if after_key.len() < n => {
            return Err(Error::invalid(format!("read: {upper} takes a key and at least {n} more argument(s)")));
        }
        Shape::Custom(check) => check(entry.name, after_key)?,
        _ => {}
    }
    for &i in entry.integers {
        if let Some(arg) = after_key.get(i) {
            integer(entry.name, arg)?;
        }
    }
    if entry.name == "GETBIT" && after_key.first().is_some_and(|a| a.starts_with(b"-")) {
        return Err(Error::invalid("read: GETBIT offset must not be negative"));
    }
    Ok(CachedRead {
        name: entry.name,
        key,
        args: rest,
        decode: entry.decode,
        family: entry.family,
        options_from: entry.options_from,
    })
}

fn integer(command: &str, arg: &[u8]) -> Result<i64> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| Error::invalid(format!("read: {command}: {:?} is not an integer", String::from_utf8_lossy(arg))))
}

fn keyword(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_uppercase()
}

fn unknown_option(command: &str, arg: &[u8]) -> Error {
    Error::invalid(format!("read: {command}: unknown or misplaced option {:?}", String::from_utf8_lossy(arg)))
}

/// `BITCOUNT key [start end [BYTE | BIT]]`.
fn bitcount(command: &str, after_key: &[&[u8]]) -> Result<()> {
    match after_key {
        [] => Ok(()),
        [start, end] => integer(command, start).and(integer(command, end)).map(drop),
        [start, end, unit] => {
            integer(command, start)?;
            integer(command, end)?;
            match keyword(unit).as_str() {
                "BYTE" | "BIT" => Ok(()),
                _ => Err(unknown_option(command, unit)),
            }
        }
        _ => Err(Error::invalid(format!("read: {command} takes a key, optionally start and end, and BYTE or BIT"))),
    }
}

/// `ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`.
fn zrange(command: &str, after_key: &[&[u8]]) -> Result<()> {
    if after_key.len() < 2 {
        return Err(Error::invalid(format!("read: {command} takes a key, start and stop")));
    }
    let (mut by, mut rev, mut limit, mut withscores) = (None, false, false, false);
    let mut options = after_key[2..].iter();
    while let Some(option) = options.next() {
        match keyword(option).as_str() {
            "BYSCORE" | "BYLEX" if by.is_none() => by = Some(keyword(option)),
            "REV" if !rev => rev = true,
            "WITHSCORES" if !withscores => withscores = true,
            "LIMIT" if !limit => {
                limit = true;
                for _ in 0..2 {
                    let Some(n) = options.next() else {
                        return Err(Error::invalid(format!("read: {command}: LIMIT takes an offset and a count")));
                    };
                    integer(command, n)?;
                }
            }
            _ => return Err(unknown_option(command, option)),
        }
    }
    if limit && by.is_none() {
        return Err(Error::invalid(format!("read: {command}: LIMIT needs BYSCORE or BYLEX")));
    }
    if withscores && by.as_deref() == Some("BYLEX") {
        return Err(Error::invalid(format!("read: {command}: WITHSCORES cannot be used with BYLEX")));
    }
    if by.is_none() {
        integer(command, after_key[0])?;
        integer(command, after_key[1])?;
    }
    Ok(())
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`.
fn zrangebyscore(command: &str, after_key: &[&[u8]]) -> Result<()> {
    if after_key.len() < 2 {
        return Err(Error::invalid(format!("read: {command} takes a key, min and max")));
    }
    let (mut limit, mut withscores) = (false, false);
    let mut options = after_key[2..].iter();
    while let Some(option) = options.next() {
        match keyword(option).as_str() {
            "WITHSCORES" if !withscores => withscores = true,
            "LIMIT" if !limit => {
                limit = true;
                for _ in 0..2 {
                    let Some(n) = options.next() else {
                        return Err(Error::invalid(format!("read: {command}: LIMIT takes an offset and a count")));
                    };
                    integer(command, n)?;
                }
            }
            _ => return Err(unknown_option(command, option)),
        }
    }
    Ok(())
}

/// `ZREVRANGE key start stop [WITHSCORES]`.
fn zrevrange(command: &str, after_key: &[&[u8]]) -> Result<()> {
    match after_key {
        [start, stop] => integer(command, start).and(integer(command, stop)).map(drop),
        [start, stop, option] if keyword(option) == "WITHSCORES" => {
            integer(command, start).and(integer(command, stop)).map(drop)
        }
        [_, _, option, ..] => Err(unknown_option(command, option)),
        _ => Err(Error::invalid(format!("read: {command} takes a key, start and stop"))),
    }
}

/// `ZRANK key member [WITHSCORE]` (and `ZREVRANK`).
fn zrank(command: &str, after_key: &[&[u8]]) -> Result<()> {
    match after_key {
        [_] => Ok(()),
        [_, option] if keyword(option) == "WITHSCORE" => Ok(()),
        [_, option, ..] => Err(unknown_option(command, option)),
        _ => Err(Error::invalid(format!("read: {command} takes a key and a member"))),
    }
}

/// `LPOS key element [RANK rank] [COUNT count] [MAXLEN len]`.
fn lpos(command: &str, after_key: &[&[u8]]) -> Result<()> {
    if after_key.is_empty() {
        return Err(Error::invalid(format!("read: {command} takes a key and an element")));
    }
    let mut seen: Vec<String> = Vec::new();
    let mut options = after_key[1..].iter();
    while let Some(option) = options.next() {
        let word = keyword(option);
        if !matches!(word.as_str(), "RANK" | "COUNT" | "MAXLEN") || seen.contains(&word) {
            return Err(unknown_option(command, option));
        }
        let Some(n) = options.next() else {
            return Err(Error::invalid(format!("read: {command}: {word} takes a number")));
        };
        integer(command, n)?;
        seen.push(word);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn check(args: &[&str]) -> Result<CachedRead<'static>> {
        let owned: Vec<&'static [u8]> =
            args.iter().map(|a| &*Box::leak(a.as_bytes().to_vec().into_boxed_slice())).collect();
        classify(Box::leak(owned.into_boxed_slice()))
    }

    fn refused(args: &[&str]) -> String {
        let err = check(args).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{args:?}");
        err.message().to_owned()
    }

    #[test]
    fn allow_listed_reads_are_accepted_with_their_key() {
        for args in [
            &["get", "k"][..],
            &["STRLEN", "k"],
            &["getrange", "k", "0", "-1"],
            &["GETBIT", "k", "7"],
            &["BITCOUNT", "k"],
            &["BITCOUNT", "k", "0", "-1", "bit"],
            &["EXISTS", "k"],
            &["TYPE", "k"],
            &["HGET", "k", "f"],
            &["HMGET", "k", "a", "b"],
            &["HGETALL", "k"],
            &["HEXISTS", "k", "f"],
            &["HLEN", "k"],
            &["HKEYS", "k"],
            &["HVALS", "k"],
            &["HSTRLEN", "k", "f"],
            &["SMEMBERS", "k"],
            &["SISMEMBER", "k", "m"],
            &["SMISMEMBER", "k", "a", "b"],
            &["SCARD", "k"],
            &["ZSCORE", "k", "m"],
            &["ZMSCORE", "k", "a", "b"],
            &["ZRANGE", "k", "0", "-1"],
            &["ZRANGE", "k", "0", "-1", "withscores"],
            &["ZRANGE", "k", "(1", "+inf", "BYSCORE", "REV", "LIMIT", "0", "10", "WITHSCORES"],
            &["ZRANGE", "k", "[a", "(c", "BYLEX", "LIMIT", "1", "2"],
            &["ZRANGEBYSCORE", "k", "-inf", "5", "WITHSCORES", "LIMIT", "0", "3"],
            &["ZREVRANGE", "k", "0", "2", "WITHSCORES"],
            &["ZRANK", "k", "m"],
            &["ZREVRANK", "k", "m", "withscore"],
            &["ZCARD", "k"],
            &["ZCOUNT", "k", "-inf", "(5"],
            &["ZLEXCOUNT", "k", "-", "+"],
            &["LRANGE", "k", "0", "-1"],
            &["LINDEX", "k", "-1"],
            &["LLEN", "k"],
            &["LPOS", "k", "x", "RANK", "-1", "COUNT", "0", "MAXLEN", "100"],
        ] {
            let read = check(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(read.key, b"k", "{args:?}");
            assert_eq!(read.name, args[0].to_ascii_uppercase());
        }
    }

    #[test]
    fn time_dependent_random_multi_key_and_writing_commands_are_refused_by_name() {
        assert!(refused(&["TTL", "k"]).contains("TTL cannot be a cached read: its reply depends on the time"));
        assert!(refused(&["pttl", "k"]).contains("PTTL"));
        assert!(refused(&["SRANDMEMBER", "k"]).contains("random"));
        assert!(refused(&["HRANDFIELD", "k"]).contains("random"));
        assert!(refused(&["ZRANGESTORE", "d", "k", "0", "-1"]).contains("it writes"));
        assert!(refused(&["EXISTS", "a", "b"]).contains("several keys"));
        assert!(refused(&["MGET", "a", "b"]).contains("several keys"));
        assert!(refused(&["SET", "k", "v"]).contains("SET cannot be a cached read"));
        assert!(refused(&["HSCAN", "k", "0"]).contains("cursor"));
        assert!(refused(&[]).contains("no command name"));
        assert!(refused(&[""]).contains("empty"));
    }

    #[test]
    fn malformed_reads_are_refused_before_they_are_sent() {
        for args in [
            &["GET"][..],
            &["GET", "k", "extra"],
            &["HGET", "k"],
            &["HMGET", "k"],
            &["LRANGE", "k", "0", "x"],
            &["LINDEX", "k", "first"],
            &["GETBIT", "k", "-1"],
            &["BITCOUNT", "k", "0"],
            &["BITCOUNT", "k", "0", "1", "WORD"],
            &["ZRANGE", "k", "0"],
            &["ZRANGE", "k", "a", "b"],
            &["ZRANGE", "k", "0", "-1", "LIMIT", "0", "1"],
            &["ZRANGE", "k", "0", "-1", "STORE"],
            &["ZRANGE", "k", "[a", "[b", "BYLEX", "WITHSCORES"],
            &["ZRANGE", "k", "0", "1", "BYSCORE", "LIMIT", "0"],
            &["ZREVRANGE", "k", "0", "1", "BYSCORE"],
            &["ZRANK", "k"],
            &["LPOS", "k", "x", "RANK"],
            &["LPOS", "k", "x", "RANK", "1", "RANK", "2"],
        ] {
            refused(args);
        }
    }

    #[test]
    fn slots_tell_argument_lists_apart_and_ignore_keyword_case() {
        let slot = |args: &[&str]| check(args).unwrap().slot();
        assert_eq!(slot(&["zrange", "k", "0", "-1", "withscores"]), slot(&["ZRANGE", "k", "0", "-1", "WITHSCORES"]));
        assert_ne!(slot(&["ZRANGE", "k", "0", "-1"]), slot(&["ZRANGE", "k", "0", "-1", "WITHSCORES"]));
        // Field names are data: their case matters, and lengths keep lists apart.
        assert_ne!(slot(&["HGET", "k", "f"]), slot(&["HGET", "k", "F"]));
        assert_ne!(slot(&["HMGET", "k", "ab", "c"]), slot(&["HMGET", "k", "a", "bc"]));
        assert_ne!(slot(&["HGET", "k", "f"]), slot(&["HSTRLEN", "k", "f"]));
        // The key is not part of the slot (the entry is the key).
        assert_eq!(slot(&["HLEN", "a"]), slot(&["HLEN", "b"]));
        // LPOS's element is data even when it spells a keyword.
        assert_ne!(slot(&["LPOS", "k", "rank"]), slot(&["LPOS", "k", "RANK"]));
    }

    #[test]
    fn values_are_decoded_only_where_they_are_user_values() {
        assert_eq!(check(&["HGET", "k", "f"]).unwrap().decode, Decode::Value);
        assert_eq!(check(&["HMGET", "k", "f"]).unwrap().decode, Decode::Values);
        assert_eq!(check(&["HVALS", "k"]).unwrap().decode, Decode::Values);
        assert_eq!(check(&["HGETALL", "k"]).unwrap().decode, Decode::MapValues);
        assert_eq!(check(&["STRLEN", "k"]).unwrap().decode, Decode::Nothing);
        assert_eq!(check(&["LRANGE", "k", "0", "1"]).unwrap().decode, Decode::Nothing);
    }
}
