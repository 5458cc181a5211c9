//! What a case run records for its report: the wire log, octet and frame statistics, traffic
//! counts, the events received, the handshake and how the connection closed. The
//! [`Recorder`] collects it while the session runs; [`SessionRecord`] is what it hands on, to
//! the verdict ([`super::verdict::judge`]) and the per-case report ([`super::result`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use wstest_engine::proto::connection::{CloseStatus, Counters, FrameRecord};
use wstest_engine::proto::frame::{LengthForm, RawFrame};
use wstest_engine::proto::OpCode;

use super::case::{Ev, FrameSpec};
use super::checks::CheckOutcome;
use super::limits::{Received, Truncation};
use super::traffic::TrafficStats;
use super::wirelog::{Wire, Wirelog};

/// The data opcodes (continuation, text, binary): what traffic counts as frames.
const DATA_OPCODES: std::ops::RangeInclusive<u8> = OpCode::CONTINUATION.0..=OpCode::BINARY.0;

/// What a finished session hands to the verdict and the report.
pub struct SessionRecord {
    pub agent: String,
    pub index: usize,
    pub started_at: SystemTime,
    /// From open to close (zero when the connection never opened or never closed).
    pub duration: Duration,
    pub wire: Wirelog,
    pub rx_octets: BTreeMap<usize, u64>,
    pub tx_octets: BTreeMap<usize, u64>,
    pub rx_frames: BTreeMap<u8, u64>,
    pub tx_frames: BTreeMap<u8, u64>,
    pub received: Vec<Ev>,
    pub http_request: Vec<u8>,
    pub http_response: Vec<u8>,
    pub is_server: bool,
    /// Whether the WebSocket connection opened.
    pub was_open: bool,
    /// Why the connection could not be opened (client side).
    pub connect_error: Option<String>,
    pub status: CloseStatus,
    pub local_reason: Option<Vec<u8>>,
    /// What a check other than the events decided.
    pub check: CheckOutcome,
    /// Traffic counts of a completed compression series.
    pub traffic: Option<TrafficStats>,
    /// Where the record was cut ([`super::limits`]).
    pub truncation: Truncation,
}

/// Collects a [`SessionRecord`] while the case runs.
pub struct Recorder {
    agent: String,
    /// Index reported as "case" (position in the run's case list, 1-based).
    index: usize,
    pub wire: Wirelog,
    /// The peer's events (as far as [`Received`] keeps them).
    pub received: Received,
    rx_octets: BTreeMap<usize, u64>,
    tx_octets: BTreeMap<usize, u64>,
    rx_frames: BTreeMap<u8, u64>,
    tx_frames: BTreeMap<u8, u64>,
    /// Running traffic counts (incoming data levels are taken from the connection).
    traffic: TrafficStats,
    /// The counts when a compression series completed (reported as `trafficStats`).
    traffic_snapshot: Option<TrafficStats>,
    started_at: SystemTime,
    opened: Option<Instant>,
    ended: Option<Instant>,
    status: Option<CloseStatus>,
    local_reason: Option<Vec<u8>>,
    http_request: Vec<u8>,
    http_response: Vec<u8>,
}

impl Recorder {
    pub fn new(agent: String, index: usize) -> Self {
        let mut r = Recorder {
            agent,
            index,
            wire: Wirelog::default(),
            received: Received::default(),
            rx_octets: BTreeMap::new(),
            tx_octets: BTreeMap::new(),
            rx_frames: BTreeMap::new(),
            tx_frames: BTreeMap::new(),
            traffic: TrafficStats::default(),
            traffic_snapshot: None,
            started_at: SystemTime::now(),
            opened: None,
            ended: None,
            status: None,
            local_reason: None,
            http_request: Vec::new(),
            http_response: Vec::new(),
        };
        r.wire.on = true;
        r
    }

    /// The opening handshake as it went over the wire (logged first, as the original does):
    /// what we sent, then what we received.
    pub fn handshake(&mut self, request: Vec<u8>, response: Vec<u8>, we_are_server: bool) {
        let (sent, received) = if we_are_server {
            (&response, &request)
        } else {
            (&request, &response)
        };
        self.tx_octets(sent, false);
        self.rx_octets(received);
        self.http_request = request;
        self.http_response = response;
    }

    pub fn opened(&mut self, now: Instant) {
        self.opened = Some(now);
    }

    pub fn closed(&mut self, status: &CloseStatus) {
        self.ended = Some(Instant::now());
        self.status = Some(status.clone());
    }

    /// Our close reason, kept as we wrote it.
    pub fn local_reason(&mut self, reason: Option<&[u8]>) {
        self.local_reason = reason.map(<[u8]>::to_vec);
    }

    /// Switch the wire log; `mark` records a switch in the log.
    pub fn wirelog(&mut self, on: bool, mark: bool) {
        if mark && on != self.wire.on {
            self.wire.always(Wire::Marker(on));
        }
        self.wire.on = on;
    }

    /// Octets handed to the connection for writing (`sync`: flushed on their own).
    pub fn tx_octets(&mut self, data: &[u8], sync: bool) {
        *self.tx_octets.entry(data.len()).or_default() += 1;
        let o = &mut self.traffic.outgoing;
        if self.opened.is_some() {
            o.wire += data.len() as u64;
        } else {
            o.preopen_wire += data.len() as u64;
        }
        self.wire.push(|| Wire::tx_octets(data.len(), data, sync));
    }

    /// Octets read from the peer.
    pub fn rx_octets(&mut self, data: &[u8]) {
        *self.rx_octets.entry(data.len()).or_default() += 1;
        let i = &mut self.traffic.incoming;
        if self.opened.is_some() {
            i.wire += data.len() as u64;
        } else {
            i.preopen_wire += data.len() as u64;
        }
        self.wire.push(|| Wire::rx_octets(data));
    }

    /// A message we send: `app` octets, `websocket` after compression.
    pub fn tx_message(&mut self, app: u64, websocket: u64) {
        let o = &mut self.traffic.outgoing;
        o.app += app;
        o.websocket += websocket;
        o.messages += 1;
    }

    /// A frame the case writes with `f`'s header fields (the log shows `logged` as its
    /// payload, as the original logs a repeated payload by its unrepeated piece).
    pub fn tx_frame(&mut self, f: &FrameSpec, mask: Option<[u8; 4]>, logged: &[u8]) {
        *self.tx_frames.entry(f.opcode & 0x7F).or_default() += 1;
        if DATA_OPCODES.contains(&(f.opcode & 0x7F)) {
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
    }

    /// A frame the peer sent.
    pub fn rx_frame(&mut self, rec: FrameRecord) {
        let h = rec.header;
        *self.rx_frames.entry(h.opcode.0).or_default() += 1;
        self.wire.push(|| Wire::RxFrame {
            payload: Wire::head(h.payload_len as usize, &rec.payload),
            opcode: h.opcode.0,
            fin: h.fin,
            rsv: h.rsv,
            mask: h.mask,
        });
    }

    /// A frame the endpoint sent by itself (pong, close), `octets` long on the wire: logged
    /// as the original logs every frame it writes, frame then octets.
    pub fn endpoint_frame(&mut self, rec: FrameRecord, octets: usize) {
        let h = rec.header;
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

    /// Keep the traffic counts so far (a completed compression series): our own counts, and
    /// the connection's for received data.
    pub fn keep_traffic(&mut self, c: &Counters) {
        let mut t = self.traffic;
        t.incoming.websocket = c.rx_payload_octets;
        t.incoming.app = c.rx_app_octets;
        t.incoming.messages = c.rx_messages;
        t.incoming.frames = DATA_OPCODES.filter_map(|op| self.rx_frames.get(&op)).sum();
        self.traffic_snapshot = Some(t);
    }

    /// The record (after the connection is over; no status = never opened).
    pub fn finish(
        self,
        is_server: bool,
        check: CheckOutcome,
        connect_error: Option<String>,
    ) -> SessionRecord {
        let duration = match (self.opened, self.ended) {
            (Some(a), Some(b)) => b.duration_since(a),
            _ => Duration::ZERO,
        };
        let truncation = Truncation {
            events_kept: self.received.events.len(),
            events_dropped: self.received.dropped,
            wirelog_kept: self.wire.entries.len(),
            wirelog_dropped: self.wire.dropped,
        };
        SessionRecord {
            agent: self.agent,
            index: self.index,
            started_at: self.started_at,
            duration,
            wire: self.wire,
            rx_octets: self.rx_octets,
            tx_octets: self.tx_octets,
            rx_frames: self.rx_frames,
            tx_frames: self.tx_frames,
            received: self.received.events,
            http_request: self.http_request,
            http_response: self.http_response,
            is_server,
            was_open: self.opened.is_some(),
            connect_error,
            status: self.status.unwrap_or_default(),
            local_reason: self.local_reason,
            check,
            traffic: self.traffic_snapshot,
            truncation,
        }
    }
}
