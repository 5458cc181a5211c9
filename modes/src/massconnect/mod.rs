//! `massconnect`: how many concurrent connections a server holds and how many opening
//! handshakes per second it does. The original's spec and semantics (batches of `batchsize`
//! every `batchdelay` ms until `connections` are open, failed connections retried after
//! `retrydelay` ms), plus: lost connections retried too, threads, source addresses, hold,
//! pings, timeouts, a rate cap, host limits checked up front, shards over many agents.

pub mod holder;
pub mod limits;
mod outcome;
pub mod ramp;
pub mod report;
pub mod sources;
pub mod spec;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use wstest_engine::net::WsUrl;
use wstest_engine::runtime::limits::{raise_nofile, resident_bytes};
use wstest_engine::runtime::{spawn_workers, Shutdown};
use wstest_engine::stats::Latency;

use crate::child::EchoChild;
use crate::common::{ClientOptions, ServerOptions};
use crate::echo::{echo_server_name, start_echo_server};
use crate::serving::Listening;
use crate::{ModeError, Result};
use report::{MassReport, ServerResult};
use spec::{Server, Spec};

#[derive(Clone, Debug)]
pub struct MassConfig {
    pub spec: PathBuf,
    /// The target a generated template names (default ws://127.0.0.1:9001).
    pub url: Option<String>,
    /// This agent's shard: (index, count), index from 0.
    pub shard: Option<(u64, u64)>,
    /// Start ramping at this time (all agents together).
    pub start_at: Option<SystemTime>,
    pub client: ClientOptions,
    pub progress: bool,
    /// Print the original's line for each server on stdout as it finishes (not where stdout
    /// is to carry JSON alone).
    pub lines: bool,
    /// The wstest executable: a generated template's stand-in echo server runs as a child
    /// process of it (its sockets then count against its own descriptor limit, not ours).
    /// `None`: in this process.
    pub server_exe: Option<PathBuf>,
}

/// The stand-in target: in this process, or a child process.
enum Standin {
    InProcess(Listening),
    Child(EchoChild),
}

impl Standin {
    fn url(&self) -> String {
        match self {
            Standin::InProcess(s) => s.url.clone(),
            Standin::Child(c) => c.url.clone(),
        }
    }
}

/// The child is killed by its own drop.
impl Drop for Standin {
    fn drop(&mut self) {
        if let Standin::InProcess(s) = self {
            s.stop()
        }
    }
}

fn start_standin(cfg: &MassConfig) -> Result<(Standin, String)> {
    if let Some(exe) = &cfg.server_exe {
        let s = Standin::Child(EchoChild::start(exe, &[])?);
        let url = s.url();
        return Ok((s, url));
    }
    let mut o = ServerOptions::new("ws://127.0.0.1:0");
    o.runtime = cfg.client.runtime.clone();
    o.deflate = None;
    let s = start_echo_server(&o, "echoserver", &echo_server_name(), Shutdown::new())?;
    let url = s.url.clone();
    Ok((Standin::InProcess(s), url))
}

/// `I/N` (1-based on the command line, as people count shards) → (I-1, N). `VAR/N`: the
/// 0-based index in the environment variable `VAR`, as orchestrators number their tasks (a
/// Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`): a container without a shell cannot add
/// one to it.
pub fn parse_shard(s: &str) -> std::result::Result<(u64, u64), String> {
    parse_shard_with(s, |v| std::env::var(v).ok())
}

fn parse_shard_with(
    s: &str,
    env: impl Fn(&str) -> Option<String>,
) -> std::result::Result<(u64, u64), String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("--shard {s:?}: expected I/N, e.g. 2/4"))?;
    let n: u64 = n
        .parse()
        .map_err(|_| format!("--shard {s:?}: {n:?} is not a number"))?;
    let i: u64 = if i.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        let v = env(i).ok_or_else(|| format!("--shard {s:?}: ${i} is not set"))?;
        v.trim()
            .parse::<u64>()
            .map_err(|_| format!("--shard {s:?}: ${i} is {v:?}, not a 0-based index"))?
            + 1
    } else {
        i.parse()
            .map_err(|_| format!("--shard {s:?}: {i:?} is not a number"))?
    };
    if n == 0 || i == 0 || i > n {
        return Err(format!("--shard {s:?}: I must be 1..=N"));
    }
    Ok((i - 1, n))
}

/// `--start-at`: RFC 3339 (`2026-11-25T10:00:00Z`) or Unix seconds.
pub fn parse_start_at(s: &str) -> std::result::Result<SystemTime, String> {
    if let Ok(secs) = s.parse::<f64>() {
        return Ok(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs));
    }
    humantime::parse_rfc3339_weak(s)
        .map_err(|e| format!("--start-at {s:?}: not RFC 3339 or Unix seconds ({e})"))
}

/// This shard's part of `total`.
pub fn share(total: u64, shard: Option<(u64, u64)>) -> u64 {
    match shard {
        None => total,
        Some((i, n)) => total / n + u64::from(i < total % n),
    }
}

pub fn run(cfg: &MassConfig, shutdown: Shutdown) -> Result<MassReport> {
    raise_nofile().map_err(|e| ModeError::io("cannot read RLIMIT_NOFILE", e))?;
    let generated = !cfg.spec.exists();
    let template =
        spec::TEMPLATE.replace("{url}", cfg.url.as_deref().unwrap_or("ws://127.0.0.1:9001"));
    let mut spec: Spec = crate::spec::load(&cfg.spec, &template, spec::KEYS, |w| {
        eprintln!("massconnect: {w}")
    })?;
    spec.validate(&cfg.spec.display().to_string())?;
    let mut embedded: Option<Standin> = None;
    if generated && !crate::common::answers(&spec.servers[0].uri) {
        let (s, url) = start_standin(cfg)?;
        eprintln!(
            "massconnect: nothing answers at {}; using an echo server started {} at {url}",
            spec.servers[0].uri,
            if matches!(s, Standin::Child(_)) {
                "as a child process"
            } else {
                "in-process"
            }
        );
        for sv in &mut spec.servers {
            sv.uri = url.clone();
        }
        embedded = Some(s);
    }
    let mut report = MassReport {
        servers: Vec::new(),
        shard: cfg.shard.map(|(i, n)| format!("{}/{n}", i + 1)),
        interrupted: false,
    };
    if let Some(at) = cfg.start_at {
        // Unix time 0 (or any time long past): start now, no word about it.
        let late = SystemTime::now()
            .duration_since(at)
            .ok()
            .filter(|l| *l < Duration::from_secs(86_400));
        if let Some(late) = late.filter(|l| !l.is_zero()) {
            eprintln!(
                "massconnect: warning: --start-at was {:.1} s ago: starting now, not with the other agents",
                late.as_secs_f64()
            );
        } else if let Ok(wait) = at.duration_since(SystemTime::now()) {
            eprintln!(
                "massconnect: starting in {:.1} s (--start-at)",
                wait.as_secs_f64()
            );
            let until = Instant::now() + wait;
            while Instant::now() < until && !shutdown.is_triggered() {
                std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
            }
        }
    }
    for server in &spec.servers {
        if shutdown.is_triggered() {
            break;
        }
        let in_process = matches!(embedded, Some(Standin::InProcess(_)));
        let r = run_server(cfg, &spec, server, &shutdown, in_process)?;
        if cfg.lines {
            println!("{}", r.line());
        }
        report.servers.push(r);
    }
    drop(embedded);
    report.interrupted = shutdown.is_triggered();
    Ok(report)
}

fn run_server(
    cfg: &MassConfig,
    spec: &Spec,
    server: &Server,
    shutdown: &Shutdown,
    embedded: bool,
) -> Result<ServerResult> {
    let o = &spec.options;
    let url = WsUrl::parse(&server.uri)?;
    let mut wopts = cfg.client.ws_options(&url)?;
    wopts.connect.timeout = Duration::from_secs_f64(o.connect_timeout);
    wopts.handshake_timeout = Duration::from_secs_f64(o.handshake_timeout);
    wopts.deflate = None;
    wopts.connect.fastopen = o.fastopen;
    let all_sources = sources::expand(&o.sources)?;
    let srcs = match cfg.shard {
        Some((i, n)) => sources::shard(&all_sources, i, n),
        None => all_sources,
    };
    let target = share(o.connections, cfg.shard);
    // A server at a loopback address is on this host: its listeners take Fast Open only
    // where this host's setting lets them (`check` counts an embedded one in any case).
    let server_here = wstest_engine::net::resolve(&url).is_ok_and(|a| a.ip().is_loopback());
    for w in limits::check(target, srcs.len(), embedded, o.fastopen, server_here) {
        eprintln!("massconnect: warning: {w}");
    }
    let threads = cfg
        .client
        .runtime
        .thread_count()
        .min(target.max(1) as usize);
    let shared = Arc::new(ramp::Shared::new(shutdown.clone(), target));
    wstest_engine::runtime::limits::trim_memory();
    let base_rss = resident_bytes();
    let plans: Vec<Arc<ramp::Plan>> = (0..threads as u64)
        .scan(0u64, |first, t| {
            let slots = target / threads as u64 + u64::from(t < target % threads as u64);
            let p = ramp::Plan {
                url: url.clone(),
                wopts: wopts.clone(),
                opts: o.clone(),
                sources: srcs.clone(),
                slots,
                first_slot: *first,
                threads,
                shared: shared.clone(),
            };
            *first += slots;
            Some(Arc::new(p))
        })
        .collect();
    let mut rt = cfg.client.runtime.clone();
    rt.threads = threads;
    let workers = spawn_workers(&rt, shutdown.clone(), plans, |_, plan| async move {
        ramp::run_thread(plan).await
    })
    .map_err(|e| ModeError::io("cannot start massconnect threads", e))?;

    let bar = progress_bar(cfg.progress, target, &server.name);
    let started = shared.started;
    let mut reached_at: Option<Duration> = None;
    let mut mem = None;
    let mut released_at: Option<Instant> = None;
    // The last time a handshake succeeded (or the start), for `give_up_after`.
    let (mut handshakes, mut progress_at) = (0u64, Instant::now());
    let mut stopped: Option<String> = None;
    let mut open_at_end = 0u64;
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let live = shared.live.load(Ordering::SeqCst);
        let gave_up = shared.gave_up.load(Ordering::SeqCst);
        let now_handshakes = shared.handshakes.load(Ordering::SeqCst);
        if now_handshakes != handshakes {
            (handshakes, progress_at) = (now_handshakes, Instant::now());
        }
        if let Some(b) = &bar {
            b.set_position(live);
            b.set_message(format!(
                "failed {} lost {}",
                shared.failed.load(Ordering::Relaxed),
                shared.lost.load(Ordering::Relaxed)
            ));
        }
        if released_at.is_none() {
            if reached_at.is_none() && live >= target {
                // The instant the last slot got there, not this poll's (up to 50 ms later).
                reached_at = Some(
                    shared
                        .reached(ramp::MILESTONES.len() - 1)
                        .unwrap_or_else(|| started.elapsed()),
                );
                // Live memory, not allocator caches: every thread trims, then we sample.
                shared.trim.store(true, Ordering::SeqCst);
                let until = Instant::now() + Duration::from_secs(2);
                while shared.trimmed.load(Ordering::SeqCst) < threads as u64
                    && Instant::now() < until
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                wstest_engine::runtime::limits::trim_memory();
                mem = match (base_rss, resident_bytes()) {
                    (Some(a), Some(b)) if live > 0 => {
                        Some(b.saturating_sub(a) as f64 / live as f64)
                    }
                    _ => None,
                };
            }
            let settled = live + gave_up >= target;
            let hold_over = reached_at
                .is_some_and(|t| started.elapsed() >= t + Duration::from_secs_f64(o.hold));
            let stalled =
                reached_at.is_none() && o.give_up().is_some_and(|g| progress_at.elapsed() >= g);
            if stalled {
                stopped = Some(format!(
                    "no handshake succeeded for {:.1} s (give_up_after): the server is down or does not answer",
                    progress_at.elapsed().as_secs_f64()
                ));
            } else if shutdown.is_triggered() {
                stopped = Some("interrupted".into());
            }
            if hold_over || (settled && gave_up > 0) || stopped.is_some() {
                open_at_end = live;
                released_at = Some(Instant::now());
                shared.release.trigger();
            }
        }
        // Every held connection has let go (closes finish in `join`).
        if released_at.is_some() && shared.live.load(Ordering::SeqCst) == 0 {
            break;
        }
    }
    let ramp_end = reached_at.unwrap_or_else(|| started.elapsed());
    let stats = workers.join()?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let (mut c, mut h) = (Latency::new(), Latency::new());
    let mut r = ServerResult {
        name: server.name.clone(),
        uri: server.uri.clone(),
        target,
        agents: 1,
        ..Default::default()
    };
    for s in stats {
        c.merge(&s.connect);
        h.merge(&s.handshake);
        r.fastopen += s.fastopen;
        r.fastopen_checked += s.fastopen_checked;
        for (k, v) in s.errors {
            *r.errors.entry(k).or_default() += v;
        }
        report::add_timeline(&mut r.timeline, &s.timeline);
        report::add_timeline(&mut r.failed_timeline, &s.failed_timeline);
        report::add_timeline(&mut r.lost_timeline, &s.lost_timeline);
    }
    r.set_latencies(&c, &h);
    r.reached = reached_at.is_some();
    r.peak = shared.peak.load(Ordering::SeqCst);
    // What was open when the ramp ended (the plateau, or the moment it was given up): not
    // the peak, which a dying server does not keep.
    r.connected = if r.reached { target } else { open_at_end };
    r.seconds = ramp_end.as_secs_f64();
    let to = |i| shared.reached(i).map(|t| t.as_secs_f64());
    (r.seconds_to_50, r.seconds_to_90, r.seconds_to_99) = (to(0), to(1), to(2));
    r.handshakes = shared.handshakes.load(Ordering::SeqCst);
    r.failed = shared.failed.load(Ordering::SeqCst);
    r.lost = shared.lost.load(Ordering::SeqCst);
    r.retries = r.failed + r.lost;
    r.gave_up = shared.gave_up.load(Ordering::SeqCst);
    r.handshakes_per_sec = if r.seconds > 0.0 {
        r.handshakes as f64 / r.seconds
    } else {
        0.0
    };
    r.memory_per_connection = mem;
    r.stopped = shared
        .exhausted_why
        .lock()
        .ok()
        .and_then(|w| w.clone())
        .or(stopped);
    if !r.reached {
        let why = r.stopped.clone().unwrap_or_else(|| {
            let errs: Vec<String> = r.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
            format!(
                "gave up on {} connections after max_retries ({})",
                r.gave_up,
                errs.join(", ")
            )
        });
        eprintln!(
            "massconnect: {}: {} of {} connections open at the end (peak {}): {why}",
            server.name, r.connected, target, r.peak
        );
    }
    Ok(r)
}

fn progress_bar(on: bool, target: u64, name: &str) -> Option<indicatif::ProgressBar> {
    if !on || !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new(target);
    b.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{name} {{bar:40}} {{pos}}/{{len}} open, {{per_sec}} {{msg}} [{{elapsed}}]"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_is_one_based_or_a_zero_based_index_from_the_environment() {
        let env = |v: &str| (v == "JOB_COMPLETION_INDEX").then(|| "7".to_string());
        assert_eq!(parse_shard_with("2/4", env), Ok((1, 4)));
        assert_eq!(parse_shard_with("JOB_COMPLETION_INDEX/8", env), Ok((7, 8)));
        let e = parse_shard_with("JOB_COMPLETION_INDEX/7", env).unwrap_err();
        assert!(e.contains("1..=N"), "{e}");
        let e = parse_shard_with("SLURM_PROCID/8", env).unwrap_err();
        assert!(e.contains("$SLURM_PROCID is not set"), "{e}");
        for bad in ["0/4", "5/4", "1/0", "x", "1/y", "-1/4"] {
            assert!(parse_shard_with(bad, env).is_err(), "{bad}");
        }
    }
}
