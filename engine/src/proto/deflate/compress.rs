//! The compressor of one side (RFC 7692 §7.2.1), optionally adaptive: large messages that
//! do not shrink are sent as stored blocks for a while.

use flate2::{Compress, Compression, FlushCompress};

use super::TAIL;

/// Adaptive compression: messages at least this long tell whether compressing pays (shorter
/// ones cost little, and their headers make any ratio look poor).
const ADAPT_MIN: usize = 4096;
/// Adaptive compression: the longest run of large messages stored before compressing is
/// tried again.
const ADAPT_MAX_SKIP: u32 = 64;

/// Compresses messages for one side.
pub struct Deflater {
    c: Option<Compress>,
    reset: bool,
    level: u32,
    /// Store (level 0) large messages for a while when compressing them does not pay.
    adaptive: bool,
    /// The level the compressor runs at now (0 while large messages are stored).
    current: u32,
    /// Large messages still to store before compressing is tried again.
    skip: u32,
    /// The next run of stored messages: doubles (up to [`ADAPT_MAX_SKIP`]) while
    /// compressing keeps not paying, back to 1 when it pays.
    backoff: u32,
}

impl Deflater {
    /// `bits`: our negotiated window; `no_context`: reset after each message.
    pub fn new(bits: u8, no_context: bool, level: u32) -> Self {
        let level = level.min(9);
        let c = (bits >= 9)
            .then(|| Compress::new_with_window_bits(Compression::new(level), false, bits));
        Deflater {
            c,
            reset: no_context,
            level,
            adaptive: false,
            current: level,
            skip: 0,
            backoff: 1,
        }
    }

    /// Adaptive compression: a message of at least 4 KiB that shrinks by less than a tenth
    /// is followed by 1, 2, 4, … 64 large messages sent as stored blocks (level 0, in the
    /// same deflate stream, valid for any window) before the configured level is tried
    /// again. Incompressible data then costs a copy instead of an LZ77 pass on each side,
    /// and comes out smaller (level 1 expands it by about 5 %).
    pub fn adaptive(mut self, on: bool) -> Self {
        self.adaptive = on;
        self
    }

    /// False when messages must go uncompressed (window 8, see the module docs).
    pub fn usable(&self) -> bool {
        self.c.is_some()
    }

    /// Compress one whole message into `out` (§7.2.1: flush, then drop the 4-octet tail).
    pub fn compress(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let Some(c) = self.c.as_mut() else {
            out.extend_from_slice(data);
            return;
        };
        let judged = self.adaptive && self.level > 0 && data.len() >= ADAPT_MIN;
        if judged {
            let want = if self.skip > 0 { 0 } else { self.level };
            if want != self.current {
                // zlib changes the level of a running stream only with a flush it cannot
                // make here, so the new level starts a fresh stream at this message. That is
                // valid with context takeover too: the peer keeps its window, we just do not
                // refer back into it (RFC 7692 §7.2.1 lets the sender use the previous
                // context, it does not make it). On failure the old level goes on.
                c.reset();
                if c.set_level(Compression::new(want)).is_ok() {
                    self.current = want;
                }
            }
        }
        let start = out.len();
        let mut input = data;
        // Sync flush: everything comes out, ending with the tail. A call that fills the
        // buffer may have more pending, so go on until one leaves room.
        loop {
            // Stored blocks are copied straight to the output when it has room for them.
            out.reserve(match self.current {
                0 => input.len() + 64,
                _ => (input.len() / 2).max(1024),
            });
            let before = c.total_in();
            if c.compress_vec(input, out, FlushCompress::Sync).is_err() {
                break;
            }
            input = &input[(c.total_in() - before) as usize..];
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        if judged {
            if self.current == 0 {
                self.skip = self.skip.saturating_sub(1);
            } else if (out.len() - start) * 10 > data.len() * 9 {
                self.skip = self.backoff;
                self.backoff = (self.backoff * 2).min(ADAPT_MAX_SKIP);
            } else {
                self.backoff = 1;
            }
        }
        if out.len() - start >= 4 && out[out.len() - 4..] == TAIL {
            out.truncate(out.len() - 4);
        } else if out.len() == start {
            // Nothing new to flush (zlib returns "buffer error" and writes nothing): the
            // message is an empty stored block, which is the single octet 0x00 once the
            // tail is removed (RFC 7692 §7.2.3.6).
            out.push(0x00);
        }
        if self.reset {
            // A fresh stream with the same window and level, without a new allocation.
            c.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Inflater;
    use super::*;

    /// Octets no compressor shrinks (a xorshift sequence).
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn text(len: usize, seed: usize) -> Vec<u8> {
        let unit = br#"{"id": 17, "name": "Hello"}, "#;
        (0..len).map(|i| unit[(i + seed) % unit.len()]).collect()
    }

    /// Compress `msgs` in order with `c` and inflate them back with `d` (in pieces of
    /// `piece` octets, as frames arrive); the compressed sizes.
    fn through(c: &mut Deflater, d: &mut Inflater, msgs: &[&[u8]], piece: usize) -> Vec<usize> {
        msgs.iter()
            .map(|m| {
                let mut z = Vec::new();
                c.compress(m, &mut z);
                let mut out = Vec::new();
                for p in z.chunks(piece) {
                    d.push(p, &mut out, 0).unwrap();
                }
                d.finish(&mut out, 0).unwrap();
                assert_eq!(&out, m);
                z.len()
            })
            .collect()
    }

    /// [`through`] a level 1 compressor, adaptive or not, and a matching decompressor.
    fn round_trip(bits: u8, reset: bool, adaptive: bool, msgs: &[Vec<u8>]) -> Vec<usize> {
        let mut c = Deflater::new(bits, reset, 1).adaptive(adaptive);
        let mut d = Inflater::new(bits, reset);
        let msgs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        through(&mut c, &mut d, &msgs, 1000)
    }

    #[test]
    fn round_trip_with_and_without_context() {
        let long = vec![b'x'; 100_000];
        let msgs: [&[u8]; 4] = [b"Hello, Hello, Hello!", &long, b"", "κόσμε".as_bytes()];
        for (bits, reset) in [(15, false), (15, true), (9, false), (12, true)] {
            let mut c = Deflater::new(bits, reset, 6);
            let mut d = Inflater::new(bits, reset);
            through(&mut c, &mut d, &msgs, 7);
        }
    }

    #[test]
    fn adaptive_stores_what_does_not_shrink_and_backs_off() {
        let msgs: Vec<Vec<u8>> = (0..40).map(|i| noise(16 << 10, i + 1)).collect();
        // Stored blocks add 5 octets each (per 64 KiB, or per window when zlib copies
        // through it); level 1 adds 5 % to noise.
        let stored = |n: usize| n <= (16 << 10) * 102 / 100;
        for (bits, reset) in [(15, false), (15, true), (9, false), (9, true)] {
            let fixed = round_trip(bits, reset, false, &msgs);
            assert!(fixed.iter().all(|&n| !stored(n)), "level 1 expands noise");
            let adaptive = round_trip(bits, reset, true, &msgs);
            // Tried at level 1 at messages 0, 2, 5, 10, 19 and 36: runs of 1, 2, 4, 8, 16
            // stored messages in between.
            let tried: Vec<usize> = (0..msgs.len()).filter(|&i| !stored(adaptive[i])).collect();
            assert_eq!(tried, [0, 2, 5, 10, 19, 36], "bits {bits} reset {reset}");
        }
    }

    #[test]
    fn adaptive_compresses_again_once_it_pays() {
        // Noise, then text: the switch back to level 1 after stored blocks inflates right
        // (within one stream and without context), and the text is compressed again.
        let mut msgs: Vec<Vec<u8>> = (0..4).map(|i| noise(8 << 10, i + 7)).collect();
        msgs.extend((0..6).map(|i| text(8 << 10, i)));
        msgs.push(noise(100, 3));
        msgs.push(text(5000, 1));
        for (bits, reset) in [(15, false), (15, true), (9, false), (10, true)] {
            let sizes = round_trip(bits, reset, true, &msgs);
            // Message 0 is tried, 1 stored, 2 tried, 3 and the first text stored (a run of
            // 2); the second text is tried at level 1 and from there on text is compressed.
            assert!(sizes[4] > 8 << 10, "{sizes:?}");
            assert!(sizes[5..10].iter().all(|&n| n < 2 << 10), "{sizes:?}");
            assert!(sizes[11] < 2 << 10, "{sizes:?}");
        }
    }

    #[test]
    fn small_messages_and_level_0_are_not_judged() {
        // Below 4 KiB a poor ratio changes nothing: noise stays at level 1 (expanded).
        let msgs: Vec<Vec<u8>> = (0..8).map(|i| noise(2000, i + 1)).collect();
        let sizes = round_trip(15, false, true, &msgs);
        assert!(sizes.iter().all(|&n| n > 2000 + 6), "{sizes:?}");
        let mut c = Deflater::new(15, false, 0).adaptive(true);
        let mut z = Vec::new();
        c.compress(&text(8 << 10, 0), &mut z);
        assert!(z.len() >= 8 << 10, "level 0 stores");
    }
}
