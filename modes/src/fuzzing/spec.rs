//! The fuzzing specs (fuzzingclient and fuzzingserver), as the original reads them, plus our
//! own keys, and case selection with the original's pattern rules.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::case::id_tuple;
use crate::spec::wildcard;

pub const CLIENT_TEMPLATE: &str = r#"{
   "outdir": "./reports/servers",
   "servers": [
      {
         "agent": "wstest-testee",
         "url": "ws://127.0.0.1:9001",
         "embedded": true
      }
   ],
   "cases": ["*"],
   "exclude-cases": [],
   "exclude-agent-cases": {}
}
"#;

pub const SERVER_TEMPLATE: &str = r#"{
   "url": "ws://127.0.0.1:9001",
   "outdir": "./reports/clients",
   "cases": ["*"],
   "exclude-cases": [],
   "exclude-agent-cases": {}
}
"#;

pub const CLIENT_KEYS: &[&str] = &[
    "outdir",
    "servers",
    "cases",
    "exclude-cases",
    "exclude-agent-cases",
    "options",
];
/// The keys of an entry of a fuzzingclient spec's `servers`.
pub const SERVER_ENTRY_KEYS: &[&str] = &[
    "url",
    "agent",
    "options",
    "origin",
    "protocols",
    "embedded",
    "hostname",
];

pub const SERVER_KEYS: &[&str] = &[
    "url",
    "outdir",
    "cases",
    "exclude-cases",
    "exclude-agent-cases",
    "options",
    "protocols",
    "key",
    "cert",
    "webport",
];

/// Options that change the fuzzer's own endpoint or how the run goes.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Options {
    /// Fail connections by dropping TCP instead of sending a Close (the original's option).
    #[serde(rename = "failByDrop")]
    pub fail_by_drop: Option<bool>,
    #[serde(rename = "closeHandshakeTimeout")]
    pub close_handshake_timeout: Option<f64>,
    #[serde(rename = "serverConnectionDropTimeout")]
    pub server_connection_drop_timeout: Option<f64>,
    #[serde(rename = "openHandshakeTimeout")]
    pub open_handshake_timeout: Option<f64>,
    /// Run cases that do not measure time on several connections at once: `true`, `false`, or
    /// the number of connections (ours).
    pub parallel: Option<serde_json::Value>,
    /// Microseconds to pause after each chopped or synced write (ours; default 50).
    #[serde(rename = "syncPause")]
    pub sync_pause_us: Option<u64>,
    /// Largest message (inflated) a case takes, octets; 0 = no limit (ours; default 64 MiB;
    /// `--max-message-size` overrides it).
    #[serde(rename = "maxMessageSize")]
    pub max_message_size: Option<u64>,
    /// Any other option of the original is accepted and reported as ignored.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl Options {
    /// Later options override earlier ones.
    pub fn merged(&self, over: &Options) -> Options {
        let mut other = self.other.clone();
        other.extend(over.other.clone());
        Options {
            fail_by_drop: over.fail_by_drop.or(self.fail_by_drop),
            close_handshake_timeout: over
                .close_handshake_timeout
                .or(self.close_handshake_timeout),
            server_connection_drop_timeout: over
                .server_connection_drop_timeout
                .or(self.server_connection_drop_timeout),
            open_handshake_timeout: over.open_handshake_timeout.or(self.open_handshake_timeout),
            parallel: over.parallel.clone().or(self.parallel.clone()),
            sync_pause_us: over.sync_pause_us.or(self.sync_pause_us),
            max_message_size: over.max_message_size.or(self.max_message_size),
            other,
        }
    }

    /// Connections to run at once (1 = one case at a time).
    pub fn concurrency(&self) -> usize {
        match &self.parallel {
            None | Some(serde_json::Value::Bool(true)) => 8,
            Some(serde_json::Value::Bool(false)) => 1,
            Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(1).clamp(1, 512) as usize,
            Some(_) => 8,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct ServerEntry {
    pub url: String,
    pub agent: Option<String>,
    #[serde(default)]
    pub options: Options,
    pub origin: Option<String>,
    #[serde(default)]
    pub protocols: Vec<String>,
    /// Start our own testee in-process on `url` and test it (ours).
    #[serde(default)]
    pub embedded: bool,
    /// TLS server name to use instead of the URL's host.
    pub hostname: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ClientSpec {
    #[serde(default = "default_client_outdir")]
    pub outdir: String,
    #[serde(default)]
    pub servers: Vec<ServerEntry>,
    #[serde(default = "star")]
    pub cases: Vec<String>,
    #[serde(default, rename = "exclude-cases")]
    pub exclude_cases: Vec<String>,
    #[serde(default, rename = "exclude-agent-cases")]
    pub exclude_agent_cases: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub options: Options,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ServerSpec {
    #[serde(default = "default_server_url")]
    pub url: String,
    #[serde(default = "default_server_outdir")]
    pub outdir: String,
    #[serde(default = "star")]
    pub cases: Vec<String>,
    #[serde(default, rename = "exclude-cases")]
    pub exclude_cases: Vec<String>,
    #[serde(default, rename = "exclude-agent-cases")]
    pub exclude_agent_cases: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub options: Options,
    #[serde(default)]
    pub protocols: Vec<String>,
    pub key: Option<String>,
    pub cert: Option<String>,
}

fn star() -> Vec<String> {
    vec!["*".into()]
}
fn default_client_outdir() -> String {
    "./reports/servers".into()
}
fn default_server_outdir() -> String {
    "./reports/clients".into()
}
fn default_server_url() -> String {
    "ws://127.0.0.1:9001".into()
}

/// Resolve case patterns as the original does: a pattern with `*` selects every id it
/// matches from the start (so "1.*" is every case of group 1), a pattern without is taken as
/// an id. Excluded ids are removed; the result is sorted by id.
pub fn select(
    all: &[String],
    cases: &[String],
    exclude: &[String],
) -> Result<(Vec<String>, Vec<String>), String> {
    let mut warnings = Vec::new();
    let resolve = |patterns: &[String],
                   what: &str,
                   strict: bool,
                   warnings: &mut Vec<String>|
     -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for p in patterns {
            let hits: Vec<String> = if p.contains('*') {
                all.iter()
                    .filter(|id| wildcard(&format!("{p}*"), id))
                    .cloned()
                    .collect()
            } else {
                all.iter().filter(|id| *id == p).cloned().collect()
            };
            if hits.is_empty() {
                let msg = format!("{what} pattern {p:?} matches no case");
                if strict {
                    return Err(msg);
                }
                warnings.push(msg);
            }
            out.extend(hits);
        }
        Ok(out)
    };
    let inc = resolve(cases, "case", true, &mut warnings)?;
    let exc = resolve(exclude, "exclude-cases", false, &mut warnings)?;
    let mut v: Vec<String> = inc.into_iter().filter(|i| !exc.contains(i)).collect();
    v.sort_by_key(|s| id_tuple(s));
    v.dedup();
    if v.is_empty() {
        return Err("the spec selects no cases".into());
    }
    Ok((v, warnings))
}

/// `exclude-agent-cases`: agent pattern → case patterns, both matched in full.
pub fn agent_excludes(map: &BTreeMap<String, Vec<String>>, agent: &str, case: &str) -> bool {
    map.iter()
        .any(|(a, cs)| wildcard(a, agent) && cs.iter().any(|c| wildcard(c, case)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        ["1.1.1", "1.1.2", "2.1", "9.7.1", "9.7.10", "10.1.1"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn patterns_like_the_original() {
        let s = |c: &[&str], e: &[&str]| {
            select(
                &ids(),
                &c.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
                &e.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            s(&["*"], &["9.*"]).unwrap().0,
            vec!["1.1.1", "1.1.2", "2.1", "10.1.1"]
        );
        assert_eq!(s(&["1.*"], &[]).unwrap().0, vec!["1.1.1", "1.1.2"]);
        assert_eq!(
            s(&["9.7.1*"], &[]).unwrap().0,
            vec!["9.7.1", "9.7.10"],
            "prefix match, as the original's regex"
        );
        assert_eq!(s(&["2.1", "1.1.2"], &[]).unwrap().0, vec!["1.1.2", "2.1"]);
        assert!(s(&["3.*"], &[]).unwrap_err().contains("3.*"));
        assert!(s(&["1.1.1"], &["1.1.1"]).is_err());
        assert_eq!(
            s(&["*"], &["7.*"]).unwrap().1.len(),
            1,
            "excluding nothing warns"
        );
    }

    #[test]
    fn agent_exclusions_match_in_full() {
        let m = BTreeMap::from([("Autobahn*".to_string(), vec!["9.*".to_string()])]);
        assert!(agent_excludes(&m, "AutobahnPython/0.10", "9.1.1"));
        assert!(!agent_excludes(&m, "xAutobahn", "9.1.1"));
        assert!(!agent_excludes(&m, "AutobahnPython", "1.1.1"));
    }
}
