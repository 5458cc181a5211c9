//! Sans-IO WebSocket protocol core (RFC 6455).
//!
//! Bytes in, events out: [`Connection::handle_input`] takes octets read from the transport,
//! [`Connection::poll_event`] yields messages, pings, pongs and closes,
//! [`Connection::take_transmit`] yields octets to write, and [`Connection::poll_timeout`] /
//! [`Connection::handle_timeout`] drive the close-handshake timers with a clock the caller owns.
//! Nothing in here opens a socket, spawns a task or reads the time.

pub mod codes;
pub mod connection;
pub mod decode;
pub mod deflate;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod rules;
pub mod transmit;
pub mod utf8;

pub use codes::{CloseCode, OpCode};
pub use connection::{
    CloseCodePolicy, CloseStatus, Config, Connection, Event, FailPolicy, FrameRecord, Message,
    State, TransportAction,
};
pub use decode::{FrameDecoder, Item};
pub use error::ProtocolError;
pub use frame::{FrameHeader, LengthForm, RawFrame};
pub use rules::RuleState;
pub use utf8::Utf8Validator;

/// Which end of the connection this endpoint is. It decides masking (clients mask, servers
/// do not) and who closes the TCP connection first (the server).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Client,
    Server,
}
