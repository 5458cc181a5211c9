//! `fuzzingclient`: run the suite against each server of the spec.
//!
//! Cases that do not measure time run on several connections at once, spread over the worker
//! threads; timed cases (and all of group 9) run afterwards, one at a time. Workers send each
//! finished case to the main thread over a crossbeam channel; the main thread writes its
//! report files at once (so an interrupted run keeps what it did), shows progress, and writes
//! the index at the end.

use std::collections::{BTreeMap, VecDeque};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use wstest_engine::net::WsUrl;
use wstest_engine::runtime::{block_on, resolve_driver, spawn_workers, RuntimeConfig, Shutdown};
use wstest_engine::ws::{connect_ws, WsClientOptions};

use super::case::Case;
use super::cases;
use super::outcome::{run_checks, AgentSummary, CheckReport, Checks};
use super::result::CaseResult;
use super::run::run_case_client;
use super::spec::{
    agent_excludes, select, ClientSpec, Options, ServerEntry, CLIENT_KEYS, CLIENT_TEMPLATE,
    SERVER_ENTRY_KEYS,
};
use super::store::{case_infos, Store};
use crate::common::{ClientOptions, ServerOptions};
use crate::serving::Listening;
use crate::{spec, testee, ModeError, Result};

#[derive(Clone, Debug)]
pub struct FuzzingClientConfig {
    pub spec: PathBuf,
    /// The server to test, instead of the spec's (`-w`).
    pub url: Option<String>,
    /// Wait up to this long for each server to answer before its cases start
    /// (`--wait-for`).
    pub wait_for: Option<std::time::Duration>,
    /// Expected verdicts, accepted verdicts, JUnit output.
    pub checks: Checks,
    pub runtime: RuntimeConfig,
    pub client: ClientOptions,
    /// Show a progress bar (when stdout is a terminal).
    pub progress: bool,
    /// Largest message a case takes (`--max-message-size`; over the spec's
    /// `maxMessageSize`).
    pub max_message_size: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FuzzingReport {
    pub outdir: String,
    pub agents: Vec<AgentSummary>,
    pub interrupted: bool,
    pub warnings: Vec<String>,
    pub checks: CheckReport,
}

impl FuzzingReport {
    /// Why servers could not be tested at all (no verdicts were written for them).
    pub fn unreachable(&self) -> Vec<&str> {
        self.agents
            .iter()
            .filter_map(|a| a.error.as_deref())
            .collect()
    }

    /// Did every case pass? Passing: behavior OK, NON-STRICT, INFORMATIONAL or UNIMPLEMENTED
    /// and the close OK or INFORMATIONAL; `strict`: only OK (informational cases aside).
    /// Did the run pass: the checks asked for (`--expected`, `--accept`) when there are
    /// any, else every case of every agent (`strict`: only OK).
    pub fn passed(&self, strict: bool) -> bool {
        if self.interrupted {
            return false;
        }
        if self.checks.decides() {
            return self.checks.ok();
        }
        self.agents.iter().all(|a| a.passed(strict))
    }
}

/// Work for one server: which cases, in which phase.
struct Job {
    index: usize,
    case: Arc<Case>,
}

pub fn run(cfg: &FuzzingClientConfig, shutdown: Shutdown) -> Result<FuzzingReport> {
    let mut warnings = Vec::new();
    let spec = load_spec(cfg, &mut |w: String| {
        eprintln!("wstest: {w}");
        warnings.push(w)
    })?;
    let all: Vec<Case> = cases::all();
    let ids: Vec<String> = all.iter().map(|c| c.id.clone()).collect();
    let (selected, sel_warn) = select(&ids, &spec.cases, &spec.exclude_cases)
        .map_err(|e| ModeError::spec(cfg.spec.display(), e.to_string()))?;
    for w in sel_warn {
        eprintln!("wstest: {w}");
        warnings.push(w);
    }
    let mut store = Store::open(std::path::Path::new(&spec.outdir), case_infos(&all))?;
    let mut report = FuzzingReport {
        outdir: spec.outdir.clone(),
        agents: Vec::new(),
        interrupted: false,
        warnings,
        checks: CheckReport::default(),
    };
    let tested = Tested {
        all: &all,
        selected: &selected,
        spec: &spec,
    };
    for server in &spec.servers {
        if shutdown.is_triggered() {
            report.interrupted = true;
            break;
        }
        let (agent, complete) = test_server(cfg, &tested, server, &mut store, &shutdown)?;
        report.interrupted |= !complete;
        report.agents.push(agent);
    }
    store.write_index()?;
    let tested: std::collections::BTreeSet<String> = report
        .agents
        .iter()
        .filter(|a| a.error.is_none())
        .map(|a| a.agent.clone())
        .collect();
    report.checks = run_checks(&store, &tested, &cfg.checks)?;
    Ok(report)
}

/// The spec, with `-w` over its servers (the spec's own entry keeps its agent and options;
/// several entries become that one); `warn` hears what is ignored.
fn load_spec(cfg: &FuzzingClientConfig, warn: &mut impl FnMut(String)) -> Result<ClientSpec> {
    let mut spec: ClientSpec = spec::load(&cfg.spec, CLIENT_TEMPLATE, CLIENT_KEYS, &mut *warn)?;
    spec::warn_nested(&cfg.spec, "servers", SERVER_ENTRY_KEYS, &mut *warn);
    if let Some(u) = &cfg.url {
        if spec.servers.len() > 1 {
            warn(format!(
                "-w {u} replaces the {} servers of spec {}",
                spec.servers.len(),
                cfg.spec.display()
            ));
        }
        let mut entry = spec.servers.drain(..).next().unwrap_or(ServerEntry {
            url: u.clone(),
            agent: None,
            options: Options::default(),
            origin: None,
            protocols: vec![],
            embedded: false,
            hostname: None,
        });
        entry.url = u.clone();
        entry.embedded = false;
        spec.servers.push(entry);
    }
    if spec.servers.is_empty() {
        return Err(ModeError::spec(
            cfg.spec.display(),
            "lists no servers (add one, or give -w URL)",
        ));
    }
    for k in spec.options.other.keys() {
        warn(format!("spec option {k:?} is not supported and ignored"));
    }
    Ok(spec)
}

/// What every server of a run is tested with.
struct Tested<'a> {
    all: &'a [Case],
    selected: &'a [String],
    spec: &'a ClientSpec,
}

/// zlib level of the embedded testee's answers (stored blocks, see [`start_embedded`]).
const EMBEDDED_DEFLATE_LEVEL: u32 = 0;

/// Our own testee, in-process, when the spec asks for it.
fn start_embedded(cfg: &FuzzingClientConfig, server: &ServerEntry) -> Result<Option<Listening>> {
    if !server.embedded {
        return Ok(None);
    }
    let mut o = ServerOptions::new(server.url.clone());
    // The demo target answers with stored deflate blocks (level 0): a run of groups 12 and 13
    // is one message in flight at a time per case, so its time is both sides' zlib time,
    // and what the testee's compressor makes is not judged (the fuzzer only inflates it and
    // compares). Level 1 costs a full LZ77 pass per echo, ten times a copy with the small
    // windows of 13.3, 13.5 and 13.7 (zlib slides its 64 Ki-entry hash table every 512
    // octets there); the fuzzer's own messages stay compressed at level 1.
    if let Some(d) = o.deflate.as_mut() {
        d.level = EMBEDDED_DEFLATE_LEVEL;
    }
    // Every core, unpinned: the fuzzer's workers share them (in groups 12 and 13 the testee
    // inflates as much as the fuzzer compresses).
    o.runtime = RuntimeConfig {
        threads: 0,
        driver: cfg.runtime.driver,
        no_pin: true,
        ..Default::default()
    };
    let s = testee::start_server(&o, Shutdown::new()).map_err(|e| {
        ModeError::Config(crate::error::ConfigError::Start {
            what: format!("the embedded testee on {}", server.url),
            problem: e.to_string(),
        })
    })?;
    Ok(Some(s))
}

/// Run the selected cases on one server; its summary, and whether every case ran (not
/// interrupted).
fn test_server(
    cfg: &FuzzingClientConfig,
    tested: &Tested,
    server: &ServerEntry,
    store: &mut Store,
    shutdown: &Shutdown,
) -> Result<(AgentSummary, bool)> {
    let mut options = tested.spec.options.merged(&server.options);
    if let Some(m) = cfg.max_message_size {
        options.max_message_size = Some(m);
    }
    let started = Instant::now();
    let embedded = start_embedded(cfg, server)?;
    let url_s = embedded
        .as_ref()
        .map(|e| e.url.clone())
        .unwrap_or_else(|| server.url.clone());
    let url = WsUrl::parse(&url_s)?;
    let mut wopts = cfg.client.ws_options(&url)?;
    wopts.origin = server.origin.clone();
    wopts.protocols = server.protocols.clone();
    wopts.user_agent = Some(format!(
        "wstest/{} (fuzzingclient)",
        env!("CARGO_PKG_VERSION")
    ));
    let (agent, probe_error) = find_agent(
        &url,
        server,
        &wopts,
        cfg.runtime.driver,
        cfg.wait_for,
        shutdown,
    );
    // The selected cases in spec order, each with its number in the whole suite.
    let by_id: BTreeMap<&str, (usize, &Case)> = tested
        .all
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), (i + 1, c)))
        .collect();
    let jobs: Vec<Job> = tested
        .selected
        .iter()
        .filter(|id| !agent_excludes(&tested.spec.exclude_agent_cases, &agent, id))
        .map(|id| {
            let (index, c) = by_id[id.as_str()];
            Job {
                index,
                case: Arc::new(c.clone()),
            }
        })
        .collect();
    let total = jobs.len();
    let progress = make_progress(cfg.progress, total, &agent);
    let mut done = 0usize;
    if let Some(err) = &probe_error {
        // Not a run: no verdicts for this server (the others go on; exit 3).
        eprintln!("wstest: {err}");
        done = total;
    } else {
        let (parallel, serial): (Vec<Job>, Vec<Job>) = jobs
            .into_iter()
            .partition(|j| options.concurrency() > 1 && !j.case.runs_alone());
        for (phase, conc) in [(parallel, options.concurrency()), (serial, 1)] {
            if phase.is_empty() || shutdown.is_triggered() {
                continue;
            }
            run_phase(
                phase,
                conc,
                &cfg.runtime,
                &url,
                &agent,
                &wopts,
                &options,
                shutdown,
                |r| {
                    store.add(&r)?;
                    done += 1;
                    if let Some(p) = &progress {
                        p.set_message(r.id.clone());
                        p.inc(1);
                    }
                    Ok(())
                },
            )?;
        }
    }
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    if let Some(e) = embedded {
        e.stop();
        let _ = e.join();
    }
    store.write_index()?;
    let summary = summarize(store, &agent, &url_s, tested.selected, started, probe_error);
    Ok((summary, done >= total))
}

fn summarize(
    store: &Store,
    agent: &str,
    url: &str,
    selected: &[String],
    started: Instant,
    error: Option<String>,
) -> AgentSummary {
    AgentSummary {
        url: url.to_string(),
        seconds: started.elapsed().as_secs_f64(),
        error,
        ..AgentSummary::from_store(store, agent, selected)
    }
}

fn make_progress(enabled: bool, total: usize, agent: &str) -> Option<indicatif::ProgressBar> {
    if !enabled || !std::io::stdout().is_terminal() {
        return None;
    }
    let p = indicatif::ProgressBar::new(total as u64);
    p.set_style(
        indicatif::ProgressStyle::with_template("{prefix} [{bar:40}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    p.set_prefix(agent.to_string());
    Some(p)
}

/// The agent name: the spec's, or the server's `Server` header (as the original does); or
/// why the server cannot be tested ("cannot connect to URL: refused"), after waiting up to
/// `wait` for it to answer.
fn find_agent(
    url: &WsUrl,
    server: &ServerEntry,
    wopts: &WsClientOptions,
    driver: wstest_engine::runtime::DriverKind,
    wait: Option<std::time::Duration>,
    shutdown: &Shutdown,
) -> (String, Option<String>) {
    let until = Instant::now() + wait.unwrap_or_default();
    let probe = loop {
        let p = block_on(resolve_driver(driver), true, probe_server(url, wopts));
        match p {
            Ok(Err(_)) if Instant::now() < until && !shutdown.is_triggered() => {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            p => break p,
        }
    };
    let (name, err) = match probe {
        Ok(Ok(n)) => (n, None),
        Ok(Err(e)) => (None, Some(unreachable(url, &e))),
        Err(e) => (None, Some(e.to_string())),
    };
    (
        server
            .agent
            .clone()
            .or(name)
            .unwrap_or_else(|| "UnknownServer".into()),
        err,
    )
}

/// One connection to the server: its `Server` header, and a polite close.
async fn probe_server(
    url: &WsUrl,
    wopts: &WsClientOptions,
) -> std::result::Result<Option<String>, wstest_engine::ws::ClientError> {
    let mut c = connect_ws(url, wopts).await?;
    let name = c.response.header("server").map(str::to_string);
    // Close politely; the server's echo of our close ends it.
    c.conn.close(
        Some(wstest_engine::proto::CloseCode::NORMAL),
        "",
        Instant::now(),
    );
    let opts = wstest_engine::ws::DriveOptions::default();
    c.run(&mut (), &opts).await;
    Ok(name)
}

/// "cannot connect to URL: refused", or the handshake's failure as it is.
fn unreachable(url: &WsUrl, e: &wstest_engine::ws::ClientError) -> String {
    use wstest_engine::ws::ClientError;
    match e {
        ClientError::Connect(c) => format!("cannot connect to {url}: {} ({c})", e.kind()),
        ClientError::Handshake { .. } => format!("cannot test {url}: {e}"),
    }
}

#[allow(clippy::too_many_arguments)]
fn run_phase(
    jobs: Vec<Job>,
    concurrency: usize,
    runtime: &RuntimeConfig,
    url: &WsUrl,
    agent: &str,
    wopts: &WsClientOptions,
    options: &Options,
    shutdown: &Shutdown,
    mut on_result: impl FnMut(CaseResult) -> Result<()>,
) -> Result<()> {
    let threads = runtime.thread_count().min(concurrency).max(1);
    let per_thread = concurrency.div_ceil(threads);
    let queue = Arc::new(Mutex::new(jobs.into_iter().collect::<VecDeque<Job>>()));
    let (tx, rx) = crossbeam_channel::unbounded::<CaseResult>();
    let shared = Arc::new((
        url.clone(),
        agent.to_string(),
        wopts.clone(),
        options.clone(),
    ));
    let workers = spawn_workers(
        &super::fuzzer_runtime(runtime),
        shutdown.clone(),
        vec![(); threads],
        move |ctx, ()| {
            let (queue, tx, shared) = (queue.clone(), tx.clone(), shared.clone());
            async move {
                let mut tasks = Vec::new();
                for _ in 0..per_thread {
                    let (queue, tx, shared, sd) = (
                        queue.clone(),
                        tx.clone(),
                        shared.clone(),
                        ctx.shutdown.clone(),
                    );
                    tasks.push(monoio::spawn(async move {
                        loop {
                            if sd.is_triggered() {
                                break;
                            }
                            let job = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                            let Some(job) = job else { break };
                            let (url, agent, wopts, options) = &*shared;
                            let r = run_case_client(
                                url, job.case, agent, job.index, wopts, options, &sd,
                            )
                            .await;
                            // A case cut short by Ctrl-C says nothing about the testee: drop it.
                            if sd.is_triggered() || tx.send(r).is_err() {
                                break;
                            }
                        }
                    }));
                }
                for t in tasks {
                    t.await;
                }
            }
        },
    )
    .map_err(|e| ModeError::io("cannot start worker threads", e))?;
    // The workers hold the only senders left once this one is dropped.
    for r in rx.iter() {
        on_result(r)?;
    }
    workers.join()?;
    Ok(())
}
