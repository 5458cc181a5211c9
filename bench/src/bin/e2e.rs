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
//!    built here if cargo can) doing the same work, each alone on the client core (the
//!    share of that core each kept busy is measured from /proc/stat, so the ratio per
//!    core holds where the shared server, not the client, is the limit); and a pipelined
//!    raw-TCP floor moving the same bytes.
//! 3. Allocations per echoed message, client and server together.
//!
//! usage: cargo run --release -p wstest-bench --bin e2e -- [--sizes 64,1024] [--count N]
//!        [--rounds R] [--conns C] [--window W] [--seconds S] [--no-peer]
//! env (for comparisons): NO_PIN=1 leaves threads unpinned, EPOLL=1 uses the epoll driver,
//! WSTEST_URING_FLAGS=none|defer changes the io_uring setup (see engine/src/runtime/driver.rs).

use std::alloc::{GlobalAlloc, Layout};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wstest_engine::runtime::{spawn_workers, RuntimeConfig, Shutdown};
use wstest_engine::stats::Latency;
use wstest_modes::common::{ClientOptions, ServerOptions};
use wstest_modes::echo::{echo_server_name, start_echo_server};
use wstest_modes::wsperf::{run_probe, ProbeConfig};

/// mimalloc, counting allocations (and reallocations) while `COUNTING` is on.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);

impl Counting {
    fn count(size: usize) {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            ALLOC_BYTES.fetch_add(size as u64, Ordering::Relaxed);
        }
    }
}

// SAFETY: every call is passed on to mimalloc unchanged; counting touches only atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        Self::count(l.size());
        unsafe { mimalloc::MiMalloc.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        Self::count(l.size());
        unsafe { mimalloc::MiMalloc.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        Self::count(new);
        unsafe { mimalloc::MiMalloc.realloc(p, l, new) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { mimalloc::MiMalloc.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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

/// Raw TCP ping-pong: `count` round trips of `size` octets each way, blocking sockets, the
/// server thread on core 0 and the client thread on core 1 as ours are placed (on a VM a
/// wake-up across cores can cost tens of microseconds, so the floor must pay it too).
fn floor_rtt(size: usize, count: u64, warmup: u64) -> Latency {
    let size = size.max(1);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        wstest_bench::pin_to(0);
        let (mut s, _) = l.accept().unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = vec![0u8; size];
        while s.read_exact(&mut buf).is_ok() {
            if s.write_all(&buf).is_err() {
                break;
            }
        }
    });
    let client = std::thread::spawn(move || {
        wstest_bench::pin_to(1);
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
        lat
    });
    let lat = client.join().unwrap();
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

/// Busy and total jiffies of one core so far (`/proc/stat`), or `None` when unpinned.
fn core_jiffies(core: usize) -> Option<(u64, u64)> {
    let core = wstest_bench::taskset_core(core)?;
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(&format!("cpu{core}")))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    // idle and iowait
    Some((total - v.get(3)? - v.get(4)?, total))
}

/// The share of the client core that `run` kept busy, and what `run` returned.
fn on_client_core<T>(run: impl FnOnce() -> T) -> (T, Option<f64>) {
    let a = core_jiffies(1);
    let r = run();
    let b = core_jiffies(1);
    let busy = a
        .zip(b)
        .and_then(|((b0, t0), (b1, t1))| (t1 > t0).then(|| (b1 - b0) as f64 / (t1 - t0) as f64));
    (r, busy)
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
    // Per client core: messages per second of the client core kept busy (both clients run
    // alone on core 1; /proc/stat counts what that core did, the kernel's share included).
    println!("size\twstest_msgs_per_s\twstest_core_busy\tpeer_msgs_per_s\tpeer_core_busy\tratio\tratio_per_core\twstest_MB_per_s\tfloor_MB_per_s\tfloor_ratio");
    let peer = if a.peer { peer_binary() } else { None };
    for &size in &a.sizes {
        let (r, ws_busy) = on_client_core(|| {
            ws_probe(
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
            )
        });
        let (peer_rate, peer_busy) = on_client_core(|| {
            peer.as_ref().and_then(|bin| {
                // On the client core, as our probe is (taskset), unless NO_PIN.
                let mut cmd = match wstest_bench::taskset_core(1) {
                    Some(core) => {
                        let mut c = Command::new("taskset");
                        c.args(["-c", &core]).arg(bin);
                        c
                    }
                    None => Command::new(bin),
                };
                let o = cmd
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
            })
        });
        let floor = pipelined_floor(size, a.conns, a.window, a.seconds);
        let ws_bytes = r.msgs_per_sec * size as f64;
        let cell = |b: Option<f64>| b.map_or("-".into(), |b| format!("{b:.2}"));
        let (peer_col, ratio, per_core) = match peer_rate {
            Some(p) => (
                format!("{p:.0}"),
                format!("{:.2}", r.msgs_per_sec / p),
                ws_busy.zip(peer_busy).map_or("-".into(), |(w, pb)| {
                    format!("{:.2}", (r.msgs_per_sec / w) / (p / pb))
                }),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "{size}\t{:.0}\t{}\t{peer_col}\t{}\t{ratio}\t{per_core}\t{:.0}\t{:.0}\t{:.2}",
            r.msgs_per_sec,
            cell(ws_busy),
            cell(peer_busy),
            ws_bytes / 1e6,
            floor / 1e6,
            ws_bytes / floor
        );
    }
    // Allocations per echoed message, client and server together (one process), in a
    // pipelined run as above; the connections' handshakes are counted too (a few hundred
    // allocations, next to tens of thousands of messages).
    println!("\n# allocations per echoed message (client and server together), pipelined, 1 s");
    println!("size\tmessages\tallocs_per_msg\talloc_bytes_per_msg");
    for &size in &a.sizes {
        ALLOCS.store(0, Ordering::Relaxed);
        ALLOC_BYTES.store(0, Ordering::Relaxed);
        COUNTING.store(true, Ordering::Relaxed);
        let r = ws_probe(
            &url,
            ProbeConfig {
                connections: a.conns,
                count: 0,
                duration: Some(1.0),
                size,
                binary: true,
                window: a.window,
                timeout_ms: 31_000,
                ..Default::default()
            },
        );
        COUNTING.store(false, Ordering::Relaxed);
        let n = r.received.max(1) as f64;
        println!(
            "{size}\t{}\t{:.2}\t{:.0}",
            r.received,
            ALLOCS.load(Ordering::Relaxed) as f64 / n,
            ALLOC_BYTES.load(Ordering::Relaxed) as f64 / n
        );
    }
    server.stop();
    let _ = server.join();
    std::thread::sleep(Duration::from_millis(10));
}
