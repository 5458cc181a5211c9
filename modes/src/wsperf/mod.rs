//! wsperf: echo round-trip measurements.
//!
//! * [`probe`]: the load engine (connections over every core, per-thread histograms).
//! * [`control`]: `wsperfcontrol`, a spec run from this process, written as the original's TSV.
//! * [`master`] / [`slave`]: `wsperfmaster` runs a spec on probes on other machines at once
//!   and merges their histograms exactly.

pub mod control;
pub mod probe;
pub mod spec;
pub mod tsv;

pub use probe::{run_probe, Outcome, ProbeConfig, ProbeResult};
pub mod master;
pub mod slave;
pub mod wire;
