//! Judging a finished case: `behavior` from the events (or the case's own check),
//! `behaviorClose` from how the connection closed, then the case's adjustments. The rules are
//! the original's, in its order. [`judge`] is a pure function of the case and what its
//! session recorded.

use super::case::{Adjust, Behavior, Case, Check, ExpectClose};
use super::record::SessionRecord;

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

/// The verdict on what a session of `case` recorded.
pub fn judge(case: &Case, r: &SessionRecord) -> Verdict {
    let (mut behavior, result) = behavior(case, r);
    let (behavior_close, result_close) = behavior_close(case, r);
    if r.was_open
        && case.close.wrong_endpoint_fatal
        && case.close.closed_by_me != r.status.closed_by_me
    {
        behavior = Behavior::Failed;
    }
    let mut v = Verdict {
        behavior,
        result,
        behavior_close,
        result_close,
        hex_local_reason: false,
    };
    for a in &case.adjust {
        adjust(&mut v, a, r);
    }
    v
}

/// `behavior`: the events against the expected lists, or what the case's check decided.
fn behavior(case: &Case, r: &SessionRecord) -> (Behavior, String) {
    let dropped = r.truncation.events_dropped;
    match &case.check {
        // More than the record keeps is more than any expected outcome.
        Check::Events if dropped > 0 => (
            Behavior::Failed,
            format!(
                "The peer sent more than any expected outcome: {} events kept, {dropped} more dropped.",
                r.received.len(),
            ),
        ),
        Check::Events => match case
            .expected
            .iter()
            .find(|(_, evs)| *evs == r.received)
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
        Check::Echo { wait, .. } if r.check.result.is_empty() => (
            Behavior::Failed,
            format!("No echo came back within {wait} s."),
        ),
        Check::RoundTrips { wait, .. } if r.check.result.is_empty() => (
            Behavior::Failed,
            format!("The round trips did not finish within {wait} s."),
        ),
        _ => (r.check.behavior, r.check.result.clone()),
    }
}

/// `behaviorClose`: how the connection closed against [`ExpectClose`].
fn behavior_close(case: &Case, r: &SessionRecord) -> (Behavior, String) {
    if !r.was_open {
        let why = r
            .connect_error
            .as_ref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return (
            Behavior::Failed,
            format!("The opening handshake never completed{why}."),
        );
    }
    let ec: &ExpectClose = &case.close;
    let st = &r.status;
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
    } else if !r.is_server && st.dropped_by_me {
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
}

/// One of the case's adjustments.
fn adjust(v: &mut Verdict, a: &Adjust, r: &SessionRecord) {
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
            if !r.was_open {
                v.behavior = Behavior::Failed;
                v.result = "The WebSocket connection never opened.".into();
            } else {
                let got: Vec<(u8, u64)> = want
                    .iter()
                    .map(|(op, _)| (*op, r.tx_frames.get(op).copied().unwrap_or(0)))
                    .collect();
                if &got != want {
                    v.behavior = Behavior::Failed;
                    v.result = format!("Frames sent per opcode were {got:?}, expected {want:?}.");
                }
            }
        }
        Adjust::HexLocalReason => v.hex_local_reason = true,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, SystemTime};

    use wstest_engine::proto::connection::CloseStatus;

    use super::*;
    use crate::fuzzing::case::{case, text, Ev};
    use crate::fuzzing::checks::CheckOutcome;
    use crate::fuzzing::limits::Truncation;
    use crate::fuzzing::wirelog::Wirelog;

    fn status(by_me: bool, clean: bool, code: Option<u16>, dropped: bool) -> CloseStatus {
        CloseStatus {
            closed_by_me: by_me,
            was_clean: clean,
            remote_code: code,
            dropped_by_me: dropped,
            ..Default::default()
        }
    }

    /// A client's record of an opened connection.
    fn record(received: Vec<Ev>, status: CloseStatus) -> SessionRecord {
        SessionRecord {
            agent: "a".into(),
            index: 1,
            started_at: SystemTime::UNIX_EPOCH,
            duration: Duration::ZERO,
            wire: Wirelog::default(),
            rx_octets: BTreeMap::new(),
            tx_octets: BTreeMap::new(),
            rx_frames: BTreeMap::new(),
            tx_frames: BTreeMap::new(),
            truncation: Truncation {
                events_kept: received.len(),
                ..Truncation::default()
            },
            received,
            http_request: Vec::new(),
            http_response: Vec::new(),
            is_server: false,
            was_open: true,
            connect_error: None,
            status,
            local_reason: None,
            check: CheckOutcome::default(),
            traffic: None,
        }
    }

    #[test]
    fn close_rules_in_order() {
        let c = case("1.1.1", "", "")
            .ok(vec![text("x")])
            .closed_by_me(&[1000]);
        let d = |st: CloseStatus| {
            let v = judge(&c, &record(vec![text("x")], st));
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
        let v = judge(&c, &record(vec![], status(true, true, Some(1000), false)));
        assert_eq!(
            (v.behavior, v.behavior_close, v.result.as_str()),
            (Behavior::Informational, Behavior::Informational, "ns")
        );
        let c = case("7.7.1", "", "")
            .ok(vec![])
            .closed_by_me(&[1000])
            .adjust(Adjust::WrongCodeFails);
        let v = judge(&c, &record(vec![], status(true, true, Some(1002), false)));
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
        let mut r = record(vec![], status(true, true, Some(1000), false));
        assert_eq!(judge(&c, &r).behavior, Behavior::Ok);
        r.truncation.events_dropped = 3;
        let v = judge(&c, &r);
        assert_eq!(v.behavior, Behavior::Failed);
        assert!(v.result.contains("3 more dropped"), "{}", v.result);
    }

    #[test]
    fn never_opened() {
        let c = case("1.1.1", "", "").ok(vec![]);
        let mut r = record(vec![], CloseStatus::default());
        r.was_open = false;
        r.connect_error = Some("connection refused".into());
        let v = judge(&c, &r);
        assert_eq!(v.behavior_close, Behavior::Failed);
        assert!(v.result_close.contains("connection refused"));
    }
}
