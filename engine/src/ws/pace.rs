//! Cooperative waits on the runtime: give the other tasks of this thread (and the runtime's
//! I/O) a turn, and pause paced writes without ever sleeping the thread.

use std::time::{Duration, Instant};

pub use crate::runtime::yield_now;

/// The runtime's timer counts milliseconds: shorter pauses are turns of the runtime.
const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// Wait until `started + gap`. A gap of a millisecond or more is a runtime timer; a shorter
/// one takes one turn of the runtime (every other connection on this thread runs, so writes
/// are at least one turn apart as in an event loop) and then, for what is left, waits on a
/// timer of microsecond resolution through the runtime ([`sleep_fine`]): the thread waits in
/// the runtime with nothing to do, its core free for the peer that reads what was written
/// (turns spent spinning instead kept that core busy, and on a small machine the peer, woken
/// by our write onto it, waited for it: it then read two paced pieces at once). A zero gap
/// waits nothing.
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
    yield_now().await;
    let left = until.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return;
    }
    if Box::pin(sleep_fine(left)).await.is_err() {
        // No timerfd here: spend the rest in turns of the runtime.
        while Instant::now() < until {
            yield_now().await;
        }
    }
}

/// Wait `d` (microsecond resolution; the runtime's own timer counts milliseconds) on a
/// `timerfd` armed once and awaited for readability through the runtime, like a socket. One
/// descriptor per wait: paced writes are few (the fuzzer's), and nothing is shared between
/// waits of different connections.
pub async fn sleep_fine(d: Duration) -> std::io::Result<()> {
    use std::os::fd::FromRawFd;
    // SAFETY: no pointers; the result is checked before it is owned.
    let fd = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns; only readiness is asked of the
    // wrapper (a timerfd is pollable), no socket call is made on it.
    let owned = unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) };
    // A zero it_value would disarm the timer: at least a nanosecond.
    let d = d.max(Duration::from_nanos(1));
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
        },
    };
    // SAFETY: `fd` is open (owned above); `spec` is a valid itimerspec the kernel only reads.
    if unsafe { libc::timerfd_settime(fd, 0, &spec, std::ptr::null_mut()) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let timer = monoio::net::UnixStream::from_std(owned)?;
    timer.readable(false).await
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
