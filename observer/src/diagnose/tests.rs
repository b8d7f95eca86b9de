//! Stories from hand-made recordings: each failure the post-mortem has to explain, with the
//! cause and fix it must name. (The same stories from a real systemd: tests/tests/verdicts.rs.)
//! The record makers are shared with the report's tests (report/tests.rs).

use super::*;
use crate::{
    judge::VerdictInputs,
    notify::NotifyAccess,
    pairing::{Delivered, Delivery},
    recording::records::{Session, SocketInfo, UnitRecord},
    verdict::{Sender, SystemdVersion, UnitState},
};

pub(crate) const UNIT: &str = "foo.service";
pub(crate) const S: i128 = 1_000_000_000;

pub(crate) fn session() -> Record {
    Record::Session(Session {
        started: "2026-11-24T03:12:00.000000Z".into(),
        file_started: None,
        host: "h".into(),
        kernel: "6.1".into(),
        observer_version: "0".into(),
        strategy: "fentry".into(),
        hooks: vec![],
        watched: vec![SocketInfo {
            id: 1,
            owner: "system manager".into(),
            address: "/run/systemd/notify".into(),
        }],
        realtime_minus_monotonic_ns: 0,
    })
}

pub(crate) fn change(at: i128, f: impl FnOnce(&mut UnitChange)) -> Record {
    let mut c = UnitChange {
        unit: UNIT.into(),
        mono_ns: at as u64,
        ..Default::default()
    };
    f(&mut c);
    Record::Unit(UnitRecord {
        manager: "system manager".into(),
        wall_ns: at,
        change: c,
    })
}

/// A start at 0 s with these settings, and how it ended.
pub(crate) fn start(timeout_s: u64, watchdog_s: u64) -> Vec<Record> {
    vec![
        session(),
        change(0, |c| {
            c.full = true;
            c.service_type = Some("notify".into());
            c.notify_access = Some("main".into());
            c.timeout_start_usec = Some(timeout_s * 1_000_000);
            c.watchdog_usec = Some(watchdog_s * 1_000_000);
            c.sub_state = Some("dead".into());
        }),
        change(S / 10, |c| c.job = Some("start queued".into())),
        change(S / 5, |c| {
            c.sub_state = Some("start".into());
            c.main_pid = Some(55);
        }),
    ]
}

pub(crate) fn ended(at: i128, result: &str) -> Record {
    change(at, |c| {
        c.sub_state = Some("failed".into());
        c.result = Some(result.into());
    })
}

pub(crate) fn running(at: i128) -> Record {
    change(at, |c| c.sub_state = Some("running".into()))
}

/// A datagram from `pid` (55 is the main PID) at `at`, judged by the real rules.
pub(crate) fn sent(at: i128, pid: u32, payload: &str, result: i64) -> Record {
    let mut ev = crate::recording::records::tests::sample_event();
    ev.wall_ns = at;
    ev.mono_ns = at as u64;
    ev.pid = pid;
    ev.ns_pid = pid;
    ev.comm = "daemon".into();
    ev.payload = payload.as_bytes().to_vec();
    ev.len = payload.len() as u32;
    ev.result = result;
    ev.creds = None;
    ev.fds = 0;
    ev.flags = 0;
    let mut st = UnitState::new(UNIT, NotifyAccess::Main);
    st.main_pid = Some(55);
    let inputs = VerdictInputs {
        sender: Sender {
            pid: Some(pid),
            uid: 0,
            gid: 0,
            alive: None,
            exited: false,
        },
        unit_state: Some(st),
        version: SystemdVersion(252),
    };
    let j = if result < 0 {
        crate::judge::Judgement {
            unit: Some(UNIT.into()),
            outcome: crate::judge::Outcome::NotDelivered,
            ..Default::default()
        }
    } else {
        crate::judge::rejudge(&ev, Some(UNIT.into()), &inputs)
    };
    Record::Event(Box::new(EventRecord::new(&ev, &j)))
}

fn story(records: &[Record]) -> (String, Vec<&'static str>) {
    let refs: Vec<&Record> = records.iter().collect();
    let s = story::stories(&refs)
        .into_iter()
        .find(|s| s.unit == UNIT)
        .expect("a story");
    let kinds = s
        .attempts
        .iter()
        .filter(|a| worth_telling(a))
        .map(|a| cause::explain(a, &s.settings, &crate::wall_time::Zone::utc()).kind)
        .collect();
    let utc = ReplayFilter {
        utc: true,
        ..Default::default()
    };
    (render_all(&refs, &utc), kinds)
}

fn assert_says(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "{n:?} missing from:\n{text}");
    }
}

#[test]
fn never_notified() {
    let mut r = start(3, 0);
    r.push(ended(3 * S + S / 5, "timeout"));
    let (text, kinds) = story(&r);
    assert_eq!(kinds, ["start-timeout"]);
    assert_says(
        &text,
        &[
            "start timed out after 3.0 s (TimeoutStartSec=3.0 s)",
            "no READY=1 arrived: nothing",
            "NOTIFY_SOCKET was unset",
            "start queued",
        ],
    );
}

#[test]
fn notified_from_the_wrong_pid() {
    let mut r = start(3, 0);
    r.push(sent(S, 56, "READY=1", 7));
    r.push(sent(S + 1, 56, "STATUS=x", 8));
    r.push(ended(3 * S + S / 5, "timeout"));
    let (text, kinds) = story(&r);
    assert_eq!(kinds, ["start-timeout"]);
    assert_says(
        &text,
        &[
            "2 messages rejected, first from PID 56",
            "Got notification message from PID 56, but reception only permitted for main PID 55",
            "→ set NotifyAccess=all",
        ],
    );
}

#[test]
fn send_failed() {
    for (errno, fix) in [
        (-libc::EAGAIN as i64, "queue was full"),
        (-libc::ECONNREFUSED as i64, "nothing reads that socket"),
    ] {
        let mut r = start(3, 0);
        r.push(sent(S, 55, "READY=1", errno));
        r.push(ended(3 * S + S / 5, "timeout"));
        let (text, _) = story(&r);
        let name = crate::systemd_basic::errno_list::result_errno_name(errno);
        assert_says(
            &text,
            &[
                &format!("send failed with {name}"),
                "systemd never received it",
                fix,
            ],
        );
    }
}

#[test]
fn started_then_watchdog_missed_with_errno() {
    let mut r = start(3, 2);
    r.push(sent(S, 55, "READY=1", 7));
    r.push(running(S + 1000));
    r.push(sent(2 * S, 55, "WATCHDOG=1", 10));
    r.push(sent(2 * S + 1, 55, "ERRNO=2", 7));
    r.push(change(4 * S, |c| {
        c.sub_state = Some("stop-watchdog".into());
        c.result = Some("watchdog".into());
    }));
    r.push(ended(4 * S + 1, "watchdog"));
    let (text, kinds) = story(&r);
    assert_eq!(kinds, ["watchdog"]);
    assert_says(
        &text,
        &[
            "watchdog timeout (WatchdogSec=2.0 s)",
            "the last accepted WATCHDOG=1 came 2.0 s before it",
            "ERRNO=2 (No such file or directory)",
        ],
    );
}

#[test]
fn mainpid_handover_refused() {
    let mut r = start(3, 0);
    r.push(sent(S, 56, "MAINPID=60\nREADY=1", 17));
    r.push(ended(3 * S, "timeout"));
    let (text, _) = story(&r);
    assert_says(&text, &["MAINPID handover from PID 56 refused"]);
}

#[test]
fn ready_read_late_by_a_busy_manager() {
    let mut r = start(3, 0);
    let Record::Event(mut e) = sent(S / 2, 55, "READY=1", 7) else {
        unreachable!()
    };
    e.delivery = Delivery {
        delivered: Delivered::Yes,
        queue_delay_us: Some(2_800_000),
        ..Default::default()
    };
    r.push(Record::Event(e));
    r.push(running(3 * S + S / 10));
    let (text, kinds) = story(&r);
    assert_eq!(kinds, ["started"]);
    assert_says(
        &text,
        &[
            "read by systemd 2.8 s later, after TimeoutStartSec=3.0 s had nearly elapsed",
            "(read by the manager 2.8 s later)",
        ],
    );
}

#[test]
fn a_restart_is_a_second_attempt() {
    let mut r = start(3, 0);
    r.push(ended(3 * S, "timeout"));
    r.push(change(4 * S, |c| c.sub_state = Some("start".into())));
    r.push(sent(4 * S + 1, 55, "READY=1", 7));
    r.push(running(4 * S + 2));
    let (_, kinds) = story(&r);
    assert_eq!(kinds, ["start-timeout", "started"]);
}

#[test]
fn a_late_stamped_snapshot_does_not_end_the_start() {
    // The full read that follows a unit's first signal comes back stamped after the activation
    // it predates, still saying "dead": only signals move the story on.
    let mut r = start(3, 0);
    r.push(change(S / 4, |c| {
        c.full = true;
        c.sub_state = Some("dead".into());
    }));
    r.push(sent(S, 55, "READY=1", 7));
    r.push(running(S + 1));
    let (text, kinds) = story(&r);
    assert_eq!(kinds, ["started"], "{text}");
}

/// A payload seen in part (more iovecs than captured) is told as such, never as the whole
/// message; one the manager read other than the sender's buffer showed says so.
#[test]
fn incomplete_and_rewritten_payloads_are_told_as_such() {
    let mut r = start(3, 0);
    let Record::Event(mut cut) = sent(S / 2, 55, "STATUS=part", 11) else {
        unreachable!()
    };
    cut.event.flags = observer_common::flags::IOV_TRUNCATED;
    cut.event.len = 40;
    r.push(Record::Event(cut));
    let Record::Event(mut rewritten) = sent(S / 2 + 1, 55, "READY=1", 7) else {
        unreachable!()
    };
    rewritten.delivery.sender_payload = Some(b"READY=0".to_vec());
    r.push(Record::Event(rewritten));
    r.push(running(S));
    let (text, _) = story(&r);
    assert_says(
        &text,
        &[
            "sent [11 of 40 bytes: the send had more than the 32 iovecs captured] STATUS=\"part\"",
            "sent READY=1 (as the manager read it: the sender's buffer showed other bytes)",
        ],
    );
}
