//! Mode errors, and the one mapping from an error to the process exit status.
//!
//! Each kind names what went wrong and where (which spec, option, file or address), with the
//! numbers that decided it; the text is only made when printed.

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
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// The run finished but its verdict is a failure (e.g. cases not OK).
    #[error(transparent)]
    Failed(#[from] Failure),
    /// A peer could not be reached, or nothing could be measured on it.
    #[error("{0}")]
    Unreachable(String),
    #[error("interrupted")]
    Interrupted,
}

/// A configuration that cannot be run: which input, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A spec file (`-s`).
    #[error("spec {spec}: {problem}")]
    Spec { spec: String, problem: String },
    /// A command-line option, named as typed (`--deflate-level`).
    #[error("{option} {problem}")]
    Option {
        option: &'static str,
        problem: String,
    },
    /// Options that do not go together, or a mode's missing argument.
    #[error("{0}")]
    Usage(String),
    /// An input file (a result, an expected index.json).
    #[error("{file}: {problem}")]
    File { file: String, problem: String },
    /// An address to listen on or connect from.
    #[error("{problem}")]
    Address { address: String, problem: String },
    /// A part of the run this process starts itself (the embedded testee, a stand-in server).
    #[error("{what} did not start: {problem}")]
    Start { what: String, problem: String },
    /// A report that cannot be written as JSON.
    #[error("cannot serialize {file}: {problem}")]
    Serialize { file: String, problem: String },
}

/// How a finished run failed its checks (exit status 1).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{bad} of {sent} messages were not echoed correctly")]
    NotEchoed { bad: u64, sent: u64 },
    #[error("{lost} of {expected} deliveries lost, {dropped} receivers dropped")]
    Deliveries {
        lost: u64,
        expected: u64,
        dropped: u64,
    },
    #[error("not every case passed")]
    CasesFailed,
    #[error("verdicts not as expected")]
    VerdictsUnexpected,
    #[error("no client ran a case")]
    NoClient,
    #[error("{0} cases differ")]
    CasesDiffer(usize),
    #[error("{failed} of {total} measurements did not pass")]
    Measurements { failed: usize, total: usize },
    #[error("only {connected} of {wanted} probes connected to {url} within {seconds} s")]
    ProbesMissing {
        connected: usize,
        wanted: usize,
        url: String,
        seconds: f64,
    },
    #[error("master {master}: {problem}")]
    Master { master: String, problem: String },
    #[error("target not reached for {}", .0.join(", "))]
    TargetNotReached(Vec<String>),
    #[error("{failed} of {total} WAMP checks failed")]
    WampChecks { failed: usize, total: usize },
    #[error("wampclient --load: {what}: {problem}")]
    WampLoad { what: &'static str, problem: String },
    #[error("{url} did not answer with a case count (got {got:?})")]
    NoCaseCount { url: String, got: Vec<String> },
    #[error("the {0} thread panicked")]
    Panicked(&'static str),
}

impl ModeError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        ModeError::Io {
            what: what.into(),
            source,
        }
    }

    /// A spec that cannot be run.
    pub fn spec(spec: impl std::fmt::Display, problem: impl Into<String>) -> Self {
        ConfigError::Spec {
            spec: spec.to_string(),
            problem: problem.into(),
        }
        .into()
    }

    /// A command line that cannot be run.
    pub fn usage(text: impl Into<String>) -> Self {
        ConfigError::Usage(text.into()).into()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_exit_status() {
        assert_eq!(ModeError::from(Failure::CasesFailed).exit_code(), 1);
        assert_eq!(ModeError::spec("a.json", "x").exit_code(), 2);
        assert_eq!(ModeError::usage("x").exit_code(), 2);
        assert_eq!(ModeError::Unreachable("x".into()).exit_code(), 3);
        assert_eq!(
            ModeError::io("x", std::io::Error::other("y")).exit_code(),
            4
        );
        assert_eq!(ModeError::Interrupted.exit_code(), 130);
    }

    #[test]
    fn texts_name_what_and_where() {
        assert_eq!(
            ModeError::spec("a.json", "\"servers\" is empty").to_string(),
            "spec a.json: \"servers\" is empty"
        );
        assert_eq!(
            Failure::TargetNotReached(vec!["a".into(), "b".into()]).to_string(),
            "target not reached for a, b"
        );
        assert_eq!(
            Failure::Measurements {
                failed: 2,
                total: 5
            }
            .to_string(),
            "2 of 5 measurements did not pass"
        );
    }
}
