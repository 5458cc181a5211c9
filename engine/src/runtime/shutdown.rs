//! Shutdown signalling: a flag any thread can raise and any task can await.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct Inner {
    fired: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
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
            let wakers = std::mem::take(&mut *self.0.wakers.lock().unwrap_or_else(|e| e.into_inner()));
            for w in wakers {
                w.wake();
            }
        }
    }

    pub fn is_triggered(&self) -> bool {
        self.0.fired.load(Ordering::SeqCst)
    }

    /// Resolves once [`Shutdown::trigger`] was called (at once if it already was).
    pub fn wait(&self) -> Wait<'_> {
        Wait(self)
    }
}

pub struct Wait<'a>(&'a Shutdown);

impl Future for Wait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let inner = &self.0 .0;
        if inner.fired.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        let mut w = inner.wakers.lock().unwrap_or_else(|e| e.into_inner());
        if inner.fired.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        if !w.iter().any(|x| x.will_wake(cx.waker())) {
            w.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// SIGINT/SIGTERM raise `shutdown`; a second signal exits at once (status 130).
pub fn install_signal_handler(shutdown: Shutdown) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new().name("wstest-signals".into()).spawn(move || {
        for sig in signals.forever() {
            if shutdown.is_triggered() {
                eprintln!("wstest: second signal, exiting now");
                std::process::exit(130);
            }
            let name = if sig == SIGINT { "SIGINT" } else { "SIGTERM" };
            eprintln!("wstest: {name} received, shutting down (send it again to exit at once)");
            shutdown.trigger();
        }
    })?;
    Ok(())
}
