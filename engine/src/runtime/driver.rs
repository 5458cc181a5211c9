//! I/O driver selection: io_uring when the kernel lets us, else epoll.

use std::future::Future;
use std::io;
use std::str::FromStr;
use std::sync::Once;

use monoio::{IoUringDriver, LegacyDriver, RuntimeBuilder};

/// What the user asked for (`--driver`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DriverKind {
    /// io_uring if available, else epoll (with a notice on stderr).
    #[default]
    Auto,
    Uring,
    Epoll,
}

impl FromStr for DriverKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(DriverKind::Auto),
            "uring" | "io_uring" | "io-uring" => Ok(DriverKind::Uring),
            "epoll" | "legacy" => Ok(DriverKind::Epoll),
            other => Err(format!(
                "unknown driver {other:?} (expected auto, uring or epoll)"
            )),
        }
    }
}

/// The driver actually used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    Uring,
    Epoll,
}

impl std::fmt::Display for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Driver::Uring => "io_uring",
            Driver::Epoll => "epoll",
        })
    }
}

static FALLBACK_NOTICE: Once = Once::new();

fn notice_fallback(why: &str) {
    FALLBACK_NOTICE
        .call_once(|| eprintln!("wstest: io_uring unavailable ({why}); using the epoll driver"));
}

/// Decide the driver. `Auto` probes io_uring once (ring creation and the opcodes monoio needs;
/// this fails under `io_uring_disabled`, seccomp filters and old kernels).
pub fn resolve_driver(kind: DriverKind) -> Driver {
    match kind {
        DriverKind::Uring => Driver::Uring,
        DriverKind::Epoll => Driver::Epoll,
        // `WSTEST_DRIVER=epoll` makes `auto` pick epoll: the whole test suite can then be run
        // on the fallback driver (`WSTEST_DRIVER=epoll cargo test --workspace`).
        DriverKind::Auto if std::env::var_os("WSTEST_DRIVER").is_some_and(|v| v == "epoll") => {
            Driver::Epoll
        }
        DriverKind::Auto => {
            if monoio::utils::detect_uring() {
                Driver::Uring
            } else {
                notice_fallback("probe failed");
                Driver::Epoll
            }
        }
    }
}

/// io_uring setup flags. Every ring belongs to one thread: SINGLE_ISSUER lets the kernel skip
/// its cross-thread locking, COOP_TASKRUN stops completions from interrupting the thread with
/// an IPI while it runs (they are reaped at its next ring entry, which the runtime makes when
/// it has nothing else to do). `WSTEST_URING_FLAGS=none` turns both off (for comparisons).
fn uring_setup() -> io_uring::Builder {
    let mut b = io_uring::IoUring::builder();
    match std::env::var("WSTEST_URING_FLAGS").as_deref() {
        Ok("none") => {}
        Ok("defer") => {
            b.setup_single_issuer().setup_defer_taskrun();
        }
        _ => {
            b.setup_single_issuer().setup_coop_taskrun();
        }
    }
    b
}

/// Run `fut` to completion on a fresh runtime of this driver on the current thread. With
/// `fallback`, a failure to set up io_uring falls back to epoll (and says so once).
pub fn block_on<F: Future>(driver: Driver, fallback: bool, fut: F) -> io::Result<F::Output> {
    let fut = super::yielder::main(fut);
    match driver {
        Driver::Uring => match RuntimeBuilder::<IoUringDriver>::new()
            .with_entries(1024)
            .uring_builder(uring_setup())
            .enable_timer()
            .build()
        {
            Ok(mut rt) => Ok(rt.block_on(fut)),
            Err(e) if fallback => {
                notice_fallback(&e.to_string());
                Ok(RuntimeBuilder::<LegacyDriver>::new()
                    .enable_timer()
                    .build()?
                    .block_on(fut))
            }
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("cannot set up io_uring: {e} (try --driver epoll)"),
            )),
        },
        Driver::Epoll => Ok(RuntimeBuilder::<LegacyDriver>::new()
            .enable_timer()
            .build()?
            .block_on(fut)),
    }
}
