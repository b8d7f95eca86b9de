//! `observer report`: one self-contained HTML page for a recording, with per unit a timeline
//! (state segments, each datagram as a mark coloured by its verdict, timeouts, MainPID
//! handovers) beside the diagnose text, and a table of the marks.
//!
//! - timeline.rs: a unit's diagnose story (diagnose/story.rs) as segments, marks and flags;
//! - chart.rs: that timeline drawn by plotters into an SVG string;
//! - html.rs: the page around the charts.

pub mod chart;
pub mod html;
pub mod timeline;

use std::io::Write as _;

use crate::{
    cli::{ReplayFilter, ReportArgs},
    diagnose::{self, story},
    progress,
    recording::{reader, records::Record},
};

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let reading = {
        let _step = progress::step("reading the recording");
        reader::read_all(&args.files, args.filter.force)
    };
    crate::replay::nothing_readable(reading.files, &reading.damage)?;
    let records: Vec<&Record> = reading.records.iter().map(|(_, _, r)| r).collect();
    let files = args
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let notes: Vec<String> = reading.damage.iter().map(ToString::to_string).collect();
    let (html, units) = page(&records, &args.filter, &files, &notes)?;
    if args.output.as_os_str() == "-" {
        crate::stdout::Stdout.write_all(html.as_bytes())?;
    } else {
        // Not through a symbolic link, not into a FIFO or device; 0600 (it holds payloads).
        crate::output_file::write_private(&args.output, html.as_bytes())?;
        eprintln!(
            "observer: {} units in {}",
            units,
            crate::safe_text::text(&args.output.display().to_string())
        );
    }
    if units == 0 {
        eprintln!("observer: no unit in the recording matches");
    }
    crate::replay::report_damage(&reading.damage, reading.unknown)
}

/// The page for `records` and how many units it shows. `files` names the recording, `notes`
/// are said at the top (damage met while reading).
pub fn page(
    records: &[&Record],
    filter: &ReplayFilter,
    files: &str,
    notes: &[String],
) -> anyhow::Result<(String, usize)> {
    let session = records.iter().find_map(|r| match r {
        Record::Session(s) => Some(s),
        _ => None,
    });
    let stories: Vec<story::Story> = story::stories(records)
        .into_iter()
        .filter(|s| filter.keeps_unit(Some(&s.unit)))
        .collect();
    let zone = filter.zone();
    let bar = progress::bar(stories.len() as u64, "units");
    let mut timelines = Vec::new();
    for s in &stories {
        let attempts = diagnose::told(s, filter);
        bar.inc(1);
        if attempts.is_empty() {
            continue;
        }
        let mut t = timeline::of(&attempts);
        if !filter.pids.is_empty() {
            t.messages.retain(|m| filter.pids.contains(&m.pid));
        }
        let svg = chart::svg(&t, &zone)?;
        timelines.push((s, t, svg, diagnose::render(s, &attempts, &zone)));
    }
    bar.finish_and_clear();
    let units: Vec<html::Unit<'_>> = timelines
        .iter()
        .map(|(s, t, svg, text)| html::Unit {
            name: &s.unit,
            manager: &s.manager,
            timeline: t,
            svg: svg.clone(),
            diagnose: text.clone(),
        })
        .collect();
    Ok((
        html::page(session, files, &units, notes, &zone),
        units.len(),
    ))
}

#[cfg(test)]
mod tests;
