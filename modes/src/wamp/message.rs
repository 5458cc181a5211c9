//! WAMP v2 Basic Profile messages: the numeric type codes as data, and the conversion between
//! a typed [`Message`] and the generic array every serializer carries
//! (`[TYPE, field, field, …]`).
//!
//! Values are `rmpv::Value` (a superset of what JSON can hold); dictionaries keep the order
//! they came in.

use rmpv::Value;

/// A message type code (the first element of every message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MsgType(pub u64);

impl MsgType {
    pub const HELLO: MsgType = MsgType(1);
    pub const WELCOME: MsgType = MsgType(2);
    pub const ABORT: MsgType = MsgType(3);
    pub const GOODBYE: MsgType = MsgType(6);
    pub const ERROR: MsgType = MsgType(8);
    pub const PUBLISH: MsgType = MsgType(16);
    pub const PUBLISHED: MsgType = MsgType(17);
    pub const SUBSCRIBE: MsgType = MsgType(32);
    pub const SUBSCRIBED: MsgType = MsgType(33);
    pub const UNSUBSCRIBE: MsgType = MsgType(34);
    pub const UNSUBSCRIBED: MsgType = MsgType(35);
    pub const EVENT: MsgType = MsgType(36);
    pub const CALL: MsgType = MsgType(48);
    pub const RESULT: MsgType = MsgType(50);
    pub const REGISTER: MsgType = MsgType(64);
    pub const REGISTERED: MsgType = MsgType(65);
    pub const UNREGISTER: MsgType = MsgType(66);
    pub const UNREGISTERED: MsgType = MsgType(67);
    pub const INVOCATION: MsgType = MsgType(68);
    pub const YIELD: MsgType = MsgType(70);

    /// Every Basic Profile type with its name.
    pub const ALL: &'static [(MsgType, &'static str)] = &[
        (Self::HELLO, "HELLO"),
        (Self::WELCOME, "WELCOME"),
        (Self::ABORT, "ABORT"),
        (Self::GOODBYE, "GOODBYE"),
        (Self::ERROR, "ERROR"),
        (Self::PUBLISH, "PUBLISH"),
        (Self::PUBLISHED, "PUBLISHED"),
        (Self::SUBSCRIBE, "SUBSCRIBE"),
        (Self::SUBSCRIBED, "SUBSCRIBED"),
        (Self::UNSUBSCRIBE, "UNSUBSCRIBE"),
        (Self::UNSUBSCRIBED, "UNSUBSCRIBED"),
        (Self::EVENT, "EVENT"),
        (Self::CALL, "CALL"),
        (Self::RESULT, "RESULT"),
        (Self::REGISTER, "REGISTER"),
        (Self::REGISTERED, "REGISTERED"),
        (Self::UNREGISTER, "UNREGISTER"),
        (Self::UNREGISTERED, "UNREGISTERED"),
        (Self::INVOCATION, "INVOCATION"),
        (Self::YIELD, "YIELD"),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(t, _)| *t == self)
            .map_or("unknown", |(_, n)| n)
    }
}

/// See [`Message::approx_size`].
fn value_size(v: &Value) -> usize {
    match v {
        Value::String(t) => 9 + t.as_bytes().len(),
        Value::Binary(b) | Value::Ext(_, b) => 9 + b.len(),
        Value::Array(a) => 9 + a.iter().map(value_size).sum::<usize>(),
        Value::Map(m) => {
            9 + m
                .iter()
                .map(|(k, v)| value_size(k) + value_size(v))
                .sum::<usize>()
        }
        _ => 9,
    }
}

/// A dictionary (`Details`, `Options`, `ArgumentsKw`).
pub type Dict = Vec<(Value, Value)>;

/// The value of `key` in `d`.
pub fn dict_get<'a>(d: &'a Dict, key: &str) -> Option<&'a Value> {
    d.iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// A dictionary from string keys.
pub fn dict<const N: usize>(items: [(&str, Value); N]) -> Dict {
    items
        .into_iter()
        .map(|(k, v)| (Value::from(k), v))
        .collect()
}

/// The optional trailing `Arguments|list, ArgumentsKw|dict` of a message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Payload {
    pub args: Option<Vec<Value>>,
    pub kwargs: Option<Dict>,
}

impl Payload {
    pub fn args(args: Vec<Value>) -> Payload {
        Payload {
            args: Some(args),
            kwargs: None,
        }
    }
}

/// One WAMP message. Ids are `u64` (the spec keeps them within 1..=2^53).
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    Hello {
        realm: String,
        details: Dict,
    },
    Welcome {
        session: u64,
        details: Dict,
    },
    Abort {
        details: Dict,
        reason: String,
    },
    Goodbye {
        details: Dict,
        reason: String,
    },
    Error {
        request_type: MsgType,
        request: u64,
        details: Dict,
        error: String,
        payload: Payload,
    },
    Publish {
        request: u64,
        options: Dict,
        topic: String,
        payload: Payload,
    },
    Published {
        request: u64,
        publication: u64,
    },
    Subscribe {
        request: u64,
        options: Dict,
        topic: String,
    },
    Subscribed {
        request: u64,
        subscription: u64,
    },
    Unsubscribe {
        request: u64,
        subscription: u64,
    },
    Unsubscribed {
        request: u64,
    },
    Event {
        subscription: u64,
        publication: u64,
        details: Dict,
        payload: Payload,
    },
    Call {
        request: u64,
        options: Dict,
        procedure: String,
        payload: Payload,
    },
    Result {
        request: u64,
        details: Dict,
        payload: Payload,
    },
    Register {
        request: u64,
        options: Dict,
        procedure: String,
    },
    Registered {
        request: u64,
        registration: u64,
    },
    Unregister {
        request: u64,
        registration: u64,
    },
    Unregistered {
        request: u64,
    },
    Invocation {
        request: u64,
        registration: u64,
        details: Dict,
        payload: Payload,
    },
    Yield {
        request: u64,
        options: Dict,
        payload: Payload,
    },
}

/// Why an array is not a valid message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not valid {format}: {detail}")]
    Syntax {
        format: &'static str,
        detail: String,
    },
    #[error("{format} messages must come in {expected} WebSocket messages")]
    FrameType {
        format: &'static str,
        expected: &'static str,
    },
    #[error("a message must be a non-empty array whose first element is the type code")]
    NotAMessage,
    #[error("unknown message type {0}")]
    UnknownType(u64),
    #[error("{kind} has {len} elements; expected {min}..={max}")]
    Length {
        kind: &'static str,
        len: usize,
        min: usize,
        max: usize,
    },
    #[error("{kind}: element {index} must be {expected}")]
    Field {
        kind: &'static str,
        index: usize,
        expected: &'static str,
    },
}

/// Reads the elements of one message array.
struct Fields<'a> {
    kind: &'static str,
    items: &'a [Value],
}

impl<'a> Fields<'a> {
    fn err(&self, index: usize, expected: &'static str) -> DecodeError {
        DecodeError::Field {
            kind: self.kind,
            index,
            expected,
        }
    }

    fn id(&self, i: usize) -> Result<u64, DecodeError> {
        // Ids are integers in 0..=2^53 (the spec's range; 0 allowed for leniency).
        match self.items[i].as_u64() {
            Some(v) if v <= 1 << 53 => Ok(v),
            _ => Err(self.err(i, "an id (integer 0..2^53)")),
        }
    }

    fn uri(&self, i: usize) -> Result<String, DecodeError> {
        self.items[i]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.err(i, "a URI string"))
    }

    fn dict(&self, i: usize) -> Result<Dict, DecodeError> {
        match &self.items[i] {
            Value::Map(m) => Ok(m.clone()),
            _ => Err(self.err(i, "a dictionary")),
        }
    }

    /// `Arguments|list` at `i` and `ArgumentsKw|dict` at `i + 1`, both optional.
    fn payload(&self, i: usize) -> Result<Payload, DecodeError> {
        let args = match self.items.get(i) {
            None => None,
            Some(Value::Array(a)) => Some(a.clone()),
            Some(_) => return Err(self.err(i, "a list (Arguments)")),
        };
        let kwargs = match self.items.get(i + 1) {
            None => None,
            Some(Value::Map(m)) => Some(m.clone()),
            Some(_) => return Err(self.err(i + 1, "a dictionary (ArgumentsKw)")),
        };
        Ok(Payload { args, kwargs })
    }
}

fn payload_values(p: &Payload, out: &mut Vec<Value>) {
    match (&p.args, &p.kwargs) {
        (None, None) => {}
        (a, None) => out.push(Value::Array(a.clone().unwrap_or_default())),
        (a, Some(k)) => {
            out.push(Value::Array(a.clone().unwrap_or_default()));
            out.push(Value::Map(k.clone()));
        }
    }
}

impl Message {
    /// About how many octets this message takes, in memory or on the wire: its payload's
    /// strings and binaries, 9 per other value, plus a fixed part. For bounding queues.
    pub fn approx_size(&self) -> usize {
        use Message::*;
        let p = match self {
            Error { payload, .. }
            | Publish { payload, .. }
            | Event { payload, .. }
            | Call { payload, .. }
            | Result { payload, .. }
            | Invocation { payload, .. }
            | Yield { payload, .. } => Some(payload),
            _ => None,
        };
        let args = p
            .and_then(|p| p.args.as_ref())
            .map_or(0, |a| a.iter().map(value_size).sum());
        let kwargs = p.and_then(|p| p.kwargs.as_ref()).map_or(0, |d| {
            d.iter().map(|(k, v)| value_size(k) + value_size(v)).sum()
        });
        64 + args + kwargs
    }

    pub fn msg_type(&self) -> MsgType {
        use Message::*;
        match self {
            Hello { .. } => MsgType::HELLO,
            Welcome { .. } => MsgType::WELCOME,
            Abort { .. } => MsgType::ABORT,
            Goodbye { .. } => MsgType::GOODBYE,
            Error { .. } => MsgType::ERROR,
            Publish { .. } => MsgType::PUBLISH,
            Published { .. } => MsgType::PUBLISHED,
            Subscribe { .. } => MsgType::SUBSCRIBE,
            Subscribed { .. } => MsgType::SUBSCRIBED,
            Unsubscribe { .. } => MsgType::UNSUBSCRIBE,
            Unsubscribed { .. } => MsgType::UNSUBSCRIBED,
            Event { .. } => MsgType::EVENT,
            Call { .. } => MsgType::CALL,
            Result { .. } => MsgType::RESULT,
            Register { .. } => MsgType::REGISTER,
            Registered { .. } => MsgType::REGISTERED,
            Unregister { .. } => MsgType::UNREGISTER,
            Unregistered { .. } => MsgType::UNREGISTERED,
            Invocation { .. } => MsgType::INVOCATION,
            Yield { .. } => MsgType::YIELD,
        }
    }

    /// The message from its generic array form.
    pub fn from_value(v: Value) -> Result<Message, DecodeError> {
        let Value::Array(items) = v else {
            return Err(DecodeError::NotAMessage);
        };
        let code = items
            .first()
            .and_then(Value::as_u64)
            .ok_or(DecodeError::NotAMessage)?;
        let t = MsgType(code);
        // (fixed elements including the type code, extra optional elements)
        let (min, max) = match t {
            MsgType::HELLO | MsgType::WELCOME | MsgType::ABORT | MsgType::GOODBYE => (3, 3),
            MsgType::PUBLISHED | MsgType::SUBSCRIBED | MsgType::UNSUBSCRIBE => (3, 3),
            MsgType::REGISTERED | MsgType::UNREGISTER => (3, 3),
            MsgType::UNSUBSCRIBED | MsgType::UNREGISTERED => (2, 2),
            MsgType::SUBSCRIBE | MsgType::REGISTER => (4, 4),
            MsgType::ERROR => (5, 7),
            MsgType::PUBLISH | MsgType::CALL => (4, 6),
            MsgType::EVENT | MsgType::INVOCATION => (4, 6),
            MsgType::RESULT | MsgType::YIELD => (3, 5),
            _ => return Err(DecodeError::UnknownType(code)),
        };
        let kind = t.name();
        if items.len() < min || items.len() > max {
            return Err(DecodeError::Length {
                kind,
                len: items.len(),
                min,
                max,
            });
        }
        let f = Fields {
            kind,
            items: &items,
        };
        use Message::*;
        Ok(match t {
            MsgType::HELLO => Hello {
                realm: f.uri(1)?,
                details: f.dict(2)?,
            },
            MsgType::WELCOME => Welcome {
                session: f.id(1)?,
                details: f.dict(2)?,
            },
            MsgType::ABORT => Abort {
                details: f.dict(1)?,
                reason: f.uri(2)?,
            },
            MsgType::GOODBYE => Goodbye {
                details: f.dict(1)?,
                reason: f.uri(2)?,
            },
            MsgType::ERROR => Error {
                request_type: MsgType(f.id(1)?),
                request: f.id(2)?,
                details: f.dict(3)?,
                error: f.uri(4)?,
                payload: f.payload(5)?,
            },
            MsgType::PUBLISH => Publish {
                request: f.id(1)?,
                options: f.dict(2)?,
                topic: f.uri(3)?,
                payload: f.payload(4)?,
            },
            MsgType::PUBLISHED => Published {
                request: f.id(1)?,
                publication: f.id(2)?,
            },
            MsgType::SUBSCRIBE => Subscribe {
                request: f.id(1)?,
                options: f.dict(2)?,
                topic: f.uri(3)?,
            },
            MsgType::SUBSCRIBED => Subscribed {
                request: f.id(1)?,
                subscription: f.id(2)?,
            },
            MsgType::UNSUBSCRIBE => Unsubscribe {
                request: f.id(1)?,
                subscription: f.id(2)?,
            },
            MsgType::UNSUBSCRIBED => Unsubscribed { request: f.id(1)? },
            MsgType::EVENT => Event {
                subscription: f.id(1)?,
                publication: f.id(2)?,
                details: f.dict(3)?,
                payload: f.payload(4)?,
            },
            MsgType::CALL => Call {
                request: f.id(1)?,
                options: f.dict(2)?,
                procedure: f.uri(3)?,
                payload: f.payload(4)?,
            },
            MsgType::RESULT => Result {
                request: f.id(1)?,
                details: f.dict(2)?,
                payload: f.payload(3)?,
            },
            MsgType::REGISTER => Register {
                request: f.id(1)?,
                options: f.dict(2)?,
                procedure: f.uri(3)?,
            },
            MsgType::REGISTERED => Registered {
                request: f.id(1)?,
                registration: f.id(2)?,
            },
            MsgType::UNREGISTER => Unregister {
                request: f.id(1)?,
                registration: f.id(2)?,
            },
            MsgType::UNREGISTERED => Unregistered { request: f.id(1)? },
            MsgType::INVOCATION => Invocation {
                request: f.id(1)?,
                registration: f.id(2)?,
                details: f.dict(3)?,
                payload: f.payload(4)?,
            },
            MsgType::YIELD => Yield {
                request: f.id(1)?,
                options: f.dict(2)?,
                payload: f.payload(3)?,
            },
            _ => return Err(DecodeError::UnknownType(code)),
        })
    }

    /// The generic array form.
    pub fn to_value(&self) -> Value {
        use Message::*;
        let mut v = vec![Value::from(self.msg_type().0)];
        let id = |x: &u64| Value::from(*x);
        let s = |x: &String| Value::from(x.as_str());
        let d = |x: &Dict| Value::Map(x.clone());
        match self {
            Hello { realm, details } => v.extend([s(realm), d(details)]),
            Welcome { session, details } => v.extend([id(session), d(details)]),
            Abort { details, reason } | Goodbye { details, reason } => {
                v.extend([d(details), s(reason)])
            }
            Error {
                request_type,
                request,
                details,
                error,
                payload,
            } => {
                v.extend([id(&request_type.0), id(request), d(details), s(error)]);
                payload_values(payload, &mut v);
            }
            Publish {
                request,
                options,
                topic,
                payload,
            } => {
                v.extend([id(request), d(options), s(topic)]);
                payload_values(payload, &mut v);
            }
            Published {
                request,
                publication,
            } => v.extend([id(request), id(publication)]),
            Subscribe {
                request,
                options,
                topic,
            } => v.extend([id(request), d(options), s(topic)]),
            Subscribed {
                request,
                subscription,
            } => v.extend([id(request), id(subscription)]),
            Unsubscribe {
                request,
                subscription,
            } => v.extend([id(request), id(subscription)]),
            Unsubscribed { request } | Unregistered { request } => v.push(id(request)),
            Event {
                subscription,
                publication,
                details,
                payload,
            } => {
                v.extend([id(subscription), id(publication), d(details)]);
                payload_values(payload, &mut v);
            }
            Call {
                request,
                options,
                procedure,
                payload,
            } => {
                v.extend([id(request), d(options), s(procedure)]);
                payload_values(payload, &mut v);
            }
            Result {
                request,
                details,
                payload,
            } => {
                v.extend([id(request), d(details)]);
                payload_values(payload, &mut v);
            }
            Register {
                request,
                options,
                procedure,
            } => v.extend([id(request), d(options), s(procedure)]),
            Registered {
                request,
                registration,
            } => v.extend([id(request), id(registration)]),
            Unregister {
                request,
                registration,
            } => v.extend([id(request), id(registration)]),
            Invocation {
                request,
                registration,
                details,
                payload,
            } => {
                v.extend([id(request), id(registration), d(details)]);
                payload_values(payload, &mut v);
            }
            Yield {
                request,
                options,
                payload,
            } => {
                v.extend([id(request), d(options)]);
                payload_values(payload, &mut v);
            }
        }
        Value::Array(v)
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
