//! echoserver and echoclient.

use std::collections::VecDeque;
use std::io::BufRead;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wstest_engine::net::WsUrl;
use wstest_engine::proto::deflate::DeflateConfig;
use wstest_engine::proto::handshake::Request;
use wstest_engine::proto::{CloseCode, Config, Connection, Event, Role};
use wstest_engine::runtime::{block_on, resolve_driver, Shutdown};
use wstest_engine::stats::{Latency, Summary};
use wstest_engine::ws::{connect_ws, DriveOptions, Handler, Service, Upgrade};

use crate::common::{accept_deflate, ClientOptions, ServerOptions};
use crate::serving::{Listening, ServerReport};
use crate::{ModeError, Result};

/// Echoes every text and binary message back as it came.
#[derive(Default)]
pub struct EchoHandler;

impl Handler for EchoHandler {
    fn on_event(&mut self, conn: &mut Connection, event: Event, _now: Instant) {
        if let Event::Message(m) = event {
            conn.send_message_owned(m.binary, m.data);
        }
    }

    fn parkable(&self) -> bool {
        true
    }
}

/// A server whose connections echo.
pub struct EchoService {
    pub server_name: String,
    pub config: Config,
    /// permessage-deflate settings for clients that offer it.
    pub deflate: Option<DeflateConfig>,
}

impl Service for EchoService {
    type Handler = EchoHandler;
    fn upgrade(&self, req: &Request, _peer: SocketAddr) -> Upgrade<EchoHandler> {
        let mut config = self.config.clone();
        let extensions = accept_deflate(req, self.deflate.as_ref(), &mut config);
        Upgrade::Accept {
            handler: EchoHandler,
            config,
            protocol: None,
            extensions,
        }
    }
    fn server_name(&self) -> Option<&str> {
        Some(&self.server_name)
    }
}

/// Start an echoing server (`echoserver`, and `testeeserver` with its own name and limits).
pub fn start_echo_server(
    opts: &ServerOptions,
    mode: &'static str,
    default_name: &str,
    shutdown: Shutdown,
) -> Result<Listening> {
    let (cfg, url) = opts.engine_config()?;
    let mut config = Config::new(Role::Server);
    config.max_message_size = opts.max_message_size;
    let svc = EchoService {
        server_name: opts
            .ident
            .clone()
            .unwrap_or_else(|| default_name.to_string()),
        config,
        deflate: opts.deflate.clone(),
    };
    Listening::start(mode, cfg, &url, Arc::new(svc), shutdown)
}

pub fn echo_server_name() -> String {
    format!("wstest-echo/{}", env!("CARGO_PKG_VERSION"))
}

/// `echoserver`: serve until shut down.
pub fn run_server(opts: &ServerOptions, shutdown: Shutdown) -> Result<ServerReport> {
    let s = start_echo_server(opts, "echoserver", &echo_server_name(), shutdown)?;
    s.announce();
    s.join()
}

/// Where the echo client's messages come from.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageSource {
    /// One message per line of standard input.
    Stdin,
    /// The same text `count` times.
    Fixed { text: String, count: u64 },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EchoClientConfig {
    /// Target; `None` starts an echo server in-process and uses that.
    pub url: Option<String>,
    pub source: MessageSource,
    pub binary: bool,
    pub client: ClientOptions,
    /// Print each echo as it arrives.
    pub print: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct EchoClientReport {
    pub url: String,
    pub sent: u64,
    pub received: u64,
    pub mismatched: u64,
    pub rtt: Summary,
    pub close: wstest_engine::proto::CloseStatus,
}

/// Sends messages one at a time and times each echo.
struct EchoClientHandler {
    pending: VecDeque<Vec<u8>>,
    /// Lines still coming from stdin.
    input: Option<crossbeam_channel::Receiver<String>>,
    in_flight: Option<(Vec<u8>, Instant)>,
    binary: bool,
    print: bool,
    fixed_left: u64,
    fixed: Vec<u8>,
    sent: u64,
    received: u64,
    mismatched: u64,
    rtt: Latency,
}

impl EchoClientHandler {
    fn next(&mut self, conn: &mut Connection, now: Instant) {
        if self.in_flight.is_some() || !conn.is_open() {
            return;
        }
        if let Some(rx) = &self.input {
            loop {
                match rx.try_recv() {
                    Ok(line) => self.pending.push_back(line.into_bytes()),
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => {
                        self.input = None;
                        break;
                    }
                }
            }
        }
        let msg = if let Some(m) = self.pending.pop_front() {
            Some(m)
        } else if self.fixed_left > 0 {
            self.fixed_left -= 1;
            Some(self.fixed.clone())
        } else {
            None
        };
        match msg {
            Some(m) => {
                conn.send_message(self.binary, &m);
                self.sent += 1;
                self.in_flight = Some((m, now));
            }
            None if self.input.is_none() => conn.close(Some(CloseCode::NORMAL), "done", now),
            None => {}
        }
    }
}

impl Handler for EchoClientHandler {
    fn on_open(&mut self, conn: &mut Connection, now: Instant) {
        self.next(conn, now);
    }

    fn on_event(&mut self, conn: &mut Connection, event: Event, now: Instant) {
        if let Event::Message(m) = event {
            let Some((sent, at)) = self.in_flight.take() else {
                return;
            };
            let rtt = now - at;
            self.rtt.record(rtt);
            self.received += 1;
            if m.data != sent {
                self.mismatched += 1;
            }
            if self.print {
                let shown = if m.binary {
                    m.data.iter().map(|b| format!("{b:02x}")).collect()
                } else {
                    String::from_utf8_lossy(&m.data).into_owned()
                };
                println!("{shown}\t{:.1} us", rtt.as_secs_f64() * 1e6);
            }
            self.next(conn, now);
        }
    }

    fn deadline(&self) -> Option<Instant> {
        // Poll standard input while waiting for lines.
        (self.input.is_some() && self.in_flight.is_none())
            .then(|| Instant::now() + Duration::from_millis(5))
    }

    fn on_deadline(&mut self, conn: &mut Connection, now: Instant) {
        self.next(conn, now);
    }
}

/// `echoclient`.
pub fn run_client(cfg: &EchoClientConfig, shutdown: Shutdown) -> Result<EchoClientReport> {
    // Without a target, start an echo server in-process.
    let embedded = match &cfg.url {
        Some(_) => None,
        None => {
            let mut o = ServerOptions::new("ws://127.0.0.1:0");
            o.runtime.threads = 1;
            o.runtime.driver = cfg.client.runtime.driver;
            Some(start_echo_server(
                &o,
                "echoserver",
                &echo_server_name(),
                Shutdown::new(),
            )?)
        }
    };
    let url_s = cfg
        .url
        .clone()
        .unwrap_or_else(|| embedded.as_ref().map(|s| s.url.clone()).unwrap_or_default());
    if embedded.is_some() {
        eprintln!("echoclient: no -w given; using an echo server started in-process at {url_s}");
    }
    let url = WsUrl::parse(&url_s)?;
    let wopts = cfg.client.ws_options(&url)?;
    let input = match &cfg.source {
        MessageSource::Stdin => {
            let (tx, rx) = crossbeam_channel::unbounded();
            std::thread::Builder::new()
                .name("wstest-stdin".into())
                .spawn(move || {
                    for line in std::io::stdin().lock().lines() {
                        let Ok(l) = line else { break };
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                })
                .map_err(|e| ModeError::io("cannot start stdin reader", e))?;
            Some(rx)
        }
        MessageSource::Fixed { .. } => None,
    };
    let (fixed, fixed_left) = match &cfg.source {
        MessageSource::Fixed { text, count } => (text.clone().into_bytes(), *count),
        MessageSource::Stdin => (Vec::new(), 0),
    };
    let mut h = EchoClientHandler {
        pending: VecDeque::new(),
        input,
        in_flight: None,
        binary: cfg.binary,
        print: cfg.print,
        fixed_left,
        fixed,
        sent: 0,
        received: 0,
        mismatched: 0,
        rtt: Latency::new(),
    };
    let driver = resolve_driver(cfg.client.runtime.driver);
    let res = block_on(driver, true, async {
        let c = connect_ws(&url, &wopts).await?;
        let opts = DriveOptions {
            shutdown: Some(shutdown),
            ..Default::default()
        };
        let out = c.run(&mut h, &opts).await;
        Ok::<_, ModeError>(out)
    })
    .map_err(|e| ModeError::io("runtime", e))?;
    if let Some(s) = embedded {
        s.stop();
        let _ = s.join();
    }
    let out = res?;
    Ok(EchoClientReport {
        url: url_s,
        sent: h.sent,
        received: h.received,
        mismatched: h.mismatched,
        rtt: h.rtt.summary(),
        close: out.status,
    })
}

impl crate::report::Outcome for ServerReport {
    fn summary(&self) -> String {
        let s = &self.stats;
        match self.mode {
            "testeeserver" => format!(
                "testeeserver stopped: {} connections, {} protocol errors caught, {} closed for not reading",
                s.connections, s.protocol_errors, s.stalled
            ),
            mode => format!(
                "{mode} stopped: {} connections, {} messages in, {} out, {} closed for not reading",
                s.connections, s.rx_messages, s.tx_messages, s.stalled
            ),
        }
    }
}

impl crate::report::Outcome for EchoClientReport {
    fn summary(&self) -> String {
        let t = &self.rtt;
        format!(
            "echoclient: {} sent, {} echoed, {} mismatched; rtt min {:.1} median {:.1} p99 {:.1} max {:.1} us",
            self.sent, self.received, self.mismatched, t.min_us, t.median_us, t.p99_us, t.max_us
        )
    }

    fn outcome(&self) -> Result<()> {
        if self.received < self.sent || self.mismatched > 0 {
            return Err(crate::error::Failure::NotEchoed {
                bad: self.sent - self.received + self.mismatched,
                sent: self.sent,
            }
            .into());
        }
        Ok(())
    }
}
