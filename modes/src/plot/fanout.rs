//! Fan-out: `broadcastclient --clients N` (its TSV, or its JSON with -o/--json) and
//! scripts/fanout-compare.sh's TSV (the same columns after a `peer` column): delivery
//! latency per run, and what was lost or dropped where anything was.

use serde::Deserialize;
use wstest_engine::stats::Summary;

use super::chart::{Chart, Series, Style, XAxis};
use super::quantiles::{curve, curves_chart, per_case, Pcts};
use super::scale::Unit;
use super::table::{field, labels, Table};

/// One run, from either input.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Run {
    /// fanout-compare's server name (absent in broadcastclient's own output).
    pub peer: String,
    pub url: String,
    pub clients: u64,
    pub connected: u64,
    pub rate: f64,
    pub size: u64,
    pub duration_s: f64,
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    pub dropped: u64,
    pub latency: Summary,
    pub histogram: String,
}

/// The rows of a TSV with broadcastclient's columns.
pub fn from_tsv(t: &Table) -> Vec<Run> {
    let n = |r: &[String], c: &str| t.num(r, c).unwrap_or(0.0);
    t.rows
        .iter()
        .filter(|r| r.len() > 1)
        .map(|r| {
            let us = |c: &str| t.num(r, c).unwrap_or(f64::NAN);
            Run {
                peer: t.get(r, "peer").to_string(),
                url: t.get(r, "url").to_string(),
                clients: n(r, "clients") as u64,
                connected: n(r, "connected") as u64,
                rate: n(r, "rate"),
                size: n(r, "size") as u64,
                duration_s: n(r, "duration_s"),
                expected: n(r, "expected") as u64,
                delivered: n(r, "delivered") as u64,
                lost: n(r, "lost") as u64,
                dropped: n(r, "dropped") as u64,
                latency: Summary {
                    count: n(r, "delivered") as u64,
                    min_us: us("min_us"),
                    median_us: us("p50_us"),
                    p90_us: us("p90_us"),
                    p99_us: us("p99_us"),
                    p999_us: us("p999_us"),
                    max_us: us("max_us"),
                    ..Default::default()
                },
                histogram: String::new(),
            }
        })
        .collect()
}

/// Most runs drawn as percentile curves.
const MAX_CURVES: usize = 8;

pub fn charts(runs: &[Run]) -> Vec<Chart> {
    let cases: Vec<_> = runs
        .iter()
        .map(|r| {
            // A comparison names its peers; their URLs differ only by port.
            let who = if r.peer.is_empty() {
                field("", &r.url)
            } else {
                field("", &r.peer)
            };
            vec![
                who,
                field("clients", r.clients),
                field("rate", r.rate),
                field("size", r.size),
                field("s", r.duration_s),
            ]
        })
        .collect();
    let (names, common) = labels(&cases);
    let pcts: Vec<Pcts> = runs
        .iter()
        .map(|r| Pcts::from_summary(&r.latency))
        .collect();
    let mut charts = vec![per_case(
        "Fan-out delivery latency per run (publish to receipt)",
        &common,
        names.clone(),
        &pcts,
    )];
    if runs
        .iter()
        .any(|r| r.lost + r.dropped > 0 || r.connected < r.clients)
    {
        let series = |name: &str, f: fn(&Run) -> u64| {
            let pts = runs
                .iter()
                .enumerate()
                .map(|(i, r)| (i as f64, f(r) as f64))
                .collect();
            Series::new(name, pts, Style::Bars)
        };
        charts.push(Chart {
            title: "Fan-out: what did not arrive".into(),
            subtitle: common.clone(),
            x: XAxis::Categories(names.clone()),
            x_label: "run".into(),
            y_label: "count".into(),
            y_unit: Unit::Count,
            y_log: Some(false),
            series: [
                series("lost deliveries", |r| r.lost),
                series("receivers dropped", |r| r.dropped),
                series("receivers not connected", |r| {
                    r.clients.saturating_sub(r.connected)
                }),
            ]
            .into_iter()
            .filter(|s| s.points.iter().any(|p| p.1 > 0.0))
            .collect(),
            marks: Vec::new(),
        });
    }
    if runs.len() <= MAX_CURVES {
        let curves: Vec<_> = runs
            .iter()
            .zip(&names)
            .filter_map(|(r, n)| Some((n.clone(), curve(&r.histogram)?)))
            .collect();
        if !curves.is_empty() {
            charts.push(curves_chart(
                "Fan-out delivery latency by percentile",
                &common,
                curves,
            ));
        }
    }
    charts
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPARE: &str = "peer\turl\tclients\tconnected\trate\tsize\tduration_s\tpublished\texpected\tdelivered\tlost\tdropped\tmin_us\tp50_us\tp90_us\tp99_us\tp999_us\tmax_us\n\
        wstest\tws://127.0.0.1:19701\t100\t100\t100\t64\t5\t500\t50000\t50000\t0\t0\t20.0\t60.0\t90.0\t150.0\t300.0\t900.0\n\
        node-ws\tws://127.0.0.1:19702\t100\t100\t100\t64\t5\t500\t50000\t49000\t1000\t2\t30.0\t80.0\t120.0\t400.0\t800.0\t2000.0\n";

    #[test]
    fn compare_tsv_names_runs_by_peer() {
        let runs = from_tsv(&Table::parse(COMPARE, "\t"));
        assert_eq!(runs.len(), 2);
        let c = charts(&runs);
        let XAxis::Categories(n) = &c[0].x else {
            panic!()
        };
        assert_eq!(n, &["wstest", "node-ws"]);
        assert_eq!(c[0].subtitle, "clients=100, rate=100, size=64, s=5");
        assert_eq!(c[0].series.len(), 6);
        assert_eq!(c[0].series[1].points, [(0.0, 60.0), (1.0, 80.0)]);
        assert_eq!(c.len(), 2, "losses get a chart");
        assert_eq!(c[1].series[0].points[1], (1.0, 1000.0));
        let names: Vec<&str> = c[1].series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["lost deliveries", "receivers dropped"],
            "none all zero"
        );
    }

    #[test]
    fn json_report() {
        let j = r#"{"url":"ws://h:1","clients":10,"connected":10,"rate":100.0,"size":64,
            "duration_s":1.0,"published":100,"expected":1000,"delivered":1000,"lost":0,
            "duplicates":0,"dropped":0,"late":0,"histogram":"",
            "latency":{"count":1000,"min_us":1.0,"median_us":2.0,"max_us":3.0,"mean_us":2.0,
            "stddev_us":0.5,"p90_us":2.5,"p99_us":2.9,"p999_us":3.0}}"#;
        let r: Run = serde_json::from_str(j).unwrap();
        let c = charts(&[r]);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].series[0].points, [(0.0, 1.0)]);
    }
}
