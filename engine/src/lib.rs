//! wstest engine.
//!
//! * [`runtime`]: one monoio runtime per core, pinned, io_uring with an epoll fallback,
//!   SO_REUSEPORT listeners, shutdown signalling.
//! * [`net`]: the connection layer: `ws://` / `wss://` URLs, plain TCP and TLS (rustls).
//! * [`proto`]: the sans-IO WebSocket core (RFC 6455): handshake, frames, masking, UTF-8,
//!   close state machine. It never touches a socket, a clock or a runtime.
//! * [`ws`]: drives a [`proto::Connection`] over a [`net::Stream`] on the runtime.
//! * [`stats`]: latency histograms (HdrHistogram), merged across shards.

pub mod net;
pub mod proto;
pub mod runtime;
pub mod stats;
pub mod ws;

pub use proto::{CloseCode, Connection, Event, OpCode, Role};
