//! A unit's story from a recording: its start attempts, each with the state changes, the
//! datagrams its processes sent (to any watched socket), and how it ended. Pure: records in,
//! stories out.

use std::collections::BTreeMap;

use crate::{
    manager::UnitChange,
    pairing::Correction,
    recording::records::{EventRecord, Record},
};

/// SubStates of a service that is starting (`service_state_to_string()`).
const START_STATES: &[&str] = &["condition", "start-pre", "start", "start-post"];

/// What is known of a unit's settings (from full snapshots).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub service_type: Option<String>,
    pub notify_access: Option<String>,
    pub timeout_start_usec: Option<u64>,
    pub watchdog_usec: Option<u64>,
}

impl Settings {
    /// What a change says of the settings (full snapshots carry them); the latest word wins.
    pub fn take(&mut self, c: &UnitChange) {
        macro_rules! take {
            ($($f:ident),*) => { $( if c.$f.is_some() { self.$f = c.$f.clone(); } )* };
        }
        take!(
            service_type,
            notify_access,
            timeout_start_usec,
            watchdog_usec
        );
    }
}

#[derive(Debug, Clone)]
pub enum Item {
    Change(Box<UnitChange>, i128),
    Event(Box<EventRecord>),
    /// Sent by the unit's processes but found for another unit or manager: wrong socket?
    Elsewhere(Box<EventRecord>, String),
}

impl Item {
    pub fn wall_ns(&self) -> i128 {
        match self {
            Item::Change(_, w) => *w,
            Item::Event(e) | Item::Elsewhere(e, _) => e.event.wall_ns,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Seen only mid-way (the recording started while it ran).
    Unknown,
    Queued,
    Starting,
    Running,
    Ended,
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub phase: Phase,
    /// When the start was requested or activation began.
    pub start_ns: Option<i128>,
    /// When activation began (ExecStart*=), which TimeoutStartSec= counts from.
    pub activating_ns: Option<i128>,
    /// When it reached running/exited (READY=1 accepted, for Type=notify).
    pub started_ns: Option<i128>,
    /// When it ended (failed, dead, auto-restart), and systemd's `Result=` then.
    pub ended_ns: Option<i128>,
    pub result: Option<String>,
    pub exit: Option<(i32, i32)>,
    pub items: Vec<Item>,
}

impl Attempt {
    fn new(phase: Phase, start_ns: Option<i128>) -> Attempt {
        Attempt {
            phase,
            start_ns,
            activating_ns: None,
            started_ns: None,
            ended_ns: None,
            result: None,
            exit: None,
            items: Vec::new(),
        }
    }

    pub fn events(&self) -> impl Iterator<Item = &EventRecord> {
        self.items.iter().filter_map(|i| match i {
            Item::Event(e) => Some(e.as_ref()),
            _ => None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Story {
    pub manager: String,
    pub unit: String,
    pub settings: Settings,
    pub attempts: Vec<Attempt>,
    /// The index in `stories`' records of the record each item came from, in the order of
    /// the attempts' items (live diagnose uses it to forget what printed attempts needed).
    pub sources: Vec<usize>,
}

impl Story {
    /// The records attempt `k`'s items came from.
    pub fn sources_of(&self, k: usize) -> &[usize] {
        let start: usize = self.attempts[..k].iter().map(|a| a.items.len()).sum();
        &self.sources[start..start + self.attempts[k].items.len()]
    }
}

/// The unit whose process sent it, by its cgroup's name at send time, when that is not the
/// unit the message was found for: it went to some other manager's socket or the sender sat
/// in a sub-cgroup; either way the unit never got it.
pub fn sender_unit(e: &EventRecord) -> Option<&String> {
    [&e.event.cgroup_name, &e.event.cgroup_parent_name]
        .into_iter()
        .find(|n| n.ends_with(".service"))
        .filter(|o| e.unit.as_deref() != Some(o.as_str()))
}

/// Every unit's story, by (manager, unit). `manager_of` names the manager of an event's socket.
pub fn stories(records: &[&Record]) -> Vec<Story> {
    let mut sockets: BTreeMap<u32, String> = BTreeMap::new();
    let mut items: BTreeMap<(String, String), Vec<(usize, Item)>> = BTreeMap::new();
    let mut settings: BTreeMap<(String, String), Settings> = BTreeMap::new();
    // Reads that came after their event was shown (pairing.rs): fold them into the events.
    let late: BTreeMap<(u32, u64, u32, u32), Correction> = records
        .iter()
        .filter_map(|r| match r {
            Record::Delivery(d) => {
                let c = d.correction();
                let e = &c.event;
                Some(((e.watch_id, e.mono_ns, e.tid, e.msg_index), c))
            }
            _ => None,
        })
        .collect();
    for (i, r) in records.iter().enumerate() {
        match r {
            Record::Session(s) => {
                sockets = s.watched.iter().map(|w| (w.id, w.owner.clone())).collect();
            }
            Record::Unit(u) => {
                let key = (u.manager.clone(), u.change.unit.clone());
                settings.entry(key.clone()).or_default().take(&u.change);
                items
                    .entry(key)
                    .or_default()
                    .push((i, Item::Change(Box::new(u.change.clone()), u.wall_ns)));
            }
            Record::Event(e) => {
                let mut e = e.clone();
                let k = (
                    e.event.watch_id,
                    e.event.mono_ns,
                    e.event.tid,
                    e.event.msg_index,
                );
                if let Some(c) = late.get(&k) {
                    e.read_mono_ns = c.delivery.read_mono_ns;
                    e.delivery = c.delivery.clone();
                }
                let manager = sockets
                    .get(&e.event.watch_id)
                    .cloned()
                    .unwrap_or_else(|| format!("socket {}", e.event.watch_id));
                if let Some(unit) = &e.unit {
                    items
                        .entry((manager.clone(), unit.clone()))
                        .or_default()
                        .push((i, Item::Event(e.clone())));
                }
                if let Some(own) = sender_unit(&e) {
                    let target = format!(
                        "{} ({})",
                        e.event.dest,
                        e.unit
                            .as_deref()
                            .map_or(manager.clone(), |u| format!("{manager}, {u}"))
                    );
                    let key = items
                        .keys()
                        .find(|(_, u)| u == own)
                        .cloned()
                        .unwrap_or((manager.clone(), own.clone()));
                    items
                        .entry(key)
                        .or_default()
                        .push((i, Item::Elsewhere(e.clone(), target)));
                }
            }
            _ => {}
        }
    }
    items
        .into_iter()
        .map(|((manager, unit), mut list)| {
            list.sort_by_key(|(_, item)| item.wall_ns());
            let (sources, list): (Vec<usize>, Vec<Item>) = list.into_iter().unzip();
            Story {
                settings: settings
                    .get(&(manager.clone(), unit.clone()))
                    .cloned()
                    .unwrap_or_default(),
                attempts: attempts(list),
                sources,
                manager,
                unit,
            }
        })
        .collect()
}

/// Splits a unit's items into start attempts. State transitions come from the manager's
/// signals only: a full snapshot (read when a unit is first seen) is stamped when the read
/// returned, which can be after changes it does not reflect yet; it gives the settings.
fn attempts(items: Vec<Item>) -> Vec<Attempt> {
    let mut out: Vec<Attempt> = Vec::new();
    for mut item in items {
        if let Item::Change(c, _) = &mut item
            && c.full
        {
            c.sub_state = None;
            c.active_state = None;
        }
        let wall = item.wall_ns();
        if let Item::Change(c, _) = &item {
            let phase = out.last().map(|a| a.phase);
            let queued = c.job.as_deref().is_some_and(|j| j == "start queued");
            let starting = c
                .sub_state
                .as_deref()
                .is_some_and(|s| START_STATES.contains(&s));
            let busy = matches!(phase, Some(Phase::Queued | Phase::Starting));
            if (queued || starting) && !busy {
                out.push(Attempt::new(Phase::Queued, Some(wall)));
            }
        }
        if out.is_empty() {
            out.push(Attempt::new(Phase::Unknown, None));
        }
        let a = out.last_mut().expect("pushed above");
        if let Item::Change(c, _) = &item {
            if let Some(next) = next_phase(a.phase, c) {
                a.phase = next;
                match next {
                    Phase::Starting => a.activating_ns = Some(wall),
                    Phase::Running => {
                        a.started_ns.get_or_insert(wall);
                    }
                    Phase::Ended => a.ended_ns = Some(wall),
                    Phase::Unknown | Phase::Queued => {}
                }
            }
            if let Some(r) = c.result.as_deref().filter(|r| *r != "success") {
                a.result.get_or_insert_with(|| r.to_owned());
            }
            if let (Some(code), Some(status)) = (c.exec_main_code, c.exec_main_status)
                && code != 0
            {
                a.exit = Some((code, status));
            }
        }
        a.items.push(item);
    }
    out
}

/// Where an attempt in `phase` moves on a change (its SubState), if anywhere.
fn next_phase(phase: Phase, c: &UnitChange) -> Option<Phase> {
    let ss = c.sub_state.as_deref()?;
    if START_STATES.contains(&ss) && phase == Phase::Queued {
        Some(Phase::Starting)
    } else if matches!(ss, "running" | "exited" | "reload")
        && matches!(phase, Phase::Starting | Phase::Queued | Phase::Unknown)
    {
        Some(Phase::Running)
    } else if matches!(ss, "failed" | "dead" | "auto-restart") && phase != Phase::Ended {
        Some(Phase::Ended)
    } else {
        None
    }
}

/// The index of the item that settled an attempt (made it running or ended), if one did.
/// Attempts are split only while the last one is starting, so once settled, nothing that
/// came before this item in the attempt can affect how later items split into attempts.
pub fn settled_by(a: &Attempt) -> Option<usize> {
    let mut phase = if a.start_ns.is_some() {
        Phase::Queued
    } else {
        Phase::Unknown
    };
    a.items.iter().position(|item| {
        if let Item::Change(c, _) = item
            && let Some(next) = next_phase(phase, c)
        {
            phase = next;
        }
        matches!(phase, Phase::Running | Phase::Ended)
    })
}
