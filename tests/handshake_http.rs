//! The opening handshake over HTTP (RFC 6455 §4.2): good requests get 101 with the right
//! Sec-WebSocket-Accept; bad ones get the right HTTP status with a one-line body naming the
//! problem, the connection is closed, and the server goes on serving good clients.

mod common;

use std::io::Write;

use common::*;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn good_request() -> String {
    format!(
        "GET /chat?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// Send `request`; the server must answer `status` and close the connection; then a good
/// client must still be served.
fn expect_status(server: &Server, name: &str, request: &[u8], status: u16) -> HttpReply {
    eprintln!("case: {name}");
    let reply = http_exchange(server.addr(), request)
        .unwrap_or_else(|| panic!("{name}: the server closed without an HTTP answer"));
    assert_eq!(reply.status, status, "{name}: {reply:?}");
    assert_eq!(
        reply.header("Connection"),
        Some("close"),
        "{name}: {reply:?}"
    );
    let len: usize = reply
        .header("Content-Length")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name}: no Content-Length: {reply:?}"));
    assert_eq!(len, reply.body.len(), "{name}: body length");
    assert_eq!(
        reply.body.trim_end().lines().count(),
        1,
        "{name}: the body should be one line: {:?}",
        reply.body
    );
    assert_serves(server.addr());
    reply
}

#[test]
fn good_request_gets_101_with_the_accept_key() {
    let server = Server::testee();
    let head = expect_status_101(&server, good_request().as_bytes());
    assert!(
        head.contains(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n")),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase().contains("upgrade: websocket\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!(
            "Server: {}\r\n",
            wstest_modes::testee::testee_name()
        )),
        "{head}"
    );
    // No subprotocol and no extension were offered or chosen.
    assert!(
        !head.to_ascii_lowercase().contains("sec-websocket-protocol"),
        "{head}"
    );
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("sec-websocket-extensions"),
        "{head}"
    );
}

#[test]
fn ident_sets_the_server_header() {
    let server = Server::testee_with(|o| o.ident = Some("my-testee/9".into()));
    let c = RawClient::connect(server.addr());
    assert!(
        c.response.contains("Server: my-testee/9\r\n"),
        "{}",
        c.response
    );
    c.close_cleanly();
}

#[test]
fn header_names_and_tokens_are_case_insensitive() {
    let server = Server::testee();
    let req = format!(
        "GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nUPGRADE: WebSocket\r\nconnection: keep-alive, UPGRADE\r\nsec-websocket-key: {KEY}\r\nsec-websocket-version: 13\r\n\r\n"
    );
    let reply = expect_status_101(&server, req.as_bytes());
    assert!(reply.contains(ACCEPT), "{reply}");
}

/// Write `req` and read the response head; it must be a 101.
fn expect_status_101(server: &Server, req: &[u8]) -> String {
    let mut s = tcp(server.addr());
    s.write_all(req).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            read_some(&mut s, &mut byte).unwrap(),
            1,
            "closed: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    head
}

#[test]
fn handshake_written_one_byte_at_a_time() {
    let server = Server::testee();
    let mut s = tcp(server.addr());
    let hs = wstest_engine::proto::handshake::ClientHandshake::new(
        wstest_engine::proto::handshake::ClientOptions::new(server.addr().to_string(), "/"),
        [9; 16],
    );
    let req = hs.request();
    let (last, head) = req.split_last().unwrap();
    for b in head {
        s.write_all(&[*b]).unwrap();
    }
    let mut c = RawClient::handshake_over(s, &hs, &[*last]);
    c.send_text("slow but fine");
    c.expect_text("slow but fine");
    c.close_cleanly();
}

#[test]
fn unsupported_version_gets_426_naming_version_13() {
    let server = Server::testee();
    let reply = expect_status(
        &server,
        "version 8",
        good_request()
            .replace("Version: 13", "Version: 8")
            .as_bytes(),
        426,
    );
    assert_eq!(
        reply.header("Sec-WebSocket-Version"),
        Some("13"),
        "{reply:?}"
    );
    assert!(
        reply.body.contains('8'),
        "the body names the version sent: {:?}",
        reply.body
    );
}

#[test]
fn missing_upgrade_gets_426() {
    let server = Server::testee();
    let no_upgrade = good_request().replace("Upgrade: websocket\r\n", "");
    let reply = expect_status(&server, "no Upgrade header", no_upgrade.as_bytes(), 426);
    assert_eq!(reply.header("Upgrade"), Some("websocket"), "{reply:?}");
    expect_status(
        &server,
        "Upgrade: h2c",
        good_request()
            .replace("Upgrade: websocket", "Upgrade: h2c")
            .as_bytes(),
        426,
    );
}

#[test]
fn missing_connection_upgrade_gets_400() {
    let server = Server::testee();
    let reply = expect_status(
        &server,
        "Connection: keep-alive",
        good_request()
            .replace("keep-alive, Upgrade", "keep-alive")
            .as_bytes(),
        400,
    );
    assert!(reply.body.contains("Connection"), "{reply:?}");
    expect_status(
        &server,
        "no Connection header",
        good_request()
            .replace("Connection: keep-alive, Upgrade\r\n", "")
            .as_bytes(),
        400,
    );
}

#[test]
fn bad_key_gets_400() {
    let server = Server::testee();
    for (name, key) in [
        ("key of 5 octets", "c2hvcnQ="),
        ("key not base64", "not base64 at all!"),
        ("key of 17 octets", "AAAAAAAAAAAAAAAAAAAAAAA="),
    ] {
        let reply = expect_status(
            &server,
            name,
            good_request().replace(KEY, key).as_bytes(),
            400,
        );
        assert!(
            reply.body.contains("Sec-WebSocket-Key"),
            "{name}: {reply:?}"
        );
    }
    expect_status(
        &server,
        "no key",
        good_request()
            .replace(&format!("Sec-WebSocket-Key: {KEY}\r\n"), "")
            .as_bytes(),
        400,
    );
}

#[test]
fn other_missing_parts_get_400() {
    let server = Server::testee();
    expect_status(
        &server,
        "no Host",
        good_request().replace("Host: 127.0.0.1\r\n", "").as_bytes(),
        400,
    );
    expect_status(
        &server,
        "no version",
        good_request()
            .replace("Sec-WebSocket-Version: 13\r\n", "")
            .as_bytes(),
        400,
    );
    expect_status(
        &server,
        "HTTP/1.0",
        good_request().replace("HTTP/1.1", "HTTP/1.0").as_bytes(),
        400,
    );
}

#[test]
fn post_gets_405() {
    let server = Server::testee();
    let reply = expect_status(
        &server,
        "POST",
        good_request().replacen("GET", "POST", 1).as_bytes(),
        405,
    );
    assert_eq!(reply.header("Allow"), Some("GET"), "{reply:?}");
    assert!(reply.body.contains("POST"), "{reply:?}");
}

#[test]
fn oversized_head_gets_431() {
    let server = Server::testee();
    // 16 KiB + 1 octet of head with no end in sight: exactly one octet over the limit, all of
    // which the server reads before it answers.
    let mut req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ".to_vec();
    req.resize(16 * 1024 + 1, b'a');
    expect_status(&server, "head of 16 KiB + 1", &req, 431);
}

#[test]
fn too_many_headers_get_431() {
    let server = Server::testee();
    let extra: String = (0..70).map(|i| format!("X-H{i}: v\r\n")).collect();
    let req = good_request().replace("\r\n\r\n", &format!("\r\n{extra}\r\n"));
    expect_status(&server, "70 header lines", req.as_bytes(), 431);
}

#[test]
fn head_just_under_the_limit_is_accepted() {
    let server = Server::testee();
    let pad = "p".repeat(15 * 1024);
    let req = good_request().replace("\r\n\r\n", &format!("\r\nX-Pad: {pad}\r\n\r\n"));
    expect_status_101(&server, req.as_bytes());
    assert_serves(server.addr());
}

#[test]
fn garbage_instead_of_http_gets_400_or_is_closed() {
    let server = Server::testee();
    // The start of a TLS 1.2 ClientHello, as a TLS client would send to a plain server.
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03,
    ];
    hello.extend((0..32u8).map(|i| i.wrapping_mul(37)));
    hello.extend_from_slice(&[0x00, 0x00, 0x20, 0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e]);
    let cases: [(&str, Vec<u8>); 4] = [
        ("TLS ClientHello", hello),
        (
            "binary junk",
            (0..200u32).map(|i| (i * 131 % 256) as u8).collect(),
        ),
        (
            "HTTP/2 preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
        ),
        (
            "header without colon",
            b"GET / HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n".to_vec(),
        ),
    ];
    for (name, bytes) in cases {
        eprintln!("case: {name}");
        if let Some(reply) = http_exchange(server.addr(), &bytes) {
            assert_eq!(reply.status, 400, "{name}: {reply:?}");
        }
        assert_serves(server.addr());
    }
    let stats = server.finish().stats;
    assert_eq!(stats.handshakes_failed, 4, "{stats:?}");
    assert_eq!(stats.connections, 4, "the good clients: {stats:?}");
}

#[test]
fn websocket_data_in_the_same_packet_as_the_request() {
    let server = Server::testee();
    let mut wire = masked(TEXT, true, b"right behind the request").to_bytes();
    masked(PING, true, b"and a ping").encode(&mut wire);
    let mut c = RawClient::connect_sending(server.addr(), &wire);
    c.expect_text("right behind the request");
    c.expect(PONG, b"and a ping");
    c.close_cleanly();
}
