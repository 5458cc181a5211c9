//! Arbitrary octets, cut at fuzzer-chosen points, through the frame decoder (checked for the
//! server role, and lenient) and through `Connection` for both roles.
//!
//! Never panics, never loops without progress, and any chunking decodes to the same
//! transcript (headers, unmasked payload, frame ends, the error) as the unsplit stream.

#![no_main]

mod common;

use std::time::{Duration, Instant};

use common::Split;
use libfuzzer_sys::fuzz_target;
use wstest_engine::proto::{
    CloseCodePolicy, Config, Connection, Event, FailPolicy, FrameDecoder, FrameHeader, Item,
    ProtocolError, RuleState,
};
use wstest_engine::Role;

/// What a decoder reported, with payload pieces merged per frame.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Header(FrameHeader),
    Payload(Vec<u8>),
    End,
    Error(ProtocolError),
}

fn transcript<'a>(mut dec: FrameDecoder, chunks: impl Iterator<Item = &'a [u8]>) -> Vec<Step> {
    let mut steps = Vec::new();
    for chunk in chunks {
        let mut buf = chunk.to_vec();
        let mut off = 0;
        let mut idle = 0;
        loop {
            let (used, item) = match dec.decode(&mut buf[off..]) {
                Ok(r) => r,
                Err(e) => {
                    steps.push(Step::Error(e));
                    return steps;
                }
            };
            assert!(
                used <= buf.len() - off,
                "decoder consumed {used} of {} octets",
                buf.len() - off
            );
            idle = if used == 0 { idle + 1 } else { 0 };
            assert!(idle <= 2, "decoder makes no progress");
            match item {
                None => break,
                Some(Item::Header(h)) => steps.push(Step::Header(h)),
                Some(Item::Payload(r)) => {
                    assert!(
                        r.start <= r.end && r.end <= used,
                        "payload range {r:?} outside the {used} octets consumed"
                    );
                    let piece = &buf[off + r.start..off + r.end];
                    match steps.last_mut() {
                        Some(Step::Payload(p)) => p.extend_from_slice(piece),
                        _ => steps.push(Step::Payload(piece.to_vec())),
                    }
                }
                Some(Item::End) => steps.push(Step::End),
            }
            off += used;
        }
    }
    steps
}

fn connection<'a>(role: Role, flags: u8, chunks: impl Iterator<Item = &'a [u8]>) {
    let mut cfg = Config::new(role);
    cfg.fail_policy = match (flags >> 4) & 3 {
        0 => FailPolicy::CloseThenDrain,
        1 => FailPolicy::CloseThenDropOnInput,
        _ => FailPolicy::Drop,
    };
    cfg.record_frames = flags & 0x40 != 0;
    if flags & 0x80 != 0 {
        cfg.close_codes = CloseCodePolicy::Autobahn;
        cfg.max_message_size = 256;
    }
    let mut conn = Connection::with_seed(cfg, u64::from(flags));
    if flags & 0x08 != 0 {
        conn.set_rsv_allowed(4);
    }
    let start = Instant::now();
    let mut out = Vec::new();
    for (i, chunk) in chunks.enumerate() {
        // A chunk every 300 ms of the connection's clock, so the close timers fire.
        let now = start + Duration::from_millis(300 * i as u64);
        let mut buf = chunk.to_vec();
        let mut off = 0;
        let mut idle = 0;
        while off < buf.len() {
            let used = conn.handle_input(&mut buf[off..], now);
            assert!(
                used <= buf.len() - off,
                "connection consumed {used} of {} octets",
                buf.len() - off
            );
            idle = if used == 0 { idle + 1 } else { 0 };
            assert!(idle <= 2, "connection makes no progress");
            off += used;
            while let Some(ev) = conn.poll_event() {
                // Act as an echo server would.
                if let Event::Message(m) = ev {
                    conn.send_message(m.binary, &m.data);
                }
            }
            while conn.has_transmit() {
                conn.take_transmit(&mut out);
                out.clear();
            }
        }
        if let Some(t) = conn.poll_timeout() {
            conn.handle_timeout(t.max(now));
        }
        conn.handle_timeout(now);
        let _ = conn.transport_action();
    }
    conn.handle_eof();
    while conn.poll_event().is_some() {}
    conn.take_transmit(&mut out);
    let _ = conn.close_status();
}

fuzz_target!(|data: &[u8]| {
    let input = Split::new(data);
    let whole = std::iter::once(input.stream);

    let checked = || FrameDecoder::new(RuleState::new(Role::Server));
    assert_eq!(
        transcript(checked(), input.chunks()),
        transcript(checked(), whole.clone()),
        "checked decoder: chunking changed the result"
    );
    assert_eq!(
        transcript(FrameDecoder::lenient(), input.chunks()),
        transcript(FrameDecoder::lenient(), whole),
        "lenient decoder: chunking changed the result"
    );

    connection(Role::Server, input.flags, input.chunks());
    connection(Role::Client, input.flags, input.chunks());
});
