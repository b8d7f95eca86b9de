//! Follows one manager's signals (`Watcher`, `watch_loop()`): PropertiesChanged into the units'
//! history and cached state (`apply()`), JobNew/JobRemoved into the feed of unit changes.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, VecDeque},
    pin::Pin,
    sync::{Arc, Mutex},
};

use anyhow::Result;
use zbus::{
    MessageStream, OwnedObjectPath, OwnedVariant, export::futures_core::Stream, message::Sequence,
};

use super::{
    Manager, SERVICE_IFACE, UNIT_IFACE, UnitChange, changes,
    heard::{Heard, heard},
    history::{History, Snapshot, UNITS_MAX, newest},
    monotonic_ns,
    props::{exec_main, prop_str, prop_text, prop_u32, prop_u64, prop_value},
};
use crate::{
    notify::NotifyAccess,
    said::{self, Kind},
    verdict::{ServiceState, UnitState},
};

#[derive(Default)]
pub(super) struct Shared {
    history: HashMap<String, History>,
    /// Last full state read per unit, kept current from signals.
    states: HashMap<String, UnitState>,
    /// Where in the connection's message order each unit's last full read was: signals received
    /// before it are older than that read and must not override it.
    read_at: HashMap<String, Sequence>,
    /// Property names seen per interface: (changed, invalidated). For diagnostics and the test.
    seen: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>,
    /// Set when the stream ends (connection lost).
    ended: Option<String>,
    /// Unit changes not yet taken, when collecting (see changes.rs).
    collect: bool,
    changes: VecDeque<UnitChange>,
    changes_dropped: u64,
    /// Signals that said what systemd never says (said.rs), ignored.
    said_wrong: u64,
}

impl Shared {
    fn push_change(&mut self, c: UnitChange) {
        if !self.collect || !c.unit.ends_with(".service") {
            return;
        }
        if self.changes.len() >= changes::PENDING_MAX {
            self.changes.pop_front();
            self.changes_dropped += 1;
        }
        self.changes.push_back(c);
        changes::KEPT.notify_one();
    }
}

/// Follows one manager's PropertiesChanged signals in a background task (stopped on drop).
pub struct Watcher {
    pub(super) manager: Manager,
    pub(super) shared: Arc<Mutex<Shared>>,
    pub(super) task: tokio::task::JoinHandle<()>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Watcher {
    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        // A panic while holding the lock cannot leave the maps half-updated in a harmful way.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the unit's full state now, caches it, and records it as a history point.
    pub async fn track(&self, unit: &str) -> Result<UnitState> {
        self.reader().track(unit).await
    }

    /// What `track()` needs, for a task of its own: the collector never waits for a manager.
    pub fn reader(&self) -> UnitReader {
        UnitReader {
            manager: self.manager.clone(),
            shared: self.shared.clone(),
        }
    }

    /// The latest state we have (from `track()` plus signals since), without asking the manager.
    pub fn cached(&self, unit: &str) -> Option<UnitState> {
        self.lock().states.get(unit).cloned()
    }

    pub fn history(&self, unit: &str) -> Option<History> {
        self.lock().history.get(unit).cloned()
    }

    /// MainPID, ControlPID and SubState at CLOCK_MONOTONIC `t_ns` (e.g. an event's send time).
    pub fn state_at(&self, unit: &str, t_ns: u64) -> Option<Snapshot> {
        let sh = self.lock();
        let h = sh.history.get(unit)?;
        let next = [
            h.main_pid.next_change_after(t_ns),
            h.control_pid.next_change_after(t_ns),
            h.sub_state.next_change_after(t_ns),
        ]
        .into_iter()
        .flatten()
        .min();
        Some(Snapshot {
            main_pid: h.main_pid.at(t_ns).copied().filter(|p| *p != 0),
            control_pid: h.control_pid.at(t_ns).copied().filter(|p| *p != 0),
            sub_state: h.sub_state.at(t_ns).cloned(),
            next_change_ns: next,
        })
    }

    /// The cached state with MainPID/ControlPID/SubState as they were at `t_ns`: what to hand to
    /// `verdict::judge()`. None until the unit is tracked.
    pub fn unit_state_at(&self, unit: &str, t_ns: u64) -> Option<UnitState> {
        let sh = self.lock();
        let mut st = sh.states.get(unit)?.clone();
        if let Some(h) = sh.history.get(unit) {
            if let Some(p) = h.main_pid.at(t_ns) {
                st.main_pid = Some(*p).filter(|p| *p != 0);
            }
            if let Some(p) = h.control_pid.at(t_ns) {
                st.control_pid = Some(*p).filter(|p| *p != 0);
            }
            if let Some(sub) = h.sub_state.at(t_ns).filter(|_| st.id.ends_with(".service")) {
                st.state = ServiceState::from_sub_state(sub);
            }
            st.exec_main = newest(st.exec_main, h.exec_main);
        }
        Some(st)
    }

    /// Property names seen in signals: interface → (changed, invalidated).
    pub fn signal_properties(&self) -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
        self.lock().seen.clone()
    }

    /// Starts keeping a feed of unit changes (for recordings and diagnose).
    pub fn collect_changes(&self) {
        self.lock().collect = true;
    }

    /// The unit changes since the last call, oldest first, and how many were dropped because
    /// nobody took them in time.
    pub fn take_changes(&self) -> (Vec<UnitChange>, u64) {
        let mut sh = self.lock();
        let dropped = std::mem::take(&mut sh.changes_dropped);
        (sh.changes.drain(..).collect(), dropped)
    }

    /// How many signals said what systemd never says (ignored), for the exit summary.
    pub fn said_wrong(&self) -> u64 {
        self.lock().said_wrong
    }

    /// Why the watcher stopped, if it did (the manager went away).
    pub fn ended(&self) -> Option<String> {
        self.lock().ended.clone()
    }
}

/// Reads units in full for a `Watcher` (`Watcher::reader()`), from any task.
#[derive(Clone)]
pub struct UnitReader {
    manager: Manager,
    shared: Arc<Mutex<Shared>>,
}

impl UnitReader {
    /// Reads the unit's full state now, caches it, and records it as a history point.
    pub async fn track(&self, unit: &str) -> Result<UnitState> {
        let (st, seq, snapshot) = self.manager.read_unit(unit).await?;
        let now = monotonic_ns();
        let mut sh = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        sh.push_change(snapshot);
        sh.read_at.insert(st.id.clone(), seq);
        let h = sh.history.entry(st.id.clone()).or_default();
        h.main_pid.record(now, st.main_pid.unwrap_or(0));
        h.control_pid.record(now, st.control_pid.unwrap_or(0));
        if let Some(s) = st.state {
            h.sub_state.record(now, sub_state_name(s));
        }
        h.exec_main = newest(h.exec_main, st.exec_main);
        sh.states.insert(st.id.clone(), st.clone());
        Ok(st)
    }
}

pub(super) fn sub_state_name(s: ServiceState) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub(super) async fn watch_loop(
    manager: Manager,
    mut stream: MessageStream,
    shared: Arc<Mutex<Shared>>,
) {
    loop {
        let next = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await;
        let msg = match next {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                log::debug!("watch: bad message: {e}");
                continue;
            }
            None => {
                shared.lock().unwrap_or_else(|e| e.into_inner()).ended =
                    Some("D-Bus connection closed".into());
                return;
            }
        };
        let now = monotonic_ns();
        // Checked first (said.rs): whatever is not systemd's is dropped here.
        let (path, unit, iface, mut changed, invalidated) = match heard(&msg) {
            Heard::Changed {
                path,
                unit,
                iface,
                changed,
                invalidated,
            } => (path, unit, iface, changed, invalidated),
            Heard::JobNew { unit, job } => {
                let c = job_queued(unit, &job, &manager, now).await;
                lock(&shared).push_change(c);
                continue;
            }
            Heard::JobRemoved { unit, result } => {
                lock(&shared).push_change(job_change(unit, format!("job {result}"), now));
                continue;
            }
            Heard::Reloaded => {
                // daemon-reload can change what is never signalled (NotifyAccess=, Type=,
                // FileDescriptorStoreMax= in 252): forget the full reads, so callers re-track.
                let mut sh = lock(&shared);
                sh.states.clear();
                sh.read_at.clear();
                continue;
            }
            Heard::Wrong => {
                lock(&shared).said_wrong += 1;
                continue;
            }
            Heard::Other => continue,
        };
        // Invalidated means "changed, ask for the value": read the ones we use (bounded: a
        // manager that does not answer only delays its own signals).
        for name in invalidated.iter().filter(|n| TRACKED.contains(&n.as_str())) {
            let get = manager.get(&path, &iface, name);
            if let Ok(Ok(v)) = tokio::time::timeout(SIDE_CALL_MAX, get).await {
                changed.insert(name.clone(), v);
            }
        }
        // The watchdog a timeout ran out of (never signalled, and from 257 "infinity" until the
        // first start): read when Result=watchdog shows, for the feed (diagnose).
        if iface == SERVICE_IFACE && prop_str(&changed, "Result").as_deref() == Some("watchdog") {
            let get = manager.get(&path, &iface, "WatchdogUSec");
            if let Ok(Ok(v)) = tokio::time::timeout(SIDE_CALL_MAX, get).await {
                changed.insert("WatchdogUSec".into(), v);
            }
        }
        let mut sh = lock(&shared);
        let seen = sh.seen.entry(iface.clone()).or_default();
        seen.0.extend(changed.keys().cloned());
        seen.1.extend(invalidated.iter().cloned());
        if sh
            .read_at
            .get(&unit)
            .is_some_and(|r| msg.recv_position() < *r)
        {
            continue; // sent before the last full read, which already has newer values
        }
        apply(&mut sh, &unit, &iface, &changed, now);
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long the watcher waits for a call it makes for a signal (a job's type, an invalidated
/// property).
const SIDE_CALL_MAX: std::time::Duration = std::time::Duration::from_secs(1);

/// The properties the watcher keeps; all others are ignored.
const TRACKED: &[&str] = &[
    "MainPID",
    "ControlPID",
    "SubState",
    "StatusText",
    "NRestarts",
    "NotifyAccess",
    "NFileDescriptorStore",
    "ExecMainPID",
    "ExecMainStartTimestampMonotonic",
    "ExecMainExitTimestampMonotonic",
];

/// JobNew as a unit change: "start queued", with the job's type read from the manager.
async fn job_queued(
    unit: String,
    job: &OwnedObjectPath,
    manager: &Manager,
    now: u64,
) -> UnitChange {
    // The job may be gone already (a no-op start): then its type is unknown.
    let get = manager.get(job.as_str(), "org.freedesktop.systemd1.Job", "JobType");
    let kind = tokio::time::timeout(SIDE_CALL_MAX, get)
        .await
        .ok()
        .and_then(Result::ok)
        .and_then(|v| {
            <&str>::try_from(&v)
                .ok()
                .map(|t| said::value(Kind::JobType, t))
        })
        .unwrap_or_else(|| "job".into());
    job_change(unit, format!("{kind} queued"), now)
}

/// A job's step as a unit change: "start queued", "job done", "job timeout", ….
fn job_change(unit: String, job: String, now: u64) -> UnitChange {
    UnitChange {
        unit,
        mono_ns: now,
        job: Some(job),
        ..Default::default()
    }
}

fn apply(sh: &mut Shared, unit: &str, iface: &str, p: &HashMap<String, OwnedVariant>, now: u64) {
    // The feed of changes: a Unit signal is stamped with the manager's own time of the state
    // change; one whose StateChangeTimestampMonotonic is 0 reports no state change since the
    // unit was loaded (a signal for something else, or queued before a daemon-reload): it
    // carries nothing new, and stamped with our receive time it could land after a real change.
    let changed_at = prop_u64(p, "StateChangeTimestampMonotonic");
    let stamp = match (iface, changed_at) {
        (UNIT_IFACE, Some(0)) => None,
        (UNIT_IFACE, Some(us)) => Some(us.saturating_mul(1000).min(now)),
        _ => Some(now),
    };
    if let Some(c) = stamp.and_then(|t| UnitChange::from_signal(unit, iface, p, t)) {
        sh.push_change(c);
    }
    if !sh.history.contains_key(unit)
        && sh.history.len() >= UNITS_MAX
        && let Some(oldest) = sh
            .history
            .iter()
            .min_by_key(|(_, h)| h.last_change)
            .map(|(k, _)| k.clone())
    {
        sh.history.remove(&oldest);
    }
    let h = sh.history.entry(unit.to_owned()).or_default();
    h.last_change = now;
    match iface {
        SERVICE_IFACE => {
            if let Some(v) = prop_u32(p, "MainPID") {
                match fork_of_new_main_pid(h, p, v, now) {
                    // A MainPID=0 sent before the fork can be heard after it: superseded.
                    Some(forked) => h.main_pid.record_superseding(forked, v),
                    None => h.main_pid.record(now, v),
                }
            }
            if let Some(v) = prop_u32(p, "ControlPID") {
                h.control_pid.record(now, v);
            }
            h.exec_main = exec_main(h.exec_main, p);
        }
        UNIT_IFACE => {
            if let Some(v) = prop_value(p, "SubState", Kind::SubState) {
                // StateChangeTimestampMonotonic is sent with SubState: the manager's own time of
                // the last state change (µs; 0 = none since the unit was loaded). Exact, unlike our
                // receive time, which would also misorder a signal we process late.
                let t = prop_u64(p, "StateChangeTimestampMonotonic")
                    .map_or(now, |us| us.saturating_mul(1000).min(now));
                h.sub_state.record(t, v);
            }
        }
        _ => {}
    }
    let Some(st) = sh.states.get_mut(unit) else {
        return;
    };
    match iface {
        SERVICE_IFACE => {
            if let Some(v) = prop_u32(p, "MainPID") {
                st.main_pid = Some(v).filter(|v| *v != 0);
            }
            if let Some(v) = prop_u32(p, "ControlPID") {
                st.control_pid = Some(v).filter(|v| *v != 0);
            }
            if let Some(v) = prop_text(p, "StatusText") {
                st.status_text = Some(v);
            }
            if let Some(v) = prop_u32(p, "NRestarts") {
                st.n_restarts = Some(v);
            }
            if let Some(v) = prop_u32(p, "NFileDescriptorStore") {
                st.fd_store_count = Some(v);
            }
            st.exec_main = exec_main(st.exec_main, p);
            if let Some(a) =
                prop_str(p, "NotifyAccess").and_then(|a| NotifyAccess::from_value(a.as_bytes()))
            {
                st.notify_access = a;
            }
        }
        UNIT_IFACE => {
            if let Some(v) = prop_str(p, "SubState") {
                st.state = ServiceState::from_sub_state(&v);
            }
            if let Some(v) = prop_str(p, "FreezerState") {
                st.freezer_state = Some(v);
            }
        }
        _ => {}
    }
}

/// When the new MainPID `v` was forked, for a unit that had no main process and a signal that
/// says the process was started (ExecMainPID is `v`): systemd's own time, at most `now`. None:
/// it holds from our receive time. systemd queues its bus signals behind the work at
/// hand, so the signal can come after datagrams the new process sent (seen under emulation:
/// READY=1 from the new main process judged "main PID … not known" by the recorder). Not for
/// a handover from another main PID (MAINPID=): from v257 an adopted process's ExecMain start
/// is its own, earlier fork time, while it became the main PID only at the handover.
pub(super) fn fork_of_new_main_pid(
    h: &History,
    p: &HashMap<String, OwnedVariant>,
    v: u32,
    now: u64,
) -> Option<u64> {
    let had_none = h.main_pid.at(now).is_none_or(|old| *old == 0);
    match (
        prop_u32(p, "ExecMainPID"),
        prop_u64(p, "ExecMainStartTimestampMonotonic"),
    ) {
        (Some(exec), Some(us)) if had_none && v != 0 && exec == v && us != 0 => {
            Some(us.saturating_mul(1000).min(now))
        }
        _ => None,
    }
}
