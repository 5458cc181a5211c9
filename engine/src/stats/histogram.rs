//! Latency recording in nanoseconds with HdrHistogram; summaries in microseconds.
//!
//! Each shard (thread) owns its own [`Latency`]; shards are merged with [`Latency::merge`],
//! which adds counts bucket by bucket, so merged quantiles are exact (not averages).

use std::time::Duration;

use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;

/// Highest trackable value: 1 hour in nanoseconds.
const MAX_NS: u64 = 3_600_000_000_000;

#[derive(Clone, Debug)]
pub struct Latency {
    h: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

/// Quantile summary in microseconds.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub count: u64,
    pub min_us: f64,
    pub median_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
    pub stddev_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
}

impl Latency {
    pub fn new() -> Self {
        Latency {
            h: Histogram::new_with_bounds(1, MAX_NS, 3).expect("valid histogram bounds"),
        }
    }

    #[inline]
    pub fn record(&mut self, d: Duration) {
        let ns = (d.as_nanos() as u64).clamp(1, MAX_NS);
        // Within bounds by the clamp, so this cannot fail.
        let _ = self.h.record(ns);
    }

    /// Record `d` and the values coordinated omission hid, for a send schedule with this
    /// interval (wrk2's correction).
    pub fn record_corrected(&mut self, d: Duration, interval: Duration) {
        let ns = (d.as_nanos() as u64).clamp(1, MAX_NS);
        let _ = self.h.record_correct(ns, interval.as_nanos() as u64);
    }

    pub fn merge(&mut self, other: &Latency) {
        // Same bounds on both sides, so this cannot fail.
        let _ = self.h.add(&other.h);
    }

    pub fn count(&self) -> u64 {
        self.h.len()
    }

    pub fn inner(&self) -> &Histogram<u64> {
        &self.h
    }

    /// Value at quantile `q` (0..=1) in microseconds.
    pub fn quantile_us(&self, q: f64) -> f64 {
        self.h.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn summary(&self) -> Summary {
        if self.h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: self.h.len(),
            min_us: self.h.min() as f64 / 1000.0,
            median_us: self.quantile_us(0.5),
            max_us: self.h.max() as f64 / 1000.0,
            mean_us: self.h.mean() / 1000.0,
            stddev_us: self.h.stdev() / 1000.0,
            p90_us: self.quantile_us(0.9),
            p99_us: self.quantile_us(0.99),
            p999_us: self.quantile_us(0.999),
        }
    }

    /// HdrHistogram V2 serialization, base64 (portable, mergeable by other tools).
    pub fn to_base64(&self) -> String {
        use base64::Engine;
        let mut buf = Vec::new();
        V2Serializer::new()
            .serialize(&self.h, &mut buf)
            .expect("serialize to memory");
        base64::engine::general_purpose::STANDARD.encode(buf)
    }

    pub fn from_base64(s: &str) -> Result<Latency, String> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut &bytes[..])
            .map_err(|e| format!("histogram does not decode: {e:?}"))?;
        let mut l = Latency::new();
        l.h.add(&h)
            .map_err(|e| format!("histogram out of range: {e:?}"))?;
        Ok(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_is_exact_and_round_trips() {
        let mut a = Latency::new();
        let mut b = Latency::new();
        for i in 1..=1000u64 {
            a.record(Duration::from_micros(i));
            b.record(Duration::from_micros(1000 + i));
        }
        let mut all = Latency::new();
        for i in 1..=2000u64 {
            all.record(Duration::from_micros(i));
        }
        let mut m = a.clone();
        m.merge(&b);
        assert_eq!(m.summary(), all.summary());
        let back = Latency::from_base64(&m.to_base64()).unwrap();
        assert_eq!(back.summary(), m.summary());
        let s = m.summary();
        assert!(s.min_us <= s.median_us && s.median_us <= s.p99_us && s.p99_us <= s.max_us);
    }
}
