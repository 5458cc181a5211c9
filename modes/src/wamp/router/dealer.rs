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
                options: _,
                procedure,
                payload,
            } => self.call(conn, realm, request, procedure, payload, out),
            Yield {
                request,
                options,
                payload,
            } => {
                let progress = bool_opt(&options, "progress") == Some(true);
                let p = if progress {
                    self.pending
                        .get(&(conn, request))
                        .map(|p| (p.caller, p.request))
                } else {
                    self.pending
                        .remove(&(conn, request))
                        .map(|p| (p.caller, p.request))
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
        if !uri::is_valid(&procedure) {
            let text = format!("invalid procedure {procedure:?}");
            return self.error(out, conn, t, request, uri::INVALID_URI, &text);
        }
        if let Some(m) = dict_get(options, "match").filter(|m| m.as_str() != Some("exact")) {
            let text = format!("match policy {m} is not supported (exact only)");
            return self.error(out, conn, t, request, "wamp.error.invalid_argument", &text);
        }
        let id = self.random_id();
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

    fn call(
        &mut self,
        conn: ConnId,
        realm: &str,
        request: u64,
        procedure: String,
        payload: Payload,
        out: &mut Vec<Output>,
    ) {
        self.stats.calls += 1;
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
            },
        );
        let m = Message::Invocation {
            request: inv,
            registration,
            details: vec![],
            payload,
        };
        self.send(out, callee, m);
    }
}

impl Realm {
    pub(super) fn unregister(&mut self, id: u64) {
        if let Some(g) = self.registrations.remove(&id) {
            self.procedures.remove(&g.procedure);
        }
    }
}
