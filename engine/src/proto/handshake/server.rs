//! Server side of the opening handshake: parse the client's request, answer 101 or an error.

use super::error::HandshakeError;
use super::extensions::{parse_extensions, ExtensionOffer};
use super::key::{accept_key, key_is_valid};
use super::{has_token, header_values as all, MAX_HEADERS};

/// A parsed, validated upgrade request: the request head (its method, resource, headers and
/// raw octets, through `Deref`) and what the validation read out of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub head: HttpHead,
    pub host: String,
    pub key: String,
    pub origin: Option<String>,
    pub protocols: Vec<String>,
    pub extensions: Vec<ExtensionOffer>,
}

impl std::ops::Deref for Request {
    type Target = HttpHead;
    fn deref(&self) -> &HttpHead {
        &self.head
    }
}

/// Server handshake settings.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// `Server` header value.
    pub server_name: Option<String>,
    /// Subprotocols we speak, in order of preference.
    pub protocols: Vec<String>,
    /// Cap on the request head.
    pub max_head: usize,
}

/// An HTTP request head (any method, any headers), before WebSocket validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpHead {
    pub method: String,
    /// Request target: path and query, as sent.
    pub resource: String,
    pub minor: u8,
    pub headers: Vec<(String, String)>,
    /// The request head as received (for reports).
    pub raw: Vec<u8>,
}

impl HttpHead {
    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.resource.split('?').next().unwrap_or("/")
    }

    /// Query parameters, percent-decoded, in order (a key may repeat).
    pub fn query(&self) -> Vec<(String, String)> {
        match self.resource.split_once('?') {
            Some((_, q)) => url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect(),
            None => Vec::new(),
        }
    }

    /// Does it ask for a WebSocket upgrade at all?
    pub fn is_upgrade(&self) -> bool {
        all(&self.headers, "upgrade").any(|v| has_token(v, "websocket"))
    }
}

/// Parse an HTTP request head. `Ok(None)`: incomplete, read more.
pub fn parse_head(
    buf: &[u8],
    max_head: usize,
) -> Result<Option<(HttpHead, usize)>, HandshakeError> {
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut hs);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > max_head {
                return Err(HandshakeError::HeadTooLarge { limit: max_head });
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HandshakeError::HeadTooLarge { limit: max_head })
        }
        Err(e) => return Err(HandshakeError::Malformed(e.to_string())),
    };
    if n > max_head {
        return Err(HandshakeError::HeadTooLarge { limit: max_head });
    }
    let mut headers = Vec::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let v = std::str::from_utf8(h.value)
            .map_err(|_| HandshakeError::Malformed(format!("header {} is not UTF-8", h.name)))?;
        headers.push((h.name.to_string(), v.trim().to_string()));
    }
    let head = HttpHead {
        method: req.method.unwrap_or("").to_string(),
        resource: req.path.unwrap_or("/").to_string(),
        minor: req.version.unwrap_or(0),
        headers,
        raw: buf[..n].to_vec(),
    };
    Ok(Some((head, n)))
}

/// Check that a head is a valid WebSocket upgrade request (§4.2.1).
pub fn validate_upgrade(head: HttpHead) -> Result<Request, HandshakeError> {
    let headers = &head.headers;
    // §4.2.1: "An HTTP/1.1 or higher GET request"
    if head.method != "GET" {
        return Err(HandshakeError::MethodNotAllowed {
            method: head.method,
        });
    }
    if head.minor < 1 {
        return Err(HandshakeError::HttpVersion { minor: head.minor });
    }
    // "A |Host| header field containing the server's authority."
    let host = all(headers, "host")
        .next()
        .ok_or(HandshakeError::MissingHeader { name: "Host" })?
        .to_string();
    // "An |Upgrade| header field containing the value "websocket""
    if !all(headers, "upgrade").any(|v| has_token(v, "websocket")) {
        return Err(HandshakeError::NotWebSocketUpgrade);
    }
    // "A |Connection| header field that includes the token "Upgrade""
    if !all(headers, "connection").any(|v| has_token(v, "upgrade")) {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    // "A |Sec-WebSocket-Version| header field, with a value of 13." (§4.4: otherwise answer
    // 426 with the versions we support)
    let version =
        all(headers, "sec-websocket-version")
            .next()
            .ok_or(HandshakeError::MissingHeader {
                name: "Sec-WebSocket-Version",
            })?;
    if version.trim() != "13" {
        return Err(HandshakeError::UnsupportedVersion {
            version: version.to_string(),
        });
    }
    // "A |Sec-WebSocket-Key| header field with a base64-encoded value that, when decoded, is
    // 16 bytes in length."
    let key = all(headers, "sec-websocket-key")
        .next()
        .ok_or(HandshakeError::MissingHeader {
            name: "Sec-WebSocket-Key",
        })?
        .to_string();
    // §11.3.1: "The |Sec-WebSocket-Key| header field MUST NOT appear more than once in an
    // HTTP request."
    if all(headers, "sec-websocket-key").nth(1).is_some() {
        return Err(HandshakeError::DuplicateHeader {
            name: "Sec-WebSocket-Key",
        });
    }
    if !key_is_valid(&key) {
        return Err(HandshakeError::BadKey { key });
    }
    let origin = all(headers, "origin").next().map(str::to_string);
    let protocols = all(headers, "sec-websocket-protocol")
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    let extensions = parse_extensions(all(headers, "sec-websocket-extensions"))?;
    Ok(Request {
        head,
        host,
        key,
        origin,
        protocols,
        extensions,
    })
}

/// Parse and validate a request head. `Ok(None)`: incomplete, read more. On success returns the
/// request and the octets it took (anything after belongs to the WebSocket stream).
pub fn parse_request(
    buf: &[u8],
    max_head: usize,
) -> Result<Option<(Request, usize)>, HandshakeError> {
    match parse_head(buf, max_head)? {
        None => Ok(None),
        Some((head, n)) => Ok(Some((validate_upgrade(head)?, n))),
    }
}

/// The first protocol the client offers that we speak... in our order of preference.
pub fn select_protocol(offered: &[String], supported: &[String]) -> Option<String> {
    supported
        .iter()
        .find(|s| offered.iter().any(|o| o == *s))
        .cloned()
}

/// The 101 response.
pub fn accept_response(
    req: &Request,
    protocol: Option<&str>,
    extensions: Option<&str>,
    server_name: Option<&str>,
) -> Vec<u8> {
    let mut r = String::with_capacity(256);
    r.push_str("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
    if let Some(s) = server_name {
        r.push_str("Server: ");
        r.push_str(s);
        r.push_str("\r\n");
    }
    r.push_str("Sec-WebSocket-Accept: ");
    r.push_str(&accept_key(&req.key));
    r.push_str("\r\n");
    if let Some(p) = protocol {
        r.push_str("Sec-WebSocket-Protocol: ");
        r.push_str(p);
        r.push_str("\r\n");
    }
    if let Some(e) = extensions {
        r.push_str("Sec-WebSocket-Extensions: ");
        r.push_str(e);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// A plain HTTP response (errors, status pages). The connection is closed after it.
pub fn http_response(
    status: u16,
    reason: &str,
    content_type: &str,
    body: &[u8],
    extra: &[(&str, &str)],
    server_name: Option<&str>,
) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    if let Some(s) = server_name {
        r.push_str(&format!("Server: {s}\r\n"));
    }
    for (k, v) in extra {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    let mut v = r.into_bytes();
    v.extend_from_slice(body);
    v
}

/// The error response for a failed handshake: a status and a one-line text body naming the
/// problem.
pub fn error_response(err: &HandshakeError, server_name: Option<&str>) -> Vec<u8> {
    let status = err.status();
    let reason = match status {
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        _ => "Bad Request",
    };
    let body = format!("{err}\n");
    let mut extra: Vec<(&str, &str)> = Vec::new();
    if status == 426 {
        extra.push(("Sec-WebSocket-Version", "13"));
        extra.push(("Upgrade", "websocket"));
    }
    if status == 405 {
        extra.push(("Allow", "GET"));
    }
    http_response(
        status,
        reason,
        "text/plain; charset=utf-8",
        body.as_bytes(),
        &extra,
        server_name,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "GET /chat?agent=a%20b&case=3 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn rfc_request() {
        let (r, n) = parse_request(GOOD.as_bytes(), 16384).unwrap().unwrap();
        assert_eq!(n, GOOD.len());
        assert_eq!(r.path(), "/chat");
        assert_eq!(
            r.query(),
            vec![
                ("agent".to_string(), "a b".to_string()),
                ("case".to_string(), "3".to_string())
            ]
        );
        assert_eq!(r.protocols, vec!["chat", "superchat"]);
        let resp =
            String::from_utf8(accept_response(&r, Some("chat"), None, Some("wstest"))).unwrap();
        assert!(resp.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(resp.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(resp.contains("Sec-WebSocket-Protocol: chat\r\n"));
        assert_eq!(
            select_protocol(&r.protocols, &["superchat".into(), "chat".into()]),
            Some("superchat".into())
        );
    }

    #[test]
    fn partial_then_complete_at_every_split() {
        for cut in 0..GOOD.len() {
            assert_eq!(
                parse_request(&GOOD.as_bytes()[..cut], 16384).unwrap(),
                None,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn each_check_has_its_status() {
        let cases: &[(&str, &str, u16)] = &[
            ("GET ", "POST ", 405),
            ("HTTP/1.1\r\nHost", "HTTP/1.0\r\nHost", 400),
            ("Host: server.example.com\r\n", "", 400),
            ("Upgrade: websocket", "Upgrade: h2c", 426),
            ("keep-alive, Upgrade", "keep-alive", 400),
            ("Version: 13", "Version: 8", 426),
            ("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=", 400),
            (
                "Origin:",
                "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nOrigin:",
                400,
            ),
        ];
        for (from, to, status) in cases {
            let req = GOOD.replacen(from, to, 1);
            let e = parse_request(req.as_bytes(), 16384).unwrap_err();
            assert_eq!(e.status(), *status, "{from} -> {to}: {e}");
        }
        let e =
            parse_request(GOOD.replace("Version: 13", "Version: 8").as_bytes(), 16384).unwrap_err();
        let resp = String::from_utf8(error_response(&e, None)).unwrap();
        assert!(resp.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
        assert!(resp.contains("Sec-WebSocket-Version: 13\r\n"));
    }

    #[test]
    fn oversized_and_garbage() {
        let big = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n", "a".repeat(20000));
        assert_eq!(
            parse_request(big.as_bytes(), 16384).unwrap_err().status(),
            431
        );
        let many: String = (0..100).map(|i| format!("X-{i}: v\r\n")).collect();
        let req = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(
            parse_request(req.as_bytes(), 16384).unwrap_err().status(),
            431
        );
        assert_eq!(
            parse_request(b"\x16\x03\x01\x02\x00garbage\r\n\r\n", 16384)
                .unwrap_err()
                .status(),
            400
        );
    }
}
