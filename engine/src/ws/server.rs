//! A multi-threaded WebSocket server: one SO_REUSEPORT listener and one accept loop per
//! worker thread; each connection is a task on the thread that accepted it, and a plain
//! connection that has been quiet for [`ServerConfig::park_after`] is set aside in the
//! thread's lot ([`super::park`]) until its peer sends again.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio::net::{TcpListener, TcpStream};

use crate::net::Stream;
use crate::proto::handshake::server::{accept_response, error_response, http_response};
use crate::proto::handshake::{
    validate_upgrade, HandshakeError, HttpHead, Request, DEFAULT_MAX_HEAD,
};
use crate::proto::{Config, Connection};
use crate::runtime::{
    bind_reuseport, check_port_free, spawn_workers, BindError, RuntimeConfig, Shutdown, Tuning,
    WorkerError, Workers,
};

use super::driver::{drive_until, quiet, DriveOptions, Driven, Handler, Rejoin};
use super::flow::FlowLimits;
use super::handshake::{read_head_only, send};
use super::park::{Lot, Parked, Woken};

/// Listener and connection settings.
#[derive(Clone)]
pub struct ServerConfig {
    pub addr: SocketAddr,
    pub runtime: RuntimeConfig,
    pub backlog: i32,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub handshake_timeout: Duration,
    pub max_head: usize,
    pub read_buf: usize,
    /// How long to wait for open connections to close after shutdown.
    pub drain_timeout: Duration,
    /// See [`DriveOptions::sync_pause`].
    pub sync_pause: Duration,
    /// See [`DriveOptions::flow`].
    pub flow: FlowLimits,
    /// Join a port other listeners (other processes) already have, on purpose (SO_REUSEPORT
    /// shares its connections out); otherwise a taken port is an error.
    pub share_port: bool,
    /// Set a plain connection aside after it has been quiet this long, when its handler
    /// allows it ([`Handler::parkable`]); `None`: never.
    pub park_after: Option<Duration>,
}

impl ServerConfig {
    pub fn new(addr: SocketAddr) -> Self {
        ServerConfig {
            addr,
            runtime: RuntimeConfig::default(),
            backlog: 1024,
            tls: None,
            handshake_timeout: Duration::from_secs(5),
            max_head: DEFAULT_MAX_HEAD,
            read_buf: 256 * 1024,
            drain_timeout: Duration::from_secs(3),
            sync_pause: Duration::ZERO,
            flow: FlowLimits::default(),
            share_port: false,
            park_after: Some(DEFAULT_PARK_AFTER),
        }
    }
}

/// How long a connection is quiet before it is set aside, unless configured.
pub const DEFAULT_PARK_AFTER: Duration = Duration::from_secs(1);

/// The server's answer to an upgrade request.
pub enum Upgrade<H> {
    Accept {
        handler: H,
        config: Config,
        protocol: Option<String>,
        extensions: Option<String>,
    },
    /// Refuse with this status and a one-line text body.
    Reject { status: u16, reason: String },
    /// Answer with this complete HTTP response.
    Respond(Vec<u8>),
}

/// What a server mode provides: a decision per upgrade request, and the per-connection
/// handler that runs once accepted. Shared by all worker threads.
pub trait Service: Send + Sync + 'static {
    type Handler: Handler + 'static;
    fn upgrade(&self, req: &Request, peer: SocketAddr) -> Upgrade<Self::Handler>;
    /// A plain HTTP request (not an upgrade): the complete response, or `None` for the
    /// default answer (426, "this is a WebSocket endpoint").
    fn http(&self, _head: &HttpHead, _peer: SocketAddr) -> Option<Vec<u8>> {
        None
    }
    /// `Server` header value.
    fn server_name(&self) -> Option<&str> {
        None
    }
}

/// Per-worker counters, summed at the end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServerStats {
    pub accepted: u64,
    pub tls_failed: u64,
    pub handshakes_failed: u64,
    pub connections: u64,
    pub protocol_errors: u64,
    /// Closed with 1008: the peer did not read and its output queue stayed above the
    /// high-water mark past the stall timeout.
    pub stalled: u64,
    /// Times a quiet connection was set aside without a task ([`ServerConfig::park_after`]).
    pub set_aside: u64,
    pub rx_messages: u64,
    pub tx_messages: u64,
    pub rx_octets: u64,
    pub tx_octets: u64,
}

impl ServerStats {
    pub fn merge(&mut self, o: &ServerStats) {
        self.accepted += o.accepted;
        self.tls_failed += o.tls_failed;
        self.handshakes_failed += o.handshakes_failed;
        self.connections += o.connections;
        self.protocol_errors += o.protocol_errors;
        self.stalled += o.stalled;
        self.set_aside += o.set_aside;
        self.rx_messages += o.rx_messages;
        self.tx_messages += o.tx_messages;
        self.rx_octets += o.rx_octets;
        self.tx_octets += o.tx_octets;
    }
}

/// A running server.
pub struct ServerHandle {
    pub local_addr: SocketAddr,
    pub shutdown: Shutdown,
    workers: Workers<ServerStats>,
}

impl ServerHandle {
    pub fn driver(&self) -> crate::runtime::Driver {
        self.workers.driver
    }

    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Ask the server to stop: it stops accepting, closes open connections with 1001.
    pub fn stop(&self) {
        self.shutdown.trigger();
    }

    /// Wait for the server to stop (after [`ServerHandle::stop`] or a signal).
    pub fn join(self) -> Result<ServerStats, WorkerError> {
        let mut total = ServerStats::default();
        for s in self.workers.join()? {
            total.merge(&s);
        }
        Ok(total)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error("cannot start worker threads: {0}")]
    Spawn(std::io::Error),
}

/// Cut an HTTP response to its head (status line and header fields, Content-Length kept).
fn head_only(resp: &mut Vec<u8>) {
    if let Some(end) = resp.windows(4).position(|w| w == b"\r\n\r\n") {
        resp.truncate(end + 4);
    }
}

/// Bind and start serving on every worker thread. Returns once listening.
pub fn serve<S: Service>(
    cfg: ServerConfig,
    service: Arc<S>,
    shutdown: Shutdown,
) -> Result<ServerHandle, ServeError> {
    let threads = cfg.runtime.thread_count();
    if !cfg.share_port {
        check_port_free(cfg.addr)?;
    }
    let listeners = bind_reuseport(cfg.addr, threads, cfg.backlog, Tuning::SERVER)?;
    let local_addr = listeners[0].local_addr().map_err(|source| BindError {
        addr: cfg.addr,
        source,
    })?;
    let cfg = Arc::new(cfg);
    let runtime = cfg.runtime.clone();
    let workers = spawn_workers(
        &runtime,
        shutdown.clone(),
        listeners,
        move |ctx, std_listener| {
            let cfg = cfg.clone();
            let service = service.clone();
            async move { accept_loop(cfg, service, std_listener, ctx.shutdown).await }
        },
    )
    .map_err(ServeError::Spawn)?;
    Ok(ServerHandle {
        local_addr,
        shutdown,
        workers,
    })
}

/// What one worker thread's connections share: settings, counters, the lot.
struct Shard<S: Service> {
    cfg: Arc<ServerConfig>,
    service: Arc<S>,
    shutdown: Shutdown,
    stats: RefCell<ServerStats>,
    /// Connections accepted and not yet over (set aside ones included).
    live: Cell<usize>,
    lot: Option<Rc<Lot<S::Handler>>>,
}

async fn accept_loop<S: Service>(
    cfg: Arc<ServerConfig>,
    service: Arc<S>,
    std_listener: std::net::TcpListener,
    shutdown: Shutdown,
) -> ServerStats {
    let listener = match TcpListener::from_std(std_listener) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("wstest: cannot register listener: {e}");
            return ServerStats::default();
        }
    };
    let lot = match cfg.park_after {
        None => None,
        Some(_) => match Lot::new() {
            Ok(l) => Some(Rc::new(l)),
            Err(e) => {
                log::warn!("idle connections stay in tasks: cannot make an epoll instance: {e}");
                None
            }
        },
    };
    let acceptor = cfg.tls.clone().map(monoio_rustls::TlsAcceptor::from);
    let shard = Rc::new(Shard {
        cfg,
        service,
        shutdown: shutdown.clone(),
        stats: RefCell::new(ServerStats::default()),
        live: Cell::new(0),
        lot: lot.clone(),
    });
    if let Some(lot) = lot {
        let sh = shard.clone();
        monoio::spawn(lot.run(shutdown.clone(), move |p| {
            monoio::spawn(rejoin(sh.clone(), p));
        }));
    }
    let mut accept_errors = 0u64;
    let mut last_accept_log = None;
    loop {
        monoio::select! {
            _ = shutdown.wait() => break,
            r = listener.accept() => match r {
                Ok((tcp, peer)) => {
                    // TCP_NODELAY comes from the listener (accepted sockets inherit it on
                    // Linux): no setsockopt per connection.
                    shard.stats.borrow_mut().accepted += 1;
                    shard.live.set(shard.live.get() + 1);
                    monoio::spawn(serve_conn(shard.clone(), tcp, peer, acceptor.clone()));
                }
                Err(e) => {
                    // EMFILE and friends: report (once per 5 s, with a count), back off a
                    // little, keep serving.
                    accept_errors += 1;
                    if last_accept_log.is_none_or(|t: std::time::Instant| t.elapsed() >= Duration::from_secs(5)) {
                        log::warn!("accept failed ({accept_errors} times so far): {e}");
                        last_accept_log = Some(std::time::Instant::now());
                    }
                    monoio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
    // Give open connections time to finish their closing handshakes.
    let until = Instant::now() + shard.cfg.drain_timeout;
    while shard.live.get() > 0 && Instant::now() < until {
        monoio::time::sleep(Duration::from_millis(10)).await;
    }
    let s = *shard.stats.borrow();
    s
}

/// A connection whose opening handshake succeeded: what driving it needs.
struct Opened<H> {
    stream: Stream,
    handler: H,
    config: Config,
    leftover: Vec<u8>,
}

async fn serve_conn<S: Service>(
    shard: Rc<Shard<S>>,
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: Option<monoio_rustls::TlsAcceptor>,
) {
    // Boxed: the TLS and HTTP state of the opening handshake (timers, parser, TLS
    // acceptor) is freed before the connection is driven, so a long-lived connection's task
    // holds only what driving needs.
    let f = Box::pin(open_conn(
        &shard.cfg,
        &*shard.service,
        tcp,
        peer,
        acceptor,
        &shard.stats,
    ));
    let Some(Opened {
        stream,
        handler,
        config,
        leftover,
    }) = f.await
    else {
        shard.live.set(shard.live.get() - 1);
        return;
    };
    let conn = Box::new(Connection::new(config));
    run_conn(&shard, stream, conn, handler, leftover, None).await;
}

/// A set-aside connection goes back to a task.
async fn rejoin<S: Service>(shard: Rc<Shard<S>>, p: Woken<S::Handler>) {
    let Woken {
        fd,
        mut conn,
        mut handler,
        rest,
    } = p;
    match TcpStream::from_std(std::net::TcpStream::from(fd)) {
        Ok(tcp) => {
            run_conn(
                &shard,
                Stream::Plain(tcp),
                conn,
                handler,
                Vec::new(),
                Some(Rejoin { rest }),
            )
            .await
        }
        Err(e) => {
            // The runtime would not take the socket back: the connection is lost.
            log::warn!("a set-aside connection could not be taken up again: {e}");
            conn.handle_eof();
            handler.on_closed(conn.close_status(), conn.counters());
            shard.live.set(shard.live.get() - 1);
        }
    }
}

/// Drive an open connection until it closes (then count it) or is set aside. A connection
/// fresh from its opening handshake with nothing received yet is set aside at once when its
/// handler allows it (a server that holds many idle clients then never has a task and a read
/// buffer for each of them at the same time); else after [`ServerConfig::park_after`] quiet.
async fn run_conn<S: Service>(
    shard: &Shard<S>,
    mut stream: Stream,
    mut conn: Box<Connection>,
    mut handler: S::Handler,
    mut initial: Vec<u8>,
    mut rejoin: Option<Rejoin>,
) {
    let opts = DriveOptions {
        read_buf: shard.cfg.read_buf,
        shutdown: Some(shard.shutdown.clone()),
        notify: None,
        sync_pause: shard.cfg.sync_pause,
        flow: shard.cfg.flow,
    };
    let mut park = shard.lot.as_ref().and(shard.cfg.park_after);
    if rejoin.is_none() && park.is_some() && initial.is_empty() && !stream.is_tls() {
        handler.on_open(&mut conn, Instant::now());
        // `on_open` is done: the driver must not call it again.
        rejoin = Some(Rejoin { rest: None });
        if quiet(&conn, &handler, handler.deadline()) && !shard.shutdown.is_triggered() {
            match stream.into_tcp() {
                Ok(tcp) => match set_aside(shard, tcp, conn, handler) {
                    Ok(()) => return,
                    Err(back) => (stream, conn, handler, park) = back,
                },
                Err(s) => stream = s,
            }
        }
    }
    let out = loop {
        let initial = std::mem::take(&mut initial);
        match drive_until(
            stream,
            &mut conn,
            initial,
            &mut handler,
            &opts,
            park,
            rejoin.take(),
        )
        .await
        {
            Driven::Closed(out) => break out,
            Driven::AtRest(tcp) => match set_aside(shard, tcp, conn, handler) {
                Ok(()) => return,
                Err(back) => {
                    (stream, conn, handler, park) = back;
                    rejoin = Some(Rejoin { rest: None });
                }
            },
        }
    };
    if let Some(e) = &out.status.error {
        log::debug!("{e}");
    }
    let mut s = shard.stats.borrow_mut();
    // A peer that held the output queue up is counted as such, not as a protocol error.
    s.stalled += u64::from(out.stalled);
    s.protocol_errors += u64::from(out.status.failed_by_me && !out.stalled);
    s.rx_messages += out.counters.rx_messages;
    s.tx_messages += out.counters.tx_messages;
    s.rx_octets += out.counters.rx_octets;
    s.tx_octets += out.counters.tx_octets;
    drop(s);
    shard.live.set(shard.live.get() - 1);
}

/// What [`set_aside`] gives back when the lot does not take the connection: drive it on
/// (never to be set aside again: `None`).
type Back<H> = (Stream, Box<Connection>, H, Option<Duration>);

/// Hand a quiet connection to the thread's lot. No operation on `tcp` is in flight (never
/// read, or its read came back called off), so the runtime gives its descriptor up
/// (deregistered under epoll). When the lot refuses it (shutting down) it comes back to be
/// driven on; when even that fails it is lost, and counted as over.
fn set_aside<S: Service>(
    shard: &Shard<S>,
    tcp: TcpStream,
    conn: Box<Connection>,
    handler: S::Handler,
) -> Result<(), Back<S::Handler>> {
    let Some(lot) = &shard.lot else {
        return Err((Stream::Plain(tcp), conn, handler, None));
    };
    let conn = match (*conn).into_dormant() {
        Ok(d) => d,
        Err(c) => return Err((Stream::Plain(tcp), c, handler, None)),
    };
    // SAFETY: `into_raw_fd` handed over the only ownership of this open descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(tcp.into_raw_fd()) };
    let p = match lot.park(Parked { fd, conn, handler }) {
        Ok(()) => {
            shard.stats.borrow_mut().set_aside += 1;
            return Ok(());
        }
        Err(p) => p,
    };
    let (mut conn, mut handler) = (Box::new(Connection::from_dormant(p.conn)), p.handler);
    match TcpStream::from_std(std::net::TcpStream::from(p.fd)) {
        Ok(t) => Err((Stream::Plain(t), conn, handler, None)),
        Err(e) => {
            log::warn!("a connection could not be taken up again: {e}");
            conn.handle_eof();
            handler.on_closed(conn.close_status(), conn.counters());
            shard.live.set(shard.live.get() - 1);
            Ok(())
        }
    }
}

/// TLS (when configured) and the opening handshake: the connection to drive, or `None`
/// when it ended here (refused, failed, answered as plain HTTP).
async fn open_conn<S: Service>(
    cfg: &ServerConfig,
    service: &S,
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: Option<monoio_rustls::TlsAcceptor>,
    stats: &RefCell<ServerStats>,
) -> Option<Opened<S::Handler>> {
    let mut stream = match acceptor {
        None => Stream::Plain(tcp),
        Some(a) => match monoio::time::timeout(cfg.handshake_timeout, a.accept(tcp)).await {
            Ok(Ok(s)) => Stream::TlsServer(Box::new(s)),
            Ok(Err(e)) => {
                log::debug!(
                    "{peer}: TLS handshake failed: {}",
                    crate::net::connect::tls_error_text(&e)
                );
                stats.borrow_mut().tls_failed += 1;
                return None;
            }
            Err(_) => {
                log::debug!("{peer}: TLS handshake timed out");
                stats.borrow_mut().tls_failed += 1;
                return None;
            }
        },
    };
    let name = service.server_name();
    let (head, leftover) = match monoio::time::timeout(
        cfg.handshake_timeout,
        read_head_only(&mut stream, cfg.max_head),
    )
    .await
    {
        Ok(Ok(r)) => r,
        Ok(Err(HandshakeError::Eof)) => {
            log::debug!("{peer}: closed during the opening handshake");
            stats.borrow_mut().handshakes_failed += 1;
            return None;
        }
        Ok(Err(e)) => {
            log::debug!("{peer}: bad opening handshake: {e}");
            stats.borrow_mut().handshakes_failed += 1;
            let _ = send(&mut stream, error_response(&e, name)).await;
            return None;
        }
        Err(_) => {
            log::debug!("{peer}: opening handshake timed out");
            stats.borrow_mut().handshakes_failed += 1;
            return None;
        }
    };
    if !head.is_upgrade() {
        if let Some(mut resp) = service.http(&head, peer) {
            if head.method.eq_ignore_ascii_case("HEAD") {
                // RFC 9110 §9.3.2: the same header fields as GET, no content.
                head_only(&mut resp);
            }
            let _ = send(&mut stream, resp).await;
            return None;
        }
    }
    let req = match validate_upgrade(head) {
        Ok(r) => r,
        Err(e) => {
            log::debug!("{peer}: bad opening handshake: {e}");
            stats.borrow_mut().handshakes_failed += 1;
            let _ = send(&mut stream, error_response(&e, name)).await;
            return None;
        }
    };
    match service.upgrade(&req, peer) {
        Upgrade::Reject { status, reason } => {
            stats.borrow_mut().handshakes_failed += 1;
            let body = format!("{reason}\n");
            let _ = send(
                &mut stream,
                http_response(
                    status,
                    &reason,
                    "text/plain; charset=utf-8",
                    body.as_bytes(),
                    &[],
                    name,
                ),
            )
            .await;
            None
        }
        Upgrade::Respond(bytes) => {
            let _ = send(&mut stream, bytes).await;
            None
        }
        Upgrade::Accept {
            handler,
            config,
            protocol,
            extensions,
        } => {
            if send(
                &mut stream,
                accept_response(&req, protocol.as_deref(), extensions.as_deref(), name),
            )
            .await
            .is_err()
            {
                stats.borrow_mut().handshakes_failed += 1;
                return None;
            }
            stats.borrow_mut().connections += 1;
            Some(Opened {
                stream,
                handler,
                config,
                leftover,
            })
        }
    }
}
