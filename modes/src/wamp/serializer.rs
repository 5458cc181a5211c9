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
            Serializer::Json => serde_json::to_vec(&JsonView(&v)).map_err(|e| err(e.to_string())),
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
            Serializer::Json => {
                let mut v = serde_json::from_slice(data).map_err(|e| syntax(e.to_string()))?;
                // JSON writes NUL only as the escape \u0000: without one, nothing to convert.
                if data.windows(6).any(|w| w == b"\\u0000") {
                    binary_from_json(&mut v);
                }
                v
            }
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

/// A value as the JSON serializer writes it. The spec's rule for what JSON cannot hold:
/// binary data is a string of a NUL character followed by the data in Base64; dictionary keys
/// are strings (a msgpack peer's other keys are written as their JSON text), so a message
/// from a msgpack session always reaches a JSON one.
struct JsonView<'a>(&'a Value);

impl serde::Serialize for JsonView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Binary(b) | Value::Ext(_, b) => s.serialize_str(&binary_as_json(b)),
            Value::String(t) => match t.as_str() {
                Some(t) => s.serialize_str(t),
                None => s.serialize_str(&String::from_utf8_lossy(t.as_bytes())),
            },
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(&JsonView(i))?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    match k {
                        Value::String(_) => map.serialize_key(&JsonView(k))?,
                        other => {
                            let text = serde_json::to_string(&JsonView(other))
                                .map_err(serde::ser::Error::custom)?;
                            map.serialize_key(&text)?
                        }
                    }
                    map.serialize_value(&JsonView(v))?;
                }
                map.end()
            }
            other => other.serialize(s),
        }
    }
}

fn binary_as_json(b: &[u8]) -> String {
    use base64::Engine;
    let mut t = String::with_capacity(1 + b.len().div_ceil(3) * 4);
    t.push('\0');
    base64::engine::general_purpose::STANDARD.encode_string(b, &mut t);
    t
}

/// JSON strings that start with NUL carry binary data (see [`JsonView`]): back to binary.
fn binary_from_json(v: &mut Value) {
    use base64::Engine;
    match v {
        Value::String(t) => {
            if let Some(b64) = t.as_str().and_then(|t| t.strip_prefix('\0')) {
                if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(b64) {
                    *v = Value::Binary(b);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(binary_from_json),
        Value::Map(entries) => entries.iter_mut().for_each(|(_, v)| binary_from_json(v)),
        _ => {}
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
    fn binary_and_non_string_keys_cross_from_msgpack_to_json() {
        let m = Message::Event {
            subscription: 1,
            publication: 2,
            details: vec![],
            payload: Payload {
                args: Some(vec![Value::Binary(vec![0, 1, 2, 255])]),
                kwargs: Some(vec![
                    (Value::from(7), Value::from("seven")),
                    (Value::from("b"), Value::Binary(b"hi".to_vec())),
                ]),
            },
        };
        let j = Serializer::Json.encode(&m).unwrap();
        assert_eq!(
            std::str::from_utf8(&j).unwrap(),
            r#"[36,1,2,{},["\u0000AAEC/w=="],{"7":"seven","b":"\u0000aGk="}]"#
        );
        // Back from JSON: the binary values are binary again (the integer key stays text).
        match Serializer::Json.decode(&j, false).unwrap() {
            Message::Event { payload, .. } => {
                assert_eq!(payload.args, Some(vec![Value::Binary(vec![0, 1, 2, 255])]));
                let kw = payload.kwargs.unwrap();
                assert_eq!(kw[0], (Value::from("7"), Value::from("seven")));
                assert_eq!(kw[1], (Value::from("b"), Value::Binary(b"hi".to_vec())));
            }
            other => panic!("{other:?}"),
        }
        // Text that merely starts with NUL but is not Base64 stays text.
        let t = r#"[36,1,2,{},["\u0000not base64!"]]"#;
        match Serializer::Json.decode(t.as_bytes(), false).unwrap() {
            Message::Event { payload, .. } => {
                assert_eq!(payload.args, Some(vec![Value::from("\0not base64!")]))
            }
            other => panic!("{other:?}"),
        }
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
