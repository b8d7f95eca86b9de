use super::*;

fn change(unit: &str, state: Option<&str>, result: Option<&str>) -> UnitChange {
    UnitChange {
        unit: unit.into(),
        active_state: state.map(Into::into),
        result: result.map(Into::into),
        ..Default::default()
    }
}

#[test]
fn a_start_that_times_out() {
    let mut s = Starts::default();
    let u = "tb-notify-never.service";
    assert_eq!(
        s.take(&change(u, Some("activating"), None)),
        [StartStep::Began]
    );
    // Repeated activating signals (sub-state changes) are the same attempt.
    assert_eq!(s.take(&change(u, Some("activating"), None)), []);
    assert_eq!(s.take(&change(u, None, Some("timeout"))), []);
    assert_eq!(s.take(&change(u, Some("deactivating"), None)), []);
    assert_eq!(
        s.take(&change(u, Some("failed"), None)),
        [StartStep::Ended(StartOutcome::Timeout)]
    );
    // Down already: a later failed signal is no second end.
    assert_eq!(s.take(&change(u, Some("failed"), None)), []);
}

#[test]
fn success_and_restarts() {
    let mut s = Starts::default();
    let u = "a.service";
    s.take(&change(u, Some("activating"), None));
    assert_eq!(
        s.take(&change(u, Some("active"), Some("success"))),
        [StartStep::Ended(StartOutcome::Success)]
    );
    // Running, it stops: no start attempt involved.
    assert_eq!(s.take(&change(u, Some("inactive"), None)), []);
    assert_eq!(
        s.take(&change(u, Some("activating"), None)),
        [StartStep::Began]
    );
    assert_eq!(
        s.take(&change(u, Some("failed"), Some("exit-code"))),
        [StartStep::Ended(StartOutcome::ExitCode)]
    );
}

#[test]
fn unknown_results_are_no_label_text() {
    let mut s = Starts::default();
    s.take(&change("x", Some("activating"), None));
    assert_eq!(
        s.take(&change("x", Some("failed"), Some("\u{202e}evil"))),
        [StartStep::Ended(StartOutcome::Other)]
    );
    s.take(&change("x", Some("activating"), Some("success")));
    assert_eq!(
        s.take(&change("x", Some("inactive"), None)),
        [StartStep::Ended(StartOutcome::Canceled)]
    );
}
