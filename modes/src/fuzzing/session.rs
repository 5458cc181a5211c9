//! Running one case on one connection: the fuzzer's side of the conversation.
//!
//! [`CaseSession`] is a [`Handler`]: on open it interprets the case's steps (frames written by
//! [`Writer`], timers armed), hands what the peer sends to the case's check
//! ([`super::checks`]), and records everything in a [`Recorder`]; [`CaseSession::finish`]
//! gives the [`SessionRecord`] that the verdict and the report are made from. The fuzzer's
//! own endpoint behaviour (how it answers pings and closes, how it fails, its timeouts) is
//! the engine's [`Connection`] configured by [`super::endpoint::fuzzer_config`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use wstest_engine::proto::connection::{CloseStatus, Counters};
use wstest_engine::proto::{CloseCode, Connection, Event, Role};
use wstest_engine::ws::Handler;

use super::case::{Case, Ev, FrameSpec, Step};
use super::checks::{events_done, CheckOutcome, Checker, Next, SeriesCheck};
use super::record::{Recorder, SessionRecord};
use super::wirelog::Wire;
use super::writer::Writer;

/// Longest payload of a control frame (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

/// What a timer does when it fires.
#[derive(Debug)]
enum Timer {
    Kill,
    Close,
    Later {
        tag: Option<String>,
        guard: bool,
        steps: Vec<Step>,
    },
}

/// A timer armed: when, and in which order it was armed (ties fire in that order).
#[derive(Debug)]
struct Armed {
    at: Instant,
    seq: u64,
    timer: Timer,
}

/// The case's timers.
#[derive(Debug, Default)]
struct Timers {
    armed: Vec<Armed>,
    seq: u64,
}

impl Timers {
    fn arm(&mut self, after: f64, timer: Timer, now: Instant) {
        self.seq += 1;
        self.armed.push(Armed {
            at: now + Duration::from_secs_f64(after.max(0.0)),
            seq: self.seq,
            timer,
        });
    }

    fn next(&self) -> Option<Instant> {
        self.armed.iter().map(|t| t.at).min()
    }

    /// The earliest timer due at `now`, taken off the list.
    fn take_due(&mut self, now: Instant) -> Option<Timer> {
        let pos = self
            .armed
            .iter()
            .enumerate()
            .filter(|(_, t)| t.at <= now)
            .min_by_key(|(_, t)| (t.at, t.seq))
            .map(|(i, _)| i)?;
        Some(self.armed.swap_remove(pos).timer)
    }
}

/// One case run on one connection.
pub struct CaseSession {
    pub case: Arc<Case>,
    role: Role,
    rec: Recorder,
    writer: Writer,
    checker: Checker,
    /// What the checker decided.
    outcome: CheckOutcome,
    timers: Timers,
    /// The case's first frame (a round-trip series sends it again for each message).
    first_frame: Option<FrameSpec>,
}

impl CaseSession {
    /// `index`: reported as "case" (position in the run's case list, 1-based).
    pub fn new(case: Arc<Case>, agent: String, index: usize, role: Role) -> Self {
        CaseSession {
            checker: Checker::new(&case.check),
            case,
            role,
            rec: Recorder::new(agent, index),
            writer: Writer::new(role),
            outcome: CheckOutcome::default(),
            timers: Timers::default(),
            first_frame: None,
        }
    }

    /// The opening handshake, as the client sent it and the server answered.
    pub fn handshake(&mut self, request: Vec<u8>, response: Vec<u8>) {
        self.rec
            .handshake(request, response, self.role == Role::Server);
    }

    /// What the case recorded (after the connection is over, or when it never opened).
    pub fn finish(self, connect_error: Option<String>) -> SessionRecord {
        self.rec
            .finish(self.role == Role::Server, self.outcome, connect_error)
    }

    fn exec(&mut self, steps: &[Step], conn: &mut Connection, now: Instant) {
        for s in steps {
            self.exec_one(s, conn, now);
        }
    }

    fn exec_one(&mut self, step: &Step, conn: &mut Connection, now: Instant) {
        let (rec, w) = (&mut self.rec, &mut self.writer);
        match step {
            Step::Frame(f) => {
                if self.first_frame.is_none() {
                    self.first_frame = Some(f.clone());
                }
                w.send_frame(rec, conn, f)
            }
            Step::Message {
                payload,
                repeat_len,
                binary,
                fragment,
            } => {
                let p = super::case::repeated(payload, *repeat_len);
                w.send_message(rec, conn, &p, *binary, *fragment, false)
            }
            Step::Close { code, reason } => {
                let reason = reason.as_deref().map(valid_close_reason);
                self.close_raw(conn, *code, reason.as_deref(), now);
            }
            Step::CloseFrame { code, reason } => {
                self.close_raw(conn, *code, reason.as_deref(), now)
            }
            Step::KillAfter(d) => {
                rec.wire.always(Wire::KillAfter(*d));
                self.timers.arm(*d, Timer::Kill, now);
            }
            Step::CloseAfter(d) => {
                rec.wire.always(Wire::CloseAfter(*d));
                self.timers.arm(*d, Timer::Close, now);
            }
            Step::Later {
                delay,
                tag,
                guard,
                steps,
            } => {
                rec.wire.always(Wire::Later {
                    delay: *delay,
                    tag: tag.clone(),
                });
                let timer = Timer::Later {
                    tag: tag.clone(),
                    guard: *guard,
                    steps: steps.clone(),
                };
                self.timers.arm(*delay, timer, now);
            }
            Step::Wirelog { on, mark } => self.set_wirelog(conn, *on, *mark),
            Step::BeginMessage { binary } => w.begin_message(conn, *binary),
            Step::BeginFrame { len } => w.begin_frame(rec, conn, *len),
            Step::FrameData { data, sync } => w.frame_data(rec, conn, data, *sync),
            Step::EndMessage => w.end_message(rec, conn),
            Step::AutoFragment(n) => w.auto_fragment = *n,
        }
    }

    fn close_raw(
        &mut self,
        conn: &mut Connection,
        code: Option<u16>,
        reason: Option<&[u8]>,
        now: Instant,
    ) {
        if conn.is_open() {
            self.rec.local_reason(reason);
        }
        conn.close_raw(code, reason, now);
    }

    fn set_wirelog(&mut self, conn: &mut Connection, on: bool, mark: bool) {
        self.rec.wirelog(on, mark);
        conn.set_record_payloads(on);
    }

    /// Start a compression series (groups 12 and 13), as the original does on open: the
    /// wire log off for the bulk of it, a time limit, then the first message.
    fn start_series(&mut self, conn: &mut Connection, now: Instant) {
        let Checker::Series(series) = &self.checker else {
            return;
        };
        let (fragment, wait) = (series.spec.fragment, series.spec.wait);
        let started = series.start(conn.deflate().is_some(), &mut self.outcome);
        self.set_wirelog(conn, false, true);
        self.writer.auto_fragment = fragment;
        if !started {
            self.close_raw(conn, Some(CloseCode::NORMAL.0), None, now);
            return;
        }
        self.exec_one(&Step::CloseAfter(wait), conn, now);
        self.send_next(conn);
    }

    /// The series' next message.
    fn send_next(&mut self, conn: &mut Connection) {
        let Checker::Series(series) = &mut self.checker else {
            return;
        };
        let msg = series.next_message();
        let binary = series.spec.corpus.binary();
        self.writer
            .send_message(&mut self.rec, conn, &msg, binary, None, true);
        series.sent(msg);
    }

    fn on_message(&mut self, conn: &mut Connection, payload: Vec<u8>, binary: bool, now: Instant) {
        let out = &mut self.outcome;
        let next = match &mut self.checker {
            Checker::Events => {
                self.rec.received.push(Ev::Message { payload, binary });
                return self.close_when_done(conn, now);
            }
            Checker::Echo(c) => c.on_message(&payload, binary, out),
            Checker::RoundTrips(c) => c.on_message(&payload, binary, out),
            Checker::Series(c) => series_echo(c, &payload, binary, out, &mut self.rec, conn),
        };
        match next {
            Next::Resend => {
                if let Some(f) = self.first_frame.clone() {
                    self.writer.send_frame(&mut self.rec, conn, &f);
                }
            }
            Next::SendNext => self.send_next(conn),
            Next::Close { mark } => {
                self.set_wirelog(conn, true, mark);
                self.close_raw(conn, Some(CloseCode::NORMAL.0), None, now);
            }
        }
    }

    /// Under the events check: close as the case says once the events are complete.
    fn close_when_done(&mut self, conn: &mut Connection, now: Instant) {
        if events_done(&self.case, &self.rec.received) {
            let code = self.case.close.codes.first().copied();
            self.close_raw(conn, code, None, now);
        }
    }

    fn run_timer(&mut self, t: Timer, conn: &mut Connection, now: Instant) {
        if conn.is_closed() {
            return;
        }
        match t {
            Timer::Kill => {
                self.rec.wire.always(Wire::Killing);
                conn.fail_with(CloseCode::GOING_AWAY, "Going Away", false, now);
            }
            Timer::Close => {
                self.rec.wire.always(Wire::Closing);
                self.close_raw(conn, None, None, now);
            }
            Timer::Later { tag, guard, steps } => {
                self.rec.wire.always(Wire::LaterFired(tag.clone()));
                if guard {
                    if !conn.is_open() {
                        return;
                    }
                    self.rec.received.push(Ev::Timeout(tag.unwrap_or_default()));
                }
                self.exec(&steps, conn, now);
            }
        }
    }
}

/// A series' echo; a series that passed keeps the traffic counts so far.
fn series_echo(
    c: &SeriesCheck,
    payload: &[u8],
    binary: bool,
    out: &mut CheckOutcome,
    rec: &mut Recorder,
    conn: &Connection,
) -> Next {
    let next = c.on_echo(payload, binary, out);
    if next != Next::SendNext && out.behavior == super::case::Behavior::Ok {
        rec.keep_traffic(conn.counters());
    }
    next
}

/// A valid close's reason: one that does not fit a control frame is cut to 120 octets
/// plus "...".
fn valid_close_reason(reason: &str) -> Vec<u8> {
    let mut b = reason.as_bytes().to_vec();
    if b.len() + 2 > MAX_CONTROL_PAYLOAD {
        b.truncate(120);
        b.extend_from_slice(b"...");
    }
    b
}

impl Handler for CaseSession {
    fn on_open(&mut self, conn: &mut Connection, now: Instant) {
        self.rec.opened(now);
        let case = self.case.clone();
        self.exec(&case.steps, conn, now);
        self.start_series(conn, now);
    }

    fn on_event(&mut self, conn: &mut Connection, event: Event, now: Instant) {
        match event {
            Event::Message(m) => self.on_message(conn, m.data, m.binary, now),
            Event::Pong(p) => {
                if let Checker::Events = self.checker {
                    self.rec.received.push(Ev::Pong(p));
                    self.close_when_done(conn, now);
                }
            }
            Event::Frame(rec) => self.rec.rx_frame(rec),
            Event::FrameSent { record, octets } => self.rec.endpoint_frame(record, octets),
            Event::Ping(_) | Event::Close { .. } | Event::Failed(_) => {}
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.timers.next()
    }

    fn on_deadline(&mut self, conn: &mut Connection, now: Instant) {
        while let Some(t) = self.timers.take_due(now) {
            self.run_timer(t, conn, now);
        }
    }

    fn on_rx_octets(&mut self, data: &[u8]) {
        self.rec.rx_octets(data);
    }

    fn on_closed(&mut self, status: &CloseStatus, _counters: &Counters) {
        self.rec.closed(status);
    }
}
