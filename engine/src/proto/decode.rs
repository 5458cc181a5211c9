//! Incremental frame decoder: any chunking of the input gives the same items.
//!
//! The decoder reports a header as soon as it is complete, then the payload in whatever pieces
//! arrive (unmasked in place, so a receiver can validate UTF-8 and fail fast before a frame is
//! complete), then the end of the frame. It enforces the length encoding rules itself and, in
//! checked mode, the frame rules of [`RuleState`].

use std::ops::Range;

use super::codes::OpCode;
use super::error::ProtocolError;
use super::frame::FrameHeader;
use super::mask::apply_mask;
use super::rules::RuleState;

/// One decoding step's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A complete frame header.
    Header(FrameHeader),
    /// A piece of the current frame's payload, unmasked, at this range of the input slice.
    Payload(Range<usize>),
    /// The current frame's payload is complete.
    End,
}

#[derive(Debug, Clone)]
pub struct FrameDecoder {
    rules: Option<RuleState>,
    hdr: [u8; 14],
    hdr_len: usize,
    current: Option<FrameHeader>,
    remaining: u64,
    /// Payload octets of the current frame unmasked so far, modulo 4 (where in the masking
    /// key the next octet is; one octet, so the decoder stays within a cache line).
    offset: u8,
}

/// Header length implied by the first two octets.
fn header_len(b1: u8) -> usize {
    let masked = if b1 & 0x80 != 0 { 4 } else { 0 };
    2 + masked
        + match b1 & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        }
}

/// Parse a complete header (`b.len() == header_len(b[1])`).
fn parse_header(b: &[u8]) -> Result<FrameHeader, ProtocolError> {
    let fin = b[0] & 0x80 != 0;
    let rsv = (b[0] >> 4) & 0x7;
    let opcode = OpCode(b[0] & 0x0F);
    let masked = b[1] & 0x80 != 0;
    let (len, mut i) = match b[1] & 0x7F {
        126 => {
            let l = u64::from(u16::from_be_bytes([b[2], b[3]]));
            // §5.2: "the minimal number of bytes MUST be used to encode the length"
            if l < 126 {
                return Err(ProtocolError::NonMinimalLength { len: l, width: 2 });
            }
            (l, 4)
        }
        127 => {
            let l = u64::from_be_bytes(b[2..10].try_into().expect("8 bytes"));
            // §5.2: "the most significant bit MUST be 0"
            if l >> 63 != 0 {
                return Err(ProtocolError::LengthOverflow);
            }
            if l <= 0xFFFF {
                return Err(ProtocolError::NonMinimalLength { len: l, width: 8 });
            }
            (l, 10)
        }
        l => (u64::from(l), 2),
    };
    let mask = if masked {
        let m = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        i += 4;
        Some(m)
    } else {
        None
    };
    debug_assert_eq!(i, b.len());
    Ok(FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len: len,
    })
}

impl FrameDecoder {
    /// A decoder that enforces the frame rules for `rules`.
    pub fn new(rules: RuleState) -> Self {
        FrameDecoder {
            rules: Some(rules),
            hdr: [0; 14],
            hdr_len: 0,
            current: None,
            remaining: 0,
            offset: 0,
        }
    }

    /// A decoder that only enforces the length encoding (for logging what a peer sends).
    pub fn lenient() -> Self {
        FrameDecoder {
            rules: None,
            hdr: [0; 14],
            hdr_len: 0,
            current: None,
            remaining: 0,
            offset: 0,
        }
    }

    pub fn rules(&self) -> Option<&RuleState> {
        self.rules.as_ref()
    }

    pub fn rules_mut(&mut self) -> Option<&mut RuleState> {
        self.rules.as_mut()
    }

    /// The frame being decoded, if its header is complete.
    pub fn current(&self) -> Option<&FrameHeader> {
        self.current.as_ref()
    }

    /// Between frames: no partial header, no frame payload still to come, not inside a
    /// fragmented message.
    pub fn at_boundary(&self) -> bool {
        self.hdr_len == 0
            && self.current.is_none()
            && !self.rules.as_ref().is_some_and(|r| r.in_message)
    }

    /// Payload octets of the current frame still to come.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Decode one item from `input`. Returns the octets consumed and the item, or `None` when
    /// `input` is exhausted (everything useful was consumed). Payload is unmasked in place.
    pub fn decode(&mut self, input: &mut [u8]) -> Result<(usize, Option<Item>), ProtocolError> {
        match self.current {
            None => self.decode_header(input),
            Some(h) => {
                if self.remaining == 0 {
                    self.current = None;
                    return Ok((0, Some(Item::End)));
                }
                let n = (input.len() as u64).min(self.remaining) as usize;
                if n == 0 {
                    return Ok((0, None));
                }
                if let Some(m) = h.mask {
                    apply_mask(&mut input[..n], m, usize::from(self.offset));
                }
                self.offset = ((usize::from(self.offset) + n) & 3) as u8;
                self.remaining -= n as u64;
                Ok((n, Some(Item::Payload(0..n))))
            }
        }
    }

    fn decode_header(&mut self, input: &[u8]) -> Result<(usize, Option<Item>), ProtocolError> {
        let header = if self.hdr_len == 0 && input.len() >= 2 && input.len() >= header_len(input[1])
        {
            // Fast path: the whole header is in this chunk.
            let n = header_len(input[1]);
            (parse_header(&input[..n])?, n)
        } else {
            // Slow path: gather the header across chunks.
            let mut used = 0;
            while self.hdr_len < 2 && used < input.len() {
                self.hdr[self.hdr_len] = input[used];
                self.hdr_len += 1;
                used += 1;
            }
            if self.hdr_len < 2 {
                return Ok((used, None));
            }
            let need = header_len(self.hdr[1]);
            let take = (need - self.hdr_len).min(input.len() - used);
            self.hdr[self.hdr_len..self.hdr_len + take].copy_from_slice(&input[used..used + take]);
            self.hdr_len += take;
            used += take;
            if self.hdr_len < need {
                return Ok((used, None));
            }
            let h = parse_header(&self.hdr[..need])?;
            self.hdr_len = 0;
            (h, used)
        };
        let (h, used) = header;
        if let Some(r) = self.rules.as_mut() {
            r.check(&h)?;
        }
        self.current = Some(h);
        self.remaining = h.payload_len;
        self.offset = 0;
        Ok((used, Some(Item::Header(h))))
    }
}

/// Decode everything in `chunks`, collecting (header, payload) per frame (the tests' reader
/// of what a connection wrote).
#[cfg(test)]
pub(crate) fn decode_all(
    dec: &mut FrameDecoder,
    chunks: &[&[u8]],
) -> Result<Vec<(FrameHeader, Vec<u8>)>, ProtocolError> {
    let mut frames = Vec::new();
    let mut cur: Option<(FrameHeader, Vec<u8>)> = None;
    for c in chunks {
        let mut buf = c.to_vec();
        let mut off = 0;
        loop {
            let (used, item) = dec.decode(&mut buf[off..])?;
            match item {
                Some(Item::Header(h)) => cur = Some((h, Vec::new())),
                Some(Item::Payload(r)) => cur
                    .as_mut()
                    .unwrap()
                    .1
                    .extend_from_slice(&buf[off + r.start..off + r.end]),
                Some(Item::End) => frames.push(cur.take().unwrap()),
                None => break,
            }
            off += used;
        }
    }
    // A zero-length tail: let a pending End come out.
    let (_, item) = dec.decode(&mut [])?;
    if let Some(Item::End) = item {
        frames.push(cur.take().unwrap());
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::frame::{encode_frame, LengthForm, RawFrame};
    use crate::proto::Role;
    use proptest::prelude::*;

    #[test]
    fn masked_hello() {
        let mut d = FrameDecoder::new(RuleState::new(Role::Server));
        let f = decode_all(
            &mut d,
            &[&[
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ]],
        )
        .unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].1, b"Hello");
        assert!(f[0].0.fin);
    }

    #[test]
    fn non_minimal_lengths_rejected() {
        let b = RawFrame::new(2, vec![0; 5])
            .length_form(LengthForm::U16)
            .to_bytes();
        let mut d = FrameDecoder::lenient();
        assert_eq!(
            decode_all(&mut d, &[&b]),
            Err(ProtocolError::NonMinimalLength { len: 5, width: 2 })
        );
        let b = RawFrame::new(2, vec![0; 200])
            .length_form(LengthForm::U64)
            .to_bytes();
        let mut d = FrameDecoder::lenient();
        assert_eq!(
            decode_all(&mut d, &[&b]),
            Err(ProtocolError::NonMinimalLength { len: 200, width: 8 })
        );
        let mut b = vec![0x82, 0x7F];
        b.extend_from_slice(&(1u64 << 63).to_be_bytes());
        let mut d = FrameDecoder::lenient();
        assert_eq!(
            decode_all(&mut d, &[&b]),
            Err(ProtocolError::LengthOverflow)
        );
    }

    #[test]
    fn rules_applied() {
        let b = RawFrame::new(1, b"x".to_vec())
            .rsv(2)
            .mask(Some([1, 2, 3, 4]))
            .to_bytes();
        let mut d = FrameDecoder::new(RuleState::new(Role::Server));
        assert_eq!(
            decode_all(&mut d, &[&b]),
            Err(ProtocolError::ReservedBits { rsv: 2 })
        );
    }

    #[test]
    fn empty_payload_frames() {
        let mut b = Vec::new();
        encode_frame(&mut b, true, 0, OpCode::PING, None, b"");
        encode_frame(&mut b, true, 0, OpCode::TEXT, None, b"");
        let mut d = FrameDecoder::new(RuleState::new(Role::Client));
        let f = decode_all(&mut d, &[&b]).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].0.opcode, OpCode::PING);
        assert_eq!(f[1].0.opcode, OpCode::TEXT);
    }

    type ArbFrame = (u8, bool, Vec<u8>, Option<[u8; 4]>);

    fn arb_frames() -> impl Strategy<Value = Vec<ArbFrame>> {
        proptest::collection::vec(
            (
                prop_oneof![Just(1u8), Just(2u8), Just(9u8)],
                any::<bool>(),
                proptest::collection::vec(any::<u8>(), 0..70_000usize),
                proptest::option::of(any::<[u8; 4]>()),
            ),
            1..4,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        /// Any chunking of a valid stream decodes to the same frames.
        #[test]
        fn any_split_same_frames(frames in arb_frames(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20)) {
            let mut wire = Vec::new();
            let mut want = Vec::new();
            for (op, mask, mut payload, mkey) in frames {
                if op == 9 { payload.truncate(125); }
                let m = if mask { mkey } else { None };
                encode_frame(&mut wire, true, 0, OpCode(op), m, &payload);
                want.push((op, payload));
            }
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
            points.push(0);
            points.push(wire.len());
            points.sort_unstable();
            let chunks: Vec<&[u8]> = points.windows(2).map(|w| &wire[w[0]..w[1]]).collect();
            let mut d = FrameDecoder::lenient();
            let got = decode_all(&mut d, &chunks).unwrap();
            let got: Vec<(u8, Vec<u8>)> = got.into_iter().map(|(h, p)| (h.opcode.0, p)).collect();
            prop_assert_eq!(got, want);
        }

        /// Random bytes in random chunks never panic the decoder.
        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2048), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..16), checked in any::<bool>()) {
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
            points.push(0);
            points.push(data.len());
            points.sort_unstable();
            let chunks: Vec<&[u8]> = points.windows(2).map(|w| &data[w[0]..w[1]]).collect();
            let mut d = if checked { FrameDecoder::new(RuleState::new(Role::Server)) } else { FrameDecoder::lenient() };
            let _ = decode_all(&mut d, &chunks);
        }
    }
}
