//! A connection's one write path: the octets its protocol core queued (taken a run at a time,
//! no copy) and complete frames shared between connections (broadcasts, written as they are).
//! On plain TCP whatever the socket takes goes out with one non-blocking `send`/`sendmsg`
//! (no ring round trip in the usual case); the rest becomes one [`Job`] for the runtime. Errors
//! and the write side's shutdown are decided here, once.

use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;

use bytes::{Buf, Bytes};

use crate::net::nonblocking;
use crate::proto::{Connection, TransportAction};

use super::driver::{Handler, Written};

/// Shared frames sent in one vectored `sendmsg` at most.
const SHARED_BATCH: usize = 64;
/// Shared frames taken from the handler at once, in octets.
const SHARED_TAKE: usize = 64 * 1024;

/// A write for the runtime to carry out.
pub(crate) enum Job {
    /// The connection's own octets, from `off`; `sync`: flushed on its own and paced
    /// (`fd`: the plain TCP socket whose send queue the pacing watches, or -1; a bare fd,
    /// not an `Option`, so that it fits in the variant's padding).
    Own {
        buf: Vec<u8>,
        off: usize,
        sync: bool,
        fd: RawFd,
    },
    /// A shared frame (or what is left of one).
    Shared(Bytes),
    /// Shut the write side down (everything before it was written).
    Shutdown,
}

/// What to do next about writing.
pub(crate) enum Next {
    /// Nothing to write now.
    Idle,
    /// Start this write.
    Write(Job),
    /// The transport failed: nothing more can be written.
    Failed(io::Error),
}

/// The state of a connection's writes. A run written whole goes back to the connection's
/// pool ([`Connection::recycle`]): the same pages carry the next large frame or message.
#[derive(Default)]
pub(crate) struct Output {
    /// The run taken from the connection, written up to `off`.
    own: Vec<u8>,
    off: usize,
    sync: bool,
    /// Shared frames taken from the handler and not yet written (the front one may have
    /// been advanced past what was sent).
    shared: VecDeque<Bytes>,
    shared_len: usize,
    /// Octets in the write the runtime is carrying out.
    in_flight: usize,
    write_shut: bool,
}

impl Output {
    /// Octets queued for the peer, the protocol core's included.
    pub fn queued(&self, conn: &Connection) -> usize {
        conn.transmit_len() + (self.own.len() - self.off) + self.shared_len + self.in_flight
    }

    /// Queue what is left of a shared frame, first (a connection taken up again).
    pub fn push_shared(&mut self, f: Bytes) {
        self.shared_len += f.len();
        self.shared.push_front(f);
    }

    pub fn write_shut(&self) -> bool {
        self.write_shut
    }

    /// Decide the next write: send what the socket takes at once (`eager_fd`, plain TCP),
    /// hand the rest to the runtime. `room`: shared frames may be taken.
    pub fn next<H: Handler>(
        &mut self,
        conn: &mut Connection,
        handler: &mut H,
        eager_fd: Option<RawFd>,
        room: bool,
    ) -> Next {
        loop {
            if self.off == self.own.len() && conn.has_transmit() {
                self.take_run(conn, handler);
            }
            if self.off < self.own.len() {
                if let (Some(fd), false) = (eager_fd, self.sync) {
                    match nonblocking::send(fd, &self.own[self.off..]) {
                        Ok(n) => {
                            self.off += n;
                            if self.off == self.own.len() {
                                conn.recycle(std::mem::take(&mut self.own));
                                self.off = 0;
                                continue;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Next::Failed(e),
                    }
                }
                // The buffer comes back with what was written (`done`).
                let (buf, off) = (std::mem::take(&mut self.own), self.off);
                self.in_flight = buf.len() - off;
                self.off = 0;
                return Next::Write(Job::Own {
                    buf,
                    off,
                    sync: self.sync,
                    fd: eager_fd.unwrap_or(-1),
                });
            }
            if conn.is_open() && room && self.fill_shared(handler) {
                if let Some(fd) = eager_fd {
                    match send_frames(fd, &self.shared) {
                        Ok(n) => {
                            self.advance_shared(n);
                            if self.shared.is_empty() {
                                continue;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Next::Failed(e),
                    }
                }
                let f = self.shared.pop_front().expect("shared frames are queued");
                self.shared_len -= f.len();
                self.in_flight = f.len();
                return Next::Write(Job::Shared(f));
            }
            if conn.transport_action() == TransportAction::ShutdownWrite && !self.write_shut {
                self.write_shut = true;
                return Next::Write(Job::Shutdown);
            }
            return Next::Idle;
        }
    }

    /// The runtime carried out a write: `w.n` octets of the job went out; the rest of an own
    /// run or of a shared frame is written next.
    pub fn done(&mut self, w: Written, conn: &mut Connection) {
        self.in_flight = 0;
        if let Some(b) = w.own {
            let off = w.off + w.n;
            if off >= b.len() {
                conn.recycle(b);
                (self.own, self.off) = (Vec::new(), 0);
            } else {
                (self.own, self.off) = (b, off);
            }
        }
        if let Some(mut f) = w.shared {
            f.advance(w.n.min(f.len()));
            if !f.is_empty() {
                self.shared_len += f.len();
                self.shared.push_front(f);
            }
        }
    }

    fn take_run<H: Handler>(&mut self, conn: &mut Connection, handler: &mut H) {
        // Written whole: the buffer goes back to the connection's pool as the run swaps in.
        self.own.clear();
        self.off = 0;
        self.sync = conn.take_transmit(&mut self.own);
        handler.on_tx_octets(&self.own, self.sync);
    }

    /// Take the handler's shared frames (a batch at most); whether any are queued.
    fn fill_shared<H: Handler>(&mut self, handler: &mut H) -> bool {
        while self.shared.len() < SHARED_BATCH && self.shared_len < SHARED_TAKE {
            let Some(f) = handler.poll_shared() else {
                break;
            };
            handler.on_tx_octets(&f, false);
            self.shared_len += f.len();
            self.shared.push_back(f);
        }
        !self.shared.is_empty()
    }

    fn advance_shared(&mut self, mut n: usize) {
        self.shared_len -= n;
        while let Some(f) = self.shared.front_mut() {
            if n < f.len() {
                f.advance(n);
                return;
            }
            n -= f.len();
            self.shared.pop_front();
        }
    }
}

/// One non-blocking vectored send of the first frames of `q` on a plain TCP socket.
fn send_frames(fd: RawFd, q: &VecDeque<Bytes>) -> io::Result<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Config, Role};

    fn own_job(next: Next) -> (Vec<u8>, usize) {
        match next {
            Next::Write(Job::Own { buf, off, .. }) => (buf, off),
            _ => panic!("expected a write of the connection's own octets"),
        }
    }

    /// Partial writes: each job starts where the last one stopped, the queue counts exactly
    /// what is left, and every octet goes out once, in order.
    #[test]
    fn partial_writes_resume_where_they_stopped() {
        let mut conn = Connection::new(Config::new(Role::Server));
        let payload: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        conn.send_binary(&payload);
        let total = conn.transmit_len();
        let mut out = Output::default();
        let mut wire = Vec::new();
        let mut step = 1;
        loop {
            let (buf, off) = match out.next(&mut conn, &mut (), None, true) {
                Next::Idle => break,
                n => own_job(n),
            };
            assert_eq!(out.queued(&conn), buf.len() - off);
            let n = step.min(buf.len() - off);
            wire.extend_from_slice(&buf[off..off + n]);
            out.done(
                Written {
                    n,
                    off,
                    own: Some(buf),
                    shared: None,
                },
                &mut conn,
            );
            assert_eq!(out.queued(&conn), total - wire.len());
            step *= 3;
        }
        assert_eq!(wire.len(), total);
        // The frame as written: a 2+2 octet header, then the payload.
        assert_eq!(&wire[4..], &payload[..]);
    }
}
