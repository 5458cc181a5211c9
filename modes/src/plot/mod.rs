//! `wstest plot`: pictures of a load run. Reads a result file, tells its kind from its
//! content, and draws it as SVG (and, optionally, an HTML report with the figures):
//!
//! * wsperfcontrol's TSV or JSON, scripts/wsperf-sweep.sh's TSV: round-trip percentiles
//!   per case, messages per second, percentile curves ([`wsperf`]);
//! * massconnect's JSON: open connections and events per second over time, connect and
//!   handshake percentile curves; its `--tsv` summary ([`massconnect`]);
//! * broadcastclient --clients' TSV or JSON, scripts/fanout-compare.sh's TSV: delivery
//!   latency per run ([`fanout`]).

pub mod chart;
pub mod detect;
pub mod fanout;
pub mod html;
pub mod massconnect;
pub mod quantiles;
pub mod scale;
pub mod svg;
pub mod table;
pub mod wsperf;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::report::write_atomic;
use crate::{ModeError, Result};
use chart::Chart;
use detect::{detect, Kind, KNOWN};
use table::Table;

#[derive(Clone, Debug)]
pub struct PlotConfig {
    pub input: PathBuf,
    /// The SVG to write.
    pub svg: PathBuf,
    /// The HTML report to write too.
    pub html: Option<PathBuf>,
}

impl PlotConfig {
    /// The outputs `-o` names: `X.html` → the report and `X.svg` beside it; anything else
    /// → that SVG; none → the input's name with `.svg`.
    pub fn new(input: PathBuf, out: Option<PathBuf>) -> PlotConfig {
        let out = out.unwrap_or_else(|| input.with_extension("svg"));
        let html = out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
        if html {
            PlotConfig {
                input,
                svg: out.with_extension("svg"),
                html: Some(out),
            }
        } else {
            PlotConfig {
                input,
                svg: out,
                html: None,
            }
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ChartSummary {
    pub title: String,
    pub series: Vec<String>,
    pub points: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlotReport {
    pub input: String,
    pub kind: String,
    pub svg: String,
    pub html: Option<String>,
    pub charts: Vec<ChartSummary>,
}

impl PlotReport {
    pub fn line(&self) -> String {
        let mut s = format!(
            "plot: {} ({}) -> {}: {} charts",
            self.input,
            self.kind,
            self.svg,
            self.charts.len()
        );
        if let Some(h) = &self.html {
            s.push_str(&format!(", report {h}"));
        }
        s
    }
}

/// The charts for `text`, a file of kind `kind` (`name` is for messages).
pub fn charts(kind: &Kind, text: &str, name: &str) -> Result<Vec<Chart>> {
    let bad = |e: serde_json::Error| {
        bad_input(name, format!("looks like a {} but: {e}", kind.describe()))
    };
    Ok(match kind {
        Kind::WsperfTsv { sep } => wsperf::tsv_charts(&Table::parse(text, sep)),
        Kind::SweepTsv => wsperf::sweep_charts(&Table::parse(text, "\t")),
        Kind::WsperfJson => {
            let v: serde_json::Value = serde_json::from_str(text).map_err(bad)?;
            let rows = v.get("rows").cloned().unwrap_or(v);
            wsperf::json_charts(&serde_json::from_value::<Vec<wsperf::Row>>(rows).map_err(bad)?)
        }
        Kind::MassconnectJson => {
            massconnect::json_charts(&serde_json::from_str(text).map_err(bad)?)
        }
        Kind::MassconnectTsv => massconnect::tsv_charts(&Table::parse(text, "\t")),
        Kind::FanoutTsv => fanout::charts(&fanout::from_tsv(&Table::parse(text, "\t"))),
        Kind::FanoutJson => {
            let v: serde_json::Value = serde_json::from_str(text).map_err(bad)?;
            let runs = match v {
                serde_json::Value::Array(_) => serde_json::from_value(v).map_err(bad)?,
                v => vec![serde_json::from_value(v).map_err(bad)?],
            };
            fanout::charts(&runs)
        }
    })
}

/// An input file that cannot be drawn: which, and why.
fn bad_input(file: &str, problem: String) -> ModeError {
    crate::error::ConfigError::File {
        file: file.to_string(),
        problem,
    }
    .into()
}

pub fn run(cfg: &PlotConfig) -> Result<PlotReport> {
    let name = cfg.input.display().to_string();
    let bytes =
        std::fs::read(&cfg.input).map_err(|e| ModeError::io(format!("cannot read {name}"), e))?;
    let text = String::from_utf8_lossy(&bytes);
    let kind = detect(&text)
        .ok_or_else(|| bad_input(&name, format!("not a known kind of result ({KNOWN})")))?;
    let charts = charts(&kind, &text, &name)?;
    let charts: Vec<Chart> = charts.into_iter().filter(|c| !c.is_empty()).collect();
    if charts.is_empty() {
        return Err(bad_input(
            &name,
            format!(
                "a {} with nothing to plot (no row has figures)",
                kind.describe()
            ),
        ));
    }
    write_atomic(&cfg.svg, chart::document(&charts).as_bytes())?;
    let file = Path::new(&name)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.clone());
    if let Some(h) = &cfg.html {
        let title = format!("{}: {file}", kind.describe());
        write_atomic(h, html::page(&title, &name, &charts).as_bytes())?;
    }
    Ok(PlotReport {
        input: name,
        kind: kind.describe().into(),
        svg: cfg.svg.display().to_string(),
        html: cfg.html.as_ref().map(|h| h.display().to_string()),
        charts: charts
            .iter()
            .map(|c| ChartSummary {
                title: c.title.clone(),
                series: c.series.iter().map(|s| s.name.clone()).collect(),
                points: c.series.iter().map(|s| s.points.len()).sum(),
            })
            .collect(),
    })
}

impl crate::report::Outcome for PlotReport {
    fn summary(&self) -> String {
        self.line()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_from_dash_o() {
        let c = PlotConfig::new("r/run.json".into(), None);
        assert_eq!((c.svg, c.html), ("r/run.svg".into(), None));
        let c = PlotConfig::new("run.json".into(), Some("out/a.html".into()));
        assert_eq!(
            (c.svg, c.html),
            ("out/a.svg".into(), Some("out/a.html".into()))
        );
        let c = PlotConfig::new("run.json".into(), Some("a.svg".into()));
        assert_eq!((c.svg, c.html), ("a.svg".into(), None));
    }

    #[test]
    fn an_unknown_file_is_named_in_one_line() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("notes.txt");
        std::fs::write(&f, "hello\tworld\n1\t2\n").unwrap();
        let e = run(&PlotConfig::new(f.clone(), None))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("{}: not a known kind", f.display())),
            "{e}"
        );
        assert!(!e.contains('\n'));
        assert!(!d.path().join("notes.svg").exists());
    }

    #[test]
    fn only_failed_rows_is_nothing_to_plot() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("r.tsv");
        std::fs::write(&f, "name\toutcome\tcount\tsize\tmin\tmedian\nx\tFAILED\n").unwrap();
        let e = run(&PlotConfig::new(f, None)).unwrap_err().to_string();
        assert!(e.contains("nothing to plot"), "{e}");
    }
}
