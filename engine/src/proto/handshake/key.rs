//! Sec-WebSocket-Key and Sec-WebSocket-Accept (RFC 6455 §4.1, §4.2.2).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::{Digest, Sha1};

/// The GUID appended to the key (§1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A fresh client key: 16 random octets, base64-encoded.
pub fn generate_key(random: [u8; 16]) -> String {
    STANDARD.encode(random)
}

/// The Sec-WebSocket-Accept value for a key.
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.trim().as_bytes());
    h.update(GUID.as_bytes());
    STANDARD.encode(h.finalize())
}

/// A key is valid when it is base64 of exactly 16 octets (§4.2.1 item 5).
pub fn key_is_valid(key: &str) -> bool {
    matches!(STANDARD.decode(key.trim()), Ok(v) if v.len() == 16)
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
        assert!(!key_is_valid("dGhlIHNhbXBsZQ=="));
        assert!(!key_is_valid("not base64!"));
        assert_eq!(generate_key([0; 16]).len(), 24);
    }
}
