//! Drives a sans-IO [`Connection`] over a [`Stream`]: one task per connection, full duplex.
//!
//! The stream is split into owned halves; a read and a write can be in flight at once, each
//! held in a pinned slot that is refilled when it completes (no allocation per operation).
//! Writes take one path ([`super::output`]); reading pauses while the peer leaves too much
//! queued ([`super::flow`]). Timers (close handshake, linger, flow stall, the handler's own)
//! and shutdown are selected alongside. A read is only ever cancelled when the connection is
//! being torn down.

use std::io;
use std::pin::pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::{Fuse, FusedFuture, FutureExt, OptionFuture};
use monoio::buf::{IoBuf, SliceMut};
use monoio::io::{
    AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, CancelHandle, CancelableAsyncReadRent,
    Canceller, OwnedReadHalf, OwnedWriteHalf, Splitable,
};
use monoio::net::TcpStream;

use crate::net::Stream;
use crate::proto::connection::{CloseStatus, Counters};
use crate::proto::{CloseCode, Connection, Event, TransportAction};
use crate::runtime::Shutdown;

use super::flow::{Flow, FlowLimits};
use super::notify::LocalNotify;
use super::output::{Job, Next, Output};
use super::pace;

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
    /// Whether the handler takes more input now. A handler that hands messages on to a
    /// consumer with a bounded queue answers `false` while that queue is full: the driver
    /// then stops reading from the peer (as it does when the peer leaves too much output
    /// queued) until the handler's notifier fires and it answers `true` again.
    fn accepts_input(&self) -> bool {
        true
    }
    /// Everything queued for the peer has been written (called once each time the queue
    /// empties): a producer that waits for room can go on.
    fn on_drained(&mut self, _conn: &mut Connection, _now: Instant) {}
    /// Whether a server may set the connection aside while it is quiet ([`super::park`]):
    /// the handler keeps nothing in flight of its own between events, and its notifier (if
    /// any) may fire while it is set aside; the lot then calls [`Handler::on_notify`] and
    /// writes what [`Handler::poll_shared`] gives.
    fn parkable(&self) -> bool {
        false
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
    /// Gap between the starts of writes that must reach the wire on their own (chopped or
    /// synced writes), so the peer sees the octets trickle in as separate segments: the
    /// runtime's timer from 1 ms, a microsecond timer awaited through the runtime below (see
    /// [`pace::pause_since`]); never a sleep of the thread. Meant for the fuzzer, which sets it.
    pub sync_pause: Duration,
    /// What may be queued for a peer that does not read.
    pub flow: FlowLimits,
}

impl Default for DriveOptions {
    fn default() -> Self {
        DriveOptions {
            read_buf: 64 * 1024,
            shutdown: None,
            notify: None,
            sync_pause: Duration::ZERO,
            flow: FlowLimits::default(),
        }
    }
}

/// First read buffer size of a connection (see `drive`).
const INITIAL_READ_BUF: usize = 2048;

/// Loop turns a connection takes without giving the other tasks of its thread a turn: a
/// peer that keeps the connection busy (every read and write completing at once) cannot
/// starve them, nor the runtime's I/O, nor a shutdown.
const TURNS_PER_YIELD: u32 = 32;
/// How long a paced write waits for TCP to send the one before it (see `write_op`).
const SENT_WAIT: Duration = Duration::from_millis(20);

/// How driving ended.
#[derive(Debug)]
pub struct DriveOutcome {
    pub status: CloseStatus,
    pub counters: Counters,
    /// A transport error, if the connection ended with one.
    pub io_error: Option<io::Error>,
    /// Closed with 1008 because the peer held the output queue above the high-water mark
    /// for longer than the stall timeout.
    pub stalled: bool,
}

/// One read into `buf`'s spare capacity, at most `max` octets (its length grows by what was
/// read).
async fn read_op(
    mut rd: OwnedReadHalf<Stream>,
    buf: Vec<u8>,
    max: usize,
    cancel: Option<CancelHandle>,
) -> (OwnedReadHalf<Stream>, Vec<u8>, io::Result<usize>) {
    let start = buf.len();
    let end = (start + max).min(buf.capacity());
    let slice = SliceMut::new(buf, start, end);
    let (res, slice) = match cancel {
        Some(c) => rd.cancelable_read(slice, c).await,
        None => rd.read(slice).await,
    };
    (rd, slice.into_inner(), res)
}

/// Start the next read: straight into the message being assembled when a large frame's
/// payload is arriving ([`Connection::payload_read_target`]; `direct` is set and the read
/// buffer stays in `rbuf`), else into the read buffer (taken from `rbuf`).
fn start_read(
    rd: OwnedReadHalf<Stream>,
    rbuf: &mut Vec<u8>,
    conn: &mut Connection,
    direct: &mut bool,
    cancel: Option<&Canceller>,
) -> impl std::future::Future<Output = (OwnedReadHalf<Stream>, Vec<u8>, io::Result<usize>)> {
    let (buf, max) = match conn.payload_read_target() {
        Some(target) => {
            *direct = true;
            target
        }
        None => {
            *direct = false;
            let buf = std::mem::take(rbuf);
            let cap = buf.capacity();
            (buf, cap)
        }
    };
    read_op(rd, buf, max, cancel.map(Canceller::handle))
}

/// What one write did: the octets written and the job's buffer (written from `off`).
pub(crate) struct Written {
    pub n: usize,
    pub off: usize,
    pub own: Option<Vec<u8>>,
    pub shared: Option<Bytes>,
}

/// Carry out one write: a single write operation (so that what was written is known as it
/// goes), except a synced run, which is written whole and then paced.
async fn write_op(
    mut wr: OwnedWriteHalf<Stream>,
    job: Job,
    pause: Duration,
) -> (OwnedWriteHalf<Stream>, Written, io::Result<()>) {
    let started = Instant::now();
    let mut w = Written {
        n: 0,
        off: 0,
        own: None,
        shared: None,
    };
    let res = match job {
        // Two arms, not one with an `if`: the merged form made every connection's task 56
        // octets larger (drive_state_stays_small).
        Job::Own {
            buf,
            off,
            sync: true,
            fd,
        } => {
            w.off = off;
            let (res, slice) = wr.write_all(buf.slice(off..)).await;
            // Paced from the start of the write: writes are spaced `pause` apart, each in a
            // segment of its own (see `pace::paced`).
            pace::paced(started, pause, fd, SENT_WAIT).await;
            w.own = Some(slice.into_inner());
            res.map(|n| w.n = n)
        }
        Job::Own {
            buf,
            off,
            sync: false,
            ..
        } => {
            w.off = off;
            let (res, slice) = wr.write(buf.slice(off..)).await;
            w.own = Some(slice.into_inner());
            res.map(|n| w.n = n)
        }
        Job::Shared(frame) => {
            let (res, frame) = wr.write(frame).await;
            w.shared = Some(frame);
            res.map(|n| w.n = n)
        }
        Job::Shutdown => wr.shutdown().await,
    };
    // A write that takes nothing on a socket that is open does not happen; treat it as gone.
    let res = match res {
        Ok(()) if w.n == 0 && (w.own.is_some() || w.shared.is_some()) => {
            Err(io::ErrorKind::WriteZero.into())
        }
        r => r,
    };
    (wr, w, res)
}

/// The handler's deadline, unless it was already served at a time past it and nothing has
/// happened since (a handler that leaves a past deadline in place would otherwise be called
/// in a loop).
fn live_deadline(d: Option<Instant>, served_at: Option<Instant>) -> Option<Instant> {
    match (d, served_at) {
        (Some(d), Some(s)) if d <= s => None,
        (d, _) => d,
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Run `conn` over `stream` until the connection is closed. `initial` holds octets that came
/// with the handshake and belong to the WebSocket stream.
///
/// One read and one write can be in flight at once. Writes go through [`Output`], the one
/// write path; reading stops while more than the high-water mark is queued for the peer
/// ([`FlowLimits`]). Each turn of the loop either makes progress or awaits.
pub async fn drive<H: Handler>(
    stream: Stream,
    conn: &mut Connection,
    initial: Vec<u8>,
    handler: &mut H,
    opts: &DriveOptions,
) -> DriveOutcome {
    match drive_until(stream, conn, initial, handler, opts, None, None).await {
        Driven::Closed(out) => out,
        // Only a caller that gives a `park` delay gets a connection back unclosed.
        Driven::AtRest(_) => unreachable!("set aside without a park delay"),
    }
}

/// How [`drive_until`] ended.
pub(crate) enum Driven {
    Closed(DriveOutcome),
    /// Quiet for the park delay: the socket, for the caller to set aside with the
    /// connection and the handler ([`super::park`]).
    AtRest(TcpStream),
}

/// A connection taken up again after it was set aside.
pub(crate) struct Rejoin {
    /// What is left of a shared frame, written before anything else.
    pub rest: Option<Bytes>,
}

/// Whether the connection and its handler can be set aside now (the driver's own state is
/// checked beside this).
pub(crate) fn quiet<H: Handler>(
    conn: &Connection,
    handler: &H,
    handler_deadline: Option<Instant>,
) -> bool {
    conn.is_quiet() && handler.parkable() && handler.accepts_input() && handler_deadline.is_none()
}

/// [`drive`], which may also end with the connection set aside: with `park`, a plain
/// connection that has been quiet that long (nothing read, written or woken, see [`quiet`])
/// calls its read off and comes back as [`Driven::AtRest`]. `rejoin`: the connection was set
/// aside before ([`Handler::on_open`] is not called again).
pub(crate) async fn drive_until<H: Handler>(
    stream: Stream,
    conn: &mut Connection,
    mut initial: Vec<u8>,
    handler: &mut H,
    opts: &DriveOptions,
    park: Option<Duration>,
    rejoin: Option<Rejoin>,
) -> Driven {
    // Plain TCP: whatever the socket takes at once goes out with a non-blocking send().
    let eager_fd = match &stream {
        Stream::Plain(t) => Some(std::os::fd::AsRawFd::as_raw_fd(t)),
        _ => None,
    };
    let (rd, wr) = stream.into_split();
    let mut wr = Some(wr);
    let mut out = Output::default();
    let mut flow = Flow::Reading;
    let mut io_error: Option<io::Error> = None;
    let mut read_eof = false;
    let mut shutdown_seen = opts.shutdown.is_none();
    // When the handler's deadline was last served (see `live_deadline`).
    let mut served_at: Option<Instant> = None;

    let now = Instant::now();
    match rejoin {
        None => handler.on_open(conn, now),
        Some(Rejoin { rest: Some(f) }) => out.push_shared(f),
        Some(Rejoin { rest: None }) => {}
    }
    if !initial.is_empty() {
        handler.on_rx_octets(&initial);
        conn.handle_input_all(&mut initial, now, |c, ev| handler.on_event(c, ev, now));
    }

    // The read buffer starts small and doubles (up to `read_buf`) whenever a read fills it:
    // an idle connection holds 2 KiB, not `read_buf`, while its read is pending.
    let mut read_cap = opts.read_buf.min(INITIAL_READ_BUF);
    // The read buffer, while no read into it is in flight; `direct`: the read in flight goes
    // straight into a message.
    let mut rbuf = Vec::with_capacity(read_cap);
    let mut direct = false;
    // Set when the connection may be set aside: its reads can be called off.
    let park = park.filter(|_| eager_fd.is_some());
    let mut canceller = park.map(|_| Canceller::new());
    // When the peer last sent anything or the handler's timer last fired (see `park`: what
    // the connection writes does not count, a set-aside connection writes shared frames
    // too), and whether the read is being called off.
    let mut last_active = now;
    let mut calling_off = false;
    let mut set_aside: Option<OwnedReadHalf<Stream>> = None;
    let mut reading = pin!(start_read(rd, &mut rbuf, conn, &mut direct, canceller.as_ref()).fuse());
    // The read half while reading is paused.
    let mut parked: Option<OwnedReadHalf<Stream>> = None;
    let mut writing = pin!(Fuse::terminated());
    let never_notify = LocalNotify::default();
    let own_notify = opts.notify.clone().or_else(|| handler.notifier());
    let notify = own_notify.as_deref().unwrap_or(&never_notify);
    let shutdown = opts.shutdown.clone().unwrap_or_default();
    // One wait for the whole connection (registered once, not once per event).
    let mut shutdown_wait = pin!(shutdown.wait().fuse());
    // The connection's one timer (close handshake, linger, flow stall, the handler's
    // deadline): made the first time a deadline is set and moved after that. Boxed, so a
    // connection that never needs one does not carry its 640 octets.
    let mut timer: Option<std::pin::Pin<Box<monoio::time::Sleep>>> = None;
    let mut turns = 0u32;
    // Something was queued for the peer at the last turn (see `Handler::on_drained`).
    let mut was_queued = false;

    loop {
        turns += 1;
        if turns.is_multiple_of(TURNS_PER_YIELD) {
            pace::yield_now().await;
        }
        let now = Instant::now();
        while let Some(ev) = conn.poll_event() {
            handler.on_event(conn, ev, now);
        }
        if conn.transport_action() == TransportAction::Close {
            break;
        }
        if writing.is_terminated() {
            if let Some(w) = wr.take() {
                let room = out.queued(conn) < opts.flow.high_water;
                match out.next(conn, handler, eager_fd, room) {
                    Next::Idle => wr = Some(w),
                    Next::Write(job) => {
                        writing.set(write_op(w, job, opts.sync_pause).fuse());
                    }
                    Next::Failed(e) => {
                        io_error.get_or_insert(e);
                        // The peer is gone: nothing more can be written.
                        conn.handle_eof();
                        wr = Some(w);
                        continue;
                    }
                }
            }
        }
        let queued = out.queued(conn);
        if queued == 0 && was_queued {
            handler.on_drained(conn, now);
            was_queued = false;
            continue;
        }
        was_queued = queued > 0;
        flow.update(queued, &opts.flow, now);
        if flow.reading() && handler.accepts_input() {
            if let Some(rd) = parked.take() {
                reading
                    .set(start_read(rd, &mut rbuf, conn, &mut direct, canceller.as_ref()).fuse());
            }
        }
        if read_eof && out.write_shut() && writing.is_terminated() {
            break;
        }
        let handler_deadline = live_deadline(handler.deadline(), served_at);
        let park_at = park
            .filter(|_| {
                !calling_off
                    && !reading.is_terminated()
                    && !direct
                    && writing.is_terminated()
                    && queued == 0
                    && !shutdown.is_triggered()
                    && quiet(conn, handler, handler_deadline)
            })
            .map(|d| last_active + d);
        let deadline = earliest(
            earliest(conn.poll_timeout(), handler_deadline),
            earliest(flow.stall_at(&opts.flow), park_at),
        );
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
                served_at = None;
                last_active = now;
                let called_off = std::mem::take(&mut calling_off);
                match res {
                    Err(e) if called_off && e.raw_os_error() == Some(libc::ECANCELED) => {
                        rbuf = buf;
                        let still = writing.is_terminated()
                            && out.queued(conn) == 0
                            && !shutdown.is_triggered()
                            && quiet(conn, handler, live_deadline(handler.deadline(), served_at));
                        if still && wr.is_some() {
                            set_aside = Some(rd);
                            break;
                        }
                        // Something happened meanwhile: read on.
                        parked = Some(rd);
                    }
                    Ok(0) => {
                        read_eof = true;
                        conn.handle_eof();
                    }
                    Ok(n) if direct => {
                        // Straight into the message: `buf` is the message buffer.
                        let start = buf.len() - n;
                        handler.on_rx_octets(&buf[start..]);
                        conn.handle_payload_read(buf, start, now);
                        parked = Some(rd);
                    }
                    Ok(n) => {
                        handler.on_rx_octets(&buf[..n]);
                        conn.handle_input_all(&mut buf[..n], now, |c, ev| handler.on_event(c, ev, now));
                        buf.clear();
                        if n >= read_cap && read_cap < opts.read_buf {
                            read_cap = (read_cap * 2).min(opts.read_buf);
                            buf = Vec::with_capacity(read_cap);
                        }
                        rbuf = buf;
                        parked = Some(rd);
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
                served_at = None;
                out.done(buf, conn);
                if let Err(e) = res {
                    io_error.get_or_insert(e);
                    conn.handle_eof();
                }
            }
            // `timer` is set whenever `deadline` is, so the arm never sees `None`.
            _ = OptionFuture::from(timer.as_mut()), if deadline.is_some() => {
                let now = Instant::now();
                conn.handle_timeout(now);
                if flow.check_stall(&opts.flow, now) {
                    log::debug!("peer kept {} octets queued for {:?}: closing", out.queued(conn), opts.flow.stall_timeout);
                    conn.fail_with(CloseCode::POLICY_VIOLATION, "output backed up: peer does not read", false, now);
                }
                // The deadline slept for, not a fresh one: a handler may compute it from now.
                if handler_deadline.is_some_and(|d| d <= now) {
                    handler.on_deadline(conn, now);
                    served_at = Some(now);
                    last_active = now;
                }
                if park_at.is_some_and(|t| t <= now) {
                    // Quiet long enough: call the read off (it may still bring octets).
                    if let Some(c) = canceller.take() {
                        canceller = Some(c.cancel());
                        calling_off = true;
                    }
                }
            }
            _ = &mut shutdown_wait, if !shutdown_seen && !shutdown_wait.is_terminated() => {
                shutdown_seen = true;
                served_at = None;
                last_active = Instant::now();
                conn.close(Some(CloseCode::GOING_AWAY), "shutting down", Instant::now());
            }
            _ = notify.notified(), if own_notify.is_some() => {
                served_at = None;
                handler.on_notify(conn, Instant::now());
            }
        }
    }
    if let (Some(rd), Some(w)) = (set_aside, wr.take()) {
        match rd.reunite(w) {
            Ok(Stream::Plain(tcp)) => return Driven::AtRest(tcp),
            // Cannot happen (the halves are this plain stream's); the socket is closed.
            _ => {
                log::error!("a connection to set aside could not be put back together");
                conn.handle_eof();
            }
        }
    }
    // Deliver whatever the last step produced.
    let now = Instant::now();
    while let Some(ev) = conn.poll_event() {
        handler.on_event(conn, ev, now);
    }
    handler.on_closed(conn.close_status(), conn.counters());
    Driven::Closed(DriveOutcome {
        status: conn.close_status().clone(),
        counters: *conn.counters(),
        io_error,
        stalled: flow == Flow::Stalled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an idle connection's task carries while driven: no timer inline (monoio's is
    /// 640 octets and cache-padded, which also forces an over-aligned allocation), no TLS
    /// operation state on plain connections. (1536 until reads could go straight into a
    /// message: the ranged read buffer travels through four layers of read futures, +80;
    /// 1664 until reads could be called off to set a quiet connection aside, +496: a quiet
    /// server connection no longer has a task at all.)
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
            assert!(size <= 2176, "drive's state is {size} octets");
            assert!(align <= 16, "drive's state is aligned to {align}");
        });
    }
}
