//! Arbitrary octets as an upgrade request (`parse_request`), as the server's answer
//! (`ClientHandshake::parse_response`) and as Sec-WebSocket-Extensions values
//! (`parse_extensions`). Never panics, and:
//! * a request that parses is answered with a 101 that a client holding the same key
//!   accepts;
//! * extension offers that parse come back unchanged from their header form.

#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use wstest_engine::proto::handshake::server::{accept_response, error_response};
use wstest_engine::proto::handshake::{
    parse_extensions, parse_head, parse_request, ClientHandshake, ClientOptions, DEFAULT_MAX_HEAD,
};

fuzz_target!(|data: &[u8]| {
    // The server side, with the default cap and a tight one.
    for max_head in [DEFAULT_MAX_HEAD, 64] {
        if let Ok(Some((head, n))) = parse_head(data, max_head) {
            assert!(n <= data.len());
            let _ = (head.is_upgrade(), head.path(), head.query());
        }
        match parse_request(data, max_head) {
            Ok(Some((req, n))) => {
                assert!(
                    n <= data.len() && n <= max_head,
                    "head of {n} octets with a cap of {max_head}"
                );
                let _ = (req.path(), req.query(), req.header("host"));
                round_trip(&req);
            }
            Ok(None) => assert!(
                data.len() <= max_head,
                "{} octets pending with a cap of {max_head}",
                data.len()
            ),
            Err(e) => {
                let _ = error_response(&e, Some("fuzz"));
            }
        }
    }

    // The client side: a handshake that offered a subprotocol and permessage-deflate.
    let mut opts = ClientOptions::new("localhost:9001", "/");
    opts.protocols = vec!["chat".into(), "wamp.2.json".into()];
    opts.extensions = Some("permessage-deflate; client_max_window_bits".into());
    let client = ClientHandshake::new(opts, [7; 16]);
    if let Ok(Some((resp, n))) = client.parse_response(data) {
        assert!(n <= data.len());
        assert_eq!(resp.status, 101);
    }

    // Extension header values, one per line.
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(offers) = parse_extensions(text.split('\n')) {
            for offer in &offers {
                let header = offer.to_header();
                let again = parse_extensions([header.as_str()])
                    .unwrap_or_else(|e| panic!("{header:?} from {offer:?} does not parse: {e}"));
                assert_eq!(
                    again,
                    std::slice::from_ref(offer),
                    "{header:?} does not round-trip"
                );
            }
        }
    }
});

/// Answer `req` with a 101 (echoing its first subprotocol) and check that a client whose key
/// is the request's accepts it.
fn round_trip(req: &wstest_engine::proto::handshake::Request) {
    let nonce: [u8; 16] = STANDARD
        .decode(&req.key)
        .expect("validated key")
        .try_into()
        .expect("16 octets");
    let protocol = req.protocols.first().map(String::as_str);
    let mut opts = ClientOptions::new(req.host.clone(), req.resource.clone());
    opts.protocols = req.protocols.clone();
    let client = ClientHandshake::new(opts, nonce);
    assert_eq!(client.key(), req.key, "key does not survive base64");
    let answer = accept_response(req, protocol, None, Some("fuzz"));
    match client.parse_response(&answer) {
        Ok(Some((resp, n))) => {
            assert_eq!(n, answer.len());
            assert_eq!(resp.protocol.as_deref(), protocol);
        }
        other => panic!(
            "client rejects the 101 for {req:?}: {other:?}\n{}",
            String::from_utf8_lossy(&answer)
        ),
    }
}
