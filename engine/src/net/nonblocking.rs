//! One non-blocking `send` on a plain TCP socket, for callers that try the socket before the
//! ring (the connection driver's writes, massconnect's held sockets' pings).

use std::io;
use std::os::fd::RawFd;

/// Send what the socket takes of `buf` now (`MSG_DONTWAIT`, no SIGPIPE): the octets sent,
/// or `WouldBlock` when it takes none.
pub fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the caller's `fd` is an open socket for the whole call; `buf` is valid for
    // `buf.len()` octets.
    let n = unsafe {
        libc::send(
            fd,
            buf.as_ptr() as *const libc::c_void,
            buf.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Slices one [`send_slices`] passes at most.
pub const MAX_SLICES: usize = 64;

/// Send what the socket takes now of `slices` (the first [`MAX_SLICES`]), in order, with one
/// vectored `sendmsg` (`MSG_DONTWAIT`, no SIGPIPE): the octets sent, or `WouldBlock`.
pub fn send_slices<'a>(fd: RawFd, slices: impl Iterator<Item = &'a [u8]>) -> io::Result<usize> {
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; MAX_SLICES];
    let mut n = 0;
    for (slot, s) in iov.iter_mut().zip(slices) {
        slot.iov_base = s.as_ptr() as *mut libc::c_void;
        slot.iov_len = s.len();
        n += 1;
    }
    // SAFETY: a zeroed msghdr is valid; it points at `n` iovecs describing slices borrowed
    // for the whole call; the caller's `fd` is an open socket.
    let sent = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = n as _;
        libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
    };
    if sent < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(sent as usize)
    }
}

/// Receive what the socket has now, up to `buf.len()` (`MSG_DONTWAIT`): the octets read (0:
/// end of stream), or `WouldBlock` when it has none.
pub fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the caller's `fd` is an open socket for the whole call; `buf` is valid for
    // writes of `buf.len()` octets.
    let n = unsafe {
        libc::recv(
            fd,
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Octets written to the socket that TCP has not sent yet (`SIOCOUTQNSD`), or `None` where
/// the kernel cannot tell.
pub fn unsent(fd: RawFd) -> Option<usize> {
    // Linux's SIOCOUTQNSD (include/uapi/linux/sockios.h); libc does not name it.
    const SIOCOUTQNSD: libc::c_ulong = 0x894B;
    let mut n: libc::c_int = 0;
    // SAFETY: the caller's `fd` is an open socket for the whole call; the ioctl writes one
    // int through the pointer, which is valid.
    let r = unsafe { libc::ioctl(fd, SIOCOUTQNSD as _, &mut n) };
    (r == 0 && n >= 0).then_some(n as usize)
}
