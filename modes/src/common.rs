//! Options shared by the server modes and by the client modes.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wstest_engine::net::{client_config, server_config, ClientTls, ConnectOptions, WsUrl};
use wstest_engine::runtime::RuntimeConfig;
use wstest_engine::ws::{ServerConfig, WsClientOptions};

use crate::{ModeError, Result};

/// What every server mode takes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerOptions {
    /// `ws://HOST:PORT` or `wss://HOST:PORT` to listen on (port 0: any free port).
    pub url: String,
    /// PEM private key and certificate chain; required for wss://.
    pub key: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub runtime: RuntimeConfig,
    pub backlog: i32,
    /// Largest message accepted (octets).
    pub max_message_size: u64,
    /// `Server` header.
    pub ident: Option<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            url: "ws://127.0.0.1:9001".into(),
            key: None,
            cert: None,
            runtime: RuntimeConfig::default(),
            backlog: 1024,
            max_message_size: 64 << 20,
            ident: None,
        }
    }
}

impl ServerOptions {
    pub fn new(url: impl Into<String>) -> Self {
        ServerOptions {
            url: url.into(),
            ..Default::default()
        }
    }

    /// Resolve the listen address and load TLS material.
    pub fn engine_config(&self) -> Result<(ServerConfig, WsUrl)> {
        let url = WsUrl::parse(&self.url)?;
        let addr = resolve_listen(&url)?;
        let mut cfg = ServerConfig::new(addr);
        cfg.runtime = self.runtime.clone();
        cfg.backlog = self.backlog;
        match (&self.key, &self.cert, url.secure) {
            (Some(k), Some(c), true) => cfg.tls = Some(server_config(k, c)?),
            (Some(_), Some(_), false) => {
                return Err(ModeError::Config(format!(
                    "-k/-c given but {url} is not a wss:// URL; use wss://{}",
                    url.authority()
                )))
            }
            (None, None, true) => {
                return Err(ModeError::Config(format!(
                    "{url} is a wss:// URL: give the key and certificate with -k KEY -c CERT"
                )))
            }
            (None, None, false) => {}
            _ => {
                return Err(ModeError::Config(
                    "TLS needs both -k KEY and -c CERT".into(),
                ))
            }
        }
        Ok((cfg, url))
    }
}

/// The address a server URL's host names (the first one it resolves to).
pub fn resolve_listen(url: &WsUrl) -> Result<SocketAddr> {
    let a = url.authority();
    a.to_socket_addrs()
        .map_err(|e| ModeError::Config(format!("cannot resolve listen address {a} of {url}: {e}")))?
        .next()
        .ok_or_else(|| {
            ModeError::Config(format!("listen address {a} of {url} resolves to nothing"))
        })
}

/// What every client mode takes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientOptions {
    /// Extra CA certificates (PEM) to trust for wss://.
    pub cacert: Option<PathBuf>,
    /// Do not verify the server's certificate.
    pub insecure: bool,
    pub runtime: RuntimeConfig,
    /// Seconds to wait for TCP/TLS connect and for the opening handshake.
    pub connect_timeout: Option<f64>,
}

impl ClientOptions {
    /// Engine client options for `url` (TLS configured only for wss://).
    pub fn ws_options(&self, url: &WsUrl) -> Result<WsClientOptions> {
        let mut o = WsClientOptions::default();
        let timeout = Duration::from_secs_f64(self.connect_timeout.unwrap_or(10.0).max(0.001));
        o.connect = ConnectOptions {
            timeout,
            tls: None,
            addr: None,
        };
        o.handshake_timeout = timeout;
        if url.secure {
            let tls: Arc<rustls::ClientConfig> = client_config(&ClientTls {
                cacert: self.cacert.clone(),
                insecure: self.insecure,
            })?;
            o.connect.tls = Some(tls);
        }
        Ok(o)
    }
}
