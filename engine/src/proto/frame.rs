//! Frame headers and the frame writer.
//!
//! [`FrameHeader`] is what the decoder reports. [`RawFrame`] can express any bit pattern a
//! frame can have on the wire (RSV bits, reserved opcodes, a mask or none, non-minimal length
//! encodings, a declared length that differs from the payload) so that the fuzzer can write
//! invalid frames on purpose; [`encode_frame`] is the fast path for valid frames.

use super::codes::OpCode;
use super::mask::{apply_mask, extend_masked};

/// A decoded frame header (RFC 6455 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    /// RSV1..RSV3 as a 3-bit number (RSV1 = 4).
    pub rsv: u8,
    pub opcode: OpCode,
    pub mask: Option<[u8; 4]>,
    pub payload_len: u64,
}

impl FrameHeader {
    /// Number of octets this header takes on the wire with minimal length encoding.
    pub fn encoded_len(&self) -> usize {
        2 + LengthForm::minimal(self.payload_len).extra_bytes()
            + if self.mask.is_some() { 4 } else { 0 }
    }
}

/// How the payload length is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LengthForm {
    /// The shortest form that fits (the only valid choice).
    #[default]
    Minimal,
    /// 7-bit field 126 followed by a 16-bit length.
    U16,
    /// 7-bit field 127 followed by a 64-bit length.
    U64,
}

impl LengthForm {
    pub fn minimal(len: u64) -> LengthForm {
        if len <= 125 {
            LengthForm::Minimal
        } else if len <= 0xFFFF {
            LengthForm::U16
        } else {
            LengthForm::U64
        }
    }

    fn extra_bytes(self) -> usize {
        match self {
            LengthForm::Minimal => 0,
            LengthForm::U16 => 2,
            LengthForm::U64 => 8,
        }
    }
}

/// Write a frame header. `len` is written in `form` (widened if it does not fit); the header
/// is exactly what the arguments say, valid or not.
pub fn encode_header(
    out: &mut Vec<u8>,
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    len: u64,
    form: LengthForm,
) {
    let b0 = (u8::from(fin) << 7) | ((rsv & 0x7) << 4) | (opcode & 0xF);
    let mbit = if mask.is_some() { 0x80 } else { 0 };
    let form = match form {
        LengthForm::Minimal => LengthForm::minimal(len),
        LengthForm::U16 if len > 0xFFFF => LengthForm::U64,
        f => f,
    };
    match form {
        LengthForm::Minimal => out.extend_from_slice(&[b0, mbit | len as u8]),
        LengthForm::U16 => {
            out.extend_from_slice(&[b0, mbit | 126]);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        LengthForm::U64 => {
            out.extend_from_slice(&[b0, mbit | 127]);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    if let Some(m) = mask {
        out.extend_from_slice(&m);
    }
}

/// Append one complete, valid frame (minimal length, masked when `mask` is given).
#[inline]
pub fn encode_frame(
    out: &mut Vec<u8>,
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload: &[u8],
) {
    out.reserve(14 + payload.len());
    encode_header(
        out,
        fin,
        rsv,
        opcode.0,
        mask,
        payload.len() as u64,
        LengthForm::Minimal,
    );
    match mask {
        Some(m) => extend_masked(out, payload, m),
        None => out.extend_from_slice(payload),
    }
}

/// Any frame, valid or not, as the fuzzer wants to put it on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFrame {
    pub fin: bool,
    pub rsv: u8,
    /// Only the low 4 bits are written.
    pub opcode: u8,
    pub mask: Option<[u8; 4]>,
    pub payload: Vec<u8>,
    pub length_form: LengthForm,
    /// Length to declare in the header instead of the payload's real length.
    pub declared_len: Option<u64>,
}

impl RawFrame {
    pub fn new(opcode: u8, payload: impl Into<Vec<u8>>) -> Self {
        RawFrame {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            payload: payload.into(),
            length_form: LengthForm::Minimal,
            declared_len: None,
        }
    }

    pub fn fin(mut self, fin: bool) -> Self {
        self.fin = fin;
        self
    }

    pub fn rsv(mut self, rsv: u8) -> Self {
        self.rsv = rsv;
        self
    }

    pub fn mask(mut self, mask: Option<[u8; 4]>) -> Self {
        self.mask = mask;
        self
    }

    pub fn length_form(mut self, form: LengthForm) -> Self {
        self.length_form = form;
        self
    }

    pub fn declared_len(mut self, len: u64) -> Self {
        self.declared_len = Some(len);
        self
    }

    /// The header the decoder will report for this frame.
    pub fn header(&self) -> FrameHeader {
        FrameHeader {
            fin: self.fin,
            rsv: self.rsv & 7,
            opcode: OpCode(self.opcode & 0xF),
            mask: self.mask,
            payload_len: self.declared_len.unwrap_or(self.payload.len() as u64),
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let len = self.declared_len.unwrap_or(self.payload.len() as u64);
        encode_header(
            out,
            self.fin,
            self.rsv,
            self.opcode,
            self.mask,
            len,
            self.length_form,
        );
        let start = out.len();
        out.extend_from_slice(&self.payload);
        if let Some(m) = self.mask {
            apply_mask(&mut out[start..], m, 0);
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(14 + self.payload.len());
        self.encode(&mut v);
        v
    }
}

/// The payload of a Close frame: code (if any) then reason.
pub fn close_payload(code: Option<u16>, reason: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(2 + reason.len());
    if let Some(c) = code {
        p.extend_from_slice(&c.to_be_bytes());
        p.extend_from_slice(reason);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        // RFC 6455 §5.7
        let mut out = Vec::new();
        encode_frame(&mut out, true, 0, OpCode::TEXT, None, b"Hello");
        assert_eq!(out, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        out.clear();
        encode_frame(
            &mut out,
            true,
            0,
            OpCode::TEXT,
            Some([0x37, 0xfa, 0x21, 0x3d]),
            b"Hello",
        );
        assert_eq!(
            out,
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        out.clear();
        encode_frame(&mut out, false, 0, OpCode::TEXT, None, b"Hel");
        encode_frame(&mut out, true, 0, OpCode::CONTINUATION, None, b"lo");
        assert_eq!(out, [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
        out.clear();
        encode_frame(&mut out, true, 0, OpCode::BINARY, None, &[0u8; 256]);
        assert_eq!(&out[..4], &[0x82, 0x7E, 0x01, 0x00]);
        out.clear();
        encode_frame(&mut out, true, 0, OpCode::BINARY, None, &vec![0u8; 65536]);
        assert_eq!(&out[..10], &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
    }

    #[test]
    fn raw_frames_express_invalid_patterns() {
        let f = RawFrame::new(0xB, b"x".to_vec())
            .fin(false)
            .rsv(7)
            .length_form(LengthForm::U64);
        let b = f.to_bytes();
        assert_eq!(b[0], 0x7B);
        assert_eq!(b[1], 127);
        assert_eq!(&b[2..10], &1u64.to_be_bytes());
        let lie = RawFrame::new(1, b"abc".to_vec())
            .declared_len(10)
            .to_bytes();
        assert_eq!(lie, [0x81, 10, b'a', b'b', b'c']);
    }

    #[test]
    fn close_payloads() {
        assert_eq!(close_payload(None, b""), Vec::<u8>::new());
        assert_eq!(
            close_payload(Some(1000), b"ok"),
            vec![0x03, 0xE8, b'o', b'k']
        );
    }
}
