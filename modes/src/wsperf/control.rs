//! `wsperfcontrol`: run a spec's echo measurements from this process and write the
//! original's TSV (one per testset), plus a JSON result with every histogram.
//!
//! The original sent each case to an external C++ `wsperf` probe at `-w`; wstest is its own
//! probe, so `-w` only names the target the template spec is written with.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use wstest_engine::runtime::Shutdown;

use super::probe::{run_probe, Outcome, ProbeConfig, ProbeResult};
use super::spec::{self as wspec, Output, Server, Spec};
use super::tsv;
use crate::common::{ClientOptions, ServerOptions};
use crate::echo::{echo_server_name, start_echo_server};
use crate::report::{write_atomic, write_json};
use crate::{spec, ModeError, Result};

#[derive(Clone, Debug)]
pub struct ControlConfig {
    pub spec: PathBuf,
    /// Target written into a generated template (default ws://127.0.0.1:9001).
    pub url: Option<String>,
    /// JSON result (default: each testset's outfile + ".json"; none when writing to stdout).
    pub json_out: Option<PathBuf>,
    pub client: ClientOptions,
    /// No progress output.
    pub quiet: bool,
}

/// One measured row.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub testset: usize,
    pub case: usize,
    pub server: String,
    pub uri: String,
    pub probe: ProbeConfig,
    pub result: ProbeResult,
}

#[derive(Clone, Debug, Serialize)]
pub struct ControlReport {
    pub spec: String,
    pub rows: Vec<Row>,
    /// TSV files written.
    pub outfiles: Vec<String>,
    /// Set when the spec's target did not answer and an in-process echo server stood in.
    pub embedded_target: Option<String>,
}

impl ControlReport {
    pub fn passed(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.result.outcome == Outcome::Passed)
            .count()
    }
}

/// Load (or write and load) the spec.
pub fn load_spec(
    path: &Path,
    url: Option<&str>,
    mut warn: impl FnMut(String),
) -> Result<(Spec, bool)> {
    let generated = !path.exists();
    let template = wspec::TEMPLATE.replace("{url}", url.unwrap_or("ws://127.0.0.1:9001"));
    let spec: Spec = spec::load(path, &template, wspec::KEYS, &mut warn)?;
    spec.validate(&path.display().to_string())?;
    Ok((spec, generated))
}

pub fn run(cfg: &ControlConfig, shutdown: Shutdown) -> Result<ControlReport> {
    let (mut spec, generated) = load_spec(&cfg.spec, cfg.url.as_deref(), |w| {
        eprintln!("wsperfcontrol: {w}")
    })?;
    // A freshly written template whose target is not up: measure our own echo server.
    let mut embedded = None;
    if generated && !crate::common::answers(&spec.servers[0].uri) {
        let mut o = ServerOptions::new("ws://127.0.0.1:0");
        o.runtime = cfg.client.runtime.clone();
        let s = start_echo_server(&o, "echoserver", &echo_server_name(), Shutdown::new())?;
        eprintln!(
            "wsperfcontrol: nothing answers at {}; measuring an echo server started in-process at {}",
            spec.servers[0].uri, s.url
        );
        for sv in &mut spec.servers {
            sv.uri = s.url.clone();
        }
        embedded = Some(s);
    }
    let total: usize = spec
        .testsets
        .iter()
        .map(|t| t.cases.len() * spec.servers.len())
        .sum();
    if !cfg.quiet {
        eprintln!(
            "Running {total} tests in total against {} servers",
            spec.servers.len()
        );
    }
    let mut report = ControlReport {
        spec: cfg.spec.display().to_string(),
        rows: Vec::new(),
        outfiles: Vec::new(),
        embedded_target: embedded.as_ref().map(|s| s.url.clone()),
    };
    let mut interrupted = false;
    for (ti, t) in spec.testsets.iter().enumerate() {
        let out = t.output();
        let mut rows = Vec::new();
        // The original's order: every case against one server, then the next server.
        'servers: for server in &spec.servers {
            for (ci, case) in t.cases.iter().enumerate() {
                if shutdown.is_triggered() {
                    interrupted = true;
                    break 'servers;
                }
                let p = t.probe(case, server);
                let r = measure(&p, &cfg.client, &shutdown, server);
                // A signal during the measurement ends the run after it (its row is kept).
                interrupted |= shutdown.is_triggered();
                if !cfg.quiet {
                    eprintln!("{}", progress_line(server, &p, &r));
                }
                rows.push(Row {
                    testset: ti,
                    case: ci,
                    server: server.name.clone(),
                    uri: server.uri.clone(),
                    probe: p,
                    result: r,
                });
            }
        }
        // Rows measured so far are written even when interrupted.
        let written = write_testset(&out, &rows, cfg.json_out.is_none())?;
        report.outfiles.extend(written);
        report.rows.extend(rows);
        if interrupted {
            break;
        }
    }
    if let Some(p) = &cfg.json_out {
        write_json(p, &report)?;
    }
    if let Some(s) = embedded {
        s.stop();
        let _ = s.join();
    }
    if interrupted {
        return Err(ModeError::Interrupted);
    }
    Ok(report)
}

fn measure(
    p: &ProbeConfig,
    client: &ClientOptions,
    shutdown: &Shutdown,
    server: &Server,
) -> ProbeResult {
    run_probe(p, client, shutdown, || {}).unwrap_or_else(|e| {
        let mut r = ProbeResult::failed(p.connections, Outcome::Failed, e.to_string());
        if matches!(e, ModeError::Url(_) | ModeError::Config(_)) {
            r.error = Some(format!("server {:?}: {e}", server.name));
        }
        r
    })
}

fn progress_line(server: &Server, p: &ProbeConfig, r: &ProbeResult) -> String {
    match r.outcome {
        Outcome::Passed | Outcome::Interrupted => {
            let s = r.latency.summary();
            format!(
                "{} size {} x{} ({} conn, window {}): median {:.1} us, p99 {:.1} us, {:.0} msg/s{}",
                server.name,
                p.size,
                r.latency.inner().len(),
                p.connections,
                p.window,
                s.median_us,
                s.p99_us,
                r.msgs_per_sec,
                if r.outcome == Outcome::Interrupted {
                    " (INTERRUPTED)"
                } else {
                    ""
                }
            )
        }
        o => format!(
            "{} size {}: {} — {}",
            server.name,
            p.size,
            o.as_str(),
            r.error.as_deref().unwrap_or("")
        ),
    }
}

/// Write one testset's TSV (its outfile, or stdout) and, with an outfile, the JSON beside it
/// and the round trips when `rtts` is on. Returns the files written.
pub(crate) fn write_testset(out: &Output, rows: &[Row], json_beside: bool) -> Result<Vec<String>> {
    let mut text = tsv::header(&out.sep, out.quantile_count);
    text.push('\n');
    for r in rows {
        text.push_str(&tsv::row(
            &r.server,
            r.probe.size,
            &r.result,
            out.digits,
            &out.sep,
            out.quantile_count,
        ));
        text.push('\n');
    }
    let Some(file) = &out.outfile else {
        let mut so = std::io::stdout().lock();
        let _ = so.write_all(text.as_bytes());
        return Ok(Vec::new());
    };
    let path = PathBuf::from(file);
    write_atomic(&path, text.as_bytes())?;
    let mut written = vec![file.clone()];
    if json_beside {
        let j = PathBuf::from(format!("{file}.json"));
        write_json(&j, &rows)?;
        written.push(j.display().to_string());
    }
    if out.rtts {
        let p = rtts_path(&path);
        let mut t = ["name", "case", "size", "rtt"].join(&out.sep);
        t.push('\n');
        for r in rows {
            for ns in &r.result.rtts_ns {
                t.push_str(
                    &[
                        r.server.clone(),
                        r.case.to_string(),
                        r.probe.size.to_string(),
                        tsv::micros(*ns as f64, out.digits),
                    ]
                    .join(&out.sep),
                );
                t.push('\n');
            }
        }
        write_atomic(&p, t.as_bytes())?;
        written.push(p.display().to_string());
    }
    Ok(written)
}

/// `report_echo.txt` → `report_echo_rtts.txt`.
fn rtts_path(p: &Path) -> PathBuf {
    let stem = p
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match p.extension() {
        Some(e) => format!("{stem}_rtts.{}", e.to_string_lossy()),
        None => format!("{stem}_rtts"),
    };
    p.with_file_name(name)
}

impl crate::report::Outcome for ControlReport {
    fn summary(&self) -> String {
        let mut line = format!(
            "wsperfcontrol: {} of {} measurements passed",
            self.passed(),
            self.rows.len()
        );
        if !self.outfiles.is_empty() {
            line.push_str(&format!("; wrote {}", self.outfiles.join(", ")));
        }
        line
    }

    fn outcome(&self) -> Result<()> {
        if self.passed() < self.rows.len() {
            return Err(crate::error::Failure::Measurements {
                failed: self.rows.len() - self.passed(),
                total: self.rows.len(),
            }
            .into());
        }
        Ok(())
    }
}
