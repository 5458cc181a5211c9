//! massconnect: the JSON result (per server: handshakes, failed attempts and lost
//! connections second by second, connect and handshake histograms) drawn as open
//! connections over time, events per second, and the latency percentile curves; the TSV
//! summary (`--tsv`) as quantiles per server.

use crate::massconnect::report::{MassReport, ServerResult};

use super::chart::{Chart, Series, Style, XAxis};
use super::quantiles::{curve, curves_chart, per_case, Pcts};
use super::scale::{short, Unit};
use super::table::Table;

/// Open connections at the end of each second: handshakes so far less connections lost so
/// far (results without `lost_timeline`: handshakes so far). Starts at (0, 0).
pub fn open_over_time(s: &ServerResult) -> Vec<(f64, f64)> {
    let mut open = 0i64;
    let mut pts = vec![(0.0, 0.0)];
    for i in 0..s.timeline.len().max(s.lost_timeline.len()) {
        open += s.timeline.get(i).copied().unwrap_or(0) as i64;
        open -= s.lost_timeline.get(i).copied().unwrap_or(0) as i64;
        pts.push(((i + 1) as f64, open.max(0) as f64));
    }
    pts
}

/// Events in each of `secs` seconds (past the end of `v`: none), at the second's middle.
fn per_second(v: &[u64], secs: usize) -> Vec<(f64, f64)> {
    (0..secs.max(v.len()))
        .map(|i| (i as f64 + 0.5, v.get(i).copied().unwrap_or(0) as f64))
        .collect()
}

pub fn json_charts(r: &MassReport) -> Vec<Chart> {
    let many = r.servers.len() > 1;
    let named = |s: &ServerResult, what: &str| {
        if many {
            format!("{} {what}", s.name)
        } else {
            what.to_string()
        }
    };
    let exact = r
        .servers
        .iter()
        .all(|s| !s.lost_timeline.is_empty() || s.lost == 0 || s.timeline.is_empty());
    let summary: Vec<String> = r
        .servers
        .iter()
        .map(|s| {
            format!(
                "{}: {} of {} open in {} s, {} handshakes/s, {} failed, {} lost",
                s.name,
                s.connected,
                s.target,
                short(s.seconds),
                short(s.handshakes_per_sec.round()),
                s.failed,
                s.lost
            )
        })
        .collect();
    let subtitle = summary.join("; ");

    let mut open = Vec::new();
    let mut marks = Vec::new();
    for s in &r.servers {
        open.push(Series::new(
            named(s, "open"),
            open_over_time(s),
            Style::Line,
        ));
        if s.target > 0 && !s.timeline.is_empty() {
            let end = s.timeline.len() as f64;
            open.push(Series::new(
                named(s, "target"),
                vec![(0.0, s.target as f64), (end, s.target as f64)],
                Style::Dashed,
            ));
        }
        let all = Some(s.seconds).filter(|_| s.reached);
        for (t, pct) in [
            (s.seconds_to_50, 50),
            (s.seconds_to_90, 90),
            (s.seconds_to_99, 99),
            (all, 100),
        ] {
            if let Some(t) = t {
                marks.push((t, named(s, &format!("{pct} % open"))));
            }
        }
    }
    let open_chart = Chart {
        title: "massconnect: open connections".into(),
        subtitle: if exact {
            subtitle.clone()
        } else {
            format!("{subtitle} (no per-second losses in this result: handshakes so far)")
        },
        x: XAxis::Linear,
        x_label: "seconds since the first attempt".into(),
        y_label: "connections".into(),
        y_unit: Unit::Count,
        y_log: Some(false),
        series: open,
        marks,
    };

    let mut rates = Vec::new();
    for s in &r.servers {
        let secs = s
            .timeline
            .len()
            .max(s.failed_timeline.len())
            .max(s.lost_timeline.len());
        rates.push(Series::new(
            named(s, "handshakes/s"),
            per_second(&s.timeline, secs),
            Style::Line,
        ));
        for (what, v) in [
            ("failed/s", &s.failed_timeline),
            ("lost/s", &s.lost_timeline),
        ] {
            if v.iter().any(|n| *n > 0) {
                rates.push(Series::new(
                    named(s, what),
                    per_second(v, secs),
                    Style::Line,
                ));
            }
        }
    }
    let errors: Vec<String> = r
        .servers
        .iter()
        .flat_map(|s| s.errors.iter().map(|(k, v)| format!("{k} {v}")))
        .collect();
    let rate_chart = Chart {
        title: "massconnect: handshakes and errors per second".into(),
        subtitle: if errors.is_empty() {
            "no errors".into()
        } else {
            format!("errors: {}", errors.join(", "))
        },
        x: XAxis::Linear,
        x_label: "seconds since the first attempt".into(),
        y_label: "per second".into(),
        y_unit: Unit::Count,
        y_log: Some(false),
        series: rates,
        // Where the ramp ended: the second it ends in counts only its start.
        marks: r
            .servers
            .iter()
            .filter(|s| s.reached)
            .map(|s| (s.seconds, named(s, "100 % open")))
            .collect(),
    };

    let mut curves = Vec::new();
    for s in &r.servers {
        for (what, h) in [
            ("TCP connect", &s.connect_histogram),
            ("WebSocket handshake", &s.handshake_histogram),
        ] {
            if let Some(c) = curve(h) {
                curves.push((named(s, what), c));
            }
        }
    }
    let mut charts = vec![open_chart, rate_chart];
    if !curves.is_empty() {
        charts.push(curves_chart(
            "massconnect: connect and handshake latency by percentile",
            "TCP connect: SYN to established; handshake: HTTP Upgrade request to 101",
            curves,
        ));
    } else {
        // No histograms: the summaries' quantiles.
        let mut names = Vec::new();
        let mut pcts = Vec::new();
        for s in &r.servers {
            names.push(named(s, "connect"));
            pcts.push(Pcts::from_summary(&s.connect_latency));
            names.push(named(s, "handshake"));
            pcts.push(Pcts::from_summary(&s.handshake_latency));
        }
        charts.push(bars(per_case(
            "massconnect: connect and handshake latency",
            "",
            names,
            &pcts,
        )));
    }
    charts
}

/// Bars instead of lines: the categories (connect, handshake) are not a progression.
fn bars(mut c: Chart) -> Chart {
    for s in &mut c.series {
        s.style = Style::Bars;
    }
    c
}

/// The `--tsv` summary: `name … connect_p50_ms connect_p99_ms handshake_p50_ms
/// handshake_p99_ms …`, one row per server.
pub fn tsv_charts(t: &Table) -> Vec<Chart> {
    let mut names = Vec::new();
    let mut pcts = Vec::new();
    let ms = |r: &[String], c: &str| t.num(r, c).map(|v| v * 1000.0);
    for r in &t.rows {
        let n = t.get(r, "name");
        for what in ["connect", "handshake"] {
            names.push(format!("{n} {what}"));
            pcts.push(Pcts {
                p50: ms(r, &format!("{what}_p50_ms")),
                p99: ms(r, &format!("{what}_p99_ms")),
                ..Default::default()
            });
        }
    }
    let rows: Vec<String> = t
        .rows
        .iter()
        .map(|r| {
            format!(
                "{}: {} of {} open in {} s, {} handshakes/s",
                t.get(r, "name"),
                t.get(r, "connected"),
                t.get(r, "target"),
                t.get(r, "seconds"),
                t.get(r, "handshakes_per_s")
            )
        })
        .collect();
    vec![bars(per_case(
        "massconnect: connect and handshake latency (TSV summary)",
        &rows.join("; "),
        names,
        &pcts,
    ))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_connections_are_handshakes_less_losses() {
        let s = ServerResult {
            timeline: vec![100, 50, 0],
            lost_timeline: vec![0, 10, 5],
            ..Default::default()
        };
        assert_eq!(
            open_over_time(&s),
            [(0.0, 0.0), (1.0, 100.0), (2.0, 140.0), (3.0, 135.0)]
        );
    }

    #[test]
    fn charts_of_a_result() {
        let s = ServerResult {
            name: "echo".into(),
            target: 150,
            connected: 150,
            timeline: vec![100, 50],
            failed_timeline: vec![0, 3],
            seconds_to_50: Some(0.6),
            ..Default::default()
        };
        let c = json_charts(&MassReport {
            servers: vec![s],
            ..Default::default()
        });
        assert_eq!(c.len(), 3);
        let names: Vec<&str> = c[0].series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["open", "target"]);
        assert_eq!(c[0].marks, [(0.6, "50 % open".to_string())]);
        assert!(c[1].marks.is_empty(), "not reached: no end of the ramp");
        let names: Vec<&str> = c[1].series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["handshakes/s", "failed/s"], "no lost/s: none lost");
    }

    #[test]
    fn tsv_summary_in_microseconds() {
        let t = Table::parse(
            &format!(
                "{}\nwstest\tws://x\t10\t10\ttrue\t0.5\t20\t0\t0\t0\t10\t0.200\t1.000\t0.300\t2.000\t\t\t\t\n",
                crate::massconnect::report::TSV_HEADER
            ),
            "\t",
        );
        let c = &tsv_charts(&t)[0];
        assert_eq!(c.series[0].name, "p50");
        assert_eq!(c.series[0].points, [(0.0, 200.0), (1.0, 300.0)]);
    }
}
