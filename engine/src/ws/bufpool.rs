//! Per-thread spare buffers for opening handshakes: a request is written from one and the
//! answer read into the same, which then goes back for the next connection. With thousands of
//! handshakes a second on a thread, none of them allocates a buffer.
//!
//! A buffer whose operation was cancelled (a timeout) is not given back: the kernel may still
//! write into it until its completion, which monoio waits for before dropping it.

use std::cell::RefCell;

/// Capacity of a new buffer: a request or a 101 answer, with room to spare.
pub const INITIAL: usize = 1024;
/// Buffers kept per thread (enough for a ramp's attempts in flight).
const KEPT: usize = 1024;
/// A buffer grown past this (a long head) is dropped rather than kept.
const LARGEST_KEPT: usize = 16 * 1024;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer with at least [`INITIAL`] octets of capacity.
pub fn take() -> Vec<u8> {
    SPARE
        .with(|s| s.borrow_mut().pop())
        .unwrap_or_else(|| Vec::with_capacity(INITIAL))
}

/// Return a buffer for reuse (dropped if the thread keeps enough, or it grew large).
pub fn give(mut buf: Vec<u8>) {
    if buf.capacity() < INITIAL || buf.capacity() > LARGEST_KEPT {
        return;
    }
    buf.clear();
    SPARE.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < KEPT {
            s.push(buf);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_comes_back_empty() {
        let mut b = take();
        b.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let p = b.as_ptr();
        give(b);
        let again = take();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), p, "the same allocation");
        // Too large or too small: not kept.
        give(Vec::with_capacity(LARGEST_KEPT + 1));
        give(Vec::new());
        let fresh = take();
        assert_ne!(fresh.as_ptr(), p);
        assert!(fresh.capacity() >= INITIAL && fresh.capacity() <= LARGEST_KEPT);
    }
}
