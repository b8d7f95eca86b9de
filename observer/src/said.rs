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
mod tests {
    use super::*;

    #[test]
    fn unit_names_by_systemds_rules() {
        for good in [
            "foo.service",
            "foo@bar\\x2dbaz.service",
            "a:b-c_d.e.socket",
            "1.service",
        ] {
            assert!(unit_name(good), "{good}");
        }
        for bad in [
            "",
            "foo",
            ".service",
            "foo.bogus",
            "foo@.service",
            "@x.service",
            "\x1b[2J.service",
            "foo\x07.service",
            "foo\u{9b}.service",
            "foo\u{202e}.service",
            "foo bar.service",
            &format!("{}.service", "a".repeat(250)),
        ] {
            assert!(!unit_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn object_paths_that_decode_to_control_characters_name_no_unit() {
        let p = |s: &str| unit_from_object_path(&format!("/org/freedesktop/systemd1/unit/{s}"));
        assert_eq!(p("foo_2eservice").as_deref(), Some("foo.service"));
        assert_eq!(
            p("foo_40bar_5cx2dbaz_2eservice").as_deref(),
            Some("foo@bar\\x2dbaz.service")
        );
        assert_eq!(p("x_1b_5b2J_07_2eservice"), None);
        assert_eq!(p("x_c2_9b_2eservice"), None, "C1 CSI");
        assert_eq!(p("x_ff_2eservice"), None, "not UTF-8");
        assert_eq!(p("bad_2"), None);
        assert_eq!(unit_from_object_path("/org/freedesktop/systemd1"), None);
    }

    #[test]
    fn unknown_values_are_kept_marked_and_escaped() {
        assert_eq!(value(Kind::ActiveState, "active"), "active");
        assert_eq!(value(Kind::SubState, "start-post"), "start-post");
        assert_eq!(value(Kind::ServiceResult, "exit-code"), "exit-code");
        assert_eq!(value(Kind::JobType, "restart"), "restart");
        assert_eq!(value(Kind::JobResult, "canceled"), "canceled");
        assert_eq!(value(Kind::ServiceType, "notify-reload"), "notify-reload");
        assert_eq!(value(Kind::NotifyAccess, "exec"), "exec");
        let v = value(Kind::ActiveState, "\x1b]0;pwned\x07");
        assert_eq!(v, "unrecognised:\\x1b]0;pwned\\x07");
        assert!(is_unrecognised(&v));
        assert!(!v.chars().any(char::is_control));
        assert_eq!(
            value(Kind::ServiceResult, "\u{9b}2J"),
            "unrecognised:\\xc2\\x9b2J"
        );
        // A future systemd's value: shown as it is, marked.
        assert_eq!(value(Kind::SubState, "new-state"), "unrecognised:new-state");
    }

    #[test]
    fn text_keeps_words_and_escapes_controls() {
        assert_eq!(text("Ready, 3 workers"), "Ready, 3 workers");
        assert_eq!(text("\x1b[31mred\x07"), "\\x1b[31mred\\x07");
        assert!(!text("a\u{85}b\u{9f}c\x7f").chars().any(char::is_control));
    }
}
