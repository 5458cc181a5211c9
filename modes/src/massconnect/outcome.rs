//! What a massconnect run (or a merge of several agents' runs) says when it ends, and
//! whether it reached its target.

use super::report::{tsv, MassReport, MergedReport, ServerResult};
use crate::error::Failure;
use crate::report::{stopped_or_unreachable, Outcome};
use crate::Result;

impl ServerResult {
    /// Open connections, handshakes/s, how fast the ramp got there and what it cost.
    pub fn summary(&self) -> String {
        let ramp = match (self.seconds_to_90, self.seconds_to_99) {
            (Some(a), Some(b)) if self.reached => format!(
                ", 90/99/100 % open after {a:.3}/{b:.3}/{:.3} s",
                self.seconds
            ),
            _ => String::new(),
        };
        let memory = self
            .memory_per_connection
            .map(|m| format!(", {m:.0} B/connection user-space"))
            .unwrap_or_default();
        let fastopen = if self.fastopen_checked > 0 {
            format!(
                ", TCP Fast Open taken on {} of {} handshakes checked",
                self.fastopen, self.fastopen_checked
            )
        } else {
            String::new()
        };
        format!(
            "{}: {} of {} open, {:.0} handshakes/s{ramp}, connect p50 {:.2} ms, handshake p50 {:.2} ms{memory}{fastopen}",
            self.name,
            self.connected,
            self.target,
            self.handshakes_per_sec,
            self.connect_latency.median_us / 1000.0,
            self.handshake_latency.median_us / 1000.0,
        )
    }
}

impl MassReport {
    /// A server no handshake ever succeeded with could not be reached at all.
    fn unreachable(&self) -> Vec<String> {
        self.servers
            .iter()
            .filter(|s| s.handshakes == 0)
            .map(|s| {
                let errs: Vec<String> = s.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
                format!("cannot connect to {}: {}", s.uri, errs.join(", "))
            })
            .collect()
    }
}

impl Outcome for MassReport {
    fn summary(&self) -> String {
        let lines: Vec<String> = self.servers.iter().map(ServerResult::summary).collect();
        lines.join("\n")
    }

    fn outcome(&self) -> Result<()> {
        stopped_or_unreachable(self.interrupted, &self.unreachable())?;
        let short: Vec<String> = self
            .servers
            .iter()
            .filter(|s| !s.reached)
            .map(|s| s.name.clone())
            .collect();
        if !short.is_empty() {
            return Err(Failure::TargetNotReached(short).into());
        }
        Ok(())
    }

    fn tsv(&self) -> Option<String> {
        Some(tsv(self))
    }
}

impl Outcome for MergedReport {
    fn summary(&self) -> String {
        let lines: Vec<String> = self
            .0
            .servers
            .iter()
            .map(|s| format!("{} ({} agents)", s.line(), s.agents))
            .collect();
        lines.join("\n")
    }

    fn tsv(&self) -> Option<String> {
        Some(tsv(&self.0))
    }
}
