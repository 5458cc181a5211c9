//! The original wsperfcontrol's TSV: a header `name outcome count size min median max avg
//! stddev q0 … q(N-1)`, one row per measurement, microseconds rounded to `digits` (the
//! quantile columns always to whole microseconds, as the original writes them), rows that
//! did not pass carry only the name and the outcome (an INTERRUPTED row, ours, keeps the
//! figures measured before the signal).

use wstest_engine::stats::Latency;

use super::probe::{Outcome, ProbeResult};

/// Microseconds, rounded as Python's `"%.{d}f" % round(x, d)` does (nearest, ties to even on
/// the exact binary value).
pub fn micros(ns: f64, digits: u32) -> String {
    format!("{:.*}", digits as usize, ns / 1000.0)
}

/// The header line (without newline).
pub fn header(sep: &str, quantile_count: usize) -> String {
    let mut cols: Vec<String> = [
        "name", "outcome", "count", "size", "min", "median", "max", "avg", "stddev",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    cols.extend((0..quantile_count).map(|i| format!("q{i}")));
    cols.join(sep)
}

/// The upper bounds of `n` equal quantile bands, in nanoseconds: for deciles, the values at
/// 10 %, 20 %, … 100 %.
pub fn quantiles_ns(l: &Latency, n: usize) -> Vec<u64> {
    let h = l.inner();
    (1..=n)
        .map(|i| {
            if i == n {
                h.max()
            } else {
                h.value_at_quantile(i as f64 / n as f64).min(h.max())
            }
        })
        .collect()
}

/// One row (without newline). `count` is the number of round trips measured (a run that a
/// `duration` ended sends as many as fit); `size` is the configured value.
pub fn row(
    name: &str,
    size: usize,
    r: &ProbeResult,
    digits: u32,
    sep: &str,
    quantile_count: usize,
) -> String {
    // An interrupted row keeps its figures (what was measured before the signal).
    if !matches!(r.outcome, Outcome::Passed | Outcome::Interrupted) {
        return [name, r.outcome.as_str()].join(sep);
    }
    let h = r.latency.inner();
    let (min, max) = if h.is_empty() {
        (0.0, 0.0)
    } else {
        (h.min() as f64, h.max() as f64)
    };
    let median = if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(0.5) as f64
    };
    let mut cols = vec![
        name.to_string(),
        r.outcome.as_str().into(),
        h.len().to_string(),
        size.to_string(),
        micros(min, digits),
        micros(median, digits),
        micros(max, digits),
        micros(if h.is_empty() { 0.0 } else { h.mean() }, digits),
        micros(if h.is_empty() { 0.0 } else { h.stdev() }, digits),
    ];
    if !h.is_empty() {
        cols.extend(
            quantiles_ns(&r.latency, quantile_count)
                .into_iter()
                .map(|q| micros(q as f64, 0)),
        );
    } else {
        cols.extend((0..quantile_count).map(|_| String::new()));
    }
    cols.join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rounding_is_pythons() {
        // "%.0f" % round(2.5, 0) == "2"; round(3.5) == "4"; "%.1f" % round(32.45, 1) == "32.5"
        // (32.45 is a little above in binary); "%.2f" % round(1.005, 2) == "1.00".
        assert_eq!(micros(2500.0, 0), "2");
        assert_eq!(micros(3500.0, 0), "4");
        assert_eq!(micros(32450.0, 1), "32.5");
        assert_eq!(micros(1005.0, 2), "1.00");
        assert_eq!(micros(12345.0, 3), "12.345");
    }

    #[test]
    fn deciles_rise_to_the_max() {
        let mut l = Latency::new();
        for us in 1..=1000u64 {
            l.record(Duration::from_micros(us));
        }
        let q = quantiles_ns(&l, 10);
        assert_eq!(q.len(), 10);
        assert!(q.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*q.last().unwrap(), l.inner().max());
        assert!((q[4] as f64 / 1000.0 - 500.0).abs() < 1.0, "{q:?}");
    }

    #[test]
    fn header_has_the_originals_columns() {
        assert_eq!(
            header("\t", 3),
            "name\toutcome\tcount\tsize\tmin\tmedian\tmax\tavg\tstddev\tq0\tq1\tq2"
        );
    }
}
