//! What kind of result a file holds, told from its content: a TSV by its header's
//! columns, JSON by its keys.

use serde_json::Value;

/// The kinds `wstest plot` draws.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// wsperfcontrol/wsperfmaster TSV in the original's columns, with its separator.
    WsperfTsv { sep: String },
    /// The JSON wsperfcontrol writes beside its TSV (an array of rows) or with --json-out.
    WsperfJson,
    /// scripts/wsperf-sweep.sh.
    SweepTsv,
    /// massconnect's JSON result (-o, or `wstest merge`).
    MassconnectJson,
    /// massconnect's `--tsv` summary.
    MassconnectTsv,
    /// broadcastclient --clients' TSV, or scripts/fanout-compare.sh's.
    FanoutTsv,
    /// broadcastclient --clients' JSON (one run, or an array of runs).
    FanoutJson,
}

impl Kind {
    pub fn describe(&self) -> &'static str {
        match self {
            Kind::WsperfTsv { .. } => "wsperfcontrol TSV",
            Kind::WsperfJson => "wsperfcontrol JSON",
            Kind::SweepTsv => "wsperf sweep TSV",
            Kind::MassconnectJson => "massconnect JSON",
            Kind::MassconnectTsv => "massconnect TSV",
            Kind::FanoutTsv => "fan-out TSV",
            Kind::FanoutJson => "fan-out JSON",
        }
    }
}

/// What the kinds look like, for the message about a file that is none of them.
pub const KNOWN: &str = "expected a wsperfcontrol TSV or JSON, a wsperf-sweep.sh TSV, \
     a massconnect JSON or --tsv file, or a broadcastclient/fanout-compare.sh TSV or JSON";

pub fn detect(text: &str) -> Option<Kind> {
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        return serde_json::from_str::<Value>(t)
            .ok()
            .and_then(|v| json_kind(&v));
    }
    let header = t.lines().find(|l| !l.starts_with('#'))?.trim_end();
    let cols: Vec<&str> = header.split('\t').collect();
    let has = |names: &[&str]| names.iter().all(|n| cols.contains(n));
    if has(&["target", "size", "connections", "median_us", "msgs_per_s"]) {
        return Some(Kind::SweepTsv);
    }
    if has(&["handshakes_per_s", "connect_p50_ms", "handshake_p50_ms"]) {
        return Some(Kind::MassconnectTsv);
    }
    if has(&["url", "clients", "delivered", "p50_us", "p99_us"]) {
        return Some(Kind::FanoutTsv);
    }
    // The original's header, with whatever separator the spec chose.
    let rest = header.strip_prefix("name")?;
    let sep_len = rest.find("outcome")?;
    let sep = &rest[..sep_len];
    let cols: Vec<&str> = header.split(sep).collect();
    (!sep.is_empty() && cols.starts_with(&["name", "outcome", "count", "size", "min", "median"]))
        .then(|| Kind::WsperfTsv { sep: sep.into() })
}

fn json_kind(v: &Value) -> Option<Kind> {
    let is_wsperf_row = |r: &Value| r.get("probe").is_some() && r.get("result").is_some();
    let is_fanout = |r: &Value| {
        ["delivered", "published", "latency"]
            .iter()
            .all(|k| r.get(k).is_some())
    };
    match v {
        Value::Object(o) => {
            if let Some(Value::Array(s)) = o.get("servers") {
                if s.first()
                    .is_some_and(|s| s.get("timeline").is_some() && s.get("handshakes").is_some())
                {
                    return Some(Kind::MassconnectJson);
                }
            }
            if let Some(Value::Array(rows)) = o.get("rows") {
                if rows.first().is_some_and(is_wsperf_row) {
                    return Some(Kind::WsperfJson);
                }
            }
            is_fanout(v).then_some(Kind::FanoutJson)
        }
        Value::Array(a) => {
            let first = a.first()?;
            if is_wsperf_row(first) {
                Some(Kind::WsperfJson)
            } else if is_fanout(first) {
                Some(Kind::FanoutJson)
            } else {
                None
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_content() {
        let k = |s: &str| detect(s);
        assert_eq!(
            k("target\tsize\tconnections\tthreads\twindow\tcount\toutcome\tmedian_us\tmsgs_per_s\n"),
            Some(Kind::SweepTsv)
        );
        assert_eq!(
            k(&format!("{}\n", crate::massconnect::report::TSV_HEADER)),
            Some(Kind::MassconnectTsv)
        );
        assert_eq!(
            k(crate::broadcast::FanoutReport::TSV_HEADER),
            Some(Kind::FanoutTsv)
        );
        assert_eq!(
            k(&format!(
                "peer\t{}",
                crate::broadcast::FanoutReport::TSV_HEADER
            )),
            Some(Kind::FanoutTsv)
        );
        assert_eq!(
            k("name\toutcome\tcount\tsize\tmin\tmedian\tmax\tavg\tstddev\tq0\n"),
            Some(Kind::WsperfTsv { sep: "\t".into() })
        );
        assert_eq!(
            k("name;outcome;count;size;min;median;max\n"),
            Some(Kind::WsperfTsv { sep: ";".into() })
        );
        assert_eq!(
            k(r#"{"servers":[{"timeline":[1],"handshakes":1}],"shard":null}"#),
            Some(Kind::MassconnectJson)
        );
        assert_eq!(k(r#"[{"probe":{},"result":{}}]"#), Some(Kind::WsperfJson));
        assert_eq!(
            k(r#"{"rows":[{"probe":{},"result":{}}]}"#),
            Some(Kind::WsperfJson)
        );
        assert_eq!(
            k(r#"{"delivered":1,"published":1,"latency":{}}"#),
            Some(Kind::FanoutJson)
        );
        assert_eq!(
            k(r#"[{"delivered":1,"published":1,"latency":{}}]"#),
            Some(Kind::FanoutJson)
        );
    }

    #[test]
    fn unknown_content() {
        for s in [
            "",
            "a\tb\n1\t2\n",
            "{\"x\":1}",
            "[]",
            "[1,2]",
            "{not json",
            "name\tx\n",
            "\u{0}\u{1}",
        ] {
            assert_eq!(detect(s), None, "{s:?}");
        }
    }
}
