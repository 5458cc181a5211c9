//! `wampclient`: checks that any WAMP router does the Basic Profile's essentials, one line per
//! check (`PASS name` / `FAIL name: why`), with two sessions A and B in one realm.

use std::time::Duration;

use rmpv::Value;
use serde::{Deserialize, Serialize};
use wstest_engine::net::WsUrl;
use wstest_engine::runtime::{block_on, resolve_driver, Shutdown};
use wstest_engine::ws::WsClientOptions;

use super::message::{dict, Message, MsgType, Payload};
use super::peer::{show, Peer, PeerError};
use super::serializer::Serializer;
use super::uri;
use crate::common::ClientOptions;
use crate::{ModeError, Result};

pub const AGENT: &str = concat!("wstest-wampclient/", env!("CARGO_PKG_VERSION"));

/// How long one step waits for the router's answer.
const STEP: Duration = Duration::from_secs(5);

/// The checks, in the order they run.
pub const CHECKS: &[&str] = &[
    "session.open",
    "session.second",
    "pubsub.subscribe",
    "pubsub.publish_acknowledged",
    "pubsub.event",
    "pubsub.exclude_me_false",
    "rpc.register",
    "rpc.register_duplicate",
    "rpc.call",
    "rpc.no_such_procedure",
    "session.close",
];

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WampClientConfig {
    pub url: String,
    pub realm: String,
    pub serializer: Serializer,
    pub client: ClientOptions,
    /// Print each check's line as it completes.
    pub print: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    /// Why it failed.
    pub detail: Option<String>,
}

impl Check {
    pub fn line(&self) -> String {
        match &self.detail {
            None if self.passed => format!("PASS {}", self.name),
            d => format!("FAIL {}: {}", self.name, d.as_deref().unwrap_or("")),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct WampClientReport {
    pub url: String,
    pub realm: String,
    pub serializer: Serializer,
    pub checks: Vec<Check>,
}

impl WampClientReport {
    pub fn failed(&self) -> usize {
        self.checks.iter().filter(|c| !c.passed).count()
    }
}

struct Recorder {
    checks: Vec<Check>,
    print: bool,
}

impl Recorder {
    fn record(&mut self, name: &'static str, r: std::result::Result<(), String>) -> bool {
        let c = Check {
            name,
            passed: r.is_ok(),
            detail: r.err(),
        };
        if self.print {
            println!("{}", c.line());
        }
        self.checks.push(c);
        self.checks.last().is_some_and(|c| c.passed)
    }

    /// The checks not run yet fail, naming the one that stopped the run.
    fn rest_not_run(&mut self) {
        let Some(first) = self.checks.iter().find(|c| !c.passed).map(|c| c.name) else {
            return;
        };
        for name in &CHECKS[self.checks.len()..] {
            self.record(name, Err(format!("not run: {first} failed")));
        }
    }
}

fn unexpected(expected: &'static str, m: &Message) -> String {
    PeerError::Unexpected {
        expected,
        got: show(m),
    }
    .to_string()
}

/// A unique suffix so that runs against a shared router do not meet each other.
fn unique() -> String {
    format!("{:x}", rand::random::<u64>())
}

/// Run every check; `Err` only when the router cannot be reached at all.
pub fn run(cfg: &WampClientConfig, shutdown: Shutdown) -> Result<WampClientReport> {
    let url = WsUrl::parse(&cfg.url)?;
    let opts = cfg.client.ws_options(&url)?;
    let driver = resolve_driver(cfg.client.runtime.driver);
    let mut rec = Recorder {
        checks: Vec::new(),
        print: cfg.print,
    };
    let r = block_on(driver, true, checks(cfg, &url, &opts, &mut rec, &shutdown))
        .map_err(|e| ModeError::io("runtime", e))?;
    r?;
    rec.rest_not_run();
    Ok(WampClientReport {
        url: cfg.url.clone(),
        realm: cfg.realm.clone(),
        serializer: cfg.serializer,
        checks: rec.checks,
    })
}

async fn open(
    url: &WsUrl,
    opts: &WsClientOptions,
    cfg: &WampClientConfig,
) -> std::result::Result<Peer, PeerError> {
    let mut p = Peer::connect(url, opts, cfg.serializer).await?;
    p.join(&cfg.realm, STEP).await?;
    Ok(p)
}

/// Connect and join; a connection that cannot be made at all is the run's error.
async fn session(
    name: &'static str,
    url: &WsUrl,
    opts: &WsClientOptions,
    cfg: &WampClientConfig,
    rec: &mut Recorder,
) -> Result<Option<Peer>> {
    match open(url, opts, cfg).await {
        Ok(p) if (1..=1u64 << 53).contains(&p.session) => {
            rec.record(name, Ok(()));
            Ok(Some(p))
        }
        Ok(p) => {
            rec.record(
                name,
                Err(format!("session id {} is outside 1..2^53", p.session)),
            );
            Ok(None)
        }
        // Unreachable (TCP, TLS) is the run's error; a refused upgrade is a failed check.
        Err(PeerError::Connect(e @ wstest_engine::ws::ClientError::Connect(_))) => {
            Err(ModeError::Client(e))
        }
        Err(e) => {
            rec.record(name, Err(e.to_string()));
            Ok(None)
        }
    }
}

async fn checks(
    cfg: &WampClientConfig,
    url: &WsUrl,
    opts: &WsClientOptions,
    rec: &mut Recorder,
    shutdown: &Shutdown,
) -> Result<()> {
    let Some(mut a) = session("session.open", url, opts, cfg, rec).await? else {
        return Ok(());
    };
    let Some(mut b) = session("session.second", url, opts, cfg, rec).await? else {
        return Ok(());
    };
    let tag = unique();
    let topic = format!("wstest.check.{tag}.topic");
    let procedure = format!("wstest.check.{tag}.add");
    let steps: [(&'static str, Step); 9] = [
        ("pubsub.subscribe", Step::Subscribe),
        ("pubsub.publish_acknowledged", Step::Publish),
        ("pubsub.event", Step::Event),
        ("pubsub.exclude_me_false", Step::NotExcluded),
        ("rpc.register", Step::Register),
        ("rpc.register_duplicate", Step::Duplicate),
        ("rpc.call", Step::Call),
        ("rpc.no_such_procedure", Step::NoProcedure),
        ("session.close", Step::Close),
    ];
    let mut st = State {
        topic,
        procedure,
        subscription: 0,
        registration: 0,
        publication: 0,
    };
    for (name, step) in steps {
        if shutdown.is_triggered() {
            return Err(ModeError::Interrupted);
        }
        let r = match step.run(&mut st, &mut a, &mut b).await {
            Ok(r) => r,
            Err(e) => Err(e.to_string()),
        };
        if !rec.record(name, r) {
            break;
        }
    }
    a.close().await;
    b.close().await;
    Ok(())
}

#[derive(Clone, Copy)]
enum Step {
    Subscribe,
    Publish,
    Event,
    NotExcluded,
    Register,
    Duplicate,
    Call,
    NoProcedure,
    Close,
}

struct State {
    topic: String,
    procedure: String,
    subscription: u64,
    registration: u64,
    publication: u64,
}

type StepResult = std::result::Result<std::result::Result<(), String>, PeerError>;

fn is_error(m: &Message, t: MsgType, req: u64, error: &str) -> bool {
    matches!(m, Message::Error { request_type, request, error: e, .. } if *request_type == t && *request == req && e == error)
}

impl Step {
    /// A step: `Err` for a transport failure, `Ok(Err(why))` for a wrong answer.
    async fn run(self, st: &mut State, a: &mut Peer, b: &mut Peer) -> StepResult {
        let ack = || dict([("acknowledge", Value::from(true))]);
        Ok(match self {
            Step::Subscribe => {
                let request = b.request();
                b.send(&Message::Subscribe {
                    request,
                    options: vec![],
                    topic: st.topic.clone(),
                })
                .await?;
                match b.recv(STEP).await? {
                    Message::Subscribed {
                        request: r,
                        subscription,
                    } if r == request => {
                        st.subscription = subscription;
                        Ok(())
                    }
                    m => Err(unexpected("SUBSCRIBED", &m)),
                }
            }
            Step::Publish => {
                let request = a.request();
                let payload = Payload::args(vec![Value::from("wstest"), Value::from(42)]);
                a.send(&Message::Publish {
                    request,
                    options: ack(),
                    topic: st.topic.clone(),
                    payload,
                })
                .await?;
                match a.recv(STEP).await? {
                    Message::Published {
                        request: r,
                        publication,
                    } if r == request => {
                        st.publication = publication;
                        Ok(())
                    }
                    m => Err(unexpected(
                        "PUBLISHED (the publisher is excluded by default)",
                        &m,
                    )),
                }
            }
            Step::Event => match b.recv(STEP).await? {
                Message::Event {
                    subscription,
                    publication,
                    payload,
                    ..
                } => {
                    let want = Some(vec![Value::from("wstest"), Value::from(42)]);
                    if subscription != st.subscription {
                        Err(format!(
                            "EVENT for subscription {subscription}, expected {}",
                            st.subscription
                        ))
                    } else if publication != st.publication {
                        Err(format!(
                            "EVENT for publication {publication}, PUBLISHED said {}",
                            st.publication
                        ))
                    } else if payload.args != want {
                        Err(format!(
                            "EVENT arguments {:?}, expected [\"wstest\", 42]",
                            payload.args
                        ))
                    } else {
                        Ok(())
                    }
                }
                m => Err(unexpected("EVENT", &m)),
            },
            Step::NotExcluded => {
                // B publishes to its own subscription with exclude_me false: it gets the EVENT
                // and the PUBLISHED, in either order.
                let request = b.request();
                let mut options = ack();
                options.push((Value::from("exclude_me"), Value::from(false)));
                b.send(&Message::Publish {
                    request,
                    options,
                    topic: st.topic.clone(),
                    payload: Payload::default(),
                })
                .await?;
                let (mut event, mut published) = (false, false);
                while !(event && published) {
                    match b.recv(STEP).await? {
                        Message::Event { subscription, .. } if subscription == st.subscription => {
                            event = true
                        }
                        Message::Published { request: r, .. } if r == request => published = true,
                        m => return Ok(Err(unexpected("EVENT and PUBLISHED", &m))),
                    }
                }
                Ok(())
            }
            Step::Register => {
                let request = b.request();
                b.send(&Message::Register {
                    request,
                    options: vec![],
                    procedure: st.procedure.clone(),
                })
                .await?;
                match b.recv(STEP).await? {
                    Message::Registered {
                        request: r,
                        registration,
                    } if r == request => {
                        st.registration = registration;
                        Ok(())
                    }
                    m => Err(unexpected("REGISTERED", &m)),
                }
            }
            Step::Duplicate => {
                let request = a.request();
                a.send(&Message::Register {
                    request,
                    options: vec![],
                    procedure: st.procedure.clone(),
                })
                .await?;
                match a.recv(STEP).await? {
                    m if is_error(
                        &m,
                        MsgType::REGISTER,
                        request,
                        uri::PROCEDURE_ALREADY_EXISTS,
                    ) =>
                    {
                        Ok(())
                    }
                    m => Err(unexpected("ERROR wamp.error.procedure_already_exists", &m)),
                }
            }
            Step::Call => {
                let request = a.request();
                let payload = Payload::args(vec![Value::from(2), Value::from(3)]);
                a.send(&Message::Call {
                    request,
                    options: vec![],
                    procedure: st.procedure.clone(),
                    payload,
                })
                .await?;
                let inv = match b.recv(STEP).await? {
                    Message::Invocation {
                        request,
                        registration,
                        payload,
                        ..
                    } if registration == st.registration => {
                        let sum: i64 = payload
                            .args
                            .unwrap_or_default()
                            .iter()
                            .filter_map(Value::as_i64)
                            .sum();
                        (request, sum)
                    }
                    m => return Ok(Err(unexpected("INVOCATION", &m))),
                };
                let payload = Payload::args(vec![Value::from(inv.1)]);
                b.send(&Message::Yield {
                    request: inv.0,
                    options: vec![],
                    payload,
                })
                .await?;
                match a.recv(STEP).await? {
                    Message::Result {
                        request: r,
                        payload,
                        ..
                    } if r == request => {
                        if payload.args == Some(vec![Value::from(5)]) {
                            Ok(())
                        } else {
                            Err(format!("RESULT arguments {:?}, expected [5]", payload.args))
                        }
                    }
                    m => Err(unexpected("RESULT", &m)),
                }
            }
            Step::NoProcedure => {
                let request = a.request();
                let procedure = format!("{}.nobody", st.procedure);
                a.send(&Message::Call {
                    request,
                    options: vec![],
                    procedure,
                    payload: Payload::default(),
                })
                .await?;
                match a.recv(STEP).await? {
                    m if is_error(&m, MsgType::CALL, request, uri::NO_SUCH_PROCEDURE) => Ok(()),
                    m => Err(unexpected("ERROR wamp.error.no_such_procedure", &m)),
                }
            }
            Step::Close => {
                let ra = a.leave(STEP).await?;
                let rb = b.leave(STEP).await?;
                match (ra.as_str(), rb.as_str()) {
                    (uri::GOODBYE_AND_OUT, uri::GOODBYE_AND_OUT) => Ok(()),
                    _ => Err(format!(
                        "GOODBYE replies {ra} and {rb}, expected {}",
                        uri::GOODBYE_AND_OUT
                    )),
                }
            }
        })
    }
}
