//! Connection settings: what the connection does on its own (pongs, close replies, failing)
//! and the policies that choose between RFC 6455's behaviour and Autobahn 0.10's.

use std::time::Duration;

use crate::proto::codes::CloseCode;
use crate::proto::deflate::{DeflateConfig, DeflateParams};
use crate::proto::Role;

/// How this endpoint fails a connection when the peer breaks the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailPolicy {
    /// RFC 6455 §7.1.7: send a Close frame carrying the error's code, then close the TCP
    /// connection without processing more input (what arrives is drained and discarded until
    /// the peer closes or the linger timeout passes).
    CloseThenDrain,
    /// Send the Close frame, then drop the TCP connection on the next input or when the close
    /// timeout passes (what Autobahn 0.10 does with `failByDrop = false`).
    CloseThenDropOnInput,
    /// Drop the TCP connection without a Close frame (`failByDrop = true`).
    Drop,
}

/// Connection settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub role: Role,
    /// Largest message accepted, in octets; 0 = no limit. Larger ones fail with 1009.
    pub max_message_size: u64,
    /// Validate text messages and close reasons as UTF-8 (1007 on failure).
    pub validate_utf8: bool,
    /// Answer every ping with a pong.
    pub auto_pong: bool,
    /// Answer a peer's Close with a Close.
    pub auto_close_reply: bool,
    /// In the Close reply, repeat the peer's code (else send 1000). The reason is not echoed.
    pub echo_close_code: bool,
    pub fail_policy: FailPolicy,
    /// After sending a Close first: how long to wait for the peer's Close.
    pub close_timeout: Duration,
    /// After the close handshake (or after failing): how long to wait for the peer to close
    /// the TCP connection before closing it ourselves.
    pub linger_timeout: Duration,
    /// Emit [`super::Event::Frame`] / [`super::Event::FrameSent`] for every frame (for wire logs).
    pub record_frames: bool,
    /// Include the payloads in those records (else they are empty).
    pub record_payloads: bool,
    /// Mask outgoing frames; `None` decides by role (clients mask).
    pub mask_outgoing: Option<bool>,
    /// Enforce the masking direction rule on received frames.
    pub check_masking: bool,
    /// Which close codes a received Close frame may carry.
    pub close_codes: CloseCodePolicy,
    /// The first two pieces of a burst of segmented writes share one write, as Autobahn
    /// 0.10's writes reach the wire (see [`crate::proto::transmit::Transmit::push_segments`]).
    pub pair_burst_start: bool,
    /// (Client) after answering the server's Close, wait at most `linger_timeout` for the
    /// server to close TCP. Off: wait for the application (Autobahn 0.10 sets no timer here).
    pub linger_after_peer_close: bool,
    /// permessage-deflate, as negotiated in the handshake.
    pub deflate: Option<DeflateParams>,
    /// Messages shorter than this go uncompressed.
    pub deflate_threshold: usize,
    pub deflate_level: u32,
    /// Store large messages for a while when compressing them does not pay
    /// ([`crate::proto::deflate::Deflater::adaptive`]).
    pub deflate_adaptive: bool,
}

/// Which close codes are accepted in a received Close frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloseCodePolicy {
    /// RFC 6455 §7.4 plus the IANA registry: 1000-1003, 1007-1014, 3000-4999.
    Registry,
    /// What Autobahn 0.10 accepts: 1000-1003, 1007-1011, 3000-4999 (it predates 1012-1014).
    Autobahn,
}

impl CloseCodePolicy {
    pub fn accepts(self, code: u16) -> bool {
        match self {
            CloseCodePolicy::Registry => CloseCode(code).is_sendable(),
            CloseCodePolicy::Autobahn => matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999),
        }
    }
}

impl Config {
    /// Turn permessage-deflate on with the negotiated parameters and our settings.
    pub fn set_deflate(&mut self, params: DeflateParams, ours: &DeflateConfig) {
        self.deflate = Some(params);
        self.deflate_threshold = ours.threshold;
        self.deflate_level = ours.level;
    }

    pub fn new(role: Role) -> Self {
        Config {
            role,
            max_message_size: 64 << 20,
            validate_utf8: true,
            auto_pong: true,
            auto_close_reply: true,
            echo_close_code: true,
            fail_policy: FailPolicy::CloseThenDrain,
            close_timeout: Duration::from_secs(1),
            linger_timeout: Duration::from_secs(1),
            record_frames: false,
            record_payloads: true,
            mask_outgoing: None,
            check_masking: true,
            close_codes: CloseCodePolicy::Registry,
            pair_burst_start: false,
            linger_after_peer_close: true,
            deflate: None,
            deflate_threshold: 0,
            deflate_level: 6,
            deflate_adaptive: false,
        }
    }
}
