//! 5.x Fragmentation: control frames must not be fragmented, continuation frames need a
//! message to continue, fragments may not interleave with another message, pings may.

use super::super::case::*;

const F1: &[u8] = b"fragment1";
const F2: &[u8] = b"fragment2";
const HELLO: &[u8] = b"Hello, world!";

/// How the frames of a case are written: as they come, each flushed, or octet by octet.
#[derive(Clone, Copy)]
enum Write {
    Plain,
    Sync,
    Chop,
}

impl Write {
    fn apply(self, f: FrameSpec) -> FrameSpec {
        match self {
            Write::Plain => f,
            Write::Sync => f.sync(true),
            Write::Chop => f.chop(1),
        }
    }
    fn how(self) -> &'static str {
        match self {
            Write::Plain => "",
            Write::Sync => " Each frame is flushed on its own.",
            Write::Chop => " Every octet is written on its own.",
        }
    }
}

const WAYS: [Write; 3] = [Write::Plain, Write::Sync, Write::Chop];

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let fails = "The peer fails the connection with a protocol error (1002).";
    for (id, op, name) in [("5.1", 9, "ping"), ("5.2", 10, "pong")] {
        v.push(
            case(id, &format!("Send a {name} split into two fragments (a control frame without FIN, then a continuation)."), &format!("Control frames may not be fragmented: {fails}"))
                .ok(vec![])
                .failed_by_peer(&[1002])
                .send(frame(op, F1).fin(false))
                .send(frame(0, F2))
                .kill_after(1.0),
        );
    }
    for (n, w) in (3..).zip(WAYS) {
        v.push(
            case(
                &format!("5.{n}"),
                &format!("Send a text message in two fragments.{}", w.how()),
                "The whole message is echoed; then a clean close with code 1000.",
            )
            .ok(vec![text([F1, F2].concat())])
            .closed_by_me(&[1000])
            .send(w.apply(frame(1, F1).fin(false)))
            .send(w.apply(frame(0, F2)))
            .close_after(1.0),
        );
    }
    for (n, w) in (6..).zip(WAYS) {
        v.push(
            case(&format!("5.{n}"), &format!("Send a text message in two fragments with a ping between them.{}", w.how()), "The ping is answered at once, then the whole message is echoed; then a clean close with code 1000.")
                .ok(vec![pong(b"ping payload".to_vec()), text([F1, F2].concat())])
                .closed_by_me(&[1000])
                .send(w.apply(frame(1, F1).fin(false)))
                .send(w.apply(frame(9, b"ping payload".to_vec())))
                .send(w.apply(frame(0, F2)))
                .close_after(1.0),
        );
    }
    for (start, fin, what) in [
        (9, true, "a continuation frame with FIN set"),
        (12, false, "a continuation frame without FIN"),
    ] {
        for (n, w) in (start..).zip(WAYS) {
            v.push(
                case(
                    &format!("5.{n}"),
                    &format!(
                        "Send {what} when no message is in progress, then a text message.{}",
                        w.how()
                    ),
                    &format!("There is nothing to continue: {fails}"),
                )
                .ok(vec![])
                .failed_by_peer(&[1002])
                .send(w.apply(frame(0, b"non-continuation payload".to_vec()).fin(fin)))
                .send(w.apply(frame(1, HELLO)))
                .kill_after(1.0),
            );
        }
    }
    v.push(
        case("5.15", "Send a text message in two fragments, then a continuation without FIN that continues nothing, then a text message, all at once.", "The first message is echoed, then the connection is failed (1002) at the stray continuation. Failing before echoing is also accepted (non-strict).")
            .ok(vec![text([F1, F2].concat())])
            .non_strict(vec![])
            .failed_by_peer(&[1002])
            .send(frame(1, F1).fin(false))
            .send(frame(0, F2))
            .send(frame(0, b"fragment3".to_vec()).fin(false))
            .send(frame(1, b"fragment4".to_vec()))
            .kill_after(1.0),
    );
    for (id, first_fin) in [("5.16", false), ("5.17", true)] {
        let mut c = case(
            id,
            &format!("Twice: a continuation frame {} FIN that continues nothing, a text frame without FIN, a final continuation.", if first_fin { "with" } else { "without" }),
            &format!("The first frame already has nothing to continue: {fails}"),
        )
        .ok(vec![])
        .failed_by_peer(&[1002]);
        for _ in 0..2 {
            c = c
                .send(frame(0, F1).fin(first_fin))
                .send(frame(1, F2).fin(false))
                .send(frame(0, b"fragment3".to_vec()));
        }
        v.push(c.kill_after(1.0));
    }
    v.push(
        case("5.18", "Send a text frame without FIN, then a second text frame (not a continuation) with FIN.", &format!("A new message may not start inside a fragmented one: {fails}"))
            .ok(vec![])
            .failed_by_peer(&[1002])
            .send(frame(1, F1).fin(false))
            .send(frame(1, F2))
            .kill_after(1.0),
    );
    for (id, sync) in [("5.19", false), ("5.20", true)] {
        let fr = |n: u32, op: u8, fin: bool| {
            frame(op, format!("fragment{n}").into_bytes())
                .fin(fin)
                .sync(sync)
        };
        let ping = |n: u32| frame(9, format!("pongme {n}!").into_bytes()).sync(sync);
        v.push(
            case(
                id,
                &format!("A text message in five fragments with two pings among them: two fragments, a ping, a pause of one second, two fragments, a ping, the last fragment.{}", if sync { " Each frame is flushed on its own (the octets are the same as in 5.19)." } else { "" }),
                "Each ping is answered as soon as it arrives (the first one before the message is complete), with its own payload; the whole message is echoed; then a clean close with code 1000.",
            )
            .ok(vec![pong(b"pongme 1!".to_vec()), pong(b"pongme 2!".to_vec()), text(b"fragment1fragment2fragment3fragment4fragment5".to_vec())])
            .closed_by_me(&[1000])
            .send(fr(1, 1, false))
            .send(fr(2, 0, false))
            .send(ping(1))
            .later(1.0, None, false, vec![Step::Frame(fr(3, 0, false)), Step::Frame(fr(4, 0, false)), Step::Frame(ping(2)), Step::Frame(fr(5, 0, true)), Step::CloseAfter(1.0)]),
        );
    }
    v
}
