//! SO_REUSEPORT listeners, one per thread, all on the same port.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    pub addr: SocketAddr,
    #[source]
    pub source: io::Error,
}

/// How accepted connections acknowledge what they receive first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstAck {
    /// The kernel's default: a new connection acknowledges its first segments at once
    /// (quick-ACK mode), each ACK a segment of its own.
    Immediate,
    /// Delayed-ACK mode from the start (TCP_QUICKACK off on the listener, inherited by every
    /// accepted socket): the ACK of a client's first request travels with the server's
    /// answer, one segment fewer per opening handshake. The delayed-ACK timer still
    /// acknowledges a request the server does not answer (40 ms on Linux), and the kernel's
    /// own heuristics take over after the first exchange.
    WithAnswer,
}

/// What a listener changes from the kernel's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuning {
    pub first_ack: FirstAck,
    /// Take TCP Fast Open connections (TCP_FASTOPEN, with a queue as long as the backlog):
    /// a client's request that came in its SYN is readable as soon as the connection is
    /// accepted. Linux does so only where `net.ipv4.tcp_fastopen` has bit 2 set
    /// (`tuning/tune.sh apply`); otherwise the option changes nothing.
    pub fastopen: bool,
}

impl Tuning {
    /// Raw TCP as the kernel sets it up (the bench floors).
    pub const RAW: Tuning = Tuning {
        first_ack: FirstAck::Immediate,
        fastopen: false,
    };
    /// WebSocket servers: the first ACK waits for the answer, Fast Open is taken.
    pub const SERVER: Tuning = Tuning {
        first_ack: FirstAck::WithAnswer,
        fastopen: true,
    };
}

fn one(addr: SocketAddr, backlog: i32, tuning: Tuning) -> io::Result<TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(false).ok();
    }
    // Accepted sockets inherit TCP_NODELAY from the listener (Linux copies it into the new
    // socket), so servers need no setsockopt per connection.
    s.set_tcp_nodelay(true)?;
    s.bind(&addr.into())?;
    s.listen(backlog)?;
    // After listen(), which resets the socket's ACK state.
    if tuning.first_ack == FirstAck::WithAnswer {
        s.set_tcp_quickack(false)?;
    }
    if tuning.fastopen {
        // A kernel without Fast Open refuses the option; the listener works without it.
        let _ = crate::net::sockopt::set_int(&s, libc::IPPROTO_TCP, libc::TCP_FASTOPEN, backlog);
    }
    s.set_nonblocking(true)?;
    Ok(s.into())
}

/// Refuse a port another listener already has, of this process or another: SO_REUSEPORT
/// would otherwise let a second server join it silently, and the kernel would hand it part
/// of the first one's connections. A bind without SO_REUSEPORT (with SO_REUSEADDR, so that
/// closed connections still in TIME_WAIT do not count) fails exactly then. Port 0 is always
/// free.
pub fn check_port_free(addr: SocketAddr) -> Result<(), BindError> {
    if addr.port() == 0 {
        return Ok(());
    }
    let probe = || -> io::Result<()> {
        let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        s.set_reuse_address(true)?;
        if addr.is_ipv6() {
            s.set_only_v6(false).ok();
        }
        s.bind(&addr.into())
    };
    match probe() {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(BindError {
            addr,
            source: io::Error::new(
                io::ErrorKind::AddrInUse,
                "address in use: another server listens there (--reuse-port shares the port on purpose)",
            ),
        }),
        // Anything else (no such address, permission) is for the real bind to report.
        _ => Ok(()),
    }
}

/// Bind `count` listeners to `addr` with SO_REUSEPORT; the kernel spreads incoming
/// connections over them. Port 0 is resolved by the first bind, the others use that port.
pub fn bind_reuseport(
    addr: SocketAddr,
    count: usize,
    backlog: i32,
    tuning: Tuning,
) -> Result<Vec<TcpListener>, BindError> {
    let err = |source| BindError { addr, source };
    let first = one(addr, backlog, tuning).map_err(err)?;
    let bound = first.local_addr().map_err(err)?;
    let mut v = vec![first];
    for _ in 1..count.max(1) {
        v.push(one(bound, backlog, tuning).map_err(|source| BindError {
            addr: bound,
            source,
        })?);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_port_for_all() {
        let v = bind_reuseport("127.0.0.1:0".parse().unwrap(), 3, 128, Tuning::RAW).unwrap();
        let p = v[0].local_addr().unwrap().port();
        assert!(v.iter().all(|l| l.local_addr().unwrap().port() == p));
        // A second, unrelated bind without SO_REUSEPORT fails: the port really is taken.
        assert!(std::net::TcpListener::bind(("127.0.0.1", p)).is_err());
    }

    #[test]
    fn a_port_with_a_listener_is_not_free() {
        let v = bind_reuseport("127.0.0.1:0".parse().unwrap(), 2, 128, Tuning::RAW).unwrap();
        let addr = v[0].local_addr().unwrap();
        let e = check_port_free(addr).unwrap_err();
        assert_eq!(e.source.kind(), io::ErrorKind::AddrInUse);
        assert!(e.to_string().contains("--reuse-port"), "{e}");
        drop(v);
        check_port_free(addr).unwrap();
        check_port_free("127.0.0.1:0".parse().unwrap()).unwrap();
    }

    #[test]
    fn accepted_sockets_inherit_nodelay_and_first_ack() {
        for (tuning, quick) in [(Tuning::RAW, true), (Tuning::SERVER, false)] {
            let l = one("127.0.0.1:0".parse().unwrap(), 16, tuning).unwrap();
            l.set_nonblocking(false).unwrap();
            let _c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
            let (a, _) = l.accept().unwrap();
            assert!(a.nodelay().unwrap());
            let a = socket2::SockRef::from(&a);
            assert_eq!(a.tcp_quickack().unwrap(), quick, "{tuning:?}");
        }
    }
}
