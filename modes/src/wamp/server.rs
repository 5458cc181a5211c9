//! `wampserver`: the router core on the engine. Connections live on the worker threads; one
//! router thread owns the [`Router`] (no locks). A connection decodes each WebSocket message
//! and sends it to the router over a crossbeam channel; the router's outputs come back through
//! the connection's own mailbox, whose relay task wakes the connection's handler
//! ([`Handler::notifier`]), which encodes and sends them.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use serde::Serialize;
use wstest_engine::proto::handshake::{HttpHead, Request};
use wstest_engine::proto::{CloseCode, Config, Connection, Event, Role};
use wstest_engine::runtime::{mailbox, MailboxSender, Shutdown};
use wstest_engine::ws::{Handler, LocalNotify, ServerStats, Service, Upgrade};

use crate::serving::Listening;

use super::message::Message;
use super::router::{ConnId, Output, Router, RouterConfig, RouterStats};
use super::serializer::{Serializer, SUBPROTOCOLS};
use crate::common::{page_response, ServerOptions};
use crate::{ModeError, Result};

#[derive(Clone, Debug)]
pub struct WampServerConfig {
    pub server: ServerOptions,
    /// Port of the demo page (0: none; the page is also served on the WAMP port).
    pub webport: u16,
    /// Only these realms may be joined (`None`: any, created on first join).
    pub realms: Option<Vec<String>>,
    pub limits: Limits,
}

/// How much may wait for one session before it is closed with 1008 (octets), and how long
/// a connection may stay silent before its first message (HELLO).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Encoded for the session's socket, not written yet.
    pub socket: usize,
    /// Sent by the session, not handled by the router yet.
    pub inbound: usize,
    /// Sent by the router, not taken by the session's thread yet.
    pub outbound: usize,
    /// From the WebSocket upgrade to the client's first message.
    pub hello: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            socket: SLOW_LIMIT,
            inbound: INBOUND_LIMIT,
            outbound: OUTBOUND_LIMIT,
            hello: HELLO_TIMEOUT,
        }
    }
}

/// What one session has queued between its thread and the router, in octets (see
/// [`INBOUND_LIMIT`], [`OUTBOUND_LIMIT`]).
#[derive(Default)]
struct Backlog {
    /// Received and given to the router, not handled by it yet (wire octets).
    inbound: AtomicUsize,
    /// The session's thread stopped reading it for `inbound`: the router sends
    /// [`ToConn::Resume`] once it has taken enough.
    paused: AtomicBool,
    /// Sent by the router, not taken by the session's thread yet ([`Message::approx_size`]).
    outbound: AtomicUsize,
}

/// From the connections to the router thread.
enum ToRouter {
    Open {
        conn: ConnId,
        tx: MailboxSender<ToConn>,
        backlog: Arc<Backlog>,
    },
    Msg {
        conn: ConnId,
        msg: Message,
        size: usize,
    },
    Bad {
        conn: ConnId,
        why: String,
        size: usize,
    },
    Closed {
        conn: ConnId,
    },
    /// The servers are joined: end the thread.
    Stop,
}

/// From the router thread to one connection.
enum ToConn {
    /// A message and its [`Message::approx_size`].
    Send(Message, usize),
    Close,
    /// The session does not take what the router sends: close it with 1008.
    TooSlow,
    /// The router took enough of a paused session's messages: read it again (the wake-up
    /// is all this does).
    Resume,
}

/// What both servers (the WAMP port and the page port) share.
struct Shared {
    router: Sender<ToRouter>,
    /// Sessions closed (1008) because they did not read what the router sent them.
    dropped_slow: Arc<AtomicU64>,
    /// Sessions closed (1008) because they sent faster than the router could take.
    dropped_flooding: Arc<AtomicU64>,
    /// Connections closed (1008) because no message came within [`Limits::hello`].
    dropped_silent: Arc<AtomicU64>,
    next_id: AtomicU64,
    limits: Limits,
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
    dropped_flooding: Arc<AtomicU64>,
    dropped_silent: Arc<AtomicU64>,
    /// Until the first message: when the connection must have sent it.
    hello_by: Option<Instant>,
    backlog: Arc<Backlog>,
    limits: Limits,
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
                dropped_flooding: self.0.dropped_flooding.clone(),
                dropped_silent: self.0.dropped_silent.clone(),
                hello_by: None,
                backlog: Arc::default(),
                limits: self.0.limits,
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
        Some(page_response(&head.resource, Some(&self.0.name), || {
            super::page::html(self.0.scheme, self.0.port.load(Ordering::Relaxed))
        }))
    }

    fn server_name(&self) -> Option<&str> {
        Some(&self.0.name)
    }
}

impl Handler for WampHandler {
    fn notifier(&self) -> Option<Rc<LocalNotify>> {
        Some(self.notify.clone())
    }

    fn on_open(&mut self, _conn: &mut Connection, now: Instant) {
        self.hello_by = Some(now + self.limits.hello);
        if let Some(tx) = self.mailbox.take() {
            let _ = self.router.send(ToRouter::Open {
                conn: self.id,
                tx,
                backlog: self.backlog.clone(),
            });
        }
    }

    fn on_event(&mut self, conn: &mut Connection, event: Event, now: Instant) {
        let Event::Message(m) = event else { return };
        self.hello_by = None;
        if self.closing {
            return;
        }
        // A session that sends faster than the router handles its messages is closed rather
        // than buffered for without limit.
        let size = m.data.len();
        if self.backlog.inbound.load(Ordering::Relaxed) + size > self.limits.inbound {
            self.closing = true;
            self.dropped_flooding.fetch_add(1, Ordering::Relaxed);
            conn.close(
                Some(CloseCode::POLICY_VIOLATION),
                "too many messages waiting for the router",
                now,
            );
            return;
        }
        self.backlog.inbound.fetch_add(size, Ordering::Relaxed);
        let id = self.id;
        let ev = match self.ser.decode(&m.data, m.binary) {
            Ok(msg) => ToRouter::Msg {
                conn: id,
                msg,
                size,
            },
            Err(e) => ToRouter::Bad {
                conn: id,
                why: e.to_string(),
                size,
            },
        };
        let _ = self.router.send(ev);
    }

    fn on_notify(&mut self, conn: &mut Connection, now: Instant) {
        let items = std::mem::take(&mut *self.queue.borrow_mut());
        for item in items {
            if let ToConn::Send(_, size) = &item {
                self.backlog.outbound.fetch_sub(*size, Ordering::Relaxed);
            }
            if self.closing {
                continue;
            }
            // A session that does not read what it is sent (a stalled subscriber, a callee
            // that stopped) is closed rather than buffered for without limit.
            if conn.transmit_len() > self.limits.socket {
                self.closing = true;
                self.dropped_slow.fetch_add(1, Ordering::Relaxed);
                conn.close(
                    Some(CloseCode::POLICY_VIOLATION),
                    "too slow: outgoing queue full",
                    now,
                );
                continue;
            }
            match item {
                ToConn::Send(m, _) => match self.ser.encode(&m) {
                    Ok(b) => {
                        conn.send_message(self.ser.is_binary(), &b);
                    }
                    Err(e) => log::warn!("connection {}: {e}; not sent", self.id),
                },
                ToConn::Close => {
                    self.closing = true;
                    conn.close(Some(CloseCode::NORMAL), "", now);
                }
                ToConn::Resume => {}
                ToConn::TooSlow => {
                    self.closing = true;
                    self.dropped_slow.fetch_add(1, Ordering::Relaxed);
                    conn.close(
                        Some(CloseCode::POLICY_VIOLATION),
                        "too slow: the router's queue for this session is full",
                        now,
                    );
                }
            }
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.hello_by.filter(|_| !self.closing)
    }

    fn on_deadline(&mut self, conn: &mut Connection, now: Instant) {
        if self.hello_by.is_some_and(|t| t <= now) && !self.closing {
            self.closing = true;
            self.hello_by = None;
            self.dropped_silent.fetch_add(1, Ordering::Relaxed);
            conn.close(Some(CloseCode::POLICY_VIOLATION), "no HELLO in time", now);
        }
    }

    /// Answers the router has for this session and the session's thread has not taken yet
    /// are output too: above a sixteenth of their limit the session is not read from (as
    /// with octets waiting for its socket), so a client that floods requests is slowed to
    /// the pace the router answers them instead of filling the router's queues. Each
    /// answer that arrives wakes the handler, which takes them and lets reading go on.
    ///
    /// Likewise its own messages the router has not handled yet: above half their limit the
    /// session waits (rather than being closed as flooding at the limit) until the router,
    /// having taken them down to a quarter, sends [`ToConn::Resume`].
    fn accepts_input(&self) -> bool {
        if self.closing {
            return true;
        }
        if self.backlog.outbound.load(Ordering::Relaxed) >= self.limits.outbound / 16 {
            return false;
        }
        let b = &self.backlog;
        if b.inbound.load(Ordering::SeqCst) < self.limits.inbound / 2 {
            return true;
        }
        // Paused first, then checked again: either the router sees the flag after taking
        // messages, or this sees what it took (both orders are sequentially consistent).
        b.paused.store(true, Ordering::SeqCst);
        if b.inbound.load(Ordering::SeqCst) < self.limits.inbound / 2 {
            b.paused.store(false, Ordering::SeqCst);
            return true;
        }
        false
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

/// Octets of one session's messages waiting for the router before the session is dropped.
pub const INBOUND_LIMIT: usize = 8 << 20;

/// About how many octets the router may have queued for one session that its thread has not
/// taken yet (a busy thread, a stalled session) before the session is dropped.
pub const OUTBOUND_LIMIT: usize = 16 << 20;

/// The largest WAMP message taken unless `--max-message-size` says otherwise. A decoded
/// message takes more memory than its octets (up to ~40 times for arrays of small values), so
/// the router's default is far below the WebSocket modes' 64 MiB.
pub const DEFAULT_MAX_MESSAGE: u64 = 1 << 20;

/// How long a connection may stay silent after its upgrade before it is closed (1008): a
/// client that never says HELLO would otherwise hold its connection and task for ever.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// How long sessions get to answer the router's GOODBYE at shutdown.
const GOODBYE_WAIT: Duration = Duration::from_secs(2);

/// The router handled a message of `size` octets from `conn`; a session paused for its
/// backlog is woken once that is down to `resume_below`.
fn handled(
    conns: &HashMap<ConnId, (MailboxSender<ToConn>, Arc<Backlog>)>,
    conn: ConnId,
    size: usize,
    resume_below: usize,
) {
    if let Some((tx, b)) = conns.get(&conn) {
        let left = b.inbound.fetch_sub(size, Ordering::SeqCst) - size;
        if left < resume_below && b.paused.load(Ordering::SeqCst) {
            b.paused.store(false, Ordering::SeqCst);
            let _ = tx.send(ToConn::Resume);
        }
    }
}

/// The router thread: owns the router, routes between connections.
fn router_thread(
    rx: Receiver<ToRouter>,
    outbound_limit: usize,
    inbound_limit: usize,
    mut router: Router,
    shutdown: Shutdown,
    stop_servers: Shutdown,
) -> RouterStats {
    let mut conns: HashMap<ConnId, (MailboxSender<ToConn>, Arc<Backlog>)> = HashMap::new();
    let mut closing: HashSet<ConnId> = HashSet::new();
    // Sessions dropped for not taking what was sent: nothing more goes to them.
    let mut slow: HashSet<ConnId> = HashSet::new();
    let mut out = Vec::new();
    let mut goodbye_until: Option<Instant> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(ToRouter::Open { conn, tx, backlog }) => {
                conns.insert(conn, (tx, backlog));
                router.open(conn);
                if goodbye_until.is_some() {
                    out.push(Output::Close(conn));
                }
            }
            Ok(ToRouter::Msg { conn, msg, size }) => {
                if !closing.contains(&conn) {
                    router.handle(conn, msg, &mut out);
                }
                handled(&conns, conn, size, inbound_limit / 4);
            }
            Ok(ToRouter::Bad { conn, why, size }) => {
                if !closing.contains(&conn) {
                    router.malformed(conn, &why, &mut out);
                }
                handled(&conns, conn, size, inbound_limit / 4);
            }
            Ok(ToRouter::Closed { conn }) => {
                conns.remove(&conn);
                closing.remove(&conn);
                slow.remove(&conn);
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
            let (Output::Send(conn, _) | Output::Close(conn)) = o;
            let Some((tx, backlog)) = conns.get(&conn) else {
                continue;
            };
            if slow.contains(&conn) {
                continue;
            }
            match o {
                Output::Send(_, m) => {
                    let size = m.approx_size();
                    if backlog.outbound.fetch_add(size, Ordering::Relaxed) + size > outbound_limit {
                        backlog.outbound.fetch_sub(size, Ordering::Relaxed);
                        slow.insert(conn);
                        closing.insert(conn);
                        let _ = tx.send(ToConn::TooSlow);
                    } else {
                        let _ = tx.send(ToConn::Send(m, size));
                    }
                }
                Output::Close(_) => {
                    closing.insert(conn);
                    let _ = tx.send(ToConn::Close);
                }
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
    /// Sessions closed with 1008 because more than [`SLOW_LIMIT`] octets waited for their
    /// socket or more than [`OUTBOUND_LIMIT`] for their thread.
    pub dropped_slow: u64,
    /// Sessions closed with 1008 because more than [`INBOUND_LIMIT`] octets of theirs waited
    /// for the router.
    pub dropped_flooding: u64,
    /// Connections closed with 1008 because they sent no message (HELLO) in time.
    pub dropped_silent: u64,
}

/// A router that is listening.
pub struct RunningWamp {
    pub listening: Listening,
    shutdown: Shutdown,
    router_tx: Sender<ToRouter>,
    router: std::thread::JoinHandle<RouterStats>,
    dropped_slow: Arc<AtomicU64>,
    dropped_flooding: Arc<AtomicU64>,
    dropped_silent: Arc<AtomicU64>,
}

impl RunningWamp {
    /// Ask the router to stop: sessions get GOODBYE (`wamp.close.system_shutdown`), then the
    /// servers stop.
    pub fn stop(&self) {
        self.shutdown.trigger();
    }

    /// Wait until stopped (by [`RunningWamp::stop`] or a signal).
    pub fn join(self) -> Result<WampServerReport> {
        let web_url = self.listening.page_url.clone();
        let served = self.listening.join();
        let _ = self.router_tx.send(ToRouter::Stop);
        let router = self
            .router
            .join()
            .map_err(|_| ModeError::Failed(crate::error::Failure::Panicked("router")))?;
        let served = served?;
        let mut stats = served.stats;
        if let Some(page) = &served.page {
            stats.merge(page);
        }
        Ok(WampServerReport {
            url: served.url,
            web_url,
            threads: served.threads,
            driver: served.driver,
            stats,
            router,
            dropped_slow: self.dropped_slow.load(Ordering::Relaxed),
            dropped_flooding: self.dropped_flooding.load(Ordering::Relaxed),
            dropped_silent: self.dropped_silent.load(Ordering::Relaxed),
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
    let dropped_flooding = Arc::new(AtomicU64::new(0));
    let dropped_silent = Arc::new(AtomicU64::new(0));
    let shared = Arc::new(Shared {
        router: tx.clone(),
        dropped_slow: dropped_slow.clone(),
        dropped_flooding: dropped_flooding.clone(),
        dropped_silent: dropped_silent.clone(),
        next_id: AtomicU64::new(1),
        limits: cfg.limits,
        name,
        max_message_size: cfg.server.max_message_size,
        scheme: if url.secure { "wss" } else { "ws" },
        port: AtomicU16::new(0),
    });
    let ws = Listening::start(
        "wampserver",
        scfg.clone(),
        &url,
        Arc::new(WampService(shared.clone())),
        stop_servers.clone(),
    )?;
    shared.port.store(ws.local_addr().port(), Ordering::Relaxed);
    let listening = ws.with_page(
        &scfg,
        &url,
        cfg.webport,
        Arc::new(WampService(shared)),
        stop_servers.clone(),
    )?;
    let (sd, stop) = (shutdown.clone(), stop_servers.clone());
    let router = std::thread::Builder::new()
        .name("wstest-wamp-router".into())
        .spawn({
            let (outbound, inbound) = (cfg.limits.outbound, cfg.limits.inbound);
            move || router_thread(rx, outbound, inbound, router, sd, stop)
        })
        .map_err(|e| ModeError::io("cannot start the router thread", e))?;
    Ok(RunningWamp {
        listening,
        shutdown,
        router_tx: tx,
        router,
        dropped_slow,
        dropped_flooding,
        dropped_silent,
    })
}

/// `wampserver`: route until shut down.
pub fn run(cfg: &WampServerConfig, shutdown: Shutdown) -> Result<WampServerReport> {
    let s = start(cfg, shutdown)?;
    eprintln!(
        "wampserver: router on {} ({} threads, {}; subprotocols {}; realms: {})",
        s.listening.url,
        s.listening.threads(),
        s.listening.driver(),
        SUBPROTOCOLS.join(", "),
        cfg.realms
            .as_ref()
            .map_or("any, created on first join".into(), |r| r.join(", "))
    );
    if let Some(w) = &s.listening.page_url {
        eprintln!("wampserver: demo page at {w}");
    }
    s.join()
}

impl crate::report::Outcome for WampServerReport {
    fn summary(&self) -> String {
        let r = &self.router;
        format!(
            "wampserver stopped: {} sessions, {} messages in, {} out, {} aborted, {} too slow, {} flooding, {} silent",
            r.sessions,
            r.messages_in,
            r.messages_out,
            r.aborts,
            self.dropped_slow,
            self.dropped_flooding,
            self.dropped_silent
        )
    }
}
