//! A mailbox for one worker thread: any thread sends, one task on the owning thread awaits.
//!
//! A crossbeam channel carries the items; an [`AtomicWaker`] wakes the receiving task (monoio's
//! `sync` feature lets a waker be woken from another thread). Items are taken in batches, so a
//! burst of sends costs the receiver one wake-up.

use std::future::poll_fn;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use futures_util::task::AtomicWaker;

struct Wake {
    waker: AtomicWaker,
    /// Senders alive: the last one to go wakes the receiver, which then sees the channel
    /// disconnected (without that wake a receiving task would wait for ever, and with it
    /// whatever it holds).
    senders: AtomicUsize,
}

/// The sending side; cheap to clone, usable from any thread.
pub struct MailboxSender<T> {
    /// Dropped by hand, before the last sender's wake-up (see [`Wake::senders`]).
    tx: ManuallyDrop<Sender<T>>,
    wake: Arc<Wake>,
}

impl<T> Clone for MailboxSender<T> {
    fn clone(&self) -> Self {
        self.wake.senders.fetch_add(1, Ordering::Relaxed);
        MailboxSender {
            tx: self.tx.clone(),
            wake: self.wake.clone(),
        }
    }
}

impl<T> Drop for MailboxSender<T> {
    fn drop(&mut self) {
        // SAFETY: `tx` is not used after this.
        unsafe { ManuallyDrop::drop(&mut self.tx) };
        if self.wake.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.wake.waker.wake();
        }
    }
}

impl<T> MailboxSender<T> {
    /// Queue `item` and wake the receiver. `Err(item)` when the mailbox is gone.
    pub fn send(&self, item: T) -> Result<(), T> {
        self.tx.send(item).map_err(|e| e.0)?;
        self.wake.waker.wake();
        Ok(())
    }

    /// Items queued and not yet taken.
    pub fn len(&self) -> usize {
        self.tx.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tx.is_empty()
    }
}

/// The receiving side, owned by one task.
pub struct Mailbox<T> {
    rx: Receiver<T>,
    wake: Arc<Wake>,
}

/// A new, unbounded mailbox.
pub fn mailbox<T>() -> (MailboxSender<T>, Mailbox<T>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let wake = Arc::new(Wake {
        waker: AtomicWaker::new(),
        senders: AtomicUsize::new(1),
    });
    (
        MailboxSender {
            tx: ManuallyDrop::new(tx),
            wake: wake.clone(),
        },
        Mailbox { rx, wake },
    )
}

impl<T> Mailbox<T> {
    /// The next item without waiting.
    pub fn try_recv(&self) -> Option<T> {
        self.rx.try_recv().ok()
    }

    /// Wait until at least one item is queued, then move every queued item into `out`.
    /// Returns `false` (with `out` untouched) once every sender is gone and nothing is left.
    pub async fn recv_batch(&self, out: &mut Vec<T>) -> bool {
        poll_fn(|cx| {
            // Register before looking, so a send between the look and the registration still
            // wakes us.
            self.wake.waker.register(cx.waker());
            let mut got = false;
            loop {
                match self.rx.try_recv() {
                    Ok(item) => {
                        out.push(item);
                        got = true;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        return Poll::Ready(got);
                    }
                }
            }
            if got {
                Poll::Ready(true)
            } else {
                Poll::Pending
            }
        })
        .await
    }

    /// Wait for one item; `None` once every sender is gone.
    pub async fn recv(&self) -> Option<T> {
        poll_fn(|cx| {
            self.wake.waker.register(cx.waker());
            match self.rx.try_recv() {
                Ok(item) => Poll::Ready(Some(item)),
                Err(TryRecvError::Empty) => Poll::Pending,
                Err(TryRecvError::Disconnected) => Poll::Ready(None),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{block_on, resolve_driver, DriverKind};

    #[test]
    fn wakes_a_task_from_other_threads() {
        let (tx, rx) = mailbox::<u32>();
        let senders: Vec<_> = (0..4)
            .map(|t| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        tx.send(t * 1000 + i).unwrap();
                        if i % 100 == 0 {
                            std::thread::sleep(std::time::Duration::from_millis(1));
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let got = block_on(resolve_driver(DriverKind::Auto), true, async move {
            let mut all = Vec::new();
            let mut batch = Vec::new();
            while rx.recv_batch(&mut batch).await {
                all.append(&mut batch);
            }
            all
        })
        .unwrap();
        for s in senders {
            s.join().unwrap();
        }
        let mut got = got;
        got.sort_unstable();
        assert_eq!(got, (0..4000).collect::<Vec<_>>());
    }

    #[test]
    fn recv_ends_when_senders_are_gone() {
        let (tx, rx) = mailbox::<u8>();
        tx.send(7).unwrap();
        drop(tx);
        let r = block_on(resolve_driver(DriverKind::Auto), true, async move {
            (rx.recv().await, rx.recv().await)
        })
        .unwrap();
        assert_eq!(r, (Some(7), None));
    }

    /// A receiver already waiting is woken when the last sender goes (from another thread),
    /// so a relay task ends with its connection instead of waiting for ever.
    #[test]
    fn a_waiting_receiver_wakes_when_the_last_sender_goes() {
        let (tx, rx) = mailbox::<u8>();
        let tx2 = tx.clone();
        let r = block_on(resolve_driver(DriverKind::Auto), true, async move {
            let dropper = std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(20));
                drop(tx);
                std::thread::sleep(std::time::Duration::from_millis(20));
                drop(tx2);
            });
            let mut batch = Vec::new();
            let r =
                monoio::time::timeout(std::time::Duration::from_secs(5), rx.recv_batch(&mut batch))
                    .await
                    .ok();
            dropper.join().unwrap();
            r
        })
        .unwrap();
        assert_eq!(
            r,
            Some(false),
            "the receiver was not woken when its senders were gone"
        );
    }
}
