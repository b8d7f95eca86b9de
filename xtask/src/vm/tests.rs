use super::*;

/// A capture guest's console, shaped as `scripts/vm/run` streams it (boot lines, `uname -r`,
/// kernel messages between events, carriage returns), from a run with one failure under
/// tracepoint.
const CONSOLE: &str = "[vm] guest up in 21 s\r
6.1.0-41-amd64\r
== capture tests, --probe fentry\r
{ \"type\": \"suite\", \"event\": \"started\", \"test_count\": 2 }\r
{ \"type\": \"test\", \"event\": \"started\", \"name\": \"sendto_path\" }\r
{ \"type\": \"test\", \"name\": \"sendto_path\", \"event\": \"ok\", \"exec_time\": 0.9 }\r
[   30.2] observer: loading programs\r
{ \"type\": \"test\", \"name\": \"io_uring_send\", \"event\": \"ok\", \"exec_time\": 1.1 }\r
{ \"type\": \"suite\", \"event\": \"ok\", \"passed\": 2, \"failed\": 0, \"ignored\": 0, \"measured\": 0, \"filtered_out\": 0, \"exec_time\": 2.0 }\r
@@LANE fentry 0\r
== capture tests, --probe tracepoint\r
{ \"type\": \"suite\", \"event\": \"started\", \"test_count\": 2 }\r
{ \"type\": \"test\", \"name\": \"sendto_path\", \"event\": \"ok\", \"exec_time\": 0.8 }\r
{ \"type\": \"test\", \"name\": \"io_uring_send\", \"event\": \"failed\", \"exec_time\": 5.0, \"stdout\": \"no event\\n\" }\r
{ \"type\": \"suite\", \"event\": \"failed\", \"passed\": 1, \"failed\": 1, \"ignored\": 0, \"measured\": 0, \"filtered_out\": 0, \"exec_time\": 5.8 }\r
@@LANE tracepoint 101\r
[vm] guest exited 0\r
";

fn outcomes(lane: &LaneResult) -> Vec<(&str, Outcome)> {
    lane.tests
        .iter()
        .map(|t| (t.name.as_str(), t.outcome))
        .collect()
}

#[test]
fn capture_lanes_read_each_strategys_events_and_marker() {
    let lanes = capture_lanes(CONSOLE);
    let by = |probe: &str| {
        lanes
            .iter()
            .find(|l| l.lane == format!("VM 6.1.0-41-amd64, --probe {probe}"))
            .unwrap_or_else(|| {
                panic!(
                    "no {probe} lane in {:?}",
                    lanes.iter().map(|l| &l.lane).collect::<Vec<_>>()
                )
            })
    };
    let fentry = by("fentry");
    assert!(fentry.passed);
    assert_eq!(
        outcomes(fentry),
        [("sendto_path", Outcome::Ok), ("io_uring_send", Outcome::Ok)]
    );
    let tracepoint = by("tracepoint");
    assert!(!tracepoint.passed);
    assert_eq!(
        outcomes(tracepoint),
        [
            ("sendto_path", Outcome::Ok),
            ("io_uring_send", Outcome::Failed)
        ]
    );
    assert_eq!(tracepoint.tests[1].secs, Some(5.0));
}

/// A guest that died before a strategy's marker: that lane fails, with the tests it finished.
#[test]
fn a_missing_marker_fails_the_lane() {
    let cut = &CONSOLE[..CONSOLE.find("@@LANE tracepoint").unwrap()];
    let lanes = capture_lanes(cut);
    assert!(lanes[0].passed);
    assert!(!lanes[1].passed);
    assert_eq!(lanes[1].tests.len(), 2);
}

/// observer-record.service's shell checks print the same events as libtest.
#[test]
fn record_checks_print_libtest_events() {
    let console = "== observer-record.service\n\
        { \"type\": \"test\", \"name\": \"record_service_stayed_active\", \"event\": \"ok\" }\n\
        recording: 1 file(s), 120 events, tb-notify-python.service 4\n\
        { \"type\": \"test\", \"name\": \"record_replays_both_runs\", \"event\": \"failed\" }\n\
        @@RECORD done\n";
    let lane = record_service_lane(console, true, "6.12", "257");
    assert!(!lane.passed);
    assert_eq!(lane.notes, ["1 passed, 1 failed"]);
    assert!(
        RECORD_CHECKS
            .contains(r#"echo "{ \"type\": \"test\", \"name\": \"$1\", \"event\": \"$r\" }""#)
    );
}
