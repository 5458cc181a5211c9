//! From the command line to each mode's config: what every server and client takes
//! ([`Common`]), then one builder per mode. No mode logic: defaults of the command line only.

use std::time::Duration;

use wstest_engine::proto::deflate::DeflateConfig;
use wstest_engine::runtime::{parse_cpu_list, DriverKind, RuntimeConfig};
use wstest_engine::ws::FlowLimits;
use wstest_modes::broadcast::{BroadcastClientConfig, BroadcastServerConfig, FanoutConfig};
use wstest_modes::common::{ClientOptions, DeflateSwitches, ServerOptions};
use wstest_modes::echo::{EchoClientConfig, MessageSource};
use wstest_modes::fuzzing::client::FuzzingClientConfig;
use wstest_modes::fuzzing::outcome::Checks;
use wstest_modes::fuzzing::server::FuzzingServerConfig;
use wstest_modes::massconnect::MassConfig;
use wstest_modes::plot::PlotConfig;
use wstest_modes::testee::TesteeClientConfig;
use wstest_modes::wamp::{self, LoadConfig, Serializer, WampClientConfig, WampServerConfig};
use wstest_modes::wsperf::{control::ControlConfig, master::MasterConfig, slave::SlaveConfig};
use wstest_modes::{spec, ModeError};

use crate::cli::{Cli, Mode};

/// `--max-message-size` when not given (every mode but wampserver).
const DEFAULT_MAX_MESSAGE: u64 = 64 << 20;

/// What the options shared by many modes come to, checked once.
pub struct Common {
    pub runtime: RuntimeConfig,
    server_deflate: Option<DeflateConfig>,
    client_deflate: Option<DeflateConfig>,
    /// The fuzzers' CI checks (`--expected`, `--accept`, `--junit`, `--strict`).
    checks: Checks,
}

impl Common {
    pub fn new(cli: &Cli, mode: Mode) -> Result<Self, ModeError> {
        let driver: DriverKind = cli
            .driver
            .parse()
            .map_err(|e: String| ModeError::usage(format!("--driver: {e}")))?;
        let cpus = match &cli.cpus {
            Some(list) => {
                parse_cpu_list(list).map_err(|e| ModeError::usage(format!("--cpus: {e}")))?
            }
            None => Vec::new(),
        };
        let switches = DeflateSwitches {
            on: cli.deflate,
            window_bits: cli.deflate_window_bits,
            no_context_takeover: cli.deflate_no_context_takeover,
            threshold: cli.deflate_threshold,
            level: cli.deflate_level,
        };
        Ok(Common {
            runtime: RuntimeConfig {
                threads: cli.threads,
                driver,
                no_pin: cli.no_pin,
                cpus,
            },
            server_deflate: switches.config(true)?,
            // Clients offer permessage-deflate by default only as a testee.
            client_deflate: switches.config(mode == Mode::Testeeclient)?,
            checks: checks(cli)?,
        })
    }

    /// A server mode's options; `default_url` where `-w` is not given.
    pub fn server(&self, cli: &Cli, default_url: &str) -> ServerOptions {
        let d = FlowLimits::default();
        ServerOptions {
            url: cli.wsuri.clone().unwrap_or_else(|| default_url.to_string()),
            key: cli.key.clone(),
            cert: cli.cert.clone(),
            runtime: self.runtime.clone(),
            backlog: cli.backlog,
            max_message_size: cli.max_message_size.unwrap_or(DEFAULT_MAX_MESSAGE),
            ident: cli.ident.clone(),
            deflate: self.server_deflate.clone(),
            flow: FlowLimits::new(
                cli.max_queued.map_or(d.high_water, |b| b as usize),
                cli.stall_timeout
                    .map_or(d.stall_timeout, |s| Duration::from_secs_f64(s.max(0.001))),
            ),
            share_port: cli.reuse_port,
            bind: cli.bind,
            park_after: cli
                .park_after
                .unwrap_or(wstest_engine::ws::server::DEFAULT_PARK_AFTER.as_secs_f64()),
        }
    }

    /// A client mode's options.
    pub fn client(&self, cli: &Cli) -> ClientOptions {
        ClientOptions {
            cacert: cli.cacert.clone(),
            insecure: cli.insecure,
            runtime: self.runtime.clone(),
            connect_timeout: cli.connect_timeout,
            deflate: self.client_deflate.clone(),
        }
    }
}

/// The URL of a mode that needs one (checked before any mode starts).
fn url(cli: &Cli) -> String {
    cli.wsuri.clone().unwrap_or_default()
}

pub fn echo_client(cli: &Cli, c: &Common) -> EchoClientConfig {
    EchoClientConfig {
        url: cli.wsuri.clone(),
        source: match &cli.message {
            Some(t) => MessageSource::Fixed {
                text: t.clone(),
                count: cli.count.unwrap_or(1),
            },
            None => MessageSource::Stdin,
        },
        binary: cli.binary,
        client: c.client(cli),
        print: !cli.json,
    }
}

pub fn broadcast_server(cli: &Cli, c: &Common) -> BroadcastServerConfig {
    BroadcastServerConfig {
        server: c.server(cli, "ws://127.0.0.1:9000"),
        webport: cli.webport,
        tick_s: cli.tick,
        queue_limit: cli.queue_limit,
    }
}

/// broadcastclient with `--clients N`: the fan-out measurement.
pub fn fanout(cli: &Cli, c: &Common) -> Option<FanoutConfig> {
    Some(FanoutConfig {
        url: url(cli),
        client: c.client(cli),
        clients: cli.clients?,
        rate: cli.publish_rate,
        duration_s: cli.duration.unwrap_or(5.0),
        size: cli.size,
        ..Default::default()
    })
}

pub fn broadcast_client(cli: &Cli, c: &Common) -> BroadcastClientConfig {
    BroadcastClientConfig {
        url: url(cli),
        client: c.client(cli),
        interval_s: cli.interval,
        message: cli.message.clone(),
        duration_s: cli.duration,
        print: !cli.json,
    }
}

pub fn testee_client(cli: &Cli, c: &Common) -> TesteeClientConfig {
    TesteeClientConfig {
        url: url(cli),
        agent: cli.ident.clone(),
        client: c.client(cli),
        max_message_size: cli.max_message_size.unwrap_or(DEFAULT_MAX_MESSAGE),
        no_update_reports: false,
    }
}

pub fn fuzzing_client(cli: &Cli, c: &Common) -> FuzzingClientConfig {
    FuzzingClientConfig {
        spec: spec::spec_path(cli.spec.as_deref(), "fuzzingclient"),
        url: cli.wsuri.clone(),
        runtime: c.runtime.clone(),
        client: c.client(cli),
        progress: !cli.quiet,
        max_message_size: cli.max_message_size,
        wait_for: cli.wait_for.map(Duration::from_secs_f64),
        checks: c.checks.clone(),
    }
}

pub fn fuzzing_server(cli: &Cli, c: &Common) -> FuzzingServerConfig {
    FuzzingServerConfig {
        spec: spec::spec_path(cli.spec.as_deref(), "fuzzingserver"),
        url: cli.wsuri.clone(),
        webport: cli.webport,
        key: cli.key.clone(),
        cert: cli.cert.clone(),
        runtime: c.runtime.clone(),
        max_message_size: cli.max_message_size,
        share_port: cli.reuse_port,
        bind: cli.bind,
        exit_on_update: cli.exit_on_update,
        checks: c.checks.clone(),
    }
}

pub fn wsperf_control(cli: &Cli, c: &Common) -> ControlConfig {
    ControlConfig {
        spec: spec::spec_path(cli.spec.as_deref(), "wsperfcontrol"),
        url: cli.wsuri.clone(),
        json_out: None,
        client: c.client(cli),
        quiet: cli.quiet,
    }
}

pub fn wsperf_master(cli: &Cli, c: &Common) -> MasterConfig {
    let mut server = c.server(cli, "ws://127.0.0.1:9090");
    server.deflate = None;
    MasterConfig {
        server,
        spec: spec::spec_path(cli.spec.as_deref(), "wsperfcontrol"),
        webport: cli.webport,
        probes: cli.probes,
        wait_s: cli.wait,
        quiet: cli.quiet,
    }
}

pub fn wsperf_slave(cli: &Cli, c: &Common) -> SlaveConfig {
    SlaveConfig {
        master: url(cli),
        ident: cli.ident.clone(),
        client: c.client(cli),
    }
}

pub fn massconnect(cli: &Cli, c: &Common) -> MassConfig {
    MassConfig {
        spec: spec::spec_path(cli.spec.as_deref(), "massconnect"),
        url: cli.wsuri.clone(),
        shard: cli.shard,
        start_at: cli.start_at,
        client: c.client(cli),
        progress: !cli.quiet,
        // With --json, stdout is the JSON alone.
        lines: !cli.json,
        server_exe: std::env::current_exe().ok(),
    }
}

pub fn wamp_server(cli: &Cli, c: &Common) -> WampServerConfig {
    let mut server = c.server(cli, "ws://127.0.0.1:9000");
    server.max_message_size = cli
        .max_message_size
        .unwrap_or(wamp::server::DEFAULT_MAX_MESSAGE);
    WampServerConfig {
        server,
        webport: cli.webport,
        realms: (!cli.realm.is_empty()).then(|| cli.realm.clone()),
        limits: wamp::server::Limits {
            hello: cli
                .hello_timeout
                .map_or(wamp::server::HELLO_TIMEOUT, Duration::from_secs_f64),
            ..Default::default()
        },
    }
}

pub fn wamp_client(cli: &Cli, c: &Common) -> WampClientConfig {
    WampClientConfig {
        url: url(cli),
        realm: cli
            .realm
            .first()
            .cloned()
            .unwrap_or_else(|| "realm1".into()),
        serializer: match cli.serializer.as_str() {
            "msgpack" => Serializer::Msgpack,
            _ => Serializer::Json,
        },
        client: c.client(cli),
        print: !cli.json,
    }
}

/// wampclient with `--load`: calls/s and publish→event latency instead of the checks.
pub fn wamp_load(cli: &Cli) -> Option<LoadConfig> {
    cli.load.then(|| LoadConfig {
        clients: cli.clients.unwrap_or(4).max(1),
        count: cli.count.filter(|_| cli.duration.is_none()),
        duration: Duration::from_secs_f64(cli.duration.unwrap_or(5.0).max(0.0)),
    })
}

/// `wstest plot FILE [-o OUT.svg|OUT.html]`.
pub fn plot(cli: &Cli, files: &[String]) -> Result<PlotConfig, ModeError> {
    let [input] = files else {
        return Err(ModeError::usage(
            "plot needs one result file: wstest plot FILE -o OUT.svg",
        ));
    };
    Ok(PlotConfig::new(input.into(), cli.outfile.clone()))
}

/// The CI checks of the fuzzers' command line.
fn checks(cli: &Cli) -> Result<Checks, ModeError> {
    if cli.update_expected && cli.expected.is_none() {
        return Err(ModeError::usage(
            "--update-expected needs --expected FILE (where to write)",
        ));
    }
    let accept = cli
        .accept
        .as_deref()
        .map(wstest_modes::fuzzing::expect::parse_accept)
        .transpose()
        .map_err(ModeError::usage)?;
    Ok(Checks {
        expected: cli.expected.clone(),
        update_expected: cli.update_expected,
        accept,
        junit: cli.junit.clone(),
        strict: cli.strict,
    })
}
