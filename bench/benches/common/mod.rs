//! Shared by every bench binary: the allocator the `wstest` binary uses, and a criterion
//! configuration short enough that the whole suite runs in a few minutes on 2 cores.

use std::time::Duration;

use criterion::Criterion;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// 0.5 s warm-up, 2 s of measurement, 20 samples per benchmark. Command-line flags
/// (`--measurement-time`, `--sample-size`, a name filter) still override these.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}
