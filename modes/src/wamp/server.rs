//! `wampserver`: the router core on the engine. Connections live on the worker threads; one
//! router thread owns the [`Router`] (no locks). A connection decodes each WebSocket message
//! and sends it to the router over a crossbeam channel; the router's outputs come back through
//! the connection's own mailbox, whose relay task wakes the connection's handler
//! ([`Handler::notifier`]), which encodes and sends them.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use serde::Serialize;
use wstest_engine::proto::handshake::server::http_response;
use wstest_engine::proto::handshake::{HttpHead, Request};
use wstest_engine::proto::{CloseCode, Config, Connection, Event, Role};
use wstest_engine::runtime::{mailbox, MailboxSender, Shutdown};
use wstest_engine::ws::{serve, Handler, LocalNotify, ServerHandle, ServerStats, Service, Upgrade};

use super::message::Message;
use super::router::{ConnId, Output, Router, RouterConfig, RouterStats};
use super::serializer::{Serializer, SUBPROTOCOLS};
use crate::common::ServerOptions;
use crate::{ModeError, Result};

#[derive(Clone, Debug)]
pub struct WampServerConfig {
    pub server: ServerOptions,
    /// Port of the demo page (0: none; the page is also served on the WAMP port).
    pub webport: u16,
    /// Only these realms may be joined (`None`: any, created on first join).
    pub realms: Option<Vec<String>>,
}

/// From the connections to the router thread.
enum ToRouter {
    Open {
        conn: ConnId,
        tx: MailboxSender<ToConn>,
    },
    Msg {
        conn: ConnId,
        msg: Message,
    },
    Bad {
        conn: ConnId,
        why: String,
    },
    Closed {
        conn: ConnId,
    },
    /// The servers are joined: end the thread.
    Stop,
}

/// From the router thread to one connection.
enum ToConn {
    Send(Message),
    Close,
}

/// What both servers (the WAMP port and the page port) share.
struct Shared {
    router: Sender<ToRouter>,
    /// Sessions closed (1008) because they did not read what the router sent them.
    dropped_slow: Arc<AtomicU64>,
    next_id: AtomicU64,
    name: String,
    max_message_size: u64,
    /// `ws` or `wss`, and the WAMP port, for the demo page.
    scheme: &'static str,
    port: AtomicU16,
}

struct WampService(Arc<Shared>);

struct WampHandler {
    id: ConnId,
    dropped_slow: Arc<AtomicU64>,
    ser: Serializer,
    router: Sender<ToRouter>,
    mailbox: Option<MailboxSender<ToConn>>,
    queue: Rc<RefCell<Vec<ToConn>>>,
    notify: Rc<LocalNotify>,
    /// The router closed this connection: further input is ignored.
    closing: bool,
}

impl Service for WampService {
    type Handler = WampHandler;

    fn upgrade(&self, req: &Request, _peer: SocketAddr) -> Upgrade<WampHandler> {
        let Some(ser) = Serializer::negotiate(req.protocols.iter().map(String::as_str)) else {
            return Upgrade::Reject {
                status: 400,
                reason: format!("a WAMP client must offer {}", SUBPROTOCOLS.join(" or ")),
            };
        };
        let (tx, rx) = mailbox::<ToConn>();
        let queue = Rc::new(RefCell::new(Vec::new()));
        let notify = Rc::new(LocalNotify::default());
        // The relay: moves what the router sends into the handler's queue and wakes it. It
        // ends when the router drops the sender (the connection closed) or the thread ends.
        let (q, n) = (queue.clone(), notify.clone());
        monoio::spawn(async move {
            let mut batch = Vec::new();
            while rx.recv_batch(&mut batch).await {
                q.borrow_mut().append(&mut batch);
                n.notify();
            }
        });
        let mut config = Config::new(Role::Server);
        config.max_message_size = self.0.max_message_size;
        Upgrade::Accept {
            handler: WampHandler {
                id: self.0.next_id.fetch_add(1, Ordering::Relaxed),
                dropped_slow: self.0.dropped_slow.clone(),
                ser,
                router: self.0.router.clone(),
                mailbox: Some(tx),
                queue,
                notify,
                closing: false,
            },
            config,
            protocol: Some(ser.subprotocol().into()),
            extensions: None,
        }
    }

    fn http(&self, head: &HttpHead, _peer: SocketAddr) -> Option<Vec<u8>> {
        let path = head.resource.split('?').next().unwrap_or("/");
        let name = Some(self.0.name.as_str());
        Some(match path {
            "/" | "/index.html" => {
                let page = super::page::html(self.0.scheme, self.0.port.load(Ordering::Relaxed));
                http_response(
                    200,
                    "OK",
                    "text/html; charset=utf-8",
                    page.as_bytes(),
                    &[],
                    name,
                )
            }
            _ => http_response(404, "Not Found", "text/plain", b"not found\n", &[], name),
        })
    }

    fn server_name(&self) -> Option<&str> {
        Some(&self.0.name)
    }
}

impl Handler for WampHandler {
    fn notifier(&self) -> Option<Rc<LocalNotify>> {
        Some(self.notify.clone())
    }

    fn on_open(&mut self, _conn: &mut Connection, _now: Instant) {
        if let Some(tx) = self.mailbox.take() {
            let _ = self.router.send(ToRouter::Open { conn: self.id, tx });
        }
    }

    fn on_event(&mut self, _conn: &mut Connection, event: Event, _now: Instant) {
        let Event::Message(m) = event else { return };
        if self.closing {
            return;
        }
        let conn = self.id;
        let ev = match self.ser.decode(&m.data, m.binary) {
            Ok(msg) => ToRouter::Msg { conn, msg },
            Err(e) => ToRouter::Bad {
                conn,
                why: e.to_string(),
            },
        };
        let _ = self.router.send(ev);
    }

    fn on_notify(&mut self, conn: &mut Connection, now: Instant) {
        let items = std::mem::take(&mut *self.queue.borrow_mut());
        for item in items {
            if self.closing {
                break;
            }
            // A session that does not read what it is sent (a stalled subscriber, a callee
            // that stopped) is closed rather than buffered for without limit.
            if conn.transmit_len() > SLOW_LIMIT {
                self.closing = true;
                self.dropped_slow.fetch_add(1, Ordering::Relaxed);
                conn.close(
                    Some(CloseCode::POLICY_VIOLATION),
                    "too slow: outgoing queue full",
                    now,
                );
                break;
            }
            match item {
                ToConn::Send(m) => match self.ser.encode(&m) {
                    Ok(b) => {
                        conn.send_message(self.ser.is_binary(), &b);
                    }
                    Err(e) => log::warn!("connection {}: {e}; not sent", self.id),
                },
                ToConn::Close => {
                    self.closing = true;
                    conn.close(Some(CloseCode::NORMAL), "", now);
                }
            }
        }
    }

    fn on_closed(
        &mut self,
        _s: &wstest_engine::proto::connection::CloseStatus,
        _c: &wstest_engine::proto::connection::Counters,
    ) {
        let _ = self.router.send(ToRouter::Closed { conn: self.id });
    }
}

/// Octets queued for one session, beyond what is being written, before it is dropped.
pub const SLOW_LIMIT: usize = 4 << 20;

/// How long sessions get to answer the router's GOODBYE at shutdown.
const GOODBYE_WAIT: Duration = Duration::from_secs(2);

/// The router thread: owns the router, routes between connections.
fn router_thread(
    rx: Receiver<ToRouter>,
    mut router: Router,
    shutdown: Shutdown,
    stop_servers: Shutdown,
) -> RouterStats {
    let mut conns: HashMap<ConnId, MailboxSender<ToConn>> = HashMap::new();
    let mut closing: HashSet<ConnId> = HashSet::new();
    let mut out = Vec::new();
    let mut goodbye_until: Option<Instant> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(ToRouter::Open { conn, tx }) => {
                conns.insert(conn, tx);
                router.open(conn);
                if goodbye_until.is_some() {
                    out.push(Output::Close(conn));
                }
            }
            Ok(ToRouter::Msg { conn, msg }) if !closing.contains(&conn) => {
                router.handle(conn, msg, &mut out)
            }
            Ok(ToRouter::Bad { conn, why }) if !closing.contains(&conn) => {
                router.malformed(conn, &why, &mut out)
            }
            Ok(ToRouter::Msg { .. } | ToRouter::Bad { .. }) => {}
            Ok(ToRouter::Closed { conn }) => {
                conns.remove(&conn);
                closing.remove(&conn);
                router.closed(conn, &mut out);
            }
            Ok(ToRouter::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if shutdown.is_triggered() && goodbye_until.is_none() {
            goodbye_until = Some(Instant::now() + GOODBYE_WAIT);
            router.shutdown(&mut out);
        }
        for o in out.drain(..) {
            let (conn, item) = match o {
                Output::Send(c, m) => (c, ToConn::Send(m)),
                Output::Close(c) => {
                    closing.insert(c);
                    (c, ToConn::Close)
                }
            };
            if let Some(tx) = conns.get(&conn) {
                let _ = tx.send(item);
            }
        }
        if goodbye_until.is_some_and(|t| conns.is_empty() || Instant::now() >= t) {
            stop_servers.trigger();
        }
    }
    router.stats()
}

#[derive(Clone, Debug, Serialize)]
pub struct WampServerReport {
    pub url: String,
    pub web_url: Option<String>,
    pub threads: usize,
    pub driver: String,
    pub stats: ServerStats,
    pub router: RouterStats,
    /// Sessions closed with 1008 because more than [`SLOW_LIMIT`] octets waited for them.
    pub dropped_slow: u64,
}

/// A router that is listening.
pub struct RunningWamp {
    pub url: String,
    pub web_url: Option<String>,
    pub local_addr: SocketAddr,
    shutdown: Shutdown,
    ws: ServerHandle,
    web: Option<ServerHandle>,
    router_tx: Sender<ToRouter>,
    router: std::thread::JoinHandle<RouterStats>,
    dropped_slow: Arc<AtomicU64>,
}

impl RunningWamp {
    /// Ask the router to stop: sessions get GOODBYE (`wamp.close.system_shutdown`), then the
    /// servers stop.
    pub fn stop(&self) {
        self.shutdown.trigger();
    }

    /// Wait until stopped (by [`RunningWamp::stop`] or a signal).
    pub fn join(self) -> Result<WampServerReport> {
        let threads = self.ws.threads();
        let driver = self.ws.driver().to_string();
        let stats = self.ws.join();
        let web = self.web.map(ServerHandle::join);
        let _ = self.router_tx.send(ToRouter::Stop);
        let router = self
            .router
            .join()
            .map_err(|_| ModeError::Failed("the router thread panicked".into()))?;
        let mut stats = stats?;
        if let Some(w) = web {
            stats.merge(&w?);
        }
        Ok(WampServerReport {
            url: self.url,
            web_url: self.web_url,
            threads,
            driver,
            stats,
            router,
            dropped_slow: self.dropped_slow.load(Ordering::Relaxed),
        })
    }
}

pub fn server_name() -> String {
    format!("wstest-wamp/{}", env!("CARGO_PKG_VERSION"))
}

/// Start the router (and the demo page on `webport`).
pub fn start(cfg: &WampServerConfig, shutdown: Shutdown) -> Result<RunningWamp> {
    let (scfg, url) = cfg.server.engine_config()?;
    let (tx, rx) = crossbeam_channel::unbounded();
    let name = cfg.server.ident.clone().unwrap_or_else(server_name);
    let router = Router::new(
        RouterConfig {
            realms: cfg.realms.clone(),
            agent: name.clone(),
        },
        rand::random(),
    );
    let stop_servers = Shutdown::new();
    let dropped_slow = Arc::new(AtomicU64::new(0));
    let shared = Arc::new(Shared {
        router: tx.clone(),
        dropped_slow: dropped_slow.clone(),
        next_id: AtomicU64::new(1),
        name,
        max_message_size: cfg.server.max_message_size,
        scheme: if url.secure { "wss" } else { "ws" },
        port: AtomicU16::new(0),
    });
    let scheme = shared.scheme;
    let ws = serve(
        scfg.clone(),
        Arc::new(WampService(shared.clone())),
        stop_servers.clone(),
    )?;
    shared.port.store(ws.local_addr.port(), Ordering::Relaxed);
    let web = match cfg.webport {
        0 => None,
        p => {
            let mut c = scfg.clone();
            c.addr.set_port(p);
            Some(serve(
                c,
                Arc::new(WampService(shared)),
                stop_servers.clone(),
            )?)
        }
    };
    let host = if url.host.contains(':') {
        format!("[{}]", url.host)
    } else {
        url.host.clone()
    };
    let url_s = format!("{scheme}://{host}:{}", ws.local_addr.port());
    let web_scheme = if url.secure { "https" } else { "http" };
    let web_url = web
        .as_ref()
        .map(|w| format!("{web_scheme}://{host}:{}/", w.local_addr.port()));
    let (sd, stop) = (shutdown.clone(), stop_servers.clone());
    let router = std::thread::Builder::new()
        .name("wstest-wamp-router".into())
        .spawn(move || router_thread(rx, router, sd, stop))
        .map_err(|e| ModeError::io("cannot start the router thread", e))?;
    Ok(RunningWamp {
        url: url_s,
        web_url,
        local_addr: ws.local_addr,
        shutdown,
        ws,
        web,
        router_tx: tx,
        router,
        dropped_slow,
    })
}

/// `wampserver`: route until shut down.
pub fn run(cfg: &WampServerConfig, shutdown: Shutdown) -> Result<WampServerReport> {
    let s = start(cfg, shutdown)?;
    eprintln!(
        "wampserver: router on {} ({} threads, {}; subprotocols {}; realms: {})",
        s.url,
        s.ws.threads(),
        s.ws.driver(),
        SUBPROTOCOLS.join(", "),
        cfg.realms
            .as_ref()
            .map_or("any, created on first join".into(), |r| r.join(", "))
    );
    if let Some(w) = &s.web_url {
        eprintln!("wampserver: demo page at {w}");
    }
    s.join()
}
