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
    /// The run may go out in one write with the plain runs queued after it.
    plain: bool,
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
                    let rest = &self.own[self.off..];
                    let sent = if self.plain && conn.next_transmit_plain() {
                        // With the plain runs queued after it: one syscall for what a read's
                        // worth of messages queued (an echo's, a probe's window), not one each.
                        nonblocking::send_slices(
                            fd,
                            std::iter::once(rest).chain(conn.plain_transmit()),
                        )
                    } else {
                        nonblocking::send(fd, rest)
                    };
                    match sent {
                        Ok(n) => {
                            if self.consume(n, conn, handler) {
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
                    match nonblocking::send_slices(fd, self.shared.iter().map(|f| &f[..])) {
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

    /// `n` octets went out from `own[off..]` on, and on into the plain runs queued after it
    /// (one vectored send): those runs are taken in turn, as if written one by one. True when
    /// the run in hand went out whole.
    fn consume<H: Handler>(
        &mut self,
        mut n: usize,
        conn: &mut Connection,
        handler: &mut H,
    ) -> bool {
        loop {
            let k = n.min(self.own.len() - self.off);
            self.off += k;
            n -= k;
            if self.off < self.own.len() {
                return false;
            }
            conn.recycle(std::mem::take(&mut self.own));
            self.off = 0;
            if n == 0 {
                return true;
            }
            self.take_run(conn, handler);
        }
    }

    fn take_run<H: Handler>(&mut self, conn: &mut Connection, handler: &mut H) {
        // Written whole: the buffer goes back to the connection's pool as the run swaps in.
        self.own.clear();
        self.off = 0;
        self.plain = conn.next_transmit_plain();
        self.sync = conn.take_transmit(&mut self.own);
        handler.on_tx_octets(&self.own, self.sync);
    }

    /// Take the handler's shared frames (a batch at most); whether any are queued.
    fn fill_shared<H: Handler>(&mut self, handler: &mut H) -> bool {
        while self.shared.len() < nonblocking::MAX_SLICES && self.shared_len < SHARED_TAKE {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Config, Role};

    /// The runtime wrote `n` octets of an own job (`buf` from `off`).
    fn wrote(out: &mut Output, conn: &mut Connection, buf: Vec<u8>, off: usize, n: usize) {
        let own = Some(buf);
        out.done(
            Written {
                n,
                off,
                own,
                shared: None,
            },
            conn,
        );
    }

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
            wrote(&mut out, &mut conn, buf, off, n);
            assert_eq!(out.queued(&conn), total - wire.len());
            step *= 3;
        }
        assert_eq!(wire.len(), total);
        // The frame as written: a 2+2 octet header, then the payload.
        assert_eq!(&wire[4..], &payload[..]);
    }

    /// Counts the runs handed to the socket, as the fuzzer's wire log sees them.
    #[derive(Default)]
    struct Runs(Vec<usize>);

    impl Handler for Runs {
        fn on_event(&mut self, _: &mut Connection, _: crate::proto::Event, _: std::time::Instant) {}
        fn on_tx_octets(&mut self, data: &[u8], _sync: bool) {
            self.0.push(data.len());
        }
    }

    /// Several large messages queued at once (a run each) go out with vectored sends that
    /// cross run boundaries, through a socket that takes a little at a time: every octet
    /// arrives once and in order, and each run is still seen on its own.
    #[test]
    fn runs_sent_together_arrive_whole_and_in_order() {
        // A socket that takes them all at once, then one that takes a little at a time.
        send_runs_through(None);
        send_runs_through(Some(16 * 1024));
    }

    fn send_runs_through(sndbuf: Option<libc::c_int>) {
        use std::io::Read;
        use std::os::fd::FromRawFd;
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors socketpair writes.
        assert_eq!(
            unsafe {
                libc::socketpair(
                    libc::AF_UNIX,
                    libc::SOCK_STREAM | libc::SOCK_NONBLOCK,
                    0,
                    fds.as_mut_ptr(),
                )
            },
            0
        );
        // SAFETY: both descriptors are open; the option value is a valid int.
        unsafe {
            if let Some(size) = sndbuf {
                libc::setsockopt(
                    fds[0],
                    libc::SOL_SOCKET,
                    libc::SO_SNDBUF,
                    &size as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
            libc::fcntl(fds[1], libc::F_SETFL, 0);
        }
        // SAFETY: both descriptors are open and owned by nothing else.
        let (tx, mut rx) = unsafe {
            (
                std::os::unix::net::UnixStream::from_raw_fd(fds[0]),
                std::os::unix::net::UnixStream::from_raw_fd(fds[1]),
            )
        };
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            rx.read_to_end(&mut got).unwrap();
            got
        });
        let messages: Vec<Vec<u8>> = (0..5u8)
            .map(|m| (0..40_000u32).map(|i| (i as u8) ^ m).collect())
            .collect();
        let (mut conn, mut expected) = (
            Connection::new(Config::new(Role::Server)),
            Connection::new(Config::new(Role::Server)),
        );
        for m in &messages {
            conn.send_binary(m);
            expected.send_binary(m);
        }
        let mut wire = Vec::new();
        let mut runs = 0;
        while expected.has_transmit() {
            let mut run = Vec::new();
            expected.take_transmit(&mut run);
            wire.extend_from_slice(&run);
            runs += 1;
        }
        assert_eq!(runs, 5, "a large message is a run of its own");

        let (mut out, mut seen) = (Output::default(), Runs::default());
        let fd = std::os::fd::AsRawFd::as_raw_fd(&tx);
        loop {
            let (buf, off) = match out.next(&mut conn, &mut seen, Some(fd), true) {
                Next::Idle => break,
                n => own_job(n),
            };
            // The runtime's part, done here: wait until the socket takes some, report it.
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLOUT,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut pfd, 1, 10_000) };
            let n = nonblocking::send(fd, &buf[off..]).unwrap_or(0);
            wrote(&mut out, &mut conn, buf, off, n);
        }
        drop(tx);
        let got = reader.join().unwrap();
        assert_eq!(got.len(), wire.len());
        assert!(got == wire, "the octets arrived changed or out of order");
        assert_eq!(seen.0.len(), 5, "each run is handed over once");
        assert_eq!(seen.0.iter().sum::<usize>(), wire.len());
    }
}
