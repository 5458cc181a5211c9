//! The router core against message sequences: each step is a message in JSON (as a client
//! would send it) and the test looks at exactly what comes out.

use super::*;
use crate::wamp::serializer::Serializer;

fn j(s: &str) -> Message {
    Serializer::Json
        .decode(s.as_bytes(), false)
        .expect("test vector decodes")
}

/// Outputs as (conn, JSON text) or (conn, "CLOSE").
fn show(out: Vec<Output>) -> Vec<(ConnId, String)> {
    out.into_iter()
        .map(|o| match o {
            Output::Send(c, m) => (
                c,
                String::from_utf8(Serializer::Json.encode(&m).unwrap()).unwrap(),
            ),
            Output::Close(c) => (c, "CLOSE".into()),
        })
        .collect()
}

struct T {
    r: Router,
}

impl T {
    fn new() -> T {
        T {
            r: Router::new(
                RouterConfig {
                    realms: None,
                    agent: "test".into(),
                },
                1,
            ),
        }
    }

    fn send(&mut self, c: ConnId, json: &str) -> Vec<(ConnId, String)> {
        let mut out = Vec::new();
        self.r.handle(c, j(json), &mut out);
        show(out)
    }

    /// Open `c` and join `realm`; returns the session id.
    fn join(&mut self, c: ConnId, realm: &str) -> u64 {
        self.r.open(c);
        let out = self.send(c, &format!(r#"[1,"{realm}",{{"roles":{{"caller":{{}},"callee":{{}},"publisher":{{}},"subscriber":{{}}}}}}]"#));
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0].1.starts_with("[2,"), "{out:?}");
        let m = j(&out[0].1);
        match m {
            Message::Welcome { session, details } => {
                assert!(matches!(dict_get(&details, "roles"), Some(Value::Map(_))));
                session
            }
            _ => unreachable!(),
        }
    }

    /// The id at element `i` of the only message sent.
    fn id_of(out: &[(ConnId, String)], i: usize) -> u64 {
        let v: serde_json::Value = serde_json::from_str(&out[0].1).unwrap();
        v[i].as_u64().unwrap()
    }
}

fn abort_reason(out: &[(ConnId, String)]) -> String {
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[1].1, "CLOSE");
    let v: serde_json::Value = serde_json::from_str(&out[0].1).unwrap();
    assert_eq!(v[0], 3, "{out:?}");
    v[2].as_str().unwrap().to_string()
}

#[test]
fn session_open_and_goodbye() {
    let mut t = T::new();
    let s = t.join(1, "realm1");
    assert!((1..=1u64 << 53).contains(&s));
    assert_eq!(t.r.session_count(), 1);
    let out = t.send(1, r#"[6,{},"wamp.close.close_realm"]"#);
    assert_eq!(
        out,
        vec![(1, r#"[6,{},"wamp.close.goodbye_and_out"]"#.to_string())]
    );
    assert_eq!(t.r.session_count(), 0);
    // The transport may join again.
    let s2 = t.join_again(1);
    assert_ne!(s, s2);
}

impl T {
    fn join_again(&mut self, c: ConnId) -> u64 {
        let out = self.send(c, r#"[1,"realm1",{"roles":{"caller":{}}}]"#);
        T::id_of(&out, 1)
    }
}

#[test]
fn violations_before_and_after_hello_abort_and_close() {
    let mut t = T::new();
    t.r.open(1);
    let out = t.send(1, r#"[48,1,{},"p"]"#);
    assert_eq!(abort_reason(&out), "wamp.error.protocol_violation");
    assert!(out[0].1.contains("CALL before HELLO"), "{out:?}");

    t.r.open(2);
    let out = t.send(2, r#"[1,"realm1",{}]"#);
    assert_eq!(
        abort_reason(&out),
        "wamp.error.protocol_violation",
        "no roles"
    );

    t.r.open(3);
    let out = t.send(3, r#"[1,"bad realm",{"roles":{"caller":{}}}]"#);
    assert_eq!(abort_reason(&out), "wamp.error.invalid_uri");

    t.join(4, "realm1");
    let out = t.send(4, r#"[1,"realm1",{"roles":{"caller":{}}}]"#);
    assert_eq!(abort_reason(&out), "wamp.error.protocol_violation");
    assert_eq!(t.r.session_count(), 0);

    t.join(5, "realm1");
    let out = t.send(5, r#"[36,1,2,{}]"#);
    assert_eq!(
        abort_reason(&out),
        "wamp.error.protocol_violation",
        "EVENT from a client"
    );

    t.join(6, "realm1");
    let mut out = Vec::new();
    t.r.malformed(6, "not valid json", &mut out);
    assert_eq!(abort_reason(&show(out)), "wamp.error.protocol_violation");
}

#[test]
fn restricted_realms() {
    let mut r = Router::new(
        RouterConfig {
            realms: Some(vec!["only".into()]),
            agent: String::new(),
        },
        2,
    );
    r.open(1);
    let mut out = Vec::new();
    r.handle(1, j(r#"[1,"realm1",{"roles":{"caller":{}}}]"#), &mut out);
    assert_eq!(abort_reason(&show(out)), "wamp.error.no_such_realm");
    let mut out = Vec::new();
    r.open(2);
    r.handle(2, j(r#"[1,"only",{"roles":{"caller":{}}}]"#), &mut out);
    assert!(show(out)[0].1.starts_with("[2,"));
}

#[test]
fn publish_reaches_subscribers_of_the_same_realm_only() {
    let mut t = T::new();
    t.join(1, "realm1");
    t.join(2, "realm1");
    t.join(3, "other");
    let out = t.send(1, r#"[32,1,{},"com.t"]"#);
    let sub = T::id_of(&out, 2);
    assert_eq!(out, vec![(1, format!("[33,1,{sub}]"))]);
    // The same topic in another realm is another subscription.
    let out = t.send(3, r#"[32,1,{},"com.t"]"#);
    assert_ne!(T::id_of(&out, 2), sub);
    // Publisher 2, acknowledged: one EVENT to 1, PUBLISHED to 2, nothing to realm "other".
    let out = t.send(2, r#"[16,7,{"acknowledge":true},"com.t",["hi"],{"k":1}]"#);
    assert_eq!(out.len(), 2, "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out[1].1).unwrap();
    let publication = v[2].as_u64().unwrap();
    assert_eq!(
        out[0],
        (
            1,
            format!(r#"[36,{sub},{publication},{{}},["hi"],{{"k":1}}]"#)
        )
    );
    assert_eq!(out[1], (2, format!("[17,7,{publication}]")));
    // Without acknowledge: no PUBLISHED.
    assert_eq!(t.send(2, r#"[16,8,{},"com.t"]"#).len(), 1);
    // The publisher is excluded by default, included with exclude_me false.
    assert!(t.send(1, r#"[16,9,{},"com.t"]"#).is_empty());
    let out = t.send(1, r#"[16,10,{"exclude_me":false},"com.t"]"#);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, 1);
}

#[test]
fn subscribe_twice_gives_the_same_id_and_unsubscribe_checks_ownership() {
    let mut t = T::new();
    t.join(1, "realm1");
    t.join(2, "realm1");
    let a = T::id_of(&t.send(1, r#"[32,1,{},"com.t"]"#), 2);
    assert_eq!(T::id_of(&t.send(1, r#"[32,2,{},"com.t"]"#), 2), a);
    assert_eq!(
        T::id_of(&t.send(2, r#"[32,1,{},"com.t"]"#), 2),
        a,
        "router scope: shared"
    );
    let out = t.send(2, &format!("[34,2,{}]", a + 1));
    assert!(
        out[0].1.starts_with(r#"[8,34,2,{"message":"#)
            && out[0].1.ends_with(r#""wamp.error.no_such_subscription"]"#),
        "{out:?}"
    );
    assert_eq!(
        t.send(2, &format!("[34,3,{a}]")),
        vec![(2, "[35,3]".to_string())]
    );
    assert!(t.send(2, &format!("[34,4,{a}]"))[0]
        .1
        .contains("no_such_subscription"));
    // 1 still gets events; 2 does not.
    let out = t.send(2, r#"[16,5,{},"com.t"]"#);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, 1);
    assert!(t.send(2, r#"[32,1,{},"not valid"]"#)[0]
        .1
        .contains("wamp.error.invalid_uri"));
}

#[test]
fn register_call_yield_result() {
    let mut t = T::new();
    t.join(1, "realm1");
    t.join(2, "realm1");
    let out = t.send(1, r#"[64,1,{},"com.add"]"#);
    let reg = T::id_of(&out, 2);
    assert_eq!(out, vec![(1, format!("[65,1,{reg}]"))]);
    let out = t.send(2, r#"[64,1,{},"com.add"]"#);
    assert!(
        out[0].1.starts_with("[8,64,1,")
            && out[0].1.contains("wamp.error.procedure_already_exists"),
        "{out:?}"
    );
    let out = t.send(2, r#"[48,42,{},"com.add",[2,3]]"#);
    assert_eq!(out, vec![(1, format!("[68,1,{reg},{{}},[2,3]]"))]);
    let out = t.send(2, r#"[48,43,{},"com.add",[],{"x":1}]"#);
    assert_eq!(out, vec![(1, format!(r#"[68,2,{reg},{{}},[],{{"x":1}}]"#))]);
    // Results in any order, to the right caller request.
    assert_eq!(
        t.send(1, r#"[70,2,{},["b"]]"#),
        vec![(2, r#"[50,43,{},["b"]]"#.to_string())]
    );
    assert_eq!(
        t.send(1, r#"[70,1,{},[5]]"#),
        vec![(2, "[50,42,{},[5]]".to_string())]
    );
    // A second YIELD for the same invocation is ignored.
    assert!(t.send(1, r#"[70,1,{},[5]]"#).is_empty());
    // A callee's ERROR goes to the caller as an ERROR for its CALL.
    t.send(2, r#"[48,44,{},"com.add"]"#);
    let out = t.send(1, r#"[8,68,3,{},"com.example.oops",["why"]]"#);
    assert_eq!(
        out,
        vec![(2, r#"[8,48,44,{},"com.example.oops",["why"]]"#.to_string())]
    );
    // Unregister: then the procedure is gone.
    assert!(t.send(2, &format!("[66,5,{reg}]"))[0]
        .1
        .contains("no_such_registration"));
    assert_eq!(
        t.send(1, &format!("[66,5,{reg}]")),
        vec![(1, "[67,5]".to_string())]
    );
    let out = t.send(2, r#"[48,45,{},"com.add"]"#);
    assert!(
        out[0].1.starts_with("[8,48,45,")
            && out[0].1.ends_with(r#""wamp.error.no_such_procedure"]"#),
        "{out:?}"
    );
}

#[test]
fn procedures_are_per_realm() {
    let mut t = T::new();
    t.join(1, "a");
    t.join(2, "b");
    t.send(1, r#"[64,1,{},"com.p"]"#);
    assert!(t.send(2, r#"[48,1,{},"com.p"]"#)[0]
        .1
        .contains("no_such_procedure"));
    assert!(
        t.send(2, r#"[64,2,{},"com.p"]"#)[0].1.starts_with("[65,2,"),
        "same URI in another realm registers"
    );
}

#[test]
fn a_callee_that_leaves_fails_its_calls_in_flight_and_frees_its_procedures() {
    let mut t = T::new();
    t.join(1, "realm1");
    t.join(2, "realm1");
    t.join(3, "realm1");
    t.send(1, r#"[64,1,{},"com.slow"]"#);
    t.send(1, r#"[32,2,{},"com.t"]"#);
    t.send(2, r#"[48,10,{},"com.slow"]"#);
    t.send(3, r#"[48,20,{},"com.slow"]"#);
    let mut out = Vec::new();
    t.r.closed(1, &mut out);
    let out = show(out);
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(
        out.iter().any(|(c, m)| *c == 2
            && m.starts_with("[8,48,10,")
            && m.ends_with(r#""wamp.error.canceled"]"#)),
        "{out:?}"
    );
    assert!(
        out.iter()
            .any(|(c, m)| *c == 3 && m.starts_with("[8,48,20,")),
        "{out:?}"
    );
    assert!(t.send(2, r#"[48,11,{},"com.slow"]"#)[0]
        .1
        .contains("no_such_procedure"));
    assert!(
        t.send(2, r#"[16,1,{},"com.t"]"#).is_empty(),
        "its subscription is gone"
    );
    assert!(t.send(2, r#"[64,12,{},"com.slow"]"#)[0]
        .1
        .starts_with("[65,12,"));
}

#[test]
fn a_caller_that_leaves_drops_its_results() {
    let mut t = T::new();
    t.join(1, "realm1");
    t.join(2, "realm1");
    t.send(1, r#"[64,1,{},"com.p"]"#);
    t.send(2, r#"[48,1,{},"com.p"]"#);
    let mut out = Vec::new();
    t.r.closed(2, &mut out);
    assert!(out.is_empty());
    assert!(t.send(1, r#"[70,1,{},[]]"#).is_empty());
}

#[test]
fn shutdown_says_goodbye_and_closes_on_the_reply() {
    let mut t = T::new();
    t.join(1, "realm1");
    t.r.open(2);
    let mut out = Vec::new();
    t.r.shutdown(&mut out);
    let out = show(out);
    assert_eq!(out[0].0, 1);
    assert!(out[0].1.starts_with("[6,") && out[0].1.ends_with(r#""wamp.close.system_shutdown"]"#));
    assert_eq!(out[1], (2, "CLOSE".to_string()));
    assert!(
        t.send(1, r#"[16,1,{},"com.t"]"#).is_empty(),
        "ignored while closing"
    );
    assert_eq!(
        t.send(1, r#"[6,{},"wamp.close.goodbye_and_out"]"#),
        vec![(1, "CLOSE".to_string())]
    );
}

#[test]
fn progressive_yields_keep_the_call_open() {
    let mut t = T::new();
    t.join(1, "realm1");
    t.join(2, "realm1");
    t.send(1, r#"[64,1,{},"com.p"]"#);
    t.send(2, r#"[48,3,{"receive_progress":true},"com.p"]"#);
    assert_eq!(
        t.send(1, r#"[70,1,{"progress":true},[1]]"#),
        vec![(2, r#"[50,3,{"progress":true},[1]]"#.to_string())]
    );
    assert_eq!(
        t.send(1, r#"[70,1,{},[2]]"#),
        vec![(2, "[50,3,{},[2]]".to_string())]
    );
}

#[test]
fn progress_only_for_callers_that_ask_and_the_invocation_says_so() {
    let mut t = T::new();
    t.join(1, "realm1");
    t.join(2, "realm1");
    let reg = T::id_of(&t.send(1, r#"[64,1,{},"com.p"]"#), 2);
    assert_eq!(
        t.send(2, r#"[48,3,{"receive_progress":true},"com.p"]"#),
        vec![(1, format!(r#"[68,1,{reg},{{"receive_progress":true}}]"#))]
    );
    assert_eq!(
        t.send(2, r#"[48,4,{},"com.p"]"#),
        vec![(1, format!("[68,2,{reg},{{}}]"))]
    );
    // The second caller did not ask: its progressive result is dropped, the final one comes.
    assert!(t.send(1, r#"[70,2,{"progress":true},[1]]"#).is_empty());
    assert_eq!(
        t.send(1, r#"[70,2,{},[2]]"#),
        vec![(2, "[50,4,{},[2]]".to_string())]
    );
}

#[test]
fn reserved_and_invalid_uris_are_refused() {
    let mut t = T::new();
    t.join(1, "realm1");
    let e = |out: Vec<(ConnId, String)>, head: &str| {
        assert!(
            out.len() == 1
                && out[0].1.starts_with(head)
                && out[0].1.contains("wamp.error.invalid_uri"),
            "{out:?}"
        );
    };
    e(t.send(1, r#"[64,1,{},"wamp.session.count"]"#), "[8,64,1,");
    e(
        t.send(1, r#"[16,2,{"acknowledge":true},"wamp.topic"]"#),
        "[8,16,2,",
    );
    e(t.send(1, r#"[48,3,{},"not a uri"]"#), "[8,48,3,");
    // Unacknowledged: nothing comes back.
    assert!(t.send(1, r#"[16,4,{},"wamp.topic"]"#).is_empty());
}

#[test]
fn calls_in_flight_are_bounded_per_caller() {
    let mut t = T::new();
    t.join(1, "realm1");
    t.join(2, "realm1");
    t.send(1, r#"[64,1,{},"com.slow"]"#);
    for i in 0..dealer::MAX_CALLS_IN_FLIGHT {
        let out = t.send(2, &format!(r#"[48,{},{{}},"com.slow"]"#, i + 1));
        assert_eq!(out.len(), 1);
        assert!(out[0].1.starts_with("[68,"), "{out:?}");
    }
    let n = dealer::MAX_CALLS_IN_FLIGHT + 1;
    let out = t.send(2, &format!(r#"[48,{n},{{}},"com.slow"]"#));
    assert!(
        out[0].1.starts_with(&format!("[8,48,{n},")) && out[0].1.contains("wamp.error.canceled"),
        "{out:?}"
    );
    // One answer frees one place.
    t.send(1, r#"[70,1,{},[]]"#);
    let out = t.send(2, &format!(r#"[48,{},{{}},"com.slow"]"#, n + 1));
    assert!(out[0].1.starts_with("[68,"), "{out:?}");
}
