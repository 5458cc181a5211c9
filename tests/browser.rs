//! The fuzzing server's web page drives a real browser (headless Chromium) through the whole
//! suite, and the report lists the browser as an agent. Skipped, with a message, where
//! Chromium is not installed (Debian package `chromium`).

mod common;

use std::path::Path;

use common::{chromium, free_port, headless_chromium, peer_missing, url_command};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn browser_runs_the_suite_from_the_web_page() {
    let Some(browser) = chromium() else {
        return peer_missing("no chromium (apt-get install chromium)");
    };
    let tmp = tempfile::tempdir().unwrap();
    let outdir = tmp.path().join("reports");
    let (ws_port, web_port) = (free_port(), free_port());
    let spec = serde_json::json!({"url": format!("ws://127.0.0.1:{ws_port}"), "outdir": outdir, "cases": ["1.*", "2.*", "5.*", "6.2.*", "6.3.*", "7.1.*", "9.1.1", "10.*"]});
    let spec_path = tmp.path().join("fs.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_wstest"))
        .args([
            "-m",
            "fuzzingserver",
            "-s",
            spec_path.to_str().unwrap(),
            "-u",
            &web_port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", web_port)).is_err()
        || std::net::TcpStream::connect(("127.0.0.1", ws_port)).is_err()
    {
        assert!(Instant::now() < until, "web page never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let profile = tempfile::tempdir().unwrap();
    let mut chrome = headless_chromium(
        browser,
        profile.path(),
        &format!("http://127.0.0.1:{web_port}/?agent=headless-chromium&autorun=1"),
    )
    .spawn()
    .unwrap();
    // The index is written as each case ends: wait until it holds every case the spec selects.
    let selected: usize = url_command(ws_port, "/getCaseCount").unwrap()[0]
        .parse()
        .unwrap();
    let index = outdir.join("index.json");
    let until = Instant::now() + Duration::from_secs(240);
    let report = loop {
        if let Ok(text) = std::fs::read_to_string(&index) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                let done = v
                    .get("headless-chromium")
                    .and_then(|a| a.as_object())
                    .is_some_and(|a| a.len() >= selected);
                if done {
                    break v;
                }
            }
        }
        assert!(
            Instant::now() < until,
            "the browser did not finish the suite"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = chrome.kill();
    let _ = chrome.wait();
    let _ = server.kill();
    let _ = server.wait();
    let cases = report["headless-chromium"].as_object().unwrap();
    assert_eq!(cases.len(), selected, "the browser ran every selected case");
    assert!(selected > 50, "the spec selects {selected} cases");
    // A browser is a good WebSocket client: framing, pings and fragmentation all pass.
    for (id, r) in cases {
        if id.starts_with("1.") || id.starts_with("2.") || id.starts_with("5.") || id == "10.1.1" {
            assert!(
                matches!(r["behavior"].as_str(), Some("OK") | Some("NON-STRICT")),
                "{id}: {r}"
            );
        }
    }
    // The per-case reports and the index page exist and link to each other.
    assert!(Path::new(&outdir.join("headless_chromium_case_1_1_1.html")).exists());
    let html = std::fs::read_to_string(outdir.join("index.html")).unwrap();
    assert!(
        html.contains("headless-chromium") && html.contains("headless_chromium_case_1_1_1.html")
    );
}
