//! WAMP from the network: arbitrary messages, in either serializer, from several connections,
//! into the decoders and the router. Nothing may panic; a message that decodes re-encodes to
//! octets that decode to the same encoding (a stable round trip); the router answers every
//! connection only with messages that encode.
//!
//! Input: records `[flags, len, len octets…]`. `flags` bits 0-1 pick the connection (0-3), bit 2
//! the serializer (msgpack when set), bit 3 closes the connection after the record.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wstest_modes::wamp::{Output, Router, RouterConfig, Serializer};

fuzz_target!(|data: &[u8]| {
    let mut router = Router::new(
        RouterConfig {
            realms: None,
            agent: "fuzz".into(),
        },
        7,
    );
    let mut open = [false; 4];
    let mut out = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 {
        let (flags, len) = (rest[0], rest[1] as usize);
        let body = &rest[2..(2 + len).min(rest.len())];
        rest = &rest[(2 + len).min(rest.len())..];
        let conn = u64::from(flags & 3);
        let ser = if flags & 4 != 0 {
            Serializer::Msgpack
        } else {
            Serializer::Json
        };
        if !open[conn as usize] {
            router.open(conn);
            open[conn as usize] = true;
        }
        match ser.decode(body, ser.is_binary()) {
            Ok(m) => {
                if let Ok(bytes) = ser.encode(&m) {
                    let again = ser
                        .decode(&bytes, ser.is_binary())
                        .expect("an encoded message decodes");
                    assert_eq!(
                        ser.encode(&again).ok(),
                        Some(bytes),
                        "round trip changed the encoding"
                    );
                }
                router.handle(conn, m, &mut out);
            }
            Err(e) => router.malformed(conn, &e.to_string(), &mut out),
        }
        for o in out.drain(..) {
            if let Output::Send(_, m) = o {
                // What the router sends must be expressible (JSON may refuse binary values).
                let _ = Serializer::Msgpack
                    .encode(&m)
                    .expect("router output encodes as msgpack");
            }
        }
        if flags & 8 != 0 {
            router.closed(conn, &mut out);
            out.clear();
            open[conn as usize] = false;
        }
    }
});
