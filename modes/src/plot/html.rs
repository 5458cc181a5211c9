//! The HTML report: each chart inline, with its figures in a table under it.

use std::fmt::Write;

use super::chart::{document, Chart, XAxis};
use super::svg::escape;

/// A page titled `title` about `source`, one section per chart.
pub fn page(title: &str, source: &str, charts: &[Chart]) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n\
         <style>body{{font-family:sans-serif;margin:24px;color:#222}}\
         table{{border-collapse:collapse;font-size:13px;margin:8px 0 24px}}\
         td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}\
         th:first-child,td:first-child{{text-align:left}}svg{{max-width:100%;height:auto}}</style>\n\
         </head><body>\n<h1>{t}</h1>\n<p>From <code>{s}</code>, drawn by <code>wstest plot</code>.</p>\n",
        t = escape(title),
        s = escape(source)
    );
    for c in charts {
        let _ = writeln!(h, "<section><h2>{}</h2>", escape(&c.title));
        let svg = document(std::slice::from_ref(c));
        // Inline: no XML declaration inside HTML.
        let svg = svg.split_once("?>\n").map(|p| p.1).unwrap_or(&svg);
        h.push_str(svg);
        h.push_str(&table(c));
        h.push_str("</section>\n");
    }
    h.push_str("</body></html>\n");
    h
}

/// The chart's figures: a row per x position, a column per series.
fn table(c: &Chart) -> String {
    let mut xs: Vec<f64> = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let x_name = |x: f64| match &c.x {
        XAxis::Categories(n) => n.get(x as usize).cloned().unwrap_or_default(),
        XAxis::Linear => super::scale::short(x),
        XAxis::Ticks(_) => format!(
            "{}%",
            super::scale::short_pct(100.0 - 100.0 * 10f64.powf(-x))
        ),
    };
    let mut t = String::from("<details><summary>figures</summary><table><tr>");
    let _ = write!(t, "<th>{}</th>", escape(&c.x_label));
    for s in &c.series {
        let _ = write!(t, "<th>{}</th>", escape(&s.name));
    }
    t.push_str("</tr>\n");
    for x in xs {
        let _ = write!(t, "<tr><td>{}</td>", escape(&x_name(x)));
        for s in &c.series {
            let v = s
                .points
                .iter()
                .find(|p| p.0 == x)
                .map(|p| c.y_unit.label(p.1))
                .unwrap_or_default();
            let _ = write!(t, "<td>{}</td>", escape(&v));
        }
        t.push_str("</tr>\n");
    }
    t.push_str("</table></details>\n");
    t
}

#[cfg(test)]
mod tests {
    use super::super::chart::{Series, Style};
    use super::super::scale::Unit;
    use super::*;

    #[test]
    fn a_section_per_chart_with_its_figures() {
        let c = Chart {
            title: "A <b>".into(),
            subtitle: String::new(),
            x: XAxis::Categories(vec!["one".into(), "two".into()]),
            x_label: "case".into(),
            y_label: "latency".into(),
            y_unit: Unit::Micros,
            y_log: None,
            series: vec![Series::new(
                "p50",
                vec![(0.0, 5.0), (1.0, 2500.0)],
                Style::Line,
            )],
            marks: Vec::new(),
        };
        let h = page("T", "in.tsv", &[c]);
        assert!(h.contains("<h2>A &lt;b&gt;</h2>"));
        assert!(h.contains("<td>two</td><td>2.5 ms</td>"), "{h}");
        assert!(!h.contains("<?xml"));
        assert_eq!(h.matches("<svg").count(), 1);
    }
}
