//! Worker threads: one per core, each pinned, each running its own runtime.
//!
//! Placement: a pool that covers every core this process may run on is pinned, one worker
//! per core. A smaller pool is left to the scheduler unless `cpus` names its cores: pinning
//! it from the first core would stack every such process (a server and a load generator
//! started side by side, shards on one host) on the same cores while the others idle.

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
    /// Pin no worker (a pool over every core is pinned by default).
    pub no_pin: bool,
    /// Pin the workers to these cores (round-robin), whatever the pool's size.
    #[serde(default)]
    pub cpus: Vec<usize>,
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

/// Parse a core list as `taskset -c` writes it: `0-3,8,10-11`.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |x: &str| {
            x.trim()
                .parse::<usize>()
                .map_err(|_| format!("{x:?} in {s:?} is not a core number"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("{part:?} in {s:?} is a descending range"));
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    if out.is_empty() {
        return Err(format!("{s:?} names no core"));
    }
    Ok(out)
}

/// The core each of `threads` workers is pinned to (see the module's notes).
fn placement(
    cfg: &RuntimeConfig,
    threads: usize,
) -> std::io::Result<Vec<Option<core_affinity::CoreId>>> {
    if cfg.no_pin {
        return Ok(vec![None; threads]);
    }
    let allowed = core_affinity::get_core_ids().unwrap_or_default();
    if !cfg.cpus.is_empty() {
        let mut chosen = Vec::with_capacity(cfg.cpus.len());
        for &c in &cfg.cpus {
            match allowed.iter().find(|a| a.id == c) {
                Some(a) => chosen.push(*a),
                None => {
                    let ids: Vec<String> = allowed.iter().map(|a| a.id.to_string()).collect();
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!(
                            "--cpus: core {c} is not one this process may run on (allowed: {})",
                            ids.join(",")
                        ),
                    ));
                }
            }
        }
        return Ok((0..threads)
            .map(|i| Some(chosen[i % chosen.len()]))
            .collect());
    }
    if allowed.is_empty() || threads < allowed.len() {
        return Ok(vec![None; threads]);
    }
    // Full pools in one process (a server and a client in a test) continue where the last
    // one ended.
    let first = NEXT_CORE.fetch_add(threads, std::sync::atomic::Ordering::Relaxed);
    Ok((0..threads)
        .map(|i| Some(allowed[(first + i) % allowed.len()]))
        .collect())
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

/// Start one worker per input, each on its own thread with its own runtime, pinned as
/// [`placement`] says. `f` builds the worker's future on its thread, so the future need not
/// be `Send`.
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
    let threads = inputs.len();
    let cores = placement(cfg, threads)?;
    let f = Arc::new(f);
    let mut handles = Vec::with_capacity(threads);
    for (index, input) in inputs.into_iter().enumerate() {
        let f = f.clone();
        let core = cores[index];
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
                ..Default::default()
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
            ..Default::default()
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

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,8").unwrap(), vec![0, 1, 2, 3, 8]);
        assert_eq!(parse_cpu_list(" 2 ").unwrap(), vec![2]);
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("a").is_err());
        assert!(parse_cpu_list(",").is_err());
    }

    fn affinity_of_worker(cfg: &RuntimeConfig) -> Vec<usize> {
        let w = spawn_workers(cfg, Shutdown::new(), vec![()], |_, ()| async move {
            // SAFETY: a zeroed cpu_set_t is valid; sched_getaffinity fills it for this thread.
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            let r = unsafe {
                libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set)
            };
            assert_eq!(r, 0);
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
                .collect::<Vec<_>>()
        })
        .unwrap();
        w.join().unwrap().remove(0)
    }

    #[test]
    fn small_pools_are_left_to_the_scheduler_unless_cores_are_named() {
        let allowed: Vec<usize> = core_affinity::get_core_ids()
            .unwrap_or_default()
            .iter()
            .map(|c| c.id)
            .collect();
        if allowed.len() < 2 {
            eprintln!("SKIP: one core only, nothing to place");
            return;
        }
        let one = RuntimeConfig {
            threads: 1,
            ..Default::default()
        };
        // Not pinned: the worker may run wherever the process may.
        assert_eq!(affinity_of_worker(&one), allowed);
        let last = *allowed.last().unwrap();
        let named = RuntimeConfig {
            threads: 1,
            cpus: vec![last],
            ..Default::default()
        };
        assert_eq!(affinity_of_worker(&named), vec![last]);
        let foreign = RuntimeConfig {
            threads: 1,
            cpus: vec![100_000],
            ..Default::default()
        };
        let e = spawn_workers(&foreign, Shutdown::new(), vec![()], |_, ()| async {})
            .err()
            .expect("a core outside the allowed set is refused");
        assert!(e.to_string().contains("core 100000"), "{e}");
    }
}
