//! A run's verdicts against expectations, as CI pipelines check them: a stored `index.json`
//! (`--expected`, `wstest compare`: behavior and behaviorClose per agent and case must be
//! the same, durations and report files aside) and a set of accepted verdicts (`--accept
//! OK,INFORMATIONAL,NON-STRICT`: every case's behavior and behaviorClose must be in it).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use super::case::{id_tuple, Behavior};
use crate::{ModeError, Result};

/// Verdicts: agent → case id → (behavior, behaviorClose).
pub type Verdicts = BTreeMap<String, BTreeMap<String, (String, String)>>;

/// Read the verdicts of an `index.json` (ours or the original's).
pub fn load(path: &Path) -> Result<Verdicts> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ModeError::io(format!("cannot read {}", path.display()), e))?;
    parse(&text).map_err(|e| {
        ModeError::Config(crate::error::ConfigError::File {
            file: path.display().to_string(),
            problem: e.to_string(),
        })
    })
}

/// The verdicts of `index.json` text.
pub fn parse(text: &str) -> std::result::Result<Verdicts, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not an index.json: {e}"))?;
    let agents = v.as_object().ok_or("not an index.json: not an object")?;
    let mut out = Verdicts::new();
    for (agent, cases) in agents {
        let cases = cases
            .as_object()
            .ok_or_else(|| format!("agent {agent:?}: not an object of cases"))?;
        let m = out.entry(agent.clone()).or_default();
        for (id, c) in cases {
            let field = |k: &str| {
                c[k].as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("agent {agent:?}, case {id}: no {k:?}"))
            };
            m.insert(id.clone(), (field("behavior")?, field("behaviorClose")?));
        }
    }
    Ok(out)
}

/// One case whose verdicts differ (`None`: the case is missing on that side).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub agent: String,
    pub case: String,
    pub expected: Option<(String, String)>,
    pub actual: Option<(String, String)>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<(String, String)>| match v {
            Some((b, c)) => format!("{b} / {c}"),
            None => "(not run)".into(),
        };
        write!(
            f,
            "{} {}: expected {}, got {}",
            self.agent,
            self.case,
            show(&self.expected),
            show(&self.actual)
        )
    }
}

/// The differences between `expected` and `actual` over the agents `agents` (every agent of
/// either when `None`), in case order.
pub fn compare(
    expected: &Verdicts,
    actual: &Verdicts,
    agents: Option<&BTreeSet<String>>,
) -> Vec<Difference> {
    let names: BTreeSet<&String> = match agents {
        Some(a) => a.iter().collect(),
        None => expected.keys().chain(actual.keys()).collect(),
    };
    let empty = BTreeMap::new();
    let mut out = Vec::new();
    for agent in names {
        let (e, a) = (
            expected.get(agent).unwrap_or(&empty),
            actual.get(agent).unwrap_or(&empty),
        );
        let mut ids: Vec<&String> = e.keys().chain(a.keys()).collect();
        ids.sort_by_key(|i| id_tuple(i));
        ids.dedup();
        for id in ids {
            let (ev, av) = (e.get(id), a.get(id));
            if ev != av {
                out.push(Difference {
                    agent: agent.clone(),
                    case: id.clone(),
                    expected: ev.cloned(),
                    actual: av.cloned(),
                });
            }
        }
    }
    out
}

/// `--accept` list: verdict names, comma separated.
pub fn parse_accept(list: &str) -> std::result::Result<BTreeSet<Behavior>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            Behavior::from_name(s).ok_or_else(|| {
                format!(
                    "--accept: {s:?} is not a verdict (OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED, WRONG CODE, UNCLEAN, FAILED BY CLIENT)"
                )
            })
        })
        .collect()
}

/// The cases of `agents` whose behavior or behaviorClose is not in `accepted`.
pub fn outside(
    actual: &Verdicts,
    agents: &BTreeSet<String>,
    accepted: &BTreeSet<Behavior>,
) -> Vec<String> {
    let ok = |name: &str| Behavior::from_name(name).is_some_and(|b| accepted.contains(&b));
    let mut out = Vec::new();
    for agent in agents {
        let Some(cases) = actual.get(agent) else {
            continue;
        };
        let mut ids: Vec<&String> = cases.keys().collect();
        ids.sort_by_key(|i| id_tuple(i));
        for id in ids {
            let (b, c) = &cases[id];
            if !ok(b) || !ok(c) {
                out.push(format!("{agent} {id}: {b} / {c}"));
            }
        }
    }
    out
}

/// `wstest compare EXPECTED ACTUAL`: the cases whose verdicts differ.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Comparison {
    pub expected: String,
    pub actual: String,
    pub differences: Vec<String>,
}

pub fn compare_files(files: &[String]) -> Result<Comparison> {
    let [expected, actual] = files else {
        return Err(ModeError::usage(
            "compare needs two index.json files: wstest compare EXPECTED.json ACTUAL.json",
        ));
    };
    let differences = compare(&load(Path::new(expected))?, &load(Path::new(actual))?, None)
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(Comparison {
        expected: expected.clone(),
        actual: actual.clone(),
        differences,
    })
}

impl crate::report::Outcome for Comparison {
    fn summary(&self) -> String {
        if self.differences.is_empty() {
            "verdicts as expected".into()
        } else {
            self.differences.join("\n")
        }
    }

    fn outcome(&self) -> Result<()> {
        match self.differences.len() {
            0 => Ok(()),
            n => Err(crate::error::Failure::CasesDiffer(n).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{"a": {"1.1.1": {"behavior": "OK", "behaviorClose": "OK", "duration": 2, "remoteCloseCode": 1000, "reportfile": "a_case_1_1_1.json"},
                               "2.1": {"behavior": "NON-STRICT", "behaviorClose": "OK", "duration": 9, "remoteCloseCode": null, "reportfile": "x"}}}"#;

    #[test]
    fn durations_do_not_count_verdicts_do() {
        let e = parse(INDEX).unwrap();
        let same = parse(&INDEX.replace("\"duration\": 2", "\"duration\": 7")).unwrap();
        assert!(compare(&e, &same, None).is_empty());
        let changed = parse(&INDEX.replace("NON-STRICT", "FAILED")).unwrap();
        let d = compare(&e, &changed, None);
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].to_string(),
            "a 2.1: expected NON-STRICT / OK, got FAILED / OK"
        );
        // A case that was not run is a difference too.
        let mut missing = e.clone();
        missing.get_mut("a").unwrap().remove("1.1.1");
        assert_eq!(compare(&e, &missing, None)[0].actual, None);
        // Agents outside the filter are not compared.
        let only_b: BTreeSet<String> = ["b".to_string()].into();
        assert!(compare(&e, &changed, Some(&only_b)).is_empty());
    }

    #[test]
    fn accepted_verdicts() {
        let acc = parse_accept("OK, INFORMATIONAL").unwrap();
        let v = parse(INDEX).unwrap();
        let agents: BTreeSet<String> = ["a".to_string()].into();
        assert_eq!(outside(&v, &agents, &acc), ["a 2.1: NON-STRICT / OK"]);
        let acc = parse_accept("OK,NON-STRICT,INFORMATIONAL").unwrap();
        assert!(outside(&v, &agents, &acc).is_empty());
        assert!(parse_accept("OK,GOOD").is_err());
    }
}
