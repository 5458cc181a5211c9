//! fuzzingclient and fuzzingserver: the conformance suite.

pub mod case;
pub mod cases;
pub mod trace;
