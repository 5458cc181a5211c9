//! 3.x Reserved bits: any RSV bit set without an extension that defines it must fail the
//! connection.

use super::super::case::*;

const HELLO: &[u8] = b"Hello, world!";

pub fn cases() -> Vec<Case> {
    let fail = |id: &str, what: &str| {
        case(id, what, "The peer fails the connection with a protocol error (1002) as soon as it sees the reserved bit.").ok(vec![]).failed_by_peer(&[1002])
    };
    // 3.2-3.4: a good message first (it must come back), then the bad frame, then a ping that
    // must not be answered; written plainly, synced, or octet by octet.
    let after_echo = |id: &str, rsv: u8, how: &str, w: fn(FrameSpec) -> FrameSpec| {
        case(
            id,
            &format!("Send a small text message, then the same message with RSV = {rsv}, then a ping{how}."),
            "The first message is echoed; the connection is then failed at once (1002), so the ping gets no pong. Failing before echoing is also accepted (non-strict).",
        )
        .ok(vec![text(HELLO)])
        .non_strict(vec![])
        .failed_by_peer(&[1002])
        .send(w(frame(1, HELLO)))
        .send(w(frame(1, HELLO).rsv(rsv)))
        .send(w(frame(9, Vec::new())))
        .kill_after(1.0)
    };
    vec![
        fail("3.1", "Send a small text message with RSV = 1.")
            .send(frame(1, HELLO).rsv(1))
            .kill_after(1.0),
        after_echo("3.2", 2, "", |f| f),
        after_echo("3.3", 3, ", each frame flushed on its own", |f| {
            f.sync(true)
        }),
        after_echo("3.4", 4, ", every octet written on its own", |f| f.chop(1)),
        fail("3.5", "Send a small binary message with RSV = 5.")
            .send(frame(2, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff".to_vec()).rsv(5))
            .kill_after(1.0),
        fail("3.6", "Send a small binary message with RSV = 6.")
            .send(frame(2, HELLO).rsv(6))
            .kill_after(1.0),
        fail("3.7", "Send a close frame with RSV = 7.")
            .send(frame(8, Vec::new()).rsv(7))
            .kill_after(1.0),
    ]
}
