//! What one case may keep of a peer's traffic. A hostile or broken peer can send without
//! end; a case keeps a bounded record of it (events to judge, wire log lines to report) and
//! says in its report where the record was cut. The limits sit far above what any case of
//! the suite needs against a conforming peer (the largest expected outcome is a few events
//! of 64 KiB; the longest wire log, 9.5.1's 16,384 chopped writes).

use super::case::Ev;
use super::pyjson::{obj, J};

/// Largest message a fuzzer session takes by default (group 9 sends and expects 16 MiB).
/// The same limit bounds a compressed message once inflated.
pub const MAX_MESSAGE: u64 = 64 << 20;

/// Received events a case keeps for its verdict.
pub const MAX_EVENTS: usize = 1000;

/// Payload octets of received events a case keeps for its verdict.
pub const MAX_EVENT_OCTETS: usize = 16 << 20;

/// Wire log lines a case keeps.
pub const MAX_WIRELOG: usize = 100_000;

/// The events received, up to [`MAX_EVENTS`] and [`MAX_EVENT_OCTETS`]; past either, events
/// are counted and dropped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Received {
    pub events: Vec<Ev>,
    octets: usize,
    /// Events not kept.
    pub dropped: u64,
}

impl Received {
    pub fn push(&mut self, ev: Ev) {
        let len = match &ev {
            Ev::Message { payload, .. } => payload.len(),
            Ev::Pong(p) => p.len(),
            Ev::Timeout(t) => t.len(),
        };
        if self.dropped > 0
            || self.events.len() >= MAX_EVENTS
            || self.octets + len > MAX_EVENT_OCTETS
        {
            self.dropped += 1;
            return;
        }
        self.octets += len;
        self.events.push(ev);
    }

    /// Whether every event was kept and they are `evs`.
    pub fn is(&self, evs: &[Ev]) -> bool {
        self.dropped == 0 && self.events == evs
    }
}

/// Where a case's record was cut (reported as `truncated`, a field the original does not
/// have: it only appears when something was cut).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Truncation {
    /// Received events kept / dropped.
    pub events_kept: usize,
    pub events_dropped: u64,
    /// Wire log lines kept / dropped.
    pub wirelog_kept: usize,
    pub wirelog_dropped: u64,
}

impl Truncation {
    pub fn any(&self) -> bool {
        self.events_dropped > 0 || self.wirelog_dropped > 0
    }

    /// One line for a report page.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.events_dropped > 0 {
            parts.push(format!(
                "received events cut after {} ({} more not kept; limits {MAX_EVENTS} events, {} MiB)",
                self.events_kept,
                self.events_dropped,
                MAX_EVENT_OCTETS >> 20
            ));
        }
        if self.wirelog_dropped > 0 {
            parts.push(format!(
                "wire log cut after {} lines ({} more not kept; limit {MAX_WIRELOG})",
                self.wirelog_kept, self.wirelog_dropped
            ));
        }
        parts.join("; ")
    }

    pub fn to_json(&self) -> J {
        obj(vec![
            ("receivedDropped", self.events_dropped.into()),
            ("receivedKept", self.events_kept.into()),
            ("wirelogDropped", self.wirelog_dropped.into()),
            ("wirelogKept", self.wirelog_kept.into()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: usize) -> Ev {
        Ev::Message {
            payload: vec![b'a'; n],
            binary: false,
        }
    }

    #[test]
    fn events_are_cut_by_count_and_by_octets() {
        let mut r = Received::default();
        for _ in 0..MAX_EVENTS + 5 {
            r.push(msg(1));
        }
        assert_eq!((r.events.len(), r.dropped), (MAX_EVENTS, 5));
        assert!(!r.is(&r.events.clone()));

        let mut r = Received::default();
        r.push(msg(MAX_EVENT_OCTETS + 1));
        // Nothing kept, but the record is not an empty list: it matches nothing.
        assert_eq!((r.events.len(), r.dropped), (0, 1));
        assert!(!r.is(&[]));
        // Once cut, later small events are not kept either (the kept part stays a prefix).
        r.push(msg(1));
        assert_eq!((r.events.len(), r.dropped), (0, 2));
    }

    #[test]
    fn uncut_record_matches() {
        let mut r = Received::default();
        r.push(msg(3));
        r.push(Ev::Pong(b"x".to_vec()));
        assert!(r.is(&[msg(3), Ev::Pong(b"x".to_vec())]));
        assert!(!Truncation::default().any());
    }
}
