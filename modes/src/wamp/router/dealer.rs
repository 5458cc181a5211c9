//! The Dealer: REGISTER, UNREGISTER, CALL → INVOCATION, YIELD → RESULT, ERROR.

use rmpv::Value;

use super::super::message::{dict, dict_get, Dict, Message, MsgType, Payload};
use super::super::uri;
use super::{bool_opt, ConnId, Output, Pending, Realm, Registration, Router};

impl Router {
    /// REGISTER, UNREGISTER, CALL, YIELD or an INVOCATION's ERROR from an established
    /// session in `realm`.
    pub(super) fn dealer(&mut self, conn: ConnId, realm: &str, m: Message, out: &mut Vec<Output>) {
        use Message::*;
        match m {
            Register {
                request,
                options,
                procedure,
            } => self.register(conn, realm, request, &options, procedure, out),
            Unregister {
                request,
                registration,
            } => {
                let owned = self
                    .conns
                    .get_mut(&conn)
                    .is_some_and(|c| c.registrations.remove(&registration));
                if owned {
                    if let Some(r) = self.realms.get_mut(realm) {
                        r.unregister(registration);
                    }
                    self.send(out, conn, Unregistered { request });
                } else {
                    let text = format!("no registration {registration} of this session");
                    self.error(
                        out,
                        conn,
                        MsgType::UNREGISTER,
                        request,
                        uri::NO_SUCH_REGISTRATION,
                        &text,
                    );
                }
            }
            Call {
                request,
                options,
                procedure,
                payload,
            } => {
                let call = CallRequest {
                    request,
                    // Advanced Profile (progressive call results): the caller asks for them.
                    receive_progress: bool_opt(&options, "receive_progress") == Some(true),
                    procedure,
                    payload,
                };
                self.call(conn, realm, call, out)
            }
            Yield {
                request,
                options,
                payload,
            } => {
                let progress = bool_opt(&options, "progress") == Some(true);
                let p = if progress {
                    // A progressive result goes only to a caller that asked for them; the
                    // call stays open for the final YIELD either way.
                    self.pending
                        .get(&(conn, request))
                        .filter(|p| p.receive_progress)
                        .map(|p| (p.caller, p.request))
                } else {
                    self.pending.remove(&(conn, request)).map(|p| {
                        self.call_ended(p.caller);
                        (p.caller, p.request)
                    })
                };
                // A YIELD for a call whose caller left is dropped.
                if let Some((caller, call)) = p {
                    let details = if progress {
                        dict([("progress", Value::from(true))])
                    } else {
                        vec![]
                    };
                    self.send(
                        out,
                        caller,
                        Result {
                            request: call,
                            details,
                            payload,
                        },
                    );
                }
            }
            Error {
                request_type: MsgType::INVOCATION,
                request,
                details,
                error,
                payload,
            } => {
                if let Some(p) = self.pending.remove(&(conn, request)) {
                    self.call_ended(p.caller);
                    let m = Error {
                        request_type: MsgType::CALL,
                        request: p.request,
                        details,
                        error,
                        payload,
                    };
                    self.send(out, p.caller, m);
                }
            }
            // `Router::established` sends only the types above here.
            _ => {}
        }
    }

    fn register(
        &mut self,
        conn: ConnId,
        realm: &str,
        request: u64,
        options: &Dict,
        procedure: String,
        out: &mut Vec<Output>,
    ) {
        let t = MsgType::REGISTER;
        if let Some(text) = uri::refusal("procedure", &procedure, true) {
            return self.error(out, conn, t, request, uri::INVALID_URI, &text);
        }
        if let Some(m) = dict_get(options, "match").filter(|m| m.as_str() != Some("exact")) {
            let text = format!("match policy {m} is not supported (exact only)");
            return self.error(out, conn, t, request, "wamp.error.invalid_argument", &text);
        }
        let id = self.unused_id(|me, id| {
            me.realms
                .get(realm)
                .is_some_and(|r| r.registrations.contains_key(&id))
        });
        let Some(r) = self.realms.get_mut(realm) else {
            return;
        };
        if r.procedures.contains_key(&procedure) {
            let text = format!("{procedure} is already registered");
            return self.error(out, conn, t, request, uri::PROCEDURE_ALREADY_EXISTS, &text);
        }
        r.procedures.insert(procedure.clone(), id);
        r.registrations.insert(
            id,
            Registration {
                procedure,
                callee: conn,
            },
        );
        if let Some(c) = self.conns.get_mut(&conn) {
            c.registrations.insert(id);
        }
        self.send(
            out,
            conn,
            Message::Registered {
                request,
                registration: id,
            },
        );
    }

    fn call(&mut self, conn: ConnId, realm: &str, call: CallRequest, out: &mut Vec<Output>) {
        let CallRequest {
            request,
            procedure,
            payload,
            receive_progress,
        } = call;
        self.stats.calls += 1;
        if let Some(text) = uri::refusal("procedure", &procedure, false) {
            return self.error(out, conn, MsgType::CALL, request, uri::INVALID_URI, &text);
        }
        // Calls in flight are bounded per caller: a callee that never answers, or a caller
        // that floods, cannot make the router hold them without limit.
        if self
            .conns
            .get(&conn)
            .is_some_and(|c| c.calls_in_flight >= MAX_CALLS_IN_FLIGHT)
        {
            let text = format!("more than {MAX_CALLS_IN_FLIGHT} calls of this session in flight");
            return self.error(out, conn, MsgType::CALL, request, uri::CANCELED, &text);
        }
        let target = self.realms.get(realm).and_then(|r| {
            let id = *r.procedures.get(&procedure)?;
            Some((id, r.registrations.get(&id)?.callee))
        });
        let Some((registration, callee)) = target else {
            let text = format!("no procedure {procedure} is registered");
            return self.error(
                out,
                conn,
                MsgType::CALL,
                request,
                uri::NO_SUCH_PROCEDURE,
                &text,
            );
        };
        let Some(c) = self.conns.get_mut(&callee) else {
            return;
        };
        c.last_invocation += 1;
        let inv = c.last_invocation;
        self.pending.insert(
            (callee, inv),
            Pending {
                caller: conn,
                request,
                receive_progress,
            },
        );
        if let Some(c) = self.conns.get_mut(&conn) {
            c.calls_in_flight += 1;
        }
        let details = if receive_progress {
            dict([("receive_progress", Value::from(true))])
        } else {
            vec![]
        };
        let m = Message::Invocation {
            request: inv,
            registration,
            details,
            payload,
        };
        self.send(out, callee, m);
    }
}

/// A CALL's parts the dealer uses.
struct CallRequest {
    request: u64,
    procedure: String,
    payload: Payload,
    receive_progress: bool,
}

/// Calls one session may have in flight at once.
pub const MAX_CALLS_IN_FLIGHT: usize = 16384;

impl Router {
    /// A call of `caller` got its answer (or its callee left).
    pub(super) fn call_ended(&mut self, caller: ConnId) {
        if let Some(c) = self.conns.get_mut(&caller) {
            c.calls_in_flight = c.calls_in_flight.saturating_sub(1);
        }
    }
}

impl Realm {
    pub(super) fn unregister(&mut self, id: u64) {
        if let Some(g) = self.registrations.remove(&id) {
            self.procedures.remove(&g.procedure);
        }
    }
}
