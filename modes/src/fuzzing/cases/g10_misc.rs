//! 10.x Miscellaneous: automatic fragmentation.

use super::super::case::*;

const AUTO_FRAGMENT: usize = 1300;
const LEN: usize = 65536;

/// The frame counts per opcode the original requires after the connection is gone: one
/// continuation frame (opcode 0) per whole fragment size in the payload, and one text frame
/// (opcode 1) when the division leaves a remainder. For 65536 octets in frames of 1300 that
/// is right: a text frame, 49 full continuation frames and a last one of 536 octets.
// `%` rather than `is_multiple_of`, which is newer than the workspace's rust-version (1.85).
#[allow(clippy::manual_is_multiple_of)]
fn expected_tx_frames() -> Vec<(u8, u64)> {
    vec![
        (0, (LEN / AUTO_FRAGMENT) as u64),
        (1, u64::from(LEN % AUTO_FRAGMENT > 0)),
    ]
}

pub fn cases() -> Vec<Case> {
    let payload = vec![b'*'; LEN];
    vec![case(
        "10.1.1",
        "Send a text message of 65536 octets, which the fuzzer fragments automatically into frames of 1300 octets.",
        "The message comes back unchanged and the fuzzer sent the expected number of frames; then a clean close with code 1000.",
    )
    .ok(vec![text(payload.clone())])
    .closed_by_me(&[1000])
    .adjust(Adjust::TxFrames(expected_tx_frames()))
    .step(Step::AutoFragment(AUTO_FRAGMENT))
    .send_message(payload, false, None)
    .kill_after(10.0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_fragment_case() {
        let v = cases();
        assert_eq!(v.len(), 1);
        let c = &v[0];
        assert_eq!(c.id, "10.1.1");
        assert_eq!(c.check, Check::Events);
        assert_eq!(c.adjust, vec![Adjust::TxFrames(vec![(0, 50), (1, 1)])]);
        assert_eq!(c.steps[0], Step::AutoFragment(1300));
        assert_eq!(c.steps[2], Step::KillAfter(10.0));
        // The counts agree with how the payload is really cut: 51 frames, the first a text frame.
        let frames = LEN.div_ceil(AUTO_FRAGMENT) as u64;
        assert_eq!(frames, 51);
        assert_eq!(expected_tx_frames(), vec![(0, frames - 1), (1, 1)]);
        assert_eq!(
            c.expected,
            vec![(Behavior::Ok, vec![text(vec![b'*'; LEN])])]
        );
    }
}
