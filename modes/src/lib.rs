//! wstest modes. Each module has a serde config type and a `run` that returns a report; the
//! binary only parses the command line, calls `run` and prints. Modes use the engine's
//! pieces and never implement protocol logic of their own.

pub mod broadcast;
pub mod child;
pub mod common;
pub mod echo;
pub mod error;
pub mod fuzzing;
pub mod massconnect;
pub mod plot;
pub mod report;
pub mod serving;
pub mod spec;
pub mod testee;
pub mod wamp;
pub mod wsperf;

pub use error::ModeError;

pub type Result<T> = std::result::Result<T, ModeError>;
