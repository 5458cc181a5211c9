use std::time::{Duration, Instant};

use super::*;
use crate::proto::codes::OpCode;
use crate::proto::frame::{close_payload, LengthForm, RawFrame};

fn now() -> Instant {
    Instant::now()
}

fn server() -> Connection {
    Connection::with_seed(Config::new(Role::Server), 1)
}

fn client() -> Connection {
    Connection::with_seed(Config::new(Role::Client), 2)
}

fn drain(c: &mut Connection) -> Vec<u8> {
    let mut v = Vec::new();
    while c.has_transmit() {
        c.take_transmit(&mut v);
    }
    v
}

fn events(c: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// Move all pending octets from `a` to `b`.
fn pump(a: &mut Connection, b: &mut Connection, t: Instant) {
    let mut bytes = drain(a);
    feed_at(b, &mut bytes, t);
}

/// Feed everything, as a driver does (events stay queued for the test to look at).
fn feed_at(c: &mut Connection, bytes: &mut [u8], t: Instant) {
    let mut off = 0;
    while off < bytes.len() {
        off += c.handle_input(&mut bytes[off..], t);
    }
}

/// Client-side frames as a peer would send them to a server.
fn masked(f: RawFrame) -> Vec<u8> {
    f.mask(Some([0xA1, 0xB2, 0xC3, 0xD4])).to_bytes()
}

fn feed(c: &mut Connection, bytes: &[u8]) {
    let mut b = bytes.to_vec();
    feed_at(c, &mut b, now());
}

/// The close frame a connection sent, if any, as (code, reason).
fn sent_close(c: &mut Connection) -> Option<(Option<u16>, Vec<u8>)> {
    let bytes = drain(c);
    let frames = crate::proto::decode::decode_all(&mut FrameDecoder::lenient(), &[&bytes]).unwrap();
    frames
        .into_iter()
        .rev()
        .find(|(h, _)| h.opcode == OpCode::CLOSE)
        .map(|(_, p)| {
            let code = (p.len() >= 2).then(|| u16::from_be_bytes([p[0], p[1]]));
            (code, p.get(2..).unwrap_or(&[]).to_vec())
        })
}

#[test]
fn message_round_trip_both_directions() {
    let (mut c, mut s) = (client(), server());
    assert!(c.send_text("hello"));
    assert!(c.send_binary(&[1, 2, 3]));
    pump(&mut c, &mut s, now());
    assert_eq!(
        events(&mut s),
        vec![
            Event::Message(Message {
                binary: false,
                data: b"hello".to_vec()
            }),
            Event::Message(Message {
                binary: true,
                data: vec![1, 2, 3]
            })
        ]
    );
    s.send_fragmented(false, "fragmented ☃ message".as_bytes(), 3);
    pump(&mut s, &mut c, now());
    assert_eq!(
        events(&mut c),
        vec![Event::Message(Message {
            binary: false,
            data: "fragmented ☃ message".as_bytes().to_vec()
        })]
    );
}

#[test]
fn ping_is_answered_with_same_payload() {
    let (mut c, mut s) = (client(), server());
    c.ping(b"are you there");
    pump(&mut c, &mut s, now());
    assert_eq!(events(&mut s), vec![Event::Ping(b"are you there".to_vec())]);
    pump(&mut s, &mut c, now());
    assert_eq!(events(&mut c), vec![Event::Pong(b"are you there".to_vec())]);
}

#[test]
fn control_frames_inside_fragmented_message() {
    let mut s = server();
    let mut w = masked(RawFrame::new(1, b"frag1".to_vec()).fin(false));
    w.extend(masked(RawFrame::new(9, b"p".to_vec())));
    w.extend(masked(RawFrame::new(0, b"frag2".to_vec())));
    feed(&mut s, &w);
    assert_eq!(
        events(&mut s),
        vec![
            Event::Ping(b"p".to_vec()),
            Event::Message(Message {
                binary: false,
                data: b"frag1frag2".to_vec()
            })
        ]
    );
}

#[test]
fn close_handshake_client_initiated() {
    let (mut c, mut s) = (client(), server());
    let t = now();
    c.close(Some(CloseCode::NORMAL), "bye", t);
    assert_eq!(c.state(), State::Closing);
    pump(&mut c, &mut s, t);
    assert_eq!(
        events(&mut s),
        vec![Event::Close {
            code: Some(CloseCode::NORMAL),
            reason: "bye".into()
        }]
    );
    // Server replied and shuts down its write side first.
    assert_eq!(s.transport_action(), TransportAction::ShutdownWrite);
    pump(&mut s, &mut c, t);
    assert_eq!(
        c.state(),
        State::Closing,
        "client waits for the server to close TCP"
    );
    c.handle_eof();
    assert!(c.is_closed());
    assert!(c.close_status().was_clean);
    assert!(c.close_status().closed_by_me);
    assert!(!c.close_status().dropped_by_me);
    s.handle_eof();
    assert!(s.close_status().was_clean);
    assert!(!s.close_status().closed_by_me);
    assert!(s.close_status().dropped_by_me);
}

#[test]
fn close_reply_echoes_code_and_empty_close_gets_empty_reply() {
    let mut s = server();
    feed(
        &mut s,
        &masked(RawFrame::new(8, close_payload(Some(3000), b"x"))),
    );
    assert_eq!(sent_close(&mut s), Some((Some(3000), vec![])));
    let mut s = server();
    feed(&mut s, &masked(RawFrame::new(8, vec![])));
    assert_eq!(sent_close(&mut s), Some((None, vec![])));
}

#[test]
fn client_times_out_waiting_for_server_to_drop() {
    let (mut c, mut s) = (client(), server());
    let t = now();
    c.close(Some(CloseCode::NORMAL), "", t);
    pump(&mut c, &mut s, t);
    pump(&mut s, &mut c, t);
    let dl = c.poll_timeout().unwrap();
    c.handle_timeout(dl);
    assert!(c.is_closed());
    assert!(!c.close_status().was_clean);
    assert!(c.close_status().server_drop_timeout);
    assert!(c.close_status().dropped_by_me);
}

#[test]
fn close_handshake_timeout() {
    let mut c = client();
    let t = now();
    c.close(None, "", t);
    c.handle_timeout(t + Duration::from_millis(999));
    assert!(!c.is_closed());
    c.handle_timeout(t + Duration::from_secs(1));
    assert!(c.is_closed());
    assert!(c.close_status().close_handshake_timeout);
    assert_eq!(c.transport_action(), TransportAction::Close);
}

/// Each rule of §5 fails the connection with the right code.
#[test]
fn violations_fail_with_codes() {
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (masked(RawFrame::new(1, b"x".to_vec()).rsv(4)), 1002),
        (masked(RawFrame::new(3, b"x".to_vec())), 1002),
        (masked(RawFrame::new(0xB, b"x".to_vec())), 1002),
        (masked(RawFrame::new(9, b"x".to_vec()).fin(false)), 1002),
        (masked(RawFrame::new(9, vec![b'x'; 126])), 1002),
        (masked(RawFrame::new(0, b"x".to_vec())), 1002),
        (masked(RawFrame::new(8, vec![3])), 1002),
        (
            masked(RawFrame::new(8, close_payload(Some(1005), b""))),
            1002,
        ),
        (
            masked(RawFrame::new(8, close_payload(Some(999), b""))),
            1002,
        ),
        (
            masked(RawFrame::new(8, close_payload(Some(1000), b"\xff"))),
            1007,
        ),
        (masked(RawFrame::new(1, vec![0xce, 0xba, 0xff])), 1007),
        (masked(RawFrame::new(1, vec![0xce])), 1007),
        (
            masked(RawFrame::new(2, vec![0; 10]).length_form(LengthForm::U16)),
            1002,
        ),
        (RawFrame::new(1, b"unmasked".to_vec()).to_bytes(), 1002),
    ];
    for (i, (wire, code)) in cases.into_iter().enumerate() {
        let mut s = server();
        feed(&mut s, &wire);
        let ev = events(&mut s);
        assert!(
            matches!(ev.last(), Some(Event::Failed(_))),
            "case {i}: {ev:?}"
        );
        assert_eq!(
            sent_close(&mut s).map(|c| c.0),
            Some(Some(code)),
            "case {i}"
        );
        assert_eq!(
            s.transport_action(),
            TransportAction::ShutdownWrite,
            "case {i}"
        );
        assert!(s.close_status().failed_by_me);
    }
    // A second data frame inside a fragmented message.
    let mut s = server();
    let mut w = masked(RawFrame::new(1, b"a".to_vec()).fin(false));
    w.extend(masked(RawFrame::new(1, b"b".to_vec())));
    feed(&mut s, &w);
    assert_eq!(sent_close(&mut s).map(|c| c.0), Some(Some(1002)));
    // Masked frame to a client.
    let mut c = client();
    feed(&mut c, &masked(RawFrame::new(1, b"x".to_vec())));
    assert!(matches!(
        events(&mut c).last(),
        Some(Event::Failed(ProtocolError::MaskedFrame))
    ));
}

#[test]
fn registry_close_codes_accepted() {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
    ] {
        let mut s = server();
        feed(
            &mut s,
            &masked(RawFrame::new(8, close_payload(Some(code), b""))),
        );
        assert_eq!(sent_close(&mut s), Some((Some(code), vec![])), "{code}");
        assert!(!s.close_status().failed_by_me);
    }
}

/// As Autobahn 0.10's fuzzer: a peer's invalid close code is recorded and judged, not lost.
#[test]
fn autobahn_policy_records_an_invalid_close_code() {
    let autobahn = |role| {
        let mut cfg = Config::new(role);
        cfg.close_codes = CloseCodePolicy::Autobahn;
        Connection::with_seed(cfg, 3)
    };
    // The fuzzer (a client) sent 999 first; the peer echoes it: the TCP connection is dropped,
    // the code recorded, the close not clean.
    let mut c = autobahn(Role::Client);
    let t = now();
    c.close_raw(Some(999), None, t);
    drain(&mut c);
    feed(
        &mut c,
        &RawFrame::new(8, close_payload(Some(999), b"echo")).to_bytes(),
    );
    let st = c.close_status();
    assert_eq!(
        (st.remote_code, st.remote_reason.as_deref()),
        (Some(999), Some("echo"))
    );
    assert!(st.failed_by_me && st.dropped_by_me && st.closed_by_me && !st.was_clean);
    assert!(c.is_closed());
    assert_eq!(c.transport_action(), TransportAction::Close);
    // The peer closes first with 1004: the fuzzer (a server) answers 1002 and the handshake
    // counts as done (the server then closes TCP).
    let mut s = autobahn(Role::Server);
    feed(
        &mut s,
        &masked(RawFrame::new(8, close_payload(Some(1004), b""))),
    );
    assert_eq!(sent_close(&mut s).map(|c| c.0), Some(Some(1002)));
    let st = s.close_status();
    assert_eq!(st.remote_code, Some(1004));
    assert!(st.failed_by_me && st.closed_by_me && st.was_clean);
    assert_eq!(s.transport_action(), TransportAction::ShutdownWrite);
    // Our own endpoints stay strict: the same frame is a protocol error, nothing recorded.
    let mut s = server();
    feed(
        &mut s,
        &masked(RawFrame::new(8, close_payload(Some(1004), b""))),
    );
    assert_eq!(s.close_status().remote_code, None);
    assert_eq!(sent_close(&mut s).map(|c| c.0), Some(Some(1002)));
}

#[test]
fn utf8_fails_fast_inside_a_frame() {
    // A text frame whose payload arrives in pieces: the invalid octet is found before the
    // frame is complete.
    let mut s = server();
    let mut payload = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5".to_vec();
    payload.extend_from_slice(b"\xf4\x90\x80\x80");
    payload.extend_from_slice(b"edited");
    let wire = masked(RawFrame::new(1, payload));
    let cut = 2 + 4 + 12; // header + mask + valid text + first byte of the bad sequence
    feed(&mut s, &wire[..cut]);
    assert!(events(&mut s).is_empty());
    feed(&mut s, &wire[cut..cut + 1]);
    assert_eq!(
        events(&mut s),
        vec![Event::Failed(ProtocolError::InvalidUtf8 { offset: 11 })]
    );
}

#[test]
fn utf8_across_fragments() {
    let mut s = server();
    let mut w = masked(RawFrame::new(1, vec![0xe2, 0x82]).fin(false));
    w.extend(masked(RawFrame::new(0, vec![0xac]))); // € split over two frames
    feed(&mut s, &w);
    assert_eq!(
        events(&mut s),
        vec![Event::Message(Message {
            binary: false,
            data: "€".as_bytes().to_vec()
        })]
    );
}

#[test]
fn message_too_big_is_1009_before_payload() {
    let mut cfg = Config::new(Role::Server);
    cfg.max_message_size = 100;
    let mut s = Connection::with_seed(cfg, 3);
    let wire = masked(RawFrame::new(2, vec![0; 101]));
    feed(&mut s, &wire[..8]); // header only
    assert!(matches!(
        events(&mut s).as_slice(),
        [Event::Failed(ProtocolError::MessageTooBig {
            size: 101,
            limit: 100
        })]
    ));
    assert_eq!(sent_close(&mut s).map(|c| c.0), Some(Some(1009)));
}

#[test]
fn input_after_failure_is_discarded() {
    let mut s = server();
    let mut w = masked(RawFrame::new(1, b"x".to_vec()).rsv(1));
    w.extend(masked(RawFrame::new(1, b"after".to_vec())));
    feed(&mut s, &w);
    feed(&mut s, &masked(RawFrame::new(1, b"later".to_vec())));
    let ev = events(&mut s);
    assert_eq!(ev.len(), 1, "{ev:?}");
}

#[test]
fn no_pong_after_close_and_no_sends() {
    let mut s = server();
    let t = now();
    s.close(Some(CloseCode::GOING_AWAY), "shutdown", t);
    drain(&mut s);
    feed(&mut s, &masked(RawFrame::new(9, b"p".to_vec())));
    assert!(drain(&mut s).is_empty());
    assert!(!s.send_text("late"));
}

#[test]
fn drop_on_input_policy() {
    let mut cfg = Config::new(Role::Server);
    cfg.fail_policy = FailPolicy::CloseThenDropOnInput;
    let mut s = Connection::with_seed(cfg, 4);
    feed(&mut s, &masked(RawFrame::new(3, vec![])));
    assert_eq!(s.state(), State::Closing);
    feed(&mut s, &masked(RawFrame::new(8, vec![])));
    assert!(s.is_closed());
    assert!(s.close_status().dropped_by_me);
}

#[test]
fn segmented_transmit_preserves_order() {
    let mut c = client();
    c.send_raw(b"ab");
    c.send_raw_segmented(b"cdefg", Some(2), false);
    c.send_raw(b"hi");
    let mut runs = Vec::new();
    while c.has_transmit() {
        let mut v = Vec::new();
        let sync = c.take_transmit(&mut v);
        runs.push((v, sync));
    }
    assert_eq!(
        runs,
        vec![
            (b"ab".to_vec(), false),
            (b"cd".to_vec(), true),
            (b"ef".to_vec(), true),
            (b"g".to_vec(), true),
            (b"hi".to_vec(), false)
        ]
    );
}

#[test]
fn peer_drop_is_unclean() {
    let mut s = server();
    s.handle_eof();
    assert!(s.is_closed());
    assert!(!s.close_status().was_clean);
    assert!(!s.close_status().dropped_by_me);
    assert!(s.close_status().not_clean_reason.is_some());
}

#[test]
fn any_chunking_gives_same_events() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    let mut c = client();
    c.send_text("first");
    c.send_fragmented(true, &vec![7u8; 5000], 999);
    c.ping(b"pp");
    c.send_text("κόσμε");
    let wire = drain(&mut c);
    let mut want = None;
    for _ in 0..200 {
        let mut s = server();
        let mut i = 0;
        while i < wire.len() {
            let n = rng.random_range(1..=64.min(wire.len() - i));
            feed(&mut s, &wire[i..i + n]);
            i += n;
        }
        let ev = events(&mut s);
        match &want {
            None => want = Some(ev),
            Some(w) => assert_eq!(&ev, w),
        }
    }
    assert_eq!(want.unwrap().len(), 4);
}

/// A valid message followed by a violation in the same read: the application gets to answer
/// the message before the connection is failed (Autobahn 3.2, 4.1.3, 5.15).
#[test]
fn message_answered_before_later_violation() {
    let mut s = server();
    let mut w = masked(RawFrame::new(1, b"Hello, world!".to_vec()));
    w.extend(masked(RawFrame::new(1, b"Hello, world!".to_vec()).rsv(2)));
    w.extend(masked(RawFrame::new(9, vec![])));
    s.handle_input_all(&mut w, now(), |c, ev| {
        if let Event::Message(m) = ev {
            assert!(c.send_message(m.binary, &m.data));
        }
    });
    let out = drain(&mut s);
    // Echo first, then the close frame.
    assert_eq!(
        &out[..15],
        &[0x81, 13, b'H', b'e', b'l', b'l', b'o', b',', b' ', b'w', b'o', b'r', b'l', b'd', b'!']
    );
    assert_eq!(out[15], 0x88);
}

fn deflate_pair(params: crate::proto::deflate::DeflateParams) -> (Connection, Connection) {
    let mut cc = Config::new(Role::Client);
    cc.deflate = Some(params);
    let mut sc = Config::new(Role::Server);
    sc.deflate = Some(params);
    (Connection::with_seed(cc, 5), Connection::with_seed(sc, 6))
}

#[test]
fn deflate_messages_both_ways() {
    use crate::proto::deflate::DeflateParams;
    for p in [
        DeflateParams::default(),
        DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 9,
            client_max_window_bits: 10,
        },
    ] {
        let (mut c, mut s) = deflate_pair(p);
        let big = "compress me ".repeat(1000);
        for _ in 0..3 {
            assert!(c.send_text(&big));
            c.send_fragmented(true, &vec![7u8; 3000], 100);
            let wire = drain(&mut c);
            assert!(wire.len() < big.len() / 4, "compressed on the wire");
            assert_eq!(wire[0] & 0x40, 0x40, "RSV1 on the first frame");
            let mut w = wire;
            feed_at(&mut s, &mut w, now());
            assert_eq!(
                events(&mut s),
                vec![
                    Event::Message(Message {
                        binary: false,
                        data: big.clone().into_bytes()
                    }),
                    Event::Message(Message {
                        binary: true,
                        data: vec![7u8; 3000]
                    })
                ]
            );
            s.send_text("back");
            pump(&mut s, &mut c, now());
            assert_eq!(
                events(&mut c),
                vec![Event::Message(Message {
                    binary: false,
                    data: b"back".to_vec()
                })]
            );
        }
        assert!(c.counters().tx_app_octets > c.counters().tx_payload_octets);
    }
}

#[test]
fn deflate_violations() {
    use crate::proto::deflate::DeflateParams;
    // RSV1 on a continuation frame, and on a control frame: 1002.
    for wire in [
        {
            let mut w = masked(RawFrame::new(1, vec![0x00]).fin(false).rsv(4));
            w.extend(masked(RawFrame::new(0, vec![0x00]).rsv(4)));
            w
        },
        masked(RawFrame::new(9, vec![]).rsv(4)),
    ] {
        let (_, mut s) = deflate_pair(DeflateParams::default());
        feed(&mut s, &wire);
        assert_eq!(sent_close(&mut s).map(|c| c.0), Some(Some(1002)));
    }
    // Corrupt compressed data: 1007.
    let (_, mut s) = deflate_pair(DeflateParams::default());
    feed(
        &mut s,
        &masked(RawFrame::new(1, vec![0xff, 0xff, 0xff]).rsv(4)),
    );
    assert_eq!(sent_close(&mut s).map(|c| c.0), Some(Some(1007)));
    // A message that inflates past the limit: 1009, without inflating it all.
    let mut z = Vec::new();
    crate::proto::deflate::Deflater::new(15, false, 9).compress(&vec![b'a'; 8 << 20], &mut z);
    let mut sc = Config::new(Role::Server);
    sc.deflate = Some(DeflateParams::default());
    sc.max_message_size = 1 << 20;
    let mut s = Connection::with_seed(sc, 9);
    feed(&mut s, &masked(RawFrame::new(1, z).rsv(4)));
    assert_eq!(sent_close(&mut s).map(|c| c.0), Some(Some(1009)));
    // Without the extension, RSV1 is still an error.
    let mut s = server();
    feed(&mut s, &masked(RawFrame::new(1, vec![0x00]).rsv(4)));
    assert_eq!(sent_close(&mut s).map(|c| c.0), Some(Some(1002)));
}

#[test]
fn at_rest_only_between_messages_with_nothing_queued() {
    let (mut s, mut c) = (server(), client());
    assert!(c.at_rest());
    // A ping from the server: the pong is queued, then written: at rest again.
    s.ping(b"hi");
    pump(&mut s, &mut c, now());
    let _ = events(&mut c);
    assert!(!c.at_rest(), "pong queued");
    drain(&mut c);
    assert!(c.at_rest());
    // Half a frame, then the first fragment of a message: not at rest until it ends.
    s.send_fragmented(false, b"abcdef", 3);
    let mut bytes = drain(&mut s);
    feed_at(&mut c, &mut bytes[..1], now());
    assert!(!c.at_rest(), "partial header");
    feed_at(&mut c, &mut bytes[1..5], now());
    let _ = events(&mut c);
    assert!(!c.at_rest(), "inside a fragmented message");
    feed_at(&mut c, &mut bytes[5..], now());
    let _ = events(&mut c);
    assert!(c.at_rest());
    // A close from the server: never at rest again.
    s.close(Some(CloseCode::NORMAL), "", now());
    pump(&mut s, &mut c, now());
    let _ = events(&mut c);
    drain(&mut c);
    assert!(!c.at_rest());
}
