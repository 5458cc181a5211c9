//! `wsperfslave`: a probe that connects to a wsperfmaster, runs the measurements it is sent
//! (on every core of this machine) and sends back the results with their histograms.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use serde::Serialize;
use wstest_engine::net::WsUrl;
use wstest_engine::proto::{CloseCode, Connection, Event};
use wstest_engine::runtime::{block_on, resolve_driver, Shutdown};
use wstest_engine::ws::{connect_ws, DriveOptions, Handler};

use super::probe::{run_probe, Outcome, ProbeResult};
use super::wire::{Msg, SUBPROTOCOL};
use crate::common::ClientOptions;
use crate::error::Failure;
use crate::{ModeError, Result};

#[derive(Clone, Debug)]
pub struct SlaveConfig {
    /// The master, `ws://HOST:PORT`.
    pub master: String,
    /// Name shown by the master (default: host name and process id).
    pub ident: Option<String>,
    pub client: ClientOptions,
}

#[derive(Clone, Debug, Serialize)]
pub struct SlaveReport {
    pub master: String,
    pub ident: String,
    pub measurements: u64,
}

/// How often the connection to the master looks for output from the probe thread.
const POLL: Duration = Duration::from_millis(1);

struct SlaveHandler {
    ident: String,
    threads: usize,
    client: ClientOptions,
    /// Messages from the probe thread to the master.
    out_tx: Sender<Msg>,
    out_rx: Receiver<Msg>,
    /// The barrier release for the measurement in progress.
    go_tx: Option<Sender<()>>,
    /// Ends the measurement in progress (master gone, Ctrl-C).
    probe_stop: Shutdown,
    user_stop: Shutdown,
    measurements: u64,
    error: Option<String>,
    bye: bool,
}

impl SlaveHandler {
    fn prepare(&mut self, token: u64, probe: super::probe::ProbeConfig) {
        let (go_tx, go_rx) = crossbeam_channel::bounded::<()>(1);
        self.go_tx = Some(go_tx);
        let out = self.out_tx.clone();
        let client = self.client.clone();
        let stop = self.probe_stop.clone();
        self.measurements += 1;
        std::thread::spawn(move || {
            let ready_out = out.clone();
            let r = run_probe(&probe, &client, &stop, move || {
                let _ = ready_out.send(Msg::Ready { token });
                // Held here until the master releases every probe (or goes away).
                let _ = go_rx.recv();
            })
            .unwrap_or_else(|e| {
                ProbeResult::failed(probe.connections, Outcome::Failed, e.to_string())
            });
            let _ = out.send(Msg::Result {
                token,
                result: Box::new(r),
            });
        });
    }
}

impl Handler for SlaveHandler {
    fn on_open(&mut self, conn: &mut Connection, _now: Instant) {
        conn.send_text(
            &Msg::Welcome {
                ident: self.ident.clone(),
                version: env!("CARGO_PKG_VERSION").into(),
                threads: self.threads,
            }
            .to_text(),
        );
    }

    fn on_event(&mut self, conn: &mut Connection, event: Event, now: Instant) {
        let Event::Message(m) = event else { return };
        let Some(text) = m.as_text() else {
            self.error = Some("the master sent a binary message".into());
            conn.close(Some(CloseCode::PROTOCOL_ERROR), "binary message", now);
            return;
        };
        match Msg::parse(text) {
            Ok(Msg::Prepare { token, probe }) => self.prepare(token, probe),
            Ok(Msg::Go { .. }) => {
                if let Some(g) = self.go_tx.take() {
                    let _ = g.send(());
                }
            }
            Ok(Msg::Bye) => {
                self.bye = true;
                conn.close(Some(CloseCode::NORMAL), "bye", now);
            }
            Ok(other) => {
                self.error = Some(format!("unexpected message from the master: {other:?}"));
            }
            Err(e) => {
                self.error = Some(e);
                conn.close(Some(CloseCode::PROTOCOL_ERROR), "bad message", now);
            }
        }
    }

    fn deadline(&self) -> Option<Instant> {
        Some(Instant::now() + POLL)
    }

    fn on_deadline(&mut self, conn: &mut Connection, _now: Instant) {
        while let Ok(m) = self.out_rx.try_recv() {
            conn.send_text(&m.to_text());
        }
        if self.user_stop.is_triggered() {
            self.probe_stop.trigger();
        }
    }
}

pub fn run(cfg: &SlaveConfig, shutdown: Shutdown) -> Result<SlaveReport> {
    let url = WsUrl::parse(&cfg.master)?;
    let mut wopts = cfg.client.ws_options(&url)?;
    wopts.protocols = vec![SUBPROTOCOL.into()];
    wopts.deflate = None;
    let ident = cfg.ident.clone().unwrap_or_else(default_ident);
    let (out_tx, out_rx) = crossbeam_channel::unbounded();
    let mut h = SlaveHandler {
        ident: ident.clone(),
        threads: cfg.client.runtime.thread_count(),
        client: cfg.client.clone(),
        out_tx,
        out_rx,
        go_tx: None,
        probe_stop: Shutdown::new(),
        user_stop: shutdown.clone(),
        measurements: 0,
        error: None,
        bye: false,
    };
    let driver = resolve_driver(cfg.client.runtime.driver);
    let res = block_on(driver, true, async {
        let c = connect_ws(&url, &wopts).await?;
        eprintln!("wsperfslave: connected to {} as {ident:?}", cfg.master);
        let opts = DriveOptions {
            shutdown: Some(shutdown.clone()),
            ..Default::default()
        };
        Ok::<_, ModeError>(c.run(&mut h, &opts).await)
    })
    .map_err(|e| ModeError::io("runtime", e))?;
    // Whatever happened, a measurement still running stops now.
    h.probe_stop.trigger();
    res?;
    if let Some(e) = h.error {
        return Err(ModeError::Failed(Failure::Master {
            master: cfg.master.clone(),
            problem: e.to_string(),
        }));
    }
    if !h.bye {
        if shutdown.is_triggered() {
            return Err(ModeError::Interrupted);
        }
        return Err(ModeError::Failed(Failure::Master {
            master: cfg.master.clone(),
            problem: "went away before the run ended".into(),
        }));
    }
    Ok(SlaveReport {
        master: cfg.master.clone(),
        ident,
        measurements: h.measurements,
    })
}

fn default_ident() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "probe".into());
    format!("{host}-{}", std::process::id())
}

impl crate::report::Outcome for SlaveReport {
    fn summary(&self) -> String {
        format!(
            "wsperfslave: ran {} measurements for {} as {:?}",
            self.measurements, self.master, self.ident
        )
    }
}
