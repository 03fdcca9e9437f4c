//! Argument checks shared by the verbs (key length, TTLs) and the way a key
//! is shown in messages.

use std::time::Duration;

use crate::error::{Error, Result};

use super::MAX_KEY_LEN;

#[inline]
pub(super) fn check_key(key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid("the key is empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::invalid(format!("the key is {} bytes; keys are limited to {MAX_KEY_LEN} bytes", key.len())));
    }
    Ok(())
}

pub(super) fn ttl_millis(ttl: Duration, key: &[u8]) -> Result<u64> {
    let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return Err(Error::invalid(format!(
            "TTL for {} is {ttl:?}; Redis needs at least 1 ms (use delete to remove a key)",
            show_key(key)
        )));
    }
    Ok(ms)
}

/// A key for messages: UTF-8 shown as is (truncated), binary as a length.
pub(super) fn show_key(key: &[u8]) -> String {
    const SHOWN: usize = 64;
    match std::str::from_utf8(&key[..key.len().min(SHOWN)]) {
        Ok(s) if key.len() > SHOWN => format!("{s:?}... ({} bytes)", key.len()),
        Ok(s) => format!("{s:?}"),
        Err(_) => format!("<{} binary bytes>", key.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn keys_in_messages_are_truncated_and_binary_safe() {
        assert_eq!(show_key(b"user:1"), "\"user:1\"");
        assert_eq!(show_key(&[0xff, 0xfe]), "<2 binary bytes>");
        assert!(show_key(&[b'a'; 100]).ends_with("(100 bytes)"));
    }

    #[test]
    fn keys_are_checked() {
        assert_eq!(check_key(b"").map_err(|e| e.kind()), Err(ErrorKind::InvalidArgument));
        assert_eq!(check_key(&vec![b'k'; MAX_KEY_LEN + 1]).map_err(|e| e.kind()), Err(ErrorKind::InvalidArgument));
        assert!(check_key(b"k").is_ok());
    }

    #[test]
    fn zero_ttl_is_refused() {
        assert_eq!(ttl_millis(Duration::ZERO, b"k").map_err(|e| e.kind()), Err(ErrorKind::InvalidArgument));
        assert_eq!(ttl_millis(Duration::from_micros(1500), b"k").ok(), Some(1));
    }
}
