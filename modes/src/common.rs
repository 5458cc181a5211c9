//! Options shared by the server modes and by the client modes.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wstest_engine::net::{client_config, server_config, ClientTls, ConnectOptions, WsUrl};
use wstest_engine::proto::deflate::{self, DeflateConfig};
use wstest_engine::proto::handshake::Request;
use wstest_engine::proto::Config;
use wstest_engine::runtime::RuntimeConfig;
use wstest_engine::ws::{FlowLimits, ServerConfig, WsClientOptions};

use crate::error::ConfigError;
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
    /// Accept permessage-deflate offers with these settings (`None`: never).
    pub deflate: Option<DeflateConfig>,
    /// What a connection may queue for a client that does not read (`--max-queued`,
    /// `--stall-timeout`).
    pub flow: FlowLimits,
    /// Share a port another server already listens on (`--reuse-port`).
    pub share_port: bool,
    /// Listen on this address instead of the URL's host (`--bind`, `WSTEST_BIND`; the
    /// original listens on every interface whatever its URL says, and stock configs in
    /// containers rely on that).
    pub bind: Option<std::net::IpAddr>,
    /// Seconds a plain connection stays quiet before it is set aside without a task or read
    /// buffer (echo, testee and broadcast servers; `--park-after`, 0: never).
    pub park_after: f64,
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
            deflate: Some(DeflateConfig::default()),
            flow: FlowLimits::default(),
            share_port: false,
            bind: None,
            park_after: wstest_engine::ws::server::DEFAULT_PARK_AFTER.as_secs_f64(),
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
        // With --bind the URL's host need not resolve here (a name only the clients know).
        let addr = match self.bind {
            Some(ip) => SocketAddr::new(ip, url.port),
            None => resolve_listen(&url)?,
        };
        let mut cfg = ServerConfig::new(addr);
        cfg.runtime = self.runtime.clone();
        cfg.backlog = self.backlog;
        cfg.flow = self.flow;
        cfg.share_port = self.share_port;
        cfg.park_after = (self.park_after > 0.0).then(|| Duration::from_secs_f64(self.park_after));
        match (&self.key, &self.cert, url.secure) {
            (Some(k), Some(c), true) => cfg.tls = Some(server_config(k, c)?),
            (Some(_), Some(_), false) => {
                return Err(ModeError::usage(format!(
                    "-k/-c given but {url} is not a wss:// URL; use wss://{}",
                    url.authority()
                )))
            }
            (None, None, true) => {
                return Err(ModeError::usage(format!(
                    "{url} is a wss:// URL: give the key and certificate with -k KEY -c CERT"
                )))
            }
            (None, None, false) => {}
            _ => return Err(ModeError::usage("TLS needs both -k KEY and -c CERT")),
        }
        Ok((cfg, url))
    }
}

/// The answer of a mode that serves one page: the page (made by `page`) at `/` and
/// `/index.html` (a query string is ignored), 404 for anything else.
pub fn page_response(resource: &str, name: Option<&str>, page: impl FnOnce() -> String) -> Vec<u8> {
    use wstest_engine::proto::handshake::server::http_response;
    match resource.split('?').next().unwrap_or("/") {
        "/" | "/index.html" => http_response(
            200,
            "OK",
            "text/html; charset=utf-8",
            page().as_bytes(),
            &[],
            name,
        ),
        _ => http_response(404, "Not Found", "text/plain", b"not found\n", &[], name),
    }
}

/// The address a server URL's host names (the first one it resolves to).
pub fn resolve_listen(url: &WsUrl) -> Result<SocketAddr> {
    let a = url.authority();
    a.to_socket_addrs()
        .map_err(|e| {
            ModeError::Config(ConfigError::Address {
                address: a.clone(),
                problem: format!("cannot resolve listen address {a} of {url}: {e}"),
            })
        })?
        .next()
        .ok_or_else(|| {
            ModeError::Config(ConfigError::Address {
                address: a.clone(),
                problem: format!("listen address {a} of {url} resolves to nothing"),
            })
        })
}

/// Does something accept TCP connections at `uri`'s host and port (within 500 ms)? Used to
/// decide whether a generated template's target is up or a stand-in must be started.
pub fn answers(uri: &str) -> bool {
    let Ok(u) = WsUrl::parse(uri) else {
        return false;
    };
    let Ok(addr) = wstest_engine::net::connect::resolve(&u) else {
        return false;
    };
    std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
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
    /// Offer permessage-deflate with these settings (`None`: no offer).
    pub deflate: Option<DeflateConfig>,
}

impl ClientOptions {
    /// Engine client options for `url` (TLS configured only for wss://).
    pub fn ws_options(&self, url: &WsUrl) -> Result<WsClientOptions> {
        let mut o = WsClientOptions::default();
        let timeout = Duration::from_secs_f64(self.connect_timeout.unwrap_or(10.0).max(0.001));
        o.connect = ConnectOptions {
            timeout,
            ..Default::default()
        };
        o.handshake_timeout = timeout;
        o.deflate = self.deflate.clone();
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

/// Server side of permessage-deflate: accept the first acceptable offer of `req` (when `ours`
/// is set), turn compression on in `config` and return the response header value.
pub fn accept_deflate(
    req: &Request,
    ours: Option<&DeflateConfig>,
    config: &mut Config,
) -> Option<String> {
    let ours = ours?;
    let (params, header) = deflate::server_accept(&req.extensions, ours)?;
    config.set_deflate(params, ours);
    Some(header)
}

/// The `--deflate*` command-line switches, turned into engine settings.
#[derive(Clone, Debug, Default)]
pub struct DeflateSwitches {
    /// `--deflate on|off`; `None`: the mode's default.
    pub on: Option<bool>,
    /// `--deflate-window-bits N` (8-15): limits both directions' windows.
    pub window_bits: Option<u8>,
    /// `--deflate-no-context-takeover`: reset the compression context after every message,
    /// both directions.
    pub no_context_takeover: bool,
    /// `--deflate-threshold N`: messages shorter than N octets go uncompressed.
    pub threshold: usize,
    /// `--deflate-level N` (0-9).
    pub level: Option<u32>,
}

impl DeflateSwitches {
    /// The settings, or `None` when permessage-deflate is off (`default_on`: the mode's
    /// default when `--deflate` is not given).
    pub fn config(&self, default_on: bool) -> Result<Option<DeflateConfig>> {
        if !self.on.unwrap_or(default_on) {
            return Ok(None);
        }
        if let Some(b) = self.window_bits.filter(|b| !(8..=15).contains(b)) {
            return Err(ModeError::Config(ConfigError::Option {
                option: "--deflate-window-bits",
                problem: format!("{b}: a window size must be 8 to 15"),
            }));
        }
        if let Some(l) = self.level.filter(|l| *l > 9) {
            return Err(ModeError::Config(ConfigError::Option {
                option: "--deflate-level",
                problem: format!("{l}: a zlib level must be 0 to 9"),
            }));
        }
        let mut c = DeflateConfig {
            threshold: self.threshold,
            level: self.level.unwrap_or(6),
            ..DeflateConfig::default()
        };
        if let Some(b) = self.window_bits {
            c.server_max_window_bits = Some(b);
            c.client_max_window_bits = Some(b);
        }
        if self.no_context_takeover {
            c.server_no_context_takeover = true;
            c.client_no_context_takeover = true;
        }
        Ok(Some(c))
    }
}

/// Parse `on`/`off` (and their usual synonyms).
pub fn parse_on_off(v: &str) -> std::result::Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" | "1" => Ok(true),
        "off" | "no" | "false" | "0" => Ok(false),
        _ => Err(format!("{v:?} is not on or off")),
    }
}
