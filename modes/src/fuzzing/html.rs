//! HTML reports: `index.html` (agents × cases, coloured by outcome, grouped by category, with
//! the case descriptions) and one page per case with its wire log. Our own markup and style;
//! the file names and the information shown follow the original's reports.

use std::fmt::Write;

use super::case::{Behavior, Ev};
use super::pyjson::{self, J};
use super::result::{report_filename, utc_string, CaseResult};
use super::store::Store;
use super::wirelog::Wire;

const STYLE: &str = r#"
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.5em; font-size: 0.85em; }
th { background: #eee; }
tr.cat td { background: #334; color: #fff; font-weight: bold; }
tr.sub td { background: #dde; font-style: italic; }
td.ok { background: #5c5; } td.ns { background: #bd5; } td.fail { background: #e55; color: #fff; }
td.info { background: #9bd; } td.unimpl { background: #bbb; } td.missing { background: #f5f5f5; color: #999; }
td.almost { background: #eb5; } td.code { font-family: monospace; }
a { color: inherit; }
pre { margin: 0; white-space: pre-wrap; word-break: break-all; font-size: 0.8em; }
.legend td { font-size: 0.8em; }
.wl .rx { color: #036; } .wl .tx { color: #063; } .wl .timer { color: #850; } .wl .mark { color: #777; }
.block { background: #f7f7f7; border-left: 4px solid #99a; padding: 0.5em 1em; margin: 0.6em 0; }
small { color: #666; }
.scroll { overflow-x: auto; max-width: 100%; }
table.totals td { text-align: right; } table.totals td:first-child { text-align: left; }
@media (max-width: 1400px) { body { margin: 0.8em; } td, th { padding: 0.15em 0.35em; } }
"#;

pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

/// A report string (code points, maybe with lone surrogates) as displayable text.
fn jtext(j: &J) -> String {
    match j {
        J::Str(cps) => cps
            .iter()
            .map(|&c| char::from_u32(c).unwrap_or('\u{FFFD}'))
            .collect(),
        J::Null => "None".into(),
        other => pyjson::to_string(other),
    }
}

fn class_of(b: Behavior) -> (&'static str, &'static str) {
    match b {
        Behavior::Ok => ("ok", "Pass"),
        Behavior::NonStrict => ("ns", "Non-Strict"),
        Behavior::Informational => ("info", "Info"),
        Behavior::Unimplemented => ("unimpl", "Unimplemented"),
        _ => ("fail", "Fail"),
    }
}

fn close_class(b: Behavior) -> &'static str {
    match b {
        Behavior::Ok => "ok",
        Behavior::FailedByClient => "almost",
        Behavior::WrongCode => "ns",
        Behavior::Informational => "info",
        _ => "fail",
    }
}

fn page(title: &str, body: &str) -> String {
    format!("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\"/>\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n", esc(title))
}

/// The summary page.
/// Per-agent totals, first thing on the page: cases, verdict counts, the failing cases.
fn totals(b: &mut String, store: &Store, agents: &[&String]) {
    if agents.is_empty() {
        return;
    }
    let ids: Vec<String> = store.ordered_cases().iter().map(|c| c.id.clone()).collect();
    b.push_str("<h2>Totals</h2>\n<div class=\"scroll\"><table class=\"totals\"><tr><th>Agent</th><th>Cases</th><th>Pass</th><th>Non-Strict</th><th>Fail</th><th>Info</th><th>Unimpl.</th><th>Close not OK</th><th>Failing cases</th></tr>\n");
    for a in agents {
        let s = super::outcome::AgentSummary::from_store(store, a, &ids);
        let n = |k: &str| s.behavior.get(k).copied().unwrap_or(0);
        let close_bad: u64 = s
            .behavior_close
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "OK" | "INFORMATIONAL"))
            .map(|(_, v)| v)
            .sum();
        let failing = match s.failing.len() {
            0 => "none".to_string(),
            n if n > 12 => format!("{} … ({n})", s.failing[..12].join(" ")),
            _ => s.failing.join(" "),
        };
        let _ = writeln!(
            b,
            "<tr><td>{}</td><td>{}</td><td class=\"ok\">{}</td><td class=\"ns\">{}</td><td class=\"{}\">{}</td><td class=\"info\">{}</td><td class=\"unimpl\">{}</td><td>{close_bad}</td><td style=\"text-align:left\">{}</td></tr>",
            esc(a),
            s.cases,
            n("OK"),
            n("NON-STRICT"),
            if n("FAILED") > 0 { "fail" } else { "" },
            n("FAILED"),
            n("INFORMATIONAL"),
            n("UNIMPLEMENTED"),
            esc(&failing)
        );
    }
    b.push_str("</table></div>\n");
}

pub fn index_page(store: &Store) -> String {
    let agents: Vec<&String> = store.agents.keys().collect();
    let subcats = super::cases::subcategories();
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<h1>WebSocket conformance report</h1>\n<p><small>Generated {} by wstest {}.</small></p>",
        utc_string(std::time::SystemTime::now()),
        env!("CARGO_PKG_VERSION")
    );
    b.push_str("<table class=\"legend\"><tr><td class=\"ok\">Pass</td><td>Executed and passed.</td></tr><tr><td class=\"ns\">Non-Strict</td><td>Passed, but not the way the RFC recommends (a SHOULD was not followed); still conformant.</td></tr><tr><td class=\"fail\">Fail</td><td>Executed and failed: the implementation breaks a MUST of the RFC (or, for limits cases, did not cope).</td></tr><tr><td class=\"info\">Info</td><td>Informational: the RFC leaves the behaviour open; shown for interest.</td></tr><tr><td class=\"missing\">Missing</td><td>Not run for this agent.</td></tr></table>\n<p><small>Second column of each agent: the close code the peer sent (green: as expected; yellow: the fuzzer had to close TCP; olive: unexpected code).</small></p>\n");
    totals(&mut b, store, &agents);
    b.push_str("<div class=\"scroll\"><table>\n");
    let (mut last_cat, mut last_sub) = (String::new(), None::<String>);
    let cases = store.ordered_cases();
    for c in &cases {
        let cat = c.id.split('.').next().unwrap_or("").to_string();
        let sub_key: String = c.id.split('.').take(2).collect::<Vec<_>>().join(".");
        let sub = subcats.get(&sub_key).cloned();
        if cat != last_cat || sub != last_sub {
            let _ = write!(
                b,
                "<tr class=\"cat\"><td>{} {}</td>",
                esc(&cat),
                esc(super::cases::category(&cat))
            );
            for a in &agents {
                let _ = write!(b, "<td colspan=\"2\">{}</td>", esc(a));
            }
            b.push_str("</tr>\n");
            if let Some(s) = &sub {
                let _ = writeln!(
                    b,
                    "<tr class=\"sub\"><td colspan=\"{}\">{} {}</td></tr>",
                    agents.len() * 2 + 1,
                    esc(&sub_key),
                    esc(s)
                );
            }
            last_cat = cat;
            last_sub = sub;
        }
        let _ = write!(
            b,
            "<tr><td><a href=\"#case_{}\">Case {}</a></td>",
            c.id.replace('.', "_"),
            esc(&c.id)
        );
        for a in &agents {
            match store.has(a, &c.id) {
                None => b.push_str("<td class=\"missing\" colspan=\"2\">Missing</td>"),
                Some(s) => {
                    let (cls, label) = class_of(s.behavior);
                    let html = report_filename(a, &c.id, "html");
                    let mut detail = String::new();
                    if s.report_time {
                        detail = format!("{} ms", s.duration);
                    }
                    if let Some((rx, tx)) = s.ratios {
                        let f = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.3}"));
                        let _ = write!(detail, " [{}/{}]", f(rx), f(tx));
                    }
                    if !detail.is_empty() {
                        detail = format!("<br/><small>{}</small>", detail.trim_start());
                    }
                    let code = s
                        .remote_close_code
                        .map_or("None".to_string(), |c| c.to_string());
                    let _ = write!(b, "<td class=\"{cls}\"><a href=\"{}\">{label}</a>{detail}</td><td class=\"code {}\">{}</td>", esc(&html), close_class(s.behavior_close), esc(&code));
                }
            }
        }
        b.push_str("</tr>\n");
    }
    b.push_str("</table></div>\n<h2>Cases</h2>\n");
    for c in &cases {
        let _ = writeln!(
            b,
            "<a id=\"case_{}\"></a><h3>Case {}</h3><div class=\"block\"><b>Description</b><br/>{}</div><div class=\"block\"><b>Expectation</b><br/>{}</div>",
            c.id.replace('.', "_"),
            esc(&c.id),
            esc(&c.description),
            esc(&c.expectation)
        );
    }
    page("wstest conformance report", &b)
}

fn ev_line(e: &Ev) -> String {
    match e {
        Ev::Message { payload, binary } => format!(
            "message ({}, {} octets): {}",
            if *binary { "binary" } else { "text" },
            payload.len(),
            jtext(&pyjson::ascii_log(payload))
        ),
        Ev::Pong(p) => format!(
            "pong ({} octets): {}",
            p.len(),
            jtext(&pyjson::ascii_log(p))
        ),
        Ev::Timeout(t) => format!("timeout {t}"),
    }
}

fn wire_line(w: &Wire) -> (&'static str, String) {
    let hexmask = |m: &Option<[u8; 4]>| {
        m.map(|m| m.iter().map(|b| format!("{b:02x}")).collect::<String>())
            .unwrap_or_else(|| "None".into())
    };
    match w {
        Wire::RxOctets(h) => ("rx", format!("RX OCTETS: {}", pyjson::bin_log_head(h.len, &h.head))),
        Wire::TxOctets(h, sync) => ("tx", format!("TX OCTETS{}: {}", if *sync { " (sync)" } else { "" }, pyjson::bin_log_head(h.len, &h.head))),
        Wire::RxFrame { payload, opcode, fin, rsv, mask } => (
            "rx",
            format!("RX FRAME : OPCODE={opcode}, FIN={fin}, RSV={rsv}, PAYLOAD-LEN={}, MASKED={}, MASK={}\n           {}", payload.len, mask.is_some(), hexmask(mask), jtext(&pyjson::ascii_log_head(payload.len, &payload.head))),
        ),
        Wire::TxFrame { payload, opcode, fin, rsv, mask, repeat_len, chop, sync } => (
            "tx",
            format!(
                "TX FRAME : OPCODE={opcode}, FIN={fin}, RSV={rsv}, PAYLOAD-LEN={}, MASK={}, PAYLOAD-REPEAT-LEN={}, CHOPSIZE={}, SYNC={sync}\n           {}",
                payload.len,
                hexmask(mask),
                repeat_len.map_or("None".into(), |v| v.to_string()),
                chop.map_or("None".into(), |v| v.to_string()),
                jtext(&pyjson::ascii_log_head(payload.len, &payload.head))
            ),
        ),
        Wire::Later { delay, tag } => ("timer", format!("DELAY {delay} s for TAG {}", tag.as_deref().unwrap_or("None"))),
        Wire::LaterFired(tag) => ("timer", format!("DELAY TIMEOUT on TAG {}", tag.as_deref().unwrap_or("None"))),
        Wire::KillAfter(d) => ("timer", format!("FAIL CONNECTION AFTER {d} s")),
        Wire::Killing => ("timer", "FAILING CONNECTION".into()),
        Wire::CloseAfter(d) => ("timer", format!("CLOSE CONNECTION AFTER {d} s")),
        Wire::Closing => ("timer", "CLOSING CONNECTION".into()),
        Wire::Marker(on) => ("mark", format!("WIRELOG {}", if *on { "ENABLED" } else { "DISABLED" })),
    }
}

/// One case's page.
pub fn case_page(r: &CaseResult) -> String {
    let st = &r.record.status;
    let (cls, label) = class_of(r.verdict.behavior);
    let mut b = String::new();
    let _ = writeln!(b, "<h1>{} — Case {}</h1>\n<table><tr><td class=\"{cls}\">{label}</td><td>{} ms @ {}</td></tr></table>", esc(&r.agent), esc(&r.id), r.duration_ms, esc(&r.started));
    let _ = writeln!(b, "<div class=\"block\"><b>Description</b><br/>{}</div>\n<div class=\"block\"><b>Expectation</b><br/>{}</div>", esc(&r.description), esc(&r.expectation));
    let _ = writeln!(
        b,
        "<h2>Outcome</h2>\n<p>{}: {}</p>",
        esc(r.verdict.behavior.as_str()),
        esc(&r.verdict.result)
    );
    b.push_str("<table><tr><th>Expected</th><th>Events</th></tr>");
    for (beh, evs) in &r.expected {
        let lines: Vec<String> = evs.iter().map(|e| esc(&ev_line(e))).collect();
        let _ = write!(
            b,
            "<tr><td>{}</td><td><pre>{}</pre></td></tr>",
            esc(beh.as_str()),
            if lines.is_empty() {
                "(nothing)".into()
            } else {
                lines.join("\n")
            }
        );
    }
    let got: Vec<String> = r.record.received.iter().map(|e| esc(&ev_line(e))).collect();
    let _ = writeln!(
        b,
        "<tr><th>Received</th><td><pre>{}</pre></td></tr></table>",
        if got.is_empty() {
            "(nothing)".into()
        } else {
            got.join("\n")
        }
    );
    let _ = writeln!(
        b,
        "<h2>Closing behaviour</h2>\n<p>{}: {}</p>",
        esc(r.verdict.behavior_close.as_str()),
        esc(&r.verdict.result_close)
    );
    let rows: Vec<(&str, String)> = vec![
        ("closedByMe", st.closed_by_me.to_string()),
        ("failedByMe", st.failed_by_me.to_string()),
        ("droppedByMe", st.dropped_by_me.to_string()),
        ("wasClean", st.was_clean.to_string()),
        (
            "wasNotCleanReason",
            st.not_clean_reason.clone().unwrap_or_else(|| "None".into()),
        ),
        (
            "wasServerConnectionDropTimeout",
            st.server_drop_timeout.to_string(),
        ),
        (
            "wasCloseHandshakeTimeout",
            st.close_handshake_timeout.to_string(),
        ),
        (
            "localCloseCode",
            st.local_code.map_or("None".into(), |c| c.to_string()),
        ),
        ("localCloseReason", jtext(&r.local_reason())),
        (
            "remoteCloseCode",
            st.remote_code.map_or("None".into(), |c| c.to_string()),
        ),
        (
            "remoteCloseReason",
            st.remote_reason.clone().unwrap_or_else(|| "None".into()),
        ),
        (
            "expected close",
            format!(
                "by me: {}, codes: {:?}, clean required: {}",
                r.expected_close.closed_by_me,
                r.expected_close.codes,
                r.expected_close.require_clean
            ),
        ),
    ];
    b.push_str("<table>");
    for (k, v) in rows {
        let _ = write!(b, "<tr><td>{k}</td><td>{}</td></tr>", esc(&v));
    }
    b.push_str("</table>\n");
    let _ = writeln!(
        b,
        "<h2>Opening handshake</h2>\n<div class=\"block\"><pre>{}</pre></div><div class=\"block\"><pre>{}</pre></div>",
        esc(&String::from_utf8_lossy(&r.record.http_request)),
        esc(&String::from_utf8_lossy(&r.record.http_response))
    );
    let stat_table = |title: &str, rows: Vec<(String, u64)>| -> String {
        let mut s = format!("<table><tr><th>{title}</th><th>count</th></tr>");
        for (k, v) in rows {
            let _ = write!(s, "<tr><td>{}</td><td>{v}</td></tr>", esc(&k));
        }
        s + "</table>"
    };
    b.push_str("<h2>Statistics</h2><table><tr><td>");
    b.push_str(&stat_table(
        "octets received per read",
        r.record
            .rx_octets
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
    ));
    b.push_str("</td><td>");
    b.push_str(&stat_table(
        "octets written per write",
        r.record
            .tx_octets
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
    ));
    b.push_str("</td><td>");
    b.push_str(&stat_table(
        "frames received per opcode",
        r.record
            .rx_frames
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
    ));
    b.push_str("</td><td>");
    b.push_str(&stat_table(
        "frames sent per opcode",
        r.record
            .tx_frames
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
    ));
    b.push_str("</td></tr></table>\n");
    if let Some(t) = r.truncation() {
        let _ = writeln!(
            b,
            "<p class=\"mark\">Record cut: {}.</p>",
            esc(&t.describe())
        );
    }
    b.push_str("<h2>Wire log</h2>\n<div class=\"wl\">");
    for (i, w) in r.wirelog().iter().enumerate() {
        let (c, line) = wire_line(w);
        let _ = writeln!(b, "<pre class=\"{c}\">{i:03} {}</pre>", esc(&line));
    }
    let _ = writeln!(
        b,
        "<pre class=\"mark\">{:03} TCP DROPPED BY {}</pre></div>",
        r.wirelog().len(),
        if st.dropped_by_me { "ME" } else { "PEER" }
    );
    page(&format!("{} case {}", r.agent, r.id), &b)
}
