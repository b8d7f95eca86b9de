//! READY=1, RELOADING=1, STOPPING=1 and MONOTONIC_USEC=: which of them systemd acts on and what
//! it does in the service's state, as src/core/service.c decides it.

use super::{first, flag, shown, sub_state};
use crate::{
    notify::{Key, Payload},
    systemd_basic::parse_util,
    verdict::{
        Judge, LogLevel, NotifyState, ServiceState, ServiceType, UnitState, V_262,
        V_COMBINED_RELOAD, V_NOTIFY_RELOAD, V_STOP_LATCH,
        citations::{R, cite},
    },
};

/// READY=1 / RELOADING=1 / STOPPING=1 (+ MONOTONIC_USEC=): service.c:4175 v252.39 (last one wins),
/// :4259 v253.26, :4423 v254.26 and :4695 v257.13 (STOPPING > READY > RELOADING),
/// `service_notify_message_process_state()` :4846 v259.8 (STOPPING latches, silently), :5502 v262
/// (the latch logs an error).
pub(super) fn service_notify_message_process_state(j: &mut Judge, u: &UnitState, p: &Payload) {
    use LogLevel::*;
    use ServiceState::*;
    let v = j.v;
    let mut monotonic_ok = false;
    if let Some(f) = first(p, Key::MonotonicUsec).filter(|_| v >= V_NOTIFY_RELOAD) {
        let src = cite(v, R::Monotonic);
        if parse_util::safe_atou64(f.raw_value()).is_err() {
            j.warn(
                f,
                format!(
                    "Failed to parse MONOTONIC_USEC= field in notification message, ignoring: {}",
                    shown(f)
                ),
                src,
            );
        } else {
            monotonic_ok = true;
            j.yes(
                f,
                "timestamp used to match RELOADING=1 to the reload request".into(),
                src,
            );
        }
    }
    let (ready, reloading, stopping) = (
        flag(p, b"READY=1"),
        flag(p, b"RELOADING=1"),
        flag(p, b"STOPPING=1"),
    );
    let src = |k: Key| match k {
        Key::Stopping => cite(v, R::Stopping),
        Key::Ready => cite(v, R::Ready),
        _ => cite(v, R::Reloading),
    };
    // Which of the three systemd acts on.
    let winner = if v < V_NOTIFY_RELOAD {
        p.fields
            .iter()
            .rev()
            .find(|f| [&b"READY=1"[..], b"RELOADING=1", b"STOPPING=1"].contains(&f.raw.as_slice()))
    } else {
        stopping.or(ready).or(reloading)
    };
    let Some(w) = winner else { return };
    for f in [stopping, ready, reloading]
        .into_iter()
        .flatten()
        .filter(|f| !std::ptr::eq(*f, w))
    {
        let combined = v >= V_NOTIFY_RELOAD && f.key == Key::Reloading && w.key == Key::Ready;
        if !combined {
            let why = if v < V_NOTIFY_RELOAD {
                "the last of READY=1/RELOADING=1/STOPPING=1 wins"
            } else {
                "STOPPING=1 wins over READY=1, READY=1 over RELOADING=1"
            };
            j.no(f, format!("superseded: {why}"), src(f.key));
        }
    }
    let ty = u.service_type;
    let notify_type = matches!(ty, Some(ServiceType::Notify | ServiceType::NotifyReload));
    let Some(state) = u.state else {
        return j.maybe(
            w,
            "effect depends on the service state, which the observer does not know".into(),
            src(w.key),
        );
    };
    let s = sub_state(state);
    let none = |what: &str| {
        format!(
            "no effect: {what} (state {s}, Type={})",
            ty.map(|t| serde_json::to_value(t)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default())
                .unwrap_or_else(|| "?".into())
        )
    };
    // "Disallow resurrecting a dying service": from v259 nothing after STOPPING=1 takes READY=1 or
    // RELOADING=1 (98734ac74d; service.c:4870 v259.8, :5262 v261.2, :5397 main 7412c16ef8, all
    // silent); v262 logs an error for it (service.c:5530 v262).
    if v >= V_STOP_LATCH && u.notify_state == Some(NotifyState::Stopping) && w.key != Key::Stopping
    {
        let at = if w.key == Key::Ready {
            R::StopLatchReady
        } else {
            R::StopLatchReloading
        };
        if v < V_262 {
            return j.no(
                w,
                "ignored (no log): the service sent STOPPING=1 before, and systemd does not let a stopping service become ready or reload again".into(),
                cite(v, at),
            );
        }
        let to = if w.key == Key::Ready {
            "READY"
        } else {
            "RELOADING"
        };
        let m = format!(
            "Service must stop after STOPPING=1 notification, refusing attempted transition to {to}."
        );
        return j.note(w, Some(false), Some(Error), m, cite(v, at));
    }
    match w.key {
        Key::Stopping => {
            let stops = if v < V_NOTIFY_RELOAD {
                state == Running
            } else {
                matches!(
                    state,
                    Running
                        | RunningRevalidating
                        | RefreshExtensions
                        | RefreshCredentials
                        | ReloadSignal
                        | ReloadNotify
                )
            };
            if stops {
                j.yes(
                    w,
                    "service enters stop (stop by notification)".into(),
                    src(w.key),
                );
            } else {
                j.no(
                    w,
                    none("only acted on while running or reloading"),
                    src(w.key),
                );
            }
        }
        Key::Ready => {
            let combined = v >= V_NOTIFY_RELOAD && reloading.is_some();
            let reload_done = if v < V_NOTIFY_RELOAD {
                state == Reload && u.control_pid.is_none()
            } else {
                state == ReloadNotify
            };
            if combined
                && (V_COMBINED_RELOAD..=257).contains(&v)
                && matches!(state, ReloadSignal | Running)
            {
                j.caveats.push(format!("READY=1 + RELOADING=1 judged as in v{v}'s later point releases (c337a1301f, in v254.24, v255.18, v256.12, v257.4 and later): earlier ones propagate the reload from reload-signal and do nothing from running, like v253"));
            }
            if ty.is_none() && state == Start {
                j.maybe(
                    w,
                    "finishes startup if Type=notify or notify-reload".into(),
                    src(w.key),
                );
            } else if notify_type && state == Start {
                let extra = if v >= V_262 && ty == Some(ServiceType::NotifyReload) {
                    " (v262: fails with result 'protocol' if the main process neither catches nor blocks ReloadSignal=)"
                } else {
                    ""
                };
                j.yes(
                    w,
                    format!("startup finished: start → start-post{extra}"),
                    src(w.key),
                );
            } else if reload_done {
                j.yes(w, "reload finished".into(), src(w.key));
            } else if combined && state == ReloadSignal {
                let m = if monotonic_ok && v < V_COMBINED_RELOAD {
                    "reload finished and propagated to units that depend on this one, if MONOTONIC_USEC= is not older than the reload request"
                } else if monotonic_ok {
                    "reload finished if MONOTONIC_USEC= is not older than the reload request"
                } else {
                    "no effect: RELOADING=1 + READY=1 during reload-signal needs a valid MONOTONIC_USEC="
                };
                j.note(
                    w,
                    if monotonic_ok { None } else { Some(false) },
                    None,
                    m.into(),
                    src(w.key),
                );
            } else if combined
                && v >= V_COMBINED_RELOAD
                && matches!(state, Running | RunningRevalidating)
            {
                j.yes(
                    w,
                    "reload propagated to units that depend on this one (RELOADING=1 + READY=1)"
                        .into(),
                    src(w.key),
                );
            } else {
                j.no(w, none("READY=1 only finishes startup of Type=notify/notify-reload services or a reload"), src(w.key));
            }
        }
        _ => {
            if state == Running {
                j.yes(
                    w,
                    "service enters reload (reload by notification, propagated)".into(),
                    src(w.key),
                );
            } else if v >= V_NOTIFY_RELOAD && state == ReloadSignal {
                let m = if monotonic_ok {
                    "reload acknowledged (reload-signal → reload-notify) if MONOTONIC_USEC= is not older than the reload request"
                } else {
                    "no effect: during reload-signal RELOADING=1 needs a valid MONOTONIC_USEC="
                };
                j.note(
                    w,
                    if monotonic_ok { None } else { Some(false) },
                    None,
                    m.into(),
                    src(w.key),
                );
            } else {
                j.no(
                    w,
                    none("RELOADING=1 only starts a reload while running"),
                    src(w.key),
                );
            }
        }
    }
}
