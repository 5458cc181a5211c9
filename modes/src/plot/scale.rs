//! Axis scales: tick values that are nice round numbers (1, 2 or 5 times a power of ten),
//! linear or logarithmic, and the labels the ticks carry.

/// How values on an axis read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Microseconds, labelled µs, ms or s as the value calls for.
    Micros,
    /// Counts and rates: 950, 1.2k, 3M.
    Count,
}

impl Unit {
    /// A tick or table label for `v`.
    pub fn label(self, v: f64) -> String {
        match self {
            Unit::Micros => {
                let a = v.abs();
                if a >= 1e6 {
                    format!("{} s", short(v / 1e6))
                } else if a >= 1e3 {
                    format!("{} ms", short(v / 1e3))
                } else {
                    format!("{} µs", short(v))
                }
            }
            Unit::Count => {
                let a = v.abs();
                if a >= 1e9 {
                    format!("{}G", short(v / 1e9))
                } else if a >= 1e6 {
                    format!("{}M", short(v / 1e6))
                } else if a >= 1e4 {
                    format!("{}k", short(v / 1e3))
                } else {
                    short(v)
                }
            }
        }
    }
}

/// At most three significant digits, no trailing zeros: 1, 2.5, 12.5, 125, 0.05.
pub fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".into();
    }
    let digits = (2 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// A percentage with as many decimals as its nines need: 90, 99, 99.9, 99.99.
pub fn short_pct(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// An axis: the range it spans and where its ticks are.
#[derive(Clone, Debug, PartialEq)]
pub struct Scale {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    pub ticks: Vec<f64>,
}

impl Scale {
    /// Where `v` falls, from 0 (at `lo`) to 1 (at `hi`).
    pub fn frac(&self, v: f64) -> f64 {
        if self.log {
            let v = v.max(self.lo);
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    /// The scale for values from `min` to `max`: logarithmic when all are positive and
    /// `max` is at least `LOG_SPREAD` times `min` (a linear axis would squash the small ones
    /// into its floor), linear from zero otherwise.
    pub fn auto(min: f64, max: f64, log: Option<bool>) -> Scale {
        let log = log.unwrap_or(min > 0.0 && max / min >= LOG_SPREAD);
        if log && min > 0.0 {
            log_scale(min, max)
        } else {
            linear_scale(min.min(0.0), max, 6)
        }
    }
}

/// max / min from which an automatic y axis is logarithmic.
pub const LOG_SPREAD: f64 = 30.0;

/// A step of 1, 2 or 5 times a power of ten, near `range / target`.
pub fn nice_step(range: f64, target: usize) -> f64 {
    let raw = range / target.max(1) as f64;
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// A linear axis covering `min..=max` whose ends are ticks, with about `target` steps.
pub fn linear_scale(min: f64, max: f64, target: usize) -> Scale {
    let (min, max) = if max > min {
        (min, max)
    } else if max == 0.0 {
        (0.0, 1.0)
    } else {
        (min.min(0.0), max.abs().max(min.abs()))
    };
    let step = nice_step(max - min, target);
    let first = (min / step).floor() as i64;
    let last = (max / step).ceil() as i64;
    // Multiples of the step, computed from integers so that 0.1 + 0.2 does not creep in.
    let ticks: Vec<f64> = (first..=last)
        .map(|i| round_to(i as f64 * step, step))
        .collect();
    Scale {
        lo: ticks[0],
        hi: *ticks.last().expect("at least one tick"),
        log: false,
        ticks,
    }
}

/// `v` rounded to the decimals that `step` has.
fn round_to(v: f64, step: f64) -> f64 {
    let decimals = (-step.log10().floor()).max(0.0) as i32;
    let k = 10f64.powi(decimals);
    (v * k).round() / k
}

/// A logarithmic axis from the power of ten at or below `min` to the one at or above
/// `max`: a tick at each power of ten, and at 2 and 5 times them when it spans at most two
/// decades; every other power of ten past eight decades.
pub fn log_scale(min: f64, max: f64) -> Scale {
    let min = min.max(f64::MIN_POSITIVE);
    let max = max.max(min);
    let lo_e = min.log10().floor() as i32;
    let mut hi_e = max.log10().ceil() as i32;
    // A value a hair over a power of ten (binary error) does not open another decade.
    if 10f64.powi(hi_e - 1) * (1.0 + 1e-9) >= max {
        hi_e -= 1;
    }
    if hi_e <= lo_e {
        hi_e = lo_e + 1;
    }
    let decades = hi_e - lo_e;
    let every = if decades > 8 { 2 } else { 1 };
    let mut ticks = Vec::new();
    for e in lo_e..=hi_e {
        let p = 10f64.powi(e);
        if (e - lo_e) % every == 0 {
            ticks.push(p);
        }
        if decades <= 2 && e < hi_e {
            ticks.extend([2.0 * p, 5.0 * p]);
        }
    }
    Scale {
        lo: 10f64.powi(lo_e),
        hi: 10f64.powi(hi_e),
        log: true,
        ticks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mantissa_is_nice(step: f64) -> bool {
        let m = step / 10f64.powf(step.log10().floor());
        [1.0, 2.0, 5.0, 10.0].iter().any(|n| (m - n).abs() < 1e-9)
    }

    proptest! {
        #[test]
        fn linear_ticks_cover_the_data_in_nice_even_steps(
            a in -1e7f64..1e7, span in 1e-3f64..1e7, target in 2usize..10
        ) {
            let s = linear_scale(a, a + span, target);
            prop_assert!(s.lo <= a && s.hi >= a + span, "{s:?}");
            prop_assert!(s.ticks.len() >= 2 && s.ticks.len() <= 2 * target + 2, "{s:?}");
            let step = s.ticks[1] - s.ticks[0];
            prop_assert!(mantissa_is_nice(step), "step {step}");
            for w in s.ticks.windows(2) {
                prop_assert!(((w[1] - w[0]) - step).abs() <= step * 1e-6, "{s:?}");
            }
            // Every tick is a whole multiple of the step.
            for t in &s.ticks {
                let k = t / step;
                prop_assert!((k - k.round()).abs() < 1e-6, "{t} / {step}");
            }
        }

        #[test]
        fn log_ticks_are_powers_of_ten_or_two_and_five_times_them(
            min in 1e-3f64..1e6, spread in 1.0f64..1e6
        ) {
            let max = min * spread;
            let s = log_scale(min, max);
            prop_assert!(s.lo <= min * (1.0 + 1e-9) && s.hi >= max * (1.0 - 1e-9), "{s:?} {min} {max}");
            prop_assert!(s.ticks.len() >= 2, "{s:?}");
            for t in &s.ticks {
                let m = t / 10f64.powf(t.log10().floor());
                prop_assert!([1.0, 2.0, 5.0].iter().any(|n| (m - n).abs() < 1e-6), "{t}");
                prop_assert!(*t >= s.lo * (1.0 - 1e-9) && *t <= s.hi * (1.0 + 1e-9));
            }
            prop_assert!(s.ticks.windows(2).all(|w| w[0] < w[1]));
        }

        #[test]
        fn frac_maps_the_ends_to_zero_and_one(min in 1e-2f64..1e5, spread in 1.5f64..1e5) {
            for s in [linear_scale(0.0, min * spread, 5), log_scale(min, min * spread)] {
                prop_assert!(s.frac(s.lo).abs() < 1e-9);
                prop_assert!((s.frac(s.hi) - 1.0).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn examples() {
        assert_eq!(
            linear_scale(0.0, 97.0, 5).ticks,
            [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(linear_scale(0.0, 0.3, 3).ticks, [0.0, 0.1, 0.2, 0.3]);
        assert_eq!(linear_scale(0.0, 0.0, 5).ticks.last(), Some(&1.0));
        assert_eq!(
            log_scale(35.0, 4200.0).ticks,
            [10.0, 100.0, 1000.0, 10000.0]
        );
        assert_eq!(
            log_scale(3.0, 70.0).ticks,
            [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
        );
        assert_eq!(
            log_scale(100.0, 1000.0).ticks,
            [100.0, 200.0, 500.0, 1000.0]
        );
        assert!(!Scale::auto(10.0, 200.0, None).log);
        assert!(Scale::auto(10.0, 20_000.0, None).log);
        assert!(!Scale::auto(0.0, 20_000.0, None).log);
    }

    #[test]
    fn labels() {
        assert_eq!(Unit::Micros.label(250.0), "250 µs");
        assert_eq!(Unit::Micros.label(1500.0), "1.5 ms");
        assert_eq!(Unit::Micros.label(2_000_000.0), "2 s");
        assert_eq!(Unit::Micros.label(0.5), "0.5 µs");
        assert_eq!(Unit::Count.label(950.0), "950");
        assert_eq!(Unit::Count.label(12_500.0), "12.5k");
        assert_eq!(Unit::Count.label(3_000_000.0), "3M");
        assert_eq!(short(12.345), "12.3");
        assert_eq!(short(0.05), "0.05");
        assert_eq!(short(-0.0), "0");
        assert_eq!(short_pct(99.9), "99.9");
        assert_eq!(short_pct(90.0), "90");
    }
}
