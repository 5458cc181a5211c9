//! `wsperfmaster`: probes on other machines (`wstest -m wsperfslave -w ws://MASTER:PORT`)
//! connect here; the master runs a wsperfcontrol spec on all of them at once (every probe
//! opens its connections, then all are released together), merges their histograms exactly
//! and writes the original's TSV with one merged row per case followed by one row per probe.
//! A web page on `-u` shows the connected probes and the results as they come.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use serde::Serialize;
use wstest_engine::proto::handshake::server::http_response;
use wstest_engine::proto::handshake::{HttpHead, Request};
use wstest_engine::proto::{CloseCode, Config, Connection, Event, Role};
use wstest_engine::runtime::{RuntimeConfig, Shutdown};
use wstest_engine::ws::{serve, Handler, Service, Upgrade};

use super::control::{load_spec, write_testset, ControlReport, Row};
use super::probe::{Outcome, ProbeResult};
use super::wire::{Msg, SUBPROTOCOL};
use crate::common::ServerOptions;
use crate::{ModeError, Result};

#[derive(Clone, Debug)]
pub struct MasterConfig {
    pub server: ServerOptions,
    pub spec: PathBuf,
    /// Port of the status page (0: none).
    pub webport: u16,
    /// Probes to wait for before starting.
    pub probes: usize,
    /// Seconds to wait for them.
    pub wait_s: f64,
    pub quiet: bool,
}

/// From the connections to the main thread.
enum Ev {
    Opened {
        id: u64,
        peer: SocketAddr,
        tx: Sender<Msg>,
    },
    Msg {
        id: u64,
        msg: std::result::Result<Msg, String>,
    },
    Left {
        id: u64,
    },
}

#[derive(Clone, Debug, Default, Serialize)]
struct WebStatus {
    probes: Vec<ProbeInfo>,
    rows: Vec<WebRow>,
    state: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ProbeInfo {
    pub id: u64,
    pub ident: String,
    pub peer: String,
    pub version: String,
    pub threads: usize,
}

#[derive(Clone, Debug, Serialize)]
struct WebRow {
    name: String,
    size: usize,
    outcome: &'static str,
    median_us: f64,
    p99_us: f64,
    msgs_per_sec: f64,
}

struct Shared {
    events: Sender<Ev>,
    next_id: AtomicU64,
    status: Mutex<WebStatus>,
}

struct MasterService(Arc<Shared>);

struct MasterHandler {
    id: u64,
    shared: Arc<Shared>,
    peer: SocketAddr,
    out_tx: Sender<Msg>,
    out_rx: Receiver<Msg>,
}

impl Service for MasterService {
    type Handler = MasterHandler;

    fn upgrade(&self, req: &Request, peer: SocketAddr) -> Upgrade<MasterHandler> {
        if !req.protocols.iter().any(|p| p == SUBPROTOCOL) {
            return Upgrade::Reject {
                status: 400,
                reason: "a wsperf probe must offer the \"wsperf\" subprotocol".into(),
            };
        }
        let (out_tx, out_rx) = crossbeam_channel::unbounded();
        Upgrade::Accept {
            handler: MasterHandler {
                id: self.0.next_id.fetch_add(1, Ordering::SeqCst),
                shared: self.0.clone(),
                peer,
                out_tx,
                out_rx,
            },
            config: Config::new(Role::Server),
            protocol: Some(SUBPROTOCOL.into()),
            extensions: None,
        }
    }

    fn http(&self, head: &HttpHead, _peer: SocketAddr) -> Option<Vec<u8>> {
        let path = head.resource.split('?').next().unwrap_or("/");
        Some(match path {
            "/status.json" => {
                let body = self
                    .0
                    .status
                    .lock()
                    .map(|s| serde_json::to_vec(&*s).unwrap_or_default())
                    .unwrap_or_default();
                http_response(200, "OK", "application/json", &body, &[], Some("wstest"))
            }
            "/" | "/index.html" => http_response(
                200,
                "OK",
                "text/html; charset=utf-8",
                PAGE.as_bytes(),
                &[],
                Some("wstest"),
            ),
            _ => http_response(404, "Not Found", "text/plain", b"not found\n", &[], None),
        })
    }
}

impl Handler for MasterHandler {
    fn on_open(&mut self, _conn: &mut Connection, _now: Instant) {
        let _ = self.shared.events.send(Ev::Opened {
            id: self.id,
            peer: self.peer,
            tx: self.out_tx.clone(),
        });
    }

    fn on_event(&mut self, _conn: &mut Connection, event: Event, _now: Instant) {
        if let Event::Message(m) = event {
            let msg = match m.as_text() {
                Some(t) => Msg::parse(t),
                None => Err("binary message".into()),
            };
            let _ = self.shared.events.send(Ev::Msg { id: self.id, msg });
        }
    }

    fn deadline(&self) -> Option<Instant> {
        Some(Instant::now() + Duration::from_millis(1))
    }

    fn on_deadline(&mut self, conn: &mut Connection, now: Instant) {
        while let Ok(m) = self.out_rx.try_recv() {
            conn.send_text(&m.to_text());
            if matches!(m, Msg::Bye) {
                conn.close(Some(CloseCode::NORMAL), "bye", now);
            }
        }
    }

    fn on_closed(
        &mut self,
        _s: &wstest_engine::proto::connection::CloseStatus,
        _c: &wstest_engine::proto::connection::Counters,
    ) {
        let _ = self.shared.events.send(Ev::Left { id: self.id });
    }
}

/// A probe as the main thread knows it.
struct Probe {
    info: Option<ProbeInfo>,
    peer: SocketAddr,
    tx: Sender<Msg>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MasterReport {
    pub url: String,
    pub probes: Vec<ProbeInfo>,
    /// Probes that went away during the run, and when.
    pub lost: Vec<String>,
    pub control: ControlReport,
}

struct Master {
    events: Receiver<Ev>,
    probes: BTreeMap<u64, Probe>,
    lost: Vec<String>,
    shared: Arc<Shared>,
}

impl Master {
    /// Handle one event; `Left` of a welcomed probe is recorded.
    fn handle(&mut self, ev: Ev) -> Option<(u64, Msg)> {
        match ev {
            Ev::Opened { id, peer, tx } => {
                self.probes.insert(
                    id,
                    Probe {
                        info: None,
                        peer,
                        tx,
                    },
                );
                None
            }
            Ev::Left { id } => {
                if let Some(p) = self.probes.remove(&id) {
                    if let Some(i) = p.info {
                        eprintln!("wsperfmaster: probe {} ({}) disconnected", i.ident, p.peer);
                        self.lost.push(i.ident);
                    }
                }
                self.publish_probes();
                None
            }
            Ev::Msg {
                id,
                msg:
                    Ok(Msg::Welcome {
                        ident,
                        version,
                        threads,
                    }),
            } => {
                if let Some(p) = self.probes.get_mut(&id) {
                    eprintln!(
                        "wsperfmaster: probe {ident} connected from {} ({threads} threads)",
                        p.peer
                    );
                    p.info = Some(ProbeInfo {
                        id,
                        ident,
                        peer: p.peer.to_string(),
                        version,
                        threads,
                    });
                }
                self.publish_probes();
                None
            }
            Ev::Msg { id, msg: Ok(m) } => Some((id, m)),
            Ev::Msg { id, msg: Err(e) } => {
                eprintln!("wsperfmaster: probe #{id}: {e}");
                None
            }
        }
    }

    fn ready_probes(&self) -> Vec<u64> {
        self.probes
            .iter()
            .filter(|(_, p)| p.info.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    fn publish_probes(&self) {
        if let Ok(mut s) = self.shared.status.lock() {
            s.probes = self
                .probes
                .values()
                .filter_map(|p| p.info.clone())
                .collect();
        }
    }

    fn ident(&self, id: u64) -> String {
        self.probes
            .get(&id)
            .and_then(|p| p.info.as_ref().map(|i| i.ident.clone()))
            .unwrap_or_else(|| format!("probe#{id}"))
    }

    /// Run one measurement on `ids`: prepare, barrier, go, results. Results of probes that
    /// left are FAILED rows.
    fn measure(
        &mut self,
        token: u64,
        ids: &[u64],
        probe: &super::probe::ProbeConfig,
        shutdown: &Shutdown,
    ) -> Vec<(String, ProbeResult, bool)> {
        let idents: BTreeMap<u64, String> = ids.iter().map(|id| (*id, self.ident(*id))).collect();
        for id in ids {
            if let Some(p) = self.probes.get(id) {
                let _ = p.tx.send(Msg::Prepare {
                    token,
                    probe: probe.clone(),
                });
            }
        }
        let limit =
            Instant::now() + Duration::from_millis(probe.timeout_ms) * 2 + Duration::from_secs(30);
        let mut waiting_ready: Vec<u64> = ids.to_vec();
        let mut results: BTreeMap<u64, ProbeResult> = BTreeMap::new();
        let mut went = false;
        loop {
            waiting_ready.retain(|id| self.probes.contains_key(id));
            if !went && waiting_ready.is_empty() {
                went = true;
                for id in ids {
                    if let Some(p) = self.probes.get(id) {
                        let _ = p.tx.send(Msg::Go { token });
                    }
                }
            }
            if ids
                .iter()
                .all(|id| results.contains_key(id) || !self.probes.contains_key(id))
            {
                break;
            }
            if Instant::now() >= limit || shutdown.is_triggered() {
                break;
            }
            match self.events.recv_timeout(Duration::from_millis(50)) {
                Ok(ev) => match self.handle(ev) {
                    Some((id, Msg::Ready { token: t })) if t == token => {
                        waiting_ready.retain(|x| *x != id);
                    }
                    Some((
                        id,
                        Msg::Result {
                            token: t,
                            mut result,
                        },
                    )) if t == token => {
                        if let Err(e) = result.restore_latency() {
                            *result = ProbeResult::failed(probe.connections, Outcome::Failed, e);
                        }
                        results.insert(id, *result);
                    }
                    _ => {}
                },
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        ids.iter()
            .map(|id| {
                let name = idents[id].clone();
                let lost = !self.probes.contains_key(id);
                let r = results.remove(id).unwrap_or_else(|| {
                    let why = if lost {
                        format!("probe {name} disconnected during the measurement")
                    } else {
                        "no result in time".to_string()
                    };
                    ProbeResult::failed(probe.connections, Outcome::Failed, why)
                });
                (name, r, lost)
            })
            .collect()
    }
}

pub fn run(cfg: &MasterConfig, shutdown: Shutdown) -> Result<MasterReport> {
    let (spec, _) = load_spec(&cfg.spec, None, |w| eprintln!("wsperfmaster: {w}"))?;
    let (tx, rx) = crossbeam_channel::unbounded();
    let shared = Arc::new(Shared {
        events: tx,
        next_id: AtomicU64::new(1),
        status: Mutex::new(WebStatus {
            state: "waiting for probes".into(),
            ..Default::default()
        }),
    });
    let (mut scfg, url) = cfg.server.engine_config()?;
    scfg.runtime = RuntimeConfig {
        threads: 1,
        driver: cfg.server.runtime.driver,
        no_pin: true,
        ..Default::default()
    };
    let ws = serve(
        scfg.clone(),
        Arc::new(MasterService(shared.clone())),
        Shutdown::new(),
    )?;
    // (Brackets around an IPv6 host: this string was built by hand here and lost them.)
    let ws_url = url.server_url(ws.local_addr.port());
    let web = if cfg.webport != 0 {
        let mut w = scfg.clone();
        w.addr = SocketAddr::new(ws.local_addr.ip(), cfg.webport);
        let h = serve(w, Arc::new(MasterService(shared.clone())), Shutdown::new())?;
        eprintln!(
            "wsperfmaster: status page at {}",
            url.page_url(h.local_addr.port())
        );
        Some(h)
    } else {
        None
    };
    eprintln!(
        "wsperfmaster: listening on {ws_url}; waiting for {} probe(s) (wstest -m wsperfslave -w {ws_url})",
        cfg.probes
    );
    let mut m = Master {
        events: rx,
        probes: BTreeMap::new(),
        lost: Vec::new(),
        shared: shared.clone(),
    };
    let stop_all = |m: &Master| {
        for p in m.probes.values() {
            let _ = p.tx.send(Msg::Bye);
        }
        std::thread::sleep(Duration::from_millis(50));
        ws.stop();
        if let Some(w) = &web {
            w.stop();
        }
    };
    // Wait for the probes.
    let until = Instant::now() + Duration::from_secs_f64(cfg.wait_s);
    while m.ready_probes().len() < cfg.probes.max(1) {
        if shutdown.is_triggered() {
            stop_all(&m);
            return Err(ModeError::Interrupted);
        }
        if Instant::now() >= until {
            let n = m.ready_probes().len();
            stop_all(&m);
            return Err(ModeError::Failed(crate::error::Failure::ProbesMissing {
                connected: n,
                wanted: cfg.probes,
                url: ws_url.to_string(),
                seconds: cfg.wait_s,
            }));
        }
        if let Ok(ev) = m.events.recv_timeout(Duration::from_millis(50)) {
            m.handle(ev);
        }
    }
    if let Ok(mut s) = shared.status.lock() {
        s.state = "running".into();
    }
    let probes: Vec<ProbeInfo> = m.probes.values().filter_map(|p| p.info.clone()).collect();
    let mut control = ControlReport {
        spec: cfg.spec.display().to_string(),
        rows: Vec::new(),
        outfiles: Vec::new(),
        embedded_target: None,
    };
    let mut token = 0;
    let mut interrupted = false;
    for (ti, t) in spec.testsets.iter().enumerate() {
        let mut rows = Vec::new();
        'servers: for server in &spec.servers {
            for (ci, case) in t.cases.iter().enumerate() {
                let ids = m.ready_probes();
                if shutdown.is_triggered() || ids.is_empty() {
                    interrupted = shutdown.is_triggered();
                    break 'servers;
                }
                token += 1;
                let p = t.probe(case, server);
                let per_probe = m.measure(token, &ids, &p, &shutdown);
                // The merged row: the histograms of the probes that stayed, added bucket by
                // bucket (a probe that went away has its own FAILED row).
                let mut merged: Option<ProbeResult> = None;
                for (_, r, _) in per_probe.iter().filter(|(_, _, lost)| !lost) {
                    match &mut merged {
                        None => merged = Some(r.clone()),
                        Some(a) => a.merge(r),
                    }
                }
                let merged = merged.unwrap_or_else(|| {
                    ProbeResult::failed(
                        p.connections,
                        Outcome::Failed,
                        "every probe went away".into(),
                    )
                });
                let mut push = |name: String, r: ProbeResult| {
                    if let Ok(mut s) = shared.status.lock() {
                        let sm = r.latency.summary();
                        s.rows.push(WebRow {
                            name: name.clone(),
                            size: p.size,
                            outcome: r.outcome.as_str(),
                            median_us: sm.median_us,
                            p99_us: sm.p99_us,
                            msgs_per_sec: r.msgs_per_sec,
                        });
                    }
                    rows.push(Row {
                        testset: ti,
                        case: ci,
                        server: name,
                        uri: server.uri.clone(),
                        probe: p.clone(),
                        result: r,
                    });
                };
                if !cfg.quiet {
                    let s = merged.latency.summary();
                    eprintln!(
                        "{} size {} on {} probes: {} median {:.1} us p99 {:.1} us, {:.0} msg/s",
                        server.name,
                        p.size,
                        ids.len(),
                        merged.outcome.as_str(),
                        s.median_us,
                        s.p99_us,
                        merged.msgs_per_sec
                    );
                }
                push(server.name.clone(), merged);
                for (ident, r, _) in per_probe {
                    push(format!("{}@{ident}", server.name), r);
                }
            }
        }
        control
            .outfiles
            .extend(write_testset(&t.output(), &rows, true)?);
        control.rows.extend(rows);
        if interrupted {
            break;
        }
    }
    if let Ok(mut s) = shared.status.lock() {
        s.state = "done".into();
    }
    stop_all(&m);
    let _ = ws.join();
    if let Some(w) = web {
        let _ = w.join();
    }
    if interrupted {
        return Err(ModeError::Interrupted);
    }
    Ok(MasterReport {
        url: ws_url,
        probes,
        lost: m.lost,
        control,
    })
}

const PAGE: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"/><title>wstest wsperfmaster</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}th{background:#eee}
td:first-child{text-align:left}</style></head>
<body><h1>wsperfmaster</h1><p id="state"></p>
<h2>Probes</h2><table id="probes"><tr><th>probe</th><th>address</th><th>threads</th><th>version</th></tr></table>
<h2>Results</h2><table id="rows"><tr><th>name</th><th>size</th><th>outcome</th><th>median µs</th><th>p99 µs</th><th>msg/s</th></tr></table>
<script>
function fill(id, head, rows) {
  const t = document.getElementById(id);
  t.innerHTML = head + rows.map(r => "<tr>" + r.map(c => "<td>" + String(c).replace(/</g, "&lt;") + "</td>").join("") + "</tr>").join("");
}
async function tick() {
  try {
    const s = await (await fetch("/status.json")).json();
    document.getElementById("state").textContent = "State: " + s.state;
    fill("probes", "<tr><th>probe</th><th>address</th><th>threads</th><th>version</th></tr>",
         s.probes.map(p => [p.ident, p.peer, p.threads, p.version]));
    fill("rows", "<tr><th>name</th><th>size</th><th>outcome</th><th>median µs</th><th>p99 µs</th><th>msg/s</th></tr>",
         s.rows.map(r => [r.name, r.size, r.outcome, r.median_us.toFixed(1), r.p99_us.toFixed(1), Math.round(r.msgs_per_sec)]));
  } catch (e) { document.getElementById("state").textContent = "master not reachable"; }
  setTimeout(tick, 1000);
}
tick();
</script></body></html>
"#;

impl crate::report::Outcome for MasterReport {
    fn summary(&self) -> String {
        let c = &self.control;
        let mut line = format!(
            "wsperfmaster: {} probes, {} of {} rows passed",
            self.probes.len(),
            c.passed(),
            c.rows.len()
        );
        if !self.lost.is_empty() {
            line.push_str(&format!("; probes lost: {}", self.lost.join(", ")));
        }
        if !c.outfiles.is_empty() {
            line.push_str(&format!("; wrote {}", c.outfiles.join(", ")));
        }
        line
    }

    fn outcome(&self) -> Result<()> {
        crate::report::Outcome::outcome(&self.control)
    }
}
