//! 2.x Pings and pongs.

use super::super::case::*;

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let simple: [(&str, &str, Vec<u8>); 4] = [
        ("2.1", "a ping without payload", Vec::new()),
        (
            "2.2",
            "a ping carrying a short text payload",
            b"Hello, world!".to_vec(),
        ),
        (
            "2.3",
            "a ping carrying a short binary payload",
            b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff".to_vec(),
        ),
        (
            "2.4",
            "a ping carrying 125 octets of binary payload, the most a control frame may hold",
            vec![0xfe; 125],
        ),
    ];
    for (id, what, payload) in simple {
        v.push(
            case(
                id,
                &format!("Send {what}."),
                "A pong with the very same payload answers it; then a clean close with code 1000.",
            )
            .ok(vec![pong(payload.clone())])
            .closed_by_me(&[1000])
            .send(frame(9, payload))
            .close_after(1.0),
        );
    }
    v.push(
        case(
            "2.5",
            "Send a ping whose payload is 126 octets, one more than a control frame may carry.",
            "The peer fails the connection (protocol error) and sends no pong.",
        )
        .ok(vec![])
        .failed_by_peer(&[1002])
        .send(frame(9, vec![0xfe; 126]))
        .kill_after(1.0),
    );
    v.push(
        case("2.6", "Send a ping with 125 octets of binary payload, written to the socket one octet at a time.", "The pong carries the same payload (the peer reassembles a frame that trickles in); then a clean close with code 1000.")
            .ok(vec![pong(vec![0xfe; 125])])
            .closed_by_me(&[1000])
            .send(frame(9, vec![0xfe; 125]).chop(1))
            .close_after(2.0),
    );
    v.push(
        case(
            "2.7",
            "Send a pong nobody asked for (no payload), then start the closing handshake.",
            "The unsolicited pong is ignored; a clean close with code 1000.",
        )
        .ok(vec![])
        .closed_by_me(&[1000])
        .send(frame(10, Vec::new()))
        .send_close(Some(1000), None)
        .close_after(1.0),
    );
    v.push(
        case(
            "2.8",
            "Send an unsolicited pong with a payload, then start the closing handshake.",
            "The unsolicited pong is ignored; a clean close with code 1000.",
        )
        .ok(vec![])
        .closed_by_me(&[1000])
        .send(frame(10, b"unsolicited pong payload".to_vec()))
        .send_close(Some(1000), None)
        .close_after(1.0),
    );
    v.push(
        case("2.9", "Send an unsolicited pong with a payload, then a ping with another payload.", "Only the ping is answered, by a pong with the ping's payload; then a clean close with code 1000.")
            .ok(vec![pong(b"ping payload".to_vec())])
            .closed_by_me(&[1000])
            .send(frame(10, b"unsolicited pong payload".to_vec()))
            .send(frame(9, b"ping payload".to_vec()))
            .close_after(1.0),
    );
    for (id, chop, how) in [
        ("2.10", None, ""),
        ("2.11", Some(1), ", every octet written on its own"),
    ] {
        let mut c = case(
            id,
            &format!("Send ten pings with different payloads back to back{how}."),
            "Ten pongs, one per ping, in order and with the matching payloads (the RFC only requires an answer to the last one, but answering all is expected here); then a clean close with code 1000.",
        );
        let mut expect = Vec::new();
        for i in 0..10 {
            let p = format!("payload-{i}").into_bytes();
            expect.push(pong(p.clone()));
            let mut f = frame(9, p);
            if let Some(c) = chop {
                f = f.chop(c);
            }
            c = c.send(f);
        }
        v.push(c.ok(expect).closed_by_me(&[1000]).close_after(3.0));
    }
    v
}
