//! What only the fuzzer uses: octets written as it chose them (raw frames, in segments, any
//! close payload), compression and masking keys for frames it builds itself, payloads in
//! wire logs switched per case, and the emulation of how Autobahn 0.10 reads a bad Close
//! frame ([`super::CloseCodePolicy::Autobahn`]; the only call from the core into this file).

use std::time::Instant;

use rand::Rng;

use super::{truncate_utf8, Connection, Event};
use crate::proto::codes::OpCode;
use crate::proto::error::ProtocolError;

impl Connection {
    /// RSV bits a negotiated extension defines (RSV1 = 4), without negotiating one: only the
    /// decoder's fuzz target (`engine/fuzz/fuzz_targets/frame_decoder.rs`) uses this, so that
    /// frames with RSV bits get past the rules into the rest of the connection.
    pub fn set_rsv_allowed(&mut self, rsv: u8) {
        if let Some(r) = self.decoder.rules_mut() {
            r.rsv_allowed = rsv;
        }
    }

    /// Queue raw octets that must reach the transport in writes of at most `chop` octets
    /// (`None`: one write), each flushed on its own (`sync`).
    pub fn send_raw_segmented(&mut self, data: &[u8], chop: Option<usize>, sync: bool) {
        let pair = self.cfg.pair_burst_start;
        self.tx
            .push_segments(data, chop, sync || chop.is_some(), pair);
        self.counters.tx_octets += data.len() as u64;
    }

    /// Start the closing handshake with any close payload: an optional code, then an
    /// optional reason (valid or not; a reason without a code is allowed, to test peers).
    pub fn close_raw(&mut self, code: Option<u16>, reason: Option<&[u8]>, now: Instant) {
        if !self.is_open() {
            return;
        }
        let mut payload = Vec::with_capacity(2 + reason.map_or(0, <[u8]>::len));
        if let Some(c) = code {
            payload.extend_from_slice(&c.to_be_bytes());
        }
        if let Some(r) = reason {
            payload.extend_from_slice(r);
        }
        self.write_frame(true, 0, OpCode::CLOSE, &payload);
        self.status.local_code = code;
        self.status.local_reason = reason.map(|r| String::from_utf8_lossy(r).into_owned());
        self.start_closing(now, false);
    }

    /// Compress one message's payload into `out` with this connection's permessage-deflate
    /// context, for a caller that writes its own frames (the fuzzer): the message must then
    /// be sent, with RSV1 on its first frame, before the next one is compressed. False (and
    /// `out` untouched) when compression is off or unusable (window 8).
    pub fn compress_payload(&mut self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        match self.deflater.as_mut() {
            Some(d) if d.usable() => {
                d.compress(payload, out);
                true
            }
            _ => false,
        }
    }

    /// A fresh masking key if this side masks.
    pub fn next_mask(&mut self) -> Option<[u8; 4]> {
        self.mask.then(|| self.rng.random::<[u8; 4]>())
    }

    /// Turn payloads in frame records on or off (wire logs).
    pub fn set_record_payloads(&mut self, on: bool) {
        self.cfg.record_payloads = on;
    }

    /// A Close frame with a code outside the policy or a reason that is not UTF-8, received
    /// as Autobahn 0.10's fuzzer receives it (`onCloseFrame`): the code and the reason are
    /// recorded before they are judged; each fault fails the connection (a Close with 1002 or
    /// 1007 when none was sent yet, else the TCP connection is dropped); and the frame still
    /// counts as the peer's Close. So a peer that echoes the fuzzer's invalid Close shows
    /// what it sent in the report, and the verdict judges that, as the original's does.
    pub(super) fn on_bad_close_as_autobahn(
        &mut self,
        code: u16,
        code_ok: bool,
        reason_ok: bool,
        now: Instant,
    ) {
        let reason = &self.ctrl[2..];
        self.status.remote_code = Some(code);
        self.status.remote_reason =
            (!reason.is_empty()).then(|| String::from_utf8_lossy(reason).into_owned());
        self.status.failed_by_me = true;
        let faults = [
            (!code_ok).then_some(ProtocolError::InvalidCloseCode { code }),
            (!reason_ok).then_some(ProtocolError::InvalidCloseReason),
        ];
        // Only the first fault can be answered with a Close, and only while open.
        let mut may_reply = self.is_open();
        for err in faults.into_iter().flatten() {
            self.status.error.get_or_insert_with(|| err.clone());
            self.events.push_back(Event::Failed(err.clone()));
            if std::mem::take(&mut may_reply) {
                let text = err.to_string();
                let reason = truncate_utf8(&text, 123).as_bytes().to_vec();
                self.write_close(Some(err.close_code().0), &reason);
                self.status.closed_by_me = true;
            } else {
                // The original drops TCP here, and then finds itself closed: not clean.
                self.drop_transport("failed the connection while closing");
            }
        }
        if !self.is_closed() {
            self.after_close_handshake(now);
        }
    }
}
