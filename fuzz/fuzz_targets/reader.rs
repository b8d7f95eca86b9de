//! A recording, whatever its bytes: the reader returns (records, damage, or a one-line error)
//! and never panics, with or without `--force`; and whatever records come out, replay's
//! re-judging and diagnose's stories render them.
//!
//! Random bytes seldom pass the frame checksums, so the input is read a second way too: each
//! line is taken as a record's JSON body and framed properly (`frame::encode`), which puts the
//! fuzzer straight at the record layer (serde, then replay and diagnose). Seeds: a real
//! recording, and its record bodies one per line (JSON output has no raw newlines).

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use observer::{
    cli::ReplayFilter,
    diagnose,
    recording::{
        frame,
        reader::{self, Reading},
        records::Record,
    },
    replay,
    wall_time::TimeBound,
};

fuzz_target!(|data: &[u8]| {
    let name = Path::new("fuzz.rec");
    for force in [false, true] {
        let mut reading = Reading::default();
        if reader::read_bytes(name, data, force, &mut reading).is_ok() {
            render(&reading);
        }
    }

    let mut framed = frame::header().to_vec();
    // Longer bodies are damage by definition (BODY_MAX); only -max_len past 1 MiB gets there.
    for body in data
        .split(|&b| b == b'\n')
        .filter(|b| b.len() <= frame::BODY_MAX as usize)
    {
        framed.extend(frame::encode(body));
    }
    let mut reading = Reading::default();
    reader::read_bytes(name, &framed, false, &mut reading).expect("a valid header");
    assert!(
        reading.damage.is_empty(),
        "intact frames reported as damaged"
    );
    render(&reading);
});

/// What `observer replay` and `observer diagnose` do with the records.
fn render(reading: &Reading) {
    let records: Vec<&Record> = reading.records.iter().map(|(_, _, r)| r).collect();
    for r in &records {
        if let Record::Event(e) = r {
            let _ = replay::judgement_of(e);
        }
    }
    let _ = diagnose::render_all(&records, &ReplayFilter::default());
    // A filter that keeps everything still runs every unit and time test.
    let all = ReplayFilter {
        units: vec!["*".into()],
        since: Some(TimeBound::at(i128::MIN)),
        until: Some(TimeBound::at(i128::MAX)),
        ..ReplayFilter::default()
    };
    let _ = diagnose::render_all(&records, &all);
}
