//! Connection-rate and idle-memory bench, one run:
//!
//! 1. Floor: raw TCP connect + accept of N connections (the engine's runtime, one client
//!    thread keeping `batch` connects in flight; a blocking accept thread holding them).
//! 2. massconnect (one thread, batches with no delay) against our echoserver running as a
//!    child process with one thread: opening handshakes per second. Ratio to the floor.
//! 3. User-space memory per idle client connection: massconnect's resident memory at the
//!    plateau for two target sizes; the slope between them is the cost of one more held
//!    connection (the fixed part — runtime, rings, allocator arenas — cancels out).
//!
//! usage: cargo run --release -p wstest-bench --bin connect -- [N] [BATCH] [ROUNDS]
//!        (default 8000 256 3; N stays under half the descriptor limit)

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wstest_engine::runtime::{spawn_workers, RuntimeConfig, Shutdown};
use wstest_modes::common::ClientOptions;
use wstest_modes::massconnect::{run, MassConfig};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn one_thread() -> RuntimeConfig {
    RuntimeConfig {
        threads: 1,
        ..Default::default()
    }
}

/// Raw TCP: connections per second to open `n` (all held until the end).
fn floor(n: usize, batch: usize) -> f64 {
    // The same listen backlog as our echoserver (std's default of 128 would drop SYNs).
    let l: TcpListener = {
        use socket2::{Domain, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
        s.listen(1024).unwrap();
        s.into()
    };
    let addr = l.local_addr().unwrap();
    let acceptor = std::thread::spawn(move || {
        let mut held = Vec::with_capacity(n);
        while held.len() < n {
            match l.accept() {
                Ok((s, _)) => held.push(s),
                Err(e) => panic!("accept: {e}"),
            }
        }
        held
    });
    let w = spawn_workers(
        &one_thread(),
        Shutdown::new(),
        vec![()],
        move |_, ()| async move {
            let t0 = Instant::now();
            let mut open = Vec::with_capacity(n);
            let mut started = 0;
            while started < n {
                let k = batch.min(n - started);
                let tasks: Vec<_> = (0..k)
                    .map(|_| {
                        monoio::spawn(
                            async move { monoio::net::TcpStream::connect_addr(addr).await },
                        )
                    })
                    .collect();
                for t in tasks {
                    open.push(t.await.expect("connect"));
                }
                started += k;
            }
            let secs = t0.elapsed().as_secs_f64();
            drop(open);
            secs
        },
    )
    .unwrap();
    let secs = w.join().unwrap()[0];
    drop(acceptor.join().unwrap());
    n as f64 / secs
}

struct EchoChild(Child);
impl Drop for EchoChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn echo_server() -> (EchoChild, String) {
    let exe: PathBuf = std::env::current_exe().unwrap().with_file_name("wstest");
    assert!(
        exe.exists(),
        "build wstest first: cargo build --release ({})",
        exe.display()
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}");
    let c = Command::new(exe)
        .args([
            "-m",
            "echoserver",
            "-w",
            &url,
            "-u",
            "0",
            "--threads",
            "1",
            "--deflate",
            "off",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "echoserver did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (EchoChild(c), url)
}

/// massconnect (in this process) to `url`: handshakes per second.
fn mass(url: &str, n: usize, batch: usize) -> f64 {
    let dir = tempfile_dir();
    let spec = dir.join(format!("mc-{n}.json"));
    std::fs::write(
        &spec,
        format!(
            r#"{{"options": {{"connections": {n}, "batchsize": {batch}, "batchdelay": 0, "retrydelay": 10}},
               "servers": [{{"name": "echo", "uri": "{url}"}}]}}"#
        ),
    )
    .unwrap();
    let cfg = MassConfig {
        spec,
        url: None,
        shard: None,
        start_at: None,
        client: ClientOptions {
            runtime: one_thread(),
            ..Default::default()
        },
        progress: false,
        server_exe: None,
    };
    let r = run(&cfg, Shutdown::new()).expect("massconnect");
    let s = &r.servers[0];
    assert!(s.reached, "{s:?}");
    s.handshakes as f64 / s.seconds
}

/// `wstest -m massconnect` in its own process: resident bytes above its baseline at plateau.
fn mass_process(url: &str, n: usize, batch: usize) -> f64 {
    let dir = tempfile_dir();
    let spec = dir.join(format!("mcp-{n}.json"));
    let out = dir.join(format!("mcp-{n}.out.json"));
    std::fs::write(
        &spec,
        format!(
            r#"{{"options": {{"connections": {n}, "batchsize": {batch}, "batchdelay": 0, "retrydelay": 10, "threads": 1}},
               "servers": [{{"name": "echo", "uri": "{url}"}}]}}"#
        ),
    )
    .unwrap();
    let exe = std::env::current_exe().unwrap().with_file_name("wstest");
    let o = Command::new(exe)
        .args([
            "-m",
            "massconnect",
            "-s",
            spec.to_str().unwrap(),
            "--threads",
            "1",
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
    let _ = wstest_engine::runtime::limits::raise_nofile();
    wstest_engine::runtime::limits::set_trim_hook(|| unsafe { libmimalloc_sys::mi_collect(true) });
    let (_server, url) = echo_server();
    println!("# {n} connections, {batch} in flight, {rounds} rounds (best of each)");
    let (mut best_floor, mut best_mass) = (0.0f64, 0.0f64);
    for _ in 0..rounds {
        best_floor = best_floor.max(floor(n, batch));
        std::thread::sleep(Duration::from_millis(300));
        best_mass = best_mass.max(mass(&url, n, batch));
        std::thread::sleep(Duration::from_millis(300));
    }
    println!("floor_conn_per_s\tmassconnect_handshakes_per_s\tratio");
    println!(
        "{best_floor:.0}\t{best_mass:.0}\t{:.2}",
        best_mass / best_floor
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
