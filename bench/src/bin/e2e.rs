//! End-to-end bench, one run, same machine, same loopback:
//!
//! 1. Round trips: two raw-TCP ping-pong floors of our own — blocking sockets (one thread
//!    each side, TCP_NODELAY: the kernel's own cost) and the engine's runtime without the
//!    WebSocket layer (one pinned worker each side, same driver) — against wstest's probe
//!    and echoserver (framing, masking, UTF-8 checks, the connection driver), synchronous,
//!    one connection, same sizes. Rounds alternate so drift hits all three; prints medians,
//!    p99s and the ratios to each floor.
//! 2. Throughput: pipelined echo, messages per second per client core, wstest's probe (one
//!    thread) against our echoserver, and the tokio-tungstenite peer (bench/peer-tungstenite,
//!    built here if cargo can) doing the same work.
//!
//! usage: cargo run --release -p wstest-bench --bin e2e -- [--sizes 64,1024] [--count N]
//!        [--rounds R] [--conns C] [--window W] [--seconds S] [--no-peer]
//! env (for comparisons): NO_PIN=1 leaves threads unpinned, EPOLL=1 uses the epoll driver,
//! WSTEST_URING_FLAGS=none|defer changes the io_uring setup (see engine/src/runtime/driver.rs).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use wstest_engine::runtime::{spawn_workers, RuntimeConfig, Shutdown};
use wstest_engine::stats::Latency;
use wstest_modes::common::{ClientOptions, ServerOptions};
use wstest_modes::echo::{echo_server_name, start_echo_server};
use wstest_modes::wsperf::{run_probe, ProbeConfig};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    sizes: Vec<usize>,
    count: u64,
    rounds: usize,
    conns: usize,
    window: usize,
    seconds: f64,
    peer: bool,
}

fn args() -> Args {
    let mut a = Args {
        sizes: vec![64, 1024, 16384],
        count: 20_000,
        rounds: 3,
        conns: 16,
        window: 32,
        seconds: 3.0,
        peer: true,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = || v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--sizes" => a.sizes = val().split(',').filter_map(|s| s.parse().ok()).collect(),
            "--count" => a.count = val().parse().expect("--count N"),
            "--rounds" => a.rounds = val().parse().expect("--rounds R"),
            "--conns" => a.conns = val().parse().expect("--conns C"),
            "--window" => a.window = val().parse().expect("--window W"),
            "--seconds" => a.seconds = val().parse().expect("--seconds S"),
            "--no-peer" => {
                a.peer = false;
                i -= 1;
            }
            "--bench" => i -= 1, // passed by `cargo bench`
            o => panic!("unknown argument {o}"),
        }
        i += 2;
    }
    a
}

/// Raw TCP ping-pong: `count` round trips of `size` octets each way.
fn floor_rtt(size: usize, count: u64, warmup: u64) -> Latency {
    let size = size.max(1);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = vec![0u8; size];
        while s.read_exact(&mut buf).is_ok() {
            if s.write_all(&buf).is_err() {
                break;
            }
        }
    });
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_nodelay(true).unwrap();
    let out = vec![b'x'; size];
    let mut back = vec![0u8; size];
    let mut lat = Latency::new();
    for i in 0..count + warmup {
        let t = Instant::now();
        c.write_all(&out).unwrap();
        c.read_exact(&mut back).unwrap();
        if i >= warmup {
            lat.record(t.elapsed());
        }
    }
    drop(c);
    server.join().unwrap();
    lat
}

/// A non-blocking listener on a free loopback port, for a server on the engine's runtime.
fn loopback_listener() -> (std::net::TcpListener, std::net::SocketAddr) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    l.set_nonblocking(true).unwrap();
    (l, addr)
}

/// The same ping-pong on the engine's runtime (one pinned worker each side, same driver),
/// raw TCP with no WebSocket layer: what the runtime alone costs.
fn engine_floor_rtt(size: usize, count: u64, warmup: u64) -> Latency {
    use monoio::io::{AsyncReadRentExt, AsyncWriteRentExt};
    let size = size.max(1);
    let (l, addr) = loopback_listener();
    let server = spawn_workers(
        &one_thread(0),
        Shutdown::new(),
        vec![l],
        move |_, l| async move {
            let l = monoio::net::TcpListener::from_std(l).unwrap();
            let (mut s, _) = l.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = vec![0u8; size];
            loop {
                let (r, b) = s.read_exact(buf).await;
                if r.is_err() {
                    break;
                }
                let (w, b) = s.write_all(b).await;
                if w.is_err() {
                    break;
                }
                buf = b;
            }
        },
    )
    .unwrap();
    let client = spawn_workers(
        &one_thread(1),
        Shutdown::new(),
        vec![()],
        move |_, ()| async move {
            let mut c = monoio::net::TcpStream::connect(addr).await.unwrap();
            c.set_nodelay(true).unwrap();
            let mut out = vec![b'x'; size];
            let mut back = vec![0u8; size];
            let mut lat = Latency::new();
            for i in 0..count + warmup {
                let t = Instant::now();
                let (r, o) = c.write_all(out).await;
                r.unwrap();
                out = o;
                let (r, b) = c.read_exact(back).await;
                r.unwrap();
                back = b;
                if i >= warmup {
                    lat.record(t.elapsed());
                }
            }
            lat
        },
    )
    .unwrap();
    let lat = client.join().unwrap().pop().unwrap();
    server.join().unwrap();
    lat
}

/// Pipelined raw-TCP echo on the engine's runtime (server core 0, client core 1), no
/// WebSocket layer: `conns` connections each keep `window` chunks of `size` octets in flight
/// for `seconds`. Octets echoed per second: the floor for the same bytes moved.
fn pipelined_floor(size: usize, conns: usize, window: usize, seconds: f64) -> f64 {
    use monoio::io::{AsyncReadRent, AsyncReadRentExt, AsyncWriteRentExt, Splitable};
    use std::cell::Cell;
    use std::rc::Rc;
    use wstest_engine::ws::LocalNotify;
    let size = size.max(1);
    let (l, addr) = loopback_listener();
    let server = spawn_workers(
        &one_thread(0),
        Shutdown::new(),
        vec![l],
        move |_, l| async move {
            let l = monoio::net::TcpListener::from_std(l).unwrap();
            let mut tasks = Vec::new();
            for _ in 0..conns {
                let (mut s, _) = l.accept().await.unwrap();
                tasks.push(monoio::spawn(async move {
                    let mut buf = Vec::with_capacity(256 * 1024);
                    loop {
                        let (r, b) = s.read(buf).await;
                        match r {
                            Ok(n) if n > 0 => {}
                            _ => break,
                        }
                        let (w, mut b) = s.write_all(b).await;
                        if w.is_err() {
                            break;
                        }
                        b.clear();
                        buf = b;
                    }
                }));
            }
            for t in tasks {
                t.await;
            }
        },
    )
    .unwrap();
    let client = spawn_workers(
        &one_thread(1),
        Shutdown::new(),
        vec![()],
        move |_, ()| async move {
            let until = Instant::now() + Duration::from_secs_f64(seconds);
            let mut tasks = Vec::new();
            let t0 = Instant::now();
            for _ in 0..conns {
                let c = monoio::net::TcpStream::connect(addr).await.unwrap();
                let (mut rd, mut wr) = c.into_split();
                // Reads and writes run at once (as the driver's do): one task writes while
                // fewer than `window` chunks are unanswered, one reads the echoes.
                let in_flight = Rc::new(Cell::new(0usize));
                let writing = Rc::new(Cell::new(true));
                let wake = Rc::new(LocalNotify::default());
                let (f, w, n) = (in_flight.clone(), writing.clone(), wake.clone());
                monoio::spawn(async move {
                    let mut out = vec![b'x'; size];
                    while Instant::now() < until {
                        while f.get() >= window {
                            n.notified().await;
                        }
                        let (r, o) = wr.write_all(out).await;
                        r.unwrap();
                        out = o;
                        f.set(f.get() + 1);
                    }
                    w.set(false);
                });
                tasks.push(monoio::spawn(async move {
                    let mut back = vec![0u8; size];
                    let mut echoed = 0u64;
                    while writing.get() || in_flight.get() > 0 {
                        if in_flight.get() == 0 {
                            monoio::time::sleep(Duration::from_millis(1)).await;
                            continue;
                        }
                        let (r, b) = rd.read_exact(back).await;
                        r.unwrap();
                        back = b;
                        in_flight.set(in_flight.get() - 1);
                        wake.notify();
                        if Instant::now() < until {
                            echoed += size as u64;
                        }
                    }
                    echoed
                }));
            }
            let mut total = 0u64;
            for t in tasks {
                total += t.await;
            }
            total as f64 / seconds.max(1e-3).min(t0.elapsed().as_secs_f64())
        },
    )
    .unwrap();
    let rate = client.join().unwrap().pop().unwrap();
    server.join().unwrap();
    rate
}

/// One worker pinned to `core` (servers on core 0, clients on core 1; modulo the cores
/// there are), or unpinned with NO_PIN.
fn one_thread(core: usize) -> RuntimeConfig {
    let cores = wstest_engine::runtime::available_threads();
    RuntimeConfig {
        threads: 1,
        no_pin: std::env::var_os("NO_PIN").is_some(),
        cpus: vec![core % cores],
        driver: if std::env::var_os("EPOLL").is_some() {
            wstest_engine::runtime::DriverKind::Epoll
        } else {
            Default::default()
        },
    }
}

fn ws_probe(url: &str, cfg: ProbeConfig) -> wstest_modes::wsperf::ProbeResult {
    let client = ClientOptions {
        runtime: one_thread(1),
        ..Default::default()
    };
    let r = run_probe(
        &ProbeConfig {
            url: url.into(),
            threads: 1,
            ..cfg
        },
        &client,
        &Shutdown::new(),
        || {},
    )
    .expect("probe");
    assert_eq!(
        r.outcome,
        wstest_modes::wsperf::Outcome::Passed,
        "{:?}",
        r.error
    );
    r
}

fn us(l: &Latency, q: f64) -> f64 {
    l.quantile_us(q)
}

fn peer_binary() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peer-tungstenite");
    let bin = dir.join("target/release/peer-tungstenite");
    if !bin.exists() {
        eprintln!(
            "building the tokio-tungstenite peer in {} ...",
            dir.display()
        );
        let ok = Command::new("cargo")
            .args(["build", "--release", "--quiet"])
            .current_dir(&dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("peer not built (no network for crates?): skipping the peer comparison");
            return None;
        }
    }
    Some(bin)
}

fn main() {
    wstest_bench::allocator_like_wstest();
    let a = args();
    let mut so = ServerOptions::new("ws://127.0.0.1:0");
    so.runtime = one_thread(0);
    so.deflate = None;
    let server = start_echo_server(&so, "echoserver", &echo_server_name(), Shutdown::new())
        .expect("echo server");
    let url = server.url.clone();
    println!(
        "# round trips: sync, 1 connection, {} per round, {} rounds",
        a.count, a.rounds
    );
    println!("floor\tsize\tfloor_median_us\tws_median_us\tmedian_ratio\tfloor_p99_us\tws_p99_us\tp99_ratio");
    for &size in &a.sizes {
        let (mut floor, mut engine, mut ws) = (Latency::new(), Latency::new(), Latency::new());
        for _ in 0..a.rounds {
            floor.merge(&floor_rtt(size, a.count, a.count / 10));
            engine.merge(&engine_floor_rtt(size, a.count, a.count / 10));
            let r = ws_probe(
                &url,
                ProbeConfig {
                    count: a.count,
                    size,
                    binary: true,
                    warmup: a.count / 10,
                    ..Default::default()
                },
            );
            ws.merge(&r.latency);
        }
        for (name, f) in [("blocking", &floor), ("engine", &engine)] {
            println!(
                "{name}\t{size}\t{:.1}\t{:.1}\t{:.3}\t{:.1}\t{:.1}\t{:.3}",
                us(f, 0.5),
                us(&ws, 0.5),
                us(&ws, 0.5) / us(f, 0.5),
                us(f, 0.99),
                us(&ws, 0.99),
                us(&ws, 0.99) / us(f, 0.99)
            );
        }
    }

    println!(
        "\n# throughput: pipelined, {} connections x window {}, one client thread, {} s",
        a.conns, a.window, a.seconds
    );
    println!("size\twstest_msgs_per_s\tpeer_msgs_per_s\tratio\twstest_MB_per_s\tfloor_MB_per_s\tfloor_ratio");
    let peer = if a.peer { peer_binary() } else { None };
    for &size in &a.sizes {
        let r = ws_probe(
            &url,
            ProbeConfig {
                connections: a.conns,
                count: 0,
                duration: Some(a.seconds),
                size,
                binary: true,
                window: a.window,
                timeout_ms: ((a.seconds + 30.0) * 1000.0) as u64,
                ..Default::default()
            },
        );
        let peer_rate = peer.as_ref().and_then(|bin| {
            let o = Command::new(bin)
                .args([
                    url.as_str(),
                    &a.conns.to_string(),
                    &a.window.to_string(),
                    &size.to_string(),
                    &a.seconds.to_string(),
                ])
                .output()
                .ok()?;
            let t = String::from_utf8_lossy(&o.stdout);
            let v: serde_json::Value = serde_json::from_str(t.trim()).ok()?;
            v["msgs_per_sec"].as_f64()
        });
        let floor = pipelined_floor(size, a.conns, a.window, a.seconds);
        let ws_bytes = r.msgs_per_sec * size as f64;
        let (peer_col, ratio) = match peer_rate {
            Some(p) => (format!("{p:.0}"), format!("{:.2}", r.msgs_per_sec / p)),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{size}\t{:.0}\t{peer_col}\t{ratio}\t{:.0}\t{:.0}\t{:.2}",
            r.msgs_per_sec,
            ws_bytes / 1e6,
            floor / 1e6,
            ws_bytes / floor
        );
    }
    server.stop();
    let _ = server.join();
    std::thread::sleep(Duration::from_millis(10));
}
