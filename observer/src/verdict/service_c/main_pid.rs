//! MAINPID=, MAINPIDFD=1 and MAINPIDFDID=: whether systemd takes the new main PID, as
//! src/core/service.c decides it.

use super::{first, flag, shown, sub_state};
use crate::{
    notify::{Field, Key, Payload},
    systemd_basic::{errno_list::Errno, parse_util},
    verdict::{
        Judge, LogLevel, Message, PidFacts, Sender, ServiceState, UnitState, V_256, V_257, V_262,
        V_NOTIFY_RECV, V_NOTIFY_RELOAD, V_PIDREF, V_REFRESH_CREDENTIALS, V_STOP_LATCH,
        citations::{R, cite},
    },
};

/// MAINPID= / MAINPIDFD=1 / MAINPIDFDID=: service.c:4144 v252.39, :4384 v254.26,
/// `service_notify_message_parse_new_pid()` :4564 v257.13, :5436 v262.
pub(super) fn service_notify_message_main_pid(
    j: &mut Judge,
    u: &UnitState,
    sender: &Sender,
    msg: &Message,
    p: &Payload,
    fds_left: &mut u32,
) {
    use ServiceState::*;
    let v = j.v;
    // States in which a new main PID is taken (the IN_SET() next to the parse), as each release
    // grew it: service.c:4145 v252.31, :4221 v253.26, :4358 v256.17, :4782 v258.10, :4959 v259.8,
    // :5108 v260.4.
    // Listed in the order the notes have always shown them.
    let states: Vec<ServiceState> = [
        (Start, 0),
        (StartPost, 0),
        (Running, 0),
        (Reload, 0),
        (ReloadSignal, V_NOTIFY_RELOAD),
        (ReloadNotify, V_NOTIFY_RELOAD),
        // stop (31197c684a) and stop-sigterm (f5b72af50d), both first in v256.
        (Stop, V_256),
        (StopSigterm, V_256),
        (RunningRevalidating, V_262),                // read in v262 only
        (RefreshExtensions, V_NOTIFY_RECV),          // dfdeb0b1cb, v258
        (RefreshCredentials, V_REFRESH_CREDENTIALS), // fff07be411, v260
        (ReloadPost, V_STOP_LATCH),                  // b03e1b09af, v259
    ]
    .into_iter()
    .filter(|(_, from)| v >= *from)
    .map(|(s, _)| s)
    .collect();
    let state_src = cite(v, R::MainPidStates);
    let state_ok = u.state.map(|s| states.contains(&s));
    let state_list = states
        .iter()
        .map(|s| sub_state(*s))
        .collect::<Vec<_>>()
        .join(", ");

    // From v257 the new PID is parsed before the state is checked, so parse errors log always.
    if v >= V_257
        && let Some(f) = flag(p, b"MAINPIDFD=1")
    {
        let src = cite(v, R::MainPidFd);
        if msg.fds != 1 {
            let n = if msg.fds == 0 { "no" } else { "more than one" };
            j.warn(f, format!("Got MAINPIDFD=1 with {n} fd, ignoring."), src);
            return;
        }
        *fds_left = fds_left.saturating_sub(1);
        let m = match state_ok {
                Some(false) => format!("ignored: the main PID only changes in states {state_list}"),
                _ => "main PID taken from the pidfd sent along (which process that is, the observer cannot see)".into(),
            };
        j.note(
            f,
            state_ok.and_then(|ok| (!ok).then_some(false)),
            None,
            m,
            src,
        );
        return;
    }
    let Some(f) = first(p, Key::MainPid) else {
        return;
    };
    if v < V_257 && state_ok == Some(false) {
        j.no(
            f,
            format!("ignored (no log): the main PID only changes in states {state_list}"),
            state_src,
        );
        return;
    }
    let parse_src = cite(v, R::MainPidParse);
    let new = match parse_util::parse_pid(f.raw_value()) {
        Err(e) if v >= V_PIDREF => {
            return j.warn(
                f,
                format!(
                    "Failed to parse MAINPID={} field in notification message, ignoring: {}",
                    shown(f),
                    e.strerror()
                ),
                parse_src,
            );
        }
        Err(_) => {
            return j.warn(
                f,
                format!(
                    "Failed to parse MAINPID= field in notification message, ignoring: {}",
                    shown(f)
                ),
                parse_src,
            );
        }
        Ok(n) => n,
    };
    let facts = u.mainpid_target.as_ref().filter(|t| t.pid == new);
    if v >= V_PIDREF && facts.is_some_and(|t| !t.exists) {
        // pidref_set_pid() opens a pidfd: ESRCH for a PID that is gone.
        let m = format!(
            "Failed to parse MAINPID={} field in notification message, ignoring: {}",
            shown(f),
            Errno::ESRCH.strerror()
        );
        return j.warn(f, m, parse_src);
    }
    if v >= V_257 {
        if let Some(id) = first(p, Key::MainPidFdId) {
            if parse_util::safe_atou64(id.raw_value()).is_err() {
                let src = cite(v, R::MainPidFdIdParse);
                let m = format!(
                    "Failed to parse MAINPIDFDID= in notification message, refusing: {}",
                    shown(id)
                );
                j.warn(id, m, src);
                return j.no(
                    f,
                    "ignored: MAINPIDFDID= could not be parsed".into(),
                    parse_src,
                );
            }
            let src = cite(v, R::MainPidFdIdCheck);
            j.maybe(id, "checked against the pidfd inode id of the new main PID (the observer cannot check it)".into(), src);
        }
        match state_ok {
            Some(false) => {
                return j.no(
                    f,
                    format!("ignored (no log): the main PID only changes in states {state_list}"),
                    state_src,
                );
            }
            None => j
                .caveats
                .push("service state unknown: MAINPID= is only honoured in some states".into()),
            Some(true) => {}
        }
    } else if state_ok.is_none() {
        j.caveats
            .push("service state unknown: MAINPID= is only honoured in some states".into());
    }
    if u.main_pid == Some(new) {
        return j.yes(
            f,
            format!("PID {new} already is the main PID: nothing to do"),
            state_src,
        );
    }
    service_is_suitable_main_pid(j, u, f, new, facts, sender.uid);
}

/// `service_is_suitable_main_pid()` (service.c:931 v252.39, :1140 v257.13, :1511 v262; same rules
/// in all) plus the caller's "privileged sender" exception and `service_set_main_pid()`'s warning.
fn service_is_suitable_main_pid(
    j: &mut Judge,
    u: &UnitState,
    f: &Field,
    new: u32,
    facts: Option<&PidFacts>,
    sender_uid: u32,
) {
    use LogLevel::*;
    let v = j.v;
    if new == u.manager_pid || new == 1 {
        let src = cite(v, R::IsManager);
        return j.warn(
            f,
            format!("New main PID {new} is the manager, refusing."),
            src,
        );
    }
    if u.control_pid == Some(new) {
        let src = cite(v, R::IsControl);
        return j.warn(
            f,
            format!("New main PID {new} is the control process, refusing."),
            src,
        );
    }
    let Some(t) = facts else {
        let m = format!(
            "new main PID {new} is taken if it is alive and in {}'s cgroup, or alive and the sender is root (uid {sender_uid} now); refused otherwise",
            u.id
        );
        return j.maybe(f, m, cite(v, R::Suitable));
    };
    if !t.exists || t.zombie {
        let src = cite(v, R::Zombie);
        return j.warn(
            f,
            format!("New main PID {new} does not exist or is a zombie."),
            src,
        );
    }
    if t.unit.as_deref() == Some(u.id.as_str()) {
        let src = cite(v, R::Happy);
        j.note(
            f,
            Some(true),
            Some(Debug),
            format!("New main PID {new} belongs to service, we are happy."),
            src,
        );
    } else if sender_uid == 0 {
        let src = cite(v, R::Privileged);
        j.note(f, Some(true), Some(Debug), format!("New main PID {new} does not belong to service, but we'll accept it as the request to change it came from a privileged process."), src);
    } else {
        // log_unit_debug() up to v255, log_unit_warning() from v256 (a3980843ef).
        let level = if v >= V_256 { Warning } else { Debug };
        let src = cite(v, R::Refusing);
        return j.note(
            f,
            Some(false),
            Some(level),
            format!("New main PID {new} does not belong to service, refusing."),
            src,
        );
    }
    // service_set_main_pid(): is the new main PID our child? A parent outside the manager's PID
    // namespace (ppid 0: get_process_ppid() -EADDRNOTAVAIL) is an error that v252-v254 ignore
    // (pid_is_my_child() == 0 is false), v255-v257 log as "Can't determine…" (pidref_is_my_child(),
    // 6774be4206; service.c:213 v255.22, :243 v257.13), and v258 treats as "not our child"
    // (9ed2725867).
    match t.ppid {
        Some(0) if v >= V_NOTIFY_RECV => not_our_child(j, new),
        Some(0) if v >= V_PIDREF => {
            let src = cite(v, R::CantDetermine);
            j.log(Warning, format!("Can't determine if process {new} is our child, assuming it is not: Cannot assign requested address"), src);
        }
        Some(0) => {}
        Some(pp) if pp != u.manager_pid => not_our_child(j, new),
        // Re-parented to the manager after the sender exited: systemd looked first, and saw
        // the sender (or whoever forked it) as the parent unless it had exited by then.
        Some(_) if t.ppid_late => {
            let src = cite(j.v, R::NotChild);
            j.may_log(LogLevel::Warning, format!("Supervising process {new} which is not our child. We'll most likely not notice when it exits."), src);
        }
        _ => {}
    }
}

/// service.c:179 v252.31, :285 main: same text and level in every version.
fn not_our_child(j: &mut Judge, new: u32) {
    let src = cite(j.v, R::NotChild);
    j.log(LogLevel::Warning, format!("Supervising process {new} which is not our child. We'll most likely not notice when it exits."), src);
}
