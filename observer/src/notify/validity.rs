//! Each value on its own, by the rules of `service_notify_message()` (src/core/service.c) that
//! hold in every version read; what depends on the version or the unit is `verdict/`'s.

use serde::Serialize;

use super::{Key, NotifyAccess};
use crate::systemd_basic::{
    errno_list::Errno,
    fd_util::fdname_is_valid,
    parse_util::{parse_errno, parse_pid, safe_atou64},
    string_util::string_is_safe_ascii,
};

/// How systemd would judge a field's value on its own (no unit state, no version specifics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum Validity {
    /// systemd parses it and would act on it.
    Valid,
    /// systemd tries to parse it and fails (it logs a warning); the text says why.
    Invalid(String),
    /// Well-formed but systemd matches only one exact value (e.g. `READY=0`): silently ignored.
    NoEffect(String),
    /// systemd never reads this line (X_*, unknown keys, `EXIT_STATUS=`, lines without `=`).
    NotInterpreted(String),
}

/// Value rules of `service_notify_message()` (service.c:4119 v252.39 / :4630 v257.13 / :5604 v262).
pub(super) fn validity(key: Key, value: Option<&[u8]>) -> Validity {
    let Some(v) = value else {
        return Validity::NotInterpreted("no '=': not a KEY=VALUE assignment, ignored".into());
    };
    let from = |r: Result<(), Errno>| match r {
        Ok(()) => Validity::Valid,
        Err(e) => Validity::Invalid(e.strerror().into()),
    };
    let exact = |want: &str| {
        if v == want.as_bytes() {
            Validity::Valid
        } else {
            let k = key.systemd_name().unwrap_or("?");
            Validity::NoEffect(format!(
                "systemd only matches the exact line {k}={want} (strv_contains())"
            ))
        }
    };
    match key {
        Key::Ready | Key::Reloading | Key::Stopping | Key::FdStore | Key::FdStoreRemove => {
            exact("1")
        }
        Key::Barrier | Key::MainPidFd | Key::RestartReset => exact("1"),
        Key::FdPoll => exact("0"),
        Key::MainPid => from(parse_pid(v).map(drop)),
        Key::MainPidFdId | Key::MonotonicUsec | Key::WatchdogUsec | Key::ExtendTimeoutUsec => {
            from(safe_atou64(v).map(drop))
        }
        Key::Errno => from(parse_errno(v).map(drop)),
        // STATUS= empty clears the status text; otherwise it must be UTF-8 (utf8_is_valid()).
        Key::Status if std::str::from_utf8(v).is_err() => {
            Validity::Invalid("not UTF-8 clean".into())
        }
        Key::Status => Validity::Valid,
        Key::NotifyAccess => match NotifyAccess::from_value(v) {
            Some(_) => Validity::Valid,
            None => Validity::Invalid("not one of none, main, exec, all".into()),
        },
        Key::Watchdog if v == b"1" || v == b"trigger" => Validity::Valid,
        Key::Watchdog => Validity::Invalid("must be 1 or trigger".into()),
        Key::FdName if fdname_is_valid(v) => Validity::Valid,
        Key::FdName => Validity::Invalid("control character, ':' or longer than 255".into()),
        // BUSERROR=/VARLINKERROR= (v257+): empty clears; else string_is_safe_ascii().
        Key::BusError | Key::VarlinkError if v.is_empty() || string_is_safe_ascii(v, false) => {
            Validity::Valid
        }
        Key::BusError | Key::VarlinkError => Validity::Invalid(
            "not plain ASCII without quotes, backslashes or control characters".into(),
        ),
        Key::ExitStatus => Validity::NotInterpreted(
            "informational: systemd does not consume EXIT_STATUS= from services".into(),
        ),
        Key::Custom => {
            Validity::NotInterpreted("X_ extension: never interpreted by systemd".into())
        }
        Key::Unknown => Validity::NotInterpreted("unknown assignment: ignored by systemd".into()),
    }
}
