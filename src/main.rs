//! `wstest`: parse the command line, dispatch to a mode, print its report. No protocol logic
//! lives here.

mod cli;
mod mode_help;

use std::path::Path;

use clap::Parser;
use std::time::Duration;

use wstest_engine::runtime::{install_signal_handler, DriverKind, RuntimeConfig, Shutdown};
use wstest_engine::ws::FlowLimits;
use wstest_modes::common::{ClientOptions, DeflateSwitches, ServerOptions};
use wstest_modes::echo::{EchoClientConfig, MessageSource};
use wstest_modes::fuzzing::client::FuzzingClientConfig;
use wstest_modes::fuzzing::server::FuzzingServerConfig;
use wstest_modes::spec;
use wstest_modes::testee::TesteeClientConfig;
use wstest_modes::{report, ModeError};

use cli::{Cli, MODES, NEEDS_URL};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (milliseconds before freed memory is returned to the
/// kernel), the same index in its v2 and v3 headers; the crate names no constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// `--max-queued` and `--stall-timeout` over the defaults.
fn server_flow(cli: &Cli) -> FlowLimits {
    let d = FlowLimits::default();
    FlowLimits::new(
        cli.max_queued.map_or(d.high_water, |b| b as usize),
        cli.stall_timeout
            .map_or(d.stall_timeout, |s| Duration::from_secs_f64(s.max(0.001))),
    )
}

/// `--max-message-size` when not given (every mode but wampserver).
const DEFAULT_MAX_MESSAGE: u64 = 64 << 20;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(mode) = mode_help::requested(&args) {
        match mode_help::render(&mode) {
            Some(h) => {
                print!("{h}");
                return;
            }
            None => {
                eprintln!("wstest: unknown mode {mode:?}; modes: {}", mode_names());
                std::process::exit(2);
            }
        }
    }
    let cli = Cli::parse();
    env_logger::Builder::new()
        .filter_level(if cli.debug {
            log::LevelFilter::Debug
        } else {
            log::LevelFilter::Warn
        })
        .format_timestamp_millis()
        .target(env_logger::Target::Stderr)
        .init();
    match run(cli) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("wstest: error: {e}");
            std::process::exit(e.exit_code());
        }
    }
}

fn usage(msg: String) -> ModeError {
    ModeError::Config(msg)
}

fn run(cli: Cli) -> Result<(), ModeError> {
    if cli.autobahnversion {
        println!("wstest {}", env!("CARGO_PKG_VERSION"));
        println!("compatible with AutobahnTestSuite 25.10.1 (Autobahn 0.10.9) command lines, specs and reports");
        return Ok(());
    }
    let mode = match (&cli.mode, cli.rest.first().map(String::as_str)) {
        (None, Some(sub @ ("merge" | "compare" | "plot"))) => Some(sub.to_string()),
        (m, _) => m.clone(),
    };
    let Some(mode) = mode else {
        return Err(usage(format!(
            "a mode is required (-m MODE); modes: {}",
            mode_names()
        )));
    };
    if !MODES.iter().any(|(m, _)| *m == mode) {
        let list: Vec<String> = MODES
            .iter()
            .map(|(m, what)| format!("  {m:<16} {what}"))
            .collect();
        return Err(usage(format!(
            "unknown mode {mode:?}; available modes:\n{}",
            list.join("\n")
        )));
    }
    if NEEDS_URL.contains(&mode.as_str()) && cli.wsuri.is_none() {
        return Err(usage(format!(
            "mode {mode} needs a WebSocket URL: -w ws://HOST:PORT"
        )));
    }
    let driver: DriverKind = cli
        .driver
        .parse()
        .map_err(|e: String| usage(format!("--driver: {e}")))?;
    let cpus = match &cli.cpus {
        Some(list) => wstest_engine::runtime::parse_cpu_list(list)
            .map_err(|e| usage(format!("--cpus: {e}")))?,
        None => Vec::new(),
    };
    let runtime = RuntimeConfig {
        threads: cli.threads,
        driver,
        no_pin: cli.no_pin,
        cpus,
    };
    // mimalloc hands freed pages back to the kernel after 10 ms by default; large messages
    // (hundreds of KiB and up, allocated and freed at once) then fault in zeroed pages again
    // on every reuse, which was most of a pipelined 1 MiB run's time. A second instead.
    // SAFETY: sets a mimalloc option before any thread of ours allocates much.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1000) };
    wstest_engine::runtime::limits::set_trim_hook(|| {
        // SAFETY: mi_collect only frees mimalloc's own cached memory of this thread.
        unsafe { libmimalloc_sys::mi_collect(true) }
    });
    // Every mode may hold many sockets: take the hard limit up front.
    let _ = wstest_engine::runtime::limits::raise_nofile();
    let shutdown = Shutdown::new();
    install_signal_handler(shutdown.clone())
        .map_err(|e| ModeError::io("cannot install signal handlers", e))?;

    let switches = DeflateSwitches {
        on: cli.deflate,
        window_bits: cli.deflate_window_bits,
        no_context_takeover: cli.deflate_no_context_takeover,
        threshold: cli.deflate_threshold,
        level: cli.deflate_level,
    };
    let server_deflate = switches.config(true)?;
    // Clients offer permessage-deflate by default only as a testee.
    let client_deflate = switches.config(mode == "testeeclient")?;
    let server_opts = |default_url: &str| ServerOptions {
        url: cli.wsuri.clone().unwrap_or_else(|| default_url.to_string()),
        key: cli.key.clone(),
        cert: cli.cert.clone(),
        runtime: runtime.clone(),
        backlog: cli.backlog,
        max_message_size: cli.max_message_size.unwrap_or(DEFAULT_MAX_MESSAGE),
        ident: cli.ident.clone(),
        deflate: server_deflate.clone(),
        flow: server_flow(&cli),
        share_port: cli.reuse_port,
        bind: cli.bind,
    };
    let client_opts = ClientOptions {
        cacert: cli.cacert.clone(),
        insecure: cli.insecure,
        runtime: runtime.clone(),
        connect_timeout: cli.connect_timeout,
        deflate: client_deflate,
    };

    let checks = fuzz_checks(&cli)?;
    match mode.as_str() {
        "echoserver" => {
            let r = wstest_modes::echo::run_server(&server_opts("ws://127.0.0.1:9000"), shutdown)?;
            emit(
                &cli,
                &r,
                &format!(
                    "echoserver stopped: {} connections, {} messages in, {} out, {} closed for not reading",
                    r.stats.connections, r.stats.rx_messages, r.stats.tx_messages, r.stats.stalled
                ),
            )
        }
        "testeeserver" => {
            let r =
                wstest_modes::testee::run_server(&server_opts("ws://127.0.0.1:9001"), shutdown)?;
            emit(
                &cli,
                &r,
                &format!(
                    "testeeserver stopped: {} connections, {} protocol errors caught, {} closed for not reading",
                    r.stats.connections, r.stats.protocol_errors, r.stats.stalled
                ),
            )
        }
        "echoclient" => {
            let source = match &cli.message {
                Some(t) => MessageSource::Fixed {
                    text: t.clone(),
                    count: cli.count.unwrap_or(1),
                },
                None => MessageSource::Stdin,
            };
            let cfg = EchoClientConfig {
                url: cli.wsuri.clone(),
                source,
                binary: cli.binary,
                client: client_opts,
                print: !cli.json,
            };
            let r = wstest_modes::echo::run_client(&cfg, shutdown)?;
            let line = format!(
                "echoclient: {} sent, {} echoed, {} mismatched; rtt min {:.1} median {:.1} p99 {:.1} max {:.1} us",
                r.sent, r.received, r.mismatched, r.rtt.min_us, r.rtt.median_us, r.rtt.p99_us, r.rtt.max_us
            );
            emit(&cli, &r, &line)?;
            if r.received < r.sent || r.mismatched > 0 {
                return Err(ModeError::Failed(format!(
                    "{} of {} messages were not echoed correctly",
                    r.sent - r.received + r.mismatched,
                    r.sent
                )));
            }
            Ok(())
        }
        "broadcastserver" => {
            let cfg = wstest_modes::broadcast::BroadcastServerConfig {
                server: server_opts("ws://127.0.0.1:9000"),
                webport: cli.webport,
                tick_s: cli.tick,
                queue_limit: cli.queue_limit,
            };
            let r = wstest_modes::broadcast::run_server(&cfg, shutdown)?;
            emit(
                &cli,
                &r,
                &format!(
                    "broadcastserver stopped: {} connections, {} messages published, {} delivered, {} slow receivers dropped",
                    r.server.stats.connections, r.broadcast.published, r.broadcast.delivered, r.broadcast.dropped_slow
                ),
            )
        }
        "broadcastclient" => {
            let url = cli.wsuri.clone().expect("checked above");
            if let Some(clients) = cli.clients {
                let cfg = wstest_modes::broadcast::FanoutConfig {
                    url,
                    client: client_opts,
                    clients,
                    rate: cli.publish_rate,
                    duration_s: cli.duration.unwrap_or(5.0),
                    size: cli.size,
                    ..Default::default()
                };
                let r = wstest_modes::broadcast::run_fanout(&cfg, &shutdown)?;
                let tsv = format!(
                    "{}\n{}\n",
                    wstest_modes::broadcast::FanoutReport::TSV_HEADER,
                    r.tsv_row()
                );
                if let Some(path) = &cli.tsv {
                    report::write_atomic(path, tsv.as_bytes())?;
                }
                if cli.json {
                    emit(&cli, &r, "")?;
                } else {
                    print!("{tsv}");
                    if let Some(out) = &cli.outfile {
                        report::write_json(Path::new(out), &r)?;
                    }
                }
                if let Some(e) = &r.first_error {
                    eprintln!("broadcastclient: {e}");
                }
                if r.lost > 0 || r.dropped > 0 {
                    return Err(ModeError::Failed(format!(
                        "{} of {} deliveries lost, {} receivers dropped",
                        r.lost, r.expected, r.dropped
                    )));
                }
                return Ok(());
            }
            let cfg = wstest_modes::broadcast::BroadcastClientConfig {
                url,
                client: client_opts,
                interval_s: cli.interval,
                message: cli.message.clone(),
                duration_s: cli.duration,
                print: !cli.json,
            };
            let r = wstest_modes::broadcast::run_client(&cfg, shutdown)?;
            let line = format!(
                "broadcastclient: {} sent, {} received; closed: {:?}",
                r.sent, r.received, r.close.remote_code
            );
            if cli.json {
                emit(&cli, &r, &line)
            } else {
                eprintln!("{line}");
                if let Some(out) = &cli.outfile {
                    report::write_json(Path::new(out), &r)?;
                }
                Ok(())
            }
        }
        "testeeclient" => {
            let cfg = TesteeClientConfig {
                url: cli.wsuri.clone().expect("checked above"),
                agent: cli.ident.clone(),
                client: client_opts,
                max_message_size: cli.max_message_size.unwrap_or(DEFAULT_MAX_MESSAGE),
                no_update_reports: false,
            };
            let r = wstest_modes::testee::run_client(&cfg, shutdown)?;
            emit(
                &cli,
                &r,
                &format!(
                    "testeeclient: ran {} of {} cases as {:?} in {:.1}s",
                    r.cases_run, r.case_count, r.agent, r.seconds
                ),
            )
        }
        "fuzzingclient" => {
            let cfg = FuzzingClientConfig {
                spec: spec::spec_path(cli.spec.as_deref(), "fuzzingclient"),
                url: cli.wsuri.clone(),
                runtime: runtime.clone(),
                client: client_opts,
                progress: !cli.quiet,
                max_message_size: cli.max_message_size,
                wait_for: cli.wait_for.map(Duration::from_secs_f64),
                checks: checks.clone(),
            };
            let r = wstest_modes::fuzzing::client::run(&cfg, shutdown)?;
            let mut lines: Vec<String> = r.agents.iter().map(|a| a.line()).collect();
            lines.extend(r.checks.lines());
            lines.push(format!(
                "reports in {}/index.html",
                r.outdir.trim_end_matches('/')
            ));
            emit(&cli, &r, &lines.join("\n"))?;
            if r.interrupted {
                return Err(ModeError::Interrupted);
            }
            let unreachable = r.unreachable();
            if !unreachable.is_empty() {
                return Err(ModeError::Unreachable(unreachable.join("; ")));
            }
            if !r.passed(cli.strict) {
                return Err(ModeError::Failed(if r.checks.decides() {
                    "verdicts not as expected".into()
                } else {
                    "not every case passed".into()
                }));
            }
            Ok(())
        }
        "fuzzingserver" => {
            let cfg = FuzzingServerConfig {
                spec: spec::spec_path(cli.spec.as_deref(), "fuzzingserver"),
                url: cli.wsuri.clone(),
                webport: cli.webport,
                key: cli.key.clone(),
                cert: cli.cert.clone(),
                runtime: runtime.clone(),
                max_message_size: cli.max_message_size,
                share_port: cli.reuse_port,
                bind: cli.bind,
                exit_on_update: cli.exit_on_update,
                checks: checks.clone(),
            };
            let r = wstest_modes::fuzzing::server::run(&cfg, shutdown)?;
            let mut lines: Vec<String> = r.agents.iter().map(|a| a.line()).collect();
            lines.extend(r.checks.lines());
            if r.agents.is_empty() {
                lines.push("no client ran a case".into());
            }
            lines.push(format!(
                "reports in {}/index.html",
                r.outdir.trim_end_matches('/')
            ));
            emit(&cli, &r, &lines.join("\n"))?;
            // Stopped by a signal or a client, the exit status is the verdicts'.
            if !r.passed(cli.strict) {
                return Err(ModeError::Failed(if r.agents.is_empty() {
                    "no client ran a case".into()
                } else if r.checks.decides() {
                    "verdicts not as expected".into()
                } else {
                    "not every case passed".into()
                }));
            }
            Ok(())
        }
        "wsperfcontrol" => {
            let cfg = wstest_modes::wsperf::control::ControlConfig {
                spec: spec::spec_path(cli.spec.as_deref(), "wsperfcontrol"),
                url: cli.wsuri.clone(),
                json_out: None,
                client: client_opts,
                quiet: cli.quiet,
            };
            let r = wstest_modes::wsperf::control::run(&cfg, shutdown)?;
            let mut line = format!(
                "wsperfcontrol: {} of {} measurements passed",
                r.passed(),
                r.rows.len()
            );
            if !r.outfiles.is_empty() {
                line.push_str(&format!("; wrote {}", r.outfiles.join(", ")));
            }
            emit(&cli, &r, &line)?;
            if r.passed() < r.rows.len() {
                return Err(ModeError::Failed(format!(
                    "{} measurements did not pass",
                    r.rows.len() - r.passed()
                )));
            }
            Ok(())
        }
        "wsperfmaster" => {
            let mut so = server_opts("ws://127.0.0.1:9090");
            so.deflate = None;
            let cfg = wstest_modes::wsperf::master::MasterConfig {
                server: so,
                spec: spec::spec_path(cli.spec.as_deref(), "wsperfcontrol"),
                webport: cli.webport,
                probes: cli.probes,
                wait_s: cli.wait,
                quiet: cli.quiet,
            };
            let r = wstest_modes::wsperf::master::run(&cfg, shutdown)?;
            let c = &r.control;
            let mut line = format!(
                "wsperfmaster: {} probes, {} of {} rows passed",
                r.probes.len(),
                c.passed(),
                c.rows.len()
            );
            if !r.lost.is_empty() {
                line.push_str(&format!("; probes lost: {}", r.lost.join(", ")));
            }
            if !c.outfiles.is_empty() {
                line.push_str(&format!("; wrote {}", c.outfiles.join(", ")));
            }
            emit(&cli, &r, &line)?;
            if c.passed() < c.rows.len() {
                return Err(ModeError::Failed(format!(
                    "{} rows did not pass",
                    c.rows.len() - c.passed()
                )));
            }
            Ok(())
        }
        "wsperfslave" => {
            let cfg = wstest_modes::wsperf::slave::SlaveConfig {
                master: cli.wsuri.clone().unwrap_or_default(),
                ident: cli.ident.clone(),
                client: client_opts,
            };
            let r = wstest_modes::wsperf::slave::run(&cfg, shutdown)?;
            emit(
                &cli,
                &r,
                &format!(
                    "wsperfslave: ran {} measurements for {} as {:?}",
                    r.measurements, r.master, r.ident
                ),
            )
        }
        "massconnect" => {
            let cfg = wstest_modes::massconnect::MassConfig {
                spec: spec::spec_path(cli.spec.as_deref(), "massconnect"),
                url: cli.wsuri.clone(),
                shard: cli.shard,
                start_at: cli.start_at,
                client: client_opts,
                progress: !cli.quiet,
                server_exe: std::env::current_exe().ok(),
            };
            let r = wstest_modes::massconnect::run(&cfg, shutdown.clone())?;
            if let Some(t) = &cli.tsv {
                report::write_atomic(t, wstest_modes::massconnect::report::tsv(&r).as_bytes())?;
            }
            let summary: Vec<String> = r
                .servers
                .iter()
                .map(|s| {
                    format!(
                        "{}: {} of {} open, {:.0} handshakes/s{}, connect p50 {:.2} ms, handshake p50 {:.2} ms{}{}",
                        s.name,
                        s.connected,
                        s.target,
                        s.handshakes_per_sec,
                        match (s.seconds_to_90, s.seconds_to_99) {
                            (Some(a), Some(b)) if s.reached => format!(
                                ", 90/99/100 % open after {a:.3}/{b:.3}/{:.3} s",
                                s.seconds
                            ),
                            _ => String::new(),
                        },
                        s.connect_latency.median_us / 1000.0,
                        s.handshake_latency.median_us / 1000.0,
                        s.memory_per_connection
                            .map(|m| format!(", {m:.0} B/connection user-space"))
                            .unwrap_or_default(),
                        if s.fastopen_checked > 0 {
                            format!(
                                ", TCP Fast Open taken on {} of {} handshakes checked",
                                s.fastopen, s.fastopen_checked
                            )
                        } else {
                            String::new()
                        }
                    )
                })
                .collect();
            emit(&cli, &r, &summary.join("\n"))?;
            if shutdown.is_triggered() {
                return Err(ModeError::Interrupted);
            }
            // A server no handshake ever succeeded with could not be reached at all.
            let unreachable: Vec<String> = r
                .servers
                .iter()
                .filter(|s| s.handshakes == 0)
                .map(|s| {
                    let errs: Vec<String> =
                        s.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
                    format!("cannot connect to {}: {}", s.uri, errs.join(", "))
                })
                .collect();
            if !unreachable.is_empty() {
                return Err(ModeError::Unreachable(unreachable.join("; ")));
            }
            let short: Vec<&str> = r
                .servers
                .iter()
                .filter(|s| !s.reached)
                .map(|s| s.name.as_str())
                .collect();
            if !short.is_empty() {
                return Err(ModeError::Failed(format!(
                    "target not reached for {}",
                    short.join(", ")
                )));
            }
            Ok(())
        }
        "wampserver" => {
            let mut server = server_opts("ws://127.0.0.1:9000");
            server.max_message_size = cli
                .max_message_size
                .unwrap_or(wstest_modes::wamp::server::DEFAULT_MAX_MESSAGE);
            let cfg = wstest_modes::wamp::WampServerConfig {
                server,
                webport: cli.webport,
                realms: (!cli.realm.is_empty()).then(|| cli.realm.clone()),
                limits: wstest_modes::wamp::server::Limits {
                    hello: cli.hello_timeout.map_or(
                        wstest_modes::wamp::server::HELLO_TIMEOUT,
                        Duration::from_secs_f64,
                    ),
                    ..Default::default()
                },
            };
            let r = wstest_modes::wamp::server::run(&cfg, shutdown)?;
            let line = format!(
                "wampserver stopped: {} sessions, {} messages in, {} out, {} aborted, {} too slow, {} flooding, {} silent",
                r.router.sessions,
                r.router.messages_in,
                r.router.messages_out,
                r.router.aborts,
                r.dropped_slow,
                r.dropped_flooding,
                r.dropped_silent
            );
            emit(&cli, &r, &line)
        }
        "wampclient" => {
            let serializer = match cli.serializer.as_str() {
                "msgpack" => wstest_modes::wamp::Serializer::Msgpack,
                _ => wstest_modes::wamp::Serializer::Json,
            };
            let cfg = wstest_modes::wamp::WampClientConfig {
                url: cli.wsuri.clone().unwrap_or_default(),
                realm: cli
                    .realm
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "realm1".into()),
                serializer,
                client: client_opts,
                print: !cli.json,
            };
            if cli.load {
                let load = wstest_modes::wamp::LoadConfig {
                    clients: cli.clients.unwrap_or(4).max(1),
                    count: cli.count.filter(|_| cli.duration.is_none()),
                    duration: std::time::Duration::from_secs_f64(
                        cli.duration.unwrap_or(5.0).max(0.0),
                    ),
                };
                let r = wstest_modes::wamp::load::run(&cfg, &load, shutdown)?;
                let tsv = r.tsv();
                if let Some(t) = &cli.tsv {
                    report::write_atomic(t, tsv.as_bytes())?;
                }
                emit(&cli, &r, tsv.trim_end())?;
                if r.interrupted {
                    return Err(ModeError::Interrupted);
                }
                return Ok(());
            }
            let r = wstest_modes::wamp::client::run(&cfg, shutdown)?;
            let line = format!(
                "wampclient: {} of {} checks passed, {} skipped ({}, {} serializer, realm {})",
                r.checks.len() - r.failed() - r.skipped(),
                r.checks.len(),
                r.skipped(),
                r.url,
                cfg.serializer.name(),
                r.realm
            );
            emit(&cli, &r, &line)?;
            if r.failed() > 0 {
                return Err(ModeError::Failed(format!(
                    "{} of {} WAMP checks failed",
                    r.failed(),
                    r.checks.len()
                )));
            }
            Ok(())
        }
        "merge" => {
            let files: Vec<&String> = cli.rest.iter().filter(|f| f.as_str() != "merge").collect();
            if files.is_empty() {
                return Err(usage(
                    "merge needs result files: wstest merge A.json B.json -o merged.json".into(),
                ));
            }
            let mut reports = Vec::new();
            for f in files {
                let text = std::fs::read_to_string(f)
                    .map_err(|e| ModeError::io(format!("cannot read {f}"), e))?;
                let r: wstest_modes::massconnect::report::MassReport = serde_json::from_str(&text)
                    .map_err(|e| {
                        ModeError::Config(format!("{f}: not a massconnect result: {e}"))
                    })?;
                reports.push((f.clone(), r));
            }
            let m = wstest_modes::massconnect::report::merge_reports(&reports)?;
            if let Some(t) = &cli.tsv {
                report::write_atomic(t, wstest_modes::massconnect::report::tsv(&m).as_bytes())?;
            }
            let lines: Vec<String> = m
                .servers
                .iter()
                .map(|s| format!("{} ({} agents)", s.line(), s.agents))
                .collect();
            emit(&cli, &m, &lines.join("\n"))
        }
        "compare" => {
            let files: Vec<&String> = cli
                .rest
                .iter()
                .filter(|f| f.as_str() != "compare")
                .collect();
            let [expected, actual] = files[..] else {
                return Err(usage(
                    "compare needs two index.json files: wstest compare EXPECTED.json ACTUAL.json"
                        .into(),
                ));
            };
            use wstest_modes::fuzzing::expect;
            let diffs = expect::compare(
                &expect::load(Path::new(expected))?,
                &expect::load(Path::new(actual))?,
                None,
            );
            for d in &diffs {
                println!("{d}");
            }
            if diffs.is_empty() {
                println!("verdicts as expected");
                Ok(())
            } else {
                Err(ModeError::Failed(format!("{} cases differ", diffs.len())))
            }
        }
        "plot" => {
            // `wstest plot FILE` or `wstest -m plot FILE`.
            let files = &cli.rest[usize::from(cli.mode.is_none())..];
            let [input] = files else {
                return Err(usage(
                    "plot needs one result file: wstest plot FILE -o OUT.svg".into(),
                ));
            };
            let cfg = wstest_modes::plot::PlotConfig::new(input.into(), cli.outfile.clone());
            let r = wstest_modes::plot::run(&cfg)?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            } else {
                println!("{}", r.line());
            }
            Ok(())
        }
        other => Err(usage(format!(
            "mode {other} is not available in this build yet"
        ))),
    }
}

fn mode_names() -> String {
    MODES.iter().map(|(m, _)| *m).collect::<Vec<_>>().join(", ")
}

/// Print a one-line summary (or JSON with --json) and write the report to -o.
fn emit<T: serde::Serialize>(cli: &Cli, report: &T, line: &str) -> Result<(), ModeError> {
    if cli.json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    } else {
        println!("{line}");
    }
    if let Some(out) = &cli.outfile {
        report::write_json(Path::new(out), report)?;
    }
    Ok(())
}

/// The CI checks of the fuzzers' command line (`--expected`, `--update-expected`,
/// `--accept`, `--junit`, `--strict`).
fn fuzz_checks(cli: &Cli) -> Result<wstest_modes::fuzzing::outcome::Checks, ModeError> {
    if cli.update_expected && cli.expected.is_none() {
        return Err(ModeError::Config(
            "--update-expected needs --expected FILE (where to write)".into(),
        ));
    }
    let accept = cli
        .accept
        .as_deref()
        .map(wstest_modes::fuzzing::expect::parse_accept)
        .transpose()
        .map_err(ModeError::Config)?;
    Ok(wstest_modes::fuzzing::outcome::Checks {
        expected: cli.expected.clone(),
        update_expected: cli.update_expected,
        accept,
        junit: cli.junit.clone(),
        strict: cli.strict,
    })
}
