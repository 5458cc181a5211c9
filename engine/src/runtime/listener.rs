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

fn one(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
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
    s.set_nonblocking(true)?;
    Ok(s.into())
}

/// Bind `count` listeners to `addr` with SO_REUSEPORT; the kernel spreads incoming
/// connections over them. Port 0 is resolved by the first bind, the others use that port.
pub fn bind_reuseport(
    addr: SocketAddr,
    count: usize,
    backlog: i32,
) -> Result<Vec<TcpListener>, BindError> {
    let err = |source| BindError { addr, source };
    let first = one(addr, backlog).map_err(err)?;
    let bound = first.local_addr().map_err(err)?;
    let mut v = vec![first];
    for _ in 1..count.max(1) {
        v.push(one(bound, backlog).map_err(|source| BindError {
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
        let v = bind_reuseport("127.0.0.1:0".parse().unwrap(), 3, 128).unwrap();
        let p = v[0].local_addr().unwrap().port();
        assert!(v.iter().all(|l| l.local_addr().unwrap().port() == p));
        // A second, unrelated bind without SO_REUSEPORT fails: the port really is taken.
        assert!(std::net::TcpListener::bind(("127.0.0.1", p)).is_err());
    }

    #[test]
    fn accepted_sockets_inherit_nodelay() {
        let l = one("127.0.0.1:0".parse().unwrap(), 16).unwrap();
        l.set_nonblocking(false).unwrap();
        let _c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (a, _) = l.accept().unwrap();
        assert!(a.nodelay().unwrap());
    }
}
