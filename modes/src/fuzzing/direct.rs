//! The fuzzing server's direct command mode (a connection to any other path): each text
//! message is a JSON command that makes the server send frames, as in the original.
//!
//! `["sendframe", {"opcode": 1, "payload": "text", "fin": true, "rsv": 0, "payload_len": N,
//! "chopsize": N, "sync": false}]`, `["sendframes", [ ... ]]`, `["close", {"code": 1000,
//! "reason": "..."}]`, `["echo", {"payload": "text", "payload_len": N}]`.
//!
//! A command comes from the network, so [`parse`] bounds everything it can make the server
//! do before anything is built: the size of one frame, the frames and octets of one
//! command, and the pieces a chop size cuts them into. A command past a bound is refused
//! as a whole, with an error naming the key and the limit (the connection is then failed
//! with 1002 and that text as the reason).

use std::fmt;
use std::time::Instant;

use serde_json::Value;
use wstest_engine::proto::frame::RawFrame;
use wstest_engine::proto::Connection;

/// Largest payload one frame may ask for: the largest any fuzzing case sends (group 9).
pub const MAX_FRAME_PAYLOAD: u64 = 16 << 20;
/// Most frames one `sendframes` command may list.
pub const MAX_FRAMES: usize = 4096;
/// Most octets one command may make the server queue.
pub const MAX_COMMAND_OCTETS: u64 = 64 << 20;
/// Most pieces the chop sizes of one command may cut its frames into (each is a write).
pub const MAX_PIECES: u64 = 1 << 16;

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectError {
    Binary,
    NotJson(String),
    Shape,
    Unknown(String),
    /// A key that must be there is missing, or has the wrong type.
    Key {
        key: &'static str,
        want: &'static str,
    },
    /// A number past its limit.
    Limit {
        key: &'static str,
        value: u64,
        max: u64,
    },
    EmptyRepeat,
}

impl fmt::Display for DirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirectError::Binary => write!(f, "command messages must be text"),
            DirectError::NotJson(e) => write!(f, "command is not JSON: {e}"),
            DirectError::Shape => write!(f, "command must be [name, arguments]"),
            DirectError::Unknown(c) => write!(f, "unknown command {c:?}"),
            DirectError::Key { key, want } => write!(f, "\"{key}\" must be {want}"),
            DirectError::Limit { key, value, max } => {
                write!(f, "\"{key}\" is {value}, more than the limit {max}")
            }
            DirectError::EmptyRepeat => write!(f, "\"payload_len\" needs a non-empty payload"),
        }
    }
}

/// One frame to send, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameCmd {
    pub opcode: u8,
    pub fin: bool,
    pub rsv: u8,
    /// The payload text, repeated to `len` octets.
    pub text: Vec<u8>,
    pub len: u64,
    pub chop: Option<u64>,
    pub sync: bool,
}

/// A checked command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Frames(Vec<FrameCmd>),
    Close {
        code: Option<u16>,
        reason: Option<Vec<u8>>,
    },
}

fn small(v: &Value, key: &'static str, max: u64, default: u64) -> Result<u64, DirectError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(x) => {
            let n = x.as_u64().ok_or(DirectError::Key {
                key,
                want: "a non-negative integer",
            })?;
            if n > max {
                return Err(DirectError::Limit { key, value: n, max });
            }
            Ok(n)
        }
    }
}

fn flag(v: &Value, key: &'static str, default: bool) -> Result<bool, DirectError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(x) => x.as_bool().ok_or(DirectError::Key {
            key,
            want: "true or false",
        }),
    }
}

fn frame_cmd(v: &Value, opcode: Option<u8>) -> Result<FrameCmd, DirectError> {
    if !v.is_object() {
        return Err(DirectError::Key {
            key: "arguments",
            want: "an object",
        });
    }
    let opcode = match opcode {
        Some(op) => op,
        None => match v.get("opcode") {
            None => {
                return Err(DirectError::Key {
                    key: "opcode",
                    want: "given (0-15)",
                })
            }
            Some(_) => small(v, "opcode", 15, 0)? as u8,
        },
    };
    let text = match v.get("payload") {
        None | Some(Value::Null) => Vec::new(),
        Some(p) => p
            .as_str()
            .ok_or(DirectError::Key {
                key: "payload",
                want: "a string",
            })?
            .as_bytes()
            .to_vec(),
    };
    let len = match v.get("payload_len") {
        None | Some(Value::Null) => text.len() as u64,
        Some(_) => {
            let n = small(v, "payload_len", MAX_FRAME_PAYLOAD, 0)?;
            if text.is_empty() && n > 0 {
                return Err(DirectError::EmptyRepeat);
            }
            n
        }
    };
    if len > MAX_FRAME_PAYLOAD {
        return Err(DirectError::Limit {
            key: "payload",
            value: len,
            max: MAX_FRAME_PAYLOAD,
        });
    }
    let chop = match v.get("chopsize") {
        None | Some(Value::Null) => None,
        Some(_) => Some(small(v, "chopsize", u64::MAX, 0)?).filter(|&c| c > 0),
    };
    Ok(FrameCmd {
        opcode,
        fin: flag(v, "fin", true)?,
        rsv: small(v, "rsv", 7, 0)? as u8,
        text,
        len,
        chop,
        sync: flag(v, "sync", false)?,
    })
}

/// The octets and writes a list of frames costs, refused past the command's limits.
fn check_budget(frames: &[FrameCmd]) -> Result<(), DirectError> {
    let (mut octets, mut pieces) = (0u64, 0u64);
    for f in frames {
        let wire = f.len + 14;
        octets += wire;
        pieces += f.chop.map_or(1, |c| wire.div_ceil(c));
    }
    if octets > MAX_COMMAND_OCTETS {
        return Err(DirectError::Limit {
            key: "payload_len (sum over the command)",
            value: octets,
            max: MAX_COMMAND_OCTETS,
        });
    }
    if pieces > MAX_PIECES {
        return Err(DirectError::Limit {
            key: "chopsize (pieces over the command)",
            value: pieces,
            max: MAX_PIECES,
        });
    }
    Ok(())
}

/// Parse and check one command message; nothing is built past a limit.
pub fn parse(msg: &[u8], binary: bool) -> Result<Command, DirectError> {
    if binary {
        return Err(DirectError::Binary);
    }
    let v: Value = serde_json::from_slice(msg).map_err(|e| DirectError::NotJson(e.to_string()))?;
    let cmd = v.get(0).and_then(Value::as_str).ok_or(DirectError::Shape)?;
    let arg = v.get(1).unwrap_or(&Value::Null);
    let frames = match cmd {
        "sendframe" => vec![frame_cmd(arg, None)?],
        "echo" => vec![frame_cmd(arg, Some(1))?],
        "sendframes" => {
            let list = arg.as_array().ok_or(DirectError::Key {
                key: "sendframes",
                want: "a list",
            })?;
            if list.len() > MAX_FRAMES {
                return Err(DirectError::Limit {
                    key: "sendframes",
                    value: list.len() as u64,
                    max: MAX_FRAMES as u64,
                });
            }
            list.iter()
                .map(|f| frame_cmd(f, None))
                .collect::<Result<_, _>>()?
        }
        "close" => {
            let code = match arg.get("code") {
                None | Some(Value::Null) => None,
                Some(_) => Some(small(arg, "code", u16::MAX as u64, 0)? as u16),
            };
            let reason = match arg.get("reason") {
                None | Some(Value::Null) => None,
                Some(r) => {
                    let r = r.as_str().ok_or(DirectError::Key {
                        key: "reason",
                        want: "a string",
                    })?;
                    // A close frame is a control frame: 125 octets with the code (§5.5).
                    if r.len() > 123 {
                        return Err(DirectError::Limit {
                            key: "reason",
                            value: r.len() as u64,
                            max: 123,
                        });
                    }
                    Some(r.as_bytes().to_vec())
                }
            };
            return Ok(Command::Close { code, reason });
        }
        other => return Err(DirectError::Unknown(truncated(other))),
    };
    check_budget(&frames)?;
    Ok(Command::Frames(frames))
}

fn truncated(s: &str) -> String {
    s.chars().take(40).collect()
}

fn send(conn: &mut Connection, f: &FrameCmd) {
    let payload: Vec<u8> = f
        .text
        .iter()
        .copied()
        .cycle()
        .take(f.len as usize)
        .collect();
    let mut raw = RawFrame::new(f.opcode, payload).fin(f.fin).rsv(f.rsv);
    raw.mask = conn.next_mask();
    let bytes = raw.to_bytes();
    let chop = f.chop.map(|c| c.min(usize::MAX as u64) as usize);
    conn.send_raw_segmented(&bytes, chop, f.sync);
}

/// Run one command message.
pub fn execute(
    conn: &mut Connection,
    msg: &[u8],
    binary: bool,
    now: Instant,
) -> Result<(), DirectError> {
    match parse(msg, binary)? {
        Command::Frames(frames) => frames.iter().for_each(|f| send(conn, f)),
        Command::Close { code, reason } => conn.close_raw(code, reason.as_deref(), now),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(cmd: &str) -> DirectError {
        parse(cmd.as_bytes(), false).expect_err(cmd)
    }

    #[test]
    fn the_originals_commands_parse() {
        let c = parse(
            br#"["sendframe", {"opcode": 1, "payload": "ab", "payload_len": 5, "chopsize": 2}]"#,
            false,
        )
        .unwrap();
        let Command::Frames(f) = c else { panic!() };
        assert_eq!((f[0].opcode, f[0].len, f[0].chop), (1, 5, Some(2)));
        let c = parse(br#"["close", {"code": 3000, "reason": "x"}]"#, false).unwrap();
        assert_eq!(
            c,
            Command::Close {
                code: Some(3000),
                reason: Some(b"x".to_vec())
            }
        );
        assert!(parse(br#"["echo", {"payload": "hi"}]"#, false).is_ok());
        assert!(parse(br#"["sendframes", [{"opcode": 9}, {"opcode": 10}]]"#, false).is_ok());
    }

    #[test]
    fn every_parameter_has_a_limit() {
        let huge =
            r#"["sendframe", {"opcode": 1, "payload": "A", "payload_len": 1125899906842624}]"#;
        assert!(matches!(
            refused(huge),
            DirectError::Limit {
                key: "payload_len",
                ..
            }
        ));
        assert!(matches!(
            refused(r#"["sendframe", {"opcode": 16}]"#),
            DirectError::Limit { key: "opcode", .. }
        ));
        assert!(matches!(
            refused(r#"["sendframe", {"opcode": 1, "rsv": 8}]"#),
            DirectError::Limit { key: "rsv", .. }
        ));
        assert!(matches!(
            refused(r#"["close", {"code": 65536}]"#),
            DirectError::Limit { key: "code", .. }
        ));
        let long = format!(
            r#"["close", {{"code": 1000, "reason": "{}"}}]"#,
            "r".repeat(124)
        );
        assert!(matches!(
            refused(&long),
            DirectError::Limit { key: "reason", .. }
        ));
        // 1-octet pieces of a 16 MiB frame: 16 M writes.
        let chop = r#"["sendframe", {"opcode": 2, "payload": "A", "payload_len": 16777216, "chopsize": 1}]"#;
        assert!(matches!(refused(chop), DirectError::Limit { .. }));
        // Five 16 MiB frames in one command: past the command's octets.
        let f = r#"{"opcode": 2, "payload": "A", "payload_len": 16777216}"#;
        let five = format!(r#"["sendframes", [{f},{f},{f},{f},{f}]]"#);
        assert!(matches!(refused(&five), DirectError::Limit { .. }));
        let many = format!(
            r#"["sendframes", [{}]]"#,
            vec![r#"{"opcode": 9}"#; 4097].join(",")
        );
        assert!(matches!(
            refused(&many),
            DirectError::Limit {
                key: "sendframes",
                ..
            }
        ));
        assert!(matches!(
            refused(r#"["sendframe", {"opcode": -1}]"#),
            DirectError::Key { .. }
        ));
        assert!(matches!(
            refused(r#"["sendframe", {"opcode": 1.5}]"#),
            DirectError::Key { .. }
        ));
        assert!(matches!(
            refused(r#"["sendframe", {"opcode": 1, "fin": 3}]"#),
            DirectError::Key { .. }
        ));
        assert_eq!(
            refused(r#"["sendframe", {"opcode": 1, "payload_len": 3}]"#),
            DirectError::EmptyRepeat
        );
    }

    #[test]
    fn the_limits_admit_every_case_size() {
        let max = r#"["sendframe", {"opcode": 2, "payload": "*", "payload_len": 16777216}]"#;
        assert!(parse(max.as_bytes(), false).is_ok());
    }

    #[test]
    fn refusals_read_as_one_line() {
        let e = refused(
            r#"["sendframe", {"opcode": 1, "payload": "A", "payload_len": 1125899906842624}]"#,
        );
        assert_eq!(
            e.to_string(),
            "\"payload_len\" is 1125899906842624, more than the limit 16777216"
        );
    }
}
