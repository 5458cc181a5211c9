//! Spec files (JSON) for the modes that take one: loading with clear errors (file, line and
//! column), warnings for unknown keys, and a template written (then used) when the file is
//! missing, as the original does.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::{ModeError, Result};

/// A target in the `servers` list of the wsperfcontrol and massconnect specs.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub name: String,
    pub uri: String,
    #[serde(default)]
    pub desc: String,
}

/// Where the spec lives: `-s FILE`, or `<mode>.json` in the current directory.
pub fn spec_path(given: Option<&Path>, mode: &str) -> PathBuf {
    given
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(format!("{mode}.json")))
}

/// Load a spec; write `template` there first when the file does not exist.
/// `known` lists the top-level keys; others are reported (once each) through `warn`.
pub fn load<T: DeserializeOwned>(
    path: &Path,
    template: &str,
    known: &[&str],
    mut warn: impl FnMut(String),
) -> Result<T> {
    if !path.exists() {
        // A template goes next to a spec that could be there, never into a directory made
        // up from a typo (which would then run in full against the template's target).
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(ModeError::spec(
                    path.display(),
                    format!("directory {} does not exist", dir.display()),
                ));
            }
        }
        crate::report::write_atomic(path, template.as_bytes())?;
        warn(format!(
            "no spec file {}: wrote a template there and using it",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| ModeError::io(format!("cannot read spec {}", path.display()), e))?;
    parse(&text, &path.display().to_string(), known, &mut warn)
}

/// Parse spec text (`name` is used in messages).
pub fn parse<T: DeserializeOwned>(
    text: &str,
    name: &str,
    known: &[&str],
    warn: &mut impl FnMut(String),
) -> Result<T> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        ModeError::spec(
            name,
            format!(
                "invalid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    match &value {
        serde_json::Value::Object(m) => {
            for k in m.keys() {
                if !known.contains(&k.as_str()) {
                    warn(format!(
                        "spec {name}: unknown key {k:?} ignored (known: {})",
                        known.join(", ")
                    ));
                }
            }
        }
        _ => return Err(ModeError::spec(name, "the top level must be a JSON object")),
    }
    // Typed errors from the text, so they carry a line and column too ("... at line L
    // column C").
    serde_json::from_str(text).map_err(|e| ModeError::spec(name, e.to_string()))
}

/// Warn about unknown keys in each object of the list `list` (the entries of `servers`):
/// a typo there (`"optoins"`) is as easy to make as one at the top level.
pub fn warn_nested(path: &Path, list: &str, known: &[&str], warn: &mut impl FnMut(String)) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return;
    };
    let Some(items) = v.get(list).and_then(|l| l.as_array()) else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let Some(m) = item.as_object() else { continue };
        for k in m.keys().filter(|k| !known.contains(&k.as_str())) {
            warn(format!(
                "spec {}: {list}[{i}]: unknown key {k:?} ignored (known: {})",
                path.display(),
                known.join(", ")
            ));
        }
    }
}

/// Does `pattern` (with `*` wildcards) match all of `s`?
pub fn wildcard(pattern: &str, s: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), s.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == t[ti] && p[pi] != b'*' {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct S {
        a: u32,
    }

    #[test]
    fn errors_name_line_and_column() {
        let mut w = Vec::new();
        let e = parse::<S>("{\n  \"a\": 1,\n  oops\n}", "x.json", &["a"], &mut |m| {
            w.push(m)
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("x.json") && e.contains("line 3"), "{e}");
        let s: S = parse("{\"a\": 2, \"b\": 3}", "x.json", &["a"], &mut |m| w.push(m)).unwrap();
        assert_eq!(s.a, 2);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("\"b\""));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("1.*", "1.1.1"));
        assert!(!wildcard("1.*", "10.1.1"));
        assert!(wildcard("*", ""));
        assert!(wildcard("*.1", "9.7.1"));
        assert!(!wildcard("9.7.1", "9.7.10"));
        assert!(wildcard("a*b*c", "axxbyyc"));
        assert!(!wildcard("a*b*c", "axxbyy"));
    }

    #[test]
    fn missing_spec_gets_template() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.json");
        let mut w = Vec::new();
        let s: S = load(&p, "{\"a\": 7}\n", &["a"], |m| w.push(m)).unwrap();
        assert_eq!(s.a, 7);
        assert!(p.exists());
        assert!(w[0].contains("template"));
    }
}
