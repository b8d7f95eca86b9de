use super::*;

#[test]
fn sleeps_only_after_enough_empty_drains_with_nothing_waiting() {
    let mut idle = Idle::default();
    for _ in 1..EMPTY_DRAINS_BEFORE_SLEEP {
        assert!(!idle.after_drain(0, true));
    }
    assert!(idle.after_drain(0, true));
    assert!(idle.fell_asleep(0));
    assert!(idle.asleep());
    assert!(idle.wake());
    assert!(!idle.asleep());
    assert!(!idle.wake(), "waking twice reports one wakeup");
}

#[test]
fn a_record_or_an_event_waiting_to_be_judged_starts_the_count_again() {
    let mut idle = Idle::default();
    for _ in 1..EMPTY_DRAINS_BEFORE_SLEEP {
        idle.after_drain(0, true);
    }
    assert!(!idle.after_drain(1, true));
    for _ in 1..EMPTY_DRAINS_BEFORE_SLEEP {
        assert!(!idle.after_drain(0, true));
    }
    assert!(
        !idle.after_drain(0, false),
        "an event still waits for its verdict"
    );
    assert!(!idle.after_drain(0, true));
}

#[test]
fn a_record_in_the_last_drain_keeps_it_awake() {
    let mut idle = Idle::default();
    for _ in 0..EMPTY_DRAINS_BEFORE_SLEEP {
        idle.after_drain(0, true);
    }
    assert!(!idle.fell_asleep(2));
    assert!(!idle.asleep());
    for _ in 1..EMPTY_DRAINS_BEFORE_SLEEP {
        assert!(!idle.after_drain(0, true), "the count starts again");
    }
}
