//! Latency percentiles, two ways: per case (min, p50, p90, p99, p99.9, max over the cases of
//! a run) and as a curve over the percentiles of one histogram, on an axis in "nines" (90 %,
//! 99 %, 99.9 % equally apart) so that the tail is as wide as the body.

use wstest_engine::stats::{Latency, Summary};

use super::chart::{Chart, Series, Style, XAxis};
use super::scale::Unit;

/// One case's percentiles in microseconds (`None`: not measured or not in the input).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pcts {
    pub min: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub max: Option<f64>,
}

impl Pcts {
    pub fn from_summary(s: &Summary) -> Pcts {
        let some = |v: f64| Some(v).filter(|v| v.is_finite() && s.count > 0);
        Pcts {
            min: some(s.min_us),
            p50: some(s.median_us),
            p90: some(s.p90_us),
            p99: some(s.p99_us),
            p999: some(s.p999_us),
            max: some(s.max_us),
        }
    }

    fn get(&self) -> [(&'static str, Option<f64>); 6] {
        [
            ("min", self.min),
            ("p50", self.p50),
            ("p90", self.p90),
            ("p99", self.p99),
            ("p99.9", self.p999),
            ("max", self.max),
        ]
    }
}

/// A chart with one x position per case and one line per percentile; percentiles no case
/// has are left out. A logarithmic axis when max and min are far apart.
pub fn per_case(title: &str, subtitle: &str, labels: Vec<String>, cases: &[Pcts]) -> Chart {
    let mut series = Vec::new();
    for k in 0..6 {
        let name = Pcts::default().get()[k].0;
        let points: Vec<(f64, f64)> = cases
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.get()[k].1.map(|v| (i as f64, v)))
            .collect();
        if !points.is_empty() {
            series.push(Series::new(name, points, Style::Line));
        }
    }
    Chart {
        title: title.into(),
        subtitle: subtitle.into(),
        x: XAxis::Categories(labels),
        x_label: "case".into(),
        y_label: "latency".into(),
        y_unit: Unit::Micros,
        y_log: None,
        series,
        marks: Vec::new(),
    }
}

/// The most nines a curve goes to (99.9999 %).
const MAX_NINES: f64 = 6.0;

/// The percentile curve of a base64 HdrHistogram of nanoseconds, as (nines, µs) points:
/// x = -log10(1 - q), so 0 is the minimum, 1 the 90th percentile, 2 the 99th; it ends at
/// the maximum, placed at the nines the count resolves. `None`: empty or unreadable.
pub fn curve(histogram_b64: &str) -> Option<Vec<(f64, f64)>> {
    if histogram_b64.is_empty() {
        return None;
    }
    let l = Latency::from_base64(histogram_b64).ok()?;
    let h = l.inner();
    if h.is_empty() {
        return None;
    }
    let top = (h.len() as f64).log10().clamp(1.0, MAX_NINES);
    let mut pts = Vec::new();
    let mut x = 0.0;
    while x < top {
        let q = 1.0 - 10f64.powf(-x);
        pts.push((x, h.value_at_quantile(q) as f64 / 1000.0));
        x += 0.05;
    }
    pts.push((top, h.max() as f64 / 1000.0));
    Some(pts)
}

/// Ticks for a nines axis up to `top`: 0 %, 50 %, 90 %, 99 %, 99.9 % …
pub fn nines_ticks(top: f64) -> Vec<(f64, String)> {
    let mut t = vec![(0.0, "0%".to_string()), (2f64.log10(), "50%".to_string())];
    let mut n = 1;
    while n as f64 <= top.max(1.0) + 1e-9 {
        let pct = 100.0 - 100.0 * 10f64.powi(-n);
        t.push((n as f64, format!("{}%", super::scale::short_pct(pct))));
        n += 1;
    }
    t
}

/// A chart of percentile curves, one per named histogram.
pub fn curves_chart(title: &str, subtitle: &str, curves: Vec<(String, Vec<(f64, f64)>)>) -> Chart {
    let top = curves
        .iter()
        .flat_map(|c| c.1.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    Chart {
        title: title.into(),
        subtitle: subtitle.into(),
        x: XAxis::Ticks(nines_ticks(top)),
        x_label: "percentile (the tail spread out: 90 %, 99 %, 99.9 % equally apart)".into(),
        y_label: "latency".into(),
        y_unit: Unit::Micros,
        y_log: None,
        series: curves
            .into_iter()
            .map(|(n, p)| Series::new(n, p, Style::Line))
            .collect(),
        marks: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_curve_rises_from_min_to_max() {
        let mut l = Latency::new();
        for i in 1..=10_000u64 {
            l.record(Duration::from_micros(i));
        }
        let c = curve(&l.to_base64()).unwrap();
        assert!(c.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        assert!((c[0].1 - 1.0).abs() < 0.01, "{:?}", c[0]);
        let last = c.last().unwrap();
        assert_eq!(last.0, 4.0);
        assert!((last.1 - 10_000.0).abs() < 10.0, "{last:?}");
        // At one nine, the 90th percentile.
        let p90 = c.iter().find(|p| (p.0 - 1.0).abs() < 1e-9).unwrap();
        assert!((p90.1 - 9000.0).abs() < 10.0, "{p90:?}");
        assert_eq!(curve(""), None);
        assert_eq!(curve("not base64"), None);
    }

    #[test]
    fn nines_ticks_read_as_percentiles() {
        let t: Vec<String> = nines_ticks(3.0).into_iter().map(|p| p.1).collect();
        assert_eq!(t, ["0%", "50%", "90%", "99%", "99.9%"]);
        assert_eq!(nines_ticks(3.9).len(), 5, "no tick past the data");
    }

    #[test]
    fn per_case_leaves_out_what_no_case_has() {
        let a = Pcts {
            p50: Some(10.0),
            max: Some(50.0),
            ..Default::default()
        };
        let b = Pcts {
            p50: Some(12.0),
            ..Default::default()
        };
        let c = per_case("t", "", vec!["a".into(), "b".into()], &[a, b]);
        let names: Vec<&str> = c.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["p50", "max"]);
        assert_eq!(c.series[0].points, [(0.0, 10.0), (1.0, 12.0)]);
    }
}
