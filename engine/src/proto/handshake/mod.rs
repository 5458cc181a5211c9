//! The opening handshake (RFC 6455 §4), sans-IO: parse requests and responses from buffers,
//! produce the octets to send.

pub mod client;
pub mod error;
pub mod extensions;
pub mod key;
pub mod server;

pub use client::{ClientHandshake, ClientOptions, RequestTemplate, Response};
pub use error::HandshakeError;
pub use extensions::{parse_extensions, ExtensionOffer};
pub use key::{accept_key, generate_key};
pub use server::{parse_head, parse_request, validate_upgrade, HttpHead, Request, ServerOptions};

/// Default cap on the size of an HTTP head (request or response line plus headers).
pub const DEFAULT_MAX_HEAD: usize = 16 * 1024;
/// Cap on the number of header lines.
pub const MAX_HEADERS: usize = 64;

/// Case-insensitive search for `token` in a comma-separated header value.
pub(crate) fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// All values of a header (case-insensitive name), in order.
pub(crate) fn header_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
