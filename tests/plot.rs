//! `wstest plot` on small real results (tests/data/plot/, cut from runs of the real tools):
//! each kind is recognised, the SVG is well-formed XML and carries the expected series; an
//! unknown file is refused in one line that names it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_wstest");

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/plot")
        .join(name)
}

fn plot(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("plot")
        .args(args)
        .output()
        .expect("wstest runs")
}

/// Well-formed XML, checked by structure: one root element, every element closed in order,
/// attribute values quoted, `<` never inside text or values, `&` only as an entity.
fn check_xml(doc: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut rest = doc;
    let entity_ok = |t: &str| -> Result<(), String> {
        let mut s = t;
        while let Some(i) = s.find('&') {
            s = &s[i + 1..];
            let end = s.find(';').ok_or(format!("bare & in {t:?}"))?;
            let name = &s[..end];
            let ok = ["amp", "lt", "gt", "quot", "apos"].contains(&name)
                || (name.starts_with('#') && name.len() > 1);
            if !ok {
                return Err(format!("unknown entity &{name};"));
            }
        }
        Ok(())
    };
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        if stack.is_empty() && !text.trim().is_empty() {
            return Err(format!("text outside the root: {text:?}"));
        }
        entity_ok(text)?;
        rest = &rest[lt..];
        for (open, close) in [("<?", "?>"), ("<!--", "-->")] {
            if let Some(r) = rest.strip_prefix(open) {
                let e = r.find(close).ok_or("unclosed declaration")?;
                rest = &r[e + close.len()..];
            }
        }
        if !rest.starts_with('<') {
            continue;
        }
        // A tag: find its end outside quoted values.
        let mut quote = None;
        let mut end = None;
        for (i, c) in rest.char_indices().skip(1) {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (Some(_), '<') => return Err("< in an attribute value".into()),
                (None, '<') => return Err("< inside a tag".into()),
                (None, '>') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or("unterminated tag")?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        entity_ok(tag)?;
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
            if open != name.trim() {
                return Err(format!("<{open}> closed by </{name}>"));
            }
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '/')
            .collect();
        if name.is_empty() {
            return Err(format!("a tag without a name: <{tag}>"));
        }
        if stack.is_empty() {
            roots += 1;
        }
        if !tag.ends_with('/') {
            stack.push(name);
        }
    }
    if !rest.trim().is_empty() {
        return Err(format!("text after the root: {rest:?}"));
    }
    match (stack.is_empty(), roots) {
        (true, 1) => Ok(()),
        (false, _) => Err(format!("unclosed: {stack:?}")),
        (_, n) => Err(format!("{n} root elements")),
    }
}

/// Plot `input` to an SVG; returns it after checking it is XML with these legend entries
/// (and titles).
fn svg_of(input: &str, kind: &str, expect: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.svg");
    let o = plot(&[data(input).to_str().unwrap(), "-o", out.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{input}: {stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains(&format!("({kind})")), "{input}: {stdout}");
    let svg = std::fs::read_to_string(&out).unwrap();
    check_xml(&svg).unwrap_or_else(|e| panic!("{input}: not well-formed: {e}"));
    assert!(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(!svg.contains("NaN") && !svg.contains("inf"), "{input}");
    for e in expect {
        assert!(svg.contains(&format!(">{e}</text>")), "{input}: no {e:?}");
    }
    svg
}

#[test]
fn the_xml_check_catches_broken_documents() {
    assert!(check_xml("<a><b x=\"1\"/>t &amp; u</a>").is_ok());
    for bad in [
        "<a><b></a></b>",
        "<a>",
        "<a/><b/>",
        "<a>&x</a>",
        "<a x=\"<\"/>",
        "t<a/>",
    ] {
        assert!(check_xml(bad).is_err(), "{bad}");
    }
}

#[test]
fn wsperfcontrol_tsv_and_json() {
    let svg = svg_of(
        "wsperf.tsv",
        "wsperfcontrol TSV",
        &[
            "min",
            "p50",
            "p90",
            "max",
            "Echo round trip per case (wsperfcontrol)",
        ],
    );
    assert!(
        svg.contains(">size=64<") || svg.contains("size=64"),
        "cases named by size"
    );
    svg_of(
        "wsperf.tsv.json",
        "wsperfcontrol JSON",
        &[
            "p99",
            "p99.9",
            "msgs/s",
            "Echo round trip by percentile",
            "99%",
        ],
    );
}

#[test]
fn sweep_tsv() {
    svg_of(
        "sweep.tsv",
        "wsperf sweep TSV",
        &[
            "p50",
            "p99.9",
            "msgs/s",
            "Echoed messages per second per case",
        ],
    );
}

#[test]
fn massconnect_json_and_tsv() {
    let svg = svg_of(
        "massconnect.json",
        "massconnect JSON",
        &[
            "open",
            "target",
            "handshakes/s",
            "failed/s",
            "lost/s",
            "TCP connect",
            "WebSocket handshake",
            "massconnect: open connections",
            "90 % open",
        ],
    );
    assert!(svg.matches("<polyline").count() >= 6);
    svg_of("massconnect.tsv", "massconnect TSV", &["p50", "p99"]);
}

#[test]
fn fanout_tsv_and_json() {
    svg_of(
        "fanout.tsv",
        "fan-out TSV",
        &[
            "p50",
            "p99",
            "max",
            "Fan-out delivery latency per run (publish to receipt)",
        ],
    );
    svg_of(
        "broadcastclient.json",
        "fan-out JSON",
        &["p50", "Fan-out delivery latency by percentile"],
    );
}

#[test]
fn an_html_report_beside_the_svg() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.html");
    let o = plot(&[
        data("massconnect.json").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<table>"));
    assert_eq!(html.matches("<svg").count(), 3);
    let svg = std::fs::read_to_string(dir.path().join("report.svg")).unwrap();
    check_xml(&svg).unwrap();
}

#[test]
fn an_unknown_file_is_refused_in_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notes.tsv");
    std::fs::write(&f, "when\twhat\n1\tlunch\n").unwrap();
    let o = plot(&[f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("{}: not a known kind of result", f.display())),
        "{err}"
    );
    assert!(!dir.path().join("notes.svg").exists());
}
