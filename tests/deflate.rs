//! permessage-deflate (RFC 7692) over real loopback sockets: negotiation by the testee server,
//! compressed echoes both ways, the rules a compressed stream must follow (each violation
//! fails the connection with its code and the server goes on serving), our clients' offers,
//! and the fuzzer's compression cases (groups 12 and 13) against our testee.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::*;
use wstest_engine::proto::deflate::{DeflateConfig, Deflater, Inflater};
use wstest_engine::proto::frame::RawFrame;
use wstest_engine::runtime::Shutdown;
use wstest_modes::common::ClientOptions;
use wstest_modes::echo::{self, EchoClientConfig, MessageSource};
use wstest_modes::fuzzing::client::{run, FuzzingClientConfig};

const OFFER: &str = "permessage-deflate; client_max_window_bits";

fn compressed(c: &mut Deflater, data: &[u8]) -> Vec<u8> {
    let mut z = Vec::new();
    c.compress(data, &mut z);
    z
}

fn inflate(d: &mut Inflater, z: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    d.push(z, &mut out, 0)
        .expect("valid compressed data from the server");
    d.finish(&mut out, 0)
        .expect("valid compressed data from the server");
    out
}

#[test]
fn testee_negotiates_and_echoes_compressed_messages() {
    let server = Server::testee();
    let mut c = RawClient::connect_offering(server.addr(), OFFER);
    assert_eq!(
        c.response_header("Sec-WebSocket-Extensions").as_deref(),
        Some("permessage-deflate")
    );
    let mut tx = Deflater::new(15, false, 6);
    let mut rx = Inflater::new(15, false);
    let long = "compress me ".repeat(5000);
    for (i, text) in ["Hello", long.as_str(), "", "Hello", "κόσμε"]
        .iter()
        .enumerate()
    {
        let z = compressed(&mut tx, text.as_bytes());
        if i == 1 {
            // The same message in three frames: RSV1 on the first only.
            let (a, rest) = z.split_at(z.len() / 3);
            let (b, d) = rest.split_at(rest.len() / 2);
            c.send(&masked(TEXT, false, a).rsv(4));
            c.send(&masked(CONTINUATION, false, b));
            c.send(&masked(CONTINUATION, true, d));
        } else {
            c.send(&masked(TEXT, true, &z).rsv(4));
        }
        let f = c.expect_frame();
        assert_eq!((f.opcode, f.rsv, f.fin), (TEXT, 4, true), "message {i}");
        assert_eq!(inflate(&mut rx, &f.payload), text.as_bytes(), "message {i}");
    }
    // Binary, and an uncompressed message in between (RSV1 is per message).
    c.send(&masked(BINARY, true, &[1, 2, 3]));
    let f = c.expect_frame();
    assert_eq!(inflate(&mut rx, &f.payload), [1, 2, 3]);
    c.close_cleanly();
}

#[test]
fn negotiated_parameters_are_honoured() {
    let server = Server::testee();
    let mut c = RawClient::connect_offering(
        server.addr(),
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9",
    );
    assert_eq!(
        c.response_header("Sec-WebSocket-Extensions").as_deref(),
        Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9")
    );
    // No context on the server's side: each answer inflates with a fresh inflater.
    let mut tx = Deflater::new(9, false, 6);
    for _ in 0..3 {
        c.send(&masked(TEXT, true, &compressed(&mut tx, b"again and again")).rsv(4));
        let f = c.expect_frame();
        assert_eq!(
            inflate(&mut Inflater::new(10, true), &f.payload),
            b"again and again"
        );
    }
    c.close_cleanly();
    // An offer with an invalid parameter is declined: no extension, plain frames.
    let mut c = RawClient::connect_offering(
        server.addr(),
        "permessage-deflate; server_max_window_bits=7",
    );
    assert_eq!(c.response_header("Sec-WebSocket-Extensions"), None);
    c.send_text("plain");
    c.expect_text("plain");
    c.close_cleanly();
    // A server with deflate off never accepts.
    let off = Server::testee_with(|o| o.deflate = None);
    let c = RawClient::connect_offering(off.addr(), OFFER);
    assert_eq!(c.response_header("Sec-WebSocket-Extensions"), None);
    c.close_cleanly();
}

#[test]
fn compressed_stream_violations_fail_with_their_codes() {
    let server = Server::testee_with(|o| o.max_message_size = 1 << 20);
    let mut tx = Deflater::new(15, true, 9);
    let bomb = compressed(&mut tx, &vec![0u8; 8 << 20]);
    assert!(bomb.len() < 20_000);
    let hello = compressed(&mut tx, b"Hello");
    let cases: Vec<(&str, Vec<RawFrame>, u16)> = vec![
        (
            "RSV1 on a continuation frame",
            vec![
                masked(TEXT, false, &hello[..2]).rsv(4),
                masked(CONTINUATION, true, &hello[2..]).rsv(4),
            ],
            1002,
        ),
        (
            "RSV1 on a ping",
            vec![masked(PING, true, b"x").rsv(4)],
            1002,
        ),
        (
            "RSV2 on a compressed frame",
            vec![masked(TEXT, true, &hello).rsv(6)],
            1002,
        ),
        (
            "corrupt deflate data",
            vec![masked(BINARY, true, &[0xff, 0xff, 0xff, 0xff]).rsv(4)],
            1007,
        ),
        (
            "8 MiB inflated past a 1 MiB limit",
            vec![masked(BINARY, true, &bomb).rsv(4)],
            1009,
        ),
        (
            "compressed invalid UTF-8",
            vec![masked(
                TEXT,
                true,
                &compressed(
                    &mut tx,
                    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80",
                ),
            )
            .rsv(4)],
            1007,
        ),
    ];
    for (name, frames, code) in &cases {
        eprintln!("case: {name}");
        let mut c = RawClient::connect_offering(server.addr(), OFFER);
        for f in frames {
            c.send(f);
        }
        c.expect_failed(*code);
    }
    // Without negotiation, RSV1 is a protocol error.
    let mut c = RawClient::connect(server.addr());
    c.send(&masked(TEXT, true, &hello).rsv(4));
    c.expect_failed(1002);
    assert_serves(server.addr());
    let report = server.finish();
    assert_eq!(report.stats.protocol_errors, cases.len() as u64 + 1);
}

fn echo_client(
    url: &str,
    deflate: Option<DeflateConfig>,
) -> Result<echo::EchoClientReport, wstest_modes::ModeError> {
    echo::run_client(
        &EchoClientConfig {
            url: Some(url.to_string()),
            source: MessageSource::Fixed {
                text: "deflate me, deflate me, deflate me".into(),
                count: 20,
            },
            binary: false,
            client: ClientOptions {
                deflate,
                ..Default::default()
            },
            print: false,
        },
        Shutdown::new(),
    )
}

#[test]
fn our_client_offers_and_compresses() {
    // The same messages without compression, for comparison.
    let plain = Server::testee();
    let r = echo_client(&plain.url(), None).expect("echo client");
    assert_eq!((r.sent, r.received, r.mismatched), (20, 20, 0));
    let plain_octets = plain.finish().stats.rx_octets;
    let server = Server::testee();
    for cfg in [
        DeflateConfig::default(),
        DeflateConfig {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: Some(9),
            client_max_window_bits: Some(8),
            ..DeflateConfig::default()
        },
    ] {
        let r = echo_client(&server.url(), Some(cfg)).expect("echo client");
        assert_eq!((r.sent, r.received, r.mismatched), (20, 20, 0));
    }
    let stats = server.finish().stats;
    // The first client compressed (the second, limited to a window of 8, sends plain), so
    // the server read fewer octets than from two uncompressed clients.
    assert!(
        stats.rx_octets < 2 * plain_octets,
        "{stats:?} vs {plain_octets} plain"
    );
}

/// A server that answers the handshake with the given Sec-WebSocket-Extensions value.
fn fake_server(extensions: &'static str) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        let req = String::from_utf8_lossy(&buf[..n]).to_string();
        let key = req
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap()
            .trim()
            .to_string();
        let accept = wstest_engine::proto::handshake::accept_key(&key);
        let _ = write!(s, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Extensions: {extensions}\r\n\r\n");
        let _ = s.read(&mut buf);
    });
    format!("ws://{addr}")
}

#[test]
fn bad_extension_responses_fail_the_handshake() {
    for bad in [
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate, permessage-deflate",
        "permessage-deflate; mystery",
    ] {
        let url = fake_server(bad);
        let e = echo_client(&url, Some(DeflateConfig::default())).expect_err(bad);
        let msg = e.to_string();
        assert!(
            msg.contains("permessage-deflate") || msg.contains("extension"),
            "{bad}: {msg}"
        );
    }
}

/// The per-case JSON report an index entry points to.
fn case_report(dir: &std::path::Path, entry: &serde_json::Value) -> serde_json::Value {
    let file = dir
        .join("reports")
        .join(entry["reportfile"].as_str().unwrap());
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

fn run_fuzzer(dir: &std::path::Path, url: &str, cases: &[&str]) -> serde_json::Value {
    let spec = dir.join("spec.json");
    let outdir = dir.join("reports");
    std::fs::write(
        &spec,
        serde_json::json!({
            "outdir": outdir,
            "servers": [{"agent": "testee", "url": url}],
            "cases": cases,
        })
        .to_string(),
    )
    .unwrap();
    let cfg = FuzzingClientConfig {
        spec,
        url: None,
        runtime: Default::default(),
        client: ClientOptions::default(),
        progress: false,
        max_message_size: None,
        wait_for: None,
        checks: Default::default(),
    };
    run(&cfg, Shutdown::new()).expect("fuzzing run");
    let text = std::fs::read_to_string(outdir.join("index.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn fuzzer_compression_cases_pass_on_our_testee() {
    let server = Server::testee();
    let dir = tempfile::tempdir().unwrap();
    // Exact ids: a pattern with `*` matches by prefix, as in the original ("13.*.1" would
    // also take 13.1.10 to 13.1.18).
    let cases = [
        "12.1.1", "12.2.2", "12.3.11", "12.4.3", "12.5.1", "13.1.1", "13.2.1", "13.3.1", "13.4.1",
        "13.5.1", "13.6.1", "13.7.1",
    ];
    let index = run_fuzzer(dir.path(), &server.url(), &cases);
    let results = index["testee"].as_object().unwrap();
    assert_eq!(results.len(), 5 + 7);
    for (id, r) in results {
        assert_eq!(
            (r["behavior"].as_str(), r["behaviorClose"].as_str()),
            (Some("OK"), Some("OK")),
            "{id}"
        );
        let report = case_report(dir.path(), r);
        assert_eq!(report["reportCompressionRatio"], true, "{id}");
        let t = &report["trafficStats"];
        assert_eq!(t["outgoingWebSocketMessages"], 1000, "{id}");
        assert_eq!(t["incomingWebSocketMessages"], 1000, "{id}");
        assert!(
            t["outgoingCompressionRatio"].as_f64().unwrap() > 0.0,
            "{id}"
        );
        // The offer and answer went over the wire.
        assert!(
            report["httpResponse"]
                .as_str()
                .unwrap()
                .contains("permessage-deflate"),
            "{id}"
        );
    }
    // Text families compress: the JSON records shrink to well under their size.
    let r = &results["12.1.1"];
    let report = case_report(dir.path(), r);
    assert!(
        report["trafficStats"]["incomingCompressionRatio"]
            .as_f64()
            .unwrap()
            < 0.9
    );
    // The index page shows time and ratios for them.
    let html = std::fs::read_to_string(dir.path().join("reports/index.html")).unwrap();
    assert!(html.contains(" ms ["), "ratios in the table");
}

#[test]
fn fuzzer_reports_unimplemented_without_deflate() {
    let server = Server::testee_with(|o| o.deflate = None);
    let dir = tempfile::tempdir().unwrap();
    let index = run_fuzzer(dir.path(), &server.url(), &["12.1.1", "13.7.18"]);
    for (id, r) in index["testee"].as_object().unwrap() {
        assert_eq!(
            (r["behavior"].as_str(), r["behaviorClose"].as_str()),
            (Some("UNIMPLEMENTED"), Some("OK")),
            "{id}"
        );
    }
}
