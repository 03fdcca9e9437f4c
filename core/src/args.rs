//! Argument conversions every binding needs, decided once.
//!
//! Languages hand core numbers and strings where Rust has `Duration` and
//! bytes. Which of those are acceptable (a negative TTL, NaN, `"30s"`) is a
//! rule, so it lives here and the bindings only extract the number or text
//! and call one of these: the same input gets the same error, with the same
//! code, in every language.

use std::time::Duration;

use bytes::Bytes;

use crate::config::parse_duration;
use crate::error::{Error, Result};

/// A TTL given in seconds (Python's `ttl=1.5`).
///
/// Negative, NaN and infinite values are `InvalidArgument`. Zero converts
/// (to a zero `Duration`): whether a zero TTL is acceptable is the verb's
/// decision (`set` refuses it, naming the key).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(nearcache::args::ttl_from_secs("ttl", 1.5).unwrap(), Duration::from_millis(1500));
/// let err = nearcache::args::ttl_from_secs("ttl", -1.0).unwrap_err();
/// assert_eq!(err.code(), "NC_INVALID_ARGUMENT");
/// assert_eq!(err.message(), "ttl must be a non-negative number of seconds, got -1");
/// ```
pub fn ttl_from_secs(what: &str, seconds: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| Error::invalid(format!("{what} must be a non-negative number of seconds, got {seconds}")))
}

/// A TTL given in milliseconds (Node's `{ ttl: 1500 }`); the same rules as
/// [`ttl_from_secs`].
///
/// ```
/// use std::time::Duration;
/// assert_eq!(nearcache::args::ttl_from_millis("ttl", 1500.0).unwrap(), Duration::from_millis(1500));
/// assert!(nearcache::args::ttl_from_millis("ttl", f64::NAN).is_err());
/// ```
pub fn ttl_from_millis(what: &str, millis: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(millis / 1000.0)
        .map_err(|_| Error::invalid(format!("{what} must be a non-negative number of milliseconds, got {millis}")))
}

/// A TTL given as a duration string (`"30s"`, `"1.5m"`, `"250ms"`), in the
/// config file's syntax; a malformed one is `InvalidArgument` (it is an
/// argument here, not configuration).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(nearcache::args::ttl_from_text("ttl", "30s").unwrap(), Duration::from_secs(30));
/// assert_eq!(nearcache::args::ttl_from_text("ttl", "soon").unwrap_err().code(), "NC_INVALID_ARGUMENT");
/// ```
pub fn ttl_from_text(what: &str, text: &str) -> Result<Duration> {
    parse_duration(text).map_err(|e| Error::invalid(format!("{what}: {}", e.message())))
}

/// A number as a raw command argument, as Redis reads numbers: integral
/// values up to 2^53 as integers (`3`, not `3.0`, so `INCRBY k 3` works
/// whichever language sent it), infinities as `inf` / `-inf` (sorted-set
/// bounds and scores), anything else in the shortest form that reads back
/// as the same `f64`. NaN has no Redis meaning and is `InvalidArgument`.
///
/// ```
/// use nearcache::args::number_arg;
/// assert_eq!(&number_arg(3.0).unwrap()[..], b"3");
/// assert_eq!(&number_arg(-0.5).unwrap()[..], b"-0.5");
/// assert_eq!(&number_arg(f64::INFINITY).unwrap()[..], b"inf");
/// assert!(number_arg(f64::NAN).is_err());
/// ```
pub fn number_arg(n: f64) -> Result<Bytes> {
    /// 2^53: beyond it not every integer is an `f64`.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    let text = if n.is_nan() {
        return Err(Error::invalid("a command argument is NaN, which Redis cannot read as a number"));
    } else if n.is_infinite() {
        (if n > 0.0 { "inf" } else { "-inf" }).to_owned()
    } else if n.fract() == 0.0 && n.abs() < EXACT {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    };
    Ok(Bytes::from(text))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn ttls_refuse_what_no_duration_can_be() {
        for bad in [-1.0, -0.001, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(ttl_from_secs("ttl", bad).unwrap_err().kind(), ErrorKind::InvalidArgument, "{bad}");
            assert_eq!(ttl_from_millis("ttl", bad).unwrap_err().kind(), ErrorKind::InvalidArgument, "{bad}");
        }
        assert_eq!(ttl_from_secs("ttl", 0.0).unwrap(), Duration::ZERO);
        assert_eq!(ttl_from_millis("options.ttl", 1.0).unwrap(), Duration::from_millis(1));
        assert!(ttl_from_millis("options.ttl", -5.0).unwrap_err().message().starts_with("options.ttl must be"));
    }

    #[test]
    fn duration_text_errors_are_argument_errors() {
        assert_eq!(ttl_from_text("ttl", "1.5m").unwrap(), Duration::from_secs(90));
        let err = ttl_from_text("options.ttl", "-3s").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.message().starts_with("options.ttl: "), "{}", err.message());
    }

    #[test]
    fn numbers_read_back_as_redis_reads_them() {
        let text = |n: f64| String::from_utf8(number_arg(n).unwrap().to_vec()).unwrap();
        assert_eq!(text(0.0), "0");
        assert_eq!(text(-42.0), "-42");
        assert_eq!(text(1.25), "1.25");
        assert_eq!(text(0.1), "0.1");
        assert_eq!(text(1e300), format!("{}", 1e300));
        assert_eq!(text(f64::NEG_INFINITY), "-inf");
        assert_eq!(number_arg(f64::NAN).unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
}
