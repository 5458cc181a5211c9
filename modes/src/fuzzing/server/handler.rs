//! What a connection of the fuzzing server does once its route is known: run a case and
//! store its result, answer with text, wait for a case's status, write the reports, stop the
//! server, or take the original's direct commands.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wstest_engine::proto::connection::Counters;
use wstest_engine::proto::{CloseCode, CloseStatus, Connection, Event};
use wstest_engine::ws::Handler;

use super::Shared;
use crate::fuzzing::result::CaseResult;
use crate::fuzzing::session::CaseSession;

/// What a connection of the fuzzing server does.
pub enum FuzzHandler {
    /// Run a case (its session; the result goes to the store when it ends).
    Case(Option<Box<CaseSession>>, Arc<Shared>),
    /// Send these text messages, then close.
    Reply(Vec<String>),
    /// Wait for a case result, then send its behavior.
    Status {
        agent: String,
        id: String,
        shared: Arc<Shared>,
        next: Instant,
    },
    /// Write the reports, then close (and maybe stop the server).
    Update {
        shared: Arc<Shared>,
        stop_after: bool,
        /// Waiting for running cases: next look, and when to stop waiting.
        next: Option<Instant>,
        until: Instant,
    },
    /// Stop the server.
    Stop(Arc<Shared>),
    /// The original's direct command mode: JSON commands that send frames.
    Direct,
}

impl FuzzHandler {
    /// /updateReports: once no case is running (or the wait is over), write the index.
    fn update_reports(&mut self, conn: &mut Connection, now: Instant) {
        let FuzzHandler::Update {
            shared,
            stop_after,
            next,
            until,
        } = self
        else {
            return;
        };
        if shared.running.load(Ordering::SeqCst) > 0 && now < *until {
            *next = Some(now + Duration::from_millis(10));
            return;
        }
        *next = None;
        let res = shared
            .store
            .lock()
            .map_err(|_| "store lock poisoned".to_string())
            .and_then(|mut s| s.write_index().map_err(|e| e.to_string()));
        match res {
            Ok(()) => eprintln!("fuzzingserver: reports written to {}", shared.spec.outdir),
            Err(e) => eprintln!("fuzzingserver: error: {e}"),
        }
        conn.close(Some(CloseCode::NORMAL), "", now);
        if *stop_after {
            shared.stop.trigger();
        }
    }

    /// /getCaseStatus: once the case has a result, send its behavior and close; else look
    /// again in 50 ms.
    fn poll_status(&mut self, conn: &mut Connection, now: Instant) {
        let FuzzHandler::Status {
            agent,
            id,
            shared,
            next,
        } = self
        else {
            return;
        };
        let behavior = shared
            .store
            .lock()
            .ok()
            .and_then(|s| s.has(agent, id).map(|r| r.behavior));
        match behavior {
            Some(b) if conn.is_open() => {
                conn.send_text(&serde_json::json!({ "behavior": b.as_str() }).to_string());
                conn.close(Some(CloseCode::NORMAL), "", now);
                *next = now + Duration::from_secs(3600);
            }
            _ => *next = now + Duration::from_millis(50),
        }
    }
}

/// Judge a finished case and store its result (unless the server is stopping).
fn store_result(s: CaseSession, shared: &Shared, status: &CloseStatus) {
    let case = s.case.clone();
    let r = CaseResult::judge(&case, s.finish(None));
    log::debug!(
        "case {} ({}): closed: {}; {} / {} in {} ms",
        r.id,
        r.agent,
        crate::fuzzing::run::describe_close(status),
        r.verdict.behavior.as_str(),
        r.verdict.behavior_close.as_str(),
        r.duration_ms
    );
    if shared.stop.is_triggered() {
        return; // cut short by shutdown: says nothing about the client
    }
    let res = shared
        .store
        .lock()
        .map_err(|_| "store lock poisoned".to_string())
        .and_then(|mut st| st.add(&r).map_err(|e| e.to_string()));
    if let Err(e) = res {
        eprintln!(
            "fuzzingserver: cannot store case {} of {}: {e}",
            r.id, r.agent
        );
    }
}

impl Drop for FuzzHandler {
    fn drop(&mut self) {
        // After on_closed stored the result (or the connection never ran).
        if let FuzzHandler::Case(_, shared) = self {
            shared.running.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Handler for FuzzHandler {
    fn on_open(&mut self, conn: &mut Connection, now: Instant) {
        match self {
            FuzzHandler::Case(Some(s), _) => s.on_open(conn, now),
            FuzzHandler::Case(None, _) | FuzzHandler::Direct | FuzzHandler::Status { .. } => {}
            FuzzHandler::Reply(msgs) => {
                for m in msgs.drain(..) {
                    conn.send_text(&m);
                }
                conn.close(Some(CloseCode::NORMAL), "", now);
            }
            FuzzHandler::Update { .. } => self.update_reports(conn, now),
            FuzzHandler::Stop(shared) => {
                eprintln!("fuzzingserver: stopping (requested by /stopServer)");
                conn.close(Some(CloseCode::GOING_AWAY), "", now);
                shared.stop.trigger();
            }
        }
    }

    fn on_event(&mut self, conn: &mut Connection, event: Event, now: Instant) {
        match self {
            FuzzHandler::Case(Some(s), _) => s.on_event(conn, event, now),
            FuzzHandler::Direct => {
                if let Event::Message(m) = event {
                    if let Err(e) = crate::fuzzing::direct::execute(conn, &m.data, m.binary, now) {
                        conn.fail_with(CloseCode::PROTOCOL_ERROR, &e.to_string(), false, now);
                    }
                }
            }
            _ => {}
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self {
            FuzzHandler::Case(Some(s), _) => s.deadline(),
            FuzzHandler::Status { next, .. } => Some(*next),
            FuzzHandler::Update { next, .. } => *next,
            _ => None,
        }
    }

    fn on_deadline(&mut self, conn: &mut Connection, now: Instant) {
        match self {
            FuzzHandler::Update { .. } => self.update_reports(conn, now),
            FuzzHandler::Case(Some(s), _) => s.on_deadline(conn, now),
            FuzzHandler::Status { .. } => self.poll_status(conn, now),
            _ => {}
        }
    }

    fn on_rx_octets(&mut self, data: &[u8]) {
        if let FuzzHandler::Case(Some(s), _) = self {
            s.on_rx_octets(data);
        }
    }

    fn on_closed(&mut self, status: &CloseStatus, counters: &Counters) {
        if let FuzzHandler::Case(slot, shared) = self {
            if let Some(mut s) = slot.take() {
                s.on_closed(status, counters);
                store_result(*s, shared, status);
            }
        }
    }
}
