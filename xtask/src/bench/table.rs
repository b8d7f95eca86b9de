//! A Markdown table whose columns also line up as plain text.

use std::fmt::Write as _;

/// A Markdown table whose columns are also aligned as plain text.
pub(super) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// How many leading columns are text (left-aligned); the rest are numbers.
    text_columns: usize,
}

impl Table {
    pub(super) fn new(header: &[&str], text_columns: usize) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            text_columns,
        }
    }

    pub(super) fn row(&mut self, r: Vec<String>) {
        self.rows.push(r);
    }

    pub(super) fn markdown(&self) -> String {
        let n = self.header.len();
        let mut w = vec![0usize; n];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(n) {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |r: &[String]| {
            let mut s = String::from("|");
            for (i, width) in w.iter().enumerate() {
                let c = r.get(i).map(String::as_str).unwrap_or("");
                let pad = width - c.chars().count();
                // Text left, numbers right.
                if i < self.text_columns {
                    let _ = write!(s, " {c}{} |", " ".repeat(pad));
                } else {
                    let _ = write!(s, " {}{c} |", " ".repeat(pad));
                }
            }
            s.push('\n');
            s
        };
        let mut out = line(&self.header);
        out.push('|');
        for (i, width) in w.iter().enumerate() {
            let dashes = "-".repeat((*width).max(3));
            if i < self.text_columns {
                let _ = write!(out, " {dashes} |");
            } else {
                let _ = write!(out, " {}: |", &dashes[1..]);
            }
        }
        out.push('\n');
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }
}
