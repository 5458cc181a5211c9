//! Hostile peers and failing targets, against the real binary over loopback: every mode
//! stays up (same process, still serving), bounded in memory and time, and keeps its
//! results. One test per defect of the hostile-peer issue; bounds are stated next to each.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_wstest");

/// Peak resident memory of a child while it runs to its end (polled), and its exit.
fn run_watching(mut child: Child, limit: Duration) -> (u64, Option<i32>, Duration) {
    let t0 = Instant::now();
    let mut peak = 0;
    loop {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
            if let Some(kib) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kib * 1024);
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            return (peak, st.code(), t0.elapsed());
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// 1. Direct-mode commands: every parameter has a limit, refused with a clear reason, on the
//    WebSocket port and on the page port; the process stays up and serves.

#[test]
fn direct_mode_commands_past_their_limits_are_refused_and_the_server_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let web = free_port();
    std::fs::write(
        dir.path().join("fs.json"),
        r#"{"url": "ws://127.0.0.1:0", "outdir": "./reports", "cases": ["1.1.1"]}"#,
    )
    .unwrap();
    let mut server = Proc::start(
        "fuzzingserver",
        &[
            "-s",
            dir.path().join("fs.json").to_str().unwrap(),
            "-u",
            &web.to_string(),
        ],
    );
    wait_port(web);
    let pid = server.child.id();
    let before = server.rss();
    let huge = r#"["sendframe", {"opcode": 1, "payload": "A", "payload_len": 1125899906842624}]"#;
    let wide = r#"["sendframe", {"opcode": 1, "payload": "A", "payload_len": 200000000}]"#;
    for port in [server.port, web] {
        for cmd in [huge, wide] {
            let mut c = RawClient::connect(SocketAddr::from(([127, 0, 0, 1], port)));
            c.send_text(cmd);
            let f = c.expect_close(1002);
            assert!(
                f.close_reason().contains("payload_len") && f.close_reason().contains("limit"),
                "{}",
                f.close_reason()
            );
        }
    }
    // A command within the limits is carried out.
    let mut c = RawClient::connect(server.addr());
    c.send_text(r#"["sendframe", {"opcode": 1, "payload": "ok"}]"#);
    c.expect_text("ok");
    assert!(server.alive(), "the fuzzingserver died");
    assert_eq!(server.child.id(), pid);
    let grown = server.rss().saturating_sub(before);
    assert!(grown < 64 << 20, "grew by {grown} octets");
}

// 2. The fuzzers' size limits: a session's message limit, an inflated-size limit, and a cap
//    on what a case records.

#[test]
fn a_fuzzingserver_session_refuses_a_gigabyte_frame() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fs.json"),
        r#"{"url": "ws://127.0.0.1:0", "outdir": "./reports", "cases": ["1.1.1"]}"#,
    )
    .unwrap();
    let mut server = Proc::start(
        "fuzzingserver",
        &["-s", dir.path().join("fs.json").to_str().unwrap()],
    );
    let before = server.rss();
    let mut s = tcp(server.addr());
    let hs = wstest_engine::proto::handshake::ClientHandshake::new(
        wstest_engine::proto::handshake::ClientOptions::new(
            server.addr().to_string(),
            "/runCase?case=1&agent=hostile",
        ),
        *b"hostile-peer-key",
    );
    let mut c = RawClient::handshake_over(s.try_clone().unwrap(), &hs, &hs.request());
    // A 1 GiB binary frame: its header, then payload for as long as the server takes it.
    let mut head = vec![0x82, 0xff];
    head.extend_from_slice(&(1u64 << 30).to_be_bytes());
    head.extend_from_slice(&MASK);
    s.write_all(&head).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut sent = 0usize;
    while sent < 256 << 20 {
        match s.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    // Case 1.1.1 sends its message first; then the close.
    let f = loop {
        let f = c.expect_frame();
        if f.opcode == CLOSE {
            break f;
        }
    };
    assert_eq!(f.close_code(), Some(1009), "{}", f.close_reason());
    assert!(
        sent < 128 << 20,
        "the server took {sent} octets of a refused frame"
    );
    assert!(server.alive());
    // And serves the next client.
    let mut c = RawClient::connect(server.addr());
    c.send_text(r#"["sendframe", {"opcode": 1, "payload": "still here"}]"#);
    c.expect_text("still here");
    let grown = server.rss().saturating_sub(before);
    assert!(grown < 96 << 20, "grew by {grown} octets");
}

/// A server for the fuzzingclient that answers every upgrade (with permessage-deflate when
/// offered) and then runs `send` on the socket.
fn hostile_server(send: fn(&mut TcpStream, bool)) -> (String, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", l.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        l.set_nonblocking(false).unwrap();
        // A few connections: the agent probe, then the case.
        for s in l.incoming().take(4) {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if s.read(&mut b).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                let raw = String::from_utf8_lossy(&head).into_owned();
                let header = |name: &str| {
                    raw.lines().find_map(|l| {
                        let (n, v) = l.split_once(':')?;
                        n.trim()
                            .eq_ignore_ascii_case(name)
                            .then(|| v.trim().to_string())
                    })
                };
                let key = header("sec-websocket-key").unwrap_or_default();
                let deflate = header("sec-websocket-extensions")
                    .is_some_and(|e| e.contains("permessage-deflate"));
                let accept = wstest_engine::proto::handshake::key::accept_key(&key);
                let ext = if deflate {
                    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                } else {
                    ""
                };
                let resp = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{ext}\r\n");
                if s.write_all(resp.as_bytes()).is_err() {
                    return;
                }
                send(&mut s, deflate);
                // Drain whatever the fuzzer sends until it closes.
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = vec![0u8; 65536];
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    (url, h)
}

/// Run the fuzzingclient on `cases` against `url`; returns (peak resident octets, exit
/// code, the index, the case's report size).
fn fuzz(url: &str, cases: &str, limit: Duration) -> (u64, Option<i32>, serde_json::Value, u64) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fc.json"),
        format!(
            r#"{{"outdir": "./r", "servers": [{{"agent": "hostile", "url": "{url}"}}], "cases": [{cases}]}}"#
        ),
    )
    .unwrap();
    let child = Command::new(BIN)
        .args(["-m", "fuzzingclient", "-s", "fc.json", "--quiet"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (peak, code, _) = run_watching(child, limit);
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r/index.json")).unwrap())
            .expect("index.json is valid JSON");
    let report = index["hostile"]
        .as_object()
        .and_then(|m| m.values().next())
        .and_then(|c| c["reportfile"].as_str())
        .map(|f| {
            std::fs::metadata(dir.path().join("r").join(f))
                .unwrap()
                .len()
        })
        .unwrap_or(0);
    (peak, code, index, report)
}

#[test]
fn a_deflate_bomb_does_not_take_the_fuzzingclient_with_it() {
    // One message of 5 × 16 MiB of zeros, compressed to a few tens of KiB: past the
    // fuzzer's 64 MiB message limit once inflated.
    fn bomb(s: &mut TcpStream, deflate: bool) {
        if !deflate {
            return;
        }
        let mut d = wstest_engine::proto::deflate::Deflater::new(15, false, 6);
        let zeros = vec![0u8; 16 << 20];
        for i in 0..5 {
            let mut out = Vec::new();
            d.compress(&zeros, &mut out);
            if i < 4 {
                // Sync-flush marker back in: the pieces are one stream.
                out.extend_from_slice(&[0, 0, 0xff, 0xff]);
            }
            let first = i == 0;
            let mut f = wstest_engine::proto::frame::RawFrame::new(if first { 2 } else { 0 }, out)
                .fin(i == 4);
            if first {
                f = f.rsv(4);
            }
            if s.write_all(&f.to_bytes()).is_err() {
                return;
            }
        }
    }
    let (url, _h) = hostile_server(bomb);
    let (peak, code, index, _) = fuzz(&url, r#""12.1.1""#, Duration::from_secs(60));
    eprintln!("deflate bomb: fuzzingclient peaked at {} MiB", peak >> 20);
    // The message limit (64 MiB) on top of the process itself (~45 MiB, debug build).
    assert!(
        peak < 160 << 20,
        "fuzzingclient peaked at {} MiB",
        peak >> 20
    );
    assert_eq!(code, Some(1), "a failed case");
    let v = &index["hostile"]["12.1.1"];
    assert!(v["behavior"].is_string(), "{index}");
}

#[test]
fn a_flood_of_small_frames_is_recorded_up_to_a_limit() {
    // 3 million one-octet text messages (9 MiB on the wire): far more events and wire log
    // lines than a case keeps.
    fn flood(s: &mut TcpStream, _deflate: bool) {
        let one = [0x81u8, 0x01, b'x'];
        let chunk: Vec<u8> = one.repeat(100_000);
        for _ in 0..30 {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
    }
    let (url, _h) = hostile_server(flood);
    let (peak, code, index, report) = fuzz(&url, r#""1.1.1""#, Duration::from_secs(120));
    assert!(
        peak < 220 << 20,
        "fuzzingclient peaked at {} MiB",
        peak >> 20
    );
    assert_eq!(code, Some(1));
    assert_eq!(index["hostile"]["1.1.1"]["behavior"], "FAILED", "{index}");
    assert!(report < 32 << 20, "the case report is {report} octets");
}

// 3. wampserver: sessions leave nothing behind; a connection that never says HELLO is
//    closed.

#[test]
fn wampserver_returns_what_sessions_took_and_times_out_silent_ones() {
    let mut server = Proc::start("wampserver", &["--hello-timeout", "1"]);
    let session = |addr| {
        let mut o = wstest_engine::proto::handshake::ClientOptions::new(format!("{addr}"), "/");
        o.protocols = vec!["wamp.2.json".into()];
        let hs = wstest_engine::proto::handshake::ClientHandshake::new(o, *b"wamp-session-key");
        let mut c = RawClient::handshake_over(tcp(addr), &hs, &hs.request());
        c.send_text(r#"[1,"realm1",{"roles":{"caller":{}}}]"#);
        let f = c.expect_frame();
        assert!(text(&f.payload).starts_with("[2,"), "{}", text(&f.payload));
        c.send_text(r#"[6,{},"wamp.close.close_realm"]"#);
        let f = c.expect_frame();
        assert!(text(&f.payload).starts_with("[6,"), "{}", text(&f.payload));
        c.close_cleanly();
    };
    for _ in 0..300 {
        session(server.addr());
    }
    std::thread::sleep(Duration::from_millis(500));
    let base = server.rss();
    for _ in 0..1500 {
        session(server.addr());
    }
    std::thread::sleep(Duration::from_millis(500));
    let grown = server.rss().saturating_sub(base);
    // The leak was 8.5 KB a session (12.7 MB here); allocator noise is a few MB.
    assert!(grown < 4 << 20, "1500 sessions left {grown} octets behind");
    // Silent: upgraded, never a message.
    let mut o = wstest_engine::proto::handshake::ClientOptions::new(server.addr().to_string(), "/");
    o.protocols = vec!["wamp.2.json".into()];
    let hs = wstest_engine::proto::handshake::ClientHandshake::new(o, *b"silent-client-ky");
    let mut c = RawClient::handshake_over(tcp(server.addr()), &hs, &hs.request());
    let f = c.expect_close(1008);
    assert!(f.close_reason().contains("HELLO"), "{}", f.close_reason());
    assert!(server.alive());
    let out = server.stop();
    assert!(out.contains("1 silent"), "{out}");
}

// 4. massconnect ends when its target dies or hangs, with true counts and exit 3 when the
//    target could never be reached.

/// `wstest -m massconnect -s SPEC -o out.json --quiet` in `dir`.
fn spawn_massconnect(dir: &Path, spec: &str, stderr: Stdio) -> Child {
    Command::new(BIN)
        .args(["-m", "massconnect", "-s", spec, "-o", "out.json", "--quiet"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

fn massconnect_spec(dir: &Path, port: u16) -> String {
    let spec = dir.join("mc.json");
    std::fs::write(
        &spec,
        format!(
            r#"{{"options": {{"connections": 3000, "batchsize": 50, "batchdelay": 20, "retrydelay": 10, "hold": 60, "give_up_after": 2}}, "servers": [{{"name": "t", "uri": "ws://127.0.0.1:{port}"}}]}}"#
        ),
    )
    .unwrap();
    spec.to_str().unwrap().to_string()
}

#[test]
fn massconnect_gives_up_on_a_server_that_dies() {
    let dir = tempfile::tempdir().unwrap();
    let server = Proc::start("echoserver", &[]);
    let spec = massconnect_spec(dir.path(), server.port);
    let child = spawn_massconnect(dir.path(), &spec, Stdio::null());
    std::thread::sleep(Duration::from_millis(800));
    drop(server); // SIGKILL mid-ramp
    let (_, code, took) = run_watching(child, Duration::from_secs(30));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out.json")).unwrap())
            .unwrap();
    let s = &r["servers"][0];
    assert_eq!(code, Some(1), "{s}");
    // give_up_after 2 s, after the kill.
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(
        s["connected"], 0,
        "nothing is open once the server is gone: {s}"
    );
    assert!(s["peak"].as_u64().unwrap() > 0, "{s}");
    assert!(
        s["stopped"].as_str().unwrap().contains("give_up_after"),
        "{s}"
    );
}

#[test]
fn massconnect_gives_up_on_a_server_that_never_answers() {
    let dir = tempfile::tempdir().unwrap();
    // Accepts (the kernel's backlog) and never answers.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let spec = massconnect_spec(dir.path(), l.local_addr().unwrap().port());
    let child = spawn_massconnect(dir.path(), &spec, Stdio::piped());
    let (_, code, took) = run_watching(child, Duration::from_secs(30));
    assert_eq!(code, Some(3), "a target never reached is exit 3");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    drop(l);
}

// 5. wsperfcontrol checks its spec.

#[test]
fn wsperfcontrol_refuses_impossible_numbers_by_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("wp.json"),
        r#"{"servers": [{"name": "s", "uri": "ws://127.0.0.1:1"}], "testsets": [{"mode": "echo", "options": {}, "cases": [{"size": 1099511627776}]}]}"#,
    )
    .unwrap();
    let t0 = Instant::now();
    let o = wstest_in(dir.path(), &["-m", "wsperfcontrol", "-s", "wp.json"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("\"size\"") && err.contains("1099511627776"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(t0.elapsed() < Duration::from_secs(5));
}

// 6. A second server on a busy port is refused unless asked to share it.

#[test]
fn a_busy_port_is_refused_unless_shared_on_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let first = Proc::start("echoserver", &[]);
    let url = format!("ws://127.0.0.1:{}", first.port);
    let o = wstest_in(dir.path(), &["-m", "testeeserver", "-w", &url, "-u", "0"]);
    let err = text(&o.stderr);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        err.contains("address in use") && err.contains("--reuse-port"),
        "{err}"
    );
    assert_serves(first.addr());
    // The page port too (8080 by default: give it a busy one).
    let o = wstest_in(
        dir.path(),
        &[
            "-m",
            "broadcastserver",
            "-w",
            "ws://127.0.0.1:0",
            "-u",
            &first.port.to_string(),
        ],
    );
    assert!(
        text(&o.stderr).contains("address in use"),
        "{}",
        text(&o.stderr)
    );
    // Shared on purpose: starts and stays up.
    let mut second = Command::new(BIN)
        .args(["-m", "testeeserver", "-w", &url, "-u", "0", "--reuse-port"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        second.try_wait().unwrap().is_none(),
        "--reuse-port did not start"
    );
    let _ = second.kill();
    let _ = second.wait();
}

// 7. Results survive a kill and a double signal.

fn fuzz_embedded(dir: &Path) -> Child {
    std::fs::write(
        dir.join("fc.json"),
        r#"{"outdir": "./r", "servers": [{"agent": "ours", "url": "ws://127.0.0.1:0", "embedded": true}], "cases": ["*"]}"#,
    )
    .unwrap();
    Command::new(BIN)
        .args(["-m", "fuzzingclient", "-s", "fc.json", "--quiet"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The index of a report directory: valid JSON, every case in it has its whole report file
/// (written atomically; not parsed here: like the original's, reports of invalid UTF-8
/// cases hold lone surrogate escapes, which serde_json refuses).
fn index_cases(dir: &Path) -> usize {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r/index.json")).unwrap())
            .expect("index.json is valid JSON");
    let cases = index["ours"]
        .as_object()
        .expect("the agent is in the index");
    for c in cases.values() {
        let f = dir.join("r").join(c["reportfile"].as_str().unwrap());
        let report = std::fs::read_to_string(&f).unwrap();
        assert!(
            report.starts_with('{') && report.trim_end().ends_with('}'),
            "{f:?}"
        );
    }
    cases.len()
}

/// Wait until the run has written some cases.
fn wait_for_cases(dir: &Path, n: usize) {
    let until = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(dir.join("r/index.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["ours"].as_object().map(|m| m.len()))
        .unwrap_or(0)
        < n
    {
        assert!(Instant::now() < until, "no cases written");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_killed_fuzzingclient_leaves_a_valid_index_of_the_cases_done() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = fuzz_embedded(dir.path());
    wait_for_cases(dir.path(), 20);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(index_cases(dir.path()) >= 20);
}

#[test]
fn two_signals_at_once_are_one_orderly_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = fuzz_embedded(dir.path());
    wait_for_cases(dir.path(), 20);
    // As GNU timeout and CI runners do: SIGTERM twice, microseconds apart.
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(130), "interrupted, reports kept");
    let n = index_cases(dir.path());
    assert!((20..517).contains(&n), "{n} cases");
}

// 8. Smaller ones: HEAD without a body, a duplicate key refused, an interrupted wsperf row
//    that keeps its figures, a TLS certificate error in words.

#[test]
fn head_answers_carry_no_body_and_a_duplicate_key_is_refused() {
    let server = Proc::start("broadcastserver", &[]);
    let r = http_exchange(server.addr(), b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(r.status, 200);
    let len: usize = r.header("content-length").unwrap().parse().unwrap();
    assert!(len > 0);
    assert!(r.body.is_empty(), "HEAD carried {} octets", r.body.len());
    let req = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n";
    let r = http_exchange(server.addr(), req).unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("more than once"), "{}", r.body);
}

#[test]
fn an_interrupted_wsperf_row_keeps_its_figures() {
    let dir = tempfile::tempdir().unwrap();
    let server = Proc::start("echoserver", &[]);
    std::fs::write(
        dir.path().join("wp.json"),
        format!(
            r#"{{"servers": [{{"name": "s", "uri": "ws://127.0.0.1:{}"}}], "testsets": [{{"mode": "echo", "options": {{"outfile": "out.tsv", "duration": 30, "count": 0, "sync": false, "window": 8, "connections": 4}}, "cases": [{{"size": 64}}]}}]}}"#,
            server.port
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["-m", "wsperfcontrol", "-s", "wp.json"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let t0 = Instant::now();
    let st = child.wait().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(st.code(), Some(130));
    let tsv = std::fs::read_to_string(dir.path().join("out.tsv")).unwrap();
    let row: Vec<&str> = tsv.lines().nth(1).unwrap().split('\t').collect();
    assert_eq!(row[1], "INTERRUPTED", "{tsv}");
    let count: u64 = row[2].parse().unwrap();
    assert!(count > 0, "{tsv}");
}

#[test]
fn a_ca_certificate_used_as_a_servers_own_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    // What `openssl req -x509` makes: self-signed, CA:TRUE.
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".into()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.path().join("c.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("k.pem"), key.serialize_pem()).unwrap();
    let port = free_port();
    let mut server = Command::new(BIN)
        .args(["-m", "echoserver", "-w", &format!("wss://127.0.0.1:{port}")])
        .args(["-k", "k.pem", "-c", "c.pem", "-u", "0", "--threads", "1"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port);
    let o = wstest_in(
        dir.path(),
        &[
            "-m",
            "echoclient",
            "-w",
            &format!("wss://127.0.0.1:{port}"),
            "--cacert",
            "c.pem",
            "--message",
            "hi",
        ],
    );
    let _ = server.kill();
    let _ = server.wait();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("CA certificate") && !err.contains("OtherError"),
        "{err}"
    );
}
