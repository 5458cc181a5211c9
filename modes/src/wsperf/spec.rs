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

impl Spec {
    /// Checks serde cannot express.
    pub fn validate(&self, name: &str) -> Result<()> {
        if self.servers.is_empty() {
            return Err(ModeError::Config(format!(
                "spec {name}: \"servers\" is empty"
            )));
        }
        for (i, t) in self.testsets.iter().enumerate() {
            if t.mode != "echo" {
                return Err(ModeError::Config(format!(
                    "spec {name}: testsets[{i}]: mode {:?} is not supported (only \"echo\")",
                    t.mode
                )));
            }
            if t.output().quantile_count == 0 {
                return Err(ModeError::Config(format!(
                    "spec {name}: testsets[{i}]: quantile_count must be at least 1"
                )));
            }
            for (j, c) in t.cases.iter().enumerate() {
                for s in &self.servers {
                    let p = t.probe(c, s);
                    if p.rate.is_some_and(|r| r <= 0.0) || p.duration.is_some_and(|d| d <= 0.0) {
                        return Err(ModeError::Config(format!(
                            "spec {name}: testsets[{i}].cases[{j}]: rate and duration must be positive"
                        )));
                    }
                    if p.count == 0 && p.duration.is_none() {
                        return Err(ModeError::Config(format!(
                            "spec {name}: testsets[{i}].cases[{j}]: count is 0 and no duration"
                        )));
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
    fn unknown_case_keys_are_errors() {
        let e = serde_json::from_str::<Testset>(r#"{"mode":"echo","cases":[{"sizes":1}]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("sizes") && e.contains("line 1"), "{e}");
    }
}
