//! Sec-WebSocket-Extensions parsing (RFC 6455 §9.1): offers and their parameters.
//!
//! ```text
//! extension-list = 1#extension
//! extension      = extension-token *( ";" extension-param )
//! extension-param = token [ "=" (token | quoted-string) ]
//! ```

use super::error::HandshakeError;

/// One extension with its parameters, in order. A parameter without a value has `None`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ExtensionOffer {
    pub name: String,
    pub params: Vec<(String, Option<String>)>,
}

impl ExtensionOffer {
    pub fn param(&self, name: &str) -> Option<&Option<String>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Header form: `name; a; b=1`.
    pub fn to_header(&self) -> String {
        let mut s = self.name.clone();
        for (k, v) in &self.params {
            s.push_str("; ");
            s.push_str(k);
            if let Some(v) = v {
                s.push('=');
                if v.bytes().all(is_tchar) {
                    s.push_str(v);
                } else {
                    s.push('"');
                    s.push_str(&v.replace('\\', "\\\\").replace('"', "\\\""));
                    s.push('"');
                }
            }
        }
        s
    }
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn token(s: &str, what: &str) -> Result<String, HandshakeError> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(is_tchar) {
        return Err(HandshakeError::BadExtensions(format!(
            "{what} {t:?} is not a token"
        )));
    }
    Ok(t.to_string())
}

/// Split on `sep` outside double quotes.
fn split_outside_quotes(s: &str, sep: char) -> Result<Vec<&str>, HandshakeError> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(&s[start..i]);
            start = i + 1;
        }
    }
    if quoted {
        return Err(HandshakeError::BadExtensions(format!(
            "unterminated quoted string in {s:?}"
        )));
    }
    parts.push(&s[start..]);
    Ok(parts)
}

fn unquote(v: &str) -> Result<String, HandshakeError> {
    let v = v.trim();
    if let Some(inner) = v.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or_else(|| HandshakeError::BadExtensions(format!("bad quoted string {v:?}")))?;
        let mut out = String::new();
        let mut esc = false;
        for c in inner.chars() {
            if esc {
                out.push(c);
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else {
                out.push(c);
            }
        }
        // §9.1: a quoted-string value must still be a token once unquoted.
        token(&out, "quoted parameter value")
    } else {
        token(v, "parameter value")
    }
}

/// Parse every Sec-WebSocket-Extensions header value (several headers are concatenated).
pub fn parse_extensions<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<ExtensionOffer>, HandshakeError> {
    let mut out = Vec::new();
    for value in values {
        for ext in split_outside_quotes(value, ',')? {
            if ext.trim().is_empty() {
                continue; // empty list elements are allowed by #rule
            }
            let mut parts = split_outside_quotes(ext, ';')?.into_iter();
            let name = token(parts.next().unwrap_or(""), "extension name")?;
            let mut params = Vec::new();
            for p in parts {
                let (k, v) = match p.split_once('=') {
                    Some((k, v)) => (token(k, "parameter name")?, Some(unquote(v)?)),
                    None => (token(p, "parameter name")?, None),
                };
                params.push((k, v));
            }
            out.push(ExtensionOffer { name, params });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_and_params() {
        let v = parse_extensions(["permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=\"10\"", "x-foo"]).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].params, vec![("client_max_window_bits".into(), None)]);
        assert_eq!(
            v[1].param("server_max_window_bits"),
            Some(&Some("10".into()))
        );
        assert_eq!(v[2].name, "x-foo");
        assert_eq!(
            v[1].to_header(),
            "permessage-deflate; server_max_window_bits=10"
        );
    }

    #[test]
    fn malformed() {
        for bad in [
            "; x",
            "a; =1",
            "a; b=\"unterminated",
            "a b",
            "a; b=\"two words\"",
        ] {
            assert!(parse_extensions([bad]).is_err(), "{bad}");
        }
        assert!(parse_extensions([""]).unwrap().is_empty());
    }
}
