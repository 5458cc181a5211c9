//! The input side: octets decoded into frames (the per-frame rules are in
//! [`crate::proto::rules`]), data frames assembled into messages and checked as they arrive
//! (size, UTF-8, permessage-deflate), control frames answered. A Close frame goes on to
//! [`super::close`].

use std::time::Instant;

use super::{Connection, Current, Event, FrameRecord, Message, Phase, DIRECT_MIN};
use crate::proto::codes::OpCode;
use crate::proto::decode::Item;
use crate::proto::error::ProtocolError;
use crate::proto::frame::FrameHeader;

impl Connection {
    /// Feed octets read from the transport; payload is unmasked in place. Decoding stops
    /// after the first frame that produces an event, so the application can answer each
    /// message before later input (which may fail the connection) is looked at. Returns the
    /// octets consumed: call again with the rest, after draining [`Connection::poll_event`].
    pub fn handle_input(&mut self, buf: &mut [u8], now: Instant) -> usize {
        let n = self.process_input(buf, now);
        self.counters.rx_octets += n as u64;
        n
    }

    /// Feed all of `buf`, handling events with `on_event` between frames.
    pub fn handle_input_all(
        &mut self,
        buf: &mut [u8],
        now: Instant,
        mut on_event: impl FnMut(&mut Connection, Event),
    ) {
        let mut off = 0;
        while off < buf.len() {
            off += self.handle_input(&mut buf[off..], now);
            while let Some(ev) = self.poll_event() {
                on_event(self, ev);
            }
        }
    }

    fn process_input(&mut self, buf: &mut [u8], now: Instant) -> usize {
        if buf.is_empty() {
            return 0;
        }
        match self.phase {
            Phase::Open
            | Phase::CloseReceived
            | Phase::CloseSent { .. }
            | Phase::Lingering { .. } => {}
            // §7.1.7: "An endpoint MUST NOT continue to attempt to process data (including a
            // responding Close frame) from the remote endpoint after being instructed to
            // _Fail the WebSocket Connection_."
            Phase::Closed | Phase::Draining { .. } => return buf.len(),
            Phase::DropOnInput { .. } => {
                self.drop_transport("peer sent more data after the connection was failed");
                return buf.len();
            }
        }
        let queued = self.events.len();
        let mut off = 0;
        loop {
            let (used, item) = match self.decoder.decode(&mut buf[off..]) {
                Ok(r) => r,
                Err(e) => {
                    self.fail(e, now);
                    return buf.len();
                }
            };
            let start = off;
            off += used;
            let res = match item {
                None => return buf.len(),
                Some(Item::Header(h)) => self.on_header(h),
                Some(Item::Payload(r)) => self.on_payload(&buf[start + r.start..start + r.end]),
                Some(Item::End) => self.on_frame_end(now),
            };
            if let Err(e) = res {
                self.fail(e, now);
                return buf.len();
            }
            if !self.phase.decodes_input() {
                return buf.len();
            }
            if self.events.len() > queued {
                return off;
            }
        }
    }

    /// Where the next octets read may go straight into the message being assembled: inside a
    /// data frame's payload with at least [`DIRECT_MIN`] octets still to come, uncompressed.
    /// Returns the message buffer (its length is where the octets go) and how many octets may
    /// be read into it (no more than the frame holds, within its capacity). The caller reads
    /// into the spare capacity and hands the buffer back to
    /// [`Connection::handle_payload_read`], which unmasks and checks the octets as
    /// [`Connection::handle_input`] would have after copying them: a large message arrives
    /// without that copy. Nothing else may be fed in between.
    pub fn payload_read_target(&mut self) -> Option<(Vec<u8>, usize)> {
        let remaining = self.decoder.remaining();
        let in_data = self
            .current
            .as_ref()
            .is_some_and(|c| !c.header.opcode.is_control());
        if !self.phase.decodes_input()
            || !in_data
            || !self.msg.active
            || self.msg.compressed
            || remaining < DIRECT_MIN as u64
        {
            return None;
        }
        let mut buf = std::mem::take(&mut self.msg.buf);
        if buf.capacity() - buf.len() < DIRECT_MIN {
            // The frame's length was checked against the message limit at its header.
            buf.reserve(remaining.min(1 << 20) as usize);
        }
        let room = buf.capacity() - buf.len();
        Some((buf, room.min(remaining as usize)))
    }

    /// `buf` (from [`Connection::payload_read_target`]) came back with `buf.len() - start`
    /// octets read into it at `start`.
    pub fn handle_payload_read(&mut self, mut buf: Vec<u8>, start: usize, now: Instant) {
        let n = buf.len() - start;
        self.counters.rx_octets += n as u64;
        if n == 0 || !self.phase.decodes_input() {
            // Failed while the octets were on their way: they are discarded, as input is.
            buf.truncate(start);
            self.msg.buf = buf;
            return;
        }
        debug_assert!(n as u64 <= self.decoder.remaining(), "read past the frame");
        // Inside a payload, decoding unmasks and counts the octets; it cannot fail.
        let res = self.decoder.decode(&mut buf[start..]).map(|_| ());
        self.counters.rx_payload_octets += n as u64;
        if let Some(r) = self.current.as_mut().and_then(|c| c.record.as_mut()) {
            if self.record_payload {
                FrameRecord::keep(r, &buf[start..]);
            }
        }
        self.msg.buf = buf;
        let res = res.and_then(|()| self.check_text(start)).and_then(|()| {
            if self.decoder.remaining() == 0 {
                // The frame's end: what `decode` reports next.
                let _ = self.decoder.decode(&mut []);
                self.on_frame_end(now)
            } else {
                Ok(())
            }
        });
        if let Err(e) = res {
            self.fail(e, now);
        }
    }

    fn on_header(&mut self, h: FrameHeader) -> Result<(), ProtocolError> {
        self.counters.rx_frames += 1;
        let record = self.cfg.record_frames.then(Vec::new);
        self.record_payload = self.cfg.record_payloads;
        if h.opcode.is_control() {
            self.ctrl.clear();
        } else {
            if h.opcode != OpCode::CONTINUATION {
                self.msg.active = true;
                self.msg.binary = h.opcode == OpCode::BINARY;
                self.msg.compressed = h.rsv & 4 != 0 && self.inflater.is_some();
                self.msg.buf = self.tx.take_buf_near(h.payload_len.min(1 << 20) as usize);
                self.msg.utf8.reset();
            }
            let total = self.msg.buf.len() as u64 + h.payload_len;
            let limit = self.cfg.max_message_size;
            if limit != 0 && total > limit {
                return Err(ProtocolError::MessageTooBig { size: total, limit });
            }
            // Grow for this frame, but never trust a declared length with much memory.
            self.msg.buf.reserve(h.payload_len.min(1 << 20) as usize);
        }
        self.current = Some(Current { header: h, record });
        Ok(())
    }

    fn on_payload(&mut self, data: &[u8]) -> Result<(), ProtocolError> {
        let cur = self.current.as_mut().expect("payload follows a header");
        if let Some(r) = cur.record.as_mut().filter(|_| self.record_payload) {
            FrameRecord::keep(r, data);
        }
        if cur.header.opcode.is_control() {
            self.ctrl.extend_from_slice(data);
            return Ok(());
        }
        self.counters.rx_payload_octets += data.len() as u64;
        let start = self.msg.buf.len();
        if self.msg.compressed {
            // Inflated as the frames arrive, never past the message size limit.
            let inflater = self
                .inflater
                .as_mut()
                .expect("compressed messages need an inflater");
            inflater.push(data, &mut self.msg.buf, self.cfg.max_message_size)?;
        } else {
            self.msg.buf.extend_from_slice(data);
        }
        self.check_text(start)
    }

    /// Validate the text appended to the message since `start`.
    fn check_text(&mut self, start: usize) -> Result<(), ProtocolError> {
        if !self.msg.binary && self.cfg.validate_utf8 {
            // §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds that
            // the byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail
            // the WebSocket Connection_." (checked as the octets arrive: fail fast)
            self.msg
                .utf8
                .feed(&self.msg.buf[start..])
                .map_err(|e| ProtocolError::InvalidUtf8 { offset: e.offset })?;
        }
        Ok(())
    }

    fn on_frame_end(&mut self, now: Instant) -> Result<(), ProtocolError> {
        let cur = self.current.take().expect("end follows a header");
        let h = cur.header;
        if let Some(payload) = cur.record {
            self.events
                .push_back(Event::Frame(FrameRecord { header: h, payload }));
        }
        if h.opcode.is_control() {
            return self.on_control(h.opcode, now);
        }
        if h.fin {
            if self.msg.compressed {
                let start = self.msg.buf.len();
                let inflater = self
                    .inflater
                    .as_mut()
                    .expect("compressed messages need an inflater");
                inflater.finish(&mut self.msg.buf, self.cfg.max_message_size)?;
                self.check_text(start)?;
            }
            if !self.msg.binary && self.cfg.validate_utf8 {
                self.msg
                    .utf8
                    .finish()
                    .map_err(|e| ProtocolError::TruncatedUtf8 { offset: e.offset })?;
            }
            self.msg.active = false;
            self.counters.rx_messages += 1;
            self.counters.rx_app_octets += self.msg.buf.len() as u64;
            let data = std::mem::take(&mut self.msg.buf);
            self.events.push_back(Event::Message(Message {
                binary: self.msg.binary,
                data,
            }));
        }
        Ok(())
    }

    fn on_control(&mut self, op: OpCode, now: Instant) -> Result<(), ProtocolError> {
        match op {
            OpCode::PING => {
                let payload = self.ctrl.clone();
                // §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in
                // response, unless it already received a Close frame."
                if self.cfg.auto_pong && self.is_open() {
                    self.send_control(OpCode::PONG, &payload);
                }
                self.events.push_back(Event::Ping(payload));
            }
            OpCode::PONG => {
                let payload = self.ctrl.clone();
                self.events.push_back(Event::Pong(payload));
            }
            OpCode::CLOSE => self.on_close_frame(now)?,
            _ => unreachable!("reserved control opcodes are rejected by the rules"),
        }
        Ok(())
    }
}
