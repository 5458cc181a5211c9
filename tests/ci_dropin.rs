//! What CI pipelines that run Autobahn today rely on, against the real binary: a bind
//! address for containers, stored expected results (`--expected`, `wstest compare`, the jq
//! diff tungstenite-rs runs), an allow-list of verdicts (`--accept`), JUnit XML read by a real
//! JUnit consumer, fuzzingserver's exit status and `--exit-on-update`, and the command line's
//! consistency (`-w`, a spec in a missing directory, per-mode help, `-d`, typos in entries).

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_wstest");

use common::wstest_in as wstest;

/// `wstest -m fuzzingclient -s fc.json --quiet` and `extra`, in `dir`.
fn fuzzingclient(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["-m", "fuzzingclient", "-s", "fc.json", "--quiet"];
    args.extend_from_slice(extra);
    wstest(dir, &args)
}

/// Our echoserver with a 1000-octet message limit and no deflate: fails 9.1.1 (a 64 KiB
/// message), answers 12.1.1 UNIMPLEMENTED, passes 1.1.*.
fn failing_server() -> Proc {
    Proc::start(
        "echoserver",
        &["--deflate", "off", "--max-message-size", "1000"],
    )
}

/// A fuzzingclient spec for `cases` against the server at `url` (agent "lib").
fn client_spec(dir: &Path, url: &str, cases: &str) {
    std::fs::write(
        dir.join("fc.json"),
        format!(
            r#"{{"outdir": "./reports", "servers": [{{"agent": "lib", "url": "{url}"}}], "cases": [{cases}]}}"#
        ),
    )
    .unwrap();
}

#[test]
fn bind_listens_on_every_interface_whatever_the_url_says() {
    let dir = tempfile::tempdir().unwrap();
    // The URL names an address no interface has; --bind decides where to listen.
    let s = Proc::start_at(
        "echoserver",
        "192.0.2.1",
        &[],
        &[("WSTEST_BIND", "0.0.0.0")],
    );
    let port = s.port;
    assert_serves(s.addr());
    drop(s);
    // Without it, today's default: the URL's host (which is not ours here).
    let o = wstest(
        dir.path(),
        &[
            "-m",
            "echoserver",
            "-w",
            &format!("ws://192.0.2.1:{port}"),
            "-u",
            "0",
        ],
    );
    assert_ne!(o.status.code(), Some(0));
}

/// A run against a server with failing cases: the stored expectation passes it, one changed
/// verdict fails it; the jq diff of the downstream projects agrees.
#[test]
fn expected_results_pass_a_stable_run_and_fail_a_changed_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A server that fails a case: ours with a 1000-octet message limit fails 9.1.1 (a 64 KiB
    // message), and without deflate answers 12.1.1 UNIMPLEMENTED.
    let server = failing_server();
    client_spec(
        d,
        &format!("ws://127.0.0.1:{}", server.port),
        r#""1.1.*", "9.1.1", "12.1.1""#,
    );
    let o = fuzzingclient(d, &[]);
    assert_eq!(o.status.code(), Some(1), "9.1.1 fails: {}", text(&o.stdout));
    // Store what this run gives.
    let o = fuzzingclient(d, &["--expected", "expected.json", "--update-expected"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // The same again: nothing differs, though cases fail.
    let o = fuzzingclient(d, &["--expected", "expected.json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(text(&o.stdout).contains("verdicts as expected"));
    // tungstenite-rs's check: jq -S 'del(.AGENT|..|.duration?)' on both, then diff.
    let jq = |f: &str| {
        Command::new("jq")
            .args(["-S", r#"del(.lib|..|.duration?)"#, f])
            .current_dir(d)
            .output()
    };
    match (jq("expected.json"), jq("reports/index.json")) {
        (Ok(a), Ok(b)) if a.status.success() && b.status.success() => {
            assert_eq!(text(&a.stdout), text(&b.stdout), "jq diff of a stable run");
        }
        _ => peer_missing("jq is not installed (apt-get install jq)"),
    }
    // One verdict changed in the expectation: both checks fail, and say which case.
    let mut e: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("expected.json")).unwrap()).unwrap();
    e["lib"]["1.1.1"]["behavior"] = "FAILED".into();
    std::fs::write(d.join("expected.json"), e.to_string()).unwrap();
    let o = fuzzingclient(d, &["--expected", "expected.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("lib 1.1.1: expected FAILED / OK, got OK / OK"),
        "{}",
        text(&o.stdout)
    );
    let o = wstest(d, &["compare", "expected.json", "reports/index.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).contains("lib 1.1.1"));
    if let (Ok(a), Ok(b)) = (jq("expected.json"), jq("reports/index.json")) {
        assert_ne!(text(&a.stdout), text(&b.stdout), "the jq diff sees it too");
    }
}

#[test]
fn accept_is_an_allow_list_of_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = failing_server();
    client_spec(
        d,
        &format!("ws://127.0.0.1:{}", server.port),
        r#""1.1.1", "12.1.1""#,
    );
    let o = fuzzingclient(d, &["--accept", "OK,INFORMATIONAL,NON-STRICT"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "12.1.1 is UNIMPLEMENTED: {}",
        text(&o.stdout)
    );
    assert!(
        text(&o.stdout).contains("lib 12.1.1: UNIMPLEMENTED"),
        "{}",
        text(&o.stdout)
    );
    let o = fuzzingclient(d, &["--accept", "OK,UNIMPLEMENTED"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    let o = wstest(
        d,
        &[
            "-m",
            "fuzzingclient",
            "-s",
            "fc.json",
            "--accept",
            "OK,GREAT",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
}

/// JUnit XML, read by junitparser (PyPI), a consumer CI tools use.
#[test]
fn junit_xml_reads_in_a_real_junit_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = failing_server();
    client_spec(
        d,
        &format!("ws://127.0.0.1:{}", server.port),
        r#""1.1.1", "1.1.2", "9.1.1""#,
    );
    let o = fuzzingclient(d, &["--junit", "junit.xml"]);
    assert_eq!(o.status.code(), Some(1));
    let site = d.join("site");
    let pip = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--target"])
        .arg(&site)
        .arg("junitparser")
        .output();
    if !matches!(&pip, Ok(o) if o.status.success()) {
        return peer_missing("junitparser cannot be installed with pip");
    }
    let script = r#"
import sys
from junitparser import JUnitXml, Failure
xml = JUnitXml.fromfile(sys.argv[1])
for suite in xml:
    for case in suite:
        kinds = [type(r).__name__ for r in case.result]
        text = " ".join((r.message or "") + " " + (r.text or "") for r in case.result)
        print(suite.name, case.name, ",".join(kinds) or "pass", text.replace("\n", " ")[:600])
"#;
    let o = Command::new("python3")
        .args(["-c", script, "junit.xml"])
        .env("PYTHONPATH", &site)
        .current_dir(d)
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}{}", text(&o.stderr));
    assert!(out.contains("lib 1.1.1 pass"), "{out}");
    let failed = out.lines().find(|l| l.starts_with("lib 9.1.1")).unwrap();
    assert!(
        failed.contains("Failure") && failed.contains("behavior FAILED"),
        "{failed}"
    );
    assert!(
        failed.contains("lib_case_9_1_1.html"),
        "the report file: {failed}"
    );
}

/// fuzzingserver: stopped by SIGTERM or after /updateReports, its exit status is the
/// verdicts' (0 only when every case passed).
#[test]
fn fuzzingserver_exits_with_its_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Each server on a port of its own (below the ephemeral range): one started again at
    // once on the last one's port may find it taken by that one's closing connections, or
    // by another test that was handed it meanwhile.
    let port = std::cell::Cell::new(0);
    let start = |extra: &[&str]| {
        port.set(stable_port());
        let port = port.get();
        std::fs::write(
            d.join("fs.json"),
            format!(r#"{{"url": "ws://127.0.0.1:{port}", "outdir": "./reports", "cases": ["1.1.1", "6.3.1"]}}"#),
        )
        .unwrap();
        let c = Command::new(BIN)
            .args(["-m", "fuzzingserver", "-s", "fs.json", "-u", "0"])
            .args(extra)
            .current_dir(d)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_port(port);
        c
    };
    // Our testee client passes both: SIGTERM, exit 0.
    let server = start(&[]);
    let first = port.get();
    let o = wstest(
        d,
        &[
            "-m",
            "testeeclient",
            "-w",
            &format!("ws://127.0.0.1:{first}"),
            "-i",
            "good",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let out = server.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // Nobody ran a case: that is not a pass.
    std::fs::remove_dir_all(d.join("reports")).unwrap();
    let server = start(&[]);
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: as above.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let out = server.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("no client ran a case"));
    // --exit-on-update with a client that accepts bad UTF-8 (a raw one): it stops by
    // itself after /updateReports and exits 1, listing the failing case.
    let server = start(&["--exit-on-update"]);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port.get()));
    for case in 1..=2 {
        let mut c = RawClient::handshake_over(
            tcp(addr),
            &wstest_engine::proto::handshake::ClientHandshake::new(
                wstest_engine::proto::handshake::ClientOptions::new(
                    addr.to_string(),
                    format!("/runCase?case={case}&agent=sloppy"),
                ),
                *b"sloppy-client-ky",
            ),
            &wstest_engine::proto::handshake::ClientHandshake::new(
                wstest_engine::proto::handshake::ClientOptions::new(
                    addr.to_string(),
                    format!("/runCase?case={case}&agent=sloppy"),
                ),
                *b"sloppy-client-ky",
            )
            .request(),
        );
        // Echo whatever comes, close when the server closes.
        loop {
            let f = c.expect_frame();
            if f.opcode == CLOSE {
                c.send_close(1000, b"");
                break;
            }
            c.send_frame(f.opcode, f.fin, &f.payload);
        }
    }
    let hs = wstest_engine::proto::handshake::ClientHandshake::new(
        wstest_engine::proto::handshake::ClientOptions::new(
            addr.to_string(),
            "/updateReports?agent=sloppy",
        ),
        *b"sloppy-client-ky",
    );
    let mut c = RawClient::handshake_over(tcp(addr), &hs, &hs.request());
    let _ = c.expect_frame();
    let out = server.wait_with_output().unwrap();
    let so = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{so}");
    assert!(so.contains("failing: 6.3.1"), "{so}");
}

#[test]
fn the_command_line_is_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // -w replaces the spec's server.
    let server = Proc::start("testeeserver", &[]);
    client_spec(d, "ws://127.0.0.1:1", r#""1.1.1""#);
    let o = fuzzingclient(d, &["-w", &format!("ws://127.0.0.1:{}", server.port)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // A spec in a directory that does not exist is an error, not a template and a run.
    let o = wstest(d, &["-m", "fuzzingclient", "-s", "nowhere/fc.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("nowhere") && text(&o.stderr).contains("does not exist"));
    assert!(!d.join("nowhere").exists());
    // Per-mode help.
    let o = wstest(d, &["-m", "wampserver", "--help"]);
    assert!(o.status.success());
    assert!(text(&o.stdout).contains("--hello-timeout") && !text(&o.stdout).contains("--junit"));
    // A typo inside a server entry warns, as one at the top level does.
    std::fs::write(
        d.join("typo.json"),
        format!(
            r#"{{"outdir": "./r2", "servers": [{{"agent": "t", "url": "ws://127.0.0.1:{}", "optoins": {{}}}}], "cases": ["1.1.1"]}}"#,
            server.port
        ),
    )
    .unwrap();
    let o = wstest(d, &["-m", "fuzzingclient", "-s", "typo.json", "--quiet"]);
    assert!(
        text(&o.stderr).contains("servers[0]: unknown key \"optoins\""),
        "{}",
        text(&o.stderr)
    );
    // -d: each case's start and end, its handshake and close.
    let o = wstest(
        d,
        &["-m", "fuzzingclient", "-s", "typo.json", "--quiet", "-d"],
    );
    let err = text(&o.stderr);
    assert!(err.contains("case 1.1.1 (t): handshake done"), "{err}");
    assert!(
        err.contains("case 1.1.1 (t): closed") && err.contains("case 1.1.1 (t): OK / OK"),
        "{err}"
    );
    // The index page starts with the totals.
    let page = std::fs::read_to_string(d.join("r2/index.html")).unwrap();
    let totals = page.find("Totals").expect("totals");
    assert!(totals < page.find("Case 1.1.1").unwrap());
}

/// `docs/downstream/run-autobahn.sh`, the steps a library's CI runs, with our testee server as
/// the library: store the expected verdicts, pass against them, fail on a changed one.
#[test]
fn the_downstream_ci_script_runs_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = d.join("autobahn");
    std::fs::create_dir_all(&config).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/downstream/run-autobahn.sh");
    // Each run on a port of its own: a server started again at once on the port the last one
    // left may find it still taken by that one's closing connections (a bind fails on
    // sockets in FIN_WAIT or LAST_ACK, not only on a listener).
    let run = |update: bool| {
        let port = stable_port();
        std::fs::write(
            config.join("fuzzingclient.json"),
            format!(
                r#"{{"outdir": "./reports", "servers": [{{"agent": "lib", "url": "ws://127.0.0.1:{port}"}}], "cases": ["1.1.*", "2.*"]}}"#
            ),
        )
        .unwrap();
        Command::new(&script)
            .arg(&config)
            .arg("--")
            .args([
                BIN,
                "-m",
                "testeeserver",
                "-w",
                &format!("ws://127.0.0.1:{port}"),
                "-u",
                "0",
            ])
            .env("WSTEST", BIN)
            .env("UPDATE", if update { "1" } else { "0" })
            .current_dir(d)
            .output()
            .unwrap()
    };
    let o = run(true);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(config.join("expected-results.json").exists());
    let o = run(false);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(d.join("reports/junit.xml").exists());
    let p = config.join("expected-results.json");
    let changed = std::fs::read_to_string(&p)
        .unwrap()
        .replacen("\"OK\"", "\"FAILED\"", 1);
    std::fs::write(&p, changed).unwrap();
    let o = run(false);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
}
