//! Where an idle massconnect connection's memory goes: live heap bytes and allocations by
//! size, counted by a global allocator that wraps mimalloc, at the plateau of two runs (N/4
//! and N connections, in this process, against our echoserver as a child process). The
//! difference divided by the extra connections is the heap cost of one more held connection;
//! compare with the resident-memory slope of `connect`.
//!
//! usage: cargo run --release -p wstest-bench --bin connmem -- [N] [BATCH]

use std::alloc::{GlobalAlloc, Layout};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use wstest_modes::child::EchoChild;

use wstest_engine::runtime::{RuntimeConfig, Shutdown};
use wstest_modes::common::ClientOptions;
use wstest_modes::massconnect::{run, MassConfig};

/// Sizes counted one by one up to this; larger ones share the last bucket.
const MAX_EXACT: usize = 16 * 1024;

struct Counting;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static LIVE: [AtomicI64; MAX_EXACT + 1] = [const { AtomicI64::new(0) }; MAX_EXACT + 1];

fn bucket(size: usize) -> usize {
    size.min(MAX_EXACT)
}

// SAFETY: every call is forwarded to mimalloc with the same layout; the counters are atomics
// touched on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(l.size() as i64, Ordering::Relaxed);
        LIVE[bucket(l.size())].fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's layout, passed on.
        unsafe { mimalloc::MiMalloc.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE_BYTES.fetch_sub(l.size() as i64, Ordering::Relaxed);
        LIVE[bucket(l.size())].fetch_sub(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { mimalloc::MiMalloc.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new as i64 - l.size() as i64, Ordering::Relaxed);
        LIVE[bucket(l.size())].fetch_sub(1, Ordering::Relaxed);
        LIVE[bucket(new)].fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { mimalloc::MiMalloc.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Snap {
    bytes: i64,
    rss: u64,
    by_size: Vec<i64>,
}

static SNAP: Mutex<Option<Snap>> = Mutex::new(None);
/// Trim calls in this run: the first is before the ramp, the second at the plateau.
static CALLS: AtomicI64 = AtomicI64::new(0);

fn snap() {
    // SAFETY: mi_collect has no preconditions.
    unsafe { libmimalloc_sys::mi_collect(true) };
    if CALLS.fetch_add(1, Ordering::SeqCst) != 1 {
        return;
    }
    let s = Snap {
        bytes: LIVE_BYTES.load(Ordering::SeqCst),
        rss: wstest_engine::runtime::limits::resident_bytes().unwrap_or(0),
        by_size: LIVE.iter().map(|a| a.load(Ordering::SeqCst)).collect(),
    };
    *SNAP.lock().unwrap() = Some(s);
}

fn mass_at_plateau(url: &str, n: usize, batch: usize) -> Snap {
    let spec = std::env::temp_dir().join(format!("connmem-{}-{n}.json", std::process::id()));
    wstest_bench::write_mass_spec(&spec, url, n, batch, false, false);
    CALLS.store(0, Ordering::SeqCst);
    let cfg = MassConfig {
        spec: spec.clone(),
        url: None,
        shard: None,
        start_at: None,
        client: ClientOptions {
            runtime: RuntimeConfig {
                threads: 1,
                ..Default::default()
            },
            ..Default::default()
        },
        progress: false,
        lines: true,
        server_exe: None,
    };
    let r = run(&cfg, Shutdown::new()).expect("massconnect");
    assert!(r.servers[0].reached);
    let _ = std::fs::remove_file(spec);
    SNAP.lock().unwrap().take().expect("no plateau snapshot")
}

fn main() {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let n = a.first().copied().unwrap_or(8000);
    let batch = a.get(1).copied().unwrap_or(256);
    let _ = wstest_engine::runtime::limits::raise_nofile();
    wstest_engine::runtime::limits::set_trim_hook(snap);
    let exe: PathBuf = std::env::current_exe().unwrap().with_file_name("wstest");
    let child = EchoChild::start(&exe, &["--threads", "1"]).unwrap();
    let url = child.url.clone();
    // A first run warms the allocator and the runtime's one-time state.
    let _ = mass_at_plateau(&url, n / 4, batch);
    let small = mass_at_plateau(&url, n / 4, batch);
    let large = mass_at_plateau(&url, n, batch);
    let extra = (n - n / 4) as f64;
    println!(
        "live heap bytes per additional connection: {:.0}",
        (large.bytes - small.bytes) as f64 / extra
    );
    println!(
        "resident bytes per additional connection (same process, not fresh): {:.0}",
        (large.rss as f64 - small.rss as f64) / extra
    );
    println!("size\tallocations_per_connection\tbytes_per_connection");
    let mut rows: Vec<(usize, f64)> = (0..=MAX_EXACT)
        .map(|s| (s, (large.by_size[s] - small.by_size[s]) as f64 / extra))
        .filter(|(_, c)| c.abs() >= 0.01)
        .collect();
    rows.sort_by(|a, b| (b.1 * b.0 as f64).total_cmp(&(a.1 * a.0 as f64)));
    for (s, c) in rows.iter().take(20) {
        let label = if *s == MAX_EXACT {
            format!(">={s}")
        } else {
            s.to_string()
        };
        println!("{label}\t{c:.2}\t{:.0}", c * *s as f64);
    }
}
