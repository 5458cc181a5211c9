//! Mode errors, and the one mapping from an error to the process exit status.

use wstest_engine::net::{TlsError, UrlError};
use wstest_engine::runtime::WorkerError;
use wstest_engine::ws::server::ServeError;
use wstest_engine::ws::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum ModeError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Worker(#[from] WorkerError),
    #[error("{0}")]
    Config(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// The run finished but its verdict is a failure (e.g. cases not OK).
    #[error("{0}")]
    Failed(String),
    /// A peer could not be reached, or nothing could be measured on it.
    #[error("{0}")]
    Unreachable(String),
    #[error("interrupted")]
    Interrupted,
}

impl ModeError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        ModeError::Io {
            what: what.into(),
            source,
        }
    }

    /// Process exit status for this error.
    ///
    /// 1: the run completed but failed its checks; 2: bad configuration or arguments;
    /// 3: a network peer could not be reached or misbehaved; 4: local I/O or runtime failure;
    /// 130: interrupted.
    pub fn exit_code(&self) -> i32 {
        match self {
            ModeError::Failed(_) => 1,
            ModeError::Url(_) | ModeError::Tls(_) | ModeError::Config(_) => 2,
            ModeError::Client(_) | ModeError::Unreachable(_) => 3,
            ModeError::Serve(_) | ModeError::Worker(_) | ModeError::Io { .. } => 4,
            ModeError::Interrupted => 130,
        }
    }
}
