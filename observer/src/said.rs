//! What managers say, checked before anything believes it (docs/OPERATIONS.md, "Trust
//! model"): the peer on a manager's socket may be any user's program. Unit names must pass
//! systemd's own `unit_name_is_valid()` (names that fail are dropped: systemd never sends them);
//! states, results and job types must be among the values systemd sends — an unknown one is
//! kept, marked `unrecognised:` and escaped, and never decides anything; free text (StatusText,
//! a D-Bus error's message) is kept with its control characters escaped.
//!
//! Pure functions on strings, for the manager module and the `said` fuzz target.

/// Every string the watcher keeps from one D-Bus message's bytes (manager/heard.rs), for the
/// `said` fuzz target.
pub use crate::manager::strings_kept;
use crate::{notify, verdict::ServiceState};

/// The prefix of a value systemd never sends; what follows is escaped.
pub const UNRECOGNISED: &str = "unrecognised:";

/// The kinds of values a manager reports, each with systemd's set (src/basic/unit-def.c and
/// src/core/job.c tables, 252 to 262).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ActiveState` (`unit_active_state_table`).
    ActiveState,
    /// A service's `SubState` (`service_state_table`, as `verdict::ServiceState`).
    SubState,
    /// A service's `Result` (`service_result_table`).
    ServiceResult,
    /// A job's type (`job_type_table`).
    JobType,
    /// A finished job's result, JobRemoved's last argument (`job_result_table`).
    JobResult,
    /// A service's `Type` (`service_type_table`).
    ServiceType,
    /// A service's `NotifyAccess` (`notify_access_table`).
    NotifyAccess,
}

const ACTIVE_STATES: &[&str] = &[
    "active",
    "reloading",
    "inactive",
    "failed",
    "activating",
    "deactivating",
    "maintenance",
    "refreshing",
];
const SERVICE_RESULTS: &[&str] = &[
    "success",
    "resources",
    "protocol",
    "timeout",
    "exit-code",
    "signal",
    "core-dump",
    "watchdog",
    "start-limit-hit",
    "oom-kill",
    "skip-condition",
];
const JOB_TYPES: &[&str] = &[
    "start",
    "verify-active",
    "stop",
    "reload",
    "reload-or-start",
    "restart",
    "try-restart",
    "try-reload",
    "nop",
];
const JOB_RESULTS: &[&str] = &[
    "done",
    "canceled",
    "timeout",
    "failed",
    "dependency",
    "skipped",
    "invalid",
    "assert",
    "unsupported",
    "collected",
    "once",
    "frozen",
    "concurrency",
];
const SERVICE_TYPES: &[&str] = &[
    "simple",
    "exec",
    "forking",
    "oneshot",
    "dbus",
    "notify",
    "notify-reload",
    "idle",
];
const NOTIFY_ACCESS: &[&str] = &["none", "main", "exec", "all"];

/// Whether systemd sends `s` as a value of `kind`.
pub fn is_known(kind: Kind, s: &str) -> bool {
    let set = match kind {
        Kind::ActiveState => ACTIVE_STATES,
        Kind::SubState => return ServiceState::from_sub_state(s).is_some(),
        Kind::ServiceResult => SERVICE_RESULTS,
        Kind::JobType => JOB_TYPES,
        Kind::JobResult => JOB_RESULTS,
        Kind::ServiceType => SERVICE_TYPES,
        Kind::NotifyAccess => NOTIFY_ACCESS,
    };
    set.contains(&s)
}

/// `s` if systemd sends it as a `kind`, else `unrecognised:` and `s` escaped.
pub fn value(kind: Kind, s: &str) -> String {
    if is_known(kind, s) {
        s.to_owned()
    } else {
        format!("{UNRECOGNISED}{}", text(s))
    }
}

/// Whether `s` is a value marked by `value()`: shown, never acted on.
pub fn is_unrecognised(s: &str) -> bool {
    s.starts_with(UNRECOGNISED)
}

/// Free text a manager sends, its control characters (C0, DEL, C1) escaped as `\xNN`.
pub fn text(s: &str) -> String {
    notify::escape(s.as_bytes())
}

/// systemd's `unit_name_is_valid(n, UNIT_NAME_PLAIN|UNIT_NAME_INSTANCE)`: what a unit that runs
/// can be called. Letters, digits and `:-_.\@` only: no control character ever passes.
pub fn unit_name(n: &str) -> bool {
    crate::systemd_basic::unit_name::unit_name_is_valid(n, true, true)
}

/// The unit an object path names (`bus_path_escape()`'s inverse: "_2d" → '-', "_2e" → '.'),
/// if it is a valid unit name: `_1b` decodes to ESC, which no unit name holds.
pub fn unit_from_object_path(path: &str) -> Option<String> {
    let enc = path
        .strip_prefix("/org/freedesktop/systemd1/unit/")?
        .as_bytes();
    let mut out = Vec::with_capacity(enc.len());
    let mut i = 0;
    while i < enc.len() {
        if enc[i] == b'_' {
            let hex = std::str::from_utf8(enc.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(enc[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().filter(|u| unit_name(u))
}

#[cfg(test)]
mod tests;
