//! Mirrors systemd's src/core/service.c: `service_notify_message_authorized()` (who may notify),
//! then `service_notify_message()`, field by field in systemd's order. MAINPID= (main_pid.rs),
//! READY=/RELOADING=/STOPPING= (process_state.rs) and the fd store (fd_store.rs) have files of
//! their own.

mod fd_store;
mod main_pid;
mod process_state;

use self::{
    fd_store::service_notify_message_fd_store, main_pid::service_notify_message_main_pid,
    process_state::service_notify_message_process_state,
};
use super::{
    Judge, Kind, LogLevel, Message, Rejection, Sender, ServiceState, Stage, UnitState, V_256,
    V_257, V_NOTIFY_RECV, V_NOTIFY_RELOAD, V_NOTIFYACCESS, V_SAFE_STRING, V_WATCHDOG_FROZEN,
    citations::{R, cite},
};
use crate::{
    notify::{self, Field, Key, NotifyAccess, Payload},
    systemd_basic::{escape, parse_util, string_util},
};

/// `service_notify_message_authorized()`: service.c:4075 v252.39, :4312 v254.26, :4295 v256.17,
/// :4518 v257.13, :5390 v262. Every version accepts exactly the main PID and, for NotifyAccess=exec,
/// the control PID (pid == s->main_pid / s->control_pid up to v256, pidref_equal() from v257); no
/// other process of an Exec*= command. NotifyAccess=none always refuses (warning); main/exec
/// refusals are warnings up to v255 and debug from v256 (5734d5d04c).
pub(super) fn service_notify_message_authorized(
    j: &mut Judge,
    u: &UnitState,
    pid: u32,
) -> Option<Rejection> {
    use NotifyAccess as A;
    let v = j.v;
    // service_get_notify_access(): the runtime override wins from v254 on.
    let access = if v >= V_NOTIFYACCESS {
        u.notify_access_override.unwrap_or(u.notify_access)
    } else {
        u.notify_access
    };
    let level = if v >= V_256 {
        LogLevel::Debug
    } else {
        LogLevel::Warning
    };
    let head = format!("Got notification message from PID {pid}, but reception");
    let (kind, reason, src) = match access {
        A::All => return None,
        A::Main | A::Exec if u.main_pid == Some(pid) => return None,
        A::Exec if u.control_pid == Some(pid) => return None,
        A::None => {
            // v256 dropped the final period (f8d6694783).
            let dot = if v >= V_256 { "" } else { "." };
            let src = cite(v, R::AccessNone);
            j.log(
                LogLevel::Warning,
                format!("{head} is disabled{dot}"),
                src.clone(),
            );
            return Some((
                Kind::AccessNone,
                Stage::Unit,
                LogLevel::Warning,
                format!("{head} is disabled{dot}"),
                src,
            ));
        }
        A::Main => match u.main_pid {
            Some(m) => (
                Kind::NotMainPid,
                format!("{head} only permitted for main PID {m}"),
                cite(v, R::NotMain),
            ),
            None => (
                Kind::MainPidUnknown,
                format!("{head} only permitted for main PID which is currently not known"),
                cite(v, R::MainUnknown),
            ),
        },
        A::Exec => match (u.main_pid, u.control_pid) {
            (Some(m), Some(c)) => (
                Kind::NotExecPid,
                format!("{head} only permitted for main PID {m} and control PID {c}"),
                cite(v, R::ExecBoth),
            ),
            (Some(m), None) => (
                Kind::NotExecPid,
                format!("{head} only permitted for main PID {m}"),
                cite(v, R::ExecMain),
            ),
            (None, Some(c)) => (
                Kind::NotExecPid,
                format!("{head} only permitted for control PID {c}"),
                cite(v, R::ExecControl),
            ),
            (None, None) => (
                Kind::ExecPidsUnknown,
                format!(
                    "{head} only permitted for main PID and control PID which are currently not known"
                ),
                cite(v, R::ExecNone),
            ),
        },
    };
    j.log(level, reason.clone(), src.clone());
    Some((kind, Stage::Unit, level, reason, src))
}

fn first(p: &Payload, key: Key) -> Option<&Field> {
    p.fields.iter().find(|f| f.key == key && f.has_equals)
}

fn has(p: &Payload, line: &[u8]) -> bool {
    p.fields.iter().any(|f| f.raw == line)
}

fn flag<'p>(p: &'p Payload, line: &[u8]) -> Option<&'p Field> {
    p.fields.iter().find(|f| f.raw == line)
}

fn shown(f: &Field) -> String {
    f.value.clone()
}

/// `service_notify_message()`: service.c:4119 v252.39, :4358 v254.26, :4630 v257.13, :5604 v262.
/// Fields in the order systemd handles them. `fds_left` drops by what MAINPIDFD=/FDSTORE= take.
pub(super) fn service_notify_message(
    j: &mut Judge,
    u: &UnitState,
    pid: u32,
    sender: &Sender,
    msg: &Message,
    p: &Payload,
    fds_left: &mut u32,
) {
    use LogLevel::*;
    let v = j.v;
    let joined = p
        .fields
        .iter()
        .map(|f| notify::escape(&f.raw))
        .collect::<Vec<_>>()
        .join(", ");
    let tags = if joined.is_empty() {
        "n/a".to_owned()
    } else {
        joined
    };
    if v >= V_257 {
        let src = cite(v, R::AcceptedNew);
        j.log(
            Debug,
            format!("Got notification message from PID {pid}: {tags}"),
            src,
        );
    } else {
        let src = cite(v, R::AcceptedOld);
        j.log(
            Debug,
            format!("Got notification message from PID {pid} ({tags})"),
            src,
        );
    }

    service_notify_message_main_pid(j, u, sender, msg, p, fds_left);
    service_notify_message_process_state(j, u, p);

    if let Some(f) = first(p, Key::Status) {
        let src = cite(v, R::Status);
        if f.raw_value().is_empty() {
            j.yes(f, "clears the status text".into(), src);
        } else if std::str::from_utf8(f.raw_value()).is_err() {
            j.warn(
                f,
                "Status message in notification message is not UTF-8 clean, ignoring.".into(),
                src,
            );
            j.amend(" (the previous status text is cleared too)");
        } else {
            j.yes(f, format!("status text set to \"{}\"", shown(f)), src);
        }
    }

    if let Some(f) = first(p, Key::NotifyAccess).filter(|_| v >= V_NOTIFYACCESS) {
        let src = cite(v, R::NotifyAccess);
        match NotifyAccess::from_value(f.raw_value()) {
            Some(a) => j.yes(
                f,
                format!(
                    "NotifyAccess= overridden to {} for the following messages",
                    a.as_str()
                ),
                src,
            ),
            None => {
                let m = format!(
                    "Failed to parse NOTIFYACCESS= field value '{}' in notification message, ignoring: Invalid argument",
                    shown(f)
                );
                j.warn(f, m, src);
                // The negative error code is stored as the override: any earlier override is gone.
                j.amend(" (side effect: an earlier NOTIFYACCESS= override is dropped)");
            }
        }
    }

    if let Some(f) = first(p, Key::Errno) {
        let src = cite(v, R::Errno);
        match parse_util::parse_errno(f.raw_value()) {
            Ok(e) => j.yes(f, format!("StatusErrno set to {e}"), src),
            Err(e) => j.warn(
                f,
                format!(
                    "Failed to parse ERRNO= field value '{}' in notification message: {}",
                    shown(f),
                    e.strerror()
                ),
                src,
            ),
        }
    }

    for key in [Key::BusError, Key::VarlinkError] {
        let Some(f) = first(p, key).filter(|_| v >= V_257) else {
            continue;
        };
        let src = cite(v, R::BusError);
        let val = f.raw_value();
        if val.is_empty() || string_util::string_is_safe_ascii(val, v >= V_SAFE_STRING) {
            j.yes(f, "recorded as the service's error name".into(), src);
        } else {
            let tag = key.systemd_name().unwrap_or_default();
            j.warn(
                f,
                format!(
                    "Got invalid {tag}= string, ignoring: {}",
                    escape::cescape(val)
                ),
                src,
            );
        }
    }

    if let Some(f) = first(p, Key::ExtendTimeoutUsec) {
        let src = cite(v, R::ExtendTimeout);
        match parse_util::safe_atou64(f.raw_value()) {
            Ok(t) => j.yes(
                f,
                format!("running timeout extended to at least {t} µs from now"),
                src,
            ),
            Err(_) => j.warn(
                f,
                format!("Failed to parse EXTEND_TIMEOUT_USEC={}", shown(f)),
                src,
            ),
        }
    }

    if let Some(f) = first(p, Key::Watchdog) {
        let src = cite(v, R::Watchdog);
        // service_reset_watchdog(): skipped while the unit is frozen or freezing
        // (freezer_state_finish()/_objective() != FREEZER_RUNNING).
        let frozen = u
            .freezer_state
            .as_deref()
            .filter(|s| v >= V_WATCHDOG_FROZEN && !matches!(*s, "running" | "thawing"));
        match (f.raw_value(), frozen) {
            (b"1", Some(state)) => {
                j.note(
                    f,
                    Some(false),
                    Some(Debug),
                    format!("Service is currently {state}, skipping resetting watchdog."),
                    cite(v, R::WatchdogFrozen),
                );
                if v == 257 {
                    j.caveats.push("systemd 257 skips WATCHDOG=1 while frozen from v257.9 on; v257.0-v257.8 reset the watchdog".into());
                }
            }
            (b"1", None) => j.yes(f, "watchdog timestamp refreshed".into(), src),
            (b"trigger", _) if u.watchdogs_enabled == Some(false) => j.no(
                f,
                "ignored: service watchdogs are disabled (systemctl service-watchdogs)".into(),
                src,
            ),
            (b"trigger", _) => {
                // service_force_watchdog() runs after STATUS= took effect; an empty or
                // non-UTF-8 STATUS= has cleared the text by then.
                let status = match first(p, Key::Status) {
                    Some(s) => String::from_utf8(s.raw_value().to_vec()).ok(),
                    None => u.status_text.clone(),
                };
                let status = status
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "<unset>".into());
                let src = cite(v, R::WatchdogRequest);
                let m = format!("Watchdog request (last status: {status})!");
                j.note(f, Some(true), Some(Error), m, src);
                j.amend(" — the service is stopped with result 'watchdog'");
            }
            _ => j.warn(
                f,
                "Passed WATCHDOG= field is invalid, ignoring.".into(),
                src,
            ),
        }
    }

    if let Some(f) = first(p, Key::WatchdogUsec) {
        let src = cite(v, R::WatchdogUsec);
        match parse_util::safe_atou64(f.raw_value()) {
            Ok(t) => j.yes(f, format!("watchdog timeout overridden to {t} µs"), src),
            Err(_) => j.warn(
                f,
                format!("Failed to parse WATCHDOG_USEC={}", shown(f)),
                src,
            ),
        }
    }

    if let Some(f) = flag(p, b"RESTART_RESET=1").filter(|_| v >= V_NOTIFY_RECV) {
        use ServiceState::*;
        let src = cite(v, R::RestartReset);
        match u.state {
            Some(Running | RunningRevalidating | Stop) => {
                let n = u
                    .n_restarts
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "N".into());
                j.note(
                    f,
                    Some(true),
                    Some(Notice),
                    format!("Got RESTART_RESET=1, resetting restart counter from {n}."),
                    src,
                );
            }
            Some(s) => j.no(
                f,
                format!(
                    "no effect: only honoured in state running or stop (state: {})",
                    sub_state(s)
                ),
                src,
            ),
            None => j.maybe(
                f,
                "resets the restart counter if the service is running or stopping".into(),
                src,
            ),
        }
    }

    service_notify_message_fd_store(j, u, p, fds_left);
    note_ignored_fields(j, p);
}

fn sub_state(s: ServiceState) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Fields systemd never looks at in this version, and duplicates it skips.
fn note_ignored_fields(j: &mut Judge, p: &Payload) {
    let v = j.v;
    let added = |k: Key| match k {
        Key::MonotonicUsec => V_NOTIFY_RELOAD,
        Key::NotifyAccess => V_NOTIFYACCESS,
        Key::MainPidFd | Key::MainPidFdId | Key::BusError | Key::VarlinkError => V_257,
        Key::RestartReset => V_NOTIFY_RECV,
        _ => 0,
    };
    for f in &p.fields {
        let src = cite(v, R::Fields);
        if added(f.key) > v {
            j.no(
                f,
                format!(
                    "not interpreted by systemd v{v} (read from v{} on)",
                    added(f.key)
                ),
                src,
            );
        } else if f.shadowed {
            j.no(
                f,
                format!("duplicate: systemd uses the first {}= line", f.name),
                src,
            );
        } else if let notify::Validity::NotInterpreted(why) = &f.validity {
            j.no(f, why.clone(), src);
        } else if matches!(f.key, Key::FdPoll | Key::FdName)
            && !has(p, b"FDSTORE=1")
            && !has(p, b"FDSTOREREMOVE=1")
        {
            j.no(
                f,
                "ignored: only used together with FDSTORE=1 or FDSTOREREMOVE=1".into(),
                src,
            );
        } else if f.key == Key::MainPidFdId && first(p, Key::MainPid).is_none() {
            j.no(f, "ignored: only used together with MAINPID=".into(), src);
        } else if let notify::Validity::NoEffect(why) = &f.validity {
            j.no(f, why.clone(), src);
        }
    }
}
