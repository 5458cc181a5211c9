//! The fuzzing server's URL protocol: a WebSocket connection's path names what it asks for,
//! its query says which case and which agent ([`Query`]); each path has its function here.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use wstest_engine::proto::handshake::server::accept_response;
use wstest_engine::proto::handshake::{HttpHead, Request};
use wstest_engine::proto::{Config, Role};
use wstest_engine::ws::{Service, Upgrade};

use super::handler::FuzzHandler;
use super::{Shared, UPDATE_WAIT};
use crate::fuzzing::case::Case;
use crate::fuzzing::pmce;
use crate::fuzzing::session::CaseSession;
use crate::fuzzing::spec::agent_excludes;
use crate::fuzzing::web;

/// The WebSocket (and plain HTTP) service of the fuzzing server.
pub struct FuzzService(pub(super) Arc<Shared>);

/// What a request's query says. Each parameter may be given once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// `agent` (an empty name is none).
    pub agent: Option<String>,
    /// The case, 1-based: `case=N` (1 to the number of cases), else `casetuple=ID`.
    pub case: Option<usize>,
    /// `shutdownOnComplete` is `true`, `yes` or `1` (any case).
    pub shutdown_on_complete: bool,
}

impl Query {
    /// The query of `req`, with case numbers checked against `cases` (the error: why the
    /// request is refused).
    pub fn parse(req: &Request, cases: &[Arc<Case>]) -> Result<Query, String> {
        let q = req.query();
        let one = |k: &str| one(&q, k);
        let agent = one("agent")?.filter(|a| !a.is_empty());
        let mut case = None;
        if let Some(t) = one("casetuple")? {
            match cases.iter().position(|c| c.id == t.trim()) {
                Some(i) => case = Some(i + 1),
                None => return Err(format!("no case with id {t:?} in this run")),
            }
        }
        if let Some(c) = one("case")? {
            let n = cases.len();
            match c.trim().parse::<usize>() {
                Ok(i) if (1..=n).contains(&i) => case = Some(i),
                _ => {
                    return Err(format!(
                        "case {c:?} is not a case number (this server runs cases 1 to {n})"
                    ))
                }
            }
        }
        let shutdown_on_complete = matches!(one("shutdownOnComplete"),
            Ok(Some(v)) if matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "1"));
        Ok(Query {
            agent,
            case,
            shutdown_on_complete,
        })
    }
}

/// The value of parameter `k`, if given (more than once is an error).
fn one(q: &[(String, String)], k: &str) -> Result<Option<String>, String> {
    let v: Vec<&String> = q.iter().filter(|(n, _)| n == k).map(|(_, v)| v).collect();
    match v.len() {
        0 => Ok(None),
        1 => Ok(Some(v[0].clone())),
        _ => Err(format!("{k} given {} times", v.len())),
    }
}

fn bad(reason: String) -> Upgrade<FuzzHandler> {
    Upgrade::Reject {
        status: 400,
        reason,
    }
}

fn accept(handler: FuzzHandler, config: Config) -> Upgrade<FuzzHandler> {
    Upgrade::Accept {
        handler,
        config,
        protocol: None,
        extensions: None,
    }
}

/// Send these text messages, then close.
fn text_reply(msgs: Vec<String>) -> Upgrade<FuzzHandler> {
    accept(FuzzHandler::Reply(msgs), Config::new(Role::Server))
}

impl Service for FuzzService {
    type Handler = FuzzHandler;

    fn upgrade(&self, req: &Request, peer: SocketAddr) -> Upgrade<FuzzHandler> {
        let sh = &self.0;
        let q = match Query::parse(req, &sh.cases) {
            Ok(q) => q,
            Err(e) => return bad(e),
        };
        match req.path() {
            "/runCase" => run_case(sh, req, peer, q),
            "/getCaseCount" => text_reply(vec![sh.cases.len().to_string()]),
            "/getCaseInfo" => case_info(sh, q),
            "/getCaseStatus" => case_status(sh, q),
            "/updateReports" => update_reports(sh, q),
            "/stopServer" => accept(FuzzHandler::Stop(sh.clone()), Config::new(Role::Server)),
            _ => accept(FuzzHandler::Direct, sh.config.clone()),
        }
    }

    /// The page (a plain HTTP GET).
    fn http(&self, head: &HttpHead, _peer: SocketAddr) -> Option<Vec<u8>> {
        let ws = self.0.ws_url.lock().map(|u| u.clone()).unwrap_or_default();
        Some(web::respond(
            head,
            &ws,
            Path::new(&self.0.spec.outdir),
            Some(&self.0.server_name),
        ))
    }

    fn server_name(&self) -> Option<&str> {
        Some(&self.0.server_name)
    }
}

/// `/runCase?case=N&agent=A`: run the case (nothing when the spec excludes it for the agent).
fn run_case(sh: &Arc<Shared>, req: &Request, peer: SocketAddr, q: Query) -> Upgrade<FuzzHandler> {
    let (Some(i), Some(agent)) = (q.case, q.agent) else {
        return bad("/runCase needs case=N and agent=NAME".into());
    };
    let case = sh.cases[i - 1].clone();
    if agent_excludes(&sh.spec.exclude_agent_cases, &agent, &case.id) {
        log::info!(
            "skipping case {} for agent {agent} (exclude-agent-cases)",
            case.id
        );
        return text_reply(Vec::new());
    }
    log::debug!("case {} ({agent}): started by {peer}", case.id);
    let mut config = sh.config.clone();
    let extensions = match pmce::server_accept(&req.extensions, &case.deflate_accept) {
        Err(e) => return bad(e.0),
        Ok(Some((params, header))) => {
            config.deflate = Some(params);
            Some(header)
        }
        Ok(None) => None,
    };
    let mut s = CaseSession::new(case, agent, i, Role::Server);
    let resp = accept_response(req, None, extensions.as_deref(), Some(&sh.server_name));
    s.handshake(req.raw.clone(), resp);
    sh.running.fetch_add(1, Ordering::SeqCst);
    Upgrade::Accept {
        handler: FuzzHandler::Case(Some(Box::new(s)), sh.clone()),
        config,
        protocol: None,
        extensions,
    }
}

/// `/getCaseInfo?case=N`: `{"id": ..., "description": ...}`.
fn case_info(sh: &Shared, q: Query) -> Upgrade<FuzzHandler> {
    let Some(i) = q.case else {
        return bad("/getCaseInfo needs case=N".into());
    };
    let c = &sh.cases[i - 1];
    let info = serde_json::json!({"id": c.id, "description": c.description});
    text_reply(vec![info.to_string()])
}

/// `/getCaseStatus?case=N&agent=A`: the case's behavior once it has a result.
fn case_status(sh: &Arc<Shared>, q: Query) -> Upgrade<FuzzHandler> {
    let (Some(i), Some(agent)) = (q.case, q.agent) else {
        return bad("/getCaseStatus needs case=N and agent=NAME".into());
    };
    let handler = FuzzHandler::Status {
        agent,
        id: sh.cases[i - 1].id.clone(),
        shared: sh.clone(),
        next: Instant::now(),
    };
    accept(handler, Config::new(Role::Server))
}

/// `/updateReports?agent=A`: write the index (and stop after it when asked to).
fn update_reports(sh: &Arc<Shared>, q: Query) -> Upgrade<FuzzHandler> {
    if q.agent.is_none() {
        return bad("/updateReports needs agent=NAME".into());
    }
    let handler = FuzzHandler::Update {
        shared: sh.clone(),
        stop_after: sh.exit_on_update || q.shutdown_on_complete,
        next: None,
        until: Instant::now() + UPDATE_WAIT,
    };
    accept(handler, Config::new(Role::Server))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::case::case;

    fn request(resource: &str) -> Request {
        Request {
            head: wstest_engine::proto::handshake::HttpHead {
                method: "GET".into(),
                resource: resource.into(),
                minor: 1,
                headers: Vec::new(),
                raw: Vec::new(),
            },
            host: "x".into(),
            key: String::new(),
            origin: None,
            protocols: Vec::new(),
            extensions: Vec::new(),
        }
    }

    #[test]
    fn query_like_the_original() {
        let cases: Vec<Arc<Case>> = ["1.1.1", "1.1.2"]
            .iter()
            .map(|id| Arc::new(case(id, "", "")))
            .collect();
        let q = |r: &str| Query::parse(&request(r), &cases);
        assert_eq!(
            q("/runCase?case=2&agent=A"),
            Ok(Query {
                agent: Some("A".into()),
                case: Some(2),
                shutdown_on_complete: false
            })
        );
        assert_eq!(q("/x?casetuple=1.1.2&agent=").unwrap().case, Some(2));
        assert_eq!(q("/x?casetuple=1.1.2&case=1").unwrap().case, Some(1));
        assert_eq!(q("/x?agent=").unwrap().agent, None);
        assert!(q("/x?shutdownOnComplete=YES").unwrap().shutdown_on_complete);
        assert!(q("/x?case=3").unwrap_err().contains("cases 1 to 2"));
        assert!(q("/x?agent=a&agent=b")
            .unwrap_err()
            .contains("agent given 2 times"));
        assert!(q("/x?casetuple=9.9")
            .unwrap_err()
            .contains("no case with id"));
    }
}
