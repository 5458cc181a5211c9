//! A small SVG writer: the handful of elements the charts draw, with text escaped.
//!
//! Hand-written rather than a plotting crate: none is in the tree, and the usual one brings
//! a font stack and image codecs along for what is, here, lines, dots, bars and text.

use std::fmt::Write;

/// Text in element content or an attribute value (escaped; what XML cannot carry dropped).
pub use crate::report::xml_escape as escape;

/// About how wide `s` is in a sans-serif font of `size` pixels (for layout: no font is
/// measured).
pub fn text_width(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size * 0.58
}

/// How text sits against its anchor point.
#[derive(Clone, Copy, Debug)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    fn name(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

/// Text style: size in pixels, anchor, colour, bold, rotation in degrees about the anchor.
#[derive(Clone, Copy, Debug)]
pub struct Font {
    pub size: f64,
    pub anchor: Anchor,
    pub fill: &'static str,
    pub bold: bool,
    pub rotate: f64,
}

impl Font {
    pub const fn new(size: f64, anchor: Anchor) -> Font {
        Font {
            size,
            anchor,
            fill: "#222",
            bold: false,
            rotate: 0.0,
        }
    }
}

/// Elements written one after another; `finish` wraps them in the document.
#[derive(Default)]
pub struct Svg {
    body: String,
}

impl Svg {
    pub fn new() -> Svg {
        Svg::default()
    }

    /// A line; `dash` is an SVG dash array ("4 3") or empty.
    #[allow(clippy::too_many_arguments)]
    pub fn line(
        &mut self,
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        stroke: &str,
        width: f64,
        dash: &str,
    ) {
        let _ = write!(
            self.body,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{}" stroke-width="{width}""#,
            escape(stroke)
        );
        if !dash.is_empty() {
            let _ = write!(self.body, r#" stroke-dasharray="{}""#, escape(dash));
        }
        self.body.push_str("/>\n");
    }

    /// A line through `points`.
    pub fn polyline(&mut self, points: &[(f64, f64)], stroke: &str, width: f64, dash: &str) {
        let pts: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = write!(
            self.body,
            r#"<polyline fill="none" stroke="{}" stroke-width="{width}" stroke-linejoin="round" points="{}""#,
            escape(stroke),
            pts.join(" ")
        );
        if !dash.is_empty() {
            let _ = write!(self.body, r#" stroke-dasharray="{}""#, escape(dash));
        }
        self.body.push_str("/>\n");
    }

    pub fn circle(&mut self, x: f64, y: f64, r: f64, fill: &str) {
        let _ = writeln!(
            self.body,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r}" fill="{}"/>"#,
            escape(fill)
        );
    }

    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, stroke: &str) {
        let _ = write!(
            self.body,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}""#,
            w.max(0.0),
            h.max(0.0),
            escape(fill)
        );
        if !stroke.is_empty() {
            let _ = write!(self.body, r#" stroke="{}""#, escape(stroke));
        }
        self.body.push_str("/>\n");
    }

    pub fn text(&mut self, x: f64, y: f64, s: &str, f: Font) {
        let _ = write!(
            self.body,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="{}" text-anchor="{}" fill="{}""#,
            f.size,
            f.anchor.name(),
            f.fill
        );
        if f.bold {
            self.body.push_str(r#" font-weight="bold""#);
        }
        if f.rotate != 0.0 {
            let _ = write!(
                self.body,
                r#" transform="rotate({} {x:.1} {y:.1})""#,
                f.rotate
            );
        }
        let _ = writeln!(self.body, ">{}</text>", escape(s));
    }

    /// Start a group moved down by `dy` (closed by `end_group`).
    pub fn begin_group(&mut self, dy: f64) {
        let _ = writeln!(self.body, r#"<g transform="translate(0 {dy:.1})">"#);
    }

    pub fn end_group(&mut self) {
        self.body.push_str("</g>\n");
    }

    /// Another writer's elements, moved down by `dy`.
    pub fn append(&mut self, other: &Svg, dy: f64) {
        self.begin_group(dy);
        self.body.push_str(&other.body);
        self.end_group();
    }

    /// The standalone document, `width` × `height` pixels on a white ground.
    pub fn finish(&self, width: f64, height: f64) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{}</svg>\n",
            self.body
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(escape(r#"a<b>&"c"#), "a&lt;b&gt;&amp;&quot;c");
        assert_eq!(escape("x\u{1}y\u{ffff}"), "xy");
    }

    #[test]
    fn a_document_with_each_element() {
        let mut s = Svg::new();
        s.line(0.0, 0.0, 1.0, 1.0, "#000", 1.0, "2 2");
        s.polyline(&[(0.0, 0.0), (1.5, 2.25)], "red", 2.0, "");
        s.circle(1.0, 1.0, 2.0, "blue");
        s.rect(0.0, 0.0, 3.0, -1.0, "green", "");
        s.text(5.0, 5.0, "p<99>", Font::new(12.0, Anchor::End));
        let doc = s.finish(100.0, 50.0);
        assert!(doc.starts_with("<?xml"));
        assert!(doc.contains(r#"points="0.0,0.0 1.5,2.2""#) || doc.contains("1.5,2.3"));
        assert!(doc.contains("height=\"0.0\""), "negative sizes are clamped");
        assert!(doc.contains(">p&lt;99&gt;</text>"));
        assert!(doc.trim_end().ends_with("</svg>"));
    }
}
