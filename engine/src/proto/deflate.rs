//! permessage-deflate (RFC 7692): negotiation of the four parameters, and the compressor and
//! decompressor of one connection. Sans-IO like the rest of `proto`.
//!
//! Window bits 8: zlib (and zlib-rs) cannot make a raw deflate stream with a 256-octet window.
//! A decompressor given 8 uses 9 (a stream made with a smaller window decodes with a larger
//! one); a compressor limited to 8 sends its messages uncompressed (RSV1 is per message, so
//! this is valid). The original's fuzzer fails here (its Python zlib rejects 8).

#[cfg(test)]
use flate2::{Compress, Compression, FlushCompress};
use flate2::{Decompress, FlushDecompress, Status};

mod compress;
pub use compress::Deflater;

use super::error::ProtocolError;
use super::handshake::{ExtensionOffer, HandshakeError};

pub const NAME: &str = "permessage-deflate";
/// §7.2.1: the tail every compressed message ends with (removed when sending).
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// What we offer (client) or are willing to accept (server).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DeflateConfig {
    /// Client: ask the server not to keep context. Server: always answer with it.
    pub server_no_context_takeover: bool,
    /// Client: promise not to keep context. Server: ask the client not to.
    pub client_no_context_takeover: bool,
    /// Client: ask the server to use at most this window. Server: use at most this window.
    pub server_max_window_bits: Option<u8>,
    /// Client: the window we compress with (offered with this value; `Some(15)` is offered
    /// without a value, telling the server it may pick one). Server: limit the client to this.
    pub client_max_window_bits: Option<u8>,
    /// Messages shorter than this are sent uncompressed.
    pub threshold: usize,
    /// zlib compression level (0-9).
    pub level: u32,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: None,
            client_max_window_bits: Some(15),
            threshold: 0,
            level: 6,
        }
    }
}

/// The negotiated parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeflateParams {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: u8,
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// The parameters of one offer or response, as written (checked for names, duplicates and
/// values).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed in offers only).
    pub client_max_window_bits: Option<Option<u8>>,
}

fn bits(v: &str, name: &str) -> Result<u8, String> {
    // §7.1.2: "a decimal integer value without leading zeroes between 8 and 15, inclusive"
    let ok = !v.is_empty() && !v.starts_with('0') && v.bytes().all(|b| b.is_ascii_digit());
    match v.parse::<u8>() {
        Ok(n) if ok && (8..=15).contains(&n) => Ok(n),
        _ => Err(format!("{name}={v:?} is not a window size of 8 to 15")),
    }
}

/// Check the parameters of one permessage-deflate element (§7: unknown parameters, repeated
/// parameters and bad values make the element invalid). `response`: from a server.
pub fn parse_params(e: &ExtensionOffer, response: bool) -> Result<Params, String> {
    let mut p = Params::default();
    let mut seen: Vec<&str> = Vec::new();
    for (k, v) in &e.params {
        let k = k.as_str();
        if seen.iter().any(|s| s.eq_ignore_ascii_case(k)) {
            return Err(format!("parameter {k} given twice"));
        }
        seen.push(k);
        match (k.to_ascii_lowercase().as_str(), v) {
            ("server_no_context_takeover", None) => p.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => p.client_no_context_takeover = true,
            ("server_max_window_bits", Some(v)) => p.server_max_window_bits = Some(bits(v, k)?),
            ("client_max_window_bits", Some(v)) => {
                p.client_max_window_bits = Some(Some(bits(v, k)?))
            }
            // §7.1.2.2: in an offer it may come without a value; a response must give one.
            ("client_max_window_bits", None) if !response => p.client_max_window_bits = Some(None),
            (
                "server_no_context_takeover"
                | "client_no_context_takeover"
                | "server_max_window_bits"
                | "client_max_window_bits",
                _,
            ) => return Err(format!("parameter {k} has a bad value")),
            _ => return Err(format!("unknown parameter {k}")),
        }
    }
    Ok(p)
}

/// The client's offer header.
pub fn client_offer(cfg: &DeflateConfig) -> String {
    let mut s = NAME.to_string();
    if cfg.server_no_context_takeover {
        s.push_str("; server_no_context_takeover");
    }
    if cfg.client_no_context_takeover {
        s.push_str("; client_no_context_takeover");
    }
    if let Some(b) = cfg.server_max_window_bits {
        s.push_str(&format!("; server_max_window_bits={b}"));
    }
    match cfg.client_max_window_bits {
        Some(15) => s.push_str("; client_max_window_bits"),
        Some(b) => s.push_str(&format!("; client_max_window_bits={b}")),
        None => {}
    }
    s
}

/// Server side: pick the first acceptable permessage-deflate offer. Invalid offers are
/// declined (§7: "decline"), so the connection goes on without compression. Returns the
/// negotiated parameters and the response header value.
pub fn server_accept(
    offers: &[ExtensionOffer],
    cfg: &DeflateConfig,
) -> Option<(DeflateParams, String)> {
    for o in offers.iter().filter(|o| o.name.eq_ignore_ascii_case(NAME)) {
        let Ok(p) = parse_params(o, false) else {
            continue;
        };
        let mut r = DeflateParams::default();
        let mut hdr = NAME.to_string();
        // The client asked us not to keep context, or we choose not to.
        if p.server_no_context_takeover || cfg.server_no_context_takeover {
            r.server_no_context_takeover = true;
            hdr.push_str("; server_no_context_takeover");
        }
        if p.client_no_context_takeover || cfg.client_no_context_takeover {
            r.client_no_context_takeover = true;
            hdr.push_str("; client_no_context_takeover");
        }
        // Our window: at most what the client allows and what we want.
        let ours = match (p.server_max_window_bits, cfg.server_max_window_bits) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(b) = ours {
            r.server_max_window_bits = b;
            hdr.push_str(&format!("; server_max_window_bits={b}"));
        }
        // The client's window: we may limit it only if it said it can be limited.
        match (p.client_max_window_bits, cfg.client_max_window_bits) {
            (Some(offered), Some(want)) if want < 15 => {
                let b = offered.map_or(want, |o| o.min(want));
                r.client_max_window_bits = b;
                hdr.push_str(&format!("; client_max_window_bits={b}"));
            }
            (Some(Some(o)), _) => {
                r.client_max_window_bits = o;
                hdr.push_str(&format!("; client_max_window_bits={o}"));
            }
            _ => {}
        }
        return Some((r, hdr));
    }
    None
}

/// Client side: check the server's answer against what we offered (§7.1: a response with
/// parameters we cannot honour fails the handshake).
pub fn client_accept(
    resp: &ExtensionOffer,
    cfg: &DeflateConfig,
) -> Result<DeflateParams, HandshakeError> {
    let bad = |why: String| HandshakeError::BadExtensions(format!("{NAME} response: {why}"));
    let p = parse_params(resp, true).map_err(bad)?;
    if let (Some(got), Some(asked)) = (p.server_max_window_bits, cfg.server_max_window_bits) {
        if got > asked {
            return Err(bad(format!(
                "server_max_window_bits={got} exceeds the {asked} we asked for"
            )));
        }
    }
    if cfg.server_no_context_takeover && !p.server_no_context_takeover {
        return Err(bad(
            "server_no_context_takeover was asked for but not granted".into(),
        ));
    }
    let client_bits = match p.client_max_window_bits {
        Some(Some(b)) => {
            if cfg.client_max_window_bits.is_none() {
                return Err(bad("client_max_window_bits was not offered".into()));
            }
            b
        }
        _ => cfg.client_max_window_bits.unwrap_or(15),
    };
    Ok(DeflateParams {
        server_no_context_takeover: p.server_no_context_takeover,
        client_no_context_takeover: p.client_no_context_takeover || cfg.client_no_context_takeover,
        server_max_window_bits: p.server_max_window_bits.unwrap_or(15),
        client_max_window_bits: client_bits,
    })
}

/// The parameters of a server's response taken as written, the way a lenient client (the
/// original fuzzer's) accepts them: absent window sizes are 15, nothing is checked against
/// the offer beyond the parameters' own validity.
pub fn response_params(resp: &ExtensionOffer) -> Result<DeflateParams, HandshakeError> {
    let p = parse_params(resp, true)
        .map_err(|why| HandshakeError::BadExtensions(format!("{NAME} response: {why}")))?;
    Ok(DeflateParams {
        server_no_context_takeover: p.server_no_context_takeover,
        client_no_context_takeover: p.client_no_context_takeover,
        server_max_window_bits: p.server_max_window_bits.unwrap_or(15),
        client_max_window_bits: p.client_max_window_bits.flatten().unwrap_or(15),
    })
}

/// Client side, after the handshake: what the server's `Sec-WebSocket-Extensions` answer
/// turns on. `cfg`: our offer, checked strictly ([`client_accept`]); `None`: the offer was
/// written by the caller and a valid response is taken as written ([`response_params`]).
/// §9.1: the server answers with at most one element per offered extension.
pub fn negotiated(
    response: &[ExtensionOffer],
    cfg: Option<&DeflateConfig>,
) -> Result<Option<DeflateParams>, HandshakeError> {
    let mut it = response
        .iter()
        .filter(|e| e.name.eq_ignore_ascii_case(NAME));
    let Some(e) = it.next() else {
        return Ok(None);
    };
    if it.next().is_some() {
        return Err(HandshakeError::BadExtensions(format!(
            "the server answered with {NAME} more than once"
        )));
    }
    match cfg {
        Some(c) => client_accept(e, c).map(Some),
        None => response_params(e).map(Some),
    }
}

/// Decompresses messages from the peer, frame by frame as they arrive.
/// Inflated size past which a message's buffer is grown to its limit in one step.
const GROW_TO_LIMIT: usize = 1 << 20;

pub struct Inflater {
    d: Decompress,
    reset: bool,
    bits: u8,
    /// The message ended with a final block (BFINAL = 1): the stream is over, the tail is
    /// not inflated and the next message starts afresh (RFC 7692 §7.2.3.5).
    ended: bool,
}

impl Inflater {
    pub fn new(bits: u8, no_context: bool) -> Self {
        let bits = bits.max(9);
        Inflater {
            d: Decompress::new_with_window_bits(false, bits),
            reset: no_context,
            bits,
            ended: false,
        }
    }

    /// Inflate `data` into `out`; fail (1009) before `out` would grow past `limit` octets
    /// (0 = no limit), so a deflate bomb is stopped, not decompressed.
    pub fn push(
        &mut self,
        data: &[u8],
        out: &mut Vec<u8>,
        limit: u64,
    ) -> Result<(), ProtocolError> {
        let mut input = data;
        if self.ended {
            if input.is_empty() {
                return Ok(());
            }
            return Err(ProtocolError::BadCompressedData {
                detail: "data after the final deflate block".into(),
            });
        }
        loop {
            // What may still be inflated before the limit is passed (one octet past it tells).
            let room = match limit {
                0 => usize::MAX,
                l => (l as usize).saturating_add(1).saturating_sub(out.len()),
            };
            if out.capacity() - out.len() < 4096 {
                if limit != 0 && out.len() >= GROW_TO_LIMIT {
                    // A large message: room for all the limit allows at once. Doubling
                    // would copy it again and again and leave each copy's pages to the
                    // allocator (a bomb cost three times the limit); this reservation is
                    // only virtual until written.
                    out.reserve_exact(room.max(1));
                } else {
                    out.reserve((data.len() * 4).clamp(4096, 1 << 20));
                }
            }
            let before = (self.d.total_in(), out.len());
            let status = if out.capacity() - out.len() <= room {
                self.d.decompress_vec(input, out, FlushDecompress::Sync)
            } else {
                // Near the limit: the decompressor gets only the room left, not the whole
                // spare capacity (a bomb would fill all of it before the check below).
                let len = out.len();
                let total_out = self.d.total_out();
                out.resize(len + room, 0);
                let st = self
                    .d
                    .decompress(input, &mut out[len..], FlushDecompress::Sync);
                out.truncate(len + (self.d.total_out() - total_out) as usize);
                st
            }
            .map_err(|e| ProtocolError::BadCompressedData {
                detail: e.to_string(),
            })?;
            input = &input[(self.d.total_in() - before.0) as usize..];
            if limit != 0 && out.len() as u64 > limit {
                return Err(ProtocolError::MessageTooBig {
                    size: out.len() as u64,
                    limit,
                });
            }
            if status == Status::StreamEnd {
                // A final block: nothing may follow it in this message.
                self.ended = true;
                if !input.is_empty() {
                    return Err(ProtocolError::BadCompressedData {
                        detail: "data after the final deflate block".into(),
                    });
                }
                return Ok(());
            }
            // Room left in the output: the decompressor has produced all it can and wants
            // more input (or has consumed it all).
            let progressed = self.d.total_in() > before.0 || out.len() > before.1;
            if out.len() < out.capacity() && (input.is_empty() || !progressed) {
                return Ok(());
            }
        }
    }

    /// End of a message: inflate the tail the sender removed, reset if no context is kept.
    pub fn finish(&mut self, out: &mut Vec<u8>, limit: u64) -> Result<(), ProtocolError> {
        let r = if self.ended {
            Ok(())
        } else {
            self.push(&TAIL, out, limit)
        };
        if self.reset || self.ended || r.is_err() {
            self.d = Decompress::new_with_window_bits(false, self.bits);
            self.ended = false;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::handshake::parse_extensions;

    fn offer(s: &str) -> Vec<ExtensionOffer> {
        parse_extensions([s]).unwrap()
    }

    #[test]
    fn a_bomb_inflates_no_further_than_its_limit() {
        let mut tx = Deflater::new(15, false, 6);
        let mut bomb = Vec::new();
        tx.compress(&vec![0u8; 32 << 20], &mut bomb);
        assert!(bomb.len() < 64 << 10);
        let limit = 1u64 << 20;
        // A buffer with far more spare room than the limit, as a reused one may have.
        let mut out = Vec::with_capacity(16 << 20);
        let mut rx = Inflater::new(15, false);
        let e = rx.push(&bomb, &mut out, limit).unwrap_err();
        assert!(matches!(e, ProtocolError::MessageTooBig { .. }), "{e}");
        assert!(
            out.len() as u64 <= limit + 1,
            "inflated {} octets",
            out.len()
        );
    }

    #[test]
    fn rfc_7692_example() {
        // §7.2.3.1: "Hello" compressed in one frame.
        let mut d = Inflater::new(15, false);
        let mut out = Vec::new();
        d.push(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], &mut out, 0)
            .unwrap();
        d.finish(&mut out, 0).unwrap();
        assert_eq!(out, b"Hello");
        // §7.2.3.2: the second "Hello" uses the context of the first.
        let mut out = Vec::new();
        d.push(&[0xf2, 0x00, 0x11, 0x00, 0x00], &mut out, 0)
            .unwrap();
        d.finish(&mut out, 0).unwrap();
        assert_eq!(out, b"Hello");
    }

    #[test]
    fn empty_message_is_one_octet() {
        let mut c = Deflater::new(15, false, 6);
        let mut z = Vec::new();
        c.compress(b"", &mut z);
        assert_eq!(z, [0x00]);
        z.clear();
        c.compress(b"", &mut z);
        assert_eq!(z, [0x00], "also right after another flush");
    }

    #[test]
    fn bomb_is_stopped_at_the_limit() {
        let mut c = Deflater::new(15, false, 9);
        let mut z = Vec::new();
        c.compress(&vec![0u8; 10 << 20], &mut z);
        assert!(z.len() < 20_000);
        let mut d = Inflater::new(15, false);
        let mut out = Vec::new();
        let e = d.push(&z, &mut out, 1 << 20).unwrap_err();
        assert!(matches!(
            e,
            ProtocolError::MessageTooBig { limit: 1048576, .. }
        ));
        assert!(out.len() < 4 << 20, "did not inflate everything first");
    }

    #[test]
    fn corrupt_data_is_1007() {
        let mut d = Inflater::new(15, false);
        let e = d
            .push(&[0xff, 0xff, 0xff, 0xff, 0xff], &mut Vec::new(), 0)
            .unwrap_err();
        assert_eq!(e.close_code().0, 1007);
    }

    #[test]
    fn window_8_decompresses_and_compressor_goes_plain() {
        let c = Deflater::new(8, false, 6);
        assert!(!c.usable());
        let mut z = Vec::new();
        Deflater::new(9, false, 6).compress(b"abcabcabc", &mut z);
        let mut out = Vec::new();
        let mut d = Inflater::new(8, false);
        d.push(&z, &mut out, 0).unwrap();
        d.finish(&mut out, 0).unwrap();
        assert_eq!(out, b"abcabcabc");
    }

    #[test]
    fn negotiation_server_side() {
        let cfg = DeflateConfig::default();
        let (p, h) =
            server_accept(&offer("permessage-deflate; client_max_window_bits"), &cfg).unwrap();
        assert_eq!(h, "permessage-deflate");
        assert_eq!(p, DeflateParams::default());
        let (p, h) = server_accept(
            &offer("permessage-deflate; server_no_context_takeover; server_max_window_bits=10"),
            &cfg,
        )
        .unwrap();
        assert_eq!(
            h,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
        );
        assert!(p.server_no_context_takeover);
        assert_eq!(p.server_max_window_bits, 10);
        // An invalid first offer is declined; the second is taken.
        let (p, _) = server_accept(&offer("permessage-deflate; server_max_window_bits=7, permessage-deflate; client_max_window_bits=9"), &cfg).unwrap();
        assert_eq!(p.client_max_window_bits, 9);
        for bad in [
            "permessage-deflate; foo",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits=08",
            "permessage-deflate; server_no_context_takeover=1",
        ] {
            assert!(server_accept(&offer(bad), &cfg).is_none(), "{bad}");
        }
        assert!(server_accept(&offer("x-webkit-deflate-frame"), &cfg).is_none());
    }

    #[test]
    fn negotiation_client_side() {
        let cfg = DeflateConfig {
            server_max_window_bits: Some(10),
            ..DeflateConfig::default()
        };
        assert_eq!(
            client_offer(&cfg),
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits"
        );
        let r =
            &offer("permessage-deflate; server_max_window_bits=9; client_max_window_bits=11")[0];
        let p = client_accept(r, &cfg).unwrap();
        assert_eq!(
            (p.server_max_window_bits, p.client_max_window_bits),
            (9, 11)
        );
        assert!(client_accept(
            &offer("permessage-deflate; server_max_window_bits=12")[0],
            &cfg
        )
        .is_err());
        assert!(client_accept(
            &offer("permessage-deflate; client_max_window_bits")[0],
            &cfg
        )
        .is_err());
        let nocbits = DeflateConfig {
            client_max_window_bits: None,
            ..DeflateConfig::default()
        };
        assert!(client_accept(
            &offer("permessage-deflate; client_max_window_bits=10")[0],
            &nocbits
        )
        .is_err());
    }

    #[test]
    fn message_ending_with_a_final_block() {
        // §7.2.3.5: a sender may end a message with BFINAL = 1; the next message starts a new
        // stream and the tail is not appended.
        let mut out = Vec::new();
        let mut d = Inflater::new(15, false);
        for text in [&b"first message"[..], b"second"] {
            let mut c = Compress::new(Compression::default(), false);
            let mut z = Vec::with_capacity(256);
            c.compress_vec(text, &mut z, FlushCompress::Finish).unwrap();
            out.clear();
            d.push(&z, &mut out, 0).unwrap();
            d.finish(&mut out, 0).unwrap();
            assert_eq!(out, text);
        }
        // Anything after the final block in the same message is corrupt.
        let mut c = Compress::new(Compression::default(), false);
        let mut z = Vec::with_capacity(256);
        c.compress_vec(b"x", &mut z, FlushCompress::Finish).unwrap();
        z.push(0x00);
        assert_eq!(
            d.push(&z, &mut Vec::new(), 0).unwrap_err().close_code().0,
            1007
        );
    }

    #[test]
    fn lenient_and_strict_responses() {
        let r = offer("permessage-deflate; client_max_window_bits=9; server_no_context_takeover");
        // Taken as written when the caller wrote the offer...
        let p = negotiated(&r, None).unwrap().unwrap();
        assert_eq!(p.client_max_window_bits, 9);
        assert!(p.server_no_context_takeover);
        assert_eq!(p.server_max_window_bits, 15);
        // ...and refused when we offered no client_max_window_bits ourselves.
        let cfg = DeflateConfig {
            client_max_window_bits: None,
            ..DeflateConfig::default()
        };
        assert!(negotiated(&r, Some(&cfg)).is_err());
        assert!(negotiated(&offer("permessage-deflate, permessage-deflate"), None).is_err());
        assert!(negotiated(&offer("permessage-deflate; client_max_window_bits"), None).is_err());
        assert_eq!(negotiated(&[], None).unwrap(), None);
    }
}
