//! massconnect results: per server, mergeable across agents (`wstest merge`), as JSON, the
//! original's one-line summary, and one TSV row.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wstest_engine::stats::{Latency, Summary};

use crate::{ModeError, Result};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServerResult {
    pub name: String,
    pub uri: String,
    /// Connections asked for (this agent's share).
    pub target: u64,
    /// Connections open at the plateau, or when the ramp ended without reaching it (given
    /// up, interrupted): then those still open at that moment, not the peak.
    pub connected: u64,
    pub reached: bool,
    /// Seconds from the first attempt to the plateau (or to the end of the ramp).
    pub seconds: f64,
    /// Seconds from the first attempt until 50 %, 90 % and 99 % of the target were open at
    /// once (`None`: never). Against `seconds` they show stragglers: a connection whose SYN
    /// or answer was lost waits a second for the kernel's retransmission, and sets the whole
    /// ramp's length. Merged: the latest of the agents' (by then every agent had its share
    /// open, so it bounds the sum's time from above), `None` if any agent has none.
    #[serde(default)]
    pub seconds_to_50: Option<f64>,
    #[serde(default)]
    pub seconds_to_90: Option<f64>,
    #[serde(default)]
    pub seconds_to_99: Option<f64>,
    /// Successful opening handshakes (re-opened connections included).
    pub handshakes: u64,
    pub handshakes_per_sec: f64,
    /// Handshakes completed in each second of the ramp.
    pub timeline: Vec<u64>,
    /// Failed attempts and lost connections in each second of the ramp (absent in results
    /// of older versions). With `timeline`, the open connections second by second.
    #[serde(default)]
    pub failed_timeline: Vec<u64>,
    #[serde(default)]
    pub lost_timeline: Vec<u64>,
    pub failed: u64,
    pub lost: u64,
    pub retries: u64,
    /// Connection slots abandoned (max_retries, or a host limit).
    pub gave_up: u64,
    pub peak: u64,
    pub errors: BTreeMap<String, u64>,
    /// With `fastopen`: plain handshakes checked (each thread's first 64, then one in 64),
    /// and those of them whose request rode in the SYN and was taken by the server.
    #[serde(default)]
    pub fastopen_checked: u64,
    #[serde(default)]
    pub fastopen: u64,
    pub connect_latency: Summary,
    pub handshake_latency: Summary,
    pub connect_histogram: String,
    pub handshake_histogram: String,
    /// User-space memory per open connection at the plateau (resident bytes / connections).
    pub memory_per_connection: Option<f64>,
    /// Why the ramp stopped early (a host limit, with the setting to change).
    pub stopped: Option<String>,
    /// Agents merged into this result.
    pub agents: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MassReport {
    pub servers: Vec<ServerResult>,
    /// `I/N` when this is one shard of a distributed run.
    pub shard: Option<String>,
    /// Stopped by a signal before every server's ramp ended.
    #[serde(default)]
    pub interrupted: bool,
}

/// Several agents' results added up (`wstest merge`): the same report, summed up per server
/// with the number of agents.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(transparent)]
pub struct MergedReport(pub MassReport);

impl ServerResult {
    /// The original's line.
    pub fn line(&self) -> String {
        format!(
            "connected {} clients to {} at {} in {:.3} seconds (retries {} = failed {} + lost {})",
            self.connected, self.name, self.uri, self.seconds, self.retries, self.failed, self.lost
        )
    }

    pub fn latencies(&self) -> Result<(Latency, Latency)> {
        let de = |s: &str| {
            if s.is_empty() {
                Ok(Latency::new())
            } else {
                Latency::from_base64(s).map_err(|e| {
                    ModeError::Config(crate::error::ConfigError::File {
                        file: format!("server {:?}", self.name),
                        problem: e.to_string(),
                    })
                })
            }
        };
        Ok((de(&self.connect_histogram)?, de(&self.handshake_histogram)?))
    }

    pub fn set_latencies(&mut self, c: &Latency, h: &Latency) {
        self.connect_latency = c.summary();
        self.handshake_latency = h.summary();
        self.connect_histogram = c.to_base64();
        self.handshake_histogram = h.to_base64();
    }

    /// Add another agent's result for the same server: counts add, histograms merge exactly,
    /// timelines add second by second (agents started together with --start-at).
    pub fn merge(&mut self, o: &ServerResult) -> Result<()> {
        let (mut c, mut h) = self.latencies()?;
        let (oc, oh) = o.latencies()?;
        c.merge(&oc);
        h.merge(&oh);
        let mem = match (self.memory_per_connection, o.memory_per_connection) {
            (Some(a), Some(b)) if self.connected + o.connected > 0 => Some(
                (a * self.connected as f64 + b * o.connected as f64)
                    / (self.connected + o.connected) as f64,
            ),
            (a, b) => a.or(b),
        };
        self.target += o.target;
        self.connected += o.connected;
        self.reached &= o.reached;
        self.seconds = self.seconds.max(o.seconds);
        let later = |a: Option<f64>, b: Option<f64>| Some(a?.max(b?));
        self.seconds_to_50 = later(self.seconds_to_50, o.seconds_to_50);
        self.seconds_to_90 = later(self.seconds_to_90, o.seconds_to_90);
        self.seconds_to_99 = later(self.seconds_to_99, o.seconds_to_99);
        self.handshakes += o.handshakes;
        self.failed += o.failed;
        self.lost += o.lost;
        self.retries += o.retries;
        self.gave_up += o.gave_up;
        self.fastopen += o.fastopen;
        self.fastopen_checked += o.fastopen_checked;
        self.peak += o.peak;
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        add_timeline(&mut self.timeline, &o.timeline);
        add_timeline(&mut self.failed_timeline, &o.failed_timeline);
        add_timeline(&mut self.lost_timeline, &o.lost_timeline);
        self.memory_per_connection = mem;
        if self.stopped.is_none() {
            self.stopped = o.stopped.clone();
        }
        self.agents += o.agents;
        self.handshakes_per_sec = if self.seconds > 0.0 {
            self.handshakes as f64 / self.seconds
        } else {
            0.0
        };
        self.set_latencies(&c, &h);
        Ok(())
    }
}

/// Add `b` to `a` second by second.
pub fn add_timeline(a: &mut Vec<u64>, b: &[u64]) {
    if a.len() < b.len() {
        a.resize(b.len(), 0);
    }
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

pub const TSV_HEADER: &str = "name\turi\ttarget\tconnected\treached\tseconds\thandshakes_per_s\tretries\tfailed\tlost\tpeak\tconnect_p50_ms\tconnect_p99_ms\thandshake_p50_ms\thandshake_p99_ms\tmem_per_conn_bytes\tseconds_to_50\tseconds_to_90\tseconds_to_99";

pub fn tsv(r: &MassReport) -> String {
    let secs = |t: Option<f64>| t.map(|t| format!("{t:.3}")).unwrap_or_default();
    let mut s = String::from(TSV_HEADER);
    s.push('\n');
    for v in &r.servers {
        s.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{:.3}\t{:.0}\t{}\t{}\t{}\t{}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{}\t{}\t{}\t{}\n",
            v.name,
            v.uri,
            v.target,
            v.connected,
            v.reached,
            v.seconds,
            v.handshakes_per_sec,
            v.retries,
            v.failed,
            v.lost,
            v.peak,
            v.connect_latency.median_us / 1000.0,
            v.connect_latency.p99_us / 1000.0,
            v.handshake_latency.median_us / 1000.0,
            v.handshake_latency.p99_us / 1000.0,
            v.memory_per_connection
                .map(|m| format!("{m:.0}"))
                .unwrap_or_default(),
            secs(v.seconds_to_50),
            secs(v.seconds_to_90),
            secs(v.seconds_to_99),
        ));
    }
    s
}

/// Before a merge: the shards the reports say they are. The same shard twice is an error (its
/// connections would count twice); warnings for shards missing from a run of N, or for
/// reports of runs split differently.
pub fn check_shards(reports: &[(String, MassReport)]) -> Result<Vec<String>> {
    let mut seen: BTreeMap<(u64, u64), &str> = BTreeMap::new();
    let mut counts = std::collections::BTreeSet::new();
    for (file, r) in reports {
        let Some(s) = &r.shard else { continue };
        let Some((i, n)) = s
            .split_once('/')
            .and_then(|(i, n)| Some((i.parse::<u64>().ok()?, n.parse::<u64>().ok()?)))
        else {
            continue;
        };
        if let Some(other) = seen.insert((i, n), file) {
            return Err(ModeError::Config(crate::error::ConfigError::File {
                file: file.clone(),
                problem: format!("{other} is shard {i}/{n} too: its connections would count twice"),
            }));
        }
        counts.insert(n);
    }
    let mut w = Vec::new();
    if counts.len() > 1 {
        w.push(format!(
            "the reports are shards of runs split {} ways: not one run",
            counts
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    } else if let Some(&n) = counts.iter().next() {
        let missing: Vec<String> = (1..=n)
            .filter(|i| !seen.contains_key(&(*i, n)))
            .map(|i| format!("{i}/{n}"))
            .collect();
        if !missing.is_empty() {
            w.push(format!(
                "shard(s) {} missing: the merged result is {} of {n} agents'",
                missing.join(", "),
                seen.len()
            ));
        }
    }
    Ok(w)
}

/// `wstest merge`: add up agents' reports, server by server (matched by name and URI).
/// `wstest merge FILE...`: read each agent's result and add them up.
pub fn merge_files(files: &[String]) -> Result<MergedReport> {
    if files.is_empty() {
        return Err(ModeError::usage(
            "merge needs result files: wstest merge A.json B.json -o merged.json",
        ));
    }
    let mut reports = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).map_err(|e| ModeError::io(format!("cannot read {f}"), e))?;
        let r: MassReport = serde_json::from_str(&text).map_err(|e| {
            ModeError::Config(crate::error::ConfigError::File {
                file: f.clone(),
                problem: format!("not a massconnect result: {e}"),
            })
        })?;
        reports.push((f.clone(), r));
    }
    for w in check_shards(&reports)? {
        eprintln!("merge: warning: {w}");
    }
    Ok(MergedReport(merge_reports(&reports)?))
}

pub fn merge_reports(reports: &[(String, MassReport)]) -> Result<MassReport> {
    let mut out = MassReport::default();
    for (file, r) in reports {
        for s in &r.servers {
            match out
                .servers
                .iter_mut()
                .find(|m| m.name == s.name && m.uri == s.uri)
            {
                Some(m) => m.merge(s).map_err(|e| {
                    ModeError::Config(crate::error::ConfigError::File {
                        file: file.to_string(),
                        problem: e.to_string(),
                    })
                })?,
                None => out.servers.push(s.clone()),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn result(n: u64, base_ms: u64) -> ServerResult {
        let (mut c, mut h) = (Latency::new(), Latency::new());
        for i in 0..n {
            c.record(Duration::from_micros(base_ms * 1000 + i));
            h.record(Duration::from_micros(2 * base_ms * 1000 + i));
        }
        let mut r = ServerResult {
            name: "s".into(),
            uri: "ws://x".into(),
            target: n,
            connected: n,
            reached: true,
            seconds: 1.0,
            seconds_to_50: Some(0.1 * base_ms as f64),
            seconds_to_90: Some(0.2 * base_ms as f64),
            seconds_to_99: Some(0.3 * base_ms as f64),
            handshakes: n,
            timeline: vec![n],
            agents: 1,
            memory_per_connection: Some(500.0),
            ..Default::default()
        };
        r.set_latencies(&c, &h);
        r
    }

    #[test]
    fn shards_are_checked_before_a_merge() {
        let r = |shard: &str| MassReport {
            servers: vec![result(10, 1)],
            shard: Some(shard.into()),
            ..Default::default()
        };
        let all = [
            ("a".into(), r("1/3")),
            ("b".into(), r("2/3")),
            ("c".into(), r("3/3")),
        ];
        assert!(check_shards(&all).unwrap().is_empty());
        let w = check_shards(&all[..2]).unwrap();
        assert!(w[0].contains("3/3 missing"), "{w:?}");
        let twice = [("a".into(), r("1/3")), ("b".into(), r("1/3"))];
        let e = check_shards(&twice).unwrap_err().to_string();
        assert!(e.contains("b: a is shard 1/3 too"), "{e}");
        let mixed = [("a".into(), r("1/2")), ("b".into(), r("2/3"))];
        assert!(check_shards(&mixed).unwrap()[0].contains("2, 3 ways"));
    }

    #[test]
    fn merge_adds_counts_and_histograms() {
        let a = result(100, 1);
        let b = result(300, 5);
        let m = merge_reports(&[
            (
                "a".into(),
                MassReport {
                    servers: vec![a.clone()],
                    shard: None,
                    interrupted: false,
                },
            ),
            (
                "b".into(),
                MassReport {
                    servers: vec![b.clone()],
                    shard: None,
                    interrupted: false,
                },
            ),
        ])
        .unwrap();
        let s = &m.servers[0];
        assert_eq!(
            (s.connected, s.handshakes, s.agents, s.timeline[0]),
            (400, 400, 2, 400)
        );
        // The later agent's milestones bound the sum's.
        assert_eq!(
            (s.seconds_to_50, s.seconds_to_90, s.seconds_to_99),
            (b.seconds_to_50, b.seconds_to_90, b.seconds_to_99)
        );
        let (c, _) = s.latencies().unwrap();
        assert_eq!(c.count(), 400);
        let (mut ac, _) = a.latencies().unwrap();
        ac.merge(&b.latencies().unwrap().0);
        assert_eq!(c.summary(), ac.summary());
        assert!(s
            .line()
            .starts_with("connected 400 clients to s at ws://x in"));
    }

    #[test]
    fn a_milestone_one_agent_never_reached_is_unknown_once_merged() {
        let mut a = result(100, 1);
        let b = ServerResult {
            seconds_to_99: None,
            ..result(300, 5)
        };
        a.merge(&b).unwrap();
        assert_eq!((a.seconds_to_90, a.seconds_to_99), (b.seconds_to_90, None));
        let row = tsv(&MassReport {
            servers: vec![a],
            ..Default::default()
        });
        let cells: Vec<&str> = row.lines().nth(1).unwrap().split('\t').collect();
        assert_eq!(cells.len(), TSV_HEADER.split('\t').count());
        assert_eq!(&cells[cells.len() - 3..], ["0.500", "1.000", ""]);
    }
}
