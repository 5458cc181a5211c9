//! Input layout shared by the targets: the fuzzer's bytes carry their own split points.
//!
//! ```text
//! [flags] [n] [cut_1 lo hi] … [cut_n lo hi] [stream …]
//! ```
//! `flags` is free for the target (configuration bits), `n % 16` cuts follow as 16-bit
//! little-endian numbers taken modulo `stream.len() + 1`, and the rest is the stream. Missing
//! bytes read as 0, so every input is valid.

/// A fuzz input taken apart.
pub struct Split<'a> {
    /// Configuration bits for the target (the `utf8` target has none).
    #[allow(dead_code)]
    pub flags: u8,
    pub stream: &'a [u8],
    /// Sorted chunk boundaries, starting with 0 and ending with `stream.len()`.
    pub bounds: Vec<usize>,
}

impl<'a> Split<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        let flags = data.first().copied().unwrap_or(0);
        let n = usize::from(data.get(1).copied().unwrap_or(0) % 16);
        let head = (2 + 2 * n).min(data.len());
        let stream = &data[head..];
        let mut bounds = vec![0, stream.len()];
        for i in 0..n {
            let at = 2 + 2 * i;
            let lo = data.get(at).copied().unwrap_or(0);
            let hi = data.get(at + 1).copied().unwrap_or(0);
            bounds.push(usize::from(u16::from_le_bytes([lo, hi])) % (stream.len() + 1));
        }
        bounds.sort_unstable();
        Split {
            flags,
            stream,
            bounds,
        }
    }

    /// The stream in the chosen pieces (some may be empty).
    pub fn chunks(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.bounds.windows(2).map(|w| &self.stream[w[0]..w[1]])
    }
}
