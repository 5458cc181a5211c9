//! WAMP over real loopback sockets: our wampclient's checks against our wampserver (both
//! serializers), against a server that is no WAMP router, bad input on the wire (raw frames),
//! a callee that vanishes mid-call, the demo page, the load mode, and interop with the Python
//! `autobahn` library (skipped visibly where Python 3.11 or the install is unavailable).

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use common::*;
use wstest_engine::proto::handshake::{ClientHandshake, ClientOptions as HsOptions};
use wstest_engine::runtime::Shutdown;
use wstest_modes::common::ClientOptions;
use wstest_modes::wamp::{self, Serializer, WampClientConfig, WampServerConfig, WampServerReport};

const BIN: &str = env!("CARGO_BIN_EXE_wstest");

/// An in-process router, stopped when dropped.
struct Router {
    inner: Option<wamp::RunningWamp>,
}

impl Router {
    fn start(realms: Option<Vec<String>>, webport: u16) -> Router {
        Router::with_limits(realms, webport, Default::default())
    }

    fn with_limits(
        realms: Option<Vec<String>>,
        webport: u16,
        limits: wamp::server::Limits,
    ) -> Router {
        let cfg = WampServerConfig {
            server: server_options("ws://127.0.0.1:0"),
            webport,
            realms,
            limits,
        };
        Router {
            inner: Some(wamp::server::start(&cfg, Shutdown::new()).expect("router starts")),
        }
    }

    fn url(&self) -> String {
        self.inner.as_ref().unwrap().listening.url.clone()
    }

    fn addr(&self) -> SocketAddr {
        self.inner.as_ref().unwrap().listening.local_addr()
    }

    fn finish(mut self) -> WampServerReport {
        let r = self.inner.take().unwrap();
        r.stop();
        r.join().expect("router ends cleanly")
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        if let Some(r) = self.inner.take() {
            r.stop();
            let _ = r.join();
        }
    }
}

fn client_config(url: &str, ser: Serializer) -> WampClientConfig {
    let mut client = ClientOptions::default();
    client.runtime.threads = 1;
    WampClientConfig {
        url: url.into(),
        realm: "realm1".into(),
        serializer: ser,
        client,
        print: false,
    }
}

#[test]
fn wampclient_checks_pass_against_our_router_with_both_serializers() {
    let router = Router::start(None, 0);
    for ser in [Serializer::Json, Serializer::Msgpack] {
        let r = wamp::client::run(&client_config(&router.url(), ser), Shutdown::new()).unwrap();
        let lines: Vec<String> = r.checks.iter().map(|c| c.line()).collect();
        assert_eq!(r.checks.len(), wamp::client::CHECKS.len(), "{lines:?}");
        assert_eq!(r.failed(), 0, "{ser:?}: {lines:#?}");
    }
    let rep = router.finish();
    assert_eq!(rep.router.sessions, 4, "{rep:?}");
    assert_eq!(rep.router.aborts, 0, "{rep:?}");
    assert!(rep.router.events >= 4 && rep.router.calls >= 4, "{rep:?}");
}

#[test]
fn wampclient_binary_fails_against_a_plain_echo_server() {
    let echo = Server::from_running(
        wstest_modes::echo::start_echo_server(
            &server_options("ws://127.0.0.1:0"),
            "echoserver",
            "echo",
            Shutdown::new(),
        )
        .unwrap(),
    );
    let o = Command::new(BIN)
        .args(["-m", "wampclient", "-w", &echo.url(), "--threads", "1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "stdout {out}\nstderr {err}");
    assert!(
        out.contains("FAIL session.open: the server did not accept a WAMP subprotocol"),
        "{out}"
    );
    assert!(
        out.contains("FAIL rpc.call: not run: session.open failed"),
        "{out}"
    );
    assert!(err.contains("WAMP checks failed"), "{err}");
    // The load mode stops at once with the reason.
    let o = Command::new(BIN)
        .args([
            "-m",
            "wampclient",
            "-w",
            &echo.url(),
            "--load",
            "--duration",
            "1",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("did not accept a WAMP subprotocol"), "{err}");
}

#[test]
fn wampserver_and_wampclient_binaries_pass_with_msgpack() {
    let port = free_port();
    let server = Command::new(BIN)
        .args([
            "-m",
            "wampserver",
            "-w",
            &format!("ws://127.0.0.1:{port}"),
            "-u",
            "0",
            "--threads",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_port(port);
    let o = Command::new(BIN)
        .args([
            "-m",
            "wampclient",
            "-w",
            &format!("ws://127.0.0.1:{port}"),
            "--serializer",
            "msgpack",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    // SIGTERM: the router says GOODBYE to its sessions and exits 0 with its summary.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let so = server.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("PASS ")).count(),
        wamp::client::CHECKS.len(),
        "{out}"
    );
    assert!(out.contains("msgpack serializer"), "{out}");
    let sout = String::from_utf8_lossy(&so.stdout);
    assert!(
        so.status.success(),
        "{sout}\n{}",
        String::from_utf8_lossy(&so.stderr)
    );
    assert!(sout.contains("wampserver stopped: 2 sessions"), "{sout}");
}

/// A raw WebSocket client that offers `protocol`.
fn raw(addr: SocketAddr, protocol: &str) -> RawClient {
    raw_offering(addr, &[protocol])
}

const HELLO: &str =
    r#"[1,"realm1",{"roles":{"caller":{},"callee":{},"publisher":{},"subscriber":{}}}]"#;

fn json(f: &Frame) -> serde_json::Value {
    assert_eq!(f.opcode, TEXT, "{f:?}");
    serde_json::from_slice(&f.payload).unwrap_or_else(|e| panic!("{e}: {f:?}"))
}

/// The next frame is ABORT with `reason`, then the server closes the WebSocket.
fn expect_abort(c: &mut RawClient, reason: &str) -> serde_json::Value {
    let m = json(&c.expect_frame());
    assert_eq!(
        (m[0].as_u64(), m[2].as_str()),
        (Some(3), Some(reason)),
        "{m}"
    );
    c.expect_close(1000);
    m
}

/// ABORT with `reason` whose details' message contains `text`.
fn expect_abort_saying(c: &mut RawClient, reason: &str, text: &str) {
    let m = expect_abort(c, reason);
    let said = m[1]["message"].as_str().unwrap_or_default();
    assert!(said.contains(text), "{m}");
}

fn joined(addr: SocketAddr) -> RawClient {
    let mut c = raw(addr, "wamp.2.json");
    c.send_text(HELLO);
    let m = json(&c.expect_frame());
    assert_eq!(m[0], 2, "{m}");
    c
}

#[test]
fn bad_input_is_aborted_with_protocol_violation() {
    let router = Router::start(Some(vec!["realm1".into()]), 0);
    let a = router.addr();

    let mut c = raw(a, "wamp.2.json");
    c.send_text(r#"[48,1,{},"com.p"]"#);
    expect_abort_saying(&mut c, "wamp.error.protocol_violation", "CALL before HELLO");

    let mut c = joined(a);
    c.send_text(r#"[1000,1,2]"#);
    expect_abort_saying(
        &mut c,
        "wamp.error.protocol_violation",
        "unknown message type 1000",
    );

    let mut c = joined(a);
    c.send_text(r#"[16,1,{},"com.t""#);
    let m = expect_abort(&mut c, "wamp.error.protocol_violation");
    assert!(
        m[1]["message"].as_str().unwrap().contains("not valid json"),
        "{m}"
    );

    // JSON in a binary message: the wrong frame type for wamp.2.json.
    let mut c = joined(a);
    c.send_binary(br#"[16,1,{},"com.t"]"#);
    expect_abort(&mut c, "wamp.error.protocol_violation");

    let mut c = raw(a, "wamp.2.json");
    c.send_text(r#"[1,"realm2",{"roles":{"caller":{}}}]"#);
    expect_abort(&mut c, "wamp.error.no_such_realm");

    // Msgpack garbage.
    let mut c = raw(a, "wamp.2.msgpack");
    c.send_binary(&[0x93, 0x01, 0xc1]);
    let f = c.expect_frame();
    assert_eq!(f.opcode, BINARY, "{f:?}");
    c.expect_close(1000);

    // The router still serves.
    let mut c = joined(a);
    c.send_text(r#"[48,7,{},"com.nobody"]"#);
    let m = json(&c.expect_frame());
    assert_eq!(
        (m[0].as_u64(), m[1].as_u64(), m[2].as_u64()),
        (Some(8), Some(48), Some(7)),
        "{m}"
    );
    assert_eq!(m[4], "wamp.error.no_such_procedure");
    let rep = router.finish();
    assert_eq!(rep.router.aborts, 6, "{rep:?}");
}

#[test]
fn upgrades_without_a_wamp_subprotocol_are_refused() {
    let router = Router::start(None, 0);
    let mut s = tcp(router.addr());
    let hs = ClientHandshake::new(
        HsOptions::new(router.addr().to_string(), "/"),
        *b"integration-test",
    );
    s.write_all(&hs.request()).unwrap();
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let resp = String::from_utf8_lossy(&resp);
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(resp.contains("wamp.2.json or wamp.2.msgpack"), "{resp}");
    // Both offered: the client's order decides.
    let c = raw_offering(router.addr(), &["wamp.2.msgpack", "wamp.2.json"]);
    assert!(
        c.response
            .contains("Sec-WebSocket-Protocol: wamp.2.msgpack"),
        "{}",
        c.response
    );
}

fn raw_offering(addr: SocketAddr, protocols: &[&str]) -> RawClient {
    let mut o = HsOptions::new(addr.to_string(), "/");
    o.protocols = protocols.iter().map(|p| p.to_string()).collect();
    let hs = ClientHandshake::new(o, *b"integration-test");
    RawClient::handshake_over(tcp(addr), &hs, &hs.request())
}

#[test]
fn duplicate_registration_and_a_callee_that_vanishes_mid_call() {
    let router = Router::start(None, 0);
    let a = router.addr();
    let mut callee = joined(a);
    let mut caller = joined(a);
    callee.send_text(r#"[64,1,{},"com.slow"]"#);
    assert_eq!(json(&callee.expect_frame())[0], 65);
    caller.send_text(r#"[64,1,{},"com.slow"]"#);
    let m = json(&caller.expect_frame());
    assert_eq!(
        (m[0].as_u64(), m[1].as_u64(), m[4].as_str()),
        (
            Some(8),
            Some(64),
            Some("wamp.error.procedure_already_exists")
        ),
        "{m}"
    );
    caller.send_text(r#"[48,2,{},"com.slow",[1]]"#);
    let inv = json(&callee.expect_frame());
    assert_eq!(inv[0], 68, "{inv}");
    // The callee's TCP connection goes away without a word.
    drop(callee);
    let m = json(&caller.expect_frame());
    assert_eq!(
        (m[0].as_u64(), m[1].as_u64(), m[2].as_u64()),
        (Some(8), Some(48), Some(2)),
        "{m}"
    );
    assert_eq!(m[4], "wamp.error.canceled", "{m}");
    // Its registration is gone with it.
    caller.send_text(r#"[64,3,{},"com.slow"]"#);
    assert_eq!(json(&caller.expect_frame())[0], 65);
}

#[test]
fn demo_page_is_served_on_the_web_port() {
    let port = free_port();
    let router = Router::start(None, port);
    let mut s = tcp(SocketAddr::from(([127, 0, 0, 1], port)));
    s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let resp = String::from_utf8_lossy(&resp);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        resp.contains("new WebSocket(url, [\"wamp.2.json\"])"),
        "{resp}"
    );
    assert!(
        resp.contains(&format!(":{}/\"", router.addr().port())),
        "the page points at the router's port"
    );
    assert!(!resp.contains("<script src"), "no external scripts");
}

#[test]
fn load_mode_measures_calls_and_events() {
    let router = Router::start(None, 0);
    let load = wamp::LoadConfig {
        clients: 2,
        count: Some(200),
        duration: std::time::Duration::ZERO,
    };
    for ser in [Serializer::Json, Serializer::Msgpack] {
        let r =
            wamp::load::run(&client_config(&router.url(), ser), &load, Shutdown::new()).unwrap();
        assert_eq!(r.calls.count, 400, "{r:?}");
        assert_eq!(r.publishes, 400, "{r:?}");
        assert_eq!(
            r.events.count, 400,
            "every publication reached the subscriber: {r:?}"
        );
        let l = &r.calls.latency;
        assert!(
            l.min_us > 0.0
                && l.min_us <= l.median_us
                && l.median_us <= l.p99_us
                && l.p99_us <= l.max_us,
            "{r:?}"
        );
        let tsv = r.tsv();
        let lines: Vec<&str> = tsv.lines().collect();
        assert_eq!(lines[0], wamp::load::TSV_HEADER);
        assert!(
            lines[1].starts_with("call\t400\t") && lines[2].starts_with("publish_event\t400\t"),
            "{tsv}"
        );
    }
}

/// A Python 3.11 virtual environment at `$var` (default `default`) with `packages` installed
/// (made on first use), once `ready(venv)` holds; or why there is none.
fn python_venv(
    var: &str,
    default: &str,
    packages: &[&str],
    ready: impl Fn(&std::path::Path) -> bool,
) -> Result<std::path::PathBuf, String> {
    let venv = std::path::PathBuf::from(std::env::var(var).unwrap_or_else(|_| default.into()));
    if ready(&venv) {
        return Ok(venv);
    }
    let py = venv.join("bin/python");
    if !py.exists() {
        let base = ["python3.11", "/root/.pyenv/shims/python3.11"]
            .into_iter()
            .find(|p| {
                Command::new(p)
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .ok_or("python3.11 not found")?;
        let o = Command::new(base)
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Err(format!(
                "cannot create a venv at {}: {}",
                venv.display(),
                String::from_utf8_lossy(&o.stderr)
            ));
        }
    }
    let o = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(packages)
        .output()
        .map_err(|e| e.to_string())?;
    if !o.status.success() || !ready(&venv) {
        return Err(format!(
            "pip install {} failed: {}",
            packages.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(venv)
}

/// Python with `autobahn` and `msgpack` (`WAMP_VENV`, default /tmp/wamp-venv).
fn autobahn_python() -> Result<std::path::PathBuf, String> {
    let imports = |venv: &std::path::Path| {
        Command::new(venv.join("bin/python"))
            .args(["-c", "import autobahn, msgpack"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    python_venv(
        "WAMP_VENV",
        "/tmp/wamp-venv",
        &["autobahn", "msgpack"],
        imports,
    )
    .map(|v| v.join("bin/python"))
}

#[test]
fn python_autobahn_pubsub_and_rpc_through_our_router_with_both_serializers() {
    let py = match autobahn_python() {
        Ok(p) => p,
        Err(why) => {
            return peer_missing(&format!("autobahn interop: {why}"));
        }
    };
    let router = Router::start(None, 0);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/wamp_client.py");
    for ser in ["json", "msgpack"] {
        let mut child = Command::new(&py)
            .args([script, &router.url(), ser])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The script's own waits are 10 s each; kill it if it hangs far past that.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > until {
                let _ = child.kill();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let o = child.wait_with_output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{ser}: {out}\n{err}");
        assert!(out.contains(&format!("INTEROP OK {ser}")), "{out}\n{err}");
    }
    let rep = router.finish();
    assert_eq!(rep.router.sessions, 4, "{rep:?}");
    assert_eq!(rep.router.aborts, 0, "{rep:?}");
}

#[test]
fn stopping_the_router_says_goodbye_to_its_sessions() {
    let router = Router::start(None, 0);
    let mut c = joined(router.addr());
    router.inner.as_ref().unwrap().stop();
    let m = json(&c.expect_frame());
    assert_eq!(
        (m[0].as_u64(), m[2].as_str()),
        (Some(6), Some("wamp.close.system_shutdown")),
        "{m}"
    );
    c.send_text(r#"[6,{},"wamp.close.goodbye_and_out"]"#);
    c.expect_close(1000);
    let rep = router.finish();
    assert_eq!(rep.router.sessions, 1, "{rep:?}");
}

/// A subscriber that stops reading is closed (1008) once more than the limit waits for it;
/// the router keeps serving everyone else.
#[test]
fn a_subscriber_that_stops_reading_is_dropped() {
    let router = Router::start(None, 0);
    let mut slow = joined(router.addr());
    slow.send_text(r#"[32,1,{},"com.flood"]"#);
    let m = json(&slow.expect_frame());
    assert_eq!(m[0], 33, "SUBSCRIBED: {m}");
    // From here on the subscriber reads nothing.
    let mut publisher = joined(router.addr());
    let big = "x".repeat(64 * 1024);
    for i in 0..400u64 {
        publisher.send_text(&format!(r#"[16,{},{{}},"com.flood",["{big}"]]"#, i + 1));
    }
    // The publisher's session still works: an acknowledged publish gets PUBLISHED.
    publisher.send_text(r#"[16,1000,{"acknowledge":true},"com.other",[]]"#);
    let m = json(&publisher.expect_frame());
    assert_eq!(
        (m[0].as_u64(), m[1].as_u64()),
        (Some(17), Some(1000)),
        "{m}"
    );
    let rep = router.finish();
    assert_eq!(rep.dropped_slow, 1, "{rep:?}");
    assert_eq!(
        rep.router.events, 400,
        "the router routed every event: {rep:?}"
    );
    assert!(
        rep.stats.tx_messages < 400,
        "the stalled session was not sent all 400: {rep:?}"
    );
    drop(slow);
}

/// A session that sends faster than the router handles its messages is slowed down (not
/// read from while half the inbound limit waits), not dropped: every publication arrives.
#[test]
fn a_fast_publisher_is_slowed_not_dropped() {
    // Reading stops at half the limit; what one read brings (up to 256 KiB) fits above it.
    let limits = wamp::server::Limits {
        inbound: 2 << 20,
        ..Default::default()
    };
    let router = Router::with_limits(None, 0, limits);
    let mut publisher = joined(router.addr());
    let big = "x".repeat(16 * 1024);
    for i in 0..1000u64 {
        publisher.send_text(&format!(r#"[16,{},{{}},"com.nobody",["{big}"]]"#, i + 1));
    }
    publisher.send_text(r#"[16,5000,{"acknowledge":true},"com.nobody",[]]"#);
    let m = json(&publisher.expect_frame());
    assert_eq!(
        (m[0].as_u64(), m[1].as_u64()),
        (Some(17), Some(5000)),
        "{m}"
    );
    let rep = router.finish();
    assert_eq!(rep.dropped_flooding, 0, "{rep:?}");
    assert_eq!(rep.router.publications, 1001, "{rep:?}");
}

/// A session whose messages wait for the router beyond the inbound limit is closed (1008)
/// rather than queued for without limit; the others keep being served.
#[test]
fn a_session_that_floods_the_router_is_dropped() {
    let limits = wamp::server::Limits {
        inbound: 1000,
        ..Default::default()
    };
    let router = Router::with_limits(None, 0, limits);
    let mut flood = joined(router.addr());
    let big = "x".repeat(2000);
    flood.send_text(&format!(r#"[16,1,{{}},"com.t",["{big}"]]"#));
    let f = flood.expect_close(1008);
    assert!(f.close_reason().contains("waiting for the router"), "{f:?}");
    let mut other = joined(router.addr());
    other.send_text(r#"[16,2,{"acknowledge":true},"com.t",[]]"#);
    assert_eq!(json(&other.expect_frame())[0], 17);
    let rep = router.finish();
    assert_eq!(rep.dropped_flooding, 1, "{rep:?}");
    assert_eq!(
        rep.router.publications, 1,
        "the flood never reached the router: {rep:?}"
    );
}

/// What the router queues for a session its thread has not taken yet is bounded too: past
/// the outbound limit the session is closed (1008) and nothing more is queued for it.
#[test]
fn a_session_the_router_cannot_queue_for_is_dropped() {
    let limits = wamp::server::Limits {
        outbound: 1000,
        ..Default::default()
    };
    let router = Router::with_limits(None, 0, limits);
    let mut sub = joined(router.addr());
    sub.send_text(r#"[32,1,{},"com.t"]"#);
    assert_eq!(json(&sub.expect_frame())[0], 33);
    let mut publisher = joined(router.addr());
    let big = "y".repeat(2000);
    publisher.send_text(&format!(
        r#"[16,2,{{"acknowledge":true}},"com.t",["{big}"]]"#
    ));
    assert_eq!(
        json(&publisher.expect_frame())[0],
        17,
        "the publisher is served"
    );
    let f = sub.expect_close(1008);
    assert!(f.close_reason().contains("too slow"), "{f:?}");
    let rep = router.finish();
    assert_eq!(rep.dropped_slow, 1, "{rep:?}");
}

/// Binary data from a msgpack session reaches a JSON session as the spec's NUL + Base64
/// string (the way back is the serializer's unit test).
#[test]
fn binary_payloads_cross_between_msgpack_and_json_sessions() {
    let router = Router::start(None, 0);
    let mut js = joined(router.addr());
    js.send_text(r#"[32,1,{},"com.bin"]"#);
    assert_eq!(json(&js.expect_frame())[0], 33);
    let mut mp = raw(router.addr(), "wamp.2.msgpack");
    let hello = Serializer::Json.decode(HELLO.as_bytes(), false).unwrap();
    mp.send_binary(&Serializer::Msgpack.encode(&hello).unwrap());
    let w = mp.expect_frame();
    assert_eq!(w.opcode, BINARY, "{w:?}");
    // PUBLISH [16, 1, {}, "com.bin", [bin8 00 01 fe ff]]
    let mut publish = vec![0x95, 16, 1, 0x80, 0xa7];
    publish.extend_from_slice(b"com.bin");
    publish.extend_from_slice(&[0x91, 0xc4, 4, 0x00, 0x01, 0xfe, 0xff]);
    mp.send_binary(&publish);
    let ev = json(&js.expect_frame());
    assert_eq!(ev[0], 36, "{ev}");
    assert_eq!(ev[4][0], "\u{0}AAH+/w==", "{ev}");
    drop(router);
}

/// Crossbar.io, the WAMP authors' router (`pip install crossbar`, a few minutes on first use;
/// `CROSSBAR_VENV`, default /tmp/crossbar-venv).
fn crossbar() -> Result<std::path::PathBuf, String> {
    let has = |venv: &std::path::Path| venv.join("bin/crossbar").exists();
    python_venv("CROSSBAR_VENV", "/tmp/crossbar-venv", &["crossbar"], has)
        .map(|v| v.join("bin/crossbar"))
}

/// Crossbar.io on 127.0.0.1:`port` with realm1 open to anonymous sessions, both serializers;
/// stopped on drop (its node directory with it).
struct Crossbar {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Crossbar {
    fn start(bin: &std::path::Path, port: u16) -> Crossbar {
        let dir = tempfile::tempdir().unwrap();
        let cbdir = dir.path().join(".crossbar");
        std::fs::create_dir_all(&cbdir).unwrap();
        let config = serde_json::json!({
            "version": 2, "controller": {},
            "workers": [{"type": "router",
                "realms": [{"name": "realm1", "roles": [{"name": "anonymous", "permissions": [{
                    "uri": "", "match": "prefix",
                    "allow": {"call": true, "register": true, "publish": true, "subscribe": true},
                    "disclose": {"caller": false, "publisher": false}, "cache": true}]}]}],
                "transports": [{"type": "websocket",
                    "endpoint": {"type": "tcp", "port": port, "interface": "127.0.0.1"},
                    "serializers": ["json", "msgpack"]}]}]
        });
        std::fs::write(cbdir.join("config.json"), config.to_string()).unwrap();
        let child = Command::new(bin)
            .args(["start", "--cbdir"])
            .arg(&cbdir)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let cb = Crossbar { child, _dir: dir };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !accepts(port) {
            assert!(std::time::Instant::now() < until, "Crossbar did not start");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        cb
    }
}

impl Drop for Crossbar {
    fn drop(&mut self) {
        // SIGTERM: Crossbar stops its worker processes with it.
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every wampclient check passes against the reference router, with both serializers, and
/// the report says which GOODBYE reason Crossbar chose.
#[test]
fn wampclient_passes_every_check_against_crossbar() {
    let bin = match crossbar() {
        Ok(b) => b,
        Err(why) => return peer_missing(&format!("Crossbar.io: {why}")),
    };
    let port = free_port();
    let _router = Crossbar::start(&bin, port);
    for ser in ["json", "msgpack"] {
        let o = Command::new(env!("CARGO_BIN_EXE_wstest"))
            .args(["-m", "wampclient", "-w", &format!("ws://127.0.0.1:{port}")])
            .args(["--serializer", ser])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{ser}: {out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.contains("11 of 11 checks passed"), "{ser}: {out}");
        assert!(
            out.contains("PASS session.close: the router replied GOODBYE with wamp.close."),
            "{ser}: {out}"
        );
    }
}
