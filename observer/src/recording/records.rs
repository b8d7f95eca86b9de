//! What a recording holds, as the pipeline's types. Each record is one frame (frame.rs) whose
//! JSON body is its schema.rs form (convert.rs). An event carries what the observer saw and
//! concluded, and the inputs the verdict was computed from, so `replay` can judge it again with
//! no systemd, BPF or root.

use crate::{
    decode::{Clock, Event},
    judge::{Judgement, Outcome, VerdictInputs},
    manager::UnitChange,
    pairing::{Correction, Delivery},
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
    /// A datagram shown before its read, now read or given up (pairing.rs).
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
pub mod tests;
