//! A server thread's idle connections, set aside: no task, no future, no read buffer; only
//! the socket, the protocol state put to sleep ([`Dormant`]: settings, rules, counters) and
//! the handler, in one slab entry ([`Slots`]), and the socket's registration in the
//! thread's own epoll instance.
//!
//! The driver sets a plain connection aside when it has been quiet for a while
//! ([`Connection::is_quiet`], nothing queued either way, no timer of the handler's, a handler
//! that allows it: [`super::Handler::parkable`]): it calls its pending read off and hands
//! socket, state and handler to the lot. The lot's one task waits for that epoll instance to
//! turn readable through the runtime (the epoll descriptor is polled like a socket: a
//! `PollAdd` under io_uring, a nested registration under the epoll driver) and for the
//! handlers' notifiers, which forward to the lot while their connection is here.
//!
//! What wakes a connection: octets on its socket (the lot reads up to [`PEEK`] of them, lets
//! the connection and its handler act, and writes the answer, a pong or a short echo, with
//! one non-blocking send; anything more, a close, a partial frame, an answer the socket does
//! not take whole, and the connection goes back to a task), end of stream or an error (back
//! to a task, which finds it out), its handler's notifier (a broadcast: the frames are written
//! from here with one non-blocking send each; a frame that does not go out whole sends the
//! connection back to a task with the rest to write), and shutdown (every connection goes
//! back to a task, which closes it with 1001).

use std::cell::{Cell, RefCell};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::{FusedFuture, FutureExt};

use crate::net::nonblocking;
use crate::proto::connection::Dormant;
use crate::proto::Connection;
use crate::runtime::Shutdown;

use super::driver::Handler;
use super::notify::LocalNotify;

/// A connection set aside.
pub struct Parked<H> {
    pub fd: OwnedFd,
    pub conn: Dormant,
    pub handler: H,
}

/// A connection leaving the lot, awake again, for a task to drive.
pub struct Woken<H> {
    pub fd: OwnedFd,
    pub conn: Box<Connection>,
    pub handler: H,
    /// What is left of an answer or a shared frame the lot began to write: written first.
    pub rest: Option<Bytes>,
}

/// Entries per chunk of [`Slots`].
const CHUNK: usize = 64;

/// A slab in fixed chunks: entries never move, the storage grows a chunk at a time and
/// holds the connections densely. Hand-written on purpose: the `slab` crate keeps one `Vec`,
/// which doubles, copying every entry (a million of a couple of hundred octets each) and
/// leaving up to half of it unused.
struct Slots<T> {
    chunks: Vec<Box<[Option<T>]>>,
    free: Vec<u32>,
}

impl<T> Slots<T> {
    fn new() -> Self {
        Slots {
            chunks: Vec::new(),
            free: Vec::new(),
        }
    }

    fn insert(&mut self, t: T) -> u32 {
        if self.free.is_empty() {
            let base = (self.chunks.len() * CHUNK) as u32;
            self.chunks.push((0..CHUNK).map(|_| None).collect());
            self.free.extend((base..base + CHUNK as u32).rev());
        }
        let idx = self.free.pop().expect("a chunk was just added");
        self.chunks[idx as usize / CHUNK][idx as usize % CHUNK] = Some(t);
        idx
    }

    fn get_mut(&mut self, idx: u32) -> Option<&mut T> {
        self.chunks
            .get_mut(idx as usize / CHUNK)?
            .get_mut(idx as usize % CHUNK)?
            .as_mut()
    }

    fn take(&mut self, idx: u32) -> Option<T> {
        let t = self.lift(idx)?;
        self.free.push(idx);
        Some(t)
    }

    /// Take the entry at `idx` out, keeping its place for [`Slots::put_back`].
    fn lift(&mut self, idx: u32) -> Option<T> {
        self.chunks
            .get_mut(idx as usize / CHUNK)?
            .get_mut(idx as usize % CHUNK)?
            .take()
    }

    /// Put a lifted entry back in its place.
    fn put_back(&mut self, idx: u32, t: T) {
        self.chunks[idx as usize / CHUNK][idx as usize % CHUNK] = Some(t);
    }

    /// Entry positions, held or free.
    fn capacity(&self) -> usize {
        self.chunks.len() * CHUNK
    }
}

/// Where notifiers of set-aside connections forward to: the slots whose notifier fired.
#[derive(Default)]
pub struct Wakes {
    pub(crate) ready: RefCell<Vec<u32>>,
    notify: LocalNotify,
}

impl Wakes {
    pub(crate) fn wake(&self, idx: u32) {
        self.ready.borrow_mut().push(idx);
        self.notify.notify();
    }
}

/// Send what the socket takes of `buf` now: the octets sent (0 when full or failed: the task
/// that takes over writes them, or finds out how the connection ended).
fn send_some(fd: RawFd, buf: &[u8]) -> usize {
    nonblocking::send(fd, buf).unwrap_or(0)
}

/// Octets the lot reads for a set-aside connection that turned readable (on its stack): a
/// ping, a pong or a short message is answered from here, without a task.
pub const PEEK: usize = 1024;

/// Connections set aside since the last trim before another is worth it (a trim walks the
/// thread's heap).
const TRIM_MIN_PARKS: u32 = 256;

/// How often the lot gives the memory of the tasks it replaced back to the system, at most.
/// After the last connection was set aside it does so [`TRIMS_AFTER`] more times, this far
/// apart: an allocator may give pages freed by one trim back only at a later one, once they
/// have been free for a while (mimalloc's `purge_delay`, 1 s in this binary).
const TRIM_EVERY: Duration = Duration::from_millis(1500);
const TRIMS_AFTER: u8 = 2;

/// One thread's set-aside connections (one lot per server and worker thread).
pub struct Lot<H> {
    /// The epoll instance, wrapped so the runtime can wait for it to turn readable.
    poller: monoio::net::UnixStream,
    entries: RefCell<Slots<Parked<H>>>,
    wakes: Rc<Wakes>,
    /// Shutting down: nothing more is taken.
    closed: Cell<bool>,
    last_trim: Cell<Option<Instant>>,
    /// Trims still to do since connections were last set aside.
    trims_left: Cell<u8>,
    /// Connections set aside since the last trim.
    parks_since_trim: Cell<u32>,
}

impl<H: Handler> Lot<H> {
    pub fn new() -> std::io::Result<Lot<H>> {
        // SAFETY: no pointers; the result is checked before it is owned.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor that nothing else owns. Only `readable` is ever
        // asked of the wrapper (an epoll descriptor is pollable like a socket); no socket
        // call is made on it.
        let std = unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) };
        Ok(Lot {
            poller: monoio::net::UnixStream::from_std(std)?,
            entries: RefCell::new(Slots::new()),
            wakes: Rc::new(Wakes::default()),
            closed: Cell::new(false),
            last_trim: Cell::new(None),
            trims_left: Cell::new(0),
            parks_since_trim: Cell::new(0),
        })
    }

    fn epoll(&self) -> RawFd {
        self.poller.as_raw_fd()
    }

    /// Take `p`; it comes back when the lot is shutting down or epoll refused its socket.
    // The entry moves back only when refused (rare); boxing it would allocate per park.
    #[allow(clippy::result_large_err)]
    pub fn park(&self, p: Parked<H>) -> Result<(), Parked<H>> {
        if self.closed.get() {
            return Err(p);
        }
        let fd = p.fd.as_raw_fd();
        let idx = self.entries.borrow_mut().insert(p);
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLRDHUP) as u32,
            u64: u64::from(idx),
        };
        // SAFETY: both descriptors are open (`fd` is owned by the entry just made); `ev` is
        // a valid epoll_event that the kernel only reads.
        let r = unsafe { libc::epoll_ctl(self.epoll(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if r < 0 {
            let p = self.entries.borrow_mut().take(idx).expect("just inserted");
            return Err(p);
        }
        if let Some(n) = self
            .entries
            .borrow_mut()
            .get_mut(idx)
            .and_then(|p| p.handler.notifier())
        {
            n.forward(Some((self.wakes.clone(), idx)));
        }
        self.trim_now_and_then();
        Ok(())
    }

    /// The tasks that set connections aside ended; give their memory back now and then.
    fn trim_now_and_then(&self) {
        let parks = self.parks_since_trim.get() + 1;
        self.parks_since_trim.set(parks);
        if parks < TRIM_MIN_PARKS {
            return;
        }
        let now = Instant::now();
        self.trims_left.set(TRIMS_AFTER);
        if self
            .last_trim
            .get()
            .is_none_or(|t| now.duration_since(t) >= TRIM_EVERY)
        {
            self.trim(now);
        }
    }

    fn trim(&self, now: Instant) {
        self.last_trim.set(Some(now));
        self.parks_since_trim.set(0);
        self.trims_left.set(self.trims_left.get().saturating_sub(1));
        crate::runtime::limits::trim_memory();
    }

    /// Take a connection out, awake.
    fn take(&self, idx: u32) -> Option<Woken<H>> {
        let p = self.entries.borrow_mut().lift(idx)?;
        Some(self.hand_back(idx, p.fd, Connection::from_dormant(p.conn), p.handler, None))
    }

    /// A connection taken out: its socket leaves the epoll instance, its notifier wakes a
    /// task again.
    fn release(&self, fd: &OwnedFd, handler: &H) {
        // SAFETY: both descriptors are open; EPOLL_CTL_DEL ignores the event pointer.
        unsafe {
            libc::epoll_ctl(
                self.epoll(),
                libc::EPOLL_CTL_DEL,
                fd.as_raw_fd(),
                std::ptr::null_mut(),
            )
        };
        if let Some(n) = handler.notifier() {
            n.forward(None);
        }
    }

    /// Every socket that turned readable, answered from here or handed back.
    fn take_ready(&self, out: &mut Vec<Woken<H>>) {
        const BATCH: usize = 256;
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
        loop {
            // SAFETY: `evs` has room for BATCH events; a zero timeout never blocks.
            let n = unsafe {
                libc::epoll_wait(self.epoll(), evs.as_mut_ptr(), BATCH as libc::c_int, 0)
            };
            if n <= 0 {
                return;
            }
            for ev in &evs[..n as usize] {
                if let Some(back) = self.readable(ev.u64 as u32) {
                    out.push(back);
                }
            }
            if (n as usize) < BATCH {
                return;
            }
        }
    }

    /// A set-aside connection's socket turned readable: read what is there (up to [`PEEK`]),
    /// let the connection and its handler act, and write the answer while the socket takes it
    /// whole. The connection, when it has to go back to a task.
    fn readable(&self, idx: u32) -> Option<Woken<H>> {
        let Parked {
            fd,
            conn,
            mut handler,
        } = self.entries.borrow_mut().lift(idx)?;
        let mut buf = [0u8; PEEK];
        let n = match nonblocking::recv(fd.as_raw_fd(), &mut buf) {
            Ok(n) if n > 0 => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let p = Parked { fd, conn, handler };
                self.entries.borrow_mut().put_back(idx, p);
                return None;
            }
            // End of stream, or an error: the task's read finds it out.
            _ => {
                return Some(self.hand_back(idx, fd, Connection::from_dormant(conn), handler, None))
            }
        };
        let now = Instant::now();
        let mut conn = Connection::from_dormant(conn);
        handler.on_rx_octets(&buf[..n]);
        conn.handle_input_all(&mut buf[..n], now, |c, ev| handler.on_event(c, ev, now));
        while let Some(ev) = conn.poll_event() {
            handler.on_event(&mut conn, ev, now);
        }
        let mut rest = None;
        // Open: its answer is all there is to write (a closing connection's task writes
        // its close frame, and shuts down).
        if conn.is_open() && conn.has_transmit() {
            let mut out = Vec::new();
            while conn.has_transmit() {
                conn.take_transmit(&mut out);
            }
            handler.on_tx_octets(&out, false);
            let sent = send_some(fd.as_raw_fd(), &out);
            if sent < out.len() {
                rest = Some(Bytes::from(out).slice(sent..));
            }
        }
        // A full read may have left more in the socket: a task reads on.
        self.settle(idx, fd, conn, handler, rest, n < PEEK)
    }

    /// A set-aside connection's notifier fired: let its handler act, and write the shared
    /// frames it has from here while the socket takes them whole. The connection, when it
    /// has to go back to a task.
    fn notified(&self, idx: u32) -> Option<Woken<H>> {
        let Parked {
            fd,
            conn,
            mut handler,
        } = self.entries.borrow_mut().lift(idx)?;
        let mut conn = Connection::from_dormant(conn);
        handler.on_notify(&mut conn, Instant::now());
        let mut rest = None;
        if conn.is_quiet() {
            while let Some(frame) = handler.poll_shared() {
                handler.on_tx_octets(&frame, false);
                let sent = send_some(fd.as_raw_fd(), &frame);
                if sent < frame.len() {
                    rest = Some(frame.slice(sent..));
                    break;
                }
            }
        }
        self.settle(idx, fd, conn, handler, rest, true)
    }

    /// After the lot acted for a lifted connection: back to sleep in its place when it may
    /// (`may_sleep`, nothing left to write, quiet: [`super::driver::quiet`]), else to a task.
    fn settle(
        &self,
        idx: u32,
        fd: OwnedFd,
        conn: Connection,
        handler: H,
        rest: Option<Bytes>,
        may_sleep: bool,
    ) -> Option<Woken<H>> {
        if !(may_sleep
            && rest.is_none()
            && super::driver::quiet(&conn, &handler, handler.deadline()))
        {
            return Some(self.hand_back(idx, fd, conn, handler, rest));
        }
        match conn.into_dormant() {
            Ok(conn) => {
                self.entries
                    .borrow_mut()
                    .put_back(idx, Parked { fd, conn, handler });
                None
            }
            Err(c) => Some(self.hand_back(idx, fd, *c, handler, None)),
        }
    }

    /// A lifted entry goes back to a task: its place is free, its socket and notifier are
    /// the lot's no more.
    fn hand_back(
        &self,
        idx: u32,
        fd: OwnedFd,
        conn: Connection,
        handler: H,
        rest: Option<Bytes>,
    ) -> Woken<H> {
        self.entries.borrow_mut().free.push(idx);
        self.release(&fd, &handler);
        Woken {
            fd,
            conn: Box::new(conn),
            handler,
            rest,
        }
    }

    /// The lot's task: hands connections back through `resume` (which gives each a task)
    /// until shutdown, then hands back every one left.
    pub async fn run(self: Rc<Self>, shutdown: Shutdown, resume: impl Fn(Woken<H>)) {
        let mut readable = pin!(self.poller.readable(false).fuse());
        let mut stopping = pin!(shutdown.wait().fuse());
        let mut out = Vec::new();
        // The trim after the last connection was set aside (see `trim_now_and_then`).
        let mut trim_timer = pin!(monoio::time::sleep(TRIM_EVERY));
        loop {
            let trim_due = self.trims_left.get() > 0;
            if trim_due {
                if let Some(t) = self.last_trim.get() {
                    let at = monoio::time::Instant::from_std(t + TRIM_EVERY);
                    if trim_timer.deadline() != at {
                        trim_timer.as_mut().reset(at);
                    }
                }
            }
            monoio::select! {
                _ = &mut trim_timer, if trim_due => self.trim(Instant::now()),
                r = &mut readable => {
                    if let Err(e) = r {
                        // Every connection goes back to a task, and none is set aside again.
                        log::warn!("idle connections' epoll instance failed: {e}");
                        break;
                    }
                    self.take_ready(&mut out);
                    out.drain(..).for_each(&resume);
                    readable.set(self.poller.readable(false).fuse());
                }
                _ = self.wakes.notify.notified() => {
                    let ready = std::mem::take(&mut *self.wakes.ready.borrow_mut());
                    for idx in ready {
                        if let Some(p) = self.notified(idx) {
                            resume(p);
                        }
                    }
                }
                _ = &mut stopping, if !stopping.is_terminated() => break,
            }
        }
        self.closed.set(true);
        let n = self.entries.borrow().capacity();
        for idx in 0..n as u32 {
            if let Some(p) = self.take(idx) {
                resume(p);
            }
        }
    }
}

#[cfg(test)]
mod tests;
