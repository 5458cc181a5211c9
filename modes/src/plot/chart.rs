//! What a chart shows (series over an x axis) and how one is drawn: title, axes with nice
//! ticks, a logarithmic y axis where the spread needs it, grid, series, legend.

use super::scale::{linear_scale, Scale, Unit};
use super::svg::{text_width, Anchor, Font, Svg};

/// The x axis: named categories (one per case or run), seconds, or custom ticks (the
/// percentiles of a latency curve).
#[derive(Clone, Debug)]
pub enum XAxis {
    /// Point x = category index.
    Categories(Vec<String>),
    Linear,
    Ticks(Vec<(f64, String)>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Line through dots (dots dropped when there are many points).
    Line,
    /// Dashed line, no dots (a target, a reference).
    Dashed,
    /// Bars side by side per category (categories only).
    Bars,
}

#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>, style: Style) -> Series {
        Series {
            name: name.into(),
            points,
            style,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Chart {
    pub title: String,
    /// A second line: what all points have in common, notes.
    pub subtitle: String,
    pub x: XAxis,
    pub x_label: String,
    pub y_label: String,
    pub y_unit: Unit,
    /// `None`: logarithmic when the values spread far enough.
    pub y_log: Option<bool>,
    pub series: Vec<Series>,
    /// Vertical dashed markers: x, label.
    pub marks: Vec<(f64, String)>,
}

impl Chart {
    pub fn is_empty(&self) -> bool {
        self.series.iter().all(|s| s.points.is_empty())
    }
}

/// Chart width in pixels.
pub const WIDTH: f64 = 1000.0;
const COLORS: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22",
];
const LEFT: f64 = 80.0;
const TOP: f64 = 58.0;
const PLOT_H: f64 = 280.0;
const TICK: Font = Font::new(11.0, Anchor::Middle);
const LEGEND_FONT: f64 = 12.0;
const MAX_LABEL: usize = 32;

pub fn color(i: usize) -> &'static str {
    COLORS[i % COLORS.len()]
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// Where the plot area sits: charts of one document share it, so their axes line up.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub left: f64,
    pub legend: f64,
}

impl Layout {
    /// Room for every chart's legend, and for category names turned under the first
    /// category (they reach left of it).
    pub fn of(charts: &[Chart]) -> Layout {
        let legend = charts
            .iter()
            .flat_map(|c| &c.series)
            .map(|s| text_width(&clip(&s.name, MAX_LABEL), LEGEND_FONT) + 34.0)
            .fold(0.0, f64::max)
            .clamp(90.0, 250.0);
        let mut left = LEFT;
        for c in charts {
            if let XAxis::Categories(names) = &c.x {
                let plot_w = WIDTH - LEFT - legend - 30.0;
                let slot = plot_w / names.len().max(1) as f64;
                let widest = names
                    .iter()
                    .map(|n| text_width(&clip(n, MAX_LABEL), TICK.size))
                    .fold(0.0, f64::max);
                if widest > slot * 0.92 {
                    // A name turned by 40° reaches cos 40° of its width left of its tick.
                    left = left.max(widest * 0.77 - slot / 2.0 + 12.0);
                }
            }
        }
        Layout {
            left: left.min(WIDTH / 3.0),
            legend,
        }
    }
}

/// Draw `c`; returns the drawing and its height.
pub fn render(c: &Chart, layout: Layout) -> (Svg, f64) {
    let mut svg = Svg::new();
    let plot_w = WIDTH - layout.left - layout.legend - 30.0;
    let (x0, y0) = (layout.left, TOP);

    let title = Font {
        bold: true,
        ..Font::new(16.0, Anchor::Start)
    };
    svg.text(16.0, 24.0, &c.title, title);
    if !c.subtitle.is_empty() {
        let f = Font {
            fill: "#555",
            ..Font::new(12.0, Anchor::Start)
        };
        svg.text(16.0, 42.0, &clip(&c.subtitle, 150), f);
    }

    // The y axis over every point's value.
    let ys = c.series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (ymin, ymax) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (ymin, ymax) = if ymin.is_finite() {
        (ymin, ymax)
    } else {
        (0.0, 1.0)
    };
    // A little headroom on a linear axis: a line at the very top is hard to see.
    let ys = Scale::auto(ymin, ymax, c.y_log);
    let ys = if ys.log || ymax < ys.hi * 0.97 {
        ys
    } else {
        Scale::auto(ymin, ymax * 1.04, c.y_log)
    };
    let y_at = |v: f64| y0 + PLOT_H - ys.frac(v).clamp(-0.02, 1.02) * PLOT_H;

    // The x axis.
    let n_cat = match &c.x {
        XAxis::Categories(names) => names.len().max(1),
        _ => 0,
    };
    let xs = match &c.x {
        XAxis::Categories(_) => Scale {
            lo: -0.5,
            hi: n_cat as f64 - 0.5,
            log: false,
            ticks: Vec::new(),
        },
        XAxis::Linear => {
            let xs = c.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
            let (a, b) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
            let (a, b) = if a.is_finite() { (a, b) } else { (0.0, 1.0) };
            linear_scale(a.min(0.0), b, 10)
        }
        XAxis::Ticks(t) => {
            let xs = c.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
            let lo = t.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
            let hi = t
                .iter()
                .map(|p| p.0)
                .chain(xs)
                .fold(f64::NEG_INFINITY, f64::max);
            Scale {
                lo: if lo.is_finite() { lo } else { 0.0 },
                hi: if hi > lo { hi } else { lo + 1.0 },
                log: false,
                ticks: Vec::new(),
            }
        }
    };
    let x_at = |v: f64| x0 + xs.frac(v) * plot_w;

    // Grid and y ticks.
    let grid = "#e4e4e4";
    for t in &ys.ticks {
        let y = y_at(*t);
        svg.line(x0, y, x0 + plot_w, y, grid, 1.0, "");
        let f = Font {
            anchor: Anchor::End,
            ..TICK
        };
        svg.text(x0 - 6.0, y + 4.0, &c.y_unit.label(*t), f);
    }
    // x ticks and labels; category names turn when they do not fit their slot.
    let mut bottom = 22.0;
    match &c.x {
        XAxis::Categories(names) => {
            let slot = plot_w / n_cat as f64;
            let labels: Vec<String> = names.iter().map(|n| clip(n, MAX_LABEL)).collect();
            let widest = labels
                .iter()
                .map(|l| text_width(l, TICK.size))
                .fold(0.0, f64::max);
            let turn = widest > slot * 0.92;
            for (i, l) in labels.iter().enumerate() {
                let x = x_at(i as f64);
                svg.line(x, y0 + PLOT_H, x, y0 + PLOT_H + 4.0, "#888", 1.0, "");
                if turn {
                    let f = Font {
                        anchor: Anchor::End,
                        rotate: -40.0,
                        ..TICK
                    };
                    svg.text(x + 3.0, y0 + PLOT_H + 14.0, l, f);
                } else {
                    svg.text(x, y0 + PLOT_H + 17.0, l, TICK);
                }
            }
            if turn {
                bottom = widest * 0.65 + 22.0;
            }
        }
        XAxis::Linear => {
            for t in &xs.ticks {
                let x = x_at(*t);
                svg.line(x, y0, x, y0 + PLOT_H, grid, 1.0, "");
                svg.text(x, y0 + PLOT_H + 17.0, &Unit::Count.label(*t), TICK);
            }
        }
        XAxis::Ticks(ticks) => {
            for (v, l) in ticks {
                let x = x_at(*v);
                svg.line(x, y0, x, y0 + PLOT_H, grid, 1.0, "");
                svg.text(x, y0 + PLOT_H + 17.0, l, TICK);
            }
        }
    }
    // Axis lines and names.
    svg.line(x0, y0, x0, y0 + PLOT_H, "#444", 1.0, "");
    svg.line(x0, y0 + PLOT_H, x0 + plot_w, y0 + PLOT_H, "#444", 1.0, "");
    let axis_name = Font::new(12.0, Anchor::Middle);
    svg.text(
        x0 + plot_w / 2.0,
        y0 + PLOT_H + bottom + 14.0,
        &c.x_label,
        axis_name,
    );
    let y_name = if ys.log {
        format!("{} (log scale)", c.y_label)
    } else {
        c.y_label.clone()
    };
    let yf = Font {
        rotate: -90.0,
        ..axis_name
    };
    svg.text(18.0, y0 + PLOT_H / 2.0, &y_name, yf);

    // Markers; those closer than a label's height share one label.
    let mut marks: Vec<(f64, String)> =
        c.marks.iter().map(|(v, l)| (x_at(*v), l.clone())).collect();
    marks.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut labels: Vec<(f64, String)> = Vec::new();
    for (x, l) in marks {
        svg.line(x, y0, x, y0 + PLOT_H, "#999", 1.0, "3 3");
        match labels.last_mut() {
            Some((lx, ll)) if x - *lx < 12.0 => {
                *lx = x;
                ll.push_str(", ");
                ll.push_str(&l);
            }
            _ => labels.push((x, l)),
        }
    }
    for (x, l) in labels {
        let f = Font {
            fill: "#555",
            anchor: Anchor::End,
            rotate: -90.0,
            ..Font::new(10.0, Anchor::End)
        };
        svg.text(x - 3.0, y0 + 4.0, &l, f);
    }

    // Series.
    let bars: Vec<usize> = (0..c.series.len())
        .filter(|i| c.series[*i].style == Style::Bars)
        .collect();
    let slot = plot_w / n_cat.max(1) as f64;
    for (i, s) in c.series.iter().enumerate() {
        let col = color(i);
        match s.style {
            Style::Bars => {
                let k = bars.iter().position(|b| *b == i).unwrap_or(0);
                let bw = slot * 0.7 / bars.len() as f64;
                let base = y_at(if ys.log { ys.lo } else { 0.0f64.max(ys.lo) });
                for (x, v) in &s.points {
                    let left = x_at(*x) - slot * 0.35 + k as f64 * bw;
                    let top = y_at(*v);
                    svg.rect(left, top, bw - 1.0, base - top, col, "");
                }
            }
            Style::Line | Style::Dashed => {
                let pts: Vec<(f64, f64)> =
                    s.points.iter().map(|(x, y)| (x_at(*x), y_at(*y))).collect();
                let dash = if s.style == Style::Dashed { "6 4" } else { "" };
                if pts.len() > 1 {
                    svg.polyline(&pts, col, 2.0, dash);
                }
                if s.style == Style::Line && (pts.len() <= 60 || pts.len() == 1) {
                    for (x, y) in &pts {
                        svg.circle(*x, *y, 3.0, col);
                    }
                }
            }
        }
    }

    // Legend, right of the plot.
    let lx = x0 + plot_w + 20.0;
    for (i, s) in c.series.iter().enumerate() {
        let y = y0 + 8.0 + i as f64 * 18.0;
        let col = color(i);
        match s.style {
            Style::Bars => svg.rect(lx, y - 6.0, 14.0, 10.0, col, ""),
            Style::Dashed => svg.line(lx, y, lx + 18.0, y, col, 2.0, "6 4"),
            Style::Line => {
                svg.line(lx, y, lx + 18.0, y, col, 2.0, "");
                svg.circle(lx + 9.0, y, 3.0, col);
            }
        }
        svg.text(
            lx + 24.0,
            y + 4.0,
            &clip(&s.name, MAX_LABEL),
            Font::new(LEGEND_FONT, Anchor::Start),
        );
    }
    let legend_h = c.series.len() as f64 * 18.0 + 8.0;
    let height = (y0 + PLOT_H + bottom + 30.0).max(y0 + legend_h + 10.0);
    (svg, height)
}

/// Charts one under another in one document titled `title`.
pub fn document(charts: &[Chart]) -> String {
    let layout = Layout::of(charts);
    let mut all = Svg::new();
    let mut y = 0.0;
    for c in charts {
        let (svg, h) = render(c, layout);
        all.append(&svg, y);
        y += h + 10.0;
    }
    all.finish(WIDTH, y.max(100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(x: XAxis, series: Vec<Series>) -> Chart {
        Chart {
            title: "t".into(),
            subtitle: String::new(),
            x,
            x_label: "x".into(),
            y_label: "y".into(),
            y_unit: Unit::Micros,
            y_log: None,
            series,
            marks: vec![(1.0, "m".into()), (1.001, "n".into())],
        }
    }

    #[test]
    fn long_category_names_turn_and_grow_the_chart() {
        let pts = vec![(0.0, 10.0), (1.0, 20.0)];
        let short = chart(
            XAxis::Categories(vec!["a".into(), "b".into()]),
            vec![Series::new("s", pts.clone(), Style::Line)],
        );
        let long = chart(
            XAxis::Categories(
                (0..40)
                    .map(|i| format!("case number {i} of many"))
                    .collect(),
            ),
            vec![Series::new("s", pts, Style::Bars)],
        );
        let (a, ha) = render(&short, Layout::of(std::slice::from_ref(&short)));
        let layout = Layout::of(std::slice::from_ref(&long));
        assert!(layout.left > LEFT, "room for the first turned name");
        let (b, hb) = render(&long, layout);
        assert!(hb > ha);
        let (a, b) = (a.finish(1.0, 1.0), b.finish(1.0, 1.0));
        assert!(!a.contains("rotate(-40"));
        assert!(a.contains(">m, n</text>"), "close marks share a label");
        assert!(b.contains("rotate(-40") && b.contains("<rect x="));
    }

    #[test]
    fn a_wide_spread_gets_a_log_axis_named_so() {
        let c = chart(
            XAxis::Linear,
            vec![Series::new(
                "s",
                vec![(0.0, 10.0), (5.0, 90_000.0)],
                Style::Line,
            )],
        );
        let doc = document(&[c]);
        assert!(
            doc.contains("y (log scale)") && doc.contains(">100 ms<"),
            "{doc}"
        );
    }

    #[test]
    fn an_empty_chart_still_draws_axes() {
        let c = chart(XAxis::Linear, vec![Series::new("s", vec![], Style::Line)]);
        assert!(c.is_empty());
        let doc = document(&[c]);
        assert!(doc.contains("<line") && !doc.contains("NaN"));
    }
}
