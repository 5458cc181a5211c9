//! Judging a finished case: `behavior` from the events (or the case's own check),
//! `behaviorClose` from how the connection closed, then the case's adjustments. The rules are
//! the original's, in its order.

use std::collections::BTreeMap;
use std::time::Duration;

use wstest_engine::proto::connection::CloseStatus;

use super::case::{Adjust, Behavior, Case, Check, Ev};
use super::result::CaseResult;
use super::session::CaseSession;

/// What the verdict looks at.
pub struct Parts<'a> {
    pub case: &'a Case,
    pub received: &'a [Ev],
    /// Events received past the record's limit (not in `received`).
    pub received_dropped: u64,
    pub check_behavior: Behavior,
    pub check_result: &'a str,
    pub status: Option<&'a CloseStatus>,
    pub was_open: bool,
    pub is_server: bool,
    pub tx_frames: &'a BTreeMap<u8, u64>,
    pub local_reason: Option<&'a [u8]>,
}

/// The two verdicts with their explanations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub behavior: Behavior,
    pub result: String,
    pub behavior_close: Behavior,
    pub result_close: String,
    /// Report our close reason in hex (7.5.1).
    pub hex_local_reason: bool,
}

pub fn decide(p: &Parts<'_>, connect_error: Option<&str>) -> Verdict {
    let case = p.case;
    let default_status = CloseStatus::default();
    let st = p.status.unwrap_or(&default_status);

    // behavior
    let (mut behavior, mut result) = match &case.check {
        // More than the record keeps is more than any expected outcome.
        Check::Events if p.received_dropped > 0 => (
            Behavior::Failed,
            format!(
                "The peer sent more than any expected outcome: {} events kept, {} more dropped.",
                p.received.len(),
                p.received_dropped
            ),
        ),
        Check::Events => match case
            .expected
            .iter()
            .find(|(_, evs)| evs.as_slice() == p.received)
        {
            Some((b, _)) => (
                *b,
                "The events received match one of the expected outcomes.".to_string(),
            ),
            None => (
                Behavior::Failed,
                "The events received match none of the expected outcomes.".to_string(),
            ),
        },
        Check::Echo { wait, .. } if p.check_result.is_empty() => (
            Behavior::Failed,
            format!("No echo came back within {wait} s."),
        ),
        Check::RoundTrips { wait, .. } if p.check_result.is_empty() => (
            Behavior::Failed,
            format!("The round trips did not finish within {wait} s."),
        ),
        _ => (p.check_behavior, p.check_result.to_string()),
    };

    // behaviorClose
    let (behavior_close, result_close) = if !p.was_open {
        let why = connect_error.map(|e| format!(" ({e})")).unwrap_or_default();
        (
            Behavior::Failed,
            format!("The opening handshake never completed{why}."),
        )
    } else {
        let ec = &case.close;
        if ec.closed_by_me != st.closed_by_me {
            (
                Behavior::Failed,
                "The wrong endpoint started the closing of the connection.".to_string(),
            )
        } else if ec.require_clean && !st.was_clean {
            (
                Behavior::Unclean,
                "The connection should have been closed cleanly here.".to_string(),
            )
        } else if st.remote_code.is_some_and(|c| !ec.codes.contains(&c)) {
            let codes: Vec<String> = ec.codes.iter().map(u16::to_string).collect();
            (
                Behavior::WrongCode,
                format!(
                    "The peer's close code should have been {} or none.",
                    codes.join(",")
                ),
            )
        } else if !p.is_server && st.dropped_by_me {
            (
                Behavior::FailedByClient,
                "The server should have closed the TCP connection (the fuzzer had to).".to_string(),
            )
        } else {
            (
                Behavior::Ok,
                "The connection was closed properly.".to_string(),
            )
        }
    };
    if p.was_open && case.close.wrong_endpoint_fatal && case.close.closed_by_me != st.closed_by_me {
        behavior = Behavior::Failed;
    }
    let mut v = Verdict {
        behavior,
        result: std::mem::take(&mut result),
        behavior_close,
        result_close,
        hex_local_reason: false,
    };

    for a in &case.adjust {
        match a {
            Adjust::WrongCodeFails => {
                if v.behavior_close == Behavior::WrongCode {
                    v.behavior = Behavior::Failed;
                    v.result = v.result_close.clone();
                }
            }
            Adjust::Informational {
                ok_text,
                non_strict_text,
                text,
            } => {
                if let (Behavior::Ok, Some(t)) = (v.behavior, ok_text) {
                    v.result = t.clone();
                } else if let (Behavior::NonStrict, Some(t)) = (v.behavior, non_strict_text) {
                    v.result = t.clone();
                }
                if let Some(t) = text {
                    v.result = t.clone();
                }
                v.behavior = Behavior::Informational;
                v.behavior_close = Behavior::Informational;
            }
            Adjust::TxFrames(want) => {
                if !p.was_open {
                    v.behavior = Behavior::Failed;
                    v.result = "The WebSocket connection never opened.".into();
                } else {
                    let got: Vec<(u8, u64)> = want
                        .iter()
                        .map(|(op, _)| (*op, p.tx_frames.get(op).copied().unwrap_or(0)))
                        .collect();
                    if &got != want {
                        v.behavior = Behavior::Failed;
                        v.result =
                            format!("Frames sent per opcode were {got:?}, expected {want:?}.");
                    }
                }
            }
            Adjust::HexLocalReason => v.hex_local_reason = true,
        }
    }
    v
}

/// Judge a finished session and build its result.
pub fn judge(
    session: CaseSession,
    duration: Duration,
    connect_error: Option<String>,
) -> CaseResult {
    let v = decide(&session.parts(), connect_error.as_deref());
    let case = session.case.clone();
    CaseResult::new(&case, v, session.into_record(), duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::case::{case, text};

    fn status(by_me: bool, clean: bool, code: Option<u16>, dropped: bool) -> CloseStatus {
        CloseStatus {
            closed_by_me: by_me,
            was_clean: clean,
            remote_code: code,
            dropped_by_me: dropped,
            ..Default::default()
        }
    }

    fn parts<'a>(
        c: &'a Case,
        rx: &'a [Ev],
        st: &'a CloseStatus,
        tx: &'a BTreeMap<u8, u64>,
    ) -> Parts<'a> {
        Parts {
            case: c,
            received: rx,
            received_dropped: 0,
            check_behavior: Behavior::Failed,
            check_result: "",
            status: Some(st),
            was_open: true,
            is_server: false,
            tx_frames: tx,
            local_reason: None,
        }
    }

    #[test]
    fn close_rules_in_order() {
        let c = case("1.1.1", "", "")
            .ok(vec![text("x")])
            .closed_by_me(&[1000]);
        let rx = vec![text("x")];
        let tx = BTreeMap::new();
        let d = |st: CloseStatus| {
            let v = decide(&parts(&c, &rx, &st, &tx), None);
            (v.behavior, v.behavior_close)
        };
        assert_eq!(
            d(status(true, true, Some(1000), false)),
            (Behavior::Ok, Behavior::Ok)
        );
        assert_eq!(
            d(status(false, true, Some(1000), false)).1,
            Behavior::Failed
        );
        assert_eq!(
            d(status(true, false, Some(1000), false)).1,
            Behavior::Unclean
        );
        assert_eq!(
            d(status(true, true, Some(1002), false)).1,
            Behavior::WrongCode
        );
        assert_eq!(
            d(status(true, true, None, false)).1,
            Behavior::Ok,
            "no code is fine"
        );
        assert_eq!(
            d(status(true, true, Some(1000), true)).1,
            Behavior::FailedByClient
        );
    }

    #[test]
    fn first_matching_outcome_wins_and_adjustments_apply() {
        let c = case("7.1.6", "", "")
            .ok(vec![text("a")])
            .non_strict(vec![])
            .adjust(Adjust::Informational {
                ok_text: Some("ok".into()),
                non_strict_text: Some("ns".into()),
                text: None,
            });
        let tx = BTreeMap::new();
        let st = status(true, true, Some(1000), false);
        let v = decide(&parts(&c, &[], &st, &tx), None);
        assert_eq!(
            (v.behavior, v.behavior_close, v.result.as_str()),
            (Behavior::Informational, Behavior::Informational, "ns")
        );
        let c = case("7.7.1", "", "")
            .ok(vec![])
            .closed_by_me(&[1000])
            .adjust(Adjust::WrongCodeFails);
        let st = status(true, true, Some(1002), false);
        let v = decide(&parts(&c, &[], &st, &tx), None);
        assert_eq!(
            (v.behavior, v.behavior_close),
            (Behavior::Failed, Behavior::WrongCode)
        );
    }

    #[test]
    fn a_cut_record_matches_nothing() {
        // A peer that floods: nothing kept (one huge message), so `received` is empty, and an
        // expected empty outcome must still not match.
        let c = case("2.1", "", "").ok(vec![]);
        let st = status(true, true, Some(1000), false);
        let tx = BTreeMap::new();
        let mut p = parts(&c, &[], &st, &tx);
        assert_eq!(decide(&p, None).behavior, Behavior::Ok);
        p.received_dropped = 3;
        let v = decide(&p, None);
        assert_eq!(v.behavior, Behavior::Failed);
        assert!(v.result.contains("3 more dropped"), "{}", v.result);
    }

    #[test]
    fn never_opened() {
        let c = case("1.1.1", "", "").ok(vec![]);
        let tx = BTreeMap::new();
        let p = Parts {
            case: &c,
            received: &[],
            received_dropped: 0,
            check_behavior: Behavior::Failed,
            check_result: "",
            status: None,
            was_open: false,
            is_server: false,
            tx_frames: &tx,
            local_reason: None,
        };
        let v = decide(&p, Some("connection refused"));
        assert_eq!(v.behavior_close, Behavior::Failed);
        assert!(v.result_close.contains("connection refused"));
    }
}
