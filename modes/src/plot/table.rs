//! A TSV (or other separator) table: a header and rows, cells found by column name; and
//! the case labels that name only what differs between rows.

/// A header line and the rows under it.
#[derive(Clone, Debug)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Split `text` on `sep`; blank lines and lines starting with `#` are skipped.
    pub fn parse(text: &str, sep: &str) -> Table {
        let mut lines = text
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
        let split = |l: &str| l.split(sep).map(|c| c.trim().to_string()).collect();
        let header = lines.next().map(split).unwrap_or_default();
        let rows = lines.map(split).collect();
        Table { header, rows }
    }

    pub fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    pub fn has(&self, names: &[&str]) -> bool {
        names.iter().all(|n| self.col(n).is_some())
    }

    /// The cell of `row` in column `name` ("" when either is missing).
    pub fn get<'a>(&self, row: &'a [String], name: &str) -> &'a str {
        self.col(name)
            .and_then(|i| row.get(i))
            .map(String::as_str)
            .unwrap_or("")
    }

    /// The cell as a number (`None` when empty or not a number).
    pub fn num(&self, row: &[String], name: &str) -> Option<f64> {
        self.get(row, name)
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
    }
}

/// Labels for cases described by (field, value) pairs: each case is named by the fields
/// whose values differ between cases; the fields all share make the common part.
/// Returns (labels, common).
pub fn labels(cases: &[Vec<(String, String)>]) -> (Vec<String>, String) {
    let varies = |k: &str| {
        let mut vals = cases
            .iter()
            .map(|c| c.iter().find(|(f, _)| f == k).map(|p| &p.1));
        let first = vals.next().flatten();
        vals.any(|v| v != first)
    };
    let fields: Vec<String> = cases
        .first()
        .map(|c| c.iter().map(|p| p.0.clone()).collect())
        .unwrap_or_default();
    let (vary, same): (Vec<&String>, Vec<&String>) = fields.iter().partition(|f| varies(f));
    let show = |c: &[(String, String)], f: &str| {
        c.iter()
            .find(|p| p.0 == f)
            .filter(|p| !p.1.is_empty())
            .map(|(k, v)| {
                if k.is_empty() {
                    v.clone()
                } else {
                    format!("{k}={v}")
                }
            })
    };
    let labels: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let l: Vec<String> = vary.iter().filter_map(|f| show(c, f)).collect();
            if !l.is_empty() {
                return l.join(" ");
            }
            // Nothing differs: the first field that says something, numbered if repeated.
            let first = c.iter().find(|p| !p.1.is_empty()).map(|p| p.1.clone());
            match (first, cases.len()) {
                (Some(f), 1) => f,
                (Some(f), _) => format!("{f} #{}", i + 1),
                (None, _) => format!("case {}", i + 1),
            }
        })
        .collect();
    // Cases the fields cannot tell apart (the original's TSV has no connection count):
    // numbered by row.
    let labels: Vec<String> = labels
        .iter()
        .enumerate()
        .map(|(i, l): (usize, &String)| {
            if labels.iter().filter(|m| *m == l).count() > 1 && !l.contains('#') {
                format!("{l} #{}", i + 1)
            } else {
                l.clone()
            }
        })
        .collect();
    let common = cases
        .first()
        .map(|c| {
            same.iter()
                .filter_map(|f| show(c, f))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    (labels, common)
}

/// A (field, value) pair for [`labels`]; an empty field name shows the value alone.
pub fn field(name: &str, value: impl ToString) -> (String, String) {
    (name.to_string(), value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cells_by_column_name() {
        let t = Table::parse("# note\na\tb\tc\r\n1\t2.5\t\n\n4\tx\n", "\t");
        assert_eq!(t.header, ["a", "b", "c"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.num(&t.rows[0], "b"), Some(2.5));
        assert_eq!(t.num(&t.rows[0], "c"), None);
        assert_eq!(t.num(&t.rows[1], "b"), None);
        assert_eq!(t.get(&t.rows[1], "c"), "");
        assert_eq!(t.get(&t.rows[1], "zz"), "");
        assert!(t.has(&["a", "c"]) && !t.has(&["a", "d"]));
    }

    #[test]
    fn labels_name_what_differs() {
        let case = |s: u32, c: u32| vec![field("", "wstest"), field("size", s), field("c", c)];
        let (l, common) = labels(&[case(64, 1), case(64, 8), case(1024, 1)]);
        assert_eq!(l, ["size=64 c=1", "size=64 c=8", "size=1024 c=1"]);
        assert_eq!(common, "wstest");
        let (l, common) = labels(&[case(64, 1), case(64, 1)]);
        assert_eq!(l, ["wstest #1", "wstest #2"]);
        let (l, _) = labels(&[case(64, 1), case(64, 1), case(128, 1)]);
        assert_eq!(l, ["size=64 #1", "size=64 #2", "size=128"]);
        let (l, _) = labels(&[case(64, 1)]);
        assert_eq!(l, ["wstest"]);
        let (l, _) = labels(&[vec![field("a", "")], vec![field("a", "")]]);
        assert_eq!(l, ["case 1", "case 2"]);
        assert_eq!(common, "wstest, size=64, c=1");
    }
}
