//! A single-threaded, edge-triggered wake-up for one task.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::park::Wakes;

#[derive(Default)]
pub struct LocalNotify {
    pending: Cell<bool>,
    waker: RefCell<Option<Waker>>,
    /// While the connection this wakes is set aside ([`super::park`]): the lot and the
    /// connection's place in it, woken instead of a task.
    forward: RefCell<Option<(Rc<Wakes>, u32)>>,
}

impl LocalNotify {
    /// Wake the waiter (or the next one to wait).
    pub fn notify(&self) {
        if let Some((wakes, idx)) = &*self.forward.borrow() {
            wakes.wake(*idx);
            return;
        }
        self.pending.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Wake the lot instead of a task from now on (`Some`), or a task again (`None`). The
    /// waker of the task that drove the connection before is dropped; a wake-up that task
    /// had not taken yet goes to the lot (else what it announced, a broadcast queued for the
    /// connection, would wait for the next one).
    pub(crate) fn forward(&self, to: Option<(Rc<Wakes>, u32)>) {
        *self.waker.borrow_mut() = None;
        if let Some((wakes, idx)) = &to {
            if self.pending.replace(false) {
                wakes.wake(*idx);
            }
        }
        *self.forward.borrow_mut() = to;
    }

    /// Resolves after the next (or a pending) [`LocalNotify::notify`].
    pub fn notified(&self) -> Notified<'_> {
        Notified(self)
    }
}

pub struct Notified<'a>(&'a LocalNotify);

impl Future for Notified<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.pending.replace(false) {
            Poll::Ready(())
        } else {
            *self.0.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wake-up the driving task had not taken when its connection was set aside goes to
    /// the lot at once (a broadcast queued just before would otherwise wait for the next),
    /// and wake-ups while set aside go to the lot only.
    #[test]
    fn a_pending_wake_up_follows_the_connection_into_the_lot() {
        let n = LocalNotify::default();
        let wakes = Rc::new(Wakes::default());
        n.notify();
        n.forward(Some((wakes.clone(), 7)));
        assert_eq!(*wakes.ready.borrow(), vec![7]);
        n.notify();
        assert_eq!(*wakes.ready.borrow(), vec![7, 7]);
        assert!(!n.pending.get(), "taken by the lot, not left for a task");
        n.forward(None);
        n.notify();
        assert!(n.pending.get());
        assert_eq!(wakes.ready.borrow().len(), 2);
    }
}
