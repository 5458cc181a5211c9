//! WebSocket connections on the runtime: the per-connection driver, async handshakes, a
//! multi-threaded server, a client connector and a request/response client session.

pub mod bufpool;
pub mod client;
pub mod driver;
pub mod flow;
pub mod handshake;
pub mod notify;
mod output;
pub mod pace;
pub mod park;
pub mod server;
pub mod session;

pub use client::{
    connect_many, connect_ws, handshake_ws, ClientError, Opener, WsClient, WsClientOptions,
};
pub use driver::{drive, DriveOptions, DriveOutcome, Handler};
pub use flow::FlowLimits;
pub use notify::LocalNotify;
pub use server::{serve, ServerConfig, ServerHandle, ServerStats, Service, Upgrade};
pub use session::{Session, SessionError};
