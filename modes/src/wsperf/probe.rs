//! The echo probe: C connections spread over the pinned worker threads, each sending `count`
//! messages of `size` octets and timing every echo.
//!
//! Each thread owns its connections, its counters and its HdrHistogram (shared by the
//! thread's tasks through an `Rc`, never across threads); the main thread merges them at the
//! end, bucket by bucket. All connections are opened first; the clock starts when every
//! thread is connected (a start barrier, also used by wsperfmaster across machines).
//!
//! Open model: with `rate`, each connection sends on a fixed schedule and a round trip is
//! measured from the message's *intended* send time, so a stalled server shows up in the
//! latencies instead of silently slowing the sender down (wrk2's coordinated-omission
//! correction).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wstest_engine::net::WsUrl;
use wstest_engine::proto::connection::{CloseStatus, Counters};
use wstest_engine::proto::{CloseCode, Connection, Event};
use wstest_engine::runtime::{spawn_workers, RuntimeConfig, Shutdown};
use wstest_engine::stats::{Latency, Summary};
use wstest_engine::ws::{DriveOptions, FlowLimits, Handler, WsClientOptions};

use crate::common::ClientOptions;
use crate::Result;

/// One measurement: what to send, to where, how.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeConfig {
    pub url: String,
    /// Connections in total, spread over the threads.
    pub connections: usize,
    /// Messages per connection (counted ones; warm-up messages come on top).
    pub count: u64,
    /// Payload octets per message.
    pub size: usize,
    pub binary: bool,
    /// Messages in flight per connection (1: synchronous, one round trip at a time).
    pub window: usize,
    /// Open model: messages per second over all connections (`None`: as fast as echoes come).
    pub rate: Option<f64>,
    /// Send for this many seconds instead of `count` messages (count becomes a cap if set).
    pub duration: Option<f64>,
    /// Messages per connection sent first and not counted.
    pub warmup: u64,
    /// Give up on the whole measurement after this many milliseconds (original: `timeout`).
    pub timeout_ms: u64,
    /// Compare echoed octets with what was sent (otherwise only the length).
    pub verify: bool,
    /// Keep every round trip (nanoseconds) for `rtts` output.
    pub rtts: bool,
    /// Worker threads (0: every core; never more than `connections`).
    pub threads: usize,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            url: String::new(),
            connections: 1,
            count: 1000,
            size: 64,
            binary: false,
            window: 1,
            rate: None,
            duration: None,
            warmup: 0,
            timeout_ms: 100_000,
            verify: false,
            rtts: false,
            threads: 0,
        }
    }
}

/// A measurement's outcome, named as the original's TSV names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    Passed,
    /// Ended by Ctrl-C or SIGTERM: the figures are what was measured until then.
    Interrupted,
    Unreachable,
    Timeout,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "PASSED",
            Outcome::Interrupted => "INTERRUPTED",
            Outcome::Unreachable => "UNREACHABLE",
            Outcome::Timeout => "TIMEOUT",
            Outcome::Failed => "FAILED",
        }
    }
}

/// Round trips one probe thread keeps for `rtts` output (80 MB): a run with a duration
/// would otherwise keep every one of millions per second.
pub const MAX_RTTS: usize = 10_000_000;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What one measurement produced (mergeable: see [`ProbeResult::merge`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProbeResult {
    pub outcome: Outcome,
    /// Why, when not PASSED.
    pub error: Option<String>,
    pub connections: usize,
    pub connected: usize,
    pub sent: u64,
    /// Echoes counted in the histogram (warm-up excluded).
    pub received: u64,
    /// Echoes whose length (or, with verify, content) differed.
    pub mismatches: u64,
    /// Seconds from the start barrier to the last echo.
    pub elapsed_s: f64,
    /// Counted echoes per second over `elapsed_s`.
    pub msgs_per_sec: f64,
    /// Quantiles of `histogram`, in microseconds.
    pub summary: Summary,
    /// Round trips, nanoseconds, HdrHistogram V2 + base64 (see [`Latency::to_base64`]).
    pub histogram: String,
    /// Every counted round trip in nanoseconds, when asked for (at most [`MAX_RTTS`] per
    /// probe thread; the histogram has them all).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub rtts_ns: Vec<u64>,
    /// Round trips not kept in `rtts_ns` (past [`MAX_RTTS`]).
    #[serde(skip_serializing_if = "is_zero", default)]
    pub rtts_dropped: u64,
    #[serde(skip)]
    pub latency: Latency,
}

impl ProbeResult {
    /// A measurement that could not run.
    pub fn failed(connections: usize, outcome: Outcome, error: String) -> Self {
        let mut r = Self::empty(connections);
        r.outcome = outcome;
        r.error = Some(error);
        r.finish();
        r
    }

    fn empty(connections: usize) -> Self {
        ProbeResult {
            outcome: Outcome::Passed,
            error: None,
            connections,
            connected: 0,
            sent: 0,
            received: 0,
            mismatches: 0,
            elapsed_s: 0.0,
            msgs_per_sec: 0.0,
            summary: Summary::default(),
            histogram: String::new(),
            rtts_ns: Vec::new(),
            rtts_dropped: 0,
            latency: Latency::new(),
        }
    }

    /// The histogram, from `latency` or (after deserializing) from `histogram`.
    pub fn restore_latency(&mut self) -> std::result::Result<(), String> {
        if self.latency.count() == 0 && !self.histogram.is_empty() {
            self.latency = Latency::from_base64(&self.histogram)?;
        }
        Ok(())
    }

    /// Combine results of the same case from several probes: counts add, histograms merge
    /// exactly, the worst outcome wins, elapsed is the longest.
    pub fn merge(&mut self, o: &ProbeResult) {
        if rank(o.outcome) > rank(self.outcome) {
            self.outcome = o.outcome;
            self.error = o.error.clone();
        }
        self.connections += o.connections;
        self.connected += o.connected;
        self.sent += o.sent;
        self.received += o.received;
        self.mismatches += o.mismatches;
        self.elapsed_s = self.elapsed_s.max(o.elapsed_s);
        self.latency.merge(&o.latency);
        self.rtts_ns.extend_from_slice(&o.rtts_ns);
        self.rtts_dropped += o.rtts_dropped;
        self.finish();
    }

    fn finish(&mut self) {
        self.msgs_per_sec = if self.elapsed_s > 0.0 {
            self.received as f64 / self.elapsed_s
        } else {
            0.0
        };
        self.histogram = self.latency.to_base64();
        self.summary = self.latency.summary();
    }
}

fn rank(o: Outcome) -> u8 {
    match o {
        Outcome::Passed => 0,
        Outcome::Interrupted => 1,
        Outcome::Failed => 2,
        Outcome::Unreachable => 3,
        Outcome::Timeout => 4,
    }
}

/// Octets a connection may have queued for the wire (not yet taken by its driver) and still
/// queue another message. The window counts messages sent and not yet echoed; a message is
/// only made once the octets before it are nearly on their way, so large messages wait in
/// the kernel's socket buffers instead of piling up in ours (32 × 1 MiB per connection was
/// half a gigabyte of fresh pages to fault in, and a sixth of the floor's throughput), and
/// the buffers the driver gives back are reused. Every echo calls [`ProbeHandler::fill`]
/// again, and a message still queued always has an echo to come, so a held-back message is
/// sent as soon as the queue drains.
const SEND_AHEAD: usize = 256 * 1024;

/// What one thread gathers from its connections.
#[derive(Default)]
struct Shard {
    latency: Latency,
    rtts: Vec<u64>,
    rtts_dropped: u64,
    sent: u64,
    received: u64,
    mismatches: u64,
    connected: usize,
    /// Connections that ended before their last echo.
    lost: usize,
    first_error: Option<String>,
    last_echo: Option<Instant>,
}

/// A message schedule and the echo bookkeeping of one connection.
struct ProbeHandler {
    payload: Rc<[u8]>,
    binary: bool,
    verify: bool,
    keep_rtts: bool,
    window: usize,
    warmup: u64,
    /// Messages to send in all (warm-up included); `u64::MAX` with a duration.
    total: u64,
    sent: u64,
    received: u64,
    /// Send (or intended send) times of the messages in flight.
    in_flight: VecDeque<Instant>,
    interval: Option<Duration>,
    next_send: Instant,
    stop_sending_at: Option<Instant>,
    done: bool,
    shard: Rc<RefCell<Shard>>,
}

impl ProbeHandler {
    fn sending_over(&self, now: Instant) -> bool {
        self.sent >= self.total || self.stop_sending_at.is_some_and(|t| now >= t)
    }

    /// Whether another message may still be sent, at some time.
    fn may_send(&self) -> bool {
        !self.done && self.sent < self.total
    }

    fn fill(&mut self, conn: &mut Connection, now: Instant) {
        if !self.done && self.stop_sending_at.is_some_and(|t| now >= t) {
            // The duration is over: close now, whatever is still in flight (those echoes
            // are not measured). The closing handshake has its own timeout, so the run ends
            // on time however slow the server is.
            self.total = self.total.min(self.sent);
            self.done = true;
            conn.close(Some(CloseCode::NORMAL), "", now);
            return;
        }
        while !self.done
            && self.in_flight.len() < self.window
            && !self.sending_over(now)
            && self.interval.is_none_or(|_| self.next_send <= now)
            && conn.transmit_len() < SEND_AHEAD
        {
            conn.send_message(self.binary, &self.payload);
            self.in_flight.push_back(match self.interval {
                Some(_) => self.next_send,
                None => now,
            });
            if let Some(i) = self.interval {
                self.next_send += i;
            }
            self.sent += 1;
        }
        if !self.done && self.in_flight.is_empty() && self.sending_over(now) {
            self.done = true;
            conn.close(Some(CloseCode::NORMAL), "", now);
        }
    }
}

impl Handler for ProbeHandler {
    fn on_open(&mut self, conn: &mut Connection, now: Instant) {
        self.next_send = now;
        self.fill(conn, now);
    }

    fn on_event(&mut self, conn: &mut Connection, event: Event, now: Instant) {
        let Event::Message(m) = event else { return };
        // Echoes that come in after the duration closed the connection are not measured.
        let Some(at) = self.in_flight.pop_front().filter(|_| !self.done) else {
            return;
        };
        self.received += 1;
        {
            let mut s = self.shard.borrow_mut();
            if self.received > self.warmup {
                let rtt = now.saturating_duration_since(at);
                s.latency.record(rtt);
                if self.keep_rtts && s.rtts.len() < MAX_RTTS {
                    s.rtts.push(rtt.as_nanos() as u64);
                } else if self.keep_rtts {
                    s.rtts_dropped += 1;
                }
                s.received += 1;
                s.last_echo = Some(now);
            }
            let same = if self.verify {
                m.data[..] == self.payload[..]
            } else {
                m.data.len() == self.payload.len()
            };
            if !same || m.binary != self.binary {
                s.mismatches += 1;
            }
        }
        conn.recycle(m.data);
        self.fill(conn, now);
    }

    fn deadline(&self) -> Option<Instant> {
        if self.done {
            return None;
        }
        // The end of the duration, even with the window full; the next paced send.
        let paced = self
            .interval
            .filter(|_| self.may_send() && self.in_flight.len() < self.window)
            .map(|_| self.next_send);
        match (paced, self.stop_sending_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_deadline(&mut self, conn: &mut Connection, now: Instant) {
        self.fill(conn, now);
    }

    fn on_closed(&mut self, status: &CloseStatus, _counters: &Counters) {
        let mut s = self.shard.borrow_mut();
        s.sent += self.sent;
        if !self.done {
            s.lost += 1;
            s.first_error.get_or_insert_with(|| {
                format!(
                    "connection ended after {} of {} echoes ({})",
                    self.received,
                    if self.total == u64::MAX {
                        self.sent
                    } else {
                        self.total
                    },
                    describe_close(status)
                )
            });
        }
    }
}

fn describe_close(s: &CloseStatus) -> String {
    match (&s.error, s.remote_code) {
        (Some(e), _) => format!("failed: {e}"),
        (None, Some(c)) => format!("server closed with {c}"),
        (None, None) => "transport closed".into(),
    }
}

/// The start barrier: threads report when their connections are open, then wait for `go`.
#[derive(Clone, Default)]
pub struct StartGate {
    ready: Arc<AtomicUsize>,
    pub go: Shutdown,
}

impl StartGate {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Run one measurement. `on_ready` is called (on this thread) once every connection is open
/// or has failed; the clock starts when it returns (so a caller can hold every probe of a
/// distributed run at the barrier). `shutdown` (Ctrl-C) ends the run early.
pub fn run_probe(
    cfg: &ProbeConfig,
    client: &ClientOptions,
    shutdown: &Shutdown,
    on_ready: impl FnOnce(),
) -> Result<ProbeResult> {
    let url = WsUrl::parse(&cfg.url)?;
    let mut wopts = client.ws_options(&url)?;
    wopts.config.max_message_size = (cfg.size as u64).max(1 << 20);
    let connections = cfg.connections.max(1);
    let mut rt: RuntimeConfig = client.runtime.clone();
    rt.threads = if cfg.threads > 0 {
        cfg.threads
    } else {
        rt.thread_count()
    }
    .min(connections);
    let threads = rt.threads;
    let gate = StartGate::new();
    let stop = Shutdown::new();
    let timeout = Duration::from_millis(cfg.timeout_ms.max(1));
    let payload: Arc<[u8]> = make_payload(cfg.size, cfg.binary).into();

    let inputs: Vec<usize> = (0..threads)
        .map(|t| connections / threads + usize::from(t < connections % threads))
        .collect();
    let job = Arc::new((cfg.clone(), wopts, payload, gate.clone(), stop.clone()));
    let workers = spawn_workers(&rt, shutdown.clone(), inputs, move |ctx, n| {
        let job = job.clone();
        async move { thread_main(ctx.shutdown, &job, n).await }
    })
    .map_err(|e| crate::ModeError::io("cannot start probe threads", e))?;

    // Barrier: wait until every thread has opened its connections.
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    while gate.ready.load(Ordering::SeqCst) < threads {
        if Instant::now() >= deadline || shutdown.is_triggered() {
            timed_out = !shutdown.is_triggered();
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    on_ready();
    let t0 = Instant::now();
    gate.go.trigger();
    // Watchdog: the whole measurement must end within the timeout.
    let watchdog = {
        let stop = stop.clone();
        let remaining = deadline.saturating_duration_since(Instant::now());
        let done = Shutdown::new();
        let d2 = done.clone();
        let h = std::thread::spawn(move || {
            let until = Instant::now() + remaining;
            while !d2.is_triggered() {
                if Instant::now() >= until {
                    stop.trigger();
                    return true;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            false
        });
        (h, done)
    };
    let shards = workers.join();
    watchdog.1.trigger();
    timed_out |= watchdog.0.join().unwrap_or(false);
    let shards = shards?;

    let mut r = ProbeResult::empty(connections);
    let mut lost = 0;
    let mut first_error = None;
    let mut last_echo = None::<Instant>;
    for s in shards {
        r.latency.merge(&s.latency);
        r.rtts_ns.extend_from_slice(&s.rtts);
        r.rtts_dropped += s.rtts_dropped;
        r.sent += s.sent;
        r.received += s.received;
        r.mismatches += s.mismatches;
        r.connected += s.connected;
        lost += s.lost;
        if first_error.is_none() {
            first_error = s.first_error;
        }
        last_echo = match (last_echo, s.last_echo) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    let failed_connect = connections - r.connected;
    r.elapsed_s = last_echo
        .map(|t| t.saturating_duration_since(t0).as_secs_f64())
        .unwrap_or(0.0);
    (r.outcome, r.error) = if timed_out {
        (
            Outcome::Timeout,
            Some(format!(
                "no result within {} ms ({} of {} echoes)",
                cfg.timeout_ms,
                r.received,
                r.connected as u64 * cfg.count
            )),
        )
    } else if r.connected == 0 {
        (Outcome::Unreachable, first_error)
    } else if shutdown.is_triggered() {
        // Before the lost connections: our own shutdown closed them (1001).
        (
            Outcome::Interrupted,
            Some(format!(
                "interrupted after {} round trips; the figures are what was measured until then",
                r.received
            )),
        )
    } else if failed_connect > 0 {
        (
            Outcome::Failed,
            Some(format!(
                "{failed_connect} of {connections} connections could not be opened: {}",
                first_error.unwrap_or_default()
            )),
        )
    } else if lost > 0 {
        (Outcome::Failed, first_error)
    } else if r.mismatches > 0 {
        (
            Outcome::Failed,
            Some(format!(
                "{} echoes differed from what was sent ({})",
                r.mismatches,
                if cfg.verify { "content" } else { "length" }
            )),
        )
    } else {
        (Outcome::Passed, None)
    };
    r.finish();
    Ok(r)
}

/// Printable payload (valid UTF-8 for text messages), the same for every message.
fn make_payload(size: usize, binary: bool) -> Vec<u8> {
    if binary {
        (0..size).map(|i| (i * 31 + 7) as u8).collect()
    } else {
        (0..size).map(|i| b"0123456789abcdef"[i % 16]).collect()
    }
}

type Job = (ProbeConfig, WsClientOptions, Arc<[u8]>, StartGate, Shutdown);

/// One worker thread: open `n` connections, wait at the barrier, run them, return the shard.
async fn thread_main(user_stop: Shutdown, job: &Job, n: usize) -> Shard {
    let (cfg, wopts, payload, gate, stop) = job;
    let shard = Rc::new(RefCell::new(Shard::default()));
    let url = WsUrl::parse(&cfg.url).expect("checked by run_probe");
    // Connect concurrently, in batches that keep the SYN queue of a small server happy.
    let (open, error) = wstest_engine::ws::connect_many(&url, wopts, n, 256, || {
        user_stop.is_triggered() || stop.is_triggered()
    })
    .await;
    if let Some(e) = error {
        shard
            .borrow_mut()
            .first_error
            .get_or_insert_with(|| e.to_string());
    }
    shard.borrow_mut().connected = open.len();
    gate.ready.fetch_add(1, Ordering::SeqCst);
    gate.go.wait().await;

    // Ctrl-C or the watchdog close every connection (1001) through the driver.
    let ending = Shutdown::new();
    {
        let (e, u, s) = (ending.clone(), user_stop.clone(), stop.clone());
        monoio::spawn(async move {
            monoio::select! {
                _ = u.wait() => {}
                _ = s.wait() => {}
            }
            e.trigger();
        });
    }
    let payload: Rc<[u8]> = Rc::from(&payload[..]);
    let per_conn_rate = cfg.rate.map(|r| r / cfg.connections.max(1) as f64);
    let interval = per_conn_rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(1.0 / r));
    let start = Instant::now();
    let stop_sending_at = cfg.duration.map(|d| start + Duration::from_secs_f64(d));
    let total = match (cfg.duration, cfg.count) {
        (Some(_), 0) => u64::MAX,
        (_, c) => c.saturating_add(cfg.warmup),
    };
    let mut tasks = Vec::with_capacity(open.len());
    for c in open {
        let h = ProbeHandler {
            payload: payload.clone(),
            binary: cfg.binary,
            verify: cfg.verify,
            keep_rtts: cfg.rtts,
            window: cfg.window.max(1),
            warmup: cfg.warmup,
            total,
            sent: 0,
            received: 0,
            in_flight: VecDeque::with_capacity(cfg.window.max(1)),
            interval,
            next_send: start,
            stop_sending_at,
            done: false,
            shard: shard.clone(),
        };
        let opts = DriveOptions {
            shutdown: Some(ending.clone()),
            // Grows from 2 KiB while reads fill it (see `drive`): pipelined large messages
            // want several per read.
            read_buf: 256 * 1024,
            // The window of messages in flight is queued by the probe itself.
            flow: FlowLimits::with_own_output(cfg.window.max(1).saturating_mul(cfg.size + 14)),
            ..Default::default()
        };
        tasks.push(c.spawn(h, opts));
    }
    for t in tasks {
        t.await;
    }
    // The tasks are over; take the shard out.
    let s = std::mem::take(&mut *shard.borrow_mut());
    s
}
