//! Plot a wsperf sweep TSV (scripts/wsperf-sweep.sh) as an SVG: message size on a log axis,
//! two panels (median round trip in µs, messages per second), one line per target ×
//! connections × threads. Hand-written SVG on purpose: a plotting crate would pull a font
//! stack and image codecs into the workspace for two charts.
//!
//! usage: cargo run --release -p wstest-bench --bin plot -- SWEEP.tsv OUT.svg

use std::collections::BTreeMap;
use std::fmt::Write;

const W: f64 = 520.0;
const H: f64 = 320.0;
const PAD: f64 = 60.0;
const COLORS: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
];

type Series = BTreeMap<String, Vec<(f64, f64, f64)>>; // label → (size, median, msgs/s)

fn read(path: &str) -> Series {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().expect("empty TSV").split('\t').collect();
    let col = |n: &str| {
        head.iter()
            .position(|h| *h == n)
            .unwrap_or_else(|| panic!("{path}: no column {n:?}"))
    };
    let (t, s, c, th, o, m, r) = (
        col("target"),
        col("size"),
        col("connections"),
        col("threads"),
        col("outcome"),
        col("median_us"),
        col("msgs_per_s"),
    );
    let mut series = Series::new();
    for l in lines {
        let v: Vec<&str> = l.split('\t').collect();
        if v.len() < head.len() || v[o] != "PASSED" {
            continue;
        }
        let num = |i: usize| v[i].parse::<f64>().unwrap_or(0.0);
        let label = format!("{} c={} t={}", v[t], v[c], v[th]);
        series
            .entry(label)
            .or_default()
            .push((num(s).max(1.0), num(m), num(r)));
    }
    for pts in series.values_mut() {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    series
}

/// One panel at vertical offset `y0`; `pick` chooses the value plotted.
fn panel(
    svg: &mut String,
    series: &Series,
    y0: f64,
    title: &str,
    pick: fn(&(f64, f64, f64)) -> f64,
) {
    let all: Vec<&(f64, f64, f64)> = series.values().flatten().collect();
    let (xmin, xmax) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let ymax = all.iter().map(|p| pick(p)).fold(0.0, f64::max) * 1.1;
    let (lx0, lx1) = (xmin.log2(), xmax.log2().max(xmin.log2() + 1.0));
    let x = |v: f64| PAD + (v.log2() - lx0) / (lx1 - lx0) * (W - 2.0 * PAD);
    let y = |v: f64| y0 + H - PAD - v / ymax.max(1e-9) * (H - 2.0 * PAD);
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" font-size="14" text-anchor="middle">{title}</text>"#,
        W / 2.0,
        y0 + 24.0
    );
    let _ = write!(
        svg,
        r#"<line x1="{PAD}" y1="{}" x2="{}" y2="{}" stroke="black"/><line x1="{PAD}" y1="{}" x2="{PAD}" y2="{}" stroke="black"/>"#,
        y0 + H - PAD,
        W - PAD,
        y0 + H - PAD,
        y0 + PAD,
        y0 + H - PAD
    );
    for i in 0..=4 {
        let v = ymax * i as f64 / 4.0;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" font-size="10" text-anchor="end">{}</text>"#,
            PAD - 4.0,
            y(v) + 3.0,
            if v >= 10_000.0 {
                format!("{:.0}k", v / 1000.0)
            } else {
                format!("{v:.0}")
            }
        );
    }
    let mut sizes: Vec<f64> = all.iter().map(|p| p.0).collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    for s in sizes {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" font-size="10" text-anchor="middle">{s}</text>"#,
            x(s),
            y0 + H - PAD + 14.0
        );
    }
    for (i, (label, pts)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> = pts
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.0), y(pick(p))))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" font-size="10" fill="{color}">{label}</text>"#,
            W - PAD + 6.0,
            y0 + PAD + 12.0 * i as f64
        );
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 3 {
        eprintln!("usage: plot SWEEP.tsv OUT.svg");
        std::process::exit(2);
    }
    let series = read(&a[1]);
    if series.is_empty() {
        eprintln!("plot: no PASSED rows in {}", a[1]);
        std::process::exit(1);
    }
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>"#,
        W + 140.0,
        2.0 * H
    );
    panel(
        &mut svg,
        &series,
        0.0,
        "median round trip (µs) by message size (octets)",
        |p| p.1,
    );
    panel(
        &mut svg,
        &series,
        H,
        "messages per second by message size (octets)",
        |p| p.2,
    );
    svg.push_str("</svg>\n");
    std::fs::write(&a[2], svg).unwrap_or_else(|e| panic!("cannot write {}: {e}", a[2]));
    eprintln!("wrote {}", a[2]);
}
