//! RFC 6455 §5 (framing), §7 (closing) and §8 (UTF-8) as the testee server enforces them,
//! over real loopback sockets: a raw client writes crafted frames and checks the exact frames
//! the server answers with and that the server then closes the TCP connection.

mod common;

use common::*;
use wstest_engine::proto::frame::{LengthForm, RawFrame};

/// One violation: what is written after the handshake, and the close code it must draw.
struct Violation {
    name: String,
    bytes: Vec<u8>,
    code: u16,
}

fn violation(name: impl Into<String>, frames: &[RawFrame], code: u16) -> Violation {
    Violation {
        name: name.into(),
        bytes: frames.iter().flat_map(|f| f.to_bytes()).collect(),
        code,
    }
}

/// Run each violation on its own connection to one fresh testee server: the server must send
/// a Close frame with the case's code and then close TCP; afterwards it still serves a good
/// client, and its report counts one protocol error per case.
fn run_violations(cases: &[Violation]) {
    let server = Server::testee();
    for case in cases {
        eprintln!("case: {}", case.name);
        let mut c = RawClient::connect(server.addr());
        c.send_raw(&case.bytes);
        let f = c.expect_failed(case.code);
        assert!(
            !f.close_reason().is_empty(),
            "{}: the close reason should name the rule",
            case.name
        );
    }
    assert_serves(server.addr());
    let report = server.finish();
    assert_eq!(
        report.stats.protocol_errors,
        cases.len() as u64,
        "protocol errors counted by the server"
    );
}

#[test]
fn rsv_bits_without_extension_fail_1002() {
    let cases: Vec<Violation> = [("RSV1", 4u8), ("RSV2", 2), ("RSV3", 1), ("RSV1+RSV3", 5)]
        .iter()
        .flat_map(|&(name, rsv)| {
            [
                violation(
                    format!("{name} on a text frame"),
                    &[masked(TEXT, true, b"hi").rsv(rsv)],
                    1002,
                ),
                violation(
                    format!("{name} on a ping"),
                    &[masked(PING, true, b"p").rsv(rsv)],
                    1002,
                ),
            ]
        })
        .collect();
    run_violations(&cases);
}

#[test]
fn reserved_data_opcodes_fail_1002() {
    let cases: Vec<Violation> = (3u8..=7)
        .map(|op| violation(format!("opcode {op:#x}"), &[masked(op, true, b"x")], 1002))
        .collect();
    run_violations(&cases);
}

#[test]
fn reserved_control_opcodes_fail_1002() {
    let cases: Vec<Violation> = (0xBu8..=0xF)
        .map(|op| violation(format!("opcode {op:#x}"), &[masked(op, true, b"x")], 1002))
        .collect();
    run_violations(&cases);
}

#[test]
fn fragmented_control_frames_fail_1002() {
    run_violations(&[
        violation("ping without FIN", &[masked(PING, false, b"p")], 1002),
        violation("pong without FIN", &[masked(PONG, false, b"p")], 1002),
        violation(
            "close without FIN",
            &[masked(CLOSE, false, &close_payload(1000, b""))],
            1002,
        ),
        violation(
            "ping without FIN inside a fragmented text message",
            &[
                masked(TEXT, false, b"a"),
                masked(PING, false, b"p"),
                masked(CONTINUATION, true, b"b"),
            ],
            1002,
        ),
    ]);
}

#[test]
fn control_payload_over_125_fails_1002() {
    let big = vec![b'x'; 126];
    run_violations(&[
        violation("ping of 126 bytes", &[masked(PING, true, &big)], 1002),
        violation("pong of 126 bytes", &[masked(PONG, true, &big)], 1002),
        violation(
            "close of 126 bytes",
            &[masked(CLOSE, true, &close_payload(1000, &big[..124]))],
            1002,
        ),
    ]);
}

#[test]
fn control_payload_of_125_is_fine() {
    let server = Server::testee();
    let mut c = RawClient::connect(server.addr());
    let p: Vec<u8> = (0..125u8).collect();
    c.send_frame(PING, true, &p);
    c.expect(PONG, &p);
    let reason = vec![b'r'; 123];
    c.send_close(1000, &reason);
    c.expect_close(1000);
    c.expect_eof();
    assert_eq!(server.finish().stats.protocol_errors, 0);
}

#[test]
fn close_payload_of_one_byte_fails_1002() {
    run_violations(&[violation(
        "close with a 1-byte payload",
        &[masked(CLOSE, true, &[0x03])],
        1002,
    )]);
}

#[test]
fn invalid_close_codes_fail_1002() {
    let cases: Vec<Violation> = [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]
        .iter()
        .map(|&code| {
            violation(
                format!("close code {code}"),
                &[masked(CLOSE, true, &close_payload(code, b"bad"))],
                1002,
            )
        })
        .collect();
    run_violations(&cases);
}

#[test]
fn valid_close_codes_are_echoed_cleanly() {
    let server = Server::testee();
    let codes: Vec<u16> = (1000..=1003)
        .chain(1007..=1014)
        .chain([3000, 4999])
        .collect();
    for code in &codes {
        eprintln!("close code {code}");
        let mut c = RawClient::connect(server.addr());
        c.send_close(*code, b"fine");
        c.expect_close(*code);
        c.expect_eof();
    }
    // Without a payload: the reply carries none either.
    let mut c = RawClient::connect(server.addr());
    c.send_frame(CLOSE, true, b"");
    let f = c.expect_frame();
    assert_eq!((f.opcode, f.payload.len()), (CLOSE, 0), "{f:?}");
    c.expect_eof();
    assert_eq!(server.finish().stats.protocol_errors, 0);
}

#[test]
fn continuation_without_a_start_fails_1002() {
    run_violations(&[
        violation(
            "final continuation first",
            &[masked(CONTINUATION, true, b"x")],
            1002,
        ),
        violation(
            "non-final continuation first",
            &[masked(CONTINUATION, false, b"x")],
            1002,
        ),
    ]);
}

#[test]
fn continuation_after_complete_message_echoes_first() {
    // The complete message before the violation is still answered (it was valid).
    let server = Server::testee();
    let mut c = RawClient::connect(server.addr());
    c.send(&masked(TEXT, true, b"done"));
    c.send(&masked(CONTINUATION, true, b"more"));
    c.expect_text("done");
    c.expect_failed(1002);
}

#[test]
fn new_data_frame_inside_fragmented_message_fails_1002() {
    run_violations(&[
        violation(
            "text inside text",
            &[masked(TEXT, false, b"a"), masked(TEXT, true, b"b")],
            1002,
        ),
        violation(
            "binary inside text",
            &[masked(TEXT, false, b"a"), masked(BINARY, true, b"b")],
            1002,
        ),
        violation(
            "text inside binary",
            &[masked(BINARY, false, b"a"), masked(TEXT, true, b"b")],
            1002,
        ),
        violation(
            "non-final binary inside binary",
            &[masked(BINARY, false, b"a"), masked(BINARY, false, b"b")],
            1002,
        ),
    ]);
}

#[test]
fn unmasked_client_frames_fail_1002() {
    run_violations(&[
        violation(
            "unmasked text",
            &[RawFrame::new(TEXT, b"hi".to_vec())],
            1002,
        ),
        violation("unmasked ping", &[RawFrame::new(PING, b"p".to_vec())], 1002),
        violation(
            "unmasked close",
            &[RawFrame::new(CLOSE, close_payload(1000, b""))],
            1002,
        ),
        violation(
            "unmasked continuation",
            &[
                masked(TEXT, false, b"a"),
                RawFrame::new(CONTINUATION, b"b".to_vec()),
            ],
            1002,
        ),
    ]);
}

#[test]
fn non_minimal_length_encodings_fail_1002() {
    // A 64-bit length with its most significant bit set (§5.2), masked.
    let mut msb = vec![0x82, 0x80 | 127];
    msb.extend_from_slice(&(1u64 << 63 | 5).to_be_bytes());
    msb.extend_from_slice(&MASK);
    let cases = vec![
        violation(
            "5 bytes in the 16-bit form",
            &[masked(BINARY, true, &[0; 5]).length_form(LengthForm::U16)],
            1002,
        ),
        violation(
            "125 bytes in the 16-bit form",
            &[masked(BINARY, true, &[0; 125]).length_form(LengthForm::U16)],
            1002,
        ),
        violation(
            "5 bytes in the 64-bit form",
            &[masked(BINARY, true, &[0; 5]).length_form(LengthForm::U64)],
            1002,
        ),
        violation(
            "200 bytes in the 64-bit form",
            &[masked(BINARY, true, &[0; 200]).length_form(LengthForm::U64)],
            1002,
        ),
        violation(
            "65535 bytes in the 64-bit form",
            &[masked(BINARY, true, &vec![0; 65535]).length_form(LengthForm::U64)],
            1002,
        ),
        violation(
            "ping in the 16-bit form",
            &[masked(PING, true, b"p").length_form(LengthForm::U16)],
            1002,
        ),
        Violation {
            name: "64-bit length with the top bit set".into(),
            bytes: msb,
            code: 1002,
        },
    ];
    run_violations(&cases);
}

#[test]
fn minimal_length_boundaries_echo() {
    // 125/126 (7-bit vs 16-bit) and 65535/65536 (16-bit vs 64-bit): the server accepts each
    // and answers with minimal encodings (the lenient decoder rejects any other).
    let server = Server::testee();
    let mut c = RawClient::connect(server.addr());
    for n in [0usize, 1, 125, 126, 127, 65535, 65536, 100_000] {
        let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        c.send_binary(&data);
        c.expect_binary(&data);
    }
    c.close_cleanly();
}

/// Invalid UTF-8 byte sequences, each in a text message on its own.
const BAD_UTF8: &[(&str, &[u8])] = &[
    ("0xFF byte", b"abc\xffdef"),
    ("lone continuation byte", b"\x80"),
    ("overlong '/' in 2 bytes", b"\xc0\xaf"),
    ("overlong in 3 bytes", b"\xe0\x80\xaf"),
    ("UTF-16 surrogate U+D800", b"\xed\xa0\x80"),
    ("above U+10FFFF", b"\xf4\x90\x80\x80"),
    (
        "kosme with a surrogate",
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
    ),
    ("message ends inside a sequence", b"kosme \xce"),
];

#[test]
fn invalid_utf8_in_text_fails_1007() {
    let cases: Vec<Violation> = BAD_UTF8
        .iter()
        .map(|(name, bytes)| violation(*name, &[masked(TEXT, true, bytes)], 1007))
        .collect();
    run_violations(&cases);
}

#[test]
fn same_bytes_in_binary_messages_are_echoed() {
    let server = Server::testee();
    let mut c = RawClient::connect(server.addr());
    for (_, bytes) in BAD_UTF8 {
        c.send_binary(bytes);
        c.expect_binary(bytes);
    }
    let kosme = "κόσμε, 𝄞 and \u{10FFFF}";
    c.send_text(kosme);
    c.expect_text(kosme);
    c.close_cleanly();
}

#[test]
fn invalid_utf8_split_across_fragments_fails_1007() {
    run_violations(&[
        // F0 90 is a valid start of a 4-byte sequence; the next fragment's 0x28 breaks it.
        violation(
            "sequence broken in the next fragment",
            &[
                masked(TEXT, false, b"ab\xf0\x90"),
                masked(CONTINUATION, true, b"\x28\x8c\xbc"),
            ],
            1007,
        ),
        // The first fragment alone is valid; the second starts with a stray continuation byte.
        violation(
            "stray continuation byte in a continuation frame",
            &[
                masked(TEXT, false, b"ok "),
                masked(CONTINUATION, true, b"\x80"),
            ],
            1007,
        ),
        // The message ends in the middle of a sequence begun in an earlier fragment.
        violation(
            "message ends inside a split sequence",
            &[
                masked(TEXT, false, b"ab\xe2\x82"),
                masked(CONTINUATION, false, b""),
                masked(CONTINUATION, true, b""),
            ],
            1007,
        ),
    ]);
}

#[test]
fn valid_utf8_split_byte_by_byte_is_echoed() {
    let server = Server::testee();
    let mut c = RawClient::connect(server.addr());
    let text = "κόσμε 𝄞";
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        let op = if i == 0 { TEXT } else { CONTINUATION };
        c.send_frame(op, i == bytes.len() - 1, &[*b]);
    }
    c.expect_text(text);
    c.close_cleanly();
}

#[test]
fn invalid_utf8_fails_fast_before_the_frame_is_complete() {
    let server = Server::testee();
    let mut c = RawClient::connect(server.addr());
    let mut payload = b"hello\xf4\x90\x80\x80".to_vec();
    payload.resize(64, b'x');
    let frame = masked(TEXT, true, &payload).to_bytes();
    // Header (2 + 4 mask octets) and the first 9 payload octets: the invalid sequence is
    // there, 55 octets of the frame are not.
    c.send_raw(&frame[..6 + 9]);
    let f = c.expect_close(1007);
    eprintln!("reason: {}", f.close_reason());
    c.expect_eof();
}

#[test]
fn invalid_utf8_fails_fast_in_a_non_final_fragment() {
    // The continuation never comes: the first fragment alone must draw the 1007.
    let server = Server::testee();
    let mut c = RawClient::connect(server.addr());
    c.send_frame(TEXT, false, b"abc\xc0\xaf");
    c.expect_failed(1007);
}

#[test]
fn invalid_utf8_in_close_reason_fails_1007() {
    run_violations(&[
        violation(
            "0xFF in the reason",
            &[masked(CLOSE, true, &close_payload(1000, b"bye \xff"))],
            1007,
        ),
        violation(
            "reason ends inside a sequence",
            &[masked(CLOSE, true, &close_payload(1000, b"\xce"))],
            1007,
        ),
        violation(
            "surrogate in the reason",
            &[masked(CLOSE, true, &close_payload(3000, b"\xed\xa0\x80"))],
            1007,
        ),
    ]);
}

#[test]
fn message_over_the_size_limit_fails_1009() {
    let server = Server::testee_with(|o| o.max_message_size = 1000);
    // At the limit: echoed.
    let mut c = RawClient::connect(server.addr());
    c.send_binary(&[7; 1000]);
    c.expect_binary(&[7; 1000]);
    let t = "t".repeat(1000);
    c.send_text(&t);
    c.expect_text(&t);
    c.close_cleanly();

    let cases = [
        ("binary of 1001", vec![masked(BINARY, true, &[7; 1001])]),
        (
            "text of 1001",
            vec![masked(TEXT, true, "t".repeat(1001).as_bytes())],
        ),
        (
            "fragments 600 + 600",
            vec![
                masked(BINARY, false, &[1; 600]),
                masked(CONTINUATION, true, &[2; 600]),
            ],
        ),
        (
            "many small fragments",
            (0..11)
                .map(|i| {
                    masked(
                        if i == 0 { TEXT } else { CONTINUATION },
                        i == 10,
                        &[b'a'; 100],
                    )
                })
                .collect(),
        ),
    ];
    for (name, frames) in cases {
        eprintln!("case: {name}");
        let mut c = RawClient::connect(server.addr());
        for f in &frames {
            c.send(f);
        }
        c.expect_failed(1009);
    }
    assert_serves(server.addr());
    assert_eq!(server.finish().stats.protocol_errors, 4);
}

#[test]
fn message_over_the_size_limit_fails_on_the_header_alone() {
    let server = Server::testee_with(|o| o.max_message_size = 1000);
    let mut c = RawClient::connect(server.addr());
    let frame = masked(BINARY, true, &[0; 2000]).to_bytes();
    // Only the header (2 + 2 length + 4 mask octets): the declared length is enough.
    c.send_raw(&frame[..8]);
    c.expect_failed(1009);
}

#[test]
fn ping_is_answered_with_identical_pong() {
    let server = Server::testee();
    let mut c = RawClient::connect(server.addr());
    let payloads: [&[u8]; 4] = [b"", b"hello", &[0xff, 0x00, 0xfe, 0x80], &[0xAB; 125]];
    for p in payloads {
        c.send_frame(PING, true, p);
        c.expect(PONG, p);
    }
    c.close_cleanly();
}

#[test]
fn unsolicited_pong_is_ignored() {
    let server = Server::testee();
    let mut c = RawClient::connect(server.addr());
    c.send_frame(PONG, true, b"nobody asked");
    c.send_text("after the pong");
    c.expect_text("after the pong");
    c.close_cleanly();
}

#[test]
fn pings_interleaved_in_a_fragmented_message() {
    let server = Server::testee();
    let mut c = RawClient::connect(server.addr());
    c.send_frame(TEXT, false, b"Hello, ");
    c.send_frame(PING, true, b"p1");
    c.send_frame(CONTINUATION, false, b"fragmented ");
    c.send_frame(PING, true, b"p2");
    c.send_frame(PONG, true, b"unsolicited");
    c.send_frame(CONTINUATION, true, b"world");
    c.expect(PONG, b"p1");
    c.expect(PONG, b"p2");
    c.expect_text("Hello, fragmented world");
    c.close_cleanly();
}

#[test]
fn echo_text_and_binary() {
    let server = Server::testee();
    let mut c = RawClient::connect(server.addr());
    c.send_text("Hello, wstest");
    c.expect_text("Hello, wstest");
    let all: Vec<u8> = (0..=255u8).collect();
    c.send_binary(&all);
    c.expect_binary(&all);
    c.close_cleanly();
}

#[test]
fn echo_empty_messages() {
    let server = Server::testee();
    let mut c = RawClient::connect(server.addr());
    c.send_text("");
    c.expect_text("");
    c.send_binary(b"");
    c.expect_binary(b"");
    // A fragmented message of empty fragments is one empty message.
    c.send_frame(BINARY, false, b"");
    c.send_frame(CONTINUATION, false, b"");
    c.send_frame(CONTINUATION, true, b"");
    c.expect_binary(b"");
    c.close_cleanly();
}

#[test]
fn echo_fragmented_messages_as_one() {
    let server = Server::testee();
    let mut c = RawClient::connect(server.addr());
    c.send_frame(TEXT, false, b"frag");
    c.send_frame(CONTINUATION, false, b"");
    c.send_frame(CONTINUATION, false, b"men");
    c.send_frame(CONTINUATION, true, b"ted");
    c.expect_text("fragmented");
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
    let chunks: Vec<&[u8]> = big.chunks(70_000).collect();
    for (i, ch) in chunks.iter().enumerate() {
        c.send_frame(
            if i == 0 { BINARY } else { CONTINUATION },
            i == chunks.len() - 1,
            ch,
        );
    }
    c.expect_binary(&big);
    c.close_cleanly();
}

#[test]
fn pipelined_messages_are_echoed_in_order() {
    let server = Server::testee();
    let mut wire = Vec::new();
    for i in 0..20 {
        masked(TEXT, true, format!("message {i}").as_bytes()).encode(&mut wire);
    }
    // Sent in the same write as the handshake request.
    let mut c = RawClient::connect_sending(server.addr(), &wire);
    for i in 0..20 {
        c.expect_text(&format!("message {i}"));
    }
    c.close_cleanly();
}

#[test]
fn input_after_a_violation_is_discarded() {
    let server = Server::testee();
    let mut c = RawClient::connect(server.addr());
    // A violation and a valid message in one write: only the Close comes back.
    let mut wire = masked(TEXT, true, b"x").rsv(4).to_bytes();
    masked(TEXT, true, b"must not be echoed").encode(&mut wire);
    c.send_raw(&wire);
    c.expect_close(1002);
    // More input after the failure changes nothing: the server has closed its side.
    c.send_text("nor this");
    c.expect_eof();
}

#[test]
fn client_initiated_close_server_replies_and_closes_tcp_first() {
    let server = Server::testee();
    let mut c = RawClient::connect(server.addr());
    c.send_text("before closing");
    c.expect_text("before closing");
    c.send_close(1000, b"client says bye");
    let f = c.expect_close(1000);
    assert_eq!(
        f.payload.len(),
        2,
        "the reply carries the code (the reason is not echoed): {f:?}"
    );
    // We keep our socket open: the server must close TCP first (§7.1.1).
    c.expect_eof();
    let report = server.finish();
    assert_eq!(report.stats.protocol_errors, 0);
    assert_eq!(report.stats.connections, 1);
}

#[test]
fn data_after_our_close_is_not_echoed() {
    let server = Server::testee();
    let mut c = RawClient::connect(server.addr());
    let mut wire = masked(CLOSE, true, &close_payload(1000, b"")).to_bytes();
    masked(TEXT, true, b"too late").encode(&mut wire);
    c.send_raw(&wire);
    c.expect_close(1000);
    c.expect_eof();
}

#[test]
fn epoll_driver_enforces_the_same_rules() {
    // The same core on monoio's epoll driver (the fallback where io_uring is unavailable).
    let server =
        Server::testee_with(|o| o.runtime.driver = wstest_engine::runtime::DriverKind::Epoll);
    assert_eq!(
        server.running().driver(),
        wstest_engine::runtime::Driver::Epoll
    );
    let mut c = RawClient::connect(server.addr());
    c.send_frame(TEXT, false, b"epoll ");
    c.send_frame(PING, true, b"p");
    c.send_frame(CONTINUATION, true, b"echo");
    c.expect(PONG, b"p");
    c.expect_text("epoll echo");
    c.close_cleanly();
    let mut c = RawClient::connect(server.addr());
    c.send(&masked(TEXT, true, b"x").rsv(2));
    c.expect_failed(1002);
    let mut c = RawClient::connect(server.addr());
    c.send_frame(TEXT, true, b"\xed\xa0\x80");
    c.expect_failed(1007);
    assert_eq!(server.finish().stats.protocol_errors, 2);
}
