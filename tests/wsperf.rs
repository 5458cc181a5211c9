//! wsperf over real loopback sockets: the TSV of the template spec, failure rows (unreachable,
//! timeout, wrong echoes), and wsperfmaster with two probes merging their histograms exactly,
//! and keeping on when a probe goes away.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use wstest_engine::proto::handshake::{ClientHandshake, ClientOptions as HsOptions, Request};
use wstest_engine::proto::{Config, Connection, Event, Role};
use wstest_engine::runtime::Shutdown;
use wstest_engine::stats::Latency;
use wstest_engine::ws::{serve, Handler, ServerConfig, ServerHandle, Service, Upgrade};
use wstest_modes::common::ClientOptions;
use wstest_modes::wsperf::{run_probe, Outcome, ProbeConfig};

const BIN: &str = env!("CARGO_BIN_EXE_wstest");

/// Parse a TSV row's numeric columns 4.. (min … q9).
fn numbers(cols: &[&str]) -> Vec<f64> {
    cols[4..]
        .iter()
        .map(|c| {
            c.parse::<f64>()
                .unwrap_or_else(|_| panic!("not a number: {c:?} in {cols:?}"))
        })
        .collect()
}

fn check_passed_row(line: &str, quantiles: usize) {
    let cols: Vec<&str> = line.split('\t').collect();
    assert_eq!(cols.len(), 9 + quantiles, "{line}");
    assert_eq!(cols[1], "PASSED", "{line}");
    let v = numbers(&cols);
    let (min, median, max, avg) = (v[0], v[1], v[2], v[3]);
    assert!(min > 0.0 && min <= median && median <= max, "{line}");
    assert!(avg >= min && avg <= max, "{line}");
    let q = &v[5..];
    assert!(
        q.windows(2).all(|w| w[0] <= w[1]),
        "quantiles not monotone: {line}"
    );
    // Quantiles are whole microseconds: within min..max after rounding.
    assert!(
        q[0] >= min.floor() && q[quantiles - 1] <= max.ceil(),
        "{line}"
    );
    assert_eq!(
        q[quantiles - 1],
        max.round(),
        "the last quantile is the maximum: {line}"
    );
}

#[test]
fn template_spec_against_the_embedded_echo_server_writes_the_originals_tsv() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1: nothing listens, so the generated template measures an in-process echo server.
    let o = Command::new(BIN)
        .args(["-m", "wsperfcontrol", "-w", "ws://127.0.0.1:1", "--quiet"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("wrote a template"), "{err}");
    assert!(err.contains("in-process"), "{err}");
    let spec = std::fs::read_to_string(dir.path().join("wsperfcontrol.json")).unwrap();
    assert!(spec.contains("ws://127.0.0.1:1"), "{spec}");
    let tsv = std::fs::read_to_string(dir.path().join("report_echo.txt")).unwrap();
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(
        lines[0],
        "name\toutcome\tcount\tsize\tmin\tmedian\tmax\tavg\tstddev\tq0\tq1\tq2\tq3\tq4\tq5\tq6\tq7\tq8\tq9"
    );
    assert_eq!(lines.len(), 6, "{tsv}");
    let sizes: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split('\t').nth(3).unwrap())
        .collect();
    assert_eq!(sizes, ["0", "64", "1024", "524288", "64"]);
    let counts: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split('\t').nth(2).unwrap())
        .collect();
    // Round trips measured: the last case's 8 connections measure 1000 each.
    assert_eq!(counts, ["1000", "1000", "1000", "100", "8000"]);
    for l in &lines[1..] {
        check_passed_row(l, 10);
    }
    // The JSON beside it carries mergeable histograms with every counted echo.
    let j: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("report_echo.txt.json")).unwrap(),
    )
    .unwrap();
    let h = j[4]["result"]["histogram"].as_str().unwrap();
    assert_eq!(Latency::from_base64(h).unwrap().count(), 8 * 1000);
    assert_eq!(j[4]["result"]["received"], 8000);
}

#[test]
fn digits_separator_rtts_and_failure_rows() {
    let echo = Server::testee();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.tsv");
    let spec = serde_json::json!({
        "servers": [
            {"name": "ours", "uri": echo.url()},
            {"name": "nobody", "uri": "ws://127.0.0.1:1"}
        ],
        "testsets": [{
            "mode": "echo",
            "options": {"outfile": out, "digits": 2, "sep": ";", "rtts": true,
                        "quantile_count": 4, "count": 50, "binary": true, "verify": true},
            "cases": [{"size": 10}, {"size": 300, "connections": 3, "sync": false, "window": 4}]
        }]
    });
    let spec_path = dir.path().join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let o = Command::new(BIN)
        .args([
            "-m",
            "wsperfcontrol",
            "-s",
            spec_path.to_str().unwrap(),
            "--quiet",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "an unreachable server fails the run"
    );
    let tsv = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(
        lines[0],
        "name;outcome;count;size;min;median;max;avg;stddev;q0;q1;q2;q3"
    );
    assert_eq!(&lines[3..], ["nobody;UNREACHABLE", "nobody;UNREACHABLE"]);
    for l in &lines[1..3] {
        let cols: Vec<&str> = l.split(';').collect();
        assert_eq!(cols[1], "PASSED", "{l}");
        // digits 2 for min..stddev, whole microseconds for the quantiles (as the original).
        assert!(
            cols[4..9]
                .iter()
                .all(|c| c.split('.').nth(1).map(str::len) == Some(2)),
            "{l}"
        );
        assert!(cols[9..].iter().all(|c| !c.contains('.')), "{l}");
    }
    let rtts = std::fs::read_to_string(dir.path().join("r_rtts.tsv")).unwrap();
    assert_eq!(rtts.lines().count(), 1 + 50 + 150, "{rtts}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.tsv.json")).unwrap())
            .unwrap();
    let why = json[2]["result"]["error"].as_str().unwrap();
    assert!(why.contains("127.0.0.1:1"), "{why}");
    let _ = echo.finish();
}

/// A server whose connections answer each message with `f(message)`, or not at all.
struct Odd(fn(&[u8]) -> Option<Vec<u8>>);
struct OddHandler(fn(&[u8]) -> Option<Vec<u8>>);
impl Handler for OddHandler {
    fn on_event(&mut self, conn: &mut Connection, event: Event, _now: Instant) {
        if let Event::Message(m) = event {
            if let Some(reply) = (self.0)(&m.data) {
                conn.send_message(m.binary, &reply);
            }
        }
    }
}
impl Service for Odd {
    type Handler = OddHandler;
    fn upgrade(&self, _req: &Request, _peer: SocketAddr) -> Upgrade<OddHandler> {
        Upgrade::Accept {
            handler: OddHandler(self.0),
            config: Config::new(Role::Server),
            protocol: None,
            extensions: None,
        }
    }
}

fn odd_server(f: fn(&[u8]) -> Option<Vec<u8>>) -> (ServerHandle, String) {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.runtime.threads = 1;
    let h = serve(cfg, Arc::new(Odd(f)), Shutdown::new()).unwrap();
    let url = format!("ws://{}", h.local_addr);
    (h, url)
}

fn probe(url: &str, verify: bool, timeout_ms: u64) -> ProbeConfig {
    ProbeConfig {
        url: url.into(),
        count: 20,
        size: 16,
        verify,
        timeout_ms,
        ..Default::default()
    }
}

#[test]
fn a_server_that_stops_echoing_times_out_and_wrong_echoes_fail() {
    let client = ClientOptions::default();
    let sd = Shutdown::new();
    // Echoes the first three messages only.
    static ECHOED: AtomicUsize = AtomicUsize::new(0);
    let (h, url) = odd_server(|m| (ECHOED.fetch_add(1, Ordering::SeqCst) < 3).then(|| m.to_vec()));
    let mut p = probe(&url, false, 400);
    p.binary = true;
    let started = Instant::now();
    let r = run_probe(&p, &client, &sd, || {}).unwrap();
    assert_eq!(r.outcome, Outcome::Timeout, "{r:?}");
    assert!(r.error.as_deref().unwrap().contains("400 ms"), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    h.stop();
    let _ = h.join();

    // Same length, different content: only `verify` notices.
    let (h, url) = odd_server(|m| Some(m.iter().map(|b| b ^ 1).collect()));
    let r = run_probe(&probe(&url, false, 5000), &client, &sd, || {}).unwrap();
    assert_eq!(r.outcome, Outcome::Passed, "{r:?}");
    let r = run_probe(&probe(&url, true, 5000), &client, &sd, || {}).unwrap();
    assert_eq!(r.outcome, Outcome::Failed, "{r:?}");
    assert_eq!(r.mismatches, 20);
    assert!(r.error.unwrap().contains("20 echoes differed"));
    h.stop();
    let _ = h.join();

    // Wrong length fails even without verify.
    let (h, url) = odd_server(|m| Some(m[1..].to_vec()));
    let r = run_probe(&probe(&url, false, 5000), &client, &sd, || {}).unwrap();
    assert_eq!((r.outcome, r.mismatches), (Outcome::Failed, 20), "{r:?}");
    h.stop();
    let _ = h.join();
}

#[test]
fn open_model_rate_spreads_sends_and_counts_from_the_intended_time() {
    let echo = Server::testee();
    let p = ProbeConfig {
        url: echo.url(),
        connections: 2,
        count: 40,
        size: 32,
        window: 4,
        rate: Some(400.0),
        warmup: 5,
        ..Default::default()
    };
    let started = Instant::now();
    let r = run_probe(&p, &ClientOptions::default(), &Shutdown::new(), || {}).unwrap();
    assert_eq!(r.outcome, Outcome::Passed, "{r:?}");
    assert_eq!(
        (r.sent, r.received),
        (90, 80),
        "warm-up sent but not counted"
    );
    // 90 messages at 400/s take at least ~0.22 s.
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    let _ = echo.finish();
}

/// A fake probe: welcomes, waits for the first `prepare`, then vanishes.
fn vanishing_probe(master: SocketAddr) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let stream = tcp(master);
        let mut o = HsOptions::new(master.to_string(), "/");
        o.protocols = vec!["wsperf".into()];
        let hs = ClientHandshake::new(o, *b"integration-test");
        let req = hs.request();
        let mut c = RawClient::handshake_over(stream, &hs, &req);
        c.send_text(r#"{"type":"welcome","ident":"vanishing","version":"0","threads":1}"#);
        let f = c.expect_frame();
        assert!(String::from_utf8_lossy(&f.payload).contains("prepare"));
        drop(c);
    })
}

fn master_spec(dir: &std::path::Path, echo: &str) -> std::path::PathBuf {
    let spec = serde_json::json!({
        "servers": [{"name": "echo", "uri": echo}],
        "testsets": [{"mode": "echo",
                      "options": {"outfile": dir.join("m.tsv"), "count": 200, "quantile_count": 10},
                      "cases": [{"size": 64}, {"size": 2000, "connections": 2, "window": 8}]}]
    });
    let p = dir.join("spec.json");
    std::fs::write(&p, spec.to_string()).unwrap();
    p
}

/// A wsperfmaster on `port` waiting for two probes, once it listens.
fn start_master(port: u16, spec: &Path) -> std::process::Child {
    let url = format!("ws://127.0.0.1:{port}");
    let spec = spec.to_str().unwrap();
    let args = [
        "-m",
        "wsperfmaster",
        "-w",
        &url,
        "-s",
        spec,
        "--probes",
        "2",
        "-u",
        "0",
        "--wait",
        "30",
        "--quiet",
    ];
    let master = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_port(port);
    master
}

#[test]
fn master_merges_two_probes_histograms_exactly() {
    let echo = Server::testee();
    let dir = tempfile::tempdir().unwrap();
    let spec = master_spec(dir.path(), &echo.url());
    let port = free_port();
    let master_url = format!("ws://127.0.0.1:{port}");
    let master = start_master(port, &spec);
    let probes: Vec<_> = ["p1", "p2"]
        .iter()
        .map(|id| {
            Command::new(BIN)
                .args([
                    "-m",
                    "wsperfslave",
                    "-w",
                    &master_url,
                    "-i",
                    id,
                    "--threads",
                    "1",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for p in probes {
        let o = p.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = master.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let tsv = std::fs::read_to_string(dir.path().join("m.tsv")).unwrap();
    let names: Vec<&str> = tsv
        .lines()
        .skip(1)
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(names.len(), 6, "{tsv}");
    assert_eq!(names[0], "echo");
    let mut per: Vec<&str> = names[1..3].to_vec();
    per.sort();
    assert_eq!(per, ["echo@p1", "echo@p2"]);
    for l in tsv.lines().skip(1) {
        check_passed_row(l, 10);
    }
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("m.tsv.json")).unwrap())
            .unwrap();
    for case in 0..2 {
        let row = |i: usize| &rows[case * 3 + i]["result"];
        let h = |i: usize| Latency::from_base64(row(i)["histogram"].as_str().unwrap()).unwrap();
        let mut combined = h(1);
        combined.merge(&h(2));
        assert_eq!(
            h(0).summary(),
            combined.summary(),
            "case {case}: merged != p1 + p2"
        );
        assert_eq!(h(0).inner().len(), combined.inner().len());
        let expected = if case == 0 { 200 } else { 400 };
        assert_eq!(row(1)["received"], expected);
        assert_eq!(row(0)["received"], 2 * expected);
    }
    // The quantile columns of the merged row come from the combined histogram.
    let merged_line = tsv.lines().nth(1).unwrap();
    let p1 = Latency::from_base64(rows[1]["result"]["histogram"].as_str().unwrap()).unwrap();
    let mut all = p1;
    all.merge(&Latency::from_base64(rows[2]["result"]["histogram"].as_str().unwrap()).unwrap());
    let max_us = format!("{:.0}", all.inner().max() as f64 / 1000.0);
    assert_eq!(merged_line.split('\t').next_back().unwrap(), max_us);
    let _ = echo.finish();
}

#[test]
fn master_keeps_going_when_a_probe_disconnects() {
    let echo = Server::testee();
    let dir = tempfile::tempdir().unwrap();
    let spec = master_spec(dir.path(), &echo.url());
    let port = free_port();
    let master_url = format!("ws://127.0.0.1:{port}");
    let master = start_master(port, &spec);
    let fake = vanishing_probe(SocketAddr::from(([127, 0, 0, 1], port)));
    let real = Command::new(BIN)
        .args([
            "-m",
            "wsperfslave",
            "-w",
            &master_url,
            "-i",
            "stays",
            "--threads",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    fake.join().unwrap();
    assert!(real.wait_with_output().unwrap().status.success());
    let o = master.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a lost probe's row fails the run: {out}{err}"
    );
    assert!(out.contains("probes lost: vanishing"), "{out}");
    let tsv = std::fs::read_to_string(dir.path().join("m.tsv")).unwrap();
    let lines: Vec<&str> = tsv.lines().collect();
    // Case 1: merged (from the probe that stayed), its row, the vanished probe's FAILED row.
    assert!(lines[1].starts_with("echo\tPASSED"), "{tsv}");
    assert!(lines.contains(&"echo@vanishing\tFAILED"), "{tsv}");
    assert!(
        lines.iter().any(|l| l.starts_with("echo@stays\tPASSED")),
        "{tsv}"
    );
    // Case 2 ran on the remaining probe only.
    assert_eq!(lines.len(), 1 + 3 + 2, "{tsv}");
    let _ = echo.finish();
}

/// An echoserver process on a free port (one thread), killed on drop.
struct EchoProc(std::process::Child, u16);

impl EchoProc {
    fn start() -> EchoProc {
        let port = free_port();
        let child = Command::new(BIN)
            .args(["-m", "echoserver", "-w", &format!("ws://127.0.0.1:{port}")])
            .args(["--threads", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_port(port);
        EchoProc(child, port)
    }
}

impl Drop for EchoProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A pipelined spec: 16 connections, 32 messages in flight each, one thread, `duration` s.
fn pipelined_spec(dir: &Path, port: u16, size: usize, duration: f64) -> std::path::PathBuf {
    let spec = serde_json::json!({
        "servers": [{"name": "echo", "uri": format!("ws://127.0.0.1:{port}")}],
        "testsets": [{"mode": "echo", "options": {
            "window": 32, "connections": 16, "threads": 1, "duration": duration, "count": 0,
            "timeout": 60000, "outfile": dir.join("p.tsv")
        }, "cases": [{"size": size}]}]
    });
    let path = dir.join(format!("spec-{size}.json"));
    std::fs::write(&path, spec.to_string()).unwrap();
    path
}

/// A pipelined run that a duration ends stops on time at 16 KiB and 64 KiB (it used to spin
/// forever once the duration was over), and its TSV counts the round trips measured.
#[test]
fn a_pipelined_run_with_a_duration_ends_on_time_and_counts_what_it_measured() {
    let echo = EchoProc::start();
    let dir = tempfile::tempdir().unwrap();
    for size in [16384, 65536] {
        let spec = pipelined_spec(dir.path(), echo.1, size, 1.0);
        let t0 = Instant::now();
        let out = Command::new(BIN)
            .args(["-m", "wsperfcontrol", "-s"])
            .arg(&spec)
            .output()
            .unwrap();
        let took = t0.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // 1 s of sending, the echoes in flight, the closing handshakes (1 s at most) and
        // the process around it; a spinning run never ends.
        assert!(took < Duration::from_secs(15), "{size}: took {took:?}");
        let tsv = std::fs::read_to_string(dir.path().join("p.tsv")).unwrap();
        let row: Vec<&str> = tsv.lines().nth(1).unwrap().split('\t').collect();
        assert_eq!(row[1], "PASSED", "{tsv}");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("p.tsv.json")).unwrap())
                .unwrap();
        let received = json[0]["result"]["received"].as_u64().unwrap();
        assert!(received > 0);
        assert_eq!(row[2], received.to_string(), "count column: {tsv}");
    }
}

/// SIGTERM ends a pipelined 64 KiB run promptly: every connection closes within its closing
/// handshake's timeout.
#[test]
fn sigterm_ends_a_pipelined_run_promptly() {
    let echo = EchoProc::start();
    let dir = tempfile::tempdir().unwrap();
    let spec = pipelined_spec(dir.path(), echo.1, 65536, 60.0);
    let mut child = Command::new(BIN)
        .args(["-m", "wsperfcontrol", "-s"])
        .arg(&spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            eprintln!("ended {:?} after SIGTERM ({status})", t0.elapsed());
            break;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("wsperfcontrol still running 10 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An awkward echo peer on blocking sockets: tiny socket buffers, reads of a few hundred
/// octets, replies held back and sent in batches after a delay, written in small partial
/// writes. The patterns that made the driver spin.
fn awkward_echo_peer() -> (SocketAddr, Arc<std::sync::atomic::AtomicBool>) {
    use std::io::{Read, Write};
    use wstest_engine::proto::handshake::server::{accept_response, parse_request};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    std::thread::spawn(move || {
        l.set_nonblocking(true).unwrap();
        let mut n = 0u64;
        while !stop2.load(Ordering::SeqCst) {
            let Ok((s, _)) = l.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            n += 1;
            let seed = n;
            std::thread::spawn(move || {
                let sock = socket2::Socket::from(s);
                let _ = sock.set_recv_buffer_size(2048);
                let _ = sock.set_send_buffer_size(2048);
                let mut s: std::net::TcpStream = sock.into();
                s.set_nonblocking(false).unwrap();
                s.set_nodelay(true).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                let mut rng = Rng(seed);
                let mut buf = Vec::new();
                let mut chunk = vec![0u8; 700];
                let (req, used) = loop {
                    let Ok(k) = s.read(&mut chunk) else { return };
                    if k == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..k]);
                    if let Ok(Some(r)) = parse_request(&buf, 16384) {
                        break r;
                    }
                };
                s.write_all(&accept_response(&req, None, None, None))
                    .unwrap();
                // A read that finds nothing within 5 ms lets the held replies go.
                s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
                let mut idle = false;
                let mut conn = Connection::new(Config::new(Role::Server));
                let mut rest = buf.split_off(used);
                let mut held: Vec<(bool, Vec<u8>)> = Vec::new();
                let mut out = Vec::new();
                loop {
                    let now = std::time::Instant::now();
                    let mut ended = false;
                    conn.handle_input_all(&mut rest, now, |_, ev| match ev {
                        Event::Message(m) => held.push((m.binary, m.data)),
                        Event::Close { .. } => ended = true,
                        _ => {}
                    });
                    // Replies go out in batches of a few messages, after a short delay.
                    if held.len() > (rng.next_u64() % 4) as usize || ended || idle {
                        std::thread::sleep(Duration::from_micros(rng.next_u64() % 3000));
                        for (b, m) in held.drain(..) {
                            conn.send_message(b, &m);
                        }
                    }
                    out.clear();
                    while conn.has_transmit() {
                        conn.take_transmit(&mut out);
                    }
                    // Partial writes of 1 to 1500 octets.
                    let mut off = 0;
                    while off < out.len() {
                        let k = (1 + rng.next_u64() as usize % 1500).min(out.len() - off);
                        if s.write_all(&out[off..off + k]).is_err() {
                            return;
                        }
                        off += k;
                    }
                    if ended || conn.is_closed() {
                        return;
                    }
                    let want = 1 + rng.next_u64() as usize % chunk.len();
                    idle = false;
                    rest.clear();
                    match s.read(&mut chunk[..want]) {
                        Ok(0) => return,
                        Ok(k) => rest.extend_from_slice(&chunk[..k]),
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock
                                    | std::io::ErrorKind::TimedOut
                                    | std::io::ErrorKind::Interrupted
                            ) =>
                        {
                            idle = true
                        }
                        Err(_) => return,
                    }
                }
            });
        }
    });
    (addr, stop)
}

/// Against the awkward peer, pipelined runs end: by their duration (plus the echoes in
/// flight and the closing handshake) and by their count, at small and large sizes.
#[test]
fn pipelined_runs_against_an_awkward_peer_end() {
    let (addr, stop) = awkward_echo_peer();
    let client = ClientOptions::default();
    let sd = Shutdown::new();
    for (size, duration) in [(16384, Some(1.0)), (65536, Some(1.0)), (1024, None)] {
        let p = ProbeConfig {
            url: format!("ws://{addr}"),
            connections: 4,
            threads: 1,
            window: 32,
            size,
            count: if duration.is_some() { 0 } else { 300 },
            duration,
            timeout_ms: 30_000,
            ..Default::default()
        };
        let t0 = Instant::now();
        let r = run_probe(&p, &client, &sd, || {}).unwrap();
        eprintln!(
            "size {size}: {:?}, {} echoes in {:?}",
            r.outcome,
            r.received,
            t0.elapsed()
        );
        assert_eq!(r.outcome, Outcome::Passed, "size {size}: {:?}", r.error);
        assert!(r.received > 0);
        if duration.is_none() {
            assert_eq!(r.received, 4 * 300);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(25),
            "size {size}: {:?}",
            t0.elapsed()
        );
    }
    stop.store(true, Ordering::SeqCst);
}

/// The master tells probes where to connect: an IPv6 host keeps its brackets (it lost them
/// when the URL was put together by hand).
#[test]
fn master_on_ipv6_prints_a_url_probes_can_use() {
    use std::io::{BufRead, BufReader};
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        return common::peer_missing("no IPv6 loopback here");
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = master_spec(dir.path(), "ws://127.0.0.1:1");
    let port = free_port();
    let mut master = Command::new(BIN)
        .args(["-m", "wsperfmaster", "-w", &format!("ws://[::1]:{port}")])
        .args(["-s", spec.to_str().unwrap(), "--probes", "1", "-u", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(master.stderr.take().unwrap()).lines();
    let line = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("listening on"))
        .unwrap_or_default();
    let _ = master.kill();
    let _ = master.wait();
    assert!(
        line.contains(&format!("listening on ws://[::1]:{port};")),
        "{line}"
    );
}
