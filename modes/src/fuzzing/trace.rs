//! Case definitions in a canonical JSON form, the same form `scripts/oracle/trace_cases.py`
//! prints for the original suite, so the two can be compared case by case.

use serde_json::{json, Value};

use wstest_engine::proto::handshake::parse_extensions;

use super::case::{repeated, Behavior, Case, Check, Ev, Step};
use super::pmce;

/// The offers each compression case's accept rule is tried on (the same list as
/// `scripts/oracle/trace_cases.py`).
const SAMPLE_OFFERS: [&str; 6] = [
    "permessage-deflate",
    "permessage-deflate; client_max_window_bits",
    "permessage-deflate; client_max_window_bits=10; server_no_context_takeover",
    "permessage-deflate; server_max_window_bits=12, permessage-deflate; client_max_window_bits",
    "permessage-deflate; client_no_context_takeover; server_max_window_bits=9",
    "x-foo, permessage-deflate; client_max_window_bits; server_max_window_bits=11",
];

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn ev(e: &Ev) -> Value {
    match e {
        Ev::Message { payload, binary } => json!(["message", hex(payload), binary]),
        Ev::Pong(p) => json!(["pong", hex(p)]),
        Ev::Timeout(t) => json!(["timeout", t]),
    }
}

fn steps(v: &[Step]) -> Value {
    Value::Array(v.iter().map(step).collect())
}

fn step(s: &Step) -> Value {
    match s {
        Step::Frame(f) => json!(["frame", {
            "opcode": f.opcode, "payload": hex(&f.payload), "fin": f.fin, "rsv": f.rsv,
            "mask": f.mask.map(|m| hex(&m)), "repeat": f.repeat_len, "chop": f.chop, "sync": f.sync
        }]),
        Step::Message {
            payload,
            repeat_len,
            binary,
            fragment,
        } => {
            json!(["message", {"payload": hex(&repeated(payload, *repeat_len)), "binary": binary, "fragment": fragment}])
        }
        Step::Close { code, reason } => json!(["close", {"code": code, "reason": reason}]),
        Step::CloseFrame { code, reason } => {
            json!(["close_frame", {"code": code, "reason": reason.as_ref().map(|r| hex(r))}])
        }
        Step::KillAfter(d) => json!(["kill_after", d]),
        Step::CloseAfter(d) => json!(["close_after", d]),
        Step::Later {
            delay,
            tag,
            guard,
            steps: inner,
        } => json!(["later", {"delay": delay, "tag": tag, "guard": guard, "steps": steps(inner)}]),
        Step::Wirelog { on, mark } => json!(["wirelog", {"on": on, "mark": mark}]),
        Step::BeginMessage { binary } => json!(["begin_message", {"binary": binary}]),
        Step::BeginFrame { len } => json!(["begin_frame", {"len": len}]),
        Step::FrameData { data, sync } => json!(["frame_data", {"data": hex(data), "sync": sync}]),
        Step::EndMessage => json!(["end_message"]),
        Step::AutoFragment(n) => json!(["auto_fragment", n]),
    }
}

fn close(c: &Case) -> Value {
    json!({
        "closedByMe": c.close.closed_by_me, "closeCode": c.close.codes,
        "requireClean": c.close.require_clean, "wrongEndpointFatal": c.close.wrong_endpoint_fatal
    })
}

pub fn trace(c: &Case) -> Value {
    if let Check::Compression(s) = &c.check {
        let accepted: Vec<Option<String>> = SAMPLE_OFFERS
            .iter()
            .map(|h| {
                let exts = parse_extensions([*h]).unwrap_or_default();
                pmce::server_accept(&exts, &c.deflate_accept)
                    .ok()
                    .flatten()
                    .map(|(_, header)| header)
            })
            .collect();
        return json!({
            "id": c.id,
            "close": close(c),
            "reportTime": c.report_time,
            "reportCompressionRatio": c.report_compression,
            "compression": {
                "len": s.len, "count": s.count, "wait": s.wait, "fragment": s.fragment,
                "binary": s.corpus.binary(),
                "offers": pmce::offers_header(&c.deflate_offers).unwrap_or_default(),
                "accepted": accepted,
            },
        });
    }
    json!({
        "id": c.id,
        "expected": c.expected.iter().map(|(b, evs): &(Behavior, Vec<Ev>)| json!([b.as_str(), evs.iter().map(ev).collect::<Vec<_>>()])).collect::<Vec<_>>(),
        "close": close(c),
        "suppressClose": c.suppress_close,
        "reportTime": c.report_time,
        "steps": steps(&c.steps),
    })
}
