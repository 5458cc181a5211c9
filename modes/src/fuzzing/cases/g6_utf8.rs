//! 6.x UTF-8 handling: empty fragments (6.1), valid text split anywhere (6.2), invalid text
//! (6.3), failing fast on invalid text (6.4), and one case per test vector (6.5 and up).

use super::super::case::*;

#[path = "utf8_vectors.rs"]
mod utf8_vectors;

/// "Hello-µ@ßöäüàá-UTF-8!!"
const HELLO_UTF8: &[u8] =
    b"Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!";
const KAPPA: &[u8] = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
/// κόσμε, an encoded surrogate, "edited".
const KAPPA_SURROGATE: &[u8] =
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64";
/// κόσμε, U+110000 in the UTF-8 scheme (out of range), "edited".
const FAIL_FAST: &[u8] =
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Subcategory labels of the vector groups (6.5 and up).
pub fn subcategories() -> Vec<(String, String)> {
    utf8_vectors::groups()
        .into_iter()
        .enumerate()
        .map(|(i, (name, _))| (format!("6.{}", i + 5), name.to_string()))
        .collect()
}

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let echo = "The message comes back unchanged; then a clean close with code 1000.";
    v.push(
        case("6.1.1", "Send a text message with an empty payload.", echo)
            .ok(vec![text(Vec::new())])
            .closed_by_me(&[1000])
            .send(frame(1, Vec::new()))
            .close_after(1.0),
    );
    v.push(
        case(
            "6.1.2",
            "Send a text message in three fragments that are all empty.",
            "An empty text message comes back; then a clean close with code 1000.",
        )
        .ok(vec![text(Vec::new())])
        .closed_by_me(&[1000])
        .send(frame(1, Vec::new()).fin(false))
        .send(frame(0, Vec::new()).fin(false))
        .send(frame(0, Vec::new()))
        .close_after(1.0),
    );
    v.push(
        case("6.1.3", "Send a text message in three fragments: empty, some text, empty.", "The middle fragment's text comes back as the message; then a clean close with code 1000.")
            .ok(vec![text(b"middle frame payload".to_vec())])
            .closed_by_me(&[1000])
            .send(frame(1, Vec::new()).fin(false))
            .send(frame(0, b"middle frame payload".to_vec()).fin(false))
            .send(frame(0, Vec::new()))
            .close_after(1.0),
    );
    let valid = |id: &str, what: &str, payload: &[u8]| {
        case(id, what, echo)
            .ok(vec![text(payload.to_vec())])
            .closed_by_me(&[1000])
    };
    v.push(
        valid(
            "6.2.1",
            "Send a valid UTF-8 text message with multi-byte characters in one frame.",
            HELLO_UTF8,
        )
        .send_message(HELLO_UTF8, false, None)
        .close_after(1.0),
    );
    v.push(
        valid(
            "6.2.2",
            "Send the same valid UTF-8 text in two fragments split between characters.",
            HELLO_UTF8,
        )
        .send(frame(1, HELLO_UTF8[..15].to_vec()).fin(false))
        .send(frame(0, HELLO_UTF8[15..].to_vec()))
        .close_after(1.0),
    );
    v.push(
        valid(
            "6.2.3",
            "Send the same valid UTF-8 text one octet per fragment, so fragments split characters.",
            HELLO_UTF8,
        )
        .send_message(HELLO_UTF8, false, Some(1))
        .close_after(1.0),
    );
    v.push(
        valid(
            "6.2.4",
            "Send valid UTF-8 text made only of multi-byte characters, one octet per fragment.",
            KAPPA,
        )
        .send_message(KAPPA, false, Some(1))
        .close_after(1.0),
    );
    let invalid = |id: &str, what: &str| {
        case(id, what, "The peer fails the connection as invalid payload (1007); closing from our side (the peer never noticed) fails the case.").ok(vec![]).failed_by_peer(&[1007]).wrong_endpoint_fatal()
    };
    v.push(invalid("6.3.1", "Send a text message that is not valid UTF-8 (it holds an encoded surrogate) in one frame.").send_message(KAPPA_SURROGATE, false, None).kill_after(1.0));
    v.push(
        invalid(
            "6.3.2",
            "Send the same invalid text one octet per fragment.",
        )
        .send_message(KAPPA_SURROGATE, false, Some(1))
        .kill_after(1.0),
    );
    // 6.4: the invalid octet arrives after a wait; the peer should fail at once, before the
    // rest arrives (OK), or at least once the message is complete (NON-STRICT).
    let (p1, p2, p3) = (&FAIL_FAST[..11], &FAIL_FAST[11..15], &FAIL_FAST[15..]);
    let (q1, q2, q3) = (&FAIL_FAST[..12], &FAIL_FAST[12..13], &FAIL_FAST[13..]);
    let fail_fast = |id: &str, what: String| {
        case(id, &what, "The first part is accepted (so the first wait runs out); the second part makes the text invalid and the peer fails the connection at once (1007). Failing only after the last part arrives is non-strict.")
            .ok(vec![timeout("A")])
            .non_strict(vec![timeout("A"), timeout("B")])
            .failed_by_peer(&[1007])
            .wrong_endpoint_fatal()
    };
    let frames = |a: &[u8], b: &[u8], c: &[u8]| {
        (
            Step::Frame(frame(1, a.to_vec()).fin(false)),
            Step::Frame(frame(0, b.to_vec()).fin(false)),
            vec![Step::Frame(frame(0, c.to_vec())), Step::KillAfter(1.0)],
        )
    };
    let chops = |a: &[u8], b: &[u8], c: &[u8]| {
        (
            Step::FrameData {
                data: a.to_vec(),
                sync: false,
            },
            Step::FrameData {
                data: b.to_vec(),
                sync: false,
            },
            vec![
                Step::FrameData {
                    data: c.to_vec(),
                    sync: false,
                },
                Step::EndMessage,
                Step::KillAfter(1.0),
            ],
        )
    };
    let staged = |c: Case, streaming: bool, (s1, s2, rest): (Step, Step, Vec<Step>)| {
        let mut c = c;
        if streaming {
            c = c
                .step(Step::BeginMessage { binary: false })
                .step(Step::BeginFrame {
                    len: FAIL_FAST.len() as u64,
                });
        }
        c.step(s1).later(
            1.0,
            Some("A"),
            true,
            vec![
                s2,
                Step::Later {
                    delay: 1.0,
                    tag: Some("B".into()),
                    guard: true,
                    steps: rest,
                },
            ],
        )
    };
    let parts =
        |a: &[u8], b: &[u8], c: &[u8]| format!(" Parts: {}, {}, {}.", hex(a), hex(b), hex(c));
    v.push(staged(fail_fast("6.4.1", format!("Send an invalid text message in three frames with a second's wait between them; the second frame holds a code point beyond U+10FFFF.{}", parts(p1, p2, p3))), false, frames(p1, p2, p3)));
    v.push(staged(fail_fast("6.4.2", format!("As 6.4.1, but the frames are cut so that the second holds only the octet that makes the text invalid.{}", parts(q1, q2, q3))), false, frames(q1, q2, q3)));
    v.push(staged(fail_fast("6.4.3", format!("As 6.4.1, but the three parts are pieces of one frame written with a second's wait between them.{}", parts(p1, p2, p3))), true, chops(p1, p2, p3)));
    v.push(staged(
        fail_fast(
            "6.4.4",
            format!(
                "As 6.4.2, but the three parts are pieces of one frame.{}",
                parts(q1, q2, q3)
            ),
        ),
        true,
        chops(q1, q2, q3),
    ));
    // 6.5 and up: one case per vector, the text in one frame.
    for (gi, (_, vectors)) in utf8_vectors::groups().into_iter().enumerate() {
        for (vi, (ok, bytes)) in vectors.into_iter().enumerate() {
            let id = format!("6.{}.{}", gi + 5, vi + 1);
            let c = if ok {
                case(&id, &format!("Send a text message whose payload is valid UTF-8, in one frame. Payload: 0x{}.", hex(&bytes)), echo).ok(vec![text(bytes.clone())]).closed_by_me(&[1000])
            } else {
                case(&id, &format!("Send a text message whose payload is not valid UTF-8, in one frame. Payload: 0x{}.", hex(&bytes)), "The peer fails the connection as invalid payload (1007) at once.")
                    .ok(vec![])
                    .failed_by_peer(&[1007])
                    .wrong_endpoint_fatal()
            };
            v.push(c.send_message(bytes, false, None).kill_after(0.5));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_agree_with_std() {
        for (name, vs) in utf8_vectors::groups() {
            for (ok, b) in vs {
                assert_eq!(std::str::from_utf8(&b).is_ok(), ok, "{name}: {b:x?}");
            }
        }
    }

    #[test]
    fn prefixes_valid_on_character_boundaries() {
        // κόσμε: characters of 2, 3, 2, 2 and 2 octets.
        let (_, prefixes) = &utf8_vectors::groups()[1];
        let valid: Vec<usize> = prefixes
            .iter()
            .filter(|(ok, _)| *ok)
            .map(|(_, b)| b.len())
            .collect();
        assert_eq!(prefixes.len(), 11);
        assert_eq!(valid, vec![2, 5, 7, 9, 11]);
    }

    #[test]
    fn ids_are_unique_and_counted() {
        let v = cases();
        assert_eq!(v.len(), 145);
        let mut ids: Vec<&str> = v.iter().map(|c| c.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 145);
        // 13 fixed cases (6.1-6.4), then one per vector in 19 groups.
        assert_eq!(v.iter().filter(|c| id_tuple(&c.id)[1] <= 4).count(), 13);
        assert_eq!(subcategories().len(), 19);
        assert_eq!(subcategories()[0].0, "6.5");
        assert_eq!(subcategories()[18].0, "6.23");
        let last = id_tuple(&v.last().unwrap().id);
        assert_eq!(last, vec![6, 23, 7]);
    }
}
