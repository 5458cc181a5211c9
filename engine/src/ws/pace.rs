//! Cooperative waits on the runtime: give the other tasks of this thread (and the runtime's
//! I/O) a turn, and pause paced writes without ever sleeping the thread.

use std::time::{Duration, Instant};

pub use crate::runtime::yield_now;

/// The runtime's timer counts milliseconds: shorter pauses are turns of the runtime.
const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// Wait until `started + gap`. A gap of a millisecond or more is a timer; a shorter one is
/// spent in turns of the runtime (each lets every other connection on this thread run, and
/// the first is always taken, so writes are at least one turn apart as in an event loop);
/// a zero gap waits nothing.
pub async fn pause_since(started: Instant, gap: Duration) {
    if gap.is_zero() {
        return;
    }
    let until = started + gap;
    let left = until.saturating_duration_since(Instant::now());
    if left >= TIMER_RESOLUTION {
        // Boxed: a timer is 640 octets (cache-padded), and only paced connections need it.
        Box::pin(monoio::time::sleep(left)).await;
        return;
    }
    loop {
        yield_now().await;
        if Instant::now() >= until {
            return;
        }
    }
}

/// After a paced write that started at `started`: wait until `started + gap`, then (on a
/// plain TCP socket, `fd` >= 0) until TCP has sent what was written, for at most
/// `sent_limit`. TCP appends a write to octets it has not sent yet (when the peer is slow to
/// acknowledge, or the loopback is busy), which would put two paced pieces in one segment; a
/// peer that stops reading closes its window, hence the limit.
pub async fn paced(started: Instant, gap: Duration, fd: std::os::fd::RawFd, sent_limit: Duration) {
    pause_since(started, gap).await;
    if fd < 0 {
        return;
    }
    let until = Instant::now() + sent_limit;
    while crate::net::nonblocking::unsent(fd).is_some_and(|n| n > 0) && Instant::now() < until {
        yield_now().await;
    }
}
