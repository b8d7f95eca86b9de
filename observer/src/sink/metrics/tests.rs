//! The sink fed by hand, read back through the crate's own encoders.

use observer_common::Hook;

use super::*;
use crate::{
    decode::Creds,
    verdict::{Kind, LogLevel, Stage, Verdict as Rules},
};

fn event(payload: &[u8], result: i64, wall_s: i128) -> Event {
    Event {
        mono_ns: 1,
        wall_ns: wall_s * 1_000_000_000,
        pid: 42,
        tid: 42,
        uid: 65534,
        gid: 65534,
        comm: "systemd-notify".into(),
        cgroup_id: 1,
        dest: "/run/systemd/notify".into(),
        watch_id: 1,
        matched_by_identity: true,
        connected: false,
        payload: payload.to_vec(),
        len: payload.len() as u32,
        creds: Some(Creds {
            pid: 42,
            uid: 65534,
            gid: 65534,
        }),
        fds: 0,
        result,
        hook: Hook::SockSendLength,
        msg_index: 0,
        flags: 0,
        ns_pid: 42,
        pidns_ino: 1,
        cgroup_name: "foo.service".into(),
        cgroup_parent_name: "system.slice".into(),
    }
}

fn judged(unit: &str, accepted: bool, kind: Kind) -> Judgement {
    Judgement {
        unit: Some(unit.into()),
        outcome: Outcome::of_verdict(accepted),
        verdict: Some(Rules {
            accepted,
            stage: Stage::Unit,
            kind,
            reason: String::new(),
            log_level: LogLevel::Debug,
            source: String::new(),
            hint: String::new(),
            field_notes: Vec::new(),
            logs: Vec::new(),
            caveats: Vec::new(),
        }),
        ..Default::default()
    }
}

fn sink(units_max: usize) -> MetricsSink {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let _guard = rt.enter();
    MetricsSink::start(&MetricsConfig {
        units_max,
        ..Default::default()
    })
    .unwrap()
}

fn text(s: &MetricsSink) -> String {
    Format::Text.encode(&s.registry).unwrap()
}

fn no_watches() -> BTreeMap<u32, Watched> {
    BTreeMap::new()
}

#[test]
fn datagrams_by_unit_verdict_and_kind() {
    let mut s = sink(10);
    let w = no_watches();
    let e = event(b"READY=1", 20, 100);
    s.event(&e, &judged("a.service", false, Kind::NotMainPid), &w)
        .unwrap();
    s.event(&e, &judged("a.service", false, Kind::NotMainPid), &w)
        .unwrap();
    s.event(&e, &judged("b.service", true, Kind::Accepted), &w)
        .unwrap();
    let t = text(&s);
    assert!(
        t.contains(r#"observer_notify_datagrams_total{manager="watch 1",unit="a.service",verdict="rejected",kind="not_main_pid"} 2"#),
        "{t}"
    );
    assert!(
        t.contains(
            r#"observer_unit_last_ready_timestamp_seconds{manager="watch 1",unit="b.service"} 100"#
        ),
        "{t}"
    );
    // A rejected READY=1 is no readiness.
    assert!(!t.contains(
        r#"observer_unit_last_ready_timestamp_seconds{manager="watch 1",unit="a.service"}"#
    ));
}

#[test]
fn watchdog_pings_and_failed_sends() {
    let mut s = sink(10);
    let w = no_watches();
    s.event(
        &event(b"WATCHDOG=1", 11, 7),
        &judged("a.service", true, Kind::Accepted),
        &w,
    )
    .unwrap();
    // WATCHDOG=trigger is no ping.
    s.event(
        &event(b"WATCHDOG=trigger", 17, 9),
        &judged("a.service", true, Kind::Accepted),
        &w,
    )
    .unwrap();
    let mut failed = judged("a.service", false, Kind::Accepted);
    failed.outcome = Outcome::NotDelivered;
    failed.verdict = None;
    s.event(&event(b"READY=1", -1, 8), &failed, &w).unwrap();
    let t = text(&s);
    assert!(
        t.contains(
            r#"observer_unit_last_watchdog_timestamp_seconds{manager="watch 1",unit="a.service"} 7"#
        ),
        "{t}"
    );
    assert!(
        t.contains(r#"observer_notify_send_failures_total{errno="EPERM"} 1"#),
        "{t}"
    );
    assert!(
        t.contains(r#"verdict="not-delivered",kind="none"} 1"#),
        "{t}"
    );
}

#[test]
fn units_past_the_cap_go_to_the_overflow_series() {
    // Room for the manager and two of its units.
    let mut s = sink(3);
    let w = no_watches();
    for i in 0..50 {
        s.event(
            &event(b"READY=1", 7, 1),
            &judged(&format!("run-u{i}.service"), false, Kind::NotMainPid),
            &w,
        )
        .unwrap();
    }
    let t = text(&s);
    assert!(
        t.contains(r#"unit="(overflow)",verdict="rejected",kind="not_main_pid"} 48"#),
        "{t}"
    );
    assert!(
        t.contains("observer_metrics_units_overflowed_total 48"),
        "{t}"
    );
    assert_eq!(
        t.matches("observer_notify_datagrams_total{").count(),
        3,
        "{t}"
    );
}

#[test]
fn hostile_unit_names_are_escaped_by_the_encoder() {
    let mut s = sink(10);
    let evil = "a\"b\\c\nd.service";
    s.event(
        &event(b"READY=1", 7, 1),
        &judged(evil, false, Kind::NotMainPid),
        &no_watches(),
    )
    .unwrap();
    let t = text(&s);
    assert!(t.contains(r#"unit="a\"b\\c\nd.service""#), "{t}");
    // Payload text is never a label.
    assert!(!t.contains("READY=1"), "{t}");
}

#[test]
fn start_outcomes_from_unit_changes() {
    let mut s = sink(10);
    let ch = |state: Option<&str>, result: Option<&str>| UnitChange {
        unit: "tb-notify-never.service".into(),
        active_state: state.map(Into::into),
        result: result.map(Into::into),
        ..Default::default()
    };
    for c in [
        ch(Some("activating"), None),
        ch(None, Some("timeout")),
        ch(Some("deactivating"), None),
        ch(Some("failed"), None),
    ] {
        s.unit("container 7", &c).unwrap();
    }
    // Not a service: not followed.
    s.unit(
        "container 7",
        &UnitChange {
            unit: "x.socket".into(),
            active_state: Some("activating".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let t = text(&s);
    assert!(t.contains(r#"observer_unit_start_attempts_total{manager="container 7",unit="tb-notify-never.service"} 1"#), "{t}");
    assert!(t.contains(r#"observer_unit_start_outcomes_total{manager="container 7",unit="tb-notify-never.service",outcome="timeout"} 1"#), "{t}");
    assert!(!t.contains("x.socket"), "{t}");
}

#[test]
fn both_formats_carry_help_for_every_family() {
    let s = sink(10);
    let om = Format::OpenMetrics.encode(&s.registry).unwrap();
    let classic = text(&s);
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE observer_build info"), "{om}");
    assert!(
        classic.contains("# TYPE observer_build_info gauge"),
        "{classic}"
    );
    for t in [&om, &classic] {
        let types = t.lines().filter(|l| l.starts_with("# TYPE")).count();
        let helps = t.lines().filter(|l| l.starts_with("# HELP")).count();
        assert_eq!(types, helps, "{t}");
        // The unlabelled families; a labelled one appears with its first series.
        assert!(types >= 7, "{t}");
    }
}

#[test]
fn negotiation() {
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
    assert_eq!(Format::negotiate(Some("text/plain")), Format::Text);
    assert_eq!(Format::negotiate(None), Format::Text);
    assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
    assert_eq!(
        Format::negotiate(Some("application/openmetrics-text; q=0, text/plain")),
        Format::Text
    );
}

#[test]
fn a_stopped_unit_keeps_no_watchdog_timestamp_but_a_watchdog_failure_does() {
    let mut s = sink(10);
    let w = no_watches();
    let ping = |s: &mut MetricsSink, unit: &str| {
        s.event(
            &event(b"WATCHDOG=1", 11, 5),
            &judged(unit, true, Kind::Accepted),
            &w,
        )
        .unwrap()
    };
    let down = |s: &mut MetricsSink, unit: &str, result: &str| {
        let c = |state: Option<&str>, result: Option<&str>| UnitChange {
            unit: unit.into(),
            active_state: state.map(Into::into),
            result: result.map(Into::into),
            ..Default::default()
        };
        s.unit("watch 1", &c(None, Some(result))).unwrap();
        s.unit("watch 1", &c(Some("failed"), None)).unwrap();
    };
    ping(&mut s, "stopped.service");
    ping(&mut s, "dog.service");
    down(&mut s, "stopped.service", "exit-code");
    down(&mut s, "dog.service", "watchdog");
    let t = text(&s);
    assert!(!t.contains(r#"unit="stopped.service"} 5"#), "{t}");
    assert!(t.contains(r#"observer_unit_last_watchdog_timestamp_seconds{manager="watch 1",unit="dog.service"} 5"#), "{t}");
}
