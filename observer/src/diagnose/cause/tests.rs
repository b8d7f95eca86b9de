use super::*;

/// Found with the fuzz target `reader` (a recording whose times are i128's extremes): the
/// "after …" duration overflowed (a panic in debug builds, nonsense in release).
#[test]
fn extreme_recorded_times_do_not_overflow() {
    let mut a = Attempt {
        phase: Phase::Ended,
        start_ns: Some(i128::MIN + 1),
        activating_ns: None,
        started_ns: None,
        ended_ns: Some(i128::MAX),
        result: Some("timeout".into()),
        exit: None,
        items: vec![Item::Change(Box::default(), i128::MAX)],
    };
    let f = explain(&a, &Settings::default(), &Zone::utc());
    assert_eq!(f.kind, "start-timeout");
    assert!(
        f.text
            .starts_with("start timed out after 170141183460469242328350982144.0 s:"),
        "{}",
        f.text
    );
    a.result = Some("watchdog".into());
    assert_eq!(
        explain(&a, &Settings::default(), &Zone::utc()).kind,
        "watchdog"
    );
    assert_eq!(secs(i128::MIN), "-170141183460469242328350982144.0 s");
    assert_eq!(secs(-999_999_999), "-999 ms");
}
