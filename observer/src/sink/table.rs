//! The default view: a live table, one row per datagram as it arrives, a footer when it ends.
//! Rows are printed one at a time with fixed column widths so they line up without buffering.

use std::io::Write;

use prettytable::{Cell, Row, Table, format};

use super::{Corrected, Shown, Sink, Start, Summary, delay_text, read_wall_ns, result_text};
use crate::{judge::Outcome, notify, pairing::Delivered, safe_text, wall_time::Zone};

/// (title, width) of each column; the last one takes what it needs.
const COLUMNS: [(&str, usize); 12] = [
    ("TIME", 15),
    ("PID", 7),
    ("COMM", 15),
    ("UID", 5),
    ("SOCKET", 16),
    ("UNIT", 28),
    ("RESULT", 9),
    ("CREDS", 9),
    ("FDS", 3),
    // From the send to the manager's read of it (`unread`: never read; `-`: not known).
    ("DELAY", 7),
    ("VERDICT", 13),
    ("MESSAGE", 0),
];

pub struct TableSink<W: Write> {
    out: W,
    /// Local time like journalctl's, or UTC (`--utc`).
    zone: Zone,
}

impl<W: Write> TableSink<W> {
    pub fn new(out: W, zone: Zone) -> Self {
        Self { out, zone }
    }

    /// One row. Each cell is escaped before it is fitted (so columns stay aligned), and the row
    /// once more as a whole: nothing hidden reaches the terminal, whatever a cell held.
    fn row(&mut self, cells: &[String]) -> std::io::Result<()> {
        let cells = cells
            .iter()
            .zip(COLUMNS)
            .map(|(text, (_, width))| Cell::new(&fit(&safe_text::text(text), width)));
        let mut table = Table::init(vec![Row::new(cells.collect())]);
        table.set_format(*format::consts::FORMAT_CLEAN);
        let mut row = Vec::new();
        table.print(&mut row)?;
        self.out
            .write_all(safe_text::lines(&String::from_utf8_lossy(&row)).as_bytes())
    }

    /// One line of text under the table's flow, escaped as one value.
    fn line(&mut self, text: &str) -> std::io::Result<()> {
        writeln!(self.out, "{}", safe_text::text(text))
    }
}

/// Pads or cuts `text` to `width` characters (0: as is).
fn fit(text: &str, width: usize) -> String {
    if width == 0 {
        return text.to_string();
    }
    let n = text.chars().count();
    if n > width {
        format!("{}…", text.chars().take(width - 1).collect::<String>())
    } else {
        format!("{text:<width$}")
    }
}

impl<W: Write> Sink for TableSink<W> {
    /// The strategy and sockets go to stderr (pipeline/stderr.rs); the table starts with its titles.
    fn start(&mut self, _: &Start<'_>) -> std::io::Result<()> {
        let titles: Vec<String> = COLUMNS.iter().map(|(t, _)| t.to_string()).collect();
        self.row(&titles)?;
        self.flush()
    }

    fn event(&mut self, shown: &Shown<'_>) -> std::io::Result<()> {
        let (ev, j) = (shown.event, shown.judgement);
        let creds = ev
            .creds
            .map(|c| format!("pid {}", c.pid))
            .unwrap_or_else(|| "-".into());
        let mut message = notify::summary(&ev.fields());
        if let Some(incomplete) = ev.incomplete_text() {
            message = format!("{incomplete} {message}");
        }
        if j.delivery.sender_payload.is_some() {
            message = format!(
                "[as the manager read it; the sender's buffer showed other bytes] {message}"
            );
        }
        // A rejection stands out: its row says why in systemd's words, and how to fix it.
        let verdict = match j.outcome {
            Outcome::Rejected => "REJECTED".to_string(),
            other => other.to_string(),
        };
        if let Some(v) = j.verdict.as_ref().filter(|v| !v.accepted) {
            message = format!("{message}  ← {}", v.reason);
            if !v.hint.is_empty() {
                message = format!("{message}  (fix: {})", v.hint);
            }
        }
        self.row(&[
            self.zone.clock_us(ev.wall_ns),
            ev.pid.to_string(),
            ev.comm.clone(),
            ev.uid.to_string(),
            shown.socket.label.to_string(),
            j.unit.clone().unwrap_or_else(|| "-".into()),
            result_text(ev.result),
            creds,
            ev.fds.to_string(),
            delay_text(&j.delivery),
            verdict,
            message,
        ])
    }

    /// One line under the table's flow: the datagram shown earlier as not read yet.
    fn delivery(&mut self, corrected: &Corrected<'_>) -> std::io::Result<()> {
        let c = corrected.correction;
        let ev = &c.event;
        let sent = self.zone.clock_us(ev.wall_ns);
        let what = notify::summary(&ev.fields());
        let unit = c.unit.as_deref().unwrap_or("-");
        let d = &c.delivery;
        let outcome = match d.delivered {
            Delivered::Yes => {
                let at = read_wall_ns(ev, d)
                    .map(|ns| self.zone.clock_us(ns))
                    .unwrap_or_default();
                let creds = d
                    .manager_creds
                    .map(|c| format!(" as from PID {}", c.pid))
                    .unwrap_or_default();
                format!(
                    "read by the manager at {}, {} after it was sent{creds}",
                    at,
                    delay_text(d)
                )
            }
            _ => d.note.clone().unwrap_or_else(|| "unknown".into()),
        };
        let outcome = match (&d.sender_payload, d.delivered) {
            (Some(_), Delivered::Yes) => format!(
                "{outcome}, as other bytes than the sender's buffer showed ({})",
                notify::summary(&notify::parse(
                    d.sender_payload.as_deref().unwrap_or_default()
                ))
            ),
            _ => outcome,
        };
        self.line(&format!(
            " ↳ {} PID {} to {} ({unit}): {what} — {outcome}",
            sent, ev.pid, corrected.socket.label,
        ))
    }

    fn drops(&mut self, new: u64, total: u64) -> std::io::Result<()> {
        self.line(&format!(
            "!! {new} datagrams dropped: ring buffer full ({total} in all); try a larger --ring-size"
        ))
    }

    fn finish(&mut self, s: &Summary) -> std::io::Result<()> {
        let mut table = Table::new();
        table.set_titles(Row::new(
            ["EVENTS", "DROPPED", "UNTRACKED", "MALFORMED"]
                .iter()
                .map(|t| Cell::new(t))
                .collect(),
        ));
        table.add_row(Row::new(
            [s.events, s.dropped, s.untracked, s.malformed]
                .iter()
                .map(|n| Cell::new(&n.to_string()))
                .collect(),
        ));
        table.print(&mut self.out)?;
        self.flush()
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests;
