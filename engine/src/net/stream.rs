//! One stream type for plain TCP and TLS (client or server side), so the WebSocket driver
//! is written once.

use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, CancelHandle, CancelableAsyncReadRent, Split};
use monoio::net::TcpStream;
use monoio::BufResult;

pub type ClientTlsStream = monoio_rustls::ClientTlsStream<TcpStream>;
pub type ServerTlsStream = monoio_rustls::ServerTlsStream<TcpStream>;

pub enum Stream {
    Plain(TcpStream),
    TlsClient(Box<ClientTlsStream>),
    TlsServer(Box<ServerTlsStream>),
}

// SAFETY: each variant is `Split` (monoio's TcpStream and monoio-rustls's streams), and the
// enum adds no state shared between the read and write halves.
unsafe impl Split for Stream {}

impl Stream {
    pub fn is_tls(&self) -> bool {
        !matches!(self, Stream::Plain(_))
    }

    /// The TCP socket of a plain stream (socket options, readiness); `None` under TLS.
    pub fn as_tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Plain(t) => Some(t),
            _ => None,
        }
    }

    /// The TCP socket of a plain stream, or the stream back when it is TLS.
    pub fn into_tcp(self) -> Result<TcpStream, Stream> {
        match self {
            Stream::Plain(t) => Ok(t),
            s => Err(s),
        }
    }
}

impl From<TcpStream> for Stream {
    fn from(t: TcpStream) -> Self {
        Stream::Plain(t)
    }
}

// TLS operations are boxed: their futures are several hundred octets (TLS state machines),
// and inline they would size every plain connection's pending read and write too. One
// allocation per TLS operation is small beside the TLS work itself.
impl AsyncReadRent for Stream {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::TlsClient(s) => Box::pin(s.read(buf)).await,
            Stream::TlsServer(s) => Box::pin(s.read(buf)).await,
        }
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Plain(s) => s.readv(buf).await,
            Stream::TlsClient(s) => Box::pin(s.readv(buf)).await,
            Stream::TlsServer(s) => Box::pin(s.readv(buf)).await,
        }
    }
}

impl AsyncWriteRent for Stream {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Plain(s) => s.write(buf).await,
            Stream::TlsClient(s) => Box::pin(s.write(buf)).await,
            Stream::TlsServer(s) => Box::pin(s.write(buf)).await,
        }
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Plain(s) => s.writev(buf).await,
            Stream::TlsClient(s) => Box::pin(s.writev(buf)).await,
            Stream::TlsServer(s) => Box::pin(s.writev(buf)).await,
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush().await,
            Stream::TlsClient(s) => Box::pin(s.flush()).await,
            Stream::TlsServer(s) => Box::pin(s.flush()).await,
        }
    }

    async fn shutdown(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.shutdown().await,
            Stream::TlsClient(s) => Box::pin(s.shutdown()).await,
            Stream::TlsServer(s) => Box::pin(s.shutdown()).await,
        }
    }
}

// Reads that can be called off: a server takes an idle plain connection's pending read back
// before it sets the connection aside ([`crate::ws::park`]). A cancelled read still reports
// what it read if the octets came first. TLS reads are never called off (TLS connections are
// not set aside): they read as usual and ignore the handle.
impl CancelableAsyncReadRent for Stream {
    async fn cancelable_read<T: IoBufMut>(
        &mut self,
        buf: T,
        c: CancelHandle,
    ) -> BufResult<usize, T> {
        match self {
            Stream::Plain(s) => s.cancelable_read(buf, c).await,
            Stream::TlsClient(s) => Box::pin(s.read(buf)).await,
            Stream::TlsServer(s) => Box::pin(s.read(buf)).await,
        }
    }

    async fn cancelable_readv<T: IoVecBufMut>(
        &mut self,
        buf: T,
        c: CancelHandle,
    ) -> BufResult<usize, T> {
        match self {
            Stream::Plain(s) => s.cancelable_readv(buf, c).await,
            Stream::TlsClient(s) => Box::pin(s.readv(buf)).await,
            Stream::TlsServer(s) => Box::pin(s.readv(buf)).await,
        }
    }
}
