//! What a fuzzing run's verdicts add up to, for both fuzzers: which verdicts pass, one
//! agent's summary (counts, failing cases), and whether a run passed.

use std::collections::BTreeMap;

use serde::Serialize;

use super::case::Behavior;
use super::store::Store;

/// Is this (behavior, behaviorClose) a pass? Passing: behavior OK, NON-STRICT,
/// INFORMATIONAL or UNIMPLEMENTED and the close OK or INFORMATIONAL.
pub fn passes(b: Behavior, c: Behavior) -> bool {
    matches!(
        b,
        Behavior::Ok | Behavior::NonStrict | Behavior::Informational | Behavior::Unimplemented
    ) && matches!(c, Behavior::Ok | Behavior::Informational)
}

/// Is it a pass under `--strict` (only OK, informational cases aside)?
pub fn strictly_ok(b: Behavior, c: Behavior) -> bool {
    matches!(b, Behavior::Ok | Behavior::Informational)
        && matches!(c, Behavior::Ok | Behavior::Informational)
}

/// One agent's outcome.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AgentSummary {
    pub agent: String,
    pub url: String,
    pub cases: usize,
    pub behavior: BTreeMap<String, u64>,
    #[serde(rename = "behaviorClose")]
    pub behavior_close: BTreeMap<String, u64>,
    /// Cases whose behavior or close verdict is not a pass.
    pub failing: Vec<String>,
    /// Cases that were not OK (strictly).
    pub not_ok: Vec<String>,
    pub seconds: f64,
    /// Why the server could not be tested at all.
    pub error: Option<String>,
}

impl AgentSummary {
    /// What the store holds for `agent` among the cases `ids` (in that order).
    pub fn from_store(store: &Store, agent: &str, ids: &[String]) -> AgentSummary {
        let (b, c) = store.counts(agent);
        let mut s = AgentSummary {
            agent: agent.to_string(),
            behavior: names(b),
            behavior_close: names(c),
            ..Default::default()
        };
        for id in ids {
            let Some(v) = store.has(agent, id) else {
                continue;
            };
            s.cases += 1;
            if !passes(v.behavior, v.behavior_close) {
                s.failing.push(id.clone());
            }
            if !strictly_ok(v.behavior, v.behavior_close) {
                s.not_ok.push(id.clone());
            }
        }
        s
    }

    /// Did every case pass (and was the server tested at all)?
    pub fn passed(&self, strict: bool) -> bool {
        self.error.is_none() && self.failing.is_empty() && (!strict || self.not_ok.is_empty())
    }

    /// One line: counts, and the failing cases or why it was not tested.
    pub fn line(&self) -> String {
        let counts = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let status = match &self.error {
            Some(e) => format!(" — not tested: {e}"),
            None if self.failing.is_empty() => String::new(),
            None => format!(" — failing: {}", self.failing.join(" ")),
        };
        format!(
            "{}: {} cases{} | behavior: {} | behaviorClose: {}{status}",
            self.agent,
            self.cases,
            if self.seconds > 0.0 {
                format!(" in {:.1}s", self.seconds)
            } else {
                String::new()
            },
            counts(&self.behavior),
            counts(&self.behavior_close)
        )
    }
}

fn names(m: BTreeMap<Behavior, u64>) -> BTreeMap<String, u64> {
    m.into_iter()
        .map(|(k, v)| (k.as_str().to_string(), v))
        .collect()
}

/// What a CI pipeline asks of a run besides its verdicts (`--expected`, `--update-expected`,
/// `--accept`, `--junit`).
#[derive(Clone, Debug, Default)]
pub struct Checks {
    /// Compare with this stored index.json.
    pub expected: Option<std::path::PathBuf>,
    /// Write this run's verdicts there instead.
    pub update_expected: bool,
    /// Verdicts that pass (behavior and behaviorClose alike).
    pub accept: Option<std::collections::BTreeSet<Behavior>>,
    /// Write JUnit XML here.
    pub junit: Option<std::path::PathBuf>,
    /// `--strict`.
    pub strict: bool,
}

/// What the checks found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckReport {
    /// Cases whose verdicts differ from the expected ones.
    pub differences: Vec<String>,
    /// Cases with a verdict outside the accepted ones.
    pub outside: Vec<String>,
    pub expected_checked: bool,
    pub accept_checked: bool,
    /// Where the expected verdicts were written (`--update-expected`).
    pub updated: Option<String>,
    /// `--strict`: the pass rule when no check decides.
    #[serde(skip)]
    pub strict: bool,
}

impl CheckReport {
    /// Whether the outcome is decided by the checks (not by the pass rule).
    pub fn decides(&self) -> bool {
        self.expected_checked || self.accept_checked || self.updated.is_some()
    }

    pub fn ok(&self) -> bool {
        self.differences.is_empty() && self.outside.is_empty()
    }

    /// Lines for the summary.
    pub fn lines(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(p) = &self.updated {
            v.push(format!("expected verdicts written to {p}"));
        }
        if self.expected_checked {
            v.push(match self.differences.len() {
                0 => "verdicts as expected".to_string(),
                n => format!("{n} cases differ from the expected verdicts:"),
            });
            v.extend(self.differences.iter().map(|d| format!("  {d}")));
        }
        if self.accept_checked {
            v.push(match self.outside.len() {
                0 => "every verdict accepted".to_string(),
                n => format!("{n} cases have verdicts not accepted:"),
            });
            v.extend(self.outside.iter().map(|d| format!("  {d}")));
        }
        v
    }
}

/// Run the checks on what `store` holds for `agents` (the agents of this run).
pub fn run_checks(
    store: &Store,
    agents: &std::collections::BTreeSet<String>,
    checks: &Checks,
) -> crate::Result<CheckReport> {
    use super::expect;
    let mut r = CheckReport {
        strict: checks.strict,
        ..Default::default()
    };
    if let Some(path) = &checks.junit {
        let strict = checks.strict;
        let xml = super::junit::render(store, agents, |b, c| match &checks.accept {
            Some(acc) => !(acc.contains(&b) && acc.contains(&c)),
            None if strict => !strictly_ok(b, c),
            None => !passes(b, c),
        });
        super::junit::write(path, &xml)?;
    }
    let index = store.outdir.join("index.json");
    let actual = expect::load(&index)?;
    if let Some(path) = &checks.expected {
        if checks.update_expected {
            // This run's agents only, in index.json's own form: earlier agents of the
            // report directory are not ours to freeze.
            let text = store.index_json_of(Some(agents));
            crate::report::write_atomic(path, text.as_bytes())?;
            r.updated = Some(path.display().to_string());
        } else {
            let expected = expect::load(path)?;
            let names: std::collections::BTreeSet<String> =
                agents.iter().chain(expected.keys()).cloned().collect();
            r.differences = expect::compare(&expected, &actual, Some(&names))
                .iter()
                .map(ToString::to_string)
                .collect();
            r.expected_checked = true;
        }
    }
    if let Some(acc) = &checks.accept {
        r.outside = expect::outside(&actual, agents, acc);
        r.accept_checked = true;
    }
    Ok(r)
}
