//! 7.x Close handling, all started by the fuzzer: basic behaviour (7.1), the close frame's
//! payload length (7.3) and value (7.5), valid (7.7) and invalid (7.9) close codes, and codes
//! the RFC leaves open (7.13).

use super::super::case::*;

const HELLO: &[u8] = b"Hello World!";

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let clean = "A clean close with code 1000.";
    // 7.1: basic close behaviour. A close reply with another code fails the case itself.
    v.push(
        case(
            "7.1.1",
            "Send a text message, then wait for its echo and close.",
            "The message is echoed, then a clean close with code 1000.",
        )
        .ok(vec![text(HELLO)])
        .closed_by_me(&[1000])
        .adjust(Adjust::WrongCodeFails)
        .send(frame(1, HELLO))
        .kill_after(1.0),
    );
    let after_close =
        |id: &str, what: &str, expect: &str, before: Option<FrameSpec>, after: FrameSpec| {
            let mut c = case(id, what, expect)
                .ok(vec![])
                .closed_by_me(&[1000])
                .suppress_close()
                .adjust(Adjust::WrongCodeFails);
            if let Some(b) = before {
                c = c.send(b);
            }
            c.send_close(Some(1000), None).send(after).kill_after(1.0)
        };
    v.push(after_close(
        "7.1.2",
        "Send two close frames, one after the other.",
        "A clean close with code 1000; the second close frame is ignored.",
        None,
        frame(8, Vec::new()),
    ));
    v.push(after_close(
        "7.1.3",
        "Send a close frame, then a ping.",
        "A clean close with code 1000 and no pong (pings after a close are not answered).",
        None,
        frame(9, Vec::new()),
    ));
    v.push(after_close(
        "7.1.4",
        "Send a close frame, then a text message.",
        "A clean close with code 1000; the text message is ignored.",
        None,
        frame(1, HELLO),
    ));
    v.push(after_close(
        "7.1.5",
        "Send the first fragment of a text message, a close frame, then the last fragment.",
        clean,
        Some(frame(1, b"fragment1".to_vec()).fin(false)),
        frame(0, b"fragment2".to_vec()),
    ));
    v.push(
        case(
            "7.1.6",
            "Send a 256 KiB text message, a short text message, a close frame and a ping, back to back.",
            "Depends on the order the peer processes these in: it may answer the close before it echoed the messages (or only part of them). Informational.",
        )
        .ok(vec![text(HELLO)])
        .non_strict(vec![])
        .closed_by_me(&[1000])
        .suppress_close()
        .adjust(Adjust::Informational {
            ok_text: Some("The peer echoed the text message before it handled the close.".into()),
            non_strict_text: Some("The peer handled the close before it could echo the text message.".into()),
            text: None,
        })
        .send(frame(1, b"BAsd7&jh23".to_vec()).repeat(256 << 10))
        .send(frame(1, HELLO))
        .send_close(Some(1000), None)
        .send(frame(9, Vec::new()))
        .kill_after(1.0),
    );
    // 7.3: payload length of the close frame.
    let star = |n: usize| vec![b'*'; n];
    let closes: [(&str, &str, &str, bool, Step); 6] = [
        ("7.3.1", "Send a close frame with an empty payload (no code, no reason).", clean, true, Step::CloseFrame { code: None, reason: None }),
        ("7.3.2", "Send a close frame whose payload is a single octet.", "A close with a protocol error (1002), or the TCP connection dropped.", false, Step::CloseFrame { code: None, reason: Some(b"a".to_vec()) }),
        ("7.3.3", "Send a close frame with a code and no reason (payload of 2 octets).", clean, true, Step::Close { code: Some(1000), reason: None }),
        ("7.3.4", "Send a close frame with a code and a reason.", clean, true, Step::Close { code: Some(1000), reason: Some("Hello World!".into()) }),
        ("7.3.5", "Send a close frame with a code and a reason of 123 octets, the longest that fits a control frame.", clean, true, Step::Close { code: Some(1000), reason: Some("*".repeat(123)) }),
        ("7.3.6", "Send a close frame with a code and a reason of 124 octets: a payload of 126 octets, more than a control frame may carry.", "A close with a protocol error (1002), or the TCP connection dropped.", false, Step::CloseFrame { code: Some(1000), reason: Some(star(124)) }),
    ];
    for (id, what, expect, ok, step) in closes {
        let c = if ok {
            case(id, what, expect).ok(vec![]).closed_by_me(&[1000])
        } else {
            case(id, what, expect)
                .ok(vec![])
                .closed_by_me(&[1002])
                .unclean_ok()
        };
        v.push(
            c.suppress_close()
                .adjust(Adjust::WrongCodeFails)
                .step(step)
                .kill_after(1.0),
        );
    }
    // 7.5: close reason that is not UTF-8.
    v.push(
        case("7.5.1", "Send a close frame whose reason is not valid UTF-8 (it holds an encoded surrogate).", "A close with a protocol error (1002) or invalid payload (1007) code, or the TCP connection dropped.")
            .ok(vec![])
            .closed_by_me(&[1002, 1007])
            .unclean_ok()
            .suppress_close()
            .adjust(Adjust::WrongCodeFails)
            .adjust(Adjust::HexLocalReason)
            .send_close_frame(Some(1000), Some(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"))
            .kill_after(1.0),
    );
    // 7.7: valid close codes are echoed (or answered with 1000).
    for (i, code) in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ]
    .into_iter()
    .enumerate()
    {
        v.push(
            case(
                &format!("7.7.{}", i + 1),
                &format!("Send a close frame with the valid close code {code}."),
                "A clean close, with code 1000 or the same code back.",
            )
            .ok(vec![])
            .closed_by_me(&[1000, code])
            .adjust(Adjust::WrongCodeFails)
            .send_close_frame(Some(code), None)
            .kill_after(1.0),
        );
    }
    // 7.9: codes that may not be used in a close frame.
    for (i, code) in [0u16, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999]
        .into_iter()
        .enumerate()
    {
        v.push(
            case(&format!("7.9.{}", i + 1), &format!("Send a close frame with the close code {code}, which may not appear on the wire."), "A close with a protocol error (1002), or the TCP connection dropped.")
                .ok(vec![])
                .closed_by_me(&[1002])
                .unclean_ok()
                .adjust(Adjust::WrongCodeFails)
                .send_close_frame(Some(code), None)
                .kill_after(1.0),
        );
    }
    // 7.13: codes above the registered ranges; the RFC does not say what a peer must do.
    for (i, code) in [5000u16, 65535].into_iter().enumerate() {
        v.push(
            case(
                &format!("7.13.{}", i + 1),
                &format!("Send a close frame with the close code {code}."),
                "The RFC does not define what happens. Informational.",
            )
            .ok(vec![])
            .closed_by_me(&[1000, code, 1002])
            .unclean_ok()
            .suppress_close()
            .adjust(Adjust::Informational {
                ok_text: None,
                non_strict_text: None,
                text: Some("What a peer does here is not defined by the RFC.".into()),
            })
            .send_close_frame(Some(code), None)
            .kill_after(1.0),
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_adjustments() {
        let v = cases();
        assert_eq!(v.len(), 37);
        assert!(v
            .iter()
            .filter(|c| c.id.starts_with("7.9."))
            .all(|c| c.close.codes == [1002] && c.adjust == [Adjust::WrongCodeFails]));
        assert!(v
            .iter()
            .filter(|c| c.id.starts_with("7.13."))
            .all(|c| matches!(c.adjust[0], Adjust::Informational { .. })));
    }
}
