//! Connection-rate and idle-memory bench, one run:
//!
//! 1. Floor: raw TCP connect + accept of N connections (the engine's runtime, one client
//!    thread keeping `batch` connects in flight, a new one as soon as one is open; a
//!    blocking accept thread on the server core holding them). Every floor's client closes
//!    with a reset (no TIME_WAIT left to slow the next run's connects).
//! 2. Exchange floor: raw TCP as 1, plus what a handshake puts on the wire: the client writes
//!    a 150-octet request, a server thread on our runtime reads it and writes a 129-octet
//!    answer, the client reads it (no HTTP, no WebSocket, no timers).
//! 3. massconnect (one thread, batches with no delay) against our echoserver running as a
//!    child process with one thread: opening handshakes per second. Ratios to both floors,
//!    per round (they alternate) and the medians; CPU per connection of both sides. Every
//!    rate counts the first 99 % of the connections over the time until they were open
//!    (see [`Rate`]); the rates to the last one are printed too.
//!
//! Where this host allows TCP Fast Open both ways (`net.ipv4.tcp_fastopen` = 3), each round
//! also runs the exchange floor and massconnect with it (the request rides in the SYN).
//! 4. User-space memory per idle client connection: massconnect's resident memory at the
//!    plateau for two target sizes; the slope between them is the cost of one more held
//!    connection (the fixed part — runtime, rings, allocator arenas — cancels out).
//!
//! usage: cargo run --release -p wstest-bench --bin connect -- [N] [BATCH] [ROUNDS]
//!        (default 8000 256 3; N stays under half the descriptor limit, and under the
//!        ephemeral ports of one parity, ~14,000: past that every connect() scans the range)

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use wstest_modes::child::EchoChild;

use wstest_bench::pin_to;
use wstest_engine::runtime::{limits, spawn_workers, RuntimeConfig, Shutdown};
use wstest_modes::common::ClientOptions;
use wstest_modes::massconnect::{run, MassConfig};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One worker on `core` (servers on core 0, clients on core 1, modulo the cores there are):
/// every floor and massconnect gets the same placement.
fn one_thread(core: usize) -> RuntimeConfig {
    RuntimeConfig {
        threads: 1,
        cpus: vec![core % wstest_engine::runtime::available_threads()],
        ..Default::default()
    }
}

/// Connections (or handshakes) per second of one run, two ways: all `n` over the time until
/// the last was open, and the first 99 % over the time until they were (`q99`). A
/// connection whose SYN or answer the kernel dropped waits 1 s or more for its
/// retransmission and sets the first figure alone; the second is the rate the client
/// sustained (see "Stragglers" in bench/README.md). The ratios use `q99` for every column.
#[derive(Clone, Copy)]
struct Rate {
    all: f64,
    q99: f64,
}

/// How many connections the `q99` rate counts: 99 % of `n`, rounded up.
fn q99_count(n: usize) -> usize {
    (n * 99).div_ceil(100)
}

/// On one client worker (core 1): `n` connections made by `open`, at most `window` in
/// flight (the next starts as soon as one is open, as massconnect's ramp does with
/// batchdelay 0), all held until the last is open.
fn client_rate<F, Fut>(n: usize, window: usize, open: F) -> Rate
where
    F: Fn() -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = monoio::net::TcpStream> + 'static,
{
    use std::cell::RefCell;
    use std::rc::Rc;
    let w = spawn_workers(
        &one_thread(1),
        Shutdown::new(),
        vec![()],
        move |_, ()| async move {
            let t0 = Instant::now();
            // (connections started, completion times in order, the connections)
            let state = Rc::new(RefCell::new((
                0,
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            )));
            let lanes: Vec<_> = (0..window.min(n))
                .map(|_| {
                    let state = state.clone();
                    monoio::spawn(async move {
                        loop {
                            {
                                let mut st = state.borrow_mut();
                                if st.0 == n {
                                    return;
                                }
                                st.0 += 1;
                            }
                            let s = open().await;
                            let mut st = state.borrow_mut();
                            st.1.push(t0.elapsed());
                            st.2.push(s);
                        }
                    })
                })
                .collect();
            for l in lanes {
                l.await;
            }
            let (_, times, held) = Rc::try_unwrap(state).ok().unwrap().into_inner();
            for s in &held {
                leave_no_time_wait(s);
            }
            drop(held);
            times
        },
    )
    .unwrap();
    let times = w.join().unwrap().remove(0);
    let k = q99_count(n);
    Rate {
        all: n as f64 / times[n - 1].as_secs_f64(),
        q99: k as f64 / times[k - 1].as_secs_f64(),
    }
}

/// Close with a reset (SO_LINGER 0) instead of a FIN, so the socket leaves no TIME_WAIT
/// behind: a run's closed connections would otherwise sit on the ephemeral ports for 60 s
/// and make the next run's connect() calls dearer (the rounds would not compare).
fn leave_no_time_wait(s: &impl std::os::fd::AsRawFd) {
    // SAFETY: the descriptor stays open (owned by the caller) for the borrow's duration.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(s.as_raw_fd()) };
    let _ = socket2::SockRef::from(&fd).set_linger(Some(Duration::ZERO));
}

/// A loopback listener with our echoserver's backlog (std's default of 128 would drop SYNs),
/// non-blocking.
fn listener() -> TcpListener {
    wstest_engine::runtime::bind_reuseport(
        "127.0.0.1:0".parse().unwrap(),
        1,
        1024,
        wstest_engine::runtime::Tuning::RAW,
    )
    .unwrap()
    .remove(0)
}

/// Raw TCP: connections per second to open `n` (all held until the end).
fn floor(n: usize, batch: usize) -> Rate {
    let l = listener();
    l.set_nonblocking(false).unwrap();
    let addr = l.local_addr().unwrap();
    let acceptor = std::thread::spawn(move || {
        pin_to(0);
        let mut held = Vec::with_capacity(n);
        while held.len() < n {
            match l.accept() {
                Ok((s, _)) => held.push(s),
                Err(e) => panic!("accept: {e}"),
            }
        }
        held
    });
    let rate = client_rate(n, batch, move || async move {
        monoio::net::TcpStream::connect_addr(addr)
            .await
            .expect("connect")
    });
    drop(acceptor.join().unwrap());
    rate
}

/// Raw TCP with the handshake's exchange: the client writes a 150-octet request and reads a
/// 129-octet answer, a server thread on our runtime reads the request and writes the answer
/// (no parsing, no WebSocket): what a handshake costs the kernel beyond connect + accept.
/// With `fastopen`, both ends take TCP Fast Open and the client connects as massconnect
/// does (the engine's connect: delayed first ACK, TCP_FASTOPEN_CONNECT): the floor of
/// massconnect with `fastopen`.
fn exchange_floor(n: usize, batch: usize, fastopen: bool) -> Rate {
    use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
    const REQ: usize = 150;
    const RESP: usize = 129;
    let std_l = listener();
    if fastopen {
        wstest_engine::net::sockopt::set_int(&std_l, libc::IPPROTO_TCP, libc::TCP_FASTOPEN, 1024)
            .expect("TCP_FASTOPEN");
    }
    let addr = std_l.local_addr().unwrap();
    let server = spawn_workers(
        &one_thread(0),
        Shutdown::new(),
        vec![std_l],
        move |_, l| async move {
            let l = monoio::net::TcpListener::from_std(l).unwrap();
            let held = std::rc::Rc::new(std::cell::RefCell::new(Vec::with_capacity(n)));
            let mut accepted = 0;
            while accepted < n {
                let (mut s, _) = l.accept().await.expect("accept");
                accepted += 1;
                let held = held.clone();
                monoio::spawn(async move {
                    let mut got = 0;
                    let mut buf = Vec::with_capacity(1024);
                    while got < REQ {
                        let (r, b) = s.read(buf).await;
                        buf = b;
                        match r {
                            Ok(0) | Err(_) => return,
                            Ok(k) => got += k,
                        }
                        buf.clear();
                    }
                    let _ = s.write_all(vec![b'x'; RESP]).await;
                    held.borrow_mut().push(s);
                });
            }
            while held.borrow().len() < n {
                monoio::time::sleep(Duration::from_millis(5)).await;
            }
            drop(held);
        },
    )
    .unwrap();
    let rate = client_rate(n, batch, move || async move {
        let mut s = if fastopen {
            let opts = wstest_engine::net::ConnectOptions {
                addr: Some(addr),
                nodelay: false,
                fastopen: true,
                ..Default::default()
            };
            let url = wstest_engine::net::WsUrl::parse(&format!("ws://{addr}/")).unwrap();
            match wstest_engine::net::connect(&url, &opts)
                .await
                .expect("connect")
            {
                wstest_engine::net::Stream::Plain(s) => s,
                _ => unreachable!("a ws:// URL"),
            }
        } else {
            monoio::net::TcpStream::connect_addr(addr)
                .await
                .expect("connect")
        };
        let (r, _) = s.write_all(vec![b'G'; REQ]).await;
        r.expect("write");
        let mut got = 0;
        let mut buf = Vec::with_capacity(4096);
        while got < RESP {
            let (r, b) = s.read(buf).await;
            buf = b;
            got += r.expect("read");
            assert!(got > 0, "closed");
            buf.clear();
        }
        s
    });
    server.join().unwrap();
    rate
}

/// One round's rates (per second); the Fast Open ones where the host allows it.
struct Round {
    floor: f64,
    exchange: f64,
    exchange_fo: Option<f64>,
    mc: f64,
    mc_fo: Option<f64>,
}

/// The wstest echoserver beside this bench (one thread on core 0).
fn echo_server() -> (EchoChild, String) {
    let exe: PathBuf = std::env::current_exe().unwrap().with_file_name("wstest");
    assert!(
        exe.exists(),
        "build wstest first: cargo build --release ({})",
        exe.display()
    );
    let child = EchoChild::start(&exe, &["--threads", "1", "--cpus", "0"]).unwrap();
    let url = child.url.clone();
    (child, url)
}

/// massconnect (in this process) to `url`: handshakes per second.
fn mass(url: &str, n: usize, batch: usize, fastopen: bool) -> Rate {
    let dir = tempfile_dir();
    let spec = dir.join(format!("mc-{n}-{fastopen}.json"));
    wstest_bench::write_mass_spec(&spec, url, n, batch, false, fastopen);
    let cfg = MassConfig {
        spec,
        url: None,
        shard: None,
        start_at: None,
        client: ClientOptions {
            runtime: one_thread(1),
            ..Default::default()
        },
        progress: false,
        lines: true,
        server_exe: None,
    };
    let r = run(&cfg, Shutdown::new()).expect("massconnect");
    let s = &r.servers[0];
    assert!(s.reached, "{s:?}");
    // The first connection fetches the cookie; a few more may miss it under load.
    assert!(
        !fastopen || s.fastopen * 10 >= s.fastopen_checked * 9,
        "{s:?}"
    );
    Rate {
        all: s.handshakes as f64 / s.seconds,
        q99: q99_count(n) as f64 / s.seconds_to_99.expect("reached"),
    }
}

/// `wstest -m massconnect` in its own process: resident bytes above its baseline at plateau.
fn mass_process(url: &str, n: usize, batch: usize) -> f64 {
    let dir = tempfile_dir();
    let spec = dir.join(format!("mcp-{n}.json"));
    let out = dir.join(format!("mcp-{n}.out.json"));
    wstest_bench::write_mass_spec(&spec, url, n, batch, true, false);
    let exe = std::env::current_exe().unwrap().with_file_name("wstest");
    let client_core = (1 % wstest_engine::runtime::available_threads()).to_string();
    let o = Command::new(exe)
        .args([
            "-m",
            "massconnect",
            "-s",
            spec.to_str().unwrap(),
            "--threads",
            "1",
            "--cpus",
            &client_core,
            "--quiet",
            "-o",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    v["servers"][0]["memory_per_connection"]
        .as_f64()
        .unwrap_or(0.0)
        * n as f64
}

fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("wstest-connect-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn main() {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let n = a.first().copied().unwrap_or(8000);
    let batch = a.get(1).copied().unwrap_or(256);
    let rounds = a.get(2).copied().unwrap_or(3);
    let _ = limits::raise_nofile();
    limits::set_trim_hook(|| unsafe { libmimalloc_sys::mi_collect(true) });
    let (server, url) = echo_server();
    // Fast Open needs bit 2 of net.ipv4.tcp_fastopen on this host (servers take it) and
    // bit 1 (clients send it); without them its columns stay empty.
    let both = limits::FASTOPEN_CLIENT | limits::FASTOPEN_SERVER;
    let fo = limits::tcp_fastopen().is_some_and(|v| v & both == both);
    println!(
        "# {n} connections, {batch} in flight, {rounds} rounds; floor (connect + accept), \
         exchange floor (raw TCP with the handshake's request and answer), massconnect, and \
         with TCP Fast Open (fo: exchange floor and massconnect) alternating; clients on core \
         1, servers on core 0; rates of the first 99 % (to_last: of all, in column order)"
    );
    if !fo {
        println!(
            "# no Fast Open columns: they need bits 1 and 2 of net.ipv4.tcp_fastopen \
             (sysctl -w net.ipv4.tcp_fastopen=3, or tuning/tune.sh apply)"
        );
    }
    println!("round\tfloor_conn_per_s\texchange_per_s\texchange_fo_per_s\tmassconnect_handshakes_per_s\tmassconnect_fo_handshakes_per_s\tmc_over_floor\tmc_fo_over_floor\tmc_over_exchange\tmc_fo_over_exchange_fo\tserver_cpu_us_per_conn\tclient_cpu_us_per_conn\tto_last_per_s");
    let cpu = |pid: u32| -> f64 {
        let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let f: Vec<&str> = st
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (ticks(11) + ticks(12)) / 100.0
    };
    let pause = || std::thread::sleep(Duration::from_millis(300));
    let opt =
        |v: Option<f64>, digits: usize| v.map(|v| format!("{v:.digits$}")).unwrap_or_default();
    // Profiling aid: CONNECT_BENCH_ONLY=floor|exchange|exchange_fo|mc|mc_fo runs that one
    // column `rounds` times and prints its rates (nothing else).
    if let Ok(only) = std::env::var("CONNECT_BENCH_ONLY") {
        assert!(
            fo || !only.ends_with("_fo"),
            "CONNECT_BENCH_ONLY={only} needs net.ipv4.tcp_fastopen=3 on this host"
        );
        for _ in 0..rounds {
            let v = match only.as_str() {
                "floor" => floor(n, batch),
                "exchange" => exchange_floor(n, batch, false),
                "exchange_fo" => exchange_floor(n, batch, true),
                "mc" => mass(&url, n, batch, false),
                "mc_fo" => mass(&url, n, batch, true),
                other => panic!("CONNECT_BENCH_ONLY={other}: not a column"),
            };
            println!("{only}\t99 % {:.0}\tall {:.0}", v.q99, v.all);
            pause();
        }
        return;
    }
    // A warm-up round, not counted: the first run of each kind was 40-50 % slower here
    // (fresh allocator arenas and socket caches, the Fast Open cookie still to fetch).
    floor(n, batch);
    exchange_floor(n, batch, false);
    mass(&url, n, batch, false);
    if fo {
        exchange_floor(n, batch, true);
        mass(&url, n, batch, true);
    }
    pause();
    let mut rows: Vec<Round> = Vec::new();
    for r in 0..rounds {
        let f = floor(n, batch);
        pause();
        let x = exchange_floor(n, batch, false);
        pause();
        let xf = fo.then(|| {
            let v = exchange_floor(n, batch, true);
            pause();
            v
        });
        // CPU of both sides over the whole massconnect run (ramp and release).
        let (s0, c0) = (cpu(server.id()), cpu(std::process::id()));
        let m = mass(&url, n, batch, false);
        let (s1, c1) = (cpu(server.id()), cpu(std::process::id()));
        pause();
        let mf = fo.then(|| {
            let v = mass(&url, n, batch, true);
            pause();
            v
        });
        let per = |a: f64, b: f64| (b - a) * 1e6 / n as f64;
        let last = [Some(f), Some(x), xf, Some(m), mf]
            .map(|v| opt(v.map(|v| v.all), 0))
            .join(",");
        let (f, x, xf, m, mf) = (f.q99, x.q99, xf.map(|v| v.q99), m.q99, mf.map(|v| v.q99));
        println!(
            "{}\t{f:.0}\t{x:.0}\t{}\t{m:.0}\t{}\t{:.2}\t{}\t{:.2}\t{}\t{:.0}\t{:.0}\t{last}",
            r + 1,
            opt(xf, 0),
            opt(mf, 0),
            m / f,
            opt(mf.map(|v| v / f), 2),
            m / x,
            opt(mf.zip(xf).map(|(a, b)| a / b), 2),
            per(s0, s1),
            per(c0, c1)
        );
        rows.push(Round {
            floor: f,
            exchange: x,
            exchange_fo: xf,
            mc: m,
            mc_fo: mf,
        });
    }
    let median = |mut v: Vec<f64>| -> Option<f64> {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    let med = |k: &dyn Fn(&Round) -> Option<f64>| median(rows.iter().filter_map(k).collect());
    println!(
        "\nmedian\t{}\t{}\t{}\t{}\t{}",
        opt(med(&|r| Some(r.floor)), 0),
        opt(med(&|r| Some(r.exchange)), 0),
        opt(med(&|r| r.exchange_fo), 0),
        opt(med(&|r| Some(r.mc)), 0),
        opt(med(&|r| r.mc_fo), 0),
    );
    println!(
        "median of the rounds' ratios: massconnect/floor {}, massconnect/exchange {}, \
         exchange/floor {}; with Fast Open: massconnect/floor {}, massconnect/exchange {}, \
         exchange/floor {}",
        opt(med(&|r| Some(r.mc / r.floor)), 2),
        opt(med(&|r| Some(r.mc / r.exchange)), 2),
        opt(med(&|r| Some(r.exchange / r.floor)), 2),
        opt(med(&|r| r.mc_fo.map(|m| m / r.floor)), 2),
        opt(med(&|r| r.mc_fo.zip(r.exchange_fo).map(|(m, x)| m / x)), 2),
        opt(med(&|r| r.exchange_fo.map(|x| x / r.floor)), 2),
    );

    // Memory: the slope between a small and a large plateau, each in a fresh process (an
    // allocator keeps freed pages, so a second run in one process would reuse them unseen).
    let small = n / 4;
    let rss_small = mass_process(&url, small, batch);
    let rss_large = mass_process(&url, n, batch);
    println!("\nconnections\tresident_above_baseline_bytes");
    println!("{small}\t{rss_small:.0}\n{n}\t{rss_large:.0}");
    println!(
        "user-space bytes per additional idle connection: {:.0}",
        (rss_large - rss_small) / (n - small) as f64
    );
    let _ = std::fs::remove_dir_all(tempfile_dir());
}
