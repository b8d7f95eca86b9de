//! The page around the charts: a head with what was recorded, a legend naming every colour,
//! and per unit a heading, the chart beside the diagnose text, and a table of its marks.
//! Self-contained: the style is inline, the charts are inline SVG, nothing is fetched.
//!
//! Stable hooks for tools and tests: `section.unit#unit-NAME` with `data-unit` and
//! `data-manager` (the same name under a second manager: `#unit-NAME-2`), an `h2` with
//! the unit's name, `tr.mark` rows with the verdict or flag as a class and `data-verdict`,
//! `pre.diagnose`, `ul.legend li.legend-NAME` with `data-colour`.

use std::fmt::Write as _;

use super::timeline::{self, MAINPID_COLOUR, State, TIMEOUT_COLOUR, Timeline, Verdict};
use crate::{recording::records::Session, wall_time::Zone};

/// Text for the page: hidden characters made visible (safe_text; a bidi override would draw
/// the rest of a line reversed), then HTML's five entities.
pub fn escape(s: &str) -> String {
    let s = crate::safe_text::lines(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `#RRGGBB`, as plotters writes it into the SVG.
pub fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02X}{g:02X}{b:02X}")
}

const STYLE: &str = "
body { font-family: sans-serif; margin: 1.5em; color: #212121; }
header p { margin: 0.2em 0; }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.4em 1.2em; }
ul.legend .swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.3em; vertical-align: middle; border: 1px solid #9e9e9e; }
section.unit { border-top: 2px solid #bdbdbd; margin-top: 1.5em; }
.row { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure.timeline { margin: 0; }
pre.diagnose { flex: 1; min-width: 30em; white-space: pre-wrap; background: #fafafa; border: 1px solid #e0e0e0; padding: 0.6em; font-size: 0.85em; }
table.marks { border-collapse: collapse; font-size: 0.85em; margin-top: 0.6em; }
table.marks td, table.marks th { border: 1px solid #e0e0e0; padding: 0.15em 0.5em; text-align: left; vertical-align: top; }
table.marks td.verdict span { display: inline-block; width: 0.7em; height: 0.7em; border-radius: 50%; margin-right: 0.3em; }
p.damage { color: #C62828; }
";

pub struct Unit<'a> {
    pub name: &'a str,
    pub manager: &'a str,
    pub timeline: &'a Timeline,
    pub svg: String,
    pub diagnose: String,
}

pub fn page(
    session: Option<&Session>,
    files: &str,
    units: &[Unit<'_>],
    notes: &[String],
    zone: &Zone,
) -> String {
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(out, "<title>observer report: {}</title>", escape(files));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(out, "<header>\n<h1>Notify timeline: {}</h1>", escape(files));
    if let Some(s) = session {
        let _ = writeln!(
            out,
            "<p class=\"session\">Recorded on <b>{}</b> (kernel {}) from {} by observer {}, {} capture.</p>",
            escape(&s.host),
            escape(&s.kernel),
            escape(&started_text(&s.started, zone)),
            escape(&s.observer_version),
            escape(&s.strategy)
        );
    }
    let _ = writeln!(
        out,
        "<p class=\"zone\">Times are {}.</p>",
        escape(&zone.describe())
    );
    for n in notes {
        let _ = writeln!(out, "<p class=\"damage\">{}</p>", escape(n));
    }
    out += &legend();
    out += "</header>\n<main>\n";
    if units.is_empty() {
        out += "<p class=\"empty\">No unit in the recording matches.</p>\n";
    }
    // A unit of the same name under another manager gets its id numbered.
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    for u in units {
        let n = seen.entry(u.name).or_default();
        *n += 1;
        let id = match *n {
            1 => format!("unit-{}", u.name),
            n => format!("unit-{}-{n}", u.name),
        };
        out += &section(u, &id, zone);
    }
    out += "</main>\n</body>\n</html>\n";
    // Each text above is escaped; the charts' labels are too, here, with everything else.
    crate::safe_text::lines(&out).into_owned()
}

fn legend() -> String {
    let mut out = String::from("<ul class=\"legend\">\n");
    let mut item = |class: &str, colour: (u8, u8, u8), text: &str| {
        let c = hex(colour);
        let _ = writeln!(
            out,
            "<li class=\"legend-{class}\" data-colour=\"{c}\"><span class=\"swatch\" style=\"background:{c}\"></span>{}</li>",
            escape(text)
        );
    };
    for v in Verdict::ALL {
        item(v.name(), v.colour(), &format!("● message {}", v.describe()));
    }
    item(
        "mainpid",
        MAINPID_COLOUR,
        "▲ MainPID change (MAINPID= requests: ▲ in the message's colour)",
    );
    item(
        "timeout",
        TIMEOUT_COLOUR,
        "| start, watchdog or other timeout",
    );
    for s in State::ALL {
        item(s.name(), s.colour(), &format!("state: {}", s.name()));
    }
    out += "</ul>\n";
    out
}

fn section(u: &Unit<'_>, id: &str, zone: &Zone) -> String {
    let name = escape(u.name);
    let manager = escape(u.manager);
    let mut out = format!(
        "<section class=\"unit\" id=\"{}\" data-unit=\"{name}\" data-manager=\"{manager}\">\n<h2>{name}</h2>\n<p class=\"manager\">{manager}</p>\n<div class=\"row\">\n<figure class=\"timeline\">\n{}\n</figure>\n<pre class=\"diagnose\">{}</pre>\n</div>\n",
        escape(id),
        u.svg,
        escape(&u.diagnose)
    );
    out += "<table class=\"marks\">\n<thead><tr><th>time</th><th>unit</th><th>PID</th><th>verdict</th><th>message</th><th>why</th></tr></thead>\n<tbody>\n";
    // Messages and flags in time order.
    let mut rows: Vec<(i128, String)> = u
        .timeline
        .messages
        .iter()
        .map(|m| {
            (
                m.wall_ns,
                row(
                    zone,
                    &format!(
                        "message {}{}",
                        m.verdict.name(),
                        if m.mainpid { " mainpid-request" } else { "" }
                    ),
                    m.verdict.name(),
                    m.verdict.colour(),
                    m.wall_ns,
                    &name,
                    &format!("{} ({})", m.pid, m.comm),
                    &m.text,
                    &m.why,
                ),
            )
        })
        .collect();
    rows.extend(u.timeline.flags.iter().map(|f| {
        let (pid, colour) = match f.kind {
            timeline::FlagKind::MainPid(p) => (p.to_string(), MAINPID_COLOUR),
            _ => (String::new(), TIMEOUT_COLOUR),
        };
        (
            f.wall_ns,
            row(
                zone,
                &format!("flag {}", f.class()),
                f.class(),
                colour,
                f.wall_ns,
                &name,
                &pid,
                &f.label(),
                "",
            ),
        )
    }));
    rows.sort_by_key(|(t, _)| *t);
    for (_, r) in rows {
        out += &r;
    }
    out += "</tbody>\n</table>\n</section>\n";
    out
}

/// The session's start as the recording holds it (RFC 3339 UTC), in the page's zone; a
/// string that is not one (a damaged or crafted recording) is shown as it is, escaped.
fn started_text(started: &str, zone: &Zone) -> String {
    match started.parse::<jiff::Timestamp>() {
        Ok(t) => zone.stamp(t.as_nanosecond()),
        Err(_) => started.to_owned(),
    }
}

#[allow(clippy::too_many_arguments)]
fn row(
    zone: &Zone,
    class: &str,
    verdict: &str,
    colour: (u8, u8, u8),
    wall_ns: i128,
    unit: &str,
    pid: &str,
    text: &str,
    why: &str,
) -> String {
    let c = hex(colour);
    format!(
        "<tr class=\"mark {class}\" data-verdict=\"{verdict}\" data-colour=\"{c}\"><td title=\"{}\">{}</td><td>{unit}</td><td>{}</td><td class=\"verdict\"><span style=\"background:{c}\"></span>{verdict}</td><td>{}</td><td>{}</td></tr>\n",
        escape(&zone.stamp(wall_ns)),
        escape(&zone.clock_ms(wall_ns)),
        escape(pid),
        escape(text),
        escape(why)
    )
}
