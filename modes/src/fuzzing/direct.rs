//! The fuzzing server's direct command mode (a connection to any other path): each text
//! message is a JSON command that makes the server send frames, as in the original.
//!
//! `["sendframe", {"opcode": 1, "payload": "text", "fin": true, "rsv": 0, "payload_len": N,
//! "chopsize": N, "sync": false}]`, `["sendframes", [ ... ]]`, `["close", {"code": 1000,
//! "reason": "..."}]`, `["echo", {"payload": "text", "payload_len": N}]`.

use std::time::Instant;

use serde_json::Value;
use wstest_engine::proto::frame::RawFrame;
use wstest_engine::proto::Connection;

fn frame_from(v: &Value) -> Result<(RawFrame, Option<usize>, bool), String> {
    let opcode = v
        .get("opcode")
        .and_then(Value::as_u64)
        .ok_or("sendframe needs an opcode")? as u8;
    let text = v
        .get("payload")
        .and_then(Value::as_str)
        .unwrap_or("")
        .as_bytes()
        .to_vec();
    let payload = match v.get("payload_len").and_then(Value::as_u64) {
        Some(n) if !text.is_empty() => text.iter().copied().cycle().take(n as usize).collect(),
        Some(_) => return Err("payload_len needs a non-empty payload".into()),
        None => text,
    };
    let f = RawFrame::new(opcode, payload)
        .fin(v.get("fin").and_then(Value::as_bool).unwrap_or(true))
        .rsv(v.get("rsv").and_then(Value::as_u64).unwrap_or(0) as u8);
    let chop = v
        .get("chopsize")
        .and_then(Value::as_u64)
        .map(|c| c as usize);
    let sync = v.get("sync").and_then(Value::as_bool).unwrap_or(false);
    Ok((f, chop, sync))
}

fn send(conn: &mut Connection, f: RawFrame, chop: Option<usize>, sync: bool) {
    let mut f = f;
    f.mask = conn.next_mask();
    let bytes = f.to_bytes();
    conn.send_raw_segmented(&bytes, chop, sync);
}

/// Run one command message.
pub fn execute(
    conn: &mut Connection,
    msg: &[u8],
    binary: bool,
    now: Instant,
) -> Result<(), String> {
    if binary {
        return Err("command messages must be text".into());
    }
    let v: Value = serde_json::from_slice(msg).map_err(|e| format!("command is not JSON: {e}"))?;
    let cmd = v
        .get(0)
        .and_then(Value::as_str)
        .ok_or("command must be [name, arguments]")?;
    let arg = v.get(1).cloned().unwrap_or(Value::Null);
    match cmd {
        "sendframe" => {
            let (f, c, s) = frame_from(&arg)?;
            send(conn, f, c, s);
        }
        "sendframes" => {
            for fv in arg.as_array().ok_or("sendframes needs a list")? {
                let (f, c, s) = frame_from(fv)?;
                send(conn, f, c, s);
            }
        }
        "close" => {
            let code = arg.get("code").and_then(Value::as_u64).map(|c| c as u16);
            let reason = arg
                .get("reason")
                .and_then(Value::as_str)
                .map(|r| r.as_bytes().to_vec());
            conn.close_raw(code, reason.as_deref(), now);
        }
        "echo" => {
            let mut a = arg.clone();
            if let Some(o) = a.as_object_mut() {
                o.insert("opcode".into(), Value::from(1));
            }
            let (f, c, s) = frame_from(&a)?;
            send(conn, f, c, s);
        }
        other => return Err(format!("unknown command {other:?}")),
    }
    Ok(())
}
