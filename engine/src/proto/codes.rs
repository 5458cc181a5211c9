//! Wire codes as newtypes: [`OpCode`] (4 bits) and [`CloseCode`] (16 bits).
//!
//! Both can hold any value the wire can carry, including reserved and forbidden ones, so that
//! the fuzzer can send them; the checks that reject them live in [`super::rules`].

use std::fmt;

/// A frame opcode (RFC 6455 §5.2). Any 4-bit value is representable.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct OpCode(pub u8);

impl OpCode {
    pub const CONTINUATION: OpCode = OpCode(0x0);
    pub const TEXT: OpCode = OpCode(0x1);
    pub const BINARY: OpCode = OpCode(0x2);
    pub const CLOSE: OpCode = OpCode(0x8);
    pub const PING: OpCode = OpCode(0x9);
    pub const PONG: OpCode = OpCode(0xA);

    /// Control frames have the most significant opcode bit set (§5.5).
    pub fn is_control(self) -> bool {
        self.0 & 0x8 != 0
    }

    /// %x3-7 and %xB-F are reserved (§5.2).
    pub fn is_reserved(self) -> bool {
        matches!(self.0, 0x3..=0x7 | 0xB..=0xF)
    }

    pub fn name(self) -> &'static str {
        match self.0 {
            0x0 => "continuation",
            0x1 => "text",
            0x2 => "binary",
            0x8 => "close",
            0x9 => "ping",
            0xA => "pong",
            0x3..=0x7 => "reserved-data",
            _ => "reserved-control",
        }
    }
}

impl fmt::Debug for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpCode({}:{})", self.0, self.name())
    }
}

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A close status code (RFC 6455 §7.4). Any 16-bit value is representable.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct CloseCode(pub u16);

impl CloseCode {
    pub const NORMAL: CloseCode = CloseCode(1000);
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// Never on the wire: "no status code was present".
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// Never on the wire: "closed without a Close frame".
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// Never on the wire: "TLS handshake failed".
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// May this code appear in a Close frame?
    ///
    /// RFC 6455 §7.4.1 defines 1000-1003 and 1007-1011; the IANA "WebSocket Close Code Number
    /// Registry" (§11.7) later added 1012 (service restart), 1013 (try again later) and 1014
    /// (bad gateway). 1004 is reserved, 1005/1006/1015 "MUST NOT be set as a status code in a
    /// Close control frame", 0-999 are unused, 1016-2999 are reserved for future RFCs, and
    /// 3000-4999 belong to libraries, frameworks and applications (§7.4.2).
    ///
    /// Autobahn 0.10 rejects 1012-1014 as well; we accept them, as the registry does.
    pub fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    pub fn as_u16(self) -> u16 {
        self.0
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u16> for CloseCode {
    fn from(v: u16) -> Self {
        CloseCode(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcode_classes() {
        for v in 0u8..16 {
            let op = OpCode(v);
            assert_eq!(op.is_control(), v >= 8, "{v}");
            assert_eq!(
                op.is_reserved(),
                !matches!(v, 0 | 1 | 2 | 8 | 9 | 10),
                "{v}"
            );
        }
    }

    #[test]
    fn sendable_close_codes() {
        let ok = [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ];
        let bad = [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ];
        for c in ok {
            assert!(CloseCode(c).is_sendable(), "{c}");
        }
        for c in bad {
            assert!(!CloseCode(c).is_sendable(), "{c}");
        }
    }
}
