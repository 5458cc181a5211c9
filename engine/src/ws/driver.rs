//! Drives a sans-IO [`Connection`] over a [`Stream`]: one task per connection, full duplex.
//!
//! The stream is split into owned halves; a read and a write can be in flight at once, each
//! held in a pinned slot that is refilled when it completes (no allocation per operation).
//! Timers (close handshake, linger, the handler's own) and shutdown are selected alongside.
//! A read is only ever cancelled when the connection is being torn down.

use std::collections::VecDeque;
use std::io;
use std::pin::pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use futures_util::future::{Fuse, FusedFuture, FutureExt, OptionFuture};
use monoio::io::{
    AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, OwnedReadHalf, OwnedWriteHalf, Splitable,
};

use crate::net::Stream;
use crate::proto::connection::{CloseStatus, Counters};
use crate::proto::{CloseCode, Connection, Event, TransportAction};
use crate::runtime::Shutdown;

use super::notify::LocalNotify;

/// The application side of a connection: sans-IO too. It reacts to events by queueing output
/// on the connection; it may ask to be woken at a deadline or by a [`LocalNotify`].
pub trait Handler {
    /// The connection is open (called once, before any event).
    fn on_open(&mut self, _conn: &mut Connection, _now: Instant) {}
    fn on_event(&mut self, conn: &mut Connection, event: Event, now: Instant);
    /// When to call [`Handler::on_deadline`] next.
    fn deadline(&self) -> Option<Instant> {
        None
    }
    fn on_deadline(&mut self, _conn: &mut Connection, _now: Instant) {}
    /// The notifier in [`DriveOptions::notify`] fired.
    fn on_notify(&mut self, _conn: &mut Connection, _now: Instant) {}
    /// Octets read from the transport, before decoding (wire logs).
    fn on_rx_octets(&mut self, _data: &[u8]) {}
    /// Octets about to be written (`sync`: written on their own).
    fn on_tx_octets(&mut self, _data: &[u8], _sync: bool) {}
    /// The connection is over.
    fn on_closed(&mut self, _status: &CloseStatus, _counters: &Counters) {}
    /// A complete frame encoded once elsewhere and shared between connections (a broadcast):
    /// written as it is, not copied, after the connection's own output. Asked only while the
    /// connection is open and nothing else is being written.
    fn poll_shared(&mut self) -> Option<Bytes> {
        None
    }
    /// This connection's wake-up, when [`DriveOptions::notify`] does not give one (a server's
    /// handler is made before its connection is driven).
    fn notifier(&self) -> Option<Rc<LocalNotify>> {
        None
    }
}

/// A handler that ignores everything (the connection still answers pings and closes).
impl Handler for () {
    fn on_event(&mut self, _conn: &mut Connection, _event: Event, _now: Instant) {}
}

#[derive(Clone)]
pub struct DriveOptions {
    /// Read buffer size.
    pub read_buf: usize,
    /// On shutdown, close with 1001 (going away).
    pub shutdown: Option<Shutdown>,
    /// Wakes the handler's [`Handler::on_notify`].
    pub notify: Option<Rc<LocalNotify>>,
    /// Pause after each write that must reach the wire on its own (chopped or synced
    /// writes), so the peer sees the octets trickle in as separate segments. The runtime's
    /// timer counts milliseconds, so a pause under 1 ms is a short blocking sleep of this
    /// thread: meant for the fuzzer, where the original paces such writes by one turn of its
    /// event loop.
    pub sync_pause: Duration,
}

impl Default for DriveOptions {
    fn default() -> Self {
        DriveOptions {
            read_buf: 64 * 1024,
            shutdown: None,
            notify: None,
            sync_pause: Duration::ZERO,
        }
    }
}

/// Writes up to this size try a direct `send` first; larger ones go to the ring (a partial
/// direct send would leave a large remainder to move).
const EAGER_MAX: usize = 64 * 1024;

/// One non-blocking `send` of `buf` on a plain TCP socket.
fn eager_send(fd: std::os::fd::RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `fd` is the connection's open socket (its halves are alive for the whole
    // drive); `buf` is valid for `buf.len()` octets.
    let n = unsafe {
        libc::send(
            fd,
            buf.as_ptr() as *const libc::c_void,
            buf.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Shared frames sent in one vectored `sendmsg` at most.
const SHARED_BATCH: usize = 64;

/// Move the handler's shared frames into `q` (up to a batch); whether any are queued.
fn fill_shared<H: Handler>(handler: &mut H, q: &mut VecDeque<Bytes>) -> bool {
    let mut queued: usize = q.iter().map(Bytes::len).sum();
    while q.len() < SHARED_BATCH && queued < EAGER_MAX {
        let Some(f) = handler.poll_shared() else {
            break;
        };
        handler.on_tx_octets(&f, false);
        queued += f.len();
        q.push_back(f);
    }
    !q.is_empty()
}

/// One non-blocking vectored send of the first frames of `q` on a plain TCP socket.
fn eager_send_frames(fd: std::os::fd::RawFd, q: &VecDeque<Bytes>) -> io::Result<usize> {
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; SHARED_BATCH];
    let mut n = 0;
    for (slot, f) in iov.iter_mut().zip(q.iter()) {
        slot.iov_base = f.as_ptr() as *mut libc::c_void;
        slot.iov_len = f.len();
        n += 1;
    }
    // SAFETY: a zeroed msghdr is valid; it points at `n` iovecs describing live `Bytes`
    // (borrowed from `q` for the whole call); `fd` is the connection's open socket.
    let sent = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = n as _;
        libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
    };
    if sent < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(sent as usize)
    }
}

/// First read buffer size of a connection (see `drive`).
const INITIAL_READ_BUF: usize = 2048;

/// How driving ended.
#[derive(Debug)]
pub struct DriveOutcome {
    pub status: CloseStatus,
    pub counters: Counters,
    /// A transport error, if the connection ended with one.
    pub io_error: Option<io::Error>,
}

/// Sleep this thread for a sub-millisecond `d`, accurately: the default timer slack (50 us)
/// would otherwise stretch every pause.
fn precise_sleep(d: Duration) {
    thread_local!(static SLACK_SET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    SLACK_SET.with(|s| {
        if !s.get() {
            // SAFETY: PR_SET_TIMERSLACK only changes this thread's timer slack.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1usize, 0usize, 0usize, 0usize) };
            s.set(true);
        }
    });
    std::thread::sleep(d);
}

async fn read_op(
    mut rd: OwnedReadHalf<Stream>,
    buf: Vec<u8>,
) -> (OwnedReadHalf<Stream>, Vec<u8>, io::Result<usize>) {
    let (res, buf) = rd.read(buf).await;
    (rd, buf, res)
}

async fn write_op(
    mut wr: OwnedWriteHalf<Stream>,
    buf: Vec<u8>,
    shared: Option<Bytes>,
    shutdown: bool,
    pause: Duration,
) -> (OwnedWriteHalf<Stream>, Vec<u8>, io::Result<()>) {
    let mut buf = buf;
    let mut res = Ok(());
    let started = Instant::now();
    if let Some(frame) = shared {
        res = wr.write_all(frame).await.0.map(|_| ());
    } else if !buf.is_empty() {
        let (r, b) = wr.write_all(buf).await;
        buf = b;
        res = r.map(|_| ());
    }
    // The pause runs from the start of the write: writes are spaced `pause` apart.
    let rest = pause.saturating_sub(started.elapsed());
    if !rest.is_zero() {
        if rest >= Duration::from_millis(1) {
            // Boxed: a timer is 640 octets (cache-padded), and this one is only the
            // fuzzer's; every connection's write state would otherwise carry it.
            let f = Box::pin(monoio::time::sleep(rest));
            f.await;
        } else {
            precise_sleep(rest);
        }
    }
    if res.is_ok() && shutdown {
        res = wr.shutdown().await;
    }
    (wr, buf, res)
}

/// Run `conn` over `stream` until the connection is closed. `initial` holds octets that came
/// with the handshake and belong to the WebSocket stream.
pub async fn drive<H: Handler>(
    stream: Stream,
    conn: &mut Connection,
    mut initial: Vec<u8>,
    handler: &mut H,
    opts: &DriveOptions,
) -> DriveOutcome {
    // Plain TCP: small writes go out with one non-blocking send() when the socket takes them
    // all (the usual case), which saves a ring round trip per message; the rest, partial
    // writes and TLS go through the runtime as before.
    let eager_fd = match &stream {
        Stream::Plain(t) => Some(std::os::fd::AsRawFd::as_raw_fd(t)),
        _ => None,
    };
    let (rd, wr) = stream.into_split();
    let mut wr = Some(wr);
    let mut wbuf: Vec<u8> = Vec::new();
    // Shared frames taken from the handler and not yet written.
    let mut shared: VecDeque<Bytes> = VecDeque::new();
    let mut io_error: Option<io::Error> = None;
    let mut write_shut = false;
    let mut read_eof = false;
    let mut shutdown_seen = opts.shutdown.is_none();

    let now = Instant::now();
    handler.on_open(conn, now);
    if !initial.is_empty() {
        handler.on_rx_octets(&initial);
        conn.handle_input_all(&mut initial, now, |c, ev| handler.on_event(c, ev, now));
    }

    // The read buffer starts small and doubles (up to `read_buf`) whenever a read fills it:
    // an idle connection holds 2 KiB, not `read_buf`, while its read is pending.
    let mut read_cap = opts.read_buf.min(INITIAL_READ_BUF);
    let mut reading = pin!(read_op(rd, Vec::with_capacity(read_cap)).fuse());
    let mut writing = pin!(Fuse::terminated());
    let never_notify = LocalNotify::default();
    let own_notify = opts.notify.clone().or_else(|| handler.notifier());
    let notify = own_notify.as_deref().unwrap_or(&never_notify);
    let shutdown = opts.shutdown.clone().unwrap_or_default();
    // One wait for the whole connection (registered once, not once per event).
    let mut shutdown_wait = pin!(shutdown.wait().fuse());
    // The connection's one timer (close handshake, linger, the handler's deadline): made the
    // first time a deadline is set and moved after that, never made per wait. Boxed, so a
    // connection that never needs one does not carry its 640 octets.
    let mut timer: Option<std::pin::Pin<Box<monoio::time::Sleep>>> = None;

    loop {
        let now = Instant::now();
        while let Some(ev) = conn.poll_event() {
            handler.on_event(conn, ev, now);
        }
        if conn.transport_action() == TransportAction::Close {
            break;
        }
        // Start a write when none is in flight.
        if writing.is_terminated() {
            if let Some(w) = wr.take() {
                if conn.has_transmit() {
                    wbuf.clear();
                    let sync = conn.take_transmit(&mut wbuf);
                    handler.on_tx_octets(&wbuf, sync);
                    let shut = !conn.has_transmit()
                        && conn.transport_action() == TransportAction::ShutdownWrite
                        && !write_shut;
                    if let Some(fd) = eager_fd.filter(|_| !shut && !sync && wbuf.len() <= EAGER_MAX)
                    {
                        match eager_send(fd, &wbuf) {
                            Ok(n) if n == wbuf.len() => {
                                wr = Some(w);
                                continue;
                            }
                            Ok(n) => {
                                wbuf.drain(..n);
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            Err(e) => {
                                io_error.get_or_insert(e);
                                conn.handle_eof();
                                wr = Some(w);
                                continue;
                            }
                        }
                    }
                    write_shut |= shut;
                    let pause = if sync {
                        opts.sync_pause
                    } else {
                        Duration::ZERO
                    };
                    writing.set(write_op(w, std::mem::take(&mut wbuf), None, shut, pause).fuse());
                } else if conn.is_open() && fill_shared(handler, &mut shared) {
                    // Shared frames: as many as are queued go out in one vectored send, the
                    // bytes as they are; a remainder goes through the ring one frame at a
                    // time (a frame partly sent is finished before anything else).
                    if let Some(fd) = eager_fd {
                        match eager_send_frames(fd, &shared) {
                            Ok(mut n) => {
                                while let Some(f) = shared.front_mut() {
                                    if n < f.len() {
                                        f.advance(n);
                                        break;
                                    }
                                    n -= f.len();
                                    shared.pop_front();
                                }
                                if shared.is_empty() {
                                    wr = Some(w);
                                    continue;
                                }
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            Err(e) => {
                                io_error.get_or_insert(e);
                                conn.handle_eof();
                                wr = Some(w);
                                continue;
                            }
                        }
                    }
                    let frame = shared.pop_front();
                    writing.set(write_op(w, Vec::new(), frame, false, Duration::ZERO).fuse());
                } else if conn.transport_action() == TransportAction::ShutdownWrite && !write_shut {
                    write_shut = true;
                    writing.set(write_op(w, Vec::new(), None, true, Duration::ZERO).fuse());
                } else {
                    wr = Some(w);
                }
            }
        }
        if read_eof && write_shut && writing.is_terminated() {
            break;
        }
        let handler_deadline = handler.deadline();
        let deadline = match (conn.poll_timeout(), handler_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(d) = deadline {
            let at = monoio::time::Instant::from_std(d);
            match &mut timer {
                Some(t) if t.deadline() == at => {}
                Some(t) => t.as_mut().reset(at),
                None => timer = Some(Box::pin(monoio::time::sleep_until(at))),
            }
        }
        monoio::select! {
            r = &mut reading, if !reading.is_terminated() => {
                let (rd, mut buf, res) = r;
                let now = Instant::now();
                match res {
                    Ok(0) => {
                        read_eof = true;
                        conn.handle_eof();
                    }
                    Ok(n) => {
                        handler.on_rx_octets(&buf[..n]);
                        conn.handle_input_all(&mut buf[..n], now, |c, ev| handler.on_event(c, ev, now));
                        buf.clear();
                        if n >= read_cap && read_cap < opts.read_buf {
                            read_cap = (read_cap * 2).min(opts.read_buf);
                            buf = Vec::with_capacity(read_cap);
                        }
                        reading.set(read_op(rd, buf).fuse());
                    }
                    Err(e) => {
                        read_eof = true;
                        io_error.get_or_insert(e);
                        conn.handle_eof();
                    }
                }
            }
            r = &mut writing, if !writing.is_terminated() => {
                let (w, buf, res) = r;
                wr = Some(w);
                // A shared frame's write hands back an empty buffer; keep ours then.
                if buf.capacity() > 0 {
                    wbuf = buf;
                }
                if let Err(e) = res {
                    io_error.get_or_insert(e);
                    // The peer is gone: nothing more can be written.
                    conn.handle_eof();
                }
            }
            // `timer` is set whenever `deadline` is, so the arm never sees `None`.
            _ = OptionFuture::from(timer.as_mut()), if deadline.is_some() => {
                let now = Instant::now();
                conn.handle_timeout(now);
                // The deadline slept for, not a fresh one: a handler may compute it from now.
                if handler_deadline.is_some_and(|d| d <= now) {
                    handler.on_deadline(conn, now);
                }
            }
            _ = &mut shutdown_wait, if !shutdown_seen && !shutdown_wait.is_terminated() => {
                shutdown_seen = true;
                conn.close(Some(CloseCode::GOING_AWAY), "shutting down", Instant::now());
            }
            _ = notify.notified(), if own_notify.is_some() => {
                handler.on_notify(conn, Instant::now());
            }
        }
    }
    // Deliver whatever the last step produced.
    let now = Instant::now();
    while let Some(ev) = conn.poll_event() {
        handler.on_event(conn, ev, now);
    }
    handler.on_closed(conn.close_status(), conn.counters());
    DriveOutcome {
        status: conn.close_status().clone(),
        counters: *conn.counters(),
        io_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an idle connection's task carries while driven: no timer inline (monoio's is
    /// 640 octets and cache-padded, which also forces an over-aligned allocation), no TLS
    /// operation state on plain connections.
    #[test]
    fn drive_state_stays_small() {
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(async {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let t = monoio::net::TcpStream::connect_addr(l.local_addr().unwrap())
                .await
                .unwrap();
            let mut conn = Connection::new(crate::proto::Config::new(crate::proto::Role::Server));
            let (opts, mut handler) = (DriveOptions::default(), ());
            let f = drive(Stream::Plain(t), &mut conn, Vec::new(), &mut handler, &opts);
            let (size, align) = (std::mem::size_of_val(&f), std::mem::align_of_val(&f));
            assert!(size <= 1536, "drive's state is {size} octets");
            assert!(align <= 16, "drive's state is aligned to {align}");
        });
    }
}
