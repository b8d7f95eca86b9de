//! Start attempts and how they ended, from the unit changes the observer already follows
//! (manager/changes.rs): an attempt begins when a unit enters `activating` and ends when it
//! reaches `active` (success) or falls to `failed`/`inactive` (then the service's `Result=`
//! says how: timeout, exit-code, …).

use std::collections::HashMap;

use crate::manager::UnitChange;

/// How a start attempt ended: a label value, one of a fixed set (a manager's unknown `Result=`
/// is `Other`, never its text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StartOutcome {
    Success,
    /// TimeoutStartSec= passed without READY=1 (Result=timeout).
    Timeout,
    ExitCode,
    Signal,
    CoreDump,
    Watchdog,
    Protocol,
    Resources,
    StartLimitHit,
    OomKill,
    /// Stopped, or left `activating` without a failure Result= (a stop request, a condition).
    Canceled,
    Other,
}

impl StartOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Timeout => "timeout",
            Self::ExitCode => "exit-code",
            Self::Signal => "signal",
            Self::CoreDump => "core-dump",
            Self::Watchdog => "watchdog",
            Self::Protocol => "protocol",
            Self::Resources => "resources",
            Self::StartLimitHit => "start-limit-hit",
            Self::OomKill => "oom-kill",
            Self::Canceled => "canceled",
            Self::Other => "other",
        }
    }

    /// From the service's `Result=` when the attempt fell short of `active`.
    fn from_result(result: Option<&str>) -> Self {
        match result {
            None | Some("success") => Self::Canceled,
            Some("timeout") => Self::Timeout,
            Some("exit-code") => Self::ExitCode,
            Some("signal") => Self::Signal,
            Some("core-dump") => Self::CoreDump,
            Some("watchdog") => Self::Watchdog,
            Some("protocol") => Self::Protocol,
            Some("resources") => Self::Resources,
            Some("start-limit-hit") => Self::StartLimitHit,
            Some("oom-kill") => Self::OomKill,
            Some(_) => Self::Other,
        }
    }
}

/// What a unit change means for the unit's start attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartStep {
    Began,
    Ended(StartOutcome),
}

#[derive(Default)]
struct Unit {
    /// In `activating`, or on the way down from it (`deactivating` after a timeout).
    starting: bool,
    /// The service's last `Result=`.
    result: Option<String>,
}

/// Follows the units of one manager. Its size is bounded by the caller's unit cap: units past
/// it are not followed.
#[derive(Default)]
pub struct Starts {
    units: HashMap<String, Unit>,
}

impl Starts {
    /// The service's last `Result=` as seen so far.
    pub fn result(&self, unit: &str) -> Option<&str> {
        self.units.get(unit)?.result.as_deref()
    }

    /// Takes one change of `change.unit`; returns the steps it makes (none, a start, an end, or
    /// an end and the next start when one change says both).
    pub fn take(&mut self, change: &UnitChange) -> Vec<StartStep> {
        let u = self.units.entry(change.unit.clone()).or_default();
        // Result= comes with the service's own signal, before or with the state it explains.
        if let Some(r) = &change.result {
            u.result = Some(r.clone());
        }
        let mut steps = Vec::new();
        match change.active_state.as_deref() {
            Some("activating") if !u.starting => {
                u.starting = true;
                steps.push(StartStep::Began);
            }
            Some("active" | "reloading" | "refreshing") if u.starting => {
                u.starting = false;
                steps.push(StartStep::Ended(StartOutcome::Success));
            }
            // A timeout or a failed ExecStart kills the process first (deactivating, stop-sigterm):
            // the attempt has ended only when the unit is down.
            Some("failed" | "inactive" | "maintenance") if u.starting => {
                u.starting = false;
                steps.push(StartStep::Ended(StartOutcome::from_result(
                    u.result.as_deref(),
                )));
            }
            _ => {}
        }
        steps
    }
}

#[cfg(test)]
mod tests;
