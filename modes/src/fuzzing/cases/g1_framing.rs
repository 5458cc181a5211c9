//! 1.x Framing: text (1.1) and binary (1.2) messages around the length encoding boundaries.

use super::super::case::*;

/// (sub-id, payload length, kill after, chop)
const SIZES: [(u32, usize, f64, Option<usize>); 8] = [
    (1, 0, 1.0, None),
    (2, 125, 1.0, None),
    (3, 126, 1.0, None),
    (4, 127, 1.0, None),
    (5, 128, 1.0, None),
    (6, 65535, 10.0, None),
    (7, 65536, 10.0, None),
    (8, 65536, 10.0, Some(997)),
];

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for (group, opcode, byte, kind) in [(1u32, 1u8, b'*', "text"), (2, 2, 0xfe, "binary")] {
        let binary = opcode == 2;
        for (sub, len, kill, chop) in SIZES {
            let payload = vec![byte; len];
            let how = match chop {
                Some(c) => format!(" The octets go out in pieces of {c}."),
                None => String::new(),
            };
            let mut f = frame(opcode, payload.clone());
            if let Some(c) = chop {
                f = f.chop(c);
            }
            v.push(
                case(
                    &format!("1.{group}.{sub}"),
                    &format!("A single {kind} message whose payload is {len} octets long.{how}"),
                    &format!("The {kind} message comes back unchanged; then a clean close with code 1000."),
                )
                .ok(vec![msg(payload, binary)])
                .closed_by_me(&[1000])
                .send(f)
                .kill_after(kill),
            );
        }
    }
    v
}
