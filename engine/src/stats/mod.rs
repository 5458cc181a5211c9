//! Statistics: latency histograms recorded per shard and merged exactly.

pub mod histogram;

pub use histogram::{Latency, Summary};
