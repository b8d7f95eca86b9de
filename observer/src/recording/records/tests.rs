use super::*;
use crate::decode::Creds;

pub fn sample_event() -> Event {
    Event {
        mono_ns: 12_345_678_901,
        wall_ns: 1_795_472_847_123_456_789,
        pid: 4242,
        tid: 4243,
        uid: 65534,
        gid: 65534,
        comm: "systemd-notify".into(),
        cgroup_id: 77,
        dest: "/run/systemd/notify".into(),
        watch_id: 1,
        matched_by_identity: true,
        connected: false,
        payload: b"READY=1\nSTATUS=\xff\x00x".to_vec(),
        len: 20,
        creds: Some(Creds {
            pid: 1,
            uid: 0,
            gid: 0,
        }),
        fds: 1,
        result: -11,
        hook: observer_common::Hook::SockSendLength,
        msg_index: 0,
        flags: 3,
        ns_pid: 56,
        pidns_ino: 4026531836,
        cgroup_name: "foo.service".into(),
        cgroup_parent_name: "system.slice".into(),
    }
}

#[test]
fn records_round_trip_exactly() {
    let rec = Record::Event(Box::new(EventRecord {
        event: sample_event(),
        unit: Some("foo.service".into()),
        outcome: Outcome::Rejected,
        note: None,
        delivery: Default::default(),
        read_mono_ns: Some(5),
        kind: Some("not_main_pid".into()),
        reason: Some("Got notification message from PID 56".into()),
        inputs: Some(VerdictInputs {
            sender: crate::verdict::Sender {
                pid: Some(56),
                uid: 65534,
                gid: 65534,
                alive: None,
                exited: false,
            },
            unit_state: Some(crate::verdict::UnitState::new(
                "foo.service",
                crate::notify::NotifyAccess::Main,
            )),
            version: crate::verdict::SystemdVersion(252),
        }),
    }));
    let unit = Record::Unit(UnitRecord {
        manager: "system manager".into(),
        wall_ns: -5,
        change: UnitChange {
            unit: "foo.service".into(),
            mono_ns: 9,
            sub_state: Some("start".into()),
            timeout_start_usec: Some(u64::MAX),
            ..Default::default()
        },
    });
    let correction = Correction {
        event: sample_event(),
        unit: None,
        delivery: Delivery {
            delivered: crate::pairing::Delivered::No,
            read_mono_ns: Some(7),
            pidfd: true,
            sender_payload: Some(b"READY=0".to_vec()),
            ..Default::default()
        },
    };
    let body = super::super::to_body(&Record::delivery(&correction)).unwrap();
    let Some(Record::Delivery(back)) = super::super::from_body(&body) else {
        panic!("not a delivery");
    };
    assert_eq!(back.correction(), correction);
    for r in [rec, unit, Record::Drops { new: 1, total: 2 }] {
        let body = super::super::to_body(&r).unwrap();
        assert_eq!(super::super::from_body(&body), Some(r));
    }
}
