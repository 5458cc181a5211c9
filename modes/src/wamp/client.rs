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
    /// Not run because the router does not announce the feature (not a failure).
    pub skipped: bool,
    /// Why it failed, or why it was skipped; for a pass, what the router said (if worth
    /// telling).
    pub detail: Option<String>,
}

impl Check {
    pub fn line(&self) -> String {
        match &self.detail {
            d if self.skipped => format!("SKIP {}: {}", self.name, d.as_deref().unwrap_or("")),
            None if self.passed => format!("PASS {}", self.name),
            Some(d) if self.passed => format!("PASS {}: {d}", self.name),
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
        self.checks
            .iter()
            .filter(|c| !c.passed && !c.skipped)
            .count()
    }

    pub fn skipped(&self) -> usize {
        self.checks.iter().filter(|c| c.skipped).count()
    }
}

struct Recorder {
    checks: Vec<Check>,
    print: bool,
}

impl Recorder {
    fn push(&mut self, c: Check) {
        if self.print {
            println!("{}", c.line());
        }
        self.checks.push(c);
    }

    fn record(&mut self, name: &'static str, r: std::result::Result<(), String>) -> bool {
        let passed = r.is_ok();
        self.push(Check {
            name,
            passed,
            skipped: false,
            detail: r.err(),
        });
        passed
    }

    /// A pass with a note on what the router did (where the spec allows a choice).
    fn pass_noting(&mut self, name: &'static str, note: String) {
        self.push(Check {
            name,
            passed: true,
            skipped: false,
            detail: Some(note),
        });
    }

    fn skip(&mut self, name: &'static str, why: String) {
        self.push(Check {
            name,
            passed: false,
            skipped: true,
            detail: Some(why),
        });
    }

    /// The checks not recorded yet fail, naming the first failure.
    fn rest_not_run(&mut self) {
        let Some(first) = self
            .checks
            .iter()
            .find(|c| !c.passed && !c.skipped)
            .map(|c| c.name)
        else {
            return;
        };
        for name in CHECKS {
            if !self.checks.iter().any(|c| c.name == *name) {
                self.record(name, Err(format!("not run: {first} failed")));
            }
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

/// Does the router's WELCOME.Details announce `feature` for its broker?
fn broker_feature(welcome: &super::message::Dict, feature: &str) -> bool {
    let get = |v: &Value, k: &str| -> Option<Value> {
        v.as_map()?
            .iter()
            .find(|(key, _)| key.as_str() == Some(k))
            .map(|(_, v)| v.clone())
    };
    let details = Value::Map(welcome.clone());
    ["roles", "broker", "features", feature]
        .iter()
        .try_fold(details, |v, k| get(&v, k))
        .and_then(|v| v.as_bool())
        == Some(true)
}

/// Run `steps` in order until one fails; the rest of the group is recorded as not run.
/// Whether every step passed.
async fn group(
    steps: &[(&'static str, Step)],
    st: &mut State,
    a: &mut Peer,
    b: &mut Peer,
    rec: &mut Recorder,
    shutdown: &Shutdown,
) -> Result<bool> {
    let mut failed: Option<&'static str> = None;
    for (name, step) in steps {
        if let Some(f) = failed {
            rec.record(name, Err(format!("not run: {f} failed")));
            continue;
        }
        if shutdown.is_triggered() {
            return Err(ModeError::Interrupted);
        }
        let r = match step.run(st, a, b).await {
            Ok(r) => r,
            Err(e) => Err(e.to_string()),
        };
        if !rec.record(name, r) {
            failed = Some(name);
        }
    }
    Ok(failed.is_none())
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
    let mut st = State {
        topic: format!("wstest.check.{tag}.topic"),
        procedure: format!("wstest.check.{tag}.add"),
        subscription: 0,
        registration: 0,
        publication: 0,
    };
    // Publish and subscribe. The publisher exclusion switch is an Advanced Profile feature:
    // checked only where the router announces it.
    let mut pubsub = vec![
        ("pubsub.subscribe", Step::Subscribe),
        ("pubsub.publish_acknowledged", Step::Publish),
        ("pubsub.event", Step::Event),
    ];
    let exclusion = broker_feature(&a.welcome, "publisher_exclusion");
    if exclusion {
        pubsub.push(("pubsub.exclude_me_false", Step::NotExcluded));
    }
    let pubsub_ok = group(&pubsub, &mut st, &mut a, &mut b, rec, shutdown).await?;
    if !exclusion {
        rec.skip(
            "pubsub.exclude_me_false",
            "the router does not announce roles.broker.features.publisher_exclusion".into(),
        );
    }
    // Remote procedure calls, on sessions of their own when publish and subscribe went
    // wrong (an answer that came late would be read as the next step's).
    let mut extra = Vec::new();
    if !pubsub_ok {
        let c = open(url, opts, cfg).await;
        let d = open(url, opts, cfg).await;
        match (c, d) {
            (Ok(c), Ok(d)) => extra.extend([c, d]),
            (Err(e), _) | (_, Err(e)) => {
                rec.record("rpc.register", Err(format!("cannot open sessions: {e}")));
            }
        }
    }
    let rpc = [
        ("rpc.register", Step::Register),
        ("rpc.register_duplicate", Step::Duplicate),
        ("rpc.call", Step::Call),
        ("rpc.no_such_procedure", Step::NoProcedure),
    ];
    if pubsub_ok {
        group(&rpc, &mut st, &mut a, &mut b, rec, shutdown).await?;
    } else if let [c, d] = &mut extra[..] {
        group(&rpc, &mut st, c, d, rec, shutdown).await?;
    }
    // Every session says GOODBYE and gets the router's.
    let mut peers = vec![a, b];
    peers.append(&mut extra);
    // The WAMP spec: the Peer receiving a GOODBYE "MUST reply with a GOODBYE message"; the
    // reason `wamp.close.goodbye_and_out` appears only in its example (and in the URI table
    // as the usual reply), so any reason URI passes, and the check says which one came.
    let mut replies = Vec::new();
    let mut failures = Vec::new();
    for p in peers.iter_mut() {
        match p.leave(STEP).await {
            Ok(r) => replies.push(r),
            Err(e) => failures.push(e.to_string()),
        }
    }
    replies.dedup();
    if failures.is_empty() {
        let said = format!("the router replied GOODBYE with {}", replies.join(", "));
        rec.pass_noting("session.close", said);
    } else {
        rec.record(
            "session.close",
            Err(format!("no GOODBYE in reply: {}", failures.join("; "))),
        );
    }
    for p in peers {
        p.close().await;
    }
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
        })
    }
}

impl crate::report::Outcome for WampClientReport {
    fn summary(&self) -> String {
        format!(
            "wampclient: {} of {} checks passed, {} skipped ({}, {} serializer, realm {})",
            self.checks.len() - self.failed() - self.skipped(),
            self.checks.len(),
            self.skipped(),
            self.url,
            self.serializer.name(),
            self.realm
        )
    }

    fn outcome(&self) -> Result<()> {
        if self.failed() > 0 {
            return Err(crate::error::Failure::WampChecks {
                failed: self.failed(),
                total: self.checks.len(),
            }
            .into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_read_from_the_welcome() {
        let with = dict([(
            "roles",
            Value::Map(dict([(
                "broker",
                Value::Map(dict([(
                    "features",
                    Value::Map(dict([("publisher_exclusion", Value::from(true))])),
                )])),
            )])),
        )]);
        assert!(broker_feature(&with, "publisher_exclusion"));
        assert!(!broker_feature(&with, "subscriber_blackwhite_listing"));
        let basic = dict([("roles", Value::Map(dict([("broker", Value::Map(vec![]))])))]);
        assert!(!broker_feature(&basic, "publisher_exclusion"));
        assert!(!broker_feature(&vec![], "publisher_exclusion"));
    }

    #[test]
    fn skipped_checks_are_not_failures() {
        let mut rec = Recorder {
            checks: Vec::new(),
            print: false,
        };
        rec.record("session.open", Ok(()));
        rec.skip("pubsub.exclude_me_false", "not announced".into());
        rec.record("rpc.call", Err("wrong".into()));
        let r = WampClientReport {
            url: String::new(),
            realm: String::new(),
            serializer: Serializer::Json,
            checks: rec.checks.clone(),
        };
        assert_eq!((r.failed(), r.skipped()), (1, 1));
        assert_eq!(
            r.checks[1].line(),
            "SKIP pubsub.exclude_me_false: not announced"
        );
        rec.rest_not_run();
        assert_eq!(rec.checks.len(), CHECKS.len());
        assert!(rec
            .checks
            .iter()
            .filter(|c| c.name == "rpc.register")
            .all(|c| c.detail.as_deref() == Some("not run: rpc.call failed")));
    }
}
