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
    assert_eq!(counts, ["1000", "1000", "1000", "100", "1000"]);
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
