//! 4.x Opcodes: reserved data opcodes (4.1: 3-7) and reserved control opcodes (4.2: 0xB-0xF)
//! must fail the connection.

use super::super::case::*;

const HELLO: &[u8] = b"Hello, world!";

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for (sub, kind, ops) in [
        (1, "data", [3u8, 4, 5, 6, 7]),
        (2, "control", [11, 12, 13, 14, 15]),
    ] {
        let id = |n: u32| format!("4.{sub}.{n}");
        let expect = "The peer fails the connection with a protocol error (1002).";
        v.push(
            case(
                &id(1),
                &format!(
                    "Send a frame with the reserved {kind} opcode {} and no payload.",
                    ops[0]
                ),
                expect,
            )
            .ok(vec![])
            .failed_by_peer(&[1002])
            .send(frame(ops[0], Vec::new()))
            .kill_after(1.0),
        );
        v.push(
            case(
                &id(2),
                &format!(
                    "Send a frame with the reserved {kind} opcode {} and a payload.",
                    ops[1]
                ),
                expect,
            )
            .ok(vec![])
            .failed_by_peer(&[1002])
            .send(frame(ops[1], b"reserved opcode payload".to_vec()))
            .kill_after(1.0),
        );
        for (n, op, payload, chop) in [
            (3, ops[2], &b""[..], None),
            (4, ops[3], HELLO, None),
            (5, ops[4], HELLO, Some(1)),
        ] {
            let how = if chop.is_some() {
                ", every octet written on its own"
            } else {
                ""
            };
            let w = |f: FrameSpec| if let Some(c) = chop { f.chop(c) } else { f };
            v.push(
                case(
                    &id(n),
                    &format!("Send a small text message, then a frame with the reserved {kind} opcode {op}{}, then a ping{how}.", if payload.is_empty() { "" } else { " and a payload" }),
                    "The text message is echoed, then the connection is failed (1002) and the ping gets no pong. Failing before echoing is also accepted (non-strict).",
                )
                .ok(vec![text(HELLO)])
                .non_strict(vec![])
                .failed_by_peer(&[1002])
                .send(w(frame(1, HELLO)))
                .send(w(frame(op, payload.to_vec())))
                .send(w(frame(9, Vec::new())))
                .kill_after(1.0),
            );
        }
    }
    v
}
