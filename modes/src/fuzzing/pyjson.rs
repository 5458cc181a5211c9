//! Report values written the way the original's reports are (Python's
//! `json.dumps(sort_keys=True, indent=3, separators=(',', ': '))`, ASCII-escaped), so that
//! existing tools that read or diff them keep working; and the original's two ways of
//! showing octets in logs (text when it decodes, else hex, both cut at 64 octets).
//!
//! Hand-written on purpose: serde_json cannot hold the lone surrogates that the original's
//! decoding lets through (it decodes UTF-8 with "surrogatepass", so `ED A0 80` becomes the
//! text U+D800 and is written as `"\ud800"`), and it does not escape non-ASCII.

use std::fmt::Write;

/// A JSON value. Strings are sequences of code points, which may include lone surrogates.
#[derive(Clone, Debug, PartialEq)]
pub enum J {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Vec<u32>),
    Arr(Vec<J>),
    /// Keys are written in the order given; build with [`obj`] (sorted like Python's
    /// `sort_keys`) or [`obj_numeric`] (integer keys sorted numerically).
    Obj(Vec<(String, J)>),
}

impl From<&str> for J {
    fn from(s: &str) -> J {
        J::Str(s.chars().map(|c| c as u32).collect())
    }
}
impl From<String> for J {
    fn from(s: String) -> J {
        J::from(s.as_str())
    }
}
impl From<bool> for J {
    fn from(b: bool) -> J {
        J::Bool(b)
    }
}
impl From<u64> for J {
    fn from(v: u64) -> J {
        J::Int(v as i64)
    }
}
impl From<usize> for J {
    fn from(v: usize) -> J {
        J::Int(v as i64)
    }
}
impl From<u16> for J {
    fn from(v: u16) -> J {
        J::Int(i64::from(v))
    }
}
impl From<u8> for J {
    fn from(v: u8) -> J {
        J::Int(i64::from(v))
    }
}
impl From<f64> for J {
    /// Whole numbers are written as integers (the original's timers were mostly ints).
    fn from(v: f64) -> J {
        if v.fract() == 0.0 && v.abs() < 1e15 {
            J::Int(v as i64)
        } else {
            J::Float(v)
        }
    }
}
impl<T: Into<J>> From<Option<T>> for J {
    fn from(v: Option<T>) -> J {
        v.map_or(J::Null, Into::into)
    }
}

/// An object with keys sorted as Python sorts strings.
pub fn obj(mut fields: Vec<(&str, J)>) -> J {
    fields.sort_by(|a, b| a.0.cmp(b.0));
    J::Obj(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// An object with integer keys, sorted numerically (Python sorts int keys before turning
/// them into strings).
pub fn obj_numeric<K: Into<i64> + Copy>(fields: impl IntoIterator<Item = (K, J)>) -> J {
    let mut v: Vec<(i64, J)> = fields.into_iter().map(|(k, v)| (k.into(), v)).collect();
    v.sort_by_key(|(k, _)| *k);
    J::Obj(v.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn write_str(out: &mut String, s: &[u32]) {
    out.push('"');
    for &c in s {
        match c {
            0x22 => out.push_str("\\\""),
            0x5C => out.push_str("\\\\"),
            0x0A => out.push_str("\\n"),
            0x0D => out.push_str("\\r"),
            0x09 => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0C => out.push_str("\\f"),
            0x20..=0x7E => out.push(char::from_u32(c).unwrap_or('?')),
            0..=0xFFFF => {
                let _ = write!(out, "\\u{c:04x}");
            }
            _ => {
                let v = c - 0x10000;
                let _ = write!(
                    out,
                    "\\u{:04x}\\u{:04x}",
                    0xD800 + (v >> 10),
                    0xDC00 + (v & 0x3FF)
                );
            }
        }
    }
    out.push('"');
}

fn write_float(out: &mut String, f: f64) {
    if f.is_finite() {
        // Python's repr: shortest round-trip form, always with a '.' or exponent.
        let s = format!("{f:?}");
        out.push_str(&s);
    } else {
        out.push_str("NaN");
    }
}

fn write(out: &mut String, v: &J, level: usize) {
    const IND: &str = "   ";
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Int(i) => {
            let _ = write!(out, "{i}");
        }
        J::Float(f) => write_float(out, *f),
        J::Str(s) => write_str(out, s),
        J::Arr(a) if a.is_empty() => out.push_str("[]"),
        J::Obj(o) if o.is_empty() => out.push_str("{}"),
        J::Arr(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('\n');
                out.push_str(&IND.repeat(level + 1));
                write(out, x, level + 1);
            }
            out.push('\n');
            out.push_str(&IND.repeat(level));
            out.push(']');
        }
        J::Obj(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('\n');
                out.push_str(&IND.repeat(level + 1));
                write_str(out, &k.chars().map(|c| c as u32).collect::<Vec<_>>());
                out.push_str(": ");
                write(out, x, level + 1);
            }
            out.push('\n');
            out.push_str(&IND.repeat(level));
            out.push('}');
        }
    }
}

/// Serialize like the original's report writer.
pub fn to_string(v: &J) -> String {
    let mut s = String::new();
    write(&mut s, v, 0);
    s
}

/// Decode UTF-8, letting encoded surrogates (ED A0..BF xx) through as code points, the way
/// Python 2's codec (and Python 3's "surrogatepass") does. `None` if anything else is invalid.
pub fn decode_surrogatepass(b: &[u8]) -> Option<Vec<u32>> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c0 = b[i];
        let (need, init, min) = match c0 {
            0x00..=0x7F => {
                out.push(u32::from(c0));
                i += 1;
                continue;
            }
            0xC2..=0xDF => (1, u32::from(c0 & 0x1F), 0x80),
            0xE0..=0xEF => (2, u32::from(c0 & 0x0F), 0x800),
            0xF0..=0xF4 => (3, u32::from(c0 & 0x07), 0x10000),
            _ => return None,
        };
        if i + need >= b.len() {
            return None;
        }
        let mut cp = init;
        for k in 1..=need {
            let c = b[i + k];
            if c & 0xC0 != 0x80 {
                return None;
            }
            cp = (cp << 6) | u32::from(c & 0x3F);
        }
        if cp < min || cp > 0x10FFFF {
            return None;
        }
        out.push(cp);
        i += need + 1;
    }
    Some(out)
}

const ELLIPSIS: &str = " ...";

const MAX_LOG: usize = 64;

/// Octets as hex, cut at 64 octets with " ..." (the original's `binLogData`).
pub fn bin_log(data: &[u8]) -> String {
    bin_log_head(data.len(), data)
}

/// [`bin_log`] from the length and (at least) the first 64 octets.
pub fn bin_log_head(len: usize, head: &[u8]) -> String {
    let mut s: String = head
        .iter()
        .take(MAX_LOG)
        .map(|b| format!("{b:02x}"))
        .collect();
    // The original cuts at 64 octets but adds the ellipsis from 61 octets on.
    if len > MAX_LOG - ELLIPSIS.len() {
        s.push_str(ELLIPSIS);
    }
    s
}

/// Octets as text when they decode (cut at 64 octets with " ..."), else "0x" and hex (the
/// original's `asciiLogData`).
pub fn ascii_log(data: &[u8]) -> J {
    ascii_log_head(data.len(), data)
}

/// [`ascii_log`] from the length and (at least) the first 64 octets.
pub fn ascii_log_head(len: usize, head: &[u8]) -> J {
    let cut = len > MAX_LOG - ELLIPSIS.len();
    let shown = &head[..head.len().min(MAX_LOG).min(len)];
    match decode_surrogatepass(shown) {
        Some(mut cps) => {
            if cut {
                cps.extend(ELLIPSIS.chars().map(|c| c as u32));
            }
            J::Str(cps)
        }
        None => J::from(format!("0x{}", bin_log_head(len, head))),
    }
}

/// Text for report fields the original decoded from octets (close reasons, HTTP heads):
/// decoded with surrogatepass, else hex.
pub fn text_or_hex(data: &[u8]) -> J {
    match decode_surrogatepass(data) {
        Some(cps) => J::Str(cps),
        None => J::from(data.iter().map(|b| format!("{b:02x}")).collect::<String>()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_layout() {
        let v = obj(vec![
            ("b", J::Arr(vec![J::Int(1), J::from("x")])),
            ("a", J::Null),
            ("c", J::Obj(vec![])),
            ("d", J::from(0.5)),
        ]);
        assert_eq!(to_string(&v), "{\n   \"a\": null,\n   \"b\": [\n      1,\n      \"x\"\n   ],\n   \"c\": {},\n   \"d\": 0.5\n}");
        let s = obj_numeric([(242u16, J::Int(1)), (8, J::Int(1)), (15, J::Int(2))]);
        assert_eq!(
            to_string(&s),
            "{\n   \"8\": 1,\n   \"15\": 2,\n   \"242\": 1\n}"
        );
    }

    #[test]
    fn escapes_like_python() {
        assert_eq!(
            to_string(&J::from("κ\"\n😀")),
            "\"\\u03ba\\\"\\n\\ud83d\\ude00\""
        );
        let lone = ascii_log(b"\xed\xa0\x80");
        assert_eq!(to_string(&lone), "\"\\ud800\"");
        assert_eq!(to_string(&ascii_log(b"\xff")), "\"0xff\"");
    }

    #[test]
    fn cutting() {
        let d = vec![b'*'; 100];
        let J::Str(s) = ascii_log(&d) else { panic!() };
        assert_eq!(s.len(), 64 + 4);
        assert_eq!(bin_log(&d).len(), 128 + 4);
        assert_eq!(bin_log(&[1, 2]), "0102");
        assert_eq!(
            bin_log(&[0; 61]).len(),
            122 + 4,
            "the ellipsis starts at 61 octets"
        );
        // A multi-byte character cut at 64 octets: falls back to hex of the whole data.
        let mut t = vec![b'a'; 63];
        t.extend_from_slice("κ".as_bytes());
        assert!(matches!(ascii_log(&t), J::Str(s) if s[..2] == [u32::from(b'0'), u32::from(b'x')]));
    }

    #[test]
    fn surrogatepass() {
        assert_eq!(
            decode_surrogatepass("aκ😀".as_bytes()).unwrap(),
            vec![0x61, 0x3ba, 0x1F600]
        );
        assert!(decode_surrogatepass(b"\xc0\xaf").is_none());
        assert!(decode_surrogatepass(b"\xf4\x90\x80\x80").is_none());
        assert!(decode_surrogatepass(b"\xe0\x80").is_none());
        assert_eq!(decode_surrogatepass(b"\xed\xbf\xbf").unwrap(), vec![0xDFFF]);
    }
}
