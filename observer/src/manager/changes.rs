//! A feed of unit changes for recordings and `diagnose`: what a service went through (start
//! requested, activating, running, failed with Result=timeout, MainPID changes) with the
//! manager's timestamps, and the settings that explain it (Type, NotifyAccess, timeouts).
//! Only kept while someone asked for it (`Watcher::collect_changes`).

use std::collections::HashMap;

use zbus::OwnedVariant;

use super::props::{prop_text, prop_u32, prop_u64, prop_value};
use crate::said::Kind;

/// Signalled when a change is kept (`Watcher::collect_changes`), so that a collector asleep
/// (observer/src/idle.rs) wakes to take it. One for every manager: all are taken at once.
pub static KEPT: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// At most this many changes wait to be taken; past it the oldest are dropped (and counted).
pub const PENDING_MAX: usize = 16_384;

/// One change of a service, or a full snapshot (`full`) of what the recorder needs to know.
/// Absent fields did not change. PIDs are in the manager's namespace; 0 means none. States,
/// results and settings are checked against systemd's sets (said.rs): one systemd never sends
/// is marked `unrecognised:`; StatusText has its control characters escaped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitChange {
    pub unit: String,
    /// CLOCK_MONOTONIC ns: the manager's own timestamp for state changes, else when we heard.
    pub mono_ns: u64,
    pub full: bool,
    pub active_state: Option<String>,
    pub sub_state: Option<String>,
    /// Service `Result=`: success, timeout, watchdog, exit-code, signal, protocol, …
    pub result: Option<String>,
    pub main_pid: Option<u32>,
    pub control_pid: Option<u32>,
    pub status_text: Option<String>,
    pub n_restarts: Option<u32>,
    /// Exit of the main process: CLD_* code (1 exited, 2 killed, 3 dumped) and status.
    pub exec_main_code: Option<i32>,
    pub exec_main_status: Option<i32>,
    /// Settings, in full snapshots.
    pub service_type: Option<String>,
    pub notify_access: Option<String>,
    pub timeout_start_usec: Option<u64>,
    pub watchdog_usec: Option<u64>,
    /// A job: "start queued" (JobNew, with its type), "start done"/"start timeout"/… (JobRemoved).
    pub job: Option<String>,
}

type Props = HashMap<String, OwnedVariant>;

impl UnitChange {
    /// From one PropertiesChanged signal (`iface`'s values); None when nothing we keep changed.
    pub fn from_signal(unit: &str, iface: &str, p: &Props, mono_ns: u64) -> Option<UnitChange> {
        let mut c = UnitChange {
            unit: unit.to_owned(),
            mono_ns,
            ..Default::default()
        };
        if iface == super::UNIT_IFACE {
            c.active_state = prop_value(p, "ActiveState", Kind::ActiveState);
            c.sub_state = prop_value(p, "SubState", Kind::SubState);
        } else if iface == super::SERVICE_IFACE {
            c.fill_service(p);
            c.watchdog_usec = prop_u64(p, "WatchdogUSec").filter(|u| *u != u64::MAX);
        } else {
            return None;
        }
        (c != UnitChange {
            unit: unit.to_owned(),
            mono_ns,
            ..Default::default()
        })
        .then_some(c)
    }

    /// From full reads of the Unit and Service interfaces.
    pub fn snapshot(unit: &str, u: &Props, s: &Props, mono_ns: u64) -> UnitChange {
        let mut c = UnitChange {
            unit: unit.to_owned(),
            mono_ns,
            full: true,
            active_state: prop_value(u, "ActiveState", Kind::ActiveState),
            sub_state: prop_value(u, "SubState", Kind::SubState),
            ..Default::default()
        };
        c.fill_service(s);
        c.service_type = prop_value(s, "Type", Kind::ServiceType);
        c.notify_access = prop_value(s, "NotifyAccess", Kind::NotifyAccess);
        c.timeout_start_usec = prop_u64(s, "TimeoutStartUSec");
        // "infinity" (no watchdog, or from 257 not started yet) is no setting.
        c.watchdog_usec = prop_u64(s, "WatchdogUSec").filter(|u| *u != u64::MAX);
        c
    }

    fn fill_service(&mut self, s: &Props) {
        self.result = prop_value(s, "Result", Kind::ServiceResult);
        self.main_pid = prop_u32(s, "MainPID");
        self.control_pid = prop_u32(s, "ControlPID");
        self.status_text = prop_text(s, "StatusText");
        self.n_restarts = prop_u32(s, "NRestarts");
        self.exec_main_code = prop_i32(s, "ExecMainCode");
        self.exec_main_status = prop_i32(s, "ExecMainStatus");
    }
}

fn prop_i32(m: &Props, k: &str) -> Option<i32> {
    m.get(k).and_then(|v| i32::try_from(v).ok())
}
