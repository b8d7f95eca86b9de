//! What a recording holds, as the pipeline's types. Each record is one frame (frame.rs) whose
//! JSON body is its schema.rs form (convert.rs). An event carries what the observer saw and
//! concluded, and the inputs the verdict was computed from, so `replay` can judge it again with
//! no systemd, BPF or root.

use crate::{
    decode::{Clock, Event},
    delivery::{Correction, Delivery},
    judge::{Judgement, Outcome, VerdictInputs},
    manager::UnitChange,
};

#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub correction: Correction,
    pub read_mono_ns: Option<u64>,
}

impl DeliveryRecord {
    pub fn new(c: &Correction) -> Self {
        Self {
            correction: c.clone(),
            read_mono_ns: c.delivery.read_mono_ns,
        }
    }

    /// The correction with what JSON leaves out restored.
    pub fn correction(&self) -> Correction {
        let mut c = self.correction.clone();
        c.delivery.read_mono_ns = self.read_mono_ns;
        c
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// First record of every file (a rotated file starts with one too).
    Session(Session),
    Event(Box<EventRecord>),
    /// A unit's state changed, or a job for it was queued or finished.
    Unit(UnitRecord),
    /// A datagram shown before its read, now read or given up (delivery.rs).
    Delivery(Box<DeliveryRecord>),
    /// Datagrams lost because the ring buffer was full.
    Drops {
        new: u64,
        total: u64,
    },
    /// The recorder stopped cleanly (absent after a crash or kill).
    End {
        events: u64,
        dropped: u64,
        untracked: u64,
        malformed: u64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// When the session (the recorder's run) started: the same in every file it wrote.
    pub started: String,
    /// When this file was begun, in a file begun at a rotation (absent in a session's first
    /// file: `started`). Readers put files in time order by it.
    pub file_started: Option<String>,
    pub host: String,
    pub kernel: String,
    pub observer_version: String,
    pub strategy: String,
    pub hooks: Vec<String>,
    pub watched: Vec<SocketInfo>,
    /// CLOCK_REALTIME − CLOCK_MONOTONIC at start, to place monotonic times on the wall clock.
    pub realtime_minus_monotonic_ns: i128,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketInfo {
    pub id: u32,
    pub owner: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub event: Event,
    pub unit: Option<String>,
    /// As shown live. A name this observer does not know reads as unknown.
    pub outcome: Outcome,
    pub note: Option<String>,
    /// What the manager's side saw of it (issue 8): read or not, when, with which credentials.
    pub delivery: Delivery,
    pub read_mono_ns: Option<u64>,
    /// The verdict's kind and reason as judged live (replay judges again and compares).
    pub kind: Option<String>,
    pub reason: Option<String>,
    /// What the verdict was computed from; None when there was no verdict.
    pub inputs: Option<VerdictInputs>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UnitRecord {
    /// The manager it belongs to, as `Session::watched` names owners ("system manager", …).
    pub manager: String,
    pub wall_ns: i128,
    pub change: UnitChange,
}

/// The records the pipeline's steps become: one place for the recording sink and live diagnose.
impl Record {
    pub fn event(ev: &Event, j: &Judgement) -> Record {
        Record::Event(Box::new(EventRecord::new(ev, j)))
    }

    /// A unit change of `manager`, placed on the wall clock.
    pub fn unit(manager: &str, change: UnitChange, clock: &Clock) -> Record {
        Record::Unit(UnitRecord {
            manager: manager.to_owned(),
            wall_ns: clock.wall_ns(change.mono_ns),
            change,
        })
    }

    pub fn delivery(c: &Correction) -> Record {
        Record::Delivery(Box::new(DeliveryRecord::new(c)))
    }
}

impl EventRecord {
    pub fn new(ev: &Event, j: &Judgement) -> EventRecord {
        EventRecord {
            event: ev.clone(),
            unit: j.unit.clone(),
            outcome: j.outcome,
            note: j.note.clone(),
            delivery: j.delivery.clone(),
            read_mono_ns: j.delivery.read_mono_ns,
            kind: j.verdict.as_ref().map(|v| kind_name(v.kind)),
            reason: j.verdict.as_ref().map(|v| v.reason.clone()),
            inputs: j.inputs.clone(),
        }
    }
}

pub fn kind_name(kind: crate::verdict::Kind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
pub mod tests {
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
                delivered: crate::delivery::Delivered::No,
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
}
