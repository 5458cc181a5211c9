//! Running one case on one connection: the fuzzer's side of the conversation.
//!
//! [`CaseSession`] is a [`Handler`]: on open it runs the case's steps (frames written with the
//! engine's raw frame writer, timers armed); it records what the peer sends as events, keeps
//! the wire log and octet/frame statistics, closes when the events are complete, and at the end
//! hands everything to [`super::verdict`]. The fuzzer's own endpoint behaviour (how it answers
//! pings and closes, how it fails, its timeouts) is the engine's [`Connection`] configured by
//! [`fuzzer_config`] to behave like the original's.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use wstest_engine::proto::connection::{CloseCodePolicy, CloseStatus, Counters, FrameRecord};
use wstest_engine::proto::frame::{encode_frame, encode_header, LengthForm, RawFrame};
use wstest_engine::proto::mask::apply_mask;
use wstest_engine::proto::{CloseCode, Config, Connection, Event, FailPolicy, OpCode, Role};
use wstest_engine::ws::Handler;

use super::case::{frame, Behavior, Case, Check, Compression, Ev, FrameSpec, Step};
use super::limits::{Received, Truncation, MAX_MESSAGE};
use super::result::CaseResult;
use super::traffic::TrafficStats;
use super::verdict;
use super::wirelog::{Wire, Wirelog};

/// The fuzzer's endpoint settings: those of the original (Autobahn 0.10 with
/// `failByDrop = false`), except a message size limit ([`MAX_MESSAGE`]; the original has
/// none, and one hostile peer's 1 GiB frame would take the whole run): close replies carry 1000, a violation by the peer is
/// answered with a Close and the connection dropped on the next input, 1 s close handshake
/// and server drop timeouts, its list of acceptable close codes.
pub fn fuzzer_config(role: Role) -> Config {
    let mut c = Config::new(role);
    c.max_message_size = MAX_MESSAGE;
    c.echo_close_code = false;
    c.fail_policy = FailPolicy::CloseThenDropOnInput;
    c.close_timeout = Duration::from_secs(1);
    c.linger_timeout = Duration::from_secs(1);
    c.record_frames = true;
    c.close_codes = CloseCodePolicy::Autobahn;
    // As the original's writes reach the wire (tcpdump, docs/conformance.md): its client's
    // first two pieces of a burst share a segment; its server's do not (the case starts after
    // the handshake answer has been flushed).
    c.pair_burst_start = role == Role::Client;
    c.linger_after_peer_close = false;
    // Compression cases: level 1 (the original uses zlib's default, 6). What the fuzzer sends
    // only has to be valid deflate data, and the fastest level leaves the machine to the
    // testee; the verdicts do not depend on it, the reported ratios do.
    c.deflate_level = FUZZER_DEFLATE_LEVEL;
    c
}

/// zlib level of the fuzzer's own compressor.
pub const FUZZER_DEFLATE_LEVEL: u32 = 1;

#[derive(Debug)]
enum Timer {
    Kill,
    Close,
    Later {
        tag: Option<String>,
        guard: bool,
        steps: Vec<Step>,
    },
}

/// A message being streamed frame by frame (BeginMessage / BeginFrame / FrameData).
#[derive(Debug, Default)]
struct Streaming {
    opcode: u8,
    first: bool,
    frame: Option<([u8; 4], bool, u64, u64)>, // (mask, masked, len, written)
}

/// Where a compression series stands.
#[derive(Debug, Default)]
struct Series {
    /// Next unit of the payload family.
    pos: usize,
    sent: usize,
    /// The message in flight.
    expected: Vec<u8>,
    /// Compressed octets (reused).
    compressed: Vec<u8>,
}

/// Everything one case run records.
pub struct CaseSession {
    pub case: Arc<Case>,
    pub agent: String,
    /// Index reported as "case" (position in the run's case list, 1-based).
    pub index: usize,
    role: Role,
    received: Received,
    /// Verdict decided by a [`Check`] other than `Events`.
    check_behavior: Behavior,
    check_result: String,
    wire: Wirelog,
    rx_octets: BTreeMap<usize, u64>,
    tx_octets: BTreeMap<usize, u64>,
    rx_frames: BTreeMap<u8, u64>,
    tx_frames: BTreeMap<u8, u64>,
    timers: Vec<(Instant, u64, Timer)>,
    seq: u64,
    streaming: Streaming,
    auto_fragment: usize,
    round_trips: usize,
    /// The case's first frame (a round-trip series sends it again for each message).
    first_frame: Option<FrameSpec>,
    opened: Option<Instant>,
    started_at: SystemTime,
    ended: Option<Instant>,
    local_reason: Option<Vec<u8>>,
    pub http_request: Vec<u8>,
    pub http_response: Vec<u8>,
    status: Option<CloseStatus>,
    series: Series,
    /// Encoded frame octets (reused).
    frame_buf: Vec<u8>,
    /// Running traffic counts (incoming data levels are taken from the connection).
    traffic: TrafficStats,
    /// The counts when a compression series completed (reported as `trafficStats`).
    traffic_snapshot: Option<TrafficStats>,
}

impl CaseSession {
    pub fn new(case: Arc<Case>, agent: String, index: usize, role: Role) -> Self {
        let mut s = CaseSession {
            check_behavior: Behavior::Failed,
            check_result: String::new(),
            case,
            agent,
            index,
            role,
            received: Received::default(),
            wire: Wirelog::default(),
            rx_octets: BTreeMap::new(),
            tx_octets: BTreeMap::new(),
            rx_frames: BTreeMap::new(),
            tx_frames: BTreeMap::new(),
            timers: Vec::new(),
            seq: 0,
            streaming: Streaming::default(),
            auto_fragment: 0,
            round_trips: 0,
            first_frame: None,
            opened: None,
            started_at: SystemTime::now(),
            ended: None,
            local_reason: None,
            http_request: Vec::new(),
            http_response: Vec::new(),
            status: None,
            series: Series::default(),
            frame_buf: Vec::new(),
            traffic: TrafficStats::default(),
            traffic_snapshot: None,
        };
        s.wire.on = true;
        s
    }

    /// The opening handshake as it went over the wire (logged first, as the original does).
    pub fn log_handshake(&mut self, sent: &[u8], received: &[u8]) {
        self.log_tx_octets(sent, false);
        self.log_rx_octets(received);
    }

    fn log_tx_octets(&mut self, data: &[u8], sync: bool) {
        *self.tx_octets.entry(data.len()).or_default() += 1;
        let o = &mut self.traffic.outgoing;
        if self.opened.is_some() {
            o.wire += data.len() as u64;
        } else {
            o.preopen_wire += data.len() as u64;
        }
        self.wire.push(|| Wire::tx_octets(data.len(), data, sync));
    }

    fn log_rx_octets(&mut self, data: &[u8]) {
        *self.rx_octets.entry(data.len()).or_default() += 1;
        let i = &mut self.traffic.incoming;
        if self.opened.is_some() {
            i.wire += data.len() as u64;
        } else {
            i.preopen_wire += data.len() as u64;
        }
        self.wire.push(|| Wire::rx_octets(data));
    }

    fn arm(&mut self, after: f64, t: Timer, now: Instant) {
        self.seq += 1;
        self.timers
            .push((now + Duration::from_secs_f64(after.max(0.0)), self.seq, t));
    }

    fn mask_for(&mut self, conn: &mut Connection, explicit: Option<[u8; 4]>) -> Option<[u8; 4]> {
        explicit.or_else(|| {
            if self.role == Role::Client {
                conn.next_mask()
            } else {
                None
            }
        })
    }

    /// Write one frame exactly as specified, logging it like the original does.
    fn send_frame(&mut self, conn: &mut Connection, f: &FrameSpec) {
        match f.repeat_len {
            None => self.emit_frame(conn, f, &f.payload, &f.payload),
            Some(_) => self.emit_frame(conn, f, &f.wire_payload(), &f.payload),
        }
    }

    /// Write a frame with `f`'s header fields and `payload` (the wire log shows `logged`, as
    /// the original logs a repeated payload by its unrepeated piece), encoded into a buffer
    /// kept across frames.
    fn emit_frame(&mut self, conn: &mut Connection, f: &FrameSpec, payload: &[u8], logged: &[u8]) {
        let mask = self.mask_for(conn, f.mask);
        let mut bytes = std::mem::take(&mut self.frame_buf);
        bytes.clear();
        encode_frame(&mut bytes, f.fin, f.rsv, OpCode(f.opcode), mask, payload);
        *self.tx_frames.entry(f.opcode & 0x7F).or_default() += 1;
        if f.opcode & 0x7F <= 2 {
            self.traffic.outgoing.frames += 1;
        }
        self.wire.push(|| Wire::TxFrame {
            payload: Wire::head(logged.len(), logged),
            opcode: f.opcode,
            fin: f.fin,
            rsv: f.rsv,
            mask,
            repeat_len: f.repeat_len,
            chop: f.chop,
            sync: f.sync,
        });
        self.send_octets(conn, &bytes, f.chop, f.sync);
        self.frame_buf = bytes;
    }

    /// Queue octets; chopped or synced writes go out as separate writes.
    fn send_octets(
        &mut self,
        conn: &mut Connection,
        bytes: &[u8],
        chop: Option<usize>,
        sync: bool,
    ) {
        if conn.is_closed() {
            return;
        }
        match chop.filter(|&c| c > 0) {
            Some(c) => {
                for piece in bytes.chunks(c) {
                    self.log_tx_octets(piece, true);
                }
                conn.send_raw_segmented(bytes, Some(c), true);
            }
            None if sync => {
                self.log_tx_octets(bytes, true);
                conn.send_raw_segmented(bytes, None, true);
            }
            None => {
                self.log_tx_octets(bytes, false);
                conn.send_raw(bytes);
            }
        }
    }

    fn exec(&mut self, steps: &[Step], conn: &mut Connection, now: Instant) {
        for s in steps {
            self.exec_one(s, conn, now);
        }
    }

    fn exec_one(&mut self, step: &Step, conn: &mut Connection, now: Instant) {
        match step {
            Step::Frame(f) => {
                if self.first_frame.is_none() {
                    self.first_frame = Some(f.clone());
                }
                self.send_frame(conn, f)
            }
            Step::Message {
                payload,
                repeat_len,
                binary,
                fragment,
            } => {
                let p = super::case::repeated(payload, *repeat_len);
                self.send_message(conn, &p, *binary, *fragment, false)
            }
            Step::Close { code, reason } => {
                // A valid close: a reason that does not fit is cut to 120 octets plus "...".
                let reason = reason.as_ref().map(|r| {
                    let mut b = r.as_bytes().to_vec();
                    if b.len() + 2 > 125 {
                        b.truncate(120);
                        b.extend_from_slice(b"...");
                    }
                    b
                });
                self.close_raw(conn, *code, reason.as_deref(), now);
            }
            Step::CloseFrame { code, reason } => {
                self.close_raw(conn, *code, reason.as_deref(), now)
            }
            Step::KillAfter(d) => {
                self.wire.always(Wire::KillAfter(*d));
                self.arm(*d, Timer::Kill, now);
            }
            Step::CloseAfter(d) => {
                self.wire.always(Wire::CloseAfter(*d));
                self.arm(*d, Timer::Close, now);
            }
            Step::Later {
                delay,
                tag,
                guard,
                steps,
            } => {
                self.wire.always(Wire::Later {
                    delay: *delay,
                    tag: tag.clone(),
                });
                self.arm(
                    *delay,
                    Timer::Later {
                        tag: tag.clone(),
                        guard: *guard,
                        steps: steps.clone(),
                    },
                    now,
                );
            }
            Step::Wirelog { on, mark } => self.set_wirelog(conn, *on, *mark),
            Step::BeginMessage { binary } => {
                if conn.is_open() {
                    self.streaming = Streaming {
                        opcode: if *binary { 2 } else { 1 },
                        first: true,
                        frame: None,
                    };
                }
            }
            Step::BeginFrame { len } => {
                if !conn.is_open() {
                    return;
                }
                let mask = self.mask_for(conn, None);
                let op = if self.streaming.first {
                    self.streaming.opcode
                } else {
                    0
                };
                self.streaming.first = false;
                let mut header = Vec::with_capacity(14);
                encode_header(&mut header, false, 0, op, mask, *len, LengthForm::Minimal);
                self.streaming.frame = Some((mask.unwrap_or([0; 4]), mask.is_some(), *len, 0));
                self.send_octets(conn, &header, None, false);
            }
            Step::FrameData { data, sync } => {
                if !conn.is_open() {
                    return;
                }
                let Some((mask, masked, len, written)) = self.streaming.frame else {
                    return;
                };
                let room = len.saturating_sub(written) as usize;
                let mut piece = data[..data.len().min(room)].to_vec();
                if masked {
                    apply_mask(&mut piece, mask, written as usize);
                }
                self.streaming.frame = Some((mask, masked, len, written + piece.len() as u64));
                self.send_octets(conn, &piece, None, *sync);
            }
            Step::EndMessage => {
                if conn.is_open() {
                    self.send_frame(conn, &frame(0, Vec::new()));
                    self.streaming = Streaming::default();
                }
            }
            Step::AutoFragment(n) => self.auto_fragment = *n,
        }
    }

    /// Send a message as an endpoint does, fragmented by the original's rule: frames of
    /// `size` octets until one ends past the payload, so a payload that divides evenly ends
    /// with an empty final frame.
    /// With `compress`, the payload is compressed with the connection's permessage-deflate
    /// context (when it has one) and RSV1 is set on the first frame.
    fn send_message(
        &mut self,
        conn: &mut Connection,
        payload: &[u8],
        binary: bool,
        fragment: Option<usize>,
        compress: bool,
    ) {
        if !conn.is_open() {
            return;
        }
        let app_len = payload.len() as u64;
        let mut z = std::mem::take(&mut self.series.compressed);
        z.clear();
        let (payload, first_rsv) = if compress && conn.compress_payload(payload, &mut z) {
            (&z[..], 4)
        } else {
            (payload, 0)
        };
        let o = &mut self.traffic.outgoing;
        o.app += app_len;
        o.websocket += payload.len() as u64;
        o.messages += 1;
        let opcode = if binary { 2 } else { 1 };
        let size = fragment.or((self.auto_fragment > 0).then_some(self.auto_fragment));
        let size = size
            .filter(|&s| s > 0 && payload.len() > s)
            .unwrap_or(usize::MAX);
        // Frames of `size` until one ends past the payload; with no fragmenting, one frame.
        let mut i: usize = 0;
        loop {
            let end = i.saturating_add(size);
            let done = end > payload.len() || size == usize::MAX;
            let head = frame(if i == 0 { opcode } else { 0 }, Vec::new())
                .fin(done)
                .rsv(if i == 0 { first_rsv } else { 0 });
            let piece = &payload[i..end.min(payload.len())];
            self.emit_frame(conn, &head, piece, piece);
            if done {
                break;
            }
            i = end;
        }
        self.series.compressed = z;
    }

    /// Start a compression series (groups 12 and 13), as the original does on open: the
    /// wire log off for the bulk of it, a time limit, then the first message.
    fn start_series(&mut self, conn: &mut Connection, spec: &Compression, now: Instant) {
        self.set_wirelog(conn, false, true);
        self.auto_fragment = spec.fragment;
        if conn.deflate().is_none() {
            self.check_behavior = Behavior::Unimplemented;
            self.check_result = "permessage-deflate was not negotiated.".into();
            self.close_raw(conn, Some(1000), None, now);
            return;
        }
        self.check_behavior = Behavior::Failed;
        self.check_result = format!("The series did not complete within {} seconds.", spec.wait);
        self.exec_one(&Step::CloseAfter(spec.wait), conn, now);
        self.send_next(conn, spec);
    }

    fn send_next(&mut self, conn: &mut Connection, spec: &Compression) {
        let mut msg = std::mem::take(&mut self.series.expected);
        spec.corpus
            .data()
            .next_message(&mut self.series.pos, spec.len, &mut msg);
        self.series.sent += 1;
        self.send_message(conn, &msg, spec.corpus.binary(), None, true);
        self.series.expected = msg;
    }

    /// An echo in a compression series: the next message, or the verdict.
    fn on_series_echo(
        &mut self,
        conn: &mut Connection,
        spec: &Compression,
        payload: &[u8],
        binary: bool,
        now: Instant,
    ) {
        let want = &self.series.expected;
        let kind = |b: bool| if b { "binary" } else { "text" };
        let problem = if binary != spec.corpus.binary() {
            Some(format!(
                "Message {} came back as {} instead of {}.",
                self.series.sent,
                kind(binary),
                kind(spec.corpus.binary())
            ))
        } else if payload.len() != want.len() {
            Some(format!(
                "Message {} came back with {} octets instead of {}.",
                self.series.sent,
                payload.len(),
                want.len()
            ))
        } else if payload != &want[..] {
            Some(format!(
                "Message {} came back with other content (SHA-1 {} instead of {}).",
                self.series.sent,
                sha1_hex(payload),
                sha1_hex(want)
            ))
        } else {
            None
        };
        if let Some(p) = problem {
            self.check_behavior = Behavior::Failed;
            self.check_result = p;
        } else if self.series.sent < spec.count {
            self.send_next(conn, spec);
            return;
        } else {
            self.check_behavior = Behavior::Ok;
            self.check_result = "Every message came back unchanged, in time.".into();
            self.traffic_snapshot = Some(self.traffic_now(conn));
        }
        self.set_wirelog(conn, true, true);
        self.close_raw(conn, Some(1000), None, now);
    }

    /// Traffic so far: our own counts, and the connection's for received data.
    fn traffic_now(&self, conn: &Connection) -> TrafficStats {
        let mut t = self.traffic;
        let c = conn.counters();
        t.incoming.websocket = c.rx_payload_octets;
        t.incoming.app = c.rx_app_octets;
        t.incoming.messages = c.rx_messages;
        t.incoming.frames = (0..=2).filter_map(|op| self.rx_frames.get(&op)).sum();
        t
    }

    fn close_raw(
        &mut self,
        conn: &mut Connection,
        code: Option<u16>,
        reason: Option<&[u8]>,
        now: Instant,
    ) {
        if conn.is_open() {
            self.local_reason = reason.map(<[u8]>::to_vec);
        }
        conn.close_raw(code, reason, now);
    }

    fn set_wirelog(&mut self, conn: &mut Connection, on: bool, mark: bool) {
        if mark && on != self.wire.on {
            self.wire.always(Wire::Marker(on));
        }
        self.wire.on = on;
        conn.set_record_payloads(on);
    }

    /// When every expected list matches what was received, we close as the case says (the
    /// original's rule: with two different expected lists this never fires early).
    fn finish_when_done(&mut self, conn: &mut Connection, now: Instant) {
        if self
            .case
            .expected
            .iter()
            .all(|(_, evs)| self.received.is(evs))
            && self.case.close.closed_by_me
            && !self.case.suppress_close
        {
            let code = self.case.close.codes.first().copied();
            self.close_raw(conn, code, None, now);
        }
    }

    fn on_message(&mut self, conn: &mut Connection, payload: Vec<u8>, binary: bool, now: Instant) {
        let kind = |b: bool| if b { "binary" } else { "text" };
        match self.case.check.clone() {
            Check::Events => {
                self.received.push(Ev::Message { payload, binary });
                self.finish_when_done(conn, now);
            }
            Check::Echo {
                binary: want_binary,
                len,
                ..
            } => {
                if binary != want_binary {
                    self.check_result = format!(
                        "A {} message came back where a {} message was expected.",
                        kind(binary),
                        kind(want_binary)
                    );
                } else if payload.len() != len {
                    self.check_result = format!(
                        "The {} message that came back has {} octets instead of {len}.",
                        kind(binary),
                        payload.len()
                    );
                } else {
                    self.check_behavior = Behavior::Ok;
                    self.check_result =
                        format!("The {} message of {len} octets came back.", kind(binary));
                }
                self.set_wirelog(conn, true, false);
                self.close_raw(conn, Some(1000), None, now);
            }
            Check::Compression(spec) => self.on_series_echo(conn, &spec, &payload, binary, now),
            Check::RoundTrips {
                binary: want_binary,
                len,
                count,
                ..
            } => {
                if binary != want_binary || payload.len() != len {
                    self.check_behavior = Behavior::Failed;
                    self.check_result = format!("An echo differs in type or length from what was sent (came back {}, {} octets).", kind(binary), payload.len());
                    self.set_wirelog(conn, true, true);
                    self.close_raw(conn, Some(1000), None, now);
                } else if self.round_trips + 1 < count {
                    self.round_trips += 1;
                    if let Some(f) = self.first_frame.clone() {
                        self.send_frame(conn, &f);
                    }
                } else {
                    self.check_behavior = Behavior::Ok;
                    self.check_result = "Every message came back, in time.".into();
                    self.set_wirelog(conn, true, true);
                    self.close_raw(conn, Some(1000), None, now);
                }
            }
        }
    }

    fn run_timer(&mut self, t: Timer, conn: &mut Connection, now: Instant) {
        if conn.is_closed() {
            return;
        }
        match t {
            Timer::Kill => {
                self.wire.always(Wire::Killing);
                conn.fail_with(CloseCode::GOING_AWAY, "Going Away", false, now);
            }
            Timer::Close => {
                self.wire.always(Wire::Closing);
                self.close_raw(conn, None, None, now);
            }
            Timer::Later { tag, guard, steps } => {
                self.wire.always(Wire::LaterFired(tag.clone()));
                if guard {
                    if !conn.is_open() {
                        return;
                    }
                    self.received.push(Ev::Timeout(tag.unwrap_or_default()));
                }
                self.exec(&steps, conn, now);
            }
        }
    }

    fn log_frame(&mut self, rec: FrameRecord, sent: Option<usize>) {
        let h = rec.header;
        match sent {
            None => {
                *self.rx_frames.entry(h.opcode.0).or_default() += 1;
                self.wire.push(|| Wire::RxFrame {
                    payload: Wire::head(h.payload_len as usize, &rec.payload),
                    opcode: h.opcode.0,
                    fin: h.fin,
                    rsv: h.rsv,
                    mask: h.mask,
                });
            }
            Some(octets) => {
                // A frame the endpoint sent by itself (pong, close): log it as the original
                // logs every frame it writes, frame then octets.
                *self.tx_frames.entry(h.opcode.0).or_default() += 1;
                self.wire.push(|| Wire::TxFrame {
                    payload: Wire::head(h.payload_len as usize, &rec.payload),
                    opcode: h.opcode.0,
                    fin: h.fin,
                    rsv: h.rsv,
                    mask: h.mask,
                    repeat_len: None,
                    chop: None,
                    sync: false,
                });
                *self.tx_octets.entry(octets).or_default() += 1;
                self.wire.push(|| {
                    let bytes = RawFrame {
                        fin: h.fin,
                        rsv: h.rsv,
                        opcode: h.opcode.0,
                        mask: h.mask,
                        payload: rec.payload,
                        length_form: LengthForm::Minimal,
                        // The record keeps the payload's head only.
                        declared_len: Some(h.payload_len),
                    }
                    .to_bytes();
                    Wire::tx_octets(octets, &bytes, false)
                });
            }
        }
    }

    /// The case's result (after the connection is over; `None` status = never opened).
    pub fn finish(self, connect_error: Option<String>) -> CaseResult {
        let duration = match (self.opened, self.ended) {
            (Some(a), Some(b)) => b.duration_since(a),
            _ => Duration::ZERO,
        };
        verdict::judge(self, duration, connect_error)
    }

    // Accessors for the verdict.
    pub(super) fn parts(&self) -> verdict::Parts<'_> {
        verdict::Parts {
            case: &self.case,
            received: &self.received.events,
            received_dropped: self.received.dropped,
            check_behavior: self.check_behavior,
            check_result: &self.check_result,
            status: self.status.as_ref(),
            was_open: self.opened.is_some(),
            is_server: self.role == Role::Server,
            tx_frames: &self.tx_frames,
            local_reason: self.local_reason.as_deref(),
        }
    }

    pub(super) fn into_record(self) -> SessionRecord {
        let truncation = Truncation {
            events_kept: self.received.events.len(),
            events_dropped: self.received.dropped,
            wirelog_kept: self.wire.entries.len(),
            wirelog_dropped: self.wire.dropped,
        };
        SessionRecord {
            truncation,
            agent: self.agent,
            index: self.index,
            started_at: self.started_at,
            wire: self.wire,
            rx_octets: self.rx_octets,
            tx_octets: self.tx_octets,
            rx_frames: self.rx_frames,
            tx_frames: self.tx_frames,
            received: self.received.events,
            http_request: self.http_request,
            http_response: self.http_response,
            is_server: self.role == Role::Server,
            status: self.status.unwrap_or_default(),
            local_reason: self.local_reason,
            traffic: self.traffic_snapshot,
        }
    }
}

/// What a finished session hands to the report.
pub struct SessionRecord {
    pub agent: String,
    pub index: usize,
    pub started_at: SystemTime,
    pub wire: Wirelog,
    pub rx_octets: BTreeMap<usize, u64>,
    pub tx_octets: BTreeMap<usize, u64>,
    pub rx_frames: BTreeMap<u8, u64>,
    pub tx_frames: BTreeMap<u8, u64>,
    pub received: Vec<Ev>,
    pub http_request: Vec<u8>,
    pub http_response: Vec<u8>,
    pub is_server: bool,
    pub status: CloseStatus,
    pub local_reason: Option<Vec<u8>>,
    /// Traffic counts of a completed compression series.
    pub traffic: Option<TrafficStats>,
    /// Where the record was cut ([`super::limits`]).
    pub truncation: Truncation,
}

impl Handler for CaseSession {
    fn on_open(&mut self, conn: &mut Connection, now: Instant) {
        self.opened = Some(now);
        let steps = self.case.steps.clone();
        self.exec(&steps, conn, now);
        if let Check::Compression(spec) = &self.case.check {
            let spec = spec.clone();
            self.start_series(conn, &spec, now);
        }
    }

    fn on_event(&mut self, conn: &mut Connection, event: Event, now: Instant) {
        match event {
            Event::Message(m) => self.on_message(conn, m.data, m.binary, now),
            Event::Pong(p) => {
                if self.case.check == Check::Events {
                    self.received.push(Ev::Pong(p));
                    self.finish_when_done(conn, now);
                }
            }
            Event::Frame(rec) => self.log_frame(rec, None),
            Event::FrameSent { record, octets } => self.log_frame(record, Some(octets)),
            Event::Ping(_) | Event::Close { .. } | Event::Failed(_) => {}
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.timers.iter().map(|t| t.0).min()
    }

    fn on_deadline(&mut self, conn: &mut Connection, now: Instant) {
        while let Some(pos) = self
            .timers
            .iter()
            .enumerate()
            .filter(|(_, t)| t.0 <= now)
            .min_by_key(|(_, t)| (t.0, t.1))
            .map(|(i, _)| i)
        {
            let (_, _, t) = self.timers.swap_remove(pos);
            self.run_timer(t, conn, now);
        }
    }

    fn on_rx_octets(&mut self, data: &[u8]) {
        self.log_rx_octets(data);
    }

    fn on_closed(&mut self, status: &CloseStatus, _counters: &Counters) {
        self.ended = Some(Instant::now());
        self.status = Some(status.clone());
    }
}

fn sha1_hex(data: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    Sha1::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
