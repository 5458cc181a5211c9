use proptest::prelude::*;
use rmpv::Value;

use super::*;
use crate::wamp::serializer::Serializer;

/// (JSON as on the wire, the message it is)
fn vectors() -> Vec<(&'static str, Message)> {
    use Message::*;
    let roles = dict([("roles", Value::Map(dict([("caller", Value::Map(vec![]))])))]);
    vec![
        (
            r#"[1,"realm1",{"roles":{"caller":{}}}]"#,
            Hello {
                realm: "realm1".into(),
                details: roles,
            },
        ),
        (
            r#"[2,9129137332,{}]"#,
            Welcome {
                session: 9129137332,
                details: vec![],
            },
        ),
        (
            r#"[3,{},"wamp.error.no_such_realm"]"#,
            Abort {
                details: vec![],
                reason: "wamp.error.no_such_realm".into(),
            },
        ),
        (
            r#"[6,{},"wamp.close.goodbye_and_out"]"#,
            Goodbye {
                details: vec![],
                reason: "wamp.close.goodbye_and_out".into(),
            },
        ),
        (
            r#"[8,48,7,{},"wamp.error.no_such_procedure"]"#,
            Error {
                request_type: MsgType::CALL,
                request: 7,
                details: vec![],
                error: "wamp.error.no_such_procedure".into(),
                payload: Payload::default(),
            },
        ),
        (
            r#"[16,1,{"acknowledge":true},"t",[],{"a":1}]"#,
            Publish {
                request: 1,
                options: dict([("acknowledge", Value::from(true))]),
                topic: "t".into(),
                payload: Payload {
                    args: Some(vec![]),
                    kwargs: Some(dict([("a", Value::from(1))])),
                },
            },
        ),
        (
            r#"[17,1,5]"#,
            Published {
                request: 1,
                publication: 5,
            },
        ),
        (
            r#"[32,2,{},"t"]"#,
            Subscribe {
                request: 2,
                options: vec![],
                topic: "t".into(),
            },
        ),
        (
            r#"[33,2,9]"#,
            Subscribed {
                request: 2,
                subscription: 9,
            },
        ),
        (
            r#"[34,3,9]"#,
            Unsubscribe {
                request: 3,
                subscription: 9,
            },
        ),
        (r#"[35,3]"#, Unsubscribed { request: 3 }),
        (
            r#"[36,9,5,{},["x"]]"#,
            Event {
                subscription: 9,
                publication: 5,
                details: vec![],
                payload: Payload::args(vec![Value::from("x")]),
            },
        ),
        (
            r#"[48,4,{},"p",[1,2]]"#,
            Call {
                request: 4,
                options: vec![],
                procedure: "p".into(),
                payload: Payload::args(vec![Value::from(1), Value::from(2)]),
            },
        ),
        (
            r#"[50,4,{},[3]]"#,
            Result {
                request: 4,
                details: vec![],
                payload: Payload::args(vec![Value::from(3)]),
            },
        ),
        (
            r#"[64,5,{},"p"]"#,
            Register {
                request: 5,
                options: vec![],
                procedure: "p".into(),
            },
        ),
        (
            r#"[65,5,11]"#,
            Registered {
                request: 5,
                registration: 11,
            },
        ),
        (
            r#"[66,6,11]"#,
            Unregister {
                request: 6,
                registration: 11,
            },
        ),
        (r#"[67,6]"#, Unregistered { request: 6 }),
        (
            r#"[68,1,11,{}]"#,
            Invocation {
                request: 1,
                registration: 11,
                details: vec![],
                payload: Payload::default(),
            },
        ),
        (
            r#"[70,1,{},[],{"r":2}]"#,
            Yield {
                request: 1,
                options: vec![],
                payload: Payload {
                    args: Some(vec![]),
                    kwargs: Some(dict([("r", Value::from(2))])),
                },
            },
        ),
    ]
}

#[test]
fn every_basic_profile_message_decodes_and_encodes_as_on_the_wire() {
    let v = vectors();
    assert_eq!(v.len(), MsgType::ALL.len(), "one vector per message type");
    for (json, msg) in v {
        assert_eq!(
            Serializer::Json.decode(json.as_bytes(), false).unwrap(),
            msg,
            "{json}"
        );
        let out = Serializer::Json.encode(&msg).unwrap();
        assert_eq!(std::str::from_utf8(&out).unwrap(), json);
        let mp = Serializer::Msgpack.encode(&msg).unwrap();
        assert_eq!(
            Serializer::Msgpack.decode(&mp, true).unwrap(),
            msg,
            "{json}"
        );
    }
}

#[test]
fn kwargs_without_args_get_an_empty_list() {
    let m = Message::Yield {
        request: 1,
        options: vec![],
        payload: Payload {
            args: None,
            kwargs: Some(vec![]),
        },
    };
    assert_eq!(Serializer::Json.encode(&m).unwrap(), br#"[70,1,{},[],{}]"#);
}

#[test]
fn invalid_arrays_name_the_problem() {
    let bad: &[(&str, DecodeError)] = &[
        (r#"{"a":1}"#, DecodeError::NotAMessage),
        (r#"[]"#, DecodeError::NotAMessage),
        (r#"["HELLO"]"#, DecodeError::NotAMessage),
        (r#"[99,1]"#, DecodeError::UnknownType(99)),
        (
            r#"[1,"realm1"]"#,
            DecodeError::Length {
                kind: "HELLO",
                len: 2,
                min: 3,
                max: 3,
            },
        ),
        (
            r#"[1,5,{}]"#,
            DecodeError::Field {
                kind: "HELLO",
                index: 1,
                expected: "a URI string",
            },
        ),
        (
            r#"[48,-1,{},"p"]"#,
            DecodeError::Field {
                kind: "CALL",
                index: 1,
                expected: "an id (integer 0..2^53)",
            },
        ),
        (
            r#"[48,9007199254740993,{},"p"]"#,
            DecodeError::Field {
                kind: "CALL",
                index: 1,
                expected: "an id (integer 0..2^53)",
            },
        ),
        (
            r#"[48,1,[],"p"]"#,
            DecodeError::Field {
                kind: "CALL",
                index: 2,
                expected: "a dictionary",
            },
        ),
        (
            r#"[48,1,{},"p",{}]"#,
            DecodeError::Field {
                kind: "CALL",
                index: 4,
                expected: "a list (Arguments)",
            },
        ),
        (
            r#"[48,1,{},"p",[],[]]"#,
            DecodeError::Field {
                kind: "CALL",
                index: 5,
                expected: "a dictionary (ArgumentsKw)",
            },
        ),
    ];
    for (json, want) in bad {
        assert_eq!(
            &Serializer::Json.decode(json.as_bytes(), false).unwrap_err(),
            want,
            "{json}"
        );
    }
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Floats with short exact decimal forms (JSON text need not round-trip every f64).
        (-1_000_000i64..1_000_000).prop_map(|i| Value::from(i as f64 / 1024.0)),
        "[a-z0-9 ]{0,8}".prop_map(|s| Value::from(s.as_str())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z]{1,5}", inner), 0..4).prop_map(|kv| {
                Value::Map(
                    kv.into_iter()
                        .map(|(k, v)| (Value::from(k.as_str()), v))
                        .collect(),
                )
            }),
        ]
    })
}

proptest! {
    /// Any payload survives both serializers unchanged.
    #[test]
    fn payloads_roundtrip(args in prop::collection::vec(arb_value(), 0..4),
                          kw in prop::collection::vec(("[a-z]{1,6}", arb_value()), 0..3),
                          request in 0u64..=(1 << 53)) {
        let kwargs: Dict = kw.into_iter().map(|(k, v)| (Value::from(k.as_str()), v)).collect();
        let m = Message::Publish {
            request,
            options: vec![],
            topic: "com.example.t".into(),
            payload: Payload { args: Some(args), kwargs: Some(kwargs) },
        };
        for s in [Serializer::Json, Serializer::Msgpack] {
            let b = s.encode(&m).unwrap();
            prop_assert_eq!(&s.decode(&b, s.is_binary()).unwrap(), &m);
        }
    }

    /// Arbitrary octets never panic either decoder.
    #[test]
    fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = Serializer::Json.decode(&data, false);
        let _ = Serializer::Msgpack.decode(&data, true);
    }
}
