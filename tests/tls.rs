//! wss://: a self-signed certificate for "localhost" made with rcgen; testee and echo servers
//! serving it; the echo client trusting it with a CA file, refusing it without one, and
//! accepting anything with `insecure`.

mod common;

use std::path::PathBuf;

use common::*;
use wstest_engine::runtime::Shutdown;
use wstest_modes::common::ClientOptions;
use wstest_modes::echo::{self, EchoClientConfig, EchoClientReport, MessageSource};
use wstest_modes::{testee, ModeError};

/// A key and certificate for `names`, written as PEM files into a temporary directory.
struct Pki {
    _dir: tempfile::TempDir,
    key: PathBuf,
    cert: PathBuf,
}

fn pki(names: &[&str]) -> Pki {
    let ck =
        rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("rcgen");
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("key.pem");
    let cert = dir.path().join("cert.pem");
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    Pki {
        _dir: dir,
        key,
        cert,
    }
}

/// A wss testee server on localhost (which resolves to the same address for the server and
/// the client).
fn tls_testee(p: &Pki) -> Server {
    Server::testee_with(|o| {
        o.url = "wss://localhost:0".into();
        o.key = Some(p.key.clone());
        o.cert = Some(p.cert.clone());
    })
}

fn echo_client(
    url: &str,
    text: &str,
    count: u64,
    binary: bool,
    client: ClientOptions,
) -> Result<EchoClientReport, ModeError> {
    let cfg = EchoClientConfig {
        url: Some(url.to_string()),
        source: MessageSource::Fixed {
            text: text.into(),
            count,
        },
        binary,
        client,
        print: false,
    };
    echo::run_client(&cfg, Shutdown::new())
}

fn trusting(p: &Pki) -> ClientOptions {
    ClientOptions {
        cacert: Some(p.cert.clone()),
        ..Default::default()
    }
}

fn assert_all_echoed(r: &EchoClientReport, count: u64) {
    assert_eq!(
        (r.sent, r.received, r.mismatched),
        (count, count, 0),
        "{r:?}"
    );
    assert!(r.close.was_clean, "{:?}", r.close);
    assert_eq!(r.close.remote_code, Some(1000), "{:?}", r.close);
}

#[test]
fn echo_over_wss_with_a_trusted_ca_file() {
    let p = pki(&["localhost"]);
    let server = tls_testee(&p);
    assert!(
        server.url().starts_with("wss://localhost:"),
        "{}",
        server.url()
    );
    let r = echo_client(&server.url(), "hello over TLS", 5, false, trusting(&p))
        .expect("text echo over wss");
    assert_all_echoed(&r, 5);
    let r = echo_client(&server.url(), "binary over TLS", 3, true, trusting(&p))
        .expect("binary echo over wss");
    assert_all_echoed(&r, 3);
    let stats = server.finish().stats;
    assert_eq!((stats.connections, stats.tls_failed), (2, 0), "{stats:?}");
    assert_eq!(stats.rx_messages, 8, "{stats:?}");
}

#[test]
fn echo_server_mode_over_wss() {
    let p = pki(&["localhost"]);
    let mut o = server_options("wss://localhost:0");
    o.key = Some(p.key.clone());
    o.cert = Some(p.cert.clone());
    let server = Server::from_running(
        echo::start_echo_server(&o, "echoserver", &echo::echo_server_name(), Shutdown::new())
            .expect("echo server starts"),
    );
    let r = echo_client(&server.url(), "echo mode", 2, false, trusting(&p)).expect("echo over wss");
    assert_all_echoed(&r, 2);
}

#[test]
fn untrusted_certificate_is_refused() {
    let p = pki(&["localhost"]);
    let server = tls_testee(&p);
    let err = echo_client(
        &server.url(),
        "must not arrive",
        1,
        false,
        ClientOptions::default(),
    )
    .expect_err("self-signed certificate must be refused");
    let msg = err.to_string();
    assert_eq!(err.exit_code(), 3, "{msg}");
    assert!(msg.contains("localhost"), "the error names the host: {msg}");
    // A different CA file does not help either.
    let other = pki(&["localhost"]);
    let err = echo_client(&server.url(), "must not arrive", 1, false, trusting(&other))
        .expect_err("certificate from another CA must be refused");
    assert_eq!(err.exit_code(), 3, "{err}");
    // The server counted the failed handshakes, echoed nothing, and still serves.
    let r = echo_client(&server.url(), "now trusted", 1, false, trusting(&p))
        .expect("echo with the right CA");
    assert_all_echoed(&r, 1);
    let stats = server.finish().stats;
    assert_eq!(stats.tls_failed, 2, "{stats:?}");
    assert_eq!(stats.rx_messages, 1, "{stats:?}");
}

#[test]
fn untrusted_certificate_error_says_why() {
    let p = pki(&["localhost"]);
    let server = tls_testee(&p);
    let err = echo_client(
        &server.url(),
        "must not arrive",
        1,
        false,
        ClientOptions::default(),
    )
    .expect_err("must be refused");
    let msg = err.to_string();
    // The user must learn that verification failed (rustls: "invalid peer certificate:
    // UnknownIssuer"), not only that some I/O failed.
    assert!(
        msg.to_ascii_lowercase().contains("certificate"),
        "the error says why: {msg}"
    );
}

#[test]
fn certificate_for_another_name_is_refused() {
    // The certificate names only "localhost"; connecting by IP address must fail even with
    // the CA trusted.
    let p = pki(&["localhost"]);
    let server = tls_testee(&p);
    let url = format!("wss://127.0.0.1:{}", server.addr().port());
    assert!(server.addr().ip().is_loopback());
    let err = echo_client(&url, "must not arrive", 1, false, trusting(&p))
        .expect_err("name mismatch must be refused");
    assert_eq!(err.exit_code(), 3, "{err}");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
}

#[test]
fn insecure_accepts_an_untrusted_certificate() {
    let p = pki(&["localhost"]);
    let server = tls_testee(&p);
    let r = echo_client(
        &server.url(),
        "trust me",
        3,
        false,
        ClientOptions {
            insecure: true,
            ..Default::default()
        },
    )
    .expect("insecure echo");
    assert_all_echoed(&r, 3);
    let r = echo_client(
        &server.url(),
        "binary, insecurely",
        2,
        true,
        ClientOptions {
            insecure: true,
            ..Default::default()
        },
    )
    .expect("insecure echo");
    assert_all_echoed(&r, 2);
}

#[test]
fn plain_client_on_a_tls_server_fails_and_the_server_goes_on() {
    let p = pki(&["localhost"]);
    let server = tls_testee(&p);
    // A plain-text WebSocket request where a ClientHello is expected.
    let req = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let mut s = tcp(server.addr());
    std::io::Write::write_all(&mut s, req).unwrap();
    let mut buf = Vec::new();
    let _ = std::io::Read::read_to_end(&mut s, &mut buf);
    assert!(
        !String::from_utf8_lossy(&buf).contains("101"),
        "no upgrade over plain text: {:?}",
        String::from_utf8_lossy(&buf)
    );
    let r = echo_client(
        &server.url(),
        "after the plain client",
        1,
        false,
        trusting(&p),
    )
    .expect("echo over wss");
    assert_all_echoed(&r, 1);
    assert_eq!(server.finish().stats.tls_failed, 1);
}

#[test]
fn tls_configuration_errors_are_reported() {
    let p = pki(&["localhost"]);
    let start = |url: &str, key: Option<PathBuf>, cert: Option<PathBuf>| {
        let mut o = server_options(url);
        o.key = key;
        o.cert = cert;
        testee::start_server(&o, Shutdown::new()).map(|s| {
            s.stop();
            let _ = s.join();
        })
    };
    let e = start("wss://localhost:0", None, None).expect_err("wss without key and certificate");
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(e.to_string().contains("-k"), "{e}");
    let e = start(
        "ws://localhost:0",
        Some(p.key.clone()),
        Some(p.cert.clone()),
    )
    .expect_err("key and certificate with ws://");
    assert_eq!(e.exit_code(), 2, "{e}");
    let e =
        start("wss://localhost:0", Some(p.key.clone()), None).expect_err("key without certificate");
    assert_eq!(e.exit_code(), 2, "{e}");
    let missing = p.cert.with_file_name("missing.pem");
    let e = start(
        "wss://localhost:0",
        Some(p.key.clone()),
        Some(missing.clone()),
    )
    .expect_err("missing certificate file");
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(
        e.to_string().contains("missing.pem"),
        "the error names the file: {e}"
    );
    // Key and certificate swapped.
    let e = start(
        "wss://localhost:0",
        Some(p.cert.clone()),
        Some(p.key.clone()),
    )
    .expect_err("swapped key and certificate");
    assert_eq!(e.exit_code(), 2, "{e}");
}

#[test]
fn cli_echoclient_with_cacert() {
    let p = pki(&["localhost"]);
    let server = tls_testee(&p);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wstest"))
        .args([
            "-m",
            "echoclient",
            "-w",
            &server.url(),
            "--message",
            "via the CLI",
            "--count",
            "2",
            "--json",
        ])
        .arg("--cacert")
        .arg(&p.cert)
        .output()
        .expect("run wstest");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON report: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(v["sent"], 2, "{v}");
    assert_eq!(v["received"], 2, "{v}");
    assert_eq!(v["mismatched"], 0, "{v}");
    // Without --cacert the same command is refused: exit 3, one line naming the host.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wstest"))
        .args(["-m", "echoclient", "-w", &server.url(), "--message", "x"])
        .output()
        .expect("run wstest");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr: {stderr}");
    assert!(stderr.contains("localhost"), "{stderr}");
}
