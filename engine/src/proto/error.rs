//! Protocol errors: each names the rule that was broken and carries the numbers.
//!
//! [`ProtocolError::close_code`] is the one mapping from an error to the close code sent when
//! the connection is failed.

use super::codes::CloseCode;

/// A violation of RFC 6455 by the peer. Every variant fails the WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("RSV bits {rsv:#05b} set but no extension defining them was negotiated")]
    ReservedBits { rsv: u8 },
    #[error("frame uses reserved opcode {opcode:#x}")]
    ReservedOpcode { opcode: u8 },
    #[error("control frame (opcode {opcode:#x}) is fragmented")]
    FragmentedControl { opcode: u8 },
    #[error("control frame payload is {len} bytes, more than 125")]
    ControlTooLong { len: u64 },
    #[error("continuation frame arrived with no fragmented message to continue")]
    UnexpectedContinuation,
    #[error("data frame with opcode {opcode:#x} arrived inside a fragmented message")]
    ExpectedContinuation { opcode: u8 },
    #[error("close frame payload is 1 byte (must be 0 or at least 2)")]
    CloseLengthOne,
    #[error("close code {code} must not be used in a close frame")]
    InvalidCloseCode { code: u16 },
    #[error("payload length {len} is not minimally encoded (used the {width}-byte form)")]
    NonMinimalLength { len: u64, width: u8 },
    #[error("64-bit payload length has its most significant bit set")]
    LengthOverflow,
    #[error("client-to-server frame is not masked")]
    UnmaskedFrame,
    #[error("server-to-client frame is masked")]
    MaskedFrame,
    #[error("text message is not valid UTF-8 at byte {offset}")]
    InvalidUtf8 { offset: u64 },
    #[error("text message ends inside a UTF-8 sequence (at byte {offset})")]
    TruncatedUtf8 { offset: u64 },
    #[error("close reason is not valid UTF-8")]
    InvalidCloseReason,
    #[error("message of at least {size} bytes exceeds the limit of {limit} bytes")]
    MessageTooBig { size: u64, limit: u64 },
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
    FrameTooBig { size: u64, limit: u64 },
    #[error("compressed data is corrupt: {detail}")]
    BadCompressedData { detail: String },
}

impl ProtocolError {
    /// The close code that reports this error to the peer (RFC 6455 §7.4.1).
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 { .. }
            | ProtocolError::TruncatedUtf8 { .. }
            | ProtocolError::InvalidCloseReason
            | ProtocolError::BadCompressedData { .. } => CloseCode::INVALID_PAYLOAD,
            ProtocolError::MessageTooBig { .. } | ProtocolError::FrameTooBig { .. } => {
                CloseCode::MESSAGE_TOO_BIG
            }
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_code_mapping() {
        assert_eq!(
            ProtocolError::ReservedBits { rsv: 4 }.close_code(),
            CloseCode::PROTOCOL_ERROR
        );
        assert_eq!(
            ProtocolError::InvalidUtf8 { offset: 3 }.close_code(),
            CloseCode::INVALID_PAYLOAD
        );
        assert_eq!(
            ProtocolError::InvalidCloseReason.close_code(),
            CloseCode::INVALID_PAYLOAD
        );
        assert_eq!(
            ProtocolError::MessageTooBig { size: 2, limit: 1 }.close_code(),
            CloseCode::MESSAGE_TOO_BIG
        );
        assert_eq!(
            ProtocolError::InvalidCloseCode { code: 1005 }.close_code(),
            CloseCode::PROTOCOL_ERROR
        );
    }

    #[test]
    fn messages_carry_numbers() {
        let s = ProtocolError::ControlTooLong { len: 126 }.to_string();
        assert!(s.contains("126"), "{s}");
    }
}
