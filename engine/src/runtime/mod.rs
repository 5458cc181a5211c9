//! The runtime: one monoio runtime per thread, each pinned to a core, io_uring by default with
//! monoio's legacy epoll driver as the fallback; SO_REUSEPORT listeners (one per thread);
//! shutdown signalling across threads.

pub mod driver;
pub mod limits;
pub mod listener;
pub mod mailbox;
pub mod pool;
pub mod shutdown;
mod yielder;

pub use driver::{block_on, resolve_driver, Driver, DriverKind};
pub use listener::{bind_reuseport, check_port_free, BindError, FirstAck, Tuning};
pub use mailbox::{mailbox, Mailbox, MailboxSender};
pub use pool::{
    available_threads, parse_cpu_list, spawn_workers, RuntimeConfig, WorkerCtx, WorkerError,
    Workers,
};
pub use shutdown::{install_signal_handler, Shutdown};
pub use yielder::yield_now;
