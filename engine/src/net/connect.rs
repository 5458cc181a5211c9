//! Connecting to a `ws://` or `wss://` URL: resolve, TCP connect (with a timeout), TLS.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use monoio::net::TcpStream;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;

use super::sockopt::set_int;
use super::stream::Stream;
use super::url::WsUrl;

#[derive(Clone)]
pub struct ConnectOptions {
    pub timeout: Duration,
    /// Required for wss:// URLs.
    pub tls: Option<Arc<ClientConfig>>,
    /// Resolved address to use instead of resolving the URL's host.
    pub addr: Option<SocketAddr>,
    /// Local address to connect from (the port is picked by the kernel per destination:
    /// IP_BIND_ADDRESS_NO_PORT, so many sources × destinations are not capped by one port
    /// range per source).
    pub bind: Option<std::net::IpAddr>,
    /// Set TCP_NODELAY (default). A client that sends one small message at a time with
    /// nothing unacknowledged in flight (massconnect) gets nothing from it but a syscall.
    pub nodelay: bool,
    /// Let the TCP handshake's last ACK travel with the first write (default): the socket
    /// is put in delayed-ACK mode (TCP_QUICKACK off) before it connects, so Linux holds
    /// the ACK of the server's SYN-ACK until the client writes (its upgrade request or TLS
    /// hello, right away) or 200 ms pass. One segment fewer per connection; the kernel
    /// leaves that mode as the connection becomes established, so nothing later changes.
    pub ack_with_request: bool,
    /// TCP Fast Open (TCP_FASTOPEN_CONNECT): connect() sends nothing and the first write
    /// leaves in the SYN, once this host holds the server's Fast Open cookie (the first
    /// connection to a server asks for one). The request then costs neither a segment nor
    /// a round trip of its own; a server that does not take Fast Open gets the data after
    /// the TCP handshake as usual. Off by default: "connected" then means only that a port
    /// was picked, and a refused connection shows up at the first read or write.
    pub fastopen: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: Duration::from_secs(10),
            tls: None,
            addr: None,
            bind: None,
            nodelay: true,
            ack_with_request: true,
            fastopen: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot resolve {host}: {why}")]
    Resolve { host: String, why: String },
    #[error("connecting to {addr} timed out after {secs:.1}s")]
    Timeout { addr: SocketAddr, secs: f64 },
    #[error("cannot connect to {addr}: {source}")]
    Tcp {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS handshake with {host} failed: {why}")]
    Tls { host: String, why: String },
    #[error("{0} is a wss:// URL but no TLS client configuration was given")]
    NoTlsConfig(String),
}

/// Resolve the URL's host to its first address.
pub fn resolve(url: &WsUrl) -> Result<SocketAddr, ConnectError> {
    let host = url.authority();
    let mut it = host.to_socket_addrs().map_err(|e| ConnectError::Resolve {
        host: host.clone(),
        why: e.to_string(),
    })?;
    it.next().ok_or_else(|| ConnectError::Resolve {
        host,
        why: "no addresses".into(),
    })
}

pub async fn connect(url: &WsUrl, opts: &ConnectOptions) -> Result<Stream, ConnectError> {
    let addr = match opts.addr {
        Some(a) => a,
        None => resolve(url)?,
    };
    let attempt = async {
        if opts.bind.is_none() && !opts.ack_with_request && !opts.fastopen {
            TcpStream::connect_addr(addr).await
        } else {
            connect_socket(addr, opts).await
        }
    };
    let tcp = match monoio::time::timeout(opts.timeout, attempt).await {
        Err(_) => {
            return Err(ConnectError::Timeout {
                addr,
                secs: opts.timeout.as_secs_f64(),
            })
        }
        Ok(Err(source)) => return Err(ConnectError::Tcp { addr, source }),
        Ok(Ok(s)) => s,
    };
    if opts.nodelay {
        let _ = tcp.set_nodelay(true);
    }
    if !url.secure {
        return Ok(Stream::Plain(tcp));
    }
    let cfg = opts
        .tls
        .clone()
        .ok_or_else(|| ConnectError::NoTlsConfig(url.to_string()))?;
    let name = ServerName::try_from(url.host.clone()).map_err(|e| ConnectError::Tls {
        host: url.host.clone(),
        why: e.to_string(),
    })?;
    let connector = monoio_rustls::TlsConnector::from(cfg);
    match monoio::time::timeout(opts.timeout, connector.connect(name, tcp)).await {
        Err(_) => Err(ConnectError::Tls {
            host: url.host.clone(),
            why: "timed out".into(),
        }),
        Ok(Err(e)) => Err(ConnectError::Tls {
            host: url.host.clone(),
            why: tls_error_text(&e),
        }),
        Ok(Ok(s)) => Ok(Stream::TlsClient(Box::new(s))),
    }
}

/// Connect to `addr` on a socket set up here: from local address `opts.bind` if given (bound
/// to (src, port 0) with IP_BIND_ADDRESS_NO_PORT), in delayed-ACK mode if
/// `ack_with_request`, with Fast Open if `fastopen`; a non-blocking connect, then wait until
/// it is writable.
async fn connect_socket(addr: SocketAddr, opts: &ConnectOptions) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    let domain = if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let sock = Socket::new(
        domain,
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    if opts.ack_with_request {
        sock.set_tcp_quickack(false)?;
    }
    if opts.fastopen {
        // A kernel without it (before 4.11) refuses the option: connect as usual.
        let _ = set_int(&sock, libc::IPPROTO_TCP, libc::TCP_FASTOPEN_CONNECT, 1);
    }
    let Some(src) = opts.bind else {
        return finish_connect(sock, addr).await;
    };
    if src.is_ipv4() {
        // Best effort: without it, bind() picks the port (one port range per source).
        let _ = set_int(&sock, libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT, 1);
    }
    sock.bind(&SockAddr::from(SocketAddr::new(src, 0)))?;
    finish_connect(sock, addr).await
}

/// A non-blocking connect of a prepared socket, done once it is writable (its own outcome
/// read from SO_ERROR). A connect that succeeds at once (Fast Open with a cookie: nothing
/// is sent until the first write) needs no wait.
async fn finish_connect(sock: socket2::Socket, addr: SocketAddr) -> std::io::Result<TcpStream> {
    use socket2::{SockAddr, Socket};
    let done = match sock.connect(&SockAddr::from(addr)) {
        Ok(()) => true,
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => false,
        Err(e) => return Err(e),
    };
    let std: std::net::TcpStream = sock.into();
    let tcp = TcpStream::from_std(std)?;
    if done {
        return Ok(tcp);
    }
    tcp.writable(false).await?;
    // The connect's own outcome.
    let fd = std::os::fd::AsRawFd::as_raw_fd(&tcp);
    // SAFETY: borrowing the fd only to read SO_ERROR; the socket stays owned by `tcp`.
    let sref =
        std::mem::ManuallyDrop::new(unsafe { <Socket as std::os::fd::FromRawFd>::from_raw_fd(fd) });
    if let Some(e) = sref.take_error()? {
        return Err(e);
    }
    Ok(tcp)
}

/// monoio-rustls's errors display only "io error"/"rustls error"; say what went wrong.
pub fn tls_error_text(e: &monoio_rustls::TlsError) -> String {
    match e {
        monoio_rustls::TlsError::Rustls(r) => rustls_error_text(r),
        monoio_rustls::TlsError::Io(io) => match io.get_ref() {
            Some(inner) => match inner.downcast_ref::<rustls::Error>() {
                Some(r) => rustls_error_text(r),
                None => inner.to_string(),
            },
            None => io.to_string(),
        },
    }
}

/// A rustls error in words: a refused certificate says why and what to do (rustls prints
/// its internal names, such as `Other(OtherError(CaUsedAsEndEntity))`).
pub fn rustls_error_text(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => {
            format!(
                "the server's certificate was refused: {}",
                certificate_problem(c)
            )
        }
        other => other.to_string(),
    }
}

fn certificate_problem(c: &rustls::CertificateError) -> String {
    // By name (Debug), not by variant: webpki's reasons arrive wrapped in `Other`, and the
    // variants carrying context differ between rustls releases.
    let name = format!("{c:?}");
    let has = |n: &str| name.contains(n);
    if has("CaUsedAsEndEntity") {
        "it is a CA certificate (basicConstraints CA:TRUE) used as the server's own, as \
         `openssl req -x509` makes by default: give the server a certificate signed by that CA \
         (basicConstraints CA:FALSE) and pass the CA with --cacert FILE"
            .into()
    } else if has("UnknownIssuer") {
        "it is not signed by a trusted CA: pass the CA's certificate with --cacert FILE (or \
         --insecure to skip the check)"
            .into()
    } else if has("NotValidForName") {
        "it is not valid for this host name: connect with a name in its subjectAltName, or \
         issue it for this one"
            .into()
    } else if has("Expired") {
        "it has expired".into()
    } else if has("NotValidYet") {
        "it is not valid yet (check both clocks)".into()
    } else if has("BadSignature") {
        "its signature does not verify".into()
    } else if has("InvalidPurpose") {
        "it is not issued for TLS servers (extendedKeyUsage lacks serverAuth)".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{block_on, Driver};
    use std::time::Instant;

    #[test]
    fn refused_certificates_are_explained() {
        use rustls::{CertificateError, Error, OtherError};
        #[derive(Debug)]
        struct CaUsedAsEndEntity;
        impl std::fmt::Display for CaUsedAsEndEntity {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "CaUsedAsEndEntity")
            }
        }
        impl std::error::Error for CaUsedAsEndEntity {}
        let ca = Error::InvalidCertificate(CertificateError::Other(OtherError(
            std::sync::Arc::new(CaUsedAsEndEntity),
        )));
        let t = rustls_error_text(&ca);
        assert!(
            t.contains("CA certificate") && t.contains("--cacert"),
            "{t}"
        );
        assert!(!t.contains("OtherError"), "{t}");
        let t = rustls_error_text(&Error::InvalidCertificate(CertificateError::UnknownIssuer));
        assert!(t.contains("--cacert") && t.contains("--insecure"), "{t}");
    }

    /// Whether the listener has a connection to accept 30 ms after the client's connect
    /// completed, with nothing written; `None` when this thread was held up past the 200 ms
    /// after which Linux sends a held ACK anyway (the try says nothing then).
    fn acceptable_before_write(driver: Driver, ack_with_request: bool) -> Option<bool> {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let opts = ConnectOptions {
            addr: Some(addr),
            ack_with_request,
            ..Default::default()
        };
        let url = WsUrl::parse(&format!("ws://{addr}/")).unwrap();
        block_on(driver, true, async move {
            let mut s = connect(&url, &opts).await.expect("connect");
            let connected = Instant::now();
            monoio::time::sleep(Duration::from_millis(30)).await;
            let seen = l.accept().is_ok();
            let in_time = connected.elapsed() < Duration::from_millis(150);
            // After a write the server has the connection in any case.
            let (r, _) = monoio::io::AsyncWriteRentExt::write_all(&mut s, vec![b'x']).await;
            r.expect("write");
            if !seen {
                let t = Instant::now();
                while l.accept().is_err() {
                    assert!(t.elapsed() < Duration::from_secs(5), "never accepted");
                    monoio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            in_time.then_some(seen)
        })
        .unwrap()
    }

    #[test]
    fn the_last_handshake_ack_waits_for_the_first_write() {
        for driver in [Driver::Uring, Driver::Epoll] {
            for (ack_with_request, expect_seen) in [(true, false), (false, true)] {
                let seen = (0..5).find_map(|_| acceptable_before_write(driver, ack_with_request));
                assert_eq!(
                    seen,
                    Some(expect_seen),
                    "{driver:?}, ack_with_request {ack_with_request}"
                );
            }
        }
    }
}
