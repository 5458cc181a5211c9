//! What a connection has queued for its peer, and the buffers it reuses.
//!
//! Octets queue as *runs*, written in order, each whole before the next. Small frames are
//! appended to the last run; a frame that would make a large run grow (by reallocating and
//! moving what it holds) starts a run of its own, in a buffer taken from a small pool. A
//! message the application gives back whole ([`Transmit::push_owned`]) becomes a run as it
//! is: an echoed payload is not copied again. The fuzzer's segments (octets that must reach
//! the transport in writes of their own) are runs that nothing is appended to.
//!
//! The pool holds buffers given back after they were written and message buffers the
//! application is done with: the next large frame or message is built in pages already
//! faulted in, not in fresh ones. It is bounded in count and in the size of what it keeps.

use std::collections::VecDeque;

/// A run that frames are appended to may grow (by reallocation) up to this; past it, a frame
/// that does not fit the run's capacity starts a new run.
const APPEND_MAX: usize = 64 * 1024;
/// Buffers the pool keeps.
const POOL_BUFS: usize = 3;
/// A buffer larger than this is freed, not pooled: a 1 MiB message and its frame header fit.
pub const POOL_BUF_MAX: usize = (1 << 20) + 4096;

struct Run {
    buf: Vec<u8>,
    /// Written on its own (a segment): nothing is appended to it.
    sealed: bool,
    /// Flushed on its own and paced (see `DriveOptions::sync_pause`).
    sync: bool,
    /// The first piece of a synced burst, still open to the second (see
    /// [`Transmit::push_segments`]).
    pairs: bool,
}

impl Run {
    /// May share one write with the plain runs next to it: neither a segment nor synced.
    fn plain(&self) -> bool {
        !self.sealed && !self.sync
    }
}

#[derive(Default)]
pub struct Transmit {
    runs: VecDeque<Run>,
    /// Octets in `runs`.
    len: usize,
    pool: Vec<Vec<u8>>,
}

impl Transmit {
    /// Octets queued.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append up to `need` octets with `write` (a frame's encoder); returns the octets it wrote.
    pub fn append(&mut self, need: usize, write: impl FnOnce(&mut Vec<u8>)) -> usize {
        let fits = self
            .runs
            .back()
            .is_some_and(|r| !r.sealed && r.buf.len() + need <= r.buf.capacity().max(APPEND_MAX));
        if !fits {
            let buf = self.take_buf(need);
            self.runs.push_back(Run {
                buf,
                sealed: false,
                sync: false,
                pairs: false,
            });
        }
        let run = self.runs.back_mut().expect("a run to append to");
        let before = run.buf.len();
        write(&mut run.buf);
        let n = run.buf.len() - before;
        self.len += n;
        n
    }

    /// Queue `buf` as it is, after everything queued (frames may still be appended to it).
    pub fn push_owned(&mut self, buf: Vec<u8>) {
        if buf.is_empty() {
            return self.give(buf);
        }
        self.len += buf.len();
        self.runs.push_back(Run {
            buf,
            sealed: false,
            sync: false,
            pairs: false,
        });
    }

    /// Queue `data` in writes of its own of at most `chop` octets (`None`: one write), each
    /// flushed on its own when `sync`. What was queued before is written on its own too.
    ///
    /// With `pair_first`, the first two synced pieces of a burst (queued while no synced
    /// piece waits) share one write, as Autobahn 0.10 on Twisted puts them on the wire: its
    /// first piece waits in the transport's buffer for the reactor's next turn, and the
    /// 10 µs timer of the second has run out by then, so both leave in one segment; every
    /// later piece leaves on its own.
    pub fn push_segments(
        &mut self,
        data: &[u8],
        chop: Option<usize>,
        sync: bool,
        pair_first: bool,
    ) {
        if let Some(r) = self.runs.back_mut() {
            r.sealed = true;
        }
        let step = chop.filter(|&c| c > 0).unwrap_or(data.len().max(1));
        for c in data.chunks(step) {
            self.len += c.len();
            if let Some(r) = self.runs.back_mut().filter(|r| sync && r.sync && r.pairs) {
                r.buf.extend_from_slice(c);
                r.pairs = false;
                continue;
            }
            let pairs = pair_first && sync && !self.runs.iter().any(|r| r.sync);
            let mut buf = self.take_buf(c.len());
            buf.extend_from_slice(c);
            self.runs.push_back(Run {
                buf,
                sealed: true,
                sync,
                pairs,
            });
        }
    }

    /// Whether the next run may go out in one write with the plain runs after it.
    pub fn front_is_plain(&self) -> bool {
        self.runs.front().is_some_and(Run::plain)
    }

    /// The runs from the front, in order, that may share one write (up to the first segment
    /// or synced run).
    pub fn plain_runs(&self) -> impl Iterator<Item = &[u8]> {
        self.runs
            .iter()
            .take_while(|r| r.plain())
            .map(|r| &r.buf[..])
    }

    /// Move the next run into `dst` (swapped in when `dst` is empty, so no copy; appended
    /// otherwise). Returns whether it must be flushed on its own, or `None` when nothing is
    /// queued.
    pub fn take(&mut self, dst: &mut Vec<u8>) -> Option<bool> {
        let run = self.runs.pop_front()?;
        self.len -= run.buf.len();
        if dst.is_empty() {
            let old = std::mem::replace(dst, run.buf);
            self.give(old);
        } else {
            dst.extend_from_slice(&run.buf);
            self.give(run.buf);
        }
        Some(run.sync)
    }

    /// A buffer for at least `need` octets, empty: the smallest pooled one that fits, else a
    /// fresh one (growing a pooled buffer would copy what its allocation held).
    pub fn take_buf(&mut self, need: usize) -> Vec<u8> {
        let best = self
            .pool
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= need)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        match best {
            Some(i) => self.pool.swap_remove(i),
            None if need == 0 => Vec::new(),
            None => Vec::with_capacity(need),
        }
    }

    /// A buffer for a message the application will own: as [`Transmit::take_buf`], but a
    /// pooled buffer much larger than `need` is left in the pool (a small message must not
    /// carry a megabyte away with it).
    pub fn take_buf_near(&mut self, need: usize) -> Vec<u8> {
        let fits = |b: &Vec<u8>| b.capacity() >= need && b.capacity() <= 2 * need + APPEND_MAX;
        match self.pool.iter().position(fits) {
            Some(i) => self.pool.swap_remove(i),
            None if need == 0 => Vec::new(),
            None => Vec::with_capacity(need),
        }
    }

    /// Give a buffer back for reuse (it is emptied; one too large, or beyond what the pool
    /// keeps, is freed).
    pub fn give(&mut self, mut buf: Vec<u8>) {
        let cap = buf.capacity();
        if cap == 0 || cap > POOL_BUF_MAX {
            return;
        }
        buf.clear();
        if self.pool.len() < POOL_BUFS {
            self.pool.push(buf);
        } else if let Some(small) = self.pool.iter_mut().min_by_key(|b| b.capacity()) {
            if small.capacity() < cap {
                *small = buf;
            }
        }
    }

    /// Free the pooled buffers (an idle connection need not hold them).
    pub fn trim(&mut self) {
        self.pool = Vec::new();
    }

    /// Octets the pool holds (capacity).
    pub fn pooled(&self) -> usize {
        self.pool.iter().map(Vec::capacity).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(t: &mut Transmit) -> Vec<(Vec<u8>, bool)> {
        let mut runs = Vec::new();
        loop {
            let mut dst = Vec::new();
            match t.take(&mut dst) {
                Some(sync) => runs.push((dst, sync)),
                None => return runs,
            }
        }
    }

    #[test]
    fn small_frames_share_a_run_and_a_large_one_gets_its_own() {
        let mut t = Transmit::default();
        t.append(3, |b| b.extend_from_slice(b"abc"));
        t.append(2, |b| b.extend_from_slice(b"de"));
        let big = vec![7u8; 200_000];
        t.append(big.len(), |b| b.extend_from_slice(&big));
        t.append(1, |b| b.push(b'z'));
        assert_eq!(t.len(), 5 + 200_000 + 1);
        let runs = drain(&mut t);
        let all: Vec<u8> = runs.iter().flat_map(|(b, _)| b.clone()).collect();
        assert_eq!(&all[..5], b"abcde");
        assert_eq!(all.len(), 200_006);
        assert_eq!(*all.last().unwrap(), b'z');
        assert_eq!(
            runs[0].0, b"abcde",
            "the large frame did not grow the small run"
        );
        assert!(t.is_empty());
    }

    #[test]
    fn owned_buffers_are_queued_without_a_copy_and_come_back() {
        let mut t = Transmit::default();
        t.append(2, |b| b.extend_from_slice(&[0x82, 0x7e]));
        let payload = vec![1u8; 100_000];
        let ptr = payload.as_ptr();
        t.push_owned(payload);
        let mut runs = drain(&mut t);
        assert_eq!(runs.len(), 2);
        assert_eq!(
            runs[1].0.as_ptr(),
            ptr,
            "the payload's own buffer is written"
        );
        t.give(runs.pop().unwrap().0);
        let again = t.take_buf(100_000);
        assert_eq!(again.as_ptr(), ptr, "and reused for the next large buffer");
    }

    #[test]
    fn a_burst_can_start_with_two_pieces_in_one_write() {
        let mut t = Transmit::default();
        t.push_segments(b"abcd", Some(1), true, true);
        t.push_segments(b"ef", None, true, true);
        let runs: Vec<Vec<u8>> = drain(&mut t).into_iter().map(|r| r.0).collect();
        assert_eq!(runs, [&b"ab"[..], b"c", b"d", b"ef"]);
        // Frames synced one by one: the first two frames share the first write.
        t.push_segments(b"one", None, true, true);
        t.push_segments(b"two", None, true, true);
        t.push_segments(b"3", None, true, true);
        let runs: Vec<Vec<u8>> = drain(&mut t).into_iter().map(|r| r.0).collect();
        assert_eq!(runs, [&b"onetwo"[..], b"3"]);
        assert!(t.is_empty());
    }

    #[test]
    fn segments_are_written_on_their_own() {
        let mut t = Transmit::default();
        t.append(2, |b| b.extend_from_slice(b"ab"));
        t.push_segments(b"cdefg", Some(2), true, false);
        t.append(1, |b| b.push(b'h'));
        let runs = drain(&mut t);
        let got: Vec<(&[u8], bool)> = runs.iter().map(|(b, s)| (&b[..], *s)).collect();
        assert_eq!(
            got,
            [
                (&b"ab"[..], false),
                (b"cd", true),
                (b"ef", true),
                (b"g", true),
                (b"h", false)
            ]
        );
    }

    #[test]
    fn the_pool_is_bounded() {
        let mut t = Transmit::default();
        for _ in 0..10 {
            t.give(Vec::with_capacity(POOL_BUF_MAX));
        }
        t.give(Vec::with_capacity(POOL_BUF_MAX + 1));
        assert!(t.pooled() <= POOL_BUFS * POOL_BUF_MAX);
        t.trim();
        assert_eq!(t.pooled(), 0);
    }
}
