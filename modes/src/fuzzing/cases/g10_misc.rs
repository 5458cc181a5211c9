//! 10.x Miscellaneous: automatic fragmentation.

use super::super::case::*;

pub fn cases() -> Vec<Case> {
    let payload = vec![b'*'; 65536];
    // 65536 octets in 1300-octet frames: 50 full frames and a last one of 536 octets, so one
    // text frame and 50 continuation frames.
    vec![case(
        "10.1.1",
        "Send a text message of 65536 octets, which the fuzzer fragments automatically into frames of 1300 octets.",
        "The message comes back unchanged and the fuzzer sent the expected number of frames; then a clean close with code 1000.",
    )
    .ok(vec![text(payload.clone())])
    .closed_by_me(&[1000])
    .adjust(Adjust::TxFrames(vec![(0, 50), (1, 1)]))
    .step(Step::AutoFragment(1300))
    .send_message(payload, false, None)
    .kill_after(10.0)]
}
