//! One thread's idle plain connections, held as bare sockets: no task, no future, no
//! protocol state per connection, only a 16-byte entry (socket, slot, attempts so far) and
//! the socket's registration in the thread's own epoll instance.
//!
//! The holder's one task sweeps that epoll instance with a zero timeout every [`SWEEP`]
//! (simpler than awaiting the epoll descriptor through the runtime, and cheap: a sweep costs
//! one system call however many connections are held). A socket that turned readable (data,
//! end of stream, reset) leaves the holder and goes back to a slot task, which reads it with
//! the protocol core; idle connections wait at most one sweep before an answer. Pings are
//! written here: one masked ping frame, with a fresh mask, per held socket per
//! `ping_interval` (non-blocking; a socket whose ping does not go out whole goes back to a
//! slot task with the rest to write).

use std::cell::{Cell, RefCell};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use wstest_engine::net::nonblocking;

/// How often the holder looks at its sockets.
pub const SWEEP: Duration = Duration::from_millis(50);

/// A held connection: its socket, its slot, and the slot's attempts so far (for
/// `max_retries` when it is lost and opened again).
pub struct Entry {
    pub fd: OwnedFd,
    pub slot: u64,
    pub attempts: u32,
}

pub struct Holder {
    epoll: OwnedFd,
    entries: RefCell<Vec<Option<Entry>>>,
    free: RefCell<Vec<u32>>,
    held: Cell<usize>,
}

impl Holder {
    pub fn new() -> std::io::Result<Holder> {
        // SAFETY: no pointers; the result is checked before it is owned.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Holder {
            // SAFETY: `fd` is a new descriptor that nothing else owns.
            epoll: unsafe { OwnedFd::from_raw_fd(fd) },
            entries: RefCell::new(Vec::new()),
            free: RefCell::new(Vec::new()),
            held: Cell::new(0),
        })
    }

    /// Connections held now.
    pub fn held(&self) -> usize {
        self.held.get()
    }

    /// Hold `e`; on failure (epoll refused it) it comes back.
    pub fn insert(&self, e: Entry) -> Result<(), Entry> {
        let mut entries = self.entries.borrow_mut();
        let idx = match self.free.borrow_mut().pop() {
            Some(i) => i as usize,
            None => {
                entries.push(None);
                entries.len() - 1
            }
        };
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLRDHUP) as u32,
            u64: idx as u64,
        };
        // SAFETY: both descriptors are open (owned by `self` and `e`); `ev` is a valid
        // epoll_event that the kernel only reads.
        let r = unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                e.fd.as_raw_fd(),
                &mut ev,
            )
        };
        if r < 0 {
            self.free.borrow_mut().push(idx as u32);
            return Err(e);
        }
        entries[idx] = Some(e);
        self.held.set(self.held.get() + 1);
        Ok(())
    }

    fn remove(&self, idx: usize) -> Option<Entry> {
        let e = self.entries.borrow_mut().get_mut(idx)?.take()?;
        self.deregister(e.fd.as_raw_fd());
        self.free.borrow_mut().push(idx as u32);
        self.held.set(self.held.get() - 1);
        Some(e)
    }

    fn deregister(&self, fd: RawFd) {
        // SAFETY: both descriptors are open; EPOLL_CTL_DEL ignores the event pointer.
        unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        };
    }

    /// Take out every held socket that turned readable (or hung up, or failed).
    pub fn take_ready(&self, out: &mut Vec<Entry>) {
        const BATCH: usize = 256;
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
        loop {
            // SAFETY: `evs` has room for BATCH events; a zero timeout never blocks.
            let n = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    evs.as_mut_ptr(),
                    BATCH as libc::c_int,
                    0,
                )
            };
            if n <= 0 {
                return;
            }
            for ev in &evs[..n as usize] {
                let idx = ev.u64 as usize;
                if let Some(e) = self.remove(idx) {
                    out.push(e);
                }
            }
            if (n as usize) < BATCH {
                return;
            }
        }
    }

    /// Take out every held socket.
    pub fn take_all(&self, out: &mut Vec<Entry>) {
        let n = self.entries.borrow().len();
        for i in 0..n {
            if let Some(e) = self.remove(i) {
                out.push(e);
            }
        }
        self.entries.borrow_mut().clear();
        self.free.borrow_mut().clear();
    }

    /// Entry positions, held or free: what [`Holder::send_range`] ranges over.
    pub fn capacity(&self) -> usize {
        self.entries.borrow().len()
    }

    /// Write `frame()` to the held sockets at positions `range` (clamped; non-blocking); the
    /// sockets it did not go out to whole are taken out, with the octets still to write.
    pub fn send_range(
        &self,
        range: std::ops::Range<usize>,
        mut frame: impl FnMut() -> Vec<u8>,
        out: &mut Vec<(Entry, Vec<u8>)>,
    ) {
        let n = self.entries.borrow().len();
        for i in range.start.min(n)..range.end.min(n) {
            let fd = match &self.entries.borrow()[i] {
                Some(e) => e.fd.as_raw_fd(),
                None => continue,
            };
            let f = frame();
            // `fd` is open: the entry owns it.
            let sent = nonblocking::send(fd, &f).unwrap_or(0);
            if sent < f.len() {
                // Full, or failed: the slot task writes the rest, or finds out how it ended.
                if let Some(e) = self.remove(i) {
                    out.push((e, f[sent..].to_vec()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn pair() -> (std::net::TcpStream, std::net::TcpStream) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (c, s)
    }

    #[test]
    fn readable_and_hung_up_sockets_come_out_idle_ones_stay() {
        let h = Holder::new().unwrap();
        let mut servers = Vec::new();
        for slot in 0..3 {
            let (c, s) = pair();
            h.insert(Entry {
                fd: c.into(),
                slot,
                attempts: 1,
            })
            .map_err(|_| ())
            .unwrap();
            servers.push(s);
        }
        let mut out = Vec::new();
        h.take_ready(&mut out);
        assert!(out.is_empty());
        servers[1].write_all(b"x").unwrap();
        drop(servers.remove(2));
        // Swept until both are seen (a test that hangs here would fail on the deadline).
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while out.len() < 2 && std::time::Instant::now() < until {
            h.take_ready(&mut out);
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut slots: Vec<u64> = out.iter().map(|e| e.slot).collect();
        slots.sort();
        assert_eq!(slots, [1, 2]);
        assert_eq!(h.held(), 1);
        // The freed entries are reused.
        let (c, _s) = pair();
        let e = Entry {
            fd: c.into(),
            slot: 9,
            attempts: 1,
        };
        assert!(h.insert(e).is_ok());
        assert_eq!(h.entries.borrow().len(), 3);
        let mut all = Vec::new();
        h.take_all(&mut all);
        assert_eq!(all.len(), 2);
        assert_eq!(h.held(), 0);
    }

    #[test]
    fn frames_sent_to_each_held_socket_arrive() {
        let h = Holder::new().unwrap();
        let (c, mut s) = pair();
        h.insert(Entry {
            fd: c.into(),
            slot: 0,
            attempts: 1,
        })
        .map_err(|_| ())
        .unwrap();
        let mut left = Vec::new();
        h.send_range(0..h.capacity(), || vec![0x89, 0x80, 1, 2, 3, 4], &mut left);
        assert!(left.is_empty());
        let mut got = [0u8; 6];
        s.read_exact(&mut got).unwrap();
        assert_eq!(got, [0x89, 0x80, 1, 2, 3, 4]);
    }
}
