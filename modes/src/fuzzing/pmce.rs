//! permessage-deflate as the compression cases negotiate it: the offers the fuzzer makes as a
//! client and the rules by which it accepts a client's offers as a server, with the original
//! suite's semantics (which differ from a plain RFC 7692 endpoint in small ways, noted below).

use wstest_engine::proto::deflate::{self, DeflateParams};
use wstest_engine::proto::handshake::ExtensionOffer;

/// One offer the fuzzer sends as a client. The original always also says
/// `client_no_context_takeover` and `client_max_window_bits` (it accepts either being
/// imposed) and asks for the server's side what these two fields say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offer {
    pub server_no_context_takeover: bool,
    /// `None`: no `server_max_window_bits` parameter.
    pub server_max_window_bits: Option<u8>,
}

impl Offer {
    pub fn header(&self) -> String {
        let mut s = format!(
            "{}; client_no_context_takeover; client_max_window_bits",
            deflate::NAME
        );
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if let Some(b) = self.server_max_window_bits {
            s.push_str(&format!("; server_max_window_bits={b}"));
        }
        s
    }

    /// As the report describes offers: (requestNoContextTakeover, requestMaxWindowBits).
    pub fn describe(&self) -> String {
        format!(
            "({}, {})",
            py_bool(self.server_no_context_takeover),
            self.server_max_window_bits.unwrap_or(0)
        )
    }
}

/// The offer header for a list of offers (one element each, in order).
pub fn offers_header(offers: &[Offer]) -> Option<String> {
    (!offers.is_empty()).then(|| {
        offers
            .iter()
            .map(Offer::header)
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// One way a server accepts: ask the client not to keep context, and/or limit the client's
/// window (only possible when the offer says the client accepts a limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accept {
    pub client_no_context_takeover: bool,
    pub client_max_window_bits: Option<u8>,
}

impl Accept {
    pub fn describe(&self) -> String {
        format!(
            "({}, {})",
            py_bool(self.client_no_context_takeover),
            self.client_max_window_bits.unwrap_or(0)
        )
    }
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// A client's offer as the original reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ClientOffer {
    /// The offer carried `client_max_window_bits` (with or without a value).
    accepts_window_limit: bool,
    server_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
}

/// Why a handshake is refused.
#[derive(Debug, PartialEq, Eq)]
pub struct BadOffer(pub String);

/// The client's permessage-deflate offers, checked. As in the original, one invalid offer
/// fails the whole handshake (an RFC 7692 server could instead decline just that offer).
fn client_offers(exts: &[ExtensionOffer]) -> Result<Vec<ClientOffer>, BadOffer> {
    exts.iter()
        .filter(|e| e.name.eq_ignore_ascii_case(deflate::NAME))
        .map(|e| {
            let p = deflate::parse_params(e, false)
                .map_err(|why| BadOffer(format!("{} offer: {why}", deflate::NAME)))?;
            Ok(ClientOffer {
                accepts_window_limit: p.client_max_window_bits.is_some(),
                server_no_context_takeover: p.server_no_context_takeover,
                server_max_window_bits: p.server_max_window_bits,
            })
        })
        .collect()
}

/// Server side: check the offers (even for cases that do not compress), then try each rule in
/// order over the offers in order; the first offer a rule can accept is taken. Our side keeps
/// to what the client asked of us; the client's side gets what the rule asks for.
pub fn server_accept(
    exts: &[ExtensionOffer],
    rules: &[Accept],
) -> Result<Option<(DeflateParams, String)>, BadOffer> {
    let offers = client_offers(exts)?;
    for rule in rules {
        let usable =
            |o: &&ClientOffer| rule.client_max_window_bits.is_none() || o.accepts_window_limit;
        if let Some(o) = offers.iter().find(usable) {
            let mut h = deflate::NAME.to_string();
            if o.server_no_context_takeover {
                h.push_str("; server_no_context_takeover");
            }
            if let Some(b) = o.server_max_window_bits {
                h.push_str(&format!("; server_max_window_bits={b}"));
            }
            if rule.client_no_context_takeover {
                h.push_str("; client_no_context_takeover");
            }
            if let Some(b) = rule.client_max_window_bits {
                h.push_str(&format!("; client_max_window_bits={b}"));
            }
            let params = DeflateParams {
                server_no_context_takeover: o.server_no_context_takeover,
                client_no_context_takeover: rule.client_no_context_takeover,
                server_max_window_bits: o.server_max_window_bits.unwrap_or(15),
                client_max_window_bits: rule.client_max_window_bits.unwrap_or(15),
            };
            return Ok(Some((params, h)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wstest_engine::proto::handshake::parse_extensions;

    fn exts(s: &str) -> Vec<ExtensionOffer> {
        parse_extensions([s]).unwrap()
    }

    #[test]
    fn offers_as_the_original_writes_them() {
        let h = offers_header(&[
            Offer {
                server_no_context_takeover: true,
                server_max_window_bits: Some(9),
            },
            Offer::default(),
        ])
        .unwrap();
        assert_eq!(h, "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=9, permessage-deflate; client_no_context_takeover; client_max_window_bits");
        assert_eq!(offers_header(&[]), None);
    }

    #[test]
    fn accept_rules() {
        let plain = Accept::default();
        let limit = Accept {
            client_no_context_takeover: true,
            client_max_window_bits: Some(9),
        };
        // A limit needs an offer that allows one; the second rule then applies.
        let e = exts("permessage-deflate; server_max_window_bits=10");
        let (p, h) = server_accept(&e, &[limit, plain]).unwrap().unwrap();
        assert_eq!(h, "permessage-deflate; server_max_window_bits=10");
        assert_eq!(p.server_max_window_bits, 10);
        assert_eq!(p.client_max_window_bits, 15);
        assert_eq!(server_accept(&e, &[limit]).unwrap(), None);
        let e = exts("permessage-deflate; client_max_window_bits; server_no_context_takeover");
        let (p, h) = server_accept(&e, &[limit]).unwrap().unwrap();
        assert_eq!(h, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=9");
        assert!(p.server_no_context_takeover && p.client_no_context_takeover);
        assert_eq!(p.client_max_window_bits, 9);
        // No rules (cases that do not compress): nothing accepted, but bad offers refused.
        assert_eq!(server_accept(&e, &[]).unwrap(), None);
        assert!(server_accept(&exts("permessage-deflate; foo=1"), &[]).is_err());
        assert_eq!(server_accept(&exts("x-other"), &[plain]).unwrap(), None);
    }
}
