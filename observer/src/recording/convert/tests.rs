//! The format stays what it was: observer/tests/data/golden.rec, written by the observer before
//! the format had types of its own (scripts/golden-recording), reads back, and each record
//! written again is the very bytes it was read from.

use super::{from_body, to_body};
use crate::recording::{frame, records::Record};

const GOLDEN: &[u8] = include_bytes!("../../../tests/data/golden.rec");

fn golden_bodies() -> Vec<&'static [u8]> {
    frame::check_header(GOLDEN).expect("golden.rec's header");
    let mut rest = &GOLDEN[frame::HEADER_LEN..];
    let mut bodies = Vec::new();
    while !rest.is_empty() {
        let (body, len) = frame::decode(rest).expect("golden.rec is intact");
        bodies.push(body);
        rest = &rest[len..];
    }
    bodies
}

#[test]
fn every_golden_record_is_written_again_byte_for_byte() {
    let bodies = golden_bodies();
    for body in &bodies {
        let text = String::from_utf8_lossy(body);
        let record = from_body(body).unwrap_or_else(|| panic!("unreadable: {text}"));
        let again = to_body(&record).unwrap();
        assert_eq!(String::from_utf8_lossy(&again), text);
    }
    // Every kind of record the pipeline writes is in it, so each conversion is covered.
    let records: Vec<Record> = bodies.iter().filter_map(|b| from_body(b)).collect();
    let has = |f: fn(&Record) -> bool| records.iter().any(f);
    assert!(has(|r| matches!(r, Record::Session(_))));
    assert!(has(|r| matches!(r, Record::Unit(_))));
    assert!(has(|r| matches!(r, Record::End { .. })));
    assert!(has(
        |r| matches!(r, Record::Event(e) if e.inputs.as_ref().is_some_and(|i| i.unit_state.as_ref().is_some_and(|u| u.mainpid_target.is_some())))
    ));
    assert!(has(
        |r| matches!(r, Record::Event(e) if e.inputs.is_none() && e.event.creds.is_some())
    ));
}

#[test]
fn a_hook_number_this_observer_does_not_know_is_unreadable() {
    let body = golden_bodies()
        .into_iter()
        .find(|b| b.starts_with(b"{\"event\""))
        .unwrap();
    let text = String::from_utf8_lossy(body);
    let at = text.find("\"hook\":").unwrap() + "\"hook\":".len();
    let end = at + text[at..].find(',').unwrap();
    let changed = format!("{}999{}", &text[..at], &text[end..]);
    assert_eq!(from_body(changed.as_bytes()), None);
}

#[test]
fn an_outcome_this_observer_does_not_know_reads_as_unknown() {
    let body = golden_bodies()
        .into_iter()
        .find(|b| b.windows(20).any(|w| w == b"\"outcome\":\"accepted\""))
        .unwrap();
    let changed = String::from_utf8_lossy(body).replace(
        "\"outcome\":\"accepted\"",
        "\"outcome\":\"judged-by-a-newer-observer\"",
    );
    let Some(Record::Event(e)) = from_body(changed.as_bytes()) else {
        panic!("not an event: {changed}");
    };
    assert_eq!(e.outcome, crate::judge::Outcome::Unknown);
}
