//! `wstest`: parse the command line, dispatch to a mode, print its report. No protocol logic
//! and no pass rule lives here: each mode's report says its summary and outcome
//! ([`Outcome`]), and [`config`] turns the command line into each mode's config.

mod cli;
mod config;
mod mode_help;

use std::path::Path;

use clap::{CommandFactory, FromArgMatches};

use wstest_engine::runtime::{install_signal_handler, Shutdown};
use wstest_modes::report::{self, Outcome};
use wstest_modes::{broadcast, echo, fuzzing, massconnect, plot, testee, wamp, wsperf, ModeError};

use cli::{Cli, Mode};
use config::Common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (milliseconds before freed memory is returned to the
/// kernel), the same index in its v2 and v3 headers; the crate names no constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(name) = mode_help::requested(&args) {
        match Mode::named(&name) {
            Some(mode) => {
                print!("{}", mode_help::render(mode));
                return;
            }
            None => {
                eprintln!("wstest: unknown mode {name:?}; modes: {}", mode_names());
                std::process::exit(2);
            }
        }
    }
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    env_logger::Builder::new()
        .filter_level(if cli.debug {
            log::LevelFilter::Debug
        } else {
            log::LevelFilter::Warn
        })
        .format_timestamp_millis()
        .target(env_logger::Target::Stderr)
        .init();
    if let Err(e) = run(cli) {
        eprintln!("wstest: error: {e}");
        std::process::exit(e.exit_code());
    }
}

fn run(cli: Cli) -> Result<(), ModeError> {
    if cli.autobahnversion {
        println!("wstest {}", env!("CARGO_PKG_VERSION"));
        println!("compatible with AutobahnTestSuite 25.10.1 (Autobahn 0.10.9) command lines, specs and reports");
        return Ok(());
    }
    let mode = mode_of(&cli)?;
    let c = Common::new(&cli, mode)?;
    let shutdown = prepare_process()?;
    // The files of `wstest merge|compare|plot FILE...` (or `-m MODE FILE...`).
    let rest = &cli.rest[usize::from(cli.mode.is_none())..];
    match mode {
        Mode::Echoserver => finish(
            &cli,
            echo::run_server(&c.server(&cli, "ws://127.0.0.1:9000"), shutdown)?,
        ),
        Mode::Testeeserver => finish(
            &cli,
            testee::run_server(&c.server(&cli, "ws://127.0.0.1:9001"), shutdown)?,
        ),
        Mode::Echoclient => finish(
            &cli,
            echo::run_client(&config::echo_client(&cli, &c), shutdown)?,
        ),
        Mode::Testeeclient => finish(
            &cli,
            testee::run_client(&config::testee_client(&cli, &c), shutdown)?,
        ),
        Mode::Broadcastserver => finish(
            &cli,
            broadcast::run_server(&config::broadcast_server(&cli, &c), shutdown)?,
        ),
        Mode::Broadcastclient => match config::fanout(&cli, &c) {
            Some(fanout) => finish(&cli, broadcast::run_fanout(&fanout, &shutdown)?),
            None => finish(
                &cli,
                broadcast::run_client(&config::broadcast_client(&cli, &c), shutdown)?,
            ),
        },
        Mode::Fuzzingclient => finish(
            &cli,
            fuzzing::client::run(&config::fuzzing_client(&cli, &c), shutdown)?,
        ),
        Mode::Fuzzingserver => finish(
            &cli,
            fuzzing::server::run(&config::fuzzing_server(&cli, &c), shutdown)?,
        ),
        Mode::Wsperfcontrol => finish(
            &cli,
            wsperf::control::run(&config::wsperf_control(&cli, &c), shutdown)?,
        ),
        Mode::Wsperfmaster => finish(
            &cli,
            wsperf::master::run(&config::wsperf_master(&cli, &c), shutdown)?,
        ),
        Mode::Wsperfslave => finish(
            &cli,
            wsperf::slave::run(&config::wsperf_slave(&cli, &c), shutdown)?,
        ),
        Mode::Massconnect => finish(
            &cli,
            massconnect::run(&config::massconnect(&cli, &c), shutdown)?,
        ),
        Mode::Wampserver => finish(
            &cli,
            wamp::server::run(&config::wamp_server(&cli, &c), shutdown)?,
        ),
        Mode::Wampclient => {
            let cfg = config::wamp_client(&cli, &c);
            match config::wamp_load(&cli) {
                Some(load) => finish(&cli, wamp::load::run(&cfg, &load, shutdown)?),
                None => finish(&cli, wamp::client::run(&cfg, shutdown)?),
            }
        }
        Mode::Merge => finish(&cli, massconnect::report::merge_files(rest)?),
        Mode::Compare => finish(&cli, fuzzing::expect::compare_files(rest)?),
        // `-o` is the picture, written by the mode.
        Mode::Plot => {
            let r = plot::run(&config::plot(&cli, rest)?)?;
            print(&cli, &r);
            r.outcome()
        }
    }
}

/// `-m MODE`, or `merge`/`compare` as the first word; a mode that needs `-w` has it.
fn mode_of(cli: &Cli) -> Result<Mode, ModeError> {
    let mode = match (cli.mode, cli.rest.first().map(String::as_str)) {
        (None, Some("merge")) => Mode::Merge,
        (None, Some("compare")) => Mode::Compare,
        (None, Some("plot")) => Mode::Plot,
        (Some(m), _) => m,
        (None, _) => {
            return Err(ModeError::usage(format!(
                "a mode is required (-m MODE); modes: {}",
                mode_names()
            )))
        }
    };
    if mode.needs_url() && cli.wsuri.is_none() {
        return Err(ModeError::usage(format!(
            "mode {} needs a WebSocket URL: -w ws://HOST:PORT",
            mode.name()
        )));
    }
    Ok(mode)
}

/// What every mode needs of the process: the allocator's settings, the descriptor limit,
/// and the signal handlers (Ctrl-C, SIGTERM) that stop a run.
fn prepare_process() -> Result<Shutdown, ModeError> {
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
    Ok(shutdown)
}

fn mode_names() -> String {
    let names: Vec<String> = Mode::all().iter().map(|m| m.name()).collect();
    names.join(", ")
}

/// Print the summary (or the report as JSON with `--json`), write the report to `-o` and its
/// table to `--tsv`; then the report's outcome is the run's.
fn finish<R: Outcome>(cli: &Cli, report: R) -> Result<(), ModeError> {
    if let (Some(path), Some(tsv)) = (&cli.tsv, report.tsv()) {
        report::write_atomic(path, tsv.as_bytes())?;
    }
    print(cli, &report);
    if let Some(out) = &cli.outfile {
        report::write_json(Path::new(out), &report)?;
    }
    report.outcome()
}

/// The summary, or the report as JSON with `--json`.
fn print<R: Outcome>(cli: &Cli, report: &R) {
    if cli.json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    } else if report.summary_on_stderr() {
        eprintln!("{}", report.summary());
    } else {
        println!("{}", report.summary());
    }
}
