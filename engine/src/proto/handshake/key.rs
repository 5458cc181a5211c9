//! Sec-WebSocket-Key and Sec-WebSocket-Accept (RFC 6455 §4.1, §4.2.2), computed on the stack.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::{Digest, Sha1};

/// The GUID appended to the key (§1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A key's length: base64 of 16 octets, padded.
pub const KEY_LEN: usize = 24;
/// An accept value's length: base64 of a 20-octet SHA-1 digest, padded.
pub const ACCEPT_LEN: usize = 28;

/// A fresh client key: 16 random octets, base64-encoded.
pub fn generate_key(random: [u8; 16]) -> String {
    String::from_utf8_lossy(&key_octets(random)).into_owned()
}

/// The same key as octets, without allocating.
pub fn key_octets(random: [u8; 16]) -> [u8; KEY_LEN] {
    let mut out = [0u8; KEY_LEN];
    // 16 octets always encode to exactly 24.
    let n = STANDARD.encode_slice(random, &mut out).unwrap_or(0);
    debug_assert_eq!(n, KEY_LEN);
    out
}

/// The Sec-WebSocket-Accept value for a key.
pub fn accept_key(key: &str) -> String {
    String::from_utf8_lossy(&accept_octets(key.trim().as_bytes())).into_owned()
}

/// The same value as octets, without allocating (`key` as sent, already trimmed).
pub fn accept_octets(key: &[u8]) -> [u8; ACCEPT_LEN] {
    let mut h = Sha1::new();
    h.update(key);
    h.update(GUID.as_bytes());
    let mut out = [0u8; ACCEPT_LEN];
    let n = STANDARD.encode_slice(h.finalize(), &mut out).unwrap_or(0);
    debug_assert_eq!(n, ACCEPT_LEN);
    out
}

/// A key is valid when it is base64 of exactly 16 octets (§4.2.1 item 5).
pub fn key_is_valid(key: &str) -> bool {
    let key = key.trim();
    // Padded base64 of 16 octets is 24 characters; anything else decodes to another length
    // (or not at all).
    let mut out = [0u8; 18];
    key.len() == KEY_LEN && matches!(STANDARD.decode_slice(key, &mut out), Ok(16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert!(key_is_valid("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(key_is_valid(" dGhlIHNhbXBsZSBub25jZQ== "));
        assert!(!key_is_valid("dGhlIHNhbXBsZQ=="));
        assert!(!key_is_valid("not base64!"));
        // 17 octets, and 16 written without padding.
        assert!(!key_is_valid("dGhlIHNhbXBsZSBub25jZXM="));
        assert!(!key_is_valid("dGhlIHNhbXBsZSBub25jZQ"));
        assert_eq!(generate_key([0; 16]).len(), 24);
    }

    #[test]
    fn octets_match_the_strings() {
        for nonce in [[0u8; 16], [0xff; 16], *b"0123456789abcdef"] {
            let k = key_octets(nonce);
            assert_eq!(generate_key(nonce).as_bytes(), k);
            assert!(key_is_valid(std::str::from_utf8(&k).unwrap()));
            let s = std::str::from_utf8(&k).unwrap();
            assert_eq!(accept_key(s).as_bytes(), accept_octets(&k));
        }
    }
}
