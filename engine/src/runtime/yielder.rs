//! Giving the other tasks of a thread a turn: [`yield_now`], fair under monoio's scheduler.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// The runtime's timer counts milliseconds.
const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// Run `fut` as a runtime's main future: the yielder's state is this runtime's from its
/// start to its end.
pub(super) async fn main<F: Future>(fut: F) -> F::Output {
    Yielder::start_of_runtime();
    let out = fut.await;
    Yielder::end_of_runtime();
    out
}

/// Pending once, then ready: the task goes to the back of the run queue, so every other task
/// of this thread runs and the runtime submits and reaps I/O before this one goes on.
///
/// monoio puts a task that wakes itself while it runs at the *front* of the run queue, so a
/// plain self-wake would run the same task again at once: on the epoll driver, where a read
/// of a socket that always has data completes without waiting, one busy connection would
/// then starve every other task of its thread (a relay woken from another thread among
/// them). So the waker is handed to this thread's [`Yielder`] instead: a task of its own,
/// woken like any other and queued behind everything already waiting, which then wakes the
/// yielded tasks, queueing them behind everything too.
pub fn yield_now() -> YieldNow {
    YieldNow(false)
}

pub struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        Yielder::defer(cx.waker());
        Poll::Pending
    }
}

/// How long tasks may keep yielding without the runtime parking. monoio fires timers only
/// when it parks, and parks only when no task is ready, so a thread whose tasks always yield
/// would never see its timers (close and stall timeouts, a run's duration). While tasks
/// yield, the yielder keeps a timer due a millisecond ahead (a heartbeat); it fires at the
/// runtime's next park. If it has not fired after this long, the yielder waits for it with
/// the yielded tasks, so nothing of the thread is ready and the runtime parks (without
/// sleeping: the timer is overdue by then).
const PARK_EVERY: Duration = Duration::from_millis(10);

/// The tasks of this thread that yielded, and the task that wakes them.
#[derive(Default)]
struct Yielder {
    yielded: Vec<Waker>,
    /// The yielder task's waker while it waits.
    waiting: Option<Waker>,
    /// Alive while this state's yielder task exists.
    task: Weak<()>,
    /// The runtime this state belongs to (see [`main`]).
    runtime: u64,
}

thread_local! {
    static YIELDER: RefCell<Yielder> = RefCell::default();
    /// Counts the runtimes [`main`] started on this thread.
    static RUNTIME: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl Yielder {
    fn defer(waker: &Waker) {
        let runtime = RUNTIME.get();
        let start = YIELDER.with(|y| {
            let mut y = y.borrow_mut();
            if y.runtime != runtime {
                // Left by an earlier runtime of this thread: its tasks are gone with it, and
                // their wakers are not dropped here, in a runtime that never knew them.
                let stale = std::mem::take(&mut *y);
                std::mem::forget(stale.yielded);
                std::mem::forget(stale.waiting);
                y.runtime = runtime;
            }
            y.yielded.push(waker.clone());
            if let Some(w) = y.waiting.take() {
                w.wake();
            }
            (y.task.strong_count() == 0).then(|| {
                let alive = Rc::new(());
                y.task = Rc::downgrade(&alive);
                alive
            })
        });
        if let Some(alive) = start {
            drop(monoio::spawn(Self::run(alive)));
        }
    }

    /// A runtime's main future starts: what an earlier runtime of this thread left behind
    /// is not this one's.
    fn start_of_runtime() {
        RUNTIME.set(RUNTIME.get() + 1);
    }

    /// A runtime's main future ended: drop the tasks waiting on the yielder while their
    /// runtime is still there (tasks that yield after this are forgotten by the next one).
    fn end_of_runtime() {
        let old = YIELDER.with(|y| std::mem::take(&mut *y.borrow_mut()));
        drop(old);
    }

    async fn run(_alive: Rc<()>) {
        let mut batch = Vec::new();
        // The heartbeat and when it was armed, while tasks yield. Only ever polled by this
        // task (monoio's timer keeps the first waker it is polled with).
        let mut beat: Option<(Pin<Box<monoio::time::Sleep>>, Instant)> = None;
        loop {
            poll_fn(|cx| {
                // Fired: the runtime parked since the heartbeat was armed.
                if let Some((b, _)) = beat.as_mut() {
                    if b.as_mut().poll(cx).is_ready() {
                        beat = None;
                    }
                }
                YIELDER.with(|y| {
                    let mut y = y.borrow_mut();
                    if y.yielded.is_empty() {
                        y.waiting = Some(cx.waker().clone());
                        Poll::Pending
                    } else {
                        std::mem::swap(&mut batch, &mut y.yielded);
                        Poll::Ready(())
                    }
                })
            })
            .await;
            match beat.as_mut() {
                None => {
                    let b = Box::pin(monoio::time::sleep(TIMER_RESOLUTION));
                    beat = Some((b, Instant::now()));
                }
                Some((b, armed)) if armed.elapsed() >= PARK_EVERY => {
                    b.as_mut().await;
                    beat = None;
                    YIELDER.with(|y| batch.append(&mut y.borrow_mut().yielded));
                }
                Some(_) => {}
            }
            batch.drain(..).for_each(Waker::wake);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;
    use crate::runtime::{block_on, mailbox, Driver};

    /// A task that only ever yields must let the other tasks of its thread run: one spawned
    /// after it, one woken from another thread (a relay, as wampserver's), and one waiting
    /// on a timer (timeouts).
    #[test]
    fn a_task_that_keeps_yielding_starves_no_other() {
        for d in [Driver::Epoll, Driver::Uring] {
            if d == Driver::Uring && !monoio::utils::detect_uring() {
                continue;
            }
            let spins = block_on(d, false, async {
                let spins = Rc::new(Cell::new(0u64));
                let s = spins.clone();
                let busy = monoio::spawn(async move {
                    loop {
                        s.set(s.get() + 1);
                        yield_now().await;
                    }
                });
                // Local: spawned after the busy task.
                let ran = Rc::new(Cell::new(false));
                let r = ran.clone();
                drop(monoio::spawn(async move { r.set(true) }));
                // Remote: woken by another thread.
                let (tx, rx) = mailbox::<u8>();
                let relayed = Rc::new(Cell::new(false));
                let r = relayed.clone();
                drop(monoio::spawn(async move {
                    r.set(rx.recv().await == Some(7));
                }));
                let sender = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(20));
                    tx.send(7).ok();
                });
                // A timer.
                let timed = Rc::new(Cell::new(false));
                let t = timed.clone();
                drop(monoio::spawn(async move {
                    monoio::time::sleep(Duration::from_millis(5)).await;
                    t.set(true);
                }));
                // Waits by yielding too (a timer might never fire here), so a starving
                // thread fails the assertions instead of hanging the test.
                let until = Instant::now() + Duration::from_secs(5);
                while !(ran.get() && relayed.get() && timed.get()) && Instant::now() < until {
                    yield_now().await;
                }
                sender.join().unwrap();
                assert!(ran.get(), "{d:?}: a local task never ran");
                assert!(
                    relayed.get(),
                    "{d:?}: a task woken from another thread never ran"
                );
                assert!(timed.get(), "{d:?}: a timer never fired");
                drop(busy);
                spins.get()
            })
            .unwrap();
            assert!(spins > 0);
        }
    }
}
