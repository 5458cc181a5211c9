//! JUnit XML of a fuzzing run (`--junit FILE`), for CI systems that show test reports: one
//! test suite per agent, one test case per case; a case that does not pass is a failure
//! that carries its verdicts, their texts and its report file.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;

use crate::report::xml_escape as esc;

use super::case::{id_tuple, Behavior};
use super::store::Store;

/// The JUnit XML of `agents` in `store`; `fails(behavior, behaviorClose)` says which
/// verdicts are failures.
pub fn render(
    store: &Store,
    agents: &BTreeSet<String>,
    fails: impl Fn(Behavior, Behavior) -> bool,
) -> String {
    let describe = |id: &str| {
        store
            .cases
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.description.clone())
            .unwrap_or_default()
    };
    let mut suites = String::new();
    let (mut tests, mut failures, mut time) = (0usize, 0usize, 0f64);
    for agent in agents {
        let Some(cases) = store.agents.get(agent) else {
            continue;
        };
        let mut ids: Vec<&String> = cases.keys().collect();
        ids.sort_by_key(|i| id_tuple(i));
        let (mut body, mut n_fail, mut t) = (String::new(), 0usize, 0f64);
        for id in &ids {
            let s = &cases[*id];
            let secs = s.duration as f64 / 1000.0;
            t += secs;
            let _ = write!(
                body,
                "    <testcase classname=\"wstest.{}\" name=\"{}\" time=\"{secs:.3}\">",
                esc(agent),
                esc(id)
            );
            if fails(s.behavior, s.behavior_close) {
                n_fail += 1;
                let (result, result_close) = s.results.clone().unwrap_or_default();
                let report = store.outdir.join(&s.reportfile);
                let _ = write!(
                    body,
                    "\n      <failure type=\"{}\" message=\"behavior {}, behaviorClose {}\">{}\nresult: {}\nresultClose: {}\nreport: {}</failure>\n    ",
                    esc(s.behavior.as_str()),
                    esc(s.behavior.as_str()),
                    esc(s.behavior_close.as_str()),
                    esc(&describe(id)),
                    esc(&result),
                    esc(&result_close),
                    esc(&report.with_extension("html").display().to_string()),
                );
            }
            body.push_str("</testcase>\n");
        }
        let _ = write!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{n_fail}\" errors=\"0\" skipped=\"0\" time=\"{t:.3}\">\n{body}  </testsuite>\n",
            esc(agent),
            ids.len(),
        );
        tests += ids.len();
        failures += n_fail;
        time += t;
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"wstest\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.3}\">\n{suites}</testsuites>\n"
    )
}

/// Write the JUnit XML atomically.
pub fn write(path: &Path, xml: &str) -> crate::Result<()> {
    crate::report::write_atomic(path, xml.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_drops_what_xml_cannot_carry() {
        assert_eq!(
            esc("a<b & \"c\"\u{1}\u{7}\n"),
            "a&lt;b &amp; &quot;c&quot;\n"
        );
    }
}
