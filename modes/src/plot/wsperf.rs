//! Echo round trips: wsperfcontrol's (or wsperfmaster's) TSV in the original's columns, the
//! JSON beside it (every row's probe and result), and scripts/wsperf-sweep.sh's TSV.

use serde::Deserialize;

use super::chart::{Chart, Series, Style, XAxis};
use super::quantiles::{curve, curves_chart, per_case, Pcts};
use super::scale::Unit;
use super::table::{field, labels, Table};

/// The original's TSV: `name outcome count size min median max avg stddev q0 … q(N-1)`,
/// q(i) the upper bound of band i of N. Rows that did not pass carry no figures.
pub fn tsv_charts(t: &Table) -> Vec<Chart> {
    let nq = t.header.iter().filter(|h| h.starts_with('q')).count();
    // q(i) is the (i+1)/N quantile: the column for a percentile, when N lands on it.
    let q_col = |pct: f64| {
        (0..nq)
            .find(|i| (((i + 1) as f64 / nq as f64) * 100.0 - pct).abs() < 1e-9)
            .map(|i| format!("q{i}"))
    };
    let (c90, c99, c999) = (q_col(90.0), q_col(99.0), q_col(99.9));
    let cases: Vec<_> = t
        .rows
        .iter()
        .map(|r| vec![field("", t.get(r, "name")), field("size", t.get(r, "size"))])
        .collect();
    let (all, common) = labels(&cases);
    let (mut names, mut pcts, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for (r, name) in t.rows.iter().zip(all) {
        if t.num(r, "median").is_none() {
            skipped.push(format!("{name} {}", t.get(r, "outcome")));
            continue;
        }
        names.push(name);
        let q = |c: &Option<String>| c.as_deref().and_then(|c| t.num(r, c));
        pcts.push(Pcts {
            min: t.num(r, "min"),
            p50: t.num(r, "median"),
            p90: q(&c90),
            p99: q(&c99),
            p999: q(&c999),
            max: t.num(r, "max"),
        });
    }
    vec![per_case(
        "Echo round trip per case (wsperfcontrol)",
        &note(&common, &skipped),
        names,
        &pcts,
    )]
}

/// The subtitle: what every case shares, and the rows left out.
fn note(common: &str, skipped: &[String]) -> String {
    let mut s = common.to_string();
    if !skipped.is_empty() {
        if !s.is_empty() {
            s.push_str("; ");
        }
        s.push_str(&format!("not plotted (no figures): {}", skipped.join(", ")));
    }
    s
}

/// scripts/wsperf-sweep.sh: `target size connections threads window count outcome
/// median_us p90_us p99_us p999_us max_us msgs_per_s`.
pub fn sweep_charts(t: &Table) -> Vec<Chart> {
    let cases: Vec<_> = t
        .rows
        .iter()
        .map(|r| {
            vec![
                field("", t.get(r, "target")),
                field("size", t.get(r, "size")),
                field("c", t.get(r, "connections")),
                field("t", t.get(r, "threads")),
                field("w", t.get(r, "window")),
                field("n", t.get(r, "count")),
            ]
        })
        .collect();
    let (all, common) = labels(&cases);
    let (mut names, mut pcts, mut rates, mut skipped) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (r, name) in t.rows.iter().zip(all) {
        if t.num(r, "median_us").is_none() {
            skipped.push(format!("{name} {}", t.get(r, "outcome")));
            continue;
        }
        let i = names.len() as f64;
        names.push(name);
        pcts.push(Pcts {
            min: None,
            p50: t.num(r, "median_us"),
            p90: t.num(r, "p90_us"),
            p99: t.num(r, "p99_us"),
            p999: t.num(r, "p999_us"),
            max: t.num(r, "max_us"),
        });
        if let Some(v) = t.num(r, "msgs_per_s") {
            rates.push((i, v));
        }
    }
    let subtitle = note(&common, &skipped);
    let lat = per_case(
        "Echo round trip per case (wsperf sweep)",
        &subtitle,
        names.clone(),
        &pcts,
    );
    vec![lat, throughput(names, rates, &subtitle)]
}

fn throughput(names: Vec<String>, rates: Vec<(f64, f64)>, subtitle: &str) -> Chart {
    Chart {
        title: "Echoed messages per second per case".into(),
        subtitle: subtitle.into(),
        x: XAxis::Categories(names),
        x_label: "case".into(),
        y_label: "messages / s".into(),
        y_unit: Unit::Count,
        y_log: Some(false),
        series: vec![Series::new("msgs/s", rates, Style::Bars)],
        marks: Vec::new(),
    }
}

/// One row of the JSON beside wsperfcontrol's TSV (only what is plotted).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Row {
    pub server: String,
    pub probe: Probe,
    pub result: Outcome,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Probe {
    pub connections: u64,
    pub count: u64,
    pub size: u64,
    pub window: u64,
    pub threads: u64,
    pub rate: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Outcome {
    pub outcome: String,
    pub msgs_per_sec: f64,
    pub summary: wstest_engine::stats::Summary,
    pub histogram: String,
}

/// Most cases drawn as percentile curves.
const MAX_CURVES: usize = 8;

pub fn json_charts(rows: &[Row]) -> Vec<Chart> {
    let case = |r: &Row| {
        vec![
            field("", &r.server),
            field("size", r.probe.size),
            field("c", r.probe.connections),
            field("t", r.probe.threads),
            field("w", r.probe.window),
            field(
                "rate",
                r.probe.rate.map(|r| r.to_string()).unwrap_or_default(),
            ),
        ]
    };
    let cases: Vec<_> = rows.iter().map(case).collect();
    let (all, common) = labels(&cases);
    let (mut measured, mut names, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for (r, name) in rows.iter().zip(all) {
        if r.result.summary.count > 0 {
            measured.push(r);
            names.push(name);
        } else {
            skipped.push(format!("{name} {}", r.result.outcome));
        }
    }
    let subtitle = note(&common, &skipped);
    let pcts: Vec<Pcts> = measured
        .iter()
        .map(|r| Pcts::from_summary(&r.result.summary))
        .collect();
    let rates = measured
        .iter()
        .enumerate()
        .map(|(i, r)| (i as f64, r.result.msgs_per_sec))
        .collect();
    let mut charts = vec![
        per_case(
            "Echo round trip per case (wsperfcontrol)",
            &subtitle,
            names.clone(),
            &pcts,
        ),
        throughput(names.clone(), rates, &subtitle),
    ];
    if measured.len() <= MAX_CURVES {
        let curves: Vec<(String, Vec<(f64, f64)>)> = measured
            .iter()
            .zip(&names)
            .filter_map(|(r, n)| Some((n.clone(), curve(&r.result.histogram)?)))
            .collect();
        if !curves.is_empty() {
            charts.push(curves_chart(
                "Echo round trip by percentile",
                &subtitle,
                curves,
            ));
        }
    }
    charts
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL: &str = "name\toutcome\tcount\tsize\tmin\tmedian\tmax\tavg\tstddev\tq0\tq1\tq2\tq3\tq4\tq5\tq6\tq7\tq8\tq9\n\
        wstest\tPASSED\t1000\t64\t20.1\t31.0\t410.0\t33.0\t9.0\t25\t27\t29\t30\t31\t32\t34\t36\t40\t410\n\
        wstest\tFAILED\n\
        wstest\tPASSED\t1000\t1024\t22.0\t35.5\t500.0\t37.0\t9.0\t26\t28\t30\t33\t35\t36\t38\t40\t45\t500\n";

    #[test]
    fn original_tsv_deciles_give_p90_and_no_p99() {
        let t = Table::parse(ORIGINAL, "\t");
        let c = &tsv_charts(&t)[0];
        let names: Vec<&str> = c.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["min", "p50", "p90", "max"]);
        let p90 = &c.series[2].points;
        assert_eq!(p90, &[(0.0, 40.0), (1.0, 45.0)]);
        let XAxis::Categories(n) = &c.x else { panic!() };
        assert_eq!(n, &["size=64", "size=1024"]);
        assert_eq!(
            c.subtitle,
            "wstest; not plotted (no figures): wstest #2 FAILED"
        );
    }

    #[test]
    fn sweep_tsv_gives_percentiles_and_throughput() {
        let text = "target\tsize\tconnections\tthreads\twindow\tcount\toutcome\tmedian_us\tp90_us\tp99_us\tp999_us\tmax_us\tmsgs_per_s\n\
            wstest\t64\t1\t1\t1\t1000\tPASSED\t30\t40\t60\t90\t200\t30000\n\
            wstest\t64\t8\t1\t1\t1000\tPASSED\t50\t70\t90\t150\t400\t120000\n\
            wstest\t1024\t8\t1\t1\t1000\tTIMEOUT\t\t\t\t\t\t0\n";
        let c = sweep_charts(&Table::parse(text, "\t"));
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].series.len(), 5);
        let XAxis::Categories(n) = &c[0].x else {
            panic!()
        };
        assert_eq!(n, &["size=64 c=1", "size=64 c=8"]);
        assert_eq!(c[1].series[0].points, [(0.0, 30000.0), (1.0, 120000.0)]);
        assert!(
            c[0].subtitle.contains("size=1024 c=8 TIMEOUT"),
            "{}",
            c[0].subtitle
        );
    }

    #[test]
    fn json_rows_with_summaries() {
        let j = r#"[{"server":"a","probe":{"size":64,"connections":1},"result":{"outcome":"PASSED","msgs_per_sec":5.0,
            "summary":{"count":3,"min_us":1.0,"median_us":2.0,"max_us":9.0,"mean_us":3.0,"stddev_us":1.0,"p90_us":5.0,"p99_us":8.0,"p999_us":9.0},
            "histogram":""}},
            {"server":"a","probe":{"size":64,"connections":2},"result":{"outcome":"FAILED"}}]"#;
        let rows: Vec<Row> = serde_json::from_str(j).unwrap();
        let c = json_charts(&rows);
        assert_eq!(c.len(), 2, "no histogram, no curve chart");
        assert_eq!(c[0].series.len(), 6);
        assert!(c[0].subtitle.contains("c=2 FAILED"), "{}", c[0].subtitle);
    }
}
