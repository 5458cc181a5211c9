//! The two WebSocket subprotocols of the Basic Profile: `wamp.2.json` (each message a JSON
//! array in one text message) and `wamp.2.msgpack` (a MessagePack array in one binary
//! message).

use rmpv::Value;
use serde::{Deserialize, Serialize};

use super::message::{DecodeError, Message};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Serializer {
    Json,
    Msgpack,
}

/// Every subprotocol we speak, in our order of preference.
pub const SUBPROTOCOLS: [&str; 2] = ["wamp.2.json", "wamp.2.msgpack"];

#[derive(Debug, thiserror::Error)]
#[error("cannot encode {kind} as {format}: {detail}")]
pub struct EncodeError {
    kind: &'static str,
    format: &'static str,
    detail: String,
}

impl Serializer {
    pub fn subprotocol(self) -> &'static str {
        match self {
            Serializer::Json => SUBPROTOCOLS[0],
            Serializer::Msgpack => SUBPROTOCOLS[1],
        }
    }

    pub fn from_subprotocol(p: &str) -> Option<Serializer> {
        match p {
            "wamp.2.json" => Some(Serializer::Json),
            "wamp.2.msgpack" => Some(Serializer::Msgpack),
            _ => None,
        }
    }

    /// The first of the client's offered subprotocols that we speak (the client's order of
    /// preference wins).
    pub fn negotiate<'a>(offered: impl IntoIterator<Item = &'a str>) -> Option<Serializer> {
        offered.into_iter().find_map(Serializer::from_subprotocol)
    }

    pub fn name(self) -> &'static str {
        match self {
            Serializer::Json => "json",
            Serializer::Msgpack => "msgpack",
        }
    }

    /// Binary WebSocket messages (msgpack) or text (JSON).
    pub fn is_binary(self) -> bool {
        self == Serializer::Msgpack
    }

    pub fn encode(self, m: &Message) -> Result<Vec<u8>, EncodeError> {
        let v = m.to_value();
        let err = |detail: String| EncodeError {
            kind: m.msg_type().name(),
            format: self.name(),
            detail,
        };
        match self {
            // JSON cannot hold every msgpack value (binary, non-string keys): an error then.
            Serializer::Json => serde_json::to_vec(&v).map_err(|e| err(e.to_string())),
            Serializer::Msgpack => {
                let mut out = Vec::with_capacity(64);
                rmpv::encode::write_value(&mut out, &v).map_err(|e| err(e.to_string()))?;
                Ok(out)
            }
        }
    }

    /// Decode one WebSocket message's payload (`binary`: it came as a binary message).
    pub fn decode(self, data: &[u8], binary: bool) -> Result<Message, DecodeError> {
        let format = self.name();
        if binary != self.is_binary() {
            let expected = if self.is_binary() { "binary" } else { "text" };
            return Err(DecodeError::FrameType { format, expected });
        }
        let syntax = |detail: String| DecodeError::Syntax { format, detail };
        let v: Value = match self {
            Serializer::Json => serde_json::from_slice(data).map_err(|e| syntax(e.to_string()))?,
            Serializer::Msgpack => {
                let mut rd = data;
                let v = rmpv::decode::read_value(&mut rd).map_err(|e| syntax(e.to_string()))?;
                if !rd.is_empty() {
                    return Err(syntax(format!("{} octets after the message", rd.len())));
                }
                v
            }
        };
        Message::from_value(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wamp::message::{dict, Payload};

    fn sample() -> Message {
        Message::Call {
            request: 7,
            options: dict([("receive_progress", Value::from(false))]),
            procedure: "com.example.add".into(),
            payload: Payload {
                args: Some(vec![Value::from(1), Value::from(-2.5), Value::from("x")]),
                kwargs: Some(dict([("k", Value::Nil)])),
            },
        }
    }

    #[test]
    fn json_wire_form() {
        let b = Serializer::Json.encode(&sample()).unwrap();
        assert_eq!(
            std::str::from_utf8(&b).unwrap(),
            r#"[48,7,{"receive_progress":false},"com.example.add",[1,-2.5,"x"],{"k":null}]"#
        );
        assert_eq!(Serializer::Json.decode(&b, false).unwrap(), sample());
    }

    #[test]
    fn msgpack_wire_form() {
        let m = Message::Unsubscribed { request: 300 };
        // fixarray(2), positive fixint 35, uint16 300
        let b = Serializer::Msgpack.encode(&m).unwrap();
        assert_eq!(b, [0x92, 35, 0xcd, 0x01, 0x2c]);
        assert_eq!(Serializer::Msgpack.decode(&b, true).unwrap(), m);
        assert_eq!(
            Serializer::Msgpack.decode(&sample_bytes(), true).unwrap(),
            sample()
        );
    }

    fn sample_bytes() -> Vec<u8> {
        Serializer::Msgpack.encode(&sample()).unwrap()
    }

    #[test]
    fn wrong_frame_type_and_garbage_are_errors() {
        let j = Serializer::Json.encode(&sample()).unwrap();
        assert!(matches!(
            Serializer::Json.decode(&j, true),
            Err(DecodeError::FrameType { .. })
        ));
        assert!(matches!(
            Serializer::Json.decode(b"[1, \"realm1\"", false),
            Err(DecodeError::Syntax { .. })
        ));
        let mut m = sample_bytes();
        m.push(0xc0);
        assert!(matches!(
            Serializer::Msgpack.decode(&m, true),
            Err(DecodeError::Syntax { .. })
        ));
        assert!(matches!(
            Serializer::Msgpack.decode(&[0xdd, 0xff, 0xff, 0xff, 0xff], true),
            Err(DecodeError::Syntax { .. })
        ));
        // Deep nesting is refused, not a stack overflow.
        let deep = "[".repeat(100_000);
        assert!(Serializer::Json.decode(deep.as_bytes(), false).is_err());
        let deep = vec![0x91u8; 100_000];
        assert!(Serializer::Msgpack.decode(&deep, true).is_err());
    }

    #[test]
    fn negotiation_follows_the_clients_order() {
        assert_eq!(
            Serializer::negotiate(["wamp.2.msgpack", "wamp.2.json"]),
            Some(Serializer::Msgpack)
        );
        assert_eq!(
            Serializer::negotiate(["chat", "wamp.2.json", "wamp.2.msgpack"]),
            Some(Serializer::Json)
        );
        assert_eq!(Serializer::negotiate(["wamp.2.cbor", "chat"]), None);
    }
}
