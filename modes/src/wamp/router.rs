//! The router core, sans-IO: sessions, realms, a Broker and a Dealer of the WAMP Basic
//! Profile. Connections go in as ids with their decoded messages; what to send (and which
//! transports to close) comes out. No sockets, threads or clocks; ids come from a seeded RNG.

use std::collections::{BTreeSet, HashMap, HashSet};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rmpv::Value;
use serde::Serialize;

use super::message::{dict, dict_get, Dict, Message, MsgType, Payload};
use super::uri;

/// A transport connection, numbered by the server.
pub type ConnId = u64;

/// What the router wants done.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Send(ConnId, Message),
    /// Close the transport (after what was sent to it before).
    Close(ConnId),
}

#[derive(Clone, Debug, Default)]
pub struct RouterConfig {
    /// Only these realms may be joined (`None`: any realm, created on first join).
    pub realms: Option<Vec<String>>,
    /// `WELCOME.Details.agent`.
    pub agent: String,
}

/// Counters, for the server's report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RouterStats {
    pub sessions: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub publications: u64,
    pub events: u64,
    pub calls: u64,
    pub results: u64,
    pub errors_sent: u64,
    pub aborts: u64,
}

enum Phase {
    /// No session: waiting for HELLO.
    Idle,
    Established {
        session: u64,
        realm: String,
    },
    /// We sent GOODBYE and wait for the reply.
    Closing,
}

struct Conn {
    phase: Phase,
    subscriptions: HashSet<u64>,
    registrations: HashSet<u64>,
    /// The last INVOCATION request id sent to this session (session scope, sequential).
    last_invocation: u64,
    /// CALLs of this session not answered yet.
    calls_in_flight: usize,
}

struct Subscription {
    topic: String,
    subscribers: BTreeSet<ConnId>,
}

struct Registration {
    procedure: String,
    callee: ConnId,
}

#[derive(Default)]
struct Realm {
    sessions: usize,
    topics: HashMap<String, u64>,
    subscriptions: HashMap<u64, Subscription>,
    procedures: HashMap<String, u64>,
    registrations: HashMap<u64, Registration>,
}

/// A CALL waiting for its callee.
struct Pending {
    caller: ConnId,
    request: u64,
    /// The caller asked for progressive results.
    receive_progress: bool,
}

pub struct Router {
    cfg: RouterConfig,
    conns: HashMap<ConnId, Conn>,
    realms: HashMap<String, Realm>,
    /// (callee, INVOCATION request id) -> the call.
    pending: HashMap<(ConnId, u64), Pending>,
    session_ids: HashSet<u64>,
    rng: SmallRng,
    stats: RouterStats,
}

fn msg_details(text: &str) -> Dict {
    dict([("message", Value::from(text))])
}

fn bool_opt(d: &Dict, key: &str) -> Option<bool> {
    dict_get(d, key).and_then(Value::as_bool)
}

impl Router {
    pub fn new(cfg: RouterConfig, seed: u64) -> Router {
        Router {
            cfg,
            conns: HashMap::new(),
            realms: HashMap::new(),
            pending: HashMap::new(),
            session_ids: HashSet::new(),
            rng: SmallRng::seed_from_u64(seed),
            stats: RouterStats::default(),
        }
    }

    pub fn stats(&self) -> RouterStats {
        self.stats
    }

    /// Sessions established now.
    pub fn session_count(&self) -> usize {
        self.session_ids.len()
    }

    /// A random id in 1..=2^53 (the spec's global and router scopes).
    fn random_id(&mut self) -> u64 {
        self.rng.random_range(1..=1u64 << 53)
    }

    /// A random id that `taken` says is free (a collision in 2^53 is unlikely, not
    /// impossible: two topics or procedures must never share an id).
    fn unused_id(&mut self, taken: impl Fn(&Router, u64) -> bool) -> u64 {
        loop {
            let id = self.random_id();
            if !taken(self, id) {
                return id;
            }
        }
    }

    /// A transport is open.
    pub fn open(&mut self, conn: ConnId) {
        self.conns.insert(
            conn,
            Conn {
                phase: Phase::Idle,
                subscriptions: HashSet::new(),
                registrations: HashSet::new(),
                last_invocation: 0,
                calls_in_flight: 0,
            },
        );
    }

    /// A transport is gone: its session (if any) leaves.
    pub fn closed(&mut self, conn: ConnId, out: &mut Vec<Output>) {
        self.leave(conn, out);
        self.conns.remove(&conn);
    }

    /// A message from `conn` that could not be decoded.
    pub fn malformed(&mut self, conn: ConnId, why: &str, out: &mut Vec<Output>) {
        self.stats.messages_in += 1;
        self.violation(conn, why, out);
    }

    /// Close every session: GOODBYE with `wamp.close.system_shutdown` to each (its reply then
    /// closes the transport); transports without a session are closed at once.
    pub fn shutdown(&mut self, out: &mut Vec<Output>) {
        let mut ids: Vec<ConnId> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        for c in ids {
            match self.conns.get(&c).map(|k| &k.phase) {
                Some(Phase::Established { .. }) => {
                    self.leave(c, out);
                    self.send(
                        out,
                        c,
                        Message::Goodbye {
                            details: msg_details("the router is shutting down"),
                            reason: uri::SYSTEM_SHUTDOWN.into(),
                        },
                    );
                    if let Some(k) = self.conns.get_mut(&c) {
                        k.phase = Phase::Closing;
                    }
                }
                Some(Phase::Idle) => out.push(Output::Close(c)),
                _ => {}
            }
        }
    }

    fn send(&mut self, out: &mut Vec<Output>, to: ConnId, m: Message) {
        self.stats.messages_out += 1;
        match &m {
            Message::Error { .. } => self.stats.errors_sent += 1,
            Message::Abort { .. } => self.stats.aborts += 1,
            Message::Event { .. } => self.stats.events += 1,
            Message::Result { .. } => self.stats.results += 1,
            _ => {}
        }
        out.push(Output::Send(to, m));
    }

    fn error(
        &mut self,
        out: &mut Vec<Output>,
        to: ConnId,
        t: MsgType,
        request: u64,
        e: &str,
        text: &str,
    ) {
        self.send(
            out,
            to,
            Message::Error {
                request_type: t,
                request,
                details: msg_details(text),
                error: e.into(),
                payload: Payload::default(),
            },
        );
    }

    /// ABORT with `reason`, end the session and close the transport.
    fn abort(&mut self, conn: ConnId, reason: &str, text: &str, out: &mut Vec<Output>) {
        self.leave(conn, out);
        self.send(
            out,
            conn,
            Message::Abort {
                details: msg_details(text),
                reason: reason.into(),
            },
        );
        out.push(Output::Close(conn));
    }

    /// A protocol violation: ABORT with `wamp.error.protocol_violation` (while closing, the
    /// transport is just closed).
    fn violation(&mut self, conn: ConnId, text: &str, out: &mut Vec<Output>) {
        if matches!(
            self.conns.get(&conn).map(|c| &c.phase),
            Some(Phase::Closing)
        ) {
            out.push(Output::Close(conn));
        } else {
            self.abort(conn, uri::PROTOCOL_VIOLATION, text, out);
        }
    }

    /// End `conn`'s session: its subscriptions and registrations go, calls in flight to it
    /// are answered with `wamp.error.canceled`, calls it made are forgotten.
    fn leave(&mut self, conn: ConnId, out: &mut Vec<Output>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let Phase::Established { session, realm } = std::mem::replace(&mut c.phase, Phase::Idle)
        else {
            return;
        };
        let subs = std::mem::take(&mut c.subscriptions);
        let regs = std::mem::take(&mut c.registrations);
        self.session_ids.remove(&session);
        if let Some(r) = self.realms.get_mut(&realm) {
            for s in subs {
                r.unsubscribe(s, conn);
            }
            for g in regs {
                r.unregister(g);
            }
            r.sessions -= 1;
            if r.sessions == 0 {
                self.realms.remove(&realm);
            }
        }
        let mut gone: Vec<(ConnId, u64)> = self
            .pending
            .iter()
            .filter(|(k, p)| k.0 == conn || p.caller == conn)
            .map(|(k, _)| *k)
            .collect();
        gone.sort_unstable();
        for k in gone {
            let Some(p) = self.pending.remove(&k) else {
                continue;
            };
            self.call_ended(p.caller);
            if k.0 == conn && p.caller != conn {
                let text = "the callee left while the call was in flight";
                self.error(out, p.caller, MsgType::CALL, p.request, uri::CANCELED, text);
            }
        }
    }

    /// Handle one message from `conn`.
    pub fn handle(&mut self, conn: ConnId, m: Message, out: &mut Vec<Output>) {
        self.stats.messages_in += 1;
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        match (&c.phase, m) {
            (Phase::Idle, Message::Hello { realm, details }) => {
                self.hello(conn, realm, &details, out)
            }
            (Phase::Idle, Message::Abort { .. }) => out.push(Output::Close(conn)),
            (Phase::Idle, m) => {
                let text = format!("{} before HELLO", m.msg_type().name());
                self.violation(conn, &text, out);
            }
            (Phase::Closing, Message::Goodbye { .. } | Message::Abort { .. }) => {
                out.push(Output::Close(conn))
            }
            (Phase::Closing, _) => {}
            (Phase::Established { realm, .. }, m) => {
                let realm = realm.clone();
                self.established(conn, &realm, m, out);
            }
        }
    }

    fn hello(&mut self, conn: ConnId, realm: String, details: &Dict, out: &mut Vec<Output>) {
        if !uri::is_valid(&realm) {
            return self.abort(
                conn,
                uri::INVALID_URI,
                &format!("invalid realm {realm:?}"),
                out,
            );
        }
        if let Some(allowed) = &self.cfg.realms {
            if !allowed.contains(&realm) {
                let text = format!("realm {realm:?} does not exist");
                return self.abort(conn, uri::NO_SUCH_REALM, &text, out);
            }
        }
        // "A Client must announce the roles it supports via Hello.Details.roles|dict"
        // "A Client can support any combination of the above roles but must support at least one role."
        let roles_ok = matches!(dict_get(details, "roles"), Some(Value::Map(m)) if !m.is_empty());
        if !roles_ok {
            let text = "HELLO.Details.roles must announce at least one role";
            return self.violation(conn, text, out);
        }
        let mut session = self.random_id();
        while self.session_ids.contains(&session) {
            session = self.random_id();
        }
        self.session_ids.insert(session);
        self.realms.entry(realm.clone()).or_default().sessions += 1;
        if let Some(c) = self.conns.get_mut(&conn) {
            c.phase = Phase::Established { session, realm };
            c.last_invocation = 0;
        }
        self.stats.sessions += 1;
        let empty = || Value::Map(vec![]);
        let broker = dict([(
            "features",
            Value::Map(dict([("publisher_exclusion", Value::from(true))])),
        )]);
        let roles = dict([("broker", Value::Map(broker)), ("dealer", empty())]);
        let details = dict([
            ("roles", Value::Map(roles)),
            ("agent", Value::from(self.cfg.agent.as_str())),
        ]);
        self.send(out, conn, Message::Welcome { session, details });
    }

    fn established(&mut self, conn: ConnId, realm: &str, m: Message, out: &mut Vec<Output>) {
        use Message::*;
        match m {
            Hello { .. } => self.violation(conn, "HELLO after the session was established", out),
            Goodbye { .. } => {
                self.leave(conn, out);
                let reply = Goodbye {
                    details: vec![],
                    reason: uri::GOODBYE_AND_OUT.into(),
                };
                self.send(out, conn, reply);
            }
            Abort { .. } => {
                self.leave(conn, out);
                out.push(Output::Close(conn));
            }
            m @ (Publish { .. } | Subscribe { .. } | Unsubscribe { .. }) => {
                self.broker(conn, realm, m, out)
            }
            m @ (Register { .. }
            | Unregister { .. }
            | Call { .. }
            | Yield { .. }
            | Error {
                request_type: MsgType::INVOCATION,
                ..
            }) => self.dealer(conn, realm, m, out),
            m => {
                let text = match &m {
                    Error { request_type, .. } => {
                        format!("ERROR for a {} request", request_type.name())
                    }
                    m => format!("{} is sent by routers, not by clients", m.msg_type().name()),
                };
                self.violation(conn, &text, out)
            }
        }
    }
}

mod broker;
mod dealer;

#[cfg(test)]
mod tests;
