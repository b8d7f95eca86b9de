//! Snapshot tests (insta) of every view people and programs read, from one real recording
//! (tests/data/golden.rec, made by scripts/golden-recording against a real systemd 257):
//! the table, JSON lines, journal entries, a diagnose story and a report fragment. A change
//! of output shows as a diff to review with `cargo insta review` (CONTRIBUTING.md) and is
//! committed with the change that meant it. Times are in UTC or a fixed zone, never the
//! machine's.

use std::{cell::RefCell, collections::BTreeMap, io::Write, path::Path, rc::Rc};

use jiff::tz::TimeZone;

use crate::{
    cli::ReplayFilter,
    decode::Event,
    judge::Judgement,
    recording::{reader, records::Record},
    replay::replay,
    sink::{Sink, Start, Summary, journal, json::JsonSink, table::TableSink},
    wall_time::Zone,
    watch::Watched,
};

const GOLDEN: &[u8] = include_bytes!("../tests/data/golden.rec");

fn golden() -> Vec<Record> {
    let mut reading = reader::Reading::default();
    reader::read_bytes(Path::new("golden.rec"), GOLDEN, false, &mut reading)
        .expect("golden.rec reads");
    assert!(reading.damage.is_empty(), "{:?}", reading.damage);
    reading.records.into_iter().map(|(_, _, r)| r).collect()
}

fn utc() -> ReplayFilter {
    ReplayFilter {
        utc: true,
        ..Default::default()
    }
}

/// The recording replayed into `sink`, as `observer replay` does.
fn replayed(sink: &mut dyn Sink) {
    let mut records = golden().into_iter();
    replay(|| records.next(), &utc(), sink).expect("replay");
}

/// What a sink wrote, kept here while the sink owns its writer.
#[derive(Clone, Default)]
struct Written(Rc<RefCell<Vec<u8>>>);

impl Write for Written {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Written {
    fn text(&self) -> String {
        String::from_utf8(self.0.borrow().clone()).expect("UTF-8")
    }
}

fn table(zone: Zone) -> String {
    let out = Written::default();
    replayed(&mut TableSink::new(out.clone(), zone));
    out.text()
}

#[test]
fn table_rows() {
    insta::assert_snapshot!(table(Zone::utc()));
}

/// The same rows in Berlin's winter time: an hour later than UTC, nothing else changed.
#[test]
fn table_rows_in_local_time() {
    let berlin = TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").expect("POSIX TZ");
    let local = table(Zone::of(berlin));
    insta::assert_snapshot!(local);
    assert_ne!(local, table(Zone::utc()));
}

#[test]
fn json_lines() {
    let out = Written::default();
    replayed(&mut JsonSink::new(out.clone()));
    insta::assert_snapshot!(out.text());
}

/// Journal entries as `journalctl -o export` would list their fields.
struct Entries(String);

impl Sink for Entries {
    fn start(&mut self, _: &Start<'_>) -> std::io::Result<()> {
        Ok(())
    }
    fn event(
        &mut self,
        ev: &Event,
        j: &Judgement,
        watched: &BTreeMap<u32, Watched>,
    ) -> std::io::Result<()> {
        let e = journal::event_entry(ev, j, watched);
        self.0 += &format!("PRIORITY={}\nMESSAGE={}\n", e.priority, e.message);
        for (k, v) in &e.fields {
            self.0 += &format!("{k}={v}\n");
        }
        self.0.push('\n');
        Ok(())
    }
    fn drops(&mut self, _: u64, _: u64) -> std::io::Result<()> {
        Ok(())
    }
    fn finish(&mut self, _: &Summary) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn journal_entries() {
    let mut sink = Entries(String::new());
    replayed(&mut sink);
    insta::assert_snapshot!(sink.0);
}

#[test]
fn diagnose_stories() {
    let records = golden();
    let refs: Vec<&Record> = records.iter().collect();
    insta::assert_snapshot!(crate::diagnose::render_all(&refs, &utc()));
}

/// The page's header and one unit's section, its chart left out (an SVG of coordinates,
/// checked by report/tests.rs and the DOM checks of the verdict lanes).
#[test]
fn report_fragment() {
    let records = golden();
    let refs: Vec<&Record> = records.iter().collect();
    let (page, units) = crate::report::page(&refs, &utc(), "golden.rec", &[]).expect("page");
    assert!(units > 1, "{units} units");
    let header = between(&page, "<header>", "</header>");
    let section = between(
        &page,
        "<section class=\"unit\" id=\"unit-tb-notify-mainpid.service\"",
        "</section>",
    );
    let figure = between(section, "<figure", "</figure>");
    let section = section.replace(figure, "<figure>(chart)</figure>");
    insta::assert_snapshot!(format!("{header}\n{section}"));
}

/// `text` from the start of `from` to the end of the first `to` after it.
fn between<'a>(text: &'a str, from: &str, to: &str) -> &'a str {
    let start = text
        .find(from)
        .unwrap_or_else(|| panic!("no {from} in {text}"));
    let len = text[start..]
        .find(to)
        .unwrap_or_else(|| panic!("no {to} after {from}"));
    &text[start..start + len + to.len()]
}
