//! The `wstest` binary: argument errors and exit codes, the embedded echo target, an
//! unreachable server, and a testee server stopped with SIGINT while a client is connected.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_wstest");

fn wstest(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run wstest")
}

/// stderr without the io_uring fallback notice (printed on machines without io_uring).
fn stderr_lines(o: &Output) -> Vec<String> {
    text(&o.stderr)
        .lines()
        .filter(|l| !l.contains("io_uring unavailable"))
        .map(str::to_string)
        .collect()
}

#[test]
fn unknown_mode_lists_the_modes_and_exits_2() {
    let o = wstest(&["-m", "fuzzingbogus"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("fuzzingbogus"), "names the bad mode: {err}");
    for mode in [
        "fuzzingclient",
        "fuzzingserver",
        "testeeserver",
        "testeeclient",
        "echoserver",
        "echoclient",
        "massconnect",
        "wampserver",
    ] {
        assert!(err.contains(mode), "lists {mode}: {err}");
    }
}

#[test]
fn no_mode_is_an_error() {
    let o = wstest(&[]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("-m"), "{err}");
}

#[test]
fn testeeclient_without_url_says_it_needs_one() {
    let o = wstest(&["-m", "testeeclient"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("testeeclient") && err.contains("-w"), "{err}");
    assert!(err.to_ascii_lowercase().contains("url"), "{err}");
}

#[test]
fn bad_urls_are_named_in_the_error() {
    for (mode, url) in [
        ("testeeclient", "http://example.invalid:9001"),
        ("echoclient", "ws://bad host/"),
        ("testeeserver", "localhost:9001"),
        ("echoserver", "ws://127.0.0.1:9/#frag"),
    ] {
        let o = wstest(&["-m", mode, "-w", url, "--threads", "1"]);
        let lines = stderr_lines(&o);
        assert_eq!(o.status.code(), Some(2), "{mode} {url}: {lines:?}");
        assert_eq!(lines.len(), 1, "{mode} {url}: one line: {lines:?}");
        assert!(
            lines[0].contains(url),
            "{mode}: the error names {url}: {lines:?}"
        );
    }
}

#[test]
fn bad_driver_is_an_argument_error() {
    let o = wstest(&["-m", "echoclient", "--driver", "kqueue", "--message", "x"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("kqueue"), "{err}");
}

#[test]
fn dash_a_prints_the_version() {
    let o = wstest(&["-a"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains(&format!("wstest {}", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    assert!(out.contains("Autobahn"), "{out}");
}

#[test]
fn echoclient_without_url_uses_an_embedded_server() {
    for driver in ["auto", "epoll"] {
        let o = wstest(&[
            "-m",
            "echoclient",
            "--message",
            "hi",
            "--count",
            "3",
            "--driver",
            driver,
        ]);
        let out = text(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{driver}: {}", text(&o.stderr));
        let echoes: Vec<&str> = out.lines().filter(|l| l.starts_with("hi\t")).collect();
        assert_eq!(echoes.len(), 3, "{driver}: three echoes printed: {out}");
        assert!(
            out.contains("3 sent, 3 echoed, 0 mismatched"),
            "{driver}: {out}"
        );
        assert!(
            text(&o.stderr).contains("in-process"),
            "{driver}: says it started its own server: {}",
            text(&o.stderr)
        );
    }
}

#[test]
fn echoclient_json_report() {
    let o = wstest(&[
        "-m",
        "echoclient",
        "--message",
        "json please",
        "--count",
        "4",
        "--binary",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o.stdout)));
    assert_eq!(
        (
            v["sent"].as_u64(),
            v["received"].as_u64(),
            v["mismatched"].as_u64()
        ),
        (Some(4), Some(4), Some(0)),
        "{v}"
    );
    assert_eq!(v["close"]["was_clean"], true, "{v}");
}

#[test]
fn echoclient_reads_lines_from_stdin_as_they_come() {
    use std::io::Write;
    let server = Server::testee();
    let mut child = Command::new(BIN)
        .args(["-m", "echoclient", "-w", &server.url()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wstest");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            all.push(line.clone());
            let _ = tx.send(line);
        }
        all
    });
    // One line at a time, as a person types them: the next only after the echo of the last.
    for line in ["first line", "second line", "third line"] {
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
        let echo = rx.recv_timeout(Duration::from_secs(10));
        if !matches!(&echo, Ok(l) if l.starts_with(&format!("{line}\t"))) {
            let _ = child.kill();
            panic!("no echo of {line:?} within 10 s (got {echo:?})");
        }
    }
    drop(stdin); // EOF: the client closes and exits.
    let status = wait_output(child, Duration::from_secs(10)).status;
    let out = reader.join().unwrap();
    assert_eq!(status.code(), Some(0), "{out:?}");
    assert!(
        out.iter()
            .any(|l| l.contains("3 sent, 3 echoed, 0 mismatched")),
        "{out:?}"
    );
    assert_eq!(server.finish().stats.rx_messages, 3);
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    a
}

#[test]
fn echoclient_against_a_closed_port_exits_3_with_one_line() {
    let addr = closed_port();
    let o = wstest(&[
        "-m",
        "echoclient",
        "-w",
        &format!("ws://{addr}"),
        "--message",
        "x",
    ]);
    let lines = stderr_lines(&o);
    assert_eq!(o.status.code(), Some(3), "{lines:?}");
    assert_eq!(lines.len(), 1, "one line: {lines:?}");
    assert!(
        lines[0].contains(&addr.to_string()),
        "names the address: {lines:?}"
    );
    assert!(lines[0].starts_with("wstest: error:"), "{lines:?}");
    assert!(
        text(&o.stdout).is_empty(),
        "nothing on stdout: {}",
        text(&o.stdout)
    );
}

#[test]
fn echoclient_against_a_non_websocket_server_exits_3() {
    // An HTTP server that answers 404 to everything.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let _ = s
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
    let o = wstest(&[
        "-m",
        "echoclient",
        "-w",
        &format!("ws://{addr}/nothing"),
        "--message",
        "x",
    ]);
    t.join().unwrap();
    let lines = stderr_lines(&o);
    assert_eq!(o.status.code(), Some(3), "{lines:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("404"),
        "says what the server answered: {lines:?}"
    );
    assert!(
        lines[0].contains(&addr.to_string()),
        "names the server: {lines:?}"
    );
}

/// Wait for the child to exit, at most `limit`; kill it and fail otherwise.
fn wait_output(mut child: Child, limit: Duration) -> Output {
    let until = Instant::now() + limit;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > until {
            let _ = child.kill();
            let o = child.wait_with_output().expect("output");
            panic!(
                "wstest did not exit within {limit:?}; stderr: {}",
                text(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn testeeserver_sigint_closes_clients_with_1001_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    let mut child = Command::new(BIN)
        .args([
            "-m",
            "testeeserver",
            "-w",
            "ws://127.0.0.1:0",
            "--threads",
            "1",
            "--no-pin",
            "-o",
        ])
        .arg(&report_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wstest");
    // Forward stderr lines; the first one we need says where the server listens.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            all.push(line.clone());
            let _ = tx.send(line);
        }
        all
    });
    let url = loop {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    break rest.split_whitespace().next().unwrap().to_string();
                }
            }
            Err(e) => {
                let _ = child.kill();
                panic!("no 'listening on' line from testeeserver: {e}");
            }
        }
    };
    let addr: SocketAddr = url
        .trim_start_matches("ws://")
        .parse()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_ne!(addr.port(), 0);

    let mut c = RawClient::connect(addr);
    c.send_text("before the signal");
    c.expect_text("before the signal");

    // SAFETY: sending a signal to our own child process.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());

    // The server goes away: Close 1001; we answer, and it closes TCP.
    c.expect_close(1001);
    c.send_close(1001, b"");
    c.expect_eof();

    let o = wait_output(child, Duration::from_secs(10));
    let errs = reader.join().unwrap();
    assert_eq!(o.status.code(), Some(0), "exit status; stderr: {errs:?}");
    let out = text(&o.stdout);
    assert!(out.contains("testeeserver stopped: 1 connections"), "{out}");
    assert!(
        errs.iter().any(|l| l.contains("SIGINT")),
        "says why it stops: {errs:?}"
    );
    // The report was written (-o).
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_path).expect("report written"))
            .expect("report is JSON");
    assert_eq!(v["mode"], "testeeserver", "{v}");
    assert_eq!(v["stats"]["connections"], 1, "{v}");
    assert_eq!(v["stats"]["rx_messages"], 1, "{v}");
}
