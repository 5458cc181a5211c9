//! The broadcast hub: every worker thread keeps its own clients; a message is encoded once as
//! a server frame and the same bytes (`Bytes`, reference counted) go to every thread's
//! mailbox, then into each local client's bounded queue. The driver writes them as they are
//! (`Handler::poll_shared`), so a message is never copied per client.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::Serialize;
use wstest_engine::proto::frame::encode_frame;
use wstest_engine::proto::OpCode;
use wstest_engine::runtime::{mailbox, Mailbox, MailboxSender};
use wstest_engine::ws::LocalNotify;

/// Counters of a broadcast server, summed over threads.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct HubStats {
    /// Messages received from clients (and ticks), each sent to every client.
    pub published: u64,
    pub ticks: u64,
    /// Frames handed to clients' sockets.
    pub delivered: u64,
    /// Receivers closed with 1008 because their queue was full.
    pub dropped_slow: u64,
    /// Clients connected at the end.
    pub clients: u64,
}

/// One thread's mailbox as every publisher sees it: the sender and the octets waiting in it.
/// A thread whose backlog passes [`Hub::thread_limit`] gets no more frames: it is told to
/// drop its clients (1008, counted as too slow) instead, so every client either gets every
/// message or is closed, and a busy thread's mailbox cannot grow without limit.
pub struct Link {
    tx: MailboxSender<Bytes>,
    backlog: AtomicUsize,
    overloaded: AtomicBool,
}

impl Link {
    fn send(&self, frame: &Bytes, limit: usize) {
        if self.overloaded.load(Ordering::Relaxed) {
            return;
        }
        if self.backlog.fetch_add(frame.len(), Ordering::Relaxed) + frame.len() > limit {
            self.backlog.fetch_sub(frame.len(), Ordering::Relaxed);
            self.overloaded.store(true, Ordering::Relaxed);
            // An empty frame wakes the thread to find out.
            let _ = self.tx.send(Bytes::new());
            return;
        }
        let _ = self.tx.send(frame.clone());
    }
}

/// Shared by all threads of one server.
pub struct Hub {
    id: usize,
    senders: Mutex<Vec<Arc<Link>>>,
    version: AtomicUsize,
    /// Per-client queue limit, in octets.
    pub queue_limit: usize,
    /// Per-thread mailbox limit, in octets (see [`Link`]).
    pub thread_limit: usize,
    published: AtomicU64,
    ticks: AtomicU64,
    delivered: AtomicU64,
    dropped_slow: AtomicU64,
    clients: AtomicU64,
}

static NEXT_HUB: AtomicUsize = AtomicUsize::new(1);

impl Hub {
    /// A hub whose clients may each have `queue_limit` octets queued; a thread's mailbox
    /// may hold 16 times that (at least 16 MiB).
    pub fn new(queue_limit: usize) -> Arc<Hub> {
        let q = queue_limit.max(1);
        Hub::with_limits(q, q.saturating_mul(16).max(16 << 20))
    }

    pub fn with_limits(queue_limit: usize, thread_limit: usize) -> Arc<Hub> {
        Arc::new(Hub {
            id: NEXT_HUB.fetch_add(1, Ordering::Relaxed),
            senders: Mutex::new(Vec::new()),
            version: AtomicUsize::new(0),
            queue_limit: queue_limit.max(1),
            thread_limit: thread_limit.max(1),
            published: AtomicU64::new(0),
            ticks: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            dropped_slow: AtomicU64::new(0),
            clients: AtomicU64::new(0),
        })
    }

    pub fn stats(&self) -> HubStats {
        HubStats {
            published: self.published.load(Ordering::Relaxed),
            ticks: self.ticks.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            dropped_slow: self.dropped_slow.load(Ordering::Relaxed),
            clients: self.clients.load(Ordering::Relaxed),
        }
    }

    /// Encode one message as an unmasked server frame.
    pub fn frame(binary: bool, payload: &[u8]) -> Bytes {
        let mut v = Vec::with_capacity(payload.len() + 10);
        let op = if binary { OpCode::BINARY } else { OpCode::TEXT };
        encode_frame(&mut v, true, 0, op, None, payload);
        Bytes::from(v)
    }

    /// Send a frame to every thread that has clients (from any thread; takes the lock, so
    /// for ticks and other rare senders; connections use their thread's cached list).
    pub fn publish_from_anywhere(&self, frame: Bytes, tick: bool) {
        if tick {
            self.ticks.fetch_add(1, Ordering::Relaxed);
        }
        self.published.fetch_add(1, Ordering::Relaxed);
        if let Ok(s) = self.senders.lock() {
            for l in s.iter() {
                l.send(&frame, self.thread_limit);
            }
        }
    }

    /// This thread's part of the hub, made (and its delivery task spawned) on first use.
    pub fn local(self: &Arc<Self>) -> Rc<ThreadHub> {
        thread_local!(static LOCAL: RefCell<HashMap<usize, Rc<ThreadHub>>> = RefCell::new(HashMap::new()));
        LOCAL.with(|l| {
            if let Some(t) = l.borrow().get(&self.id) {
                return t.clone();
            }
            let (tx, rx) = mailbox::<Bytes>();
            let link = Arc::new(Link {
                tx,
                backlog: AtomicUsize::new(0),
                overloaded: AtomicBool::new(false),
            });
            let t = Rc::new(ThreadHub {
                hub: self.clone(),
                clients: RefCell::new(Vec::new()),
                senders: RefCell::new((usize::MAX, Vec::new())),
            });
            if let Ok(mut s) = self.senders.lock() {
                s.push(link.clone());
                self.version.fetch_add(1, Ordering::Release);
            }
            monoio::spawn(deliver(rx, link, Rc::downgrade(&t)));
            l.borrow_mut().insert(self.id, t.clone());
            t
        })
    }
}

/// One client's queue of frames waiting to be written.
#[derive(Default)]
pub struct Slot {
    queue: RefCell<VecDeque<Bytes>>,
    queued: Cell<usize>,
    /// The queue overflowed: the client is to be closed with 1008.
    pub overflow: Cell<bool>,
    pub notify: Rc<LocalNotify>,
    pub delivered: Cell<u64>,
}

impl Slot {
    /// Queue a frame unless the client is too far behind. A frame is always taken into an
    /// empty queue, so one message larger than the limit still gets through.
    fn push(&self, frame: &Bytes, limit: usize) -> bool {
        if self.overflow.get() {
            return false;
        }
        let q = self.queued.get();
        if q > 0 && q + frame.len() > limit {
            self.overflow_now();
            return false;
        }
        self.queued.set(q + frame.len());
        self.queue.borrow_mut().push_back(frame.clone());
        true
    }

    /// Mark the client as too slow and free its queue (it is closed with 1008).
    fn overflow_now(&self) {
        self.overflow.set(true);
        self.queue.borrow_mut().clear();
        self.queued.set(0);
    }

    pub fn pop(&self) -> Option<Bytes> {
        let f = self.queue.borrow_mut().pop_front()?;
        self.queued.set(self.queued.get() - f.len());
        self.delivered.set(self.delivered.get() + 1);
        Some(f)
    }
}

/// A thread's clients and its copy of the hub's senders.
pub struct ThreadHub {
    pub hub: Arc<Hub>,
    clients: RefCell<Vec<Rc<Slot>>>,
    senders: RefCell<(usize, Vec<Arc<Link>>)>,
}

impl ThreadHub {
    pub fn join(&self) -> Rc<Slot> {
        let s = Rc::new(Slot::default());
        self.clients.borrow_mut().push(s.clone());
        self.hub.clients.fetch_add(1, Ordering::Relaxed);
        s
    }

    pub fn leave(&self, slot: &Rc<Slot>) {
        let mut c = self.clients.borrow_mut();
        if let Some(i) = c.iter().position(|s| Rc::ptr_eq(s, slot)) {
            c.swap_remove(i);
            self.hub.clients.fetch_sub(1, Ordering::Relaxed);
        }
        self.hub
            .delivered
            .fetch_add(slot.delivered.get(), Ordering::Relaxed);
        if slot.overflow.get() {
            self.hub.dropped_slow.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Send a frame to every thread (this one included), without locking unless the set of
    /// threads changed since the last message.
    pub fn publish(&self, frame: Bytes) {
        self.hub.published.fetch_add(1, Ordering::Relaxed);
        let v = self.hub.version.load(Ordering::Acquire);
        let mut s = self.senders.borrow_mut();
        if s.0 != v {
            if let Ok(all) = self.hub.senders.lock() {
                *s = (v, all.clone());
            }
        }
        for l in &s.1 {
            l.send(&frame, self.hub.thread_limit);
        }
    }
}

/// A thread's delivery task: frames from the mailbox into every local client's queue.
async fn deliver(rx: Mailbox<Bytes>, link: Arc<Link>, local: std::rc::Weak<ThreadHub>) {
    let mut batch = Vec::new();
    while rx.recv_batch(&mut batch).await {
        let Some(t) = local.upgrade() else { return };
        let octets: usize = batch.iter().map(Bytes::len).sum();
        link.backlog.fetch_sub(octets, Ordering::Relaxed);
        let limit = t.hub.queue_limit;
        let clients = t.clients.borrow();
        if link.overloaded.load(Ordering::Relaxed) {
            // Frames were not queued for this thread's clients: none of them can have
            // every message any more.
            for c in clients.iter() {
                c.overflow_now();
                c.notify.notify();
            }
            link.overloaded.store(false, Ordering::Relaxed);
            batch.clear();
            continue;
        }
        for c in clients.iter() {
            for f in batch.iter().filter(|f| !f.is_empty()) {
                c.push(f, limit);
            }
            c.notify.notify();
        }
        batch.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_marks_the_client_and_frees_its_frames() {
        let s = Slot::default();
        let f = Hub::frame(false, &[b'x'; 100]);
        assert!(s.push(&f, 250));
        assert!(s.push(&f, 250));
        assert!(!s.push(&f, 250), "third frame exceeds 250 octets");
        assert!(s.overflow.get());
        assert!(s.pop().is_none(), "queue is dropped on overflow");
    }

    #[test]
    fn one_large_frame_always_fits_an_empty_queue() {
        let s = Slot::default();
        let f = Hub::frame(true, &[0u8; 1000]);
        assert!(s.push(&f, 10));
        assert_eq!(s.pop().as_deref(), Some(&f[..]));
        assert_eq!(s.delivered.get(), 1);
    }

    #[test]
    fn an_overloaded_thread_drops_its_clients_instead_of_queueing() {
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(async {
            assert_eq!(Hub::new(1 << 10).thread_limit, 16 << 20);
            let hub = Hub::with_limits(64 << 20, 4 << 20);
            let local = hub.local();
            let (a, b) = (local.join(), local.join());
            // More than the thread's limit (not the clients') is published before its
            // delivery task runs.
            let f = Hub::frame(true, &vec![0u8; 1 << 20]);
            for _ in 0..5 {
                hub.publish_from_anywhere(f.clone(), false);
            }
            monoio::time::sleep(std::time::Duration::from_millis(20)).await;
            assert!(a.overflow.get() && b.overflow.get());
            assert!(a.pop().is_none() && b.pop().is_none());
            // The thread takes frames again for clients that join afterwards.
            let c = local.join();
            hub.publish_from_anywhere(Hub::frame(false, b"x"), false);
            monoio::time::sleep(std::time::Duration::from_millis(20)).await;
            assert!(!c.overflow.get());
            assert_eq!(c.pop().as_deref(), Some(&[0x81, 1, b'x'][..]));
        });
    }

    #[test]
    fn frames_are_shared_not_copied() {
        let s1 = Slot::default();
        let s2 = Slot::default();
        let f = Hub::frame(false, b"hello");
        s1.push(&f, 1 << 20);
        s2.push(&f, 1 << 20);
        let (a, b) = (s1.pop().unwrap(), s2.pop().unwrap());
        assert_eq!(a.as_ptr(), b.as_ptr());
        assert_eq!(&a[..], &[0x81, 5, b'h', b'e', b'l', b'l', b'o']);
    }
}
