//! The connection layer: WebSocket URLs, plain TCP and TLS streams, connecting.

pub mod connect;
pub mod nonblocking;
pub mod sockopt;
pub mod stream;
pub mod tls;
pub mod url;

pub use self::url::{UrlError, WsUrl};
pub use connect::{connect, resolve, ConnectError, ConnectOptions};
pub use stream::Stream;
pub use tls::{client_config, server_config, ClientTls, TlsError};
