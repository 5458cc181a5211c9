//! What every server mode stands on: its WebSocket listener and, where the mode has one, the
//! page port beside it; stopping and waiting for both, and the report of what they served.
//! echoserver and testeeserver are only this; broadcast, WAMP and the fuzzing server keep
//! their own state next to it.

use std::net::SocketAddr;
use std::sync::Arc;

use serde::Serialize;
use wstest_engine::net::WsUrl;
use wstest_engine::runtime::{Driver, RuntimeConfig, Shutdown};
use wstest_engine::ws::{serve, ServerConfig, ServerHandle, ServerStats, Service};

use crate::Result;

/// A server mode's report: where it listened, on what, and what its connections did.
#[derive(Clone, Debug, Serialize)]
pub struct ServerReport {
    pub mode: &'static str,
    pub url: String,
    pub threads: usize,
    pub driver: String,
    pub stats: ServerStats,
    /// The page port's connections, where the mode has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<ServerStats>,
}

/// A server mode that is listening.
pub struct Listening {
    pub mode: &'static str,
    /// The URL clients should use (with the actual port).
    pub url: String,
    /// The page's URL, where the mode serves one on its own port.
    pub page_url: Option<String>,
    ws: ServerHandle,
    page: Option<ServerHandle>,
}

impl Listening {
    /// Listen with `service` where `cfg` says; `url` is the one asked for (its port may be 0).
    pub fn start<S: Service>(
        mode: &'static str,
        cfg: ServerConfig,
        url: &WsUrl,
        service: Arc<S>,
        shutdown: Shutdown,
    ) -> Result<Self> {
        let ws = serve(cfg, service, shutdown)?;
        Ok(Listening {
            mode,
            url: url.server_url(ws.local_addr.port()),
            page_url: None,
            ws,
            page: None,
        })
    }

    /// Also serve `service` on `port` (0: no page port) of the same address, with the
    /// WebSocket port's settings and TLS but one unpinned thread: a page, not a load.
    pub fn with_page<S: Service>(
        mut self,
        cfg: &ServerConfig,
        url: &WsUrl,
        port: u16,
        service: Arc<S>,
        shutdown: Shutdown,
    ) -> Result<Self> {
        if port == 0 {
            return Ok(self);
        }
        let mut page = cfg.clone();
        page.addr = SocketAddr::new(self.ws.local_addr.ip(), port);
        page.share_port = false;
        page.runtime = RuntimeConfig {
            threads: 1,
            driver: cfg.runtime.driver,
            no_pin: true,
            ..Default::default()
        };
        let h = serve(page, service, shutdown)?;
        self.page_url = Some(url.page_url(h.local_addr.port()));
        self.page = Some(h);
        Ok(self)
    }

    /// The line a server mode prints on standard error once it listens.
    pub fn announce(&self) {
        eprintln!(
            "{} listening on {} ({} threads, {}){}",
            self.mode,
            self.url,
            self.threads(),
            self.driver(),
            self.page_url
                .as_deref()
                .map(|u| format!("; page at {u}"))
                .unwrap_or_default()
        );
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.ws.local_addr
    }

    pub fn threads(&self) -> usize {
        self.ws.threads()
    }

    pub fn driver(&self) -> Driver {
        self.ws.driver()
    }

    /// Stop accepting and close every connection (both ports).
    pub fn stop(&self) {
        self.ws.stop();
        if let Some(p) = &self.page {
            p.stop();
        }
    }

    /// Wait until the WebSocket port is stopped (by [`Listening::stop`], its shutdown or a
    /// signal), then stop the page port and wait for it too.
    pub fn join(self) -> Result<ServerReport> {
        let (threads, driver) = (self.threads(), self.driver().to_string());
        let stats = self.ws.join();
        let page = self.page.map(|p| {
            p.stop();
            p.join()
        });
        Ok(ServerReport {
            mode: self.mode,
            url: self.url,
            threads,
            driver,
            stats: stats?,
            page: page.transpose()?,
        })
    }
}
