//! Opening a client WebSocket connection: connect (TCP, TLS) and handshake.

use std::time::Duration;

use rand::Rng;

use crate::net::{connect, ConnectError, ConnectOptions, Stream, WsUrl};
use crate::proto::deflate::{self, DeflateConfig};

use crate::proto::handshake::{
    ClientHandshake, ClientOptions, HandshakeError, RequestTemplate, Response,
};
use crate::proto::{Config, Connection, Role};

use super::bufpool;
use super::driver::{drive, DriveOptions, DriveOutcome, Handler};
use super::handshake::client_handshake;

#[derive(Clone)]
pub struct WsClientOptions {
    pub connect: ConnectOptions,
    pub origin: Option<String>,
    pub protocols: Vec<String>,
    /// Sec-WebSocket-Extensions offer as written. When it offers permessage-deflate and
    /// `deflate` is `None`, a valid answer is taken as written (the fuzzer's way).
    pub extensions: Option<String>,
    /// Offer permessage-deflate with these settings (used when `extensions` is `None`) and
    /// hold the server's answer to them (RFC 7692 §7.1).
    pub deflate: Option<DeflateConfig>,
    pub user_agent: Option<String>,
    pub extra_headers: Vec<(String, String)>,
    pub handshake_timeout: Duration,
    /// Connection settings (the role is forced to client).
    pub config: Config,
}

impl Default for WsClientOptions {
    fn default() -> Self {
        WsClientOptions {
            connect: ConnectOptions::default(),
            origin: None,
            protocols: Vec::new(),
            extensions: None,
            deflate: None,
            user_agent: Some(concat!("wstest/", env!("CARGO_PKG_VERSION")).to_string()),
            extra_headers: Vec::new(),
            handshake_timeout: Duration::from_secs(5),
            config: Config::new(Role::Client),
        }
    }
}

/// An open client connection, ready for [`super::drive`].
pub struct WsClient {
    pub stream: Stream,
    pub conn: Connection,
    pub response: Response,
    /// WebSocket octets that arrived with the handshake response.
    pub leftover: Vec<u8>,
    /// The request head we sent.
    pub request: Vec<u8>,
}

impl WsClient {
    /// Drive this connection with `handler` until it is closed (see [`drive`]).
    pub async fn run<H: Handler>(self, handler: &mut H, opts: &DriveOptions) -> DriveOutcome {
        let mut conn = self.conn;
        drive(self.stream, &mut conn, self.leftover, handler, opts).await
    }

    /// Drive this connection on a task of its own on the current runtime; the handler goes
    /// with it (a shard it shares with its siblings keeps what they measured).
    pub fn spawn<H: Handler + 'static>(
        self,
        mut handler: H,
        opts: DriveOptions,
    ) -> monoio::task::JoinHandle<DriveOutcome> {
        monoio::spawn(async move { self.run(&mut handler, &opts).await })
    }
}

/// Open `n` connections to `url` from this thread, at most `batch` at once (a burst a
/// small server's SYN queue takes), until `stop` says so between batches. Returns those
/// that opened and the first error of those that did not.
pub async fn connect_many(
    url: &WsUrl,
    opts: &WsClientOptions,
    n: usize,
    batch: usize,
    stop: impl Fn() -> bool,
) -> (Vec<WsClient>, Option<ClientError>) {
    let mut open = Vec::with_capacity(n);
    let mut first_error = None;
    let mut left = n;
    while left > 0 && !stop() {
        let now = left.min(batch.max(1));
        left -= now;
        let tasks: Vec<_> = (0..now)
            .map(|_| {
                let (url, opts) = (url.clone(), opts.clone());
                monoio::spawn(async move { connect_ws(&url, &opts).await })
            })
            .collect();
        for t in tasks {
            match t.await {
                Ok(c) => open.push(c),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    (open, first_error)
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("handshake with {url} failed: {source}")]
    Handshake { url: String, source: HandshakeError },
}

impl ClientError {
    /// A short kind name for error tallies.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::Connect(ConnectError::Tcp { source, .. }) => {
                socket_kind(source.kind()).unwrap_or("connect")
            }
            ClientError::Connect(ConnectError::Timeout { .. }) => "connect-timeout",
            ClientError::Connect(ConnectError::Resolve { .. }) => "resolve",
            ClientError::Connect(_) => "tls",
            ClientError::Handshake {
                source: HandshakeError::Timeout,
                ..
            } => "handshake-timeout",
            ClientError::Handshake {
                source: HandshakeError::Status { .. },
                ..
            } => "http-status",
            ClientError::Handshake {
                source: HandshakeError::Io { kind, .. },
                ..
            } => socket_kind(*kind).unwrap_or("handshake"),
            ClientError::Handshake { .. } => "handshake",
        }
    }
}

/// The tally name of a socket failure, at connect or during the handshake (with TCP Fast
/// Open a refusal is first seen by the handshake's write or read).
fn socket_kind(kind: std::io::ErrorKind) -> Option<&'static str> {
    match kind {
        std::io::ErrorKind::ConnectionRefused => Some("refused"),
        std::io::ErrorKind::AddrNotAvailable => Some("addr-not-available"),
        std::io::ErrorKind::ConnectionReset => Some("reset"),
        _ => None,
    }
}

/// Connect to `url` and perform the opening handshake.
pub async fn connect_ws(url: &WsUrl, opts: &WsClientOptions) -> Result<WsClient, ClientError> {
    let stream = connect(url, &opts.connect).await?;
    handshake_ws(stream, url, opts).await
}

/// The handshake options `opts` ask for at `url`.
fn handshake_options(url: &WsUrl, opts: &WsClientOptions) -> ClientOptions {
    let mut ho = ClientOptions::new(url.host_header(), url.resource.clone());
    ho.origin = opts.origin.clone();
    ho.protocols = opts.protocols.clone();
    ho.extensions = opts
        .extensions
        .clone()
        .or_else(|| opts.deflate.as_ref().map(deflate::client_offer));
    ho.user_agent = opts.user_agent.clone();
    ho.extra_headers = opts.extra_headers.clone();
    ho
}

/// Send `request` and read the answer with `parse`, within `timeout`.
async fn exchange<T>(
    stream: &mut Stream,
    url: &WsUrl,
    request: Vec<u8>,
    parse: impl FnMut(&[u8]) -> Result<Option<(T, usize)>, HandshakeError>,
    timeout: Duration,
) -> Result<(T, Vec<u8>), ClientError> {
    let hs_err = |source| ClientError::Handshake {
        url: url.to_string(),
        source,
    };
    match monoio::time::timeout(timeout, client_handshake(stream, request, parse)).await {
        Err(_) => Err(hs_err(HandshakeError::Timeout)),
        Ok(r) => r.map_err(hs_err),
    }
}

/// Many opening handshakes with the same options (massconnect): the request is built once
/// and only its key changes, and no protocol state is made (the caller holds the socket and
/// makes a `Connection` only if it needs one). Offers no extension (the options' `deflate`
/// and `extensions` are left out), so the connection is plain RFC 6455 framing.
pub struct Opener {
    url: WsUrl,
    template: RequestTemplate,
    timeout: Duration,
}

impl Opener {
    pub fn new(url: &WsUrl, opts: &WsClientOptions) -> Self {
        let mut ho = handshake_options(url, opts);
        ho.extensions = None;
        Opener {
            url: url.clone(),
            template: RequestTemplate::new(ho),
            timeout: opts.handshake_timeout,
        }
    }

    /// The opening handshake over a connected `stream`: the stream and the octets that
    /// came after the server's answer. The answer is checked in place and nothing of it is
    /// kept; the request and the answer share one of the thread's spare buffers, so a
    /// handshake allocates nothing (leftover octets aside).
    pub async fn handshake(&self, mut stream: Stream) -> Result<(Stream, Vec<u8>), ClientError> {
        let mut request = bufpool::take();
        let hs = self
            .template
            .write_request(rand::rng().random(), &mut request);
        let check = |b: &[u8]| Ok(hs.check_response(b)?.map(|n| ((), n)));
        let (_, leftover) = exchange(&mut stream, &self.url, request, check, self.timeout).await?;
        Ok((stream, leftover))
    }
}

/// The opening handshake over a connected `stream` (TCP, or TLS already set up).
pub async fn handshake_ws(
    mut stream: Stream,
    url: &WsUrl,
    opts: &WsClientOptions,
) -> Result<WsClient, ClientError> {
    let hs = ClientHandshake::new(handshake_options(url, opts), rand::rng().random());
    let request = hs.request();
    let (response, leftover) = exchange(
        &mut stream,
        url,
        request.clone(),
        |b| hs.parse_response(b),
        opts.handshake_timeout,
    )
    .await?;
    let hs_err = |source| ClientError::Handshake {
        url: url.to_string(),
        source,
    };
    let mut cfg = opts.config.clone();
    cfg.role = Role::Client;
    let params =
        deflate::negotiated(&response.extensions, opts.deflate.as_ref()).map_err(hs_err)?;
    // With our own settings, they give the level and threshold; with a caller-written offer,
    // `config`'s own `deflate_level` and `deflate_threshold` stay.
    match (params, &opts.deflate) {
        (Some(p), Some(d)) => cfg.set_deflate(p, d),
        (Some(p), None) => cfg.deflate = Some(p),
        (None, _) => {}
    }
    Ok(WsClient {
        stream,
        conn: Connection::new(cfg),
        response,
        leftover,
        request,
    })
}
