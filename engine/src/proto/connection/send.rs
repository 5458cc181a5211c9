//! The output side: messages (compressed when permessage-deflate is on), frames and control
//! frames, encoded into the transmit queue with this side's masking keys, counted and
//! recorded for wire logs.

use rand::Rng;

use super::{Connection, Event, FrameRecord};
use crate::proto::codes::OpCode;
use crate::proto::deflate::DeflateParams;
use crate::proto::frame::{close_payload, encode_frame, encode_header, FrameHeader, LengthForm};
use crate::proto::mask::apply_mask;

/// Payloads at least this large that the application hands over whole
/// ([`Connection::send_message_owned`]) are written from their own buffer, not copied.
const OWNED_MIN: usize = 8 * 1024;

impl Connection {
    /// Queue a complete message as one frame (compressed when permessage-deflate is on and
    /// the message is not below the threshold). Returns false (and sends nothing) unless open.
    pub fn send_message(&mut self, binary: bool, payload: &[u8]) -> bool {
        self.send_fragmented(binary, payload, 0)
    }

    /// Compress `payload` into the scratch buffer if this message should be compressed.
    fn compress_message(&mut self, payload: &[u8]) -> bool {
        match self.deflater.as_mut() {
            Some(d) if d.usable() && payload.len() >= self.cfg.deflate_threshold => {
                self.scratch.clear();
                d.compress(payload, &mut self.scratch);
                true
            }
            _ => false,
        }
    }

    /// Queue a complete message as one frame, handing its buffer over: a large payload that is
    /// not compressed is written from this buffer (masked in place by a client), not copied.
    /// Otherwise as [`Connection::send_message`], and the buffer is kept for reuse.
    pub fn send_message_owned(&mut self, binary: bool, mut payload: Vec<u8>) -> bool {
        let compress = self
            .deflater
            .as_ref()
            .is_some_and(|d| d.usable() && payload.len() >= self.cfg.deflate_threshold);
        if !self.is_open() || compress || payload.len() < OWNED_MIN {
            let sent = self.send_message(binary, &payload);
            self.tx.give(payload);
            return sent;
        }
        let op = if binary { OpCode::BINARY } else { OpCode::TEXT };
        let mask = self.mask.then(|| self.rng.random::<[u8; 4]>());
        let len = payload.len() as u64;
        let header = self.tx.append(14, |out| {
            encode_header(out, true, 0, op.0, mask, len, LengthForm::Minimal)
        });
        self.counters.tx_app_octets += len;
        self.counters.tx_payload_octets += len;
        self.counters.tx_messages += 1;
        // Recorded as the application gave it, then masked in place.
        self.note_frame_sent(true, 0, op, mask, &payload, header + payload.len());
        if let Some(m) = mask {
            apply_mask(&mut payload, m, 0);
        }
        self.tx.push_owned(payload);
        true
    }

    pub fn send_text(&mut self, text: &str) -> bool {
        self.send_message(false, text.as_bytes())
    }

    pub fn send_binary(&mut self, data: &[u8]) -> bool {
        self.send_message(true, data)
    }

    /// Queue a message split into frames of at most `fragment` octets (0: one frame). When
    /// compressed, the compressed payload is split and RSV1 is set on the first frame only.
    pub fn send_fragmented(&mut self, binary: bool, payload: &[u8], fragment: usize) -> bool {
        if !self.is_open() {
            return false;
        }
        let op = if binary { OpCode::BINARY } else { OpCode::TEXT };
        let compressed = self.compress_message(payload);
        let wire = if compressed {
            std::mem::take(&mut self.scratch)
        } else {
            Vec::new()
        };
        let data: &[u8] = if compressed { &wire } else { payload };
        self.counters.tx_app_octets += payload.len() as u64;
        self.counters.tx_payload_octets += data.len() as u64;
        let rsv = if compressed { 4 } else { 0 };
        if fragment == 0 || data.len() <= fragment {
            self.write_frame(true, rsv, op, data);
        } else {
            let mut first = true;
            let mut chunks = data.chunks(fragment).peekable();
            while let Some(c) = chunks.next() {
                let (o, r) = if first {
                    (op, rsv)
                } else {
                    (OpCode::CONTINUATION, 0)
                };
                self.write_frame(chunks.peek().is_none(), r, o, c);
                first = false;
            }
        }
        if compressed {
            self.scratch = wire;
        }
        self.counters.tx_messages += 1;
        true
    }

    /// Is permessage-deflate on for this connection?
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.cfg.deflate
    }

    /// Queue one data or control frame (not checked against the fragmentation state).
    pub fn send_frame(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) -> bool {
        if !self.is_open() {
            return false;
        }
        self.write_frame(fin, 0, opcode, payload);
        true
    }

    pub fn ping(&mut self, payload: &[u8]) -> bool {
        if !self.is_open() || payload.len() > 125 {
            return false;
        }
        self.send_control(OpCode::PING, payload);
        true
    }

    pub fn pong(&mut self, payload: &[u8]) -> bool {
        if !self.is_open() || payload.len() > 125 {
            return false;
        }
        self.send_control(OpCode::PONG, payload);
        true
    }

    /// Queue raw octets.
    pub fn send_raw(&mut self, data: &[u8]) {
        self.tx
            .append(data.len(), |out| out.extend_from_slice(data));
        self.counters.tx_octets += data.len() as u64;
    }

    pub(super) fn send_control(&mut self, op: OpCode, payload: &[u8]) {
        self.write_frame(true, 0, op, payload);
    }

    /// Queue our Close frame (the closing phases are entered in `close.rs`).
    pub(super) fn write_close(&mut self, code: Option<u16>, reason: &[u8]) {
        let payload = close_payload(code, reason);
        self.write_frame(true, 0, OpCode::CLOSE, &payload);
        self.status.local_code = code;
        self.status.local_reason =
            (!reason.is_empty()).then(|| String::from_utf8_lossy(reason).into_owned());
    }

    #[inline]
    pub(super) fn write_frame(&mut self, fin: bool, rsv: u8, op: OpCode, payload: &[u8]) {
        let mask = self.mask.then(|| self.rng.random::<[u8; 4]>());
        let octets = self.tx.append(14 + payload.len(), |out| {
            encode_frame(out, fin, rsv, op, mask, payload)
        });
        self.note_frame_sent(fin, rsv, op, mask, payload, octets);
    }

    /// Count a frame queued, and record it when frames are recorded.
    fn note_frame_sent(
        &mut self,
        fin: bool,
        rsv: u8,
        op: OpCode,
        mask: Option<[u8; 4]>,
        payload: &[u8],
        octets: usize,
    ) {
        self.counters.tx_frames += 1;
        self.counters.tx_octets += octets as u64;
        if self.cfg.record_frames {
            let header = FrameHeader {
                fin,
                rsv,
                opcode: op,
                mask,
                payload_len: payload.len() as u64,
            };
            let mut head = Vec::new();
            if self.cfg.record_payloads {
                FrameRecord::keep(&mut head, payload);
            }
            let payload = head;
            self.events.push_back(Event::FrameSent {
                record: FrameRecord { header, payload },
                octets,
            });
        }
    }
}
