//! Redis Cluster hash slots: `CRC16(key) mod 16384`, with hash tags.
//!
//! A key containing `{...}` with at least one byte between the braces is
//! hashed on that part only, so that `{user:1}:name` and `{user:1}:email`
//! share a slot (and may be read with one `MGET`).

/// Slots in a Redis Cluster.
pub(crate) const SLOT_COUNT: u16 = 16384;

/// The hash slot of `key`.
pub(crate) fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) % SLOT_COUNT
}

/// The part of `key` that is hashed: the first non-empty `{...}`, or all of it.
fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as in the
/// cluster specification.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_the_cluster_specification() {
        // The check value given in the Redis Cluster specification.
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    #[test]
    fn slots_match_redis() {
        // From `CLUSTER KEYSLOT` on Redis 7.0.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b""), 0);
    }

    #[test]
    fn hash_tags_pick_the_first_non_empty_braces() {
        assert_eq!(key_slot(b"{user:1}:name"), key_slot(b"user:1"));
        assert_eq!(key_slot(b"a{user:1}b{x}"), key_slot(b"user:1"));
        // `{}` is not a tag: the whole key is hashed.
        assert_eq!(key_slot(b"{}user"), crc16(b"{}user") % SLOT_COUNT);
        assert_eq!(key_slot(b"{user"), crc16(b"{user") % SLOT_COUNT);
        // Only the first `{` counts, even when its tag is empty.
        assert_eq!(key_slot(b"{}{user}"), crc16(b"{}{user}") % SLOT_COUNT);
    }
}
