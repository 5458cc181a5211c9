//! Output flow control: what a connection may queue for a peer that does not read.
//!
//! Every octet a connection writes was caused by something it read (an echo, a pong, a close
//! reply) or by its handler (a broadcast, a load generator's schedule). When the peer stops
//! reading, the queue in front of its socket grows; the driver then stops reading from that
//! peer, as TCP's window does, until the queue has drained to the low-water mark. A peer that
//! keeps the queue above the high-water mark for longer than the stall timeout is closed with
//! 1008 (policy violation) and counted.

use std::time::{Duration, Instant};

/// Limits on a connection's queued output (its own frames, pongs and close frames, and shared
/// frames taken for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FlowLimits {
    /// Above this many queued octets the driver stops reading from the peer.
    pub high_water: usize,
    /// Reading resumes once the queue is down to this many octets.
    pub low_water: usize,
    /// A queue above `high_water` for this long closes the connection with 1008.
    pub stall_timeout: Duration,
}

impl FlowLimits {
    /// The high-water mark and stall timeout given, the low-water mark a quarter of it.
    pub fn new(high_water: usize, stall_timeout: Duration) -> Self {
        let high_water = high_water.max(1);
        FlowLimits {
            high_water,
            low_water: high_water / 4,
            stall_timeout,
        }
    }
}

impl FlowLimits {
    /// For a side whose handler queues up to `own` octets by itself (a load generator's
    /// window of messages in flight, a fuzzer's script): that much more than the default, so
    /// only what the peer makes it queue (pongs, replies) counts against the mark. Pausing
    /// reads at the default would deadlock two peers whose queues are both full.
    pub fn with_own_output(own: usize) -> Self {
        let d = FlowLimits::default();
        FlowLimits::new(d.high_water.saturating_add(own), d.stall_timeout)
    }
}

impl Default for FlowLimits {
    /// 4 MiB and 30 s: a 16 MiB echo (the fuzzer's largest) pauses reading while it is
    /// written, and a reader that takes it over a slow link still has half a minute. (With
    /// 1 MiB, pipelined 1 MiB echoes ran at a sixth of the rate: every echo paused reading.)
    fn default() -> Self {
        FlowLimits::new(4 << 20, Duration::from_secs(30))
    }
}

/// Whether the driver reads from the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Reading,
    /// The queue went above the high-water mark at `since` and has not drained since.
    Paused {
        since: Instant,
    },
    /// The peer held the queue up past the stall timeout; the connection is being closed
    /// and nothing more is read.
    Stalled,
}

impl Flow {
    /// Follow the queue's length.
    pub fn update(&mut self, queued: usize, limits: &FlowLimits, now: Instant) {
        match *self {
            Flow::Reading if queued > limits.high_water => *self = Flow::Paused { since: now },
            Flow::Paused { .. } if queued <= limits.low_water => *self = Flow::Reading,
            _ => {}
        }
    }

    pub fn reading(&self) -> bool {
        *self == Flow::Reading
    }

    /// When a paused connection counts as stalled.
    pub fn stall_at(&self, limits: &FlowLimits) -> Option<Instant> {
        match *self {
            Flow::Paused { since } => Some(since + limits.stall_timeout),
            _ => None,
        }
    }

    /// Whether the stall timeout has passed at `now` (then the state becomes `Stalled`).
    pub fn check_stall(&mut self, limits: &FlowLimits, now: Instant) -> bool {
        if self.stall_at(limits).is_some_and(|t| t <= now) {
            *self = Flow::Stalled;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_above_high_water_resumes_at_low_water_and_stalls_after_the_timeout() {
        let l = FlowLimits::new(1000, Duration::from_secs(2));
        assert_eq!(l.low_water, 250);
        let t0 = Instant::now();
        let mut f = Flow::Reading;
        f.update(1000, &l, t0);
        assert!(f.reading(), "at the mark is not above it");
        f.update(1001, &l, t0);
        assert_eq!(f, Flow::Paused { since: t0 });
        // Draining but not yet to the low-water mark: still paused, since unchanged.
        f.update(251, &l, t0 + Duration::from_secs(1));
        assert_eq!(f.stall_at(&l), Some(t0 + Duration::from_secs(2)));
        assert!(!f.check_stall(&l, t0 + Duration::from_millis(1999)));
        f.update(250, &l, t0 + Duration::from_secs(1));
        assert!(f.reading());
        assert_eq!(f.stall_at(&l), None);
        f.update(5000, &l, t0 + Duration::from_secs(3));
        assert!(f.check_stall(&l, t0 + Duration::from_secs(5)));
        assert_eq!(f, Flow::Stalled);
        // Stalled stays stalled whatever the queue does.
        f.update(0, &l, t0 + Duration::from_secs(6));
        assert_eq!(f, Flow::Stalled);
        assert!(!f.reading());
    }
}
