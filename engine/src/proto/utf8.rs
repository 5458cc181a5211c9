//! Incremental UTF-8 validation that fails at the first octet that cannot continue a valid
//! sequence, across any split of the input (fragments, TCP segments).
//!
//! SIMD validation (simdutf8) for the bulk; a carry of at most 3 octets for a sequence cut
//! by a chunk boundary. `std`'s and simdutf8's `error_len() == None` means "the input ended
//! inside a sequence that could still be valid", which is exactly when to carry rather than
//! fail, so a message is rejected as early as a byte-at-a-time DFA would reject it.

use simdutf8::compat::from_utf8;

#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    carry: [u8; 4],
    carry_len: usize,
    /// Octets fed so far.
    seen: u64,
}

/// Invalid UTF-8: `offset` is the index (from the start of the stream) of the first octet of
/// the sequence that cannot be completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utf8Error {
    pub offset: u64,
}

/// Length of a sequence that starts with `lead`, or 0 if `lead` cannot start one.
fn seq_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

impl Utf8Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// True when the octets fed so far end on a character boundary.
    pub fn is_complete(&self) -> bool {
        self.carry_len == 0
    }

    /// Validate the next piece of the stream.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), Utf8Error> {
        let base = self.seen;
        self.seen += data.len() as u64;
        let mut pos = 0u64; // offset of data[0] relative to base
        if self.carry_len > 0 {
            let start = base - self.carry_len as u64;
            let need = seq_len(self.carry[0]);
            let take = (need - self.carry_len).min(data.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&data[..take]);
            let have = self.carry_len + take;
            match from_utf8(&self.carry[..have]) {
                Ok(_) => {}
                Err(e) if e.error_len().is_none() => {
                    // Still a valid prefix and the chunk is exhausted.
                    self.carry_len = have;
                    return Ok(());
                }
                Err(_) => return Err(Utf8Error { offset: start }),
            }
            self.carry_len = 0;
            data = &data[take..];
            pos = take as u64;
        }
        match from_utf8(data) {
            Ok(_) => Ok(()),
            Err(e) => {
                let at = e.valid_up_to();
                if e.error_len().is_some() {
                    return Err(Utf8Error {
                        offset: base + pos + at as u64,
                    });
                }
                let tail = &data[at..];
                self.carry[..tail.len()].copy_from_slice(tail);
                self.carry_len = tail.len();
                Ok(())
            }
        }
    }

    /// End of the stream: an unfinished sequence is an error.
    pub fn finish(&self) -> Result<(), Utf8Error> {
        if self.carry_len == 0 {
            Ok(())
        } else {
            Err(Utf8Error {
                offset: self.seen - self.carry_len as u64,
            })
        }
    }
}

/// Validate a complete buffer.
pub fn validate(data: &[u8]) -> bool {
    simdutf8::basic::from_utf8(data).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reference: where does a byte-at-a-time validator first fail? (None = valid complete,
    /// Some(None) = valid but incomplete, Some(Some(i)) = fails at octet i.)
    fn reference(data: &[u8]) -> Result<bool, usize> {
        match std::str::from_utf8(data) {
            Ok(_) => Ok(true),
            Err(e) if e.error_len().is_none() => Ok(false),
            Err(e) => Err(e.valid_up_to()),
        }
    }

    fn feed_split(data: &[u8], cuts: &[usize]) -> Result<bool, u64> {
        let mut v = Utf8Validator::new();
        let mut last = 0;
        for &c in cuts.iter().chain(std::iter::once(&data.len())) {
            v.feed(&data[last..c]).map_err(|e| e.offset)?;
            last = c;
        }
        Ok(v.is_complete())
    }

    #[test]
    fn vectors() {
        // (input, expect: Ok(complete) or Err(offset))
        let cases: &[(&[u8], Result<bool, u64>)] = &[
            (
                b"Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!",
                Ok(true),
            ),
            (b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", Ok(true)),
            (
                b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
                Err(11),
            ),
            (b"\xf4\x90\x80\x80", Err(0)),
            (b"\xf0\x90\x80", Ok(false)),
            (b"\xc0\xaf", Err(0)),
            (b"\xed\x9f\xbf", Ok(true)),
            (b"\xef\xbf\xbf", Ok(true)),
            (b"\x80", Err(0)),
            (b"ab\xfe", Err(2)),
        ];
        for (data, want) in cases {
            for cut in 0..=data.len() {
                assert_eq!(feed_split(data, &[cut]), *want, "{data:x?} cut at {cut}");
            }
        }
    }

    #[test]
    fn fails_fast_inside_a_sequence() {
        // 6.4.x style: F4 90 can never be valid; fail on the second octet, before the rest.
        let mut v = Utf8Validator::new();
        v.feed(b"abc\xf4").unwrap();
        assert_eq!(v.feed(b"\x90"), Err(Utf8Error { offset: 3 }));
    }

    proptest! {
        #[test]
        fn splits_agree_with_reference(data in proptest::collection::vec(prop_oneof![any::<u8>(), 0x80u8..0xC0, Just(0xE0u8), Just(0xF0u8), Just(0xEDu8)], 0..64), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6)) {
            let mut c: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
            c.sort_unstable();
            let got = feed_split(&data, &c);
            let want = reference(&data).map_err(|i| i as u64);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn valid_strings_pass(s in "\\PC*", cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6)) {
            let data = s.as_bytes();
            let mut c: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
            c.sort_unstable();
            prop_assert_eq!(feed_split(data, &c), Ok(true));
        }
    }
}
