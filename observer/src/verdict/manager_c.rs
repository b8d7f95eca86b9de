//! Mirrors systemd's src/core/manager.c: `manager_dispatch_notify_fd()` (the receive checks; from
//! v258 in src/shared/notify-recv.c), `manager_process_barrier_fd()` and
//! `manager_invoke_notify_message()`, which hands the message to its unit's service.c handlers.

use super::{
    Judge, Kind, LogLevel, Message, Rejection, Sender, Stage, SystemdVersion, UnitState, V_256,
    V_257, V_NOTIFY_RECV, V_NOTIFYACCESS, Verdict,
    citations::{R, cite, hint_for},
    service_c::{service_notify_message, service_notify_message_authorized},
};
use crate::{
    notify::{self, Key, NOTIFY_BUFFER_MAX, NOTIFY_FD_MAX, Payload},
    systemd_basic::{escape, parse_util, string_util},
};

/// `manager_dispatch_notify_fd()`: manager.c:2493 v252.39, :2579 v254.26, :2822 v257.13, :3093 v262.
/// `unit` is the unit systemd would find for the sender (`manager_get_units_for_pidref()`: the
/// cgroup's unit, else one watching the PID); None when there is none. A PID several units
/// watch gets one call per unit.
pub fn manager_dispatch_notify_fd(
    msg: &Message,
    sender: &Sender,
    unit: Option<&UnitState>,
    version: SystemdVersion,
) -> Verdict {
    use LogLevel::*;
    use Stage::Manager;
    let v = version.0.max(252);
    let payload = notify::parse_payload(&msg.payload);
    // The PID this message's own MAINPID= asks for (strv_find_startswith(): the first one).
    let names = payload
        .fields
        .iter()
        .find(|f| f.key == Key::MainPid && f.has_equals)
        .and_then(|f| parse_util::parse_pid(f.raw_value()).ok());
    let when_read = unit.map(|u| u.when_read(msg, v));
    let unit = when_read.as_ref();
    let mut j = Judge {
        v,
        unit: None,
        logs: Vec::new(),
        notes: Vec::new(),
        caveats: Vec::new(),
    };
    if !(252..=262).contains(&version.0) {
        j.caveats.push(format!(
            "systemd v{} not read: rules of the nearest version read applied",
            version.0
        ));
    }
    if let (Some(u), Some(n), Some(p)) = (unit, names, sender.pid)
        && v >= V_257
        && u.main_pid == Some(n)
        && n != p
    {
        j.caveats.push(format!(
            "this message asks for MAINPID={n}, the PID taken here for the main PID: if {n} became the main PID through this very message, systemd checked the sender against the previous main PID instead (authorization comes before MAINPID=)"
        ));
    }
    if msg.truncated || msg.payload.len() < msg.len.min(NOTIFY_BUFFER_MAX) {
        j.caveats.push(format!(
            "payload capture incomplete ({} of {} bytes): fields judged on the captured part",
            msg.payload.len(),
            msg.len
        ));
    }

    // recvmsg_safe() turns MSG_CTRUNC into an error before anything else is looked at.
    if msg.control_truncated || msg.fds > NOTIFY_FD_MAX {
        let src = cite(v, R::CtrlTrunc);
        let r =
            "Got message with truncated control data (too many fds sent?), ignoring.".to_owned();
        return j.drop_at(Manager, Kind::ControlTruncated, Warning, r, src, "send at most 768 fds per message (NOTIFY_FD_MAX), and make sure PID 1 is not out of file descriptors");
    }
    let oversize = msg.len > NOTIFY_BUFFER_MAX;
    const OVERSIZE_HINT: &str = "keep the datagram at most 4096 bytes (NOTIFY_BUFFER_MAX = PIPE_BUF): shorten STATUS= or split it into several messages";
    if v >= V_257 && oversize {
        // From v257 recvmsg_safe() also refuses MSG_TRUNC, before credentials are checked.
        let src = cite(v, R::PayloadTrunc);
        return j.drop_at(
            Manager,
            Kind::Oversize,
            Warning,
            "Got message with truncated payload data, ignoring.".into(),
            src,
            OVERSIZE_HINT,
        );
    }
    let pid = match sender.pid {
        Some(p) if p > 0 && msg.creds_attached => p,
        _ => {
            let r = if v >= V_NOTIFY_RECV {
                "Got notification datagram lacking valid credential information, ignoring."
            } else {
                "Received notify message without valid credentials. Ignoring."
            };
            return j.drop_at(Manager, Kind::NoCredentials, Warning, r.into(), cite(v, R::NoCreds), "the sender's PID is not visible in the manager's PID namespace (pid 0 in SCM_CREDENTIALS): send from a process systemd can see");
        }
    };
    if oversize {
        let src = cite(v, R::Oversize);
        return j.drop_at(
            Manager,
            Kind::Oversize,
            Warning,
            "Received notify message exceeded maximum size. Ignoring.".into(),
            src,
            OVERSIZE_HINT,
        );
    }
    if v == V_257 && sender.alive == Some(false) {
        // Only v257 pins the sender with pidref_set_pid(); v258's notify_recv_with_fds() no longer does.
        return j.drop_at(Manager, Kind::SenderDied, Debug, "Notify sender died before message is processed. Ignoring.".into(), cite(v, R::SenderDied),
            "the sender exited before systemd read the message: keep it alive until processed (sd_notify_barrier(); systemd-notify waits unless --no-block)");
    }
    if payload.embedded_nul {
        let r = if v >= V_NOTIFY_RECV {
            "Got notification message with embedded NUL, ignoring."
        } else {
            "Received notify message with embedded NUL bytes. Ignoring."
        };
        return j.drop_at(Manager, Kind::EmbeddedNul, Warning, r.into(), cite(v, R::EmbeddedNul), "do not put NUL bytes in the message (one trailing NUL is tolerated); separate fields with \\n");
    }
    if payload.split_error.is_some() {
        // strv_split_newlines() fails with -EINVAL on a trailing backslash, reported as OOM.
        let level = if v >= V_257 { Warning } else { Error };
        let src = cite(v, R::SplitOom);
        return j.drop_at(Manager, Kind::SplitFailed, level, "Out of memory.".into(), src, "systemd treats '\\' as an escape character: do not end the message with a lone backslash (write \\\\ for a literal one)");
    }
    if let Some(v) = manager_process_barrier_fd(&mut j, &payload, msg.fds, pid) {
        return v;
    }

    // manager_get_units_for_pidref(): the unit of the PID's cgroup (read from /proc/PID/cgroup,
    // gone once the process is reaped), else the units watching the PID. A reaped sender is thus
    // found only by a unit whose main or control process it was: systemd handles their SIGCHLD
    // after the notify fd (manager_setup_notify(): SD_EVENT_PRIORITY_NORMAL-8), so it still
    // watches them. (v257 stopped at the pidfd above.)
    let watched_by_pid = |u: &&UnitState| u.main_pid == Some(pid) || u.control_pid == Some(pid);
    let unit = unit.filter(|u| sender.alive != Some(false) || watched_by_pid(u));
    // A sender that had exited when systemd read the message (a zombie: the kernel side tells
    // at the read) may be reaped by its parent before manager_get_units_for_pidref() reads
    // /proc/PID/cgroup; then systemd finds no unit (v257: or cannot pin it with its pidfd,
    // pidref_set_pidfd_consume()). Which came first is not seen: both outcomes are named, the
    // lines of each marked `may`, and a caveat says so.
    let raced =
        sender.alive == Some(true) && sender.exited && unit.is_some_and(|u| !watched_by_pid(&u));
    let logs_before = j.logs.len();
    if raced {
        if v == V_257 {
            let r = "Notify sender died before message is processed. Ignoring.";
            j.manager_log(Debug, r.into(), cite(v, R::SenderDied));
        }
        let level = if v >= V_256 { Debug } else { Warning };
        let r = format!("Cannot find unit for notify message of PID {pid}, ignoring.");
        j.manager_log(level, r.clone(), cite(v, R::NoUnit));
        j.caveats.push(format!(
            "PID {pid} had exited when systemd read this message: had its parent reaped it \
             before systemd looked up its cgroup, systemd ignored the message (\"{r}\") — a \
             race the observer cannot see the end of; keep the sender alive until the message \
             is processed (sd_notify_barrier(); systemd-notify waits unless --no-block)"
        ));
    }
    let mut fds_left = msg.fds;
    let verdict = match unit {
        None => {
            // log_warning() up to v255, log_debug() from v256 (4414bd5932).
            let level = if v >= V_256 { Debug } else { Warning };
            let src = cite(v, R::NoUnit);
            let r = format!("Cannot find unit for notify message of PID {pid}, ignoring.");
            j.manager_log(level, r.clone(), src.clone());
            Some((Kind::NoUnit, Manager, level, r, src))
        }
        Some(u) => {
            manager_invoke_notify_message(&mut j, u, pid, sender, msg, &payload, &mut fds_left)
        }
    };
    if raced {
        for l in &mut j.logs[logs_before..] {
            l.may = true;
        }
    }
    if fds_left > 0 {
        let src = cite(v, R::ExtraFds);
        j.manager_log(
            Warning,
            "Got extra auxiliary fds with notification message, closing them.".into(),
            src,
        );
    }
    match verdict {
        Some((kind, stage, level, reason, source)) => {
            let hint = hint_for(kind, unit);
            j.verdict(false, stage, kind, level, reason, source, &hint)
        }
        None => {
            let accepted = j.logs.iter().find(|l| l.unit.is_some()).cloned();
            let (reason, source) = accepted.map(|l| (l.message, l.source)).unwrap_or_default();
            j.verdict(true, Stage::Unit, Kind::Accepted, Debug, reason, source, "")
        }
    }
}

/// `manager_process_barrier_fd()` (manager.c:2444 v252.39, :2531 v254.26, :2722 v257.13, :2993 v262):
/// BARRIER=1 must come alone with exactly one fd; the message never reaches a unit.
fn manager_process_barrier_fd(j: &mut Judge, p: &Payload, fds: u32, pid: u32) -> Option<Verdict> {
    use LogLevel::*;
    if !p.fields.iter().any(|f| f.raw == b"BARRIER=1") {
        return None;
    }
    let v = j.v;
    let (kind, problem) = if p.fields.len() != 1 {
        let src = cite(v, R::BarrierExtra);
        (
            Kind::BarrierExtraFields,
            Some((
                "Extra notification messages sent with BARRIER=1, ignoring everything.",
                src,
            )),
        )
    } else if fds != 1 {
        let src = cite(v, R::BarrierFds);
        (
            Kind::BarrierBadFds,
            Some((
                "Got incorrect number of fds with BARRIER=1, closing them.",
                src,
            )),
        )
    } else {
        (Kind::Barrier, None)
    };
    if let Some((m, src)) = &problem {
        j.manager_log(Warning, m.to_string(), src.clone());
    }
    let debug = format!("Received barrier notification message from PID {pid}.");
    let debug_src = cite(v, R::BarrierDebug);
    if v >= V_NOTIFYACCESS {
        j.manager_log(Debug, debug.clone(), debug_src.clone());
    }
    let j = std::mem::replace(
        j,
        Judge {
            v,
            unit: None,
            logs: Vec::new(),
            notes: Vec::new(),
            caveats: Vec::new(),
        },
    );
    Some(match problem {
        Some((m, src)) => j.verdict(false, Stage::Manager, kind, Warning, m.into(), src, "send BARRIER=1 alone, in its own datagram, with exactly one fd (that is what sd_notify_barrier() does)"),
        // v252 logs nothing for a good barrier; the reason still says what happened.
        None => j.verdict(true, Stage::Manager, kind, Debug, debug, debug_src, ""),
    })
}

/// `manager_invoke_notify_message()` (manager.c:2461 v252.39, :2738 v257.13, :3009 v262): only
/// service units have a notify handler; the rest log at debug and ignore the message.
fn manager_invoke_notify_message<'a>(
    j: &mut Judge<'a>,
    u: &'a UnitState,
    pid: u32,
    sender: &Sender,
    msg: &Message,
    p: &Payload,
    fds_left: &mut u32,
) -> Option<Rejection> {
    let v = j.v;
    if !u.id.ends_with(".service") {
        let joined: Vec<u8> = p
            .fields
            .iter()
            .map(|f| f.raw.as_slice())
            .collect::<Vec<_>>()
            .join(&b", "[..]);
        // cellescape() and the new wording from v256 (a2098d8bf7).
        let (r, src) = if v >= V_256 {
            let src = cite(v, R::NotServiceNew);
            (
                format!(
                    "Got notification message from unexpected unit type, ignoring: {}",
                    string_util::cellescape(&joined, 64)
                ),
                src,
            )
        } else {
            let src = cite(v, R::NotServiceOld);
            (
                format!(
                    "Got notification message \"{}\", ignoring.",
                    escape::cescape(&ellipsize_20_90(&joined))
                ),
                src,
            )
        };
        j.unit = Some(&u.id);
        j.log(LogLevel::Debug, r.clone(), src.clone());
        return Some((Kind::NotAService, Stage::Unit, LogLevel::Debug, r, src));
    }
    j.unit = Some(&u.id);
    if let Some(rej) = service_notify_message_authorized(j, u, pid) {
        return Some(rej);
    }
    service_notify_message(j, u, pid, sender, msg, p, fds_left);
    None
}

/// `ellipsize(s, 20, 90)` for the pre-v257 debug line (string-util.c `ascii_ellipsize_mem()`,
/// UTF-8 locale: "…" counts as one column). Exact for ASCII; non-ASCII is cut by characters,
/// where systemd counts display columns.
fn ellipsize_20_90(s: &[u8]) -> Vec<u8> {
    const NEW: usize = 20;
    let x = ((NEW - 1) * 90 + 50) / 100;
    let suffix = NEW - x - 1;
    if s.is_ascii() {
        if s.len() <= NEW {
            return s.to_vec();
        }
        return [&s[..x], "…".as_bytes(), &s[s.len() - suffix..]].concat();
    }
    let chars: Vec<char> = String::from_utf8_lossy(s).chars().collect();
    if chars.len() <= NEW {
        return s.to_vec();
    }
    let head: String = chars[..x].iter().collect();
    let tail: String = chars[chars.len() - suffix..].iter().collect();
    format!("{head}…{tail}").into_bytes()
}
