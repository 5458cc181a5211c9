//! The closing handshake and the connection's lifecycle (RFC 6455 §5.5.1, §7): one
//! [`Phase`], whose variants carry what each stage needs, and every change of it.
//!
//! ```text
//! Open ──peer's Close──▶ Lingering (our reply sent), or CloseReceived (replies off)
//! Open, CloseReceived ──close()──▶ CloseSent ──peer's Close──▶ Lingering
//! Open, CloseReceived ──fail──▶ Draining, DropOnInput or Closed, as the FailPolicy says
//! Lingering ──peer's Close again──▶ Lingering (a fresh deadline)
//! any ──EOF, drop_transport, a deadline passed, failing while closing──▶ Closed
//! ```

use std::time::Instant;

use super::{truncate_utf8, CloseCodePolicy, Connection, Event, FailPolicy};
use crate::proto::codes::CloseCode;
use crate::proto::error::ProtocolError;
use crate::proto::utf8::validate;
use crate::proto::Role;

/// Where the connection is, as its users see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Open,
    /// A Close frame was sent (and maybe received); waiting for the rest of the close.
    Closing,
    /// The TCP connection is (to be) closed; nothing more happens.
    Closed,
}

/// What the driver should do with the transport once the queued octets are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TransportAction {
    Keep,
    /// Send FIN (shutdown the write side) and keep reading until the peer closes.
    ShutdownWrite,
    /// Close the socket now.
    Close,
}

/// How the connection ended (or is ending): who closed, whether cleanly, codes and reasons.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CloseStatus {
    /// We sent a Close frame first.
    pub closed_by_me: bool,
    /// We failed the connection (protocol violation by the peer).
    pub failed_by_me: bool,
    /// We closed the TCP connection first.
    pub dropped_by_me: bool,
    /// The close handshake completed (and, for a client, the server closed TCP in time).
    pub was_clean: bool,
    pub not_clean_reason: Option<String>,
    pub local_code: Option<u16>,
    pub local_reason: Option<String>,
    pub remote_code: Option<u16>,
    pub remote_reason: Option<String>,
    /// The peer did not answer our Close in time.
    pub close_handshake_timeout: bool,
    /// (Client) the server did not close TCP in time after the close handshake.
    pub server_drop_timeout: bool,
    #[serde(serialize_with = "ser_error")]
    pub error: Option<ProtocolError>,
}

fn ser_error<S: serde::Serializer>(e: &Option<ProtocolError>, s: S) -> Result<S::Ok, S::Error> {
    match e {
        Some(e) => s.serialize_some(&e.to_string()),
        None => s.serialize_none(),
    }
}

/// The connection's lifecycle. Our Close frame was sent in every phase between the open
/// ones and `Closed`; `close_received` says whether the peer's came first, unanswered (only
/// with [`super::Config::auto_close_reply`] off): the handshake then counts as complete when
/// TCP closes, though `CloseSent` still waits for another Close until its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Open both ways.
    Open,
    /// The peer's Close arrived and was not answered (close replies are off): we may still
    /// send until the application closes or fails the connection.
    CloseReceived,
    /// We sent a Close and wait for the peer's until `deadline`.
    CloseSent {
        deadline: Instant,
        close_received: bool,
    },
    /// We failed the connection under [`FailPolicy::CloseThenDropOnInput`]: the next octets
    /// the peer sends drop TCP; else as `CloseSent`.
    DropOnInput {
        deadline: Instant,
        close_received: bool,
    },
    /// We failed the connection under [`FailPolicy::CloseThenDrain`]: the write side is shut
    /// and input is discarded until the peer closes TCP, or we do at `deadline`.
    Draining {
        deadline: Instant,
        close_received: bool,
    },
    /// Both Close frames were exchanged: the server has shut its write side; TCP is closed
    /// by the peer or by us at `deadline` (`None`: a client waits for its application).
    Lingering { deadline: Option<Instant> },
    /// The TCP connection is (to be) closed; nothing more happens.
    Closed,
}

impl Phase {
    pub(super) fn state(self) -> State {
        match self {
            Phase::Open | Phase::CloseReceived => State::Open,
            Phase::CloseSent { .. }
            | Phase::DropOnInput { .. }
            | Phase::Draining { .. }
            | Phase::Lingering { .. } => State::Closing,
            Phase::Closed => State::Closed,
        }
    }

    /// Is received input decoded? (Not after failing, §7.1.7, nor once closed.)
    pub(super) fn decodes_input(self) -> bool {
        !matches!(
            self,
            Phase::Closed | Phase::Draining { .. } | Phase::DropOnInput { .. }
        )
    }

    /// Both Close frames were exchanged (ours was sent, theirs received).
    fn handshake_done(self) -> bool {
        match self {
            Phase::CloseSent { close_received, .. }
            | Phase::DropOnInput { close_received, .. }
            | Phase::Draining { close_received, .. } => close_received,
            Phase::Lingering { .. } => true,
            Phase::Open | Phase::CloseReceived | Phase::Closed => false,
        }
    }

    fn deadline(self) -> Option<Instant> {
        match self {
            Phase::CloseSent { deadline, .. }
            | Phase::DropOnInput { deadline, .. }
            | Phase::Draining { deadline, .. } => Some(deadline),
            Phase::Lingering { deadline } => deadline,
            Phase::Open | Phase::CloseReceived | Phase::Closed => None,
        }
    }
}

impl Connection {
    /// What to do with the transport after writing everything queued.
    pub fn transport_action(&self) -> TransportAction {
        match self.phase {
            Phase::Closed => TransportAction::Close,
            Phase::Draining { .. } => TransportAction::ShutdownWrite,
            Phase::Lingering { .. } if self.cfg.role == Role::Server => {
                TransportAction::ShutdownWrite
            }
            _ => TransportAction::Keep,
        }
    }

    /// The earliest time [`Connection::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.phase.deadline()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::CloseSent { deadline, .. } | Phase::DropOnInput { deadline, .. }
                if now >= deadline =>
            {
                self.status.close_handshake_timeout = true;
                self.status.was_clean = false;
                self.drop_transport("peer did not answer the closing handshake in time");
            }
            Phase::Draining { deadline, .. } if now >= deadline => self.linger_expired(),
            Phase::Lingering { deadline: Some(d) } if now >= d => self.linger_expired(),
            _ => {}
        }
    }

    /// We waited for the peer to close TCP long enough: we close it.
    fn linger_expired(&mut self) {
        if self.cfg.role == Role::Client && self.phase.handshake_done() {
            self.status.was_clean = false;
            self.status.server_drop_timeout = true;
            self.drop_transport("server did not close the TCP connection in time");
        } else {
            self.drop_transport("peer did not close the TCP connection in time");
        }
    }

    /// The peer closed its side of the TCP connection (or reset it).
    pub fn handle_eof(&mut self) {
        if self.phase == Phase::Closed {
            return;
        }
        // §7.1.4: "If the TCP connection was closed after the WebSocket closing handshake was
        // completed, the WebSocket connection is said to have been closed _cleanly_."
        if !self.phase.handshake_done() {
            self.status.was_clean = false;
            if self.status.not_clean_reason.is_none() && !self.status.dropped_by_me {
                self.status.not_clean_reason =
                    Some("peer dropped the TCP connection without a closing handshake".into());
            }
        }
        self.phase = Phase::Closed;
    }

    /// Start the closing handshake. The reason is cut to fit a control frame (at a character
    /// boundary).
    pub fn close(&mut self, code: Option<CloseCode>, reason: &str, now: Instant) {
        if !self.is_open() {
            return;
        }
        let reason = truncate_utf8(reason, 123);
        self.write_close(
            code.map(|c| c.0),
            if code.is_some() {
                reason.as_bytes()
            } else {
                b""
            },
        );
        self.start_closing(now, false);
    }

    /// Our Close was just queued while open: wait for the peer's (and, with
    /// `drop_on_input`, drop TCP on the peer's next octets instead of reading them).
    pub(super) fn start_closing(&mut self, now: Instant, drop_on_input: bool) {
        self.status.closed_by_me = true;
        let deadline = now + self.cfg.close_timeout;
        let close_received = self.phase == Phase::CloseReceived;
        self.phase = if drop_on_input {
            Phase::DropOnInput {
                deadline,
                close_received,
            }
        } else {
            Phase::CloseSent {
                deadline,
                close_received,
            }
        };
    }

    /// Fail the connection (§7.1.7) because of `err`, following [`super::Config::fail_policy`].
    pub fn fail(&mut self, err: ProtocolError, now: Instant) {
        log::debug!("failing connection: {err}");
        self.events.push_back(Event::Failed(err.clone()));
        if self.status.error.is_none() {
            self.status.error = Some(err.clone());
        }
        let reason = err.to_string();
        self.fail_with(err.close_code(), &reason, true, now);
    }

    /// Fail the connection with this code and reason (an application decision, or a
    /// protocol error). With [`FailPolicy::CloseThenDropOnInput`], `bad_input` says whether
    /// unprocessed input makes us drop on the next octets (it does after a protocol error).
    pub fn fail_with(&mut self, code: CloseCode, reason: &str, bad_input: bool, now: Instant) {
        match self.phase {
            Phase::Closed => return,
            Phase::Open | Phase::CloseReceived => {}
            _ => return self.drop_transport("failed the connection while closing"),
        }
        self.status.failed_by_me = true;
        match self.cfg.fail_policy {
            FailPolicy::Drop => {
                self.status.was_clean = false;
                self.drop_transport("failed the connection by dropping TCP");
            }
            // §7.1.7: "An endpoint MUST NOT continue to attempt to process data (including a
            // responding Close frame) from the remote endpoint after being instructed to
            // _Fail the WebSocket Connection_."
            FailPolicy::CloseThenDrain => {
                self.write_close(Some(code.0), truncate_utf8(reason, 123).as_bytes());
                self.status.closed_by_me = true;
                self.status.dropped_by_me = true;
                self.phase = Phase::Draining {
                    deadline: now + self.cfg.linger_timeout,
                    close_received: self.phase == Phase::CloseReceived,
                };
            }
            FailPolicy::CloseThenDropOnInput => {
                self.write_close(Some(code.0), truncate_utf8(reason, 123).as_bytes());
                self.start_closing(now, bad_input);
            }
        }
    }

    /// Close the TCP connection now (no Close frame).
    pub fn drop_transport(&mut self, why: &str) {
        if self.phase == Phase::Closed {
            return;
        }
        if !self.status.was_clean && self.status.not_clean_reason.is_none() {
            self.status.not_clean_reason = Some(why.to_string());
        }
        // Not closed, so the peer has not closed TCP either (`handle_eof`): we close it first.
        self.status.dropped_by_me = true;
        self.phase = Phase::Closed;
    }

    /// A Close frame arrived (its payload is in `self.ctrl`).
    pub(super) fn on_close_frame(&mut self, now: Instant) -> Result<(), ProtocolError> {
        let Some((code, reason)) = self.parse_close(now)? else {
            return Ok(());
        };
        self.status.remote_code = code.map(|c| c.0);
        self.status.remote_reason = (self.ctrl.len() > 2).then(|| reason.clone());
        self.events.push_back(Event::Close { code, reason });
        match self.phase {
            // §5.5.1: "If an endpoint receives a Close frame and did not previously send a
            // Close frame, the endpoint MUST send a Close frame in response."
            Phase::Open | Phase::CloseReceived if self.cfg.auto_close_reply => {
                let reply = match code {
                    Some(c) if self.cfg.echo_close_code => Some(c.0),
                    Some(_) => Some(CloseCode::NORMAL.0),
                    None => None,
                };
                self.write_close(reply, b"");
                self.after_close_handshake(now);
            }
            Phase::Open | Phase::CloseReceived => self.phase = Phase::CloseReceived,
            Phase::CloseSent { .. } | Phase::Lingering { .. } => self.after_close_handshake(now),
            // Input is not decoded in these phases.
            Phase::DropOnInput { .. } | Phase::Draining { .. } | Phase::Closed => {}
        }
        Ok(())
    }

    /// The code and reason of the Close frame in `self.ctrl`, checked; `None` when the frame
    /// was handled as Autobahn 0.10 handles a bad one ([`CloseCodePolicy::Autobahn`]).
    fn parse_close(
        &mut self,
        now: Instant,
    ) -> Result<Option<(Option<CloseCode>, String)>, ProtocolError> {
        if self.ctrl.len() < 2 {
            return Ok(Some((None, String::new())));
        }
        let c = u16::from_be_bytes([self.ctrl[0], self.ctrl[1]]);
        let reason = &self.ctrl[2..];
        let code_ok = self.cfg.close_codes.accepts(c);
        let reason_ok = !self.cfg.validate_utf8 || validate(reason);
        if self.cfg.close_codes == CloseCodePolicy::Autobahn && !(code_ok && reason_ok) {
            self.on_bad_close_as_autobahn(c, code_ok, reason_ok, now);
            return Ok(None);
        }
        // §7.4: codes outside the registry's sendable set MUST NOT appear on the wire;
        // §7.1.7: such a frame fails the connection.
        if !code_ok {
            return Err(ProtocolError::InvalidCloseCode { code: c });
        }
        // §5.5.1: "the data ... is not guaranteed to be human readable" but it is UTF-8
        // encoded text, so invalid UTF-8 fails the connection (1007).
        if !reason_ok {
            return Err(ProtocolError::InvalidCloseReason);
        }
        let reason = String::from_utf8_lossy(reason).into_owned();
        Ok(Some((Some(CloseCode(c)), reason)))
    }

    /// Both Close frames are exchanged. §5.5.1: "After both sending and receiving a Close
    /// message, an endpoint considers the WebSocket connection closed and MUST close the
    /// underlying TCP connection." §7.1.1: "The underlying TCP connection, in most normal
    /// cases, SHOULD be closed first by the server": the server shuts its write side now, the
    /// client waits for the server's FIN (at most `linger_timeout`).
    pub(super) fn after_close_handshake(&mut self, now: Instant) {
        self.status.was_clean = true;
        let linger = match self.cfg.role {
            Role::Server => {
                self.status.dropped_by_me = true;
                true
            }
            // Autobahn 0.10's client sets no timer after answering the server's Close.
            Role::Client => self.status.closed_by_me || self.cfg.linger_after_peer_close,
        };
        let deadline = linger.then(|| now + self.cfg.linger_timeout);
        self.phase = Phase::Lingering { deadline };
    }
}
