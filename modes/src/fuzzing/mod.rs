//! fuzzingclient and fuzzingserver: the conformance suite.
//!
//! `case` is the case language, `cases/` the suite written in it, `session` runs one case on
//! a connection (its steps written by `writer`, the peer's messages judged as they come by
//! `checks`), `record` keeps what it saw (as far as `limits` allows), `verdict` judges the
//! record, `result`/`wirelog`/`pyjson` produce the per-case report, `store`/`html` the report
//! directory, `client`/`server` the two modes (`endpoint`: the fuzzer's endpoint settings).

use wstest_engine::runtime::RuntimeConfig;

/// The fuzzers' workers: as configured, but not pinned to cores unless `--cpus` places them.
/// The fuzzers pace their writes, and a pinned worker pacing on a core is where the
/// scheduler tends to wake the peer it writes to (wake-affine): the peer then waits for that
/// core, and a timing race's verdict shifts (docs/conformance.md). They are not load
/// generators.
pub fn fuzzer_runtime(configured: &RuntimeConfig) -> RuntimeConfig {
    let mut r = configured.clone();
    r.no_pin |= r.cpus.is_empty();
    r
}

pub mod case;
pub mod cases;
pub mod checks;
pub mod client;
pub mod corpus;
pub mod direct;
pub mod endpoint;
pub mod expect;
pub mod html;
pub mod junit;
pub mod limits;
pub mod outcome;
pub mod pmce;
pub mod pyjson;
pub mod record;
pub mod result;
pub mod run;
mod run_outcome;
pub mod server;
pub mod session;
pub mod spec;
pub mod store;
pub mod trace;
pub mod traffic;
pub mod verdict;
pub mod web;
pub mod wirelog;
pub mod writer;
