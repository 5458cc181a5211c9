//! The checks a case session runs while the connection is open: what it makes of each message
//! the peer sends, and when it has seen enough. Each check is a small state machine; it
//! decides nothing about the connection itself but tells the session what to do next
//! ([`Next`]) and writes its own verdict ([`CheckOutcome`]) for [`super::verdict`].
//!
//! [`Check::Events`] records events and closes once they are complete ([`events_done`]); the
//! verdict then compares them with the case's expected lists. The others judge as they go:
//! one echo ([`EchoCheck`]), a series of round trips ([`RoundTripCheck`]) and the compression
//! series of groups 12 and 13 ([`SeriesCheck`]).

use super::case::{Behavior, Case, Check, Compression};
use super::limits::Received;

/// `behavior` and its explanation as decided by a check other than [`Check::Events`] (the
/// verdict takes over an empty `result` with a text of its own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOutcome {
    pub behavior: Behavior,
    pub result: String,
}

impl Default for CheckOutcome {
    fn default() -> Self {
        CheckOutcome {
            behavior: Behavior::Failed,
            result: String::new(),
        }
    }
}

impl CheckOutcome {
    fn set(&mut self, behavior: Behavior, result: String) {
        self.behavior = behavior;
        self.result = result;
    }
}

/// What the session does after a check has looked at a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Send the case's first frame again (the next round trip).
    Resend,
    /// Send the series' next message.
    SendNext,
    /// The check is decided: switch the wire log back on (recording the switch when `mark`)
    /// and close with 1000.
    Close { mark: bool },
}

/// A check and where it stands.
#[derive(Debug)]
pub enum Checker {
    Events,
    Echo(EchoCheck),
    RoundTrips(RoundTripCheck),
    Series(SeriesCheck),
}

impl Checker {
    pub fn new(check: &Check) -> Self {
        match check {
            Check::Events => Checker::Events,
            Check::Echo { binary, len, .. } => Checker::Echo(EchoCheck {
                binary: *binary,
                len: *len,
            }),
            Check::RoundTrips {
                binary, len, count, ..
            } => Checker::RoundTrips(RoundTripCheck {
                binary: *binary,
                len: *len,
                count: *count,
                done: 0,
            }),
            Check::Compression(spec) => Checker::Series(SeriesCheck::new(spec.clone())),
        }
    }
}

/// Under [`Check::Events`]: every expected list matches what was received, and the case
/// closes itself (the original's rule: with two different expected lists this never fires).
pub fn events_done(case: &Case, received: &Received) -> bool {
    case.expected.iter().all(|(_, evs)| received.is(evs))
        && case.close.closed_by_me
        && !case.suppress_close
}

fn kind(binary: bool) -> &'static str {
    if binary {
        "binary"
    } else {
        "text"
    }
}

/// One echo of this type and length.
#[derive(Debug)]
pub struct EchoCheck {
    binary: bool,
    len: usize,
}

impl EchoCheck {
    /// Judge a message (only a match sets `behavior`); the session closes after any.
    pub fn on_message(&self, payload: &[u8], binary: bool, out: &mut CheckOutcome) -> Next {
        let len = self.len;
        if binary != self.binary {
            out.result = format!(
                "A {} message came back where a {} message was expected.",
                kind(binary),
                kind(self.binary)
            );
        } else if payload.len() != len {
            out.result = format!(
                "The {} message that came back has {} octets instead of {len}.",
                kind(binary),
                payload.len()
            );
        } else {
            out.set(
                Behavior::Ok,
                format!("The {} message of {len} octets came back.", kind(binary)),
            );
        }
        Next::Close { mark: false }
    }
}

/// `count` echoes of the case's first frame, one in flight at a time.
#[derive(Debug)]
pub struct RoundTripCheck {
    binary: bool,
    len: usize,
    count: usize,
    /// Round trips completed before the one in flight.
    done: usize,
}

impl RoundTripCheck {
    pub fn on_message(&mut self, payload: &[u8], binary: bool, out: &mut CheckOutcome) -> Next {
        if binary != self.binary || payload.len() != self.len {
            out.set(
                Behavior::Failed,
                format!(
                    "An echo differs in type or length from what was sent (came back {}, {} octets).",
                    kind(binary),
                    payload.len()
                ),
            );
            Next::Close { mark: true }
        } else if self.done + 1 < self.count {
            self.done += 1;
            Next::Resend
        } else {
            out.set(Behavior::Ok, "Every message came back, in time.".into());
            Next::Close { mark: true }
        }
    }
}

/// A compression series (groups 12 and 13): messages cut from a payload family, one in flight
/// at a time, each to come back unchanged.
#[derive(Debug)]
pub struct SeriesCheck {
    pub spec: Compression,
    /// Next unit of the payload family.
    pos: usize,
    /// Messages sent so far.
    sent: usize,
    /// The message in flight.
    expected: Vec<u8>,
}

impl SeriesCheck {
    fn new(spec: Compression) -> Self {
        SeriesCheck {
            spec,
            pos: 0,
            sent: 0,
            expected: Vec::new(),
        }
    }

    /// On open: without permessage-deflate the series cannot run (`false`, and the session
    /// closes); else it fails unless it completes in time.
    pub fn start(&self, negotiated: bool, out: &mut CheckOutcome) -> bool {
        if !negotiated {
            out.set(
                Behavior::Unimplemented,
                "permessage-deflate was not negotiated.".into(),
            );
            return false;
        }
        out.set(
            Behavior::Failed,
            format!(
                "The series did not complete within {} seconds.",
                self.spec.wait
            ),
        );
        true
    }

    /// Cut the next message (it becomes the one in flight) and hand it out to be sent; give
    /// it back with [`SeriesCheck::sent`] (the buffer is reused).
    pub fn next_message(&mut self) -> Vec<u8> {
        let mut msg = std::mem::take(&mut self.expected);
        self.spec
            .corpus
            .data()
            .next_message(&mut self.pos, self.spec.len, &mut msg);
        self.sent += 1;
        msg
    }

    pub fn sent(&mut self, msg: Vec<u8>) {
        self.expected = msg;
    }

    /// An echo: the next message, or the verdict (the session then also keeps the traffic
    /// counts when the series passed).
    pub fn on_echo(&self, payload: &[u8], binary: bool, out: &mut CheckOutcome) -> Next {
        if let Some(p) = self.problem(payload, binary) {
            out.set(Behavior::Failed, p);
        } else if self.sent < self.spec.count {
            return Next::SendNext;
        } else {
            out.set(
                Behavior::Ok,
                "Every message came back unchanged, in time.".into(),
            );
        }
        Next::Close { mark: true }
    }

    fn problem(&self, payload: &[u8], binary: bool) -> Option<String> {
        let want = &self.expected;
        let want_binary = self.spec.corpus.binary();
        let n = self.sent;
        if binary != want_binary {
            Some(format!(
                "Message {n} came back as {} instead of {}.",
                kind(binary),
                kind(want_binary)
            ))
        } else if payload.len() != want.len() {
            Some(format!(
                "Message {n} came back with {} octets instead of {}.",
                payload.len(),
                want.len()
            ))
        } else if payload != &want[..] {
            Some(format!(
                "Message {n} came back with other content (SHA-1 {} instead of {}).",
                sha1_hex(payload),
                sha1_hex(want)
            ))
        } else {
            None
        }
    }
}

fn sha1_hex(data: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    Sha1::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_only_a_match_sets_the_behavior() {
        let c = EchoCheck {
            binary: true,
            len: 3,
        };
        let mut out = CheckOutcome::default();
        assert_eq!(
            c.on_message(b"abc", true, &mut out),
            Next::Close { mark: false }
        );
        assert_eq!(out.behavior, Behavior::Ok);
        c.on_message(b"ab", true, &mut out);
        assert_eq!(
            out.behavior,
            Behavior::Ok,
            "a later mismatch keeps the behavior"
        );
        assert!(
            out.result.contains("2 octets instead of 3"),
            "{}",
            out.result
        );
    }

    #[test]
    fn round_trips_resend_until_count() {
        let mut c = RoundTripCheck {
            binary: false,
            len: 1,
            count: 3,
            done: 0,
        };
        let mut out = CheckOutcome::default();
        assert_eq!(c.on_message(b"x", false, &mut out), Next::Resend);
        assert_eq!(c.on_message(b"x", false, &mut out), Next::Resend);
        assert_eq!(
            c.on_message(b"x", false, &mut out),
            Next::Close { mark: true }
        );
        assert_eq!(out.behavior, Behavior::Ok);
        let mut c = RoundTripCheck { done: 0, ..c };
        assert_eq!(
            c.on_message(b"x", true, &mut out),
            Next::Close { mark: true }
        );
        assert_eq!(out.behavior, Behavior::Failed);
    }
}
