//! The opening handshake over a stream (the parsing itself is in `proto::handshake`).

use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};

use crate::net::Stream;
use crate::proto::handshake::{
    parse_head, parse_request, ClientHandshake, HandshakeError, HttpHead, Request, Response,
};

/// Read into `head` until `parse` says the head is complete. Returns the parse result and the
/// octets after the head.
async fn read_head<T>(
    stream: &mut Stream,
    mut parse: impl FnMut(&[u8]) -> Result<Option<(T, usize)>, HandshakeError>,
) -> Result<(T, Vec<u8>), HandshakeError> {
    let mut head: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = Vec::with_capacity(4096);
    loop {
        let (res, c) = stream.read(chunk).await;
        chunk = c;
        match res {
            Ok(0) => return Err(HandshakeError::Eof),
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(HandshakeError::Malformed(format!("read error: {e}"))),
        }
        chunk.clear();
        if let Some((v, used)) = parse(&head)? {
            return Ok((v, head.split_off(used)));
        }
    }
}

/// Read and validate a client's upgrade request.
pub async fn read_request(
    stream: &mut Stream,
    max_head: usize,
) -> Result<(Request, Vec<u8>), HandshakeError> {
    read_head(stream, |b| parse_request(b, max_head)).await
}

/// Read an HTTP request head (not validated as an upgrade yet).
pub async fn read_head_only(
    stream: &mut Stream,
    max_head: usize,
) -> Result<(HttpHead, Vec<u8>), HandshakeError> {
    read_head(stream, |b| parse_head(b, max_head)).await
}

/// Send the request (`hs`'s octets) and check the server's answer.
pub async fn client_handshake(
    stream: &mut Stream,
    hs: &ClientHandshake,
    req: Vec<u8>,
) -> Result<(Response, Vec<u8>), HandshakeError> {
    let (res, _) = stream.write_all(req).await;
    res.map_err(|e| HandshakeError::Malformed(format!("write error: {e}")))?;
    read_head(stream, |b| hs.parse_response(b)).await
}

/// Write octets, then flush (TLS).
pub async fn send(stream: &mut Stream, data: Vec<u8>) -> std::io::Result<()> {
    let (res, _) = stream.write_all(data).await;
    res?;
    stream.flush().await
}
