//! The opening handshake over a stream (the parsing itself is in `proto::handshake`).

use monoio::buf::{IoBufMut, SliceMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};

use super::bufpool;
use crate::net::Stream;
use crate::proto::handshake::{parse_head, parse_request, HandshakeError, HttpHead, Request};

/// Read into `buf` (empty, or holding what came already) until `parse` says the head is
/// complete. Returns the parse result and the octets after the head; `buf` goes back to the
/// thread's spare buffers (unless the read is cancelled).
async fn read_head<T>(
    stream: &mut Stream,
    mut buf: Vec<u8>,
    mut parse: impl FnMut(&[u8]) -> Result<Option<(T, usize)>, HandshakeError>,
) -> Result<(T, Vec<u8>), HandshakeError> {
    let result = loop {
        if buf.len() == buf.capacity() {
            // `parse` refuses a head over its limit, so this stops growing.
            buf.reserve(buf.capacity().max(bufpool::INITIAL));
        }
        let (len, cap) = (buf.len(), buf.capacity());
        let (res, slice): (_, SliceMut<Vec<u8>>) = stream.read(buf.slice_mut(len..cap)).await;
        buf = slice.into_inner();
        match res {
            Ok(0) => break Err(HandshakeError::Eof),
            Ok(_) => {}
            Err(e) => {
                break Err(HandshakeError::Io {
                    op: "read",
                    kind: e.kind(),
                })
            }
        }
        match parse(&buf) {
            Ok(None) => {}
            Ok(Some((v, used))) => break Ok((v, buf[used..].to_vec())),
            Err(e) => break Err(e),
        }
    };
    bufpool::give(buf);
    result
}

/// Read and validate a client's upgrade request.
pub async fn read_request(
    stream: &mut Stream,
    max_head: usize,
) -> Result<(Request, Vec<u8>), HandshakeError> {
    read_head(stream, bufpool::take(), |b| parse_request(b, max_head)).await
}

/// Read an HTTP request head (not validated as an upgrade yet).
pub async fn read_head_only(
    stream: &mut Stream,
    max_head: usize,
) -> Result<(HttpHead, Vec<u8>), HandshakeError> {
    read_head(stream, bufpool::take(), |b| parse_head(b, max_head)).await
}

/// Send `request` (a handshake's octets, best in a buffer from [`bufpool::take`]: the answer
/// is read into the same one) and read the server's answer with `parse`.
pub async fn client_handshake<T>(
    stream: &mut Stream,
    request: Vec<u8>,
    parse: impl FnMut(&[u8]) -> Result<Option<(T, usize)>, HandshakeError>,
) -> Result<(T, Vec<u8>), HandshakeError> {
    let (res, mut buf) = stream.write_all(request).await;
    res.map_err(|e| HandshakeError::Io {
        op: "write",
        kind: e.kind(),
    })?;
    buf.clear();
    read_head(stream, buf, parse).await
}

/// Write octets, then flush (TLS).
pub async fn send(stream: &mut Stream, data: Vec<u8>) -> std::io::Result<()> {
    let (res, _) = stream.write_all(data).await;
    res?;
    stream.flush().await
}
