//! Socket options socket2 does not offer: integer options by number, and what TCP_INFO says
//! about TCP Fast Open.

use std::io;
use std::os::fd::AsRawFd;

/// Set an option that takes a C int.
pub fn set_int(
    sock: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: a valid socket, a c_int option value of the right size.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            &value as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `tcpi_options` bit (linux/tcp.h): the SYN carried data and the server acknowledged it.
const TCPI_OPT_SYN_DATA: u8 = 32;

/// Whether this connection's SYN carried data that the server took (TCP Fast Open used end
/// to end); `false` where TCP_INFO cannot be read.
pub fn syn_data_acked(sock: &impl AsRawFd) -> bool {
    // SAFETY: tcp_info is plain old data; the kernel writes at most `len` octets of it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` and `len` are valid for writes and `len` is the size of `info`.
    let r = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            &mut info as *mut libc::tcp_info as *mut libc::c_void,
            &mut len,
        )
    };
    r == 0 && info.tcpi_options & TCPI_OPT_SYN_DATA != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_connection_did_not_use_fast_open() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (a, _) = l.accept().unwrap();
        assert!(!syn_data_acked(&c));
        assert!(!syn_data_acked(&a));
        set_int(&c, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1).unwrap();
        assert!(c.nodelay().unwrap());
        let e = set_int(&c, libc::IPPROTO_TCP, 9999, 1).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOPROTOOPT));
    }
}
