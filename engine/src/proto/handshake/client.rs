//! Client side of the opening handshake: build the request, check the server's answer.

use std::sync::Arc;

use super::error::HandshakeError;
use super::extensions::{parse_extensions, ExtensionOffer};
use super::key::{accept_octets, key_octets, KEY_LEN};
use super::{has_token, DEFAULT_MAX_HEAD, MAX_HEADERS};

/// What the client asks for.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// `Host` header value (host[:port]).
    pub host: String,
    /// Request target (path and query).
    pub resource: String,
    pub origin: Option<String>,
    pub protocols: Vec<String>,
    /// Sec-WebSocket-Extensions offer, as a header value.
    pub extensions: Option<String>,
    pub user_agent: Option<String>,
    pub extra_headers: Vec<(String, String)>,
    pub max_head: usize,
}

impl ClientOptions {
    pub fn new(host: impl Into<String>, resource: impl Into<String>) -> Self {
        ClientOptions {
            host: host.into(),
            resource: resource.into(),
            origin: None,
            protocols: Vec::new(),
            extensions: None,
            user_agent: None,
            extra_headers: Vec::new(),
            max_head: DEFAULT_MAX_HEAD,
        }
    }
}

/// The server's 101 answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub protocol: Option<String>,
    pub extensions: Vec<ExtensionOffer>,
    /// The response head as received (for reports).
    pub raw: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One client handshake in progress.
#[derive(Clone, Debug)]
pub struct ClientHandshake {
    opts: Arc<ClientOptions>,
    /// Base64, ASCII.
    key: [u8; KEY_LEN],
}

/// The request head for many handshakes with the same options, built once: only the key
/// (always 24 octets of base64) differs from one handshake to the next.
#[derive(Clone, Debug)]
pub struct RequestTemplate {
    opts: Arc<ClientOptions>,
    head: Vec<u8>,
    key_at: usize,
}

impl RequestTemplate {
    pub fn new(opts: ClientOptions) -> Self {
        let hs = ClientHandshake::new(opts, [0; 16]);
        let (head, key_at) = hs.request_head();
        RequestTemplate {
            opts: hs.opts,
            head,
            key_at,
        }
    }

    /// A handshake keyed from `nonce`, and its request octets.
    pub fn handshake(&self, nonce: [u8; 16]) -> (ClientHandshake, Vec<u8>) {
        let mut head = Vec::with_capacity(self.head.len());
        let hs = self.write_request(nonce, &mut head);
        (hs, head)
    }

    /// A handshake keyed from `nonce`, its request octets appended to `out` (a reused
    /// buffer: nothing is allocated when it is large enough).
    pub fn write_request(&self, nonce: [u8; 16], out: &mut Vec<u8>) -> ClientHandshake {
        let key = key_octets(nonce);
        let at = out.len() + self.key_at;
        out.extend_from_slice(&self.head);
        out[at..at + KEY_LEN].copy_from_slice(&key);
        ClientHandshake {
            opts: self.opts.clone(),
            key,
        }
    }
}

impl ClientHandshake {
    /// `nonce`: 16 random octets for the key.
    pub fn new(opts: ClientOptions, nonce: [u8; 16]) -> Self {
        ClientHandshake {
            key: key_octets(nonce),
            opts: Arc::new(opts),
        }
    }

    pub fn key(&self) -> &str {
        // Base64 is ASCII.
        std::str::from_utf8(&self.key).unwrap_or_default()
    }

    /// The request octets.
    pub fn request(&self) -> Vec<u8> {
        self.request_head().0
    }

    /// The request octets and where the key starts in them.
    fn request_head(&self) -> (Vec<u8>, usize) {
        let o = &self.opts;
        let mut r = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ",
            o.resource, o.host
        );
        let key_at = r.len();
        r.push_str(self.key());
        r.push_str("\r\nSec-WebSocket-Version: 13\r\n");
        if let Some(ua) = &o.user_agent {
            r.push_str(&format!("User-Agent: {ua}\r\n"));
        }
        if let Some(origin) = &o.origin {
            r.push_str(&format!("Origin: {origin}\r\n"));
        }
        if !o.protocols.is_empty() {
            r.push_str(&format!(
                "Sec-WebSocket-Protocol: {}\r\n",
                o.protocols.join(", ")
            ));
        }
        if let Some(e) = &o.extensions {
            r.push_str(&format!("Sec-WebSocket-Extensions: {e}\r\n"));
        }
        for (k, v) in &o.extra_headers {
            r.push_str(&format!("{k}: {v}\r\n"));
        }
        r.push_str("\r\n");
        (r.into_bytes(), key_at)
    }

    /// Parse and check the response. `Ok(None)`: incomplete. On success also returns the octets
    /// the head took (anything after is WebSocket data).
    pub fn parse_response(&self, buf: &[u8]) -> Result<Option<(Response, usize)>, HandshakeError> {
        let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut hs);
        let Some(n) = self.parse_into(&mut resp, buf)? else {
            return Ok(None);
        };
        let checked = self.check(&resp)?;
        let headers = resp
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).trim().to_string(),
                )
            })
            .collect();
        Ok(Some((
            Response {
                status: 101,
                headers,
                protocol: checked.protocol.map(str::to_string),
                extensions: checked.extensions,
                raw: buf[..n].to_vec(),
            },
            n,
        )))
    }

    /// Check the response as [`parse_response`](Self::parse_response) does, keeping nothing
    /// of it: the octets the head took. Allocates nothing unless the answer names
    /// extensions (or fails).
    pub fn check_response(&self, buf: &[u8]) -> Result<Option<usize>, HandshakeError> {
        let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut hs);
        let Some(n) = self.parse_into(&mut resp, buf)? else {
            return Ok(None);
        };
        self.check(&resp)?;
        Ok(Some(n))
    }

    /// The HTTP parse: the head's length, `None` while incomplete.
    fn parse_into<'b>(
        &self,
        resp: &mut httparse::Response<'_, 'b>,
        buf: &'b [u8],
    ) -> Result<Option<usize>, HandshakeError> {
        let max = self.opts.max_head;
        match resp.parse(buf) {
            Ok(httparse::Status::Complete(n)) => Ok(Some(n)),
            Ok(httparse::Status::Partial) => {
                if buf.len() > max {
                    return Err(HandshakeError::HeadTooLarge { limit: max });
                }
                Ok(None)
            }
            Err(httparse::Error::TooManyHeaders) => {
                Err(HandshakeError::HeadTooLarge { limit: max })
            }
            Err(e) => Err(HandshakeError::Malformed(e.to_string())),
        }
    }

    /// The RFC's checks of a complete response, on the parsed head's borrowed values.
    fn check<'b>(&self, resp: &httparse::Response<'_, 'b>) -> Result<Checked<'b>, HandshakeError> {
        let headers: &[httparse::Header<'b>] = resp.headers;
        let get = |name: &'static str| {
            headers
                .iter()
                .filter(move |h| h.name.eq_ignore_ascii_case(name))
                .map(|h| String::from_utf8_lossy(h.value))
        };
        let status = resp.code.unwrap_or(0);
        // §4.1: "If the status code received from the server is not 101, the client handles
        // the response per HTTP procedures."
        if status != 101 {
            return Err(HandshakeError::Status {
                code: status,
                reason: resp.reason.unwrap_or("").to_string(),
            });
        }
        // "If the response lacks an |Upgrade| header field or the |Upgrade| header field
        // contains a value that is not an ASCII case-insensitive match for the value
        // "websocket", the client MUST _Fail the WebSocket Connection_."
        if !get("upgrade").any(|v| has_token(&v, "websocket")) {
            return Err(HandshakeError::NotWebSocketUpgrade);
        }
        // Same for |Connection| without the "Upgrade" token.
        if !get("connection").any(|v| has_token(&v, "upgrade")) {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        // "If the response lacks a |Sec-WebSocket-Accept| header field or the
        // |Sec-WebSocket-Accept| contains a value other than the base64-encoded SHA-1 of the
        // concatenation of the |Sec-WebSocket-Key| (as a string, not base64-decoded) with the
        // string "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" ..., the client MUST _Fail_"
        let expected = accept_octets(&self.key);
        let got = get("sec-websocket-accept").next().unwrap_or_default();
        if got.trim().as_bytes() != expected {
            return Err(HandshakeError::BadAccept {
                expected: String::from_utf8_lossy(&expected).into_owned(),
                got: got.trim().to_string(),
            });
        }
        // "If the response includes a |Sec-WebSocket-Protocol| header field and this header
        // field indicates the use of a subprotocol that was not present in the client's
        // handshake ..., the client MUST _Fail the WebSocket Connection_."
        let protocol = headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-protocol"))
            .map(|h| std::str::from_utf8(h.value).map(str::trim));
        let protocol = match protocol {
            None => None,
            Some(Ok(p)) if self.opts.protocols.iter().any(|o| o == p) => Some(p),
            Some(p) => {
                return Err(HandshakeError::UnrequestedProtocol {
                    protocol: p
                        .map(str::to_string)
                        .unwrap_or_else(|_| "(not UTF-8)".into()),
                })
            }
        };
        // Likewise for an extension that was not offered.
        let extensions = parse_extensions(
            headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("sec-websocket-extensions"))
                .map(|h| std::str::from_utf8(h.value).unwrap_or("\u{fffd}")),
        )?;
        if !extensions.is_empty() {
            let offered = self
                .opts
                .extensions
                .as_deref()
                .map(|o| parse_extensions([o]).unwrap_or_default())
                .unwrap_or_default();
            for e in &extensions {
                if !offered.iter().any(|o| o.name == e.name) {
                    return Err(HandshakeError::UnrequestedExtension {
                        name: e.name.clone(),
                    });
                }
            }
        }
        Ok(Checked {
            protocol,
            extensions,
        })
    }
}

/// What a checked response carries on.
struct Checked<'b> {
    protocol: Option<&'b str>,
    extensions: Vec<ExtensionOffer>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::handshake::server::{accept_response, parse_request};

    #[test]
    fn round_trip_with_server_side() {
        let mut o = ClientOptions::new("localhost:9001", "/runCase?case=1&agent=x");
        o.protocols = vec!["wamp.2.json".into()];
        let hs = ClientHandshake::new(o, [7; 16]);
        let req = hs.request();
        let (r, _) = parse_request(&req, 16384).unwrap().unwrap();
        assert_eq!(r.resource, "/runCase?case=1&agent=x");
        let mut resp = accept_response(&r, Some("wamp.2.json"), None, Some("x"));
        resp.extend_from_slice(b"\x81\x00");
        let (res, n) = hs.parse_response(&resp).unwrap().unwrap();
        assert_eq!(n, resp.len() - 2);
        assert_eq!(res.protocol.as_deref(), Some("wamp.2.json"));
    }

    #[test]
    fn template_gives_the_same_request_as_a_fresh_handshake() {
        let mut o = ClientOptions::new("example.com:9001", "/chat?x=1");
        o.user_agent = Some("Sec-WebSocket-Key: not this one".into());
        o.extra_headers = vec![("X-A".into(), "b".into())];
        let t = RequestTemplate::new(o.clone());
        for nonce in [[0u8; 16], [9; 16], *b"0123456789abcdef"] {
            let (hs, req) = t.handshake(nonce);
            let fresh = ClientHandshake::new(o.clone(), nonce);
            assert_eq!(req, fresh.request());
            assert_eq!(hs.key(), fresh.key());
            let (r, _) = parse_request(&req, 16384).unwrap().unwrap();
            let resp = accept_response(&r, None, None, None);
            assert!(hs.parse_response(&resp).unwrap().is_some());
        }
    }

    #[test]
    fn rejects_bad_answers() {
        let hs = ClientHandshake::new(ClientOptions::new("h", "/"), [1; 16]);
        let good_accept = crate::proto::handshake::accept_key(hs.key());
        let base = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {good_accept}\r\n");
        assert!(hs
            .parse_response(format!("{base}\r\n").as_bytes())
            .unwrap()
            .is_some());
        let bad = [
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_string(),
            format!("{}\r\n", base.replace(&good_accept, "AAAA")),
            format!("{}\r\n", base.replace("Upgrade: websocket\r\n", "")),
            format!("{base}Sec-WebSocket-Protocol: chat\r\n\r\n"),
            format!("{base}Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"),
        ];
        for b in bad {
            assert!(hs.parse_response(b.as_bytes()).is_err(), "{b}");
        }
    }
}
