//! 9.x Limits and performance: large messages (9.1, 9.2), large fragmented messages (9.3,
//! 9.4), large messages written in small chops (9.5, 9.6), and round-trip series (9.7, 9.8).
//! These decide by the echo's type and length (or the series completing), not by comparing
//! payloads; their duration is reported. The wire log is off while the data flows.

use super::super::case::*;

/// Patterns repeated to fill the single-frame payloads of 9.1, 9.2, 9.5 and 9.6.
const TEXT_UNIT: &[u8] = b"BAsd7&jh23";
const BINARY_UNIT: &[u8] = b"\x00\xfe\x23\xfa\xf0";

/// Payload sizes of 9.1.x / 9.2.x with the wait (seconds) of the text and the binary case.
const BIG: [(usize, f64, f64); 6] = [
    (64 << 10, 10.0, 10.0),
    (256 << 10, 10.0, 10.0),
    (1 << 20, 100.0, 10.0),
    (4 << 20, 100.0, 10.0),
    (8 << 20, 100.0, 100.0),
    (16 << 20, 100.0, 100.0),
];
/// Fragment sizes of 9.3.x / 9.4.x (a 4 MiB message, wait 100 s).
const FRAGMENTS: [usize; 9] = [
    64,
    256,
    1 << 10,
    4 << 10,
    16 << 10,
    64 << 10,
    256 << 10,
    1 << 20,
    4 << 20,
];
const FRAGMENTED_LEN: usize = 4 << 20;
/// Chop sizes of 9.5.x / 9.6.x (a 1 MiB frame, wait 1000 s).
const CHOPS: [usize; 6] = [64, 128, 256, 512, 1024, 2048];
const CHOPPED_LEN: usize = 1 << 20;
/// Message sizes and waits of the 9.7.x / 9.8.x series of 1000 round trips.
const SERIES: [(usize, f64); 6] = [
    (0, 60.0),
    (16, 60.0),
    (64, 60.0),
    (256, 120.0),
    (1024, 240.0),
    (4096, 480.0),
];
const SERIES_COUNT: usize = 1000;

fn kind(binary: bool) -> &'static str {
    if binary {
        "binary"
    } else {
        "text"
    }
}

fn opcode(binary: bool) -> u8 {
    if binary {
        2
    } else {
        1
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

/// A case that sends one big message (`send`) and waits up to `wait` seconds for its echo.
fn echo_case(id: String, binary: bool, len: usize, wait: f64, what: String, send: Step) -> Case {
    let expectation = format!(
        "The {} message comes back with the same length within {wait} s; then a clean close with code 1000.",
        kind(binary)
    );
    case(&id, &what, &expectation)
        .closed_by_me(&[1000])
        .check(Check::Echo { binary, len, wait })
        .report_time()
        .step(Step::Wirelog {
            on: false,
            mark: false,
        })
        .step(send)
        .close_after(wait)
}

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    // 9.1 / 9.2: one big message in a single frame (a short pattern repeated).
    for (group, binary) in [(1, false), (2, true)] {
        let unit = if binary { BINARY_UNIT } else { TEXT_UNIT };
        for (i, &(len, text_wait, binary_wait)) in BIG.iter().enumerate() {
            let wait = if binary { binary_wait } else { text_wait };
            let what = format!(
                "Send a {} message of {} in a single frame.",
                kind(binary),
                size_name(len)
            );
            let send = Step::Frame(frame(opcode(binary), unit).repeat(len));
            v.push(echo_case(
                format!("9.{group}.{}", i + 1),
                binary,
                len,
                wait,
                what,
                send,
            ));
        }
    }
    // 9.3 / 9.4: a 4 MiB message in fragments of growing size (the payload is one octet
    // repeated, built only when sent).
    for (group, binary) in [(3, false), (4, true)] {
        for (i, &fragment) in FRAGMENTS.iter().enumerate() {
            // 9.4.1 is filled with 0xfe; every other case of both groups with '*'.
            let byte = if binary && i == 0 { 0xfe } else { b'*' };
            let what = format!(
                "Send a {} message of 4 MiB in fragments of {}.",
                kind(binary),
                size_name(fragment)
            );
            let send = Step::Message {
                payload: vec![byte],
                repeat_len: Some(FRAGMENTED_LEN),
                binary,
                fragment: Some(fragment),
            };
            v.push(echo_case(
                format!("9.{group}.{}", i + 1),
                binary,
                FRAGMENTED_LEN,
                100.0,
                what,
                send,
            ));
        }
    }
    // 9.5 / 9.6: a 1 MiB message in a single frame, written to the socket in small chops.
    for (group, binary) in [(5, false), (6, true)] {
        let unit = if binary { BINARY_UNIT } else { TEXT_UNIT };
        for (i, &chop) in CHOPS.iter().enumerate() {
            let what = format!(
                "Send a {} message of 1 MiB in a single frame, written to the socket in pieces of {chop} octets.",
                kind(binary)
            );
            let send = Step::Frame(frame(opcode(binary), unit).repeat(CHOPPED_LEN).chop(chop));
            v.push(echo_case(
                format!("9.{group}.{}", i + 1),
                binary,
                CHOPPED_LEN,
                1000.0,
                what,
                send,
            ));
        }
    }
    // 9.7 / 9.8: 1000 messages one after another, the next sent when the echo of the previous
    // one is back. The case sends the first; the session sends the others with the same
    // single-octet unit ('*' for text, 0xfe for binary).
    for (group, binary) in [(7, false), (8, true)] {
        let unit: &[u8] = if binary { b"\xfe" } else { b"*" };
        for (i, &(len, wait)) in SERIES.iter().enumerate() {
            let what = format!(
                "Send {SERIES_COUNT} {} messages of {len} octets, each after the echo of the previous one, to measure round trips.",
                kind(binary)
            );
            let expectation = format!(
                "Every message comes back with the same type and length; the series ends within {wait} s."
            );
            v.push(
                case(&format!("9.{group}.{}", i + 1), &what, &expectation)
                    .closed_by_me(&[1000])
                    .check(Check::RoundTrips {
                        binary,
                        len,
                        count: SERIES_COUNT,
                        wait,
                    })
                    .report_time()
                    .step(Step::Wirelog {
                        on: false,
                        mark: true,
                    })
                    .close_after(wait)
                    .send(frame(opcode(binary), unit).repeat(len)),
            );
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(v: &'a [Case], id: &str) -> &'a Case {
        v.iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no case {id}"))
    }

    #[test]
    fn ids_in_order() {
        let v = cases();
        let want: Vec<String> = [
            (1, 6),
            (2, 6),
            (3, 9),
            (4, 9),
            (5, 6),
            (6, 6),
            (7, 6),
            (8, 6),
        ]
        .iter()
        .flat_map(|&(g, n)| (1..=n).map(move |i| format!("9.{g}.{i}")))
        .collect();
        let got: Vec<&str> = v.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(got, want);
        assert_eq!(v.len(), 54);
    }

    #[test]
    fn checks_and_waits() {
        let v = cases();
        assert_eq!(
            find(&v, "9.1.1").check,
            Check::Echo {
                binary: false,
                len: 64 << 10,
                wait: 10.0
            }
        );
        assert_eq!(
            find(&v, "9.1.6").check,
            Check::Echo {
                binary: false,
                len: 16 << 20,
                wait: 100.0
            }
        );
        assert_eq!(
            find(&v, "9.2.4").check,
            Check::Echo {
                binary: true,
                len: 4 << 20,
                wait: 10.0
            }
        );
        assert_eq!(
            find(&v, "9.3.9").check,
            Check::Echo {
                binary: false,
                len: 4 << 20,
                wait: 100.0
            }
        );
        assert_eq!(
            find(&v, "9.6.6").check,
            Check::Echo {
                binary: true,
                len: 1 << 20,
                wait: 1000.0
            }
        );
        assert_eq!(
            find(&v, "9.7.1").check,
            Check::RoundTrips {
                binary: false,
                len: 0,
                count: 1000,
                wait: 60.0
            }
        );
        assert_eq!(
            find(&v, "9.8.4").check,
            Check::RoundTrips {
                binary: true,
                len: 256,
                count: 1000,
                wait: 120.0
            }
        );
        for c in &v {
            assert!(c.report_time, "{}", c.id);
            assert!(c.expected.is_empty(), "{}", c.id);
            assert_eq!(c.close.codes, vec![1000], "{}", c.id);
            assert!(c.close.closed_by_me && c.close.require_clean, "{}", c.id);
            // The wire log goes off first; the series (9.7, 9.8) marks the switch in the log.
            let series = c.id.starts_with("9.7.") || c.id.starts_with("9.8.");
            assert_eq!(
                c.steps[0],
                Step::Wirelog {
                    on: false,
                    mark: series
                },
                "{}",
                c.id
            );
            // The close timer matches the check's wait.
            let wait = match c.check {
                Check::Echo { wait, .. } | Check::RoundTrips { wait, .. } => wait,
                Check::Events | Check::Compression(_) => {
                    panic!("{} is not a group 9 echo case", c.id)
                }
            };
            assert!(c.steps.contains(&Step::CloseAfter(wait)), "{}", c.id);
        }
    }

    #[test]
    fn payloads_are_described_not_built() {
        let v = cases();
        let Step::Frame(f) = &find(&v, "9.2.6").steps[1] else {
            panic!("9.2.6 sends a frame")
        };
        assert_eq!(
            (f.opcode, f.payload.as_slice(), f.repeat_len, f.chop),
            (2, BINARY_UNIT, Some(16 << 20), None)
        );
        let Step::Frame(f) = &find(&v, "9.5.3").steps[1] else {
            panic!("9.5.3 sends a frame")
        };
        assert_eq!(
            (f.opcode, f.payload.as_slice(), f.repeat_len, f.chop),
            (1, TEXT_UNIT, Some(1 << 20), Some(256))
        );
        for (id, byte, fragment) in [
            ("9.3.1", b'*', 64),
            ("9.4.1", 0xfe, 64),
            ("9.4.2", b'*', 256),
        ] {
            let Step::Message {
                payload,
                repeat_len,
                fragment: fr,
                ..
            } = &find(&v, id).steps[1]
            else {
                panic!("{id} sends a message")
            };
            assert_eq!(
                (payload.as_slice(), *repeat_len, *fr),
                (&[byte][..], Some(4 << 20), Some(fragment)),
                "{id}"
            );
        }
    }
}
