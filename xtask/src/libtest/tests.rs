use super::*;

/// A guest's console as `scripts/vm/run` streams it: its own lines, `uname -r`, the lane
/// header, libtest's events with a kernel message and carriage returns between them, a test's
/// output under --nocapture, the marker with the runner's status.
pub const CONSOLE: &str = "[vm] booting linux-image 6.12.57+deb13-amd64 under TCG\r
6.12.57+deb13-amd64\r
== capture tests, --probe fentry\r
{ \"type\": \"suite\", \"event\": \"started\", \"test_count\": 3 }\r
{ \"type\": \"test\", \"event\": \"started\", \"name\": \"sendmmsg_each_message\" }\r
[   41.377512] random: crng init done\r
{ \"type\": \"test\", \"name\": \"sendmmsg_each_message\", \"event\": \"ok\", \"exec_time\": 1.25 }\r
observer: capturing with the fentry strategy\r
[   42.1] audit: type=1334 { \"type\": \"test\", \"name\": \"io_uring_send\", \"event\": \"failed\", \"exec_time\": 3.5, \"stdout\": \"thread 'io_uring_send' panicked at tests/capture.rs:9:5:\\nno event\\n\" }\r
{ \"type\": \"test\", \"name\": \"kallsyms\", \"event\": \"ignored\", \"message\": \"needs root: run through cargo xtask test capture\" }\r
{ \"type\": \"suite\", \"event\": \"failed\", \"passed\": 1, \"failed\": 1, \"ignored\": 1, \"measured\": 0, \"filtered_out\": 20, \"exec_time\": 4.8 }\r
@@LANE fentry 101\r
@@NOTE fentry not json { \"type\r
";

#[test]
fn results_are_read_out_of_a_noisy_console() {
    let r = results(CONSOLE);
    assert_eq!(
        r,
        vec![
            TestResult {
                name: "sendmmsg_each_message".into(),
                outcome: Outcome::Ok,
                secs: Some(1.25),
            },
            TestResult {
                name: "io_uring_send".into(),
                outcome: Outcome::Failed,
                secs: Some(3.5),
            },
            TestResult::new("kallsyms", Outcome::Ignored),
        ]
    );
}

#[test]
fn lines_that_only_look_like_events_are_not_results() {
    // A test's own JSON output, an unfinished object, a test named in a started event.
    for line in [
        "{ \"record\": \"event\", \"ts\": \"2026-12-07T04:25:45.206548Z\" }",
        "{ \"type\": \"test\", \"name\": \"x\", \"event\": \"ok\"",
        "{ \"type\": \"test\", \"event\": \"started\", \"name\": \"x\" }",
        "{ \"type\": 3 }",
        "test fake_text_line ... ok",
    ] {
        assert_eq!(results(line), vec![], "{line}");
    }
}

#[test]
fn people_read_what_libtest_would_have_printed() {
    let shown: Vec<String> = CONSOLE.lines().filter_map(human).collect();
    let shown = shown.join("\n");
    assert!(shown.contains("running 3 tests"), "{shown}");
    assert!(
        shown.contains("test sendmmsg_each_message ... ok <1.250s>"),
        "{shown}"
    );
    assert!(
        shown.contains("test io_uring_send ... FAILED <3.500s>\n---- io_uring_send stdout ----\nthread 'io_uring_send' panicked"),
        "{shown}"
    );
    assert!(
        shown.contains(
            "test kallsyms ... ignored, needs root: run through cargo xtask test capture"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("test result: FAILED. 1 passed; 1 failed; 1 ignored; 20 filtered out"),
        "{shown}"
    );
    // Started events are not shown; every other line is, as it came.
    assert!(!shown.contains("\"started\""), "{shown}");
    assert!(shown.contains("@@LANE fentry 101"), "{shown}");
    assert!(
        shown.contains("[   41.377512] random: crng init done"),
        "{shown}"
    );
}
