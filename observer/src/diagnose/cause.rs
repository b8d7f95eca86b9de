//! The likely cause of how an attempt ended, with the fix, in plain words. Pure.

use super::story::{Attempt, Item, Phase, Settings};
use crate::{
    judge::Outcome,
    notify::{self, Key},
    recording::{records::EventRecord, rejudge::judgement_of},
    wall_time::Zone,
};

/// What went wrong (or right) in one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable name, for tests and tools: started, start-timeout, start-failed, watchdog,
    /// still-activating, running, stopped.
    pub kind: &'static str,
    /// One paragraph: what happened, why, and what to do.
    pub text: String,
}

pub fn explain(a: &Attempt, s: &Settings, zone: &Zone) -> Finding {
    let ready = first_accepted(a, Key::Ready);
    let took = |until: Option<i128>| match (a.activating_ns.or(a.start_ns), until) {
        // Recorded times are whatever the file says: a damaged one must not overflow here.
        (Some(s), Some(e)) => format!(" after {}", secs(e.saturating_sub(s))),
        _ => String::new(),
    };
    let mut extra = reported(a);
    extra.extend(mainpid_refused(a));
    let (kind, mut text) = match (a.phase, a.result.as_deref()) {
        (_, Some("timeout")) if a.started_ns.is_none() => (
            "start-timeout",
            format!(
                "start timed out{}{}: {}",
                took(a.ended_ns.or(last_time(a))),
                s.timeout_start_usec
                    .map(|u| format!(" (TimeoutStartSec={})", secs(u as i128 * 1000)))
                    .unwrap_or_default(),
                why_not_ready(a, s, zone)
            ),
        ),
        (_, Some("watchdog")) => ("watchdog", watchdog(a, s)),
        (_, Some(result)) if a.started_ns.is_none() => (
            "start-failed",
            format!(
                "start failed{} (Result={result}{}){}",
                took(a.ended_ns),
                exit_text(a),
                if ready.is_none() && is_notify(s) {
                    format!("; no READY=1 was accepted before: {}", why_not_ready(a, s, zone))
                } else {
                    String::new()
                }
            ),
        ),
        (Phase::Starting | Phase::Queued, _) => (
            "still-activating",
            format!(
                "still activating when the recording ends{}: no accepted READY=1 yet; {}",
                took(last_time(a)),
                why_not_ready(a, s, zone)
            ),
        ),
        (_, Some(result)) => (
            "failed",
            format!("stopped with Result={result}{}", exit_text(a)),
        ),
        (Phase::Ended, None) if a.started_ns.is_none() => (
            "stopped",
            "stopped before it was up (no failure result: a stop was asked for, or it exited cleanly)"
                .to_owned(),
        ),
        (Phase::Running, _) | (Phase::Ended, None) if a.start_ns.is_some() => (
            "started",
            match ready {
                Some(e) => format!(
                    "started{}: READY=1 from PID {} ({}) accepted",
                    took(a.started_ns),
                    e.event.pid,
                    e.event.comm
                ),
                None => format!("started{}", took(a.started_ns)),
            } + &rejected_summary(a)
                .map(|r| format!("; also {r}"))
                .unwrap_or_default(),
        ),
        _ => (
            "running",
            "seen while running (the recording has no start for it)".to_owned()
                + &rejected_summary(a)
                    .map(|r| format!("; {r}"))
                    .unwrap_or_default(),
        ),
    };
    for e in extra {
        text.push_str("; ");
        text.push_str(&e);
    }
    if kind == "started"
        && let Some(late) = late_ready(a, s, zone)
    {
        text.push_str("; ");
        text.push_str(&late);
    }
    if a.start_ns.is_none() && kind != "running" {
        text =
            format!("(the recording began after this start: what came before is not in it) {text}");
    }
    Finding { kind, text }
}

fn is_notify(s: &Settings) -> bool {
    s.service_type
        .as_deref()
        .is_none_or(|t| t.starts_with("notify"))
}

/// Why no READY=1 got through, from what the unit's processes sent, most telling first.
fn why_not_ready(a: &Attempt, s: &Settings, zone: &Zone) -> String {
    if let Some(late) = late_ready(a, s, zone) {
        return late;
    }
    if let Some(e) = first_accepted(a, Key::Ready) {
        return format!(
            "READY=1 from PID {} was accepted, yet the start did not complete",
            e.event.pid
        );
    }
    if let Some(r) = rejected_summary(a) {
        return r;
    }
    let failed: Vec<&EventRecord> = a.events().filter(|e| e.event.result < 0).collect();
    if let Some(e) = failed.first() {
        return format!(
            "{} {} to the notify socket failed ({}), so systemd never received {} → {}",
            failed.len(),
            if failed.len() == 1 { "send" } else { "sends" },
            failed
                .iter()
                .map(|e| format!(
                    "PID {} ({}): {}",
                    e.event.pid,
                    e.event.comm,
                    crate::systemd_basic::errno_list::result_errno_name(e.event.result)
                ))
                .collect::<Vec<_>>()
                .join(", "),
            if failed.len() == 1 { "it" } else { "them" },
            errno_fix(e.event.result)
        );
    }
    let elsewhere: Vec<(&EventRecord, &String)> = a
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Elsewhere(e, to) => Some((e.as_ref(), to)),
            _ => None,
        })
        .collect();
    if let Some((e, to)) = elsewhere.first() {
        return format!(
            "the unit's processes sent {} to the wrong socket: PID {} ({}) sent \"{}\" to {} → make NOTIFY_SOCKET reach the program unchanged (it is set by the unit's manager; do not override it in Environment= or a wrapper)",
            if elsewhere.len() == 1 {
                "a message".to_owned()
            } else {
                format!("{} messages", elsewhere.len())
            },
            e.event.pid,
            e.event.comm,
            notify::summary(&e.event.fields()),
            to
        );
    }
    let others = a.events().count();
    let type_note = match s.service_type.as_deref() {
        Some(t) if !t.starts_with("notify") => format!(" (Type={t})"),
        _ => String::new(),
    };
    format!(
        "no READY=1 arrived: {} from the unit's processes reached a watched notify socket{type_note}. \
         The program never called sd_notify(), or NOTIFY_SOCKET was unset or changed before it ran \
         (a wrapper that clears the environment, su/sudo, a container), or it sent somewhere the \
         observer did not watch → check the program supports sd_notify (else use Type=simple or \
         Type=exec), and that NOTIFY_SOCKET reaches it; watch another socket with --socket",
        if others == 0 {
            "nothing".to_owned()
        } else {
            format!("only {others} other messages")
        }
    )
}

/// A READY=1 that the manager read late (against TimeoutStartSec=), or never read: the
/// manager's side, seen by the receive capture (pairing.rs).
fn late_ready(a: &Attempt, s: &Settings, zone: &Zone) -> Option<String> {
    use crate::pairing::Delivered;
    let e = a.events().find(|e| {
        e.event.result >= 0
            && e.event
                .fields()
                .iter()
                .any(|f| f.key == Key::Ready && f.value == "1")
    })?;
    let sent = zone.clock_ms(e.event.wall_ns);
    let limit = s.timeout_start_usec.filter(|t| *t != u64::MAX && *t > 0);
    match (e.delivery.delivered, e.delivery.queue_delay_us) {
        (Delivered::No, _) => Some(format!(
            "READY=1 sent at {sent} by PID {} was never read by the manager (it was stuck or busy, or its socket was replaced) → look at what the manager was doing then (systemd-analyze blame, its own log)",
            e.event.pid
        )),
        (Delivered::Yes, Some(us)) => {
            let late = match limit {
                Some(t) => us * 2 >= t,
                None => us >= 1_000_000,
            };
            late.then(|| {
                format!(
                    "READY=1 sent at {sent}, read by systemd {} later{} → the manager was too busy to read its notify socket in time: raise TimeoutStartSec= or find what kept the manager busy",
                    secs(us as i128 * 1000),
                    limit
                        .map(|t| format!(", after TimeoutStartSec={} had nearly elapsed", secs(t as i128 * 1000)))
                        .unwrap_or_default()
                )
            })
        }
        _ => None,
    }
}

/// "2 messages rejected: Got notification message from PID 56, but … → fix".
fn rejected_summary(a: &Attempt) -> Option<String> {
    let rejected: Vec<&EventRecord> = a
        .events()
        .filter(|e| e.outcome == Outcome::Rejected)
        .collect();
    let first = rejected.first()?;
    let j = judgement_of(first);
    let v = j.verdict?;
    let who = format!(
        "PID {} ({}, uid {})",
        first.event.pid, first.event.comm, first.event.uid
    );
    Some(format!(
        "{} {} rejected, first from {who}: {}{}",
        rejected.len(),
        if rejected.len() == 1 {
            "message"
        } else {
            "messages"
        },
        v.reason,
        if v.hint.is_empty() {
            String::new()
        } else {
            format!(" → {}", v.hint)
        }
    ))
}

fn first_accepted(a: &Attempt, key: Key) -> Option<&EventRecord> {
    a.events().find(|e| {
        e.outcome == Outcome::Accepted
            && e.event
                .fields()
                .iter()
                .any(|f| f.key == key && f.value == "1")
    })
}

fn watchdog(a: &Attempt, s: &Settings) -> String {
    let dog = s
        .watchdog_usec
        .filter(|u| *u > 0)
        .map(|u| format!(" (WatchdogSec={})", secs(u as i128 * 1000)))
        .unwrap_or_default();
    let pings: Vec<&EventRecord> = a
        .events()
        .filter(|e| {
            e.event
                .fields()
                .iter()
                .any(|f| f.key == Key::Watchdog && f.value == "1")
        })
        .collect();
    let last_ok = pings.iter().rev().find(|e| e.outcome == Outcome::Accepted);
    let at = a.ended_ns.or(last_time(a));
    let mut text = format!("watchdog timeout{dog}: ");
    text += &match (last_ok, at) {
        (Some(p), Some(end)) => format!(
            "the last accepted WATCHDOG=1 came {} before it, from PID {} ({})",
            secs(end.saturating_sub(p.event.wall_ns)),
            p.event.pid,
            p.event.comm
        ),
        _ => "no accepted WATCHDOG=1 at all".into(),
    };
    if let Some(r) = rejected_summary(a) {
        text += &format!("; {r}");
    }
    text + " → send WATCHDOG=1 more often than WatchdogSec= (every half of it, sd_watchdog_enabled() says how often), or raise WatchdogSec= / send WATCHDOG_USEC="
}

/// ERRNO=/BUSERROR=/EXIT_STATUS= the service reported about itself.
fn reported(a: &Attempt) -> Vec<String> {
    let mut out = Vec::new();
    for e in a.events().filter(|e| e.outcome == Outcome::Accepted) {
        for f in e.event.fields() {
            match f.key {
                Key::Errno => {
                    let what = match f.value.parse::<i32>() {
                        Ok(n) if n > 0 => {
                            let text = std::io::Error::from_raw_os_error(n).to_string();
                            text.split(" (os error").next().unwrap_or("").to_owned()
                        }
                        _ => "not an errno number: systemd ignored it".into(),
                    };
                    out.push(format!("the service reported ERRNO={} ({what})", f.value));
                }
                Key::BusError => out.push(format!("the service reported BUSERROR={}", f.value)),
                Key::ExitStatus => out.push(format!(
                    "the service reported EXIT_STATUS={} (systemd does not act on it)",
                    f.value
                )),
                _ => {}
            }
        }
    }
    out
}

/// MAINPID= handovers systemd refused, with its words.
fn mainpid_refused(a: &Attempt) -> Vec<String> {
    a.events()
        .filter(|e| e.event.fields().iter().any(|f| f.key == Key::MainPid))
        .filter_map(|e| {
            let v = judgement_of(e).verdict?;
            let note = v
                .field_notes
                .iter()
                .find(|n| n.key == Key::MainPid && n.accepted == Some(false));
            match (v.accepted, note) {
                (true, Some(n)) => Some(format!("MAINPID handover refused: {}", n.message)),
                (false, _) => Some(format!(
                    "MAINPID handover from PID {} refused with the whole message: {}",
                    e.event.pid, v.reason
                )),
                _ => None,
            }
        })
        .collect()
}

fn errno_fix(result: i64) -> &'static str {
    match i32::try_from(-result).unwrap_or(0) {
        libc::EAGAIN => {
            "the notify socket's queue was full (the manager is busy or flooded); sd_notify() gives up at once: retry, or send less often"
        }
        libc::ECONNREFUSED => {
            "nothing reads that socket (a stale NOTIFY_SOCKET, or the manager restarted): check NOTIFY_SOCKET"
        }
        libc::ENOENT => {
            "the NOTIFY_SOCKET path does not exist in the sender's mount namespace: check NOTIFY_SOCKET and PrivateTmp=/RootDirectory="
        }
        libc::EPERM | libc::EACCES => {
            "the sender may not send there or may not claim those credentials: send as root, or without --pid"
        }
        _ => "check NOTIFY_SOCKET and the sender's permissions",
    }
}

fn exit_text(a: &Attempt) -> String {
    match a.exit {
        Some((1, status)) => format!(", main process exited with status {status}"),
        Some((2 | 3, sig)) => format!(", main process killed by signal {sig}"),
        _ => String::new(),
    }
}

fn last_time(a: &Attempt) -> Option<i128> {
    a.items.last().map(Item::wall_ns)
}

/// "3.0 s", "120 ms".
pub fn secs(ns: i128) -> String {
    if ns.unsigned_abs() < 1_000_000_000 {
        format!("{} ms", ns / 1_000_000)
    } else {
        format!("{:.1} s", ns as f64 / 1e9)
    }
}

#[cfg(test)]
mod tests;
