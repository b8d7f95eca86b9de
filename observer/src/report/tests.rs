//! The page from hand-made recordings (the record makers of diagnose/tests.rs). The same page
//! from a real systemd, opened in Chromium: tests/tests/verdicts.rs.

use super::{
    timeline::{FlagKind, State, Verdict},
    *,
};
use crate::diagnose::tests::{S, UNIT, change, ended, running, sent, start};

/// A start that times out: a READY=1 from the wrong PID (rejected), one whose send failed,
/// a MAINPID= handover asked by the main process, and a STATUS= that gets through.
fn timed_out() -> Vec<Record> {
    let mut r = start(3, 0);
    r.push(sent(S, 56, "READY=1", 7));
    r.push(sent(S + S / 10, 55, "READY=1", -(libc::EAGAIN as i64)));
    r.push(sent(S + S / 5, 55, "STATUS=waiting", 14));
    r.push(sent(2 * S, 55, "MAINPID=60", 10));
    r.push(change(2 * S + 1, |c| c.main_pid = Some(60)));
    r.push(change(3 * S + S / 5, |c| {
        c.active_state = Some("deactivating".into());
        c.sub_state = Some("stop-sigterm".into());
    }));
    r.push(ended(3 * S + S / 4, "timeout"));
    r
}

fn timeline_of(records: &[Record]) -> timeline::Timeline {
    let refs: Vec<&Record> = records.iter().collect();
    let s = story::stories(&refs)
        .into_iter()
        .find(|s| s.unit == UNIT)
        .expect("a story");
    timeline::of(&diagnose::told(&s, &ReplayFilter::default()))
}

#[test]
fn timeline_has_states_marks_and_flags() {
    let t = timeline_of(&timed_out());
    let states: Vec<(State, &str)> = t
        .segments
        .iter()
        .map(|s| (s.state, s.sub_state.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            // (The idle "dead" before the start is no part of the attempt diagnose tells.)
            (State::Activating, "start"),
            (State::Deactivating, "stop-sigterm"),
            (State::Failed, "failed"),
        ]
    );
    // Segments tile the time: each ends where the next begins.
    for w in t.segments.windows(2) {
        assert_eq!(w[0].to_ns, w[1].from_ns);
    }
    let verdicts: Vec<Verdict> = t.messages.iter().map(|m| m.verdict).collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Rejected,
            Verdict::NotDelivered,
            Verdict::Accepted,
            Verdict::Accepted
        ]
    );
    assert!(t.messages[0].why.contains("only permitted for main PID 55"));
    assert!(
        t.messages[1].why.contains("EAGAIN"),
        "{}",
        t.messages[1].why
    );
    assert!(t.messages[3].mainpid);
    let flags: Vec<(i128, FlagKind)> = t
        .flags
        .iter()
        .map(|f| (f.wall_ns, f.kind.clone()))
        .collect();
    assert_eq!(
        flags,
        [
            (S / 5, FlagKind::MainPid(55)),
            (2 * S + 1, FlagKind::MainPid(60)),
            // At the move out of the start state, not at the Result= that follows it.
            (3 * S + S / 5, FlagKind::StartTimeout),
        ]
    );
}

#[test]
fn watchdog_is_flagged() {
    let mut r = start(3, 2);
    r.push(sent(S, 55, "READY=1", 7));
    r.push(running(S + 1000));
    r.push(change(4 * S, |c| {
        c.sub_state = Some("stop-watchdog".into());
        c.result = Some("watchdog".into());
    }));
    r.push(ended(4 * S + 1, "watchdog"));
    let t = timeline_of(&r);
    assert!(
        t.flags
            .iter()
            .any(|f| f.kind == FlagKind::Watchdog && f.wall_ns == 4 * S)
    );
    assert!(t.segments.iter().any(|s| s.state == State::Active));
}

#[test]
fn page_is_self_contained_with_units_marks_colours_and_story() {
    let r = timed_out();
    let refs: Vec<&Record> = r.iter().collect();
    let (page, units) = page(&refs, &ReplayFilter::default(), "x.rec", &[]).unwrap();
    assert_eq!(units, 1);
    for needle in [
        "<section class=\"unit\" id=\"unit-foo.service\" data-unit=\"foo.service\" data-manager=\"system manager\">",
        "<h2>foo.service</h2>",
        "<svg",
        // The marks, in the colours the legend gives them.
        "<tr class=\"mark message rejected\" data-verdict=\"rejected\" data-colour=\"#C62828\">",
        "<tr class=\"mark message not-delivered\" data-verdict=\"not-delivered\" data-colour=\"#EF6C00\">",
        "<tr class=\"mark message accepted mainpid-request\"",
        "<tr class=\"mark flag start-timeout\"",
        "<tr class=\"mark flag mainpid\"",
        "<li class=\"legend-rejected\" data-colour=\"#C62828\">",
        "<li class=\"legend-accepted\" data-colour=\"#2E7D32\">",
        "<li class=\"legend-not-delivered\" data-colour=\"#EF6C00\">",
        "Got notification message from PID 56, but reception only permitted for main PID 55",
        // The diagnose text beside the chart.
        "<pre class=\"diagnose\">● foo.service",
        "start timed out after 3.0 s (TimeoutStartSec=3.0 s)",
    ] {
        assert!(
            page.contains(needle),
            "{needle:?} missing from the page:\n{page}"
        );
    }
    // The chart draws the marks in those colours too (plotters writes #RRGGBB).
    let svg = &page[page.find("<svg").unwrap()..page.find("</svg>").unwrap()];
    for colour in [
        "#C62828", "#EF6C00", "#2E7D32", "#6A1B9A", "#212121", "#FFE082",
    ] {
        assert!(svg.contains(colour), "{colour} not drawn:\n{svg}");
    }
    assert!(svg.contains("start timeout"), "{svg}");
    // Nothing to fetch: no scripts, links, images or URLs (but the SVG namespace's name).
    let page = page.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for outside in [
        "<script", "<link", "<img", "src=", "url(", "http:", "https:",
    ] {
        assert!(!page.contains(outside), "{outside:?} in the page");
    }
}

#[test]
fn filters_pick_units_and_marks() {
    let r = timed_out();
    let refs: Vec<&Record> = r.iter().collect();
    let other = ReplayFilter {
        units: vec!["bar*".into()],
        ..Default::default()
    };
    let (page, units) = page(&refs, &other, "x.rec", &[]).unwrap();
    assert_eq!(units, 0);
    assert!(page.contains("No unit in the recording matches"));
    let pid = ReplayFilter {
        pids: vec![56],
        ..Default::default()
    };
    let (page, _) = super::page(&refs, &pid, "x.rec", &[]).unwrap();
    assert_eq!(page.matches("<tr class=\"mark message").count(), 1);
}

#[test]
fn names_are_escaped() {
    assert_eq!(html::escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
}
