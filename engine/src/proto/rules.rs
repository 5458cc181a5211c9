//! The per-frame rules of RFC 6455 §5 that a receiver enforces, with the fragmentation state
//! they need. [`super::FrameDecoder`] applies them to every header it decodes.

use super::codes::OpCode;
use super::error::ProtocolError;
use super::frame::FrameHeader;
use super::Role;

/// Receiver-side rule state.
#[derive(Clone, Debug)]
pub struct RuleState {
    /// Our role; decides the masking rule. `None` skips the masking rule.
    pub role: Option<Role>,
    /// RSV bits that a negotiated extension defines (RSV1 = 4). They are allowed on the first
    /// frame of a data message only.
    pub rsv_allowed: u8,
    /// Inside a fragmented data message (a non-final data frame was seen).
    pub in_message: bool,
}

impl RuleState {
    pub fn new(role: Role) -> Self {
        RuleState {
            role: Some(role),
            rsv_allowed: 0,
            in_message: false,
        }
    }

    /// Check one frame header and advance the fragmentation state.
    pub fn check(&mut self, h: &FrameHeader) -> Result<(), ProtocolError> {
        let op = h.opcode;

        // §5.2: "MUST be 0 unless an extension is negotiated that defines meanings for
        // non-zero values. If a nonzero value is received and none of the negotiated
        // extensions defines the meaning of such a nonzero value, the receiving endpoint
        // MUST _Fail the WebSocket Connection_."
        // RFC 7692 §6.1: RSV1 is set on the first frame of a compressed message only, and
        // never on control frames.
        if h.rsv != 0 {
            let allowed = if op.is_control() || op == OpCode::CONTINUATION || op.is_reserved() {
                0
            } else {
                self.rsv_allowed
            };
            if h.rsv & !allowed != 0 {
                return Err(ProtocolError::ReservedBits { rsv: h.rsv });
            }
        }

        // §5.1: "The server MUST close the connection upon receiving a frame that is not
        // masked." and "A client MUST close a connection if it detects a masked frame."
        match self.role {
            Some(Role::Server) if h.mask.is_none() => return Err(ProtocolError::UnmaskedFrame),
            Some(Role::Client) if h.mask.is_some() => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }

        if op.is_control() {
            // §5.4: "Control frames themselves MUST NOT be fragmented."
            if !h.fin {
                return Err(ProtocolError::FragmentedControl { opcode: op.0 });
            }
            // §5.5: "All control frames MUST have a payload length of 125 bytes or less"
            if h.payload_len > 125 {
                return Err(ProtocolError::ControlTooLong { len: h.payload_len });
            }
            // §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the
            // WebSocket Connection_."
            if op.is_reserved() {
                return Err(ProtocolError::ReservedOpcode { opcode: op.0 });
            }
            // §5.5.1: "If there is a body, the first two bytes of the body MUST be a 2-byte
            // unsigned integer ... representing a status code"
            if op == OpCode::CLOSE && h.payload_len == 1 {
                return Err(ProtocolError::CloseLengthOne);
            }
        } else {
            if op.is_reserved() {
                return Err(ProtocolError::ReservedOpcode { opcode: op.0 });
            }
            // §5.4: a fragmented message is one frame with FIN clear and a non-zero opcode,
            // then continuation frames, the last with FIN set; the fragments of one message
            // MUST NOT be interleaved with those of another.
            if op == OpCode::CONTINUATION && !self.in_message {
                return Err(ProtocolError::UnexpectedContinuation);
            }
            if op != OpCode::CONTINUATION && self.in_message {
                return Err(ProtocolError::ExpectedContinuation { opcode: op.0 });
            }
            self.in_message = !h.fin;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(fin: bool, rsv: u8, op: u8, masked: bool, len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            rsv,
            opcode: OpCode(op),
            mask: masked.then_some([1, 2, 3, 4]),
            payload_len: len,
        }
    }

    #[test]
    fn each_rule() {
        let mut s = RuleState::new(Role::Server);
        assert_eq!(
            s.check(&hdr(true, 1, 1, true, 0)),
            Err(ProtocolError::ReservedBits { rsv: 1 })
        );
        assert_eq!(
            s.check(&hdr(true, 0, 1, false, 0)),
            Err(ProtocolError::UnmaskedFrame)
        );
        assert_eq!(
            s.check(&hdr(false, 0, 9, true, 0)),
            Err(ProtocolError::FragmentedControl { opcode: 9 })
        );
        assert_eq!(
            s.check(&hdr(true, 0, 9, true, 126)),
            Err(ProtocolError::ControlTooLong { len: 126 })
        );
        assert_eq!(
            s.check(&hdr(true, 0, 0xB, true, 0)),
            Err(ProtocolError::ReservedOpcode { opcode: 0xB })
        );
        assert_eq!(
            s.check(&hdr(true, 0, 3, true, 0)),
            Err(ProtocolError::ReservedOpcode { opcode: 3 })
        );
        assert_eq!(
            s.check(&hdr(true, 0, 8, true, 1)),
            Err(ProtocolError::CloseLengthOne)
        );
        assert_eq!(
            s.check(&hdr(true, 0, 0, true, 1)),
            Err(ProtocolError::UnexpectedContinuation)
        );
        assert_eq!(s.check(&hdr(false, 0, 1, true, 1)), Ok(()));
        assert_eq!(
            s.check(&hdr(true, 0, 9, true, 1)),
            Ok(()),
            "control frames may interleave"
        );
        assert_eq!(
            s.check(&hdr(true, 0, 2, true, 1)),
            Err(ProtocolError::ExpectedContinuation { opcode: 2 })
        );
        let mut c = RuleState::new(Role::Client);
        assert_eq!(
            c.check(&hdr(true, 0, 1, true, 0)),
            Err(ProtocolError::MaskedFrame)
        );
    }

    #[test]
    fn negotiated_rsv1_first_frame_only() {
        let mut s = RuleState::new(Role::Server);
        s.rsv_allowed = 4;
        assert_eq!(s.check(&hdr(false, 4, 1, true, 1)), Ok(()));
        assert_eq!(
            s.check(&hdr(true, 4, 0, true, 1)),
            Err(ProtocolError::ReservedBits { rsv: 4 })
        );
        let mut s = RuleState::new(Role::Server);
        s.rsv_allowed = 4;
        assert_eq!(
            s.check(&hdr(true, 4, 9, true, 1)),
            Err(ProtocolError::ReservedBits { rsv: 4 })
        );
        assert_eq!(
            s.check(&hdr(true, 2, 1, true, 1)),
            Err(ProtocolError::ReservedBits { rsv: 2 })
        );
    }
}
