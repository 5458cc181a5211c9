//! Worker threads: one per core, each pinned, each running its own runtime.

use std::future::Future;
use std::sync::Arc;
use std::thread::JoinHandle;

use super::driver::{block_on, resolve_driver, Driver, DriverKind};
use super::shutdown::Shutdown;

/// Thread count and driver.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct RuntimeConfig {
    /// Worker threads; 0 = every available core.
    pub threads: usize,
    pub driver: DriverKind,
    /// Pin each worker to a core (default on).
    pub no_pin: bool,
}

impl RuntimeConfig {
    pub fn thread_count(&self) -> usize {
        if self.threads == 0 {
            available_threads()
        } else {
            self.threads
        }
    }
}

pub fn available_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// What each worker gets.
#[derive(Clone)]
pub struct WorkerCtx {
    pub index: usize,
    pub threads: usize,
    pub driver: Driver,
    pub shutdown: Shutdown,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("worker {index}: {source}")]
    Runtime {
        index: usize,
        source: std::io::Error,
    },
    #[error("worker {index} panicked: {message}")]
    Panicked { index: usize, message: String },
}

/// Running workers.
pub struct Workers<T> {
    handles: Vec<JoinHandle<Result<T, WorkerError>>>,
    pub driver: Driver,
    pub shutdown: Shutdown,
}

impl<T> Workers<T> {
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Wait for every worker; results in worker order.
    pub fn join(self) -> Result<Vec<T>, WorkerError> {
        let mut out = Vec::with_capacity(self.handles.len());
        let mut first_err = None;
        for (index, h) in self.handles.into_iter().enumerate() {
            match h.join() {
                Ok(Ok(v)) => out.push(v),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(p) => {
                    let message = p
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    first_err.get_or_insert(WorkerError::Panicked { index, message });
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}

static NEXT_CORE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Start one worker per input, each on its own thread with its own runtime, pinned to a core
/// (round-robin over the cores this process may use, continuing from the previous pool). `f` builds the worker's future on its
/// thread, so the future need not be `Send`.
pub fn spawn_workers<I, T, F, Fut>(
    cfg: &RuntimeConfig,
    shutdown: Shutdown,
    inputs: Vec<I>,
    f: F,
) -> std::io::Result<Workers<T>>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(WorkerCtx, I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + 'static,
{
    let driver = resolve_driver(cfg.driver);
    let fallback = cfg.driver == DriverKind::Auto;
    let cores = if cfg.no_pin {
        Vec::new()
    } else {
        core_affinity::get_core_ids().unwrap_or_default()
    };
    let threads = inputs.len();
    // Pools in one process (a server and a client in a test or bench) start where the last
    // one ended, so they spread over distinct cores instead of piling onto core 0.
    let first = NEXT_CORE.fetch_add(threads, std::sync::atomic::Ordering::Relaxed);
    let f = Arc::new(f);
    let mut handles = Vec::with_capacity(threads);
    for (index, input) in inputs.into_iter().enumerate() {
        let f = f.clone();
        let core = (!cores.is_empty()).then(|| cores[(first + index) % cores.len()]);
        let ctx = WorkerCtx {
            index,
            threads,
            driver,
            shutdown: shutdown.clone(),
        };
        let h = std::thread::Builder::new()
            .name(format!("wstest-w{index}"))
            .spawn(move || {
                if let Some(c) = core {
                    core_affinity::set_for_current(c);
                }
                block_on(driver, fallback, f(ctx, input))
                    .map_err(|source| WorkerError::Runtime { index, source })
            })?;
        handles.push(h);
    }
    Ok(Workers {
        handles,
        driver,
        shutdown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_run_on_both_drivers() {
        for kind in [DriverKind::Auto, DriverKind::Epoll] {
            let cfg = RuntimeConfig {
                threads: 2,
                driver: kind,
                no_pin: false,
            };
            let w = spawn_workers(
                &cfg,
                Shutdown::new(),
                vec![10u32, 20],
                |ctx, x| async move {
                    monoio::time::sleep(std::time::Duration::from_millis(5)).await;
                    x + ctx.index as u32
                },
            )
            .unwrap();
            assert_eq!(w.join().unwrap(), vec![10, 21]);
        }
    }

    #[test]
    fn shutdown_wakes_workers_from_another_thread() {
        let cfg = RuntimeConfig {
            threads: 2,
            driver: DriverKind::Auto,
            no_pin: true,
        };
        let sd = Shutdown::new();
        let w = spawn_workers(&cfg, sd.clone(), vec![(), ()], |ctx, ()| async move {
            ctx.shutdown.wait().await;
            ctx.index
        })
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        sd.trigger();
        assert_eq!(w.join().unwrap(), vec![0, 1]);
    }
}
