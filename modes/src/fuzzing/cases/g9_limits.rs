//! 9.x Limits and performance: large messages (9.1, 9.2), large fragmented messages (9.3,
//! 9.4), large messages written in small chops (9.5, 9.6), and round-trip series (9.7, 9.8).
//! These decide by the echo's type and length (or the series completing), not by comparing
//! payloads; their duration is reported.

use super::super::case::*;

const TEXT_UNIT: &[u8] = b"BAsd7&jh23";
const BINARY_UNIT: &[u8] = b"\x00\xfe\x23\xfa\xf0";

fn kind(binary: bool) -> &'static str {
    if binary {
        "binary"
    } else {
        "text"
    }
}

fn size_name(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} octets")
    }
}

/// A case that waits for one echo of `len` octets.
fn echo_case(id: String, binary: bool, len: usize, wait: f64, what: String, send: Step) -> Case {
    case(&id, &what, &format!("The {} message comes back with the same length within {wait} s; then a clean close with code 1000.", kind(binary)))
        .closed_by_me(&[1000])
        .check(Check::Echo { binary, len, wait })
        .report_time()
        .step(Step::Wirelog { on: false, mark: false })
        .step(send)
        .close_after(wait)
}

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    // 9.1 / 9.2: one big message in one frame (the payload is a short pattern repeated).
    let sizes = [64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20];
    let text_waits = [10.0, 10.0, 100.0, 100.0, 100.0, 100.0];
    let binary_waits = [10.0, 10.0, 10.0, 10.0, 100.0, 100.0];
    for (group, binary, waits) in [(1, false, text_waits), (2, true, binary_waits)] {
        let (op, unit) = if binary { (2, BINARY_UNIT) } else { (1, TEXT_UNIT) };
        for (i, (&len, &wait)) in sizes.iter().zip(waits.iter()).enumerate() {
            let what = format!("Send a {} message of {} in a single frame.", kind(binary), size_name(len));
            v.push(echo_case(format!("9.{group}.{}", i + 1), binary, len, wait, what, Step::Frame(frame(op, unit.to_vec()).repeat(len))));
        }
    }
    // 9.3 / 9.4: a 4 MiB message in fragments of growing size.
    let frags = [64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20];
    for (group, binary) in [(3, false), (4, true)] {
        for (i, &frag) in frags.iter().enumerate() {
            // The original fills 9.4.1 with 0xfe and every other one with '*'.
            let byte = if binary && i == 0 { 0xfe } else { b'*' };
            let what = format!("Send a {} message of 4 MiB in fragments of {}.", kind(binary), size_name(frag));
            v.push(echo_case(format!("9.{group}.{}", i + 1), binary, 4 << 20, 100.0, what, Step::Message { payload: vec![byte; 4 << 20], binary, fragment: Some(frag) }));
        }
    }
    // 9.5 / 9.6: a 1 MiB message in one frame, written in chops of growing size.
    let chops = [64, 128, 256, 512, 1024, 2048];
    for (group, binary) in [(5, false), (6, true)] {
        let (op, unit) = if binary { (2, BINARY_UNIT) } else { (1, TEXT_UNIT) };
        for (i, &chop) in chops.iter().enumerate() {
            let what = format!("Send a {} message of 1 MiB in a single frame, written to the socket in pieces of {chop} octets.", kind(binary));
            v.push(echo_case(format!("9.{group}.{}", i + 1), binary, 1 << 20, 1000.0, what, Step::Frame(frame(op, unit.to_vec()).repeat(1 << 20).chop(chop))));
        }
    }
    // 9.7 / 9.8: 1000 messages one after another, one in flight at a time.
    let series = [(0usize, 60.0), (16, 60.0), (64, 60.0), (256, 120.0), (1024, 240.0), (4096, 480.0)];
    for (group, binary) in [(7, false), (8, true)] {
        let (op, unit) = if binary { (2, vec![0xfe]) } else { (1, vec![b'*']) };
        for (i, &(len, wait)) in series.iter().enumerate() {
            v.push(
                case(
                    &format!("9.{group}.{}", i + 1),
                    &format!("Send 1000 {} messages of {len} octets, each after the echo of the previous one, to measure round trips.", kind(binary)),
                    &format!("Every message comes back with the same type and length; the series ends within {wait} s."),
                )
                .closed_by_me(&[1000])
                .check(Check::RoundTrips { binary, len, count: 1000, wait })
                .report_time()
                .step(Step::Wirelog { on: false, mark: true })
                .close_after(wait)
                .send(frame(op, unit.clone()).repeat(len)),
            );
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_checks() {
        let v = cases();
        assert_eq!(v.len(), 54);
        assert_eq!(v[0].id, "9.1.1");
        assert_eq!(v.last().unwrap().id, "9.8.6");
        assert!(v.iter().all(|c| c.report_time));
        assert_eq!(v[5].check, Check::Echo { binary: false, len: 16 << 20, wait: 100.0 });
        let rt = v.iter().find(|c| c.id == "9.8.4").unwrap();
        assert_eq!(rt.check, Check::RoundTrips { binary: true, len: 256, count: 1000, wait: 120.0 });
    }
}
