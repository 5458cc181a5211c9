//! Shutdown signalling: a flag any thread can raise and any task can await.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct Inner {
    fired: AtomicBool,
    waiters: Mutex<Slab>,
}

/// Registered wakers; a waiter's slot is freed when its future is dropped, so the list only
/// holds the futures that exist.
#[derive(Default)]
struct Slab {
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
}

/// A one-shot, cloneable, cross-thread shutdown flag.
#[derive(Clone, Default)]
pub struct Shutdown(Arc<Inner>);

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn trigger(&self) {
        if !self.0.fired.swap(true, Ordering::SeqCst) {
            let wakers: Vec<Waker> = {
                let mut w = self.0.waiters.lock().unwrap_or_else(|e| e.into_inner());
                w.slots.iter_mut().filter_map(Option::take).collect()
            };
            for w in wakers {
                w.wake();
            }
        }
    }

    pub fn is_triggered(&self) -> bool {
        self.0.fired.load(Ordering::SeqCst)
    }

    /// Resolves once [`Shutdown::trigger`] was called (at once if it already was). Keep the
    /// future across polls where possible: re-polling it with the same waker takes no lock.
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            sd: self,
            slot: None,
            waker: None,
        }
    }
}

pub struct Wait<'a> {
    sd: &'a Shutdown,
    slot: Option<usize>,
    waker: Option<Waker>,
}

impl Future for Wait<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let inner = &self.sd.0;
        if inner.fired.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        if self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        let mut w = inner.waiters.lock().unwrap_or_else(|e| e.into_inner());
        if inner.fired.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        let waker = cx.waker().clone();
        let slot = match self.slot {
            Some(i) => i,
            None => match w.free.pop() {
                Some(i) => i,
                None => {
                    w.slots.push(None);
                    w.slots.len() - 1
                }
            },
        };
        w.slots[slot] = Some(waker.clone());
        drop(w);
        self.slot = Some(slot);
        self.waker = Some(waker);
        Poll::Pending
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            let mut w = self.sd.0.waiters.lock().unwrap_or_else(|e| e.into_inner());
            w.slots[i] = None;
            w.free.push(i);
        }
    }
}

/// Signals that arrive within this long of the first are the same request: GNU `timeout`
/// and many CI runners send SIGTERM twice within microseconds, and the second must not
/// throw away what the first one's orderly shutdown would keep.
pub const SIGNAL_DEBOUNCE: std::time::Duration = std::time::Duration::from_secs(1);

/// What a signal does, given when the first one came (if any).
#[derive(Debug, PartialEq, Eq)]
enum SignalAction {
    /// The first: shut down in order.
    ShutDown,
    /// Part of the first (within [`SIGNAL_DEBOUNCE`]): nothing more.
    Same,
    /// A later one: the user insists; exit at once.
    Exit,
}

fn on_signal(first: Option<std::time::Instant>, now: std::time::Instant) -> SignalAction {
    match first {
        None => SignalAction::ShutDown,
        Some(t) if now.duration_since(t) < SIGNAL_DEBOUNCE => SignalAction::Same,
        Some(_) => SignalAction::Exit,
    }
}

/// SIGINT/SIGTERM raise `shutdown`; another signal more than [`SIGNAL_DEBOUNCE`] after the
/// first exits at once (status 130).
pub fn install_signal_handler(shutdown: Shutdown) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("wstest-signals".into())
        .spawn(move || {
            let mut first = None;
            for sig in signals.forever() {
                let name = if sig == SIGINT { "SIGINT" } else { "SIGTERM" };
                let now = std::time::Instant::now();
                match on_signal(first, now) {
                    SignalAction::ShutDown => {
                        first = Some(now);
                        eprintln!(
                            "wstest: {name} received, shutting down (send it again to exit at once)"
                        );
                        shutdown.trigger();
                    }
                    SignalAction::Same => {}
                    SignalAction::Exit => {
                        eprintln!("wstest: second signal, exiting now");
                        std::process::exit(130);
                    }
                }
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_right_after_the_first_is_the_same_one() {
        let t = std::time::Instant::now();
        assert_eq!(on_signal(None, t), SignalAction::ShutDown);
        let soon = t + std::time::Duration::from_micros(30);
        assert_eq!(on_signal(Some(t), soon), SignalAction::Same);
        assert_eq!(on_signal(Some(t), t + SIGNAL_DEBOUNCE), SignalAction::Exit);
    }
    use std::task::Wake;

    struct Count(std::sync::atomic::AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn waiters_are_removed_when_dropped() {
        let sd = Shutdown::new();
        let c = Arc::new(Count(Default::default()));
        let waker = Waker::from(c.clone());
        let mut cx = Context::from_waker(&waker);
        for _ in 0..1000 {
            let mut f = Box::pin(sd.wait());
            assert!(f.as_mut().poll(&mut cx).is_pending());
            assert!(f.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(
            sd.0.waiters.lock().unwrap().slots.len(),
            1,
            "slots are reused, not piled up"
        );
        let mut f = Box::pin(sd.wait());
        assert!(f.as_mut().poll(&mut cx).is_pending());
        sd.trigger();
        assert_eq!(c.0.load(Ordering::SeqCst), 1);
        assert!(f.as_mut().poll(&mut cx).is_ready());
    }
}
