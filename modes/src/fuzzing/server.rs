//! `fuzzingserver`: serve the suite to WebSocket clients through the original's URL protocol.
//!
//! | path | what |
//! |---|---|
//! | `/getCaseCount` | one text message: the number of cases |
//! | `/runCase?case=N&agent=A` | run case N (1-based, in spec order) with agent A |
//! | `/getCaseInfo?case=N` | `{"id": ..., "description": ...}` |
//! | `/getCaseStatus?case=N&agent=A` | `{"behavior": ...}` once that case has a result |
//! | `/updateReports?agent=A` | write index.json and index.html |
//! | `/stopServer` | stop the server |
//!
//! Results are stored in the spec's outdir as each case ends (and reloaded at start), so a
//! restart keeps earlier agents. A plain HTTP GET on the web port (and on the WebSocket port)
//! gets a page that runs the suite from the browser's own WebSocket client.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use wstest_engine::proto::handshake::server::accept_response;
use wstest_engine::proto::handshake::{HttpHead, Request};
use wstest_engine::proto::{CloseCode, Config, Connection, Event, Role};
use wstest_engine::runtime::{RuntimeConfig, Shutdown};
use wstest_engine::ws::{serve, Handler, ServerHandle, Service, Upgrade};

use super::case::Case;
use super::cases;
use super::client::case_infos;
use super::outcome::{run_checks, AgentSummary, CheckReport, Checks};
use super::result::CaseResult;
use super::run::endpoint_config;
use super::session::CaseSession;
use super::spec::{agent_excludes, select, ServerSpec, SERVER_KEYS, SERVER_TEMPLATE};
use super::store::Store;
use super::web;
use crate::common::ServerOptions;
use crate::{spec, ModeError, Result};

#[derive(Clone, Debug)]
pub struct FuzzingServerConfig {
    pub spec: PathBuf,
    /// Overrides the spec's url (`-w`).
    pub url: Option<String>,
    /// Web page port; 0 = none.
    pub webport: u16,
    pub key: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub runtime: RuntimeConfig,
    /// Largest message a case takes (`--max-message-size`; over the spec's
    /// `maxMessageSize`).
    pub max_message_size: Option<u64>,
    /// Share a port another server already listens on (`--reuse-port`).
    pub share_port: bool,
    /// Listen on this address instead of the URL's host (`--bind`).
    pub bind: Option<std::net::IpAddr>,
    /// Stop once a client has asked for `/updateReports` (as `shutdownOnComplete=true` in
    /// that request does).
    pub exit_on_update: bool,
    /// Expected verdicts, accepted verdicts, JUnit output.
    pub checks: Checks,
}

#[derive(Clone, Debug, Serialize)]
pub struct FuzzingServerReport {
    pub url: String,
    pub web: Option<String>,
    pub outdir: String,
    pub agents: Vec<AgentSummary>,
    pub checks: CheckReport,
}

impl FuzzingServerReport {
    /// Did the run pass: the checks asked for when there are any, else every case of every
    /// agent. A server no client ran a case on did not.
    pub fn passed(&self, strict: bool) -> bool {
        if self.agents.is_empty() {
            return false;
        }
        if self.checks.decides() {
            return self.checks.ok();
        }
        self.agents.iter().all(|a| a.passed(strict))
    }
}

/// State shared by every connection of the server (not on a hot path: one lock per case).
pub struct Shared {
    cases: Vec<Arc<Case>>,
    spec: ServerSpec,
    store: Mutex<Store>,
    stop: Shutdown,
    config: Config,
    server_name: String,
    ws_url: Mutex<String>,
    /// Case connections not yet finished (their results not yet stored): /updateReports waits
    /// for them, so a client that saw its last case close gets reports that include it.
    running: std::sync::atomic::AtomicUsize,
    /// Stop after any `/updateReports` (`--exit-on-update`).
    exit_on_update: bool,
}

pub struct FuzzService(Arc<Shared>);

/// What a connection of the fuzzing server does.
pub enum FuzzHandler {
    /// Run a case (its session; the result goes to the store when it ends).
    Case(Option<Box<CaseSession>>, Arc<Shared>),
    /// Send these text messages, then close.
    Reply(Vec<String>),
    /// Wait for a case result, then send its behavior.
    Status {
        agent: String,
        id: String,
        shared: Arc<Shared>,
        next: Instant,
    },
    /// Write the reports, then close (and maybe stop the server).
    Update {
        shared: Arc<Shared>,
        stop_after: bool,
        /// Waiting for running cases: next look, and when to stop waiting.
        next: Option<Instant>,
        until: Instant,
    },
    /// Stop the server.
    Stop(Arc<Shared>),
    /// The original's direct command mode: JSON commands that send frames.
    Direct,
}

fn bad(reason: String) -> Upgrade<FuzzHandler> {
    Upgrade::Reject {
        status: 400,
        reason,
    }
}

impl Service for FuzzService {
    type Handler = FuzzHandler;

    fn upgrade(&self, req: &Request, peer: SocketAddr) -> Upgrade<FuzzHandler> {
        let sh = &self.0;
        let q = req.query();
        let one = |k: &str| -> std::result::Result<Option<String>, String> {
            let v: Vec<&String> = q.iter().filter(|(n, _)| n == k).map(|(_, v)| v).collect();
            match v.len() {
                0 => Ok(None),
                1 => Ok(Some(v[0].clone())),
                _ => Err(format!("{k} given {} times", v.len())),
            }
        };
        let agent = match one("agent") {
            Ok(a) => a.filter(|a| !a.is_empty()),
            Err(e) => return bad(e),
        };
        let n = sh.cases.len();
        let mut case_no: Option<usize> = None;
        match one("casetuple") {
            Ok(Some(t)) => match sh.cases.iter().position(|c| c.id == t.trim()) {
                Some(i) => case_no = Some(i + 1),
                None => return bad(format!("no case with id {t:?} in this run")),
            },
            Ok(None) => {}
            Err(e) => return bad(e),
        }
        match one("case") {
            Ok(Some(c)) => match c.trim().parse::<usize>() {
                Ok(i) if (1..=n).contains(&i) => case_no = Some(i),
                _ => {
                    return bad(format!(
                        "case {c:?} is not a case number (this server runs cases 1 to {n})"
                    ))
                }
            },
            Ok(None) => {}
            Err(e) => return bad(e),
        }
        let stop_after = sh.exit_on_update
            || matches!(one("shutdownOnComplete"), Ok(Some(v)) if matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "1"));
        let text_reply = |msgs: Vec<String>| Upgrade::Accept {
            handler: FuzzHandler::Reply(msgs),
            config: Config::new(Role::Server),
            protocol: None,
            extensions: None,
        };
        match req.path() {
            "/runCase" => {
                let (Some(i), Some(agent)) = (case_no, agent) else {
                    return bad("/runCase needs case=N and agent=NAME".into());
                };
                let case = sh.cases[i - 1].clone();
                if agent_excludes(&sh.spec.exclude_agent_cases, &agent, &case.id) {
                    log::info!(
                        "skipping case {} for agent {agent} (exclude-agent-cases)",
                        case.id
                    );
                    return text_reply(Vec::new());
                }
                log::debug!("case {} ({agent}): started by {peer}", case.id);
                let mut config = sh.config.clone();
                let extensions =
                    match super::pmce::server_accept(&req.extensions, &case.deflate_accept) {
                        Err(e) => return bad(e.0),
                        Ok(Some((params, header))) => {
                            config.deflate = Some(params);
                            Some(header)
                        }
                        Ok(None) => None,
                    };
                let mut s = CaseSession::new(case, agent, i, Role::Server);
                let resp = accept_response(req, None, extensions.as_deref(), Some(&sh.server_name));
                s.http_request = req.raw.clone();
                s.http_response = resp.clone();
                s.log_handshake(&resp, &req.raw);
                sh.running.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Upgrade::Accept {
                    handler: FuzzHandler::Case(Some(Box::new(s)), sh.clone()),
                    config,
                    protocol: None,
                    extensions,
                }
            }
            "/getCaseCount" => text_reply(vec![n.to_string()]),
            "/getCaseInfo" => {
                let Some(i) = case_no else {
                    return bad("/getCaseInfo needs case=N".into());
                };
                let c = &sh.cases[i - 1];
                let info = serde_json::json!({"id": c.id, "description": c.description});
                text_reply(vec![info.to_string()])
            }
            "/getCaseStatus" => {
                let (Some(i), Some(agent)) = (case_no, agent) else {
                    return bad("/getCaseStatus needs case=N and agent=NAME".into());
                };
                let id = sh.cases[i - 1].id.clone();
                Upgrade::Accept {
                    handler: FuzzHandler::Status {
                        agent,
                        id,
                        shared: sh.clone(),
                        next: Instant::now(),
                    },
                    config: Config::new(Role::Server),
                    protocol: None,
                    extensions: None,
                }
            }
            "/updateReports" => {
                if agent.is_none() {
                    return bad("/updateReports needs agent=NAME".into());
                }
                Upgrade::Accept {
                    handler: FuzzHandler::Update {
                        shared: sh.clone(),
                        stop_after,
                        next: None,
                        until: Instant::now() + UPDATE_WAIT,
                    },
                    config: Config::new(Role::Server),
                    protocol: None,
                    extensions: None,
                }
            }
            "/stopServer" => Upgrade::Accept {
                handler: FuzzHandler::Stop(sh.clone()),
                config: Config::new(Role::Server),
                protocol: None,
                extensions: None,
            },
            _ => Upgrade::Accept {
                handler: FuzzHandler::Direct,
                config: sh.config.clone(),
                protocol: None,
                extensions: None,
            },
        }
    }

    fn http(&self, head: &HttpHead, _peer: SocketAddr) -> Option<Vec<u8>> {
        let ws = self.0.ws_url.lock().map(|u| u.clone()).unwrap_or_default();
        Some(web::respond(
            head,
            &ws,
            Path::new(&self.0.spec.outdir),
            Some(&self.0.server_name),
        ))
    }

    fn server_name(&self) -> Option<&str> {
        Some(&self.0.server_name)
    }
}

/// How long /updateReports waits for cases still running.
const UPDATE_WAIT: Duration = Duration::from_secs(10);

impl FuzzHandler {
    /// /updateReports: once no case is running (or the wait is over), write the index.
    fn update_reports(&mut self, conn: &mut Connection, now: Instant) {
        let FuzzHandler::Update {
            shared,
            stop_after,
            next,
            until,
        } = self
        else {
            return;
        };
        if shared.running.load(std::sync::atomic::Ordering::SeqCst) > 0 && now < *until {
            *next = Some(now + Duration::from_millis(10));
            return;
        }
        *next = None;
        let res = shared
            .store
            .lock()
            .map_err(|_| "store lock poisoned".to_string())
            .and_then(|mut s| s.write_index().map_err(|e| e.to_string()));
        match res {
            Ok(()) => eprintln!("fuzzingserver: reports written to {}", shared.spec.outdir),
            Err(e) => eprintln!("fuzzingserver: error: {e}"),
        }
        conn.close(Some(CloseCode::NORMAL), "", now);
        if *stop_after {
            shared.stop.trigger();
        }
    }
}

impl Drop for FuzzHandler {
    fn drop(&mut self) {
        // After on_closed stored the result (or the connection never ran).
        if let FuzzHandler::Case(_, shared) = self {
            shared
                .running
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

impl Handler for FuzzHandler {
    fn on_open(&mut self, conn: &mut Connection, now: Instant) {
        match self {
            FuzzHandler::Case(Some(s), _) => s.on_open(conn, now),
            FuzzHandler::Case(None, _) | FuzzHandler::Direct | FuzzHandler::Status { .. } => {}
            FuzzHandler::Reply(msgs) => {
                for m in msgs.drain(..) {
                    conn.send_text(&m);
                }
                conn.close(Some(CloseCode::NORMAL), "", now);
            }
            FuzzHandler::Update { .. } => self.update_reports(conn, now),
            FuzzHandler::Stop(shared) => {
                eprintln!("fuzzingserver: stopping (requested by /stopServer)");
                conn.close(Some(CloseCode::GOING_AWAY), "", now);
                shared.stop.trigger();
            }
        }
    }

    fn on_event(&mut self, conn: &mut Connection, event: Event, now: Instant) {
        match self {
            FuzzHandler::Case(Some(s), _) => s.on_event(conn, event, now),
            FuzzHandler::Direct => {
                if let Event::Message(m) = event {
                    if let Err(e) = super::direct::execute(conn, &m.data, m.binary, now) {
                        conn.fail_with(CloseCode::PROTOCOL_ERROR, &e.to_string(), false, now);
                    }
                }
            }
            _ => {}
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self {
            FuzzHandler::Case(Some(s), _) => s.deadline(),
            FuzzHandler::Status { next, .. } => Some(*next),
            FuzzHandler::Update { next, .. } => *next,
            _ => None,
        }
    }

    fn on_deadline(&mut self, conn: &mut Connection, now: Instant) {
        if let FuzzHandler::Update { .. } = self {
            return self.update_reports(conn, now);
        }
        match self {
            FuzzHandler::Case(Some(s), _) => s.on_deadline(conn, now),
            FuzzHandler::Status {
                agent,
                id,
                shared,
                next,
            } => {
                let behavior = shared
                    .store
                    .lock()
                    .ok()
                    .and_then(|s| s.has(agent, id).map(|r| r.behavior));
                match behavior {
                    Some(b) if conn.is_open() => {
                        conn.send_text(&serde_json::json!({ "behavior": b.as_str() }).to_string());
                        conn.close(Some(CloseCode::NORMAL), "", now);
                        *next = now + Duration::from_secs(3600);
                    }
                    _ => *next = now + Duration::from_millis(50),
                }
            }
            _ => {}
        }
    }

    fn on_rx_octets(&mut self, data: &[u8]) {
        if let FuzzHandler::Case(Some(s), _) = self {
            s.on_rx_octets(data);
        }
    }

    fn on_closed(
        &mut self,
        status: &wstest_engine::proto::CloseStatus,
        counters: &wstest_engine::proto::connection::Counters,
    ) {
        if let FuzzHandler::Case(slot, shared) = self {
            if let Some(mut s) = slot.take() {
                s.on_closed(status, counters);
                let r: CaseResult = s.finish(None);
                log::debug!(
                    "case {} ({}): closed: {}; {} / {} in {} ms",
                    r.id,
                    r.agent,
                    super::run::describe_close(status),
                    r.verdict.behavior.as_str(),
                    r.verdict.behavior_close.as_str(),
                    r.duration_ms
                );
                if shared.stop.is_triggered() {
                    return; // cut short by shutdown: says nothing about the client
                }
                let res = shared
                    .store
                    .lock()
                    .map_err(|_| "store lock poisoned".to_string())
                    .and_then(|mut st| st.add(&r).map_err(|e| e.to_string()));
                if let Err(e) = res {
                    eprintln!(
                        "fuzzingserver: cannot store case {} of {}: {e}",
                        r.id, r.agent
                    );
                }
            }
        }
    }
}

/// A running fuzzing server.
pub struct RunningFuzzingServer {
    pub ws: ServerHandle,
    pub web: Option<ServerHandle>,
    pub url: String,
    pub web_url: Option<String>,
    shared: Arc<Shared>,
    checks: Checks,
}

impl RunningFuzzingServer {
    pub fn stop(&self) {
        self.shared.stop.trigger();
    }

    /// Wait until stopped (Ctrl-C or /stopServer); write the index; report every agent.
    pub fn join(self) -> Result<FuzzingServerReport> {
        self.ws.join()?;
        if let Some(w) = self.web {
            w.stop();
            let _ = w.join();
        }
        let mut store =
            self.shared.store.lock().map_err(|_| {
                ModeError::Failed(crate::error::Failure::Panicked("fuzzing server"))
            })?;
        store.write_index()?;
        let ids: Vec<String> = self.shared.cases.iter().map(|c| c.id.clone()).collect();
        let agents = store
            .agents
            .keys()
            .map(|a| AgentSummary {
                url: self.url.clone(),
                ..AgentSummary::from_store(&store, a, &ids)
            })
            .collect();
        let names = store.agents.keys().cloned().collect();
        let checks = run_checks(&store, &names, &self.checks)?;
        Ok(FuzzingServerReport {
            url: self.url,
            web: self.web_url,
            outdir: self.shared.spec.outdir.clone(),
            agents,
            checks,
        })
    }
}

/// Start the fuzzing server (and its web page).
pub fn start(cfg: &FuzzingServerConfig, shutdown: Shutdown) -> Result<RunningFuzzingServer> {
    let mut spec: ServerSpec = spec::load(&cfg.spec, SERVER_TEMPLATE, SERVER_KEYS, |w| {
        eprintln!("wstest: {w}")
    })?;
    if let Some(u) = &cfg.url {
        spec.url = u.clone();
    }
    if let Some(m) = cfg.max_message_size {
        spec.options.max_message_size = Some(m);
    }
    for k in spec.options.other.keys() {
        eprintln!("wstest: spec option {k:?} is not supported and ignored");
    }
    let all = cases::all();
    let ids: Vec<String> = all.iter().map(|c| c.id.clone()).collect();
    let (selected, warns) = select(&ids, &spec.cases, &spec.exclude_cases)
        .map_err(|e| ModeError::spec(cfg.spec.display(), e.to_string()))?;
    for w in warns {
        eprintln!("wstest: {w}");
    }
    let cases: Vec<Arc<Case>> = selected
        .iter()
        .filter_map(|id| all.iter().find(|c| &c.id == id))
        .map(|c| Arc::new(c.clone()))
        .collect();
    let store = Store::open(Path::new(&spec.outdir), case_infos(&all))?;
    let mut opts = ServerOptions::new(spec.url.clone());
    opts.key = cfg.key.clone().or(spec.key.clone().map(PathBuf::from));
    opts.cert = cfg.cert.clone().or(spec.cert.clone().map(PathBuf::from));
    opts.runtime = super::fuzzer_runtime(&cfg.runtime);
    opts.share_port = cfg.share_port;
    opts.bind = cfg.bind;
    let (mut ecfg, url) = opts.engine_config()?;
    ecfg.drain_timeout = Duration::from_secs(2);
    ecfg.sync_pause = super::run::sync_pause(&spec.options);
    ecfg.flow = super::run::session_flow();
    let server_name = format!("wstest-fuzzingserver/{}", env!("CARGO_PKG_VERSION"));
    let shared = Arc::new(Shared {
        config: endpoint_config(Role::Server, &spec.options),
        cases,
        spec,
        store: Mutex::new(store),
        stop: shutdown.clone(),
        server_name,
        ws_url: Mutex::new(String::new()),
        running: std::sync::atomic::AtomicUsize::new(0),
        exit_on_update: cfg.exit_on_update,
    });
    let tls = ecfg.tls.clone();
    let ws = serve(
        ecfg,
        Arc::new(FuzzService(shared.clone())),
        shutdown.clone(),
    )?;
    let ws_url = url.server_url(ws.local_addr.port());
    if let Ok(mut u) = shared.ws_url.lock() {
        *u = ws_url.clone();
    }
    let (web, web_url) = if cfg.webport != 0 {
        let mut wcfg =
            wstest_engine::ws::ServerConfig::new(SocketAddr::new(ws.local_addr.ip(), cfg.webport));
        wcfg.runtime = RuntimeConfig {
            threads: 1,
            driver: cfg.runtime.driver,
            no_pin: true,
            ..Default::default()
        };
        wcfg.tls = tls;
        let h = serve(
            wcfg,
            Arc::new(FuzzService(shared.clone())),
            shutdown.clone(),
        )?;
        let u = url.page_url(h.local_addr.port());
        (Some(h), Some(u))
    } else {
        (None, None)
    };
    Ok(RunningFuzzingServer {
        ws,
        web,
        url: ws_url,
        web_url,
        shared,
        checks: cfg.checks.clone(),
    })
}

/// `fuzzingserver`: serve until stopped.
pub fn run(cfg: &FuzzingServerConfig, shutdown: Shutdown) -> Result<FuzzingServerReport> {
    let s = start(cfg, shutdown)?;
    eprintln!(
        "fuzzingserver: {} cases on {}{}; reports in {}",
        s.shared.cases.len(),
        s.url,
        s.web_url
            .as_ref()
            .map(|u| format!(", browser page at {u}"))
            .unwrap_or_default(),
        s.shared.spec.outdir
    );
    s.join()
}
