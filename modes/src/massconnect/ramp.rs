//! The ramp: each pinned thread opens its share of the connections in batches, retries failed
//! and lost ones, and holds them open until released.
//!
//! Per connection slot, one task while it connects: its connect and handshake state lives in
//! a boxed future that is freed once the handshake is done. An open plain connection with
//! nothing more to read is then handed to the thread's [`Holder`] as a bare socket (a
//! 16-byte entry and an epoll registration) and its task ends: an idle held connection has
//! no task, no future and no protocol state. When a held socket turns readable (the server
//! sent something, closed, or reset) or a ping cannot be written whole, the holder starts a
//! task for its slot again, which reads it with the protocol core (a `Connection` made for
//! the occasion), answers, and gives the socket back once the connection is at rest, or
//! counts it lost and retries the slot. TLS connections, and plain ones not at rest, stay
//! with their task (no buffer while waiting; protocol state only once the server sent
//! something). At the release the holder closes every socket it holds (close 1000).
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};

use monoio::io::AsyncWriteRentExt;
use rand::Rng;
use wstest_engine::net::{connect, resolve, ConnectOptions, Stream, WsUrl};
use wstest_engine::proto::frame::encode_frame;
use wstest_engine::proto::{CloseCode, Config, Connection, OpCode, TransportAction};
use wstest_engine::runtime::Shutdown;
use wstest_engine::stats::Latency;
use wstest_engine::ws::{drive, ClientError, DriveOptions, Opener, WsClientOptions};

use super::holder::{Entry, Holder, SWEEP};
use super::spec::Options;

/// What every thread shares (atomics only; touched once per connection, never per message).
pub struct Shared {
    /// Connections open right now.
    pub live: AtomicU64,
    pub peak: AtomicU64,
    pub handshakes: AtomicU64,
    pub failed: AtomicU64,
    pub lost: AtomicU64,
    /// Slots that gave up (max_retries, or a host limit).
    pub gave_up: AtomicU64,
    /// A host limit was hit: no new attempts. The first message says which.
    pub exhausted: AtomicBool,
    pub exhausted_why: Mutex<Option<String>>,
    /// Held connections close when this fires.
    pub release: Shutdown,
    /// Ctrl-C: stop everything.
    pub stop: Shutdown,
    pub started: Instant,
    /// This process's target, and when `live` first reached each of its [`MILESTONES`]
    /// (the last is the whole target), taken by the slot that got there.
    pub target: u64,
    pub marks: [Mark; MILESTONES.len()],
    /// Set at the plateau: each thread gives its cached memory back, then counts itself in
    /// `trimmed`, before resident memory is sampled.
    pub trim: AtomicBool,
    pub trimmed: AtomicU64,
}

impl Shared {
    pub fn new(stop: Shutdown, target: u64) -> Self {
        Shared {
            live: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            handshakes: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            gave_up: AtomicU64::new(0),
            exhausted: AtomicBool::new(false),
            exhausted_why: Mutex::new(None),
            release: Shutdown::new(),
            stop,
            started: Instant::now(),
            target,
            marks: MILESTONES.map(|pct| Mark {
                count: (target * pct).div_ceil(100).max(1),
                ns: AtomicU64::new(0),
            }),
            trim: AtomicBool::new(false),
            trimmed: AtomicU64::new(0),
        }
    }

    /// Note the first time `live` connections are open at once past each milestone.
    fn mark(&self, live: u64) {
        for m in &self.marks {
            if live >= m.count && m.ns.load(Ordering::Relaxed) == 0 {
                let at = (self.started.elapsed().as_nanos() as u64).max(1);
                let _ =
                    m.ns.compare_exchange(0, at, Ordering::SeqCst, Ordering::Relaxed);
            }
        }
    }

    /// When milestone `i` was reached, after `started`.
    pub fn reached(&self, i: usize) -> Option<Duration> {
        match self.marks[i].ns.load(Ordering::SeqCst) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    fn exhaust(&self, why: String) {
        if !self.exhausted.swap(true, Ordering::SeqCst) {
            if let Ok(mut w) = self.exhausted_why.lock() {
                *w = Some(why);
            }
        }
    }
}

/// Shares of the target, in percent, whose arrival is timed (`ServerResult::seconds_to_*`);
/// the last is the target itself.
pub const MILESTONES: [u64; 4] = [50, 90, 99, 100];

/// A count of open connections and when it was first reached (nanoseconds after `started`;
/// 0: not yet).
pub struct Mark {
    pub count: u64,
    pub ns: AtomicU64,
}

/// One thread's tallies, merged by the caller.
#[derive(Default)]
pub struct ThreadStats {
    pub connect: Latency,
    pub handshake: Latency,
    /// Handshakes completed per second since the ramp started.
    pub timeline: Vec<u64>,
    /// Failed attempts and lost connections per second since the ramp started.
    pub failed_timeline: Vec<u64>,
    pub lost_timeline: Vec<u64>,
    pub errors: BTreeMap<String, u64>,
    /// Plain handshakes checked for Fast Open, and those of them whose SYN carried the
    /// request and the server took it.
    pub fastopen_checked: u64,
    pub fastopen: u64,
}

/// What a thread is asked to do.
pub struct Plan {
    pub url: WsUrl,
    pub wopts: WsClientOptions,
    pub opts: Options,
    pub sources: Vec<IpAddr>,
    /// This thread's slots, and the index of its first slot (for source round-robin).
    pub slots: u64,
    pub first_slot: u64,
    pub threads: usize,
    pub shared: Arc<Shared>,
}

struct Ctx {
    plan: Arc<Plan>,
    stats: RefCell<ThreadStats>,
    /// Rate cap: the earliest time the next attempt on this thread may start.
    next_attempt: Cell<Instant>,
    interval: Option<Duration>,
    config: Config,
    /// Connect settings for every attempt: the address resolved once, no TCP_NODELAY.
    connect: ConnectOptions,
    /// The upgrade request, built once (only the key changes per attempt).
    opener: Opener,
    /// Attempts under way on this thread, and a wake-up when one ends (with `batchdelay` 0
    /// the batch size is a window of attempts in flight).
    attempting: Cell<u64>,
    attempt_ended: wstest_engine::ws::LocalNotify,
    /// Idle plain connections, held without a task each (`None`: no epoll here; every
    /// connection keeps its task).
    holder: Option<Holder>,
    /// Tasks of this thread still running (slots, the holder, closes), and a wake-up when
    /// none is left.
    running: Cell<u64>,
    all_done: wstest_engine::ws::LocalNotify,
}

/// One thread's ramp; returns its tallies once every slot is released or has given up.
pub async fn run_thread(plan: Arc<Plan>) -> ThreadStats {
    let o = &plan.opts;
    let per_thread_rate = o.rate / plan.threads as f64;
    let mut connect = plan.wopts.connect.clone();
    connect.nodelay = false;
    if connect.addr.is_none() {
        // Once per thread, not per attempt; if it fails here, each attempt tries (and
        // tallies the failure).
        connect.addr = resolve(&plan.url).ok();
    }
    let ctx = Rc::new(Ctx {
        connect,
        opener: Opener::new(&plan.url, &plan.wopts),
        interval: (per_thread_rate > 0.0).then(|| Duration::from_secs_f64(1.0 / per_thread_rate)),
        next_attempt: Cell::new(Instant::now()),
        stats: RefCell::new(ThreadStats::default()),
        config: plan.wopts.config.clone(),
        plan: plan.clone(),
        attempting: Cell::new(0),
        attempt_ended: Default::default(),
        holder: Holder::new().ok(),
        running: Cell::new(0),
        all_done: Default::default(),
    });
    {
        let guard = Running::new(&ctx);
        let c = ctx.clone();
        drop(monoio::spawn(async move {
            let _guard = guard;
            holder_task(c).await
        }));
    }
    // The batch is split over the threads; every thread waits `batchdelay` between its parts.
    let batch = (o.batchsize / plan.threads as u64).max(1);
    let mut started = 0;
    while started < plan.slots {
        if plan.shared.stop.is_triggered()
            || plan.shared.release.is_triggered()
            || plan.shared.exhausted.load(Ordering::Relaxed)
        {
            break;
        }
        // Without a batch delay, the batch is a window: wait until attempts end (no SYN
        // flood of the whole target at once).
        if o.batchdelay == 0 {
            while ctx.attempting.get() >= batch && !plan.shared.stop.is_triggered() {
                ctx.attempt_ended.notified().await;
            }
        }
        let n = if o.batchdelay == 0 {
            (batch - ctx.attempting.get().min(batch)).clamp(1, plan.slots - started)
        } else {
            batch.min(plan.slots - started)
        };
        // Counted as attempting from the start, so the window holds before they run.
        ctx.attempting.set(ctx.attempting.get() + n);
        for i in 0..n {
            spawn_slot(&ctx, plan.first_slot + started + i, 0, None);
        }
        started += n;
        if started < plan.slots && o.batchdelay > 0 {
            monoio::time::sleep(Duration::from_millis(o.batchdelay)).await;
        }
    }
    // At the plateau, give cached memory back (see `Shared::trim`).
    {
        let plan = plan.clone();
        monoio::spawn(async move {
            let sh = &plan.shared;
            while !sh.trim.load(Ordering::SeqCst) && !sh.release.is_triggered() {
                let f = Box::pin(monoio::time::sleep(Duration::from_millis(20)));
                f.await;
            }
            wstest_engine::runtime::limits::trim_memory();
            sh.trimmed.fetch_add(1, Ordering::SeqCst);
        });
    }
    // Slots never started count as given up.
    plan.shared
        .gave_up
        .fetch_add(plan.slots - started, Ordering::SeqCst);
    while ctx.running.get() > 0 {
        ctx.all_done.notified().await;
    }
    ctx.stats.take()
}

enum Attempt {
    Open(Stream, Vec<u8>),
    Failed(String),
}

/// One more event in second `sec` of a per-second timeline.
pub(crate) fn count_in_second(timeline: &mut Vec<u64>, sec: usize) {
    if timeline.len() <= sec {
        timeline.resize(sec + 1, 0);
    }
    timeline[sec] += 1;
}

async fn attempt(ctx: &Ctx, slot: u64) -> Attempt {
    let p = &ctx.plan;
    let mut copts = std::borrow::Cow::Borrowed(&ctx.connect);
    if !p.sources.is_empty() {
        copts.to_mut().bind = Some(p.sources[(slot % p.sources.len() as u64) as usize]);
    }
    let t0 = Instant::now();
    let stream = match connect(&p.url, &copts).await {
        Ok(s) => s,
        Err(e) => return Attempt::Failed(classify(&ClientError::from(e), &p.shared, &copts)),
    };
    let t1 = Instant::now();
    match ctx.opener.handshake(stream).await {
        Ok((stream, leftover)) => {
            let t2 = Instant::now();
            let mut st = ctx.stats.borrow_mut();
            st.connect.record(t1 - t0);
            st.handshake.record(t2 - t1);
            let sec = (t2 - p.shared.started).as_secs() as usize;
            count_in_second(&mut st.timeline, sec);
            // Reading TCP_INFO costs a few percent of a handshake: every one of a thread's
            // first 64, then one in 64.
            if let (true, Some(tcp)) = (ctx.connect.fastopen, stream.as_tcp()) {
                let n = st.handshake.count();
                if n <= 64 || n.is_multiple_of(64) {
                    st.fastopen_checked += 1;
                    st.fastopen += u64::from(wstest_engine::net::sockopt::syn_data_acked(tcp));
                }
            }
            Attempt::Open(stream, leftover)
        }
        Err(e) => Attempt::Failed(classify(&e, &p.shared, &copts)),
    }
}

/// An error's kind for the tallies; host limits also stop the ramp, with the fix.
fn classify(
    e: &ClientError,
    shared: &Shared,
    copts: &wstest_engine::net::ConnectOptions,
) -> String {
    use wstest_engine::net::ConnectError;
    use wstest_engine::proto::handshake::HandshakeError;
    match e {
        ClientError::Connect(ConnectError::Tcp { source, .. }) => match source.raw_os_error() {
            Some(libc::EMFILE) | Some(libc::ENFILE) => {
                let (soft, _) = wstest_engine::runtime::limits::raise_nofile().unwrap_or((0, 0));
                shared.exhaust(format!(
                    "out of file descriptors (RLIMIT_NOFILE {soft}): run more processes (--shard), \
                     or raise the limit (tuning/limits.conf; `tuning/tune.sh apply` for fs.file-max)"
                ));
                "nofile".into()
            }
            Some(libc::EADDRNOTAVAIL) => {
                let range = wstest_engine::runtime::limits::local_port_range()
                    .map(|(a, b)| format!("{a}-{b}"))
                    .unwrap_or_default();
                shared.exhaust(format!(
                    "out of local ports ({} source address(es), ports {range}): add sources \
                     (options.sources, tuning/add-sources.sh) or widen net.ipv4.ip_local_port_range \
                     (`tuning/tune.sh apply`)",
                    if copts.bind.is_some() { "several" } else { "one" }
                ));
                "addr-not-available".into()
            }
            _ => e.kind().into(),
        },
        ClientError::Handshake {
            source: HandshakeError::Status { code, .. },
            ..
        } => format!("http-{code}"),
        _ => e.kind().into(),
    }
}

/// How a held connection ended (for its slot task).
enum Held {
    /// Given to the thread's [`Holder`]: still open, no longer this task's.
    HandedOver,
    /// The stream and any protocol state, or `None` when already closed.
    Released(Option<(Stream, Option<Box<Connection>>)>),
    Lost(&'static str),
}

/// An open connection a slot task takes on.
enum Opened {
    /// Just opened by this task: the stream and the octets after the handshake response.
    Fresh(Stream, Vec<u8>),
    /// Back from the holder: the socket turned readable (no octets), or a ping did not go
    /// out whole (the octets still to write).
    Woke(OwnedFd, Vec<u8>),
}

/// Counts a task of this thread as running until dropped (the thread ends when none is).
struct Running(Rc<Ctx>);

impl Running {
    fn new(ctx: &Rc<Ctx>) -> Running {
        ctx.running.set(ctx.running.get() + 1);
        Running(ctx.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let n = self.0.running.get() - 1;
        self.0.running.set(n);
        if n == 0 {
            self.0.all_done.notify();
        }
    }
}

/// Start a slot's task (a new slot, or one taking a connection back from the holder).
fn spawn_slot(ctx: &Rc<Ctx>, slot: u64, attempts: u64, open: Option<Opened>) {
    let guard = Running::new(ctx);
    let ctx = ctx.clone();
    // Detached: a kept JoinHandle would keep the finished task's memory.
    drop(monoio::spawn(async move {
        let _guard = guard;
        slot_task(ctx, slot, attempts, open).await
    }));
}

async fn slot_task(ctx: Rc<Ctx>, slot: u64, mut attempts: u64, mut open: Option<Opened>) {
    let p = ctx.plan.clone();
    // A new slot is counted as attempting by the ramp before it runs.
    let mut first = open.is_none();
    let sh = &p.shared;
    let mut streak = 0u32;
    loop {
        if let Some(o) = open.take() {
            // Boxed and awaited in its own statement (as every wait here): a temporary in
            // an `.await` statement keeps its space in the task for the whole wait.
            let f = Box::pin(keep(&ctx, slot, attempts, o));
            let held = f.await;
            match held {
                Held::HandedOver => return,
                Held::Released(open) => {
                    sh.live.fetch_sub(1, Ordering::SeqCst);
                    if let Some((stream, conn)) = open {
                        // Boxed: the driver's state exists only while closing.
                        let f = Box::pin(close(&ctx, stream, conn));
                        f.await;
                    }
                    return;
                }
                Held::Lost(kind) => {
                    sh.live.fetch_sub(1, Ordering::SeqCst);
                    sh.lost.fetch_add(1, Ordering::SeqCst);
                    let mut st = ctx.stats.borrow_mut();
                    *st.errors.entry(kind.into()).or_default() += 1;
                    count_in_second(
                        &mut st.lost_timeline,
                        sh.started.elapsed().as_secs() as usize,
                    );
                    streak = 1;
                }
            }
        } else {
            let over = sh.stop.is_triggered()
                || sh.release.is_triggered()
                || sh.exhausted.load(Ordering::Relaxed)
                || (p.opts.max_retries > 0 && attempts > p.opts.max_retries);
            if over {
                sh.gave_up.fetch_add(1, Ordering::SeqCst);
                if first {
                    // Counted as attempting by the ramp; it never will.
                    ctx.attempting.set(ctx.attempting.get() - 1);
                    ctx.attempt_ended.notify();
                }
                return;
            }
            attempts += 1;
            if let Some(i) = ctx.interval {
                let now = Instant::now();
                let at = ctx.next_attempt.get().max(now);
                ctx.next_attempt.set(at + i);
                if at > now {
                    // Boxed, as every timer here: monoio's sleep future is 640 bytes.
                    let f = Box::pin(monoio::time::sleep(at - now));
                    f.await;
                }
            }
            if !first {
                ctx.attempting.set(ctx.attempting.get() + 1);
            }
            first = false;
            // Boxed: its state is freed when the handshake is over. An attempt in flight when
            // the run is released (given up, interrupted) is dropped: a server that accepts
            // and never answers would otherwise hold the end back by a handshake timeout.
            let f = Box::pin(attempt(&ctx, slot));
            let released = std::pin::pin!(sh.release.wait());
            let r = match futures_util::future::select(f, released).await {
                futures_util::future::Either::Left((r, _)) => Some(r),
                futures_util::future::Either::Right(_) => None,
            };
            ctx.attempting.set(ctx.attempting.get() - 1);
            ctx.attempt_ended.notify();
            let Some(r) = r else {
                sh.gave_up.fetch_add(1, Ordering::SeqCst);
                return;
            };
            match r {
                Attempt::Failed(kind) => {
                    sh.failed.fetch_add(1, Ordering::SeqCst);
                    let mut st = ctx.stats.borrow_mut();
                    *st.errors.entry(kind).or_default() += 1;
                    count_in_second(
                        &mut st.failed_timeline,
                        sh.started.elapsed().as_secs() as usize,
                    );
                    streak += 1;
                }
                Attempt::Open(stream, leftover) => {
                    sh.handshakes.fetch_add(1, Ordering::SeqCst);
                    let live = sh.live.fetch_add(1, Ordering::SeqCst) + 1;
                    sh.peak.fetch_max(live, Ordering::SeqCst);
                    sh.mark(live);
                    open = Some(Opened::Fresh(stream, leftover));
                    continue;
                }
            }
        }
        // Retry after retrydelay, doubling while attempts keep failing (up to 32x).
        let delay = Duration::from_millis(p.opts.retrydelay.max(1))
            * (1u32 << streak.saturating_sub(1).min(5));
        let f = Box::pin(retry_wait(delay, &sh.stop));
        f.await;
    }
}

async fn retry_wait(delay: Duration, stop: &Shutdown) {
    monoio::select! {
        _ = monoio::time::sleep(delay) => {}
        _ = stop.wait() => {}
    }
}

/// Hold an open connection: a plain one with nothing to read goes to the holder; others
/// stay with this task until they are at rest (plain) or end (TLS).
async fn keep(ctx: &Ctx, slot: u64, attempts: u64, o: Opened) -> Held {
    match o {
        Opened::Fresh(stream, leftover) => match stream.into_tcp() {
            Ok(tcp) => {
                let start = if leftover.is_empty() {
                    Start::AtRest
                } else {
                    Start::Input(leftover)
                };
                hold_plain(ctx, slot, attempts, tcp, start).await
            }
            Err(tls) => hold_driven(ctx, tls, leftover).await,
        },
        Opened::Woke(fd, rest) => {
            let tcp = match monoio::net::TcpStream::from_std(std::net::TcpStream::from(fd)) {
                Ok(t) => t,
                Err(_) => return Held::Lost("reset"),
            };
            let start = if rest.is_empty() {
                Start::Read
            } else {
                Start::Write(rest)
            };
            hold_plain(ctx, slot, attempts, tcp, start).await
        }
    }
}

/// Give `tcp` to the thread's holder (this task then lets it go); back if the holder
/// cannot take it, or `Gone` if it could not even be given back.
fn hand_over(ctx: &Ctx, slot: u64, attempts: u64, tcp: monoio::net::TcpStream) -> HandOver {
    let Some(h) = &ctx.holder else {
        return HandOver::Back(tcp);
    };
    if ctx.plan.shared.release.is_triggered() {
        return HandOver::Back(tcp);
    }
    // No operation on `tcp` is in flight (the caller's rule: no wait on it was cancelled),
    // so monoio gives its descriptor up (deregistered from the legacy driver).
    let raw = tcp.into_raw_fd();
    // SAFETY: `into_raw_fd` handed over the only ownership of this open descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let e = Entry {
        fd,
        slot,
        attempts: attempts.min(u32::MAX as u64) as u32,
    };
    match h.insert(e) {
        Ok(()) => HandOver::Done,
        Err(e) => match monoio::net::TcpStream::from_std(std::net::TcpStream::from(e.fd)) {
            Ok(t) => HandOver::Back(t),
            Err(_) => HandOver::Gone,
        },
    }
}

enum HandOver {
    Done,
    Back(monoio::net::TcpStream),
    Gone,
}

/// What a plain connection starts `hold_plain` with.
enum Start {
    /// Just opened, nothing read: straight to the holder.
    AtRest,
    /// Octets that came with the handshake response.
    Input(Vec<u8>),
    /// The holder saw it readable.
    Read,
    /// The rest of a ping the holder could not write whole.
    Write(Vec<u8>),
}

/// What woke a held connection.
enum Wake {
    Readable(bool),
    Ping,
    Release,
}

/// Keep a plain connection while it is not at rest (a partial frame or message read, a
/// close under way), answering what the server sends and pinging if asked; once at rest,
/// hand it to the holder. The waiting state here is small (socket, readiness wait, release
/// wait); reading, protocol state and writing are boxed and exist only while the server
/// sends something or a ping is due.
async fn hold_plain(
    ctx: &Ctx,
    slot: u64,
    attempts: u64,
    mut tcp: monoio::net::TcpStream,
    start: Start,
) -> Held {
    let release = &ctx.plan.shared.release;
    let mut conn: Option<Box<Connection>> = None;
    let first = match start {
        Start::AtRest => Ok(()),
        Start::Input(v) => {
            let f = Box::pin(service(ctx, &mut tcp, &mut conn, Some(v), false));
            f.await
        }
        Start::Read => {
            let f = Box::pin(service(ctx, &mut tcp, &mut conn, None, false));
            f.await
        }
        Start::Write(rest) => {
            let (r, _) = tcp.write_all(rest).await;
            r.map(|_| ()).map_err(|_| "reset")
        }
    };
    if let Err(kind) = first {
        return Held::Lost(kind);
    }
    // Handing over needs no operation on `tcp` in flight: not after a wait for readability
    // was given up (for a ping or the release).
    let mut can_hand_over = ctx.holder.is_some();
    let pinging = ctx.plan.opts.ping_interval > 0.0;
    loop {
        if can_hand_over && conn.as_ref().is_none_or(|c| c.at_rest()) {
            match hand_over(ctx, slot, attempts, tcp) {
                HandOver::Done => return Held::HandedOver,
                HandOver::Gone => return Held::Lost("reset"),
                HandOver::Back(t) => {
                    tcp = t;
                    can_hand_over = false;
                }
            }
        }
        let woke = if pinging {
            let d = Duration::from_secs_f64(ctx.plan.opts.ping_interval);
            let f = Box::pin(wait_or_ping(&tcp, d, release));
            f.await
        } else {
            let readable = std::pin::pin!(tcp.readable(false));
            let released = std::pin::pin!(release.wait());
            match futures_util::future::select(readable, released).await {
                futures_util::future::Either::Left((r, _)) => Wake::Readable(r.is_ok()),
                futures_util::future::Either::Right(_) => Wake::Release,
            }
        };
        let ping_now = match woke {
            Wake::Release => return Held::Released(Some((tcp.into(), conn))),
            Wake::Readable(false) => return Held::Lost("reset"),
            Wake::Readable(true) => false,
            Wake::Ping => {
                can_hand_over = false;
                true
            }
        };
        let f = Box::pin(service(ctx, &mut tcp, &mut conn, None, ping_now));
        let r = f.await;
        if let Err(kind) = r {
            return Held::Lost(kind);
        }
    }
}

async fn wait_or_ping(tcp: &monoio::net::TcpStream, every: Duration, release: &Shutdown) -> Wake {
    monoio::select! {
        r = tcp.readable(false) => Wake::Readable(r.is_ok()),
        _ = monoio::time::sleep(every) => Wake::Ping,
        _ = release.wait() => Wake::Release,
    }
}

/// The holder's task: sweep for readable sockets (back to a slot task each), ping every
/// held socket once each `ping_interval`, and at the release close them all. The pings are
/// spread over the interval (each sweep pings its share, round-robin), not sent as one burst:
/// a burst to every held socket at once (240,000 at a time in a 1M run on 2 cores) stalled
/// the servers long enough for new handshakes to time out.
async fn holder_task(ctx: Rc<Ctx>) {
    let Some(holder) = &ctx.holder else {
        return;
    };
    let sh = &ctx.plan.shared;
    let ping_every = (ctx.plan.opts.ping_interval > 0.0)
        .then(|| Duration::from_secs_f64(ctx.plan.opts.ping_interval));
    let mut pings = PingSpread::new(Instant::now());
    let mut ready = Vec::new();
    let mut unsent = Vec::new();
    loop {
        let f = Box::pin(sweep_wait(&sh.release));
        f.await;
        if sh.release.is_triggered() {
            holder.take_all(&mut ready);
            for e in ready.drain(..) {
                sh.live.fetch_sub(1, Ordering::SeqCst);
                let Ok(tcp) = monoio::net::TcpStream::from_std(std::net::TcpStream::from(e.fd))
                else {
                    continue;
                };
                let guard = Running::new(&ctx);
                let c = ctx.clone();
                drop(monoio::spawn(async move {
                    let _guard = guard;
                    close(&c, tcp.into(), None).await
                }));
            }
            return;
        }
        holder.take_ready(&mut ready);
        for e in ready.drain(..) {
            spawn_slot(
                &ctx,
                e.slot,
                e.attempts.into(),
                Some(Opened::Woke(e.fd, Vec::new())),
            );
        }
        if let Some(every) = ping_every {
            let range = pings.due(Instant::now(), every, holder.capacity());
            if !range.is_empty() {
                let mut rng = rand::rng();
                holder.send_range(
                    range,
                    || {
                        let mut f = Vec::with_capacity(6);
                        let mask: [u8; 4] = rng.random();
                        encode_frame(&mut f, true, 0, OpCode::PING, Some(mask), b"");
                        f
                    },
                    &mut unsent,
                );
                for (e, rest) in unsent.drain(..) {
                    spawn_slot(
                        &ctx,
                        e.slot,
                        e.attempts.into(),
                        Some(Opened::Woke(e.fd, rest)),
                    );
                }
            }
        }
    }
}

/// Which held sockets a sweep pings: a cursor over the holder's positions that goes round
/// once per interval.
struct PingSpread {
    cursor: usize,
    owed: f64,
    last: Instant,
}

impl PingSpread {
    fn new(now: Instant) -> Self {
        PingSpread {
            cursor: 0,
            owed: 0.0,
            last: now,
        }
    }

    /// The positions to ping now (`capacity` positions go round once per `every`).
    fn due(&mut self, now: Instant, every: Duration, capacity: usize) -> std::ops::Range<usize> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        if capacity == 0 {
            return 0..0;
        }
        self.owed += capacity as f64 * elapsed / every.as_secs_f64().max(1e-3);
        let n = (self.owed.floor() as usize).min(capacity);
        self.owed -= n as f64;
        if self.cursor >= capacity {
            self.cursor = 0;
        }
        // Up to the end of the positions this sweep; the rest of the share is owed to the
        // next one, which starts again at 0.
        let end = (self.cursor + n).min(capacity);
        self.owed += (self.cursor + n - end) as f64;
        let range = self.cursor..end;
        self.cursor = if end == capacity { 0 } else { end };
        range
    }
}

async fn sweep_wait(release: &Shutdown) {
    monoio::select! {
        _ = monoio::time::sleep(SWEEP) => {}
        _ = release.wait() => {}
    }
}

/// Read what arrived (or `initial`), let the protocol answer it, send a ping if `ping`, and
/// write whatever is queued. `Err` names how the connection ended.
async fn service(
    ctx: &Ctx,
    tcp: &mut monoio::net::TcpStream,
    conn: &mut Option<Box<Connection>>,
    initial: Option<Vec<u8>>,
    ping: bool,
) -> std::result::Result<(), &'static str> {
    let c = conn.get_or_insert_with(|| Box::new(Connection::new(ctx.config.clone())));
    let mut input = match initial {
        Some(v) => v,
        None if ping => Vec::new(),
        None => {
            let (r, buf) = monoio::io::AsyncReadRent::read(tcp, Vec::with_capacity(4096)).await;
            match r {
                Ok(0) => return Err("closed-by-server"),
                Err(_) => return Err("reset"),
                Ok(_) => buf,
            }
        }
    };
    if !input.is_empty() {
        c.handle_input_all(&mut input, Instant::now(), |_, _| {});
    }
    if ping {
        c.ping(b"");
    }
    if c.has_transmit() {
        let mut out = Vec::new();
        while c.has_transmit() {
            c.take_transmit(&mut out);
        }
        let (r, _) = tcp.write_all(out).await;
        if r.is_err() {
            return Err("reset");
        }
    }
    if c.transport_action() != TransportAction::Keep || !c.is_open() {
        return Err("closed-by-server");
    }
    Ok(())
}

/// TLS connections are held by the general driver (small read buffer).
async fn hold_driven(ctx: &Ctx, stream: Stream, leftover: Vec<u8>) -> Held {
    let mut conn = Connection::new(ctx.config.clone());
    let opts = DriveOptions {
        read_buf: 2048,
        shutdown: Some(ctx.plan.shared.release.clone()),
        ..Default::default()
    };
    let out = drive(stream, &mut conn, leftover, &mut (), &opts).await;
    if ctx.plan.shared.release.is_triggered() && out.status.closed_by_me {
        // Closed by us on release: done (the close handshake already ran).
        return Held::Released(None);
    }
    Held::Lost(if out.io_error.is_some() {
        "reset"
    } else {
        "closed-by-server"
    })
}

/// Close a released connection with a close handshake (1000).
async fn close(ctx: &Ctx, stream: Stream, conn: Option<Box<Connection>>) {
    let mut conn = conn.unwrap_or_else(|| Box::new(Connection::new(ctx.config.clone())));
    conn.close(Some(CloseCode::NORMAL), "", Instant::now());
    let opts = DriveOptions {
        read_buf: 512,
        ..Default::default()
    };
    let _ = monoio::time::timeout(
        Duration::from_secs(5),
        drive(stream, &mut conn, Vec::new(), &mut (), &opts),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_go_round_once_per_interval_spread_over_the_sweeps() {
        let t0 = Instant::now();
        let mut p = PingSpread::new(t0);
        let every = Duration::from_secs(10);
        let mut count = vec![0u32; 1000];
        let mut largest = 0;
        // 200 sweeps of 50 ms: one interval.
        for k in 1..=200u32 {
            let r = p.due(t0 + SWEEP * k, every, count.len());
            largest = largest.max(r.len());
            for i in r {
                count[i] += 1;
            }
        }
        assert!(count.iter().all(|c| *c == 1), "each socket pinged once");
        assert!(largest <= 6, "spread: at most {largest} a sweep");
        // An empty holder owes nothing.
        assert_eq!(p.due(t0 + SWEEP * 201, every, 0), 0..0);
    }
}
