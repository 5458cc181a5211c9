//! What each fuzzer's run says when it ends, and its exit status: an interrupted run, a
//! server that could not be reached, then the checks asked for (`--expected`, `--accept`)
//! or else the pass rule (`--strict`: only OK).

use super::client::FuzzingReport;
use super::outcome::CheckReport;
use super::server::FuzzingServerReport;
use crate::error::Failure;
use crate::report::{stopped_or_unreachable, Outcome};
use crate::{ModeError, Result};

/// Each agent's line, the checks' lines, `none` when no agent ran, where the reports are.
fn summary_lines(
    agents: &[super::outcome::AgentSummary],
    checks: &CheckReport,
    none: Option<&str>,
    outdir: &str,
) -> String {
    let mut lines: Vec<String> = agents.iter().map(|a| a.line()).collect();
    lines.extend(checks.lines());
    if let Some(none) = none.filter(|_| agents.is_empty()) {
        lines.push(none.into());
    }
    lines.push(format!(
        "reports in {}/index.html",
        outdir.trim_end_matches('/')
    ));
    lines.join("\n")
}

/// Why a run whose cases did not all pass failed.
fn failure(checks: &CheckReport) -> ModeError {
    if checks.decides() {
        Failure::VerdictsUnexpected.into()
    } else {
        Failure::CasesFailed.into()
    }
}

impl Outcome for FuzzingReport {
    fn summary(&self) -> String {
        summary_lines(&self.agents, &self.checks, None, &self.outdir)
    }

    fn outcome(&self) -> Result<()> {
        stopped_or_unreachable(self.interrupted, &self.unreachable())?;
        if !self.passed(self.checks.strict) {
            return Err(failure(&self.checks));
        }
        Ok(())
    }
}

impl Outcome for FuzzingServerReport {
    fn summary(&self) -> String {
        summary_lines(
            &self.agents,
            &self.checks,
            Some("no client ran a case"),
            &self.outdir,
        )
    }

    /// Stopped by a signal or a client, the exit status is the verdicts'.
    fn outcome(&self) -> Result<()> {
        if self.agents.is_empty() {
            return Err(Failure::NoClient.into());
        }
        if !self.passed(self.checks.strict) {
            return Err(failure(&self.checks));
        }
        Ok(())
    }
}
