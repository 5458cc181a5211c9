//! The fuzzer's two modes end to end over loopback: the main command against the embedded
//! testee, an unreachable server, the fuzzing server's URL protocol (including bad
//! requests), results kept across a restart, and exit statuses.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, url_command, wait_port, wstest_in as wstest};
use serde_json::Value;

/// Read a report. Like the original's, reports show undecodable text with surrogate escapes
/// (`"\ud800"`), which strict parsers such as serde_json refuse: map them to U+FFFD first.
fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(i) = rest.find("\\u") {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        let esc = &tail[..6.min(tail.len())];
        let is_surrogate = esc.len() == 6
            && matches!(esc.as_bytes()[2].to_ascii_lowercase(), b'd')
            && matches!(esc.as_bytes()[3].to_ascii_lowercase(), b'8'..=b'9' | b'a'..=b'f');
        // An escaped backslash before it means it is not an escape at all.
        let escaped =
            head.ends_with('\\') && head.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1;
        if is_surrogate && !escaped {
            out.push_str("\\ufffd");
        } else {
            out.push_str(esc);
        }
        rest = &tail[esc.len()..];
    }
    out.push_str(rest);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The README's main command, exactly: in an empty directory, `wstest -m fuzzingclient`
/// writes the template spec, tests our own testee (started in-process on 9001) with every
/// case, passes, and leaves the reports.
#[test]
fn main_command_writes_template_and_passes_on_embedded_testee() {
    if std::net::TcpListener::bind("127.0.0.1:9001").is_err() {
        eprintln!("SKIP: port 9001 (the template's embedded testee) is in use");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let out = wstest(d.path(), &["-m", "fuzzingclient"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("wstest-testee: 517 cases") && stdout.contains("reports in"),
        "{stdout}"
    );
    let template: Value = read_json(&d.path().join("fuzzingclient.json"));
    assert_eq!(template["servers"][0]["embedded"], Value::Bool(true));
    let outdir = d.path().join("reports/servers");
    let index = read_json(&outdir.join("index.json"));
    let cases = index["wstest-testee"].as_object().unwrap();
    assert_eq!(cases.len(), 517);
    for (id, r) in cases {
        assert!(
            matches!(r["behavior"].as_str(), Some("OK") | Some("INFORMATIONAL")),
            "{id}: {r}"
        );
        let report = read_json(&outdir.join(r["reportfile"].as_str().unwrap()));
        assert_eq!(report["id"], Value::String(id.clone()));
        assert_eq!(report["behavior"], r["behavior"]);
        assert!(report["wirelog"].as_array().is_some_and(|w| !w.is_empty()));
    }
    assert!(std::fs::read_to_string(outdir.join("index.html"))
        .unwrap()
        .contains("wstest_testee_case_9_7_6.html"));
}

#[test]
fn an_unreachable_server_is_not_a_run_and_the_others_go_on() {
    let d = tempfile::tempdir().unwrap();
    let dead = free_port();
    let live = free_port();
    let spec = serde_json::json!({
        "outdir": "out",
        "servers": [
            {"agent": "nobody", "url": format!("ws://127.0.0.1:{dead}")},
            {"agent": "ours", "url": format!("ws://127.0.0.1:{live}"), "embedded": true}
        ],
        "cases": ["1.1.*"]
    });
    std::fs::write(d.path().join("spec.json"), spec.to_string()).unwrap();
    let out = wstest(
        d.path(),
        &["-m", "fuzzingclient", "-s", "spec.json", "--quiet"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "unreachable: exit 3\n{stderr}");
    assert!(
        stderr.contains(&format!("cannot connect to ws://127.0.0.1:{dead}: refused")),
        "{stderr}"
    );
    let index = read_json(&d.path().join("out/index.json"));
    assert!(index.get("nobody").is_none(), "no verdicts for it: {index}");
    assert!(!d.path().join("out/nobody_case_1_1_1.json").exists());
    assert_eq!(index["ours"]["1.1.8"]["behavior"], "OK");
}

/// `--wait-for`: a server that comes up after the fuzzer started is waited for.
#[test]
fn wait_for_waits_until_the_server_answers() {
    let d = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        d.path().join("spec.json"),
        serde_json::json!({"outdir": "out", "cases": ["1.1.1"],
            "servers": [{"agent": "late", "url": format!("ws://127.0.0.1:{port}")}]})
        .to_string(),
    )
    .unwrap();
    let client = Command::new(env!("CARGO_BIN_EXE_wstest"))
        .args([
            "-m",
            "fuzzingclient",
            "-s",
            "spec.json",
            "--quiet",
            "--wait-for",
            "20",
        ])
        .current_dir(d.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let mut server = Command::new(env!("CARGO_BIN_EXE_wstest"))
        .args([
            "-m",
            "testeeserver",
            "-w",
            &format!("ws://127.0.0.1:{port}"),
            "-u",
            "0",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let out = client.wait_with_output().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index = read_json(&d.path().join("out/index.json"));
    assert_eq!(index["late"]["1.1.1"]["behavior"], "OK");
}

#[test]
fn spec_errors_are_clear() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("bad.json"),
        "{\n  \"servers\": [\n    {\"url\": \"ws://x\"},\n  ]\n}",
    )
    .unwrap();
    let out = wstest(d.path(), &["-m", "fuzzingclient", "-s", "bad.json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.json") && err.contains("line 4"), "{err}");
    std::fs::write(
        d.path().join("nomatch.json"),
        r#"{"servers": [{"url": "ws://127.0.0.1:1"}], "cases": ["42.*"]}"#,
    )
    .unwrap();
    let out = wstest(d.path(), &["-m", "fuzzingclient", "-s", "nomatch.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"42.*\" matches no case"));
    std::fs::write(d.path().join("unknown.json"), format!(r#"{{"servers": [{{"url": "ws://127.0.0.1:{}", "embedded": true}}], "cases": ["1.1.1"], "outdir": "o", "colour": "blue"}}"#, free_port())).unwrap();
    let out = wstest(
        d.path(),
        &["-m", "fuzzingclient", "-s", "unknown.json", "--quiet"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown key \"colour\""));
}

fn start_server(dir: &Path, port: u16, cases: &[&str]) -> std::process::Child {
    let spec = serde_json::json!({"url": format!("ws://127.0.0.1:{port}"), "outdir": "reports", "cases": cases});
    std::fs::write(dir.join("fs.json"), spec.to_string()).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_wstest"))
        .current_dir(dir)
        .args(["-m", "fuzzingserver", "-s", "fs.json", "-u", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port);
    child
}

#[test]
fn fuzzingserver_url_protocol_and_restart() {
    let d = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start_server(d.path(), port, &["1.1.1", "1.1.2", "2.1"]);
    assert_eq!(url_command(port, "/getCaseCount").unwrap(), vec!["3"]);
    let info: Value =
        serde_json::from_str(&url_command(port, "/getCaseInfo?case=3").unwrap()[0]).unwrap();
    assert_eq!(info["id"], "2.1");
    // Bad requests are refused with a reason, and the server keeps serving.
    for bad in [
        "/runCase?case=0&agent=a",
        "/runCase?case=4&agent=a",
        "/runCase?case=x&agent=a",
        "/runCase?case=1",
        "/getCaseInfo",
        "/updateReports",
    ] {
        let e = url_command(port, bad).unwrap_err();
        assert!(e.contains("400"), "{bad}: {e}");
    }
    // Our testee client runs the cases; the status of a case is then available.
    let out = Command::new(env!("CARGO_BIN_EXE_wstest"))
        .args([
            "-m",
            "testeeclient",
            "-w",
            &format!("ws://127.0.0.1:{port}"),
            "-i",
            "first agent",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: Value = serde_json::from_str(
        &url_command(port, "/getCaseStatus?case=2&agent=first%20agent").unwrap()[0],
    )
    .unwrap();
    assert_eq!(status["behavior"], "OK");
    let index = read_json(&d.path().join("reports/index.json"));
    assert_eq!(index["first agent"].as_object().unwrap().len(), 3);
    // /stopServer stops it.
    let _ = url_command(port, "/stopServer");
    let until = Instant::now() + Duration::from_secs(10);
    while server.try_wait().unwrap().is_none() {
        assert!(Instant::now() < until, "server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A restarted server still knows the first agent, and adds a second one.
    let mut server = start_server(d.path(), port, &["1.1.1", "1.1.2", "2.1"]);
    let out = Command::new(env!("CARGO_BIN_EXE_wstest"))
        .args([
            "-m",
            "testeeclient",
            "-w",
            &format!("ws://127.0.0.1:{port}"),
            "-i",
            "second",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let index = read_json(&d.path().join("reports/index.json"));
    assert!(
        index.get("first agent").is_some() && index.get("second").is_some(),
        "{index}"
    );
    let _ = server.kill();
    let _ = server.wait();
}
