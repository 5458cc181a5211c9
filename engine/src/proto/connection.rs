//! The sans-IO WebSocket connection (after the opening handshake).
//!
//! Octets in ([`Connection::handle_input`], [`Connection::handle_eof`]), timers in
//! ([`Connection::handle_timeout`] with the caller's clock); events out
//! ([`Connection::poll_event`]), octets out ([`Connection::take_transmit`]) and what to do
//! with the transport ([`Connection::transport_action`]). Pongs, close replies and failures
//! are queued output behind switches in [`Config`], so a fuzzer can turn them off.
//!
//! This file holds the connection's state and the queues it hands out; the rest lives
//! under `connection/`, one concern a file: `config.rs` (settings and policies),
//! `receive.rs` (frames decoded, messages assembled), `send.rs` (messages and frames
//! encoded), `close.rs` (the closing handshake: the connection's lifecycle as one `Phase`,
//! and every change of it), `fuzzer.rs` (what only the fuzzer uses: raw writes and closes,
//! the Autobahn 0.10 emulation) and `tests.rs`.

use std::collections::VecDeque;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::codes::CloseCode;
use super::decode::FrameDecoder;
use super::deflate::{Deflater, Inflater};
use super::error::ProtocolError;
use super::frame::FrameHeader;
use super::rules::RuleState;
use super::transmit::Transmit;
use super::utf8::Utf8Validator;
use super::Role;

mod close;
mod config;
mod dormant;
mod fuzzer;
mod receive;
mod send;

use close::Phase;
pub use close::{CloseStatus, State, TransportAction};
pub use config::{CloseCodePolicy, Config, FailPolicy};
pub use dormant::Dormant;

/// A complete received message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub binary: bool,
    pub data: Vec<u8>,
}

impl Message {
    /// The text of a text message (validated as UTF-8 on receipt unless validation is off).
    pub fn as_text(&self) -> Option<&str> {
        if self.binary {
            None
        } else {
            std::str::from_utf8(&self.data).ok()
        }
    }
}

/// A received frame, for wire logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameRecord {
    pub header: FrameHeader,
    /// The payload's first [`FrameRecord::HEAD`] octets (a log line shows no more; a peer's
    /// 1 GiB frame must not be copied for it). The full length is in the header.
    pub payload: Vec<u8>,
}

impl FrameRecord {
    /// Payload octets a record keeps.
    pub const HEAD: usize = 64;

    /// Append to a record's payload up to [`FrameRecord::HEAD`] octets.
    fn keep(payload: &mut Vec<u8>, data: &[u8]) {
        let room = Self::HEAD.saturating_sub(payload.len());
        payload.extend_from_slice(&data[..data.len().min(room)]);
    }
}

/// What the connection reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Message(Message),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// The peer's Close frame (valid); `code` is `None` for an empty payload.
    Close {
        code: Option<CloseCode>,
        reason: String,
    },
    /// A received frame (only with [`Config::record_frames`]).
    Frame(FrameRecord),
    /// A frame this connection encoded and queued itself (pongs, closes, messages; only with
    /// [`Config::record_frames`]). `octets` is its length on the wire.
    FrameSent {
        record: FrameRecord,
        octets: usize,
    },
    /// We failed the connection because of this violation.
    Failed(ProtocolError),
}

/// Octet, frame and message counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub rx_octets: u64,
    pub tx_octets: u64,
    pub rx_frames: u64,
    pub tx_frames: u64,
    pub rx_messages: u64,
    pub tx_messages: u64,
    /// Data message payload octets on the wire (compressed where compressed).
    pub rx_payload_octets: u64,
    pub tx_payload_octets: u64,
    /// Data message octets as the application sees them (uncompressed).
    pub rx_app_octets: u64,
    pub tx_app_octets: u64,
}

/// The message being reassembled.
#[derive(Debug, Default)]
struct Assembly {
    active: bool,
    binary: bool,
    compressed: bool,
    buf: Vec<u8>,
    utf8: Utf8Validator,
}

/// The frame whose payload is arriving.
#[derive(Debug)]
struct Current {
    header: FrameHeader,
    record: Option<Vec<u8>>,
}

/// A WebSocket connection in the open (or closing) state.
pub struct Connection {
    cfg: Config,
    /// Where the connection is in its life: open, closing (which way), closed.
    phase: Phase,
    decoder: FrameDecoder,
    msg: Assembly,
    ctrl: Vec<u8>,
    current: Option<Current>,
    events: VecDeque<Event>,
    /// Octets queued for the peer, and the buffers reused for frames and messages.
    tx: Transmit,
    status: CloseStatus,
    counters: Counters,
    rng: SmallRng,
    mask: bool,
    record_payload: bool,
    // Boxed: a connection without permessage-deflate (most, and every one a server sets
    // aside) carries 16 octets for them, not 312.
    deflater: Option<Box<Deflater>>,
    inflater: Option<Box<Inflater>>,
    scratch: Vec<u8>,
}

/// A data frame with at least this much payload still to come is read straight into its
/// message ([`Connection::payload_read_target`]).
pub const DIRECT_MIN: usize = 32 * 1024;

impl Connection {
    pub fn new(cfg: Config) -> Self {
        Self::with_seed(cfg, rand::rng().random())
    }

    /// Deterministic masking keys (tests).
    pub fn with_seed(cfg: Config, seed: u64) -> Self {
        let mut rules = RuleState::new(cfg.role);
        if !cfg.check_masking {
            rules.role = None;
        }
        let mask = cfg.mask_outgoing.unwrap_or(cfg.role == Role::Client);
        // RFC 7692 §6: RSV1 marks a compressed message once the extension is negotiated.
        if cfg.deflate.is_some() {
            rules.rsv_allowed = 4;
        }
        let (deflater, inflater) = deflate_contexts(&cfg);
        Connection {
            phase: Phase::Open,
            decoder: FrameDecoder::new(rules),
            msg: Assembly::default(),
            ctrl: Vec::with_capacity(125),
            current: None,
            events: VecDeque::new(),
            tx: Transmit::default(),
            status: CloseStatus::default(),
            counters: Counters::default(),
            rng: SmallRng::seed_from_u64(seed),
            mask,
            record_payload: true,
            deflater,
            inflater,
            scratch: Vec::new(),
            cfg,
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn role(&self) -> Role {
        self.cfg.role
    }

    pub fn state(&self) -> State {
        self.phase.state()
    }

    pub fn is_open(&self) -> bool {
        self.state() == State::Open
    }

    pub fn is_closed(&self) -> bool {
        self.state() == State::Closed
    }

    pub fn close_status(&self) -> &CloseStatus {
        &self.status
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Octets queued and not yet taken by [`Connection::take_transmit`] (a peer that does
    /// not read makes this grow: callers bound it).
    pub fn transmit_len(&self) -> usize {
        self.tx.len()
    }

    /// Open, between messages, with nothing half-read, queued, unread or timed: dropping
    /// this state loses nothing, and a fresh `Connection` can take over the socket later
    /// (massconnect's holder of idle connections). (An open connection has no timer.)
    pub fn at_rest(&self) -> bool {
        self.is_quiet() && self.deflater.is_none() && self.inflater.is_none()
    }

    /// Open, between messages, with nothing half-read, queued or unread (compression
    /// contexts may hold history): this state can be set aside with its socket and picked up
    /// when the peer sends again (a server's idle connections, [`crate::ws::park`]).
    pub fn is_quiet(&self) -> bool {
        self.is_open()
            && !self.msg.active
            && self.current.is_none()
            && self.decoder.at_boundary()
            && !self.has_transmit()
            && self.events.is_empty()
    }

    /// Octets waiting to be written?
    pub fn has_transmit(&self) -> bool {
        !self.tx.is_empty()
    }

    /// Move the next run of octets to write into `dst`: swapped in when `dst` is empty (no
    /// copy; `dst`'s buffer is kept for reuse), appended otherwise. Returns true when this run
    /// must be flushed on its own before the next one (a sync or chopped write). Call while
    /// [`Connection::has_transmit`] for everything.
    pub fn take_transmit(&mut self, dst: &mut Vec<u8>) -> bool {
        self.tx.take(dst).unwrap_or(false)
    }

    /// Whether the next run [`Connection::take_transmit`] gives may go out in one write with
    /// the runs after it that [`Connection::plain_transmit`] shows (neither a fuzzer's
    /// segment nor a synced write).
    pub fn next_transmit_plain(&self) -> bool {
        self.tx.front_is_plain()
    }

    /// The queued runs, front first, that may share one write with the run taken before
    /// them: a vectored write sends them with it, then takes those it sent.
    pub fn plain_transmit(&self) -> impl Iterator<Item = &[u8]> {
        self.tx.plain_runs()
    }

    /// Give a buffer back once done with it (a message's, or one that was written): the next
    /// large frame or message is built in it (no allocation, no fresh pages). Buffers up to
    /// about 1 MiB are kept, a few at most.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        self.tx.give(buf);
    }

    /// Free the buffers kept for reuse (a connection going idle need not hold them): the
    /// transmit pool, and while no message or control frame is being read, their buffers.
    pub fn trim_buffers(&mut self) {
        self.tx.trim();
        if !self.msg.active {
            self.msg.buf = Vec::new();
        }
        if self.current.is_none() {
            self.ctrl = Vec::new();
        }
        self.scratch = Vec::new();
        self.events.shrink_to_fit();
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

/// The permessage-deflate contexts for our messages and the peer's, as negotiated.
fn deflate_contexts(cfg: &Config) -> (Option<Box<Deflater>>, Option<Box<Inflater>>) {
    let Some(p) = cfg.deflate else {
        return (None, None);
    };
    let (ours, theirs) = match cfg.role {
        Role::Server => (
            (p.server_max_window_bits, p.server_no_context_takeover),
            (p.client_max_window_bits, p.client_no_context_takeover),
        ),
        Role::Client => (
            (p.client_max_window_bits, p.client_no_context_takeover),
            (p.server_max_window_bits, p.server_no_context_takeover),
        ),
    };
    (
        Some(Box::new(
            Deflater::new(ours.0, ours.1, cfg.deflate_level).adaptive(cfg.deflate_adaptive),
        )),
        Some(Box::new(Inflater::new(theirs.0, theirs.1))),
    )
}

/// The longest prefix of `s` of at most `max` octets that ends on a character boundary.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests;
