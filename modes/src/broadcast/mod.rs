//! broadcastserver and broadcastclient, and the fan-out measurement.

pub mod client;
pub mod fanout;
pub mod hub;
mod page;
pub mod server;

pub use client::{run_client, BroadcastClientConfig, BroadcastClientReport};
pub use fanout::{run_fanout, FanoutConfig, FanoutReport};
pub use server::{run_server, start, BroadcastReport, BroadcastServerConfig, RunningBroadcast};
