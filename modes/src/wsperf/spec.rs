//! wsperfcontrol spec: the original's layout (`options`, `servers`, `testsets` of mode
//! `echo` with testset `options` and per-case values overriding them) plus our own keys.

use serde::{Deserialize, Serialize};

use super::probe::ProbeConfig;
pub use crate::spec::Server;
use crate::{ModeError, Result};

/// The template written when the spec file is missing (`{url}` is the target).
pub const TEMPLATE: &str = r#"{
   "options": {
      "debug": false
   },
   "servers": [
      {
         "name": "wstest-echoserver",
         "uri": "{url}",
         "desc": "wstest echoserver (started in-process when nothing answers there)"
      }
   ],
   "testsets": [
      {
         "mode": "echo",
         "options": {
            "outfile": "report_echo.txt",
            "digits": 0,
            "sep": "\t",
            "rtts": false,
            "quantile_count": 10,

            "count": 1000,
            "timeout": 100000,
            "binary": false,
            "sync": true,
            "verify": false
         },
         "cases": [
            {"size": 0},
            {"size": 64},
            {"size": 1024},
            {"count": 100, "size": 524288},
            {"size": 64, "connections": 8, "sync": false, "window": 16, "warmup": 100}
         ]
      }
   ]
}
"#;

pub const KEYS: &[&str] = &["options", "servers", "testsets"];

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Spec {
    pub options: SpecOptions,
    pub servers: Vec<Server>,
    pub testsets: Vec<Testset>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SpecOptions {
    pub debug: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Testset {
    pub mode: String,
    #[serde(default)]
    pub options: Params,
    pub cases: Vec<Params>,
}

/// Values a testset's `options` set for all its cases and a case may override.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Params {
    // Output (testset level).
    pub outfile: Option<String>,
    pub digits: Option<u32>,
    pub sep: Option<String>,
    pub rtts: Option<bool>,
    pub quantile_count: Option<usize>,
    // The original's per-case values.
    pub count: Option<u64>,
    pub size: Option<usize>,
    /// Milliseconds.
    pub timeout: Option<u64>,
    pub binary: Option<bool>,
    pub sync: Option<bool>,
    pub verify: Option<bool>,
    // Ours.
    pub connections: Option<usize>,
    pub window: Option<usize>,
    pub rate: Option<f64>,
    pub duration: Option<f64>,
    pub warmup: Option<u64>,
    pub threads: Option<usize>,
}

macro_rules! pick {
    ($case:expr, $set:expr, $f:ident, $default:expr) => {
        $case.$f.clone().or($set.$f.clone()).unwrap_or($default)
    };
}

/// Output settings of a testset.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    pub outfile: Option<String>,
    pub digits: u32,
    pub sep: String,
    pub rtts: bool,
    pub quantile_count: usize,
}

impl Testset {
    pub fn output(&self) -> Output {
        let o = &self.options;
        Output {
            outfile: o.outfile.clone(),
            digits: o.digits.unwrap_or(0),
            sep: o.sep.clone().unwrap_or_else(|| "\t".into()),
            rtts: o.rtts.unwrap_or(false),
            quantile_count: o.quantile_count.unwrap_or(10),
        }
    }

    /// The measurement for case `case` against `server`.
    pub fn probe(&self, case: &Params, server: &Server) -> ProbeConfig {
        let set = &self.options;
        let count = pick!(case, set, count, 1000);
        let sync = pick!(case, set, sync, true);
        // Not sync: the original's wsperf sent every message without waiting.
        let window =
            case.window
                .or(set.window)
                .unwrap_or(if sync { 1 } else { count.max(1) as usize });
        ProbeConfig {
            url: server.uri.clone(),
            connections: pick!(case, set, connections, 1),
            count,
            size: pick!(case, set, size, 64),
            binary: pick!(case, set, binary, false),
            window,
            rate: case.rate.or(set.rate),
            duration: case.duration.or(set.duration),
            warmup: pick!(case, set, warmup, 0),
            timeout_ms: pick!(case, set, timeout, 100_000),
            verify: pick!(case, set, verify, false),
            rtts: case.rtts.or(set.rtts).unwrap_or(false),
            threads: pick!(case, set, threads, 0),
        }
    }
}

/// The largest message a case may ask for: the default message limit of every server mode
/// and of the probe itself.
pub const MAX_SIZE: u64 = 64 << 20;
/// Connections one probe process may open.
pub const MAX_CONNECTIONS: u64 = 100_000;
/// Messages in flight on one connection.
pub const MAX_WINDOW: u64 = 65_536;
/// Messages in flight over all connections (the probe keeps a send time for each).
pub const MAX_IN_FLIGHT: u64 = 10_000_000;
/// Round trips per case, per connection.
pub const MAX_COUNT: u64 = 1_000_000_000_000;
/// Seconds a case may last, and the longest timeout (a week).
pub const MAX_SECONDS: f64 = 7.0 * 86_400.0;
/// Messages per second over all connections.
pub const MAX_RATE: f64 = 1e9;
/// Worker threads.
pub const MAX_THREADS: u64 = 4096;
/// Quantile columns and digits after the point.
pub const MAX_QUANTILES: u64 = 1000;
pub const MAX_DIGITS: u64 = 9;

/// Where in which spec: its name, and the path to the level checked.
type At<'a> = (&'a str, &'a str);

/// A number of the spec against its bounds, the key named in the error.
fn check_int(at: At, key: &str, v: Option<u64>, min: u64, max: u64) -> Result<()> {
    match v {
        Some(v) if v < min || v > max => Err(ModeError::spec(
            at.0,
            format!("{}: \"{key}\" is {v}, outside {min}..={max}", at.1),
        )),
        _ => Ok(()),
    }
}

fn check_float(at: At, key: &str, v: Option<f64>, max: f64) -> Result<()> {
    match v {
        Some(v) if !(v > 0.0 && v <= max) => Err(ModeError::spec(
            at.0,
            format!(
                "{}: \"{key}\" is {v}, must be more than 0 and at most {max}",
                at.1
            ),
        )),
        _ => Ok(()),
    }
}

impl Params {
    /// Every number this level sets, within its bounds (a testset's `options` and each
    /// case are checked, so the error names the level that set it).
    fn check(&self, at: At) -> Result<()> {
        let u = |v: Option<usize>| v.map(|v| v as u64);
        check_int(at, "size", u(self.size), 0, MAX_SIZE)?;
        check_int(at, "connections", u(self.connections), 1, MAX_CONNECTIONS)?;
        check_int(at, "window", u(self.window), 1, MAX_WINDOW)?;
        check_int(at, "count", self.count, 0, MAX_COUNT)?;
        check_int(at, "warmup", self.warmup, 0, MAX_COUNT)?;
        check_int(
            at,
            "timeout",
            self.timeout,
            1,
            (MAX_SECONDS * 1000.0) as u64,
        )?;
        check_int(at, "threads", u(self.threads), 0, MAX_THREADS)?;
        check_int(
            at,
            "quantile_count",
            u(self.quantile_count),
            1,
            MAX_QUANTILES,
        )?;
        check_int(at, "digits", self.digits.map(u64::from), 0, MAX_DIGITS)?;
        check_float(at, "rate", self.rate, MAX_RATE)?;
        check_float(at, "duration", self.duration, MAX_SECONDS)
    }
}

impl Spec {
    /// Checks serde cannot express: every number within its bounds (a spec is input, and
    /// `"size": 1099511627776` must be an error naming the key, not an out-of-memory kill).
    pub fn validate(&self, name: &str) -> Result<()> {
        if self.servers.is_empty() {
            return Err(ModeError::spec(name, "\"servers\" is empty"));
        }
        for (i, t) in self.testsets.iter().enumerate() {
            if t.mode != "echo" {
                return Err(ModeError::spec(
                    name,
                    format!(
                        "testsets[{i}]: mode {:?} is not supported (only \"echo\")",
                        t.mode
                    ),
                ));
            }
            t.options.check((name, &format!("testsets[{i}].options")))?;
            for (j, c) in t.cases.iter().enumerate() {
                let at = format!("testsets[{i}].cases[{j}]");
                c.check((name, &at))?;
                for s in &self.servers {
                    let p = t.probe(c, s);
                    if p.count == 0 && p.duration.is_none() {
                        return Err(ModeError::spec(
                            name,
                            format!("{at}: count is 0 and no duration"),
                        ));
                    }
                    let in_flight = p.connections as u64 * p.window as u64;
                    if in_flight > MAX_IN_FLIGHT {
                        return Err(ModeError::spec(
                            name,
                            format!("{at}: connections × window is {in_flight}, more than {MAX_IN_FLIGHT} messages in flight"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_and_cases_override_the_testset() {
        let text = TEMPLATE.replace("{url}", "ws://127.0.0.1:1");
        let spec: Spec = serde_json::from_str(&text).unwrap();
        spec.validate("t").unwrap();
        let t = &spec.testsets[0];
        let s = &spec.servers[0];
        let big = t.probe(&t.cases[3], s);
        assert_eq!((big.count, big.size, big.window), (100, 524288, 1));
        assert_eq!(big.timeout_ms, 100_000);
        let piped = t.probe(&t.cases[4], s);
        assert_eq!(
            (piped.connections, piped.window, piped.warmup),
            (8, 16, 100)
        );
        assert_eq!(t.output().sep, "\t");
    }

    #[test]
    fn unsynchronised_without_window_sends_everything() {
        let t: Testset = serde_json::from_str(
            r#"{"mode":"echo","options":{"sync":false,"count":50},"cases":[{}]}"#,
        )
        .unwrap();
        let s = Server {
            name: "x".into(),
            uri: "ws://h:1".into(),
            desc: String::new(),
        };
        assert_eq!(t.probe(&t.cases[0], &s).window, 50);
    }

    #[test]
    fn every_number_is_bounded_and_the_error_names_its_key() {
        let spec = |case: &str| -> Spec {
            serde_json::from_str(&format!(
                r#"{{"servers":[{{"name":"s","uri":"ws://h:1"}}],"testsets":[{{"mode":"echo","cases":[{case}]}}]}}"#
            ))
            .unwrap()
        };
        for (case, key) in [
            (r#"{"size": 1099511627776}"#, "\"size\""),
            (r#"{"connections": 0}"#, "\"connections\""),
            (r#"{"connections": 1000000}"#, "\"connections\""),
            (r#"{"window": 0}"#, "\"window\""),
            (r#"{"window": 1000000}"#, "\"window\""),
            (r#"{"rate": 0}"#, "\"rate\""),
            (r#"{"rate": -5}"#, "\"rate\""),
            (r#"{"duration": 1e9}"#, "\"duration\""),
            (r#"{"timeout": 0}"#, "\"timeout\""),
            (r#"{"threads": 100000}"#, "\"threads\""),
            (r#"{"count": 0}"#, "count is 0"),
            (r#"{"connections": 10000, "window": 10000}"#, "in flight"),
        ] {
            let e = spec(case).validate("x.json").unwrap_err().to_string();
            assert!(e.contains(key) && e.contains("cases[0]"), "{case}: {e}");
        }
        let ok = spec(r#"{"size": 16777216, "connections": 16, "window": 32, "rate": 1000}"#);
        ok.validate("x.json").unwrap();
    }

    #[test]
    fn unknown_case_keys_are_errors() {
        let e = serde_json::from_str::<Testset>(r#"{"mode":"echo","cases":[{"sizes":1}]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("sizes") && e.contains("line 1"), "{e}");
    }
}
