//! The result of one case for one agent, and its per-case JSON (same fields as the original).

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::case::{Behavior, Case, Ev, ExpectClose};
use super::pyjson::{ascii_log, obj, obj_numeric, text_or_hex, J};
use super::record::SessionRecord;
use super::verdict::{judge, Verdict};
use super::wirelog::Wire;

/// What the index (index.json, index.html, summaries) needs of a case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub behavior: Behavior,
    #[serde(rename = "behaviorClose")]
    pub behavior_close: Behavior,
    pub duration: u64,
    #[serde(rename = "remoteCloseCode")]
    pub remote_close_code: Option<u16>,
    pub reportfile: String,
    /// Shown in the table (not part of the original's index.json).
    #[serde(skip)]
    pub report_time: bool,
    /// Compression ratios (incoming, outgoing) of a compression case, shown in the table.
    #[serde(skip)]
    pub ratios: Option<(Option<f64>, Option<f64>)>,
    /// The verdicts' texts (`result`, `resultClose`), for JUnit failures.
    #[serde(skip)]
    pub results: Option<(String, String)>,
}

/// A finished case.
pub struct CaseResult {
    pub id: String,
    pub agent: String,
    pub index: usize,
    pub description: String,
    pub expectation: String,
    pub started: String,
    pub duration_ms: u64,
    pub report_time: bool,
    pub report_compression: bool,
    pub verdict: Verdict,
    pub expected: Vec<(Behavior, Vec<Ev>)>,
    pub expected_close: ExpectClose,
    pub record: SessionRecord,
}

/// The original's file-name cleaning: lower case, anything but [a-z0-9] becomes `_`, trimmed.
pub fn clean_for_filename(s: &str) -> String {
    let mapped: String = s
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                ' '
            }
        })
        .collect();
    mapped.trim().replace(' ', "_")
}

/// `<agent>_case_<id with _>.<ext>`.
pub fn report_filename(agent: &str, id: &str, ext: &str) -> String {
    format!(
        "{}_case_{}.{ext}",
        clean_for_filename(agent),
        id.replace('.', "_")
    )
}

/// UTC time with milliseconds, as the original writes it.
pub fn utc_string(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

fn ev_json(e: &Ev) -> J {
    match e {
        Ev::Message { payload, binary } => {
            J::Arr(vec!["message".into(), ascii_log(payload), (*binary).into()])
        }
        Ev::Pong(p) => J::Arr(vec!["pong".into(), ascii_log(p)]),
        Ev::Timeout(t) => J::Arr(vec!["timeout".into(), t.as_str().into()]),
    }
}

fn stats<K: Copy + Into<i64>>(m: &BTreeMap<K, u64>) -> J {
    obj_numeric(m.iter().map(|(k, v)| (*k, J::from(*v))))
}

impl CaseResult {
    /// Judge what a session recorded and build the case's result.
    pub fn judge(case: &Case, record: SessionRecord) -> Self {
        let verdict = judge(case, &record);
        CaseResult::new(case, verdict, record)
    }

    pub fn new(case: &Case, verdict: Verdict, record: SessionRecord) -> Self {
        let duration = record.duration;
        CaseResult {
            id: case.id.clone(),
            agent: record.agent.clone(),
            index: record.index,
            description: case.description.clone(),
            expectation: case.expectation.clone(),
            started: utc_string(record.started_at),
            duration_ms: duration.as_secs_f64().mul_add(1000.0, 0.0).round() as u64,
            report_time: case.report_time,
            report_compression: case.report_compression,
            verdict,
            expected: case.expected.clone(),
            expected_close: case.close.clone(),
            record,
        }
    }

    pub fn summary(&self) -> Summary {
        Summary {
            behavior: self.verdict.behavior,
            behavior_close: self.verdict.behavior_close,
            duration: self.duration_ms,
            remote_close_code: self.record.status.remote_code,
            reportfile: report_filename(&self.agent, &self.id, "json"),
            report_time: self.report_time,
            ratios: self
                .record
                .traffic
                .filter(|_| self.report_compression)
                .map(|t| t.compression_ratios()),
            results: Some((
                self.verdict.result.clone(),
                self.verdict.result_close.clone(),
            )),
        }
    }

    /// Our close reason as the report shows it.
    pub fn local_reason(&self) -> J {
        let raw = self.record.local_reason.clone().or_else(|| {
            self.record
                .status
                .local_reason
                .clone()
                .map(String::into_bytes)
        });
        if self.verdict.hex_local_reason {
            return match raw {
                Some(r) if !r.is_empty() => {
                    J::from(r.iter().map(|b| format!("{b:02x}")).collect::<String>())
                }
                _ => J::from("?"),
            };
        }
        raw.map_or(J::Null, |r| text_or_hex(&r))
    }

    /// `expected`: the expected event lists by verdict.
    fn expected_json(&self) -> J {
        obj(self
            .expected
            .iter()
            .map(|(b, evs)| (b.as_str(), J::Arr(evs.iter().map(ev_json).collect())))
            .collect())
    }

    /// `expectedClose`.
    fn expected_close_json(&self) -> J {
        let e = &self.expected_close;
        let mut ec = vec![
            (
                "closeCode",
                J::Arr(e.codes.iter().map(|c| J::from(*c)).collect()),
            ),
            ("closedByMe", e.closed_by_me.into()),
            ("requireClean", e.require_clean.into()),
        ];
        if e.wrong_endpoint_fatal {
            ec.push(("closedByWrongEndpointIsFatal", true.into()));
        }
        obj(ec)
    }

    /// The per-case report, field for field as the original writes it.
    pub fn to_json(&self) -> J {
        let r = &self.record;
        let st = &r.status;
        let http = |b: &[u8]| {
            if b.is_empty() {
                J::from("?")
            } else {
                text_or_hex(b)
            }
        };
        let mut fields = vec![
            ("agent", self.agent.as_str().into()),
            ("behavior", self.verdict.behavior.as_str().into()),
            ("behaviorClose", self.verdict.behavior_close.as_str().into()),
            ("case", self.index.into()),
            ("closedByMe", st.closed_by_me.into()),
            ("createStats", true.into()),
            ("createWirelog", r.wire.on.into()),
            ("description", self.description.as_str().into()),
            ("droppedByMe", st.dropped_by_me.into()),
            ("duration", self.duration_ms.into()),
            ("expectation", self.expectation.as_str().into()),
            ("expected", self.expected_json()),
            ("expectedClose", self.expected_close_json()),
            ("failedByMe", st.failed_by_me.into()),
            ("httpRequest", http(&r.http_request)),
            ("httpResponse", http(&r.http_response)),
            ("id", self.id.as_str().into()),
            ("isServer", r.is_server.into()),
            ("localCloseCode", st.local_code.into()),
            ("localCloseReason", self.local_reason()),
            ("received", J::Arr(r.received.iter().map(ev_json).collect())),
            ("remoteCloseCode", st.remote_code.into()),
            ("remoteCloseReason", st.remote_reason.clone().into()),
            ("reportCompressionRatio", self.report_compression.into()),
            ("reportTime", self.report_time.into()),
            ("result", self.verdict.result.as_str().into()),
            ("resultClose", self.verdict.result_close.as_str().into()),
            ("rxFrameStats", stats(&r.rx_frames)),
            (
                "rxOctetStats",
                stats(&r.rx_octets.iter().map(|(k, v)| (*k as i64, *v)).collect()),
            ),
            ("started", self.started.as_str().into()),
            (
                "trafficStats",
                r.traffic.as_ref().map_or(J::Null, |t| t.to_json()),
            ),
            ("txFrameStats", stats(&r.tx_frames)),
            (
                "txOctetStats",
                stats(&r.tx_octets.iter().map(|(k, v)| (*k as i64, *v)).collect()),
            ),
            ("wasClean", st.was_clean.into()),
            (
                "wasCloseHandshakeTimeout",
                st.close_handshake_timeout.into(),
            ),
            ("wasNotCleanReason", st.not_clean_reason.clone().into()),
            ("wasOpenHandshakeTimeout", false.into()),
            (
                "wasServerConnectionDropTimeout",
                st.server_drop_timeout.into(),
            ),
            ("wirelog", r.wire.to_json()),
        ];
        if r.truncation.any() {
            // Ours only, in key order (after trafficStats): where the record was cut.
            let at = fields
                .iter()
                .position(|(k, _)| *k == "txFrameStats")
                .unwrap_or(fields.len());
            fields.insert(at, ("truncated", r.truncation.to_json()));
        }
        obj(fields)
    }

    /// Where this case's record was cut, when it was.
    pub fn truncation(&self) -> Option<&super::limits::Truncation> {
        Some(&self.record.truncation).filter(|t| t.any())
    }

    pub fn wirelog(&self) -> &[Wire] {
        &self.record.wire.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn file_names_like_the_original() {
        assert_eq!(
            report_filename("wstest-testee", "5.1", "json"),
            "wstest_testee_case_5_1.json"
        );
        assert_eq!(
            report_filename("AutobahnPython/0.10.9", "12.1.10", "html"),
            "autobahnpython_0_10_9_case_12_1_10.html"
        );
        assert_eq!(clean_for_filename("  Foo  Bar! "), "foo__bar");
    }

    #[test]
    fn utc_format() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(utc_string(t), "2023-11-14T22:13:20.123Z");
    }
}
