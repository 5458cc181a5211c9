//! testeeserver and testeeclient: our strictest implementation as the thing under test.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wstest_engine::net::WsUrl;
use wstest_engine::proto::{Config, Connection, Event, Role};
use wstest_engine::runtime::{block_on, resolve_driver, Shutdown};
use wstest_engine::ws::{connect_ws, drive, DriveOptions, Handler, WsClientOptions};

use crate::common::{ClientOptions, ServerOptions};
use crate::echo::{start_echo_server, EchoHandler};
use crate::serving::{Listening, ServerReport};
use crate::{ModeError, Result};

pub fn testee_name() -> String {
    format!("wstest-testee/{}", env!("CARGO_PKG_VERSION"))
}

/// Start the testee server (an echo server with the strict core and a 64 MiB message limit).
pub fn start_server(opts: &ServerOptions, shutdown: Shutdown) -> Result<Listening> {
    start_echo_server(opts, "testeeserver", &testee_name(), shutdown)
}

/// `testeeserver`: serve until shut down.
pub fn run_server(opts: &ServerOptions, shutdown: Shutdown) -> Result<ServerReport> {
    let s = start_server(opts, shutdown)?;
    s.announce();
    s.join()
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TesteeClientConfig {
    /// The fuzzing server, e.g. ws://127.0.0.1:9001.
    pub url: String,
    /// Agent name reported to the fuzzing server.
    pub agent: Option<String>,
    pub client: ClientOptions,
    pub max_message_size: u64,
    /// Skip the final /updateReports.
    pub no_update_reports: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct TesteeClientReport {
    pub url: String,
    pub agent: String,
    pub case_count: u64,
    pub cases_run: u64,
    /// Cases whose connection could not be opened.
    pub cases_failed_to_connect: u64,
    pub updated_reports: bool,
    pub seconds: f64,
}

/// Collects the text messages of a command connection (/getCaseCount and friends).
#[derive(Default)]
struct Collect(Vec<String>);

impl Handler for Collect {
    fn on_event(&mut self, _conn: &mut Connection, event: Event, _now: Instant) {
        if let Event::Message(m) = event {
            self.0.push(String::from_utf8_lossy(&m.data).into_owned());
        }
    }
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `testeeclient`: drive a fuzzing server through its URL protocol.
pub fn run_client(cfg: &TesteeClientConfig, shutdown: Shutdown) -> Result<TesteeClientReport> {
    let base = WsUrl::parse(&cfg.url)?;
    let agent = cfg.agent.clone().unwrap_or_else(testee_name);
    let mut wopts: WsClientOptions = cfg.client.ws_options(&base)?;
    let mut strict = Config::new(Role::Client);
    strict.max_message_size = cfg.max_message_size;
    wopts.config = strict;
    let driver = resolve_driver(cfg.client.runtime.driver);
    let started = Instant::now();
    let report = block_on(driver, true, async {
        let dopts = DriveOptions {
            shutdown: Some(shutdown.clone()),
            ..Default::default()
        };
        // 1. How many cases?
        let url = base.with_resource("/getCaseCount");
        let c = connect_ws(&url, &wopts).await?;
        let mut collect = Collect::default();
        c.run(&mut collect, &dopts).await;
        let count: u64 = collect
            .0
            .first()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| {
                ModeError::Failed(crate::error::Failure::NoCaseCount {
                    url: url.to_string(),
                    got: collect.0.clone(),
                })
            })?;
        eprintln!(
            "testeeclient: {count} cases on {}, agent {agent:?}",
            cfg.url
        );
        let mut rep = TesteeClientReport {
            url: cfg.url.clone(),
            agent: agent.clone(),
            case_count: count,
            cases_run: 0,
            cases_failed_to_connect: 0,
            updated_reports: false,
            seconds: 0.0,
        };
        // 2. Each case: connect and echo until the fuzzer closes.
        for case in 1..=count {
            if shutdown.is_triggered() {
                return Err(ModeError::Interrupted);
            }
            let url = base.with_resource(&format!("/runCase?case={case}&agent={}", encode(&agent)));
            match connect_ws(&url, &wopts).await {
                Ok(c) => {
                    c.run(&mut EchoHandler, &dopts).await;
                    rep.cases_run += 1;
                }
                Err(e) => {
                    log::info!("case {case}: {e}");
                    rep.cases_failed_to_connect += 1;
                    if rep.cases_failed_to_connect == case && case >= 3 {
                        return Err(ModeError::Client(e));
                    }
                }
            }
        }
        // 3. Ask the fuzzer to write its reports.
        if !cfg.no_update_reports {
            let url = base.with_resource(&format!("/updateReports?agent={}", encode(&agent)));
            let mut o = wopts.clone();
            o.handshake_timeout = Duration::from_secs(60);
            let c = connect_ws(&url, &o).await?;
            let mut conn = c.conn;
            drive(
                c.stream,
                &mut conn,
                c.leftover,
                &mut Collect::default(),
                &dopts,
            )
            .await;
            rep.updated_reports = true;
        }
        Ok(rep)
    })
    .map_err(|e| ModeError::io("runtime", e))?;
    let mut report = report?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

impl crate::report::Outcome for TesteeClientReport {
    fn summary(&self) -> String {
        format!(
            "testeeclient: ran {} of {} cases as {:?} in {:.1}s",
            self.cases_run, self.case_count, self.agent, self.seconds
        )
    }
}
