//! massconnect over real loopback sockets: reaching the target from several source
//! addresses, lost connections retried, a target that is down, a server that never answers
//! the handshake, shards merged exactly, and three network namespaces as three client hosts.

mod common;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::netns::{wait_reachable, Net, Ns};
use common::*;
use wstest_engine::proto::handshake::Request;
use wstest_engine::proto::{CloseCode, Config, Connection, Event, Role};
use wstest_engine::runtime::Shutdown;
use wstest_engine::ws::{serve, Handler, ServerConfig, ServerHandle, Service, Upgrade};
use wstest_modes::common::ClientOptions;
use wstest_modes::massconnect::report::{merge_reports, MassReport};
use wstest_modes::massconnect::{run, MassConfig};

const BIN: &str = env!("CARGO_BIN_EXE_wstest");

fn spec(dir: &Path, uri: &str, options: serde_json::Value) -> PathBuf {
    let mut o =
        serde_json::json!({"connections": 200, "batchsize": 50, "batchdelay": 5, "retrydelay": 5});
    for (k, v) in options.as_object().unwrap() {
        o[k] = v.clone();
    }
    let s = serde_json::json!({"options": o, "servers": [{"name": "target", "uri": uri}]});
    let p = dir.join("mc.json");
    std::fs::write(&p, s.to_string()).unwrap();
    p
}

fn config(spec: PathBuf, shard: Option<(u64, u64)>) -> MassConfig {
    let mut client = ClientOptions::default();
    client.runtime.threads = 2;
    client.runtime.no_pin = true;
    MassConfig {
        spec,
        url: None,
        shard,
        start_at: None,
        client,
        progress: false,
        lines: true,
        server_exe: None,
    }
}

/// A server that records client addresses and closes the first `drop_first` connections
/// right after their handshake, or (with `on_ping`) when their first ping arrives.
struct Recorder {
    peers: Arc<Mutex<HashSet<IpAddr>>>,
    drop_first: usize,
    on_ping: bool,
    seen: AtomicUsize,
    pings: Arc<AtomicUsize>,
}
struct Closer {
    close: bool,
    on_ping: bool,
    pings: Arc<AtomicUsize>,
}
impl Handler for Closer {
    fn on_open(&mut self, conn: &mut Connection, now: Instant) {
        if self.close && !self.on_ping {
            conn.close(Some(CloseCode::GOING_AWAY), "go away", now);
        }
    }
    fn on_event(&mut self, c: &mut Connection, e: Event, now: Instant) {
        if let Event::Ping(_) = e {
            self.pings.fetch_add(1, Ordering::SeqCst);
            if self.close && self.on_ping {
                c.close(Some(CloseCode::GOING_AWAY), "go away", now);
            }
        }
    }
}
impl Service for Recorder {
    type Handler = Closer;
    fn upgrade(&self, _req: &Request, peer: SocketAddr) -> Upgrade<Closer> {
        self.peers.lock().unwrap().insert(peer.ip());
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        Upgrade::Accept {
            handler: Closer {
                close: n < self.drop_first,
                on_ping: self.on_ping,
                pings: self.pings.clone(),
            },
            config: Config::new(Role::Server),
            protocol: None,
            extensions: None,
        }
    }
}

type Peers = Arc<Mutex<HashSet<IpAddr>>>;

fn recorder(drop_first: usize) -> (ServerHandle, String, Peers, Arc<AtomicUsize>) {
    recorder_with(drop_first, false)
}

fn recorder_with(
    drop_first: usize,
    on_ping: bool,
) -> (ServerHandle, String, Peers, Arc<AtomicUsize>) {
    let peers = Arc::new(Mutex::new(HashSet::new()));
    let pings = Arc::new(AtomicUsize::new(0));
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.runtime.threads = 1;
    cfg.runtime.no_pin = true;
    let svc = Recorder {
        peers: peers.clone(),
        drop_first,
        on_ping,
        seen: AtomicUsize::new(0),
        pings: pings.clone(),
    };
    let h = serve(cfg, Arc::new(svc), Shutdown::new()).unwrap();
    let url = format!("ws://{}", h.local_addr);
    (h, url, peers, pings)
}

#[test]
fn reaches_the_target_from_several_sources_and_retries_lost_connections() {
    let (h, url, peers, _) = recorder(25);
    let dir = tempfile::tempdir().unwrap();
    let p = spec(
        dir.path(),
        &url,
        serde_json::json!({"sources": ["127.0.0.0/29"], "hold": 0.3}),
    );
    let r = run(&config(p, None), Shutdown::new()).unwrap();
    let s = &r.servers[0];
    assert!(s.reached, "{s:?}");
    assert_eq!((s.target, s.connected, s.peak), (200, 200, 200), "{s:?}");
    // The first 25 were closed by the server and opened again.
    assert_eq!(s.lost, 25, "{s:?}");
    assert_eq!(s.handshakes, 225, "{s:?}");
    assert_eq!(s.retries, s.failed + s.lost);
    assert_eq!(
        s.errors.get("closed-by-server"),
        Some(&25),
        "{:?}",
        s.errors
    );
    assert_eq!(s.timeline.iter().sum::<u64>(), 225);
    assert!(s.handshakes_per_sec > 0.0 && s.handshake_latency.count == 225);
    // 100, 180 and 198 open at once, in that order, by the time all 200 were.
    let to = [s.seconds_to_50, s.seconds_to_90, s.seconds_to_99].map(|t| t.expect("reached"));
    assert!(
        to[0] > 0.0 && to[0] <= to[1] && to[1] <= to[2] && to[2] <= s.seconds,
        "{to:?} then {}",
        s.seconds
    );
    assert!(s.memory_per_connection.is_some());
    let seen = peers.lock().unwrap().clone();
    assert_eq!(seen.len(), 6, "six source addresses used: {seen:?}");
    h.stop();
    let _ = h.join();
}

#[test]
fn held_connections_ping_and_stay_open() {
    let (h, url, _, pings) = recorder(0);
    let dir = tempfile::tempdir().unwrap();
    let p = spec(
        dir.path(),
        &url,
        serde_json::json!({"connections": 20, "hold": 0.5, "ping_interval": 0.1}),
    );
    let r = run(&config(p, None), Shutdown::new()).unwrap();
    let s = &r.servers[0];
    assert!(s.reached && s.lost == 0, "{s:?}");
    // About 5 pings per connection in 0.5 s; the server saw them and answered (a missing pong
    // would not fail the client, a broken frame would close the connection: lost > 0).
    let n = pings.load(Ordering::SeqCst);
    assert!((20 * 3..=20 * 6).contains(&n), "{n} pings");
    h.stop();
    let _ = h.join();
}

#[test]
fn held_connections_the_server_closes_later_are_lost_and_opened_again() {
    // Held idle connections are closed by the server only when their first ping arrives,
    // long after the handshake: the close reaches an idle held socket, which must be seen,
    // counted lost and opened again.
    let (h, url, _, pings) = recorder_with(25, true);
    let dir = tempfile::tempdir().unwrap();
    let p = spec(
        dir.path(),
        &url,
        serde_json::json!({"connections": 100, "hold": 0.6, "ping_interval": 0.1}),
    );
    let r = run(&config(p, None), Shutdown::new()).unwrap();
    let s = &r.servers[0];
    assert!(s.reached, "{s:?}");
    assert_eq!(s.lost, 25, "{s:?}");
    assert_eq!(s.handshakes, 125, "{s:?}");
    assert_eq!(
        s.errors.get("closed-by-server"),
        Some(&25),
        "{:?}",
        s.errors
    );
    assert!(
        pings.load(Ordering::SeqCst) >= 125,
        "every connection pinged"
    );
    h.stop();
    let _ = h.join();
}

#[test]
fn a_target_that_is_down_fails_with_counts_after_max_retries() {
    let dir = tempfile::tempdir().unwrap();
    let p = spec(
        dir.path(),
        "ws://127.0.0.1:1",
        serde_json::json!({"connections": 10, "max_retries": 2, "retrydelay": 1}),
    );
    let o = Command::new(BIN)
        .args([
            "-m",
            "massconnect",
            "-s",
            p.to_str().unwrap(),
            "--quiet",
            "--threads",
            "1",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    // Never reached at all: exit 3, as README says of an unreachable peer.
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("0 of 10 connections open") && err.contains("refused 30"),
        "{err}"
    );
    assert!(
        err.contains("cannot connect to ws://127.0.0.1:1: refused 30"),
        "{err}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("connected 0 clients to target at ws://127.0.0.1:1"),
        "{out}"
    );
    assert!(out.contains("retries 30 = failed 30 + lost 0"), "{out}");
    assert!(
        !out.contains("% open after"),
        "no milestone was reached: {out}"
    );
}

#[test]
fn a_server_that_never_answers_the_handshake_times_out() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let held = std::thread::spawn(move || {
        let mut socks = Vec::new();
        l.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok((s, _)) = l.accept() {
                socks.push(s);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let p = spec(
        dir.path(),
        &format!("ws://{addr}"),
        serde_json::json!({"connections": 5, "max_retries": 1, "handshake_timeout": 0.2}),
    );
    let started = Instant::now();
    let r = run(&config(p, None), Shutdown::new()).unwrap();
    let s = &r.servers[0];
    assert!(!s.reached);
    assert_eq!(
        s.errors.get("handshake-timeout"),
        Some(&10),
        "{:?}",
        s.errors
    );
    assert_eq!(s.gave_up, 5);
    assert!(started.elapsed() < Duration::from_secs(5));
    held.join().unwrap();
}

#[test]
fn shards_split_the_connections_and_merge_exactly() {
    let echo = Server::testee();
    let dir = tempfile::tempdir().unwrap();
    let p = spec(
        dir.path(),
        &echo.url(),
        serde_json::json!({"connections": 301}),
    );
    let parts: Vec<(String, MassReport)> = (0..3)
        .map(|i| {
            let r = run(&config(p.clone(), Some((i, 3))), Shutdown::new()).unwrap();
            (format!("shard{i}"), r)
        })
        .collect();
    let targets: Vec<u64> = parts.iter().map(|(_, r)| r.servers[0].target).collect();
    assert_eq!(targets, [101, 100, 100]);
    let m = merge_reports(&parts).unwrap();
    let s = &m.servers[0];
    assert_eq!((s.target, s.connected, s.agents), (301, 301, 3));
    assert_eq!(s.handshake_latency.count, 301);
    assert!(s.reached);
}

#[test]
fn three_namespaces_as_three_hosts_count_every_connection_once() {
    let Some(net) = Net::build("m", 4) else {
        return peer_missing("cannot create network namespaces here (needs root and iproute2)");
    };
    let mut server = net
        .ns(3)
        .command(
            BIN,
            &["-m", "echoserver", "-w", "ws://10.231.0.13:9000", "-u", "0"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the server answers from a client namespace.
    wait_reachable(net.ns(0), "10.231.0.13", 9000);
    let dir = tempfile::tempdir().unwrap();
    let p = spec(
        dir.path(),
        "ws://10.231.0.13:9000",
        serde_json::json!({"connections": 1500, "batchsize": 100}),
    );
    let start_at = format!(
        "{:.3}",
        (std::time::SystemTime::now() + Duration::from_secs(1))
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    );
    let agents: Vec<_> = (0..3)
        .map(|i| {
            let out = dir.path().join(format!("r{i}.json"));
            let shard = format!("{}/3", i + 1);
            let child = net
                .ns(i)
                .command(
                    BIN,
                    &[
                        "-m",
                        "massconnect",
                        "-s",
                        p.to_str().unwrap(),
                        "--shard",
                        &shard,
                        "--start-at",
                        &start_at,
                        "-o",
                        out.to_str().unwrap(),
                        "--quiet",
                    ],
                )
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (child, out)
        })
        .collect();
    let mut files = Vec::new();
    for (c, out) in agents {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        files.push(out.to_str().unwrap().to_string());
    }
    let merged = dir.path().join("merged.json");
    let mut args = vec!["merge".to_string()];
    args.extend(files);
    args.extend(["-o".to_string(), merged.to_str().unwrap().to_string()]);
    let o = Command::new(BIN).args(&args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    let s = &m["servers"][0];
    assert_eq!(s["connected"], 1500, "{s}");
    assert_eq!(s["target"], 1500);
    assert_eq!(s["agents"], 3);
    assert_eq!(s["handshake_latency"]["count"], s["handshakes"]);
    let _ = server.kill();
    let _ = server.wait();
    drop(net);
}

/// massconnect with `fastopen` in `ns`: its JSON result, and its stderr.
fn fast_open_run(
    ns: &Ns,
    dir: &Path,
    fastopen: bool,
    options: serde_json::Value,
) -> (serde_json::Value, String) {
    let mut o = serde_json::json!({"connections": 200, "batchsize": 10, "batchdelay": 0,
                                   "fastopen": fastopen});
    for (k, v) in options.as_object().unwrap() {
        o[k] = v.clone();
    }
    let uri = o.as_object_mut().unwrap().remove("uri").unwrap_or_default();
    let p = spec(dir, uri.as_str().unwrap_or("ws://127.0.0.1:9000"), o);
    let out = dir.join(format!("fo-{fastopen}.json"));
    let r = ns
        .command(
            BIN,
            &[
                "-m",
                "massconnect",
                "-s",
                p.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "--quiet",
                "--threads",
                "1",
            ],
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr).to_string();
    let v = std::fs::read_to_string(&out)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    (v, err)
}

#[test]
fn fast_open_carries_the_request_in_the_syn_and_a_refusal_still_counts_as_refused() {
    // A namespace of its own: Fast Open for servers (net.ipv4.tcp_fastopen bit 2) is set
    // there, not on this host.
    let Some(ns) = Ns::build("fo") else {
        return peer_missing("cannot create a network namespace here (needs root and iproute2)");
    };
    let set = ns
        .command("sysctl", &["-qw", "net.ipv4.tcp_fastopen=3"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(set, "sysctl net.ipv4.tcp_fastopen in {}", ns.0);
    let mut server = ns
        .command(
            BIN,
            &["-m", "echoserver", "-w", "ws://127.0.0.1:9000", "-u", "0"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_reachable(&ns, "127.0.0.1", 9000);
    let dir = tempfile::tempdir().unwrap();

    // Without Fast Open: no SYN carries data.
    let (plain, err) = fast_open_run(&ns, dir.path(), false, serde_json::json!({}));
    let s = &plain["servers"][0];
    assert_eq!(s["connected"], 200, "{err}");
    assert_eq!(s["fastopen_checked"], 0, "{s}");
    assert_eq!(s["fastopen"], 0, "{s}");

    // With it: every SYN but those sent before this host held the server's cookie (at most
    // the first batch of 10) carries the request, and the server took it.
    let (fo, err) = fast_open_run(&ns, dir.path(), true, serde_json::json!({}));
    let s = &fo["servers"][0];
    assert_eq!(s["connected"], 200, "{err}");
    assert_eq!(s["handshakes"], 200, "{s}");
    // One thread: its first 64 handshakes, then the 128th and the 192nd.
    assert_eq!(s["fastopen_checked"], 66, "{s}");
    let taken = s["fastopen"].as_u64().unwrap();
    assert!((56..=66).contains(&taken), "{taken} of 66 in the SYN: {s}");
    assert!(!err.contains("warning"), "{err}");

    // A port nobody listens on (not 9000, whose closed connections wait in TIME_WAIT at
    // the server's end): the cookie is per host, so connect() sends nothing and the refusal
    // comes back to the request's write or the answer's read: still tallied as refused.
    let (down, err) = fast_open_run(
        &ns,
        dir.path(),
        true,
        serde_json::json!({"connections": 10, "max_retries": 2, "retrydelay": 1,
                           "uri": "ws://127.0.0.1:9001"}),
    );
    let s = &down["servers"][0];
    assert_eq!(s["connected"], 0, "{err}");
    assert_eq!(s["errors"]["refused"], 30, "{s}");
    let _ = server.kill();
    let _ = server.wait();
}
