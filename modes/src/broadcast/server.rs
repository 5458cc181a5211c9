//! `broadcastserver`: every message from any client goes to every connected client (the
//! sender included, as the original does), and a "tick N" text message goes to all of them
//! once a second. A web page on the web port joins the broadcast from a browser.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use wstest_engine::proto::handshake::{HttpHead, Request};
use wstest_engine::proto::{CloseCode, Config, Connection, Event, Role};
use wstest_engine::runtime::Shutdown;
use wstest_engine::ws::{Handler, LocalNotify, Service, Upgrade};

use super::hub::{Hub, HubStats, Slot, ThreadHub};
use crate::common::{accept_deflate, page_response, ServerOptions};
use crate::serving::{Listening, ServerReport};
use crate::Result;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BroadcastServerConfig {
    pub server: ServerOptions,
    /// Port of the page that joins the broadcast from a browser (0: none).
    pub webport: u16,
    /// Seconds between "tick N" messages (0: no ticks).
    pub tick_s: f64,
    /// Octets queued for one client before it is dropped as too slow (close 1008).
    pub queue_limit: usize,
}

impl Default for BroadcastServerConfig {
    fn default() -> Self {
        BroadcastServerConfig {
            server: ServerOptions::new("ws://127.0.0.1:9000"),
            webport: 0,
            tick_s: 1.0,
            queue_limit: 4 << 20,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BroadcastReport {
    #[serde(flatten)]
    pub server: ServerReport,
    pub broadcast: HubStats,
}

struct BroadcastService {
    hub: Arc<Hub>,
    config: Config,
    server: ServerOptions,
    name: String,
    /// The WebSocket port the page connects to; `None`: the page's own host and port.
    ws_port: Option<u16>,
}

/// One client: publishes what it sends, writes what the hub queued for it.
struct BroadcastHandler {
    local: Rc<ThreadHub>,
    slot: Rc<Slot>,
}

impl Drop for BroadcastHandler {
    fn drop(&mut self) {
        self.local.leave(&self.slot);
    }
}

impl Handler for BroadcastHandler {
    fn on_event(&mut self, _conn: &mut Connection, event: Event, _now: Instant) {
        if let Event::Message(m) = event {
            self.local.publish(Hub::frame(m.binary, &m.data));
        }
    }

    fn poll_shared(&mut self) -> Option<Bytes> {
        self.slot.pop()
    }

    fn notifier(&self) -> Option<Rc<LocalNotify>> {
        Some(self.slot.notify.clone())
    }

    // Set aside while quiet, a broadcast still reaches it: the lot writes the frames.
    fn parkable(&self) -> bool {
        true
    }

    fn on_notify(&mut self, conn: &mut Connection, now: Instant) {
        if self.slot.overflow.get() && conn.is_open() {
            conn.close(
                Some(CloseCode::POLICY_VIOLATION),
                "receiver too slow: broadcast queue full",
                now,
            );
        }
    }
}

impl Service for BroadcastService {
    type Handler = BroadcastHandler;

    fn upgrade(&self, req: &Request, _peer: SocketAddr) -> Upgrade<BroadcastHandler> {
        let mut config = self.config.clone();
        let extensions = accept_deflate(req, self.server.deflate.as_ref(), &mut config);
        let local = self.hub.local();
        let slot = local.join();
        Upgrade::Accept {
            handler: BroadcastHandler { local, slot },
            config,
            protocol: None,
            extensions,
        }
    }

    fn http(&self, head: &HttpHead, _peer: SocketAddr) -> Option<Vec<u8>> {
        Some(page_response(&head.resource, Some(&self.name), || {
            let scheme = if self.server.url.starts_with("wss:") {
                "wss"
            } else {
                "ws"
            };
            let port = self.ws_port.map(|p| p.to_string()).unwrap_or_default();
            super::page::PAGE
                .replace("{scheme}", scheme)
                .replace("{port}", &port)
        }))
    }

    fn server_name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

/// A broadcast server that is listening.
pub struct RunningBroadcast {
    pub listening: Listening,
    hub: Arc<Hub>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl RunningBroadcast {
    pub fn local_addr(&self) -> SocketAddr {
        self.listening.local_addr()
    }

    pub fn stats(&self) -> HubStats {
        self.hub.stats()
    }

    pub fn stop(&self) {
        self.listening.stop()
    }

    pub fn join(self) -> Result<BroadcastReport> {
        let server = self.listening.join()?;
        if let Some(t) = self.ticker {
            let _ = t.join();
        }
        Ok(BroadcastReport {
            server,
            broadcast: self.hub.stats(),
        })
    }
}

pub fn start(cfg: &BroadcastServerConfig, shutdown: Shutdown) -> Result<RunningBroadcast> {
    let (scfg, url) = cfg.server.engine_config()?;
    let hub = Hub::new(cfg.queue_limit);
    let mut config = Config::new(Role::Server);
    config.max_message_size = cfg.server.max_message_size;
    let name = cfg
        .server
        .ident
        .clone()
        .unwrap_or_else(|| format!("wstest-broadcast/{}", env!("CARGO_PKG_VERSION")));
    let svc = |ws_port| BroadcastService {
        hub: hub.clone(),
        config: config.clone(),
        server: cfg.server.clone(),
        name: name.clone(),
        ws_port,
    };
    // The WebSocket port serves the page too (it connects back to where it came from); the
    // web port's page is told the WebSocket port.
    let ws = Listening::start(
        "broadcastserver",
        scfg.clone(),
        &url,
        Arc::new(svc(None)),
        shutdown.clone(),
    )?;
    let port = ws.local_addr().port();
    let listening = ws.with_page(
        &scfg,
        &url,
        cfg.webport,
        Arc::new(svc(Some(port))),
        shutdown.clone(),
    )?;
    let ticker = (cfg.tick_s > 0.0).then(|| {
        let (hub, shutdown) = (hub.clone(), shutdown.clone());
        let every = Duration::from_secs_f64(cfg.tick_s);
        std::thread::spawn(move || {
            let mut n = 0u64;
            let mut next = Instant::now() + every;
            while !shutdown.is_triggered() {
                let now = Instant::now();
                if now >= next {
                    n += 1;
                    hub.publish_from_anywhere(
                        Hub::frame(false, format!("tick {n}").as_bytes()),
                        true,
                    );
                    next += every;
                } else {
                    std::thread::sleep((next - now).min(Duration::from_millis(50)));
                }
            }
        })
    });
    Ok(RunningBroadcast {
        listening,
        hub,
        ticker,
    })
}

/// `broadcastserver`: serve until shut down.
pub fn run_server(cfg: &BroadcastServerConfig, shutdown: Shutdown) -> Result<BroadcastReport> {
    let s = start(cfg, shutdown)?;
    s.listening.announce();
    s.join()
}

impl crate::report::Outcome for BroadcastReport {
    fn summary(&self) -> String {
        format!(
            "broadcastserver stopped: {} connections, {} messages published, {} delivered, {} slow receivers dropped",
            self.server.stats.connections,
            self.broadcast.published,
            self.broadcast.delivered,
            self.broadcast.dropped_slow
        )
    }
}
