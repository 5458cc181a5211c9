//! WAMP v2 (Basic Profile): `wampserver`, a router, and `wampclient`, checks and load against
//! any router.
//!
//! - [`message`]: the messages with their type codes; [`serializer`]: `wamp.2.json` and
//!   `wamp.2.msgpack`; [`uri`]: the predefined URIs and the URI check.
//! - [`router`]: the sans-IO router core (sessions, realms; its Broker and Dealer in
//!   `router/`).
//! - [`server`]: the router on the engine (one router thread, connections on the workers);
//!   [`page`]: its demo page.
//! - [`peer`]: a client session (send, await); [`client`]: the checks; [`load`]: the load.

pub mod client;
pub mod load;
pub mod message;
pub mod page;
pub mod peer;
pub mod router;
pub mod serializer;
pub mod server;
pub mod uri;

pub use client::{WampClientConfig, WampClientReport};
pub use load::{LoadConfig, LoadReport};
pub use message::{Message, MsgType, Payload};
pub use router::{ConnId, Output, Router, RouterConfig, RouterStats};
pub use serializer::Serializer;
pub use server::{RunningWamp, WampServerConfig, WampServerReport};
