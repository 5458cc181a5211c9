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

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::serving::Listening;
use serde::Serialize;
use wstest_engine::proto::{Config, Role};
use wstest_engine::runtime::{RuntimeConfig, Shutdown};

use super::case::Case;
use super::cases;
use super::endpoint::{endpoint_config, session_flow, sync_pause};
use super::outcome::{run_checks, AgentSummary, CheckReport, Checks};
use super::spec::{select, ServerSpec, SERVER_KEYS, SERVER_TEMPLATE};
use super::store::{case_infos, Store};
use crate::common::ServerOptions;
use crate::{spec, ModeError, Result};

mod handler;
mod routes;

pub use handler::FuzzHandler;
pub use routes::{FuzzService, Query};

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

/// How long /updateReports waits for cases still running.
const UPDATE_WAIT: Duration = Duration::from_secs(10);

/// A running fuzzing server.
pub struct RunningFuzzingServer {
    pub listening: Listening,
    shared: Arc<Shared>,
    checks: Checks,
}

impl RunningFuzzingServer {
    pub fn stop(&self) {
        self.shared.stop.trigger();
    }

    /// Wait until stopped (Ctrl-C or /stopServer); write the index; report every agent.
    pub fn join(self) -> Result<FuzzingServerReport> {
        let page_url = self.listening.page_url.clone();
        let url = self.listening.join()?.url;
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
                url: url.clone(),
                ..AgentSummary::from_store(&store, a, &ids)
            })
            .collect();
        let names = store.agents.keys().cloned().collect();
        let checks = run_checks(&store, &names, &self.checks)?;
        Ok(FuzzingServerReport {
            url,
            web: page_url,
            outdir: self.shared.spec.outdir.clone(),
            agents,
            checks,
        })
    }
}

/// The spec with the command line's overrides.
fn load_spec(cfg: &FuzzingServerConfig) -> Result<ServerSpec> {
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
    Ok(spec)
}

/// The cases the spec selects from `all`, in spec order.
fn selected_cases(
    cfg: &FuzzingServerConfig,
    spec: &ServerSpec,
    all: &[Case],
) -> Result<Vec<Arc<Case>>> {
    let ids: Vec<String> = all.iter().map(|c| c.id.clone()).collect();
    let (selected, warns) = select(&ids, &spec.cases, &spec.exclude_cases)
        .map_err(|e| ModeError::spec(cfg.spec.display(), e.to_string()))?;
    for w in warns {
        eprintln!("wstest: {w}");
    }
    Ok(selected
        .iter()
        .filter_map(|id| all.iter().find(|c| &c.id == id))
        .map(|c| Arc::new(c.clone()))
        .collect())
}

/// Start the fuzzing server (and its web page).
pub fn start(cfg: &FuzzingServerConfig, shutdown: Shutdown) -> Result<RunningFuzzingServer> {
    let spec = load_spec(cfg)?;
    let all = cases::all();
    let cases = selected_cases(cfg, &spec, &all)?;
    let store = Store::open(Path::new(&spec.outdir), case_infos(&all))?;
    let mut opts = ServerOptions::new(spec.url.clone());
    opts.key = cfg.key.clone().or(spec.key.clone().map(PathBuf::from));
    opts.cert = cfg.cert.clone().or(spec.cert.clone().map(PathBuf::from));
    opts.runtime = super::fuzzer_runtime(&cfg.runtime);
    opts.share_port = cfg.share_port;
    opts.bind = cfg.bind;
    let (mut ecfg, url) = opts.engine_config()?;
    ecfg.drain_timeout = Duration::from_secs(2);
    ecfg.sync_pause = sync_pause(&spec.options);
    ecfg.flow = session_flow();
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
    let listening = Listening::start(
        "fuzzingserver",
        ecfg.clone(),
        &url,
        Arc::new(FuzzService(shared.clone())),
        shutdown.clone(),
    )?
    .with_page(
        &ecfg,
        &url,
        cfg.webport,
        Arc::new(FuzzService(shared.clone())),
        shutdown,
    )?;
    if let Ok(mut u) = shared.ws_url.lock() {
        *u = listening.url.clone();
    }
    Ok(RunningFuzzingServer {
        listening,
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
        s.listening.url,
        s.listening
            .page_url
            .as_ref()
            .map(|u| format!(", browser page at {u}"))
            .unwrap_or_default(),
        s.shared.spec.outdir
    );
    s.join()
}
