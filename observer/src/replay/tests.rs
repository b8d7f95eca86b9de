use super::*;
use crate::{
    judge::{Outcome, VerdictInputs},
    notify::NotifyAccess,
    recording::records::tests::sample_event,
    verdict::{ExecMain, Sender, ServiceState, SystemdVersion, UnitState},
};

/// A send of more iovecs than the kernel side walks is never judged as if complete: the
/// verdict says its capture was incomplete, with the datagram's real length.
#[test]
fn an_iov_truncated_send_is_judged_with_a_caveat() {
    let mut ev = sample_event();
    ev.payload = b"X_A=1\n".repeat(32);
    ev.len = 241;
    ev.result = 241;
    ev.flags = observer_common::flags::IOV_TRUNCATED | observer_common::flags::HAS_CREDS;
    let inputs = VerdictInputs {
        sender: Sender {
            pid: Some(56),
            uid: 0,
            gid: 0,
            alive: None,
            exited: false,
        },
        unit_state: Some(UnitState::new("tb.service", NotifyAccess::All)),
        version: SystemdVersion(252),
    };
    let j = judge::rejudge(&ev, Some("tb.service".into()), &inputs);
    let caveats = j.verdict.unwrap().caveats;
    assert!(
        caveats
            .iter()
            .any(|c| c.starts_with("payload capture incomplete (192 of 241 bytes)")),
        "{caveats:?}"
    );
}

/// A session's early files were rotated away: its end record still counts every loss, and
/// two sessions' losses add up (not "0 dropped" when the recording says otherwise).
#[test]
fn drops_come_from_the_end_records_too() {
    let session = |started: &str| {
        Record::Session(Session {
            started: started.into(),
            file_started: Some("2026-11-24T04:00:00.000000Z".into()),
            host: "h".into(),
            kernel: "k".into(),
            observer_version: "0".into(),
            strategy: "tracepoint".into(),
            hooks: vec![],
            watched: vec![],
            realtime_minus_monotonic_ns: 0,
        })
    };
    let end = |dropped| Record::End {
        events: 0,
        dropped,
        untracked: 0,
        malformed: 0,
    };
    let records = vec![
        // The last file of a session whose drops were all in files since removed.
        session("2026-11-24T03:00:00.000000Z"),
        end(446_437),
        // Another session, read whole: its drops records and its end agree.
        session("2026-11-24T05:00:00.000000Z"),
        Record::Drops { new: 3, total: 3 },
        Record::Drops { new: 2, total: 5 },
        end(5),
    ];
    let mut sink = crate::sink::table::TableSink::new(Vec::new(), crate::wall_time::Zone::utc());
    let mut it = records.into_iter();
    let summary = replay(|| it.next(), &ReplayFilter::default(), &mut sink).unwrap();
    assert_eq!(summary.dropped, 446_442);
}

/// systemd-notify as the main process, exited before the observer learnt its MainPID: the
/// recorded ExecMain* make replay judge it accepted, as live did; a recording from before
/// ExecMain* were kept still reads, and is judged as it was then.
#[test]
fn exec_main_in_recordings_old_and_new() {
    let mut ev = sample_event();
    ev.payload = b"READY=1".to_vec();
    ev.len = 7;
    ev.flags = 0;
    ev.fds = 0;
    ev.result = 7;
    let mut st = UnitState::new("tb.service", NotifyAccess::Main);
    st.state = Some(ServiceState::Start);
    st.exec_main = Some(ExecMain {
        pid: 56,
        start_us: ev.mono_ns / 1000 - 5_000,
        exit_us: ev.mono_ns / 1000 + 5_000,
    });
    let inputs = VerdictInputs {
        sender: Sender {
            pid: Some(56),
            uid: 0,
            gid: 0,
            alive: None,
            exited: false,
        },
        unit_state: Some(st),
        version: SystemdVersion(252),
    };
    let live = judge::rejudge(&ev, Some("tb.service".into()), &inputs);
    assert_eq!(live.outcome, Outcome::Accepted);
    let rec = Record::event(&ev, &live);
    let json = String::from_utf8(crate::recording::to_body(&rec).unwrap()).unwrap();
    assert!(json.contains("\"exec_main\":{\"pid\":56"), "{json}");
    let Some(Record::Event(back)) = crate::recording::from_body(json.as_bytes()) else {
        panic!("not an event: {json}");
    };
    let again = judgement_of(&back);
    assert_eq!(again.outcome, Outcome::Accepted);
    assert!(again.verdict.unwrap().caveats.is_empty());

    // Written by an observer that did not keep ExecMain*: judged (and re-judged) without it.
    let old = json
        .replace(
            &format!(
                ",\"exec_main\":{{\"pid\":56,\"start_us\":{},\"exit_us\":{}}}",
                ev.mono_ns / 1000 - 5_000,
                ev.mono_ns / 1000 + 5_000
            ),
            "",
        )
        .replace("\"kind\":\"accepted\"", "\"kind\":\"main_pid_unknown\"")
        .replace("\"outcome\":\"accepted\"", "\"outcome\":\"rejected\"");
    assert!(
        !old.contains("exec_main") && old.contains("main_pid_unknown"),
        "{old}"
    );
    let Some(Record::Event(back)) = crate::recording::from_body(old.as_bytes()) else {
        panic!("not an event: {old}");
    };
    let again = judgement_of(&back);
    assert_eq!(again.outcome, Outcome::Rejected);
    let v = again.verdict.unwrap();
    assert_eq!(v.kind, crate::verdict::Kind::MainPidUnknown);
    assert!(v.caveats.is_empty(), "{:?}", v.caveats);
}
