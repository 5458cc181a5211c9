//! Handshake errors, with the HTTP status a server answers them with.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("HTTP head larger than {limit} bytes (or more than 64 header lines)")]
    HeadTooLarge { limit: usize },
    #[error("malformed HTTP: {0}")]
    Malformed(String),
    #[error("method {method} is not GET")]
    MethodNotAllowed { method: String },
    #[error("HTTP/1.{minor} is not HTTP/1.1")]
    HttpVersion { minor: u8 },
    #[error("missing {name} header")]
    MissingHeader { name: &'static str },
    #[error("{name} header appears more than once")]
    DuplicateHeader { name: &'static str },
    #[error("not a WebSocket upgrade (Upgrade header lacks \"websocket\")")]
    NotWebSocketUpgrade,
    #[error("Connection header lacks the \"Upgrade\" token")]
    MissingConnectionUpgrade,
    #[error("Sec-WebSocket-Key {key:?} is not base64 of 16 octets")]
    BadKey { key: String },
    #[error("Sec-WebSocket-Version {version:?} is not supported (only 13)")]
    UnsupportedVersion { version: String },
    #[error("bad Sec-WebSocket-Extensions header: {0}")]
    BadExtensions(String),
    #[error("server answered HTTP {code} {reason}")]
    Status { code: u16, reason: String },
    #[error("Sec-WebSocket-Accept is {got:?}, expected {expected:?}")]
    BadAccept { expected: String, got: String },
    #[error("server chose subprotocol {protocol:?}, which was not offered")]
    UnrequestedProtocol { protocol: String },
    #[error("server accepted extension {name:?}, which was not offered")]
    UnrequestedExtension { name: String },
    #[error("opening handshake timed out")]
    Timeout,
    #[error("peer closed the connection during the opening handshake")]
    Eof,
    /// The socket failed while the handshake was read or written (with TCP Fast Open, a
    /// refused connection is first seen here: the SYN left with the request).
    #[error("{op} error during the opening handshake: {kind}")]
    Io {
        op: &'static str,
        kind: std::io::ErrorKind,
    },
}

impl HandshakeError {
    /// The status a server sends back for this error.
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::HeadTooLarge { .. } => 431,
            HandshakeError::MethodNotAllowed { .. } => 405,
            HandshakeError::NotWebSocketUpgrade | HandshakeError::UnsupportedVersion { .. } => 426,
            _ => 400,
        }
    }
}
