//! Fan-out measurement (`broadcastclient --clients N --publish-rate R`): N receivers spread
//! over the pinned threads, one publisher that sends R stamped messages a second for a while
//! (on a fixed schedule: messages that fall due together go out together, none is skipped);
//! each receiver records how long every message took from the moment the publisher queued it
//! to its arrival, and counts them, so the messages the server lost show up as
//! `expected - delivered`. The stamp is taken when the message is queued, not when it reaches
//! the socket, so a server that pushes back on the publisher shows up in the latency; the
//! runtime's millisecond timer only moves when messages are sent, not what is measured.
//!
//! Every thread owns its receivers, its HdrHistogram and its counters; they are merged at the
//! end. One process, one clock: stamps are nanoseconds since a shared `Instant`.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wstest_engine::net::WsUrl;
use wstest_engine::proto::connection::{CloseStatus, Counters};
use wstest_engine::proto::{Connection, Event};
use wstest_engine::runtime::{spawn_workers, Shutdown};
use wstest_engine::stats::{Latency, Summary};
use wstest_engine::ws::{connect_ws, DriveOptions, Handler, WsClient, WsClientOptions};

use crate::common::ClientOptions;
use crate::{ModeError, Result};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FanoutConfig {
    pub url: String,
    pub client: ClientOptions,
    /// Receivers.
    pub clients: usize,
    /// Messages per second from the publisher.
    pub rate: f64,
    /// Seconds of publishing.
    pub duration_s: f64,
    /// Message size in octets (at least the stamp, ~40).
    pub size: usize,
    /// Seconds to wait for the last messages after publishing ends.
    pub drain_s: f64,
}

impl Default for FanoutConfig {
    fn default() -> Self {
        FanoutConfig {
            url: "ws://127.0.0.1:9000".into(),
            client: ClientOptions::default(),
            clients: 100,
            rate: 100.0,
            duration_s: 5.0,
            size: 64,
            drain_s: 5.0,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct FanoutReport {
    pub url: String,
    pub clients: usize,
    pub connected: usize,
    pub threads: usize,
    pub rate: f64,
    pub size: usize,
    pub duration_s: f64,
    pub published: u64,
    /// published × connected receivers.
    pub expected: u64,
    /// Distinct messages that reached a receiver (a message counts once per receiver).
    pub delivered: u64,
    pub lost: u64,
    /// Messages a receiver got more than once (not counted as delivered again).
    pub duplicates: u64,
    /// Receivers the server closed (or that failed) before the end.
    pub dropped: u64,
    /// Receivers connected only after publishing had started: closed, not measured.
    pub late: u64,
    /// Delivery latency from the moment the publisher queued the message.
    pub latency: Summary,
    /// HdrHistogram V2, base64 (nanoseconds).
    pub histogram: String,
    pub first_error: Option<String>,
}

impl FanoutReport {
    pub const TSV_HEADER: &'static str = "url\tclients\tconnected\trate\tsize\tduration_s\tpublished\texpected\tdelivered\tlost\tdropped\tmin_us\tp50_us\tp90_us\tp99_us\tp999_us\tmax_us\tduplicates\tlate";

    pub fn tsv_row(&self) -> String {
        let l = &self.latency;
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.1}\t{:.1}\t{:.1}\t{:.1}\t{:.1}\t{:.1}\t{}\t{}",
            self.url,
            self.clients,
            self.connected,
            self.rate,
            self.size,
            self.duration_s,
            self.published,
            self.expected,
            self.delivered,
            self.lost,
            self.dropped,
            l.min_us,
            l.median_us,
            l.p90_us,
            l.p99_us,
            l.p999_us,
            l.max_us,
            self.duplicates,
            self.late
        )
    }
}

/// A thread's receivers' results.
#[derive(Default)]
struct Shard {
    latency: Latency,
    delivered: u64,
    duplicates: u64,
    dropped: u64,
    late: u64,
    connected: usize,
    first_error: Option<String>,
}

/// A counter other threads can read, alone on its cache line.
#[repr(align(128))]
#[derive(Default)]
struct Padded(AtomicU64);

struct Run {
    cfg: FanoutConfig,
    wopts: WsClientOptions,
    epoch: Instant,
    tag: String,
    ready: AtomicUsize,
    /// Receivers open when publishing starts.
    receivers: AtomicUsize,
    go: Shutdown,
    stop: Shutdown,
    delivered: Vec<Padded>,
    /// Messages the publisher has queued so far (a sequence number at or past it cannot be
    /// one of ours: it is not counted, and the receivers' `Seen` never grows past it).
    sent: AtomicU64,
    published: AtomicU64,
    publishing_done: AtomicBool,
    publisher_failed: std::sync::Mutex<Option<String>>,
}

/// Stamp: "fanout TAG SEQ NANOS " padded with '.' to `size`.
fn stamp(tag: &str, seq: u64, ns: u64, size: usize) -> String {
    let mut s = format!("fanout {tag} {seq} {ns} ");
    while s.len() < size {
        s.push('.');
    }
    s
}

/// The stamp's sequence number and nanoseconds, if the message is one of this run's.
fn parse_stamp(tag: &str, data: &[u8]) -> Option<(u64, u64)> {
    let s = std::str::from_utf8(data.get(..data.len().min(80))?).ok()?;
    let mut it = s.split(' ');
    (it.next()? == "fanout" && it.next()? == tag).then_some(())?;
    let seq = it.next()?.parse::<u64>().ok()?;
    Some((seq, it.next()?.parse().ok()?))
}

/// Which sequence numbers one receiver has seen (one bit each).
#[derive(Default)]
struct Seen(Vec<u64>);

impl Seen {
    /// Mark `seq`; false if it was marked already.
    fn first_time(&mut self, seq: u64) -> bool {
        let (word, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        let fresh = self.0[word] & bit == 0;
        self.0[word] |= bit;
        fresh
    }
}

struct Receiver {
    run: Arc<Run>,
    shard: Rc<RefCell<Shard>>,
    slot: usize,
    seen: Seen,
}

impl Handler for Receiver {
    fn on_event(&mut self, _conn: &mut Connection, event: Event, now: Instant) {
        let Event::Message(m) = event else { return };
        let Some((seq, ns)) = parse_stamp(&self.run.tag, &m.data) else {
            return;
        };
        // Not published yet: not a stamp of ours after all.
        if seq >= self.run.sent.load(Ordering::Acquire) {
            return;
        }
        let at = now.duration_since(self.run.epoch).as_nanos() as u64;
        let mut s = self.shard.borrow_mut();
        if !self.seen.first_time(seq) {
            s.duplicates += 1;
            return;
        }
        s.latency
            .record(Duration::from_nanos(at.saturating_sub(ns)));
        s.delivered += 1;
        self.run.delivered[self.slot]
            .0
            .store(s.delivered, Ordering::Relaxed);
    }

    fn on_closed(&mut self, _status: &CloseStatus, _counters: &Counters) {
        if !self.run.stop.is_triggered() {
            self.shard.borrow_mut().dropped += 1;
        }
    }
}

struct Publisher {
    run: Arc<Run>,
    start: Option<Instant>,
    seq: u64,
    interval: Duration,
}

impl Publisher {
    fn finish(&mut self) {
        self.run.published.store(self.seq, Ordering::SeqCst);
        self.run.publishing_done.store(true, Ordering::SeqCst);
        self.start = None;
    }
}

impl Handler for Publisher {
    fn on_open(&mut self, _conn: &mut Connection, now: Instant) {
        self.start = Some(now);
    }

    fn on_event(&mut self, _conn: &mut Connection, _event: Event, _now: Instant) {}

    fn deadline(&self) -> Option<Instant> {
        self.start
            .map(|s| s + self.interval.mul_f64(self.seq as f64))
    }

    fn on_deadline(&mut self, conn: &mut Connection, now: Instant) {
        let Some(start) = self.start else { return };
        let end = start + Duration::from_secs_f64(self.run.cfg.duration_s);
        loop {
            let due = start + self.interval.mul_f64(self.seq as f64);
            if due >= end || !conn.is_open() {
                self.finish();
                return;
            }
            if due > now {
                return;
            }
            let ns = now.duration_since(self.run.epoch).as_nanos() as u64;
            conn.send_text(&stamp(&self.run.tag, self.seq, ns, self.run.cfg.size));
            self.seq += 1;
            self.run.sent.store(self.seq, Ordering::Release);
        }
    }

    fn on_closed(&mut self, status: &CloseStatus, _counters: &Counters) {
        if !self.run.publishing_done.load(Ordering::SeqCst) {
            if let Ok(mut f) = self.run.publisher_failed.lock() {
                f.get_or_insert_with(|| format!("publisher closed early: {status:?}"));
            }
            self.finish();
        }
    }
}

async fn connect_many(run: &Run, url: &WsUrl, n: usize, shard: &RefCell<Shard>) -> Vec<WsClient> {
    let (open, error) =
        wstest_engine::ws::connect_many(url, &run.wopts, n, 256, || run.stop.is_triggered()).await;
    if let Some(e) = error {
        shard
            .borrow_mut()
            .first_error
            .get_or_insert_with(|| e.to_string());
    }
    open
}

async fn thread_main(run: Arc<Run>, index: usize, n: usize, stop_all: Shutdown) -> Shard {
    let shard = Rc::new(RefCell::new(Shard::default()));
    let url = match WsUrl::parse(&run.cfg.url) {
        Ok(u) => u,
        Err(e) => {
            shard.borrow_mut().first_error = Some(e.to_string());
            run.ready.fetch_add(1, Ordering::SeqCst);
            return std::mem::take(&mut *shard.borrow_mut());
        }
    };
    let publisher = if index == 0 {
        match connect_ws(&url, &run.wopts).await {
            Ok(c) => Some(c),
            Err(e) => {
                if let Ok(mut f) = run.publisher_failed.lock() {
                    *f = Some(format!("publisher: {e}"));
                }
                None
            }
        }
    } else {
        None
    };
    let mut open = connect_many(&run, &url, n, &shard).await;
    if run.go.is_triggered() {
        // Publishing started without these (they took longer than the others were given):
        // what they missed would count as lost, so they are not measured.
        shard.borrow_mut().late = open.len() as u64;
        open.clear();
    }
    shard.borrow_mut().connected = open.len();
    run.receivers.fetch_add(open.len(), Ordering::SeqCst);
    run.ready.fetch_add(1, Ordering::SeqCst);
    run.go.wait().await;

    let opts = DriveOptions {
        shutdown: Some(stop_all),
        ..Default::default()
    };
    let mut tasks = Vec::with_capacity(open.len() + 1);
    for c in open {
        let h = Receiver {
            run: run.clone(),
            shard: shard.clone(),
            slot: index,
            seen: Seen::default(),
        };
        tasks.push(c.spawn(h, opts.clone()));
    }
    if let Some(c) = publisher {
        let h = Publisher {
            run: run.clone(),
            start: None,
            seq: 0,
            interval: Duration::from_secs_f64(1.0 / run.cfg.rate.max(0.001)),
        };
        tasks.push(c.spawn(h, opts.clone()));
    }
    for t in tasks {
        t.await;
    }
    let s = std::mem::take(&mut *shard.borrow_mut());
    s
}

/// Run the measurement. `shutdown` (Ctrl-C) ends it early; what was measured is reported.
pub fn run_fanout(cfg: &FanoutConfig, shutdown: &Shutdown) -> Result<FanoutReport> {
    let url = WsUrl::parse(&cfg.url)?;
    let wopts = cfg.client.ws_options(&url)?;
    let clients = cfg.clients.max(1);
    let mut rt = cfg.client.runtime.clone();
    rt.threads = rt.thread_count().min(clients);
    let threads = rt.threads;
    let epoch = Instant::now();
    let tag = format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let run = Arc::new(Run {
        cfg: cfg.clone(),
        wopts,
        epoch,
        tag,
        ready: AtomicUsize::new(0),
        receivers: AtomicUsize::new(0),
        go: Shutdown::new(),
        stop: Shutdown::new(),
        delivered: (0..threads).map(|_| Padded::default()).collect(),
        sent: AtomicU64::new(0),
        published: AtomicU64::new(0),
        publishing_done: AtomicBool::new(false),
        publisher_failed: std::sync::Mutex::new(None),
    });
    let inputs: Vec<usize> = (0..threads)
        .map(|t| clients / threads + usize::from(t < clients % threads))
        .collect();
    let stop_all = run.stop.clone();
    let r2 = run.clone();
    let workers = spawn_workers(&rt, shutdown.clone(), inputs, move |ctx, n| {
        let (run, stop_all) = (r2.clone(), stop_all.clone());
        async move { thread_main(run, ctx.index, n, stop_all).await }
    })
    .map_err(|e| ModeError::io("cannot start fan-out threads", e))?;

    let connect_by = Instant::now()
        + Duration::from_secs_f64(cfg.client.connect_timeout.unwrap_or(10.0) * 2.0 + 5.0);
    let waiting = |what: &dyn Fn() -> bool, until: Instant| {
        while !what() && Instant::now() < until && !shutdown.is_triggered() {
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    waiting(&|| run.ready.load(Ordering::SeqCst) >= threads, connect_by);
    let publisher_up = run
        .publisher_failed
        .lock()
        .map(|f| f.is_none())
        .unwrap_or(false);
    if publisher_up {
        run.go.trigger();
        let publish_by = Instant::now() + Duration::from_secs_f64(cfg.duration_s + 30.0);
        waiting(&|| run.publishing_done.load(Ordering::SeqCst), publish_by);
    } else {
        run.go.trigger();
    }
    // Wait for stragglers: until every receiver has every message, or the drain time is up.
    if publisher_up {
        let expected =
            run.published.load(Ordering::SeqCst) * run.receivers.load(Ordering::SeqCst) as u64;
        let delivered = || -> u64 {
            run.delivered
                .iter()
                .map(|d| d.0.load(Ordering::Relaxed))
                .sum()
        };
        let drain_by = Instant::now() + Duration::from_secs_f64(cfg.drain_s);
        waiting(&|| delivered() >= expected, drain_by);
    }
    run.stop.trigger();
    let shards = workers.join()?;

    let mut latency = Latency::new();
    let (mut delivered, mut dropped, mut connected) = (0u64, 0u64, 0usize);
    let (mut duplicates, mut late) = (0u64, 0u64);
    let mut first_error = run.publisher_failed.lock().ok().and_then(|f| f.clone());
    for s in shards {
        latency.merge(&s.latency);
        delivered += s.delivered;
        duplicates += s.duplicates;
        late += s.late;
        dropped += s.dropped;
        connected += s.connected;
        if first_error.is_none() {
            first_error = s.first_error;
        }
    }
    if connected == 0 || !publisher_up {
        return Err(ModeError::Unreachable(format!(
            "{}: {}",
            cfg.url,
            first_error.unwrap_or_else(|| "no receiver could connect".into())
        )));
    }
    let published = run.published.load(Ordering::SeqCst);
    let expected = published * connected as u64;
    if let Some(e) = &first_error {
        eprintln!("broadcastclient: {e}");
    }
    Ok(FanoutReport {
        url: cfg.url.clone(),
        clients,
        connected,
        threads,
        rate: cfg.rate,
        size: cfg.size,
        duration_s: cfg.duration_s,
        published,
        expected,
        delivered,
        lost: expected.saturating_sub(delivered),
        duplicates,
        dropped,
        late,
        latency: latency.summary(),
        histogram: latency.to_base64(),
        first_error,
    })
}

impl crate::report::Outcome for FanoutReport {
    fn summary(&self) -> String {
        format!("{}\n{}", Self::TSV_HEADER, self.tsv_row())
    }

    fn outcome(&self) -> crate::Result<()> {
        if self.lost > 0 || self.dropped > 0 {
            return Err(crate::error::Failure::Deliveries {
                lost: self.lost,
                expected: self.expected,
                dropped: self.dropped,
            }
            .into());
        }
        Ok(())
    }

    fn tsv(&self) -> Option<String> {
        Some(format!("{}\n", self.summary()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_parse_back_and_foreign_messages_do_not() {
        let s = stamp("ab12", 7, 123456789, 64);
        assert_eq!(s.len(), 64);
        assert_eq!(parse_stamp("ab12", s.as_bytes()), Some((7, 123456789)));
        assert_eq!(parse_stamp("other", s.as_bytes()), None);
        assert_eq!(parse_stamp("ab12", b"tick 5"), None);
        assert_eq!(parse_stamp("ab12", b"fanout ab12 x 5 "), None);
        assert_eq!(parse_stamp("ab12", &[0xff, 0xfe]), None);
    }

    #[test]
    fn a_short_size_still_carries_the_whole_stamp() {
        let s = stamp("t", 1, 2, 4);
        assert_eq!(parse_stamp("t", s.as_bytes()), Some((1, 2)));
    }

    #[test]
    fn a_message_seen_twice_counts_once() {
        let mut s = Seen::default();
        assert!(s.first_time(0) && s.first_time(63) && s.first_time(64) && s.first_time(1000));
        assert!(!s.first_time(63) && !s.first_time(1000));
        assert!(s.first_time(999));
    }
}
