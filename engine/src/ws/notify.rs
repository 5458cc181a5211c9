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
        self.pending.set(true);
        if let Some((wakes, idx)) = &*self.forward.borrow() {
            wakes.wake(*idx);
            return;
        }
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Wake the lot instead of a task from now on (`Some`), or a task again (`None`). The
    /// waker of the task that drove the connection before is dropped.
    pub(crate) fn forward(&self, to: Option<(Rc<Wakes>, u32)>) {
        *self.waker.borrow_mut() = None;
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
