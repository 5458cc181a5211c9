//! `wampclient --load`: RPC throughput and publish→event latency against any router.
//!
//! One callee session registers an echo procedure, one subscriber session subscribes a topic,
//! and `clients` sessions each loop: CALL and wait for the RESULT (the call's round trip), then
//! PUBLISH with `acknowledge` carrying its send time and wait for PUBLISHED; the subscriber
//! records each EVENT's delay from that send time. All sessions run as tasks on one thread
//! (one clock, one histogram each, no locks). At the end a last CALL and PUBLISH tell the
//! callee and the subscriber to stop.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use rmpv::Value;
use serde::Serialize;
use wstest_engine::net::WsUrl;
use wstest_engine::runtime::{block_on, resolve_driver, Shutdown};
use wstest_engine::stats::{Latency, Summary};
use wstest_engine::ws::WsClientOptions;

use super::client::WampClientConfig;
use super::message::{dict, dict_get, Message, Payload};
use super::peer::{show, Peer, PeerError};
use crate::{ModeError, Result};

#[derive(Clone, Debug, Serialize)]
pub struct LoadConfig {
    /// Caller/publisher sessions.
    pub clients: usize,
    /// Calls per client; `None`: run for `duration`.
    pub count: Option<u64>,
    pub duration: Duration,
}

#[derive(Clone, Debug, Serialize)]
pub struct LoadRow {
    pub name: &'static str,
    pub count: u64,
    pub per_sec: f64,
    pub latency: Summary,
}

#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    pub url: String,
    pub serializer: super::Serializer,
    pub clients: usize,
    pub seconds: f64,
    pub calls: LoadRow,
    pub events: LoadRow,
    pub publishes: u64,
    pub interrupted: bool,
}

/// The TSV columns (microseconds).
pub const TSV_HEADER: &str =
    "name\tcount\tper_sec\tmin_us\tmedian_us\tp90_us\tp99_us\tp999_us\tmax_us";

impl LoadReport {
    pub fn tsv(&self) -> String {
        let mut s = format!("{TSV_HEADER}\n");
        for r in [&self.calls, &self.events] {
            let l = &r.latency;
            s.push_str(&format!(
                "{}\t{}\t{:.1}\t{:.1}\t{:.1}\t{:.1}\t{:.1}\t{:.1}\t{:.1}\n",
                r.name,
                r.count,
                r.per_sec,
                l.min_us,
                l.median_us,
                l.p90_us,
                l.p99_us,
                l.p999_us,
                l.max_us
            ));
        }
        s
    }
}

/// How long the whole run may overrun its plan before the router counts as stuck.
const GRACE: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(5);

fn fail(what: &'static str, e: impl std::fmt::Display) -> ModeError {
    ModeError::Failed(crate::error::Failure::WampLoad {
        what,
        problem: e.to_string(),
    })
}

pub fn run(cfg: &WampClientConfig, load: &LoadConfig, shutdown: Shutdown) -> Result<LoadReport> {
    let url = WsUrl::parse(&cfg.url)?;
    let opts = cfg.client.ws_options(&url)?;
    let driver = resolve_driver(cfg.client.runtime.driver);
    let limit = load.duration + GRACE + Duration::from_secs(load.count.unwrap_or(0) / 1000);
    let r = block_on(driver, true, async {
        match monoio::time::timeout(limit, run_load(cfg, load, &url, &opts, &shutdown)).await {
            Ok(r) => r,
            Err(_) => Err(fail(
                "stuck",
                format!("the run did not end within {limit:?}"),
            )),
        }
    })
    .map_err(|e| ModeError::io("runtime", e))?;
    r
}

async fn session(url: &WsUrl, opts: &WsClientOptions, cfg: &WampClientConfig) -> Result<Peer> {
    let mut p = Peer::connect(url, opts, cfg.serializer)
        .await
        .map_err(|e| match e {
            PeerError::Connect(c) => ModeError::Client(c),
            e => fail("connect", e),
        })?;
    p.join(&cfg.realm, STEP)
        .await
        .map_err(|e| fail("join", e))?;
    Ok(p)
}

/// Send `m` and wait for the answer that `want` accepts (other messages are errors).
async fn ask(
    p: &mut Peer,
    m: &Message,
    what: &'static str,
    want: impl Fn(&Message) -> bool,
) -> Result<Message> {
    p.send(m).await.map_err(|e| fail(what, e))?;
    let a = p.recv(STEP).await.map_err(|e| fail(what, e))?;
    if want(&a) {
        Ok(a)
    } else {
        Err(fail(what, format!("unexpected answer {}", show(&a))))
    }
}

struct Shared {
    start: Instant,
    calls: RefCell<Latency>,
    events: RefCell<Latency>,
    publishes: Cell<u64>,
}

async fn run_load(
    cfg: &WampClientConfig,
    load: &LoadConfig,
    url: &WsUrl,
    opts: &WsClientOptions,
    shutdown: &Shutdown,
) -> Result<LoadReport> {
    let tag = format!("{:x}", rand::random::<u64>());
    let procedure = format!("wstest.load.{tag}.echo");
    let topic = format!("wstest.load.{tag}.topic");
    let mut callee = session(url, opts, cfg).await?;
    let request = callee.request();
    let reg = Message::Register {
        request,
        options: vec![],
        procedure: procedure.clone(),
    };
    ask(
        &mut callee,
        &reg,
        "register",
        |m| matches!(m, Message::Registered { request: r, .. } if *r == request),
    )
    .await?;
    let mut sub = session(url, opts, cfg).await?;
    let request = sub.request();
    let s = Message::Subscribe {
        request,
        options: vec![],
        topic: topic.clone(),
    };
    ask(
        &mut sub,
        &s,
        "subscribe",
        |m| matches!(m, Message::Subscribed { request: r, .. } if *r == request),
    )
    .await?;
    let mut clients = Vec::with_capacity(load.clients);
    for _ in 0..load.clients.max(1) {
        clients.push(session(url, opts, cfg).await?);
    }
    let shared = Shared {
        start: Instant::now(),
        calls: RefCell::new(Latency::new()),
        events: RefCell::new(Latency::new()),
        publishes: Cell::new(0),
    };
    let until = shared.start + load.duration;
    let sh = &shared;
    // The first error ends the run (the other sessions' loops are dropped with it).
    futures_util::future::try_join3(
        callee_loop(&mut callee),
        subscriber_loop(&mut sub, sh),
        async {
            let workers = clients
                .iter_mut()
                .map(|c| client_loop(c, sh, &procedure, &topic, load.count, until, shutdown));
            for r in join_all(workers).await {
                r?;
            }
            // Tell the callee and the subscriber to stop (after every client is done).
            let stop = dict([("stop", Value::from(true))]);
            let c = &mut clients[0];
            let request = c.request();
            let call = Message::Call {
                request,
                options: vec![],
                procedure: procedure.clone(),
                payload: Payload {
                    args: Some(vec![]),
                    kwargs: Some(stop.clone()),
                },
            };
            ask(c, &call, "stop call", |m| {
                matches!(m, Message::Result { .. })
            })
            .await?;
            let request = c.request();
            let publish = Message::Publish {
                request,
                options: dict([("acknowledge", Value::from(true))]),
                topic: topic.clone(),
                payload: Payload {
                    args: Some(vec![]),
                    kwargs: Some(stop),
                },
            };
            ask(c, &publish, "stop publish", |m| {
                matches!(m, Message::Published { .. })
            })
            .await?;
            Ok(())
        },
    )
    .await?;
    let seconds = shared.start.elapsed().as_secs_f64();
    for p in clients.into_iter().chain([callee, sub]) {
        let mut p = p;
        let _ = p.leave(STEP).await;
        p.close().await;
    }
    let row = |name, l: &Latency, secs: f64| LoadRow {
        name,
        count: l.count(),
        per_sec: if secs > 0.0 {
            l.count() as f64 / secs
        } else {
            0.0
        },
        latency: l.summary(),
    };
    let calls = shared.calls.borrow();
    let events = shared.events.borrow();
    Ok(LoadReport {
        url: cfg.url.clone(),
        serializer: cfg.serializer,
        clients: load.clients.max(1),
        seconds,
        calls: row("call", &calls, seconds),
        events: row("publish_event", &events, seconds),
        publishes: shared.publishes.get(),
        interrupted: shutdown.is_triggered(),
    })
}

async fn client_loop(
    c: &mut Peer,
    sh: &Shared,
    procedure: &str,
    topic: &str,
    count: Option<u64>,
    until: Instant,
    shutdown: &Shutdown,
) -> Result<()> {
    let ack = dict([("acknowledge", Value::from(true))]);
    let mut done = 0u64;
    loop {
        let more = match count {
            Some(n) => done < n,
            None => Instant::now() < until,
        };
        if !more || shutdown.is_triggered() {
            return Ok(());
        }
        let request = c.request();
        let t0 = Instant::now();
        let call = Message::Call {
            request,
            options: vec![],
            procedure: procedure.to_string(),
            payload: Payload::args(vec![Value::from(done)]),
        };
        ask(
            c,
            &call,
            "call",
            |m| matches!(m, Message::Result { request: r, .. } if *r == request),
        )
        .await?;
        sh.calls.borrow_mut().record(t0.elapsed());
        let request = c.request();
        let sent = sh.start.elapsed().as_nanos() as u64;
        let publish = Message::Publish {
            request,
            options: ack.clone(),
            topic: topic.to_string(),
            payload: Payload::args(vec![Value::from(sent)]),
        };
        ask(
            c,
            &publish,
            "publish",
            |m| matches!(m, Message::Published { request: r, .. } if *r == request),
        )
        .await?;
        sh.publishes.set(sh.publishes.get() + 1);
        done += 1;
    }
}

fn is_stop(kwargs: &Option<super::message::Dict>) -> bool {
    kwargs
        .as_ref()
        .and_then(|k| dict_get(k, "stop"))
        .and_then(Value::as_bool)
        == Some(true)
}

/// Answer every INVOCATION with its arguments, until the stop call.
async fn callee_loop(p: &mut Peer) -> Result<()> {
    loop {
        match p.recv_forever().await.map_err(|e| fail("callee", e))? {
            Message::Invocation {
                request, payload, ..
            } => {
                let stop = is_stop(&payload.kwargs);
                let y = Message::Yield {
                    request,
                    options: vec![],
                    payload: Payload {
                        args: payload.args,
                        kwargs: None,
                    },
                };
                p.send(&y).await.map_err(|e| fail("callee", e))?;
                if stop {
                    return Ok(());
                }
            }
            m => return Err(fail("callee", format!("unexpected {}", show(&m)))),
        }
    }
}

/// Record each EVENT's delay from its send time, until the stop event.
async fn subscriber_loop(p: &mut Peer, sh: &Shared) -> Result<()> {
    loop {
        match p.recv_forever().await.map_err(|e| fail("subscriber", e))? {
            Message::Event { payload, .. } => {
                if is_stop(&payload.kwargs) {
                    return Ok(());
                }
                let sent = payload
                    .args
                    .as_ref()
                    .and_then(|a| a.first())
                    .and_then(Value::as_u64);
                let Some(sent) = sent else {
                    return Err(fail("subscriber", "an EVENT without its send time"));
                };
                let now = sh.start.elapsed().as_nanos() as u64;
                sh.events
                    .borrow_mut()
                    .record(Duration::from_nanos(now.saturating_sub(sent)));
            }
            m => return Err(fail("subscriber", format!("unexpected {}", show(&m)))),
        }
    }
}

impl crate::report::Outcome for LoadReport {
    fn summary(&self) -> String {
        self.tsv().trim_end().to_string()
    }

    fn outcome(&self) -> Result<()> {
        if self.interrupted {
            return Err(ModeError::Interrupted);
        }
        Ok(())
    }

    fn tsv(&self) -> Option<String> {
        Some(LoadReport::tsv(self))
    }
}
