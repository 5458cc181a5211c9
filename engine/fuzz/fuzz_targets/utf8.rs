//! `Utf8Validator` over any split agrees with `std::str::from_utf8`: same verdict, same error
//! offset, and the error comes from the piece holding the first octet at which a
//! byte-at-a-time validator would stop (fail fast, never later).

#![no_main]

mod common;

use common::Split;
use libfuzzer_sys::fuzz_target;
use wstest_engine::proto::utf8::Utf8Error;
use wstest_engine::proto::Utf8Validator;

fuzz_target!(|data: &[u8]| {
    let input = Split::new(data);
    let stream = input.stream;

    let mut v = Utf8Validator::new();
    let mut failed = None;
    for (i, piece) in input.chunks().enumerate() {
        if let Err(e) = v.feed(piece) {
            failed = Some((i, e));
            break;
        }
    }

    match std::str::from_utf8(stream) {
        Ok(_) => {
            assert_eq!(failed, None, "valid UTF-8 rejected");
            assert!(v.is_complete());
            assert_eq!(v.finish(), Ok(()));
        }
        Err(e) => match e.error_len() {
            // Truncated at the end: every piece passes, `finish` reports the unfinished one.
            None => {
                assert_eq!(failed, None, "a valid prefix was rejected");
                assert!(!v.is_complete());
                assert_eq!(
                    v.finish(),
                    Err(Utf8Error {
                        offset: e.valid_up_to() as u64
                    })
                );
            }
            Some(len) => {
                let (piece, err) = failed.expect("invalid UTF-8 accepted");
                assert_eq!(
                    err,
                    Utf8Error {
                        offset: e.valid_up_to() as u64
                    },
                    "wrong error offset"
                );
                // The octet that cannot continue: the lead itself when it can never start a
                // sequence, else the first octet after the `len` that std discarded.
                let lead = stream[e.valid_up_to()];
                let at = if matches!(lead, 0x80..=0xC1 | 0xF5..=0xFF) {
                    e.valid_up_to()
                } else {
                    e.valid_up_to() + len
                };
                let (lo, hi) = (input.bounds[piece], input.bounds[piece + 1]);
                assert!(
                    lo <= at && at < hi,
                    "failed in piece {lo}..{hi}, but the bad octet is at {at}"
                );
            }
        },
    }
});
