//! How a case writes: frames exactly as specified (the engine's raw frame encoder), messages
//! fragmented by the original's rule, and messages streamed frame by frame. Everything written
//! is logged in the [`Recorder`] as the original logs it.

use wstest_engine::proto::frame::{encode_frame, encode_header, LengthForm};
use wstest_engine::proto::mask::apply_mask;
use wstest_engine::proto::{Connection, OpCode, Role};

use super::case::{frame, FrameSpec};
use super::record::Recorder;

/// RSV1: the first frame of a compressed message.
const RSV1: u8 = 4;

/// A frame being streamed (BeginFrame / FrameData).
#[derive(Clone, Copy, Debug)]
struct StreamedFrame {
    mask: Option<[u8; 4]>,
    /// Declared payload length.
    len: u64,
    /// Payload octets written so far.
    written: u64,
}

/// A message being streamed frame by frame (BeginMessage / BeginFrame / FrameData).
#[derive(Debug)]
struct Streaming {
    opcode: OpCode,
    /// No frame of the message begun yet.
    first: bool,
    frame: Option<StreamedFrame>,
}

impl Default for Streaming {
    fn default() -> Self {
        Streaming {
            opcode: OpCode::CONTINUATION,
            first: false,
            frame: None,
        }
    }
}

/// The case's writing state.
#[derive(Debug)]
pub struct Writer {
    role: Role,
    streaming: Streaming,
    /// Fragment size of messages (0: none).
    pub auto_fragment: usize,
    /// Encoded frame octets (reused).
    frame_buf: Vec<u8>,
    /// Compressed message octets (reused).
    deflate_buf: Vec<u8>,
}

impl Writer {
    pub fn new(role: Role) -> Self {
        Writer {
            role,
            streaming: Streaming::default(),
            auto_fragment: 0,
            frame_buf: Vec::new(),
            deflate_buf: Vec::new(),
        }
    }

    fn mask_for(&self, conn: &mut Connection, explicit: Option<[u8; 4]>) -> Option<[u8; 4]> {
        explicit.or_else(|| {
            if self.role == Role::Client {
                conn.next_mask()
            } else {
                None
            }
        })
    }

    /// Write one frame exactly as specified, logging it like the original does.
    pub fn send_frame(&mut self, rec: &mut Recorder, conn: &mut Connection, f: &FrameSpec) {
        match f.repeat_len {
            None => self.emit_frame(rec, conn, f, &f.payload, &f.payload),
            Some(_) => self.emit_frame(rec, conn, f, &f.wire_payload(), &f.payload),
        }
    }

    /// Write a frame with `f`'s header fields and `payload` (the wire log shows `logged`),
    /// encoded into a buffer kept across frames.
    fn emit_frame(
        &mut self,
        rec: &mut Recorder,
        conn: &mut Connection,
        f: &FrameSpec,
        payload: &[u8],
        logged: &[u8],
    ) {
        let mask = self.mask_for(conn, f.mask);
        let mut bytes = std::mem::take(&mut self.frame_buf);
        bytes.clear();
        encode_frame(&mut bytes, f.fin, f.rsv, OpCode(f.opcode), mask, payload);
        rec.tx_frame(f, mask, logged);
        send_octets(rec, conn, &bytes, f.chop, f.sync);
        self.frame_buf = bytes;
    }

    /// Send a message as an endpoint does, fragmented by the original's rule: frames of
    /// `size` octets until one ends past the payload, so a payload that divides evenly ends
    /// with an empty final frame.
    /// With `compress`, the payload is compressed with the connection's permessage-deflate
    /// context (when it has one) and RSV1 is set on the first frame.
    pub fn send_message(
        &mut self,
        rec: &mut Recorder,
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
        let mut z = std::mem::take(&mut self.deflate_buf);
        z.clear();
        let (payload, first_rsv) = if compress && conn.compress_payload(payload, &mut z) {
            (&z[..], RSV1)
        } else {
            (payload, 0)
        };
        rec.tx_message(app_len, payload.len() as u64);
        let opcode = if binary { OpCode::BINARY } else { OpCode::TEXT };
        let size = fragment.or((self.auto_fragment > 0).then_some(self.auto_fragment));
        let size = size
            .filter(|&s| s > 0 && payload.len() > s)
            .unwrap_or(usize::MAX);
        // Frames of `size` until one ends past the payload; with no fragmenting, one frame.
        let mut i: usize = 0;
        loop {
            let end = i.saturating_add(size);
            let done = end > payload.len() || size == usize::MAX;
            let op = if i == 0 { opcode } else { OpCode::CONTINUATION };
            let head = frame(op.0, Vec::new())
                .fin(done)
                .rsv(if i == 0 { first_rsv } else { 0 });
            let piece = &payload[i..end.min(payload.len())];
            self.emit_frame(rec, conn, &head, piece, piece);
            if done {
                break;
            }
            i = end;
        }
        self.deflate_buf = z;
    }

    /// Begin a streamed message (when open).
    pub fn begin_message(&mut self, conn: &Connection, binary: bool) {
        if conn.is_open() {
            self.streaming = Streaming {
                opcode: if binary { OpCode::BINARY } else { OpCode::TEXT },
                first: true,
                frame: None,
            };
        }
    }

    /// Begin a frame of the streamed message with `len` octets of payload (FIN clear).
    pub fn begin_frame(&mut self, rec: &mut Recorder, conn: &mut Connection, len: u64) {
        if !conn.is_open() {
            return;
        }
        let mask = self.mask_for(conn, None);
        let op = if self.streaming.first {
            self.streaming.opcode
        } else {
            OpCode::CONTINUATION
        };
        self.streaming.first = false;
        let mut header = Vec::with_capacity(14);
        encode_header(&mut header, false, 0, op.0, mask, len, LengthForm::Minimal);
        self.streaming.frame = Some(StreamedFrame {
            mask,
            len,
            written: 0,
        });
        send_octets(rec, conn, &header, None, false);
    }

    /// Payload for the frame being streamed (no more than it has room for).
    pub fn frame_data(
        &mut self,
        rec: &mut Recorder,
        conn: &mut Connection,
        data: &[u8],
        sync: bool,
    ) {
        if !conn.is_open() {
            return;
        }
        let Some(f) = &mut self.streaming.frame else {
            return;
        };
        let room = f.len.saturating_sub(f.written) as usize;
        let mut piece = data[..data.len().min(room)].to_vec();
        if let Some(mask) = f.mask {
            apply_mask(&mut piece, mask, f.written as usize);
        }
        f.written += piece.len() as u64;
        send_octets(rec, conn, &piece, None, sync);
    }

    /// End the streamed message: an empty final continuation frame.
    pub fn end_message(&mut self, rec: &mut Recorder, conn: &mut Connection) {
        if conn.is_open() {
            self.send_frame(rec, conn, &frame(OpCode::CONTINUATION.0, Vec::new()));
            self.streaming = Streaming::default();
        }
    }
}

/// Queue octets; chopped or synced writes go out as separate writes.
fn send_octets(
    rec: &mut Recorder,
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
                rec.tx_octets(piece, true);
            }
            conn.send_raw_segmented(bytes, Some(c), true);
        }
        None if sync => {
            rec.tx_octets(bytes, true);
            conn.send_raw_segmented(bytes, None, true);
        }
        None => {
            rec.tx_octets(bytes, false);
            conn.send_raw(bytes);
        }
    }
}
