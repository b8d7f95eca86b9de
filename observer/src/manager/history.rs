//! What the watcher remembers of each unit: timelines of MainPID, ControlPID and SubState, and
//! systemd's latest record of the main process.

use std::collections::VecDeque;

use crate::verdict::ExecMain;

/// How many changes per field and unit are kept: plenty for "what was it a moment ago".
pub(super) const HISTORY_MAX: usize = 64;

/// Units with history kept; past it the one changed longest ago is dropped.
pub(super) const UNITS_MAX: usize = 4096;

/// A value over time: (CLOCK_MONOTONIC ns from which it held, value). Only changes are stored.
#[derive(Debug, Clone, Default)]
pub struct Timeline<T> {
    points: VecDeque<(u64, T)>,
}

impl<T: Clone + PartialEq> Timeline<T> {
    /// Notes that the value was `v` from `t` on. Times may come out of order (systemd's own
    /// timestamps are earlier than our receive times), so the point goes where it belongs.
    pub(super) fn record(&mut self, t: u64, v: T) {
        let at = self.points.partition_point(|(pt, _)| *pt <= t);
        if at > 0 && self.points[at - 1].1 == v {
            return; // no change as of t
        }
        if self.points.get(at).is_some_and(|(_, next)| *next == v) {
            self.points.remove(at); // the same value, known from later: it held from t already
        }
        self.points.insert(at, (t, v));
        if self.points.len() > HISTORY_MAX {
            self.points.pop_front();
        }
    }

    /// Notes that the value was `v` from `t` on, where everything noted after `t` is older news
    /// (signals come in the order they were sent: a value heard before this one, though heard
    /// after `t`, was sent before it, so it held before `t`).
    pub(super) fn record_superseding(&mut self, t: u64, v: T) {
        self.points.retain(|(pt, _)| *pt <= t);
        self.record(t, v);
    }

    /// The value at time `t`, None when we know nothing that early.
    pub fn at(&self, t: u64) -> Option<&T> {
        let i = self.points.partition_point(|(pt, _)| *pt <= t);
        i.checked_sub(1).map(|i| &self.points[i].1)
    }

    /// When the value next changed after `t`.
    pub fn next_change_after(&self, t: u64) -> Option<u64> {
        let i = self.points.partition_point(|(pt, _)| *pt <= t);
        self.points.get(i).map(|(pt, _)| *pt)
    }

    pub fn points(&self) -> impl Iterator<Item = &(u64, T)> {
        self.points.iter()
    }
}

/// The history of one unit. PIDs are in the manager's namespace; 0 means none.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub main_pid: Timeline<u32>,
    pub control_pid: Timeline<u32>,
    pub sub_state: Timeline<String>,
    /// systemd's latest record of the main process, from signals: kept here too because an
    /// inactive unit may be unloaded (garbage-collected) at once, and a read after that finds
    /// a fresh unit whose ExecMain* are all 0.
    pub exec_main: Option<ExecMain>,
    pub(super) last_change: u64,
}

/// The later of two records of the main process (a later start; for the same start, the one
/// that has its exit).
pub(super) fn newest(a: Option<ExecMain>, b: Option<ExecMain>) -> Option<ExecMain> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if (y.start_us, y.exit_us) > (x.start_us, x.exit_us) {
            y
        } else {
            x
        }),
        (x, y) => x.or(y),
    }
}

/// One unit's state at a moment, from the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub main_pid: Option<u32>,
    pub control_pid: Option<u32>,
    pub sub_state: Option<String>,
    /// The next recorded change after the moment asked about: a change recorded just after it may
    /// have happened just before it (signals lag), so a caller can flag the judgement as close.
    pub next_change_ns: Option<u64>,
}
