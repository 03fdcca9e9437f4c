//! Human sizes (`64MiB`) and durations (`250ms`): parsing, the canonical
//! lossless form the config dump prints, and the `#[serde(with)]` adapters
//! the schema uses. Arithmetic is exact (integers, no float rounding), so a
//! dump read back gives the same values.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Serializer;

use crate::error::{Error, Result};

/// Durations above a year are certainly typos, and refusing them keeps
/// `Instant + duration` arithmetic elsewhere in the crate from overflowing.
pub(super) const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

pub(super) const KIB: u64 = 1024;
pub(super) const MIB: u64 = 1024 * KIB;

/// Byte units, largest first, so the canonical form picks the largest unit
/// that divides a size exactly (binary before decimal at each magnitude).
const SIZE_UNITS: [(&str, u64); 9] = [
    ("TiB", 1 << 40),
    ("TB", 1_000_000_000_000),
    ("GiB", 1 << 30),
    ("GB", 1_000_000_000),
    ("MiB", 1 << 20),
    ("MB", 1_000_000),
    ("KiB", 1 << 10),
    ("KB", 1_000),
    ("B", 1),
];

/// Duration units used in the canonical form, largest first.
const DURATION_UNITS: [(&str, u128); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// The canonical, lossless form of a size: the largest unit that divides it
/// exactly (`64MiB`, `10KB`, `1536B`).
pub fn format_size(bytes: u64) -> String {
    if bytes == 0 {
        return "0B".to_owned();
    }
    for (unit, mult) in SIZE_UNITS {
        if bytes % mult == 0 {
            return format!("{}{unit}", bytes / mult);
        }
    }
    format!("{bytes}B")
}

/// The canonical, lossless form of a duration: the largest unit that divides
/// it exactly (`30s`, `250ms`, `100us`, `1500ms`, `2m`).
pub fn format_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    for (unit, mult) in DURATION_UNITS {
        if nanos % mult == 0 {
            return format!("{}{unit}", nanos / mult);
        }
    }
    format!("{nanos}ns")
}

/// Parses a size: a number of bytes (`123`) or a number with a unit, where
/// `KiB`/`MiB`/`GiB`/`TiB` are powers of 1024 and `KB`/`MB`/`GB`/`TB` powers of
/// 1000 (`"64MiB"`, `"512 MiB"`, `"1.5KiB"`). Lower-case `mb` is refused
/// because redis.conf reads it as 1024-based while the SI reading is
/// 1000-based.
pub fn parse_size(text: &str) -> Result<u64> {
    parse_size_raw(text).map_err(Error::config)
}

/// Parses a duration with a unit: `ns`, `us` (or `µs`), `ms`, `s`, `m` (or
/// `min`), `h`, `d`, with an optional fraction (`"1.5s"`). A bare number is
/// refused, because `30` could mean seconds or milliseconds.
pub fn parse_duration(text: &str) -> Result<Duration> {
    parse_duration_raw(text).map_err(Error::config)
}

fn size_error(text: &str) -> String {
    format!("expected a size like \"64MiB\", got {text:?}")
}

fn parse_size_raw(text: &str) -> std::result::Result<u64, String> {
    let (int, frac, unit) = split_number(text.trim()).ok_or_else(|| size_error(text))?;
    let mult: u64 = match unit {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "kb" | "mb" | "gb" | "tb" => {
            return Err(format!(
                "{} ({unit:?} is ambiguous: write {:?} for powers of 1024 or {:?} for powers \
                 of 1000)",
                size_error(text),
                format!("{}iB", unit[..1].to_ascii_uppercase()),
                unit.to_ascii_uppercase(),
            ));
        }
        _ => match unit.to_ascii_lowercase().as_str() {
            "kib" => 1 << 10,
            "mib" => 1 << 20,
            "gib" => 1 << 30,
            "tib" => 1 << 40,
            _ => return Err(size_error(text)),
        },
    };
    let bytes = scale(int, frac, u128::from(mult)).map_err(|why| match why {
        Inexact => format!("{} (not a whole number of bytes)", size_error(text)),
        Overflow => format!("{text:?} is too large"),
    })?;
    u64::try_from(bytes).map_err(|_| format!("{text:?} is too large"))
}

fn duration_error(text: &str) -> String {
    format!("expected a duration like \"30s\" or \"250ms\", got {text:?}")
}

fn parse_duration_raw(text: &str) -> std::result::Result<Duration, String> {
    let (int, frac, unit) = split_number(text.trim()).ok_or_else(|| duration_error(text))?;
    let mult: u128 = match unit {
        "" => {
            return Err(format!("{} (a bare number is ambiguous: add a unit such as s or ms)", duration_error(text)));
        }
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return Err(duration_error(text)),
    };
    let too_long = || format!("must be at most {}, got {text:?}", format_duration(MAX_DURATION));
    let nanos = scale(int, frac, mult).map_err(|why| match why {
        Inexact => format!("{} (finer than a nanosecond)", duration_error(text)),
        Overflow => too_long(),
    })?;
    if nanos > MAX_DURATION.as_nanos() {
        return Err(too_long());
    }
    let nanos = u64::try_from(nanos).map_err(|_| too_long())?;
    Ok(Duration::from_nanos(nanos))
}

/// Splits `"1.5 KiB"` into `("1", "5", "KiB")`: digits, optional fraction
/// digits, then an optional space and the unit.
fn split_number(text: &str) -> Option<(&str, &str, &str)> {
    let num_end = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(num_end);
    let unit = unit.strip_prefix(' ').unwrap_or(unit);
    let (int, frac) = match number.split_once('.') {
        Some((int, frac)) if !frac.is_empty() && !frac.contains('.') => (int, frac),
        Some(_) => return None,
        None => (number, ""),
    };
    if int.is_empty() || int.len() > 20 || frac.len() > 18 {
        return None;
    }
    Some((int, frac, unit))
}

enum ScaleError {
    Inexact,
    Overflow,
}
use ScaleError::{Inexact, Overflow};

/// `int.frac * mult`, exactly, in integer arithmetic (no float rounding).
fn scale(int: &str, frac: &str, mult: u128) -> std::result::Result<u128, ScaleError> {
    let int: u128 = int.parse().map_err(|_| Overflow)?;
    let mut value = int.checked_mul(mult).ok_or(Overflow)?;
    if !frac.is_empty() {
        let digits = u32::try_from(frac.len()).map_err(|_| Overflow)?;
        let denominator = 10u128.pow(digits);
        let numerator = frac.parse::<u128>().map_err(|_| Overflow)?.checked_mul(mult).ok_or(Overflow)?;
        if numerator % denominator != 0 {
            return Err(Inexact);
        }
        value = value.checked_add(numerator / denominator).ok_or(Overflow)?;
    }
    Ok(value)
}

/// `#[serde(with)]` helpers storing plain `u64` byte counts.
pub(super) mod human_size {
    use super::*;

    pub(in crate::config) fn serialize<S: Serializer>(bytes: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_size(*bytes))
    }

    pub(in crate::config) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_any(SizeVisitor)
    }

    struct SizeVisitor;

    impl Visitor<'_> for SizeVisitor {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a size like \"64MiB\"")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<u64, E> {
            parse_size_raw(text).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, bytes: u64) -> Result<u64, E> {
            Ok(bytes)
        }

        fn visit_i64<E: de::Error>(self, bytes: i64) -> Result<u64, E> {
            u64::try_from(bytes).map_err(|_| E::custom(format!("expected a size like \"64MiB\", got {bytes}")))
        }

        // JavaScript numbers arrive as floats; whole ones are byte counts.
        fn visit_f64<E: de::Error>(self, bytes: f64) -> Result<u64, E> {
            if bytes.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&bytes) {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(bytes as u64)
            } else {
                Err(E::custom(format!("expected a size like \"64MiB\", got {bytes}")))
            }
        }
    }
}

/// `#[serde(with)]` helpers storing plain `Duration`s.
pub(super) mod human_duration {
    use super::*;

    pub(in crate::config) fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(*duration))
    }

    pub(in crate::config) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }

    pub(super) struct DurationVisitor;

    impl DurationVisitor {
        fn bare<E: de::Error>(number: impl fmt::Display) -> E {
            E::custom(format!(
                "expected a duration like \"30s\" or \"250ms\", got {number} (a bare number is \
                 ambiguous: add a unit such as s or ms)"
            ))
        }
    }

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration like \"30s\" or \"250ms\"")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            parse_duration_raw(text).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, number: u64) -> Result<Duration, E> {
            Err(Self::bare(number))
        }

        fn visit_i64<E: de::Error>(self, number: i64) -> Result<Duration, E> {
            Err(Self::bare(number))
        }

        fn visit_f64<E: de::Error>(self, number: f64) -> Result<Duration, E> {
            Err(Self::bare(number))
        }
    }
}

/// `#[serde(with)]` helpers for `Option<Duration>`, written as `null` when
/// absent so that the effective config shows every field.
pub(super) mod human_duration_opt {
    use super::*;

    pub(in crate::config) fn serialize<S: Serializer>(
        duration: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match duration {
            Some(duration) => serializer.serialize_str(&format_duration(*duration)),
            None => serializer.serialize_none(),
        }
    }

    pub(in crate::config) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        deserializer.deserialize_option(OptVisitor)
    }

    struct OptVisitor;

    impl<'de> Visitor<'de> for OptVisitor {
        type Value = Option<Duration>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration like \"30s\" or \"250ms\", or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Option<Duration>, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Option<Duration>, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<Duration>, D::Error> {
            human_duration::deserialize(deserializer).map(Some)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::config::fixtures::*;

    #[test]
    fn sizes_parse() {
        let ok = [
            ("64MiB", 64 << 20),
            ("1KiB", 1024),
            ("512 MiB", 512 << 20),
            ("10KB", 10_000),
            ("10kB", 10_000),
            ("123", 123),
            ("0", 0),
            ("123B", 123),
            ("1GiB", 1 << 30),
            ("2TiB", 2 << 40),
            ("3GB", 3_000_000_000),
            ("1.5KiB", 1536),
            ("0.5MiB", 512 << 10),
            ("64mib", 64 << 20),
            (" 1MiB ", 1 << 20),
        ];
        for (text, bytes) in ok {
            assert_eq!(parse_size(text).ok(), Some(bytes), "{text}");
        }
        let bad = ["lots", "", "MiB", "-1", "1.KiB", ".5KiB", "1.2.3B", "1 KiBs", "1  KiB", "1e3"];
        for text in bad {
            let err = parse_size(text).err().map(|e| e.message().to_owned()).unwrap_or_default();
            assert_starts(&err, "expected a size like \"64MiB\"");
        }
        let err = parse_size("64mb").err().map(|e| e.message().to_owned()).unwrap_or_default();
        assert_eq!(
            err,
            "expected a size like \"64MiB\", got \"64mb\" (\"mb\" is ambiguous: write \"MiB\" for \
             powers of 1024 or \"MB\" for powers of 1000)"
        );
        assert!(parse_size("1.0001KiB").is_err());
        assert!(parse_size("99999999TiB").is_err());
        assert!(parse_size("18446744073709551616").is_err());
        assert_eq!(parse_size("18446744073709551615").ok(), Some(u64::MAX));
    }

    #[test]
    fn durations_parse() {
        let ok = [
            ("30s", Duration::from_secs(30)),
            ("250ms", Duration::from_millis(250)),
            ("100us", Duration::from_micros(100)),
            ("100µs", Duration::from_micros(100)),
            ("7ns", Duration::from_nanos(7)),
            ("1m", Duration::from_secs(60)),
            ("2min", Duration::from_secs(120)),
            ("2h", Duration::from_secs(7200)),
            ("1d", Duration::from_secs(86_400)),
            ("0s", Duration::ZERO),
            ("1.5s", Duration::from_millis(1500)),
            ("0.25ms", Duration::from_micros(250)),
            ("10 s", Duration::from_secs(10)),
            ("365d", MAX_DURATION),
        ];
        for (text, duration) in ok {
            assert_eq!(parse_duration(text).ok(), Some(duration), "{text}");
        }
        for text in ["fast", "", "s", "30", "30S", "1.5", "-1s", "1w", "1.0000000001ns"] {
            let err = parse_duration(text).err().map(|e| e.message().to_owned()).unwrap_or_default();
            assert_starts(&err, "expected a duration like \"30s\" or \"250ms\"");
        }
        let err = parse_duration("30").err().map(|e| e.message().to_owned()).unwrap_or_default();
        assert!(err.contains("a bare number is ambiguous"), "{err}");
        let err = parse_duration("366d").err().map(|e| e.message().to_owned()).unwrap_or_default();
        assert_eq!(err, "must be at most 8760h, got \"366d\"");
        assert!(parse_duration("99999999999999999999h").is_err());
    }

    #[test]
    fn canonical_forms_are_exact_and_round_trip() {
        let sizes = [
            (0, "0B"),
            (1, "1B"),
            (1536, "1536B"),
            (1024, "1KiB"),
            (10_000, "10KB"),
            (64 << 20, "64MiB"),
            (512 << 20, "512MiB"),
            (1 << 30, "1GiB"),
            (3_000_000_000, "3GB"),
            (5 << 40, "5TiB"),
            (2_048_000, "2000KiB"),
        ];
        for (bytes, text) in sizes {
            assert_eq!(format_size(bytes), text);
            assert_eq!(parse_size(text).ok(), Some(bytes));
        }
        let durations = [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_secs(30), "30s"),
            (Duration::from_micros(100), "100us"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(120), "2m"),
            (Duration::from_secs(7200), "2h"),
            (Duration::from_secs(86_400), "24h"),
            (Duration::from_nanos(1_000_001), "1000001ns"),
        ];
        for (duration, text) in durations {
            assert_eq!(format_duration(duration), text);
            assert_eq!(parse_duration(text).ok(), Some(duration));
        }
    }
}
